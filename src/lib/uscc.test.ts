import { describe, it, expect } from 'vitest';
import { checkUscc, usccCheckCharacter } from './uscc.js';

describe('usccCheckCharacter', () => {
  it('computes the check character of published codes', () => {
    expect(usccCheckCharacter('91350100M000100Y4')).toBe('3');
    expect(usccCheckCharacter('11100000000013127')).toBe('D');
  });

  it('maps a zero remainder to 0', () => {
    // All-zero body has weighted sum 0, so 31 - 0 = 31 which must become '0'.
    expect(usccCheckCharacter('00000000000000000')).toBe('0');
  });

  it('returns undefined for wrong length or characters outside the charset', () => {
    expect(usccCheckCharacter('9135010')).toBeUndefined();
    expect(usccCheckCharacter('91350100M000100Y43')).toBeUndefined();
    expect(usccCheckCharacter('91350100M000100I4')).toBeUndefined();
    expect(usccCheckCharacter('91350100m000100Y4')).toBeUndefined();
  });
});

describe('checkUscc', () => {
  it('accepts known-valid published codes', () => {
    expect(checkUscc('91350100M000100Y43')).toEqual({ ok: true });
    expect(checkUscc('11100000000013127D')).toEqual({ ok: true });
    expect(checkUscc('000000000000000000')).toEqual({ ok: true });
  });

  it('rejects a wrong check character and reports the expected one', () => {
    expect(checkUscc('91350100M000100Y44')).toEqual({
      ok: false,
      problem: 'checkCharacter',
      expected: '3',
    });
    expect(checkUscc('11100000000013127E')).toEqual({
      ok: false,
      problem: 'checkCharacter',
      expected: 'D',
    });
  });

  it('detects a single changed body character', () => {
    const result = checkUscc('91350100M000101Y43');
    expect(result.ok).toBe(false);
    expect(result).toMatchObject({ problem: 'checkCharacter' });
  });

  it('rejects the wrong length', () => {
    expect(checkUscc('')).toEqual({ ok: false, problem: 'length' });
    expect(checkUscc('91350100M000100Y4')).toEqual({ ok: false, problem: 'length' });
    expect(checkUscc('91350100M000100Y430')).toEqual({ ok: false, problem: 'length' });
  });

  it.each(['I', 'O', 'Z', 'S', 'V'])('rejects the forbidden letter %s', (letter) => {
    expect(checkUscc(`91350100${letter}000100Y43`)).toEqual({ ok: false, problem: 'charset' });
  });

  it('rejects the forbidden letters in the check position too', () => {
    expect(checkUscc('91350100M000100Y4O')).toEqual({ ok: false, problem: 'charset' });
  });

  it('treats lowercase as a charset problem', () => {
    expect(checkUscc('91350100m000100y43')).toEqual({ ok: false, problem: 'charset' });
    expect(checkUscc('11100000000013127d')).toEqual({ ok: false, problem: 'charset' });
  });

  it('rejects punctuation and full-width characters', () => {
    expect(checkUscc('91350100-000100Y43')).toEqual({ ok: false, problem: 'charset' });
    expect(checkUscc('91350100Ｍ000100Y43')).toEqual({ ok: false, problem: 'charset' });
  });
});
