import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import pino from 'pino';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { usccCheckCharacter } from '../src/lib/uscc.js';
import { PERMISSIONS } from '../src/modules/accounts/permissions.js';
import { cliContext } from '../src/server/actor.js';
import { API_PREFIX, buildApp } from '../src/server/app.js';
import { loadConfig } from '../src/server/config.js';
import { Platform } from '../src/server/platform.js';
import { createBenchDatabase } from './bench-database.js';
import { compared, type Benchmark } from './benchmark.js';
import { measurePair, type LoadTarget } from './load.js';

/** Connections per pool, the same on both sides (and openDatabase's default for a server). */
const POOL_SIZE = 10;

function baseUrl(app: FastifyInstance): string {
  const address = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

/** A valid USCC of a 机关 (category 11) in Hengyang (430400). */
export function benchUscc(): string {
  const first17 = '11430400BENCH0001';
  const check = usccCheckCharacter(first17);
  if (check === undefined) throw new Error(`cannot build a USCC from ${first17}`);
  return first17 + check;
}

/**
 * The bare server: the same read (one SELECT of the row by id, through a pg pool of the same
 * size) without anything govshare adds: no authentication, hooks, schemas or error mapping.
 */
async function startBareServer(pool: pg.Pool): Promise<FastifyInstance> {
  const bare = Fastify({ logger: false });
  bare.get<{ Params: { id: string } }>('/agencies/:id', async (req, reply) => {
    const r = await pool.query<Record<string, unknown>>('select * from agencies where id = $1', [req.params.id]);
    const row = r.rows[0];
    return row ? row : reply.status(404).send({ error: 'not found' });
  });
  await bare.listen({ host: '127.0.0.1', port: 0 });
  return bare;
}

/** One GET, checked; its body is what every response of the load must return. */
async function probe(label: string, url: string, headers: Record<string, string>, expectStatus: number, agencyId: string): Promise<string> {
  const res = await fetch(url, { headers });
  const body = await res.text();
  if (res.status !== expectStatus) throw new Error(`${label}: GET ${url} answered ${res.status}, expected ${expectStatus}: ${body.slice(0, 200)}`);
  if (expectStatus === 200 && (JSON.parse(body) as { id?: unknown }).id !== agencyId) {
    throw new Error(`${label}: GET ${url} did not return agency ${agencyId}: ${body.slice(0, 200)}`);
  }
  return body;
}

const DESCRIPTION = `GET ${API_PREFIX}/agencies/:id with an API token (viewer role) against a bare Fastify route doing the same SELECT`;

export const agencyGet: Benchmark = {
  name: 'agency.get',
  description: DESCRIPTION,
  async run(s) {
    const database = await createBenchDatabase(s.serverUrl);
    s.teardown.add(`drop database ${database.name}`, () => database.drop());
    s.log(`  database ${database.name}: migrating, bootstrapping`);

    const config = loadConfig({ env: {}, overrides: { logLevel: 'silent', databaseUrl: database.url } });
    const handle = await openDatabase({ kind: 'postgres', url: database.url, poolSize: POOL_SIZE });
    const platform = Platform.fromDatabase(handle, config);
    s.teardown.add('close the platform', () => platform.close());
    await migrate(handle.db);
    await platform.bootstrap();

    const cli = cliContext('bench', new Set(PERMISSIONS));
    const agency = await platform.agencies.create(cli, { code: 'BENCH0001', nameZh: '基准测试单位', uscc: benchUscc(), regionCode: '430400', level: 'prefecture' });
    const { user } = await platform.accounts.create(cli, { username: 'bench.viewer', displayName: '基准测试查看员', roles: ['viewer'], agencyId: agency.id });
    const { token } = await platform.accounts.createToken(cli, { userId: user.id, name: 'bench', expiresAt: new Date(Date.now() + 86_400_000) });

    const app = await buildApp({ platform, config, logger: pino({ level: 'silent' }) });
    s.teardown.add('close the govshare app', () => app.close());
    await app.listen({ host: '127.0.0.1', port: 0 });

    const pool = new pg.Pool({ connectionString: database.url, max: POOL_SIZE, application_name: 'govshare-bench-bare' });
    pool.on('error', () => undefined);
    s.teardown.add('close the bare pool', () => pool.end());
    const bare = await startBareServer(pool);
    s.teardown.add('close the bare server', () => bare.close());

    // Bootstrap just loaded the regions: analyse now, so autovacuum does not start in the
    // middle of a measurement (it competes for the same CPUs).
    await pool.query('vacuum analyze');

    const govshareUrl = `${baseUrl(app)}${API_PREFIX}/agencies/${agency.id}`;
    const bareUrl = `${baseUrl(bare)}/agencies/${agency.id}`;
    const auth = { authorization: `Bearer ${token}` };
    // The authenticated side must really authenticate: without the token it is refused.
    await probe('govshare without a token', govshareUrl, {}, 401, agency.id);
    const govshare: LoadTarget = { label: 'govshare', url: govshareUrl, headers: auth, expectBody: await probe('govshare', govshareUrl, auth, 200, agency.id) };
    const baseline: LoadTarget = { label: 'bare', url: bareUrl, expectBody: await probe('bare', bareUrl, {}, 200, agency.id) };

    const { baseline: b, target: g } = await measurePair(baseline, govshare, s);

    return {
      results: [
        compared('agency.get.authenticated.rps', 'req/s', g.requestsPerSecond, b.requestsPerSecond, 1),
        // For a latency lower is better: a ratio of 2 means twice the bare route's p99.
        compared('agency.get.authenticated.p99', 'ms', g.p99Ms, b.p99Ms, 2),
      ],
      setup: {
        description: DESCRIPTION,
        database: database.name,
        poolSize: POOL_SIZE,
        role: 'viewer',
        govshare: { route: `GET ${API_PREFIX}/agencies/:id`, responses: g.responses, seconds: g.seconds, p50Ms: Number(g.p50Ms.toFixed(2)), responseBytes: Buffer.byteLength(govshare.expectBody) },
        bare: { route: 'GET /agencies/:id', responses: b.responses, seconds: b.seconds, p50Ms: Number(b.p50Ms.toFixed(2)), responseBytes: Buffer.byteLength(baseline.expectBody) },
      },
    };
  },
};
