import { describe, expect, it } from 'vitest';
import { checkIdCard, idCardCheckCharacter } from './id-card.js';

describe('GB 11643 citizen identity numbers', () => {
  it('accepts numbers with the right check character, including X', () => {
    // The standard's worked example, and a number whose check character is X.
    expect(checkIdCard('11010519491231002X')).toEqual({ ok: true });
    expect(idCardCheckCharacter('44052418800101001')).toBe('4');
    expect(checkIdCard('440524188001010014')).toEqual({ ok: true });
  });

  it('names the problem with a wrong number', () => {
    expect(checkIdCard('110105194912310021')).toEqual({ ok: false, problem: 'checkCharacter', expected: 'X' });
    expect(checkIdCard('11010519491231002x')).toEqual({ ok: false, problem: 'charset' });
    expect(checkIdCard('1101051949123100')).toEqual({ ok: false, problem: 'length' });
    expect(checkIdCard('110105194902300027')).toMatchObject({ ok: false, problem: 'birthDate' });
  });
});
