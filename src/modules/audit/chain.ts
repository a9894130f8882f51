import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, hash, sign, verify, type KeyObject } from 'node:crypto';

/**
 * The hash chain's rules, in one place: the canonical serialisation of an event, its hash, and
 * the signed form of a checkpoint. Changing anything here changes every hash: a new rule gets a
 * new version tag (`govshare-audit-v2`), never an edit of this one. See README.md.
 */

export const AUDIT_HASH_ALGORITHMS = ['sha256', 'sm3'] as const;
export type AuditHashAlgorithm = (typeof AUDIT_HASH_ALGORITHMS)[number];

/** `prev_hash` of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

export const SIGNING_ALGORITHM = 'ecdsa-p256-sha256';

/** Who did what to which target, with what outcome: the part of an event every view shares. */
export interface AuditEventFields {
  readonly actorType: string;
  readonly actorId: string | null;
  readonly actorAgencyId: string | null;
  readonly actorName: string;
  readonly action: string;
  readonly targetType: string | null;
  readonly targetId: string | null;
  readonly outcome: string;
  readonly requestId: string | null;
  readonly ip: string | null;
}

/** The fields an event's hash covers, as stored (timestamps as text with microseconds). */
export interface ChainedEvent extends AuditEventFields {
  readonly seq: number;
  readonly hashAlg: AuditHashAlgorithm;
  /** `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds): what PostgreSQL stores, exactly. */
  readonly at: string;
  readonly details: unknown;
  readonly prevHash: string;
}

export function isHashAlgorithm(value: string): value is AuditHashAlgorithm {
  return (AUDIT_HASH_ALGORITHMS as readonly string[]).includes(value);
}

/**
 * JSON with object keys sorted (by UTF-16 code units) at every level, no whitespace; `undefined`
 * object members are left out, as JSON does. Written as loops that sort only when the keys are
 * not already in order: verification runs it for every event. It must stay self-contained (no
 * imports, no closure): the verifier's hashing threads run its source text (`verify-hashing.ts`).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      // A hole is written as nothing, as Array#join writes it (never the case for parsed JSON).
      if (i in value) out += canonicalJson(value[i]);
    }
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      keys.sort();
      break;
    }
  }
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += `${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** A JS Date as the stored timestamp text (JS dates have milliseconds: the last 3 digits are 0). */
export function canonicalTimestamp(date: Date): string {
  return date.toISOString().replace(/Z$/, '000Z');
}

/** The fields of an event's serialisation that do not depend on its place in the chain. */
export type EventBodyFields = Omit<ChainedEvent, 'seq' | 'hashAlg' | 'prevHash'>;

/**
 * The bytes an event's hash is taken over: `canonicalJson` of the array
 * `["govshare-audit-v1", hashAlg, seq, at, actorType, actorId, actorAgencyId, actorName, action,
 * targetType, targetId, outcome, requestId, ip, details, prevHash]`, written out field by field
 * because verification runs it for every event.
 */
export function serialiseEvent(e: ChainedEvent): string {
  return chainedSerialisation(e.hashAlg, e.seq, eventBody(e), e.prevHash);
}

/**
 * The middle of an event's serialisation, from `at` to `details` (with its leading comma): all
 * that an append can write before it holds the lock and knows the event's seq and prevHash.
 * `detailsJson` is `canonicalJson(e.details)` when the caller has it already.
 */
export function eventBody(e: EventBodyFields, detailsJson: string = canonicalJson(e.details)): string {
  const s = JSON.stringify;
  return (
    `,${s(e.at)},${s(e.actorType)},${s(e.actorId)},${s(e.actorAgencyId)},${s(e.actorName)},` +
    `${s(e.action)},${s(e.targetType)},${s(e.targetId)},${s(e.outcome)},${s(e.requestId)},${s(e.ip)},${detailsJson}`
  );
}

/** The whole serialisation of an event around its `eventBody`. */
export function chainedSerialisation(hashAlg: AuditHashAlgorithm, seq: number, body: string, prevHash: string): string {
  return `["govshare-audit-v1",${JSON.stringify(hashAlg)},${JSON.stringify(seq)}${body},${JSON.stringify(prevHash)}]`;
}

export function eventHash(e: ChainedEvent): string {
  return chainedHash(e.hashAlg, e.seq, eventBody(e), e.prevHash);
}

/** The hash of an event given its `eventBody`. */
export function chainedHash(hashAlg: AuditHashAlgorithm, seq: number, body: string, prevHash: string): string {
  // One-shot `hash`: several times faster than createHash for inputs this small.
  return hash(hashAlg, chainedSerialisation(hashAlg, seq, body, prevHash), 'hex');
}

export interface CheckpointFields {
  readonly seq: number;
  readonly hash: string;
  readonly at: Date;
  readonly keyId: string;
}

function checkpointPayload(c: CheckpointFields): Buffer {
  return Buffer.from(`govshare-audit-checkpoint-v1\n${c.seq}\n${c.hash}\n${c.at.toISOString()}\n${c.keyId}`, 'utf8');
}

export function signCheckpoint(c: CheckpointFields, privateKey: KeyObject): string {
  return sign('sha256', checkpointPayload(c), privateKey).toString('base64');
}

export function checkpointSignatureValid(c: CheckpointFields, signature: string, publicKey: KeyObject): boolean {
  try {
    return verify('sha256', checkpointPayload(c), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * What an archive's signature covers: the range of the chain it holds, the hashes at both ends
 * (so consecutive archives and the live chain link up), and the SHA-256 of the archive file's
 * lines before its signature line. The same signature is kept in `audit_archives`, so the live
 * verifier checks the record without the file and an offline verifier checks the file without
 * the database.
 */
export interface ArchiveStatement {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly firstPrevHash: string;
  readonly lastHash: string;
  readonly events: number;
  readonly contentSha256: string;
  readonly at: Date;
  readonly keyId: string;
}

function archivePayload(a: ArchiveStatement): Buffer {
  return Buffer.from(
    `govshare-audit-archive-v1\n${a.firstSeq}\n${a.lastSeq}\n${a.firstPrevHash}\n${a.lastHash}\n${a.events}\n${a.contentSha256}\n${a.at.toISOString()}\n${a.keyId}`,
    'utf8',
  );
}

export function signArchive(a: ArchiveStatement, privateKey: KeyObject): string {
  return sign('sha256', archivePayload(a), privateKey).toString('base64');
}

export function archiveSignatureValid(a: ArchiveStatement, signature: string, publicKey: KeyObject): boolean {
  try {
    return verify('sha256', archivePayload(a), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export interface SigningKeyPair {
  readonly id: string;
  readonly publicKeyPem: string;
  readonly privateKeyDer: Buffer;
}

/** The key id: the first 16 hex digits of the SHA-256 of the public key (SPKI DER). */
export function signingKeyId(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function generateSigningKey(): SigningKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    id: signingKeyId(publicKey),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyDer: privateKey.export({ type: 'pkcs8', format: 'der' }),
  };
}

export function privateKeyFromDer(der: Buffer): KeyObject {
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

/** Whether a private key belongs to a public key (PEM), by comparing the derived public key. */
export function keyPairMatches(privateKey: KeyObject, publicKeyPem: string): boolean {
  return createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString() === createPublicKey(publicKeyPem).export({ type: 'spki', format: 'pem' }).toString();
}

export function publicKeyFromPem(pem: string): KeyObject {
  return createPublicKey(pem);
}
