import 'reflect-metadata';
import { webcrypto, X509Certificate } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as x509 from '@peculiar/x509';
import { sql } from 'kysely';
import pino from 'pino';
import { openDatabase, type DatabaseTarget } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { PERMISSIONS } from '../src/modules/accounts/permissions.js';
// Also sets @peculiar/x509's crypto provider, as the platform does.
import '../src/modules/pki/certificate-authority.js';
import { cliContext } from '../src/server/actor.js';
import { loadConfig } from '../src/server/config.js';
import { buildExchangeApp, useCredentials, type ExchangeApp } from '../src/server/exchange-app.js';
import { Platform } from '../src/server/platform.js';
import { benchUscc } from './agency-get.js';
import { createBenchDatabase } from './bench-database.js';
import { compared, type Benchmark, type BenchResult, type BenchSettings } from './benchmark.js';
import { measureHandshakes, type HandshakeMeasurement } from './handshakes.js';
import { loadFigures, measurePair, type ClientTls, type LoadMeasurement, type LoadTarget } from './load.js';

const POOL_SIZE = 10;
const ROUTE = '/exchange/v1/whoami';
/**
 * Requests on a new connection per side (the secondary, handshake figure): a few hundred, 50 for
 * every second of keep-alive load — 300 in the quick profile, 1,000 in the full one.
 */
function handshakeCount(s: BenchSettings): number {
  return Math.max(300, 50 * s.rounds * s.roundSeconds);
}
/** The route echoes the request id: a fixed one makes every response the same body. */
const REQUEST_ID = 'bench-whoami-0001';
/** The name clients check the exchange listener's certificate against; it is issued for both names. */
const SERVER_NAME = 'localhost';
const SERVER_NAMES = [SERVER_NAME, '127.0.0.1'];

const DESCRIPTION = `GET ${ROUTE} over the exchange port (mutual TLS, keep-alive) against the same app over plain HTTP, given the same certificate identity; and per new connection (TLS handshake) — on PostgreSQL and on PGlite`;

/** The certificate a TLS socket reports for its peer: the fields the exchange app reads. */
interface PeerFields {
  readonly serialNumber: string;
  readonly fingerprint256: string;
}

/** An ECDSA P-256 key and a PKCS#10 request with CN = the business system's id (the CSR path of 000 §26). */
export async function systemCsr(systemId: string): Promise<{ csr: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${systemId}`,
    keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const b64 = pkcs8.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return { csr: csr.toString('pem'), keyPem: `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n` };
}

/**
 * The baseline: the exchange app itself — same hooks, certificate-holder lookup
 * (`PkiService.identify`), schema, error handling — served over plain HTTP. Each connection
 * reports, as a TLS socket would, the serial number and fingerprint of the certificate the TLS
 * side presents, so both sides identify the same holder with the same queries and only TLS
 * differs: the handshake, record encryption and reading the peer certificate per request.
 */
async function plainHttpTwin(exchange: ExchangeApp, peer: PeerFields): Promise<Server> {
  // The exchange app's request handler, as its serverFactory gave it to the HTTPS server.
  const [handler] = exchange.server.listeners('request') as RequestListener[];
  if (!handler) throw new Error('the exchange app has no request handler');
  const server = createServer(handler);
  server.on('connection', (socket) => {
    Object.assign(socket, { getPeerCertificate: (): PeerFields => peer });
  });
  // The same connection limits as the exchange listener (Fastify's, not Node's defaults).
  server.keepAliveTimeout = exchange.server.keepAliveTimeout;
  server.headersTimeout = exchange.server.headersTimeout;
  server.requestTimeout = exchange.server.requestTimeout;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

function portOf(server: { address(): AddressInfo | string | null }): number {
  return (server.address() as AddressInfo).port;
}

/**
 * One GET on a new connection: its body when the status is 200. For https, `client` is the
 * client certificate and key, or null to connect without one.
 */
function probe(url: string, tls: { readonly ca: string; readonly servername: string; readonly client: { key: string; cert: string } | null } | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`GET ${url} answered ${res.statusCode}: ${body.slice(0, 200)}`));
        else resolve(body);
      });
    };
    const options = { agent: false, headers: { 'x-request-id': REQUEST_ID } } as const;
    const req = tls ? httpsRequest(url, { ...options, ca: tls.ca, servername: tls.servername, ...(tls.client ?? {}) }, onResponse) : httpRequest(url, options, onResponse);
    req.on('error', reject);
    req.end();
  });
}

interface SideFigures {
  readonly keepAlive: { readonly baseline: LoadMeasurement; readonly target: LoadMeasurement };
  readonly handshakes: { readonly baseline: HandshakeMeasurement; readonly target: HandshakeMeasurement };
  readonly responseBytes: number;
}

async function measureOn(label: string, target: DatabaseTarget, s: BenchSettings): Promise<SideFigures> {
  s.log(`  ${label}: migrating, bootstrapping, issuing a client certificate`);
  const config = loadConfig({ env: {}, overrides: { logLevel: 'silent' } });
  const handle = await openDatabase(target);
  const platform = Platform.fromDatabase(handle, config);
  s.teardown.add(`close the ${label} platform`, () => platform.close());
  await migrate(handle.db);
  await platform.bootstrap();

  // A registered business system with a certificate issued the real way: apply with a CSR, approve.
  const cli = cliContext('bench', new Set(PERMISSIONS));
  const agency = await platform.agencies.create(cli, { code: 'BENCH0001', nameZh: '基准测试单位', uscc: benchUscc(), regionCode: '430400', level: 'prefecture' });
  const system = await platform.systems.register(cli, { agencyId: agency.id, name: '基准测试交换系统', purpose: 'mTLS 开销基准测试', ownerContact: { name: '基准' } });
  const { csr, keyPem } = await systemCsr(system.id);
  const applied = await platform.pki.applyForSystem(cli, { systemId: system.id, csr });
  const issued = await platform.pki.approve(cli, applied.id, 'benchmark');
  if (!issued.certificatePem) throw new Error(`${label}: the approved certificate has no PEM`);

  const exchange = await buildExchangeApp({ platform, config, logger: pino({ level: 'silent' }) });
  s.teardown.add(`close the ${label} exchange app`, () => exchange.close());
  await exchange.listen({ host: '127.0.0.1', port: 0 });
  useCredentials(exchange, await platform.pki.serverCredentials(SERVER_NAMES));

  // What TLS reports for this certificate: node:crypto formats both fields as getPeerCertificate does.
  const certificate = new X509Certificate(issued.certificatePem);
  const plain = await plainHttpTwin(exchange, { serialNumber: certificate.serialNumber, fingerprint256: certificate.fingerprint256 });
  s.teardown.add(`close the ${label} plain HTTP server`, () => closeServer(plain));

  const tls: ClientTls = { key: keyPem, cert: issued.certificatePem, ca: await platform.pki.caCertificatePem(), servername: SERVER_NAME };
  const mtlsUrl = `https://127.0.0.1:${portOf(exchange.server)}${ROUTE}`;
  const plainUrl = `http://127.0.0.1:${portOf(plain)}${ROUTE}`;
  // The TLS side must really require the certificate, and both sides must name the same holder.
  const refused = await probe(mtlsUrl, { ca: tls.ca, servername: tls.servername, client: null }).then(
    () => false,
    () => true,
  );
  if (!refused) throw new Error(`${label}: the exchange port answered a client without a certificate`);
  const body = await probe(mtlsUrl, { ca: tls.ca, servername: tls.servername, client: { key: tls.key, cert: tls.cert } });
  const plainBody = await probe(plainUrl, null);
  if (plainBody !== body) throw new Error(`${label}: the plain HTTP twin answered ${plainBody}, the exchange port ${body}`);
  const who = JSON.parse(body) as { subjectId?: unknown; certificateId?: unknown };
  if (who.subjectId !== system.id || who.certificateId !== issued.id) throw new Error(`${label}: whoami did not name the system's certificate: ${body}`);

  // Bootstrap just loaded the regions: analyse now, so autovacuum does not start mid-measurement.
  await sql`vacuum analyze`.execute(handle.db);

  const headers = { 'x-request-id': REQUEST_ID };
  const baseline: LoadTarget = { label: `${label} plain HTTP`, url: plainUrl, headers, expectBody: body };
  const measured: LoadTarget = { label: `${label} mTLS`, url: mtlsUrl, headers, tls, expectBody: body };
  const keepAlive = await measurePair(baseline, measured, s);
  const handshakes = await measureHandshakes(baseline, measured, { count: handshakeCount(s), log: s.log });
  return { keepAlive, handshakes, responseBytes: Buffer.byteLength(body) };
}

function results(prefix: string, f: SideFigures): BenchResult[] {
  const { baseline: b, target: t } = f.keepAlive;
  const { baseline: hb, target: ht } = f.handshakes;
  return [
    compared(`${prefix}.rps`, 'req/s', t.requestsPerSecond, b.requestsPerSecond, 1),
    compared(`${prefix}.p50`, 'ms', t.p50Ms, b.p50Ms, 2),
    compared(`${prefix}.p99`, 'ms', t.p99Ms, b.p99Ms, 2),
    compared(`${prefix}.new-connection.p50`, 'ms', ht.p50Ms, hb.p50Ms, 2),
    compared(`${prefix}.new-connection.rps`, 'req/s', ht.requestsPerSecond, hb.requestsPerSecond, 1),
  ];
}

function setupOf(f: SideFigures): Record<string, unknown> {
  const round = (n: number): number => Number(n.toFixed(2));
  const fresh = (m: HandshakeMeasurement) => ({ requestsPerSecond: round(m.requestsPerSecond), p50Ms: round(m.p50Ms), p99Ms: round(m.p99Ms), meanMs: round(m.meanMs), requests: m.requests });
  return {
    keepAlive: { mtls: loadFigures(f.keepAlive.target), plainHttp: loadFigures(f.keepAlive.baseline) },
    newConnectionPerRequest: {
      mtls: fresh(f.handshakes.target),
      plainHttp: fresh(f.handshakes.baseline),
      // What a new mutual-TLS connection adds to a request over a new plain TCP connection.
      handshakeCostP50Ms: round(f.handshakes.target.p50Ms - f.handshakes.baseline.p50Ms),
    },
    responseBytes: f.responseBytes,
  };
}

export const exchangeWhoami: Benchmark = {
  name: 'exchange.whoami',
  description: DESCRIPTION,
  async run(s) {
    const database = await createBenchDatabase(s.serverUrl);
    s.teardown.add(`drop database ${database.name}`, () => database.drop());
    const onPostgres = await measureOn('postgres', { kind: 'postgres', url: database.url, poolSize: POOL_SIZE }, s);
    const onPGlite = await measureOn('pglite', { kind: 'pglite', dir: undefined }, s);
    return {
      results: [...results('exchange.whoami.postgres', onPostgres), ...results('exchange.whoami.pglite', onPGlite)],
      setup: {
        description: DESCRIPTION,
        database: database.name,
        poolSize: POOL_SIZE,
        route: `GET ${ROUTE}`,
        certificate: 'ECDSA P-256 client key (CSR), issued by the platform CA through apply → approve; server certificate ECDSA P-256 from the same CA',
        keepAliveLoad: 'autocannon with the client certificate (tlsOptions); it does not check the server certificate, the server checks the client one',
        newConnectionLoad: `${handshakeCount(s)} requests per side, one at a time, each on a new connection (node:http / node:https without keep-alive; TLS: a full handshake each time, the client's key and certificate parsed once, the server certificate checked) in a worker thread`,
        postgres: setupOf(onPostgres),
        pglite: setupOf(onPGlite),
      },
    };
  },
};
