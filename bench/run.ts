import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, constants, cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { redactUrl } from '../src/db/database.js';
import { agencyGet } from './agency-get.js';
import { auditChain } from './audit.js';
import { catalogImport } from './catalog-import.js';
import { errorLine, serverVersion } from './bench-database.js';
import type { Benchmark, BenchResult, BenchSettings } from './benchmark.js';
import { catalogSearch } from './catalog-search.js';
import { exchangeIngest } from './exchange-ingest.js';
import { exchangeCompare } from './exchange-compare.js';
import { exchangePull } from './exchange-pull.js';
import { exchangePush } from './exchange-push.js';
import { exchangeWhoami } from './exchange-whoami.js';
import { grantCheck } from './grant-check.js';
import { Teardown } from './teardown.js';

/** Every benchmark, in the order they run. */
const BENCHMARKS: readonly Benchmark[] = [agencyGet, auditChain, exchangeWhoami, exchangePull, exchangeIngest, exchangePush, exchangeCompare, catalogSearch, catalogImport, grantCheck];

/**
 * Seconds of load per side: `--quick` (6 s measured) must finish, build included, well under
 * 2 minutes; the full run measures 20 s per side.
 */
const PROFILES = {
  quick: { warmupSeconds: 2, rounds: 2, roundSeconds: 3 },
  full: { warmupSeconds: 5, rounds: 4, roundSeconds: 5 },
} as const;

const CONNECTIONS = 10;

const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

const USAGE = 'usage: npm run bench -- [--quick] [--filter <name>]';

/** The package root: the nearest folder up with a package.json (works from bench/ and dist/bench/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the benchmark runner');
    dir = up;
  }
  return dir;
}

function formatTable(results: readonly BenchResult[]): string {
  const header = ['name', 'value', 'unit', 'baseline', 'ratio'];
  const rows = results.map((r) => [r.name, String(r.value), r.unit, String(r.baseline), r.ratio.toFixed(3)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  // Names and units left-aligned, numbers right-aligned.
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 || i === 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const started = Date.now();
  let options: { quick: boolean; filter: string | undefined; help: boolean };
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: { quick: { type: 'boolean', default: false }, filter: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
      strict: true,
      allowPositionals: false,
    });
    options = { quick: values.quick, filter: values.filter, help: values.help };
  } catch (e) {
    console.error(`bench: ${errorLine(e)} (${USAGE})`);
    return 2;
  }
  if (options.help) {
    console.log([USAGE, '', 'benchmarks:', ...BENCHMARKS.map((b) => `  ${b.name}  ${b.description}`)].join('\n'));
    return 0;
  }
  const filter = options.filter;
  const selected = BENCHMARKS.filter((b) => filter === undefined || b.name.includes(filter));
  if (selected.length === 0) {
    console.error(`bench: no benchmark matches --filter ${JSON.stringify(filter)} (benchmarks: ${BENCHMARKS.map((b) => b.name).join(', ')})`);
    return 2;
  }

  // Empty variables count as unset, as in the platform's own configuration.
  const serverUrl = process.env.BENCH_DATABASE_URL || process.env.DATABASE_URL || DEFAULT_SERVER_URL;
  let version: string;
  try {
    version = await serverVersion(serverUrl);
  } catch (e) {
    console.error(`bench: PostgreSQL at ${redactUrl(serverUrl)} cannot be reached: ${errorLine(e)}`);
    return 1;
  }

  const profile = options.quick ? PROFILES.quick : PROFILES.full;
  console.log(
    `govshare benchmarks (${options.quick ? 'quick' : 'full'}): per side ${profile.warmupSeconds} s warm-up + ${profile.rounds} × ${profile.roundSeconds} s, ` +
      `${CONNECTIONS} connections, PostgreSQL ${version} at ${redactUrl(serverUrl)}`,
  );
  // The load generator, both servers and usually the database share this machine's CPUs.
  const [loadBefore = 0] = loadavg();
  if (loadBefore > availableParallelism() / 2) {
    console.log(`note: load average ${loadBefore.toFixed(1)} on ${availableParallelism()} CPUs: other work is running, the figures will be noisy`);
  }

  let current: Teardown | undefined;
  let stoppedBy: NodeJS.Signals | undefined;
  const interrupted = (signal: NodeJS.Signals): void => {
    stoppedBy = signal;
    console.error(`bench: ${signal}, cleaning up`);
    void (current?.run() ?? Promise.resolve([])).then((problems) => {
      for (const p of problems) console.error(`bench: cleanup: ${p}`);
      process.exit(128 + constants.signals[signal]);
    });
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const results: BenchResult[] = [];
  const setups: Record<string, unknown> = {};
  let cleanupFailed = false;
  try {
    for (const benchmark of selected) {
      const teardown = new Teardown();
      current = teardown;
      const settings: BenchSettings = {
        ...profile,
        connections: CONNECTIONS,
        serverUrl,
        teardown,
        log: (line) => console.log(line),
      };
      console.log(`${benchmark.name}: ${benchmark.description}`);
      let failure: unknown;
      try {
        const outcome = await benchmark.run(settings);
        results.push(...outcome.results);
        setups[benchmark.name] = outcome.setup;
      } catch (e) {
        failure = e;
      }
      const problems = await teardown.run();
      for (const p of problems) console.error(`bench: ${benchmark.name}: cleanup: ${p}`);
      cleanupFailed ||= problems.length > 0;
      // Interrupted: the teardown stopped the servers under load, which is not worth reporting.
      if (stoppedBy) return 128 + constants.signals[stoppedBy];
      if (failure !== undefined) {
        console.error(`bench: ${benchmark.name} failed, no results written: ${errorLine(failure)}`);
        return 1;
      }
    }
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }

  const cpuList = cpus();
  const autocannonVersion = (createRequire(import.meta.url)('autocannon/package.json') as { version: string }).version;
  const meta = {
    date: new Date(started).toISOString(),
    profile: options.quick ? 'quick' : 'full',
    filter: filter ?? null,
    node: process.version,
    // The V8 flags of the run (npm run bench passes --max-semi-space-size=64, as npm start does).
    nodeFlags: [...process.execArgv, ...(process.env.NODE_OPTIONS ? [process.env.NODE_OPTIONS] : [])],
    os: `${process.platform} ${release()} ${process.arch}`,
    cpu: { count: availableParallelism(), model: cpuList[0]?.model.trim() ?? 'unknown' },
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    database: { server: `PostgreSQL ${version}`, url: redactUrl(serverUrl) },
    load: {
      tool: `autocannon ${autocannonVersion} in a worker thread of the benchmark process, over 127.0.0.1`,
      connections: CONNECTIONS,
      pipelining: 1,
      warmupSeconds: profile.warmupSeconds,
      rounds: profile.rounds,
      roundSeconds: profile.roundSeconds,
      secondsPerSide: profile.rounds * profile.roundSeconds,
    },
    loadAverageBefore: Number(loadBefore.toFixed(2)),
    benchmarks: setups,
    wallSeconds: Number(((Date.now() - started) / 1000).toFixed(1)),
  };

  const root = packageRoot();
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.meta.json'), `${JSON.stringify(meta, null, 2)}\n`);

  console.log(`\n${formatTable(results)}\n`);
  console.log(`ratio = value / baseline (baseline: the same work without what is measured; see bench/README.md). req/s: higher is better; ms: lower is better.`);
  console.log(`wrote ${relative(process.cwd(), join(dir, 'latest.json'))} and latest.meta.json (${meta.wallSeconds} s)`);
  if (cleanupFailed) {
    console.error('bench: results are valid but cleanup failed (see above)');
    return 1;
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
