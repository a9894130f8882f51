import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { GsError } from '../../lib/errors.js';

/**
 * Encryption of sensitive values in the shared tables, and their blind index.
 *
 * A value is stored as `format (1 byte) | key number (4 bytes, big-endian) | body`:
 * - format 1, AES-256-GCM: body = nonce (12) | ciphertext | tag (16);
 * - format 2, SM4-CBC + HMAC-SHA256 (encrypt-then-MAC; Node has no SM4-GCM): body = iv (16) |
 *   ciphertext | mac (32), the SM4 and MAC keys derived from the data key with HKDF.
 * The additional data binds a value to its resource and column, so a ciphertext copied into
 * another column or table does not open. The key number names the data key (exchange_data_keys),
 * so a new key can take over while values under older ones still open.
 *
 * The blind index is HMAC-SHA256 under a separate key over the resource code and the value: equal
 * values give equal hashes within one resource (lookups and comparison use it without
 * decrypting), and nothing links the same value across resources.
 */
export const DATA_CIPHERS = ['aes-256-gcm', 'sm4'] as const;
export type DataCipherName = (typeof DATA_CIPHERS)[number];

export type DataKeyAlgorithm = 'aes-256-gcm' | 'sm4-cbc-hmac-sha256';

export const ALGORITHM_OF: Readonly<Record<DataCipherName, DataKeyAlgorithm>> = { 'aes-256-gcm': 'aes-256-gcm', sm4: 'sm4-cbc-hmac-sha256' };

const FORMAT = { 'aes-256-gcm': 1, 'sm4-cbc-hmac-sha256': 2 } as const;

export interface DataKey {
  readonly id: number;
  readonly algorithm: DataKeyAlgorithm;
  readonly key: Buffer;
}

/** The SM4 and MAC keys of a format-2 data key, derived with HKDF; as KeyObjects, imported once. */
function sm4Keys(key: Buffer): { enc: KeyObject; mac: KeyObject } {
  const okm = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'govshare exchange sm4-cbc-hmac', 48));
  return { enc: createSecretKey(okm.subarray(0, 16)), mac: createSecretKey(okm.subarray(16)) };
}

function header(k: DataKey): Buffer {
  const h = Buffer.alloc(5);
  h[0] = FORMAT[k.algorithm];
  h.writeUInt32BE(k.id, 1);
  return h;
}

/**
 * What every value under one key repeats, made once per key: the AES key as a KeyObject (a raw
 * key is imported again by each cipher made from it), or the SM4 and MAC keys derived from it (an
 * HKDF per value cost more than the SM4 itself), the header, and the additional data per column
 * (`header | aad`). A million-row load or comparison encrypts or decrypts a value per row.
 */
interface Prepared {
  readonly aesKey: KeyObject | undefined;
  readonly sm4: { readonly enc: KeyObject; readonly mac: KeyObject } | undefined;
  readonly head: Buffer;
  readonly additional: Map<string, Buffer>;
}
const prepared = new WeakMap<DataKey, Prepared>();
/** Columns remembered per key; past this the map starts over (a process serves a bounded number of columns). */
const MAX_COLUMNS = 10_000;

function prepare(k: DataKey): Prepared {
  let p = prepared.get(k);
  if (!p) {
    const aes = k.algorithm === 'aes-256-gcm';
    p = { aesKey: aes ? createSecretKey(k.key) : undefined, sm4: aes ? undefined : sm4Keys(k.key), head: header(k), additional: new Map() };
    prepared.set(k, p);
  }
  return p;
}

/** `header | aad`, as the cipher authenticates it. */
function additionalData(p: Prepared, aad: string): Buffer {
  let a = p.additional.get(aad);
  if (!a) {
    if (p.additional.size >= MAX_COLUMNS) p.additional.clear();
    a = Buffer.concat([p.head, Buffer.from(aad, 'utf8')]);
    p.additional.set(aad, a);
  }
  return a;
}

/**
 * Nonces and IVs cut from a pool of random bytes, each byte used once: a call to the system's
 * random source per value cost more than the encryption itself (a million-row load).
 */
let pool = Buffer.alloc(0);
let poolAt = 0;
function freshBytes(n: number): Buffer {
  if (poolAt + n > pool.length) {
    // A new buffer, never refilled in place: slices handed out earlier stay as they were.
    pool = randomBytes(64 * 1024);
    poolAt = 0;
  }
  const b = pool.subarray(poolAt, poolAt + n);
  poolAt += n;
  return b;
}

/** Encrypts with the current key; `aad` is `<resource code>/<column>`. */
export function encryptValue(k: DataKey, plaintext: string, aad: string): Buffer {
  const p = prepare(k);
  if (p.aesKey) {
    const nonce = freshBytes(12);
    const c = createCipheriv('aes-256-gcm', p.aesKey, nonce);
    c.setAAD(additionalData(p, aad));
    // GCM is a stream mode: update gives the whole ciphertext, final nothing but the tag.
    const body = c.update(plaintext, 'utf8');
    c.final();
    const out = Buffer.allocUnsafe(5 + 12 + body.length + 16);
    p.head.copy(out, 0);
    nonce.copy(out, 5);
    body.copy(out, 17);
    c.getAuthTag().copy(out, 17 + body.length);
    return out;
  }
  const { enc, mac } = p.sm4 ?? sm4Keys(k.key);
  const iv = freshBytes(16);
  const c = createCipheriv('sm4-cbc', enc, iv);
  const body = Buffer.concat([iv, c.update(Buffer.from(plaintext, 'utf8')), c.final()]);
  const tag = createHmac('sha256', mac).update(p.head).update(body).update(Buffer.from(aad, 'utf8')).digest();
  return Buffer.concat([p.head, body, tag]);
}

/** The key number a stored value was encrypted under. */
export function keyIdOf(stored: Buffer): number {
  if (stored.length < 5) throw new GsError('GS_ERR_DATA_DECRYPT', { reason: 'truncated value' });
  return stored.readUInt32BE(1);
}

export function decryptValue(k: DataKey, stored: Buffer, aad: string): string {
  const head = stored.subarray(0, 5);
  const fail = (reason: string) => new GsError('GS_ERR_DATA_DECRYPT', { reason });
  if (stored[0] !== FORMAT[k.algorithm] || keyIdOf(stored) !== k.id) throw fail(`not encrypted under data key ${k.id} (${k.algorithm})`);
  try {
    const p = prepare(k);
    if (p.aesKey) {
      if (stored.length < 5 + 12 + 16) throw fail('truncated value');
      const d = createDecipheriv('aes-256-gcm', p.aesKey, stored.subarray(5, 17));
      d.setAAD(additionalData(p, aad));
      d.setAuthTag(stored.subarray(stored.length - 16));
      const text = d.update(stored.subarray(17, stored.length - 16)).toString('utf8');
      // Throws unless the tag authenticates: the text is returned only then.
      d.final();
      return text;
    }
    const { enc, mac } = p.sm4 ?? sm4Keys(k.key);
    const body = stored.subarray(5, stored.length - 32);
    const tag = stored.subarray(stored.length - 32);
    const want = createHmac('sha256', mac).update(head).update(body).update(Buffer.from(aad, 'utf8')).digest();
    if (tag.length !== 32 || !timingSafeEqual(tag, want)) throw fail('authentication failed (wrong key, wrong column or altered data)');
    const d = createDecipheriv('sm4-cbc', enc, body.subarray(0, 16));
    return Buffer.concat([d.update(body.subarray(16)), d.final()]).toString('utf8');
  } catch (e) {
    if (e instanceof GsError) throw e;
    throw fail('authentication failed (wrong key, wrong column or altered data)');
  }
}

/** The blind index of a value of a resource: HMAC-SHA256(index key, resource code NUL value). */
export function blindIndex(indexKey: Buffer, resourceCode: string, value: string): Buffer {
  return createHmac('sha256', indexKey).update(resourceCode, 'utf8').update(Buffer.from([0])).update(value, 'utf8').digest();
}
