import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogContent } from '../../../test/helpers/catalog.js';
import { agencyInput, createTestPlatform, usccFor, userWithRoles, type LoggedIn, type TestPlatform } from '../../../test/helpers/platform.js';
import { encodeGb18030 } from '../../../test/helpers/gb18030.js';
import { ExchangeService } from './service.js';

const V1 = '/api/v1';
const LIMIT = 4096;

let t: TestPlatform;
let nodeAdmin: LoggedIn;
let cataloger: LoggedIn;
let code: string;
let url: string;

beforeAll(async () => {
  t = await createTestPlatform({ dataLoadMaxBytes: LIMIT });
  const agency = await t.platform.agencies.create(t.cli, agencyInput(1));
  nodeAdmin = await userWithRoles(t, 'loader', ['nodeAdmin'], agency.id);
  cataloger = await userWithRoles(t, 'cataloger', ['cataloger'], agency.id);
  const e = await t.platform.catalog.create(t.cli, { agencyId: agency.id, content: catalogContent() });
  await t.platform.catalog.submit(t.cli, e.id);
  code = (await t.platform.catalog.publish(t.cli, e.id, {})).resourceCode!;
  url = `${V1}/data/tables/${encodeURIComponent(code)}`;
});

afterAll(async () => {
  await t?.close();
});

const batch = (who: LoggedIn, payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: `${url}/batches`, headers: who.headers, payload });

describe('the data routes', () => {
  it('applies a batch, says replayed the second time, and refuses a bad batch with 422 naming each row, item and rule', async () => {
    const payload = { idempotencyKey: 'http-1', changes: [{ upsert: { 统一社会信用代码: usccFor(1), 企业名称: '甲', 注册资本: 10 } }, { delete: { 统一社会信用代码: usccFor(2) } }] };
    const first = await batch(nodeAdmin, payload);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ status: 'applied', upserted: 1, deleted: 1, firstSeq: 1, lastSeq: 2 });
    const again = await batch(nodeAdmin, payload);
    expect(again.json()).toMatchObject({ status: 'replayed', firstSeq: 1, lastSeq: 2 });

    const bad = await batch(nodeAdmin, { idempotencyKey: 'http-2', changes: [{ upsert: { 统一社会信用代码: usccFor(3) } }, { upsert: { 统一社会信用代码: 'ABC', 成立日期: '2021-13-01' } }] });
    expect(bad.statusCode).toBe(422);
    const body = bad.json();
    expect(body.code).toBe('GS_ERR_DATA_BATCH_REJECTED');
    expect(body.details.fields).toEqual([
      expect.objectContaining({ field: 'rows.2.统一社会信用代码', rule: 'uscc' }),
      expect.objectContaining({ field: 'rows.2.成立日期', rule: 'date' }),
    ]);
    expect(body.details.problems).toHaveLength(2);

    const lookup = await t.app.inject({ method: 'POST', url: `${url}/lookup`, headers: cataloger.headers, payload: { key: { 统一社会信用代码: usccFor(1) } } });
    expect(lookup.json()).toMatchObject({ record: { seq: 1, deleted: false, values: { 企业名称: '甲', 注册资本: '10.00' } } });
    const view = await t.app.inject({ method: 'GET', url, headers: cataloger.headers });
    expect(view.json()).toMatchObject({ resourceCode: code, lastSeq: 2, liveRows: 1, deletedRows: 1 });
    const changes = await t.app.inject({ method: 'GET', url: `${url}/changes?after=1`, headers: cataloger.headers });
    expect(changes.json().items).toEqual([expect.objectContaining({ seq: 2, deleted: true })]);
  });

  it('loads CSV and NDJSON files by their content type, GBK declared', async () => {
    const gbk = encodeGb18030(`统一社会信用代码,企业名称\r\n${usccFor(3)},衡阳市蒸湘区商贸公司\r\n`);
    const csv = await t.app.inject({ method: 'POST', url: `${url}/files?encoding=gb18030`, headers: { ...nodeAdmin.headers, 'content-type': 'text/csv' }, payload: gbk });
    expect(csv.statusCode, csv.body).toBe(200);
    expect(csv.json()).toMatchObject({ status: 'applied', rows: 1, upserted: 1 });
    const read = await t.app.inject({ method: 'POST', url: `${url}/lookup`, headers: cataloger.headers, payload: { key: { 统一社会信用代码: usccFor(3) } } });
    expect(read.json().record.values.企业名称).toBe('衡阳市蒸湘区商贸公司');

    const nd = `${JSON.stringify({ 统一社会信用代码: usccFor(4), 企业名称: '乙' })}\n${JSON.stringify({ 统一社会信用代码: usccFor(5), 是否: 1 })}\n`;
    const r = await t.app.inject({ method: 'POST', url: `${url}/files?policy=quarantine`, headers: { ...nodeAdmin.headers, 'content-type': 'application/x-ndjson' }, payload: nd });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ status: 'applied', upserted: 1, quarantined: 1, problems: [expect.objectContaining({ row: 2, item: '是否', rule: 'unknownItem' })] });
    const q = await t.app.inject({ method: 'GET', url: `${url}/quarantine`, headers: cataloger.headers });
    expect(q.json().items).toEqual([expect.objectContaining({ row: 2, values: { 统一社会信用代码: usccFor(5), 是否: 1 } })]);
  });

  it('answers 413 naming the limit, by Content-Length and while streaming, and 400 locating an unclosed quote; nothing loaded', async () => {
    const before = (await t.app.inject({ method: 'GET', url, headers: cataloger.headers })).json().lastSeq;
    const big = `统一社会信用代码,企业名称\n${Array.from({ length: 200 }, (_, i) => `${usccFor(100 + i)},企业`).join('\n')}\n`;
    const r = await t.app.inject({ method: 'POST', url: `${url}/files`, headers: { ...nodeAdmin.headers, 'content-type': 'text/csv' }, payload: big });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ code: 'GS_ERR_DATA_FILE_TOO_LARGE', details: { limit: LIMIT } });
    const chunked = await t.app.inject({
      method: 'POST',
      url: `${url}/files`,
      headers: { ...nodeAdmin.headers, 'content-type': 'text/csv', 'transfer-encoding': 'chunked' },
      payload: Readable.from((function* () {
        for (let i = 0; i < big.length; i += 500) yield Buffer.from(big.slice(i, i + 500));
      })()),
    });
    expect(chunked.statusCode).toBe(413);
    expect(chunked.json().code).toBe('GS_ERR_DATA_FILE_TOO_LARGE');
    const quote = await t.app.inject({ method: 'POST', url: `${url}/files`, headers: { ...nodeAdmin.headers, 'content-type': 'text/csv' }, payload: `统一社会信用代码,企业名称\n${usccFor(7)},"未闭合\n` });
    expect(quote.statusCode).toBe(400);
    expect(quote.json()).toMatchObject({ code: 'GS_ERR_DATA_FILE_UNREADABLE', details: { location: 'record 2' } });
    expect((await t.app.inject({ method: 'GET', url, headers: cataloger.headers })).json().lastSeq).toBe(before);
  });

  it('refuses a cataloger loading (data:load) and an unknown resource', async () => {
    const r = await batch(cataloger, { idempotencyKey: 'c', changes: [{ upsert: { 统一社会信用代码: usccFor(9) } }] });
    expect(r.statusCode).toBe(403);
    expect(r.json().details.permission).toBe('data:load');
    const none = await t.app.inject({ method: 'GET', url: `${V1}/data/tables/${encodeURIComponent('301002/999999')}`, headers: cataloger.headers });
    expect(none.statusCode).toBe(404);
    expect(none.json().code).toBe('GS_ERR_DATA_TABLE_NOT_FOUND');
  });
});

describe('the SM4 option and key rotation', () => {
  it('encrypts new values with SM4 under a new data key while values under the old key still open', async () => {
    const sm4 = new ExchangeService(t.platform.db, t.platform.audit, t.platform.keys, { cipher: 'sm4' }, t.clock.now);
    const aes = t.platform.exchange;
    await aes.applyBatch(t.cli, code, { idempotencyKey: 'rot-aes', changes: [{ row: 1, operation: 'upsert', values: { 统一社会信用代码: usccFor(50), 法定代表人身份证号: '11010519491231002X' } }] });
    await sm4.applyBatch(t.cli, code, { idempotencyKey: 'rot-sm4b', changes: [{ row: 1, operation: 'upsert', values: { 统一社会信用代码: usccFor(52), 法定代表人身份证号: '11010519491231002X' } }] });
    const keys = await t.platform.db.selectFrom('exchangeDataKeys').select(['id', 'algorithm', 'active']).where('purpose', '=', 'encryption').orderBy('id').execute();
    expect(keys.map((k) => [k.algorithm, k.active])).toEqual([
      ['aes-256-gcm', false],
      ['sm4-cbc-hmac-sha256', true],
    ]);
    expect((await sm4.record(t.cli.actor, code, { 统一社会信用代码: usccFor(50) }))?.values.法定代表人身份证号).toBe('11010519491231002X');
    expect((await sm4.record(t.cli.actor, code, { 统一社会信用代码: usccFor(52) }))?.values.法定代表人身份证号).toBe('11010519491231002X');
  });
});
