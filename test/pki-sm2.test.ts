/**
 * The SM2 platform CA (GOVSHARE_CA_KEY_ALGORITHM=sm2): certificates and CRLs signed with
 * SM2-with-SM3, accepted by OpenSSL (the exchange port's real TLS handshake, and `openssl verify`
 * / `openssl crl` when the openssl command is installed).
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as x509 from '@peculiar/x509';
import { CertificateAuthority, generateEcKey } from '../src/modules/pki/certificate-authority.js';
import { buildExchangeApp, useCredentials, type ExchangeApp } from '../src/server/exchange-app.js';
import { agencyInput, createTestPlatform, type TestPlatform } from './helpers/platform.js';
import { makeCsr, toPem } from './helpers/pki.js';

/** DER of the OIDs SM2-with-SM3 (1.2.156.10197.1.501) and sm2p256v1 (1.2.156.10197.1.301). */
const SM2_WITH_SM3_DER = Buffer.from('06082a811ccf55018375', 'hex');
const SM2_CURVE_DER = Buffer.from('06082a811ccf5501822d', 'hex');
const DAY = 86_400_000;
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

let t: TestPlatform;
let exchange: ExchangeApp;
let port: number;
let caPem: string;
let agencyId: string;
let dir: string;

function whoami(key: string, cert: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/exchange/v1/whoami', ca: caPem, servername: 'localhost', key, cert, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function systemCertificate(name: string) {
  const system = await t.platform.systems.register(t.cli, { agencyId, name, purpose: 'SM2 测试', ownerContact: { name: '王五' } });
  const { csr, keyPem } = await makeCsr(`CN=${system.id}`);
  const issued = await t.platform.pki.approve(t.cli, (await t.platform.pki.applyForSystem(t.cli, { systemId: system.id, csr })).id, null);
  return { systemId: system.id, key: keyPem, cert: issued.certificatePem!, id: issued.id, serialNumber: issued.serialNumber! };
}

function openssl(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  t = await createTestPlatform({ caKeyAlgorithm: 'sm2' });
  agencyId = (await t.platform.agencies.create(t.cli, agencyInput(41))).id;
  caPem = await t.platform.pki.caCertificatePem();
  exchange = await buildExchangeApp({ platform: t.platform, config: t.config, logger: pino({ level: 'silent' }) });
  await exchange.listen({ host: '127.0.0.1', port: 0 });
  port = (exchange.server.address() as { port: number }).port;
  useCredentials(exchange, await t.platform.pki.serverCredentials(['localhost', '127.0.0.1']));
  dir = mkdtempSync(join(tmpdir(), 'gs-sm2-'));
});

afterAll(async () => {
  await exchange?.close();
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('an SM2 platform CA', () => {
  it('is self-signed with SM2-with-SM3 on the sm2p256v1 curve', async () => {
    expect(await t.platform.pki.authorityAlgorithm()).toBe('sm2');
    const der = Buffer.from(new x509.X509Certificate(caPem).rawData);
    expect(der.includes(SM2_WITH_SM3_DER)).toBe(true);
    expect(der.includes(SM2_CURVE_DER)).toBe(true);
    // Node's OpenSSL checks the self-signature.
    expect(new X509Certificate(caPem).verify(new X509Certificate(caPem).publicKey)).toBe(true);
  });

  it('issues client certificates that OpenSSL verifies and the exchange port accepts', async () => {
    const s = await systemCertificate('国密系统');
    const cert = new X509Certificate(s.cert);
    expect(cert.checkIssued(new X509Certificate(caPem))).toBe(true);
    expect(cert.verify(new X509Certificate(caPem).publicKey)).toBe(true);
    const r = await whoami(s.key, s.cert);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ subjectType: 'system', subjectId: s.systemId, agencyId });
  });

  it('refuses a certificate it did not sign, also one naming it as issuer', async () => {
    const s = await systemCertificate('仿冒系统');
    const { authority } = await CertificateAuthority.create('CN=another SM2 CA', new Date(), 1, 'sm2');
    const key = await generateEcKey();
    const now = Date.now();
    const forged = await authority.issueClient({ subject: `CN=${s.systemId}`, publicKey: key.publicKey, notBefore: new Date(now - DAY), notAfter: new Date(now + DAY) });
    await expect(whoami(toPem(key.pkcs8, 'PRIVATE KEY'), forged.pem)).rejects.toThrow();
    const platformCa = await CertificateAuthority.load(caPem, Buffer.alloc(32, 1), 'sm2');
    expect(await platformCa.signed(s.cert)).toBe(true);
    expect(await platformCa.signed(forged.pem)).toBe(false);
  });

  it('publishes a CRL signed with SM2 that lists a revoked certificate', async () => {
    const s = await systemCertificate('吊销国密系统');
    await t.platform.pki.revoke(t.cli, s.id, 'keyCompromise', null);
    const crl = new x509.X509Crl(await t.platform.pki.crl());
    expect(Buffer.from(crl.rawData).includes(SM2_WITH_SM3_DER)).toBe(true);
    expect(crl.entries.map((e) => e.serialNumber.toUpperCase())).toContain(s.serialNumber);
    const r = await whoami(s.key, s.cert);
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('GS_ERR_PKI_CERT_REVOKED');
  });

  it.runIf(hasOpenssl)('openssl verifies the chain and the CRL signature', async () => {
    const s = await systemCertificate('命令行系统');
    writeFileSync(join(dir, 'ca.pem'), caPem);
    writeFileSync(join(dir, 'client.pem'), s.cert);
    writeFileSync(join(dir, 'crl.der'), await t.platform.pki.crl());
    const chain = openssl(['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'client.pem')]);
    expect(chain.out).toContain('OK');
    expect(chain.status).toBe(0);
    const crl = openssl(['crl', '-inform', 'DER', '-in', join(dir, 'crl.der'), '-CAfile', join(dir, 'ca.pem'), '-noout']);
    expect(crl.out).toMatch(/verify OK/);
    expect(openssl(['x509', '-in', join(dir, 'ca.pem'), '-noout', '-text']).out).toContain('SM2-with-SM3');
  });
});
