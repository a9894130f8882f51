// 公民身份号码 (citizen identity number), GB 11643-1999: 17 digits and an ISO 7064 MOD 11-2 check character.

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CHECK = '10X98765432';

export type IdCardProblem = 'length' | 'charset' | 'birthDate' | 'checkCharacter';

/** The check character for the first 17 digits, or undefined when they are not 17 digits. */
export function idCardCheckCharacter(first17: string): string | undefined {
  if (!/^\d{17}$/.test(first17)) return undefined;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17.charAt(i)) * WEIGHTS[i]!;
  return CHECK.charAt(sum % 11);
}

/** Checks an 18-character number: digits, a real birth date (positions 7–14) and the check character (X uppercase). */
export function checkIdCard(value: string): { ok: true } | { ok: false; problem: IdCardProblem; expected?: string } {
  if (value.length !== 18) return { ok: false, problem: 'length' };
  if (!/^\d{17}[\dX]$/.test(value)) return { ok: false, problem: 'charset' };
  const y = Number(value.slice(6, 10));
  const m = Number(value.slice(10, 12));
  const d = Number(value.slice(12, 14));
  const birth = new Date(Date.UTC(y, m - 1, d));
  if (y < 1850 || birth.getUTCFullYear() !== y || birth.getUTCMonth() !== m - 1 || birth.getUTCDate() !== d) return { ok: false, problem: 'birthDate' };
  const expected = idCardCheckCharacter(value.slice(0, 17))!;
  if (value.charAt(17) !== expected) return { ok: false, problem: 'checkCharacter', expected };
  return { ok: true };
}
