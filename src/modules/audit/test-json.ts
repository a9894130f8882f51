/** Test helper: JSON values that exercise every corner of the canonical serialisation. */

/** A deterministic pseudo-random JSON value with awkward keys and strings. */
export function randomJson(seed: number, depth = 0): unknown {
  let x = seed;
  const next = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  const texts = ['', 'a', 'B', 'é', '审计', '😀', '\u2028', '\n\t"\\', '\u0001', 'Z', 'aa', '_', '10', '2', '__proto__x', 'ｆ'];
  const pick = () => texts[Math.floor(next() * texts.length)]!;
  const kind = depth > 3 ? Math.floor(next() * 4) : Math.floor(next() * 6);
  if (kind === 0) return null;
  if (kind === 1) return next() < 0.5;
  if (kind === 2) return [0, -0, 1.5, 1e21, -3, 2 ** 53, 0.1][Math.floor(next() * 7)];
  if (kind === 3) return pick() + pick();
  if (kind === 4) return Array.from({ length: Math.floor(next() * 4) }, (_, i) => randomJson(seed * 31 + i, depth + 1));
  const obj: Record<string, unknown> = {};
  for (let i = 0; i < Math.floor(next() * 6); i++) obj[pick() + pick()] = randomJson(seed * 17 + i, depth + 1);
  return obj;
}
