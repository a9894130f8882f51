import 'reflect-metadata';
import { createHash, createPublicKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate as AsnCertificate, CertificateList as AsnCertificateList, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { sm2 } from 'sm-crypto-v2';
import { GsError } from '../../lib/errors.js';

// @peculiar/x509 works on any WebCrypto implementation; Node's is the one we use everywhere.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/**
 * The CA's key: ECDSA P-256 with SHA-256 (default), or SM2 with SM3 (GB/T 32918, GM/T 0015
 * certificates). The keys of the certificates it issues are ECDSA P-256 or RSA either way: TLS
 * as Node.js speaks it (OpenSSL without TLCP) verifies an SM2-signed chain but cannot use an SM2
 * key for the handshake itself. See docs/pki.md.
 */
export const CA_KEY_ALGORITHMS = ['ecdsa-p256', 'sm2'] as const;
export type CaKeyAlgorithm = (typeof CA_KEY_ALGORITHMS)[number];

/** How each algorithm is named in pki_authorities.key_algorithm and in the audit trail. */
export const CA_KEY_ALGORITHM_NAMES: Readonly<Record<CaKeyAlgorithm, string>> = { 'ecdsa-p256': 'ECDSA P-256', sm2: 'SM2' };

export function caKeyAlgorithmNamed(name: string): CaKeyAlgorithm {
  const found = CA_KEY_ALGORITHMS.find((a) => CA_KEY_ALGORITHM_NAMES[a] === name);
  if (!found) throw new Error(`unknown CA key algorithm ${JSON.stringify(name)}`);
  return found;
}

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGNATURE = { name: 'ECDSA', hash: 'SHA-256' } as const;

const SM2_WITH_SM3 = '1.2.156.10197.1.501';
const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
/** DER of the OID 1.2.156.10197.1.301 (sm2p256v1), the curve parameter of an SM2 public key. */
const SM2_CURVE_DER = Buffer.from('06082a811ccf5501822d', 'hex');

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

/** An SM2 key pair as sm-crypto-v2 holds it: the private scalar and the uncompressed point, in hex. */
interface Sm2Key {
  readonly privateKeyHex: string;
  readonly publicKeyHex: string;
}

/** The SubjectPublicKeyInfo (DER) of an SM2 public key: id-ecPublicKey on the curve sm2p256v1. */
function sm2Spki(publicKeyHex: string): Buffer {
  const spki = new SubjectPublicKeyInfo({
    algorithm: new AlgorithmIdentifier({ algorithm: EC_PUBLIC_KEY, parameters: SM2_CURVE_DER.buffer.slice(SM2_CURVE_DER.byteOffset, SM2_CURVE_DER.byteOffset + SM2_CURVE_DER.length) }),
    subjectPublicKey: toArrayBuffer(Buffer.from(publicKeyHex, 'hex')),
  });
  return Buffer.from(AsnConvert.serialize(spki));
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spkiDer: Buffer): string {
  const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo);
  return createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest('hex');
}

/**
 * The SM2 distinguishing ID in Z = SM3(ENTL‖ID‖curve‖key) of every signature. GB/T 35276 and
 * GM/T 0015 name 1234567812345678 as the default for certificates, but the OpenSSL 3.0 under
 * Node.js verifies certificate signatures with an empty ID unless told otherwise, and it is that
 * OpenSSL which checks the chain at every TLS handshake. So the ID is the one this Node.js
 * verifies, found once by signing a probe certificate with each (docs/pki.md#sm2).
 */
const SM2_IDS = ['1234567812345678', ''] as const;
let sm2IdInUse: Promise<string> | undefined;

function sm2Id(): Promise<string> {
  sm2IdInUse ??= (async () => {
    const pair = sm2.generateKeyPairHex();
    const probeKey = { privateKeyHex: pair.privateKey, publicKeyHex: pair.publicKey };
    for (const id of SM2_IDS) {
      const pem = new x509.X509Certificate(await selfSignedSm2('CN=govshare SM2 probe', new Date(), new Date(Date.now() + 86_400_000), probeKey, id)).toString('pem');
      const cert = new X509Certificate(pem);
      if (cert.verify(cert.publicKey)) return id;
    }
    throw new Error('this Node.js (its OpenSSL) verifies SM2 certificate signatures with neither the standard nor the empty distinguishing ID');
  })();
  return sm2IdInUse;
}

/** SM2 signature (DER) with SM3 over Z‖message. */
function sm2Sign(message: ArrayBuffer, key: Sm2Key, userId: string): ArrayBuffer {
  return toArrayBuffer(Buffer.from(sm2.doSignature(new Uint8Array(message), key.privateKeyHex, { der: true, hash: true, publicKey: key.publicKeyHex, userId }), 'hex'));
}

/**
 * The first element of a DER SEQUENCE, byte for byte: the to-be-signed part of a certificate or
 * CRL exactly as it was signed (re-encoding a parsed structure could differ from the original).
 */
function firstElement(der: Buffer): Buffer {
  const headerLength = (at: number): { header: number; length: number } => {
    const first = der[at + 1]!;
    if (first < 0x80) return { header: 2, length: first };
    const n = first & 0x7f;
    let length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[at + 2 + i]!;
    return { header: 2 + n, length };
  };
  const outer = headerLength(0);
  const inner = headerLength(outer.header);
  return der.subarray(outer.header, outer.header + inner.header + inner.length);
}

/**
 * @peculiar/x509 signs with WebCrypto, which has no SM2: a certificate or CRL it built (signed
 * with a throwaway ECDSA key) is re-signed here — algorithm identifiers set to SM2-with-SM3 in
 * the to-be-signed part and outside it, then the new to-be-signed bytes signed with SM2.
 */
function resignWithSm2(der: ArrayBuffer, kind: 'certificate' | 'crl', key: Sm2Key, userId: string): Buffer {
  const algorithm = (): AlgorithmIdentifier => new AlgorithmIdentifier({ algorithm: SM2_WITH_SM3 });
  if (kind === 'certificate') {
    const cert = AsnConvert.parse(der, AsnCertificate);
    cert.tbsCertificate.signature = algorithm();
    cert.signatureAlgorithm = algorithm();
    cert.signatureValue = sm2Sign(AsnConvert.serialize(cert.tbsCertificate), key, userId);
    return Buffer.from(AsnConvert.serialize(cert));
  }
  const crl = AsnConvert.parse(der, AsnCertificateList);
  crl.tbsCertList.signature = algorithm();
  crl.signatureAlgorithm = algorithm();
  crl.signature = sm2Sign(AsnConvert.serialize(crl.tbsCertList), key, userId);
  return Buffer.from(AsnConvert.serialize(crl));
}

/** Whether `der` (certificate) carries a valid SM2-with-SM3 signature by `publicKeyHex`. */
function sm2Verifies(der: Buffer, publicKeyHex: string, userId: string): boolean {
  const cert = AsnConvert.parse(der, AsnCertificate);
  if (cert.signatureAlgorithm.algorithm !== SM2_WITH_SM3) return false;
  const signatureHex = Buffer.from(cert.signatureValue).toString('hex');
  return sm2.doVerifySignature(new Uint8Array(firstElement(der)), signatureHex, publicKeyHex, { der: true, hash: true, userId });
}

/** The uncompressed public point (hex) of an SM2 certificate's key. */
function sm2PublicKeyOf(certificate: x509.X509Certificate): string {
  return Buffer.from(AsnConvert.parse(certificate.publicKey.rawData, SubjectPublicKeyInfo).subjectPublicKey).toString('hex');
}

/** A self-signed SM2 CA certificate (DER) for `key`, signed with distinguishing ID `userId`. */
async function selfSignedSm2(name: string, notBefore: Date, notAfter: Date, key: Sm2Key, userId: string): Promise<Buffer> {
  const spki = sm2Spki(key.publicKeyHex);
  const draft = await x509.X509CertificateGenerator.create({
    serialNumber: newSerialNumber(),
    subject: name,
    issuer: name,
    notBefore,
    notAfter,
    publicKey: toArrayBuffer(spki),
    signingKey: await standInKey(),
    signingAlgorithm: EC_SIGNATURE,
    extensions: caExtensions(keyIdentifier(spki)),
  });
  return resignWithSm2(draft.rawData, 'certificate', key, userId);
}

function caExtensions(keyId: string): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    new x509.SubjectKeyIdentifierExtension(keyId),
  ];
}

/** The private key of the CA, by algorithm; what is sealed in the database is its `sealed` form. */
type AuthorityKey = { readonly algorithm: 'ecdsa-p256'; readonly key: SigningKey } | { readonly algorithm: 'sm2'; readonly key: Sm2Key; readonly stand: SigningKey; readonly userId: string };

/** A throwaway ECDSA key @peculiar/x509 signs with before an SM2 CA re-signs (see resignWithSm2). */
async function standInKey(): Promise<SigningKey> {
  return ((await webcrypto.subtle.generateKey(EC_KEY, false, ['sign', 'verify'])) as KeyPair).privateKey;
}

/** The platform CA: its certificate and sealed-then-opened private key, able to sign. */
export class CertificateAuthority {
  readonly certificate: x509.X509Certificate;
  readonly #key: AuthorityKey;
  /** The CA's key identifier (its certificate's SubjectKeyIdentifier): every issued certificate names it. */
  readonly #keyId: string;

  private constructor(
    readonly pem: string,
    key: AuthorityKey,
  ) {
    this.certificate = new x509.X509Certificate(pem);
    this.#key = key;
    const ski = this.certificate.getExtension(x509.SubjectKeyIdentifierExtension);
    this.#keyId = ski ? ski.keyId : keyIdentifier(Buffer.from(this.certificate.publicKey.rawData));
  }

  get algorithm(): CaKeyAlgorithm {
    return this.#key.algorithm;
  }

  /** `privateKey` as `create` returned it: PKCS#8 DER (ECDSA) or the 32-byte private scalar (SM2). */
  static async load(pem: string, privateKey: Buffer, algorithm: CaKeyAlgorithm = 'ecdsa-p256'): Promise<CertificateAuthority> {
    if (algorithm === 'ecdsa-p256') return new CertificateAuthority(pem, { algorithm, key: await importSigningKey(privateKey) });
    // The public key is the certificate's: a private key that does not match it signs nothing that verifies.
    const publicKeyHex = sm2PublicKeyOf(new x509.X509Certificate(pem));
    return new CertificateAuthority(pem, { algorithm, key: { privateKeyHex: privateKey.toString('hex'), publicKeyHex }, stand: await standInKey(), userId: await sm2Id() });
  }

  /**
   * A new self-signed CA valid for `years`; returns it with its private key to seal (PKCS#8 DER
   * for ECDSA, the 32-byte private scalar for SM2).
   */
  static async create(name: string, now: Date, years: number, algorithm: CaKeyAlgorithm = 'ecdsa-p256'): Promise<{ authority: CertificateAuthority; privateKey: Buffer; notBefore: Date; notAfter: Date }> {
    const notBefore = new Date(now.getTime() - 60_000);
    const notAfter = new Date(now);
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + years);
    if (algorithm === 'ecdsa-p256') {
      const keys = (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as KeyPair;
      const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
      const cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: newSerialNumber(), name, notBefore, notAfter, keys, signingAlgorithm: EC_SIGNATURE, extensions: caExtensions(keyIdentifier(spki)) });
      const privateKey = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
      return { authority: new CertificateAuthority(cert.toString('pem'), { algorithm, key: keys.privateKey }), privateKey, notBefore, notAfter };
    }
    const pair = sm2.generateKeyPairHex();
    const key: Sm2Key = { privateKeyHex: pair.privateKey, publicKeyHex: pair.publicKey };
    const userId = await sm2Id();
    const pem = new x509.X509Certificate(await selfSignedSm2(name, notBefore, notAfter, key, userId)).toString('pem');
    return { authority: new CertificateAuthority(pem, { algorithm, key, stand: await standInKey(), userId }), privateKey: Buffer.from(key.privateKeyHex.padStart(64, '0'), 'hex'), notBefore, notAfter };
  }

  /** Whether this CA signed the certificate (a CA replaced since must not vouch for old ones). */
  async signed(pem: string): Promise<boolean> {
    try {
      if (this.#key.algorithm === 'sm2') return sm2Verifies(Buffer.from(new x509.X509Certificate(pem).rawData), this.#key.key.publicKeyHex, this.#key.userId);
      return await new x509.X509Certificate(pem).verify({ publicKey: this.certificate.publicKey, signatureOnly: true });
    } catch {
      return false;
    }
  }

  /** The key @peculiar/x509 signs with: the CA's own, or the stand-in an SM2 CA re-signs over. */
  get #generatorKey(): SigningKey {
    return this.#key.algorithm === 'sm2' ? this.#key.stand : this.#key.key;
  }

  #finish(der: ArrayBuffer, kind: 'certificate' | 'crl'): Buffer {
    return this.#key.algorithm === 'sm2' ? resignWithSm2(der, kind, this.#key.key, this.#key.userId) : Buffer.from(der);
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
    const draft = await x509.X509CertificateGenerator.create({
      serialNumber: newSerialNumber(),
      subject,
      issuer: this.certificate.subject,
      notBefore,
      notAfter,
      publicKey,
      signingKey: this.#generatorKey,
      signingAlgorithm: EC_SIGNATURE,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(usages, false),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        new x509.AuthorityKeyIdentifierExtension(this.#keyId),
        ...more,
      ],
    });
    const cert = new x509.X509Certificate(this.#finish(draft.rawData, 'certificate'));
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
      signingKey: this.#generatorKey,
      signingAlgorithm: EC_SIGNATURE,
      extensions: [new x509.AuthorityKeyIdentifierExtension(this.#keyId), new x509.Extension('2.5.29.20', false, derInteger(Math.floor(thisUpdate.getTime() / 1000)))],
      entries: entries.map((e) => ({ serialNumber: e.serialNumber, revocationDate: e.revokedAt, reason: x509.X509CrlReason[e.reason] })),
    });
    return this.#finish(crl.rawData, 'crl');
  }
}
