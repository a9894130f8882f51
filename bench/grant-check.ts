import { fork, type ChildProcess } from 'node:child_process';
import { sql } from 'kysely';
import type { DatabaseHandle } from '../src/db/database.js';
import { ensureRegion, insertAgency, insertGrants, insertPublishedEntries, insertSystems, setGrantStatus, type FixtureEntry, type GrantSpec } from '../src/modules/grants/check-fixtures.js';
import { GRANT_METHODS, GrantCheck, type GrantDecision, type GrantMethod } from '../src/modules/grants/check.js';
import { chinaDateOf } from '../src/lib/working-calendar.js';
import { onBothDatabases } from './bench-database.js';
import { compared, type Benchmark, type BenchResult, type BenchSettings } from './benchmark.js';
import type { WorkerReply, WorkerRequest } from './grant-check-worker.js';

const SYSTEMS = 100;
const RESOURCES = 25;
/** SYSTEMS × RESOURCES × 4 methods distinct keys. */
const KEYS = SYSTEMS * RESOURCES * GRANT_METHODS.length;
/** Revocations measured per database. */
const REVOCATIONS = 20;
const POOL_SIZE = 10;
const DAY = 86_400_000;

const DESCRIPTION = `grant check: warm-cache GrantCheck.check in process over ${KEYS.toLocaleString('en')} distinct (system, resource, method) keys (allows and every kind of refusal, random order) vs a bare Map.get of the same answers; revocation latency (${REVOCATIONS} revocations, UPDATE + commit until a polling check refuses) — on PostgreSQL seen by a second process with its own connections and GrantCheck, on PGlite (one process per data directory) in process`;

interface Key {
  readonly systemId: string;
  readonly resource: string;
  readonly method: GrantMethod;
  readonly flat: string;
}

interface Latencies {
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
  /** The same percentiles of the revoking UPDATE's own duration (the baseline). */
  readonly updateP50: number;
  readonly updateP95: number;
}

interface SideFigures {
  readonly checksPerSecond: number;
  readonly mapGetsPerSecond: number;
  readonly allowedShare: number;
  readonly coldLoadsPerSecond: number;
  readonly revocation: Latencies;
  readonly revocationWhere: string;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** A deterministic shuffle (xorshift), so both sides and both databases check in the same order. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * 100 systems × 25 resources; per pair, by (system + resource) mod 10: 0–4 active pull and
 * comparison grants; 5 suspended; 6 revoked; 7 active push and file; 8 expired by date;
 * 9 no grant. With the four methods: allows, and every refusal but the system and resource ones.
 */
async function fixtures(handle: DatabaseHandle): Promise<{ keys: Key[]; latencyGrants: { grantId: string; systemId: string; resource: string }[] }> {
  const db = handle.db;
  await ensureRegion(db);
  const consumer = await insertAgency(db, 1);
  const provider = await insertAgency(db, 2);
  const systems = await insertSystems(db, consumer, SYSTEMS);
  const entries = await insertPublishedEntries(db, provider, RESOURCES);
  const now = Date.now();
  const validFrom = new Date(now - DAY);
  const validUntil = chinaDateOf(new Date(now + 365 * DAY));
  const base = (systemId: string, entry: FixtureEntry, method: GrantMethod): GrantSpec => ({ consumerAgencyId: consumer, systemId, entry, providerAgencyId: provider, method, validFrom, validUntil });
  const specs: GrantSpec[] = [];
  systems.forEach((systemId, i) => {
    entries.forEach((entry, j) => {
      const kind = (i + j) % 10;
      if (kind <= 4) specs.push(base(systemId, entry, 'pull'), base(systemId, entry, 'comparison'));
      else if (kind === 5) specs.push({ ...base(systemId, entry, 'pull'), status: 'suspended' });
      else if (kind === 6) specs.push({ ...base(systemId, entry, 'pull'), status: 'revoked' });
      else if (kind === 7) specs.push(base(systemId, entry, 'push'), base(systemId, entry, 'file'));
      else if (kind === 8) specs.push({ ...base(systemId, entry, 'pull'), validFrom: new Date(now - 400 * DAY), validUntil: chinaDateOf(new Date(now - 2 * DAY)) });
    });
  });
  await insertGrants(db, specs);
  // One grant per revocation, each on a pair of its own, so no round disturbs the next.
  const latencySystems = await insertSystems(db, consumer, REVOCATIONS);
  const latencyEntries = await insertPublishedEntries(db, provider, REVOCATIONS, RESOURCES + 1);
  const latencyIds = await insertGrants(
    db,
    latencySystems.map((systemId, i) => base(systemId, latencyEntries[i]!, 'pull')),
  );
  await sql`analyze`.execute(db);
  const keys: Key[] = [];
  for (const systemId of systems) for (const e of entries) for (const method of GRANT_METHODS) keys.push({ systemId, resource: e.resourceCode, method, flat: `${systemId}|${e.resourceCode}|${method}` });
  return { keys, latencyGrants: latencyIds.map((grantId, i) => ({ grantId, systemId: latencySystems[i]!, resource: latencyEntries[i]!.resourceCode })) };
}

/** Until one pass over every key is answered from the cache (fixture notifications may still arrive). */
async function warm(check: GrantCheck, keys: readonly Key[]): Promise<number> {
  const started = performance.now();
  let loads = check.stats().loads;
  for (let pass = 0; pass < 50; pass++) {
    let misses = 0;
    for (const k of keys) {
      const a = check.check(k.systemId, k.resource, k.method);
      if (a instanceof Promise) {
        misses += 1;
        await a;
      }
    }
    if (pass === 0) loads = check.stats().loads - loads;
    if (misses === 0) return loads / ((performance.now() - started) / 1000);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the grant check never answered every key from the cache');
}

/** Checks per second over `order` for `seconds`; the count of allows keeps the work observable. */
function checkRate(check: GrantCheck, order: readonly Key[], seconds: number): { perSecond: number; allowed: number } {
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  let n = 0;
  let allowed = 0;
  while (performance.now() < until) {
    for (const k of order) {
      const a = check.check(k.systemId, k.resource, k.method) as GrantDecision;
      if (a instanceof Promise) throw new Error('a warm key was not answered from the cache');
      if (a.allowed) allowed += 1;
    }
    n += order.length;
  }
  return { perSecond: n / ((performance.now() - started) / 1000), allowed: allowed / n };
}

function mapRate(map: ReadonlyMap<string, GrantDecision>, order: readonly Key[], seconds: number): number {
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  let n = 0;
  let allowed = 0;
  while (performance.now() < until) {
    for (const k of order) if (map.get(k.flat)?.allowed) allowed += 1;
    n += order.length;
  }
  if (allowed === 0) throw new Error('the baseline found no allow');
  return n / ((performance.now() - started) / 1000);
}

const wallNow = (): number => performance.timeOrigin + performance.now();

function latencies(flips: readonly number[], updates: readonly number[]): Latencies {
  const f = [...flips].sort((a, b) => a - b);
  const u = [...updates].sort((a, b) => a - b);
  return { p50: percentile(f, 0.5), p95: percentile(f, 0.95), max: f.at(-1)!, updateP50: percentile(u, 0.5), updateP95: percentile(u, 0.95) };
}

/** PGlite: the same process polls while the revocation commits (one process per data directory). */
async function inProcessRevocations(handle: DatabaseHandle, grants: readonly { grantId: string; systemId: string; resource: string }[]): Promise<Latencies> {
  const check = new GrantCheck({ db: handle.db, listen: handle.listen, now: () => new Date() });
  await check.start();
  const flips: number[] = [];
  const updates: number[] = [];
  try {
    for (const g of grants) {
      await warm(check, [{ systemId: g.systemId, resource: g.resource, method: 'pull', flat: '' }]);
      let flippedAt: number | undefined;
      const polling = (async () => {
        for (;;) {
          const a = check.check(g.systemId, g.resource, 'pull');
          const answer = a instanceof Promise ? await a : a;
          if (!answer.allowed) {
            flippedAt = wallNow();
            return;
          }
          await new Promise((r) => setImmediate(r));
        }
      })();
      const t0 = wallNow();
      await setGrantStatus(handle.db, g.grantId, 'revoked');
      updates.push(wallNow() - t0);
      await polling;
      flips.push(flippedAt! - t0);
    }
  } finally {
    await check.stop();
  }
  return latencies(flips, updates);
}

/** PostgreSQL: a second process (grant-check-worker.ts) polls; this one revokes. */
async function crossProcessRevocations(s: BenchSettings, handle: DatabaseHandle, grants: readonly { grantId: string; systemId: string; resource: string }[]): Promise<Latencies> {
  const name = (await sql<{ name: string }>`select current_database() as name`.execute(handle.db)).rows[0]!.name;
  const url = new URL(s.serverUrl);
  url.pathname = `/${name}`;
  const child: ChildProcess = fork(new URL('./grant-check-worker.js', import.meta.url), [url.toString()], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  s.teardown.add('stop the grant-check worker process', async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const replies: WorkerReply[] = [];
  let waiting: (() => void) | undefined;
  child.on('message', (m: WorkerReply) => {
    replies.push(m);
    waiting?.();
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the worker exited (${code})`))));
  exited.catch(() => undefined);
  const next = async (type: WorkerReply['type']): Promise<WorkerReply> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const i = replies.findIndex((r) => r.type === type || r.type === 'failed');
      if (i >= 0) {
        const [r] = replies.splice(i, 1);
        if (r!.type === 'failed') throw new Error(`the worker failed: ${r!.reason}`);
        return r!;
      }
      if (Date.now() > deadline) throw new Error(`no '${type}' from the worker within 30 s`);
      const woken = new Promise<void>((r) => {
        waiting = r;
        setTimeout(r, 100);
      });
      await Promise.race([woken, exited]);
    }
  };
  const send = (m: WorkerRequest): void => {
    child.send(m);
  };
  await next('started');
  const flips: number[] = [];
  const updates: number[] = [];
  try {
    for (const g of grants) {
      send({ type: 'watch', systemId: g.systemId, resource: g.resource, method: 'pull' });
      await next('watching');
      const t0 = wallNow();
      await setGrantStatus(handle.db, g.grantId, 'revoked');
      updates.push(wallNow() - t0);
      const flipped = (await next('flipped')) as Extract<WorkerReply, { type: 'flipped' }>;
      if (flipped.code !== 'GS_ERR_GRANT_REVOKED') throw new Error(`the worker saw ${flipped.code}, not the revocation`);
      flips.push(flipped.at - t0);
    }
  } finally {
    send({ type: 'stop' });
    await Promise.race([exited.catch(() => undefined), new Promise((r) => setTimeout(r, 5_000))]);
  }
  return latencies(flips, updates);
}

async function measure(handle: DatabaseHandle, s: BenchSettings, label: 'postgres' | 'pglite'): Promise<SideFigures> {
  s.log(`  ${label}: ${KEYS} keys, fixtures`);
  const { keys, latencyGrants } = await fixtures(handle);
  const check = new GrantCheck({ db: handle.db, listen: handle.listen, now: () => new Date() });
  await check.start();
  try {
    const coldLoadsPerSecond = await warm(check, keys);
    s.log(`  ${label}: cache warm (cold loads ${Math.round(coldLoadsPerSecond)} pairs/s)`);
    const map = new Map<string, GrantDecision>(keys.map((k) => [k.flat, check.check(k.systemId, k.resource, k.method) as GrantDecision]));
    const order = shuffled(keys, 20_261_201);
    checkRate(check, order, s.warmupSeconds / 2);
    mapRate(map, order, s.warmupSeconds / 2);
    const checks: number[] = [];
    const gets: number[] = [];
    let allowedShare = 0;
    // ABBA: baseline, check, check, baseline, …
    for (let r = 0; r < s.rounds; r++) {
      const run = () => {
        const c = checkRate(check, order, s.roundSeconds / 2);
        allowedShare = c.allowed;
        checks.push(c.perSecond);
      };
      if (r % 2 === 0) {
        gets.push(mapRate(map, order, s.roundSeconds / 2));
        run();
      } else {
        run();
        gets.push(mapRate(map, order, s.roundSeconds / 2));
      }
      s.log(`  ${label} round ${r + 1}: ${Math.round(checks.at(-1)!).toLocaleString('en')} checks/s, Map.get ${Math.round(gets.at(-1)!).toLocaleString('en')}/s`);
    }
    if (check.stats().size !== SYSTEMS * RESOURCES) throw new Error(`expected ${SYSTEMS * RESOURCES} cached pairs, found ${check.stats().size}`);
    const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    await check.stop();
    const revocationWhere = label === 'postgres' ? 'second process (own pool, own LISTEN connection, own GrantCheck)' : 'same process (PGlite: one process per data directory)';
    s.log(`  ${label}: ${REVOCATIONS} revocations, seen by the ${revocationWhere}`);
    const revocation = label === 'postgres' ? await crossProcessRevocations(s, handle, latencyGrants) : await inProcessRevocations(handle, latencyGrants);
    s.log(`  ${label}: revocation visible p50 ${revocation.p50.toFixed(2)} ms, p95 ${revocation.p95.toFixed(2)} ms, max ${revocation.max.toFixed(2)} ms (the UPDATE itself: p50 ${revocation.updateP50.toFixed(2)} ms)`);
    return { checksPerSecond: mean(checks), mapGetsPerSecond: mean(gets), allowedShare, coldLoadsPerSecond, revocation, revocationWhere };
  } finally {
    await check.stop();
  }
}

function results(prefix: string, f: SideFigures): BenchResult[] {
  return [
    compared(`${prefix}.warm.rps`, 'checks/s', f.checksPerSecond, f.mapGetsPerSecond, 0),
    compared(`${prefix}.revoke.p50`, 'ms', f.revocation.p50, f.revocation.updateP50, 3),
    compared(`${prefix}.revoke.p95`, 'ms', f.revocation.p95, f.revocation.updateP95, 3),
  ];
}

export const grantCheck: Benchmark = {
  name: 'grant.check',
  description: DESCRIPTION,
  async run(s) {
    const { database, postgres, pglite } = await onBothDatabases(s, POOL_SIZE, (handle, label) => measure(handle, s, label));
    const side = (f: SideFigures) => ({
      checksPerSecond: Math.round(f.checksPerSecond),
      mapGetsPerSecond: Math.round(f.mapGetsPerSecond),
      allowedShare: Number(f.allowedShare.toFixed(3)),
      coldLoadPairsPerSecond: Math.round(f.coldLoadsPerSecond),
      revocationSeenBy: f.revocationWhere,
      revocationMs: Object.fromEntries(Object.entries(f.revocation).map(([k, v]) => [k, Number(v.toFixed(3))])),
    });
    return {
      results: [...results('grant.check.postgres', postgres), ...results('grant.check.pglite', pglite)],
      setup: {
        description: DESCRIPTION,
        database,
        keys: KEYS,
        systems: SYSTEMS,
        resources: RESOURCES,
        revocations: REVOCATIONS,
        targets: { checksPerSecond: 200_000, revocationMaxMs: 1_000 },
        baseline: 'warm: Map.get of the same answers by a precomputed string key; revocation: the revoking UPDATE (autocommit) alone',
        postgres: side(postgres),
        pglite: side(pglite),
      },
    };
  },
};
