import { randomBytes, scrypt } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { inspect } from 'node:util';
import { GsError } from '../../lib/errors.js';

/** The environment variable that may hold the passphrase (never the config file). */
export const MASTER_PASSPHRASE_ENV = 'GOVSHARE_MASTER_PASSPHRASE';

/** The shortest passphrase accepted, in characters (Unicode code points, so 16 汉字 count 16). */
export const MIN_PASSPHRASE_LENGTH = 16;
/** … of which at least this many different ones: `aaaa…` or `abcdabcd…` are refused. */
export const MIN_PASSPHRASE_DISTINCT = 8;

/**
 * scrypt cost for new platforms: N = 2^17, r = 8 uses 128 MiB and about half a second per
 * derivation on a current server core — paid once per process start, and by anyone guessing the
 * passphrase once per guess. The parameters are stored beside the salt, so they can be raised for
 * new platforms without breaking existing ones.
 */
export const SCRYPT_COST = { N: 2 ** 17, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
/** A tampered database must not make a start allocate without bound: these cap what is accepted. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

/** How the master key is derived from the passphrase; stored (not secret) with the key check. */
export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  /** base64 */
  readonly salt: string;
}

/**
 * A master passphrase and where it came from. The text is kept in a private field: a Config
 * holding one may end up in a log line or a JSON dump, which must show the source, never the text.
 */
export class MasterPassphrase {
  readonly #text: string;

  /** `source` names where the text came from (a variable or a file), for messages. */
  constructor(
    text: string,
    readonly source: string,
  ) {
    // A trailing line break (echo, a secrets manager's file, an editor) is not part of the
    // passphrase, and NFC makes the same words typed on different systems the same bytes.
    this.#text = text.replace(/[\r\n]+$/, '').normalize('NFC');
  }

  /** The text, for the key derivation only. */
  reveal(): string {
    return this.#text;
  }

  toString(): string {
    return `[passphrase from ${this.source}]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** Reads a passphrase file, which (like the key file) must be readable by its owner only. */
export function readPassphraseFile(path: string): MasterPassphrase {
  const refuse = (reason: string): GsError => new GsError('GS_ERR_KEYS_MASTER_KEY_INVALID', { reason });
  let text: string;
  let mode: number;
  try {
    text = readFileSync(path, 'utf8');
    mode = statSync(path).mode;
  } catch (e) {
    throw refuse(`cannot read the passphrase file ${path}: ${(e as Error).message}`);
  }
  if ((mode & 0o077) !== 0) throw refuse(`the passphrase file ${path} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  return new MasterPassphrase(text, `the passphrase file ${path}`);
}

/** Refuses a passphrase too short or too repetitive to stand up to guessing (GS_ERR_KEYS_PASSPHRASE_WEAK). */
export function checkPassphraseStrength(passphrase: MasterPassphrase): void {
  const chars = [...passphrase.reveal()];
  const distinct = new Set(chars).size;
  let reason: string | undefined;
  if (chars.length < MIN_PASSPHRASE_LENGTH) reason = `it has ${chars.length} characters, at least ${MIN_PASSPHRASE_LENGTH} are needed`;
  else if (distinct < MIN_PASSPHRASE_DISTINCT) reason = `it uses ${distinct} different characters, at least ${MIN_PASSPHRASE_DISTINCT} are needed`;
  if (reason) throw new GsError('GS_ERR_KEYS_PASSPHRASE_WEAK', { source: passphrase.source, reason });
}

/** Parameters for a new platform: the current cost and a fresh random salt. */
export function newScryptParams(): ScryptParams {
  return { ...SCRYPT_COST, salt: randomBytes(SALT_BYTES).toString('base64') };
}

/** The stored parameters, checked: undefined when they are not usable (a damaged or tampered row). */
export function parseScryptParams(raw: unknown): ScryptParams | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const { N, r, p, salt } = raw as Record<string, unknown>;
  const whole = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max;
  if (!whole(N, MAX_N) || N < 2 || (N & (N - 1)) !== 0 || !whole(r, MAX_R) || !whole(p, MAX_P)) return undefined;
  if (typeof salt !== 'string' || Buffer.from(salt, 'base64').length < SALT_BYTES) return undefined;
  return { N, r, p, salt };
}

/** The 32-byte master key: scrypt(passphrase, salt). Runs on libuv's thread pool, not the event loop. */
export function deriveMasterKey(passphrase: MasterPassphrase, params: ScryptParams): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; Node refuses above `maxmem` (32 MiB by default).
  const maxmem = 128 * params.N * params.r + 128 * params.r * params.p + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(passphrase.reveal(), Buffer.from(params.salt, 'base64'), 32, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => {
      if (err) reject(new GsError('GS_ERR_KEYS_MASTER_KEY_INVALID', { reason: `deriving the key from the passphrase failed: ${err.message}` }));
      else resolve(key);
    });
  });
}
