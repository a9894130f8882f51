import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Db } from '../../db/database.js';
import { GsError } from '../../lib/errors.js';
import { readKeyFile } from '../../lib/key-file.js';

/**
 * The platform's master key and envelope encryption (AES-256-GCM) of the secrets kept in the
 * database: the CA private key, the audit signing key, and whatever later needs sealing.
 *
 * The key comes from the operator (`GOVSHARE_MASTER_KEY_FILE`: a file holding 32 random bytes,
 * base64) and is never stored in the database. In the quick start, when the operator gave none, a
 * key file is generated in the data directory (outside the database, mode 0600) and every start
 * warns that production needs an operator-provided key. A key check sealed at first use makes a
 * wrong key fail at start (`GS_ERR_KEYS_WRONG_MASTER_KEY`) instead of at the first unseal.
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
   * Loads the operator's key file, or the quick-start key file under the data directory (creating
   * it), then checks it against the key check stored in the database (storing one on first use).
   */
  static async open(db: Db, options: { keyFile: string | undefined; dataDir: string; mayGenerate?: boolean }): Promise<KeyRing> {
    const quickStart = join(options.dataDir, 'master.key');
    // An admin command on a PostgreSQL platform, run away from the server's data directory, has no
    // key unless given one; most commands need none, and a fresh key would only be refused.
    if (!options.keyFile && options.mayGenerate === false && !existsSync(quickStart)) return new KeyRing(Buffer.alloc(0), false, false);
    const ring = options.keyFile ? KeyRing.#fromFile(options.keyFile, false) : KeyRing.#quickStart(quickStart);
    await ring.#check(db);
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

  #requireKey(context: string): void {
    if (!this.available) throw new GsError('GS_ERR_KEYS_MASTER_KEY_MISSING', { context });
  }

  async #check(db: Db): Promise<void> {
    const CHECK_KEY = 'keys.masterKeyCheck';
    const row = await db.selectFrom('platformSettings').select('value').where('key', '=', CHECK_KEY).executeTakeFirst();
    if (!row) {
      await db
        .insertInto('platformSettings')
        .values({ key: CHECK_KEY, value: JSON.stringify(this.seal(Buffer.from('govshare'), CHECK_KEY)) })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
      return this.#check(db); // another server may have stored its check first: verify against it
    }
    try {
      this.open(String(row.value), CHECK_KEY);
    } catch {
      throw new GsError('GS_ERR_KEYS_WRONG_MASTER_KEY', { keyId: this.keyId });
    }
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
