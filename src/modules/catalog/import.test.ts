import { PassThrough } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csv, HEADERS, itemCells, resourceCells, resourceRows, row, xlsx } from '../../../test/helpers/catalog-file.js';
import { agencyInput, createTestPlatform, usccFor, type TestPlatform } from '../../../test/helpers/platform.js';
import { permissionsOf, type Role } from '../accounts/permissions.js';
import type { Agency } from '../agencies/schemas.js';
import type { RequestContext } from '../../server/actor.js';
import { exportSource, writeXlsx } from './export.js';
import { importCatalogFile, type ImportFileOptions, type ImportReport } from './import-file.js';

let t: TestPlatform;
let home: Agency;
let other: Agency;
let cataloger: RequestContext;
let supervisor: RequestContext;

function as(role: Role, agencyId: string | null, name: string): RequestContext {
  return { actor: { type: 'user', userId: null, name, roles: [role], agencyId, permissions: permissionsOf([role]) }, requestId: null, ip: null };
}

const run = (ctx: RequestContext, bytes: Buffer | string, options: ImportFileOptions = {}): Promise<ImportReport> =>
  importCatalogFile(t.platform.catalog, t.platform.agencies, ctx, { bytes: Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'utf8') }, options);

const drafts = async (agencyId: string): Promise<number> => (await t.platform.catalog.list(supervisor.actor, { agencyId, status: 'unpublished', limit: 1000 })).length;
const errorsAt = (r: ImportReport) => r.errors.map((e) => `${e.row} ${e.column} ${e.rule}`);

beforeAll(async () => {
  t = await createTestPlatform();
  home = await t.platform.agencies.create(t.cli, agencyInput(1, { code: 'HOME', nameZh: '衡阳市市场监督管理局' }));
  other = await t.platform.agencies.create(t.cli, agencyInput(2, { code: 'OTHER', nameZh: '衡阳市公安局' }));
  cataloger = as('cataloger', home.id, 'li.cataloger');
  supervisor = as('supervisor', null, 'zhao.supervisor');
  await t.platform.catalog.createExtensionField(t.cli, { key: 'level', labelZh: '数据分级', labelEn: 'Data level', type: 'enum', allowedValues: ['一般', '重要'] });
});
afterAll(async () => t?.close());

describe('files that cannot be read', () => {
  it('refuses a binary file and an old .xls with a clear code, and an XLSX claim that is not a workbook', async () => {
    await expect(run(cataloger, Buffer.from([0x00, 0x01, 0x02, 0xff, 0x00]))).rejects.toMatchObject({ code: 'GS_ERR_CATALOG_IMPORT_FILE_UNREADABLE', params: { reason: expect.stringContaining('neither XLSX nor CSV') } });
    await expect(run(cataloger, Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]))).rejects.toMatchObject({ params: { reason: expect.stringContaining('.xls') } });
    await expect(run(cataloger, csv([HEADERS]), { format: 'xlsx' })).rejects.toMatchObject({ params: { reason: expect.stringContaining('not an XLSX') } });
  });

  it('reports missing and renamed columns on row 1 and imports nothing', async () => {
    const headers = HEADERS.filter((h) => h !== '共享类型').map((h) => (h === '资源名称' ? '资源名' : h));
    const r = await run(cataloger, csv([headers, ...resourceRows({}, itemCells(), headers)]));
    expect(r.outcome).toBe('rejected');
    expect(errorsAt(r)).toEqual(expect.arrayContaining(['1 资源名 header.unknown', '1 资源名称 header.missing', '1 共享类型 header.missing']));
    expect(await drafts(home.id)).toBe(0);
  });
});

describe('rows that break the rules', () => {
  it('reports every bad cell with its row, column and rule, in English and Chinese, and imports nothing', async () => {
    const rows = [
      HEADERS,
      ...resourceRows({ 资源名称: '好的资源' }),
      ...resourceRows({ 资源名称: '坏枚举', 共享类型: '随便共享', 更新周期: '每两天' }),
      ...resourceRows({ 资源名称: '不予共享无依据', 共享类型: '不予共享', 共享条件: '', 共享方式: '', 是否向社会开放: '否' }),
      ...resourceRows({ 资源名称: '有条件无条件', 共享条件: '' }),
      ...resourceRows({ 资源名称: '未知单位', 提供方: '不存在的局' }),
      ...resourceRows({ 资源名称: '坏分类', 项: '00' }),
      ...resourceRows({ 资源名称: '坏类型' }, [{ 信息项名称: '编号', 数据类型: '整型', 数据长度: '10', 是否主键: '是' }, { 信息项名称: '名称', 数据类型: '字符串型' }]),
      ...resourceRows({ 资源名称: '坏扩展', 数据分级: '绝密' }),
    ];
    const headers = [...HEADERS, '数据分级'];
    const r = await run(cataloger, csv(rows.map((x, i) => (i === 0 ? headers : [...x, x[HEADERS.indexOf('资源名称')] === '坏扩展' ? '绝密' : '']))));
    expect(r.outcome).toBe('rejected');
    expect(r.imported).toBe(0);
    expect(r.resources).toBe(8);
    expect(r.failedResources).toBe(7);
    // Each resource is three rows from row 2: 好的资源 2–4, 坏枚举 5–7, …
    expect(errorsAt(r)).toEqual(
      expect.arrayContaining([
        '5 共享类型 enum',
        '5 更新周期 enum',
        '8 不予共享依据 legalBasis.missing',
        '11 共享条件 shareCondition.missing',
        '14 提供方 agency',
        '17 项 classification.code',
        '20 数据长度 notApplicable',
        '21 数据类型 enum',
        '22 数据分级 allowedValues',
      ]),
    );
    const enumError = r.errors.find((e) => e.column === '共享类型')!;
    expect(enumError).toMatchObject({ value: '随便共享', message: expect.stringContaining('无条件共享/unconditional'), messageZh: expect.stringContaining('取值“随便共享”无效') });
    expect(r.errors.find((e) => e.rule === 'legalBasis.missing')?.messageZh).toContain('不予共享须提供法律、法规、规章依据');
    expect(await drafts(home.id)).toBe(0);
  });

  it('with partial, imports the good resource and returns the others with their errors', async () => {
    const rows = [HEADERS, ...resourceRows({ 资源名称: '部分导入好的' }), ...resourceRows({ 资源名称: '部分导入坏的', 共享类型: '随便' })];
    const r = await run(cataloger, csv(rows), { partial: true });
    expect(r).toMatchObject({ outcome: 'partial', imported: 1, failedResources: 1 });
    expect(r.entries.map((e) => e.nameZh)).toEqual(['部分导入好的']);
    expect(errorsAt(r)).toEqual(['5 共享类型 enum']);
    const created = await t.platform.catalog.get(cataloger.actor, r.entries[0]!.entryId);
    expect(created).toMatchObject({ status: 'unpublished', provider: { code: 'HOME' }, pending: { state: 'draft', nameZh: '部分导入好的', findings: [] } });
    expect(created.pending?.dataItems.map((d) => d.sqlType)).toEqual(['varchar(18)', 'varchar(200)', 'numeric(18,2)']);
  });

  it("refuses a cataloger's rows for another agency, and codes or publish dates on drafts", async () => {
    const rows = [HEADERS, ...resourceRows({ 资源名称: '别人的', 提供方: 'OTHER' }), ...resourceRows({ 资源名称: '带代码', 资源代码: '301002/000001', 发布日期: '2024-01-02' })];
    const r = await run(cataloger, csv(rows));
    expect(errorsAt(r)).toEqual(['2 提供方 ownAgency', '5 资源代码 assignedAtPublication', '5 发布日期 assignedAtPublication']);
  });

  it('reports a continuation row that fills a resource column, and data item columns without a name', async () => {
    const rows = [HEADERS, row({ ...resourceCells({ 资源名称: '续行' }), ...itemCells()[0] }), row({ 信息项名称: '名称', 数据类型: '字符型', 数据长度: '20', 共享类型: '无条件共享' }), row({ 数据类型: '字符型' })];
    const r = await run(cataloger, csv(rows));
    expect(errorsAt(r)).toEqual(['3 共享类型 continuation', '4 信息项名称 required']);
  });
});

describe('what a good file creates', () => {
  it('makes one draft per resource from several rows, with extension values, other languages and the Chinese labels read as codes', async () => {
    const headers = [...HEADERS, '资源名称@ug', '资源摘要@en', '信息项名称@en', '数据分级'];
    const items: Record<string, string>[] = [
      { 信息项名称: '公民身份号码', 数据类型: '字符型', 数据长度: '18', 是否主键: '是', 格式校验: '身份证号', 是否敏感: '是' },
      { 信息项名称: '姓名', 数据类型: 'string', 数据长度: '50' },
      { 信息项名称: '出生日期', 数据类型: '日期型' },
    ];
    const rows = [
      headers,
      [...row({ ...resourceCells({ 资源名称: '人口基本信息', 共享方式: '接口', 更新周期: '实时' }), ...items[0] }), 'نوپۇس ئۇچۇرى', 'Basic population data', 'Identity number', '重要'],
      [...row(items[1]!), '', '', 'Name', ''],
      [...row(items[2]!), '', '', '', ''],
    ];
    const r = await run(cataloger, csv(rows));
    expect(r.errors).toEqual([]);
    expect(r).toMatchObject({ outcome: 'imported', rows: 3, resources: 1, imported: 1, format: 'csv', encoding: 'utf-8' });
    const e = await t.platform.catalog.get(cataloger.actor, r.entries[0]!.entryId, 'en');
    expect(e.pending).toMatchObject({
      nameZh: '人口基本信息',
      names: { ug: 'نوپۇس ئۇچۇرى' },
      abstract: 'Basic population data',
      shareMethods: ['api'],
      updateCycle: 'realtime',
      extensions: { level: '重要' },
    });
    expect(e.pending?.dataItems.map((d) => [d.nameZh, d.name, d.sqlType, d.format, d.key, d.sensitive])).toEqual([
      ['公民身份号码', 'Identity number', 'varchar(18)', 'idCard', true, true],
      ['姓名', 'Name', 'varchar(50)', null, false, false],
      ['出生日期', '出生日期', 'date', null, false, false],
    ]);
    const history = await t.platform.catalog.history(cataloger.actor, e.id);
    expect(history[0]).toMatchObject({ action: 'catalog.create', actor: 'li.cataloger', details: { importId: r.importId } });
  });

  it('reads a CSV in GB18030/GBK as older office software writes it', async () => {
    const text = csv([HEADERS, ...resourceRows({ 资源名称: '国标编码资源' })]);
    // GB18030 bytes of the text: encode through the decoder's inverse, character by character.
    const gbk = encodeGb18030(text);
    const r = await run(cataloger, gbk);
    expect(r).toMatchObject({ outcome: 'imported', encoding: 'gb18030' });
    expect(r.entries[0]?.nameZh).toBe('国标编码资源');
  });

  it('writes nothing when the import fails part-way through writing', async () => {
    const rows = [HEADERS, ...Array.from({ length: 600 }, (_, i) => resourceRows({ 资源名称: `中途失败${i}` })).flat()];
    const before = await drafts(home.id);
    let writes = 0;
    await expect(
      run(cataloger, csv(rows), {
        onProgress: (p) => {
          // The first chunk of 500 entries is written when the callback breaks the import.
          if (p.phase === 'writing' && ++writes === 1) throw new Error('disk full');
        },
      }),
    ).rejects.toThrow('disk full');
    expect(await drafts(home.id)).toBe(before);
  });
});

describe('the example files under docs/', () => {
  it('check without a single error, the XLSX and its CSV twin alike', async () => {
    await t.platform.agencies.create(t.cli, agencyInput(11, { code: 'HY-GA', nameZh: '衡阳市公安局（示例）' }));
    await t.platform.agencies.create(t.cli, agencyInput(12, { code: 'HY-SCJG', nameZh: '衡阳市市场监督管理局（示例）' }));
    await t.platform.agencies.create(t.cli, agencyInput(13, { code: 'HY-ZRZY', nameZh: '衡阳市自然资源和规划局' }));
    for (const file of ['docs/catalog-import-example.xlsx', 'docs/catalog-import-example.csv']) {
      const r = await importCatalogFile(t.platform.catalog, t.platform.agencies, t.cli, { path: file }, { dryRun: true });
      expect(r.errors, file).toEqual([]);
      expect(r).toMatchObject({ outcome: 'checked', rows: 12, resources: 4 });
    }
  });
});

describe('migrating an approved catalog (publish)', () => {
  it('publishes with the codes and dates of the file, checks codes against the file and the catalog, and a cataloger may not', async () => {
    const rows = [
      HEADERS,
      ...resourceRows({ 资源名称: '迁移一', 资源代码: '301002/000007', 发布日期: '2023-05-06', 关联资源代码: '301002/000008' }),
      ...resourceRows({ 资源名称: '迁移二', 资源代码: '301002/000008', 提供方: '衡阳市公安局' }),
      ...resourceRows({ 资源名称: '不予共享', 共享类型: '不予共享', 共享条件: '', 不予共享依据: '中华人民共和国保守国家秘密法', 不予共享条款: '第九条', 共享方式: '', 资源格式: '电子文件/ofd' }, []),
      ...resourceRows({ 资源名称: '无代码' }),
    ];
    await expect(run(cataloger, csv(rows), { publish: true })).rejects.toMatchObject({ code: 'GS_ERR_AUTH_FORBIDDEN' });
    const r = await run(supervisor, csv(rows), { publish: true });
    expect(r.errors).toEqual([]);
    expect(r.entries.map((e) => e.resourceCode)).toEqual(['301002/000007', '301002/000008', '301002/000009', '301002/000010']);
    const one = await t.platform.catalog.getPublished('301002/000007');
    expect(one).toMatchObject({ publishDate: '2023-05-06', provider: { code: 'HOME' }, content: { relatedCodes: ['301002/000008'] } });
    expect((await t.platform.catalog.getPublished('301002/000008')).provider.code).toBe('OTHER');
    const notShared = await t.platform.catalog.nonShared(undefined, 10);
    expect(notShared.map((n) => [n.nameZh, n.confirmedBy])).toEqual([['不予共享', 'zhao.supervisor']]);
    const feed = await t.platform.catalog.changes(0, 100);
    expect(feed.slice(-4).map((c) => c.resourceCode)).toEqual(r.entries.map((e) => e.resourceCode));
    // Searchable at once, as a supervisor's publication is.
    const found = await t.platform.catalogSearch.search({ q: '迁移二', offset: 0, limit: 10, facets: false });
    expect(found.items.map((h) => h.resourceCode)).toEqual(['301002/000008']);
    const history = await t.platform.catalog.history(supervisor.actor, one.entryId);
    expect(history.map((h) => h.action)).toEqual(['catalog.create', 'catalog.publish']);
    expect(history[1]?.details).toMatchObject({ migrated: true, importId: r.importId });

    const again = await run(supervisor, csv([HEADERS, ...resourceRows({ 资源名称: '重复一', 资源代码: '301002/000007' }), ...resourceRows({ 资源名称: '重复二', 资源代码: '301002/000100' }), ...resourceRows({ 资源名称: '重复三', 资源代码: '301002/000100' })]), { publish: true });
    expect(errorsAt(again)).toEqual(['2 资源代码 unique', '8 资源代码 unique']);
    expect(again.errors[0]?.message).toContain('already in the catalog');
    expect(again.errors[1]?.message).toContain('twice in the file');
  });

  it('publishes 3,000 table resources in one import: their shared tables are registered, each created at its first use', async () => {
    // About five locks a table (the table, two indexes, its TOAST table and index), held to the
    // end of the transaction: a PostgreSQL 15 server with the default settings runs out of shared
    // memory after about 2,500 tables created in one transaction (measured; migration 0020).
    const n = 3_000;
    const rows = [HEADERS, ...Array.from({ length: n }, (_, i) => resourceRows({ 资源名称: `迁移库表${i}`, 资源代码: `302003/${String(i + 1).padStart(6, '0')}`, 项: '02', 目: '003' })).flat()];
    const fresh = await createTestPlatform();
    try {
      await fresh.platform.agencies.create(fresh.cli, agencyInput(1, { code: 'HOME', nameZh: '衡阳市市场监督管理局' }));
      const r = await importCatalogFile(fresh.platform.catalog, fresh.platform.agencies, fresh.cli, { bytes: Buffer.from(csv(rows), 'utf8') }, { publish: true });
      expect(r.errors).toEqual([]);
      expect(r.imported).toBe(n);
      const state = () =>
        sql<{ registered: number; pending: number; physical: number }>`select
          (select count(*)::int from exchange_tables) as registered,
          (select count(*)::int from exchange_tables where pending) as pending,
          (select count(*)::int from pg_tables where schemaname = 'shared' and tablename like 'r_302003_%') as physical`
          .execute(fresh.platform.db)
          .then((x) => x.rows[0]);
      expect(await state()).toEqual({ registered: n, pending: n, physical: 0 });
      // Loadable at once: the first load creates the table.
      const loaded = await fresh.platform.exchange.applyBatch(fresh.cli, '302003/000001', { idempotencyKey: 'after-import', changes: [{ row: 1, operation: 'upsert', values: { 统一社会信用代码: usccFor(1), 企业名称: '衡阳某公司' } }] });
      expect(loaded).toMatchObject({ status: 'applied', firstSeq: 1 });
      expect(await state()).toEqual({ registered: n, pending: n - 1, physical: 1 });
    } finally {
      await fresh.close();
    }
  }, 120_000);

  it('round trip: the XLSX export re-imports into another platform as the same entries', async () => {
    const source = await exportSource(t.platform.catalog);
    const file = await collect((out) => writeXlsx(out, source));
    const fresh = await createTestPlatform();
    try {
      await fresh.platform.agencies.create(fresh.cli, agencyInput(1, { code: 'HOME', nameZh: '衡阳市市场监督管理局' }));
      await fresh.platform.agencies.create(fresh.cli, agencyInput(2, { code: 'OTHER', nameZh: '衡阳市公安局' }));
      await fresh.platform.catalog.createExtensionField(fresh.cli, { key: 'level', labelZh: '数据分级', labelEn: 'Data level', type: 'enum', allowedValues: ['一般', '重要'] });
      const r = await importCatalogFile(fresh.platform.catalog, fresh.platform.agencies, fresh.cli, { bytes: file }, { publish: true });
      expect(r.errors).toEqual([]);
      const shape = (e: Awaited<ReturnType<typeof t.platform.catalog.listPublished>>[number]) => ({ code: e.resourceCode, provider: e.provider.code, publishDate: e.publishDate, content: e.content });
      const before = (await t.platform.catalog.listPublished({ limit: 1000 })).map(shape).sort((a, b) => a.code.localeCompare(b.code));
      const after = (await fresh.platform.catalog.listPublished({ limit: 1000 })).map(shape).sort((a, b) => a.code.localeCompare(b.code));
      expect(after.length).toBeGreaterThan(3);
      expect(after).toEqual(before);
    } finally {
      await fresh.close();
    }
  });
});

describe('a 50,000-row workbook', () => {
  it('with three bad rows: reports all three by row and column and imports nothing; with partial, imports the rest', async () => {
    // 10,000 resources of 5 rows; the bad cells are on rows 7, 25,003 and 49,998.
    const items = (n: number) => [...itemCells(n), { 信息项名称: '成立日期', 数据类型: '日期型' }, { 信息项名称: '经营范围', 数据类型: '字符型', 数据长度: '2000' }];
    function* rows(): Generator<string[]> {
      yield [...HEADERS];
      for (let i = 0; i < 10_000; i++) yield* resourceRows({ 资源名称: `企业登记信息${i}`, 提供方: 'OTHER' }, items(i));
    }
    const all = [...rows()];
    all[6]![HEADERS.indexOf('数据类型')] = '字符';
    all[25_002]![HEADERS.indexOf('数据长度')] = '长';
    all[49_997]![HEADERS.indexOf('是否主键')] = '也许';
    const file = await xlsx(all);
    const ctx = t.cli;
    const r = await importCatalogFile(t.platform.catalog, t.platform.agencies, ctx, { bytes: file });
    expect(r).toMatchObject({ outcome: 'rejected', rows: 50_000, resources: 10_000, imported: 0, failedResources: 3, format: 'xlsx' });
    expect(errorsAt(r)).toEqual(['7 数据类型 enum', '25003 数据长度 integer', '49998 是否主键 yesNo']);
    expect(await drafts(other.id)).toBe(0);

    const partial = await importCatalogFile(t.platform.catalog, t.platform.agencies, ctx, { bytes: file }, { partial: true });
    expect(partial).toMatchObject({ outcome: 'partial', imported: 9_997, failedResources: 3 });
    expect(errorsAt(partial)).toEqual(errorsAt(r));
    const page = await t.platform.catalog.list(supervisor.actor, { agencyId: other.id, status: 'unpublished', limit: 1000 });
    expect(page).toHaveLength(1000);
  }, 240_000);
});

async function collect(write: (out: PassThrough) => Promise<unknown>): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve) => out.on('end', () => resolve()));
  await write(out);
  await ended;
  return Buffer.concat(chunks);
}

/** GB18030 bytes of a text: Node decodes GB18030 but cannot encode it, so invert the decoder per character. */
function encodeGb18030(text: string): Buffer {
  const decoder = new TextDecoder('gb18030');
  const table = new Map<string, Buffer>();
  for (let hi = 0x81; hi <= 0xfe; hi++) {
    for (let lo = 0x40; lo <= 0xfe; lo++) {
      if (lo === 0x7f) continue;
      const bytes = Buffer.from([hi, lo]);
      const ch = decoder.decode(bytes);
      if (ch.length === 1 && !table.has(ch)) table.set(ch, bytes);
    }
  }
  return Buffer.concat(
    [...text].map((ch) => {
      if (ch.charCodeAt(0) < 0x80) return Buffer.from(ch, 'latin1');
      const b = table.get(ch);
      if (!b) throw new Error(`no GB18030 two-byte code for ${ch}`);
      return b;
    }),
  );
}
