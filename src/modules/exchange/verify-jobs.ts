import { hostname } from 'node:os';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Db } from '../../db/database.js';
import { GsError, type FieldProblem } from '../../lib/errors.js';
import { newId } from '../../lib/secrets.js';
import type { RequestContext } from '../../server/actor.js';
import type { AuditService } from '../audit/service.js';
import type { EffectiveGrant, GrantCheck } from '../grants/check.js';
import type { KeyRing } from '../keys/key-ring.js';
import { grantView, requireGranted } from './grant-view.js';
import { openDataFile } from './file-rows.js';
import type { ExchangeService } from './service.js';
import type { StoredValue, TableRow } from './store.js';
import { MATCH_MODES, valuesMatch, verificationGrant, type FieldOutcome, type MatchMode } from './verify.js';
import { VerifyJobStore, type VerifyJobError, type VerifyJobRow, type VerifyJobState } from './verify-job-store.js';
import type { CsvEncoding, LoadFormat } from './vocabulary.js';

/** The identity of the business system calling (the exchange port's certificate holder). */
export interface VerifyCaller {
  readonly systemId: string;
  readonly agencyId: string | null;
  readonly name: string;
}

export interface VerifySubmission {
  readonly bytes: Buffer;
  readonly format: LoadFormat;
  readonly encoding?: CsvEncoding | undefined;
  /** The mode of every field not named in `normalised`. */
  readonly match?: MatchMode | undefined;
  /** Items compared normalised whatever `match` says. */
  readonly normalised?: readonly string[] | undefined;
  readonly purpose?: string | undefined;
}

/** What a system reads of its job: never a value. */
export interface VerifyJobView {
  readonly id: string;
  readonly resourceCode: string;
  readonly state: VerifyJobState;
  readonly records: { readonly done: number; readonly total: number };
  readonly matched: number;
  readonly mismatched: number;
  readonly notFound: number;
  readonly keyItems: readonly string[];
  readonly fieldItems: readonly string[];
  readonly modes: Readonly<Record<string, MatchMode>>;
  readonly error: VerifyJobError | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

export interface VerifyJobOptions {
  readonly maxBytes: number;
  /** Records looked up per query. */
  readonly chunkRecords?: number;
  /** Chunks looked up at once (PostgreSQL: on several connections of the pool). */
  readonly parallelChunks?: number;
  /** How long a claim lasts without renewal; a job whose server died is taken up again after it. */
  readonly leaseMs?: number;
  /** A job interrupted this many times (its lease ran out) is failed instead of run again. */
  readonly maxAttempts?: number;
  /** How often the worker looks for queued jobs (and jobs whose lease ran out). */
  readonly pollMs?: number;
  /** Finished jobs and their files are deleted after this long. */
  readonly keepMs?: number;
}

type WorkerLogger = Pick<Logger, 'warn' | 'error'>;
const QUIET = { warn: () => undefined, error: () => undefined } as unknown as WorkerLogger;

/** At most this many problems of a file are listed; the count is complete. */
const MAX_PROBLEMS = 1000;
const DAY = 86_400_000;

/** Thrown inside a run when the claim was lost (lease ran out and another worker took it) or the server stops. */
class Abandoned extends Error {
  constructor(readonly release: boolean) {
    super('abandoned');
  }
}

const fileContext = (id: string, kind: 'input' | 'result'): string => `exchange.verify-job.${kind}:${id}`;

/** A CSV cell, quoted when it must be. */
const cell = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
const textOf = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v));

/**
 * Batch verification (批量核验): a business system submits a file of records (key items and the
 * values it holds); a worker in the server process compares them with the shared table in the
 * background and keeps a result file of match / mismatch / not_found per record and field —
 * never a stored value. The same grant rules as single verification (verify.ts), checked at
 * submission and again when the job runs. The file is checked whole at submission (columns, cells,
 * key values), so a malformed file is refused there, with every problem located, and no job
 * exists for it. Jobs persist (exchange_verify_jobs); README.md states the lease rules.
 */
export class VerifyJobService {
  readonly #store: VerifyJobStore;
  readonly #o: Required<VerifyJobOptions>;
  /** Names the worker in claims: host, process, and a per-instance suffix. */
  readonly id = `${hostname()}:${process.pid}:${newId().slice(0, 8)}`;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = true;
  /** Set by `stop`: the job running is handed back, no other is taken. */
  #stopping = false;
  #logger: WorkerLogger = QUIET;
  #sweptAt = 0;

  constructor(
    private readonly db: Db,
    private readonly exchange: ExchangeService,
    private readonly grants: GrantCheck,
    private readonly audit: AuditService,
    private readonly keys: KeyRing,
    options: VerifyJobOptions,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.#store = new VerifyJobStore(db);
    this.#o = { chunkRecords: 2000, parallelChunks: 3, leaseMs: 60_000, maxAttempts: 3, pollMs: 2000, keepMs: 7 * DAY, ...options };
  }

  // ---- submission and reading (the exchange port's routes) ------------------------------------

  async submit(ctx: RequestContext, caller: VerifyCaller, resourceCode: string, s: VerifySubmission): Promise<VerifyJobView> {
    const decision = await verificationGrant(this.grants, caller.systemId, resourceCode);
    if (!('grant' in decision)) {
      await this.#refused(ctx, caller, resourceCode, decision.grantId, decision.error.code);
      throw decision.error;
    }
    const grant = decision.grant;
    try {
      const table = await this.exchange.tableOf(resourceCode);
      const checked = await this.#check(grant, table, s);
      const id = newId();
      const now = this.now();
      const job = {
        id,
        resourceCode,
        systemId: caller.systemId,
        agencyId: caller.agencyId,
        actorName: ctx.actor.name,
        requestId: ctx.requestId,
        format: s.format,
        encoding: checked.encoding,
        bytes: s.bytes.length,
        keyItems: checked.keyItems,
        fieldItems: checked.fieldItems,
        modes: checked.modes,
        purpose: s.purpose ?? null,
        recordsTotal: checked.records,
        createdAt: now,
      };
      const sealed = this.keys.seal(Buffer.from(checked.recordLines, 'utf8'), fileContext(id, 'input'));
      await this.db.transaction().execute(async (trx) => {
        await this.#store.insert(job, sealed, trx);
        await this.audit.record(
          ctx,
          {
            action: 'data.verify-batch',
            targetType: 'resource',
            targetId: resourceCode,
            details: { event: 'submitted', jobId: id, systemId: caller.systemId, grantId: grant.grantId, method: grant.method, purpose: s.purpose ?? grant.purpose, format: s.format, encoding: checked.encoding, bytes: s.bytes.length, records: checked.records, keyItems: checked.keyItems, fieldItems: checked.fieldItems, modes: checked.modes },
          },
          trx,
        );
      });
      this.nudge();
      return viewOf((await this.#store.get(id))!);
    } catch (e) {
      if (e instanceof GsError) await this.#refused(ctx, caller, resourceCode, grant.grantId, e.code);
      throw e;
    }
  }

  /** A job of the calling system (GS_ERR_EXCHANGE_VERIFY_JOB_OTHER_SYSTEM for another system's). */
  async get(caller: VerifyCaller, id: string): Promise<VerifyJobView> {
    return viewOf(await this.#own(caller, id));
  }

  /** The result file (CSV, UTF-8 with BOM) of a job of the calling system that succeeded. */
  async result(caller: VerifyCaller, id: string): Promise<Buffer> {
    const job = await this.#own(caller, id);
    const sealed = job.state === 'succeeded' ? await this.#store.file(id, 'result') : undefined;
    if (sealed === undefined) throw new GsError('GS_ERR_EXCHANGE_VERIFY_JOB_NOT_READY', { id, state: job.state });
    return this.keys.open(sealed, fileContext(id, 'result'));
  }

  async #own(caller: VerifyCaller, id: string): Promise<VerifyJobRow> {
    const job = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id) ? await this.#store.get(id) : undefined;
    if (!job) throw new GsError('GS_ERR_EXCHANGE_VERIFY_JOB_NOT_FOUND', { id });
    if (job.systemId !== caller.systemId || job.agencyId !== caller.agencyId) throw new GsError('GS_ERR_EXCHANGE_VERIFY_JOB_OTHER_SYSTEM', { id });
    return job;
  }

  /**
   * The whole file read once: the header names every key item of the resource and at least one
   * other item, all granted; every record has the header's cells and a key that checks against its
   * items. Any problem refuses the file (422, each row and column listed).
   */
  async #check(grant: EffectiveGrant, table: TableRow, s: VerifySubmission): Promise<{ keyItems: string[]; fieldItems: string[]; modes: Record<string, MatchMode>; records: number; recordLines: string; encoding: CsvEncoding | null }> {
    const file = openDataFile(once(s.bytes), { format: s.format, encoding: s.encoding, maxBytes: Number.POSITIVE_INFINITY });
    const encode = await this.exchange.keyEncoder(table);
    const byItem = new Map(table.columns.map((c) => [c.item, c]));
    const keyItems = table.columns.filter((c) => c.key).map((c) => c.item);
    let columns: string[] | undefined;
    let columnSet: Set<string> | undefined;
    // What the job reads: the records as JSON arrays `[row, …key values, …field values]`, a chunk of them a line.
    let ordered: string[] = [];
    const lines: string[] = [];
    let pending: unknown[][] = [];
    let records = 0;
    const problems: { row: number; column: string | null; rule: string; message: string; messageZh: string }[] = [];
    let problemCount = 0;
    const problem = (p: (typeof problems)[number]): void => {
      problemCount++;
      if (problems.length < MAX_PROBLEMS) problems.push(p);
    };
    for await (const r of file.rows) {
      records++;
      if (records % 10_000 === 0) await yieldToEventLoop();
      if (r.problems?.length) {
        for (const p of r.problems) problem({ row: p.row, column: p.item, rule: p.rule, message: p.message, messageZh: p.messageZh });
        continue;
      }
      if (!columns) {
        columns = Object.keys(r.values);
        columnSet = new Set(columns);
        const missing = keyItems.filter((k) => !columnSet!.has(k));
        const unknown = columns.filter((c) => !byItem.has(c));
        const fields = columns.filter((c) => byItem.has(c) && !byItem.get(c)!.key);
        if (missing.length > 0 || unknown.length > 0 || fields.length === 0) {
          const summary = [missing.length ? `no column for the key items ${missing.join(', ')}` : '', unknown.length ? `${unknown.join(', ')} are not items of ${table.resourceCode}` : '', fields.length === 0 && unknown.length === 0 ? 'no column of an item to verify' : ''].filter(Boolean).join('; ');
          const summaryZh = [missing.length ? `缺少关键信息项 ${missing.join('、')} 的列` : '', unknown.length ? `${unknown.join('、')} 不是资源 ${table.resourceCode} 的信息项` : '', fields.length === 0 && unknown.length === 0 ? '没有待核验信息项的列' : ''].filter(Boolean).join('；');
          throw new GsError('GS_ERR_EXCHANGE_VERIFY_FILE_INVALID', { summary: `the header: ${summary}`, summaryZh: `表头：${summaryZh}`, problemCount: 1, problems: [] }, [{ field: 'header', rule: 'columns', message: summary, messageZh: summaryZh }]);
        }
        requireGranted(grant, columns);
        ordered = [...columns.filter((c) => byItem.get(c)!.key), ...columns.filter((c) => !byItem.get(c)!.key)];
      } else if (s.format === 'ndjson' && (Object.keys(r.values).length !== columns.length || !Object.keys(r.values).every((k) => columnSet!.has(k)))) {
        // CSV and XLSX records have the header's cells (the readers say otherwise); NDJSON lines are free.
        problem({ row: r.row, column: null, rule: 'columns', message: `the record's items differ from the first record's (${columns.join(', ')})`, messageZh: `该记录的信息项与第一条记录（${columns.join('、')}）不同` });
        continue;
      }
      const key = encode(r.values);
      if ('problem' in key) problem({ row: r.row, column: key.item, ...key.problem });
      if (problemCount > 0) continue;
      const record: unknown[] = [r.row];
      for (const c of ordered) record.push(r.values[c] ?? null);
      pending.push(record);
      if (pending.length >= this.#o.chunkRecords) {
        lines.push(JSON.stringify(pending));
        pending = [];
      }
    }
    if (problemCount > 0) {
      const fields: FieldProblem[] = problems.map((p) => ({ field: p.column === null ? `rows.${p.row}` : `rows.${p.row}.${p.column}`, rule: p.rule, message: p.message, messageZh: p.messageZh }));
      throw new GsError('GS_ERR_EXCHANGE_VERIFY_FILE_INVALID', { summary: `${problemCount} problems in the records`, summaryZh: `记录中有 ${problemCount} 处问题`, problemCount, problems }, fields);
    }
    if (!columns) throw new GsError('GS_ERR_EXCHANGE_VERIFY_FILE_INVALID', { summary: 'the file holds no record', summaryZh: '文件中没有记录', problemCount: 0, problems: [] });
    const fieldItems = columns.filter((c) => !byItem.get(c)!.key);
    const normalised = new Set(s.normalised ?? []);
    const outside = [...normalised].filter((i) => !fieldItems.includes(i));
    if (outside.length > 0) throw new GsError('GS_ERR_REQUEST_INVALID', { summary: `normalised: ${outside.join(', ')} are not columns of the file to verify`, summaryZh: `normalised：${outside.join('、')} 不是文件中待核验的列` }, [{ field: 'query.normalised', rule: 'enum', message: 'name columns of the file to verify', messageZh: '须为文件中待核验的列' }]);
    const modes: Record<string, MatchMode> = {};
    for (const f of fieldItems) Object.defineProperty(modes, f, { value: normalised.has(f) ? 'normalised' : (s.match ?? 'exact'), enumerable: true, writable: true, configurable: true });
    if (pending.length > 0) lines.push(JSON.stringify(pending));
    return { keyItems: columns.filter((c) => byItem.get(c)!.key), fieldItems, modes, records, recordLines: lines.join('\n'), encoding: file.encoding() };
  }

  async #refused(ctx: RequestContext, caller: VerifyCaller, resourceCode: string, grantId: string | null, code: string): Promise<void> {
    await this.audit.record(ctx, { action: 'data.verify-batch', targetType: 'resource', targetId: resourceCode, outcome: code.startsWith('GS_ERR_GRANT_') || code === 'GS_ERR_DATA_ITEMS_NOT_GRANTED' ? 'denied' : 'failure', details: { event: 'submitted', systemId: caller.systemId, grantId, code } });
  }

  // ---- the worker -----------------------------------------------------------------------------

  /** Polls every `pollMs`; a submission wakes it at once. */
  start(logger?: WorkerLogger): void {
    if (logger) this.#logger = logger;
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#stopping = false;
    this.#timer = setInterval(() => this.#wake(), this.#o.pollMs);
    this.#timer.unref();
    this.#wake();
  }

  /** Stops polling; a job running is handed back to the queue for another server (or the next start). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  nudge(): void {
    if (!this.#stopped) this.#wake();
  }

  #wake(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.runOnce();
        } while (this.#again && !this.#stopped);
      } catch (err) {
        this.#logger.error({ err }, 'the verification job worker could not run');
      } finally {
        this.#running = undefined;
      }
    })();
  }

  /**
   * Runs the due jobs one after another until none is left (tests call it directly): queued ones,
   * and running ones whose lease ran out — again, or failed once interrupted `maxAttempts` times.
   * Also deletes jobs finished longer ago than `keepMs`. How many jobs it took.
   */
  async runOnce(): Promise<number> {
    let taken = 0;
    // Old jobs are swept at most hourly (the poll comes every few seconds).
    if (this.now().getTime() - this.#sweptAt >= 3_600_000) {
      this.#sweptAt = this.now().getTime();
      await this.#store.sweep(new Date(this.#sweptAt - this.#o.keepMs));
    }
    while (!this.#stopping) {
      const now = this.now();
      const job = await this.#store.claim(this.id, now, new Date(now.getTime() + this.#o.leaseMs));
      if (!job) break;
      taken++;
      if (job.attempts > this.#o.maxAttempts) {
        const error = errorOf(new GsError('GS_ERR_EXCHANGE_VERIFY_JOB_INTERRUPTED', { id: job.id, attempts: job.attempts - 1 }));
        await this.#finishFailed(job, error);
        continue;
      }
      await this.#run(job);
    }
    return taken;
  }

  async #run(job: VerifyJobRow): Promise<void> {
    const counts = { recordsDone: 0, matched: 0, mismatched: 0, notFound: 0 };
    try {
      const decision = await verificationGrant(this.grants, job.systemId, job.resourceCode);
      if (!('grant' in decision)) throw decision.error;
      const grant = decision.grant;
      // The grant may have changed since submission: its items still bound the columns.
      requireGranted(grant, [...job.keyItems, ...job.fieldItems]);
      const table = await this.exchange.tableOf(job.resourceCode);
      const sealed = await this.#store.file(job.id, 'input');
      if (sealed === undefined) throw new GsError('GS_ERR_EXCHANGE_VERIFY_JOB_FAILED', { id: job.id, reason: 'its file is missing' });
      const result = await this.#compare(job, grant, table, this.keys.open(sealed, fileContext(job.id, 'input')).toString('utf8'), counts);
      const sealedResult = this.keys.seal(result, fileContext(job.id, 'result'));
      await this.db.transaction().execute(async (trx) => {
        if (!(await this.#store.succeed(job.id, this.id, counts, sealedResult, this.now(), trx))) throw new Abandoned(false);
        await this.audit.record(contextOf(job), { action: 'data.verify-batch', targetType: 'resource', targetId: job.resourceCode, details: { event: 'finished', jobId: job.id, systemId: job.systemId, grantId: grant.grantId, state: 'succeeded', records: counts.recordsDone, matched: counts.matched, mismatched: counts.mismatched, notFound: counts.notFound, attempts: job.attempts } }, trx);
      });
    } catch (e) {
      if (e instanceof Abandoned) {
        if (e.release) await this.#store.release(job.id, this.id).catch((err: unknown) => this.#logger.error({ err, job: job.id }, 'handing a verification job back failed'));
        return;
      }
      if (!(e instanceof GsError)) this.#logger.error({ err: e, job: job.id }, 'a verification job failed');
      const error = e instanceof GsError ? errorOf(e) : errorOf(new GsError('GS_ERR_EXCHANGE_VERIFY_JOB_FAILED', { id: job.id, reason: e instanceof Error ? e.message : String(e) }));
      await this.#finishFailed(job, error, this.id);
    }
  }

  async #finishFailed(job: VerifyJobRow, error: VerifyJobError, worker: string | null = null): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      if (!(await this.#store.fail(job.id, worker, error, this.now(), trx))) return;
      await this.audit.record(contextOf(job), { action: 'data.verify-batch', targetType: 'resource', targetId: job.resourceCode, outcome: error.code.startsWith('GS_ERR_GRANT_') || error.code === 'GS_ERR_DATA_ITEMS_NOT_GRANTED' ? 'denied' : 'failure', details: { event: 'finished', jobId: job.id, systemId: job.systemId, state: 'failed', code: error.code, records: job.recordsTotal, attempts: job.attempts } }, trx);
    });
  }

  /**
   * The comparison, chunk by chunk: each chunk's keys encoded at once (blind indexes with the key
   * held once) and looked up in one query, only the items compared and the row filter's decrypted.
   * Up to `parallelChunks` lookups are in flight while the file is read on; results keep the
   * file's order. Progress (and the lease) is written about once a second.
   */
  async #compare(job: VerifyJobRow, grant: EffectiveGrant, table: TableRow, input: string, counts: { recordsDone: number; matched: number; mismatched: number; notFound: number }): Promise<Buffer> {
    const encode = await this.exchange.keyEncoder(table);
    const view = grantView(grant, { hashKey: Buffer.alloc(0) });
    const byItem = new Map(table.columns.map((c) => [c.item, c]));
    const nKeys = job.keyItems.length;
    const fields = job.fieldItems.map((item, j) => ({ item, at: 1 + nKeys + j, column: byItem.get(item)!, mode: (MATCH_MODES as readonly string[]).includes(job.modes[item] ?? '') ? (job.modes[item] as MatchMode) : 'exact' }));
    const items = [...new Set([...job.fieldItems, ...grant.rowFilter.map((c) => c.item)])];
    const out: string[] = [`\ufeff${['row', ...job.keyItems, ...job.fieldItems].map(cell).join(',')}\r\n`];

    const lookup = async (chunk: readonly (readonly unknown[])[]): Promise<string> => {
      const keys: StoredValue[][] = [];
      for (const r of chunk) {
        // No prototype: an item called `__proto__` is a key like any other.
        const key = Object.create(null) as Record<string, unknown>;
        for (let j = 0; j < nKeys; j++) key[job.keyItems[j]!] = r[1 + j];
        const k = encode(key);
        // Checked at submission; records that no longer check are not answered in part.
        if ('problem' in k) throw new GsError('GS_ERR_EXCHANGE_VERIFY_JOB_FAILED', { id: job.id, reason: `record ${String(r[0])}, ${k.item}: ${k.problem.message}` });
        keys.push(k.values);
      }
      const rows = await this.exchange.rowsByKeys(table, keys, items);
      let text = '';
      for (let i = 0; i < chunk.length; i++) {
        const r = chunk[i]!;
        const row = rows[i];
        const found = row !== null && row !== undefined && !row.deleted && view.passes(row.values);
        let line = String(r[0]);
        for (let j = 0; j < nKeys; j++) line += `,${cell(textOf(r[1 + j]))}`;
        for (const f of fields) {
          const outcome: FieldOutcome = !found ? 'not_found' : valuesMatch(f.column, row.values[f.item], r[f.at], f.mode) ? 'match' : 'mismatch';
          if (outcome === 'match') counts.matched++;
          else if (outcome === 'mismatch') counts.mismatched++;
          else counts.notFound++;
          line += `,${outcome}`;
        }
        text += `${line}\r\n`;
      }
      counts.recordsDone += chunk.length;
      return text;
    };

    const inFlight: Promise<string>[] = [];
    let lastProgress = Date.now();
    const settle = async (): Promise<void> => {
      out.push(await inFlight.shift()!);
      if (this.#stopping) throw new Abandoned(true);
      if (Date.now() - lastProgress >= 1000) {
        lastProgress = Date.now();
        if (!(await this.#store.progress(job.id, this.id, counts, new Date(this.now().getTime() + this.#o.leaseMs)))) throw new Abandoned(false);
      }
    };
    try {
      for (let start = 0; start < input.length; ) {
        const nl = input.indexOf('\n', start);
        const end = nl < 0 ? input.length : nl;
        const p = lookup(JSON.parse(input.slice(start, end)) as unknown[][]);
        // Awaited in order by `settle`; a rejection while earlier chunks are awaited is not unhandled.
        p.catch(() => undefined);
        inFlight.push(p);
        start = end + 1;
        if (inFlight.length >= this.#o.parallelChunks) await settle();
      }
      while (inFlight.length > 0) await settle();
    } finally {
      // Whatever is still in flight finishes before the job is recorded as failed or handed back.
      await Promise.allSettled(inFlight);
    }
    return Buffer.from(out.join(''), 'utf8');
  }
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  // Slices of the file, as a stream would give them: the readers decode chunk by chunk.
  for (let i = 0; i < bytes.length; i += 1 << 20) yield bytes.subarray(i, i + (1 << 20));
}

function errorOf(e: GsError): VerifyJobError {
  return { code: e.code, message: e.message, messageZh: e.messageZh };
}

/** The submitting system, as the audit trail names it, for what the job does later. */
function contextOf(job: VerifyJobRow): RequestContext {
  return { actor: { type: 'system', userId: job.systemId, name: job.actorName, roles: [], agencyId: job.agencyId, permissions: new Set() }, requestId: job.requestId, ip: null };
}

function viewOf(j: VerifyJobRow): VerifyJobView {
  return {
    id: j.id,
    resourceCode: j.resourceCode,
    state: j.state,
    records: { done: j.recordsDone, total: j.recordsTotal },
    matched: j.matched,
    mismatched: j.mismatched,
    notFound: j.notFound,
    keyItems: j.keyItems,
    fieldItems: j.fieldItems,
    modes: j.modes as Record<string, MatchMode>,
    error: j.error,
    createdAt: j.createdAt.toISOString(),
    startedAt: j.startedAt?.toISOString() ?? null,
    finishedAt: j.finishedAt?.toISOString() ?? null,
  };
}
