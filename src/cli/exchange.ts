import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { request } from 'node:https';
import type { Command } from 'commander';
import { ERRORS, GsError, invalidField, type ErrorCode, type FieldProblem } from '../lib/errors.js';
import { action, print, table } from './context.js';

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
  const call = <T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(new URL(path, base), { method, ...tls, headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
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
  return { post: (path, body) => call('POST', path, body), get: (path) => call('GET', path), call: (method, path, body) => call(method, path, body) };
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
  const exchange = program.command('exchange').description("a business system's client of the exchange port (mutual TLS): whoami, query (pull), verify, subscriptions and changes (push) (docs/exchange.md)");

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
