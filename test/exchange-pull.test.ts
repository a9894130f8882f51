/**
 * Acquisition (pull) through the real exchange port: real TLS, platform-issued certificates, a
 * real grant of the consumer's business system, data loaded by the provider.
 */
import { request } from 'node:https';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idCardCheckCharacter } from '../src/lib/id-card.js';
import { insertGrants, setGrantStatus } from '../src/modules/grants/check-fixtures.js';
import { buildExchangeApp, useCredentials, type ExchangeApp } from '../src/server/exchange-app.js';
import { catalogContent, publishEntry } from './helpers/catalog.js';
import { makeCsr } from './helpers/pki.js';
import { agencyInput, createTestPlatform, usccFor, userContext, type TestPlatform } from './helpers/platform.js';

let t: TestPlatform;
let exchange: ExchangeApp;
let port: number;
let caPem: string;
let providerId: string;
let consumerId: string;
let code: string;
let entryId: string;
const DAY = 86_400_000;

interface Credentials {
  readonly systemId: string;
  readonly key: string;
  readonly cert: string;
}

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

function post(who: Credentials, body: unknown, resource = code): Promise<{ status: number; body: PullReply }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: `/exchange/v1/resources/${encodeURIComponent(resource)}/query`, method: 'POST', ca: caPem, servername: 'localhost', key: who.key, cert: who.cert, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as PullReply }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function systemOf(agencyId: string, name: string): Promise<Credentials> {
  const system = await t.platform.systems.register(t.cli, { agencyId, name, purpose: '获取测试', ownerContact: { name: '李四' } });
  const { csr, keyPem } = await makeCsr(`CN=${system.id}`);
  const applied = await t.platform.pki.applyForSystem(t.cli, { systemId: system.id, csr });
  const issued = await t.platform.pki.approve(t.cli, applied.id, null);
  return { systemId: system.id, key: keyPem, cert: issued.certificatePem! };
}

async function grant(who: Credentials, over: Partial<Parameters<typeof insertGrants>[1][number]> = {}): Promise<string> {
  const [id] = await insertGrants(t.platform.db, [
    {
      consumerAgencyId: consumerId,
      systemId: who.systemId,
      entry: { id: entryId, resourceCode: code },
      providerAgencyId: providerId,
      method: 'pull',
      validFrom: new Date(t.clock.now().getTime() - DAY),
      validUntil: new Date(t.clock.now().getTime() + 30 * DAY).toISOString().slice(0, 10),
      items: ['统一社会信用代码', '企业名称', '注册资本', '成立日期', '法定代表人身份证号'],
      ...over,
    },
  ]);
  return id!;
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
  caPem = await t.platform.pki.caCertificatePem();
  exchange = await buildExchangeApp({ platform: t.platform, config: t.config, logger: pino({ level: 'silent' }) });
  await exchange.listen({ host: '127.0.0.1', port: 0 });
  port = (exchange.server.address() as { port: number }).port;
  useCredentials(exchange, await t.platform.pki.serverCredentials(['localhost', '127.0.0.1']));
});

afterAll(async () => {
  await exchange?.close();
  await t?.close();
});

async function lastPullEvent(): Promise<{ outcome: string; details: Record<string, unknown>; actorId: string | null; actorAgencyId: string | null }> {
  const r = await sql<{ outcome: string; details: Record<string, unknown>; actorId: string | null; actorAgencyId: string | null }>`select outcome, details, actor_id as "actorId", actor_agency_id as "actorAgencyId" from audit_events where action = 'data.pull' order by seq desc limit 1`.execute(t.platform.db);
  return r.rows[0]!;
}

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
  });
});
