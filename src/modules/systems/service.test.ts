import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agencyInput, createTestPlatform, refused, type TestPlatform } from '../../../test/helpers/platform.js';
import type { Actor, RequestContext } from '../../server/actor.js';
import type { Role } from '../accounts/permissions.js';
import type { SystemService } from './service.js';
import type { SystemCreate } from './schemas.js';

let t: TestPlatform;
let systems: SystemService;
let agencyA: string;
let agencyB: string;
let operator: RequestContext;
let nodeAdminA: RequestContext;
let viewerA: RequestContext;
let supervisor: RequestContext;

/** A real actor: the account is created, logs in, and its session is authenticated. */
async function loggedIn(username: string, roles: Role[], agencyId: string | null): Promise<RequestContext> {
  const { password } = await t.platform.accounts.create(t.cli, { username, displayName: username, roles, agencyId });
  const { sessionToken } = await t.platform.accounts.login({ username, password }, { requestId: null, ip: null, userAgent: null });
  const { actor } = await t.platform.accounts.authenticateSession(sessionToken);
  return { actor, requestId: `req-${username}`, ip: '198.51.100.4' };
}

beforeAll(async () => {
  t = await createTestPlatform();
  systems = t.platform.systems;
  agencyA = (await t.platform.agencies.create(t.cli, agencyInput(1))).id;
  agencyB = (await t.platform.agencies.create(t.cli, agencyInput(2))).id;
  operator = await loggedIn('sys.operator', ['operator'], null);
  nodeAdminA = await loggedIn('sys.nodeadmin.a', ['nodeAdmin'], agencyA);
  viewerA = await loggedIn('sys.viewer.a', ['viewer'], agencyA);
  supervisor = await loggedIn('sys.supervisor', ['supervisor'], null);
});
afterAll(async () => t?.close());

function system(agencyId: string, name: string): SystemCreate {
  return { agencyId, name, purpose: `${name}: 与平台交换数据`, ownerContact: { name: '赵六', phone: '0734-1234567', email: 'zhao@hy.gov.cn' } };
}

const actor = (ctx: RequestContext): Actor => ctx.actor;

describe('registering business systems', () => {
  it('the actors are real sessions with the expected permissions', () => {
    expect(operator.actor.permissions.has('system:manage')).toBe(true);
    expect(nodeAdminA.actor.permissions.has('system:register')).toBe(true);
    expect(nodeAdminA.actor.permissions.has('system:manage')).toBe(false);
    expect(nodeAdminA.actor.agencyId).toBe(agencyA);
  });

  it('an operator registers a system active', async () => {
    const s = await systems.register(operator, system(agencyA, '不动产登记系统'));
    expect(s).toMatchObject({ agencyId: agencyA, name: '不动产登记系统', status: 'active', statusReason: null, version: 1, createdBy: 'sys.operator' });
    expect(s.ownerContact).toEqual({ name: '赵六', phone: '0734-1234567', email: 'zhao@hy.gov.cn' });
    const audit = await t.platform.audit.search({ action: 'system.register', targetId: s.id, limit: 5 });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actorName: 'sys.operator', requestId: 'req-sys.operator', details: expect.objectContaining({ status: 'active' }) });
  });

  it("a node admin applies for their own agency's system, which waits for approval", async () => {
    const s = await systems.register(nodeAdminA, system(agencyA, '社保查询系统'));
    expect(s.status).toBe('pending');
    expect(s.createdBy).toBe('sys.nodeadmin.a');
  });

  it("a node admin cannot register a system for another agency", async () => {
    await refused(systems.register(nodeAdminA, system(agencyB, '越权系统')), 'GS_ERR_AUTH_WRONG_AGENCY');
    expect(await systems.list(actor(operator), { agencyId: agencyB, limit: 100 })).toEqual([]);
  });

  it('an operator approves a pending system once', async () => {
    const s = await systems.register(nodeAdminA, system(agencyA, '待审批系统'));
    const approved = await systems.setStatus(operator, s.id, 'approve', '材料齐全');
    expect(approved).toMatchObject({ status: 'active', statusReason: '材料齐全', version: 2 });
    const e = await refused(systems.setStatus(operator, s.id, 'approve', null), 'GS_ERR_SYSTEM_STATE');
    expect(e.params).toMatchObject({ status: 'active', action: 'approve' });
    expect((await t.platform.audit.search({ targetId: s.id, limit: 10 })).map((r) => r.action).reverse()).toEqual(['system.register', 'system.approve']);
  });

  it('moves through deactivate and reactivate, refusing moves from the wrong state', async () => {
    const s = await systems.register(operator, system(agencyA, '状态系统'));
    await refused(systems.setStatus(operator, s.id, 'reactivate', null), 'GS_ERR_SYSTEM_STATE');
    expect((await systems.setStatus(operator, s.id, 'deactivate', '停用')).status).toBe('inactive');
    await refused(systems.setStatus(operator, s.id, 'approve', null), 'GS_ERR_SYSTEM_STATE');
    await refused(systems.setStatus(operator, s.id, 'deactivate', null), 'GS_ERR_SYSTEM_STATE');
    expect((await systems.setStatus(operator, s.id, 'reactivate', '恢复')).status).toBe('active');
  });

  it('refuses a second system of the same name in one agency, but not in another', async () => {
    await systems.register(operator, system(agencyA, '电子证照系统'));
    const e = await refused(systems.register(operator, system(agencyA, '电子证照系统')), 'GS_ERR_SYSTEM_NAME_TAKEN');
    expect(e.params.name).toBe('电子证照系统');
    await refused(systems.register(nodeAdminA, system(agencyA, '电子证照系统')), 'GS_ERR_SYSTEM_NAME_TAKEN');
    const other = await systems.register(operator, system(agencyB, '电子证照系统'));
    expect(other.agencyId).toBe(agencyB);
    // renaming into a taken name is refused too
    const s = await systems.register(operator, system(agencyA, '改名系统'));
    await refused(systems.update(operator, s.id, { name: '电子证照系统' }), 'GS_ERR_SYSTEM_NAME_TAKEN');
  });

  it('refuses to register under a deactivated agency, or to approve once the agency is gone', async () => {
    const c = await t.platform.agencies.create(t.cli, agencyInput(3));
    const pendingNodeAdmin = await loggedIn('sys.nodeadmin.c', ['nodeAdmin'], c.id);
    const pending = await systems.register(pendingNodeAdmin, system(c.id, '撤销前申请'));
    await t.platform.agencies.deactivate(t.cli, c.id, '撤销');
    const e = await refused(systems.register(operator, system(c.id, '撤销后系统')), 'GS_ERR_AGENCY_INACTIVE');
    expect(e.params.id).toBe(c.id);
    await refused(systems.register(pendingNodeAdmin, system(c.id, '撤销后申请')), 'GS_ERR_AGENCY_INACTIVE');
    await refused(systems.setStatus(operator, pending.id, 'approve', null), 'GS_ERR_AGENCY_INACTIVE');
    expect((await systems.get(actor(operator), pending.id)).status).toBe('pending');
    await refused(systems.register(operator, system(randomUUID(), '无主系统')), 'GS_ERR_AGENCY_NOT_FOUND');
  });

  it('refuses an update against a stale version', async () => {
    const s = await systems.register(operator, system(agencyB, '版本系统'));
    await systems.update(operator, s.id, { purpose: '新用途', expectedVersion: 1 });
    const e = await refused(systems.update(operator, s.id, { purpose: '旧用途', expectedVersion: 1 }), 'GS_ERR_REQUEST_CONFLICT');
    expect(e.params).toMatchObject({ expected: 1, actual: 2 });
  });
});

describe('who sees which systems', () => {
  it("agency staff list only their own agency's systems", async () => {
    const mine = await systems.list(actor(viewerA), { limit: 100 });
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((s) => s.agencyId === agencyA)).toBe(true);
    expect(await systems.list(actor(viewerA), { agencyId: agencyA, limit: 100 })).toEqual(mine);
    await refused(systems.list(actor(viewerA), { agencyId: agencyB, limit: 100 }), 'GS_ERR_AUTH_WRONG_AGENCY');
    const pending = await systems.list(actor(nodeAdminA), { status: 'pending', limit: 100 });
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.every((s) => s.agencyId === agencyA && s.status === 'pending')).toBe(true);
  });

  it("another agency's system is not found for agency staff", async () => {
    const theirs = (await systems.list(actor(operator), { agencyId: agencyB, limit: 1 }))[0]!;
    const e = await refused(systems.get(actor(viewerA), theirs.id), 'GS_ERR_SYSTEM_NOT_FOUND');
    expect(e.params.id).toBe(theirs.id);
    await refused(systems.update(nodeAdminA, theirs.id, { purpose: '篡改' }), 'GS_ERR_SYSTEM_NOT_FOUND');
    expect((await systems.get(actor(operator), theirs.id)).purpose).not.toBe('篡改');
    const own = (await systems.list(actor(viewerA), { limit: 1 }))[0]!;
    expect((await systems.get(actor(viewerA), own.id)).id).toBe(own.id);
  });

  it('the operator and the supervisor see every agency', async () => {
    for (const ctx of [operator, supervisor]) {
      const all = await systems.list(actor(ctx), { limit: 100 });
      expect(all.some((s) => s.agencyId === agencyA)).toBe(true);
      expect(all.some((s) => s.agencyId === agencyB)).toBe(true);
    }
  });

  it('an account without an agency and without platform-wide sight sees nothing', async () => {
    const plain = await loggedIn('sys.plain', [], null);
    expect(await systems.list(actor(plain), { limit: 100 })).toEqual([]);
  });

  it('pages in id order', async () => {
    const all = await systems.list(actor(operator), { limit: 100 });
    const first = await systems.list(actor(operator), { limit: 2 });
    const rest = await systems.list(actor(operator), { limit: 100, after: first.at(-1)!.id });
    expect([...first, ...rest].map((s) => s.id)).toEqual(all.map((s) => s.id));
  });
});
