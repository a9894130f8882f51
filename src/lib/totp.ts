// RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s step) over RFC 4226 HOTP, with RFC 4648 base32 secrets.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const DIGITS = 6;
const PERIOD_SECONDS = 30;
const SECRET_BYTES = 20; // 160 bits, the HMAC-SHA1 output size recommended by RFC 4226.

/** RFC 4648 base32, uppercase, without '=' padding (authenticator apps expect it unpadded). */
export function base32Encode(buf: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of buf) {
    value = ((value << 8) | byte) & 0xffff; // Only the low bits still pending are needed.
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET.charAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET.charAt((value << (5 - bits)) & 31);
  return out;
}

/**
 * Decodes base32 case-insensitively, ignoring spaces and '=' padding because users
 * often copy secrets in grouped or padded form. Throws on any other character.
 */
export function base32Decode(s: string): Buffer {
  const cleaned = s.replace(/[\s=]/g, '').toUpperCase();
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of cleaned) {
    const index = BASE32_ALPHABET.indexOf(ch);
    if (index < 0) throw new Error(`Invalid base32 character: ${JSON.stringify(ch)}`);
    value = ((value << 5) | index) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  // Leftover bits (< 8) are padding of the final quantum and carry no data.
  return Buffer.from(bytes);
}

export function generateTotpSecret(): string {
  return base32Encode(randomBytes(SECRET_BYTES));
}

/** HOTP (RFC 4226) of counter = step, as a zero-padded 6-digit string. */
export function totpCode(secretBase32: string, step: number): string {
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new RangeError(`TOTP step must be a non-negative safe integer, got ${step}`);
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  // Dynamic truncation, RFC 4226 section 5.3.
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** DIGITS).padStart(DIGITS, '0');
}

export function currentStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / PERIOD_SECONDS);
}

/**
 * Returns the matched step when `code` is valid for a step within ±window of now and
 * strictly after `lastUsedStep`; the caller must persist the returned step so the
 * same code (or an older one) cannot be replayed.
 */
export function verifyTotp(
  secretBase32: string,
  code: string,
  nowMs: number,
  lastUsedStep: number | null,
  window = 1,
): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const given = Buffer.from(code, 'ascii');
  const now = currentStep(nowMs);
  let matched: number | null = null;
  // Check every candidate (no early exit) and keep the latest match, so that a code
  // colliding across two steps cannot be replayed against the later one.
  for (let step = Math.max(0, now - window); step <= now + window; step++) {
    if (lastUsedStep !== null && step <= lastUsedStep) continue;
    const expected = Buffer.from(totpCode(secretBase32, step), 'ascii');
    if (timingSafeEqual(expected, given)) matched = step;
  }
  return matched;
}

/** Key URI for authenticator apps (Google Authenticator "Key Uri Format"). */
export function totpUri(secretBase32: string, account: string, issuer: string): string {
  // Re-encode so the URI carries the canonical unpadded uppercase form, and fail early on a bad secret.
  const secret = base32Encode(base32Decode(secretBase32));
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const query =
    `secret=${secret}&issuer=${encodeURIComponent(issuer)}` +
    `&algorithm=SHA1&digits=${DIGITS}&period=${PERIOD_SECONDS}`;
  return `otpauth://totp/${label}?${query}`;
}
