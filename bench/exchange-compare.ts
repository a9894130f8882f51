import 'reflect-metadata';
import { sql } from 'kysely';
import type { DatabaseHandle } from '../src/db/database.js';
import { qualified } from '../src/modules/exchange/columns.js';
import { exchangeContext } from '../src/server/actor.js';
import { loadConfig } from '../src/server/config.js';
import { Platform } from '../src/server/platform.js';
import { onBothDatabases } from './bench-database.js';
import { compared, type Benchmark, type BenchResult, type BenchSettings } from './benchmark.js';
import { consumerSystem, enterpriseResource, idCard, loadEnterpriseRows, uscc } from './exchange-fixture.js';

const POOL_SIZE = 10;
/** BENCH_COMPARE_ROWS sizes down a quick look (the table and the file both); --quick: 100,000. */
const FULL = 1_000_000;
const QUICK = 100_000;
const LOAD_BATCH = 10_000;
/** The baseline's keys per query, as the job's default chunk. */
const CHUNK = 2_000;

const DESCRIPTION = 'Batch verification (批量核验): a CSV of N submitted records (key, name, capital, a sensitive ID number) compared with an N-row shared table by the verification job — file checked whole at submission, keys looked up in chunks of 2,000, the sensitive item decrypted, a result file written and sealed — against a bare loop looking the same keys up in chunks of 2,000 (`= any($1)`, no checks, no decryption, no comparison); on PostgreSQL and on PGlite';

interface SideFigures {
  readonly rows: number;
  readonly loadSeconds: number;
  readonly submitSeconds: number;
  readonly runSeconds: number;
  readonly bareSeconds: number;
  /** CPU time of this process (user + system) over submission and run: the rest of the wall time is waiting (database, other processes). */
  readonly cpuSeconds: number;
  readonly counts: { readonly matched: number; readonly mismatched: number; readonly notFound: number };
  readonly fileBytes: number;
  readonly resultBytes: number;
}

const seconds = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e9;

async function measureOn(handle: DatabaseHandle, label: string, rows: number, s: BenchSettings): Promise<SideFigures> {
  const config = loadConfig({ env: {}, overrides: { logLevel: 'silent', verifyBatchMaxBytes: 512 * 1024 * 1024 } });
  const platform = Platform.fromDatabase(handle, config);
  await platform.bootstrap();
  const resource = await enterpriseResource(platform, '企业登记信息（核验基准）');
  const { code } = resource;
  s.log(`  ${label}: loading ${rows.toLocaleString('en')} rows`);
  const loadStarted = process.hrtime.bigint();
  await loadEnterpriseRows(platform, code, rows, LOAD_BATCH);
  const loadSeconds = seconds(loadStarted);
  await sql`vacuum analyze`.execute(handle.db);
  const system = await consumerSystem(platform, handle, resource, '基准测试核验系统', { method: 'comparison', items: ['统一社会信用代码', '企业名称', '注册资本', '法定代表人身份证号'] });

  // The submitted file: every record's key in a shuffled order (a stride through the table);
  // 8 in 10 records hold the stored values, 1 in 10 a wrong name, 1 in 10 a key not in the table.
  const lines: string[] = ['统一社会信用代码,企业名称,注册资本,法定代表人身份证号'];
  const stride = 7_919;
  for (let i = 0; i < rows; i++) {
    const n = (i * stride) % rows;
    const kind = i % 10;
    if (kind === 9) lines.push(`${uscc(rows + n)},基准企业${n},1.5,${idCard(n)}`);
    else lines.push(`${uscc(n)},${kind === 8 ? `别的企业${n}` : `基准企业${n}`},${n % 10_000}.5,${idCard(n)}`);
  }
  const file = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
  lines.length = 0;

  const ctx = exchangeContext({ subjectType: 'system', subjectId: system.systemId, name: '基准测试核验系统', agencyId: resource.consumerId }, null, null);
  s.log(`  ${label}: verifying ${rows.toLocaleString('en')} records (${(file.length / 2 ** 20).toFixed(1)} MiB)`);
  const cpuBefore = process.cpuUsage();
  const submitStarted = process.hrtime.bigint();
  const job = await platform.verifyJobs.submit(ctx, { systemId: system.systemId, agencyId: resource.consumerId, name: '基准测试核验系统' }, code, { bytes: file, format: 'csv' });
  const submitSeconds = seconds(submitStarted);
  const runStarted = process.hrtime.bigint();
  if ((await platform.verifyJobs.runOnce()) !== 1) throw new Error(`${label}: the job was not run`);
  const runSeconds = seconds(runStarted);
  const cpu = process.cpuUsage(cpuBefore);
  const done = await platform.verifyJobs.get({ systemId: system.systemId, agencyId: resource.consumerId, name: '' }, job.id);
  if (done.state !== 'succeeded') throw new Error(`${label}: the job ${done.state}: ${JSON.stringify(done.error)}`);
  const resultBytes = (await platform.verifyJobs.result({ systemId: system.systemId, agencyId: resource.consumerId, name: '' }, job.id)).length;

  // The baseline: the same keys, parsed by splitting lines, looked up in chunks, nothing else.
  const table = await platform.exchange.tableOf(code);
  const keyColumn = table.columns.find((c) => c.key)!.column;
  const bareStarted = process.hrtime.bigint();
  const text = file.toString('utf8');
  let found = 0;
  let start = text.indexOf('\n') + 1;
  let keys: string[] = [];
  const lookup = async (): Promise<void> => {
    const r = await sql<{ k: string }>`select ${sql.ref(keyColumn)} as k from ${sql.raw(qualified(table.tableName))} where ${sql.ref(keyColumn)} = any(${keys}::text[])`.execute(handle.db);
    found += r.rows.length;
    keys = [];
  };
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    keys.push(text.slice(start, text.indexOf(',', start)));
    start = end + 1;
    if (keys.length === CHUNK) await lookup();
  }
  if (keys.length > 0) await lookup();
  const bareSeconds = seconds(bareStarted);
  if (found !== rows - Math.floor(rows / 10)) s.log(`  ${label}: note: the bare loop found ${found} keys`);
  return { rows, loadSeconds, submitSeconds, runSeconds, bareSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, counts: { matched: done.matched, mismatched: done.mismatched, notFound: done.notFound }, fileBytes: file.length, resultBytes };
}

function results(prefix: string, f: SideFigures): BenchResult[] {
  return [compared(`${prefix}.records-per-second`, 'records/s', f.rows / (f.submitSeconds + f.runSeconds), f.rows / f.bareSeconds, 0)];
}

function setupOf(f: SideFigures): Record<string, unknown> {
  const r = (n: number): number => Number(n.toFixed(2));
  return {
    rows: f.rows,
    loadSeconds: r(f.loadSeconds),
    submitSeconds: r(f.submitSeconds),
    runSeconds: r(f.runSeconds),
    totalSeconds: r(f.submitSeconds + f.runSeconds),
    bareSeconds: r(f.bareSeconds),
    processCpuSeconds: r(f.cpuSeconds),
    recordsPerSecond: Math.round(f.rows / (f.submitSeconds + f.runSeconds)),
    jobRecordsPerSecond: Math.round(f.rows / f.runSeconds),
    counts: f.counts,
    fileMiB: r(f.fileBytes / 2 ** 20),
    resultMiB: r(f.resultBytes / 2 ** 20),
  };
}

export const exchangeCompare: Benchmark = {
  name: 'exchange.compare',
  description: DESCRIPTION,
  async run(s) {
    const rows = Number(process.env.BENCH_COMPARE_ROWS) || (s.rounds <= 2 ? QUICK : FULL);
    const { database, postgres: onPostgres, pglite: onPGlite } = await onBothDatabases(s, POOL_SIZE, (handle, label) => measureOn(handle, label, rows, s));
    const size = rows % 1_000_000 === 0 ? `${rows / 1_000_000}m` : `${rows / 1000}k`;
    return {
      results: [...results(`exchange.compare.${size}.postgres`, onPostgres), ...results(`exchange.compare.${size}.pglite`, onPGlite)],
      setup: {
        description: DESCRIPTION,
        database,
        poolSize: POOL_SIZE,
        rows,
        file: 'CSV UTF-8, 4 columns: 统一社会信用代码 (key), 企业名称, 注册资本 (decimal), 法定代表人身份证号 (sensitive, decrypted per record); keys in a shuffled order; 8/10 records match, 1/10 a wrong name, 1/10 a key not in the table',
        measured: 'VerifyJobService.submit (the whole file checked: cells, key values) + runOnce (lookups in chunks of 2,000, up to 3 in flight, comparison, result CSV sealed and stored), called directly (no HTTP upload); records/s = records / (submit + run)',
        baseline: 'the keys cut out of the same text with indexOf, looked up in chunks of 2,000 with `= any($1::text[])` on the same handle, one chunk at a time',
        postgres: setupOf(onPostgres),
        pglite: setupOf(onPGlite),
      },
    };
  },
};
