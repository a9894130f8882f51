import 'reflect-metadata';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agencyInput, createTestPlatform, refused, userWithRoles, type LoggedIn, type TestPlatform } from '../../../test/helpers/platform.js';
import { makeCsr, tamperSignature } from '../../../test/helpers/pki.js';
import { permissionsOf } from '../accounts/permissions.js';
import type { RequestContext } from '../../server/actor.js';
import type { PkiService } from './service.js';

let t: TestPlatform;
let pki: PkiService;
let agencyA: string;
let agencyB: string;
let systemA: string;
let systemB: string;
let operator: LoggedIn;
let nodeAdminA: RequestContext;
let caPem: string;

const V1 = '/api/v1';

function contextOf(userId: string, name: string, roles: ('nodeAdmin' | 'viewer')[], agencyId: string): RequestContext {
  return { actor: { type: 'user', userId, name, roles, agencyId, permissions: permissionsOf(roles) }, requestId: `req-${name}`, ip: '198.51.100.7' };
}

async function newSystem(agencyId: string, name: string): Promise<string> {
  return (await t.platform.systems.register(t.cli, { agencyId, name, purpose: '证书测试', ownerContact: { name: '王五' } })).id;
}

beforeAll(async () => {
  t = await createTestPlatform();
  pki = t.platform.pki;
  agencyA = (await t.platform.agencies.create(t.cli, agencyInput(11))).id;
  agencyB = (await t.platform.agencies.create(t.cli, agencyInput(12))).id;
  systemA = await newSystem(agencyA, '税务系统');
  systemB = await newSystem(agencyB, '公安系统');
  operator = await userWithRoles(t, 'pki.operator', ['operator']);
  const na = await t.platform.accounts.create(t.cli, { username: 'pki.nodeadmin', displayName: 'na', roles: ['nodeAdmin'], agencyId: agencyA });
  nodeAdminA = contextOf(na.user.id, 'pki.nodeadmin', ['nodeAdmin'], agencyA);
  caPem = await pki.caCertificatePem();
});
afterAll(async () => t?.close());

describe('the platform CA', () => {
  it('is created once at bootstrap: self-signed ECDSA P-256, a CA, its key sealed', async () => {
    await Promise.all([t.platform.bootstrap(), t.platform.bootstrap()]);
    const rows = await t.platform.db.selectFrom('pkiAuthorities').selectAll().execute();
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.keyAlgorithm).toBe('ECDSA P-256');
    expect(row.sealedPrivateKey).toMatch(/^gsk1\./);
    expect(row.sealedPrivateKey).not.toContain('PRIVATE KEY');
    const ca = new X509Certificate(row.certificatePem);
    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(row.certificatePem).toBe(caPem);
    const audit = await t.platform.audit.search({ action: 'pki.authority.create', limit: 5 });
    expect(audit).toHaveLength(1);
  });

  it('publishes its certificate over HTTP without credentials', async () => {
    const r = await t.app.inject({ method: 'GET', url: `${V1}/pki/ca.pem` });
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe(caPem);
  });
});

describe('applying with a CSR, approving, issuing', () => {
  it('issues a certificate for the key of the request, after an operator approves, every step audited', async () => {
    const { csr } = await makeCsr(`CN=${systemA}, O=税务局`);
    const applied = await pki.applyForSystem(nodeAdminA, { systemId: systemA, csr });
    expect(applied).toMatchObject({ status: 'pending', subjectType: 'system', subjectId: systemA, agencyId: agencyA, keySource: 'csr', certificatePem: null, requestedBy: 'pki.nodeadmin' });
    const r = await t.app.inject({ method: 'POST', url: `${V1}/certificates/${applied.id}/approve`, headers: operator.headers, payload: { reason: '材料齐全' } });
    expect(r.statusCode, r.body).toBe(200);
    const issued = r.json<{ status: string; certificatePem: string; serialNumber: string; notAfter: string }>();
    expect(issued.status).toBe('issued');
    const cert = new X509Certificate(issued.certificatePem);
    expect(cert.verify(new X509Certificate(caPem).publicKey)).toBe(true);
    expect(cert.subject).toContain(`CN=${systemA}`);
    expect(cert.serialNumber).toBe(issued.serialNumber);
    const csrKey = createPublicKey({ key: Buffer.from(new x509.Pkcs10CertificateRequest(csr).publicKey.rawData), format: 'der', type: 'spki' });
    expect(cert.publicKey.export({ format: 'der', type: 'spki' })).toEqual(csrKey.export({ format: 'der', type: 'spki' }));
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.2'); // clientAuth
    expect(new Date(issued.notAfter).getTime() - Date.now()).toBeGreaterThan(364 * 86_400_000);
    const actions = (await t.platform.audit.search({ targetId: applied.id, limit: 10 })).map((e) => e.action).reverse();
    expect(actions).toEqual(['pki.certificate.apply', 'pki.certificate.approve', 'pki.certificate.issue']);
    await refused(pki.approve(t.cli, applied.id, null), 'GS_ERR_PKI_CERT_STATE');
  });

  it('accepts an RSA 2048 key', async () => {
    const { csr } = await makeCsr(`CN=${systemA}`, 'RSA-2048');
    const applied = await pki.applyForSystem(t.cli, { systemId: systemA, csr });
    expect((await pki.approve(t.cli, applied.id, null)).status).toBe('issued');
  });

  it("lets a node admin apply only for their own agency's systems", async () => {
    const { csr } = await makeCsr(`CN=${systemB}`);
    await refused(pki.applyForSystem(nodeAdminA, { systemId: systemB, csr }), 'GS_ERR_AUTH_WRONG_AGENCY');
  });

  it('refuses to apply for a deactivated system', async () => {
    const s = await newSystem(agencyA, '停用系统');
    await t.platform.systems.setStatus(t.cli, s, 'deactivate', '停用');
    const e = await refused(pki.applyForSystem(t.cli, { systemId: s }), 'GS_ERR_PKI_SUBJECT_INACTIVE');
    expect(e.params.reason).toBe('the system is inactive');
  });

  it('an operator rejects an application with a reason', async () => {
    const applied = await pki.applyForSystem(t.cli, { systemId: systemA });
    const r = await t.app.inject({ method: 'POST', url: `${V1}/certificates/${applied.id}/reject`, headers: operator.headers, payload: { reason: '用途不明' } });
    expect(r.json()).toMatchObject({ status: 'rejected', decisionReason: '用途不明', certificatePem: null });
  });
});

describe('bad certificate requests are refused with 400 naming the problem', () => {
  const post = (csr: string) => t.app.inject({ method: 'POST', url: `${V1}/certificates`, headers: operator.headers, payload: { systemId: systemA, csr } });

  it('a bad signature', async () => {
    const { csr } = await makeCsr(`CN=${systemA}`);
    const r = await post(tamperSignature(csr));
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'GS_ERR_PKI_CSR_SIGNATURE' });
  });

  it('the wrong key type: P-384, RSA 1024', async () => {
    for (const [type, named] of [['P-384', 'ECDSA secp384r1'], ['RSA-1024', 'RSA 1024 bits']] as const) {
      const r = await post((await makeCsr(`CN=${systemA}`, type)).csr);
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ code: 'GS_ERR_PKI_CSR_KEY_TYPE', details: { keyType: named } });
    }
  });

  it('a subject that does not name the registered system', async () => {
    for (const subject of [`CN=${systemB}`, 'CN=税务系统', `O=govshare`]) {
      const r = await post((await makeCsr(subject)).csr);
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ code: 'GS_ERR_PKI_CSR_SUBJECT', details: { expected: systemA } });
    }
  });

  it('text that is not a CSR', async () => {
    const r = await post('-----BEGIN CERTIFICATE REQUEST-----\nnonsense\n-----END CERTIFICATE REQUEST-----');
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'GS_ERR_PKI_CSR_INVALID' });
    expect(await pki.list(t.cli.actor, { status: 'pending', subjectId: systemA, limit: 100 })).toEqual([]);
  });
});

describe('a platform-generated key, downloadable once as PKCS#12', () => {
  it('a user applies for their own certificate, the operator approves, the user downloads the bundle once', async () => {
    const me = await userWithRoles(t, 'pki.user', ['viewer'], agencyA);
    const applied = await t.app.inject({ method: 'POST', url: `${V1}/me/certificates`, headers: me.headers, payload: {} });
    expect(applied.statusCode, applied.body).toBe(201);
    const { id } = applied.json<{ id: string }>();
    await pki.approve(t.cli, id, null);
    expect((await pki.get(t.cli.actor, id)).keyDownloadable).toBe(true);

    // Someone else cannot take it.
    const other = await userWithRoles(t, 'pki.other', ['viewer'], agencyA);
    const stolen = await t.app.inject({ method: 'POST', url: `${V1}/certificates/${id}/key-bundle`, headers: other.headers, payload: { passphrase: 'correct horse battery' } });
    expect(stolen.json()).toMatchObject({ code: 'GS_ERR_PKI_CERT_NOT_FOUND' });

    const r = await t.app.inject({ method: 'POST', url: `${V1}/certificates/${id}/key-bundle`, headers: me.headers, payload: { passphrase: 'correct horse battery' } });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/x-pkcs12');
    expect(() => createSecureContext({ pfx: r.rawPayload, passphrase: 'correct horse battery' })).not.toThrow();
    expect(() => createSecureContext({ pfx: r.rawPayload, passphrase: 'wrong passphrase!' })).toThrow();

    const again = await t.app.inject({ method: 'POST', url: `${V1}/certificates/${id}/key-bundle`, headers: me.headers, payload: { passphrase: 'correct horse battery' } });
    expect(again.statusCode).toBe(410);
    expect(again.json()).toMatchObject({ code: 'GS_ERR_PKI_KEY_GONE' });
    const row = await t.platform.db.selectFrom('certificates').select(['sealedPrivateKey', 'keyDownloadedAt']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.sealedPrivateKey).toBeNull();
    expect(row.keyDownloadedAt).not.toBeNull();
    const mine = await t.app.inject({ method: 'GET', url: `${V1}/me/certificates`, headers: me.headers });
    expect(mine.json<{ items: { id: string; keyDownloadable: boolean }[] }>().items).toEqual([expect.objectContaining({ id, keyDownloadable: false })]);
    const actions = (await t.platform.audit.search({ targetId: id, limit: 10 })).map((e) => e.action);
    expect(actions).toContain('pki.certificate.key-download');
  });
});

describe('revocation, the CRL, expiry and rotation', () => {
  it('rotates: a second certificate is issued while the first is valid, then the first is revoked as superseded and listed in the CRL', async () => {
    const s = await newSystem(agencyB, '轮换系统');
    const first = await pki.approve(t.cli, (await pki.applyForSystem(t.cli, { systemId: s, csr: (await makeCsr(`CN=${s}`)).csr })).id, null);
    const second = await pki.approve(t.cli, (await pki.applyForSystem(t.cli, { systemId: s, csr: (await makeCsr(`CN=${s}`)).csr })).id, null);
    expect((await pki.list(t.cli.actor, { subjectId: s, status: 'issued', limit: 10 })).map((c) => c.id).sort()).toEqual([first.id, second.id].sort());

    const r = await t.app.inject({ method: 'POST', url: `${V1}/certificates/${first.id}/revoke`, headers: operator.headers, payload: { reason: 'superseded', comment: '已换新证书' } });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ status: 'revoked', revocationReason: 'superseded', revocationComment: '已换新证书' });
    await refused(pki.revoke(t.cli, first.id, 'keyCompromise', null), 'GS_ERR_PKI_CERT_STATE');

    const crlReply = await t.app.inject({ method: 'GET', url: `${V1}/pki/crl` });
    expect(crlReply.statusCode).toBe(200);
    expect(crlReply.headers['content-type']).toBe('application/pkix-crl');
    const crl = new x509.X509Crl(crlReply.rawPayload);
    expect(await crl.verify({ publicKey: new x509.X509Certificate(caPem).publicKey })).toBe(true);
    expect(crl.findRevoked(first.serialNumber!)?.reason).toBe(x509.X509CrlReason.superseded);
    expect(crl.findRevoked(second.serialNumber!)).toBeNull();
  });

  it('lists certificates expiring within N days (default 30)', async () => {
    const s = await newSystem(agencyB, '到期系统');
    const c = await pki.approve(t.cli, (await pki.applyForSystem(t.cli, { systemId: s })).id, null);
    const within = async (query: string) =>
      (await t.app.inject({ method: 'GET', url: `${V1}/certificates/expiring${query}`, headers: operator.headers })).json<{ items: { id: string }[] }>().items.map((i) => i.id);
    expect(await within('')).not.toContain(c.id);
    expect(await within('?days=366')).toContain(c.id);
    // (The operator's session would not survive the jump; the service answers the same query.)
    t.clock.advance(340 * 86_400_000);
    try {
      expect((await pki.list(t.cli.actor, { expiringWithinDays: 30, limit: 500 })).map((i) => i.id)).toContain(c.id);
    } finally {
      t.clock.advance(-340 * 86_400_000);
    }
  });

  it('agency staff with certificate:read see only their agency', async () => {
    const listed = await pki.list(nodeAdminA.actor, { limit: 500 });
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.every((c) => c.agencyId === agencyA)).toBe(true);
    const foreign = (await pki.list(t.cli.actor, { subjectType: 'system', limit: 500 })).find((c) => c.agencyId === agencyB)!;
    await refused(pki.get(nodeAdminA.actor, foreign.id), 'GS_ERR_PKI_CERT_NOT_FOUND');
  });
});
