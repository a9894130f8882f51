import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
// Sets @peculiar/x509's crypto provider, as the platform does.
import '../../src/modules/pki/certificate-authority.js';

export type TestKeyType = 'P-256' | 'P-384' | 'RSA-1024' | 'RSA-2048';

/** A key pair of the given type and a PKCS#10 request signed with it; the private key as PEM for TLS clients. */
export async function makeCsr(subject: string, keyType: TestKeyType = 'P-256'): Promise<{ csr: string; keyPem: string }> {
  const ec = keyType.startsWith('P-');
  const algorithm = ec
    ? { name: 'ECDSA', namedCurve: keyType }
    : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: Number(keyType.slice(4)) };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject,
    keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
    signingAlgorithm: ec ? { name: 'ECDSA', hash: keyType === 'P-384' ? 'SHA-384' : 'SHA-256' } : algorithm,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { csr: csr.toString('pem'), keyPem: toPem(pkcs8, 'PRIVATE KEY') };
}

/** The same request with the last byte of its signature changed: it parses but does not verify. */
export function tamperSignature(csrPem: string): string {
  const der = Buffer.from(new x509.Pkcs10CertificateRequest(csrPem).rawData);
  der[der.length - 1] = der[der.length - 1]! ^ 0x01;
  return toPem(der, 'CERTIFICATE REQUEST');
}

export function toPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
