import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogContent } from '../../../test/helpers/catalog.js';
import { agencyInput, createTestPlatform, refused, type TestPlatform } from '../../../test/helpers/platform.js';
import type { RequestContext } from '../../server/actor.js';
import { permissionsOf, type Role } from '../accounts/permissions.js';
import type { Agency } from '../agencies/schemas.js';
import type { GrantService } from '../grants/service.js';
import { sweepOnce } from './deadline-sweep.js';
import type { ShareRequestCreate } from './schemas.js';
import type { ShareRequestService } from './service.js';

let t: TestPlatform;
let requests: ShareRequestService;
let grants: GrantService;
let consumer: Agency;
let provider: Agency;
let third: Agency;
let systemId: string;
let otherSystemId: string;
let requester: RequestContext;
let reviewer: RequestContext;
let secondReviewer: RequestContext;
let thirdReviewer: RequestContext;
let supervisor: RequestContext;
let conditionalCode: string;
let unconditionalCode: string;
let noneCode: string;

function as(role: Role, agencyId: string | null, name: string): RequestContext {
  return { actor: { type: 'user', userId: null, name, roles: [role], agencyId, permissions: permissionsOf([role]) }, requestId: null, ip: null };
}

/** Moves the platform clock to an instant (China time given with its offset). */
function setClock(iso: string): void {
  t.clock.advance(new Date(iso).getTime() - t.clock.now().getTime());
}

async function publish(content: Parameters<TestPlatform['platform']['catalog']['create']>[1]['content']): Promise<string> {
  const e = await t.platform.catalog.create(t.cli, { agencyId: provider.id, content });
  await t.platform.catalog.submit(t.cli, e.id);
  return (await t.platform.catalog.publish(t.cli, e.id, { confirmLegalBasis: true })).resourceCode!;
}

function ask(over: Partial<ShareRequestCreate> = {}): ShareRequestCreate {
  return {
    resource: conditionalCode,
    systemId,
    items: ['统一社会信用代码', '企业名称', '成立日期'],
    purpose: { business: '企业开办“一网通办”核验', basis: '《优化营商环境条例》第十九条' },
    dataUsers: '行政审批窗口工作人员',
    shareMethod: 'pull',
    validUntil: '2027-06-30',
    expectedVolume: '约 2 万次/月',
    frequency: '实时',
    ...over,
  };
}

beforeAll(async () => {
  t = await createTestPlatform();
  requests = t.platform.requests;
  grants = t.platform.grants;
  consumer = await t.platform.agencies.create(t.cli, agencyInput(11, { nameZh: '衡阳市行政审批服务局' }));
  provider = await t.platform.agencies.create(t.cli, agencyInput(12, { nameZh: '衡阳市市场监督管理局' }));
  third = await t.platform.agencies.create(t.cli, agencyInput(13));
  systemId = (await t.platform.systems.register(t.cli, { agencyId: consumer.id, name: '一网通办系统', purpose: '企业开办', ownerContact: { name: '李四' } })).id;
  otherSystemId = (await t.platform.systems.register(t.cli, { agencyId: consumer.id, name: '综合受理系统', purpose: '综合窗口', ownerContact: { name: '王五' } })).id;
  requester = as('requester', consumer.id, 'consumer.requester');
  reviewer = as('reviewer', provider.id, 'provider.reviewer');
  secondReviewer = as('reviewer', provider.id, 'provider.reviewer2');
  thirdReviewer = as('reviewer', third.id, 'third.reviewer');
  supervisor = as('supervisor', null, 'supervisor');
  // 2026-09-28 is a Monday before the National Day holiday (10-01..07) and its make-up Saturday 10-10.
  setClock('2026-09-28T10:00:00+08:00');
  conditionalCode = await publish(catalogContent());
  unconditionalCode = await publish(catalogContent({ nameZh: '企业名录', shareType: 'unconditional', shareCondition: undefined, classification: { category: '3', group: '01', subgroup: '003' } }));
  noneCode = await publish(
    catalogContent({ nameZh: '企业内部调查底稿', shareType: 'none', shareCondition: undefined, legalBasis: { law: '《中华人民共和国保守国家秘密法》', article: '第十三条' }, shareMethods: [], classification: { category: '3', group: '01', subgroup: '004' } }),
  );
});
afterAll(async () => t?.close());

describe('filing', () => {
  it('grants an unconditional resource at once, with the items asked for, recorded and audited', async () => {
    const r = await requests.file(requester, ask({ resource: unconditionalCode, items: ['企业名称', '成立日期'] }));
    expect(r).toMatchObject({ status: 'granted', shareType: 'unconditional', decision: { kind: 'approved' }, deadline: null, consumer: { id: consumer.id }, provider: { id: provider.id }, system: { id: systemId, name: '一网通办系统' } });
    const g = await grants.get(requester.actor, r.grantId!);
    expect(g).toMatchObject({ status: 'active', items: ['企业名称', '成立日期'], shareMethod: 'pull', validUntil: '2027-06-30', resourceCode: unconditionalCode, rowFilter: [], masking: {} });
    expect(g.purpose).toContain('企业开办');
    const audit = await t.platform.audit.search({ targetId: r.id, limit: 10 });
    expect(audit.map((a) => a.action)).toContain('share-request.file');
    expect((await t.platform.audit.search({ targetId: g.id, limit: 10 })).map((a) => a.action)).toEqual(['grant.issue']);
    const history = await requests.history(requester.actor, r.id);
    expect(history.map((h) => h.action)).toEqual(['file', 'auto-grant', 'grant.issue']);
  });

  it('refuses a not-shared resource and points to the demand catalog', async () => {
    const e = await refused(requests.file(requester, ask({ resource: noneCode })), 'GS_ERR_SHARE_REQUEST_NOT_SHAREABLE');
    expect(e.status).toBe(400);
    expect(e.message).toContain('demand');
    expect(e.messageZh).toContain('需求目录');
    expect(e.messageZh).toContain('保守国家秘密法');
  });

  it('refuses items the resource does not have, naming them', async () => {
    const e = await refused(requests.file(requester, ask({ items: ['企业名称', '纳税信用等级'] })), 'GS_ERR_SHARE_REQUEST_ITEMS_UNKNOWN');
    expect(e.status).toBe(400);
    expect(e.fields).toEqual([expect.objectContaining({ field: 'body.items.1', rule: 'dataItem' })]);
  });

  it('refuses an end date in the past, another agency’s system, an unknown resource and a sensitive item without a security agreement', async () => {
    let e = await refused(requests.file(requester, ask({ validUntil: '2026-09-27' })), 'GS_ERR_SHARE_REQUEST_INVALID');
    expect(e.fields?.[0]).toMatchObject({ field: 'body.validUntil', rule: 'notPast' });
    const foreign = await t.platform.systems.register(t.cli, { agencyId: third.id, name: '别家系统', purpose: '测试', ownerContact: { name: '赵六' } });
    e = await refused(requests.file(requester, ask({ systemId: foreign.id })), 'GS_ERR_SHARE_REQUEST_INVALID');
    expect(e.fields?.[0]).toMatchObject({ field: 'body.systemId', rule: 'ownSystem' });
    e = await refused(requests.file(requester, ask({ resource: '301002/999999' })), 'GS_ERR_SHARE_REQUEST_INVALID');
    expect(e.fields?.[0]).toMatchObject({ field: 'body.resource', rule: 'published' });
    e = await refused(requests.file(requester, ask({ items: ['企业名称', '法定代表人身份证号'] })), 'GS_ERR_SHARE_REQUEST_AGREEMENT_REQUIRED');
    expect(e.messageZh).toContain('法定代表人身份证号');
    // Nothing of the refused requests was kept.
    expect(await requests.list(supervisor.actor, { limit: 500 })).toHaveLength(1);
  });

  it('takes a sensitive item with a signed security agreement, which the provider can then read', async () => {
    const upload = (ctx: RequestContext) => t.platform.attachments.upload(ctx, { fileName: '安全保密协议.pdf', contentType: 'application/pdf', body: Readable.from([Buffer.from('%PDF-1.7 已签署')]) });
    const foreign = await upload(as('requester', third.id, 'third.requester'));
    await refused(requests.file(requester, ask({ items: ['企业名称', '法定代表人身份证号'], attachments: [{ id: foreign.id, kind: 'securityAgreement' }] })), 'GS_ERR_ATTACHMENT_NOT_LINKABLE');
    const agreement = await upload(requester);
    await refused(t.platform.attachments.get(reviewer.actor, agreement.id), 'GS_ERR_ATTACHMENT_NOT_FOUND');
    const r = await requests.file(requester, ask({ items: ['企业名称', '法定代表人身份证号'], attachments: [{ id: agreement.id, kind: 'securityAgreement' }] }));
    expect(r).toMatchObject({ status: 'review', sensitiveItems: ['法定代表人身份证号'], attachments: [{ id: agreement.id, kind: 'securityAgreement', fileName: '安全保密协议.pdf', sha256: agreement.sha256 }] });
    expect((await t.platform.attachments.get(reviewer.actor, agreement.id)).id).toBe(agreement.id);
    await refused(t.platform.attachments.get(thirdReviewer.actor, agreement.id), 'GS_ERR_ATTACHMENT_NOT_FOUND');
    // A page of requests shows each with its own attachments (read for the whole page at once).
    const second = await upload(requester);
    const note = await t.platform.attachments.upload(requester, { fileName: '说明.txt', contentType: 'text/plain', body: Readable.from([Buffer.from('用途说明')]) });
    const other = await requests.file(requester, ask({ shareMethod: 'push', items: ['企业名称', '法定代表人身份证号'], attachments: [{ id: second.id, kind: 'securityAgreement' }, { id: note.id, kind: 'other' }] }));
    const page = await requests.list(reviewer.actor, { side: 'provider', agencyId: provider.id, statuses: ['review'], limit: 10 });
    const shown = new Map(page.map((x) => [x.id, x.attachments.map((a) => [a.id, a.kind, a.fileName]).sort()]));
    expect(shown.get(r.id)).toEqual([[agreement.id, 'securityAgreement', '安全保密协议.pdf']]);
    expect(shown.get(other.id)).toEqual([[second.id, 'securityAgreement', '安全保密协议.pdf'], [note.id, 'other', '说明.txt']].sort());
    expect(page.find((x) => x.id === other.id)).toMatchObject({ consumer: { id: consumer.id }, provider: { id: provider.id }, sensitiveItems: ['法定代表人身份证号'] });
    await requests.withdraw(requester, other.id, { reason: '测试完毕' });
    await requests.withdraw(requester, r.id, { reason: '测试完毕' });
  });

  it('sends a conditional request to the provider with a deadline of 10 working days across the National Day holiday and its make-up Saturday', async () => {
    const r = await requests.file(requester, ask());
    // 09-29, 09-30, (10-01..07 holiday), 10-08, 10-09, 10-10 (make-up Saturday), 10-12 … 10-16.
    expect(r).toMatchObject({ status: 'review', deadline: { stage: 'review', dueOn: '2026-10-16', overdue: false }, clock: { mode: 'pause', paused: false } });
    await refused(requests.file(requester, ask()), 'GS_ERR_SHARE_REQUEST_PENDING');
    // Another agency does not see it; the provider and the supervisor do.
    await refused(requests.get(thirdReviewer.actor, r.id), 'GS_ERR_SHARE_REQUEST_NOT_FOUND');
    expect((await requests.get(reviewer.actor, String(r.number))).id).toBe(r.id);
    expect((await requests.list(reviewer.actor, { side: 'provider', agencyId: provider.id, statuses: ['review'], limit: 10 })).map((x) => x.id)).toEqual([r.id]);
    await requests.withdraw(requester, r.id, { reason: '测试完毕' });
  });
});

describe('the provider’s review', () => {
  it('approves narrower: fewer items, a row filter, masking, a quota and an earlier end; wider terms are refused', async () => {
    const r = await requests.file(requester, ask({ items: ['统一社会信用代码', '企业名称', '注册资本', '成立日期'] }));
    let e = await refused(requests.approve(reviewer, r.id, { terms: { items: ['企业名称', '法定代表人身份证号'] } }), 'GS_ERR_SHARE_REQUEST_TERMS_INVALID');
    expect(e.fields?.[0]).toMatchObject({ field: 'body.terms.items', rule: 'subset' });
    e = await refused(requests.approve(reviewer, r.id, { terms: { validUntil: '2028-01-01' } }), 'GS_ERR_SHARE_REQUEST_TERMS_INVALID');
    expect(e.fields?.[0]).toMatchObject({ field: 'body.terms.validUntil', rule: 'notLater' });
    e = await refused(requests.approve(reviewer, r.id, { terms: { masking: { 注册资本: 'full' }, items: ['企业名称'] } }), 'GS_ERR_SHARE_REQUEST_TERMS_INVALID');
    expect(e.fields?.[0]).toMatchObject({ rule: 'grantedItem' });
    // Another agency's reviewer cannot decide it (it does not even exist for them).
    await refused(requests.approve(thirdReviewer, r.id, {}), 'GS_ERR_SHARE_REQUEST_NOT_FOUND');

    const approved = await requests.approve(reviewer, r.id, {
      terms: {
        items: ['统一社会信用代码', '企业名称', '注册资本'],
        rowFilter: [{ item: '统一社会信用代码', op: 'prefix', values: ['91430400'] }],
        masking: { 注册资本: 'partial' },
        ratePerMinute: 600,
        validUntil: '2026-12-31',
        conditions: '仅限企业开办核验使用',
      },
      comment: '按最小必要原则授权',
    });
    expect(approved).toMatchObject({ status: 'granted', decision: { kind: 'narrowed', comment: '按最小必要原则授权', by: 'provider.reviewer' }, deadline: null });
    const g = await grants.get(requester.actor, approved.grantId!);
    expect(g).toMatchObject({
      items: ['统一社会信用代码', '企业名称', '注册资本'],
      rowFilter: [{ item: '统一社会信用代码', op: 'prefix', values: ['91430400'] }],
      masking: { 注册资本: 'partial' },
      ratePerMinute: 600,
      volumePerDay: null,
      validUntil: '2026-12-31',
      conditions: '仅限企业开办核验使用',
      status: 'active',
    });
    expect(g.rowFilterText).toBe('统一社会信用代码 以 91430400 开头');
    // Deciding a decided request is a conflict.
    e = await refused(requests.refuse(reviewer, r.id, { reason: '改变主意', legalBasis: { law: '某法', article: '第一条' } }), 'GS_ERR_SHARE_REQUEST_STATE');
    expect(e.status).toBe(409);
  });

  it('lets exactly one of two reviewers deciding at once win', async () => {
    const r = await requests.file(requester, ask({ shareMethod: 'comparison' }));
    const outcomes = await Promise.allSettled([
      requests.approve(reviewer, r.id, {}),
      requests.refuse(secondReviewer, r.id, { reason: '数据尚在治理', legalBasis: { law: '《政务数据共享条例》', article: '第十四条' } }),
    ]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o) => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'GS_ERR_SHARE_REQUEST_STATE' });
    const after = await requests.get(supervisor.actor, r.id);
    expect(['granted', 'refused']).toContain(after.status);
    expect((await requests.history(supervisor.actor, r.id)).filter((h) => h.action === 'approve' || h.action === 'refuse')).toHaveLength(1);
    if (after.status === 'granted') await grants.revoke(reviewer, after.grantId!, { reason: '测试清理' });
  });

  it('needs reasons and a legal basis to refuse; the consumer disputes; the supervisor overrules, finally', async () => {
    const r = await requests.file(requester, ask({ shareMethod: 'push' }));
    const e = await refused(requests.refuse(reviewer, r.id, { reason: ' ', legalBasis: { law: '', article: '第一条' } }), 'GS_ERR_SHARE_REQUEST_INVALID');
    expect(e.fields?.map((f) => f.field)).toEqual(['body.reason', 'body.legalBasis.law']);
    const refusedOne = await requests.refuse(reviewer, r.id, { reason: '涉及商业秘密', legalBasis: { law: '《中华人民共和国反不正当竞争法》', article: '第九条' } });
    expect(refusedOne).toMatchObject({ status: 'refused', decision: { kind: 'refused', legalBasis: { law: '《中华人民共和国反不正当竞争法》', article: '第九条' } }, grantId: null });

    await refused(requests.dispute(reviewer, r.id, { reason: '提供方不能替申请方提出异议' }), 'GS_ERR_AUTH_FORBIDDEN');
    const disputed = await requests.dispute(requester, r.id, { reason: '所申请信息为企业公示信息，不属于商业秘密' });
    expect(disputed).toMatchObject({ status: 'disputed', dispute: { reason: '所申请信息为企业公示信息，不属于商业秘密', by: 'consumer.requester' } });
    await refused(requests.arbitrate(reviewer, r.id, { outcome: 'upheld', comment: '自己裁决' }), 'GS_ERR_AUTH_FORBIDDEN');

    const arbitrated = await requests.arbitrate(supervisor, r.id, { outcome: 'overruled', comment: '企业公示信息应当共享', terms: { items: ['统一社会信用代码', '企业名称'] } });
    expect(arbitrated).toMatchObject({ status: 'granted', arbitration: { outcome: 'overruled', comment: '企业公示信息应当共享', by: 'supervisor' } });
    expect((await grants.get(supervisor.actor, arbitrated.grantId!)).items).toEqual(['统一社会信用代码', '企业名称']);
    // Final: no second dispute.
    await refused(requests.dispute(requester, r.id, { reason: '还想要成立日期' }), 'GS_ERR_SHARE_REQUEST_STATE');
    const actions = (await requests.history(provider.id === reviewer.actor.agencyId ? reviewer.actor : supervisor.actor, r.id)).map((h) => h.action);
    expect(actions).toEqual(['file', 'refuse', 'dispute', 'arbitrate', 'grant.issue']);
  });

  it('upholds a narrowing on dispute: the narrowed grant stays in force', async () => {
    const r = await requests.file(requester, ask({ systemId: otherSystemId }));
    const narrowed = await requests.approve(reviewer, r.id, { terms: { items: ['企业名称'] } });
    await requests.dispute(requester, r.id, { reason: '需要统一社会信用代码作为关联键' });
    const upheld = await requests.arbitrate(supervisor, r.id, { outcome: 'upheld', comment: '最小必要，维持' });
    expect(upheld).toMatchObject({ status: 'granted', grantId: narrowed.grantId, decision: { kind: 'narrowed' }, arbitration: { outcome: 'upheld' } });
    expect((await grants.get(requester.actor, narrowed.grantId!)).status).toBe('active');
    await refused(requests.dispute(requester, r.id, { reason: '再议' }), 'GS_ERR_SHARE_REQUEST_STATE');
    await refused(requests.dispute(requester, (await requests.file(requester, ask({ resource: unconditionalCode, systemId: otherSystemId }))).id, { reason: '无可争议' }), 'GS_ERR_SHARE_REQUEST_STATE');
  });
});

describe('deadlines', () => {
  it('pauses the review clock while information is awaited and resumes it with the working days left', async () => {
    setClock('2026-10-12T09:00:00+08:00'); // Monday
    const r = await requests.file(requester, ask({ shareMethod: 'file' }));
    expect(r.deadline?.dueOn).toBe('2026-10-26');
    setClock('2026-10-14T09:00:00+08:00'); // Wednesday: 8 working days left (10-15 … 10-26)
    const asked = await requests.askInfo(reviewer, r.id, { question: '请补充与企业开办业务相关的职责依据文件' });
    expect(asked).toMatchObject({ status: 'infoRequested', deadline: null, clock: { mode: 'pause', paused: true, reviewDaysLeft: 8 }, infoRequest: { question: '请补充与企业开办业务相关的职责依据文件' } });
    setClock('2026-10-19T09:00:00+08:00'); // the next Monday
    const replied = await requests.reply(requester, r.id, { answer: '已补充三定方案相关条款' });
    // 8 working days after Monday 10-19: 10-20 … 10-29.
    expect(replied).toMatchObject({ status: 'review', deadline: { dueOn: '2026-10-29' }, clock: { paused: false, reviewDaysLeft: null } });
    await requests.withdraw(requester, r.id, { reason: '测试完毕' });
  });

  it('reminds the reviewer before the deadline and escalates an overdue request to the supervisor, once each', async () => {
    setClock('2026-11-02T09:00:00+08:00'); // Monday; due 11-16
    const r = await requests.file(requester, ask({ shareMethod: 'file' }));
    expect(r.deadline?.dueOn).toBe('2026-11-16');
    let swept = await sweepOnce(requests, grants, 30);
    expect(swept.reminded).toBe(0);
    setClock('2026-11-12T09:00:00+08:00'); // Thursday: two working days to go (11-13, 11-16)
    swept = await sweepOnce(requests, grants, 30);
    expect(swept).toMatchObject({ reminded: 1, escalated: 0 });
    expect((await sweepOnce(requests, grants, 30)).reminded).toBe(0);
    expect((await requests.get(reviewer.actor, r.id)).deadline?.remindedAt).not.toBeNull();
    expect(await requests.list(supervisor.actor, { overdue: true, limit: 50 })).toEqual([]);

    setClock('2026-11-17T09:00:00+08:00');
    swept = await sweepOnce(requests, grants, 30);
    expect(swept).toMatchObject({ escalated: 1 });
    expect((await sweepOnce(requests, grants, 30)).escalated).toBe(0);
    const overdue = await requests.list(supervisor.actor, { overdue: true, limit: 50 });
    expect(overdue.map((x) => x.id)).toEqual([r.id]);
    expect(overdue[0]!.deadline).toMatchObject({ overdue: true });
    expect(overdue[0]!.deadline?.escalatedAt).not.toBeNull();
    expect((await requests.history(supervisor.actor, r.id)).map((h) => h.action)).toEqual(['file', 'remind', 'escalate']);
    expect((await t.platform.audit.search({ targetId: r.id, limit: 10 })).map((a) => a.action)).toContain('share-request.overdue');
    // Deciding late is still deciding.
    const late = await requests.approve(reviewer, r.id, {});
    expect(late.status).toBe('granted');
  });
});

describe('grants', () => {
  it('are suspended, reinstated and revoked by the provider with a reason; the consumer cannot', async () => {
    const r = await requests.file(requester, ask({ resource: unconditionalCode, shareMethod: 'push' }));
    const id = r.grantId!;
    await refused(grants.suspend(requester, id, { reason: '自行暂停' }), 'GS_ERR_AUTH_FORBIDDEN');
    await refused(grants.suspend(thirdReviewer, id, { reason: '别家' }), 'GS_ERR_GRANT_NOT_FOUND');
    const suspended = await grants.suspend(reviewer, id, { reason: '发现超范围使用，暂停核查' });
    expect(suspended).toMatchObject({ status: 'suspended', statusReason: '发现超范围使用，暂停核查', statusChangedBy: 'provider.reviewer' });
    await refused(grants.suspend(reviewer, id, { reason: '再暂停' }), 'GS_ERR_GRANT_STATE');
    expect((await grants.reinstate(reviewer, id, { reason: '核查无问题' })).status).toBe('active');
    const revoked = await grants.revoke(supervisor, id, { reason: '主管部门撤销' });
    expect(revoked.status).toBe('revoked');
    await refused(grants.reinstate(reviewer, id, { reason: '恢复' }), 'GS_ERR_GRANT_STATE');
    expect((await grants.events([id])).map((e) => e.action)).toEqual(['issue', 'suspend', 'reinstate', 'revoke']);
    expect((await requests.history(requester.actor, r.id)).map((h) => h.action)).toEqual(['file', 'auto-grant', 'grant.issue', 'grant.suspend', 'grant.reinstate', 'grant.revoke']);
  });

  it('remind the consumer before they end, renew, and expire by the sweep', async () => {
    setClock('2026-11-20T09:00:00+08:00');
    const r = await requests.file(requester, ask({ resource: unconditionalCode, shareMethod: 'file', validUntil: '2026-12-10' }));
    const id = r.grantId!;
    let swept = await sweepOnce(requests, grants, 10);
    expect(swept.grantsReminded).toBe(0);
    setClock('2026-12-01T09:00:00+08:00');
    swept = await sweepOnce(requests, grants, 10);
    expect(swept.grantsReminded).toBe(1);
    expect((await sweepOnce(requests, grants, 10)).grantsReminded).toBe(0);

    await refused(requests.renew(requester, id, { validUntil: '2026-12-01' }), 'GS_ERR_SHARE_REQUEST_INVALID');
    const renewal = await requests.renew(requester, id, { validUntil: '2027-12-31' });
    expect(renewal).toMatchObject({ status: 'granted', renewsGrantId: id, validUntil: '2027-12-31', items: r.items });
    expect((await grants.get(requester.actor, id))).toMatchObject({ status: 'expired' });
    expect((await grants.get(requester.actor, renewal.grantId!))).toMatchObject({ status: 'active', validUntil: '2027-12-31' });

    const short = await requests.file(requester, ask({ resource: unconditionalCode, shareMethod: 'file', systemId: otherSystemId, validUntil: '2026-12-03' }));
    setClock('2026-12-04T09:00:00+08:00');
    swept = await sweepOnce(requests, grants, 10);
    expect(swept.grantsExpired).toBeGreaterThanOrEqual(1);
    expect((await grants.get(requester.actor, short.grantId!)).status).toBe('expired');
    expect((await grants.events([short.grantId!])).map((e) => e.action)).toEqual(['issue', 'expire']);
  });
});

describe('statistics', () => {
  it('count, rate and review time in working days per provider and consumer', async () => {
    const s = await requests.statistics(supervisor.actor, {});
    const p = s.providers.find((x) => x.agency.id === provider.id)!;
    expect(p.total).toBeGreaterThan(5);
    expect(p.refused).toBeGreaterThanOrEqual(1);
    expect(p.narrowed).toBeGreaterThanOrEqual(2);
    expect(p.disputed).toBe(2);
    expect(p.overruled).toBe(1);
    expect(p.approvalRate).toBeGreaterThan(0);
    expect(p.approvalRate).toBeLessThan(1);
    expect(p.reviewWorkingDays.decided).toBeGreaterThanOrEqual(4);
    // The overdue request took 11 working days (11-02 → 11-17); the others were decided the same day.
    expect(p.reviewWorkingDays.median).toBe(0);
    expect(p.reviewWorkingDays.p95).toBe(11);
    const c = s.consumers.find((x) => x.agency.id === consumer.id)!;
    expect(c.total).toBe(p.total);
    expect(s.providers.find((x) => x.agency.id === consumer.id)).toBeUndefined();
    // An agency user sees their own agency only.
    const own = await requests.statistics(reviewer.actor, {});
    expect(own.providers.map((x) => x.agency.id)).toEqual([provider.id]);
    expect(own.consumers).toEqual([]);
    await refused(requests.statistics(reviewer.actor, { agencyId: consumer.id }), 'GS_ERR_AUTH_WRONG_AGENCY');
  });
});
