import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Db } from '../../db/database.js';
import { GsError } from '../../lib/errors.js';
import { readKeyFile } from '../../lib/key-file.js';
import { checkPassphraseStrength, deriveMasterKey, MASTER_PASSPHRASE_ENV, newScryptParams, parseScryptParams, readPassphraseFile, type MasterPassphrase, type ScryptParams } from './passphrase.js';

/** Where the master key comes from; one of them, never several. */
export interface MasterKeyOptions {
  /** `GOVSHARE_MASTER_KEY_FILE`: 32 random bytes, base64. */
  readonly keyFile: string | undefined;
  /** `GOVSHARE_MASTER_PASSPHRASE_FILE`: a file holding the passphrase. */
  readonly passphraseFile?: string | undefined;
  /** `GOVSHARE_MASTER_PASSPHRASE`: the passphrase from the environment. */
  readonly passphrase?: MasterPassphrase | undefined;
  readonly dataDir: string;
  /** False for admin commands other than `init`: they never create the quick-start key. */
  readonly mayGenerate?: boolean;
}

/** The platform_settings row that proves a key is the platform's (see README.md). */
const CHECK_KEY = 'keys.masterKeyCheck';

/**
 * The key check as stored: a sealed constant, and for a passphrase platform the scrypt parameters
 * and salt. A key-file platform stores the sealed string alone (the format from before passphrases).
 */
interface StoredCheck {
  readonly sealed: string;
  readonly scrypt: ScryptParams | undefined;
}

const KEY_FILE_KIND = `a key file (GOVSHARE_MASTER_KEY_FILE, or the quick start's DATA_DIR/master.key)`;
const PASSPHRASE_KIND = `a passphrase (GOVSHARE_MASTER_PASSPHRASE_FILE or ${MASTER_PASSPHRASE_ENV})`;

/**
 * The platform's master key and envelope encryption (AES-256-GCM) of the secrets kept in the
 * database: the CA private key, the audit signing key, TOTP secrets, TLS keys.
 *
 * The key comes from the operator and is never stored in the database: either a key file
 * (`GOVSHARE_MASTER_KEY_FILE`: 32 random bytes, base64), or a passphrase (a file or the
 * environment) from which it is derived with scrypt and a random salt kept in the database. In
 * the quick start, when the operator gave neither, a key file is generated in the data directory
 * (outside the database, mode 0600) and every start warns that production needs an
 * operator-provided key. A key check sealed at first use makes a wrong key fail at start
 * (`GS_ERR_KEYS_WRONG_MASTER_KEY`) instead of at the first unseal.
 *
 * Sealed form: `gsk1.<keyId>.<nonce b64url>.<ciphertext+tag b64url>`; the context string (what the
 * secret is for) is bound as additional authenticated data, so a sealed value cannot be moved to
 * another purpose.
 */
export class KeyRing {
  readonly keyId: string;
  /** True when the key was generated for the quick start rather than provided by the operator. */
  readonly generated: boolean;
  /** False for an admin command run where the master key is not at hand (see `open`). */
  readonly available: boolean;
  readonly #key: Buffer;

  private constructor(key: Buffer, generated: boolean, available = true) {
    this.available = available;
    if (!available) {
      this.#key = Buffer.alloc(32);
      this.keyId = 'unavailable';
      this.generated = false;
      return;
    }
    if (key.length !== 32) throw new GsError('GS_ERR_KEYS_MASTER_KEY_INVALID', { reason: `the key must be 32 bytes, got ${key.length}` });
    this.#key = key;
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
    this.generated = generated;
  }

  /** A random in-memory key (tests). */
  static ephemeral(): KeyRing {
    return new KeyRing(randomBytes(32), true);
  }

  /**
   * Loads the operator's key file, derives the key from the operator's passphrase, or loads the
   * quick-start key file under the data directory (creating it), then checks the key against the
   * key check stored in the database (storing one on first use).
   */
  static async open(db: Db, options: MasterKeyOptions): Promise<KeyRing> {
    checkOneMasterKeySource(options);
    const passphrase = options.passphraseFile !== undefined ? readPassphraseFile(options.passphraseFile) : options.passphrase;
    if (passphrase) return KeyRing.#fromPassphrase(db, passphrase);

    const quickStart = join(options.dataDir, 'master.key');
    // An admin command on a PostgreSQL platform, run away from the server's data directory, has no
    // key unless given one; most commands need none, and a fresh key would only be refused.
    if (!options.keyFile && options.mayGenerate === false && !existsSync(quickStart)) return new KeyRing(Buffer.alloc(0), false, false);
    const stored = await readCheck(db);
    // A platform initialised with the operator's key would only refuse a fresh quick-start key:
    // say what is missing instead, and leave no stray key file behind.
    if (!options.keyFile && stored && !existsSync(quickStart)) {
      throw new GsError('GS_ERR_KEYS_MASTER_KEY_MISSING', { context: `this platform was initialised with ${stored.scrypt ? 'a passphrase' : 'a key file'}` });
    }
    const ring = options.keyFile ? KeyRing.#fromFile(options.keyFile, false) : KeyRing.#quickStart(quickStart);
    const label = `${options.keyFile ? 'key file' : 'quick-start key file'} ${options.keyFile ?? quickStart}, key id ${ring.keyId}`;
    if (!stored && (await insertCheck(db, JSON.stringify(ring.seal(Buffer.from('govshare'), CHECK_KEY))))) return ring;
    // Another server may have stored its check first: verify against it.
    ring.#verify(stored ?? (await readStoredCheck(db)), label, KEY_FILE_KIND);
    return ring;
  }

  static #fromFile(path: string, generated: boolean): KeyRing {
    return new KeyRing(readKeyFile(path, (reason) => new GsError('GS_ERR_KEYS_MASTER_KEY_INVALID', { reason })), generated);
  }

  static #quickStart(path: string): KeyRing {
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    }
    return KeyRing.#fromFile(path, true);
  }

  /**
   * The key derived from a passphrase. The first start draws the salt and stores it in the same
   * row as the key check, in one insert: servers starting together on one database agree on one
   * salt, and a platform never has a salt without the check made with it.
   */
  static async #fromPassphrase(db: Db, passphrase: MasterPassphrase): Promise<KeyRing> {
    checkPassphraseStrength(passphrase);
    let stored = await readCheck(db);
    if (!stored) {
      const scrypt = newScryptParams();
      const ring = new KeyRing(await deriveMasterKey(passphrase, scrypt), false);
      if (await insertCheck(db, JSON.stringify({ check: ring.seal(Buffer.from('govshare'), CHECK_KEY), scrypt }))) return ring;
      stored = await readStoredCheck(db); // another server stored its check (and salt) first
    }
    const label = `passphrase from ${passphrase.source}`;
    // A key-file platform has no salt: no passphrase can be right, and there is nothing to derive.
    if (!stored.scrypt) throw new GsError('GS_ERR_KEYS_WRONG_MASTER_KEY', { given: label, expected: expectedKey(stored, PASSPHRASE_KIND) });
    const ring = new KeyRing(await deriveMasterKey(passphrase, stored.scrypt), false);
    ring.#verify(stored, `${label}, key id ${ring.keyId}`, PASSPHRASE_KIND);
    return ring;
  }

  #requireKey(context: string): void {
    if (!this.available) throw new GsError('GS_ERR_KEYS_MASTER_KEY_MISSING', { context });
  }

  /** Refuses this key unless it opens the stored check; `kind` is how it was given (key file or passphrase). */
  #verify(stored: StoredCheck, label: string, kind: string): void {
    let opens = kindOf(stored) === kind;
    try {
      if (opens) this.open(stored.sealed, CHECK_KEY);
    } catch {
      opens = false;
    }
    if (!opens) throw new GsError('GS_ERR_KEYS_WRONG_MASTER_KEY', { given: label, expected: expectedKey(stored, kind) });
  }

  /** Whether `key` is this master key (so that another key, such as the backup key, is not it). */
  isKey(key: Uint8Array): boolean {
    return key.length === this.#key.length && timingSafeEqual(key, this.#key);
  }

  seal(plaintext: Uint8Array, context: string): string {
    this.#requireKey(context);
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return `gsk1.${this.keyId}.${nonce.toString('base64url')}.${body.toString('base64url')}`;
  }

  open(sealed: string, context: string): Buffer {
    this.#requireKey(context);
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== 'gsk1') throw new GsError('GS_ERR_KEYS_UNSEAL', { context, reason: 'not a sealed value' });
    if (parts[1] !== this.keyId) throw new GsError('GS_ERR_KEYS_UNSEAL', { context, reason: `sealed under key ${parts[1]}, not the current key ${this.keyId}` });
    const nonce = Buffer.from(parts[2]!, 'base64url');
    const body = Buffer.from(parts[3]!, 'base64url');
    if (nonce.length !== 12 || body.length < 16) throw new GsError('GS_ERR_KEYS_UNSEAL', { context, reason: 'truncated' });
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce);
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
    } catch {
      throw new GsError('GS_ERR_KEYS_UNSEAL', { context, reason: 'authentication failed (wrong key, wrong context or altered data)' });
    }
  }
}

/** Refuses a master key given more than one way (GS_ERR_CONFIG_INVALID naming every way given). */
export function checkOneMasterKeySource(options: Pick<MasterKeyOptions, 'keyFile' | 'passphraseFile' | 'passphrase'>): void {
  const given = [
    options.keyFile !== undefined ? 'GOVSHARE_MASTER_KEY_FILE' : undefined,
    options.passphraseFile !== undefined ? 'GOVSHARE_MASTER_PASSPHRASE_FILE' : undefined,
    options.passphrase !== undefined ? MASTER_PASSPHRASE_ENV : undefined,
  ].filter((g) => g !== undefined);
  if (given.length > 1) {
    throw new GsError('GS_ERR_CONFIG_INVALID', { key: given.join(' and '), reason: 'the master key is given one way only: a key file, or a passphrase (from a file or from the environment)' });
  }
}

async function readCheck(db: Db): Promise<StoredCheck | undefined> {
  const row = await db.selectFrom('platformSettings').select('value').where('key', '=', CHECK_KEY).executeTakeFirst();
  if (!row) return undefined;
  const value: unknown = row.value;
  if (typeof value === 'string') return { sealed: value, scrypt: undefined };
  const object = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  const scrypt = parseScryptParams(object.scrypt);
  if (typeof object.check !== 'string' || !scrypt) {
    throw new GsError('GS_ERR_KEYS_MASTER_KEY_INVALID', { reason: `the key check stored in the database (platform_settings ${CHECK_KEY}) is damaged` });
  }
  return { sealed: object.check, scrypt };
}

/** The check another process has just stored (a conflict on insert means there is one). */
async function readStoredCheck(db: Db): Promise<StoredCheck> {
  const stored = await readCheck(db);
  if (!stored) throw new GsError('GS_ERR_KEYS_MASTER_KEY_INVALID', { reason: `the key check (platform_settings ${CHECK_KEY}) vanished while it was being stored` });
  return stored;
}

/** Stores the check unless one exists; whether this one was stored. */
async function insertCheck(db: Db, value: string): Promise<boolean> {
  const inserted = await db
    .insertInto('platformSettings')
    .values({ key: CHECK_KEY, value })
    .onConflict((oc) => oc.column('key').doNothing())
    .returning('key')
    .executeTakeFirst();
  return inserted !== undefined;
}

function kindOf(stored: StoredCheck): string {
  return stored.scrypt ? PASSPHRASE_KIND : KEY_FILE_KIND;
}

/** What the platform's key is, for the refusal of another: its kind when that differs, and its id. */
function expectedKey(stored: StoredCheck, givenKind: string): string {
  const id = `key id ${sealedKeyId(stored.sealed)}`;
  return kindOf(stored) === givenKind ? id : `${kindOf(stored)}, ${id}`;
}

/** The key id a sealed value names (its second field): not secret, it is in every sealed value. */
function sealedKeyId(sealed: string): string {
  return sealed.split('.')[1] ?? 'unknown';
}
