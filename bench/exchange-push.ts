import 'reflect-metadata';
import { Agent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import pino from 'pino';
import type { DatabaseHandle } from '../src/db/database.js';
import { BOOKKEEPING, qualified } from '../src/modules/exchange/columns.js';
// Also sets @peculiar/x509's crypto provider, as the platform does.
import '../src/modules/pki/certificate-authority.js';
import { loadConfig } from '../src/server/config.js';
import { buildExchangeApp, useCredentials } from '../src/server/exchange-app.js';
import { onBothDatabases } from './bench-database.js';
import { compared, type Benchmark, type BenchResult, type BenchSettings } from './benchmark.js';
import { benchPlatform, consumerSystem, enterpriseResource, loadEnterpriseRows } from './exchange-fixture.js';
import { postJson } from './push-consumer-worker.js';
import type { ConsumerReply, ConsumerRequest } from './push-consumer-worker.js';

const POOL_SIZE = 10;
/** Changed rows delivered per side; GOVSHARE_BENCH_PUSH_ROWS sizes it down for a quick run. */
const ROWS = Number(process.env.GOVSHARE_BENCH_PUSH_ROWS ?? 1_000_000);
/** Changes per fetched batch (the most a consumer may ask for). */
const BATCH_ROWS = 10_000;
const LOAD_BATCH = 10_000;
const DESCRIPTION = `Push: ${ROWS.toLocaleString('en')} changed rows of a shared table delivered to a consumer's subscription and acknowledged — fetched over the exchange port (mutual TLS, grant check per batch, granted items, masking, a sensitive item decrypted, a data.push audit event per batch), ${BATCH_ROWS.toLocaleString('en')} changes per batch, each fetch acknowledging the previous batch — against reading the same rows in sequence order with plain SELECTs on the same database handle (no TLS, no grant, no decryption, no audit); on PostgreSQL and on PGlite`;

interface SideFigures {
  readonly rows: number;
  readonly pushSeconds: number;
  readonly bareSeconds: number;
  readonly batches: number;
  readonly loadSeconds: number;
  readonly auditEvents: number;
}

async function measureOn(handle: DatabaseHandle, label: string, s: BenchSettings): Promise<SideFigures> {
  s.log(`  ${label}: bootstrapping, publishing, loading ${ROWS.toLocaleString('en')} rows`);
  const config = loadConfig({ env: {}, overrides: { logLevel: 'silent' } });
  const platform = await benchPlatform(handle, config, label, s);

  const resource = await enterpriseResource(platform, '企业登记信息（推送基准）');
  const { code } = resource;
  const who = await consumerSystem(platform, handle, resource, '基准测试推送系统', { method: 'push', masking: { 法定代表人身份证号: 'partial' } });
  const tls = { key: who.key, cert: who.cert, ca: who.ca };

  const exchange = await buildExchangeApp({ platform, config, logger: pino({ level: 'silent' }) });
  s.teardown.add(`close the ${label} exchange app`, () => exchange.close());
  await exchange.listen({ host: '127.0.0.1', port: 0 });
  useCredentials(exchange, await platform.pki.serverCredentials(['localhost', '127.0.0.1']));
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ...tls });
  s.teardown.add(`close the ${label} client agent`, async () => agent.destroy());
  const base = `https://127.0.0.1:${(exchange.server.address() as AddressInfo).port}/exchange/v1/resources/${encodeURIComponent(code)}/subscription`;

  // The subscription starts (snapshot of an empty table) before the rows arrive: all of them are changes.
  const first = JSON.parse(await postJson(agent, `${base}/changes`, { limit: 1 })) as { generation: number; cursor: number; changes: unknown[] };
  if (first.changes.length !== 0) throw new Error(`${label}: the new subscription was not empty`);
  await postJson(agent, `${base}/ack`, { generation: first.generation, cursor: first.cursor });

  const loadStarted = performance.now();
  await loadEnterpriseRows(platform, code, ROWS, LOAD_BATCH, (n) => s.log(`  ${label}: ${n.toLocaleString('en')} rows loaded`));
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  await sql`vacuum analyze`.execute(handle.db);
  const table = await platform.exchange.tableOf(code);

  // Baseline: the same rows read in sequence order, page by page, plain.
  s.log(`  ${label}: reading the rows plainly (baseline)`);
  const columns = table.columns.flatMap((c) => (c.indexColumn ? [c.column, c.indexColumn] : [c.column]));
  const bareStarted = performance.now();
  let bareRows = 0;
  for (let after = first.cursor; ; ) {
    const r = await sql<Record<string, unknown>>`select ${sql.join([...columns, BOOKKEEPING.deleted].map((c) => sql.ref(c)))}, ${sql.ref(BOOKKEEPING.seq)} as seq from ${sql.raw(qualified(table.tableName))} where ${sql.ref(BOOKKEEPING.seq)} > ${after} order by ${sql.ref(BOOKKEEPING.seq)} limit ${BATCH_ROWS}`.execute(handle.db);
    if (r.rows.length === 0) break;
    bareRows += r.rows.length;
    after = Number(r.rows[r.rows.length - 1]!['seq']);
  }
  const bareSeconds = (performance.now() - bareStarted) / 1000;
  if (bareRows !== ROWS) throw new Error(`${label}: the baseline read ${bareRows} rows, not ${ROWS}`);

  s.log(`  ${label}: delivering ${ROWS.toLocaleString('en')} changes over the subscription`);
  const auditBefore = Number((await sql<{ n: number }>`select count(*)::int as n from audit_events where action = 'data.push'`.execute(handle.db)).rows[0]!.n);
  const reply = await new Promise<ConsumerReply>((resolve, reject) => {
    const worker = new Worker(new URL('./push-consumer-worker.js', import.meta.url), { workerData: { base, tls, batchRows: BATCH_ROWS } satisfies ConsumerRequest });
    worker.once('message', (m: ConsumerReply) => resolve(m));
    worker.once('error', reject);
  });
  if (!reply.ok) throw new Error(`${label}: the consumer failed: ${reply.error}`);
  const { delivered, batches, seconds: pushSeconds } = reply;
  if (delivered !== ROWS) throw new Error(`${label}: ${delivered} changes delivered, not ${ROWS}`);
  const auditAfter = Number((await sql<{ n: number }>`select count(*)::int as n from audit_events where action = 'data.push'`.execute(handle.db)).rows[0]!.n);
  return { rows: ROWS, pushSeconds, bareSeconds, batches, loadSeconds, auditEvents: auditAfter - auditBefore };
}

function results(prefix: string, f: SideFigures): BenchResult[] {
  return [compared(`${prefix}.rows_per_s`, 'rows/s', f.rows / f.pushSeconds, f.rows / f.bareSeconds, 0)];
}

function setupOf(f: SideFigures): Record<string, unknown> {
  return { rows: f.rows, batches: f.batches, pushSeconds: Number(f.pushSeconds.toFixed(2)), plainReadSeconds: Number(f.bareSeconds.toFixed(2)), loadSeconds: Number(f.loadSeconds.toFixed(1)), auditEventsWritten: f.auditEvents };
}

export const exchangePush: Benchmark = {
  name: 'exchange.push',
  description: DESCRIPTION,
  async run(s) {
    const { database, postgres: onPostgres, pglite: onPGlite } = await onBothDatabases(s, POOL_SIZE, (handle, label) => measureOn(handle, label, s));
    return {
      results: [...results('exchange.push.postgres', onPostgres), ...results('exchange.push.pglite', onPGlite)],
      setup: {
        description: DESCRIPTION,
        database,
        poolSize: POOL_SIZE,
        batchRows: BATCH_ROWS,
        consumer: 'one client in its own thread, one keep-alive mutual-TLS connection, each fetch acknowledging the previous batch; every answer parsed as JSON',
        postgres: setupOf(onPostgres),
        pglite: setupOf(onPGlite),
      },
    };
  },
};
