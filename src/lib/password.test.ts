import { describe, it, expect } from 'vitest';
import { checkPasswordRule, generatePassword, hashPassword, verifyPassword } from './password.js';

describe('hashPassword / verifyPassword', () => {
  it('round-trips and uses the documented encoding', async () => {
    const encoded = await hashPassword('Correct-Horse-9');
    expect(encoded).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(await verifyPassword('Correct-Horse-9', encoded)).toBe(true);
  });

  it('returns false for a wrong password', async () => {
    const encoded = await hashPassword('Correct-Horse-9');
    expect(await verifyPassword('Correct-Horse-8', encoded)).toBe(false);
    expect(await verifyPassword('correct-horse-9', encoded)).toBe(false);
    expect(await verifyPassword('', encoded)).toBe(false);
  });

  it('handles non-ASCII passwords', async () => {
    const encoded = await hashPassword('政务共享平台Pass1');
    expect(await verifyPassword('政务共享平台Pass1', encoded)).toBe(true);
    expect(await verifyPassword('政务共享平台Pass2', encoded)).toBe(false);
  });

  it('produces different hashes for the same password (random salt)', async () => {
    const a = await hashPassword('Same-Password-1');
    const b = await hashPassword('Same-Password-1');
    expect(a).not.toBe(b);
    expect(a.split('$')[4]).not.toBe(b.split('$')[4]);
  });

  it('reads parameters from the encoding rather than assuming the defaults', async () => {
    // Hand-built with a cheaper N to show stored parameters are honoured.
    const { scryptSync } = await import('node:crypto');
    const salt = Buffer.alloc(16, 7);
    const key = scryptSync('Other-Params-1', salt, 32, { N: 1024, r: 8, p: 1 });
    const encoded = `scrypt$1024$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
    expect(await verifyPassword('Other-Params-1', encoded)).toBe(true);
    expect(await verifyPassword('Other-Params-2', encoded)).toBe(false);
  });

  it('returns false (without throwing) for malformed encodings', async () => {
    const good = await hashPassword('Correct-Horse-9');
    const [, n, r, p, salt, hash] = good.split('$');
    const malformed = [
      '',
      'not-a-hash',
      good.replace(/^scrypt/, 'bcrypt'),
      `scrypt$${n}$${r}$${p}$${salt}`,
      `${good}$extra`,
      `scrypt$abc$${r}$${p}$${salt}$${hash}`,
      `scrypt$1000$${r}$${p}$${salt}$${hash}`, // N not a power of two
      `scrypt$1$${r}$${p}$${salt}$${hash}`,
      `scrypt$0$${r}$${p}$${salt}$${hash}`,
      `scrypt$-32768$${r}$${p}$${salt}$${hash}`,
      `scrypt$${n}$0$${p}$${salt}$${hash}`,
      `scrypt$1073741824$${r}$${p}$${salt}$${hash}`, // absurd memory demand
      `scrypt$${n}$${r}$${p}$!!!!$${hash}`,
      `scrypt$${n}$${r}$${p}$${salt}$`,
      `scrypt$${n}$${r}$${p}$${salt}$${hash?.slice(0, 8)}`, // truncated hash
    ];
    for (const encoded of malformed) {
      await expect(verifyPassword('Correct-Horse-9', encoded)).resolves.toBe(false);
    }
  });
});

describe('checkPasswordRule', () => {
  it('accepts a good password', () => {
    expect(checkPasswordRule('Tr0ub4dor&3xyz')).toEqual([]);
    expect(checkPasswordRule('abcdefGHIJKL12')).toEqual([]);
    expect(checkPasswordRule('abcdefghijk1!')).toEqual([]);
  });

  it('reports tooShort below 12 code points', () => {
    expect(checkPasswordRule('Abcdef1234!')).toEqual(['tooShort']);
    expect(checkPasswordRule('Abcdef1234!x')).toEqual([]);
  });

  it('counts code points, not UTF-16 units', () => {
    // Six astral characters are 12 UTF-16 units but only 6 code points.
    expect(checkPasswordRule('😀😀😀Ab1')).toContain('tooShort');
    expect(checkPasswordRule('😀😀😀😀😀😀Ab1xyz')).toEqual([]);
  });

  it('reports tooLong above 256 code points', () => {
    const base = 'Aa1!';
    expect(checkPasswordRule(base.repeat(64))).toEqual([]);
    expect(checkPasswordRule(`${base.repeat(64)}x`)).toEqual(['tooLong']);
  });

  it('reports tooFewClasses with only two classes', () => {
    expect(checkPasswordRule('abcdefghijkl')).toEqual(['tooFewClasses']);
    expect(checkPasswordRule('abcdefgh1234')).toEqual(['tooFewClasses']);
    expect(checkPasswordRule('ABCDEFGH!!!!')).toEqual(['tooFewClasses']);
  });

  it('counts non-ASCII characters in the "other" class', () => {
    expect(checkPasswordRule('政务平台abcdef12')).toEqual([]);
    expect(checkPasswordRule('政务平台政务平台abcd')).toEqual(['tooFewClasses']);
  });

  it('reports containsUsername case-insensitively', () => {
    expect(checkPasswordRule('xx-ZhangSan-2024', 'zhangsan')).toEqual(['containsUsername']);
    expect(checkPasswordRule('xx-ZhangSan-2024', 'lisi')).toEqual([]);
  });

  it('ignores usernames shorter than 3 characters', () => {
    expect(checkPasswordRule('Ab-cdefgh-123', 'ab')).toEqual([]);
    expect(checkPasswordRule('Abc-defgh-123', 'abc')).toEqual(['containsUsername']);
  });

  it('reports several problems at once', () => {
    expect(checkPasswordRule('admin', 'admin')).toEqual([
      'tooShort',
      'tooFewClasses',
      'containsUsername',
    ]);
  });
});

describe('generatePassword', () => {
  it('produces distinct 20-character passwords with all four classes that pass the rule', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const pw = generatePassword();
      expect(pw).toHaveLength(20);
      expect(pw).toMatch(/^[A-Za-z2-9#%+\-=@_]+$/);
      expect(pw).not.toMatch(/[0Oo1lI]/);
      expect(pw).toMatch(/[a-z]/);
      expect(pw).toMatch(/[A-Z]/);
      expect(pw).toMatch(/[0-9]/);
      expect(pw).toMatch(/[#%+\-=@_]/);
      expect(checkPasswordRule(pw)).toEqual([]);
      seen.add(pw);
    }
    expect(seen.size).toBe(200);
  });

  it('uses every allowed character (no part of the alphabet is unreachable)', () => {
    const used = new Set<string>();
    for (let i = 0; i < 200; i++) for (const ch of generatePassword()) used.add(ch);
    // 63 allowed characters; 4000 draws make missing any one astronomically unlikely.
    expect(used.size).toBe(63);
  });
});
