/**
 * How column values come back from PostgreSQL, the same for PGlite and `pg`.
 *
 * - int8 (bigint, count(*)) → JS number; a value beyond 2^53 would lose precision silently, so it
 *   throws instead (sequence numbers and counts never get there).
 * - numeric → string (exact decimals stay exact).
 * - date → 'YYYY-MM-DD' string (no time zone shift; `pg` would build a local-midnight Date).
 * - timestamptz → Date (both drivers' default; each parses its own text format).
 */
export const PG_OID = { INT8: 20, NUMERIC: 1700, DATE: 1082 } as const;

export function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} is outside the safe integer range`);
  return n;
}

const identity = (text: string): string => text;

export const TYPE_PARSERS: Readonly<Record<number, (text: string) => unknown>> = {
  [PG_OID.INT8]: parseInt8,
  [PG_OID.NUMERIC]: identity,
  [PG_OID.DATE]: identity,
};
