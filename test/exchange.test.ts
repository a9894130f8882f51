/**
 * The exchange port with real TLS: a real HTTPS server on a local port, real certificates issued by
 * the platform CA, real clients (node:https, and curl when it is installed).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request, type RequestOptions } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabaseUrl } from '../src/db/test-database.js';
import { permissionsOf } from '../src/modules/accounts/permissions.js';
import { CertificateAuthority, generateEcKey } from '../src/modules/pki/certificate-authority.js';
import type { RequestContext } from '../src/server/actor.js';
import { loadConfig } from '../src/server/config.js';
import { buildExchangeApp, useCredentials, type ExchangeApp } from '../src/server/exchange-app.js';
import { startServer } from '../src/server/start.js';
import { agencyInput, createTestPlatform, type TestPlatform } from './helpers/platform.js';
import { makeCsr, toPem } from './helpers/pki.js';

let t: TestPlatform;
let exchange: ExchangeApp;
let port: number;
let caPem: string;
let agencyId: string;
const DAY = 86_400_000;

interface ClientCredentials {
  readonly key: string;
  readonly cert: string;
  readonly certificateId: string;
}

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly protocol: string | null;
}

/**
 * `get` until it answers other than `unlike` (or 2 s have passed): a change reaches the cached
 * certificate holders through its notification, a few milliseconds after its commit.
 */
async function getOnceChanged(options: RequestOptions, unlike: number, changed: (r: Reply) => boolean = (r) => r.status !== unlike): Promise<Reply> {
  const until = Date.now() + 2_000;
  for (;;) {
    const r = await get(options);
    if (changed(r) || Date.now() > until) return r;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function get(options: RequestOptions, path = '/exchange/v1/whoami'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', ca: caPem, servername: 'localhost', ...options }, (res) => {
      const chunks: Buffer[] = [];
      // Read now: a keep-alive socket is detached from the response once it ends.
      const protocol = (res.socket as TLSSocket).getProtocol();
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers, protocol });
        } catch (e) {
          reject(new Error(`${res.statusCode}: ${text}`, { cause: e }));
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A system of the test agency with an issued certificate whose key the test holds (CSR path). */
async function systemWithCertificate(name: string, agency = agencyId): Promise<{ systemId: string } & ClientCredentials> {
  const system = await t.platform.systems.register(t.cli, { agencyId: agency, name, purpose: '交换测试', ownerContact: { name: '李四' } });
  return { systemId: system.id, ...(await certificateFor(system.id)) };
}

async function certificateFor(systemId: string): Promise<ClientCredentials> {
  const { csr, keyPem } = await makeCsr(`CN=${systemId}`);
  const applied = await t.platform.pki.applyForSystem(t.cli, { systemId, csr });
  const issued = await t.platform.pki.approve(t.cli, applied.id, null);
  return { key: keyPem, cert: issued.certificatePem!, certificateId: issued.id };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

beforeAll(async () => {
  t = await createTestPlatform();
  agencyId = (await t.platform.agencies.create(t.cli, agencyInput(21))).id;
  caPem = await t.platform.pki.caCertificatePem();
  // As `serve` runs it: certificate holders and grants cached, emptied through LISTEN.
  await t.platform.startCaches();
  exchange = await buildExchangeApp({ platform: t.platform, config: t.config, logger: pino({ level: 'silent' }) });
  await exchange.listen({ host: '127.0.0.1', port: 0 });
  port = (exchange.server.address() as { port: number }).port;
  useCredentials(exchange, await t.platform.pki.serverCredentials(['localhost', '127.0.0.1']));
});

afterAll(async () => {
  await exchange?.close();
  await t?.close();
});

describe('whoami over mutual TLS', () => {
  it('maps a platform-issued certificate to its business system and agency', async () => {
    const s = await systemWithCertificate('交换系统甲');
    const r = await get({ key: s.key, cert: s.cert, headers: { 'x-request-id': 'exchange-test-0001' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ subjectType: 'system', subjectId: s.systemId, name: '交换系统甲', agencyId, certificateId: s.certificateId, requestId: 'exchange-test-0001' });
    expect(r.headers['x-request-id']).toBe('exchange-test-0001');
    expect(['TLSv1.2', 'TLSv1.3']).toContain(r.protocol);
  });

  it('speaks TLS 1.2 and refuses TLS 1.1', async () => {
    const s = await systemWithCertificate('协议系统');
    expect((await get({ key: s.key, cert: s.cert, maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
    await expect(get({ key: s.key, cert: s.cert, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).rejects.toThrow();
  });

  it('a user certificate from a platform-generated PKCS#12 bundle works too', async () => {
    const { user } = await t.platform.accounts.create(t.cli, { username: 'exchange.user', displayName: 'u', roles: ['viewer'], agencyId });
    const ctx = { actor: { type: 'user' as const, userId: user.id, name: 'exchange.user', roles: ['viewer' as const], agencyId, permissions: new Set<never>() }, requestId: null, ip: null };
    const applied = await t.platform.pki.applyForSelf(ctx, {});
    await t.platform.pki.approve(t.cli, applied.id, null);
    const pfx = await t.platform.pki.takeKeyBundle(ctx, applied.id, 'a long passphrase');
    const r = await get({ pfx, passphrase: 'a long passphrase' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ subjectType: 'user', subjectId: user.id, name: 'exchange.user', agencyId });
  });

  it('answers unknown paths with the error body, after the certificate check', async () => {
    const s = await systemWithCertificate('路径系统');
    const r = await get({ key: s.key, cert: s.cert }, '/exchange/v1/nothing');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ code: 'GS_ERR_REQUEST_NOT_FOUND' });
  });
});

describe('refusals', () => {
  it('refuses the handshake without a client certificate', async () => {
    await expect(get({})).rejects.toThrow();
  });

  it("refuses the handshake for another CA's certificate", async () => {
    const s = await systemWithCertificate('冒名系统');
    const { authority } = await CertificateAuthority.create('CN=another CA', new Date(), 1);
    const key = await generateEcKey();
    const now = Date.now();
    const forged = await authority.issueClient({ subject: `CN=${s.systemId}`, publicKey: key.publicKey, notBefore: new Date(now - DAY), notAfter: new Date(now + DAY) });
    await expect(get({ key: toPem(key.pkcs8, 'PRIVATE KEY'), cert: forged.pem })).rejects.toThrow();
  });

  it('refuses the handshake for a certificate past its validity', async () => {
    const system = await t.platform.systems.register(t.cli, { agencyId, name: '过期系统', purpose: '交换测试', ownerContact: { name: '李四' } });
    t.clock.advance(-400 * DAY);
    let expired: ClientCredentials;
    try {
      expired = await certificateFor(system.id);
    } finally {
      t.clock.advance(400 * DAY);
    }
    await expect(get({ key: expired.key, cert: expired.cert })).rejects.toThrow();
  });

  it('refuses a request once the platform clock is past the certificate (GS_ERR_PKI_CERT_EXPIRED)', async () => {
    const s = await systemWithCertificate('时钟系统');
    t.clock.advance(400 * DAY);
    try {
      const r = await get({ key: s.key, cert: s.cert });
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ code: 'GS_ERR_PKI_CERT_EXPIRED' });
    } finally {
      t.clock.advance(-400 * DAY);
    }
  });

  it('refuses a revoked certificate on the next request of the same connection, without a restart', async () => {
    const s = await systemWithCertificate('吊销系统');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get({ key: s.key, cert: s.cert, agent });
      expect(first.status).toBe(200);
      await t.platform.pki.revoke(t.cli, s.certificateId, 'keyCompromise', '私钥泄露');
      const second = await getOnceChanged({ key: s.key, cert: s.cert, agent }, 200);
      expect(second.status).toBe(403);
      expect(second.body).toMatchObject({ code: 'GS_ERR_PKI_CERT_REVOKED', details: { reason: 'keyCompromise' } });
    } finally {
      agent.destroy();
    }
  });

  it('keeps the holder of a certificate between requests, and reads it again after any change to certificates or holders', async () => {
    const s = await systemWithCertificate('缓存身份系统');
    const cache = t.platform.pki.identities!;
    expect((await get({ key: s.key, cert: s.cert })).status).toBe(200);
    const before = cache.stats();
    for (let i = 0; i < 3; i++) expect((await get({ key: s.key, cert: s.cert })).status).toBe(200);
    const after = cache.stats();
    expect(after.hits - before.hits).toBe(3);
    expect(after.loads).toBe(before.loads);
    // A rename is a change of the holder: the next request reads it and names the system anew.
    await t.platform.systems.update(t.cli, s.systemId, { name: '缓存身份系统（更名）' });
    const renamed = await getOnceChanged({ key: s.key, cert: s.cert }, -1, (r) => r.body['name'] === '缓存身份系统（更名）');
    expect(renamed.body).toMatchObject({ name: '缓存身份系统（更名）' });
    expect(cache.stats().resets).toBeGreaterThan(after.resets);
  });

  it('refuses TLS 1.2 renegotiation: the certificate a connection was opened with is the one it keeps', async () => {
    const s = await systemWithCertificate('重协商系统');
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: caPem, servername: 'localhost', key: s.key, cert: s.cert, maxVersion: 'TLSv1.2' });
    try {
      await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      expect(socket.getProtocol()).toBe('TLSv1.2');
      const outcome = await new Promise<string>((resolve) => {
        socket.once('error', (e) => resolve(`error: ${e.message}`));
        socket.once('close', () => resolve('closed'));
        socket.renegotiate({}, (e) => resolve(e ? `error: ${e.message}` : 'renegotiated'));
        // Something to answer, so the server reads the renegotiation.
        socket.write('GET /exchange/v1/whoami HTTP/1.1\r\nhost: localhost\r\n\r\n');
      });
      expect(outcome).not.toBe('renegotiated');
    } finally {
      socket.destroy();
    }
  });

  it('refuses the certificate of a deactivated system, and accepts it again once reactivated', async () => {
    const s = await systemWithCertificate('停用交换系统');
    expect((await get({ key: s.key, cert: s.cert })).status).toBe(200);
    await t.platform.systems.setStatus(t.cli, s.systemId, 'deactivate', '停用');
    const r = await getOnceChanged({ key: s.key, cert: s.cert }, 200);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'GS_ERR_PKI_IDENTITY_INACTIVE', details: { subjectId: s.systemId, reason: 'the system is inactive' } });
    await t.platform.systems.setStatus(t.cli, s.systemId, 'reactivate', '恢复');
    expect((await getOnceChanged({ key: s.key, cert: s.cert }, 403)).status).toBe(200);
  });

  it('refuses the certificate of a system whose agency was deactivated', async () => {
    const other = (await t.platform.agencies.create(t.cli, agencyInput(22))).id;
    const s = await systemWithCertificate('撤并单位系统', other);
    expect((await get({ key: s.key, cert: s.cert })).status).toBe(200);
    await t.platform.agencies.deactivate(t.cli, other, '撤并');
    const r = await getOnceChanged({ key: s.key, cert: s.cert }, 200);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'GS_ERR_PKI_IDENTITY_INACTIVE', details: { reason: 'its agency is deactivated' } });
  });

  it("refuses the exchange port's own server certificate used as a client certificate", async () => {
    const server = await t.platform.pki.serverCredentials(['localhost', '127.0.0.1']);
    await expect(get({ key: server.key, cert: server.cert })).rejects.toThrow();
  });
});

describe('a node (前置机) certificate', () => {
  /** A node admin of `agency`: applies for its nodes' certificates and takes a generated key. */
  async function nodeAdminOf(agency: string, username: string): Promise<RequestContext> {
    const { user } = await t.platform.accounts.create(t.cli, { username, displayName: username, roles: ['nodeAdmin'], agencyId: agency });
    return { actor: { type: 'user', userId: user.id, name: username, roles: ['nodeAdmin'], agencyId: agency, permissions: permissionsOf(['nodeAdmin']) }, requestId: null, ip: null };
  }

  it('whoami names the node and its agency; deactivating the node refuses the next request on the same connection, reactivating accepts it again', async () => {
    const admin = await nodeAdminOf(agencyId, 'exchange.nodeadmin');
    const node = await t.platform.nodes.register(admin, { agencyId, code: 'EX-NODE-01', name: '交换测试前置机', contact: { name: '李四' } });
    const { csr, keyPem } = await makeCsr(`CN=${node.id}`);
    const applied = await t.platform.pki.applyForNode(admin, { nodeId: node.id, csr });
    const issued = await t.platform.pki.approve(t.cli, applied.id, null);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const client = { key: keyPem, cert: issued.certificatePem!, agent };
      const first = await get(client);
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ subjectType: 'node', subjectId: node.id, name: '交换测试前置机', agencyId, certificateId: issued.id });
      await t.platform.nodes.setStatus(t.cli, node.id, 'deactivate', '设备下线');
      const second = await getOnceChanged(client, 200);
      expect(second.status).toBe(403);
      expect(second.body).toMatchObject({ code: 'GS_ERR_PKI_IDENTITY_INACTIVE', details: { subjectType: 'node', subjectId: node.id, reason: 'the node is deactivated' } });
      await t.platform.nodes.setStatus(t.cli, node.id, 'reactivate', '恢复');
      expect((await getOnceChanged(client, 403)).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it('a platform-generated key, downloaded once by the node admin as PKCS#12, works; the node is refused once its agency is deactivated', async () => {
    const other = (await t.platform.agencies.create(t.cli, agencyInput(23))).id;
    const admin = await nodeAdminOf(other, 'exchange.nodeadmin.b');
    const node = await t.platform.nodes.register(admin, { agencyId: other, code: 'EX-NODE-02', name: '生成密钥前置机', contact: { name: '周九' } });
    const applied = await t.platform.pki.applyForNode(admin, { nodeId: node.id });
    await t.platform.pki.approve(t.cli, applied.id, null);
    const pfx = await t.platform.pki.takeKeyBundle(admin, applied.id, 'node bundle passphrase');
    const r = await get({ pfx, passphrase: 'node bundle passphrase' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ subjectType: 'node', subjectId: node.id, agencyId: other });
    await t.platform.agencies.deactivate(t.cli, other, '撤并');
    const refused = await getOnceChanged({ pfx, passphrase: 'node bundle passphrase' }, 200);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'GS_ERR_PKI_IDENTITY_INACTIVE', details: { subjectType: 'node', reason: 'its agency is deactivated' } });
  });
});

describe('the server certificate', () => {
  it('is kept and reused, and reissued when fewer than 30 days remain', async () => {
    const a = await t.platform.pki.serverCredentials(['localhost', '127.0.0.1']);
    const b = await t.platform.pki.serverCredentials(['localhost', '127.0.0.1']);
    expect(b.cert).toBe(a.cert);
    t.clock.advance(370 * DAY);
    try {
      const c = await t.platform.pki.serverCredentials(['localhost', '127.0.0.1']);
      expect(c.cert).not.toBe(a.cert);
      expect(c.notAfter.getTime()).toBeGreaterThan(a.notAfter.getTime());
    } finally {
      t.clock.advance(-370 * DAY);
    }
  });
});

/** Runs curl without blocking the event loop: the server under test lives in this process. */
function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '20', ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('curl', () => {
  const hasCurl = spawnSync('curl', ['--version']).status === 0;
  it.skipIf(!hasCurl)('curl --cert/--key/--cacert gets the identity', async () => {
    const s = await systemWithCertificate('curl系统');
    const dir = mkdtempSync(join(tmpdir(), 'gs-curl-'));
    try {
      writeFileSync(join(dir, 'client.pem'), s.cert);
      writeFileSync(join(dir, 'client.key'), s.key, { mode: 0o600 });
      writeFileSync(join(dir, 'ca.pem'), caPem);
      const url = `https://localhost:${port}/exchange/v1/whoami`;
      const ok = await curl(['--fail-with-body', '--cert', join(dir, 'client.pem'), '--key', join(dir, 'client.key'), '--cacert', join(dir, 'ca.pem'), url]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ subjectType: 'system', subjectId: s.systemId, agencyId });
      // Without a client certificate the handshake fails: curl reports a TLS error, not an HTTP status.
      const refused = await curl(['--cacert', join(dir, 'ca.pem'), url]);
      expect(refused.code).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('serve: both listeners', () => {
  it('serves the console and the exchange port, and stops both gracefully', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gs-serve-'));
    const server = await createServerDatabaseUrl();
    const config = loadConfig({
      env: {},
      overrides: { logLevel: 'silent', dataDir: dir, port: await freePort(), exchangePort: await freePort(), ...(server ? { databaseUrl: server.url } : {}) },
    });
    const running = await startServer(config, pino({ level: 'silent' }));
    try {
      const ca = await running.platform.pki.caCertificatePem();
      const a = (await running.platform.agencies.create(t.cli, agencyInput(31))).id;
      const system = await running.platform.systems.register(t.cli, { agencyId: a, name: '双端口系统', purpose: '交换测试', ownerContact: { name: '李四' } });
      const { csr, keyPem } = await makeCsr(`CN=${system.id}`);
      const issued = await running.platform.pki.approve(t.cli, (await running.platform.pki.applyForSystem(t.cli, { systemId: system.id, csr })).id, null);
      expect(running.exchangeUrl).toBe(`https://127.0.0.1:${config.exchangePort}`);
      const r = await new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port: config.exchangePort, path: '/exchange/v1/whoami', ca, key: keyPem, cert: issued.certificatePem!, servername: 'localhost' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
      expect(r).toBe(200);
      expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
    } finally {
      await running.close();
      await server?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
    const refused = (p: number) =>
      new Promise<boolean>((resolve) => {
        const s = createServer();
        s.once('error', () => resolve(false));
        s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
      });
    expect(await refused(config.port)).toBe(true);
    expect(await refused(config.exchangePort)).toBe(true);
  }, 60_000);
});
