import 'reflect-metadata';
import { request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { sql } from 'kysely';
import pino from 'pino';
import type { DatabaseHandle } from '../src/db/database.js';
import { idCardCheckCharacter } from '../src/lib/id-card.js';
import { usccCheckCharacter } from '../src/lib/uscc.js';
import { PERMISSIONS } from '../src/modules/accounts/permissions.js';
import { qualified } from '../src/modules/exchange/columns.js';
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
import { loadFigures, measurePair, type LoadMeasurement, type LoadTarget } from './load.js';

const POOL_SIZE = 10;
/** Rows in the shared table the lookups go to. */
const ROWS = 50_000;
const BATCH = 5_000;
const DESCRIPTION = `Authorised point lookups (acquisition, POST /exchange/v1/resources/{code}/query, eq on the key) over the exchange port — mutual TLS, grant check, masking, a sensitive item decrypted, every call audited — against a bare Fastify route doing the same SELECT by key over plain HTTP with no security; ${ROWS.toLocaleString('en')} rows; on PostgreSQL and on PGlite`;

const ITEMS = ['统一社会信用代码', '企业名称', '注册资本', '成立日期', '法定代表人身份证号'];

function uscc(n: number): string {
  const first17 = `91430400${String(n).padStart(9, '0')}`;
  return first17 + usccCheckCharacter(first17)!;
}

function idCard(n: number): string {
  const first17 = `43040219900101${String(n % 1000).padStart(3, '0')}`;
  return first17 + idCardCheckCharacter(first17)!;
}

function portOf(server: { address(): AddressInfo | string | null }): number {
  return (server.address() as AddressInfo).port;
}

function fetchBody(url: string, body: string, tls: { key: string; cert: string; ca: string } | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const options = { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } } as const;
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`POST ${url} answered ${res.statusCode}: ${text.slice(0, 300)}`));
        else resolve(text);
      });
    };
    const req = tls ? httpsRequest(url, { ...options, ...tls, servername: 'localhost' }, onResponse) : httpRequest(url, options, onResponse);
    req.on('error', reject);
    req.end(body);
  });
}

interface SideFigures {
  readonly pair: { readonly baseline: LoadMeasurement; readonly target: LoadMeasurement };
  readonly auditEvents: number;
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
      nameZh: '企业登记信息（基准）',
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
  for (let first = 0; first < ROWS; first += BATCH) {
    const changes = Array.from({ length: Math.min(BATCH, ROWS - first) }, (_, i) => {
      const n = first + i;
      return { row: i + 1, operation: 'upsert' as const, values: { 统一社会信用代码: uscc(n), 企业名称: `基准企业${n}`, 注册资本: `${n % 10_000}.50`, 成立日期: '2020-01-02', 法定代表人身份证号: idCard(n) } };
    });
    await platform.exchange.applyBatch(cli, code, { idempotencyKey: `bench-${first}`, changes });
  }

  const system = await platform.systems.register(cli, { agencyId: consumer.id, name: '基准测试获取系统', purpose: '获取基准测试', ownerContact: { name: '基准' } });
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
      method: 'pull',
      validFrom: new Date(now - 86_400_000),
      validUntil: new Date(now + 30 * 86_400_000).toISOString().slice(0, 10),
      items: ITEMS,
      masking: { 企业名称: 'partial', 法定代表人身份证号: 'partial' },
    },
  ]);

  const exchange = await buildExchangeApp({ platform, config, logger: pino({ level: 'silent' }) });
  s.teardown.add(`close the ${label} exchange app`, () => exchange.close());
  await exchange.listen({ host: '127.0.0.1', port: 0 });
  useCredentials(exchange, await platform.pki.serverCredentials(['localhost', '127.0.0.1']));

  // The bare route: the same SELECT by key through the same database handle, no TLS, no grant,
  // no masking, no decryption, no audit.
  const table = await platform.exchange.tableOf(code);
  const bare = Fastify({ logger: false });
  const keyColumn = table.columns.find((c) => c.key)!.column;
  const columns = table.columns.map((c) => c.column);
  bare.post<{ Body: { key: string } }>('/lookup', async (req) => {
    const r = await sql<Record<string, unknown>>`select ${sql.join(columns.map((c) => sql.ref(c)))} from ${sql.raw(qualified(table.tableName))} where ${sql.ref(keyColumn)} = ${req.body.key} and not gs_deleted`.execute(handle.db);
    return { rows: r.rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v instanceof Date ? v.toISOString() : v]))) };
  });
  await bare.listen({ host: '127.0.0.1', port: 0 });
  s.teardown.add(`close the ${label} bare route`, () => bare.close());
  const bareServer: Server = bare.server;

  const n = 12_345;
  const pullBody = JSON.stringify({ filters: [{ item: '统一社会信用代码', op: 'eq', value: uscc(n) }], limit: 1 });
  const bareBody = JSON.stringify({ key: uscc(n) });
  const tls = { key: keyPem, cert: issued.certificatePem!, ca: await platform.pki.caCertificatePem() };
  const mtlsUrl = `https://127.0.0.1:${portOf(exchange.server)}/exchange/v1/resources/${encodeURIComponent(code)}/query`;
  const bareUrl = `http://127.0.0.1:${portOf(bareServer)}/lookup`;
  const pulled = await fetchBody(mtlsUrl, pullBody, tls);
  const page = JSON.parse(pulled) as { rows: Record<string, unknown>[] };
  if (page.rows.length !== 1 || page.rows[0]!['法定代表人身份证号'] !== `430***********${idCard(n).slice(-4)}`) throw new Error(`${label}: the pull did not answer the masked row: ${pulled}`);
  const bareAnswer = await fetchBody(bareUrl, bareBody, null);
  if ((JSON.parse(bareAnswer) as { rows: unknown[] }).rows.length !== 1) throw new Error(`${label}: the bare route did not find the row: ${bareAnswer}`);

  await sql`vacuum analyze`.execute(handle.db);
  const auditBefore = Number((await sql<{ n: number }>`select count(*)::int as n from audit_events where action = 'data.pull'`.execute(handle.db)).rows[0]!.n);
  const headers = { 'content-type': 'application/json' };
  const baseline: LoadTarget = { label: `${label} bare route`, url: bareUrl, method: 'POST', body: bareBody, headers, expectBody: bareAnswer };
  const measured: LoadTarget = { label: `${label} pull over mTLS`, url: mtlsUrl, method: 'POST', body: pullBody, headers, tls: { ...tls, servername: 'localhost' }, expectBody: pulled };
  const pair = await measurePair(baseline, measured, s);
  const auditAfter = Number((await sql<{ n: number }>`select count(*)::int as n from audit_events where action = 'data.pull'`.execute(handle.db)).rows[0]!.n);
  return { pair, auditEvents: auditAfter - auditBefore };
}

function results(prefix: string, f: SideFigures): BenchResult[] {
  const { baseline: b, target: t } = f.pair;
  return [compared(`${prefix}.rps`, 'req/s', t.requestsPerSecond, b.requestsPerSecond, 1), compared(`${prefix}.p50`, 'ms', t.p50Ms, b.p50Ms, 2), compared(`${prefix}.p99`, 'ms', t.p99Ms, b.p99Ms, 2)];
}

function setupOf(f: SideFigures): Record<string, unknown> {
  return { pull: loadFigures(f.pair.target), bareRoute: loadFigures(f.pair.baseline), auditEventsWritten: f.auditEvents };
}

export const exchangePull: Benchmark = {
  name: 'exchange.pull',
  description: DESCRIPTION,
  async run(s) {
    const { database, postgres: onPostgres, pglite: onPGlite } = await onBothDatabases(s, POOL_SIZE, (handle, label) => measureOn(handle, label, s));
    return {
      results: [...results('exchange.pull.postgres', onPostgres), ...results('exchange.pull.pglite', onPGlite)],
      setup: {
        description: DESCRIPTION,
        database,
        poolSize: POOL_SIZE,
        rows: ROWS,
        lookup: 'eq on the key item (统一社会信用代码), the same key every request; the grant masks 企业名称 and 法定代表人身份证号 (partial), the latter stored encrypted and decrypted per answer',
        load: 'autocannon, keep-alive connections; mTLS side with the client certificate issued through apply → approve',
        postgres: setupOf(onPostgres),
        pglite: setupOf(onPGlite),
      },
    };
  },
};
