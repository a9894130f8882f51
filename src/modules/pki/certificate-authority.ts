import 'reflect-metadata';
import { createHash, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { GsError } from '../../lib/errors.js';

// @peculiar/x509 works on any WebCrypto implementation; Node's is the one we use everywhere.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** The platform's algorithms: ECDSA P-256 keys, signatures with SHA-256. (SM2 is not available yet; docs/pki.md.) */
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGNATURE = { name: 'ECDSA', hash: 'SHA-256' } as const;

type KeyPair = Awaited<ReturnType<typeof webcrypto.subtle.generateKey>> & { publicKey: webcrypto.CryptoKey; privateKey: webcrypto.CryptoKey };
type SigningKey = webcrypto.CryptoKey;

/** X.509 reason codes the platform records (RFC 5280 §5.3.1); `certificateHold` is not offered: a revocation is final. */
export const REVOCATION_REASONS = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'privilegeWithdrawn'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export interface IssuedCertificate {
  readonly pem: string;
  readonly serialNumber: string;
  readonly fingerprintSha256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface GeneratedKey {
  readonly publicKey: webcrypto.CryptoKey;
  /** PKCS#8 DER of the private key. */
  readonly pkcs8: Buffer;
}

export interface CheckedCsr {
  readonly publicKey: x509.PublicKey;
  readonly keyType: string;
}

/**
 * 16 random bytes with the first in 0x40–0x7f: positive, minimal in DER, always 32 hex digits, so
 * every library prints it the same way; well within RFC 5280's 20 octets.
 */
function newSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex');
}

/** The form stored and compared: uppercase hex, as Node's TLS layer reports a peer's serial. */
export function normaliseSerial(hex: string): string {
  return hex.replace(/:/g, '').toUpperCase();
}

export function fingerprintOf(pemOrDer: string | Buffer): string {
  const der = typeof pemOrDer === 'string' ? Buffer.from(new x509.X509Certificate(pemOrDer).rawData) : pemOrDer;
  return createHash('sha256').update(der).digest('hex');
}

function derInteger(n: number): ArrayBuffer {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let body = Buffer.from(hex, 'hex');
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  const der = Buffer.concat([Buffer.from([0x02, body.length]), body]);
  return der.buffer.slice(der.byteOffset, der.byteOffset + der.length);
}

export async function generateEcKey(): Promise<GeneratedKey> {
  const keys = (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as KeyPair;
  return { publicKey: keys.publicKey, pkcs8: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) };
}

function importSigningKey(pkcs8: Buffer): Promise<SigningKey> {
  return webcrypto.subtle.importKey('pkcs8', pkcs8, EC_KEY, false, ['sign']);
}

/**
 * Reads a PKCS#10 request and applies the platform's rules: the key is ECDSA P-256 or RSA of at
 * least 2048 bits, the request is signed by that key, and its subject's one CN is `expectedCn`.
 * Each broken rule is its own 400 code naming the problem.
 */
export async function checkCsr(pem: string, expectedCn: string, subjectType: string): Promise<CheckedCsr> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem.trim());
  } catch (e) {
    throw new GsError('GS_ERR_PKI_CSR_INVALID', { reason: e instanceof Error ? e.message : String(e) });
  }
  const keyType = describeKey(Buffer.from(csr.publicKey.rawData));
  if (keyType !== 'ECDSA P-256' && !/^RSA (\d+)$/.test(keyType)) throw new GsError('GS_ERR_PKI_CSR_KEY_TYPE', { keyType });
  if (keyType.startsWith('RSA') && Number(keyType.slice(4)) < 2048) throw new GsError('GS_ERR_PKI_CSR_KEY_TYPE', { keyType: `${keyType} bits` });
  let verified = false;
  try {
    verified = await csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) throw new GsError('GS_ERR_PKI_CSR_SIGNATURE');
  const cns = csr.subjectName.getField('CN');
  if (cns.length !== 1 || cns[0] !== expectedCn) throw new GsError('GS_ERR_PKI_CSR_SUBJECT', { subject: csr.subject || '(empty)', subjectType, expected: expectedCn });
  return { publicKey: csr.publicKey, keyType };
}

function describeKey(spki: Buffer): string {
  let key;
  try {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    return 'unreadable';
  }
  const type = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails;
  if (type === 'ec') return details?.namedCurve === 'prime256v1' ? 'ECDSA P-256' : `ECDSA ${details?.namedCurve ?? 'unknown curve'}`;
  if (type === 'rsa') return `RSA ${details?.modulusLength ?? 0}`;
  return type;
}

/** The platform CA: its certificate and sealed-then-opened private key, able to sign. */
export class CertificateAuthority {
  readonly certificate: x509.X509Certificate;

  private constructor(
    readonly pem: string,
    private readonly signingKey: SigningKey,
  ) {
    this.certificate = new x509.X509Certificate(pem);
  }

  static async load(pem: string, pkcs8: Buffer): Promise<CertificateAuthority> {
    return new CertificateAuthority(pem, await importSigningKey(pkcs8));
  }

  /** A new self-signed CA (ECDSA P-256) valid for `years`; returns it with its private key (PKCS#8) to seal. */
  static async create(name: string, now: Date, years: number): Promise<{ authority: CertificateAuthority; pkcs8: Buffer; notBefore: Date; notAfter: Date }> {
    const keys = (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as KeyPair;
    const notBefore = new Date(now.getTime() - 60_000);
    const notAfter = new Date(now);
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + years);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: newSerialNumber(),
      name,
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: EC_SIGNATURE,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    return { authority: new CertificateAuthority(cert.toString('pem'), keys.privateKey), pkcs8, notBefore, notAfter };
  }

  /** Whether this CA signed the certificate (a CA replaced since must not vouch for old ones). */
  async signed(pem: string): Promise<boolean> {
    try {
      return await new x509.X509Certificate(pem).verify({ publicKey: this.certificate.publicKey, signatureOnly: true });
    } catch {
      return false;
    }
  }

  get subject(): string {
    return this.certificate.subject;
  }

  /** A client certificate (TLS client authentication) for a system or user. */
  async issueClient(input: { subject: string; publicKey: x509.PublicKey | webcrypto.CryptoKey; notBefore: Date; notAfter: Date }): Promise<IssuedCertificate> {
    return this.#issue(input.subject, input.publicKey, input.notBefore, input.notAfter, [x509.ExtendedKeyUsage.clientAuth], []);
  }

  /** The exchange listener's certificate for its names (DNS names or IP addresses). */
  async issueServer(input: { names: readonly string[]; publicKey: webcrypto.CryptoKey; notBefore: Date; notAfter: Date }): Promise<IssuedCertificate> {
    const sans = input.names.map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n }));
    return this.#issue(`CN=${input.names[0] ?? 'govshare'}, O=govshare`, input.publicKey, input.notBefore, input.notAfter, [x509.ExtendedKeyUsage.serverAuth], [new x509.SubjectAlternativeNameExtension(sans)]);
  }

  async #issue(subject: string, publicKey: x509.PublicKey | webcrypto.CryptoKey, notBefore: Date, notAfter: Date, usages: string[], more: x509.Extension[]): Promise<IssuedCertificate> {
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: newSerialNumber(),
      subject,
      issuer: this.certificate.subject,
      notBefore,
      notAfter,
      publicKey,
      signingKey: this.signingKey,
      signingAlgorithm: EC_SIGNATURE,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(usages, false),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate.publicKey),
        ...more,
      ],
    });
    return {
      pem: cert.toString('pem'),
      serialNumber: normaliseSerial(cert.serialNumber),
      fingerprintSha256: fingerprintOf(Buffer.from(cert.rawData)),
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
    };
  }

  /** A CRL (DER) listing every revoked certificate; its number is the issue time in seconds, so it only grows. */
  async crl(entries: readonly { serialNumber: string; revokedAt: Date; reason: RevocationReason }[], thisUpdate: Date, nextUpdate: Date): Promise<Buffer> {
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.certificate.subject,
      thisUpdate,
      nextUpdate,
      signingKey: this.signingKey,
      signingAlgorithm: EC_SIGNATURE,
      extensions: [await x509.AuthorityKeyIdentifierExtension.create(this.certificate.publicKey), new x509.Extension('2.5.29.20', false, derInteger(Math.floor(thisUpdate.getTime() / 1000)))],
      entries: entries.map((e) => ({ serialNumber: e.serialNumber, revocationDate: e.revokedAt, reason: x509.X509CrlReason[e.reason] })),
    });
    return Buffer.from(crl.rawData);
  }
}
