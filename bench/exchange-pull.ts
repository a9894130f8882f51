import 'reflect-metadata';
import { request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { sql } from 'kysely';
import pino from 'pino';
import type { DatabaseHandle } from '../src/db/database.js';
import { qualified } from '../src/modules/exchange/columns.js';
// Also sets @peculiar/x509's crypto provider, as the platform does.
import '../src/modules/pki/certificate-authority.js';
import { loadConfig } from '../src/server/config.js';
import { buildExchangeApp, useCredentials } from '../src/server/exchange-app.js';
import { onBothDatabases } from './bench-database.js';
import { compared, type Benchmark, type BenchResult, type BenchSettings } from './benchmark.js';
import { benchPlatform, consumerSystem, ENTERPRISE_ITEMS, enterpriseResource, idCard, loadEnterpriseRows, uscc } from './exchange-fixture.js';
import { loadFigures, measurePair, type LoadMeasurement, type LoadTarget } from './load.js';

const POOL_SIZE = 10;
/** Rows in the shared table the lookups go to. */
const ROWS = 50_000;
const BATCH = 5_000;
const DESCRIPTION = `Authorised point lookups (acquisition, POST /exchange/v1/resources/{code}/query, eq on the key) over the exchange port — mutual TLS, grant check, masking, a sensitive item decrypted, every call audited — against a bare Fastify route doing the same SELECT by key over plain HTTP with no security; ${ROWS.toLocaleString('en')} rows; on PostgreSQL and on PGlite`;

const ITEMS = [...ENTERPRISE_ITEMS];

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
  const platform = await benchPlatform(handle, config, label, s);

  const resource = await enterpriseResource(platform, '企业登记信息（基准）');
  const { code } = resource;
  await loadEnterpriseRows(platform, code, ROWS, BATCH);
  const who = await consumerSystem(platform, handle, resource, '基准测试获取系统', { method: 'pull', items: ITEMS, masking: { 企业名称: 'partial', 法定代表人身份证号: 'partial' } });

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
  const tls = { key: who.key, cert: who.cert, ca: who.ca };
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
