import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogContent, publishEntry, publishRevision } from '../../../test/helpers/catalog.js';
import { agencyInput, createTestPlatform, refused, usccFor, userContext, type TestPlatform } from '../../../test/helpers/platform.js';
import { idCardCheckCharacter } from '../../lib/id-card.js';
import type { RequestContext } from '../../server/actor.js';
import type { Agency } from '../agencies/schemas.js';
import type { EntryContentInput } from '../catalog/schemas.js';
import { normaliseContent } from '../catalog/normalise.js';
import { xlsx } from '../../../test/helpers/catalog-file.js';
import { encodeGb18030 } from '../../../test/helpers/gb18030.js';
import { openDataFile } from './file-rows.js';
import type { ExchangeService, IncomingChange } from './service.js';

let t: TestPlatform;
let exchange: ExchangeService;
let provider: Agency;
let other: Agency;
let loader: RequestContext;

/** A valid GB 11643 number for a serial: birth date 1990-01-01, check character computed. */
function idCard(n: number): string {
  const first17 = `43040219900101${String(n % 1000).padStart(3, '0')}`;
  return first17 + idCardCheckCharacter(first17)!;
}

const publish = (content: EntryContentInput, agencyId = provider.id): Promise<{ id: string; code: string }> => publishEntry(t, agencyId, content);
const republish = (id: string, content: EntryContentInput): Promise<void> => publishRevision(t, id, content);

async function columnTypes(table: string): Promise<Record<string, string>> {
  const r = await sql<{ name: string; type: string }>`select a.attname as name, format_type(a.atttypid, a.atttypmod) as type from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'shared' and c.relname = ${table} and a.attnum > 0 and not a.attisdropped`.execute(t.platform.db);
  return Object.fromEntries(r.rows.map((x) => [x.name, x.type]));
}

const upsert = (row: number, values: Record<string, unknown>): IncomingChange => ({ row, operation: 'upsert', values });

function enterprise(n: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { 统一社会信用代码: usccFor(n), 企业名称: `企业${n}`, 注册资本: '100.50', 成立日期: '2020-01-02', 法定代表人身份证号: idCard(n), ...over };
}

beforeAll(async () => {
  t = await createTestPlatform();
  exchange = t.platform.exchange;
  provider = await t.platform.agencies.create(t.cli, agencyInput(1));
  other = await t.platform.agencies.create(t.cli, agencyInput(2));
  loader = userContext('nodeAdmin', provider.id, 'loader');
});

afterAll(async () => {
  await t?.close();
});

describe('shared tables', () => {
  it('creates the typed table with the key, bookkeeping columns and the sequence index on publication', async () => {
    const { code } = await publish(catalogContent({ dataItems: [...catalogContent().dataItems!, { nameZh: '员工人数', dataType: 'integer' }, { nameZh: '核准时间', dataType: 'datetime' }, { nameZh: '是否存续', dataType: 'boolean' }] }));
    const view = await exchange.table(loader.actor, code);
    expect(view.tableName).toBe(`r_${code.replace('/', '_')}`);
    expect(await columnTypes(view.tableName)).toEqual({
      c1: 'character varying(18)',
      c2: 'character varying(200)',
      c3: 'numeric(18,2)',
      c4: 'date',
      c5: 'bytea',
      c6: 'bigint',
      c7: 'timestamp with time zone',
      c8: 'boolean',
      gs_seq: 'bigint',
      gs_deleted: 'boolean',
      gs_created_at: 'timestamp with time zone',
      gs_updated_at: 'timestamp with time zone',
    });
    const pk = await sql<{ def: string }>`select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = ${`shared.${view.tableName}`}::regclass and contype = 'p'`.execute(t.platform.db);
    expect(pk.rows[0]?.def).toBe('PRIMARY KEY (c1)');
    const idx = await sql<{ def: string }>`select indexdef as def from pg_indexes where schemaname = 'shared' and tablename = ${view.tableName} and indexname like '%seq_idx'`.execute(t.platform.db);
    expect(idx.rows[0]?.def).toMatch(/UNIQUE INDEX .* \(gs_seq\)/);
  });

  it('creates no table for a resource not shared as a table', async () => {
    const { code } = await publish(catalogContent({ nameZh: '接口资源', shareMethods: ['api'] }));
    await refused(exchange.table(loader.actor, code), 'GS_ERR_DATA_TABLE_NOT_FOUND');
  });

  it('adds a column for a data item a new version adds, and refuses an incompatible version with its publication', async () => {
    const { id, code } = await publish(catalogContent({ nameZh: '版本资源' }));
    await republish(id, catalogContent({ nameZh: '版本资源', dataItems: [...catalogContent().dataItems!, { nameZh: '经营范围', dataType: 'string', length: 500 }] }));
    let view = await exchange.table(loader.actor, code);
    expect(view.catalogVersion).toBe(2);
    expect(view.schemaVersion).toBe(2);
    expect(view.columns.map((c) => [c.item, c.column])).toContainEqual(['经营范围', 'c6']);
    expect((await columnTypes(view.tableName)).c6).toBe('character varying(500)');

    // Type change (date → string): refused, and the version is not published.
    const changed = catalogContent({ nameZh: '版本资源', dataItems: catalogContent().dataItems!.map((d) => (d.nameZh === '成立日期' ? { nameZh: '成立日期', dataType: 'string' as const, length: 10 } : d)) });
    const e = await t.platform.catalog.get(t.cli.actor, id);
    const d = await t.platform.catalog.saveDraft(t.cli, id, { content: changed, expectedVersion: e.version });
    await t.platform.catalog.submit(t.cli, id, d.version);
    const err = await refused(t.platform.catalog.publish(t.cli, id, {}), 'GS_ERR_DATA_TABLE_INCOMPATIBLE');
    expect(err.params.changes).toEqual(expect.arrayContaining([expect.objectContaining({ item: '成立日期', change: 'typeChanged' }), expect.objectContaining({ item: '经营范围', change: 'removed' })]));
    expect((await t.platform.catalog.get(t.cli.actor, id)).publishedVersion).toBe(2);
    view = await exchange.table(loader.actor, code);
    expect(view.catalogVersion).toBe(2);

    // The documented migration: retire the table, publish, reload.
    await exchange.applyBatch(loader, code, { idempotencyKey: 'before-retire', changes: [upsert(1, enterprise(1))] });
    const retired = await exchange.retireTable(t.cli, code, '成立日期改为文本');
    await t.platform.catalog.publish(t.cli, id, {});
    view = await exchange.table(loader.actor, code);
    expect(view).toMatchObject({ catalogVersion: 3, schemaVersion: 3, retired: false, lastSeq: 1, liveRows: 0 });
    expect((await columnTypes(view.tableName)).c4).toBe('character varying(10)');
    expect(Object.keys(await columnTypes(retired.retiredAs))).toContain('c6');
    const after = await exchange.applyBatch(loader, code, { idempotencyKey: 'after-retire', changes: [upsert(1, enterprise(1, { 成立日期: '2020年1月' }))] });
    expect(after).toMatchObject({ status: 'applied', firstSeq: 2 });
  });

  it('refuses a key change and a removed key', async () => {
    const { id } = await publish(catalogContent({ nameZh: '键资源' }));
    const items = catalogContent().dataItems!;
    const e = await t.platform.catalog.get(t.cli.actor, id);
    const d = await t.platform.catalog.saveDraft(t.cli, id, { content: catalogContent({ nameZh: '键资源', dataItems: items.map((x) => (x.nameZh === '企业名称' ? { ...x, key: true } : x)) }), expectedVersion: e.version });
    await t.platform.catalog.submit(t.cli, id, d.version);
    const err = await refused(t.platform.catalog.publish(t.cli, id, {}), 'GS_ERR_DATA_TABLE_INCOMPATIBLE');
    expect(err.params.changes).toEqual([expect.objectContaining({ item: '企业名称', change: 'keyChanged' })]);
  });
});

describe('pending tables (a catalog import publishing many, migration 0020)', () => {
  const register = (resourceCode: string, content: EntryContentInput = catalogContent()) =>
    t.platform.db.transaction().execute((trx) => exchange.published({ entryId: randomUUID(), agencyId: provider.id, resourceCode, version: 1, dataItems: normaliseContent(content, []).dataItems }, trx, { deferred: true }));
  const physical = async (code: string): Promise<boolean> => (await sql<{ n: number }>`select count(*)::int as n from pg_tables where schemaname = 'shared' and tablename = ${`r_${code.replace('/', '_')}`}`.execute(t.platform.db)).rows[0]!.n === 1;
  const pending = async (code: string): Promise<boolean> => (await t.platform.db.selectFrom('exchangeTables').select('pending').where('resourceCode', '=', code).executeTakeFirstOrThrow()).pending;

  it('registers many in one go without creating them; looking does not create; the first load creates one, the others stay registered', async () => {
    const dataItems = normaliseContent(catalogContent(), []).dataItems;
    const published = (code: string) => ({ entryId: randomUUID(), agencyId: provider.id, resourceCode: code, version: 1, dataItems });
    await register('399001/000002');
    // 399001/000002 has a row already: it goes the one-by-one way, and stays pending.
    await t.platform.db.transaction().execute((trx) => exchange.publishedMany(['399001/000001', '399001/000002', '399001/000005'].map(published), trx));
    for (const code of ['399001/000001', '399001/000002', '399001/000005']) expect([code, await physical(code), await pending(code)]).toEqual([code, false, true]);
    expect(await exchange.table(loader.actor, '399001/000001')).toMatchObject({ liveRows: 0, lastSeq: 0, catalogVersion: 1 });
    expect(await pending('399001/000001')).toBe(true);

    const r = await exchange.applyBatch(loader, '399001/000001', { idempotencyKey: 'first-use', changes: [upsert(1, enterprise(1))] });
    expect(r).toMatchObject({ status: 'applied', firstSeq: 1 });
    expect([await physical('399001/000001'), await pending('399001/000001')]).toEqual([true, false]);
    expect(await exchange.record(loader.actor, '399001/000001', { 统一社会信用代码: usccFor(1) })).toMatchObject({ seq: 1, values: { 企业名称: '企业1' } });
    expect([await physical('399001/000005'), await pending('399001/000005')]).toEqual([false, true]);
    // Another agency's load is refused before anything is created.
    await refused(exchange.applyBatch(userContext('nodeAdmin', other.id, 'stranger'), '399001/000005', { idempotencyKey: 'stranger', changes: [upsert(1, enterprise(1))] }), 'GS_ERR_AUTH_WRONG_AGENCY');
    expect([await physical('399001/000005'), await pending('399001/000005')]).toEqual([false, true]);
  });

  it('a reader outside a transaction (the exchange port) creates it too, once, however many ask at the same time', async () => {
    await register('399001/000003');
    const shapes = await Promise.all([exchange.shapeOf('399001/000003'), exchange.shapeOf('399001/000003'), exchange.tableOf('399001/000003')]);
    expect(shapes.map((s) => s.pending)).toEqual([false, false, false]);
    expect(await physical('399001/000003')).toBe(true);
  });

  it('a version published before the table exists gives it that version’s shape, with no migration', async () => {
    await register('399001/000004');
    const items = [...catalogContent().dataItems!.filter((d) => d.nameZh !== '成立日期'), { nameZh: '经营范围', dataType: 'string' as const, length: 500 }];
    await t.platform.db.transaction().execute((trx) => exchange.published({ entryId: randomUUID(), agencyId: provider.id, resourceCode: '399001/000004', version: 2, dataItems: normaliseContent(catalogContent({ dataItems: items }), []).dataItems }, trx));
    expect(await pending('399001/000004')).toBe(false);
    const view = await exchange.table(loader.actor, '399001/000004');
    expect(view).toMatchObject({ catalogVersion: 2, schemaVersion: 1 });
    expect(view.columns.map((c) => c.item)).toEqual(items.map((d) => d.nameZh));
    const types = await columnTypes(view.tableName);
    expect(Object.keys(types)).toHaveLength(items.length + 4); // and gs_seq, gs_deleted, gs_created_at, gs_updated_at
    expect(types[view.columns.find((c) => c.item === '经营范围')!.column]).toBe('character varying(500)');
  });
});

describe('ingest', () => {
  let code: string;
  let table: string;
  beforeAll(async () => {
    code = (await publish(catalogContent({ nameZh: '装载资源' }))).code;
    table = (await exchange.table(loader.actor, code)).tableName;
  });

  it('encrypts sensitive items (no plaintext in the table) and reads them back', async () => {
    const out = await exchange.applyBatch(loader, code, { idempotencyKey: 'enc-1', changes: [upsert(1, enterprise(10)), upsert(2, enterprise(11, { 注册资本: '7', 成立日期: null }))] });
    expect(out).toMatchObject({ status: 'applied', rows: 2, upserted: 2, firstSeq: 1, lastSeq: 2, problems: [] });
    const raw = await sql<{ c5: Uint8Array }>`select c5 from ${sql.raw(`shared.${table}`)} where c1 = ${usccFor(10)}`.execute(t.platform.db);
    const stored = Buffer.from(raw.rows[0]!.c5);
    expect(stored.includes(Buffer.from(idCard(10)))).toBe(false);
    expect(stored[0]).toBe(1); // AES-256-GCM
    const rec = await exchange.record(loader.actor, code, { 统一社会信用代码: usccFor(10) });
    expect(rec?.values).toEqual({ 统一社会信用代码: usccFor(10), 企业名称: '企业10', 注册资本: '100.50', 成立日期: '2020-01-02', 法定代表人身份证号: idCard(10) });
    expect((await exchange.record(loader.actor, code, { 统一社会信用代码: usccFor(11) }))?.values).toMatchObject({ 注册资本: '7.00', 成立日期: null });
    const view = await exchange.table(loader.actor, code);
    expect(view.lastUpdateAt).not.toBeNull();
  });

  it('lists every invalid row with its item and rule, and applies nothing under the default policy', async () => {
    const before = (await exchange.table(loader.actor, code)).lastSeq;
    const out = await exchange.applyBatch(loader, code, {
      idempotencyKey: 'bad-1',
      changes: [
        upsert(1, enterprise(20)),
        upsert(2, enterprise(21, { 统一社会信用代码: '91430400MA4L0000X0' })),
        upsert(3, enterprise(22, { 注册资本: '1.234', 成立日期: '2020-02-30' })),
        upsert(4, enterprise(23, { 法定代表人身份证号: '430402199001010010', 企业名称: 'x'.repeat(201) })),
        upsert(5, { ...enterprise(24), 未知项: '1' }),
        upsert(6, enterprise(25, { 企业名称: 'a\u0000b' })),
        { row: 7, operation: 'delete', values: { 统一社会信用代码: null } },
      ],
    });
    expect(out.status).toBe('rejected');
    expect(out.invalid).toBe(6);
    expect(out.problems.map((p) => [p.row, p.item, p.rule])).toEqual([
      [2, '统一社会信用代码', 'uscc'],
      [3, '注册资本', 'scale'],
      [3, '成立日期', 'date'],
      [4, '企业名称', 'maxLength'],
      [4, '法定代表人身份证号', 'idCard'],
      [5, '未知项', 'unknownItem'],
      [6, '企业名称', 'character'],
      [7, '统一社会信用代码', 'required'],
    ]);
    expect(JSON.stringify(out.problems)).not.toContain('430402199001010010');
    expect((await exchange.table(loader.actor, code)).lastSeq).toBe(before);
    expect(await exchange.record(loader.actor, code, { 统一社会信用代码: usccFor(20) })).toBeNull();
    const audit = await t.platform.db.selectFrom('auditEvents').select(['details']).where('action', '=', 'data.load').where('targetId', '=', code).execute();
    expect(audit.map((a) => (a.details as { status: string }).status)).toContain('rejected');
  });

  it('under quarantine applies the valid rows and keeps the invalid ones for the provider', async () => {
    const out = await exchange.applyBatch(loader, code, { idempotencyKey: 'q-1', policy: 'quarantine', changes: [upsert(1, enterprise(30)), upsert(2, enterprise(31, { 成立日期: '昨天' })), upsert(3, enterprise(32))] });
    expect(out).toMatchObject({ status: 'applied', upserted: 2, quarantined: 1, invalid: 1 });
    const q = await exchange.quarantine(loader.actor, code, { limit: 10 });
    expect(q).toEqual([expect.objectContaining({ row: 2, idempotencyKey: 'q-1', operation: 'upsert', values: enterprise(31, { 成立日期: '昨天' }), problems: [expect.objectContaining({ item: '成立日期', rule: 'date' })] })]);
    const stored = await t.platform.db.selectFrom('exchangeQuarantine').select('sealedRow').execute();
    expect(stored.every((s) => !s.sealedRow.includes(idCard(31)))).toBe(true);
    expect(await exchange.resolveQuarantine(loader, code, [q[0]!.id], '已修正后重新报送')).toEqual({ resolved: 1 });
    expect(await exchange.quarantine(loader.actor, code, { limit: 10 })).toEqual([]);
  });

  it('applies the same batch once: the second time says replayed and changes nothing; a different batch under the key is refused', async () => {
    const changes = [upsert(1, enterprise(40)), upsert(2, enterprise(41))];
    const first = await exchange.applyBatch(loader, code, { idempotencyKey: 'idem-1', changes });
    const seq = (await exchange.table(loader.actor, code)).lastSeq;
    const second = await exchange.applyBatch(loader, code, { idempotencyKey: 'idem-1', changes: [...changes] });
    expect(second).toEqual({ ...first, status: 'replayed' });
    expect((await exchange.table(loader.actor, code)).lastSeq).toBe(seq);
    await refused(exchange.applyBatch(loader, code, { idempotencyKey: 'idem-1', changes: [upsert(1, enterprise(42))] }), 'GS_ERR_DATA_BATCH_KEY_REUSED');
  });

  it('deletes leave tombstones with a new sequence number and no values', async () => {
    await exchange.applyBatch(loader, code, { idempotencyKey: 'del-0', changes: [upsert(1, enterprise(50))] });
    const out = await exchange.applyBatch(loader, code, { idempotencyKey: 'del-1', changes: [{ row: 1, operation: 'delete', values: { 统一社会信用代码: usccFor(50) } }] });
    expect(out).toMatchObject({ status: 'applied', deleted: 1 });
    const rec = await exchange.record(loader.actor, code, { 统一社会信用代码: usccFor(50) });
    expect(rec).toMatchObject({ deleted: true, seq: out.lastSeq, values: { 统一社会信用代码: usccFor(50), 企业名称: null, 法定代表人身份证号: null } });
  });

  it('gives concurrent batches gap-free, non-overlapping sequence ranges', async () => {
    const start = (await exchange.table(loader.actor, code)).lastSeq;
    const outs = await Promise.all(
      Array.from({ length: 6 }, (_, b) => exchange.applyBatch(loader, code, { idempotencyKey: `conc-${b}`, changes: Array.from({ length: 15 }, (_, i) => upsert(i + 1, enterprise(1000 + b * 100 + i))) })),
    );
    const ranges = outs.map((o) => [o.firstSeq!, o.lastSeq!] as const).sort((a, b) => a[0] - b[0]);
    expect(ranges[0]![0]).toBe(start + 1);
    for (let i = 0; i < ranges.length; i++) {
      expect(ranges[i]![1] - ranges[i]![0]).toBe(14);
      if (i > 0) expect(ranges[i]![0]).toBe(ranges[i - 1]![1] + 1);
    }
    expect((await exchange.table(loader.actor, code)).lastSeq).toBe(start + 90);
    const changes = await exchange.changes(loader.actor, code, start, 200);
    expect(changes.map((c) => c.seq)).toEqual(Array.from({ length: 90 }, (_, i) => start + 1 + i));
  });

  it('keeps the last change of a key repeated in one batch', async () => {
    const out = await exchange.applyBatch(loader, code, { idempotencyKey: 'rep-1', changes: [upsert(1, enterprise(60, { 企业名称: '旧' })), upsert(2, enterprise(60, { 企业名称: '新' }))] });
    expect(out).toMatchObject({ upserted: 1, firstSeq: out.lastSeq });
    expect((await exchange.record(loader.actor, code, { 统一社会信用代码: usccFor(60) }))?.values.企业名称).toBe('新');
  });

  it('writes a large batch through COPY as a small one is written: last change of a key wins, tombstones, awkward text, gap-free numbers', async () => {
    const start = (await exchange.table(loader.actor, code)).lastSeq;
    const odd = 'tab\there, back\\slash \\N, line\nbreak\r\n, 引号"';
    const changes: IncomingChange[] = [];
    for (let i = 0; i < 600; i++) changes.push(upsert(changes.length + 1, enterprise(3000 + i, { 企业名称: i === 7 ? odd : `企业${i}`, 成立日期: i % 2 ? null : '2020-01-02' })));
    // Repeated keys: the later change wins and takes the later number; deletes leave tombstones.
    changes.push(upsert(changes.length + 1, enterprise(3001, { 企业名称: '改名' })));
    for (let i = 10; i < 20; i++) changes.push({ row: changes.length + 1, operation: 'delete', values: { 统一社会信用代码: usccFor(3000 + i) } });
    changes.push(upsert(changes.length + 1, enterprise(3015, { 企业名称: '复活' })));
    const out = await exchange.applyBatch(loader, code, { idempotencyKey: 'copy-1', changes });
    expect(out).toMatchObject({ status: 'applied', rows: 612, upserted: 591, deleted: 9, firstSeq: start + 1, lastSeq: start + 600 });
    const read = await exchange.changes(loader.actor, code, start, 1000);
    expect(read.map((c) => c.seq)).toEqual(Array.from({ length: 600 }, (_, i) => start + 1 + i));
    expect(read.at(-1)?.values).toMatchObject({ 统一社会信用代码: usccFor(3015), 企业名称: '复活' });
    expect((await exchange.record(loader.actor, code, { 统一社会信用代码: usccFor(3007) }))?.values).toEqual({ ...enterprise(3007, { 企业名称: odd, 成立日期: null }), 注册资本: '100.50' });
    expect((await exchange.record(loader.actor, code, { 统一社会信用代码: usccFor(3001) }))?.values).toMatchObject({ 企业名称: '改名', 成立日期: '2020-01-02' });
    expect(await exchange.record(loader.actor, code, { 统一社会信用代码: usccFor(3012) })).toMatchObject({ deleted: true, values: { 企业名称: null, 法定代表人身份证号: null } });
    expect((await exchange.applyBatch(loader, code, { idempotencyKey: 'copy-1', changes })).status).toBe('replayed');
    expect((await exchange.table(loader.actor, code)).lastSeq).toBe(start + 600);
  });

  it("refuses another agency's staff and loads into a withdrawn resource", async () => {
    await refused(exchange.applyBatch(userContext('nodeAdmin', other.id, 'stranger'), code, { idempotencyKey: 'x', changes: [upsert(1, enterprise(70))] }), 'GS_ERR_AUTH_WRONG_AGENCY');
    const w = await publish(catalogContent({ nameZh: '撤销资源' }));
    await t.platform.catalog.withdraw(t.cli, w.id, { reason: '职能调整' });
    await refused(exchange.applyBatch(loader, w.code, { idempotencyKey: 'x', changes: [upsert(1, enterprise(70))] }), 'GS_ERR_DATA_RESOURCE_WITHDRAWN');
  });
});

describe('sensitive keys', () => {
  it('keys the table by a blind index and finds a record by it without decrypting others', async () => {
    const { code } = await publish(
      catalogContent({
        nameZh: '人口资源',
        shareType: 'conditional',
        dataItems: [
          { nameZh: '公民身份号码', dataType: 'string', length: 18, format: 'idCard', key: true, sensitive: true },
          { nameZh: '姓名', dataType: 'string', length: 50, sensitive: true },
        ],
      }),
    );
    const view = await exchange.table(loader.actor, code);
    expect(view.columns[0]).toMatchObject({ indexColumn: 'c1_bi', sqlType: 'bytea' });
    const pk = await sql<{ def: string }>`select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = ${`shared.${view.tableName}`}::regclass and contype = 'p'`.execute(t.platform.db);
    expect(pk.rows[0]?.def).toBe('PRIMARY KEY (c1_bi)');
    await exchange.applyBatch(loader, code, { idempotencyKey: 'p-1', changes: [upsert(1, { 公民身份号码: idCard(1), 姓名: '张三' }), upsert(2, { 公民身份号码: idCard(2), 姓名: '李四' })] });
    // Upserting the same person again updates the row (same blind index), not a second row.
    await exchange.applyBatch(loader, code, { idempotencyKey: 'p-2', changes: [upsert(1, { 公民身份号码: idCard(2), 姓名: '李四四' })] });
    expect((await exchange.table(loader.actor, code)).liveRows).toBe(2);
    expect((await exchange.record(loader.actor, code, { 公民身份号码: idCard(2) }))?.values).toEqual({ 公民身份号码: idCard(2), 姓名: '李四四' });
    expect(await exchange.record(loader.actor, code, { 公民身份号码: idCard(3) })).toBeNull();
    // Through COPY (a large batch): the blind index and ciphertexts as bytea, the same person twice.
    const many = Array.from({ length: 300 }, (_, i) => upsert(i + 1, { 公民身份号码: idCard(100 + i), 姓名: `居民${i}` }));
    const out = await exchange.applyBatch(loader, code, { idempotencyKey: 'p-3', changes: [...many, upsert(301, { 公民身份号码: idCard(2), 姓名: '李四五' }), upsert(302, { 公民身份号码: idCard(150), 姓名: '改' })] });
    expect(out).toMatchObject({ status: 'applied', upserted: 301 });
    expect((await exchange.table(loader.actor, code)).liveRows).toBe(302);
    expect((await exchange.record(loader.actor, code, { 公民身份号码: idCard(2) }))?.values.姓名).toBe('李四五');
    expect((await exchange.record(loader.actor, code, { 公民身份号码: idCard(150) }))?.values.姓名).toBe('改');
    expect((await exchange.record(loader.actor, code, { 公民身份号码: idCard(399) }))?.values.姓名).toBe('居民299');
  });
});

describe('files', () => {
  let code: string;
  beforeAll(async () => {
    code = (await publish(catalogContent({ nameZh: '文件资源' }))).code;
  });

  const HEADER = '统一社会信用代码,企业名称,注册资本,成立日期,法定代表人身份证号';
  const line = (n: number, name = `企业${n}`) => `${usccFor(n)},${name},12.5,2021-03-04,${idCard(n)}`;

  async function load(bytes: Buffer | string, format: 'csv' | 'ndjson' | 'xlsx', key?: string, encoding?: 'utf-8' | 'gb18030') {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    const file = openDataFile((async function* () {
      for (let i = 0; i < buf.length; i += 7) yield buf.subarray(i, i + 7); // small chunks: characters split across them
    })(), { format, encoding, maxBytes: 1_000_000 });
    const rows = (async function* () {
      for await (const r of file.rows) yield { ...r, operation: 'upsert' as const };
    })();
    return exchange.loadRows(loader, code, rows, { idempotencyKey: key, digest: file.digest, details: { format } });
  }

  it('loads a GBK CSV (detected) and the same file again changes nothing', async () => {
    const text = `${HEADER}\r\n${line(1, '衡阳市"蒸湘"商贸有限公司')}\r\n${line(2, '湘南，物流')}\r\n`.replace('衡阳市"蒸湘"商贸有限公司', '"衡阳市""蒸湘""商贸有限公司"').replace('湘南，物流', '"湘南,物流"');
    const bytes = encodeGb18030(text);
    expect(bytes.equals(Buffer.from(text))).toBe(false);
    const out = await load(bytes, 'csv');
    expect(out).toMatchObject({ status: 'applied', rows: 2, upserted: 2 });
    expect(out.idempotencyKey).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await exchange.record(loader.actor, code, { 统一社会信用代码: usccFor(1) }))?.values.企业名称).toBe('衡阳市"蒸湘"商贸有限公司');
    expect((await exchange.record(loader.actor, code, { 统一社会信用代码: usccFor(2) }))?.values.企业名称).toBe('湘南,物流');
    expect(await load(bytes, 'csv')).toMatchObject({ status: 'replayed' });
  });

  it('loads the first sheet of an XLSX workbook and refuses a damaged one with its location', async () => {
    const book = await xlsx([HEADER.split(','), [usccFor(9), '衡阳市雁峰区企业', '3', '2022-05-06', idCard(9)], ['', '', '', '', '']]);
    expect(await load(book, 'xlsx', 'xlsx-1')).toMatchObject({ status: 'applied', rows: 1, upserted: 1 });
    expect((await exchange.record(loader.actor, code, { 统一社会信用代码: usccFor(9) }))?.values).toMatchObject({ 企业名称: '衡阳市雁峰区企业', 注册资本: '3.00', 成立日期: '2022-05-06' });
    const e = await refused(load(book.subarray(0, book.length - 40), 'xlsx', 'xlsx-2'), 'GS_ERR_DATA_FILE_UNREADABLE');
    expect(String(e.params.location)).toMatch(/^the work(book|sheet)$/);
  });

  it('loads NDJSON and locates a bad line and a short CSV record', async () => {
    const nd = [JSON.stringify(enterprise(3)), '{not json', JSON.stringify(enterprise(4))].join('\n');
    const out = await load(nd, 'ndjson', 'nd-1');
    expect(out).toMatchObject({ status: 'rejected', invalid: 1, problems: [expect.objectContaining({ row: 2, rule: 'json' })] });
    const csv = `${HEADER}\n${line(5)}\n${usccFor(6)},企业6\n`;
    expect(await load(csv, 'csv', 'csv-short')).toMatchObject({ status: 'rejected', problems: [expect.objectContaining({ row: 3, item: null, rule: 'columnCount' })] });
    expect(await exchange.record(loader.actor, code, { 统一社会信用代码: usccFor(5) })).toBeNull();
  });

  it('applies nothing when the file breaks off midway, after chunks were written', async () => {
    const before = (await exchange.table(loader.actor, code)).lastSeq;
    const many = [HEADER, ...Array.from({ length: 2500 }, (_, i) => line(5000 + i))].join('\n');
    const bytes = Buffer.concat([Buffer.from(many), Buffer.from([0x0a, 0xff, 0xfe, 0x41])]); // invalid UTF-8 at the end
    const e = await refused(load(bytes, 'csv', 'broken', 'utf-8'), 'GS_ERR_DATA_FILE_UNREADABLE');
    expect(String(e.params.location)).toMatch(/^bytes /);
    expect((await exchange.table(loader.actor, code)).lastSeq).toBe(before);
    expect(await exchange.record(loader.actor, code, { 统一社会信用代码: usccFor(5000) })).toBeNull();
  });

  it('refuses a file over the size limit with the limit named, loading nothing', async () => {
    const before = (await exchange.table(loader.actor, code)).lastSeq;
    const big = [HEADER, ...Array.from({ length: 40 }, (_, i) => line(8000 + i))].join('\n');
    const file = openDataFile((async function* () {
      yield Buffer.from(big);
    })(), { format: 'csv', maxBytes: 1024 });
    const rows = (async function* () {
      for await (const r of file.rows) yield { ...r, operation: 'upsert' as const };
    })();
    const e = await refused(exchange.loadRows(loader, code, rows, { digest: file.digest, details: {} }), 'GS_ERR_DATA_FILE_TOO_LARGE');
    expect(e.params.limit).toBe(1024);
    expect((await exchange.table(loader.actor, code)).lastSeq).toBe(before);
  });
});
