/**
 * Batch verification (批量核验) as an asynchronous job, through the real exchange port: real TLS,
 * platform-issued certificates, real grants, data loaded by the provider, the job run by the
 * platform's worker (`runOnce`, or started in the background).
 */
import ExcelJS from 'exceljs';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { idCardCheckCharacter } from '../src/lib/id-card.js';
import { VerifyJobService } from '../src/modules/exchange/verify-jobs.js';
import { setGrantStatus, type GrantSpec } from '../src/modules/grants/check-fixtures.js';
import { catalogContent, publishEntry } from './helpers/catalog.js';
import { grantFor, startExchange, systemWithCertificate, type SystemCredentials, type TestExchange } from './helpers/exchange.js';
import { encodeGb18030 } from './helpers/gb18030.js';
import { agencyInput, createTestPlatform, usccFor, userContext, type TestPlatform } from './helpers/platform.js';

const LIMIT = 64 * 1024;
const DAY = 86_400_000;
const ROWS = 20;

let t: TestPlatform;
let ex: TestExchange;
let providerId: string;
let consumerId: string;
let code: string;
let entryId: string;
let personCode: string;
let personEntryId: string;

function idCard(n: number): string {
  const first17 = `43040219900101${String(n % 1000).padStart(3, '0')}`;
  return first17 + idCardCheckCharacter(first17)!;
}

interface JobReply {
  readonly id: string;
  readonly state: string;
  readonly records: { done: number; total: number };
  readonly matched: number;
  readonly mismatched: number;
  readonly notFound: number;
  readonly fieldItems: string[];
  readonly modes: Record<string, string>;
  readonly error: { code: string; message: string; messageZh: string } | null;
  readonly code?: string;
  readonly message?: string;
  readonly details?: { problems?: { row: number; column: string | null; rule: string }[]; problemCount?: number; fields?: { field: string; rule: string }[] };
}

async function submit(who: SystemCredentials, file: Buffer | string, type = 'text/csv', query = '', resource = code): Promise<{ status: number; body: JobReply }> {
  const r = await ex.send(who, 'POST', `/exchange/v1/resources/${encodeURIComponent(resource)}/verify-jobs${query}`, file, { 'content-type': type });
  return { status: r.status, body: JSON.parse(r.body.toString('utf8')) as JobReply };
}

async function job(who: SystemCredentials, id: string): Promise<{ status: number; body: JobReply }> {
  const r = await ex.send(who, 'GET', `/exchange/v1/verify-jobs/${id}`);
  return { status: r.status, body: JSON.parse(r.body.toString('utf8')) as JobReply };
}

async function result(who: SystemCredentials, id: string): Promise<{ status: number; type: string; text: string; rows: string[][] }> {
  const r = await ex.send(who, 'GET', `/exchange/v1/verify-jobs/${id}/result`);
  const text = r.body.toString('utf8');
  return { status: r.status, type: String(r.headers['content-type']), text, rows: text.replace(/^\ufeff/, '').trim().split('\r\n').map((l) => l.split(',')) };
}

async function grant(who: SystemCredentials, over: Partial<GrantSpec> = {}): Promise<string> {
  return grantFor(t, who, { consumerAgencyId: consumerId, providerAgencyId: providerId, entryId, resourceCode: code }, over.method ?? 'comparison', { items: ['统一社会信用代码', '企业名称', '注册资本', '成立日期', '法定代表人身份证号'], ...over });
}

async function events(jobId: string): Promise<{ outcome: string; details: Record<string, unknown> }[]> {
  const r = await sql<{ outcome: string; details: Record<string, unknown> }>`select outcome, details from audit_events where action = 'data.verify-batch' and details->>'jobId' = ${jobId} order by seq`.execute(t.platform.db);
  return r.rows;
}

const csv = (lines: readonly string[]): string => `${lines.join('\r\n')}\r\n`;

beforeAll(async () => {
  t = await createTestPlatform({ verifyBatchMaxBytes: LIMIT });
  providerId = (await t.platform.agencies.create(t.cli, agencyInput(41))).id;
  consumerId = (await t.platform.agencies.create(t.cli, agencyInput(42))).id;
  ({ id: entryId, code } = await publishEntry(t, providerId, catalogContent()));
  const loader = userContext('nodeAdmin', providerId, 'loader');
  await t.platform.exchange.applyBatch(loader, code, {
    idempotencyKey: 'verify-jobs-fixture',
    changes: Array.from({ length: ROWS }, (_, i) => ({
      row: i + 1,
      operation: 'upsert' as const,
      values: { 统一社会信用代码: usccFor(100 + i), 企业名称: i % 2 === 0 ? `长沙企业${i}` : `株洲企业${i}`, 注册资本: `${100 + i}.50`, 成立日期: `2020-01-${String((i % 28) + 1).padStart(2, '0')}`, 法定代表人身份证号: idCard(i) },
    })),
  });
  await t.platform.exchange.applyBatch(loader, code, { idempotencyKey: 'verify-jobs-delete', changes: [{ row: 1, operation: 'delete', values: { 统一社会信用代码: usccFor(100 + ROWS - 1) } }] });
  ({ id: personEntryId, code: personCode } = await publishEntry(
    t,
    providerId,
    catalogContent({ nameZh: '人口基础信息', dataItems: [{ nameZh: '身份证号', dataType: 'string', length: 18, format: 'idCard', key: true, sensitive: true }, { nameZh: '姓名', dataType: 'string', length: 50, sensitive: true }] }),
  ));
  await t.platform.exchange.applyBatch(loader, personCode, { idempotencyKey: 'people', changes: [1, 2, 3].map((n) => ({ row: n, operation: 'upsert' as const, values: { 身份证号: idCard(n), 姓名: `王${n}` } })) });
  ex = await startExchange(t);
});

afterAll(async () => {
  await ex?.close();
  await t?.close();
});

describe('batch verification jobs (批量核验) over mutual TLS', () => {
  let checker: SystemCredentials;

  beforeAll(async () => {
    checker = await systemWithCertificate(t, consumerId, '批量核验系统A');
    await grant(checker, { rowFilter: [{ item: '企业名称', op: 'prefix', values: ['长沙', '株洲'] }] });
  });

  it('runs a job in the background: match / mismatch / not_found per record and field, in the file order, never a stored value; audited without values', async () => {
    const file = csv([
      '统一社会信用代码,企业名称,注册资本,法定代表人身份证号',
      `${usccFor(100)},长沙企业0,100.5,${idCard(0)}`, // all match (100.5 = 100.50)
      `${usccFor(101)},株洲企业9,101.50,${idCard(5)}`, // name and ID mismatch
      `${usccFor(999)},长沙企业0,1,${idCard(0)}`, // no such record
      `${usccFor(100 + ROWS - 1)},株洲企业19,119.50,${idCard(19)}`, // deleted
      `"${usccFor(102)}","长沙企业2, 分公司",102.50,${idCard(2)}`, // quoted cell with a comma
      `${usccFor(104)},\u3000长沙企业４ ,abc,${idCard(4)}`, // full-width (exact: mismatch), a number that does not parse
      `${usccFor(103)},株洲企业3,103.50,${idCard(3)}`,
    ]);
    const submitted = await submit(checker, file, 'text/csv; charset=utf-8', '?purpose=%E6%8B%9B%E6%8A%95%E6%A0%87');
    expect(submitted.status).toBe(202);
    expect(submitted.body).toMatchObject({ state: 'queued', records: { done: 0, total: 7 }, fieldItems: ['企业名称', '注册资本', '法定代表人身份证号'], modes: { 企业名称: 'exact' } });
    const id = submitted.body.id;
    expect((await result(checker, id)).status).toBe(409);

    // Run by a worker of small chunks, so the file spans several lookups, two in flight at once.
    const worker = new VerifyJobService(t.platform.db, t.platform.exchange, t.platform.grantCheck, t.platform.audit, t.platform.keys, { maxBytes: LIMIT, chunkRecords: 2, parallelChunks: 2 }, t.clock.now);
    expect(await worker.runOnce()).toBe(1);

    const done = await job(checker, id);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ state: 'succeeded', records: { done: 7, total: 7 }, matched: 10, mismatched: 5, notFound: 6, error: null });
    const r = await result(checker, id);
    expect(r.status).toBe(200);
    expect(r.type).toContain('text/csv');
    expect(r.text.startsWith('\ufeff')).toBe(true);
    expect(r.rows).toEqual([
      ['row', '统一社会信用代码', '企业名称', '注册资本', '法定代表人身份证号'],
      ['2', usccFor(100), 'match', 'match', 'match'],
      ['3', usccFor(101), 'mismatch', 'match', 'mismatch'],
      ['4', usccFor(999), 'not_found', 'not_found', 'not_found'],
      ['5', usccFor(100 + ROWS - 1), 'not_found', 'not_found', 'not_found'],
      ['6', usccFor(102), 'mismatch', 'match', 'match'],
      ['7', usccFor(104), 'mismatch', 'mismatch', 'match'],
      ['8', usccFor(103), 'match', 'match', 'match'],
    ]);
    for (const stored of ['株洲企业1', '102.50', '104.50', idCard(1), '2020-01-']) expect(r.text).not.toContain(stored);

    const audited = await events(id);
    expect(audited.map((e) => [e.outcome, e.details['event']])).toEqual([
      ['success', 'submitted'],
      ['success', 'finished'],
    ]);
    expect(audited[0]!.details).toMatchObject({ systemId: checker.systemId, method: 'comparison', purpose: '招投标', format: 'csv', encoding: 'utf-8', records: 7 });
    expect(audited[1]!.details).toMatchObject({ state: 'succeeded', records: 7, matched: 10, mismatched: 5, notFound: 6 });
    const trail = JSON.stringify(audited);
    for (const value of ['长沙企业', idCard(0), usccFor(100)]) expect(trail).not.toContain(value);
  });

  it('normalised matching, for every field or per item; GBK CSV, NDJSON and XLSX read like a data load', async () => {
    const lines = ['统一社会信用代码,企业名称,法定代表人身份证号', `${usccFor(104)},\u3000长沙企业４ ,${[...idCard(4)].map((c) => (/[0-9]/.test(c) ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c)).join('')}`];
    const all = await submit(checker, encodeGb18030(csv(lines)), 'text/csv', '?match=normalised');
    expect(all.status).toBe(202);
    const oneItem = await submit(checker, csv(lines), 'text/csv', `?normalised=${encodeURIComponent('企业名称')}`);
    expect(oneItem.body.modes).toEqual({ 企业名称: 'normalised', 法定代表人身份证号: 'exact' });
    const ndjson = await submit(checker, `${JSON.stringify({ 统一社会信用代码: usccFor(106), 企业名称: '长沙企业6', 注册资本: 106.5 })}\n`, 'application/x-ndjson');
    const wb = new ExcelJS.Workbook();
    const sheet = wb.addWorksheet('核验');
    sheet.addRow(['统一社会信用代码', '成立日期']);
    sheet.addRow([usccFor(107), '2020-01-08']);
    const xlsx = await submit(checker, Buffer.from(await wb.xlsx.writeBuffer()), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect([ndjson.status, xlsx.status]).toEqual([202, 202]);
    await t.platform.verifyJobs.runOnce();

    expect((await result(checker, all.body.id)).rows[1]).toEqual(['2', usccFor(104), 'match', 'match']);
    expect((await events(all.body.id))[0]!.details).toMatchObject({ encoding: 'gb18030' });
    expect((await result(checker, oneItem.body.id)).rows[1]).toEqual(['2', usccFor(104), 'match', 'mismatch']);
    expect((await result(checker, ndjson.body.id)).rows).toEqual([
      ['row', '统一社会信用代码', '企业名称', '注册资本'],
      ['1', usccFor(106), 'match', 'match'],
    ]);
    expect((await result(checker, xlsx.body.id)).rows[1]).toEqual(['2', usccFor(107), 'match']);
  });

  it('finds records by a sensitive key through its blind index', async () => {
    const who = await systemWithCertificate(t, consumerId, '批量核验系统P');
    await grant(who, { entry: { id: personEntryId, resourceCode: personCode }, items: ['身份证号', '姓名'] });
    const file = csv(['身份证号,姓名', `${idCard(1)},王1`, `${idCard(2).toLowerCase()},王9`, `${idCard(8)},王8`]);
    const s = await submit(who, file, 'text/csv', '', personCode);
    expect(s.status).toBe(202);
    await t.platform.verifyJobs.runOnce();
    expect((await job(who, s.body.id)).body).toMatchObject({ state: 'succeeded', matched: 1, mismatched: 1, notFound: 1 });
    expect((await result(who, s.body.id)).rows.slice(1)).toEqual([
      ['2', idCard(1), 'match'],
      ['3', idCard(2).toLowerCase(), 'mismatch'], // the key as submitted; found by its upper-cased blind index
      ['4', idCard(8), 'not_found'],
    ]);
  });

  it('only the submitting system reads its job and its result', async () => {
    const s = await submit(checker, csv(['统一社会信用代码,企业名称', `${usccFor(100)},长沙企业0`]));
    await t.platform.verifyJobs.runOnce();
    const sameAgency = await systemWithCertificate(t, consumerId, '批量核验系统B');
    const otherAgency = await systemWithCertificate(t, providerId, '提供方系统');
    for (const who of [sameAgency, otherAgency]) {
      const r = await job(who, s.body.id);
      expect(r.status).toBe(403);
      expect(r.body.code).toBe('GS_ERR_EXCHANGE_VERIFY_JOB_OTHER_SYSTEM');
      const file = await ex.send(who, 'GET', `/exchange/v1/verify-jobs/${s.body.id}/result`);
      expect(file.status).toBe(403);
      expect(file.body.toString('utf8')).not.toContain('match');
    }
    const unknown = await job(checker, '00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('GS_ERR_EXCHANGE_VERIFY_JOB_NOT_FOUND');
    expect((await result(checker, s.body.id)).status).toBe(200);
  });

  it('checks the grant at submission and again when the job runs: a grant revoked meanwhile fails the job with its refusal code', async () => {
    const none = await systemWithCertificate(t, consumerId, '批量核验系统C');
    const refused = await submit(none, csv(['统一社会信用代码,企业名称', `${usccFor(100)},长沙企业0`]));
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('GS_ERR_GRANT_NONE');

    const narrow = await systemWithCertificate(t, consumerId, '批量核验系统D');
    const grantId = await grant(narrow, { items: ['统一社会信用代码', '企业名称'] });
    const outside = await submit(narrow, csv(['统一社会信用代码,注册资本', `${usccFor(100)},100.50`]));
    expect(outside.status).toBe(403);
    expect(outside.body.code).toBe('GS_ERR_DATA_ITEMS_NOT_GRANTED');

    const s = await submit(narrow, csv(['统一社会信用代码,企业名称', `${usccFor(100)},长沙企业0`]));
    expect(s.status).toBe(202);
    await setGrantStatus(t.platform.db, grantId, 'revoked');
    await t.platform.verifyJobs.runOnce();
    const failed = await job(narrow, s.body.id);
    expect(failed.body).toMatchObject({ state: 'failed', records: { done: 0, total: 1 }, matched: 0, error: { code: 'GS_ERR_GRANT_REVOKED' } });
    expect(failed.body.error!.messageZh).not.toBe('');
    const r = await result(narrow, s.body.id);
    expect(r.status).toBe(409);
    expect(r.text).toContain('GS_ERR_EXCHANGE_VERIFY_JOB_NOT_READY');
    expect((await events(s.body.id)).map((e) => [e.outcome, e.details['event'], e.details['code'] ?? null])).toEqual([
      ['success', 'submitted', null],
      ['denied', 'finished', 'GS_ERR_GRANT_REVOKED'],
    ]);
  });

  it('refuses a malformed file with every problem located (row, column) and creates no job', async () => {
    const count = async (): Promise<number> => (await sql<{ n: number }>`select count(*)::int as n from exchange_verify_jobs where system_id = ${checker.systemId}`.execute(t.platform.db)).rows[0]!.n;
    const before = await count();
    const bad = await submit(checker, csv(['统一社会信用代码,企业名称', `${usccFor(100)},长沙企业0`, `${usccFor(101)}`, `${usccFor(102)},长沙企业2,多余`, `91430400MA4L00000X,长沙企业3`, `,长沙企业4`]));
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe('GS_ERR_EXCHANGE_VERIFY_FILE_INVALID');
    expect(bad.body.details!.problemCount).toBe(4);
    expect(bad.body.details!.problems!.map((p) => [p.row, p.column, p.rule])).toEqual([
      [3, null, 'columnCount'],
      [4, null, 'columnCount'],
      [5, '统一社会信用代码', 'uscc'],
      [6, '统一社会信用代码', 'required'],
    ]);
    expect(bad.body.details!.fields!.map((f) => f.field)).toEqual(['rows.3', 'rows.4', 'rows.5.统一社会信用代码', 'rows.6.统一社会信用代码']);

    const header = await submit(checker, csv(['企业名称,经营范围', '长沙企业0,软件']));
    expect(header.status).toBe(422);
    expect(header.body.message).toContain('统一社会信用代码');
    expect(header.body.message).toContain('经营范围');
    const json = await submit(checker, `${JSON.stringify({ 统一社会信用代码: usccFor(100), 企业名称: 'x' })}\n{not json\n`, 'application/x-ndjson');
    expect(json.status).toBe(422);
    expect(json.body.details!.problems!.map((p) => [p.row, p.rule])).toEqual([[2, 'json']]);
    const empty = await submit(checker, '统一社会信用代码,企业名称\r\n');
    expect(empty.status).toBe(422);
    const unreadable = await submit(checker, csv(['统一社会信用代码,企业名称', `${usccFor(100)},"长沙`]));
    expect(unreadable.status).toBe(400);
    expect(unreadable.body.code).toBe('GS_ERR_DATA_FILE_UNREADABLE');
    const badMode = await submit(checker, csv(['统一社会信用代码,企业名称', `${usccFor(100)},长沙企业0`]), 'text/csv', '?normalised=%E6%B3%A8%E5%86%8C%E8%B5%84%E6%9C%AC');
    expect(badMode.status).toBe(400);
    expect(await count()).toBe(before);
  });

  it('refuses a file over the configured limit with 413 naming the limit', async () => {
    const big = csv(['统一社会信用代码,企业名称', ...Array.from({ length: 3000 }, (_, i) => `${usccFor(i)},长沙企业${i}`)]);
    expect(Buffer.byteLength(big)).toBeGreaterThan(LIMIT);
    const r = await submit(checker, big);
    expect(r.status).toBe(413);
    expect(r.body.code).toBe('GS_ERR_EXCHANGE_VERIFY_FILE_TOO_LARGE');
    expect(r.body.message).toContain(String(LIMIT));
    expect(r.body.message).toContain('GOVSHARE_VERIFY_BATCH_MAX_BYTES');
  });

  it('takes up a job left running by a server that died (its lease ran out), and gives up after the attempts with a clear reason', async () => {
    const file = csv(['统一社会信用代码,企业名称', `${usccFor(100)},长沙企业0`, `${usccFor(101)},株洲企业1`]);
    const left = (await submit(checker, file)).body.id;
    const given = (await submit(checker, file)).body.id;
    const expired = new Date(t.clock.now().getTime() - 60_000);
    // As a server that claimed them and stopped mid-run leaves them.
    await t.platform.db.updateTable('exchangeVerifyJobs').set({ state: 'running', claimedBy: 'dead-host:1:abcd', leaseUntil: expired, attempts: 1, recordsDone: 1, matched: 1 }).where('id', '=', left).execute();
    await t.platform.db.updateTable('exchangeVerifyJobs').set({ state: 'running', claimedBy: 'dead-host:1:abcd', leaseUntil: expired, attempts: 3 }).where('id', '=', given).execute();
    // A running job whose lease has not run out belongs to its server still.
    const live = (await submit(checker, file)).body.id;
    await t.platform.db.updateTable('exchangeVerifyJobs').set({ state: 'running', claimedBy: 'busy-host:1:abcd', leaseUntil: new Date(t.clock.now().getTime() + 60_000), attempts: 1 }).where('id', '=', live).execute();

    await t.platform.verifyJobs.runOnce();
    expect((await job(checker, left)).body).toMatchObject({ state: 'succeeded', records: { done: 2, total: 2 }, matched: 2, mismatched: 0, notFound: 0 });
    expect((await result(checker, left)).rows).toHaveLength(3);
    const gaveUp = (await job(checker, given)).body;
    expect(gaveUp).toMatchObject({ state: 'failed', error: { code: 'GS_ERR_EXCHANGE_VERIFY_JOB_INTERRUPTED' } });
    expect(gaveUp.error!.message).toContain('interrupted 3 times');
    expect((await events(given)).at(-1)).toMatchObject({ outcome: 'failure', details: { event: 'finished', code: 'GS_ERR_EXCHANGE_VERIFY_JOB_INTERRUPTED' } });
    expect((await job(checker, live)).body.state).toBe('running');
    // Once its lease runs out too, it is taken up.
    t.clock.advance(120_000);
    await t.platform.verifyJobs.runOnce();
    expect((await job(checker, live)).body.state).toBe('succeeded');
  });

  it('deletes finished jobs and their files after 7 days', async () => {
    const s = await submit(checker, csv(['统一社会信用代码,企业名称', `${usccFor(100)},长沙企业0`]));
    const worker = new VerifyJobService(t.platform.db, t.platform.exchange, t.platform.grantCheck, t.platform.audit, t.platform.keys, { maxBytes: LIMIT }, t.clock.now);
    await worker.runOnce();
    expect((await job(checker, s.body.id)).body.state).toBe('succeeded');
    t.clock.advance(8 * DAY);
    await new VerifyJobService(t.platform.db, t.platform.exchange, t.platform.grantCheck, t.platform.audit, t.platform.keys, { maxBytes: LIMIT }, t.clock.now).runOnce();
    expect((await job(checker, s.body.id)).status).toBe(404);
    const files = await sql<{ n: number }>`select count(*)::int as n from exchange_verify_job_files where job_id = ${s.body.id}`.execute(t.platform.db);
    expect(files.rows[0]!.n).toBe(0);
  });

  it('the started worker runs a submitted job in the background', async () => {
    t.platform.verifyJobs.start();
    try {
      const s = await submit(checker, csv(['统一社会信用代码,企业名称', `${usccFor(105)},株洲企业5`]));
      await vi.waitFor(async () => expect((await job(checker, s.body.id)).body.state).toBe('succeeded'), { timeout: 20_000, interval: 50 });
      expect((await result(checker, s.body.id)).rows[1]).toEqual(['2', usccFor(105), 'match']);
    } finally {
      await t.platform.verifyJobs.stop();
    }
  });
});
