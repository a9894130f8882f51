import { describe, it, expect } from 'vitest';
import {
  base32Decode,
  base32Encode,
  currentStep,
  generateTotpSecret,
  totpCode,
  totpUri,
  verifyTotp,
} from './totp.js';

// RFC 6238 Appendix B uses the ASCII seed "12345678901234567890" for SHA1.
const RFC_SECRET = base32Encode(Buffer.from('12345678901234567890', 'ascii'));

describe('base32', () => {
  it('encodes the RFC 4648 test vectors (without padding)', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'MY'],
      ['fo', 'MZXQ'],
      ['foo', 'MZXW6'],
      ['foob', 'MZXW6YQ'],
      ['fooba', 'MZXW6YTB'],
      ['foobar', 'MZXW6YTBOI'],
    ];
    for (const [plain, encoded] of vectors) {
      expect(base32Encode(Buffer.from(plain, 'ascii'))).toBe(encoded);
      expect(base32Decode(encoded).toString('ascii')).toBe(plain);
    }
  });

  it('encodes the RFC 6238 seed to its well-known base32 form', () => {
    expect(RFC_SECRET).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  });

  it('decodes case-insensitively and ignores spaces and padding', () => {
    expect(base32Decode('mzxw 6ytb oi======').toString('ascii')).toBe('foobar');
    expect(base32Decode('MZXW6YQ=').toString('ascii')).toBe('foob');
  });

  it('round-trips arbitrary bytes', () => {
    for (let len = 0; len <= 40; len++) {
      const bytes = Uint8Array.from({ length: len }, (_, i) => (i * 37 + len * 11) & 0xff);
      expect(Array.from(base32Decode(base32Encode(bytes)))).toEqual(Array.from(bytes));
    }
  });

  it('throws on invalid characters', () => {
    expect(() => base32Decode('MZXW1')).toThrow(Error);
    expect(() => base32Decode('MZXW8')).toThrow(Error);
    expect(() => base32Decode('MZ-XW')).toThrow(Error);
  });
});

describe('generateTotpSecret', () => {
  it('produces 20 random bytes as base32', () => {
    const a = generateTotpSecret();
    const b = generateTotpSecret();
    expect(a).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(a)).toHaveLength(20);
    expect(a).not.toBe(b);
  });
});

describe('totpCode', () => {
  it('matches the RFC 6238 Appendix B SHA1 vectors (last 6 digits)', () => {
    const vectors: [number, string][] = [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1111111111, '14050471'],
      [1234567890, '89005924'],
      [2000000000, '69279037'],
    ];
    for (const [seconds, eightDigits] of vectors) {
      expect(totpCode(RFC_SECRET, currentStep(seconds * 1000))).toBe(eightDigits.slice(-6));
    }
  });

  it('matches the RFC 6238 vector for a time past 2^32 seconds (year 2603)', () => {
    // The RFC lists 65353130 for T = 20000000000 s.
    expect(totpCode(RFC_SECRET, currentStep(20000000000 * 1000))).toBe('353130');
  });

  it('rejects invalid steps', () => {
    expect(() => totpCode(RFC_SECRET, -1)).toThrow(RangeError);
    expect(() => totpCode(RFC_SECRET, 1.5)).toThrow(RangeError);
  });
});

describe('currentStep', () => {
  it('floors milliseconds to 30-second steps', () => {
    expect(currentStep(0)).toBe(0);
    expect(currentStep(29_999)).toBe(0);
    expect(currentStep(30_000)).toBe(1);
    expect(currentStep(59_000)).toBe(1);
  });
});

describe('verifyTotp', () => {
  const nowMs = 1111111111 * 1000;
  const now = currentStep(nowMs);

  it('accepts the current code and returns its step', () => {
    expect(verifyTotp(RFC_SECRET, '050471', nowMs, null)).toBe(now);
  });

  it('accepts codes within ±1 step and refuses ±2', () => {
    expect(verifyTotp(RFC_SECRET, totpCode(RFC_SECRET, now - 1), nowMs, null)).toBe(now - 1);
    expect(verifyTotp(RFC_SECRET, totpCode(RFC_SECRET, now + 1), nowMs, null)).toBe(now + 1);
    expect(verifyTotp(RFC_SECRET, totpCode(RFC_SECRET, now - 2), nowMs, null)).toBeNull();
    expect(verifyTotp(RFC_SECRET, totpCode(RFC_SECRET, now + 2), nowMs, null)).toBeNull();
  });

  it('honours a wider window when asked', () => {
    expect(verifyTotp(RFC_SECRET, totpCode(RFC_SECRET, now - 2), nowMs, null, 2)).toBe(now - 2);
    expect(verifyTotp(RFC_SECRET, totpCode(RFC_SECRET, now), nowMs, null, 0)).toBe(now);
    expect(verifyTotp(RFC_SECRET, totpCode(RFC_SECRET, now + 1), nowMs, null, 0)).toBeNull();
  });

  it('refuses a replayed code and any step not after the last used one', () => {
    const code = totpCode(RFC_SECRET, now);
    const used = verifyTotp(RFC_SECRET, code, nowMs, null);
    expect(used).toBe(now);
    expect(verifyTotp(RFC_SECRET, code, nowMs, used)).toBeNull();
    expect(verifyTotp(RFC_SECRET, totpCode(RFC_SECRET, now - 1), nowMs, used)).toBeNull();
    // The next step's code is still acceptable.
    expect(verifyTotp(RFC_SECRET, totpCode(RFC_SECRET, now + 1), nowMs, used)).toBe(now + 1);
  });

  it('refuses a wrong code', () => {
    const right = totpCode(RFC_SECRET, now);
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    expect(verifyTotp(RFC_SECRET, wrong, nowMs, null, 0)).toBeNull();
  });

  it('refuses codes that are not exactly 6 digits', () => {
    const right = totpCode(RFC_SECRET, now);
    expect(verifyTotp(RFC_SECRET, `${right.slice(0, 5)}a`, nowMs, null)).toBeNull();
    expect(verifyTotp(RFC_SECRET, ` ${right}`, nowMs, null)).toBeNull();
    expect(verifyTotp(RFC_SECRET, right.slice(0, 5), nowMs, null)).toBeNull();
    expect(verifyTotp(RFC_SECRET, `${right}0`, nowMs, null)).toBeNull();
    expect(verifyTotp(RFC_SECRET, '１２３４５６', nowMs, null)).toBeNull();
    expect(verifyTotp(RFC_SECRET, '', nowMs, null)).toBeNull();
  });

  it('does not look at negative steps near the epoch', () => {
    expect(verifyTotp(RFC_SECRET, totpCode(RFC_SECRET, 0), 1_000, null)).toBe(0);
  });
});

describe('totpUri', () => {
  it('builds an otpauth URI with encoded issuer and account', () => {
    const uri = totpUri('mzxw 6ytb oi==', 'zhang.san@example.cn', '政务 共享:平台');
    const issuer = encodeURIComponent('政务 共享:平台');
    expect(uri).toBe(
      `otpauth://totp/${issuer}:zhang.san%40example.cn?secret=MZXW6YTBOI&issuer=${issuer}` +
        '&algorithm=SHA1&digits=6&period=30',
    );
    const parsed = new URL(uri);
    expect(parsed.protocol).toBe('otpauth:');
    expect(parsed.searchParams.get('issuer')).toBe('政务 共享:平台');
    expect(parsed.searchParams.get('secret')).toBe('MZXW6YTBOI');
  });

  it('throws on an invalid secret', () => {
    expect(() => totpUri('not base32!', 'a', 'b')).toThrow(Error);
  });
});
