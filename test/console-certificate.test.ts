/**
 * Certificate + password login on the console port (seed 000 §28; 等保 level 3: two factors of
 * different kinds), over real HTTPS with real certificates issued by the platform CA.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, generateEcKey } from '../src/modules/pki/certificate-authority.js';
import { createServerDatabaseUrl } from '../src/db/test-database.js';
import { useConsoleCredentials } from '../src/server/app.js';
import { loadConfig } from '../src/server/config.js';
import { startServer } from '../src/server/start.js';
import type { Role } from '../src/modules/accounts/permissions.js';
import type { RequestContext } from '../src/server/actor.js';
import { agencyInput, createTestPlatform, sessionCookie, STRONG_PASSWORD, type TestPlatform } from './helpers/platform.js';
import { makeCsr, toPem } from './helpers/pki.js';

let t: TestPlatform;
let port: number;
let caPem: string;
let agencyId: string;
const DAY = 86_400_000;

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, string | string[] | undefined>;
}

interface Client {
  readonly key?: string;
  readonly cert?: string;
}

/** One request on its own connection (no keep-alive: each test chooses the certificate it presents). */
function call(method: 'GET' | 'POST', path: string, client: Client, options: { body?: unknown; cookie?: string } = {}): Promise<Reply> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        ca: caPem,
        servername: 'localhost',
        agent: false,
        ...client,
        headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...(options.cookie ? { cookie: options.cookie } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const login = (client: Client, password: string) => call('POST', '/api/v1/auth/login/certificate', client, { body: { password } });

/** An account with its password changed to STRONG_PASSWORD and a certificate made from its own CSR. */
async function personWithCertificate(username: string, roles: Role[], agency: string | null = agencyId) {
  const { user, password } = await t.platform.accounts.create(t.cli, { username, displayName: username, roles, agencyId: agency });
  const ctx: RequestContext = { actor: { type: 'user', userId: user.id, name: username, roles, agencyId: agency, permissions: new Set() }, requestId: null, ip: null };
  const { csr, keyPem } = await makeCsr(`CN=${user.id}`);
  const applied = await t.platform.pki.applyForSelf(ctx, { csr });
  const issued = await t.platform.pki.approve(t.cli, applied.id, null);
  return { userId: user.id, password, client: { key: keyPem, cert: issued.certificatePem! }, certificateId: issued.id };
}

beforeAll(async () => {
  t = await createTestPlatform({ consoleTls: true });
  agencyId = (await t.platform.agencies.create(t.cli, agencyInput(31))).id;
  caPem = await t.platform.pki.caCertificatePem();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as { port: number }).port;
  useConsoleCredentials(t.app, await t.platform.pki.serverCredentials(['localhost', '127.0.0.1']));
});

afterAll(async () => {
  await t?.close();
});

describe('certificate + password login', () => {
  it('opens a session bound to the certificate, without asking for an authenticator code', async () => {
    // An operator must use TOTP with a password login; the certificate is the second factor here.
    const p = await personWithCertificate('cert.operator', ['operator'], null);
    const r = await login(p.client, p.password);
    expect(r.status).toBe(200);
    expect(r.body.setupRequired).toEqual(['changePassword']);
    const setCookie = String(r.headers['set-cookie']);
    expect(setCookie).toMatch(/; Secure/);
    const cookie = sessionCookie(r.headers['set-cookie']);

    const changed = await call('POST', '/api/v1/auth/password', p.client, { cookie, body: { currentPassword: p.password, newPassword: STRONG_PASSWORD } });
    expect(changed.status).toBe(200);
    const me = await call('GET', '/api/v1/auth/me', p.client, { cookie });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: { id: p.userId }, setupRequired: [] });

    const events = await t.platform.audit.search({ action: 'auth.login', targetType: 'session', limit: 10, order: 'newest' });
    expect(events[0]?.details).toMatchObject({ method: 'certificate', certificateId: p.certificateId });
  });

  it('refuses the session cookie on a connection without that certificate', async () => {
    const a = await personWithCertificate('cert.viewer.a', ['viewer']);
    const b = await personWithCertificate('cert.viewer.b', ['viewer']);
    const cookie = sessionCookie((await login(a.client, a.password)).headers['set-cookie']);
    expect((await call('GET', '/api/v1/auth/me', a.client, { cookie })).status).toBe(200);
    for (const other of [{}, b.client]) {
      const r = await call('GET', '/api/v1/auth/me', other, { cookie });
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('GS_ERR_AUTH_SESSION_CERT_MISMATCH');
    }
  });

  it('a wrong password fails and counts towards the lockout', async () => {
    const p = await personWithCertificate('cert.wrong', ['viewer']);
    for (let i = 0; i < 5; i++) {
      const r = await login(p.client, 'not-the-password');
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('GS_ERR_AUTH_INVALID_CREDENTIALS');
    }
    const locked = await login(p.client, p.password);
    expect(locked.status).toBe(423);
    expect(locked.body.code).toBe('GS_ERR_AUTH_LOCKED');
  });

  it('revoking the certificate refuses the next login and ends its sessions', async () => {
    const p = await personWithCertificate('cert.revoked', ['viewer']);
    const cookie = sessionCookie((await login(p.client, p.password)).headers['set-cookie']);
    expect((await call('GET', '/api/v1/auth/me', p.client, { cookie })).status).toBe(200);
    await t.platform.pki.revoke(t.cli, p.certificateId, 'keyCompromise', 'laptop stolen');
    const me = await call('GET', '/api/v1/auth/me', p.client, { cookie });
    expect(me.status).toBe(401);
    expect(me.body.code).toBe('GS_ERR_AUTH_SESSION_EXPIRED');
    const again = await login(p.client, p.password);
    expect(again.status).toBe(403);
    expect(again.body.code).toBe('GS_ERR_PKI_CERT_REVOKED');
  });
});

describe('refusals', () => {
  it('without a certificate', async () => {
    const r = await login({}, 'whatever-password');
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('GS_ERR_AUTH_CERT_REQUIRED');
  });

  it("with another CA's certificate", async () => {
    const p = await personWithCertificate('cert.forged', ['viewer']);
    const { authority } = await CertificateAuthority.create('CN=another CA', new Date(), 1);
    const key = await generateEcKey();
    const now = Date.now();
    const forged = await authority.issueClient({ subject: `CN=${p.userId}`, publicKey: key.publicKey, notBefore: new Date(now - DAY), notAfter: new Date(now + DAY) });
    const r = await login({ key: toPem(key.pkcs8, 'PRIVATE KEY'), cert: forged.pem }, p.password);
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('GS_ERR_AUTH_CERT_UNTRUSTED');
  });

  it('with a certificate past its validity', async () => {
    t.clock.advance(-400 * DAY);
    let p: Awaited<ReturnType<typeof personWithCertificate>>;
    try {
      p = await personWithCertificate('cert.expired', ['viewer']);
    } finally {
      t.clock.advance(400 * DAY);
    }
    const r = await login(p.client, p.password);
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ code: 'GS_ERR_AUTH_CERT_UNTRUSTED' });
    expect(String(r.body.message)).toMatch(/expired/i);
  });

  it("with a business system's certificate", async () => {
    const system = await t.platform.systems.register(t.cli, { agencyId, name: '证书登录系统', purpose: '测试', ownerContact: { name: '李四' } });
    const { csr, keyPem } = await makeCsr(`CN=${system.id}`);
    const issued = await t.platform.pki.approve(t.cli, (await t.platform.pki.applyForSystem(t.cli, { systemId: system.id, csr })).id, null);
    const r = await login({ key: keyPem, cert: issued.certificatePem! }, 'any-password-at-all');
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('GS_ERR_AUTH_CERT_NOT_USER');
  });

  it('with a deactivated account', async () => {
    const p = await personWithCertificate('cert.inactive', ['viewer']);
    await t.platform.accounts.setActive(t.cli, p.userId, false, 'left the agency');
    const r = await login(p.client, p.password);
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('GS_ERR_PKI_IDENTITY_INACTIVE');
  });

  it('on a console port without TLS', async () => {
    const plain = await createTestPlatform();
    try {
      const r = await plain.app.inject({ method: 'POST', url: '/api/v1/auth/login/certificate', payload: { password: 'whatever-password' } });
      expect(r.statusCode).toBe(401);
      expect(r.json()).toMatchObject({ code: 'GS_ERR_AUTH_CERT_REQUIRED' });
      expect(r.json().message).toMatch(/GOVSHARE_CONSOLE_TLS/);
    } finally {
      await plain.close();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

describe("serve with GOVSHARE_CONSOLE_TLS and the operator's own console certificate", () => {
  it('serves HTTPS with that certificate, and refuses a key file others can read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gs-console-tls-'));
    const server = await createServerDatabaseUrl();
    try {
      // A CA the browsers already trust (here: any CA other than the platform's).
      const { authority } = await CertificateAuthority.create('CN=corporate CA', new Date(), 1);
      const key = await generateEcKey();
      const now = Date.now();
      const issued = await authority.issueServer({ names: ['localhost', '127.0.0.1'], publicKey: key.publicKey, notBefore: new Date(now - DAY), notAfter: new Date(now + DAY) });
      const certFile = join(dir, 'console.pem');
      const keyFile = join(dir, 'console.key');
      writeFileSync(certFile, issued.pem);
      writeFileSync(keyFile, toPem(key.pkcs8, 'PRIVATE KEY'), { mode: 0o644 });
      chmodSync(keyFile, 0o644);
      const config = loadConfig({
        env: {},
        overrides: {
          logLevel: 'silent',
          dataDir: join(dir, 'data'),
          port: await freePort(),
          exchangePort: await freePort(),
          consoleTls: true,
          consoleTlsCertFile: certFile,
          consoleTlsKeyFile: keyFile,
          ...(server ? { databaseUrl: server.url } : {}),
        },
      });
      await expect(startServer(config, pino({ level: 'silent' }))).rejects.toMatchObject({ code: 'GS_ERR_CONFIG_INVALID', message: expect.stringMatching(/readable by others/) });

      chmodSync(keyFile, 0o600);
      const running = await startServer(config, pino({ level: 'silent' }));
      try {
        expect(running.url).toBe(`https://127.0.0.1:${config.port}`);
        const status = await new Promise<number>((resolve, reject) => {
          request({ host: '127.0.0.1', port: config.port, path: '/readyz', ca: authority.pem, servername: 'localhost', agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
            .on('error', reject)
            .end();
        });
        expect(status).toBe(200);
      } finally {
        await running.close();
      }
    } finally {
      await server?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('needs both files, and GOVSHARE_CONSOLE_TLS with them', () => {
    expect(() => loadConfig({ env: { GOVSHARE_CONSOLE_TLS: 'true', GOVSHARE_CONSOLE_TLS_CERT_FILE: 'console.pem' } })).toThrow(/GOVSHARE_CONSOLE_TLS_KEY_FILE/);
    expect(() => loadConfig({ env: { GOVSHARE_CONSOLE_TLS_CERT_FILE: 'console.pem', GOVSHARE_CONSOLE_TLS_KEY_FILE: 'console.key' } })).toThrow(/GOVSHARE_CONSOLE_TLS/);
  });
});
