import 'reflect-metadata';
import { createReadStream, createWriteStream, mkdtempSync, openAsBlob, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { idCardCheckCharacter } from '../src/lib/id-card.js';
import { usccCheckCharacter } from '../src/lib/uscc.js';
import { PERMISSIONS } from '../src/modules/accounts/permissions.js';
import type { DataItemInput } from '../src/modules/catalog/schemas.js';
import { cliContext } from '../src/server/actor.js';
import { ADMIN_OPERATIONS } from '../src/server/admin-operations.js';
import { loadConfig } from '../src/server/config.js';
import { Platform } from '../src/server/platform.js';
import { createBenchDatabase } from './bench-database.js';
import { compared, type Benchmark, type BenchSettings } from './benchmark.js';

const FULL = 1_000_000;
const QUICK = 100_000;
const POOL_SIZE = 5;

/** A population resource (人口基本信息) as a public-security bureau shares it. */
const ITEMS: readonly DataItemInput[] = [
  { nameZh: '公民身份号码', dataType: 'string', length: 18, format: 'idCard', key: true },
  { nameZh: '姓名', dataType: 'string', length: 50 },
  { nameZh: '性别', dataType: 'string', length: 2 },
  { nameZh: '出生日期', dataType: 'date' },
  { nameZh: '户籍地行政区划代码', dataType: 'string', length: 6, format: 'regionCode' },
  { nameZh: '住址', dataType: 'string', length: 200 },
  { nameZh: '月收入', dataType: 'decimal', precision: 12, scale: 2 },
  { nameZh: '联系电话', dataType: 'string', length: 20, sensitive: true },
];

/** The same columns in a plain table (the sensitive one as its plain text: the file holds it so). */
const RAW_TABLE = `create table bench_raw (id varchar(18) primary key, name varchar(50), gender varchar(2), birth date, region varchar(6), address varchar(200), income numeric(12,2), phone varchar(20))`;

const REGIONS = ['430402', '430403', '430404', '430405', '430406', '430407', '430408', '430421', '430422', '430423', '430424', '430426'];
const TOWNS = ['雁峰区先锋路', '珠晖区东风路', '石鼓区中山北路', '蒸湘区解放大道', '南岳区祝融路', '衡阳县西渡镇', '衡南县云集镇', '衡山县开云镇', '衡东县城关镇', '祁东县洪桥镇', '耒阳市蔡伦大道', '常宁市宜阳路'];
const SURNAMES = [...'王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈'];
const GIVEN = [...'伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红云建国志文斌辉鹏宇浩然子轩梓涵欣怡'];
const DAYS = 25_000;
const BASE_DAY = Date.UTC(1945, 0, 1);

/**
 * Person n (mixed radix: birth day, region, serial, so every n has its own ID number with a
 * GB 11643 check character; the serial's last digit gives the sex, odd for men).
 */
function person(n: number): string {
  const day = n % DAYS;
  const region = REGIONS[Math.floor(n / DAYS) % REGIONS.length]!;
  const serial = Math.floor(n / (DAYS * REGIONS.length)) * 100 + ((n * 37) % 100);
  const birth = new Date(BASE_DAY + day * 86_400_000).toISOString().slice(0, 10);
  const first17 = `${region}${birth.replaceAll('-', '')}${String(serial).padStart(3, '0')}`;
  const id = first17 + idCardCheckCharacter(first17)!;
  const name = SURNAMES[n % SURNAMES.length]! + GIVEN[(n >> 3) % GIVEN.length]! + (n % 3 === 0 ? '' : GIVEN[(n >> 7) % GIVEN.length]!);
  const gender = serial % 2 === 1 ? '男' : '女';
  const address = `湖南省衡阳市${TOWNS[n % TOWNS.length]}${(n % 997) + 1}号${(n % 31) + 1}栋${(n % 6) + 1}单元`;
  // Some addresses hold a comma, quoted as RFC 4180 says.
  const addressCell = n % 10 === 0 ? `"${address}，${(n % 5) + 1}楼,东"` : address;
  const income = `${(n * 7919) % 30_000}.${String(n % 100).padStart(2, '0')}`;
  const phone = `1${3 + (n % 7)}${String((n * 104_729) % 1_000_000_000).padStart(9, '0')}`;
  return `${id},${name},${gender},${birth},${region},${addressCell},${income},${phone}\n`;
}

async function writeCsv(path: string, rows: number): Promise<number> {
  const out = createWriteStream(path);
  out.write(`${ITEMS.map((i) => i.nameZh).join(',')}\n`);
  let buffer = '';
  for (let n = 0; n < rows; n++) {
    buffer += person(n);
    if (buffer.length > 1 << 16) {
      if (!out.write(buffer)) await new Promise<void>((r) => out.once('drain', () => r()));
      buffer = '';
    }
  }
  out.end(buffer);
  await new Promise<void>((resolve, reject) => out.on('finish', () => resolve()).on('error', reject));
  return statSync(path).size;
}

function uscc(n: number): string {
  const first17 = `11430400${String(n).padStart(9, '0')}`;
  return first17 + usccCheckCharacter(first17)!;
}

/** Publishes the population resource on a bootstrapped platform; its resource code. */
async function publishResource(platform: Platform): Promise<string> {
  const cli = cliContext('bench', new Set(PERMISSIONS));
  const agency = await platform.agencies.create(cli, { code: 'BENCHGA01', nameZh: '衡阳市公安局（基准）', uscc: uscc(910_000_001), regionCode: '430400', level: 'prefecture' });
  const entry = await platform.catalog.create(cli, {
    agencyId: agency.id,
    content: {
      classification: { category: '3', group: '01', subgroup: '001' },
      nameZh: '人口基本信息（基准）',
      abstractZh: '基准测试用人口基本信息',
      format: { type: 'database', subtype: 'dm' },
      dataItems: [...ITEMS],
      shareType: 'conditional',
      shareCondition: '基准测试',
      shareMethods: ['table'],
      openness: { open: false },
      updateCycle: 'daily',
    },
  });
  await platform.catalog.submit(cli, entry.id);
  return (await platform.catalog.publish(cli, entry.id, {})).resourceCode!;
}

interface SideFigures {
  readonly ingestSeconds: number;
  readonly rawSeconds: number;
  readonly rows: number;
  readonly lastSeq: number;
}

/** The real ingest path: `govshare data load`'s operation (file stream, CSV reader, full checks, encryption, one transaction). */
async function ingest(platform: Platform, code: string, file: string, rows: number, label: string, s: BenchSettings): Promise<{ seconds: number; lastSeq: number }> {
  let reported = 0;
  const started = performance.now();
  const outcome = await ADMIN_OPERATIONS.dataLoad(platform, cliContext('bench', new Set(PERMISSIONS)), {
    resource: code,
    file,
    onProgress: (p) => {
      if (p.rows - reported >= rows / 4) {
        reported = p.rows;
        s.log(`    ${label}: ${p.rows.toLocaleString('en')} rows at ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
    },
  });
  const seconds = (performance.now() - started) / 1000;
  if (outcome.status !== 'applied' || outcome.upserted !== rows) throw new Error(`${label}: the load was not applied whole: ${JSON.stringify({ ...outcome, problems: outcome.problems.slice(0, 3) })}`);
  return { seconds, lastSeq: outcome.lastSeq ?? 0 };
}

async function countOf(handle: DatabaseHandle, table: string): Promise<number> {
  return Number((await sql<{ n: string }>`select count(*) as n from ${sql.raw(table)}`.execute(handle.db)).rows[0]!.n);
}

async function onPostgres(s: BenchSettings, file: string, rows: number): Promise<SideFigures & { database: string }> {
  const database = await createBenchDatabase(s.serverUrl);
  s.teardown.add(`drop database ${database.name}`, () => database.drop());
  // Baseline first, on a connection of its own: COPY of the file into the plain table.
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  let rawSeconds: number;
  try {
    await client.query(RAW_TABLE);
    const started = performance.now();
    await pipeline(createReadStream(file), client.query(copyFrom('copy bench_raw from stdin (format csv, header true)')));
    rawSeconds = (performance.now() - started) / 1000;
    const n = Number((await client.query<{ n: string }>('select count(*) as n from bench_raw')).rows[0]!.n);
    if (n !== rows) throw new Error(`raw COPY stored ${n} rows of ${rows}`);
    await client.query('drop table bench_raw');
    await client.query('checkpoint');
  } finally {
    await client.end();
  }
  const handle = await openDatabase({ kind: 'postgres', url: database.url, poolSize: POOL_SIZE });
  await migrate(handle.db);
  const platform = Platform.fromDatabase(handle, loadConfig({ env: {}, overrides: { logLevel: 'silent', databaseUrl: database.url } }));
  s.teardown.add('close the PostgreSQL platform', () => platform.close());
  await platform.bootstrap();
  const code = await publishResource(platform);
  const { seconds, lastSeq } = await ingest(platform, code, file, rows, 'postgres', s);
  const table = await platform.exchange.tableOf(code);
  const stored = await countOf(handle, `shared."${table.tableName}"`);
  if (stored !== rows) throw new Error(`postgres: the shared table holds ${stored} rows of ${rows}`);
  return { ingestSeconds: seconds, rawSeconds, rows: stored, lastSeq, database: database.name };
}

async function onPGlite(s: BenchSettings, dir: string, file: string, rows: number): Promise<SideFigures> {
  // PGlite with a data directory on disk, as `govshare serve` runs it by default.
  const rawDir = join(dir, 'pglite-raw');
  const raw = new PGlite({ dataDir: rawDir });
  await raw.waitReady;
  let rawSeconds: number;
  try {
    await raw.exec(RAW_TABLE);
    const started = performance.now();
    await raw.query(`copy bench_raw from '/dev/blob' (format csv, header true)`, [], { blob: await openAsBlob(file) });
    rawSeconds = (performance.now() - started) / 1000;
    const n = Number((await raw.query<{ n: string }>('select count(*)::text as n from bench_raw')).rows[0]!.n);
    if (n !== rows) throw new Error(`PGlite raw COPY stored ${n} rows of ${rows}`);
  } finally {
    await raw.close();
    rmSync(rawDir, { recursive: true, force: true });
  }
  const handle = await openDatabase({ kind: 'pglite', dir: join(dir, 'pglite') });
  await migrate(handle.db);
  const platform = Platform.fromDatabase(handle, loadConfig({ env: {}, overrides: { logLevel: 'silent' } }));
  s.teardown.add('close the PGlite platform', () => platform.close());
  await platform.bootstrap();
  const code = await publishResource(platform);
  const { seconds, lastSeq } = await ingest(platform, code, file, rows, 'pglite', s);
  const table = await platform.exchange.tableOf(code);
  const stored = await countOf(handle, `shared."${table.tableName}"`);
  if (stored !== rows) throw new Error(`pglite: the shared table holds ${stored} rows of ${rows}`);
  await platform.close();
  return { ingestSeconds: seconds, rawSeconds, rows: stored, lastSeq };
}

const DESCRIPTION = 'a generated population CSV (ID number key with its GB 11643 check character, name, sex, birth date, region code, address, a decimal, a sensitive phone number) loaded through `govshare data load`’s path (CSV reader, every value checked, the phone encrypted, COPY through a staging table, one transaction), against a raw COPY of the same file into a plain table with the same column types and primary key; on PostgreSQL and on PGlite (data directory on disk)';

export const exchangeIngest: Benchmark = {
  name: 'exchange.ingest',
  description: DESCRIPTION,
  async run(s) {
    const sized = Number(process.env.BENCH_INGEST_ROWS);
    const rows = Number.isInteger(sized) && sized > 0 ? sized : s.rounds <= 2 ? QUICK : FULL;
    const dir = mkdtempSync(join(tmpdir(), 'govshare-bench-ingest-'));
    s.teardown.add(`remove ${dir}`, async () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'population.csv');
    s.log(`  generating ${rows.toLocaleString('en')} people into ${file}`);
    const bytes = await writeCsv(file, rows);
    s.log(`  ${(bytes / 1024 / 1024).toFixed(1)} MiB; PostgreSQL: raw COPY, then the ingest`);
    const postgres = await onPostgres(s, file, rows);
    s.log(`  PostgreSQL: ingest ${postgres.ingestSeconds.toFixed(1)} s, raw COPY ${postgres.rawSeconds.toFixed(1)} s`);
    let pglite: SideFigures | null = null;
    if (process.env.BENCH_INGEST_PGLITE !== '0') {
      s.log('  PGlite: raw COPY, then the ingest');
      pglite = await onPGlite(s, dir, file, rows);
      s.log(`  PGlite: ingest ${pglite.ingestSeconds.toFixed(1)} s, raw COPY ${pglite.rawSeconds.toFixed(1)} s`);
    }
    const label = rows % 1_000_000 === 0 ? `${rows / 1_000_000}m` : rows % 1000 === 0 ? `${rows / 1000}k` : String(rows);
    const rps = (f: SideFigures, which: 'ingestSeconds' | 'rawSeconds') => f.rows / f[which];
    return {
      results: [
        compared(`exchange.ingest.${label}.postgres.rps`, 'rows/s', rps(postgres, 'ingestSeconds'), rps(postgres, 'rawSeconds'), 0),
        ...(pglite ? [compared(`exchange.ingest.${label}.pglite.rps`, 'rows/s', rps(pglite, 'ingestSeconds'), rps(pglite, 'rawSeconds'), 0)] : []),
      ],
      setup: {
        description: DESCRIPTION,
        rows,
        fileBytes: bytes,
        target: 'PostgreSQL: ingest at least half the raw COPY rate (ratio ≥ 0.5)',
        postgres: { ...postgres, poolSize: POOL_SIZE },
        pglite,
      },
    };
  },
};
