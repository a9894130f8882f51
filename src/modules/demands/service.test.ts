import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogContent } from '../../../test/helpers/catalog.js';
import { agencyInput, createTestPlatform, refused, type TestPlatform } from '../../../test/helpers/platform.js';
import type { RequestContext } from '../../server/actor.js';
import { permissionsOf, type Role } from '../accounts/permissions.js';
import type { Agency } from '../agencies/schemas.js';
import type { DemandService } from './service.js';

let t: TestPlatform;
let demands: DemandService;
let asking: Agency;
let holding: Agency;
let third: Agency;
let requester: RequestContext;
let askingCataloger: RequestContext;
let holdingCataloger: RequestContext;
let thirdCataloger: RequestContext;
let supervisor: RequestContext;
let publishedCode: string;

function as(role: Role, agencyId: string | null, name: string): RequestContext {
  return { actor: { type: 'user', userId: null, name, roles: [role], agencyId, permissions: permissionsOf([role]) }, requestId: null, ip: null };
}

const need = { title: '企业登记信息', purpose: '办理行政许可时核验申请企业的登记状态', wantedItems: ['统一社会信用代码', '登记状态'] };

beforeAll(async () => {
  t = await createTestPlatform();
  demands = t.platform.demands;
  asking = await t.platform.agencies.create(t.cli, agencyInput(1, { nameZh: '衡阳市行政审批服务局' }));
  holding = await t.platform.agencies.create(t.cli, agencyInput(2, { nameZh: '衡阳市市场监督管理局' }));
  third = await t.platform.agencies.create(t.cli, agencyInput(3));
  requester = as('requester', asking.id, 'asking.requester');
  askingCataloger = as('cataloger', asking.id, 'asking.cataloger');
  holdingCataloger = as('cataloger', holding.id, 'holding.cataloger');
  thirdCataloger = as('cataloger', third.id, 'third.cataloger');
  supervisor = as('supervisor', null, 'supervisor');
  const e = await t.platform.catalog.create(holdingCataloger, { content: catalogContent() });
  await t.platform.catalog.submit(holdingCataloger, e.id);
  publishedCode = (await t.platform.catalog.publish(supervisor, e.id, {})).resourceCode!;
});
afterAll(async () => t?.close());

describe('the demand catalog', () => {
  it('goes from a posted need through routing to an answer with an existing resource, which the requester reads', async () => {
    const posted = await demands.post(requester, { ...need, suggestedAgencyId: holding.id });
    expect(posted).toMatchObject({ status: 'open', requester: { id: asking.id, name: '衡阳市行政审批服务局' }, suggestedAgency: { id: holding.id }, provider: null, answer: null });
    // Not routed yet: the suggested agency is not asked, and does not see it.
    await refused(demands.get(holdingCataloger.actor, posted.id), 'GS_ERR_DEMAND_NOT_FOUND');
    expect((await demands.list(supervisor.actor, { status: 'open', limit: 500 })).map((d) => d.id)).toContain(posted.id);

    const routed = await demands.route(supervisor, posted.id, { providerAgencyId: holding.id, comment: '请市场监管局答复' });
    expect(routed).toMatchObject({ status: 'routed', provider: { id: holding.id }, routed: { by: 'supervisor', comment: '请市场监管局答复' } });
    expect((await demands.list(holdingCataloger.actor, { limit: 500 })).map((d) => d.id)).toContain(posted.id);

    await demands.answer(holdingCataloger, posted.id, { kind: 'existing', resourceCode: publishedCode, reason: '已编目，可申请共享' });
    const seen = await demands.get(requester.actor, posted.id);
    expect(seen.status).toBe('answered');
    expect(seen.answer).toMatchObject({ kind: 'existing', resourceCode: publishedCode, reason: '已编目，可申请共享', by: 'holding.cataloger' });
    const audit = await t.platform.audit.search({ targetId: posted.id, limit: 10 });
    expect(audit.map((a) => a.action).sort()).toEqual(['demand.answer', 'demand.post', 'demand.route']);
  });

  it('takes a promise with a future date and a refusal only with reasons', async () => {
    const a = await demands.post(requester, need);
    await demands.route(supervisor, a.id, { providerAgencyId: holding.id });
    let err = await refused(demands.answer(holdingCataloger, a.id, { kind: 'promise', promisedBy: '2020-01-01' }), 'GS_ERR_DEMAND_ANSWER_INVALID');
    expect(err.fields?.[0]).toMatchObject({ field: 'body.promisedBy', rule: 'future' });
    err = await refused(demands.answer(holdingCataloger, a.id, { kind: 'refusal' }), 'GS_ERR_DEMAND_ANSWER_INVALID');
    expect(err.messageZh).toBe('答复不合法：不予提供须说明理由');
    err = await refused(demands.answer(holdingCataloger, a.id, { kind: 'existing', resourceCode: '301002/999999' }), 'GS_ERR_DEMAND_ANSWER_INVALID');
    expect(err.fields?.[0]).toMatchObject({ field: 'body.resourceCode', rule: 'published' });
    const promised = await demands.answer(holdingCataloger, a.id, { kind: 'promise', promisedBy: '2099-06-30' });
    expect(promised.answer).toMatchObject({ kind: 'promise', promisedBy: '2099-06-30' });

    const b = await demands.post(askingCataloger, need);
    await demands.route(supervisor, b.id, { providerAgencyId: holding.id });
    const refusal = await demands.answer(holdingCataloger, b.id, { kind: 'refusal', reason: '该信息属于国家秘密，依《保守国家秘密法》不予提供' });
    expect(refusal.answer).toMatchObject({ kind: 'refusal', reason: '该信息属于国家秘密，依《保守国家秘密法》不予提供' });
  });

  it('lets only the agency asked answer, once, and only after routing', async () => {
    const d = await demands.post(requester, need);
    await refused(demands.answer(holdingCataloger, d.id, { kind: 'refusal', reason: '无' }), 'GS_ERR_DEMAND_NOT_FOUND');
    const early = await refused(demands.answer(askingCataloger, d.id, { kind: 'refusal', reason: '无' }), 'GS_ERR_DEMAND_STATE');
    expect(early.status).toBe(409);
    await refused(demands.route(supervisor, d.id, { providerAgencyId: '00000000-0000-4000-8000-000000000000' }), 'GS_ERR_DEMAND_AGENCY_INVALID');
    await refused(demands.route(askingCataloger, d.id, { providerAgencyId: holding.id }), 'GS_ERR_AUTH_FORBIDDEN');
    // Re-routing before an answer is allowed.
    await demands.route(supervisor, d.id, { providerAgencyId: third.id });
    const r = await demands.route(supervisor, d.id, { providerAgencyId: holding.id });
    await refused(demands.get(thirdCataloger.actor, d.id), 'GS_ERR_DEMAND_NOT_FOUND');
    await refused(demands.answer(askingCataloger, d.id, { kind: 'refusal', reason: '无' }), 'GS_ERR_AUTH_WRONG_AGENCY');
    await refused(demands.answer(holdingCataloger, d.id, { kind: 'refusal', reason: '无', expectedVersion: r.version - 1 }), 'GS_ERR_REQUEST_CONFLICT');
    await demands.answer(holdingCataloger, d.id, { kind: 'refusal', reason: '无此信息' });
    const twice = await refused(demands.answer(holdingCataloger, d.id, { kind: 'refusal', reason: '无此信息' }), 'GS_ERR_DEMAND_STATE');
    expect(twice.messageZh).toBe(`需求 ${d.id} 当前已答复，不能答复`);
    await refused(demands.route(supervisor, d.id, { providerAgencyId: third.id }), 'GS_ERR_DEMAND_STATE');
  });
});
