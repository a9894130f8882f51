import type { Teardown } from './teardown.js';

/** One entry of bench/results/latest.json. */
export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The same work done without govshare's layers, measured in the same run. */
  readonly baseline: number;
  /**
   * value / baseline, whatever the unit. For a throughput higher is better (1 = no cost); for a
   * latency lower is better (1 = no cost, 3 = three times slower).
   */
  readonly ratio: number;
}

export interface BenchSettings {
  /** Load on each side before measuring, discarded. */
  readonly warmupSeconds: number;
  /** Measured load on each side: `rounds` runs of `roundSeconds`, the sides alternating. */
  readonly rounds: number;
  readonly roundSeconds: number;
  /** Concurrent HTTP connections of the load generator. */
  readonly connections: number;
  /** The PostgreSQL server; a benchmark creates its own database on it. */
  readonly serverUrl: string;
  /** Everything a benchmark starts is registered here, so it is undone also on failure or Ctrl-C. */
  readonly teardown: Teardown;
  /** A progress line. */
  readonly log: (line: string) => void;
}

export interface BenchOutcome {
  readonly results: readonly BenchResult[];
  /** What was measured and how, for bench/results/latest.meta.json. */
  readonly setup: Readonly<Record<string, unknown>>;
}

export interface Benchmark {
  /** `--filter` matches a part of it; result names start with it. */
  readonly name: string;
  readonly description: string;
  run(settings: BenchSettings): Promise<BenchOutcome>;
}

/** A result comparing `value` with its `baseline`. */
export function compared(name: string, unit: string, value: number, baseline: number, digits: number): BenchResult {
  if (!(Number.isFinite(value) && Number.isFinite(baseline) && value > 0 && baseline > 0)) {
    throw new Error(`${name}: no valid measurement (value ${value}, baseline ${baseline})`);
  }
  const round = (n: number, d: number): number => Number(n.toFixed(d));
  return { name, value: round(value, digits), unit, baseline: round(baseline, digits), ratio: round(value / baseline, 3) };
}
