import { hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { canonicalJson } from './chain.js';

/**
 * The verifier's fast path: a page of the chain checked from one value, on worker threads when
 * that pays.
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

const digestHex = (alg: string, data: Uint8Array): string => hash(alg, data, 'hex');

/** The module a hashing thread runs: the functions above, by their source text. */
const WORKER_SOURCE = `
import { parentPort } from 'node:worker_threads';
import { hash } from 'node:crypto';
const canonicalJson = ${canonicalJson.toString()};
const canonicalJsonbValue = ${canonicalJsonbValue.toString()};
const canonicalJsonbText = ${canonicalJsonbText.toString()};
const checkPage = ${checkPage.toString()};
const digest = (alg, data) => hash(alg, data, 'hex');
parentPort.on('message', ({ id, page, firstSeq, want }) => {
  try {
    parentPort.postMessage({ id, result: checkPage(page, firstSeq, want, canonicalJson, canonicalJsonbText, digest) });
  } catch (e) {
    parentPort.postMessage({ id, error: String((e && e.message) || e) });
  }
});
`;

/** Above Node's pool size: a buffer this large never shares its memory with unrelated buffers. */
const OWN_MEMORY_BYTES = 65_536;

export interface PageChecker {
  /** Hands the page over: a thread may take its memory, so the caller must not use it afterwards. */
  check(page: Uint8Array, firstSeq: number, want: readonly number[]): Promise<PageResult>;
  /** How many pages may usefully be checked at once. */
  readonly parallelism: number;
  close(): Promise<void>;
}

/** Checking on the calling thread: small chains, or where threads do not pay. */
export function inlineChecker(): PageChecker {
  return {
    parallelism: 1,
    check: (page, firstSeq, want) => {
      try {
        return Promise.resolve(checkPage(page, firstSeq, want, canonicalJson, canonicalJsonbText, digestHex));
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
    check(page, firstSeq, want) {
      const id = nextId++;
      const worker = workers[turn++ % workers.length]!;
      // A page with memory of its own (not a slice of Node's small-buffer pool) moves to the
      // thread instead of being copied.
      const own = page.buffer instanceof ArrayBuffer && page.buffer.byteLength >= OWN_MEMORY_BYTES;
      return new Promise<PageResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, page, firstSeq, want }, own ? [page.buffer as ArrayBuffer] : []);
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
