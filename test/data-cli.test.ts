/**
 * `govshare data load` and `govshare data retire-table` as an operator runs them (the built
 * command, an embedded data directory or the PostgreSQL server of DATABASE_URL).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabaseUrl } from '../src/db/test-database.js';
import { csv, HEADERS, resourceRows } from './helpers/catalog-file.js';
import { run } from './helpers/cli.js';
import { encodeGb18030 } from './helpers/gb18030.js';
import { usccFor } from './helpers/platform.js';

const CODE = '301002/000003';
let dir: string;
let vars: Record<string, string | undefined>;
let drop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'govshare-data-cli-'));
  const server = await createServerDatabaseUrl();
  drop = server?.drop;
  vars = { GOVSHARE_DATA_DIR: join(dir, 'data'), ...(server ? { DATABASE_URL: server.url } : {}) };
  expect(run(['init'], vars).code).toBe(0);
  const agency = run(['agency', 'add', '--code', 'HYSJ', '--name', '衡阳市市场监督管理局', '--uscc', usccFor(7), '--region', '430400', '--level', 'prefecture'], vars);
  expect(agency.code, agency.stderr).toBe(0);
  const catalog = join(dir, 'catalog.csv');
  writeFileSync(catalog, csv([HEADERS, ...resourceRows({ 提供方: 'HYSJ', 资源代码: CODE })]));
  const imported = run(['catalog', 'import', catalog, '--publish'], vars);
  expect(imported.code, imported.stderr).toBe(0);
}, 180_000);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await drop?.();
});

describe('govshare data load', () => {
  it('loads a GBK CSV into the shared table of a resource published by import; the same file again changes nothing', () => {
    const file = join(dir, 'enterprises.csv');
    writeFileSync(file, encodeGb18030(`统一社会信用代码,企业名称,注册资本\r\n${usccFor(1)},衡阳市商贸有限公司,100\r\n${usccFor(2)},湘南物流有限公司,20.5\r\n`));
    const r = run(['--json', 'data', 'load', CODE, file], vars);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'applied', rows: 2, upserted: 2, firstSeq: 1, lastSeq: 2, format: 'csv', encoding: 'gb18030' });
    const again = run(['data', 'load', CODE, file], vars);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('already loaded, nothing changed');
  }, 60_000);

  it('prints every bad row with its item and rule, exits 7 and loads nothing', () => {
    const file = join(dir, 'bad.ndjson');
    writeFileSync(file, [JSON.stringify({ 统一社会信用代码: usccFor(3), 注册资本: '1.234' }), JSON.stringify({ 统一社会信用代码: 'X' })].join('\n'));
    const r = run(['data', 'load', CODE, file], vars);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stdout).toContain('未装载 nothing loaded');
    expect(r.stdout).toMatch(/1\s+注册资本\s+scale/);
    expect(r.stdout).toMatch(/2\s+统一社会信用代码\s+uscc/);
    const unknown = run(['data', 'load', '301002/999999', file], vars);
    expect(unknown.code).toBe(6);
    expect(unknown.stderr).toContain('GS_ERR_DATA_TABLE_NOT_FOUND');
  }, 60_000);

  it('retire-table renames the table aside for an incompatible change', () => {
    const r = run(['data', 'retire-table', CODE, '--reason', '注册资本改为文本'], vars);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('renamed to shared.r_301002_000003_v1');
    const load = run(['data', 'load', CODE, join(dir, 'enterprises.csv')], vars);
    expect(load.code).toBe(7);
    expect(load.stderr).toContain('GS_ERR_DATA_TABLE_RETIRED');
  }, 60_000);
});
