import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { PERMISSIONS } from '../src/modules/accounts/permissions.js';
import { importCatalogFile } from '../src/modules/catalog/import-file.js';
import { openSheet } from '../src/modules/catalog/import-reader.js';
import { cliContext } from '../src/server/actor.js';
import { loadConfig } from '../src/server/config.js';
import { Platform } from '../src/server/platform.js';
import { createBenchDatabase } from './bench-database.js';
import { compared, type Benchmark, type BenchResult } from './benchmark.js';
import { benchAgencies, generateCatalogEntries, registerBenchAgencies, templateHeader, templateRowsOf } from './catalog-data.js';

const FULL = 100_000;
const QUICK = 10_000;

/** The generated entries as an import workbook (the national template), written with the streaming writer. */
async function writeWorkbook(path: string, count: number): Promise<{ rows: number; bytes: number }> {
  const out = createWriteStream(path);
  const finished = new Promise<void>((resolve, reject) => out.on('finish', () => resolve()).on('error', reject));
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useSharedStrings: false });
  const sheet = wb.addWorksheet('政务信息资源目录');
  sheet.addRow(templateHeader()).commit();
  let rows = 0;
  for (const e of generateCatalogEntries(count, 20_260_101)) {
    for (const r of templateRowsOf(e)) {
      sheet.addRow(r).commit();
      rows++;
    }
  }
  sheet.commit();
  await wb.commit();
  await finished;
  return { rows, bytes: statSync(path).size };
}

/** A migrated, bootstrapped platform on the database with the generator's agencies. */
async function preparedPlatform(handle: DatabaseHandle, databaseUrl: string | undefined): Promise<Platform> {
  await migrate(handle.db);
  const platform = Platform.fromDatabase(handle, loadConfig({ env: {}, overrides: { logLevel: 'silent', ...(databaseUrl ? { databaseUrl } : {}) } }));
  await platform.bootstrap();
  await registerBenchAgencies(platform, cliContext('bench', new Set(PERMISSIONS)));
  return platform;
}

async function timedImport(platform: Platform, file: string, count: number, log: (line: string) => void): Promise<number> {
  const started = performance.now();
  let lastPhase = '';
  const report = await importCatalogFile(platform.catalog, platform.agencies, cliContext('bench', new Set(PERMISSIONS)), { path: file }, {
    publish: true,
    onProgress: (p) => {
      if (p.phase !== lastPhase) log(`    ${p.phase} at ${((performance.now() - started) / 1000).toFixed(1)} s`);
      lastPhase = p.phase;
    },
  });
  const seconds = (performance.now() - started) / 1000;
  if (report.imported !== count) throw new Error(`imported ${report.imported} of ${count}: ${JSON.stringify(report.errors.slice(0, 3))}`);
  return seconds;
}

/**
 * Baseline: the same workbook read row by row and its rows stored, 1000 a statement, as text
 * arrays in a plain table — reading and storing the bytes without the catalog's checks, entries,
 * versions, data items, history and audit.
 */
async function baselineImport(url: string, file: string): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await pool.query('create table bench_rows (row integer primary key, cells text[] not null)');
    const started = performance.now();
    const sheet = await openSheet({ path: file });
    const client = await pool.connect();
    try {
      await client.query('begin');
      let batch: { row: number; cells: readonly string[] }[] = [];
      const flush = async (): Promise<void> => {
        if (batch.length === 0) return;
        const params: unknown[] = [];
        const values = batch.map((r, i) => {
          params.push(r.row, r.cells);
          return `($${2 * i + 1}, $${2 * i + 2})`;
        });
        await client.query(`insert into bench_rows (row, cells) values ${values.join(',')}`, params);
        batch = [];
      };
      for await (const r of sheet.rows) {
        batch.push(r);
        if (batch.length === 1000) await flush();
      }
      await flush();
      await client.query('commit');
    } finally {
      client.release();
    }
    return (performance.now() - started) / 1000;
  } finally {
    await pool.end();
  }
}

export const catalogImport: Benchmark = {
  name: 'catalog-import',
  description: `import ${FULL.toLocaleString('en')} generated catalog entries (3–12 data items each) from one XLSX file, published directly (--publish), against reading the file and storing its rows bare`,
  async run(s) {
    const quick = s.rounds <= 2;
    const count = quick ? QUICK : FULL;
    const dir = mkdtempSync(join(tmpdir(), 'govshare-bench-catalog-'));
    s.teardown.add(`remove ${dir}`, async () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'catalog.xlsx');
    s.log(`  generating ${count} entries into ${file}`);
    const { rows, bytes } = await writeWorkbook(file, count);
    s.log(`  ${rows} rows, ${(bytes / 1024 / 1024).toFixed(1)} MiB`);

    const database = await createBenchDatabase(s.serverUrl);
    s.teardown.add(`drop database ${database.name}`, () => database.drop());
    const handle = await openDatabase({ kind: 'postgres', url: database.url, poolSize: 5 });
    const platform = await preparedPlatform(handle, database.url);
    s.teardown.add('close the platform', () => platform.close());
    s.log(`  importing into PostgreSQL (${database.name})`);
    const pgSeconds = await timedImport(platform, file, count, s.log);
    s.log(`  PostgreSQL: ${pgSeconds.toFixed(1)} s; baseline`);
    const baseline = await baselineImport(database.url, file);
    const label = quick ? `${count / 1000}k` : '100k';
    const results: BenchResult[] = [compared(`catalog-import.${label}.postgres.seconds`, 's', pgSeconds, baseline, 2)];

    let pgliteSeconds: number | null = null;
    if (process.env.BENCH_CATALOG_PGLITE !== '0') {
      s.log('  importing into PGlite (in memory)');
      const lite = await openDatabase({ kind: 'pglite', dir: undefined });
      const litePlatform = await preparedPlatform(lite, undefined);
      s.teardown.add('close the PGlite platform', () => litePlatform.close());
      pgliteSeconds = await timedImport(litePlatform, file, count, s.log);
      s.log(`  PGlite: ${pgliteSeconds.toFixed(1)} s`);
      // The same baseline: PGlite has no second process, so the bare figure stays the server's.
      results.push(compared(`catalog-import.${label}.pglite.seconds`, 's', pgliteSeconds, baseline, 2));
    }
    return {
      results,
      setup: { entries: count, rows, fileBytes: bytes, agencies: benchAgencies().length, mode: 'publish (migration)', database: database.name, poolSize: 5, pgSeconds, pgliteSeconds, baselineSeconds: baseline },
    };
  },
};
