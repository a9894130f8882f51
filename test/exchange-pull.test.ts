/**
 * Acquisition (pull) and single-record verification (核验) through the real exchange port: real TLS, platform-issued certificates, a
 * real grant of the consumer's business system, data loaded by the provider.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idCardCheckCharacter } from '../src/lib/id-card.js';
import { setGrantStatus, type GrantSpec } from '../src/modules/grants/check-fixtures.js';
import { catalogContent, publishEntry, publishRevision } from './helpers/catalog.js';
import { grantFor, startExchange, systemWithCertificate, type SystemCredentials, type TestExchange } from './helpers/exchange.js';
import { agencyInput, createTestPlatform, usccFor, userContext, type TestPlatform } from './helpers/platform.js';

let t: TestPlatform;
let ex: TestExchange;
let providerId: string;
let consumerId: string;
let code: string;
let entryId: string;

function idCard(n: number): string {
  const first17 = `43040219900101${String(n % 1000).padStart(3, '0')}`;
  return first17 + idCardCheckCharacter(first17)!;
}

/** A page or an error body. */
interface PullReply {
  readonly rows: Record<string, unknown>[];
  readonly next: number | null;
  readonly code?: string;
  readonly message?: string;
}

function post(who: SystemCredentials, body: unknown, resource = code): Promise<{ status: number; body: PullReply }> {
  return ex.post<PullReply>(who, `/exchange/v1/resources/${encodeURIComponent(resource)}/query`, body);
}

const systemOf = (agencyId: string, name: string): Promise<SystemCredentials> => systemWithCertificate(t, agencyId, name);

async function grant(who: SystemCredentials, over: Partial<GrantSpec> = {}): Promise<string> {
  return grantFor(t, who, { consumerAgencyId: consumerId, providerAgencyId: providerId, entryId, resourceCode: code }, over.method ?? 'pull', { items: ['统一社会信用代码', '企业名称', '注册资本', '成立日期', '法定代表人身份证号'], ...over });
}

const ROWS = 25;

beforeAll(async () => {
  t = await createTestPlatform();
  providerId = (await t.platform.agencies.create(t.cli, agencyInput(31))).id;
  consumerId = (await t.platform.agencies.create(t.cli, agencyInput(32))).id;
  ({ id: entryId, code } = await publishEntry(t, providerId, catalogContent()));
  const loader = userContext('nodeAdmin', providerId, 'loader');
  await t.platform.exchange.applyBatch(loader, code, {
    idempotencyKey: 'pull-fixture',
    changes: Array.from({ length: ROWS }, (_, i) => ({
      row: i + 1,
      operation: 'upsert' as const,
      values: { 统一社会信用代码: usccFor(100 + i), 企业名称: i % 2 === 0 ? `长沙企业${i}` : `株洲企业${i}`, 注册资本: `${100 + i}.50`, 成立日期: `2020-01-${String((i % 28) + 1).padStart(2, '0')}`, 法定代表人身份证号: idCard(i) },
    })),
  });
  await t.platform.exchange.applyBatch(loader, code, { idempotencyKey: 'pull-delete', changes: [{ row: 1, operation: 'delete', values: { 统一社会信用代码: usccFor(100 + ROWS - 1) } }] });
  ex = await startExchange(t);
});

afterAll(async () => {
  await ex?.close();
  await t?.close();
});

async function lastPullEvent(): Promise<{ outcome: string; details: Record<string, unknown>; actorId: string | null; actorAgencyId: string | null }> {
  const r = await sql<{ outcome: string; details: Record<string, unknown>; actorId: string | null; actorAgencyId: string | null }>`select outcome, details, actor_id as "actorId", actor_agency_id as "actorAgencyId" from audit_events where action = 'data.pull' order by seq desc limit 1`.execute(t.platform.db);
  return r.rows[0]!;
}

interface VerifyReply {
  readonly grantId: string;
  readonly found: boolean;
  readonly fields: Record<string, string>;
  readonly code?: string;
  readonly message?: string;
}

function verify(who: SystemCredentials, body: unknown, resource = code): Promise<{ status: number; body: VerifyReply }> {
  return ex.post<VerifyReply>(who, `/exchange/v1/resources/${encodeURIComponent(resource)}/verify`, body);
}

async function lastVerifyEvent(): Promise<{ outcome: string; details: Record<string, unknown> }> {
  const r = await sql<{ outcome: string; details: Record<string, unknown> }>`select outcome, details from audit_events where action = 'data.verify' order by seq desc limit 1`.execute(t.platform.db);
  return r.rows[0]!;
}

describe('single-record verification (核验) over mutual TLS', () => {
  let checker: SystemCredentials;
  let personCode: string;

  beforeAll(async () => {
    checker = await systemOf(consumerId, '核验系统A');
    await grant(checker, { method: 'comparison', rowFilter: [{ item: '企业名称', op: 'prefix', values: ['长沙', '株洲'] }] });
  });

  it('answers match / mismatch per field and never a stored value; audited without values', async () => {
    const r = await verify(checker, { key: { 统一社会信用代码: usccFor(102) }, fields: { 企业名称: '长沙企业2', 注册资本: '102.5', 成立日期: '2020-01-04', 法定代表人身份证号: idCard(3) }, purpose: '招投标资格核验' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ found: true, fields: { 企业名称: 'match', 注册资本: 'match', 成立日期: 'mismatch', 法定代表人身份证号: 'mismatch' } });
    const text = JSON.stringify(r.body);
    for (const stored of ['2020-01-03', idCard(2), '102.50']) expect(text).not.toContain(stored);
    const event = await lastVerifyEvent();
    expect(event).toMatchObject({ outcome: 'success', details: { systemId: checker.systemId, method: 'comparison', purpose: '招投标资格核验', found: true, matched: 2, mismatched: 2 } });
    expect(JSON.stringify(event.details)).not.toContain('长沙企业2');
  });

  it('not_found for every field of an absent or deleted record, or one outside the row filter', async () => {
    for (const n of [999, 100 + ROWS - 1]) {
      const r = await verify(checker, { key: { 统一社会信用代码: usccFor(n) }, fields: { 企业名称: 'x', 注册资本: '1' } });
      expect(r.body).toEqual({ grantId: expect.any(String), found: false, fields: { 企业名称: 'not_found', 注册资本: 'not_found' } });
    }
    const narrow = await systemOf(consumerId, '核验系统B');
    await grant(narrow, { method: 'comparison', rowFilter: [{ item: '企业名称', op: 'prefix', values: ['长沙'] }] });
    expect((await verify(narrow, { key: { 统一社会信用代码: usccFor(101) }, fields: { 企业名称: '株洲企业1' } })).body.fields['企业名称']).toBe('not_found');
    expect((await verify(narrow, { key: { 统一社会信用代码: usccFor(100) }, fields: { 企业名称: '长沙企业0' } })).body.fields['企业名称']).toBe('match');
  });

  it('normalised matching folds full-width forms, spaces and case; exact does not', async () => {
    const key = { 统一社会信用代码: usccFor(104) };
    const typed = { 企业名称: '\u3000长沙企业４ ' };
    expect((await verify(checker, { key, fields: typed })).body.fields['企业名称']).toBe('mismatch');
    expect((await verify(checker, { key, fields: typed, match: 'normalised' })).body.fields['企业名称']).toBe('match');
    expect((await verify(checker, { key, fields: typed, match: { 企业名称: 'normalised' } })).body.fields['企业名称']).toBe('match');
    // A sensitive item (decrypted in memory for the comparison only) typed with full-width digits.
    const fullWidth = [...idCard(4)].map((c) => (/[0-9]/.test(c) ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c)).join('');
    expect((await verify(checker, { key, fields: { 法定代表人身份证号: fullWidth } })).body.fields['法定代表人身份证号']).toBe('mismatch');
    expect((await verify(checker, { key, fields: { 法定代表人身份证号: fullWidth }, match: 'normalised' })).body.fields['法定代表人身份证号']).toBe('match');
    // Typed items compare by value in either mode: 104.5 is the stored 104.50.
    expect((await verify(checker, { key, fields: { 注册资本: 104.5 } })).body.fields['注册资本']).toBe('match');
  });

  it('finds a record by a sensitive key through its blind index', async () => {
    personCode = (
      await publishEntry(t, providerId, catalogContent({ nameZh: '人口基础信息', dataItems: [{ nameZh: '身份证号', dataType: 'string', length: 18, format: 'idCard', key: true, sensitive: true }, { nameZh: '姓名', dataType: 'string', length: 50, sensitive: true }] }))
    ).code;
    const entry = await t.platform.db.selectFrom('catalogEntries').select('id').where('resourceCode', '=', personCode).executeTakeFirstOrThrow();
    await t.platform.exchange.applyBatch(userContext('nodeAdmin', providerId, 'loader'), personCode, { idempotencyKey: 'people', changes: [{ row: 1, operation: 'upsert', values: { 身份证号: idCard(7), 姓名: '王五' } }] });
    const who = await systemOf(consumerId, '核验系统C');
    await grant(who, { method: 'comparison', entry: { id: entry.id, resourceCode: personCode }, items: ['身份证号', '姓名'] });
    const hit = await verify(who, { key: { 身份证号: idCard(7) }, fields: { 姓名: '王五' } }, personCode);
    expect(hit.body).toMatchObject({ found: true, fields: { 姓名: 'match' } });
    const other = await verify(who, { key: { 身份证号: idCard(8) }, fields: { 姓名: '王五' } }, personCode);
    expect(other.body.found).toBe(false);
  });

  it('a comparison grant allows only verification; a pull grant verifies too', async () => {
    const q = await post(checker, {});
    expect(q.status).toBe(403);
    expect(q.body.code).toBe('GS_ERR_GRANT_METHOD');
    const puller = await systemOf(consumerId, '核验系统D');
    await grant(puller);
    expect((await verify(puller, { key: { 统一社会信用代码: usccFor(100) }, fields: { 企业名称: '长沙企业0' } })).body).toMatchObject({ found: true, fields: { 企业名称: 'match' } });
  });

  it('refuses without a grant, items outside the grant, and malformed input, with clear codes; refusals audited', async () => {
    const none = await systemOf(consumerId, '核验系统E');
    const r = await verify(none, { key: { 统一社会信用代码: usccFor(100) }, fields: { 企业名称: 'x' } });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('GS_ERR_GRANT_NONE');
    expect(await lastVerifyEvent()).toMatchObject({ outcome: 'denied', details: { code: 'GS_ERR_GRANT_NONE' } });
    const narrow = await systemOf(consumerId, '核验系统F');
    await grant(narrow, { method: 'comparison', items: ['统一社会信用代码', '企业名称'] });
    const outside = await verify(narrow, { key: { 统一社会信用代码: usccFor(100) }, fields: { 注册资本: '100.50' } });
    expect(outside.status).toBe(403);
    expect(outside.body.code).toBe('GS_ERR_DATA_ITEMS_NOT_GRANTED');
    expect(outside.body.message).toContain('注册资本');
    const noKey = await verify(checker, { key: {}, fields: { 企业名称: 'x' } });
    expect(noKey.status).toBe(400);
    expect(noKey.body.code).toBe('GS_ERR_REQUEST_INVALID');
    expect(noKey.body.message).toContain('统一社会信用代码');
    const noFields = await verify(checker, { key: { 统一社会信用代码: usccFor(100) }, fields: {} });
    expect(noFields.status).toBe(400);
    const badMode = await verify(checker, { key: { 统一社会信用代码: usccFor(100) }, fields: { 企业名称: 'x' }, match: 'fuzzy' });
    expect(badMode.status).toBe(400);
  });
});

describe('acquisition (pull) over mutual TLS', () => {
  it('pages through every live row by keyset, with granted items only, sensitive values decrypted', async () => {
    const who = await systemOf(consumerId, '获取系统A');
    await grant(who);
    const seen: Record<string, unknown>[] = [];
    let after: number | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const r = await post(who, { limit: 10, ...(after === undefined ? {} : { after }) });
      expect(r.status).toBe(200);
      seen.push(...r.body.rows);
      if (r.body.next === null) break;
      after = r.body.next;
    }
    expect(seen).toHaveLength(ROWS - 1); // the deleted one is not delivered
    expect(new Set(seen.map((r) => r['统一社会信用代码'])).size).toBe(ROWS - 1);
    expect(seen[0]).toEqual({ 统一社会信用代码: usccFor(100), 企业名称: '长沙企业0', 注册资本: '100.50', 成立日期: '2020-01-01', 法定代表人身份证号: idCard(0) });
    const event = await lastPullEvent();
    expect(event.outcome).toBe('success');
    expect(event.actorId).toBe(who.systemId);
    expect(event.actorAgencyId).toBe(consumerId);
    expect(event.details).toMatchObject({ systemId: who.systemId, purpose: '行政许可审查' });
    expect(JSON.stringify(event.details)).not.toContain('长沙企业');
  });

  it('filters by eq, in, range and prefix; a point lookup on a sensitive item goes through its blind index only on a key', async () => {
    const who = await systemOf(consumerId, '获取系统B');
    await grant(who);
    const eq = await post(who, { filters: [{ item: '统一社会信用代码', op: 'eq', value: usccFor(103) }] });
    expect(eq.body.rows.map((r) => r['企业名称'])).toEqual(['株洲企业3']);
    const inn = await post(who, { filters: [{ item: '统一社会信用代码', op: 'in', values: [usccFor(101), usccFor(102), usccFor(100 + ROWS - 1)] }] });
    expect(inn.body.rows.map((r) => r['企业名称'])).toEqual(['株洲企业1', '长沙企业2']);
    const range = await post(who, { filters: [{ item: '注册资本', op: 'range', from: '105', to: 107.5 }] });
    expect(range.body.rows.map((r) => r['注册资本'])).toEqual(['105.50', '106.50', '107.50']); // inclusive bounds
    const dates = await post(who, { filters: [{ item: '成立日期', op: 'range', from: '2020-01-20' }] });
    expect(dates.body.rows).toHaveLength(5); // days 20–24 (the row of day 25 is deleted)
    const prefix = await post(who, { filters: [{ item: '企业名称', op: 'prefix', value: '长沙' }] });
    expect(prefix.body.rows).toHaveLength(12);
    const sensitive = await post(who, { filters: [{ item: '法定代表人身份证号', op: 'eq', value: idCard(3) }] });
    expect(sensitive.status).toBe(400);
    expect(sensitive.body.code).toBe('GS_ERR_DATA_FILTER_INVALID');
    const badType = await post(who, { filters: [{ item: '成立日期', op: 'eq', value: '2020年1月' }] });
    expect(badType.status).toBe(400);
    expect(badType.body.code).toBe('GS_ERR_DATA_FILTER_INVALID');
    expect(badType.body.message).toContain('成立日期');
  });

  it('applies the grant: projection limited to granted items, row filter, masking', async () => {
    const who = await systemOf(consumerId, '获取系统C');
    await grant(who, { items: ['统一社会信用代码', '企业名称', '法定代表人身份证号'], rowFilter: [{ item: '企业名称', op: 'prefix', values: ['长沙'] }], masking: { 企业名称: 'partial', 法定代表人身份证号: 'partial' } });
    const all = await post(who, { limit: 1000 });
    expect(all.status).toBe(200);
    expect(all.body.rows).toHaveLength(12);
    expect(Object.keys(all.body.rows[0]!)).toEqual(['统一社会信用代码', '企业名称', '法定代表人身份证号']);
    expect(all.body.rows[0]!['法定代表人身份证号']).toBe(`430***********${idCard(0).slice(-4)}`);
    expect(all.body.rows[0]!['企业名称']).toBe('长***0');
    expect(JSON.stringify(all.body)).not.toContain('株洲');
    // A filter or a projection naming an item outside the grant is refused, not answered.
    for (const body of [{ items: ['注册资本'] }, { filters: [{ item: '注册资本', op: 'eq', value: '100.50' }] }]) {
      const r = await post(who, body);
      expect(r.status).toBe(403);
      expect(r.body.code).toBe('GS_ERR_DATA_ITEMS_NOT_GRANTED');
      expect(r.body.message).toContain('注册资本');
    }
    expect((await lastPullEvent()).outcome).toBe('denied');
  });

  it('a row filter on a sensitive item is applied after decryption', async () => {
    const who = await systemOf(consumerId, '获取系统D');
    await grant(who, { rowFilter: [{ item: '法定代表人身份证号', op: 'in', values: [idCard(4), idCard(7)] }] });
    const r = await post(who, {});
    expect(r.body.rows.map((x) => x['企业名称'])).toEqual(['长沙企业4', '株洲企业7']);
  });

  it('refuses without a grant, with another method, and once the grant is suspended or revoked; audited as denied', async () => {
    const who = await systemOf(consumerId, '获取系统E');
    expect((await post(who, {})).body.code).toBe('GS_ERR_GRANT_NONE');
    const pushOnly = await systemOf(consumerId, '获取系统F');
    await grant(pushOnly, { method: 'push' });
    const method = await post(pushOnly, {});
    expect(method.status).toBe(403);
    expect(method.body.code).toBe('GS_ERR_GRANT_METHOD');
    const id = await grant(who);
    expect((await post(who, {})).status).toBe(200);
    await setGrantStatus(t.platform.db, id, 'revoked');
    // The revocation reaches the check without a restart (the cache is dropped by notification, or not started in tests).
    const r = await post(who, {});
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('GS_ERR_GRANT_REVOKED');
    const event = await lastPullEvent();
    expect(event).toMatchObject({ outcome: 'denied', details: { code: 'GS_ERR_GRANT_REVOKED', grantId: id } });
  });

  it('refuses malformed bodies and a resource it holds no grant for, with clear codes', async () => {
    const who = await systemOf(consumerId, '获取系统I');
    await grant(who);
    const bad = await post(who, { filters: [{ item: '企业名称', op: 'like', value: '%' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('GS_ERR_REQUEST_INVALID');
    const tooMany = await post(who, { limit: 100000 });
    expect(tooMany.status).toBe(400);
    const unknown = await post(who, {}, '301002/999999');
    expect(unknown.status).toBe(403);
    expect(unknown.body.code).toBe('GS_ERR_GRANT_NONE');
  });

  it('enforces ratePerMinute and volumePerDay, counted in the database', async () => {
    // Both certificates first: one issued after the clock moves on would not yet be valid for TLS.
    const rated = await systemOf(consumerId, '获取系统G');
    await grant(rated, { ratePerMinute: 2 });
    const volume = await systemOf(consumerId, '获取系统H');
    await grant(volume, { volumePerDay: 15 });
    expect((await post(rated, { limit: 1 })).status).toBe(200);
    expect((await post(rated, { limit: 1 })).status).toBe(200);
    const over = await post(rated, { limit: 1 });
    expect(over.status).toBe(429);
    expect(over.body.code).toBe('GS_ERR_DATA_QUOTA_EXCEEDED');
    t.clock.advance(61_000);
    expect((await post(rated, { limit: 1 })).status).toBe(200);

    const first = await post(volume, { limit: 10 });
    expect(first.body.rows).toHaveLength(10);
    const second = await post(volume, { limit: 10, after: first.body.next ?? undefined });
    expect(second.body.rows).toHaveLength(5); // clipped to what is left of the day's volume
    const third = await post(volume, { limit: 10, after: second.body.next ?? undefined });
    expect(third.status).toBe(429);
    expect(third.body.message).toContain('volumePerDay');
    // The next day counts afresh, and windows older than yesterday are swept.
    const windows = async () => (await sql<{ n: number }>`select count(*)::int as n from exchange_usage`.execute(t.platform.db)).rows[0]!.n;
    const before = await windows();
    t.clock.advance(2 * 86_400_000);
    expect((await post(volume, { limit: 10 })).body.rows).toHaveLength(10);
    expect(await windows()).toBeLessThan(before);
  });
});

describe('the table shape the exchange keeps', () => {
  it('is read once and then kept; a revision that adds an item is seen without a restart', async () => {
    const shapes = t.platform.exchange.shapes!;
    const { id, code: own } = await publishEntry(t, providerId, catalogContent({ nameZh: '表结构缓存资源' }));
    expect((await t.platform.exchange.shapeOf(own)).columns.map((c) => c.item)).not.toContain('经营范围');
    const before = shapes.stats();
    await t.platform.exchange.shapeOf(own);
    expect(shapes.stats()).toMatchObject({ hits: before.hits + 1, loads: before.loads });
    await publishRevision(t, id, catalogContent({ nameZh: '表结构缓存资源', dataItems: [...catalogContent().dataItems!, { nameZh: '经营范围', dataType: 'string', length: 500 }] }));
    const until = Date.now() + 2_000;
    let items = (await t.platform.exchange.shapeOf(own)).columns.map((c) => c.item);
    while (!items.includes('经营范围') && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 5));
      items = (await t.platform.exchange.shapeOf(own)).columns.map((c) => c.item);
    }
    expect(items).toContain('经营范围');
    // A load changes only the bookkeeping (last_seq): the shape stays cached.
    const resets = shapes.stats().resets;
    await t.platform.exchange.applyBatch(userContext('nodeAdmin', providerId, 'shape.loader'), own, {
      idempotencyKey: 'shape-cache-1',
      changes: [{ row: 1, operation: 'upsert', values: { 统一社会信用代码: usccFor(900), 企业名称: '缓存企业', 注册资本: '1.00', 成立日期: '2020-01-01', 法定代表人身份证号: idCard(900) } }],
    });
    expect(shapes.stats().resets).toBe(resets);
  });
});
