import { Worker } from 'node:worker_threads';

export interface LoadTarget {
  /** Printed in progress lines and errors. */
  readonly label: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** GET when absent. */
  readonly method?: 'GET' | 'POST';
  /** The request body (sent with every request). */
  readonly body?: string;
  /** Every response must have this body (and a 2xx status). */
  readonly expectBody: string;
  /** For an https:// URL: the client certificate and key (mutual TLS), and the CA that issued the server's. */
  readonly tls?: ClientTls;
}

/** PEM strings, so a target can be handed to the load generator's thread as it is. */
export interface ClientTls {
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
  /** The name the server's certificate is checked against (when the client checks it). */
  readonly servername: string;
}

/** One bounded run of load against one target. */
export interface LoadRun {
  readonly responses: number;
  /** Seconds sampled (autocannon counts responses per 1 s sample). */
  readonly seconds: number;
  /** Every response time, in milliseconds. */
  readonly latenciesMs: Float64Array;
}

export interface LoadMeasurement {
  /** Mean of the per-second response counts. */
  readonly requestsPerSecond: number;
  /** Percentiles of the response times in milliseconds (nearest rank). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly responses: number;
  readonly seconds: number;
}

/** Thrown when any request of a run failed: a benchmark with errors reports no numbers. */
export class LoadFailure extends Error {}

/** What the load generator's thread is given (structured-cloned). */
export interface LoadRequest {
  readonly target: LoadTarget;
  readonly seconds: number;
  readonly connections: number;
}

/** What it answers. */
export type LoadReply = ({ readonly kind: 'done' } & LoadRun) | { readonly kind: 'failed'; readonly message: string };

/**
 * Drives `target` with `connections` keep-alive connections for `seconds`. Stops at the first
 * failed request (connection error, timeout, non-2xx status, other body) and throws LoadFailure.
 *
 * autocannon runs in a worker thread of this process (load-worker.ts, compiled beside this
 * file): on the main thread it would take event-loop time from the servers it measures.
 */
export function runLoad(target: LoadTarget, options: { readonly seconds: number; readonly connections: number }): Promise<LoadRun> {
  const request: LoadRequest = { target, ...options };
  return runGenerator<LoadRun>('./load-worker.js', request, `the load generator for ${target.label}`);
}

/**
 * Runs one generator script in a worker thread with `request` as its workerData and resolves with
 * its one `done` reply; a `failed` reply becomes LoadFailure, an exit without a reply an Error.
 */
export function runGenerator<T>(script: string, request: unknown, name: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(script, import.meta.url), { workerData: request });
    let reply: ({ readonly kind: 'done' } & T) | { readonly kind: 'failed'; readonly message: string } | undefined;
    worker.once('message', (m: typeof reply) => {
      reply = m;
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!reply) reject(new Error(`${name} stopped (exit code ${code}) without a result`));
      else if (reply.kind === 'failed') reject(new LoadFailure(reply.message));
      else resolve(reply);
    });
  });
}

export function percentile(sorted: Float64Array, p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(rank, 1)) - 1] ?? Number.NaN;
}

/** The runs of one target taken together, as if they were one. */
export function summarise(runs: readonly LoadRun[]): LoadMeasurement {
  const responses = runs.reduce((n, r) => n + r.responses, 0);
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  const all = new Float64Array(runs.reduce((n, r) => n + r.latenciesMs.length, 0));
  let at = 0;
  for (const r of runs) {
    all.set(r.latenciesMs, at);
    at += r.latenciesMs.length;
  }
  all.sort();
  return { requestsPerSecond: responses / seconds, p50Ms: percentile(all, 50), p99Ms: percentile(all, 99), responses, seconds };
}

export interface PairSettings {
  readonly warmupSeconds: number;
  readonly rounds: number;
  readonly roundSeconds: number;
  readonly connections: number;
  readonly log: (line: string) => void;
}

/**
 * Measures a target and its baseline under the same conditions: both warmed up, then `rounds`
 * rounds in ABBA order (baseline first in even rounds, second in odd ones), so a change of the
 * machine's load during the run (other processes, the database's background work) falls on both.
 */
export async function measurePair(baseline: LoadTarget, target: LoadTarget, s: PairSettings): Promise<{ baseline: LoadMeasurement; target: LoadMeasurement }> {
  const load = { seconds: s.roundSeconds, connections: s.connections };
  for (const t of [baseline, target]) {
    s.log(`  ${t.label}: warm-up ${s.warmupSeconds} s`);
    await runLoad(t, { ...load, seconds: s.warmupSeconds });
  }
  const runs = new Map<LoadTarget, LoadRun[]>([
    [baseline, []],
    [target, []],
  ]);
  for (let round = 0; round < s.rounds; round++) {
    for (const t of round % 2 === 0 ? [baseline, target] : [target, baseline]) {
      const run = await runLoad(t, load);
      runs.get(t)?.push(run);
      s.log(`  ${t.label}: round ${round + 1}/${s.rounds}: ${(run.responses / run.seconds).toFixed(0)} req/s`);
    }
  }
  const result = { baseline: summarise(runs.get(baseline) ?? []), target: summarise(runs.get(target) ?? []) };
  for (const [t, m] of [
    [baseline, result.baseline],
    [target, result.target],
  ] as const) {
    s.log(`  ${t.label}: ${m.requestsPerSecond.toFixed(1)} req/s, p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms (${m.responses} responses in ${m.seconds} s)`);
  }
  return result;
}

/** A measurement as the results' setup records it (two decimals). */
export function loadFigures(m: LoadMeasurement): Record<string, number> {
  const round = (n: number): number => Number(n.toFixed(2));
  return { requestsPerSecond: round(m.requestsPerSecond), p50Ms: round(m.p50Ms), p99Ms: round(m.p99Ms), responses: m.responses, seconds: m.seconds };
}
