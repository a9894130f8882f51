/** GB18030 bytes of a text (Node has no encoder for it: a table of the characters the tests use). */
export function encodeGb18030(text: string): Buffer {
  const out: number[] = [];
  const decoder = new TextDecoder('gb18030');
  for (const ch of text) {
    if (ch.charCodeAt(0) < 0x80) {
      out.push(ch.charCodeAt(0));
      continue;
    }
    out.push(...gbCode(ch, decoder));
  }
  return Buffer.from(out);
}

const gbCache = new Map<string, number[]>();
function gbCode(ch: string, decoder: InstanceType<typeof TextDecoder>): number[] {
  const hit = gbCache.get(ch);
  if (hit) return hit;
  // Search the two-byte GBK range for the character (fast enough for a handful of characters).
  for (let hi = 0x81; hi <= 0xfe; hi++) {
    for (let lo = 0x40; lo <= 0xfe; lo++) {
      if (lo === 0x7f) continue;
      if (decoder.decode(Uint8Array.of(hi, lo)) === ch) {
        gbCache.set(ch, [hi, lo]);
        return [hi, lo];
      }
    }
  }
  throw new Error(`no GBK code for ${ch}`);
}
