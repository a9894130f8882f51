/**
 * `govshare catalog import` and `govshare catalog export` as an operator runs them (the built
 * command, an embedded data directory or the PostgreSQL server of DATABASE_URL).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabaseUrl } from '../src/db/test-database.js';
import { csv, HEADERS, resourceRows } from './helpers/catalog-file.js';
import { run } from './helpers/cli.js';
import { usccFor } from './helpers/platform.js';

let dir: string;
let vars: Record<string, string | undefined>;
let drop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'govshare-catalog-cli-'));
  const server = await createServerDatabaseUrl();
  drop = server?.drop;
  vars = { GOVSHARE_DATA_DIR: join(dir, 'data'), ...(server ? { DATABASE_URL: server.url } : {}) };
  const init = run(['init'], vars);
  expect(init.code, init.stderr).toBe(0);
  const agency = run(['agency', 'add', '--code', 'HYGA', '--name', '衡阳市公安局', '--uscc', usccFor(7), '--region', '430400', '--level', 'prefecture'], vars);
  expect(agency.code, agency.stderr).toBe(0);
}, 120_000);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await drop?.();
});

describe('govshare catalog', () => {
  it('import: prints every bad row with its column, writes them with --report, exits 7 and imports nothing', () => {
    const file = join(dir, 'bad.csv');
    writeFileSync(file, csv([HEADERS, ...resourceRows({ 资源名称: '人口基本信息', 提供方: 'HYGA' }), ...resourceRows({ 资源名称: '户籍信息', 提供方: 'HYGA', 共享类型: '不予共享', 共享条件: '', 共享方式: '' })]));
    const report = join(dir, 'errors.csv');
    const r = run(['catalog', 'import', file, '--report', report], vars);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stdout).toContain('未导入 nothing imported: 0 of 2 resources');
    expect(r.stdout).toMatch(/5\s+不予共享依据\s+legalBasis\.missing/);
    const lines = readFileSync(report, 'utf8').replace(/^\ufeff/, '').trim().split('\r\n');
    expect(lines[0]).toBe('行号 row,列 column,取值 value,规则 rule,错误说明,error');
    expect(lines[1]).toMatch(/^5,不予共享依据,,legalBasis\.missing,不予共享须提供/);
    const json = run(['--json', 'catalog', 'export', '--format', 'json', '--out', join(dir, 'empty.json')], vars);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'empty.json'), 'utf8'))).toMatchObject({ count: 0, entries: [] });
  }, 60_000);

  it('import --publish migrates the catalog; export writes it back as XLSX, JSON and DCAT-AP', () => {
    const file = join(dir, 'good.csv');
    writeFileSync(file, csv([HEADERS, ...resourceRows({ 资源名称: '人口基本信息', 提供方: '衡阳市公安局', 资源代码: '301002/000003' })]));
    const dry = run(['catalog', 'import', file, '--publish', '--dry-run'], vars);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('已校验（未写入）');
    const r = run(['--json', 'catalog', 'import', file, '--publish'], vars);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'imported', mode: 'publish', entries: [{ resourceCode: '301002/000003' }] });

    const dcat = run(['catalog', 'export', '--format', 'dcat', '--out', join(dir, 'catalog.jsonld'), '--base-url', 'https://data.hengyang.example'], vars);
    expect(dcat.code, dcat.stderr).toBe(0);
    expect(dcat.stdout).toContain('1 published entries written');
    const doc = JSON.parse(readFileSync(join(dir, 'catalog.jsonld'), 'utf8')) as { 'dcat:dataset': { '@id': string; 'dct:identifier': string }[] };
    expect(doc['dcat:dataset'][0]).toMatchObject({ '@id': 'https://data.hengyang.example/api/v1/catalog/entries/301002%2F000003', 'dct:identifier': '301002/000003' });
    const xlsx = run(['catalog', 'export', '--out', join(dir, 'catalog.xlsx')], vars);
    expect(xlsx.code, xlsx.stderr).toBe(0);
    expect(readFileSync(join(dir, 'catalog.xlsx')).subarray(0, 2).toString()).toBe('PK');
    const bad = run(['catalog', 'export', '--format', 'rdf', '--out', join(dir, 'x')], vars);
    expect(bad.code).toBe(7);
    expect(bad.stderr).toContain('GS_ERR_CATALOG_EXPORT_FORMAT');
  }, 60_000);
});
