import { hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { canonicalJson } from './chain.js';

/**
 * The verifier's fast path: a page of the chain checked from one text, on worker threads when
 * that pays.
 *
 * The database renders a page (AuditStore.readVerifyPage) as one text, one line per event:
 *
 *   seq \t ["<hash_alg>","<hash>","<prev_hash>","<at>",<actor_type>,…,<ip>] \t <details jsonb text> \n
 *
 * The array is PostgreSQL's JSON (array_to_json), whose string escapes are JSON.stringify's, so
 * from the fourth element on its inside is the serialisation's middle byte for byte (README.md);
 * the details are parsed and written canonically here. Neither can hold a raw tab or line end
 * (JSON escapes control characters), so the framing is safe whatever the stored values are.
 * A page goes to a thread as one string (structured cloning one string is a copy; thousands of
 * small values are not), and each event's hash depends only on its own line, so pages are
 * checked in parallel while links across pages are stitched in order by the caller.
 */

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
 * text is what the threads run, so it must stay self-contained: only its parameters and
 * JavaScript built-ins.
 */
export function checkPage(
  text: string,
  firstSeq: number,
  want: readonly number[],
  canonical: (value: unknown) => string,
  digest: (alg: string, data: string) => string,
): PageResult {
  const hashes: Record<number, string> = {};
  const wanted = new Set(want);
  let expected = firstSeq;
  let prev: string | null = null;
  let firstPrev: string | null = null;
  let start = 0;
  const done = (failure: PageFailure | null): PageResult => ({ checked: expected - firstSeq, firstPrev, lastHash: prev, failure, hashes });
  while (start < text.length) {
    const t1 = text.indexOf('\t', start);
    const t2 = text.indexOf('\t', t1 + 1);
    let end = text.indexOf('\n', t2 + 1);
    if (end < 0) end = text.length;
    const seq = Number(text.slice(start, t1));
    if (seq !== expected) return done({ seq: expected, kind: 'missing', found: seq });
    const array = text.slice(t1 + 1, t2);
    let alg: string;
    let stored: string;
    let prevHash: string;
    let middle: string;
    // The usual line: a known algorithm and two plain 64-character strings at fixed places, i.e.
    //   ["sha256","<hash>","<prev_hash>","<at>",…]
    // With no backslash among them, nothing there is escaped, so those quotes are the strings' own.
    const a = array.startsWith('["sha256","') ? 11 : array.startsWith('["sm3","') ? 8 : 0;
    if (a > 0 && array.startsWith('","', a + 64) && array.startsWith('","', a + 131) && array.lastIndexOf('\\', a + 130) < a) {
      alg = a === 11 ? 'sha256' : 'sm3';
      stored = array.slice(a, a + 64);
      prevHash = array.slice(a + 67, a + 131);
      middle = array.slice(a + 133, array.length - 1);
    } else {
      // Anything else (nulls, odd values) is read as the JSON it is, and judged like the reference.
      const values = JSON.parse(array) as unknown[];
      const [v0, v1, v2] = values;
      if (v0 === null || v1 === null || v2 === null) return done({ seq, kind: 'unchained' });
      if (v0 !== 'sha256' && v0 !== 'sm3') return done({ seq, kind: 'algorithm', found: typeof v0 === 'string' ? v0 : null });
      alg = v0;
      stored = String(v1);
      prevHash = String(v2);
      middle = values
        .slice(3)
        .map((v) => JSON.stringify(v))
        .join(',');
    }
    if (prev === null) firstPrev = prevHash;
    else if (prevHash !== prev) return done({ seq, kind: 'link' });
    const serialised = `["govshare-audit-v1","${alg}",${seq},${middle},${canonical(JSON.parse(text.slice(t2 + 1, end)))},${JSON.stringify(prevHash)}]`;
    if (digest(alg, serialised) !== stored) return done({ seq, kind: 'hash' });
    if (wanted.has(seq)) hashes[seq] = stored;
    prev = stored;
    expected++;
    start = end + 1;
  }
  return done(null);
}

const digestHex = (alg: string, data: string): string => hash(alg, data, 'hex');

/** The module a hashing thread runs: the functions above, by their source text. */
const WORKER_SOURCE = `
import { parentPort } from 'node:worker_threads';
import { hash } from 'node:crypto';
const canonicalJson = ${canonicalJson.toString()};
const checkPage = ${checkPage.toString()};
const digest = (alg, data) => hash(alg, data, 'hex');
parentPort.on('message', ({ id, text, firstSeq, want }) => {
  try {
    parentPort.postMessage({ id, result: checkPage(text, firstSeq, want, canonicalJson, digest) });
  } catch (e) {
    parentPort.postMessage({ id, error: String((e && e.message) || e) });
  }
});
`;

export interface PageChecker {
  check(text: string, firstSeq: number, want: readonly number[]): Promise<PageResult>;
  /** How many pages may usefully be checked at once. */
  readonly parallelism: number;
  close(): Promise<void>;
}

/** Checking on the calling thread: small chains, or where threads do not pay. */
export function inlineChecker(): PageChecker {
  return {
    parallelism: 1,
    check: (text, firstSeq, want) => {
      try {
        return Promise.resolve(checkPage(text, firstSeq, want, canonicalJson, digestHex));
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
    check(text, firstSeq, want) {
      const id = nextId++;
      const worker = workers[turn++ % workers.length]!;
      return new Promise<PageResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, text, firstSeq, want });
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/**
 * Threads for a chain of `events`: none below `minEvents` (starting a thread costs more than it
 * saves), and none on fewer than 4 CPUs: a page crosses to a thread as a copy (two bytes a
 * character once it holds Chinese text), which only pays when the reading thread and a database
 * on the same machine still leave CPUs idle. Measured on 2 CPUs with a local PostgreSQL, checking
 * on the reading thread was faster. Else 2 fewer than the CPUs, at most 4.
 */
export function checkingThreads(events: number, minEvents = 20_000, cpus = availableParallelism()): number {
  if (events < minEvents || cpus < 4) return 0;
  return Math.min(4, cpus - 2);
}
