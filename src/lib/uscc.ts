// 统一社会信用代码 (Unified Social Credit Code), GB 32100-2015.

/** The 31 permitted characters; I, O, Z, S and V are excluded to avoid confusion with digits. */
const CHARSET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/** Weight of positions 1..17: 3^(i-1) mod 31, as tabulated in the standard. */
const WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] as const;

export type UsccProblem = 'length' | 'charset' | 'checkCharacter';

/**
 * Computes the 18th (check) character for the first 17 characters of a code.
 * Returns undefined when the input is not 17 characters from the charset.
 */
export function usccCheckCharacter(first17: string): string | undefined {
  if (first17.length !== WEIGHTS.length) return undefined;
  let sum = 0;
  for (let i = 0; i < WEIGHTS.length; i++) {
    const value = CHARSET.indexOf(first17.charAt(i));
    if (value < 0) return undefined;
    sum += value * (WEIGHTS[i] ?? 0);
  }
  // A remainder of 0 would give 31, which the standard maps to '0'.
  const check = (31 - (sum % 31)) % 31;
  return CHARSET.charAt(check);
}

export function checkUscc(
  value: string,
): { ok: true } | { ok: false; problem: UsccProblem; expected?: string } {
  if (value.length !== 18) return { ok: false, problem: 'length' };
  // Lowercase is deliberately a charset problem: callers decide whether to normalise.
  for (const ch of value) {
    if (!CHARSET.includes(ch)) return { ok: false, problem: 'charset' };
  }
  const expected = usccCheckCharacter(value.slice(0, 17));
  if (expected === undefined) return { ok: false, problem: 'charset' };
  if (value.charAt(17) !== expected) return { ok: false, problem: 'checkCharacter', expected };
  return { ok: true };
}
