import 'reflect-metadata';
import { Agent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import pino from 'pino';
import type { DatabaseHandle } from '../src/db/database.js';
import { idCardCheckCharacter } from '../src/lib/id-card.js';
import { usccCheckCharacter } from '../src/lib/uscc.js';
import { PERMISSIONS } from '../src/modules/accounts/permissions.js';
import { BOOKKEEPING, qualified } from '../src/modules/exchange/columns.js';
import { insertGrants } from '../src/modules/grants/check-fixtures.js';
// Also sets @peculiar/x509's crypto provider, as the platform does.
import '../src/modules/pki/certificate-authority.js';
import { cliContext } from '../src/server/actor.js';
import { loadConfig } from '../src/server/config.js';
import { buildExchangeApp, useCredentials } from '../src/server/exchange-app.js';
import { Platform } from '../src/server/platform.js';
import { onBothDatabases } from './bench-database.js';
import { compared, type Benchmark, type BenchResult, type BenchSettings } from './benchmark.js';
import { systemCsr } from './exchange-whoami.js';
import type { ConsumerReply, ConsumerRequest } from './push-consumer-worker.js';

const POOL_SIZE = 10;
/** Changed rows delivered per side; GOVSHARE_BENCH_PUSH_ROWS sizes it down for a quick run. */
const ROWS = Number(process.env.GOVSHARE_BENCH_PUSH_ROWS ?? 1_000_000);
/** Changes per fetched batch (the most a consumer may ask for). */
const BATCH_ROWS = 10_000;
const LOAD_BATCH = 10_000;
const DESCRIPTION = `Push: ${ROWS.toLocaleString('en')} changed rows of a shared table delivered to a consumer's subscription and acknowledged — fetched over the exchange port (mutual TLS, grant check per batch, granted items, masking, a sensitive item decrypted, a data.push audit event per batch), ${BATCH_ROWS.toLocaleString('en')} changes per batch, each fetch acknowledging the previous batch — against reading the same rows in sequence order with plain SELECTs on the same database handle (no TLS, no grant, no decryption, no audit); on PostgreSQL and on PGlite`;

function uscc(n: number): string {
  const first17 = `91430400${String(n).padStart(9, '0')}`;
  return first17 + usccCheckCharacter(first17)!;
}

function idCard(n: number): string {
  const first17 = `43040219900101${String(n % 1000).padStart(3, '0')}`;
  return first17 + idCardCheckCharacter(first17)!;
}

interface SideFigures {
  readonly rows: number;
  readonly pushSeconds: number;
  readonly bareSeconds: number;
  readonly batches: number;
  readonly loadSeconds: number;
  readonly auditEvents: number;
}

function post(agent: Agent, url: string, body: unknown): Promise<string> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'POST', agent, servername: 'localhost', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`POST ${url} answered ${res.statusCode}: ${text.slice(0, 300)}`));
        else resolve(text);
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function measureOn(handle: DatabaseHandle, label: string, s: BenchSettings): Promise<SideFigures> {
  s.log(`  ${label}: bootstrapping, publishing, loading ${ROWS.toLocaleString('en')} rows`);
  const config = loadConfig({ env: {}, overrides: { logLevel: 'silent' } });
  const platform = Platform.fromDatabase(handle, config);
  await platform.bootstrap();
  await platform.grantCheck.start();
  s.teardown.add(`stop the ${label} grant check`, () => platform.grantCheck.stop());

  const cli = cliContext('bench', new Set(PERMISSIONS));
  const provider = await platform.agencies.create(cli, { code: 'BENCHP001', nameZh: '基准测试提供单位', uscc: uscc(900_000_001), regionCode: '430400', level: 'prefecture' });
  const consumer = await platform.agencies.create(cli, { code: 'BENCHC001', nameZh: '基准测试使用单位', uscc: uscc(900_000_002), regionCode: '430400', level: 'prefecture' });
  const entry = await platform.catalog.create(cli, {
    agencyId: provider.id,
    content: {
      classification: { category: '3', group: '01', subgroup: '002' },
      nameZh: '企业登记信息（推送基准）',
      abstractZh: '基准测试用企业登记信息',
      format: { type: 'database', subtype: 'dm' },
      dataItems: [
        { nameZh: '统一社会信用代码', dataType: 'string', length: 18, format: 'uscc', key: true },
        { nameZh: '企业名称', dataType: 'string', length: 200 },
        { nameZh: '注册资本', dataType: 'decimal', precision: 18, scale: 2 },
        { nameZh: '成立日期', dataType: 'date' },
        { nameZh: '法定代表人身份证号', dataType: 'string', length: 18, format: 'idCard', sensitive: true },
      ],
      shareType: 'conditional',
      shareCondition: '基准测试',
      shareMethods: ['table'],
      openness: { open: false },
      updateCycle: 'daily',
    },
  });
  await platform.catalog.submit(cli, entry.id);
  const code = (await platform.catalog.publish(cli, entry.id, {})).resourceCode!;

  const system = await platform.systems.register(cli, { agencyId: consumer.id, name: '基准测试推送系统', purpose: '推送基准测试', ownerContact: { name: '基准' } });
  const { csr, keyPem } = await systemCsr(system.id);
  const applied = await platform.pki.applyForSystem(cli, { systemId: system.id, csr });
  const issued = await platform.pki.approve(cli, applied.id, 'benchmark');
  const now = Date.now();
  await insertGrants(handle.db, [
    {
      consumerAgencyId: consumer.id,
      systemId: system.id,
      entry: { id: entry.id, resourceCode: code },
      providerAgencyId: provider.id,
      method: 'push',
      validFrom: new Date(now - 86_400_000),
      validUntil: new Date(now + 30 * 86_400_000).toISOString().slice(0, 10),
      items: ['统一社会信用代码', '企业名称', '注册资本', '成立日期', '法定代表人身份证号'],
      masking: { 法定代表人身份证号: 'partial' },
    },
  ]);

  const exchange = await buildExchangeApp({ platform, config, logger: pino({ level: 'silent' }) });
  s.teardown.add(`close the ${label} exchange app`, () => exchange.close());
  await exchange.listen({ host: '127.0.0.1', port: 0 });
  useCredentials(exchange, await platform.pki.serverCredentials(['localhost', '127.0.0.1']));
  const caPem = await platform.pki.caCertificatePem();
  const agent = new Agent({ keepAlive: true, maxSockets: 1, key: keyPem, cert: issued.certificatePem!, ca: caPem });
  s.teardown.add(`close the ${label} client agent`, async () => agent.destroy());
  const base = `https://127.0.0.1:${(exchange.server.address() as AddressInfo).port}/exchange/v1/resources/${encodeURIComponent(code)}/subscription`;

  // The subscription starts (snapshot of an empty table) before the rows arrive: all of them are changes.
  const first = JSON.parse(await post(agent, `${base}/changes`, { limit: 1 })) as { generation: number; cursor: number; changes: unknown[] };
  if (first.changes.length !== 0) throw new Error(`${label}: the new subscription was not empty`);
  await post(agent, `${base}/ack`, { generation: first.generation, cursor: first.cursor });

  const loadStarted = performance.now();
  for (let from = 0; from < ROWS; from += LOAD_BATCH) {
    const changes = Array.from({ length: Math.min(LOAD_BATCH, ROWS - from) }, (_, i) => {
      const n = from + i;
      return { row: i + 1, operation: 'upsert' as const, values: { 统一社会信用代码: uscc(n), 企业名称: `基准企业${n}`, 注册资本: `${n % 10_000}.50`, 成立日期: '2020-01-02', 法定代表人身份证号: idCard(n) } };
    });
    const o = await platform.exchange.applyBatch(cli, code, { idempotencyKey: `bench-${from}`, changes });
    if (o.status !== 'applied') throw new Error(`${label}: loading failed: ${JSON.stringify(o.problems.slice(0, 3))}`);
    if (from % 100_000 === 0) s.log(`  ${label}: ${from.toLocaleString('en')} rows loaded`);
  }
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
    const worker = new Worker(new URL('./push-consumer-worker.js', import.meta.url), { workerData: { base, tls: { key: keyPem, cert: issued.certificatePem!, ca: caPem }, batchRows: BATCH_ROWS } satisfies ConsumerRequest });
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
