import { percentile, runGenerator, type LoadTarget } from './load.js';

/** What the handshake thread is given (structured-cloned). */
export interface HandshakeRequest {
  readonly target: LoadTarget;
  readonly count: number;
}

export type HandshakeReply = { readonly kind: 'done'; readonly seconds: number; readonly latenciesMs: Float64Array } | { readonly kind: 'failed'; readonly message: string };

export interface HandshakeMeasurement {
  /** Requests per second, each on a new connection, one at a time. */
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly requests: number;
}

/**
 * `count` requests to `target`, one after the other, each on a new connection (a new TCP
 * connection, and for https a full TLS handshake with the client certificate). In a worker thread
 * (handshake-worker.ts, compiled beside this file), like the keep-alive load, so the servers keep
 * the main thread. Throws LoadFailure at the first failed request.
 */
function runHandshakes(target: LoadTarget, count: number): Promise<{ seconds: number; latenciesMs: Float64Array }> {
  const request: HandshakeRequest = { target, count };
  return runGenerator('./handshake-worker.js', request, `the handshake generator for ${target.label}`);
}

function summarise(runs: readonly { seconds: number; latenciesMs: Float64Array }[]): HandshakeMeasurement {
  const all = new Float64Array(runs.reduce((n, r) => n + r.latenciesMs.length, 0));
  let at = 0;
  for (const r of runs) {
    all.set(r.latenciesMs, at);
    at += r.latenciesMs.length;
  }
  all.sort();
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  return {
    requestsPerSecond: all.length / seconds,
    p50Ms: percentile(all, 50),
    p99Ms: percentile(all, 99),
    meanMs: all.reduce((n, t) => n + t, 0) / all.length,
    requests: all.length,
  };
}

/**
 * New-connection requests to a target and its baseline: a short warm-up each (discarded), then
 * `count` per side in two halves, in ABBA order like measurePair.
 */
export async function measureHandshakes(
  baseline: LoadTarget,
  target: LoadTarget,
  s: { readonly count: number; readonly log: (line: string) => void },
): Promise<{ baseline: HandshakeMeasurement; target: HandshakeMeasurement }> {
  for (const t of [baseline, target]) await runHandshakes(t, Math.min(50, s.count));
  const half = Math.ceil(s.count / 2);
  const runs = new Map<LoadTarget, { seconds: number; latenciesMs: Float64Array }[]>([
    [baseline, []],
    [target, []],
  ]);
  for (const t of [baseline, target, target, baseline]) runs.get(t)?.push(await runHandshakes(t, half));
  const result = { baseline: summarise(runs.get(baseline) ?? []), target: summarise(runs.get(target) ?? []) };
  for (const [t, m] of [
    [baseline, result.baseline],
    [target, result.target],
  ] as const) {
    s.log(`  ${t.label}, new connection per request: ${m.requestsPerSecond.toFixed(1)} req/s, p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms (${m.requests} requests)`);
  }
  return result;
}
