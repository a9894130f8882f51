import { request } from 'node:https';
import pino from 'pino';
import { insertGrants, type GrantSpec } from '../../src/modules/grants/check-fixtures.js';
import { buildExchangeApp, useCredentials, type ExchangeApp } from '../../src/server/exchange-app.js';
import { makeCsr } from './pki.js';
import type { TestPlatform } from './platform.js';

/** A business system with a platform-issued certificate (CSR path) whose key the test holds. */
export interface SystemCredentials {
  readonly systemId: string;
  readonly key: string;
  readonly cert: string;
}

/** The exchange port of a test platform, listening on a free loopback port with its server certificate. */
export interface TestExchange {
  readonly app: ExchangeApp;
  readonly port: number;
  readonly caPem: string;
  /** POSTs JSON with the system's certificate; the status and parsed body. */
  post<T>(who: SystemCredentials, path: string, body: unknown): Promise<{ status: number; body: T }>;
  /** Any method, with or without a JSON body. */
  call<T>(who: SystemCredentials, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Any method with a raw body (a file) or none; the status, headers and body bytes. */
  send(who: SystemCredentials, method: 'GET' | 'POST', path: string, body?: Buffer | string, headers?: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>;
  close(): Promise<void>;
}

export async function startExchange(t: TestPlatform): Promise<TestExchange> {
  const caPem = await t.platform.pki.caCertificatePem();
  // As `serve` runs: grants, certificate holders and table shapes cached, emptied through LISTEN.
  await t.platform.startCaches();
  const app = await buildExchangeApp({ platform: t.platform, config: t.config, logger: pino({ level: 'silent' }) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  useCredentials(app, await t.platform.pki.serverCredentials(['localhost', '127.0.0.1']));
  const call = <T>(who: SystemCredentials, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    return new Promise<{ status: number; body: T }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, ca: caPem, servername: 'localhost', key: who.key, cert: who.cert, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as T }));
      });
      req.on('error', reject);
      req.end(payload);
    });
  };
  return {
    app,
    port,
    caPem,
    post: <T>(who: SystemCredentials, path: string, body: unknown) => call<T>(who, 'POST', path, body),
    call,
    send: (who, method, path, body, headers = {}) =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, method, ca: caPem, servername: 'localhost', key: who.key, cert: who.cert, headers: { ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }), ...headers } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
        req.end(body);
      }),
    close: async () => {
      await app.close();
      await t.platform.stopCaches();
    },
  };
}

/** Registers a business system of the agency and issues its certificate (apply with a CSR, approve). */
export async function systemWithCertificate(t: TestPlatform, agencyId: string, name: string): Promise<SystemCredentials> {
  const system = await t.platform.systems.register(t.cli, { agencyId, name, purpose: '交换测试', ownerContact: { name: '李四' } });
  const { csr, keyPem } = await makeCsr(`CN=${system.id}`);
  const applied = await t.platform.pki.applyForSystem(t.cli, { systemId: system.id, csr });
  const issued = await t.platform.pki.approve(t.cli, applied.id, null);
  return { systemId: system.id, key: keyPem, cert: issued.certificatePem! };
}

/** The parties of the resource a test grants: consumer and provider agencies and the published entry. */
export interface GrantParties {
  readonly consumerAgencyId: string;
  readonly providerAgencyId: string;
  readonly entryId: string;
  readonly resourceCode: string;
}

/** A grant in force for 30 days from the test clock (validity from a day before), with `over` on top; its id. */
export async function grantFor(t: TestPlatform, who: SystemCredentials, parties: GrantParties, method: GrantSpec['method'], over: Partial<GrantSpec> = {}): Promise<string> {
  const [id] = await insertGrants(t.platform.db, [
    {
      consumerAgencyId: parties.consumerAgencyId,
      systemId: who.systemId,
      entry: { id: parties.entryId, resourceCode: parties.resourceCode },
      providerAgencyId: parties.providerAgencyId,
      method,
      validFrom: new Date(t.clock.now().getTime() - 86_400_000),
      validUntil: new Date(t.clock.now().getTime() + 30 * 86_400_000).toISOString().slice(0, 10),
      ...over,
    },
  ]);
  return id!;
}
