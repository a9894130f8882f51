import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { sql, type Insertable } from 'kysely';
import type { DatabaseHandle, Db } from '../src/db/database.js';
import type { AuditEventsTable } from '../src/db/schema.js';
import { PERMISSIONS } from '../src/modules/accounts/permissions.js';
import type { AuditEntry } from '../src/modules/audit/service.js';
import { checkingThreads } from '../src/modules/audit/verify-hashing.js';
import type { RequestContext } from '../src/server/actor.js';
import { loadConfig } from '../src/server/config.js';
import { Platform } from '../src/server/platform.js';
import { onBothDatabases } from './bench-database.js';
import { compared, type Benchmark, type BenchResult, type BenchSettings } from './benchmark.js';

/** Events per append call (one transaction): the batched path of `recordMany`. */
const BATCH = 1_000;
/** Rows per page when reading the chain back (the verifier's own page size). */
const PAGE = 5_000;
const POOL_SIZE = 10;

const DESCRIPTION =
  'audit trail: batched hash-chained appends (recordMany, 1000 events per transaction) vs plain inserts of the same rows; full verification (chain + checkpoint signatures; pages read as rows through binary COPY on PostgreSQL, rendered as one text by PGlite; hashed on worker threads with 4+ CPUs) vs a plain scan of the same rows — on PostgreSQL and on PGlite';

/** The same work without the chain: a copy of the events table without triggers or checks. */
const ctx: RequestContext = {
  actor: { type: 'user', userId: randomUUID(), name: 'bench.user', roles: ['viewer'], agencyId: randomUUID(), permissions: new Set(PERMISSIONS) },
  requestId: 'bench-request-0001',
  ip: '10.0.0.1',
};

function entries(n: number, offset: number): AuditEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    action: 'agency.update',
    targetType: 'agency',
    targetId: randomUUID(),
    details: { fields: ['nameZh', 'contacts'], n: offset + i, note: '基准测试' },
  }));
}

function baselineRows(n: number, firstSeq: number): Insertable<AuditEventsTable>[] {
  const at = new Date();
  return entries(n, firstSeq).map((e, i) => ({
    seq: firstSeq + i,
    at,
    actorType: ctx.actor.type,
    actorId: ctx.actor.userId,
    actorAgencyId: ctx.actor.agencyId,
    actorName: ctx.actor.name,
    action: e.action,
    targetType: e.targetType ?? null,
    targetId: e.targetId ?? null,
    outcome: 'success',
    requestId: ctx.requestId,
    ip: ctx.ip,
    details: JSON.stringify(e.details),
  }));
}

/** Runs `step` (which handles `perStep` events) for `seconds`; events per second. */
async function rate(seconds: number, perStep: number, step: () => Promise<void>): Promise<{ perSecond: number; events: number }> {
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  let events = 0;
  while (performance.now() < until) {
    await step();
    events += perStep;
  }
  return { perSecond: events / ((performance.now() - started) / 1000), events };
}

async function plainScan(db: Db): Promise<number> {
  let after = 0;
  let rows = 0;
  for (;;) {
    const page = await db.selectFrom('auditEvents').selectAll().where('seq', '>', after).orderBy('seq').limit(PAGE).execute();
    const last = page.at(-1);
    if (!last) return rows;
    rows += page.length;
    after = last.seq;
  }
}

interface SideFigures {
  readonly append: number;
  readonly appendBaseline: number;
  readonly verify: number;
  readonly scan: number;
  readonly events: number;
  readonly checkpoints: number;
}

async function measure(handle: DatabaseHandle, s: BenchSettings, label: string): Promise<SideFigures> {
  const config = loadConfig({ env: {}, overrides: { logLevel: 'silent' } });
  const platform = Platform.fromDatabase(handle, config);
  await platform.bootstrap();
  const db = platform.db;
  // Same columns, defaults, identity and indexes; no triggers, no chain check.
  await sql`create table audit_baseline (like audit_events including defaults including identity including indexes)`.execute(db);
  let baselineSeq = 1;
  const appendPlain = () =>
    db.transaction().execute(async (trx) => {
      const rows = baselineRows(BATCH, baselineSeq);
      baselineSeq += BATCH;
      // The same INSERT … SELECT FROM unnest(column arrays) as the chained append, without hashes.
      const col = <T>(pick: (r: (typeof rows)[number]) => T): T[] => rows.map(pick);
      await sql`insert into audit_baseline (seq, at, actor_type, actor_id, actor_agency_id, actor_name, action, target_type, target_id, outcome, request_id, ip, details)
        select * from unnest(${col((r) => r.seq)}::bigint[], ${col((r) => (r.at instanceof Date ? r.at.toISOString() : String(r.at)))}::timestamptz[],
          ${col((r) => r.actorType)}::text[], ${col((r) => r.actorId ?? null)}::uuid[], ${col((r) => r.actorAgencyId ?? null)}::uuid[], ${col((r) => r.actorName)}::text[],
          ${col((r) => r.action)}::text[], ${col((r) => r.targetType ?? null)}::text[], ${col((r) => r.targetId ?? null)}::text[], ${col((r) => r.outcome)}::text[],
          ${col((r) => r.requestId ?? null)}::text[], ${col((r) => r.ip ?? null)}::text[], ${col((r) => r.details)}::jsonb[])
        returning id`.execute(trx);
    });
  let n = 0;
  const appendChained = async () => {
    await platform.audit.recordMany(ctx, entries(BATCH, n));
    n += BATCH;
  };

  s.log(`  ${label}: warming up`);
  await rate(s.warmupSeconds / 2, BATCH, appendPlain);
  await rate(s.warmupSeconds / 2, BATCH, appendChained);
  const plain: number[] = [];
  const chained: number[] = [];
  for (let r = 0; r < s.rounds; r++) {
    plain.push((await rate(s.roundSeconds, BATCH, appendPlain)).perSecond);
    chained.push((await rate(s.roundSeconds, BATCH, appendChained)).perSecond);
    s.log(`  ${label} round ${r + 1}: append ${Math.round(chained.at(-1)!)} events/s, plain insert ${Math.round(plain.at(-1)!)} rows/s`);
  }

  const verifyRates: number[] = [];
  const scanRates: number[] = [];
  let report = await platform.audit.verify();
  if (!report.ok) throw new Error(`${label}: the chain does not verify: ${report.problem}`);
  for (let r = 0; r < s.rounds; r++) {
    let t = performance.now();
    const rows = await plainScan(db);
    scanRates.push(rows / ((performance.now() - t) / 1000));
    t = performance.now();
    report = await platform.audit.verify();
    verifyRates.push(report.events / ((performance.now() - t) / 1000));
    if (!report.ok) throw new Error(`${label}: the chain does not verify: ${report.problem}`);
    s.log(`  ${label} round ${r + 1}: verify ${Math.round(verifyRates.at(-1)!)} events/s, plain scan ${Math.round(scanRates.at(-1)!)} rows/s (${report.events} events)`);
  }
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { append: mean(chained), appendBaseline: mean(plain), verify: mean(verifyRates), scan: mean(scanRates), events: report.events, checkpoints: report.checkpoints };
}

function results(prefix: string, f: SideFigures): BenchResult[] {
  return [compared(`${prefix}.append.rps`, 'events/s', f.append, f.appendBaseline, 0), compared(`${prefix}.verify.rps`, 'events/s', f.verify, f.scan, 0)];
}

export const auditChain: Benchmark = {
  name: 'audit',
  description: DESCRIPTION,
  async run(s) {
    const { database, postgres: onPostgres, pglite: onPGlite } = await onBothDatabases(s, POOL_SIZE, (handle, label) => measure(handle, s, label));

    const side = (f: SideFigures) => ({ events: f.events, checkpoints: f.checkpoints, appendEventsPerSecond: Math.round(f.append), plainInsertRowsPerSecond: Math.round(f.appendBaseline), verifyEventsPerSecond: Math.round(f.verify), plainScanRowsPerSecond: Math.round(f.scan) });
    return {
      results: [...results('audit.postgres', onPostgres), ...results('audit.pglite', onPGlite)],
      setup: {
        description: DESCRIPTION,
        database,
        poolSize: POOL_SIZE,
        batch: BATCH,
        checkpointEvents: 1000,
        targets: { appendEventsPerSecond: 20_000, verifyEventsPerSecond: 200_000 },
        // What AuditService.verify used for chains of this size on this machine.
        verifyThreads: checkingThreads(Math.min(onPostgres.events, onPGlite.events)),
        cpus: availableParallelism(),
        postgres: side(onPostgres),
        pglite: side(onPGlite),
      },
    };
  },
};
