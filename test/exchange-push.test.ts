/**
 * Push (资源推送) through the real exchange port: a consumer's subscription under its push grant,
 * fetched (long poll) and acknowledged, or posted by the platform to a mutual-TLS webhook; real
 * TLS, platform-issued certificates, data loaded by the provider.
 */
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idCardCheckCharacter } from '../src/lib/id-card.js';
import { setGrantStatus, type GrantSpec } from '../src/modules/grants/check-fixtures.js';
import type { PushBatch } from '../src/modules/exchange/subscriptions.js';
import { catalogContent, publishEntry } from './helpers/catalog.js';
import { grantFor, startExchange, systemWithCertificate, type SystemCredentials, type TestExchange } from './helpers/exchange.js';
import { agencyInput, createTestPlatform, usccFor, userContext, type TestPlatform } from './helpers/platform.js';

let t: TestPlatform;
let ex: TestExchange;
let providerId: string;
let consumerId: string;
let code: string;
let entryId: string;
const ITEMS = ['统一社会信用代码', '企业名称', '注册资本', '法定代表人身份证号'];

function idCard(n: number): string {
  const first17 = `43040219900101${String(n % 1000).padStart(3, '0')}`;
  return first17 + idCardCheckCharacter(first17)!;
}

const loader = (): ReturnType<typeof userContext> => userContext('nodeAdmin', providerId, 'loader');
let batchNo = 0;

async function load(rows: { n: number; name?: string; capital?: string }[], deletes: number[] = []): Promise<void> {
  const changes = [
    ...rows.map((r, i) => ({ row: i + 1, operation: 'upsert' as const, values: { 统一社会信用代码: usccFor(r.n), 企业名称: r.name ?? `长沙企业${r.n}`, 注册资本: r.capital ?? `${r.n}.50`, 成立日期: '2020-01-01', 法定代表人身份证号: idCard(r.n) } })),
    ...deletes.map((n, i) => ({ row: rows.length + i + 1, operation: 'delete' as const, values: { 统一社会信用代码: usccFor(n) } })),
  ];
  // Upserts and deletes in separate batches (a batch holds one change per key).
  const up = changes.filter((c) => c.operation === 'upsert');
  const del = changes.filter((c) => c.operation === 'delete');
  if (up.length) expect((await t.platform.exchange.applyBatch(loader(), code, { idempotencyKey: `push-${++batchNo}`, changes: up })).status).toBe('applied');
  if (del.length) expect((await t.platform.exchange.applyBatch(loader(), code, { idempotencyKey: `push-${++batchNo}`, changes: del })).status).toBe('applied');
}

async function grant(who: SystemCredentials, over: Partial<GrantSpec> = {}): Promise<string> {
  return grantFor(t, who, { consumerAgencyId: consumerId, providerAgencyId: providerId, entryId, resourceCode: code }, over.method ?? 'push', { items: ITEMS, rowFilter: [{ item: '企业名称', op: 'prefix', values: ['长沙'] }], masking: { 法定代表人身份证号: 'partial' }, ...over });
}

const sub = (resource = code): string => `/exchange/v1/resources/${encodeURIComponent(resource)}/subscription`;

interface ErrorReply {
  readonly code: string;
  readonly message: string;
}

/** A consumer's copy: the records by ref, applied batch by batch the way a node applies them. */
class Copy {
  readonly records = new Map<string, Record<string, unknown>>();
  lastSeq = 0;
  batches = 0;
  apply(b: PushBatch): void {
    if (b.reset) {
      this.records.clear();
      this.lastSeq = 0;
    }
    for (const c of b.changes) {
      expect(c.seq).toBeGreaterThan(this.lastSeq);
      this.lastSeq = c.seq;
      if (c.op === 'upsert') this.records.set(c.ref, c.row);
      else this.records.delete(c.ref);
    }
    this.batches++;
  }
  /** The copy as the provider's table should look through the grant: USCC → presented row. */
  byKey(): Map<string, Record<string, unknown>> {
    return new Map([...this.records.values()].map((r) => [r['统一社会信用代码'] as string, r]));
  }
}

/** What the grant lets the consumer hold now, read from the provider's table (decrypted) through the rules of the test's grant. */
async function expected(): Promise<Map<string, Record<string, unknown>>> {
  const table = await t.platform.exchange.tableOf(code);
  const rows = await t.platform.exchange.decodeRows(table, await sql<Record<string, unknown>>`select * from ${sql.raw(`shared."${table.tableName}"`)} order by gs_seq`.execute(t.platform.db).then((r) => r.rows));
  const out = new Map<string, Record<string, unknown>>();
  for (const r of rows) {
    if (r.deleted || !String(r.values['企业名称']).startsWith('长沙')) continue;
    const id = String(r.values['法定代表人身份证号']);
    out.set(r.values['统一社会信用代码'] as string, { 统一社会信用代码: r.values['统一社会信用代码'], 企业名称: r.values['企业名称'], 注册资本: r.values['注册资本'], 法定代表人身份证号: `${id.slice(0, 3)}***********${id.slice(14)}` });
  }
  return out;
}

async function drain(who: SystemCredentials, copy: Copy, limit = 7): Promise<PushBatch> {
  let ack: { generation: number; cursor: number } | undefined;
  for (;;) {
    const r = await ex.post<PushBatch>(who, `${sub()}/changes`, { limit, ...(ack ? { ack } : {}) });
    expect(r.status).toBe(200);
    copy.apply(r.body);
    ack = { generation: r.body.generation, cursor: r.body.cursor };
    if (!r.body.more) {
      const done = await ex.post<unknown>(who, `${sub()}/ack`, ack);
      expect(done.status).toBe(200);
      return r.body;
    }
  }
}

beforeAll(async () => {
  t = await createTestPlatform({ pushMaxAttempts: 3, pushRetryDelays: '1m', pushTimeoutMs: 5000 });
  providerId = (await t.platform.agencies.create(t.cli, agencyInput(41))).id;
  consumerId = (await t.platform.agencies.create(t.cli, agencyInput(42))).id;
  ({ id: entryId, code } = await publishEntry(t, providerId, catalogContent()));
  // 30 records: even ones in 长沙 (inside the row filter), odd ones in 株洲; two deleted before any subscription.
  await load(Array.from({ length: 30 }, (_, i) => ({ n: 200 + i, name: i % 2 === 0 ? `长沙企业${i}` : `株洲企业${i}` })));
  await load([], [200, 201]);
  ex = await startExchange(t);
});

afterAll(async () => {
  await ex?.close();
  await t?.close();
});

describe('push by long poll and acknowledgement', () => {
  let consumer: SystemCredentials;
  const copy = new Copy();

  beforeAll(async () => {
    consumer = await systemWithCertificate(t, consumerId, '推送接收系统');
    await grant(consumer);
  });

  it('starts with a snapshot of the live rows, granted items only, filtered and masked; unacknowledged batches come again with the same id', async () => {
    const state = await ex.call<{ cursor: number; snapshotUntil: number; phase: string; generation: number; mode: string }>(consumer, 'GET', sub());
    expect(state.status).toBe(200);
    const table = await t.platform.exchange.tableOf(code);
    expect(state.body).toMatchObject({ cursor: 0, snapshotUntil: table.lastSeq, phase: 'snapshot', generation: 1, mode: 'poll' });

    const first = await ex.post<PushBatch>(consumer, `${sub()}/changes`, { limit: 5 });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ after: 0, reset: true, phase: 'snapshot', more: true, items: ITEMS });
    expect(first.body.changes.every((c) => c.op === 'upsert' && Object.keys(c.row).join() === ITEMS.join())).toBe(true);
    expect(first.body.changes.every((c) => String(c.row['企业名称']).startsWith('长沙') && /^\d{3}\*{11}\d{3}[\dX]$/.test(String(c.row['法定代表人身份证号'])))).toBe(true);
    // The deleted 长沙 record (200) is not in the snapshot.
    expect(first.body.changes.map((c) => c.row['统一社会信用代码'])).not.toContain(usccFor(200));
    const again = await ex.post<PushBatch>(consumer, `${sub()}/changes`, { limit: 5 });
    expect(again.body.batchId).toBe(first.body.batchId);
    expect(again.body.changes).toEqual(first.body.changes);

    copy.apply(first.body);
    const rest = await ex.post<PushBatch>(consumer, `${sub()}/changes`, { limit: 5, ack: { generation: 1, cursor: first.body.cursor } });
    expect(rest.body.after).toBe(first.body.cursor);
    expect(rest.body.reset).toBe(false);
    copy.apply(rest.body);
    await ex.post(consumer, `${sub()}/ack`, { generation: 1, cursor: rest.body.cursor });
    await drain(consumer, copy, 5);
    expect(copy.byKey()).toEqual(await expected());
    expect(copy.records.size).toBe(14);
  });

  it('then delivers every change in order: updates, deletes, and rows leaving the row filter as deletes', async () => {
    await load([{ n: 202, name: '长沙企业新名', capital: '999.00' }, { n: 204, name: '株洲企业迁出' }, { n: 231, name: '长沙企业新设' }], [206]);
    const batch = await drain(consumer, copy, 2);
    expect(batch.phase).toBe('changes');
    expect(copy.byKey()).toEqual(await expected());
    expect(copy.byKey().get(usccFor(202))).toMatchObject({ 企业名称: '长沙企业新名', 注册资本: '999.00' });
    expect(copy.byKey().has(usccFor(204))).toBe(false);
    expect(copy.byKey().has(usccFor(206))).toBe(false);
    const events = await sql<{ n: number }>`select count(*)::int as n from audit_events where action = 'data.push' and outcome = 'success' and details->>'systemId' = ${consumer.systemId}`.execute(t.platform.db);
    expect(events.rows[0]!.n).toBeGreaterThanOrEqual(copy.batches - 2);
  });

  it('a record changed while its batch is read ahead arrives in its new version after the old one', async () => {
    const fresh = new Copy();
    await ex.post(consumer, `${sub()}/resync`, {});
    const first = await ex.post<PushBatch>(consumer, `${sub()}/changes`, { limit: 3 });
    fresh.apply(first.body);
    // The next batch (the following three records) is being read ahead now; change one of them.
    const table = await t.platform.exchange.tableOf(code);
    const next = await t.platform.exchange.decodeRows(table, await sql<Record<string, unknown>>`select * from ${sql.raw(`shared."${table.tableName}"`)} where gs_seq > ${first.body.cursor} and not gs_deleted and c2 like '长沙%' order by gs_seq limit 1`.execute(t.platform.db).then((r) => r.rows));
    const target = String(next[0]!.values['统一社会信用代码']);
    const n = [...Array(100).keys()].map((i) => 200 + i).find((i) => usccFor(i) === target)!;
    await load([{ n, name: '长沙企业预读后改名' }]);
    let ack = { generation: first.body.generation, cursor: first.body.cursor };
    for (;;) {
      const r = await ex.post<PushBatch>(consumer, `${sub()}/changes`, { limit: 3, ack });
      fresh.apply(r.body);
      ack = { generation: r.body.generation, cursor: r.body.cursor };
      if (!r.body.more) break;
    }
    await ex.post(consumer, `${sub()}/ack`, ack);
    expect(fresh.byKey().get(target)).toMatchObject({ 企业名称: '长沙企业预读后改名' });
    expect(fresh.byKey()).toEqual(await expected());
    copy.records.clear();
    for (const [k, v] of fresh.records) copy.records.set(k, v);
    copy.lastSeq = fresh.lastSeq;
  });

  it('waits for a change on a long poll and answers as soon as it commits', async () => {
    const waiting = ex.post<PushBatch>(consumer, `${sub()}/changes`, { waitSeconds: 20 });
    await new Promise((r) => setTimeout(r, 200));
    await load([{ n: 240, name: '长沙企业长轮询' }]);
    const r = await waiting;
    expect(r.status).toBe(200);
    expect(r.body.changes.map((c) => c.row['统一社会信用代码'])).toEqual([usccFor(240)]);
    copy.apply(r.body);
    await ex.post(consumer, `${sub()}/ack`, { generation: r.body.generation, cursor: r.body.cursor });
  });

  it('refuses an acknowledgement past what was delivered, and one of an earlier generation after a resync', async () => {
    const table = await t.platform.exchange.tableOf(code);
    const gen = (await ex.call<{ generation: number }>(consumer, 'GET', sub())).body.generation;
    const past = await ex.post<ErrorReply>(consumer, `${sub()}/ack`, { generation: gen, cursor: table.lastSeq + 5 });
    expect(past.status).toBe(409);
    expect(past.body.code).toBe('GS_ERR_PUSH_ACK_INVALID');

    const resynced = await ex.post<{ generation: number; cursor: number; snapshotUntil: number }>(consumer, `${sub()}/resync`, {});
    expect(resynced.body).toMatchObject({ generation: gen + 1, cursor: 0, snapshotUntil: table.lastSeq });
    const stale = await ex.post<ErrorReply>(consumer, `${sub()}/ack`, { generation: gen, cursor: 3 });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('GS_ERR_PUSH_ACK_STALE');
    const fresh = new Copy();
    const first = await drain(consumer, fresh, 100);
    expect(first.generation).toBe(gen + 1);
    expect(fresh.byKey()).toEqual(await expected());
  });

  it('stops at the next batch once the grant is revoked, audited as denied; a renewal with other terms starts again from zero', async () => {
    const gen = (await ex.call<{ generation: number }>(consumer, 'GET', sub())).body.generation;
    const [current] = await t.platform.db.selectFrom('grants').select('id').where('consumerSystemId', '=', consumer.systemId).where('status', '=', 'active').execute();
    await setGrantStatus(t.platform.db, current!.id, 'revoked');
    const refused = await ex.post<ErrorReply>(consumer, `${sub()}/changes`, {});
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('GS_ERR_GRANT_REVOKED');
    const denied = await sql<{ n: number }>`select count(*)::int as n from audit_events where action = 'data.push' and outcome = 'denied' and details->>'code' = 'GS_ERR_GRANT_REVOKED'`.execute(t.platform.db);
    expect(denied.rows[0]!.n).toBeGreaterThan(0);

    await grant(consumer, { items: ['统一社会信用代码', '企业名称'], masking: {} });
    const first = await ex.post<PushBatch>(consumer, `${sub()}/changes`, { limit: 100 });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ generation: gen + 1, after: 0, reset: true, items: ['统一社会信用代码', '企业名称'] });
    expect(Object.keys(first.body.changes[0]!.row)).toEqual(['统一社会信用代码', '企业名称']);
  });

  it('refuses a system without a push grant, and a pull grant does not subscribe', async () => {
    const other = await systemWithCertificate(t, consumerId, '只有获取授权的系统');
    await grant(other, { method: 'pull' });
    const r = await ex.post<ErrorReply>(other, `${sub()}/changes`, {});
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('GS_ERR_GRANT_METHOD');
    const list = await ex.call<{ items: unknown[] }>(other, 'GET', '/exchange/v1/subscriptions');
    expect(list.body.items).toEqual([]);
  });
});

describe('push to a mutual-TLS webhook', () => {
  let consumer: SystemCredentials;
  let server: Server;
  let url: string;
  let platformCa: string;
  const received: PushBatch[] = [];
  const clientSubjects: string[] = [];
  let failWith: number | null = null;

  beforeAll(async () => {
    consumer = await systemWithCertificate(t, consumerId, '推送Webhook系统');
    await grant(consumer);
    platformCa = await t.platform.pki.caCertificatePem();
    // The webhook's server certificate: for the test, one from the platform CA; the consumer names the CA.
    const tls = await t.platform.pki.serverCredentials(['localhost', '127.0.0.1']);
    server = createServer({ key: tls.key, cert: tls.cert, ca: platformCa, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        clientSubjects.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? ''));
        if (failWith !== null) {
          res.writeHead(failWith).end('not now');
          return;
        }
        const batch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as PushBatch;
        expect(req.headers['x-govshare-batch']).toBe(batch.batchId);
        received.push(batch);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://localhost:${(server.address() as { port: number }).port}/govshare/push`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  async function runUntilIdle(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const r = await t.platform.pushDelivery.runOnce();
      if (r.claimed === 0) return;
    }
  }

  it('refuses a webhook address that is not https, and a caPem that is not a certificate', async () => {
    const plain = await ex.call<ErrorReply>(consumer, 'PUT', `${sub()}/webhook`, { url: 'http://localhost:1/x' });
    expect(plain.status).toBe(400);
    expect(plain.body.code).toBe('GS_ERR_PUSH_WEBHOOK_INVALID');
    const bad = await ex.call<ErrorReply>(consumer, 'PUT', `${sub()}/webhook`, { url, caPem: 'not a certificate' });
    expect(bad.body.code).toBe('GS_ERR_PUSH_WEBHOOK_INVALID');
  });

  it('posts the snapshot and the changes in order, presenting the platform certificate; a 2xx acknowledges', async () => {
    const set = await ex.call<{ mode: string }>(consumer, 'PUT', `${sub()}/webhook`, { url, caPem: platformCa });
    expect(set.status).toBe(200);
    expect(set.body.mode).toBe('webhook');
    const fetching = await ex.post<ErrorReply>(consumer, `${sub()}/changes`, {});
    expect(fetching.body.code).toBe('GS_ERR_PUSH_WEBHOOK_MODE');
    await runUntilIdle();
    await load([{ n: 250, name: '长沙企业推送' }], [208]);
    await runUntilIdle();
    const copy = new Copy();
    for (const b of received) copy.apply(b);
    expect(copy.byKey()).toEqual(await expected());
    expect(received[0]!.reset).toBe(true);
    expect(clientSubjects.every((s) => s === 'govshare platform')).toBe(true);
    const state = await ex.call<{ cursor: number; lastSeq: number; state: string }>(consumer, 'GET', sub());
    expect(state.body.cursor).toBe(state.body.lastSeq);
  });

  it('retries a failing webhook with backoff, dead-letters it after the attempts, and a re-drive delivers the batch', async () => {
    failWith = 503;
    const before = received.length;
    await load([{ n: 251, name: '长沙企业重试' }]);
    await runUntilIdle();
    let state = (await ex.call<{ state: string; attempts: number; lastError: string; nextAttemptAt: string }>(consumer, 'GET', sub())).body;
    expect(state).toMatchObject({ state: 'active', attempts: 1 });
    expect(state.lastError).toContain('HTTP 503');
    // Not due before its next attempt time.
    await runUntilIdle();
    expect((await ex.call<{ attempts: number }>(consumer, 'GET', sub())).body.attempts).toBe(1);
    for (let i = 0; i < 2; i++) {
      t.clock.advance(61_000);
      await runUntilIdle();
    }
    state = (await ex.call<{ state: string; attempts: number; lastError: string; nextAttemptAt: string }>(consumer, 'GET', sub())).body;
    expect(state).toMatchObject({ state: 'dead_letter', attempts: 3 });
    expect(received.length).toBe(before);

    // Visible on the console with the recent attempts; the operator re-drives.
    const operator = userContext('operator', null, 'op');
    const listed = await t.platform.subscriptions.consoleList(operator.actor, { state: 'dead_letter' });
    expect(listed.map((s) => s.consumerSystemId)).toContain(consumer.systemId);
    const dead = listed.find((s) => s.consumerSystemId === consumer.systemId)!;
    // Newest first: the three failures, then the deliveries before them.
    expect(dead.recentAttempts.slice(0, 3).map((a) => a.httpStatus)).toEqual([503, 503, 503]);
    expect(dead.recentAttempts.slice(3).every((a) => a.httpStatus === 204)).toBe(true);
    failWith = null;
    await t.platform.subscriptions.consoleRedrive(operator, dead.id);
    await runUntilIdle();
    expect(received.slice(before).flatMap((b) => b.changes.map((c) => c.row['统一社会信用代码']))).toContain(usccFor(251));
    const after = (await ex.call<{ state: string; attempts: number; cursor: number; lastSeq: number }>(consumer, 'GET', sub())).body;
    expect(after).toMatchObject({ state: 'active', attempts: 0 });
    expect(after.cursor).toBe(after.lastSeq);
    const audit = await sql<{ action: string }>`select action from audit_events where target_id = ${dead.id} and action in ('subscription.dead-letter', 'subscription.redrive') order by seq`.execute(t.platform.db);
    expect(audit.rows.map((r) => r.action)).toEqual(['subscription.dead-letter', 'subscription.redrive']);
  });

  it('fails the attempt when the webhook server is not trusted (no caPem and a private CA)', async () => {
    await ex.call(consumer, 'PUT', `${sub()}/webhook`, { url });
    await load([{ n: 252, name: '长沙企业不受信' }]);
    await runUntilIdle();
    const state = (await ex.call<{ attempts: number; lastError: string }>(consumer, 'GET', sub())).body;
    expect(state.attempts).toBe(1);
    expect(state.lastError).toMatch(/certificate/i);
  });
});
