/**
 * Bad data files through the upload route, large enough that chunks were already written (COPY
 * through the staging table) when the fault is found: each is refused with its location, and
 * nothing of it stays in the table.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogContent } from './helpers/catalog.js';
import { encodeGb18030 } from './helpers/gb18030.js';
import { agencyInput, createTestPlatform, usccFor, userWithRoles, type LoggedIn, type TestPlatform } from './helpers/platform.js';

const LIMIT = 2_000_000;
/** More rows than one chunk (20,000), so that the first is written before the fault. */
const MANY = 24_000;

let t: TestPlatform;
let loader: LoggedIn;
let url: string;

beforeAll(async () => {
  t = await createTestPlatform({ dataLoadMaxBytes: LIMIT });
  const agency = await t.platform.agencies.create(t.cli, agencyInput(1));
  loader = await userWithRoles(t, 'loader', ['nodeAdmin'], agency.id);
  const e = await t.platform.catalog.create(t.cli, { agencyId: agency.id, content: catalogContent() });
  await t.platform.catalog.submit(t.cli, e.id);
  const code = (await t.platform.catalog.publish(t.cli, e.id, {})).resourceCode!;
  url = `/api/v1/data/tables/${encodeURIComponent(code)}`;
}, 60_000);

afterAll(async () => {
  await t?.close();
});

const HEADER = '统一社会信用代码,企业名称,注册资本,成立日期';
const line = (n: number, name = `企业${n}`): string => `${usccFor(n)},${name},12.50,2021-03-04`;

/** The body as a stream of 16 KiB pieces without a Content-Length, as a client streaming a file sends it. */
function chunked(body: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < body.length; i += 16_384) yield body.subarray(i, i + 16_384);
    })(),
  );
}

async function post(body: Buffer | string, query = '') {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const r = await t.app.inject({ method: 'POST', url: `${url}/files${query}`, headers: { ...loader.headers, 'content-type': 'text/csv', 'transfer-encoding': 'chunked' }, payload: chunked(bytes) });
  return { status: r.statusCode, body: r.json() };
}

async function state(): Promise<{ lastSeq: number; liveRows: number }> {
  const r = (await t.app.inject({ method: 'GET', url, headers: loader.headers })).json();
  return { lastSeq: r.lastSeq, liveRows: r.liveRows };
}

async function stored(n: number): Promise<unknown> {
  const r = await t.app.inject({ method: 'POST', url: `${url}/lookup`, headers: loader.headers, payload: { key: { 统一社会信用代码: usccFor(n) } } });
  return r.json().record;
}

describe('bad data files', () => {
  it('detects a GBK CSV without being told and loads it', async () => {
    const text = `${HEADER}\r\n${Array.from({ length: 3000 }, (_, i) => line(10 + i, `衡阳市蒸湘区商贸公司${i}`)).join('\r\n')}\r\n`;
    const r = await post(encodeGb18030(text));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ status: 'applied', rows: 3000, upserted: 3000 });
    expect(await stored(2999 + 10)).toMatchObject({ values: { 企业名称: '衡阳市蒸湘区商贸公司2999' } });
  });

  it('refuses a wrong cell count and unparsable values with 422 naming each row, item and rule, after chunks were written; nothing stays', async () => {
    const before = await state();
    const lines = Array.from({ length: MANY }, (_, i) => line(100_000 + i));
    lines[21_000] = `${usccFor(121_000)},企业,12.50`; // record 21,002 (the header is record 1): 3 cells
    lines[22_000] = `${usccFor(122_000)},企业,十二,2021-02-30`; // record 22,002: not a decimal, not a date
    lines[23_000] = `${usccFor(123_000).slice(0, 17)}0,企业,1.234,2021-01-01`; // record 23,002: check character, scale
    const r = await post(`${HEADER}\n${lines.join('\n')}\n`);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('GS_ERR_DATA_BATCH_REJECTED');
    expect(r.body.details).toMatchObject({ rows: MANY, invalid: 3, problemCount: 5 });
    expect(r.body.details.fields).toEqual([
      expect.objectContaining({ field: 'rows.21002', rule: 'columnCount' }),
      expect.objectContaining({ field: 'rows.22002.注册资本', rule: 'decimal' }),
      expect.objectContaining({ field: 'rows.22002.成立日期', rule: 'date' }),
      expect.objectContaining({ field: 'rows.23002.统一社会信用代码', rule: 'uscc' }),
      expect.objectContaining({ field: 'rows.23002.注册资本', rule: 'scale' }),
    ]);
    // Problems name the row and the rule, never the value.
    expect(JSON.stringify(r.body)).not.toContain('十二');
    expect(await state()).toEqual(before);
    expect(await stored(100_000)).toBeNull();
  });

  it(`answers 413 naming the limit (${LIMIT} bytes) for a file found too large while streaming, after chunks were written; nothing stays`, async () => {
    const before = await state();
    const body = Buffer.from(`${HEADER}\n${Array.from({ length: 45_000 }, (_, i) => line(200_000 + i)).join('\n')}\n`);
    expect(body.length).toBeGreaterThan(LIMIT);
    // The first chunk's rows fit under the limit: they were written before the limit was reached.
    expect(Buffer.byteLength(`${HEADER}\n${Array.from({ length: 20_001 }, (_, i) => line(200_000 + i)).join('\n')}\n`)).toBeLessThan(LIMIT);
    const r = await post(body);
    expect(r.status).toBe(413);
    expect(r.body).toMatchObject({ code: 'GS_ERR_DATA_FILE_TOO_LARGE', details: { limit: LIMIT } });
    expect(r.body.message).toContain(String(LIMIT));
    expect(await state()).toEqual(before);
    expect(await stored(200_000)).toBeNull();
  });

  it('refuses a GBK file with bytes that are not GBK past the detection sample with 400 naming where; nothing stays', async () => {
    const before = await state();
    const good = encodeGb18030(`${HEADER}\n${Array.from({ length: MANY }, (_, i) => line(300_000 + i, `衡阳企业${i}`)).join('\n')}\n`);
    const r = await post(Buffer.concat([good, Buffer.from([0x81, 0x0a])]));
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'GS_ERR_DATA_FILE_UNREADABLE' });
    expect(String(r.body.details.location)).toMatch(/^bytes \d+–\d+$/);
    expect(await state()).toEqual(before);
    expect(await stored(300_000)).toBeNull();
  });
});
