import { hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { canonicalJson } from './chain.js';

/**
 * The verifier's fast path: a page of the chain checked from one value, on worker threads when
 * that pays. On the PostgreSQL server a page is the binary COPY stream of its rows (`checkRows`,
 * further below); on PGlite it is one text rendered by the database (`checkPage`):
 *
 * The database renders a page (AuditStore.readVerifyPage) as one text, one line per event:
 *
 *   seq \t ["<hash_alg>","<hash>","<prev_hash>","<at>",<actor_type>,…,<ip>] \t <details jsonb text> \n
 *
 * and it arrives as its UTF-8 bytes (binary COPY on the server; PGlite's text encoded once).
 * The array is PostgreSQL's JSON (array_to_json), whose string escapes are JSON.stringify's, so
 * from the fourth element on its inside is the serialisation's middle byte for byte (README.md):
 * those bytes are copied into the serialisation as they are, and only the details are decoded and
 * written canonically — straight from jsonb's text where it has no backslash
 * (`canonicalJsonbText`), else by parsing. Neither part can hold a raw tab or line end (JSON
 * escapes control characters), so the framing is safe whatever the stored values are. A page
 * moves to a thread without a copy, and each event's hash depends only on its own line, so pages
 * are checked in parallel while links across pages are stitched in order by the caller.
 */

/**
 * `canonicalJson(JSON.parse(text))` for the text PostgreSQL writes for a jsonb value, without
 * building the value: jsonb's output has one shape (`{"k": v, "k2": v2}`, `[a, b]`, one space
 * after every `:` and `,`, keys unique), so a text without any backslash has every string
 * verbatim, and what remains is dropping those spaces, sorting each object's keys by UTF-16 code
 * units (jsonb orders them by length first) and writing numbers as JavaScript does. Anything it
 * does not expect — a backslash, another spacing, a duplicate key — gives null, and the caller
 * parses the text instead: null is never a verdict, only "take the general way". It and
 * `canonicalJsonbValue` must stay self-contained: the hashing threads run their source text.
 */
export function canonicalJsonbText(text: string): string | null {
  if (text.indexOf('\\') !== -1) return null;
  const at = [0];
  const out = canonicalJsonbValue(text, at);
  return out !== null && at[0] === text.length ? out : null;
}

/** The value of jsonb text starting at `at[0]`, written canonically (or null); moves `at[0]` past it. */
export function canonicalJsonbValue(text: string, at: number[]): string | null {
  const i = at[0]!;
  const c = text.charCodeAt(i);
  if (c === 0x22) {
    const j = text.indexOf('"', i + 1);
    if (j < 0) return null;
    at[0] = j + 1;
    return text.slice(i, j + 1);
  }
  if (c === 0x5b) {
    if (text.charCodeAt(i + 1) === 0x5d) {
      at[0] = i + 2;
      return '[]';
    }
    at[0] = i + 1;
    let out = '[';
    for (;;) {
      const v = canonicalJsonbValue(text, at);
      if (v === null) return null;
      out += v;
      const k: number = at[0]!;
      const d = text.charCodeAt(k);
      if (d === 0x5d) {
        at[0] = k + 1;
        return `${out}]`;
      }
      if (d !== 0x2c || text.charCodeAt(k + 1) !== 0x20) return null;
      at[0] = k + 2;
      out += ',';
    }
  }
  if (c === 0x7b) {
    if (text.charCodeAt(i + 1) === 0x7d) {
      at[0] = i + 2;
      return '{}';
    }
    // Members kept sorted by key as they come (insertion: objects here have few keys).
    const keys: string[] = [];
    const values: string[] = [];
    let k = i + 1;
    for (;;) {
      if (text.charCodeAt(k) !== 0x22) return null;
      const j = text.indexOf('"', k + 1);
      if (j < 0 || text.charCodeAt(j + 1) !== 0x3a || text.charCodeAt(j + 2) !== 0x20) return null;
      const key = text.slice(k + 1, j);
      at[0] = j + 3;
      const v = canonicalJsonbValue(text, at);
      if (v === null) return null;
      let p = keys.length;
      keys.push(key);
      values.push(v);
      while (p > 0 && keys[p - 1]! > key) {
        keys[p] = keys[p - 1]!;
        values[p] = values[p - 1]!;
        p--;
      }
      if (p > 0 && keys[p - 1] === key) return null;
      keys[p] = key;
      values[p] = v;
      k = at[0]!;
      const d = text.charCodeAt(k);
      if (d === 0x7d) {
        at[0] = k + 1;
        let out = `{"${keys[0]!}":${values[0]!}`;
        for (let m = 1; m < keys.length; m++) out += `,"${keys[m]!}":${values[m]!}`;
        return `${out}}`;
      }
      if (d !== 0x2c || text.charCodeAt(k + 1) !== 0x20) return null;
      k += 2;
    }
  }
  // A short integer JavaScript writes back as it is; any other number as JSON.stringify writes it.
  let j = c === 0x2d ? i + 1 : i;
  const first = j;
  for (; j < text.length; j++) {
    const d = text.charCodeAt(j);
    if (d < 0x30 || d > 0x39) break;
  }
  const e = text.charCodeAt(j);
  if (j > first && j - first <= 15 && (e === 0x2c || e === 0x5d || e === 0x7d || j === text.length) && (text.charCodeAt(first) !== 0x30 || j - first === 1) && !(c === 0x2d && j - first === 1 && text.charCodeAt(first) === 0x30)) {
    at[0] = j;
    return text.slice(i, j);
  }
  for (; j < text.length; j++) {
    const d = text.charCodeAt(j);
    if (d === 0x2c || d === 0x5d || d === 0x7d) break;
  }
  at[0] = j;
  const token = text.slice(i, j);
  if (token === 'true' || token === 'false' || token === 'null') return token;
  if (!/^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/.test(token)) return null;
  const v = Number(token);
  return Number.isFinite(v) ? JSON.stringify(v) : null;
}

/** What is wrong with the first event of a page that fails, in the order the reference checks. */
export type PageFailureKind = 'missing' | 'unchained' | 'algorithm' | 'link' | 'hash';

export interface PageFailure {
  readonly seq: number;
  readonly kind: PageFailureKind;
  /** `missing`: the event found in its place; `algorithm`: the name stored. */
  readonly found?: number | string | null;
}

export interface PageResult {
  /** Events checked without a problem, from the first. */
  readonly checked: number;
  /** prev_hash of the first event (checked by the caller against the page before), when it was read. */
  readonly firstPrev: string | null;
  /** The stored hash of the last event checked. */
  readonly lastHash: string | null;
  readonly failure: PageFailure | null;
  /** Stored hashes of the events asked for (checkpoints), among those checked. */
  readonly hashes: Readonly<Record<number, string>>;
}

/**
 * Checks one page: contiguous seq from `firstSeq`, chained, a known algorithm, each prev_hash
 * the hash before (within the page), each hash recomputed. Stops at the first problem. Its source
 * text is what the threads run, so it must stay self-contained: only its parameters and the
 * built-ins of JavaScript and Node.js (Buffer).
 *
 * The page is the UTF-8 bytes of its lines, and each event's serialisation is put together as
 * bytes in a scratch buffer: the hashed middle of the array is copied as it came, and only the
 * details are decoded (to be written canonically) and encoded again.
 */
export function checkPage(
  page: Uint8Array,
  firstSeq: number,
  want: readonly number[],
  canonical: (value: unknown) => string,
  canonicalText: (jsonbText: string) => string | null,
  digest: (alg: string, data: Uint8Array) => string,
): PageResult {
  const buf = Buffer.isBuffer(page) ? page : Buffer.from(page.buffer, page.byteOffset, page.byteLength);
  const openSha256 = Buffer.from('["sha256","', 'latin1');
  const openSm3 = Buffer.from('["sm3","', 'latin1');
  const prefixes: Readonly<Record<string, Buffer>> = { sha256: Buffer.from('["govshare-audit-v1","sha256",', 'latin1'), sm3: Buffer.from('["govshare-audit-v1","sm3",', 'latin1') };
  let scratch = Buffer.allocUnsafe(16_384);
  const hashes: Record<number, string> = {};
  const wanted = new Set(want);
  let expected = firstSeq;
  let prev: string | null = null;
  let firstPrev: string | null = null;
  // The first backslash at or after where it was last looked for (-1: none in the rest of the page).
  let backslash = -2;
  let start = 0;
  const done = (failure: PageFailure | null): PageResult => ({ checked: expected - firstSeq, firstPrev, lastHash: prev, failure, hashes });
  while (start < buf.length) {
    const t1 = buf.indexOf(9, start);
    const t2 = buf.indexOf(9, t1 + 1);
    let end = buf.indexOf(10, t2 + 1);
    if (end < 0) end = buf.length;
    const seq = Number(buf.toString('latin1', start, t1));
    if (seq !== expected) return done({ seq: expected, kind: 'missing', found: seq });
    const detailsText = buf.toString('utf8', t2 + 1, end);
    const details = canonicalText(detailsText) ?? canonical(JSON.parse(detailsText));
    // The usual line: a known algorithm and two plain 64-character strings at fixed places, i.e.
    //   ["sha256","<hash>","<prev_hash>","<at>",…]
    // With no backslash among them, nothing there is escaped, so those quotes are the strings' own.
    const open = t1 + 1;
    const a = openSha256.compare(buf, open, open + 11) === 0 ? open + 11 : openSm3.compare(buf, open, open + 8) === 0 ? open + 8 : 0;
    if (a > 0 && backslash !== -1 && backslash < a) backslash = buf.indexOf(0x5c, a);
    let alg: string;
    let stored: string;
    let prevHash: string;
    let n: number;
    if (a > 0 && (backslash === -1 || backslash >= a + 131) && buf[a + 64] === 0x22 && buf[a + 65] === 0x2c && buf[a + 66] === 0x22 && buf[a + 131] === 0x22 && buf[a + 132] === 0x2c && buf[a + 133] === 0x22) {
      alg = a === open + 11 ? 'sha256' : 'sm3';
      stored = buf.toString('latin1', a, a + 64);
      prevHash = buf.toString('latin1', a + 67, a + 131);
      // prefix, seq, the array from <at> to <ip> as it came, the details, the quoted prev_hash.
      const middle = buf.subarray(a + 133, t2 - 1);
      const need = 64 + middle.length + details.length * 3 + 72;
      if (scratch.length < need) scratch = Buffer.allocUnsafe(need * 2);
      const prefix = prefixes[alg]!;
      scratch.set(prefix, 0);
      n = prefix.length;
      n += scratch.write(`${seq},`, n, 'latin1');
      scratch.set(middle, n);
      n += middle.length;
      n += scratch.write(`,${details},"`, n, 'utf8');
      scratch.set(buf.subarray(a + 67, a + 131), n);
      n += 64;
      scratch[n++] = 0x22;
      scratch[n++] = 0x5d;
    } else {
      // Anything else (nulls, odd values) is read as the JSON it is, and judged like the reference.
      const values = JSON.parse(buf.toString('utf8', open, t2)) as unknown[];
      const [v0, v1, v2] = values;
      if (v0 === null || v1 === null || v2 === null) return done({ seq, kind: 'unchained' });
      if (v0 !== 'sha256' && v0 !== 'sm3') return done({ seq, kind: 'algorithm', found: typeof v0 === 'string' ? v0 : null });
      alg = v0;
      stored = String(v1);
      prevHash = String(v2);
      const middle = values
        .slice(3)
        .map((v) => JSON.stringify(v))
        .join(',');
      const text = `["govshare-audit-v1","${alg}",${seq},${middle},${details},${JSON.stringify(prevHash)}]`;
      if (scratch.length < text.length * 3) scratch = Buffer.allocUnsafe(text.length * 3);
      n = scratch.write(text, 0, 'utf8');
    }
    if (prev === null) firstPrev = prevHash;
    else if (prevHash !== prev) return done({ seq, kind: 'link' });
    if (digest(alg, scratch.subarray(0, n)) !== stored) return done({ seq, kind: 'hash' });
    if (wanted.has(seq)) hashes[seq] = stored;
    prev = stored;
    expected++;
    start = end + 1;
  }
  return done(null);
}

/**
 * Orders two object keys of a jsonb text (the bytes `a0…a1` and `b0…b1` of `src`) as UTF-16 code
 * units order them: byte order, which is code point order, which is UTF-16 order for the keys
 * `jsonbBytesValue` lets through (no byte 0xEE or above: nothing from U+E000 up). Self-contained.
 */
export function jsonbKeyOrder(src: Uint8Array, a0: number, a1: number, b0: number, b1: number): number {
  const la = a1 - a0;
  const lb = b1 - b0;
  const l = la < lb ? la : lb;
  for (let i = 0; i < l; i++) {
    const d = src[a0 + i]! - src[b0 + i]!;
    if (d !== 0) return d;
  }
  return la - lb;
}

/**
 * `canonicalJsonbValue` on bytes: the jsonb value whose text starts at `at[0]` in `src` (UTF-8,
 * with no backslash before `end`), written canonically into `out` from `n`; returns where the
 * writing ended and moves `at[0]` past the value, or -1 where it declines (the caller then parses
 * the text). Object members are written as they come and, when their keys are not in order,
 * rewritten in order through `tmp` (as large as `out`). A key with a byte 0xEE or above (a
 * character from U+E000 up, where UTF-8 and UTF-16 orders differ) declines. Self-contained: the
 * hashing threads run its source text.
 */
export function jsonbBytesValue(src: Buffer, at: number[], end: number, out: Buffer, n: number, tmp: Buffer, keyOrder: (src: Uint8Array, a0: number, a1: number, b0: number, b1: number) => number): number {
  const i = at[0]!;
  if (i >= end) return -1;
  const c = src[i]!;
  if (c === 0x22) {
    // Byte loops rather than Buffer#indexOf and #copy: these runs are short, and those cost more per call.
    out[n++] = 0x22;
    for (let q = i + 1; q < end; q++) {
      const d = src[q]!;
      out[n++] = d;
      if (d === 0x22) {
        at[0] = q + 1;
        return n;
      }
    }
    return -1;
  }
  if (c === 0x5b) {
    out[n++] = 0x5b;
    if (src[i + 1] === 0x5d) {
      at[0] = i + 2;
      out[n++] = 0x5d;
      return n;
    }
    at[0] = i + 1;
    for (;;) {
      n = jsonbBytesValue(src, at, end, out, n, tmp, keyOrder);
      if (n < 0) return -1;
      const k: number = at[0]!;
      if (src[k] === 0x5d && k < end) {
        at[0] = k + 1;
        out[n++] = 0x5d;
        return n;
      }
      if (k + 1 >= end || src[k] !== 0x2c || src[k + 1] !== 0x20) return -1;
      at[0] = k + 2;
      out[n++] = 0x2c;
    }
  }
  if (c === 0x7b) {
    const open = n;
    out[n++] = 0x7b;
    if (src[i + 1] === 0x7d) {
      at[0] = i + 2;
      out[n++] = 0x7d;
      return n;
    }
    // Per member: its key's bytes in src, and where the member ("key":value) was written in out.
    const members: number[] = [];
    let sorted = true;
    let k = i + 1;
    for (;;) {
      if (src[k] !== 0x22) return -1;
      let j = k + 1;
      while (j < end && src[j] !== 0x22) {
        if (src[j]! >= 0xee) return -1;
        j++;
      }
      if (j + 2 >= end || src[j + 1] !== 0x3a || src[j + 2] !== 0x20) return -1;
      const last = members.length;
      if (last > 0) {
        const order = keyOrder(src, members[last - 4]!, members[last - 3]!, k + 1, j);
        if (order === 0) return -1;
        if (order > 0) sorted = false;
      }
      const from = n;
      for (let q = k; q < j + 2; q++) out[n++] = src[q]!;
      at[0] = j + 3;
      n = jsonbBytesValue(src, at, end, out, n, tmp, keyOrder);
      if (n < 0) return -1;
      members.push(k + 1, j, from, n);
      const d = at[0]!;
      if (src[d] === 0x7d && d < end) {
        at[0] = d + 1;
        break;
      }
      if (d + 1 >= end || src[d] !== 0x2c || src[d + 1] !== 0x20) return -1;
      out[n++] = 0x2c;
      k = d + 2;
    }
    if (!sorted) {
      // Insertion sort of the members' offsets by key (objects here have few members).
      const count = members.length / 4;
      const order: number[] = [];
      for (let m = 0; m < count; m++) {
        const x = m * 4;
        let p = m;
        while (p > 0) {
          const y = order[p - 1]!;
          const o = keyOrder(src, members[y]!, members[y + 1]!, members[x]!, members[x + 1]!);
          if (o === 0) return -1;
          if (o < 0) break;
          order[p] = y;
          p--;
        }
        order[p] = x;
      }
      const base = open + 1;
      for (let q = base; q < n; q++) tmp[q - base] = out[q]!;
      let p = base;
      for (let m = 0; m < count; m++) {
        const x = order[m]!;
        if (m > 0) out[p++] = 0x2c;
        for (let q = members[x + 2]! - base, e = members[x + 3]! - base; q < e; q++) out[p++] = tmp[q]!;
      }
    }
    out[n++] = 0x7d;
    return n;
  }
  // A short integer JavaScript writes back as it is; any other number as JSON.stringify writes it.
  let j = i;
  while (j < end) {
    const d = src[j]!;
    if (d === 0x2c || d === 0x5d || d === 0x7d) break;
    j++;
  }
  if (j === i) return -1;
  const first = c === 0x2d ? i + 1 : i;
  let digits = first < j && j - first <= 15;
  for (let q = first; digits && q < j; q++) digits = src[q]! >= 0x30 && src[q]! <= 0x39;
  if (digits && (src[first] !== 0x30 || j - first === 1) && !(c === 0x2d && src[first] === 0x30)) {
    for (let q = i; q < j; q++) out[n++] = src[q]!;
    at[0] = j;
    return n;
  }
  const token = src.toString('latin1', i, j);
  at[0] = j;
  if (token === 'true' || token === 'false' || token === 'null') return n + out.write(token, n, 'latin1');
  if (!/^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/.test(token)) return -1;
  const v = Number(token);
  return Number.isFinite(v) ? n + out.write(JSON.stringify(v), n, 'latin1') : -1;
}

/** Field order of a verification row (AuditStore.readVerifyRows): the hashed fields, hash_alg, hash and prev_hash first. */
export const VERIFY_ROW_FIELDS = 16;

/**
 * `checkPage` for a page read as rows (AuditStore.readVerifyRows, on the PostgreSQL server): the
 * whole binary COPY stream of the page, one tuple per event with its stored columns as the server
 * sends them — seq (int8), hash_alg, hash, prev_hash, at (timestamptz: int8 microseconds since
 * 2000-01-01 UTC), actor_type, actor_id and actor_agency_id (uuid: 16 bytes), actor_name, action,
 * target_type, target_id, outcome, request_id, ip, details as jsonb's text. The database renders
 * nothing: the serialisation (README.md) is written here as bytes into one scratch buffer — a
 * text as JSON.stringify writes it (as it is between quotes when no byte needs escaping, else by
 * JSON.stringify), a uuid as lowercase hex, the timestamp as to_char would, the details
 * canonically (`canonicalBytes` straight from jsonb's text without a backslash, else by parsing).
 * Anything it cannot write exactly the rules' way (a timestamp outside years 1…9999, a column of
 * an unexpected size) is reported as a `hash` failure, which the verifier recomputes by the
 * reference path before believing it. Self-contained: the hashing threads run its source text.
 */
export function checkRows(
  page: Uint8Array,
  firstSeq: number,
  want: readonly number[],
  canonical: (value: unknown) => string,
  canonicalBytes: (src: Buffer, at: number[], end: number, out: Buffer, n: number, tmp: Buffer, keyOrder: (src: Uint8Array, a0: number, a1: number, b0: number, b1: number) => number) => number,
  keyOrder: (src: Uint8Array, a0: number, a1: number, b0: number, b1: number) => number,
  digest: (alg: string, data: Uint8Array) => string,
): PageResult {
  const b = Buffer.isBuffer(page) ? page : Buffer.from(page.buffer, page.byteOffset, page.byteLength);
  const signature = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
  if (b.length < 19 || signature.compare(b, 0, 11) !== 0) throw new Error('verification page: not a binary COPY stream');
  let p = 15;
  p += 4 + b.readUInt32BE(p);
  const hex = Buffer.from('0123456789abcdef', 'latin1');
  const prefixes: Readonly<Record<string, Buffer>> = { sha256: Buffer.from('["govshare-audit-v1","sha256",', 'latin1'), sm3: Buffer.from('["govshare-audit-v1","sm3",', 'latin1') };
  const fields = 16;
  const st = new Int32Array(fields);
  const ln = new Int32Array(fields);
  let scratch = Buffer.allocUnsafe(16_384);
  let tmp = Buffer.allocUnsafe(16_384);
  const at = [0];
  const dayText = Buffer.alloc(10);
  let day = Number.NaN;
  const hashes: Record<number, string> = {};
  const wanted = new Set(want);
  let expected = firstSeq;
  let prevStart = -1;
  let prevLength = 0;
  let firstPrev: string | null = null;
  // The first backslash byte at or after where it was last looked for (-1: none in the rest of the page).
  let backslash = -2;
  const done = (failure: PageFailure | null): PageResult => ({
    checked: expected - firstSeq,
    firstPrev,
    lastHash: prevStart < 0 ? null : b.toString('utf8', prevStart, prevStart + prevLength),
    failure,
    hashes,
  });
  // A text column as JSON.stringify writes the string (null as null).
  // The helpers write into the `out` they are given: a closure over the reassigned scratch buffer
  // would read it from the context on every byte. The caller reserves room for any row first.
  const text = (b: Buffer, out: Buffer, f: number, n: number): number => {
    const s = st[f]!;
    const l = ln[f]!;
    if (l < 0) {
      out.write('null', n, 'latin1');
      return n + 4;
    }
    const e = s + l;
    // Copied as it is between quotes unless a byte needs escaping (a control character, `"`, `\`).
    let m = n;
    out[m++] = 0x22;
    for (let q = s; q < e; q++) {
      const d = b[q]!;
      if (d < 0x20 || d === 0x22 || d === 0x5c) {
        const json = JSON.stringify(b.toString('utf8', s, e));
        return n + out.write(json, n, 'utf8');
      }
      out[m++] = d;
    }
    out[m++] = 0x22;
    return m;
  };
  const two = (out: Buffer, v: number, n: number): void => {
    out[n] = 0x30 + Math.floor(v / 10);
    out[n + 1] = 0x30 + (v % 10);
  };
  // A uuid column as its lowercase text in quotes (null as null); -1 for a value not 16 bytes.
  const uuid = (out: Buffer, f: number, n: number): number => {
    const s = st[f]!;
    const l = ln[f]!;
    if (l < 0) {
      out.write('null', n, 'latin1');
      return n + 4;
    }
    if (l !== 16) return -1;
    out[n++] = 0x22;
    for (let q = 0; q < 16; q++) {
      if (q === 4 || q === 6 || q === 8 || q === 10) out[n++] = 0x2d;
      const v = b[s + q]!;
      out[n++] = hex[v >> 4]!;
      out[n++] = hex[v & 15]!;
    }
    out[n++] = 0x22;
    return n;
  };
  for (;;) {
    if (p + 2 > b.length) throw new Error('verification page: the binary COPY stream ends before its trailer');
    const count = b.readInt16BE(p);
    p += 2;
    if (count === -1) break;
    if (count !== fields) throw new Error(`verification page: a row of ${count} columns, not ${fields}`);
    let rowBytes = 0;
    for (let f = 0; f < fields; f++) {
      if (p + 4 > b.length) throw new Error('verification page: the binary COPY stream ends inside a row');
      const l = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
      p += 4;
      st[f] = p;
      ln[f] = l;
      if (l > 0) {
        p += l;
        rowBytes += l;
      }
    }
    if (p > b.length) throw new Error('verification page: the binary COPY stream ends inside a row');
    if (ln[0] !== 8) throw new Error('verification page: seq did not arrive as int8');
    const seq = b.readInt32BE(st[0]!) * 4294967296 + b.readUInt32BE(st[0]! + 4);
    if (seq !== expected) return done({ seq: expected, kind: 'missing', found: seq });
    if (ln[1]! < 0 || ln[2]! < 0 || ln[3]! < 0) return done({ seq, kind: 'unchained' });
    const a = st[1]!;
    const alg =
      ln[1] === 6 && b[a] === 0x73 && b[a + 1] === 0x68 && b[a + 2] === 0x61 && b[a + 3] === 0x32 && b[a + 4] === 0x35 && b[a + 5] === 0x36
        ? 'sha256'
        : ln[1] === 3 && b[a] === 0x73 && b[a + 1] === 0x6d && b[a + 2] === 0x33
          ? 'sm3'
          : null;
    if (alg === null) return done({ seq, kind: 'algorithm', found: b.toString('utf8', a, a + ln[1]!) });
    if (prevStart < 0) firstPrev = b.toString('utf8', st[3]!, st[3]! + ln[3]!);
    else if (ln[3] !== prevLength || b.compare(b, prevStart, prevStart + prevLength, st[3]!, st[3]! + ln[3]!) !== 0) return done({ seq, kind: 'link' });

    // The serialisation: ["govshare-audit-v1",alg,seq,at,actor_type,…,ip,details,prev_hash]
    // Room for the row however it is written: a text byte escaped takes at most 6 (\u00XX), and
    // details written canonically are never much longer than jsonb's text of them.
    if (scratch.length < rowBytes * 6 + 256) {
      scratch = Buffer.allocUnsafe(rowBytes * 12 + 512);
      tmp = Buffer.allocUnsafe(scratch.length);
    }
    const prefix = prefixes[alg]!;
    let n = 0;
    for (let q = 0; q < prefix.length; q++) scratch[n++] = prefix[q]!;
    // seq in decimal, written backwards from its last digit.
    let digits = 1;
    for (let v = seq; v >= 10; v = Math.floor(v / 10)) digits++;
    for (let q = n + digits - 1, v = seq; q >= n; q--, v = Math.floor(v / 10)) scratch[q] = 0x30 + (v % 10);
    n += digits;
    scratch[n++] = 0x2c;
    // at: to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') of microseconds since 2000-01-01.
    if (ln[4] !== 8) return done({ seq, kind: 'hash' });
    const high = b.readInt32BE(st[4]!);
    let d: number;
    let inDay: number;
    if (high < 0x200000 && high >= -0x200000) {
      // Within 2^53 microseconds of 2000 (years 1715…2285): exact as a double.
      const micros = high * 4294967296 + b.readUInt32BE(st[4]! + 4);
      d = Math.floor(micros / 86_400_000_000);
      inDay = micros - d * 86_400_000_000;
    } else {
      const micros = b.readBigInt64BE(st[4]!);
      let q = micros / 86_400_000_000n;
      let r = micros % 86_400_000_000n;
      if (r < 0n) {
        r += 86_400_000_000n;
        q -= 1n;
      }
      d = Number(q);
      inDay = Number(r);
    }
    if (d !== day) {
      const date = new Date(946_684_800_000 + d * 86_400_000);
      const year = date.getUTCFullYear();
      if (year < 1 || year > 9999) return done({ seq, kind: 'hash' });
      dayText.write(`${String(year).padStart(4, '0')}-${String(date.getUTCMonth() + 1).padStart(2, '0')}-${String(date.getUTCDate()).padStart(2, '0')}`, 0, 'latin1');
      day = d;
    }
    const second = Math.floor(inDay / 1_000_000);
    let fraction = inDay - second * 1_000_000;
    scratch[n++] = 0x22;
    for (let q = 0; q < 10; q++) scratch[n++] = dayText[q]!;
    scratch[n++] = 0x54;
    two(scratch, Math.floor(second / 3600), n);
    scratch[n + 2] = 0x3a;
    two(scratch, Math.floor(second / 60) % 60, n + 3);
    scratch[n + 5] = 0x3a;
    two(scratch, second % 60, n + 6);
    scratch[n + 8] = 0x2e;
    for (let q = n + 14; q > n + 8; q--) {
      scratch[q] = 0x30 + (fraction % 10);
      fraction = Math.floor(fraction / 10);
    }
    n += 15;
    scratch[n++] = 0x5a;
    scratch[n++] = 0x22;
    scratch[n++] = 0x2c;
    n = text(b, scratch, 5, n);
    scratch[n++] = 0x2c;
    n = uuid(scratch, 6, n);
    if (n < 0) return done({ seq, kind: 'hash' });
    scratch[n++] = 0x2c;
    n = uuid(scratch, 7, n);
    if (n < 0) return done({ seq, kind: 'hash' });
    for (let f = 8; f <= 14; f++) {
      scratch[n++] = 0x2c;
      n = text(b, scratch, f, n);
    }
    scratch[n++] = 0x2c;
    if (ln[15]! < 0) n += scratch.write('null', n, 'latin1');
    else {
      const ds = st[15]!;
      const de = ds + ln[15]!;
      if (backslash !== -1 && backslash < ds) backslash = b.indexOf(0x5c, ds);
      let w = -1;
      if (backslash === -1 || backslash >= de) {
        at[0] = ds;
        w = canonicalBytes(b, at, de, scratch, n, tmp, keyOrder);
        if (at[0] !== de) w = -1;
      }
      if (w >= 0) n = w;
      else {
        const json = canonical(JSON.parse(b.toString('utf8', ds, de)));
        if (scratch.length < n + json.length * 3 + 256) {
          const bigger = Buffer.allocUnsafe((n + json.length * 3 + 256) * 2);
          scratch.copy(bigger, 0, 0, n);
          scratch = bigger;
          tmp = Buffer.allocUnsafe(bigger.length);
        }
        n += scratch.write(json, n, 'utf8');
      }
    }
    scratch[n++] = 0x2c;
    n = text(b, scratch, 3, n);
    scratch[n++] = 0x5d;
    if (ln[2] !== 64) return done({ seq, kind: 'hash' });
    const computed = digest(alg, scratch.subarray(0, n));
    const hs = st[2]!;
    if (b.toString('latin1', hs, hs + 64) !== computed) return done({ seq, kind: 'hash' });
    if (wanted.has(seq)) hashes[seq] = b.toString('latin1', hs, hs + 64);
    prevStart = hs;
    prevLength = 64;
    expected++;
  }
  return done(null);
}

const digestHex = (alg: string, data: Uint8Array): string => hash(alg, data, 'hex');

/** The module a hashing thread runs: the functions above, by their source text. */
const WORKER_SOURCE = `
import { parentPort } from 'node:worker_threads';
import { hash } from 'node:crypto';
const canonicalJson = ${canonicalJson.toString()};
const canonicalJsonbValue = ${canonicalJsonbValue.toString()};
const canonicalJsonbText = ${canonicalJsonbText.toString()};
const checkPage = ${checkPage.toString()};
const jsonbKeyOrder = ${jsonbKeyOrder.toString()};
const jsonbBytesValue = ${jsonbBytesValue.toString()};
const checkRows = ${checkRows.toString()};
const digest = (alg, data) => hash(alg, data, 'hex');
parentPort.on('message', ({ id, page, firstSeq, want, format }) => {
  try {
    const result = format === 'rows'
      ? checkRows(page, firstSeq, want, canonicalJson, jsonbBytesValue, jsonbKeyOrder, digest)
      : checkPage(page, firstSeq, want, canonicalJson, canonicalJsonbText, digest);
    parentPort.postMessage({ id, result });
  } catch (e) {
    parentPort.postMessage({ id, error: String((e && e.message) || e) });
  }
});
`;

/** Above Node's pool size: a buffer this large never shares its memory with unrelated buffers. */
const OWN_MEMORY_BYTES = 65_536;

/** How a page was read: as one text of lines (`checkPage`) or as rows through binary COPY (`checkRows`). */
export type PageFormat = 'lines' | 'rows';

/** Checks a page read in `format` on this thread. */
export function checkAnyPage(page: Uint8Array, firstSeq: number, want: readonly number[], format: PageFormat): PageResult {
  return format === 'rows'
    ? checkRows(page, firstSeq, want, canonicalJson, jsonbBytesValue, jsonbKeyOrder, digestHex)
    : checkPage(page, firstSeq, want, canonicalJson, canonicalJsonbText, digestHex);
}

export interface PageChecker {
  /**
   * Hands the page over: a thread may take its memory, so the caller must not use it afterwards.
   * `lines`: a page of VERIFY_LINE text (`checkPage`); `rows`: a binary COPY stream of rows (`checkRows`).
   */
  check(page: Uint8Array, firstSeq: number, want: readonly number[], format: PageFormat): Promise<PageResult>;
  /** How many pages may usefully be checked at once. */
  readonly parallelism: number;
  close(): Promise<void>;
}

/** Checking on the calling thread: small chains, or where threads do not pay. */
export function inlineChecker(): PageChecker {
  return {
    parallelism: 1,
    check: (page, firstSeq, want, format) => {
      try {
        return Promise.resolve(checkAnyPage(page, firstSeq, want, format));
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    },
    close: () => Promise.resolve(),
  };
}

interface Pending {
  readonly resolve: (r: PageResult) => void;
  readonly reject: (e: Error) => void;
}

/** Pages go round-robin to `threads` workers; a worker's failure fails its pages, not the process. */
export function threadChecker(threads: number): PageChecker {
  const url = new URL(`data:text/javascript,${encodeURIComponent(WORKER_SOURCE)}`);
  const pending = new Map<number, Pending>();
  let nextId = 0;
  const workers = Array.from({ length: threads }, () => {
    // No inherited flags (an --input-type or a loader of the parent is not for this module).
    const w = new Worker(url, { execArgv: [] });
    w.on('message', (m: { id: number; result?: PageResult; error?: string }) => {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.result) p?.resolve(m.result);
      else p?.reject(new Error(`audit verification thread: ${m.error ?? 'no result'}`));
    });
    w.on('error', (e) => {
      for (const p of pending.values()) p.reject(e);
      pending.clear();
    });
    // Not unref'd: a verification awaiting only its threads (PGlite has no socket) must not let
    // the process exit under it. The verifier closes the pool when done.
    return w;
  });
  let turn = 0;
  return {
    parallelism: threads,
    check(page, firstSeq, want, format) {
      const id = nextId++;
      const worker = workers[turn++ % workers.length]!;
      // A page with memory of its own (not a slice of Node's small-buffer pool) moves to the
      // thread instead of being copied.
      const own = page.buffer instanceof ArrayBuffer && page.buffer.byteLength >= OWN_MEMORY_BYTES;
      return new Promise<PageResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, page, firstSeq, want, format }, own ? [page.buffer as ArrayBuffer] : []);
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/**
 * Threads for a chain of `events`: none below `minEvents` (starting a thread costs more than it
 * saves), and none on fewer than 4 CPUs: with the database on the same machine both CPUs are
 * already busy (PostgreSQL rendering pages, this thread reading and checking them), and on 2
 * CPUs one checking thread measured no faster than checking on the reading thread. Else 2 fewer
 * than the CPUs, at most 4.
 */
export function checkingThreads(events: number, minEvents = 20_000, cpus = availableParallelism()): number {
  if (events < minEvents || cpus < 4) return 0;
  return Math.min(4, cpus - 2);
}
