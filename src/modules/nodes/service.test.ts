import { randomUUID, X509Certificate } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agencyInput, createTestPlatform, refused, userWithRoles, type LoggedIn, type TestPlatform } from '../../../test/helpers/platform.js';
import { makeCsr } from '../../../test/helpers/pki.js';
import type { Actor, RequestContext } from '../../server/actor.js';
import type { Role } from '../accounts/permissions.js';
import type { NodeCreate } from './schemas.js';
import type { NodeService } from './service.js';
import { NodeStore } from './store.js';

let t: TestPlatform;
let nodes: NodeService;
let agencyA: string;
let agencyB: string;
/** A request context of a real account, and its HTTP session for the same account. */
type Session = RequestContext & { readonly http: LoggedIn };

let operator: Session;
let nodeAdminA: Session;
let nodeAdminB: Session;
let viewerA: Session;
let supervisor: Session;

const V1 = '/api/v1';

/** A real actor: the account is created, finishes its first-login setup over HTTP, and its session is authenticated. */
async function loggedIn(username: string, roles: Role[], agencyId: string | null): Promise<Session> {
  const http = await userWithRoles(t, username, roles, agencyId);
  const { actor } = await t.platform.accounts.authenticateSession(http.cookie.slice('gs_session='.length));
  return { actor, requestId: `req-${username}`, ip: '198.51.100.9', http };
}

beforeAll(async () => {
  t = await createTestPlatform();
  nodes = t.platform.nodes;
  agencyA = (await t.platform.agencies.create(t.cli, agencyInput(1))).id;
  agencyB = (await t.platform.agencies.create(t.cli, agencyInput(2))).id;
  operator = await loggedIn('node.operator', ['operator'], null);
  nodeAdminA = await loggedIn('node.admin.a', ['nodeAdmin'], agencyA);
  nodeAdminB = await loggedIn('node.admin.b', ['nodeAdmin'], agencyB);
  viewerA = await loggedIn('node.viewer.a', ['viewer'], agencyA);
  supervisor = await loggedIn('node.supervisor', ['supervisor'], null);
});
afterAll(async () => t?.close());

function node(agencyId: string, code: string, over: Partial<NodeCreate> = {}): NodeCreate {
  return { agencyId, code, name: `${code} 前置机`, description: '机房 3 楼，交换库表数据', contact: { name: '钱七', phone: '0734-7654321', email: 'qian@hy.gov.cn' }, ...over };
}

const actor = (ctx: RequestContext): Actor => ctx.actor;

describe('registering nodes', () => {
  it('the actors are real sessions with the expected permissions', () => {
    expect([...operator.actor.permissions].filter((p) => p.startsWith('node:')).sort()).toEqual(['node:manage', 'node:read', 'node:register']);
    expect([...nodeAdminA.actor.permissions].filter((p) => p.startsWith('node:')).sort()).toEqual(['node:read', 'node:register']);
    expect([...viewerA.actor.permissions].filter((p) => p.startsWith('node:'))).toEqual(['node:read']);
    expect(nodeAdminA.actor.agencyId).toBe(agencyA);
  });

  it('an operator registers a node active, audited in the same transaction', async () => {
    const n = await nodes.register(operator, node(agencyA, 'HY-FGW-01'));
    expect(n).toMatchObject({ agencyId: agencyA, code: 'HY-FGW-01', name: 'HY-FGW-01 前置机', description: '机房 3 楼，交换库表数据', status: 'active', statusReason: null, version: 1, createdBy: 'node.operator' });
    expect(n.contact).toEqual({ name: '钱七', phone: '0734-7654321', email: 'qian@hy.gov.cn' });
    expect(await nodes.get(actor(operator), n.id)).toEqual(n);
    const audit = await t.platform.audit.search({ action: 'node.register', targetId: n.id, limit: 5 });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actorName: 'node.operator', requestId: 'req-node.operator', targetType: 'node', details: { agencyId: agencyA, code: 'HY-FGW-01', status: 'active' } });
  });

  it("a node admin registers their own agency's node, active at once; the description may be left out", async () => {
    const n = await nodes.register(nodeAdminA, node(agencyA, 'hy.fgw_02', { description: undefined }));
    expect(n).toMatchObject({ status: 'active', createdBy: 'node.admin.a', description: '' });
  });

  it('a node admin cannot register a node for another agency', async () => {
    await refused(nodes.register(nodeAdminA, node(agencyB, 'SNEAKY-01')), 'GS_ERR_AUTH_WRONG_AGENCY');
    expect((await nodes.list(actor(operator), { agencyId: agencyB, limit: 100 })).map((n) => n.code)).not.toContain('SNEAKY-01');
  });

  it.each([
    ['too short', 'A'],
    ['starting with a dash', '-NODE'],
    ['starting with a dot', '.node'],
    ['with a space', 'HY FGW'],
    ['with a slash', 'HY/FGW'],
    ['in Chinese', '前置机一号'],
    ['65 characters long', `N${'x'.repeat(64)}`],
    ['empty', ''],
  ])('refuses a code %s', async (_why, code) => {
    const e = await refused(nodes.register(operator, node(agencyA, code)), 'GS_ERR_NODE_CODE_INVALID');
    expect(e.params.code).toBe(code);
    expect(e.fields).toEqual([expect.objectContaining({ field: 'body.code', rule: 'pattern' })]);
  });

  it('accepts a code of 64 characters', async () => {
    const code = `N${'x'.repeat(63)}`;
    expect((await nodes.register(operator, node(agencyB, code))).code).toBe(code);
  });

  it('refuses a code already used, in any agency and in any letter case', async () => {
    await nodes.register(operator, node(agencyA, 'HY-GA-01'));
    let e = await refused(nodes.register(operator, node(agencyA, 'HY-GA-01')), 'GS_ERR_NODE_CODE_TAKEN');
    expect(e.params.code).toBe('HY-GA-01');
    e = await refused(nodes.register(operator, node(agencyB, 'hy-ga-01')), 'GS_ERR_NODE_CODE_TAKEN');
    expect(e.params.code).toBe('hy-ga-01');
    await refused(nodes.register(nodeAdminA, node(agencyA, 'Hy-Ga-01')), 'GS_ERR_NODE_CODE_TAKEN');
    expect((await nodes.list(actor(operator), { limit: 500 })).filter((n) => n.code.toLowerCase() === 'hy-ga-01')).toHaveLength(1);
  });

  it('two registrations of one code at once: one node, the other refused with the same code', async () => {
    const results = await Promise.allSettled([nodes.register(operator, node(agencyA, 'RACE-01')), nodes.register(nodeAdminB, node(agencyB, 'race-01'))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected');
    expect((lost as PromiseRejectedResult).reason).toMatchObject({ code: 'GS_ERR_NODE_CODE_TAKEN' });
  });

  // Only a server has a second connection to hold the competing insert open; PGlite has one.
  it.runIf(process.env.DATABASE_URL)('a registration that loses the race at the unique index gets the same code', async () => {
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = (): void => undefined;
    const inserted = new Promise<void>((resolve) => (holding = resolve));
    const competitor = t.platform.db.transaction().execute(async (trx) => {
      const row = { id: randomUUID(), agencyId: agencyA, code: 'RACE-02', name: '竞争', description: '', contact: { name: '竞争' }, status: 'active', createdBy: 'test' };
      await new NodeStore(t.platform.db).insert(row, new Date(), trx);
      holding();
      await held;
    });
    await inserted;
    // The register call does not see the uncommitted row, inserts, and waits on the index.
    // Its refusal is awaited from the start: it may arrive before the competitor's commit is reported.
    const racing = refused(nodes.register(operator, node(agencyB, 'race-02')), 'GS_ERR_NODE_CODE_TAKEN');
    const waiting = sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
    for (let i = 0; i < 200 && (await waiting.execute(t.platform.db)).rows[0]!.n === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect((await waiting.execute(t.platform.db)).rows[0]!.n).toBe(1);
    release();
    await competitor;
    await racing;
  });

  it('refuses an unknown agency', async () => {
    const missing = randomUUID();
    const e = await refused(nodes.register(operator, node(missing, 'NOWHERE-01')), 'GS_ERR_AGENCY_NOT_FOUND');
    expect(e.params.id).toBe(missing);
  });

  it('refuses to register under a deactivated agency, or to reactivate a node there', async () => {
    const c = (await t.platform.agencies.create(t.cli, agencyInput(3))).id;
    const nodeAdminC = await loggedIn('node.admin.c', ['nodeAdmin'], c);
    const before = await nodes.register(nodeAdminC, node(c, 'HY-CZ-01'));
    await nodes.setStatus(operator, before.id, 'deactivate', '单位撤并');
    await t.platform.agencies.deactivate(t.cli, c, '撤并');
    const e = await refused(nodes.register(operator, node(c, 'HY-CZ-02')), 'GS_ERR_AGENCY_INACTIVE');
    expect(e.params.id).toBe(c);
    await refused(nodes.register(nodeAdminC, node(c, 'HY-CZ-03')), 'GS_ERR_AGENCY_INACTIVE');
    await refused(nodes.setStatus(operator, before.id, 'reactivate', null), 'GS_ERR_AGENCY_INACTIVE');
    expect((await nodes.get(actor(operator), before.id)).status).toBe('deactivated');
  });
});

describe('changing nodes', () => {
  it('changes name, description and contact, never code or agency; audited with the fields changed', async () => {
    const n = await nodes.register(operator, node(agencyA, 'HY-RS-01'));
    const after = await nodes.update(nodeAdminA, n.id, { name: '人社局前置机', contact: { name: '孙八', phone: '0734-1111111' }, expectedVersion: 1 });
    expect(after).toMatchObject({ code: 'HY-RS-01', agencyId: agencyA, name: '人社局前置机', description: n.description, contact: { name: '孙八', phone: '0734-1111111' }, version: 2 });
    const audit = await t.platform.audit.search({ action: 'node.update', targetId: n.id, limit: 5 });
    expect(audit[0]).toMatchObject({ actorName: 'node.admin.a', details: { fields: ['name', 'contact'] } });
  });

  it('refuses an update against a stale version', async () => {
    const n = await nodes.register(operator, node(agencyB, 'HY-VER-01'));
    await nodes.update(operator, n.id, { description: '新说明', expectedVersion: 1 });
    const e = await refused(nodes.update(operator, n.id, { description: '旧说明', expectedVersion: 1 }), 'GS_ERR_REQUEST_CONFLICT');
    expect(e.params).toMatchObject({ expected: 1, actual: 2 });
    expect((await nodes.get(actor(operator), n.id)).description).toBe('新说明');
  });

  it('moves through deactivate and reactivate with reasons, refusing moves from the wrong state, every move audited', async () => {
    const n = await nodes.register(operator, node(agencyA, 'HY-ZT-01'));
    await refused(nodes.setStatus(operator, n.id, 'reactivate', null), 'GS_ERR_NODE_STATE');
    const off = await nodes.setStatus(operator, n.id, 'deactivate', '设备报废');
    expect(off).toMatchObject({ status: 'deactivated', statusReason: '设备报废', version: 2 });
    const e = await refused(nodes.setStatus(operator, n.id, 'deactivate', '再次停用'), 'GS_ERR_NODE_STATE');
    expect(e.params).toMatchObject({ status: 'deactivated', action: 'deactivate' });
    expect(await nodes.setStatus(operator, n.id, 'reactivate', null)).toMatchObject({ status: 'active', statusReason: null, version: 3 });
    const trail = await t.platform.audit.search({ targetId: n.id, limit: 10 });
    expect(trail.map((r) => r.action).reverse()).toEqual(['node.register', 'node.deactivate', 'node.reactivate']);
    expect(trail.find((r) => r.action === 'node.deactivate')?.details).toMatchObject({ reason: '设备报废' });
  });
});

describe('who sees which nodes', () => {
  it("agency staff list only their own agency's nodes", async () => {
    const mine = await nodes.list(actor(viewerA), { limit: 100 });
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((n) => n.agencyId === agencyA)).toBe(true);
    expect(await nodes.list(actor(viewerA), { agencyId: agencyA, limit: 100 })).toEqual(mine);
    await refused(nodes.list(actor(viewerA), { agencyId: agencyB, limit: 100 }), 'GS_ERR_AUTH_WRONG_AGENCY');
  });

  it('filters by status', async () => {
    const off = await nodes.list(actor(operator), { status: 'deactivated', limit: 100 });
    expect(off.length).toBeGreaterThan(0);
    expect(off.every((n) => n.status === 'deactivated')).toBe(true);
    const on = await nodes.list(actor(nodeAdminA), { status: 'active', limit: 100 });
    expect(on.length).toBeGreaterThan(0);
    expect(on.every((n) => n.status === 'active' && n.agencyId === agencyA)).toBe(true);
  });

  it("another agency's node is not found for agency staff, and cannot be changed by its node admin", async () => {
    const theirs = await nodes.register(operator, node(agencyB, 'HY-B-01'));
    const e = await refused(nodes.get(actor(viewerA), theirs.id), 'GS_ERR_NODE_NOT_FOUND');
    expect(e.params.id).toBe(theirs.id);
    await refused(nodes.update(nodeAdminA, theirs.id, { name: '篡改' }), 'GS_ERR_NODE_NOT_FOUND');
    expect((await nodes.get(actor(nodeAdminB), theirs.id)).name).toBe(theirs.name);
    await refused(nodes.get(actor(operator), 'not-a-uuid'), 'GS_ERR_NODE_NOT_FOUND');
  });

  it('the operator and the supervisor see every agency', async () => {
    for (const ctx of [operator, supervisor]) {
      const all = await nodes.list(actor(ctx), { limit: 500 });
      expect(all.some((n) => n.agencyId === agencyA)).toBe(true);
      expect(all.some((n) => n.agencyId === agencyB)).toBe(true);
    }
  });

  it('an account without an agency and without platform-wide sight sees nothing', async () => {
    const plain = await loggedIn('node.plain', [], null);
    expect(await nodes.list(actor(plain), { limit: 100 })).toEqual([]);
  });

  it('pages in id order', async () => {
    const all = await nodes.list(actor(operator), { limit: 500 });
    const first = await nodes.list(actor(operator), { limit: 2 });
    const rest = await nodes.list(actor(operator), { limit: 500, after: first.at(-1)!.id });
    expect([...first, ...rest].map((n) => n.id)).toEqual(all.map((n) => n.id));
  });
});

describe('over HTTP', () => {
  it('registers with 201; a bad code is a 400 naming the field, a taken one a 409', async () => {
    const created = await t.app.inject({ method: 'POST', url: `${V1}/nodes`, headers: nodeAdminA.http.headers, payload: node(agencyA, 'HTTP-01') });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ code: 'HTTP-01', status: 'active', agencyId: agencyA });
    const bad = await t.app.inject({ method: 'POST', url: `${V1}/nodes`, headers: nodeAdminA.http.headers, payload: node(agencyA, 'HTTP 02') });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'GS_ERR_REQUEST_INVALID', details: { fields: [expect.objectContaining({ field: 'body.code', rule: 'pattern' })] } });
    const taken = await t.app.inject({ method: 'POST', url: `${V1}/nodes`, headers: nodeAdminA.http.headers, payload: node(agencyA, 'http-01') });
    expect(taken.statusCode).toBe(409);
    expect(taken.json()).toMatchObject({ code: 'GS_ERR_NODE_CODE_TAKEN', messageZh: expect.stringContaining('http-01') });
  });

  it('refuses to change the code, and a deactivation without a reason', async () => {
    const n = await nodes.register(operator, node(agencyA, 'HTTP-03'));
    const patch = await t.app.inject({ method: 'PATCH', url: `${V1}/nodes/${n.id}`, headers: nodeAdminA.http.headers, payload: { code: 'HTTP-04' } });
    expect(patch.statusCode).toBe(400);
    expect(patch.json()).toMatchObject({ details: { fields: [expect.objectContaining({ field: 'body.code', rule: 'additionalProperties' })] } });
    const off = await t.app.inject({ method: 'POST', url: `${V1}/nodes/${n.id}/deactivate`, headers: operator.http.headers, payload: {} });
    expect(off.statusCode).toBe(400);
    expect(off.json()).toMatchObject({ details: { fields: [expect.objectContaining({ field: 'body.reason', rule: 'required' })] } });
    const ok = await t.app.inject({ method: 'POST', url: `${V1}/nodes/${n.id}/deactivate`, headers: operator.http.headers, payload: { reason: '迁移' } });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ status: 'deactivated', statusReason: '迁移' });
  });
});

describe("a node's client certificate", () => {
  it("a node admin applies for their own node's certificate with a CSR; an operator approves; it names the node", async () => {
    const n = await nodes.register(nodeAdminA, node(agencyA, 'CERT-01'));
    const { csr } = await makeCsr(`CN=${n.id}`);
    const r = await t.app.inject({ method: 'POST', url: `${V1}/certificates/nodes`, headers: nodeAdminA.http.headers, payload: { nodeId: n.id, csr } });
    expect(r.statusCode, r.body).toBe(201);
    const applied = r.json<{ id: string }>();
    expect(applied).toMatchObject({ subjectType: 'node', subjectId: n.id, agencyId: agencyA, keySource: 'csr', status: 'pending', requestedBy: 'node.admin.a' });
    const issued = await t.platform.pki.approve(operator, applied.id, null);
    expect(issued.status).toBe('issued');
    expect(new X509Certificate(issued.certificatePem!).subject.split('\n')).toEqual(expect.arrayContaining([`CN=${n.id}`, 'OU=node']));
    const listed = await t.platform.pki.list(actor(nodeAdminA), { subjectType: 'node', subjectId: n.id, limit: 10 });
    expect(listed.map((c) => c.id)).toEqual([applied.id]);
    const audit = await t.platform.audit.search({ action: 'pki.certificate.apply', targetId: applied.id, limit: 5 });
    expect(audit[0]?.details).toMatchObject({ subjectType: 'node', subjectId: n.id, agencyId: agencyA });
  });

  it("refuses a CSR that names something else, and a node admin applying for another agency's node", async () => {
    const n = await nodes.register(operator, node(agencyB, 'CERT-02'));
    const { csr } = await makeCsr(`CN=${randomUUID()}`);
    const e = await refused(t.platform.pki.applyForNode(operator, { nodeId: n.id, csr }), 'GS_ERR_PKI_CSR_SUBJECT');
    expect(e.params).toMatchObject({ subjectType: 'node', expected: n.id });
    await refused(t.platform.pki.applyForNode(nodeAdminA, { nodeId: n.id }), 'GS_ERR_AUTH_WRONG_AGENCY');
    await refused(t.platform.pki.applyForNode(operator, { nodeId: randomUUID() }), 'GS_ERR_NODE_NOT_FOUND');
  });

  it('gives no certificate to a deactivated node, nor to a node of a deactivated agency, nor approves one once either is gone', async () => {
    const n = await nodes.register(operator, node(agencyA, 'CERT-03'));
    const pending = await t.platform.pki.applyForNode(nodeAdminA, { nodeId: n.id });
    await nodes.setStatus(operator, n.id, 'deactivate', '停用');
    let e = await refused(t.platform.pki.applyForNode(operator, { nodeId: n.id }), 'GS_ERR_PKI_SUBJECT_INACTIVE');
    expect(e.params).toMatchObject({ subjectType: 'node', subjectId: n.id, reason: 'the node is deactivated' });
    await refused(t.platform.pki.approve(operator, pending.id, null), 'GS_ERR_PKI_SUBJECT_INACTIVE');

    const d = (await t.platform.agencies.create(t.cli, agencyInput(4))).id;
    const m = await nodes.register(operator, node(d, 'CERT-04'));
    await t.platform.agencies.deactivate(t.cli, d, '撤并');
    e = await refused(t.platform.pki.applyForNode(operator, { nodeId: m.id }), 'GS_ERR_PKI_SUBJECT_INACTIVE');
    expect(e.params).toMatchObject({ reason: 'its agency is deactivated' });
  });
});
