/**
 * The whole requested-sharing flow through the HTTP API, as the people in it do it: a requester of
 * the consumer agency files, a reviewer of the provider agency decides (narrower, or a refusal),
 * the requester disputes, the supervisor arbitrates, the provider revokes, a grant expires.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agency } from '../src/modules/agencies/schemas.js';
import type { Grant } from '../src/modules/grants/schemas.js';
import { sweepOnce } from '../src/modules/requests/deadline-sweep.js';
import type { HistoryEntry, ShareRequest, Statistics } from '../src/modules/requests/schemas.js';
import { catalogContent } from './helpers/catalog.js';
import type { Delivery, InboxItem } from '../src/modules/notifications/schemas.js';
import { agencyInput, createTestPlatform, sessionCookie, STRONG_PASSWORD, userWithRoles, type TestPlatform } from './helpers/platform.js';
import { deadUrl } from './helpers/receivers.js';

let t: TestPlatform;
let consumer: Agency;
let provider: Agency;
let systemId: string;
let conditional: string;
let unconditional: string;
let notShared: string;
const headers: Record<'requester' | 'reviewer' | 'supervisor' | 'outsider', { cookie: string }> = {} as never;

const V1 = '/api/v1';

async function call<T = unknown>(who: keyof typeof headers, method: 'GET' | 'POST', url: string, payload?: unknown): Promise<{ status: number; body: T & { code?: string; details?: { fields?: { field: string; rule: string }[] } } }> {
  const r = await t.app.inject({ method, url: `${V1}${url}`, headers: headers[who], ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return { status: r.statusCode, body: r.json() };
}

async function relogin(who: keyof typeof headers, username: string): Promise<void> {
  const r = await t.app.inject({ method: 'POST', url: `${V1}/auth/login`, payload: { username, password: STRONG_PASSWORD } });
  expect(r.statusCode, r.body).toBe(200);
  headers[who] = { cookie: sessionCookie(r.headers['set-cookie']) };
}

const ASK = {
  systemId: '',
  items: ['统一社会信用代码', '企业名称', '注册资本', '成立日期'],
  purpose: { business: '企业开办“一网通办”', basis: '《优化营商环境条例》第十九条' },
  dataUsers: '行政审批窗口工作人员',
  shareMethod: 'pull',
  validUntil: '2099-12-31',
  frequency: '实时',
};

beforeAll(async () => {
  // E-mail goes to a server that is not there, and the provider's webhook to a receiver that is
  // not there: neither may hold up a decision.
  t = await createTestPlatform({ smtpUrl: await deadUrl('smtp'), smtpFrom: 'govshare <noreply@example.gov.cn>', deliveryTimeoutMs: 500 });
  consumer = await t.platform.agencies.create(t.cli, agencyInput(21, { nameZh: '衡阳市行政审批服务局' }));
  provider = await t.platform.agencies.create(t.cli, agencyInput(22, { nameZh: '衡阳市市场监督管理局' }));
  const outsider = await t.platform.agencies.create(t.cli, agencyInput(23));
  systemId = (await t.platform.systems.register(t.cli, { agencyId: consumer.id, name: '一网通办系统', purpose: '企业开办', ownerContact: { name: '李四' } })).id;
  ASK.systemId = systemId;
  const publish = async (over: Parameters<typeof catalogContent>[0]) => {
    const e = await t.platform.catalog.create(t.cli, { agencyId: provider.id, content: catalogContent(over) });
    await t.platform.catalog.submit(t.cli, e.id);
    return (await t.platform.catalog.publish(t.cli, e.id, { confirmLegalBasis: true })).resourceCode!;
  };
  conditional = await publish({});
  unconditional = await publish({ nameZh: '企业名录', shareType: 'unconditional', shareCondition: undefined, classification: { category: '3', group: '01', subgroup: '003' } });
  notShared = await publish({ nameZh: '稽查底稿', shareType: 'none', shareCondition: undefined, shareMethods: [], legalBasis: { law: '《市场监督管理行政处罚程序规定》', article: '第二十一条' }, classification: { category: '3', group: '01', subgroup: '004' } });
  headers.requester = (await userWithRoles(t, 'sq-requester', ['requester'], consumer.id)).headers;
  const reviewerAccount = await userWithRoles(t, 'sq-reviewer', ['reviewer'], provider.id);
  headers.reviewer = reviewerAccount.headers;
  await t.platform.accounts.update(t.cli, reviewerAccount.userId, { email: 'reviewer@amr.example.gov.cn' });
  await t.platform.notifications.createWebhook(t.cli, { url: await deadUrl('http'), agencyId: provider.id });
  headers.supervisor = (await userWithRoles(t, 'sq-supervisor', ['supervisor'])).headers;
  headers.outsider = (await userWithRoles(t, 'sq-outsider', ['reviewer'], outsider.id)).headers;
});
afterAll(async () => t?.close());

describe('share requests through the API', () => {
  it('refuses bad requests with a code naming what is wrong, and keeps none of them', async () => {
    let r = await call('requester', 'POST', '/share-requests', { ...ASK, resource: notShared });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('GS_ERR_SHARE_REQUEST_NOT_SHAREABLE');
    r = await call('requester', 'POST', '/share-requests', { ...ASK, resource: conditional, items: ['企业名称', '经营范围'] });
    expect([r.status, r.body.code, r.body.details?.fields?.[0]?.field]).toEqual([400, 'GS_ERR_SHARE_REQUEST_ITEMS_UNKNOWN', 'body.items.1']);
    r = await call('requester', 'POST', '/share-requests', { ...ASK, resource: conditional, validUntil: '2020-01-01' });
    expect([r.status, r.body.code, r.body.details?.fields?.[0]?.rule]).toEqual([400, 'GS_ERR_SHARE_REQUEST_INVALID', 'notPast']);
    r = await call('requester', 'POST', '/share-requests', { ...ASK, resource: conditional, shareMethod: 'email' });
    expect([r.status, r.body.code]).toEqual([400, 'GS_ERR_REQUEST_INVALID']);
    r = await call('requester', 'POST', '/share-requests', { ...ASK, resource: conditional, items: '企业名称' });
    expect([r.status, r.body.code]).toEqual([400, 'GS_ERR_REQUEST_INVALID']);
    r = await call('requester', 'POST', '/share-requests', { ...ASK, resource: conditional, items: ['企业名称', '法定代表人身份证号'] });
    expect([r.status, r.body.code]).toEqual([400, 'GS_ERR_SHARE_REQUEST_AGREEMENT_REQUIRED']);
    // A reviewer cannot file; the refusals left nothing behind.
    r = await call('reviewer', 'POST', '/share-requests', { ...ASK, resource: conditional });
    expect([r.status, r.body.code]).toEqual([403, 'GS_ERR_AUTH_FORBIDDEN']);
    const list = await call<{ items: ShareRequest[] }>('supervisor', 'GET', '/share-requests');
    expect(list.body.items).toEqual([]);
  });

  it('runs request → narrowing → dispute → upheld, and request → refusal → dispute → overruled, with the history readable by all three', async () => {
    // A conditional request goes to the provider with a deadline.
    const filed = await call<ShareRequest>('requester', 'POST', '/share-requests', { ...ASK, resource: conditional });
    expect(filed.status).toBe(201);
    expect(filed.body).toMatchObject({ status: 'review', statusZh: '待提供方审核', deadline: { stage: 'review', overdue: false } });
    const id = filed.body.id;
    expect((await call('outsider', 'GET', `/share-requests/${id}`)).body.code).toBe('GS_ERR_SHARE_REQUEST_NOT_FOUND');
    // The provider's reviewer finds it in the inbox.
    const inbox = await call<{ items: InboxItem[] }>('reviewer', 'GET', '/notifications?unread=true');
    expect(inbox.body.items.filter((n) => n.target.id === id).map((n) => n.kind)).toEqual(['request.submitted']);

    // The provider narrows it; a second decision is a conflict.
    const narrowed = await call<ShareRequest>('reviewer', 'POST', `/share-requests/${id}/approve`, {
      terms: { items: ['统一社会信用代码', '企业名称'], rowFilter: [{ item: '统一社会信用代码', op: 'prefix', values: ['91430400'] }], masking: { 企业名称: 'partial' }, volumePerDay: 50_000 },
      comment: '最小必要',
    });
    expect(narrowed.status, JSON.stringify(narrowed.body)).toBe(200);
    expect(narrowed.body).toMatchObject({ status: 'granted', decision: { kind: 'narrowed', by: 'sq-reviewer' } });
    const told = await call<{ items: InboxItem[] }>('requester', 'GET', '/notifications');
    expect(told.body.items.find((n) => n.target.id === id && n.kind === 'request.decided')?.subjectZh).toContain('缩小范围');
    // The e-mail and the webhook of these notices failed and wait for their retry; the decisions stand.
    await t.platform.notificationDelivery.runOnce();
    const deliveries = (await t.platform.notifications.listDeliveries({ limit: 100 })).items as Delivery[];
    expect(deliveries.map((d) => d.channel).sort()).toEqual(expect.arrayContaining(['email', 'webhook']));
    for (const d of deliveries) expect(d).toMatchObject({ status: 'pending', attempts: 1, deliveredAt: null });
    expect(deliveries.every((d) => d.lastError !== null)).toBe(true);
    const again = await call('reviewer', 'POST', `/share-requests/${id}/refuse`, { reason: '再议', legalBasis: { law: '某法', article: '第一条' } });
    expect([again.status, again.body.code]).toEqual([409, 'GS_ERR_SHARE_REQUEST_STATE']);
    const grant = await call<Grant>('requester', 'GET', `/grants/${narrowed.body.grantId}`);
    expect(grant.body).toMatchObject({ status: 'active', items: ['统一社会信用代码', '企业名称'], masking: { 企业名称: 'partial' }, volumePerDay: 50_000, rowFilterText: '统一社会信用代码 以 91430400 开头' });

    // The consumer disputes the narrowing; the supervisor upholds it.
    expect((await call<ShareRequest>('requester', 'POST', `/share-requests/${id}/dispute`, { reason: '需要注册资本判断准入条件' })).body.status).toBe('disputed');
    const upheld = await call<ShareRequest>('supervisor', 'POST', `/share-requests/${id}/arbitrate`, { outcome: 'upheld', comment: '注册资本非必要，维持原决定' });
    expect(upheld.body).toMatchObject({ status: 'granted', arbitration: { outcome: 'upheld' }, grantId: narrowed.body.grantId });

    // A second request (another method) is refused, disputed, and overruled by the supervisor.
    const second = await call<ShareRequest>('requester', 'POST', '/share-requests', { ...ASK, resource: conditional, shareMethod: 'push', items: ['统一社会信用代码', '成立日期'] });
    const refusedIt = await call<ShareRequest>('reviewer', 'POST', `/share-requests/${second.body.id}/refuse`, { reason: '推送接口尚未建设', legalBasis: { law: '《政务数据共享条例》', article: '第十四条' } });
    expect(refusedIt.body).toMatchObject({ status: 'refused', decision: { kind: 'refused', comment: '推送接口尚未建设', legalBasis: { law: '《政务数据共享条例》', article: '第十四条' } } });
    const noBasis = await call('reviewer', 'POST', `/share-requests/${id}/refuse`, { reason: '无依据' });
    expect([noBasis.status, noBasis.body.code]).toEqual([400, 'GS_ERR_REQUEST_INVALID']);
    await call('requester', 'POST', `/share-requests/${second.body.id}/dispute`, { reason: '系统缺失不是法定不予共享理由' });
    const overruled = await call<ShareRequest>('supervisor', 'POST', `/share-requests/${second.body.id}/arbitrate`, { outcome: 'overruled', comment: '应予共享，可先以文件方式过渡', terms: { conditions: '接口建成前按月推送' } });
    expect(overruled.body).toMatchObject({ status: 'granted', arbitration: { outcome: 'overruled' } });
    const final = await call('requester', 'POST', `/share-requests/${second.body.id}/dispute`, { reason: '再议' });
    expect([final.status, final.body.code]).toEqual([409, 'GS_ERR_SHARE_REQUEST_STATE']);

    for (const who of ['requester', 'reviewer', 'supervisor'] as const) {
      const h = await call<{ items: HistoryEntry[] }>(who, 'GET', `/share-requests/${second.body.number}/history`);
      expect(h.body.items.map((e) => e.action)).toEqual(['file', 'refuse', 'dispute', 'arbitrate', 'grant.issue']);
    }
  });

  it('revokes a grant within the request history, and expires one at its end', async () => {
    const r = await call<ShareRequest>('requester', 'POST', '/share-requests', { ...ASK, resource: unconditional, shareMethod: 'comparison', validUntil: '2099-12-31' });
    expect(r.body).toMatchObject({ status: 'granted', shareType: 'unconditional' });
    const grantId = r.body.grantId!;
    const byConsumer = await call('requester', 'POST', `/grants/${grantId}/revoke`, { reason: '不需要了' });
    expect([byConsumer.status, byConsumer.body.code]).toEqual([403, 'GS_ERR_AUTH_FORBIDDEN']);
    const revoked = await call<Grant>('reviewer', 'POST', `/grants/${grantId}/revoke`, { reason: '发现数据被用于申请用途以外' });
    expect(revoked.body).toMatchObject({ status: 'revoked', statusReason: '发现数据被用于申请用途以外' });
    const history = await call<{ items: HistoryEntry[] }>('requester', 'GET', `/share-requests/${r.body.id}/history`);
    expect(history.body.items.map((e) => e.action)).toEqual(['file', 'auto-grant', 'grant.issue', 'grant.revoke']);

    const today = new Date(t.clock.now().getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
    const ending = await call<ShareRequest>('requester', 'POST', '/share-requests', { ...ASK, resource: unconditional, shareMethod: 'file', validUntil: today });
    expect((await call<Grant>('requester', 'GET', `/grants/${ending.body.grantId}`)).body.status).toBe('active');
    // A day and a half later the serve process's sweep expires it.
    t.clock.advance(36 * 3_600_000);
    await sweepOnce(t.platform.requests, t.platform.grants, 30);
    await relogin('requester', 'sq-requester');
    await relogin('supervisor', 'sq-supervisor');
    expect((await call<Grant>('requester', 'GET', `/grants/${ending.body.grantId}`)).body.status).toBe('expired');
    const expiredList = await call<{ items: Grant[] }>('supervisor', 'GET', `/grants?status=expired`);
    expect(expiredList.body.items.map((g) => g.id)).toContain(ending.body.grantId);
    const stats = await call<Statistics>('supervisor', 'GET', '/share-requests/statistics');
    expect(stats.body.providers.find((p) => p.agency.id === provider.id)).toMatchObject({ total: 4, refused: 1, narrowed: 1, disputed: 2 });
  });
});
