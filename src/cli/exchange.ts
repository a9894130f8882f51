import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'node:https';
import type { Command } from 'commander';
import { ERRORS, GsError, invalidField, type ErrorCode, type FieldProblem } from '../lib/errors.js';
import { isOneOf } from '../modules/catalog/vocabulary.js';
import { MATCH_MODES } from '../modules/exchange/verify.js';
import { CSV_ENCODINGS, LOAD_FORMATS, type LoadFormat } from '../modules/exchange/vocabulary.js';
import { action, print, table } from './context.js';
import { EXIT } from './exit-codes.js';

/**
 * The exchange port's client for an integrator: a business system's certificate and key, the
 * platform CA, and the routes of docs/exchange.md. It talks HTTPS with mutual TLS like any other
 * client (curl, a business system); it needs no database and no server on this machine.
 */
interface ClientOptions {
  readonly url: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly servername?: string;
}

interface Client {
  post<T>(path: string, body: unknown): Promise<T>;
  get<T>(path: string): Promise<T>;
  call<T>(method: 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T>;
  /** A raw body (a file) with its type; the answer parsed as JSON. */
  upload<T>(path: string, body: Buffer, contentType: string): Promise<T>;
  /** The answer's bytes (a result file). */
  download(path: string): Promise<Buffer>;
}

function readPem(option: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw invalidField(option, 'file', `cannot read ${path}: ${(e as Error).message}`);
  }
}

function clientOf(o: ClientOptions): Client {
  let base: URL;
  try {
    base = new URL(o.url);
  } catch {
    throw invalidField('--url', 'url', `must be an https:// URL, not ${o.url}`);
  }
  if (base.protocol !== 'https:') throw invalidField('--url', 'url', `must be an https:// URL, not ${o.url}`);
  const tls = { cert: readPem('--cert', o.cert), key: readPem('--key', o.key), ca: readPem('--ca', o.ca), ...(o.servername ? { servername: o.servername } : {}) };
  const call = <T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, raw?: { readonly body?: Buffer; readonly contentType?: string; readonly bytes?: boolean }): Promise<T> =>
    new Promise((resolve, reject) => {
      const payload = raw?.body ?? (body === undefined ? undefined : JSON.stringify(body));
      const contentType = raw?.contentType ?? 'application/json';
      const req = request(new URL(path, base), { method, ...tls, headers: payload === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const bytes = Buffer.concat(chunks);
          if (raw?.bytes && (res.statusCode ?? 500) < 300) {
            resolve(bytes as T);
            return;
          }
          const text = bytes.toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            reject(new GsError('GS_ERR_EXCHANGE_CLIENT', { url: o.url, reason: `answer ${res.statusCode} is not JSON` }));
            return;
          }
          if ((res.statusCode ?? 500) < 300) resolve(parsed as T);
          else reject(errorOf(parsed, res.statusCode ?? 500, o.url));
        });
      });
      req.on('error', (e) => reject(new GsError('GS_ERR_EXCHANGE_CLIENT', { url: o.url, reason: e.message })));
      req.end(payload);
    });
  return {
    post: (path, body) => call('POST', path, body),
    get: (path) => call('GET', path),
    call: (method, path, body) => call(method, path, body),
    upload: (path, body, contentType) => call('POST', path, undefined, { body, contentType }),
    download: (path) => call<Buffer>('GET', path, undefined, { bytes: true }),
  };
}

/** The platform's error answer as the error it names, so the CLI prints it and exits as for any refusal. */
function errorOf(body: unknown, status: number, url: string): GsError {
  const b = body as { code?: unknown; details?: Record<string, unknown>; message?: unknown };
  if (typeof b.code === 'string' && Object.hasOwn(ERRORS, b.code)) {
    const details = b.details ?? {};
    return new GsError(b.code as ErrorCode, details as Record<string, string>, details.fields as FieldProblem[] | undefined);
  }
  return new GsError('GS_ERR_EXCHANGE_CLIENT', { url, reason: `answer ${status}: ${typeof b.message === 'string' ? b.message : 'no error code'}` });
}

/** `item=value`: the item and the text after the first `=`. */
function pair(option: string, raw: string): [string, string] {
  const i = raw.indexOf('=');
  if (i <= 0) throw invalidField(option, 'format', `must be ITEM=VALUE, not ${raw}`);
  return [raw.slice(0, i), raw.slice(i + 1)];
}

const collect = (v: string, all: string[] = []): string[] => [...all, v];

function withClientOptions(c: Command): Command {
  return c
    .requiredOption('--cert <file>', "the business system's certificate (PEM)")
    .requiredOption('--key <file>', "the business system's private key (PEM)")
    .requiredOption('--ca <file>', 'the platform CA certificate (PEM), to check the exchange port')
    .option('--url <url>', 'the exchange port', process.env.GOVSHARE_EXCHANGE_URL ?? 'https://127.0.0.1:8443')
    .option('--servername <name>', "the name to check the exchange port's certificate against (default: the URL's host)");
}

const resourcePath = (resource: string, route: string): string => `/exchange/v1/resources/${encodeURIComponent(resource)}/${route}`;

interface Page {
  readonly grantId: string;
  readonly items: string[];
  readonly rows: Record<string, unknown>[];
  readonly next: number | null;
}

export function registerExchange(program: Command): void {
  const exchange = program.command('exchange').description("a business system's client of the exchange port (mutual TLS): whoami, query (pull), verify, verify-batch, subscriptions and changes (push) (docs/exchange.md)");

  withClientOptions(exchange.command('whoami').description('the certificate holder the exchange port sees')).action(
    action(async (opts: ClientOptions, command: Command) => {
      const who = await clientOf(opts).get<Record<string, unknown>>('/exchange/v1/whoami');
      print(command, who, () => table(['field', 'value'], Object.entries(who).map(([k, v]) => [k, String(v)])));
    }),
  );

  withClientOptions(exchange.command('query <resource>').description('query a shared table under a pull grant; rows as NDJSON on standard output'))
    .option('--eq <item=value>', 'item equals value (repeatable)', collect)
    .option('--in <item=v1,v2>', 'item is one of the comma-separated values (repeatable)', collect)
    .option('--prefix <item=value>', 'text item starts with value (repeatable)', collect)
    .option('--range <item=from..to>', 'item within the inclusive bounds; either side may be empty (repeatable)', collect)
    .option('--items <items>', 'comma-separated items to return (default: every granted item)')
    .option('--limit <n>', 'rows per page, 1–1000', '100')
    .option('--after <seq>', 'continue after this sequence number (the `next` of a page)')
    .option('--all', 'follow the pages to the end')
    .option('--purpose <text>', 'the purpose of this query, for the audit trail')
    .action(
      action(async (resource: string, opts: ClientOptions & { eq?: string[]; in?: string[]; prefix?: string[]; range?: string[]; items?: string; limit: string; after?: string; all?: boolean; purpose?: string }, command: Command) => {
        const filters = [
          ...(opts.eq ?? []).map((r) => ({ op: 'eq', ...kv('--eq', r, (value) => ({ value })) })),
          ...(opts.in ?? []).map((r) => ({ op: 'in', ...kv('--in', r, (v) => ({ values: v.split(',') })) })),
          ...(opts.prefix ?? []).map((r) => ({ op: 'prefix', ...kv('--prefix', r, (value) => ({ value })) })),
          ...(opts.range ?? []).map((r) => ({ op: 'range', ...kv('--range', r, rangeOf) })),
        ];
        if (!/^\d{1,4}$/.test(opts.limit) || Number(opts.limit) < 1 || Number(opts.limit) > 1000) throw invalidField('--limit', 'range', `must be a whole number from 1 to 1000, not ${opts.limit}`);
        if (opts.after !== undefined && !/^\d{1,18}$/.test(opts.after)) throw invalidField('--after', 'integer', `must be a sequence number, not ${opts.after}`);
        const client = clientOf(opts);
        const json = command.optsWithGlobals<{ json?: boolean }>().json === true;
        let after = opts.after === undefined ? undefined : Number(opts.after);
        for (;;) {
          const page = await client.post<Page>(resourcePath(resource, 'query'), {
            ...(filters.length ? { filters } : {}),
            ...(opts.items ? { items: opts.items.split(',').map((s) => s.trim()) } : {}),
            limit: Number(opts.limit),
            ...(after === undefined ? {} : { after }),
            ...(opts.purpose ? { purpose: opts.purpose } : {}),
          });
          if (json && !opts.all) {
            print(command, page, () => '');
            return;
          }
          for (const row of page.rows) process.stdout.write(`${JSON.stringify(row)}\n`);
          if (page.next === null) return;
          if (!opts.all) {
            process.stderr.write(`more rows: --after ${page.next} (or --all)\n`);
            return;
          }
          after = page.next;
        }
      }),
    );

  withClientOptions(exchange.command('verify <resource>').description('verify one record (核验): per field match / mismatch / not_found, never the stored values'))
    .requiredOption('--record-key <item=value>', 'a key item of the record to verify (repeatable)', collect)
    .requiredOption('--field <item=value>', 'a value to verify (repeatable)', collect)
    .option('--normalised', 'normalised matching: trim, full-width → half-width, case')
    .option('--purpose <text>', 'the purpose of this verification, for the audit trail')
    .action(
      action(async (resource: string, opts: ClientOptions & { recordKey: string[]; field: string[]; normalised?: boolean; purpose?: string }, command: Command) => {
        const answer = await clientOf(opts).post<{ grantId: string; found: boolean; fields: Record<string, string> }>(resourcePath(resource, 'verify'), {
          key: Object.fromEntries(opts.recordKey.map((r) => pair('--record-key', r))),
          fields: Object.fromEntries(opts.field.map((r) => pair('--field', r))),
          ...(opts.normalised ? { match: 'normalised' } : {}),
          ...(opts.purpose ? { purpose: opts.purpose } : {}),
        });
        print(command, answer, () => `${answer.found ? '记录存在 record found' : '记录不存在 record not found'}\n${table(['信息项 item', '结果 outcome'], Object.entries(answer.fields))}`);
      }),
    );

  registerPush(exchange);
  withClientOptions(exchange.command('verify-batch <file>').description('batch verification (批量核验): submit a CSV (UTF-8 or GBK), NDJSON or XLSX file of records (key items + items to verify) as a job; with --wait follow it and write the result file'))
    .requiredOption('--resource <code>', 'the resource to verify against')
    .option('--match <mode>', 'exact (default) | normalised: trim, full-width → half-width, case')
    .option('--normalised <items>', 'comma-separated items compared normalised whatever --match says')
    .option('--format <format>', 'csv | ndjson | xlsx (default: from the file name, else csv)')
    .option('--encoding <encoding>', 'CSV: utf-8 | gb18030 (default: detected)')
    .option('--purpose <text>', 'the purpose of this verification, for the audit trail')
    .option('--wait', 'follow the job (progress bar on a terminal) until it has succeeded or failed')
    .option('--out <file>', 'with --wait: write the result file (CSV) here')
    .action(
      action(async (file: string, opts: ClientOptions & { resource: string; match?: string; normalised?: string; format?: string; encoding?: string; purpose?: string; wait?: boolean; out?: string }, command: Command) => {
        if (opts.match !== undefined && !isOneOf(MATCH_MODES, opts.match)) throw invalidField('--match', 'enum', `must be one of ${MATCH_MODES.join(', ')}, not ${opts.match}`);
        if (opts.encoding !== undefined && !isOneOf(CSV_ENCODINGS, opts.encoding)) throw invalidField('--encoding', 'enum', `must be one of ${CSV_ENCODINGS.join(', ')}, not ${opts.encoding}`);
        if (opts.out && !opts.wait) throw invalidField('--out', 'requires', 'needs --wait (or fetch the result later: govshare exchange verify-job ID --wait --out FILE)');
        const format = formatOf(file, opts.format);
        let bytes: Buffer;
        try {
          bytes = readFileSync(file);
        } catch (e) {
          throw invalidField('file', 'file', `cannot read ${file}: ${(e as Error).message}`);
        }
        const client = clientOf(opts);
        const query = new URLSearchParams({ format, ...(opts.encoding ? { encoding: opts.encoding } : {}), ...(opts.match ? { match: opts.match } : {}), ...(opts.normalised ? { normalised: opts.normalised } : {}), ...(opts.purpose ? { purpose: opts.purpose } : {}) });
        const job = await client.upload<VerifyJob>(`${resourcePath(opts.resource, 'verify-jobs')}?${query.toString()}`, bytes, CONTENT_TYPES[format]);
        if (!opts.wait) {
          print(command, job, () => jobSummary(job, undefined));
          return;
        }
        await finish(command, client, await awaitJob(client, job.id), opts.out);
      }),
    );

  withClientOptions(exchange.command('verify-job <id>').description('a batch verification job of this system: its state and counts; with --wait follow it, with --out write its result file'))
    .option('--wait', 'follow the job until it has succeeded or failed')
    .option('--out <file>', 'write the result file (CSV) once the job has succeeded')
    .action(
      action(async (id: string, opts: ClientOptions & { wait?: boolean; out?: string }, command: Command) => {
        const client = clientOf(opts);
        const job = opts.wait ? await awaitJob(client, id) : await client.get<VerifyJob>(`/exchange/v1/verify-jobs/${encodeURIComponent(id)}`);
        await finish(command, client, job, opts.out);
      }),
    );
}

/** A batch verification job as the exchange port answers it. */
interface VerifyJob {
  readonly id: string;
  readonly resourceCode: string;
  readonly state: 'queued' | 'running' | 'succeeded' | 'failed';
  readonly records: { readonly done: number; readonly total: number };
  readonly matched: number;
  readonly mismatched: number;
  readonly notFound: number;
  readonly error: { readonly code: string; readonly message: string; readonly messageZh: string } | null;
}

const CONTENT_TYPES: Readonly<Record<LoadFormat, string>> = { csv: 'text/csv', ndjson: 'application/x-ndjson', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' };

function formatOf(file: string, raw: string | undefined): LoadFormat {
  if (raw !== undefined) {
    if (!isOneOf(LOAD_FORMATS, raw)) throw invalidField('--format', 'enum', `must be one of ${LOAD_FORMATS.join(', ')}, not ${raw}`);
    return raw;
  }
  const lower = file.toLowerCase();
  if (lower.endsWith('.xlsx')) return 'xlsx';
  if (lower.endsWith('.ndjson') || lower.endsWith('.jsonl')) return 'ndjson';
  return 'csv';
}

/** A progress bar of records compared on standard error, redrawn in place; only on a terminal. */
export function verifyProgressBar(stream: NodeJS.WriteStream = process.stderr): ((job: VerifyJob) => void) | undefined {
  if (!stream.isTTY) return undefined;
  return (job) => {
    const width = 30;
    const share = job.records.total > 0 ? Math.min(1, job.records.done / job.records.total) : 1;
    const state = { queued: '排队 queued', running: '核验 verifying', succeeded: '完成 done', failed: '失败 failed' }[job.state];
    stream.write(`\r\x1b[2K[${'#'.repeat(Math.round(share * width)).padEnd(width, '.')}] ${Math.floor(share * 100)}% ${state} ${job.records.done.toLocaleString('en')}/${job.records.total.toLocaleString('en')}`);
    if (job.state === 'succeeded' || job.state === 'failed') stream.write('\n');
  };
}

/** Polls the job until it has succeeded or failed, showing progress. */
async function awaitJob(client: Client, id: string): Promise<VerifyJob> {
  const show = verifyProgressBar();
  for (;;) {
    const job = await client.get<VerifyJob>(`/exchange/v1/verify-jobs/${encodeURIComponent(id)}`);
    show?.(job);
    if (job.state === 'succeeded' || job.state === 'failed') return job;
    await sleep(500);
  }
}

function jobSummary(job: VerifyJob, out: string | undefined): string {
  const lines = [
    `govshare: verification job ${job.id} (${job.resourceCode}): ${job.state}, ${job.records.done}/${job.records.total} records`,
    table(['结果 outcome', '字段数 fields'], [
      ['match', String(job.matched)],
      ['mismatch', String(job.mismatched)],
      ['not_found', String(job.notFound)],
    ]),
  ];
  if (out) lines.push(`result written to ${out}`);
  if (job.state !== 'succeeded' && job.state !== 'failed') lines.push(`follow it: govshare exchange verify-job ${job.id} --wait --out RESULT.csv (with the same --cert/--key/--ca/--url)`);
  return lines.join('\n');
}

/** After --wait: the result file written, or the job's error reported (exit 7). */
async function finish(command: Command, client: Client, job: VerifyJob, out: string | undefined): Promise<void> {
  if (job.state === 'failed') {
    print(command, job, () => jobSummary(job, undefined));
    process.stderr.write(`govshare: the verification job failed: ${job.error?.message ?? 'unknown reason'} [${job.error?.code ?? 'GS_ERR_EXCHANGE_VERIFY_JOB_FAILED'}]\n`);
    process.exitCode = EXIT.refused;
    return;
  }
  if (out && job.state === 'succeeded') writeFileSync(out, await client.download(`/exchange/v1/verify-jobs/${encodeURIComponent(job.id)}/result`));
  print(command, job, () => jobSummary(job, job.state === 'succeeded' ? out : undefined));
}

function kv<T>(option: string, raw: string, value: (text: string) => T): { item: string } & T {
  const [item, text] = pair(option, raw);
  return { item, ...value(text) };
}

function rangeOf(text: string): { from?: string; to?: string } {
  const i = text.indexOf('..');
  if (i < 0) throw invalidField('--range', 'format', `must be ITEM=FROM..TO (either side may be empty), not ${text}`);
  const from = text.slice(0, i);
  const to = text.slice(i + 2);
  if (from === '' && to === '') throw invalidField('--range', 'format', 'give FROM, TO or both');
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}

interface Subscription {
  readonly resourceCode: string;
  readonly generation: number;
  readonly cursor: number;
  readonly lastSeq: number;
  readonly phase: string;
  readonly mode: string;
  readonly state: string;
  readonly webhookUrl: string | null;
  readonly attempts: number;
  readonly lastError: string | null;
}

interface Batch {
  readonly generation: number;
  readonly batchId: string;
  readonly after: number;
  readonly cursor: number;
  readonly reset: boolean;
  readonly more: boolean;
  readonly changes: readonly { seq: number; op: string; ref: string; row: Record<string, unknown> }[];
}

const subscriptionLine = (s: Subscription): string[] => [s.resourceCode, s.mode, s.state, s.phase, String(s.generation), `${s.cursor}/${s.lastSeq}`, s.lastError ?? ''];
const SUBSCRIPTION_HEADERS = ['资源 resource', '方式 mode', '状态 state', '阶段 phase', '代 generation', '游标 cursor/last', '最近错误 last error'];

function registerPush(exchange: Command): void {
  withClientOptions(exchange.command('subscriptions').description('the push subscriptions of this system: one per resource it holds a push grant in force for')).action(
    action(async (opts: ClientOptions, command: Command) => {
      const { items } = await clientOf(opts).get<{ items: Subscription[] }>('/exchange/v1/subscriptions');
      print(command, items, () => table(SUBSCRIPTION_HEADERS, items.map(subscriptionLine)));
    }),
  );

  withClientOptions(exchange.command('changes <resource>').description('fetch the changes of a push subscription and acknowledge each batch once written; NDJSON, one change per line ({"op":"reset"} before a batch that starts from zero)'))
    .option('--limit <n>', 'changes per batch, 1–10000 (default: the platform’s)')
    .option('--follow', 'keep going: wait for new changes (long poll) until interrupted')
    .option('--wait <seconds>', 'long-poll wait per call with --follow, 1–60', '30')
    .option('--out <file>', 'append to this file (synced to disk before each acknowledgement; emptied on reset) instead of standard output')
    .action(
      action(async (resource: string, opts: ClientOptions & { limit?: string; follow?: boolean; wait: string; out?: string }) => {
        if (opts.limit !== undefined && (!/^\d{1,5}$/.test(opts.limit) || Number(opts.limit) < 1 || Number(opts.limit) > 10_000)) throw invalidField('--limit', 'range', `must be a whole number from 1 to 10000, not ${opts.limit}`);
        if (!/^\d{1,2}$/.test(opts.wait) || Number(opts.wait) < 1 || Number(opts.wait) > 60) throw invalidField('--wait', 'range', `must be a whole number of seconds from 1 to 60, not ${opts.wait}`);
        const client = clientOf(opts);
        const out = opts.out === undefined ? null : openSync(opts.out, 'a');
        const write = (text: string): void => {
          if (out === null) process.stdout.write(text);
          else writeSync(out, text);
        };
        let stop = false;
        const interrupt = (): void => {
          stop = true;
        };
        process.once('SIGINT', interrupt);
        process.once('SIGTERM', interrupt);
        try {
          let ack: { generation: number; cursor: number } | undefined;
          let total = 0;
          for (;;) {
            const batch = await client.post<Batch>(resourcePath(resource, 'subscription/changes'), {
              ...(opts.limit ? { limit: Number(opts.limit) } : {}),
              ...(opts.follow ? { waitSeconds: Number(opts.wait) } : {}),
              ...(ack ? { ack } : {}),
            });
            if (batch.reset) {
              if (out !== null) ftruncateSync(out, 0);
              write(`${JSON.stringify({ op: 'reset', generation: batch.generation })}\n`);
            }
            write(batch.changes.map((c) => `${JSON.stringify(c)}\n`).join(''));
            if (out !== null) fsyncSync(out);
            total += batch.changes.length;
            ack = { generation: batch.generation, cursor: batch.cursor };
            if (stop || (!batch.more && !opts.follow)) {
              await client.post(resourcePath(resource, 'subscription/ack'), ack);
              process.stderr.write(`${total} changes; acknowledged up to ${batch.cursor} (generation ${batch.generation})\n`);
              return;
            }
          }
        } finally {
          process.removeListener('SIGINT', interrupt);
          process.removeListener('SIGTERM', interrupt);
          if (out !== null) closeSync(out);
        }
      }),
    );

  withClientOptions(exchange.command('resync <resource>').description('start the subscription again from zero: a fresh snapshot, the first batch marked reset')).action(
    action(async (resource: string, opts: ClientOptions, command: Command) => {
      const s = await clientOf(opts).post<Subscription>(resourcePath(resource, 'subscription/resync'), {});
      print(command, s, () => table(SUBSCRIPTION_HEADERS, [subscriptionLine(s)]));
    }),
  );

  withClientOptions(exchange.command('webhook <resource>').description('have the platform POST the batches to an https webhook (mutual TLS): --webhook-url, or --remove it'))
    .option('--webhook-url <url>', 'https:// address of the webhook')
    .option('--ca-file <file>', "PEM of the CA that issued the webhook server's certificate (default: the system's trusted CAs)")
    .option('--remove', 'stop webhook delivery; fetch with `exchange changes` again')
    .action(
      action(async (resource: string, opts: ClientOptions & { webhookUrl?: string; caFile?: string; remove?: boolean }, command: Command) => {
        const client = clientOf(opts);
        const target = opts.webhookUrl;
        if (opts.remove) {
          const s = await client.call<Subscription>('DELETE', resourcePath(resource, 'subscription/webhook'));
          print(command, s, () => table(SUBSCRIPTION_HEADERS, [subscriptionLine(s)]));
          return;
        }
        if (!target) throw invalidField('--webhook-url', 'required', 'give the webhook address, or --remove');
        const s = await client.call<Subscription>('PUT', resourcePath(resource, 'subscription/webhook'), { url: target, ...(opts.caFile ? { caPem: readPem('--ca-file', opts.caFile) } : {}) });
        print(command, s, () => table(SUBSCRIPTION_HEADERS, [subscriptionLine(s)]));
      }),
    );

  withClientOptions(exchange.command('redrive <resource>').description('try a dead-lettered webhook subscription again now')).action(
    action(async (resource: string, opts: ClientOptions, command: Command) => {
      const s = await clientOf(opts).post<Subscription>(resourcePath(resource, 'subscription/redrive'), {});
      print(command, s, () => table(SUBSCRIPTION_HEADERS, [subscriptionLine(s)]));
    }),
  );
}
