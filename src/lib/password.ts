// Password hashing (scrypt via node:crypto) and the password composition rule.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';

const SCRYPT_N = 32768;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
const MIB = 1024 * 1024;
// N=2^15, r=8 needs ~32 MiB, just over Node's 32 MiB default maxmem, hence 64 MiB.
const DEFAULT_MAXMEM = 64 * MIB;
// Upper bound for parameters read back from storage, so a corrupted or hostile
// encoding cannot make verification allocate unbounded memory.
const MAX_VERIFY_MEM = 256 * MIB;

const MIN_LENGTH = 12;
const MAX_LENGTH = 256;
const MIN_CLASSES = 3;
const MIN_USERNAME_LENGTH = 3;

export type PasswordRuleProblem = 'tooShort' | 'tooFewClasses' | 'containsUsername' | 'tooLong';

function scryptAsync(
  plain: string,
  salt: Buffer,
  keyLength: number,
  options: ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(plain, salt, keyLength, options, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}

/** Returns `scrypt$N$r$p$<salt b64>$<hash b64>`; parameters are stored so they can change later. */
export async function hashPassword(plain: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(plain, salt, KEY_BYTES, {
    N: SCRYPT_N,
    r: SCRYPT_R,
    p: SCRYPT_P,
    maxmem: DEFAULT_MAXMEM,
  });
  return ['scrypt', SCRYPT_N, SCRYPT_R, SCRYPT_P, salt.toString('base64'), key.toString('base64')].join(
    '$',
  );
}

function parsePositiveInt(s: string): number | undefined {
  if (!/^[1-9]\d{0,9}$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Strict base64: only canonical encodings, so truncated or altered strings are rejected. */
function parseBase64(s: string): Buffer | undefined {
  if (s === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return undefined;
  const buf = Buffer.from(s, 'base64');
  return buf.toString('base64') === s ? buf : undefined;
}

/** Never throws: any malformed encoding or scrypt failure verifies as false. */
export async function verifyPassword(plain: string, encoded: string): Promise<boolean> {
  try {
    const parts = encoded.split('$');
    if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
    const [, nStr = '', rStr = '', pStr = '', saltStr = '', hashStr = ''] = parts;
    const N = parsePositiveInt(nStr);
    const r = parsePositiveInt(rStr);
    const p = parsePositiveInt(pStr);
    const salt = parseBase64(saltStr);
    const expected = parseBase64(hashStr);
    if (N === undefined || r === undefined || p === undefined || !salt || !expected) return false;
    // scrypt requires N to be a power of two greater than 1.
    if (N < 2 || (N & (N - 1)) !== 0) return false;
    // A short (or empty) stored hash would make the comparison trivially weak.
    if (salt.length < SALT_BYTES || expected.length < 16 || expected.length > 1024) return false;
    // OpenSSL's memory estimate: 128*r*(N+2) for V plus 128*r*p for B.
    const needed = 128 * r * (N + 2 + p);
    if (needed > MAX_VERIFY_MEM) return false;
    const actual = await scryptAsync(plain, salt, expected.length, {
      N,
      r,
      p,
      maxmem: Math.max(DEFAULT_MAXMEM, needed + MIB),
    });
    return timingSafeEqual(actual, expected);
  } catch {
    return false;
  }
}

function characterClasses(plain: string): { lower: boolean; upper: boolean; digit: boolean; other: boolean } {
  return {
    lower: /[a-z]/.test(plain),
    upper: /[A-Z]/.test(plain),
    digit: /[0-9]/.test(plain),
    // Anything that is not ASCII alphanumeric counts, including non-ASCII letters.
    other: /[^A-Za-z0-9]/u.test(plain),
  };
}

/** Returns the rule problems of `plain`; an empty array means the password is acceptable. */
export function checkPasswordRule(plain: string, username?: string): PasswordRuleProblem[] {
  const problems: PasswordRuleProblem[] = [];
  // Count code points so that e.g. CJK or emoji are not double-counted as UTF-16 units.
  const length = [...plain].length;
  if (length < MIN_LENGTH) problems.push('tooShort');
  if (length > MAX_LENGTH) problems.push('tooLong');
  const classCount = Object.values(characterClasses(plain)).filter(Boolean).length;
  if (classCount < MIN_CLASSES) problems.push('tooFewClasses');
  // Very short usernames would match too many ordinary passwords to be useful.
  if (
    username !== undefined &&
    [...username].length >= MIN_USERNAME_LENGTH &&
    plain.toLowerCase().includes(username.toLowerCase())
  ) {
    problems.push('containsUsername');
  }
  return problems;
}

// Look-alikes (0 O o 1 l I) are left out so passwords can be read aloud or copied by hand.
const GEN_LOWER = 'abcdefghijkmnpqrstuvwxyz';
const GEN_UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const GEN_DIGITS = '23456789';
const GEN_SYMBOLS = '#%+-=@_';
const GEN_ALPHABET = GEN_LOWER + GEN_UPPER + GEN_DIGITS + GEN_SYMBOLS;
const GEN_LENGTH = 20;

/** Uniform random characters from GEN_ALPHABET; bytes at or above the largest multiple are rejected to avoid modulo bias. */
function randomAlphabetString(length: number): string {
  const n = GEN_ALPHABET.length;
  const limit = 256 - (256 % n);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= limit) continue;
      out += GEN_ALPHABET.charAt(byte % n);
      if (out.length === length) break;
    }
  }
  return out;
}

function containsAny(s: string, chars: string): boolean {
  for (const ch of s) if (chars.includes(ch)) return true;
  return false;
}

/**
 * 20-character random password containing all four classes. Whole candidates lacking
 * a class are rejected (about 1 in 6), which keeps the result uniform over valid passwords.
 */
export function generatePassword(): string {
  for (;;) {
    const candidate = randomAlphabetString(GEN_LENGTH);
    if (
      containsAny(candidate, GEN_LOWER) &&
      containsAny(candidate, GEN_UPPER) &&
      containsAny(candidate, GEN_DIGITS) &&
      containsAny(candidate, GEN_SYMBOLS) &&
      checkPasswordRule(candidate).length === 0
    ) {
      return candidate;
    }
  }
}
