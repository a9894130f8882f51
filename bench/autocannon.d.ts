// autocannon ships no types and @types/autocannon is not a dependency: the part of its
// programmatic API the benchmarks use, from its README (autocannon 8).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';
  import type { ConnectionOptions } from 'node:tls';

  export interface Options {
    readonly url: string;
    readonly connections?: number;
    readonly pipelining?: number;
    /** Seconds. */
    readonly duration?: number;
    /** Seconds to wait for one response. */
    readonly timeout?: number;
    readonly method?: string;
    readonly headers?: Readonly<Record<string, string>>;
    /** A response whose body differs is counted in `mismatches`. */
    readonly expectBody?: string;
    /** Stop after this many errors (connection errors, timeouts, mismatches). */
    readonly bailout?: number;
    readonly title?: string;
    /** For https:// URLs: passed to `tls.connect` (autocannon forces `rejectUnauthorized: false`). */
    readonly tlsOptions?: ConnectionOptions;
    /** SNI name; by default the URL's host unless it is an IP address. */
    readonly servername?: string;
    /** Resolve with the raw result, for `aggregateResult` (always so in a worker thread). */
    readonly skipAggregateResult?: boolean;
  }

  /** hdr-histogram-percentiles-obj: latencies in whole milliseconds, requests per sample (1 s). */
  export interface Histogram {
    readonly average: number;
    readonly mean: number;
    readonly stddev: number;
    readonly min: number;
    readonly max: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly p99_9: number;
  }

  export interface Result {
    readonly title?: string;
    readonly url: string;
    readonly requests: Histogram & { readonly total: number; readonly sent: number };
    readonly latency: Histogram & { readonly totalCount: number };
    readonly throughput: Histogram;
    /** Seconds. */
    readonly duration: number;
    readonly samples: number;
    readonly errors: number;
    readonly timeouts: number;
    readonly mismatches: number;
    readonly non2xx: number;
    readonly statusCodeStats: Readonly<Record<string, { readonly count: number }>>;
    readonly connections: number;
    readonly pipelining: number;
  }

  /** One run's result before aggregation (histograms encoded); only for `aggregateResult`. */
  export interface RawResult {
    readonly totalCompletedRequests: number;
    readonly samples: number;
  }

  /** The running load; awaiting it gives the result. */
  export interface Instance<R> extends EventEmitter, PromiseLike<R> {
    stop(): void;
    on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): this;
    on(event: 'reqError', listener: (error: Error) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  interface Autocannon {
    (options: Options & { readonly skipAggregateResult: true }): Instance<RawResult>;
    /** Outside the main thread autocannon skips aggregation whatever the options say. */
    (options: Options): Instance<Result>;
    aggregateResult(results: readonly RawResult[], options: Options): Result;
  }

  const autocannon: Autocannon;
  export default autocannon;
}
