/**
 * The role matrix: every registered route, called anonymously and by each role, gets the outcome
 * its access declaration promises (401 / 403 / 2xx). Routes are enumerated from the real app, so a
 * new route without a sample request below fails here, and one without a declaration cannot even
 * be registered.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentStep, totpCode } from '../src/lib/totp.js';
import { AGENCY_ROLES, permissionsOf, ROLE_PERMISSIONS, ROLES, type Role } from '../src/modules/accounts/permissions.js';
import type { Agency } from '../src/modules/agencies/schemas.js';
import type { AgencyNode } from '../src/modules/nodes/schemas.js';
import type { BusinessSystem } from '../src/modules/systems/schemas.js';
import type { Access } from '../src/server/access.js';
import type { RequestContext } from '../src/server/actor.js';
import { buildApp, type GsApp } from '../src/server/app.js';
import { BUILT_CONSOLE_DIR } from '../src/server/console-static.js';
import { catalogContent } from './helpers/catalog.js';
import { csv, HEADERS, resourceRows } from './helpers/catalog-file.js';
import { agencyInput, appRecordingRoutes, createTestPlatform, sessionCookie, STRONG_PASSWORD, userContext, usccFor, userWithRoles, type LoggedIn, type RegisteredRoute, type TestPlatform } from './helpers/platform.js';

/** Who calls: anonymous (no credentials) or a logged-in account holding exactly one role. */
type Caller = 'anonymous' | Role;

interface CallerContext {
  readonly role: Role | null;
  /** The caller's own account; for anonymous, an account the sample may refer to. */
  readonly me: LoggedIn;
}

interface Sample {
  readonly url: string;
  /** JSON, or the raw body of a file upload (with its content type in `headers`). */
  readonly payload?: Record<string, unknown> | string;
  /** Credentials of a fresh session to use instead of the caller's shared one (same role). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * For a public route whose success needs what inject cannot give (a TLS client certificate):
   * the refusal every caller gets instead. The route's success has its own test.
   */
  readonly publicRefusal?: { readonly status: number; readonly code: string };
}

type SampleFactory = (caller: CallerContext) => Promise<Sample>;

interface OpenApiOperation {
  readonly summary?: string;
  readonly description?: string;
  readonly security?: readonly unknown[];
}
interface OpenApiDoc {
  readonly paths: Readonly<Record<string, Readonly<Record<string, OpenApiOperation>>>>;
}

let t: TestPlatform;
let app: GsApp;
const routes: RegisteredRoute[] = [];
const sessions = new Map<Role, LoggedIn>();
let home: Agency;

let seq = 1000;
const next = (): number => ++seq;

const isAgencyRole = (role: Role): boolean => (AGENCY_ROLES as readonly Role[]).includes(role);
const inOneDay = (): Date => new Date(t.clock.now().getTime() + 86_400_000);

function sessionOf(role: Role): LoggedIn {
  const s = sessions.get(role);
  if (!s) throw new Error(`no session for ${role}`);
  return s;
}

// ---- fixtures, made through the services -------------------------------------------------------

async function freshAgency(): Promise<Agency> {
  return t.platform.agencies.create(t.cli, agencyInput(next()));
}

async function freshUser(roles: Role[] = [], agencyId: string | null = null): Promise<{ id: string; username: string; password: string }> {
  const username = `m${next()}`;
  const { user, password } = await t.platform.accounts.create(t.cli, { username, displayName: username, roles, agencyId });
  return { id: user.id, username, password };
}

/**
 * A new account with the caller's role, logged in with its one-time password: for routes that end
 * or change the session or the account (logout, password, TOTP), so the shared sessions survive.
 */
async function freshLogin(role: Role | null): Promise<{ headers: Record<string, string>; password: string }> {
  const roles = role ? [role] : [];
  const u = await freshUser(roles, role && isAgencyRole(role) ? home.id : null);
  const r = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: u.username, password: u.password } });
  if (r.statusCode !== 200) throw new Error(`fresh login failed: ${r.body}`);
  return { headers: { cookie: sessionCookie(r.headers['set-cookie']) }, password: u.password };
}

async function freshToken(userId: string): Promise<string> {
  const { view } = await t.platform.accounts.createToken(t.cli, { userId, name: `token ${next()}`, expiresAt: inOneDay() });
  return view.id;
}

function nodeAdminContext(): RequestContext {
  const { userId } = sessionOf('nodeAdmin');
  return { actor: { type: 'user', userId, name: 'nodeadmin', roles: ['nodeAdmin'], agencyId: home.id, permissions: permissionsOf(['nodeAdmin']) }, requestId: null, ip: null };
}

function systemInput(): { agencyId: string; name: string; purpose: string; ownerContact: { name: string } } {
  return { agencyId: home.id, name: `系统${next()}`, purpose: '测试接入', ownerContact: { name: '张三' } };
}

/** A business system of the home agency (visible to its staff) in the given status. */
async function freshSystem(status: 'pending' | 'active' | 'inactive'): Promise<BusinessSystem> {
  if (status === 'pending') return t.platform.systems.register(nodeAdminContext(), systemInput());
  const s = await t.platform.systems.register(t.cli, systemInput());
  return status === 'active' ? s : t.platform.systems.setStatus(t.cli, s.id, 'deactivate', null);
}

function nodeInput(): { agencyId: string; code: string; name: string; contact: { name: string } } {
  const n = next();
  return { agencyId: home.id, code: `NODE-${n}`, name: `前置机${n}`, contact: { name: '张三' } };
}

/** A node of the home agency (visible to its staff) in the given status. */
async function freshNode(status: 'active' | 'deactivated'): Promise<AgencyNode> {
  const n = await t.platform.nodes.register(t.cli, nodeInput());
  return status === 'active' ? n : t.platform.nodes.setStatus(t.cli, n.id, 'deactivate', 'role matrix');
}

/** A certificate application for an active system of the home agency, pending or issued. */
async function freshCertificate(status: 'pending' | 'issued'): Promise<string> {
  const applied = await t.platform.pki.applyForSystem(t.cli, { systemId: (await freshSystem('active')).id });
  return status === 'pending' ? applied.id : (await t.platform.pki.approve(t.cli, applied.id, null)).id;
}

/** An issued certificate with a platform-generated key, applied for by the caller's own account. */
async function ownCertificateWithKey(userId: string): Promise<string> {
  const ctx: RequestContext = { actor: { type: 'user', userId, name: `matrix ${userId}`, roles: [], agencyId: null, permissions: new Set() }, requestId: null, ip: null };
  const applied = await t.platform.pki.applyForSelf(ctx, {});
  return (await t.platform.pki.approve(t.cli, applied.id, null)).id;
}

/** A catalog entry of the home agency (its catalogers may act on it) in the given state. */
async function freshEntry(state: 'draft' | 'submitted' | 'published'): Promise<{ id: string; version: number }> {
  const catalog = t.platform.catalog;
  const e = await catalog.create(t.cli, { agencyId: home.id, content: catalogContent() });
  if (state === 'draft') return e;
  const s = await catalog.submit(t.cli, e.id);
  return state === 'submitted' ? s : catalog.publish(t.cli, e.id, {});
}

async function freshExtensionField(): Promise<string> {
  const key = `matrix${next()}`;
  await t.platform.catalog.createExtensionField(t.cli, { key, labelZh: '测试字段', labelEn: 'Test field', type: 'string' });
  return key;
}

/** A demand posted by the home agency; routed: to the home agency, so its catalogers may answer. */
async function freshDemand(state: 'open' | 'routed'): Promise<string> {
  const d = await t.platform.demands.post(t.cli, { requesterAgencyId: home.id, title: '人口基础信息', purpose: '核验申请人身份' });
  if (state === 'open') return d.id;
  return (await t.platform.demands.route(t.cli, d.id, { providerAgencyId: home.id })).id;
}

/** Another agency with a published resource of each share type and an active business system. */
let away: { agency: Agency; conditional: string; unconditional: string; systemId: string } | undefined;
async function awayAgency(): Promise<NonNullable<typeof away>> {
  if (away) return away;
  const agency = await freshAgency();
  const publish = async (over: Parameters<typeof catalogContent>[0]) => {
    const e = await t.platform.catalog.create(t.cli, { agencyId: agency.id, content: catalogContent(over) });
    await t.platform.catalog.submit(t.cli, e.id);
    return (await t.platform.catalog.publish(t.cli, e.id, {})).resourceCode!;
  };
  const conditional = await publish({});
  const unconditional = await publish({ shareType: 'unconditional', shareCondition: undefined, classification: { category: '3', group: '01', subgroup: '005' } });
  const systemId = (await t.platform.systems.register(t.cli, { agencyId: agency.id, name: '外单位系统', purpose: '测试', ownerContact: { name: '张三' } })).id;
  away = { agency, conditional, unconditional, systemId };
  return away;
}

const REQUEST_ASK = { items: ['企业名称'], purpose: { business: '行政许可核验', basis: '三定方案' }, dataUsers: '窗口人员', validUntil: '2099-12-31' };

/**
 * A share request in the given state. consumer: filed by the home agency (its requesters act
 * on it) for another agency's resource; provider: filed by another agency for a home resource.
 */
async function freshRequest(side: 'consumer' | 'provider', state: 'review' | 'conformance' | 'infoRequested' | 'refused' | 'disputed'): Promise<string> {
  const a = await awayAgency();
  const input =
    side === 'consumer'
      ? { ...REQUEST_ASK, resource: a.conditional, systemId: (await freshSystem('active')).id, consumerAgencyId: home.id, shareMethod: 'pull' as const }
      : { ...REQUEST_ASK, resource: (await freshEntry('published')).id, systemId: a.systemId, consumerAgencyId: a.agency.id, shareMethod: 'pull' as const };
  const requests = t.platform.requests;
  const r = await requests.file(t.cli, input);
  if (state === 'conformance') return r.id;
  await requests.conformance(t.cli, r.id, { conforms: true });
  if (state === 'infoRequested') await requests.askInfo(t.cli, r.id, { question: '请补充依据' });
  if (state === 'refused' || state === 'disputed') await requests.refuse(t.cli, r.id, { reason: '测试', legalBasis: { law: '某条例', article: '第一条' } });
  if (state === 'disputed') await requests.dispute(t.cli, r.id, { reason: '有异议' });
  return r.id;
}

/** The home agency's published table resource (its shared table holds one record): its URL-encoded code. */
let homeTable: Promise<string> | undefined;
function freshTableResource(): Promise<string> {
  homeTable ??= (async () => {
    const e = await t.platform.catalog.create(t.cli, { agencyId: home.id, content: catalogContent({ nameZh: '矩阵库表资源' }) });
    await t.platform.catalog.submit(t.cli, e.id);
    const code = (await t.platform.catalog.publish(t.cli, e.id, {})).resourceCode!;
    await t.platform.exchange.applyBatch(t.cli, code, { idempotencyKey: 'matrix-seed', changes: [{ row: 1, operation: 'upsert', values: { 统一社会信用代码: usccFor(9001), 企业名称: '矩阵企业' } }] });
    return encodeURIComponent(code);
  })();
  return homeTable;
}

/** A row in the quarantine of the home table resource, unresolved. */
async function freshQuarantinedRow(): Promise<string> {
  const code = decodeURIComponent(await freshTableResource());
  const key = `matrix-q-${next()}`;
  await t.platform.exchange.applyBatch(t.cli, code, { idempotencyKey: key, policy: 'quarantine', changes: [{ row: 1, operation: 'upsert', values: { 统一社会信用代码: usccFor(9002), 成立日期: '不是日期' } }] });
  const rows = await t.platform.exchange.quarantine(t.cli.actor, code, { limit: 500 });
  return rows.find((r) => r.idempotencyKey === key)!.id;
}

/** A grant of an unconditional resource: held by the home agency (consumer) or given by it (provider). */
async function freshGrant(side: 'consumer' | 'provider', status: 'active' | 'suspended'): Promise<string> {
  const a = await awayAgency();
  let resource = a.unconditional;
  if (side === 'provider') {
    const e = await t.platform.catalog.create(t.cli, { agencyId: home.id, content: catalogContent({ shareType: 'unconditional', shareCondition: undefined }) });
    await t.platform.catalog.submit(t.cli, e.id);
    resource = (await t.platform.catalog.publish(t.cli, e.id, {})).resourceCode!;
  }
  const input = side === 'consumer' ? { resource, systemId: (await freshSystem('active')).id, consumerAgencyId: home.id } : { resource, systemId: a.systemId, consumerAgencyId: a.agency.id };
  const r = await t.platform.requests.file(t.cli, { ...REQUEST_ASK, ...input, shareMethod: 'pull' });
  if (status === 'suspended') await t.platform.grants.suspend(t.cli, r.grantId!, { reason: '测试' });
  return r.grantId!;
}

/** A push subscription of a home-agency system to the home table resource, dead-lettered (what an operator re-drives). */
async function freshSubscription(): Promise<string> {
  const grant = await t.platform.db.selectFrom('grants').select(['id', 'consumerSystemId', 'consumerAgencyId']).where('id', '=', await freshGrant('consumer', 'active')).executeTakeFirstOrThrow();
  const id = crypto.randomUUID();
  await t.platform.db
    .insertInto('exchangeSubscriptions')
    .values({ id, consumerSystemId: grant.consumerSystemId, consumerAgencyId: grant.consumerAgencyId, resourceCode: decodeURIComponent(await freshTableResource()), grantId: grant.id, termsDigest: 'matrix', mode: 'webhook', webhookUrl: 'https://hooks.example.test/push', state: 'dead_letter', attempts: 8, createdAt: new Date(), updatedAt: new Date() })
    .execute();
  return id;
}

/** An attachment uploaded by a requester of the home agency: its staff and the supervisor read it. */
async function freshAttachment(): Promise<string> {
  return (await t.platform.attachments.upload(userContext('requester', home.id, 'matrix.requester'), { fileName: '保密协议.pdf', contentType: 'application/pdf', body: Readable.from([Buffer.from('%PDF-1.7 保密协议')]) })).id;
}

/** A webhook of the home agency (its node admin manages it, and the operator). */
async function freshWebhook(): Promise<string> {
  return (await t.platform.notifications.createWebhook(t.cli, { url: 'https://hooks.example.test/govshare', agencyId: home.id })).webhook.id;
}

/** A queued (never sent: no worker runs here) test delivery to a fresh webhook. */
async function freshDelivery(): Promise<string> {
  return (await t.platform.notifications.testWebhook(t.cli, await freshWebhook())).id;
}

/** A notification in the caller's own inbox. */
async function ownNotification(userId: string): Promise<string> {
  await t.platform.db.transaction().execute((trx) =>
    t.platform.notifications.notify({ kind: 'grant.expiring', audience: [{ accountIds: [userId] }], subjectZh: '授权即将到期', subject: 'A grant expires soon', bodyZh: '授权将于 30 日后到期。', body: 'The grant expires in 30 days.', target: { type: 'grant', id: `g${next()}` } }, trx),
  );
  const actor = { type: 'user' as const, userId, name: 'matrix', roles: [], agencyId: null, permissions: new Set<never>() };
  return (await t.platform.notifications.inbox(actor, { unread: true, limit: 1 })).items[0]!.id;
}

// ---- one valid request per route, keyed by `METHOD pattern` -------------------------------------

const V1 = '/api/v1';

const SAMPLES: Readonly<Record<string, SampleFactory>> = {
  'GET /healthz': async () => ({ url: '/healthz' }),
  'GET /readyz': async () => ({ url: '/readyz' }),
  'GET /api/v1/openapi.json': async () => ({ url: `${V1}/openapi.json` }),
  // The web console (built by npm run build, which npm test runs first).
  'GET /': async () => ({ url: '/' }),
  'GET /*': async () => ({ url: '/catalog/entries/x' }),
  'GET /assets/*': async () => ({ url: `/assets/${readdirSync(join(BUILT_CONSOLE_DIR, 'assets'))[0]!}` }),

  'POST /api/v1/auth/login': async () => {
    const u = await freshUser();
    return { url: `${V1}/auth/login`, payload: { username: u.username, password: u.password } };
  },
  // Over inject there is no TLS connection: every caller is refused for want of a certificate
  // (test/console-certificate.test.ts logs in over real HTTPS).
  'POST /api/v1/auth/login/certificate': async () => ({
    url: `${V1}/auth/login/certificate`,
    payload: { password: 'any-password' },
    publicRefusal: { status: 401, code: 'GS_ERR_AUTH_CERT_REQUIRED' },
  }),
  'POST /api/v1/auth/logout': async ({ role }) => ({ url: `${V1}/auth/logout`, headers: (await freshLogin(role)).headers }),
  'GET /api/v1/auth/me': async () => ({ url: `${V1}/auth/me` }),
  'POST /api/v1/auth/password': async ({ role }) => {
    const s = await freshLogin(role);
    return { url: `${V1}/auth/password`, headers: s.headers, payload: { currentPassword: s.password, newPassword: STRONG_PASSWORD } };
  },
  'POST /api/v1/auth/totp/enrol': async ({ role }) => ({ url: `${V1}/auth/totp/enrol`, headers: (await freshLogin(role)).headers }),
  'POST /api/v1/auth/totp/confirm': async ({ role }) => {
    const s = await freshLogin(role);
    const r = await t.app.inject({ method: 'POST', url: `${V1}/auth/totp/enrol`, headers: s.headers });
    if (r.statusCode !== 200) throw new Error(`enrol failed: ${r.body}`);
    const { secret } = r.json<{ secret: string }>();
    return { url: `${V1}/auth/totp/confirm`, headers: s.headers, payload: { code: totpCode(secret, currentStep(t.clock.now().getTime())) } };
  },

  'GET /api/v1/me/sessions': async () => ({ url: `${V1}/me/sessions` }),
  'POST /api/v1/me/sessions/:id/end': async ({ role }) => {
    // A fresh session of the caller's role ends itself, so the shared session survives.
    const s = await freshLogin(role);
    const r = await t.app.inject({ method: 'GET', url: `${V1}/me/sessions`, headers: s.headers });
    const current = r.json<{ items: { id: string; current: boolean }[] }>().items.find((x) => x.current);
    if (!current) throw new Error(`no current session: ${r.body}`);
    return { url: `${V1}/me/sessions/${current.id}/end`, headers: s.headers };
  },
  'GET /api/v1/me/tokens': async () => ({ url: `${V1}/me/tokens` }),
  'POST /api/v1/me/tokens': async () => ({ url: `${V1}/me/tokens`, payload: { name: `matrix ${next()}`, expiresInDays: 1 } }),
  'POST /api/v1/me/tokens/:id/revoke': async ({ me }) => ({ url: `${V1}/me/tokens/${await freshToken(me.userId)}/revoke`, payload: {} }),
  'GET /api/v1/tokens': async () => ({ url: `${V1}/tokens` }),
  'POST /api/v1/tokens/:id/revoke': async () => ({ url: `${V1}/tokens/${await freshToken(sessionOf('viewer').userId)}/revoke`, payload: { reason: 'role matrix' } }),

  'GET /api/v1/users': async () => ({ url: `${V1}/users?limit=5` }),
  'POST /api/v1/users': async () => {
    const username = `new${next()}`;
    return { url: `${V1}/users`, payload: { username, displayName: username } };
  },
  'GET /api/v1/users/:id': async () => ({ url: `${V1}/users/${sessionOf('viewer').userId}` }),
  'PATCH /api/v1/users/:id': async () => ({ url: `${V1}/users/${(await freshUser()).id}`, payload: { displayName: '改名' } }),
  'POST /api/v1/users/:id/deactivate': async () => ({ url: `${V1}/users/${(await freshUser()).id}/deactivate`, payload: { reason: 'role matrix' } }),
  'POST /api/v1/users/:id/reactivate': async () => {
    const u = await freshUser();
    await t.platform.accounts.setActive(t.cli, u.id, false, 'role matrix');
    return { url: `${V1}/users/${u.id}/reactivate`, payload: { reason: 'role matrix' } };
  },
  'POST /api/v1/users/:id/end-sessions': async () => ({ url: `${V1}/users/${(await freshUser()).id}/end-sessions`, payload: { reason: 'role matrix' } }),
  'POST /api/v1/users/:id/reset-password': async () => ({ url: `${V1}/users/${(await freshUser()).id}/reset-password` }),
  // Another account: a security administrator may not change their own roles.
  'PUT /api/v1/users/:id/roles': async () => ({ url: `${V1}/users/${(await freshUser()).id}/roles`, payload: { roles: ['supervisor'] } }),
  'POST /api/v1/users/:id/reset-totp': async () => ({ url: `${V1}/users/${(await freshUser()).id}/reset-totp` }),
  'GET /api/v1/roles': async () => ({ url: `${V1}/roles` }),

  'GET /api/v1/agencies': async () => ({ url: `${V1}/agencies?limit=5` }),
  'POST /api/v1/agencies': async () => ({ url: `${V1}/agencies`, payload: agencyInput(next()) }),
  'GET /api/v1/agencies/:id': async () => ({ url: `${V1}/agencies/${home.id}` }),
  'PATCH /api/v1/agencies/:id': async () => ({ url: `${V1}/agencies/${(await freshAgency()).id}`, payload: { nameZh: '改名单位' } }),
  'POST /api/v1/agencies/:id/deactivate': async () => ({ url: `${V1}/agencies/${(await freshAgency()).id}/deactivate`, payload: { reason: '撤并' } }),
  'POST /api/v1/agencies/:id/reactivate': async () => {
    const a = await freshAgency();
    await t.platform.agencies.deactivate(t.cli, a.id, '撤并');
    return { url: `${V1}/agencies/${a.id}/reactivate`, payload: { reason: '恢复' } };
  },
  'GET /api/v1/agencies/:id/history': async () => ({ url: `${V1}/agencies/${home.id}/history` }),

  'GET /api/v1/calendar/coverage': async () => ({ url: `${V1}/calendar/coverage` }),
  'GET /api/v1/calendar/deadline': async () => ({ url: `${V1}/calendar/deadline?from=2026-12-01&days=15` }),
  'GET /api/v1/calendar/working-days': async () => ({ url: `${V1}/calendar/working-days?from=2026-09-30&to=2026-10-20` }),
  'GET /api/v1/calendar/years/:year': async () => ({ url: `${V1}/calendar/years/2026` }),
  // A year of its own: replacing it again and again changes nothing the other samples read.
  'PUT /api/v1/calendar/years/:year': async () => ({ url: `${V1}/calendar/years/2031`, payload: { days: [{ date: '2031-01-01', kind: 'holiday', name: '元旦' }], source: 'role matrix' } }),
  'GET /api/v1/calendar/days/:date': async () => ({ url: `${V1}/calendar/days/2026-02-14` }),
  'PUT /api/v1/calendar/days/:date': async () => ({ url: `${V1}/calendar/days/2032-05-03`, payload: { kind: 'holiday', name: '试验假日' } }),
  'DELETE /api/v1/calendar/days/:date': async () => {
    await t.platform.calendar.setDay(t.cli, '2032-05-04', { kind: 'holiday', name: '试验假日' });
    return { url: `${V1}/calendar/days/2032-05-04` };
  },

  'GET /api/v1/regions': async () => ({ url: `${V1}/regions?parentCode=430000&limit=5` }),
  'GET /api/v1/regions/:code': async () => ({ url: `${V1}/regions/430400` }),

  'GET /api/v1/systems': async () => ({ url: `${V1}/systems` }),
  // The home agency: a node admin may register systems for its own agency only.
  'POST /api/v1/systems': async () => ({ url: `${V1}/systems`, payload: systemInput() }),
  'GET /api/v1/systems/:id': async () => ({ url: `${V1}/systems/${(await freshSystem('active')).id}` }),
  'PATCH /api/v1/systems/:id': async () => ({ url: `${V1}/systems/${(await freshSystem('active')).id}`, payload: { purpose: '新的用途' } }),
  'POST /api/v1/systems/:id/approve': async () => ({ url: `${V1}/systems/${(await freshSystem('pending')).id}/approve`, payload: {} }),
  'POST /api/v1/systems/:id/deactivate': async () => ({ url: `${V1}/systems/${(await freshSystem('active')).id}/deactivate`, payload: { reason: '停用' } }),
  'POST /api/v1/systems/:id/reactivate': async () => ({ url: `${V1}/systems/${(await freshSystem('inactive')).id}/reactivate`, payload: {} }),

  'GET /api/v1/nodes': async () => ({ url: `${V1}/nodes?limit=5` }),
  // The home agency: a node admin may register nodes for its own agency only.
  'POST /api/v1/nodes': async () => ({ url: `${V1}/nodes`, payload: nodeInput() }),
  'GET /api/v1/nodes/:id': async () => ({ url: `${V1}/nodes/${(await freshNode('active')).id}` }),
  'PATCH /api/v1/nodes/:id': async () => ({ url: `${V1}/nodes/${(await freshNode('active')).id}`, payload: { description: '新的说明' } }),
  'POST /api/v1/nodes/:id/deactivate': async () => ({ url: `${V1}/nodes/${(await freshNode('active')).id}/deactivate`, payload: { reason: '停用' } }),
  'POST /api/v1/nodes/:id/reactivate': async () => ({ url: `${V1}/nodes/${(await freshNode('deactivated')).id}/reactivate`, payload: {} }),

  'GET /api/v1/audit/events': async () => ({ url: `${V1}/audit/events?limit=5` }),

  'GET /api/v1/pki/ca.pem': async () => ({ url: `${V1}/pki/ca.pem` }),
  'GET /api/v1/pki/crl': async () => ({ url: `${V1}/pki/crl` }),
  // The home agency's system: a node admin may apply for its own agency's systems only.
  'POST /api/v1/certificates': async () => ({ url: `${V1}/certificates`, payload: { systemId: (await freshSystem('active')).id } }),
  // The home agency's node: a node admin may apply for its own agency's nodes only.
  'POST /api/v1/certificates/nodes': async () => ({ url: `${V1}/certificates/nodes`, payload: { nodeId: (await freshNode('active')).id } }),
  'GET /api/v1/certificates': async () => ({ url: `${V1}/certificates?limit=5` }),
  'GET /api/v1/certificates/expiring': async () => ({ url: `${V1}/certificates/expiring?days=30` }),
  'GET /api/v1/certificates/:id': async () => ({ url: `${V1}/certificates/${await freshCertificate('issued')}` }),
  'POST /api/v1/certificates/:id/approve': async () => ({ url: `${V1}/certificates/${await freshCertificate('pending')}/approve`, payload: {} }),
  'POST /api/v1/certificates/:id/reject': async () => ({ url: `${V1}/certificates/${await freshCertificate('pending')}/reject`, payload: { reason: 'role matrix' } }),
  'POST /api/v1/certificates/:id/revoke': async () => ({ url: `${V1}/certificates/${await freshCertificate('issued')}/revoke`, payload: { reason: 'superseded' } }),
  'POST /api/v1/certificates/:id/key-bundle': async ({ me }) => ({ url: `${V1}/certificates/${await ownCertificateWithKey(me.userId)}/key-bundle`, payload: { passphrase: 'role matrix passphrase' } }),
  'POST /api/v1/me/certificates': async () => ({ url: `${V1}/me/certificates`, payload: {} }),
  'GET /api/v1/me/certificates': async () => ({ url: `${V1}/me/certificates` }),
  'GET /api/v1/audit/events/export': async () => ({ url: `${V1}/audit/events/export?action=agency.create` }),
  'GET /api/v1/audit/agency-events': async () => ({ url: `${V1}/audit/agency-events?limit=5` }),

  'GET /api/v1/catalog/entries': async () => ({ url: `${V1}/catalog/entries?limit=5` }),
  'GET /api/v1/catalog/search': async () => ({ url: `${V1}/catalog/search?q=${encodeURIComponent('企业 登记')}&shareType=conditional&limit=5` }),
  // Catalogers create for their own (the home) agency.
  'POST /api/v1/catalog/entries': async () => ({ url: `${V1}/catalog/entries`, payload: { content: catalogContent() } }),
  'GET /api/v1/catalog/entries/:id': async () => ({ url: `${V1}/catalog/entries/${(await freshEntry('published')).id}?lang=ug` }),
  'PUT /api/v1/catalog/entries/:id/draft': async () => {
    const e = await freshEntry('draft');
    return { url: `${V1}/catalog/entries/${e.id}/draft`, payload: { content: catalogContent({ nameZh: '改名资源' }), expectedVersion: e.version } };
  },
  'POST /api/v1/catalog/entries/:id/submit': async () => ({ url: `${V1}/catalog/entries/${(await freshEntry('draft')).id}/submit`, payload: {} }),
  'POST /api/v1/catalog/entries/:id/publish': async () => ({ url: `${V1}/catalog/entries/${(await freshEntry('submitted')).id}/publish`, payload: { comment: '同意' } }),
  'POST /api/v1/catalog/entries/:id/return': async () => ({ url: `${V1}/catalog/entries/${(await freshEntry('submitted')).id}/return`, payload: { comment: '请补充摘要' } }),
  'POST /api/v1/catalog/entries/:id/withdraw': async () => ({ url: `${V1}/catalog/entries/${(await freshEntry('published')).id}/withdraw`, payload: { reason: '职能调整' } }),
  'POST /api/v1/catalog/entries/:id/revision-notices': async () => ({
    url: `${V1}/catalog/entries/${(await freshEntry('published')).id}/revision-notices`,
    payload: { cause: 'law', occurredOn: '2026-03-02', note: '条例修订' },
  }),
  // Published: every reader may ask (outside the agency the answer is an empty list).
  'GET /api/v1/catalog/entries/:id/findings': async () => ({ url: `${V1}/catalog/entries/${(await freshEntry('published')).id}/findings` }),
  'GET /api/v1/catalog/entries/:id/versions': async () => ({ url: `${V1}/catalog/entries/${(await freshEntry('published')).id}/versions` }),
  'GET /api/v1/catalog/entries/:id/versions/:number': async () => ({ url: `${V1}/catalog/entries/${(await freshEntry('published')).id}/versions/1` }),
  'GET /api/v1/catalog/entries/:id/diff': async () => ({ url: `${V1}/catalog/entries/${(await freshEntry('published')).id}/diff?from=1&to=1` }),
  'GET /api/v1/catalog/entries/:id/history': async () => ({ url: `${V1}/catalog/entries/${(await freshEntry('published')).id}/history` }),
  'GET /api/v1/catalog/non-shared': async () => ({ url: `${V1}/catalog/non-shared?limit=5` }),
  'GET /api/v1/catalog/changes': async () => ({ url: `${V1}/catalog/changes?after=0&limit=5` }),
  'GET /api/v1/catalog/revision-deadlines': async () => ({ url: `${V1}/catalog/revision-deadlines?overdue=true` }),
  'POST /api/v1/catalog/imports': async ({ me }) => ({ url: `${V1}/catalog/imports?dryRun=true`, headers: { ...me.headers, 'content-type': 'text/csv' }, payload: csv([HEADERS, ...resourceRows({ 提供方: '' })]) }),
  'POST /api/v1/catalog/imports/published': async ({ me }) => ({ url: `${V1}/catalog/imports/published?dryRun=true`, headers: { ...me.headers, 'content-type': 'text/csv' }, payload: csv([HEADERS, ...resourceRows({ 提供方: home.code })]) }),
  'GET /api/v1/catalog/export': async () => ({ url: `${V1}/catalog/export?format=dcat` }),
  'GET /api/v1/catalog/extension-fields': async () => ({ url: `${V1}/catalog/extension-fields` }),
  'POST /api/v1/catalog/extension-fields': async () => ({ url: `${V1}/catalog/extension-fields`, payload: { key: `new${next()}`, labelZh: '新字段', labelEn: 'New field', type: 'integer' } }),
  'GET /api/v1/share-requests': async () => ({ url: `${V1}/share-requests?limit=5&status=review&status=granted` }),
  'POST /api/v1/share-requests': async () => ({ url: `${V1}/share-requests`, payload: { ...REQUEST_ASK, resource: (await awayAgency()).conditional, systemId: (await freshSystem('active')).id, shareMethod: 'pull' } }),
  'GET /api/v1/share-requests/statistics': async () => ({ url: `${V1}/share-requests/statistics?from=2020-01-01` }),
  'GET /api/v1/share-requests/:id': async () => ({ url: `${V1}/share-requests/${await freshRequest('consumer', 'review')}` }),
  'GET /api/v1/share-requests/:id/history': async () => ({ url: `${V1}/share-requests/${await freshRequest('provider', 'review')}/history` }),
  'POST /api/v1/share-requests/:id/conformance': async () => ({ url: `${V1}/share-requests/${await freshRequest('consumer', 'conformance')}/conformance`, payload: { conforms: true } }),
  'POST /api/v1/share-requests/:id/approve': async () => ({ url: `${V1}/share-requests/${await freshRequest('provider', 'review')}/approve`, payload: { comment: '同意' } }),
  'POST /api/v1/share-requests/:id/refuse': async () => ({ url: `${V1}/share-requests/${await freshRequest('provider', 'review')}/refuse`, payload: { reason: '不符合', legalBasis: { law: '某条例', article: '第一条' } } }),
  'POST /api/v1/share-requests/:id/ask-info': async () => ({ url: `${V1}/share-requests/${await freshRequest('provider', 'review')}/ask-info`, payload: { question: '请补充依据' } }),
  'POST /api/v1/share-requests/:id/reply': async () => ({ url: `${V1}/share-requests/${await freshRequest('consumer', 'infoRequested')}/reply`, payload: { answer: '已补充' } }),
  'POST /api/v1/share-requests/:id/withdraw': async () => ({ url: `${V1}/share-requests/${await freshRequest('consumer', 'review')}/withdraw`, payload: { reason: '不再需要' } }),
  'POST /api/v1/share-requests/:id/dispute': async () => ({ url: `${V1}/share-requests/${await freshRequest('consumer', 'refused')}/dispute`, payload: { reason: '有异议' } }),
  'POST /api/v1/share-requests/:id/arbitrate': async () => ({ url: `${V1}/share-requests/${await freshRequest('consumer', 'disputed')}/arbitrate`, payload: { outcome: 'upheld', comment: '维持' } }),
  'GET /api/v1/grants': async () => ({ url: `${V1}/grants?limit=5` }),
  'GET /api/v1/grants/:id': async () => ({ url: `${V1}/grants/${await freshGrant('consumer', 'active')}` }),
  'GET /api/v1/grants/:id/events': async () => ({ url: `${V1}/grants/${await freshGrant('provider', 'active')}/events` }),
  'POST /api/v1/grants/:id/suspend': async () => ({ url: `${V1}/grants/${await freshGrant('provider', 'active')}/suspend`, payload: { reason: '核查' } }),
  'POST /api/v1/grants/:id/reinstate': async () => ({ url: `${V1}/grants/${await freshGrant('provider', 'suspended')}/reinstate`, payload: { reason: '核查完毕' } }),
  'POST /api/v1/grants/:id/revoke': async () => ({ url: `${V1}/grants/${await freshGrant('provider', 'active')}/revoke`, payload: { reason: '撤销' } }),
  'POST /api/v1/grants/:id/renew': async () => ({ url: `${V1}/grants/${await freshGrant('consumer', 'active')}/renew`, payload: { validUntil: '2100-06-30' } }),
  'GET /api/v1/demands': async () => ({ url: `${V1}/demands?limit=5` }),
  'POST /api/v1/demands': async () => ({ url: `${V1}/demands`, payload: { title: '企业登记信息', purpose: '行政许可核验' } }),
  // Posted by the home agency: its own staff and the supervisor read it.
  'GET /api/v1/demands/:id': async () => ({ url: `${V1}/demands/${await freshDemand('open')}` }),
  'POST /api/v1/demands/:id/route': async () => ({ url: `${V1}/demands/${await freshDemand('open')}/route`, payload: { providerAgencyId: home.id } }),
  'POST /api/v1/demands/:id/answer': async () => ({ url: `${V1}/demands/${await freshDemand('routed')}/answer`, payload: { kind: 'refusal', reason: '本单位未采集该信息' } }),
  'POST /api/v1/attachments': async ({ me }) => ({ url: `${V1}/attachments?fileName=${encodeURIComponent('保密协议.pdf')}`, headers: { ...me.headers, 'content-type': 'application/pdf' }, payload: '%PDF-1.7 保密协议' }),
  'GET /api/v1/attachments/:id': async () => ({ url: `${V1}/attachments/${await freshAttachment()}` }),
  'GET /api/v1/attachments/:id/content': async () => ({ url: `${V1}/attachments/${await freshAttachment()}/content` }),
  'GET /api/v1/notifications': async () => ({ url: `${V1}/notifications?unread=true&limit=5` }),
  'GET /api/v1/notifications/unread-count': async () => ({ url: `${V1}/notifications/unread-count` }),
  'POST /api/v1/notifications/:id/read': async ({ me }) => ({ url: `${V1}/notifications/${await ownNotification(me.userId)}/read` }),
  'POST /api/v1/notifications/read-all': async () => ({ url: `${V1}/notifications/read-all` }),
  'GET /api/v1/notifications/preferences': async () => ({ url: `${V1}/notifications/preferences` }),
  'PUT /api/v1/notifications/preferences': async () => ({ url: `${V1}/notifications/preferences`, payload: { email: true } }),
  'GET /api/v1/webhooks': async () => ({ url: `${V1}/webhooks?limit=5` }),
  // A node admin registers for its own (home) agency; the operator, without agencyId, a platform-level one.
  'POST /api/v1/webhooks': async () => ({ url: `${V1}/webhooks`, payload: { url: 'https://hooks.example.test/new', kinds: ['request.decided'] } }),
  'GET /api/v1/webhooks/:id': async () => ({ url: `${V1}/webhooks/${await freshWebhook()}` }),
  'PATCH /api/v1/webhooks/:id': async () => ({ url: `${V1}/webhooks/${await freshWebhook()}`, payload: { active: false } }),
  'DELETE /api/v1/webhooks/:id': async () => ({ url: `${V1}/webhooks/${await freshWebhook()}` }),
  'POST /api/v1/webhooks/:id/test': async () => ({ url: `${V1}/webhooks/${await freshWebhook()}/test` }),
  'GET /api/v1/webhooks/:id/deliveries': async () => ({ url: `${V1}/webhooks/${await freshWebhook()}/deliveries` }),
  'GET /api/v1/notification-deliveries': async () => ({ url: `${V1}/notification-deliveries?status=pending&channel=webhook&limit=5` }),
  'GET /api/v1/notification-deliveries/:id': async () => ({ url: `${V1}/notification-deliveries/${await freshDelivery()}` }),
  'POST /api/v1/notification-deliveries/:id/retry': async () => ({ url: `${V1}/notification-deliveries/${await freshDelivery()}/retry` }),
  'GET /api/v1/subscriptions': async () => ({ url: `${V1}/subscriptions?state=dead_letter` }),
  'POST /api/v1/subscriptions/:id/redrive': async () => ({ url: `${V1}/subscriptions/${await freshSubscription()}/redrive` }),
  'GET /api/v1/data/tables': async () => ({ url: `${V1}/data/tables` }),
  'GET /api/v1/data/tables/:code': async () => ({ url: `${V1}/data/tables/${await freshTableResource()}` }),
  'POST /api/v1/data/tables/:code/lookup': async () => ({ url: `${V1}/data/tables/${await freshTableResource()}/lookup`, payload: { key: { 统一社会信用代码: usccFor(9001) } } }),
  'GET /api/v1/data/tables/:code/changes': async () => ({ url: `${V1}/data/tables/${await freshTableResource()}/changes?after=0&limit=5` }),
  'POST /api/v1/data/tables/:code/batches': async () => ({
    url: `${V1}/data/tables/${await freshTableResource()}/batches`,
    payload: { idempotencyKey: `matrix-${next()}`, changes: [{ upsert: { 统一社会信用代码: usccFor(next()), 企业名称: '矩阵企业' } }, { delete: { 统一社会信用代码: usccFor(next()) } }] },
  }),
  'POST /api/v1/data/tables/:code/files': async ({ me }) => ({
    url: `${V1}/data/tables/${await freshTableResource()}/files`,
    headers: { ...me.headers, 'content-type': 'text/csv' },
    payload: `统一社会信用代码,企业名称\n${usccFor(next())},矩阵企业\n`,
  }),
  'GET /api/v1/data/tables/:code/quarantine': async () => ({ url: `${V1}/data/tables/${await freshTableResource()}/quarantine` }),
  'POST /api/v1/data/tables/:code/quarantine/resolve': async () => ({ url: `${V1}/data/tables/${await freshTableResource()}/quarantine/resolve`, payload: { ids: [await freshQuarantinedRow()], note: '已处理' } }),
  'PATCH /api/v1/catalog/extension-fields/:key': async () => ({ url: `${V1}/catalog/extension-fields/${await freshExtensionField()}`, payload: { labelZh: '改名字段' } }),
};

const keyOf = (r: RegisteredRoute): string => `${r.method} ${r.url}`;

/** The outcome the declaration promises: 2xx, 401 (no credentials) or 403 (missing permission). */
function promised(access: Access, caller: Caller): '2xx' | 401 | 403 {
  if (access.kind === 'public') return '2xx';
  if (caller === 'anonymous') return 401;
  if (access.kind === 'self') return '2xx';
  return ROLE_PERMISSIONS[caller].includes(access.permission) ? '2xx' : 403;
}

beforeAll(async () => {
  // With the supervisor's conformance check on, so that its route has requests to check.
  t = await createTestPlatform({ requestConformanceCheck: true });
  const recorded = await appRecordingRoutes(t);
  app = recorded.app;
  routes.push(...recorded.routes);
  home = await t.platform.agencies.create(t.cli, agencyInput(1));
  for (const role of ROLES) sessions.set(role, await userWithRoles(t, `role-${role.toLowerCase()}`, [role], isAgencyRole(role) ? home.id : null));
});

afterAll(async () => {
  await app?.close();
  await t?.close();
});

describe('route declarations', () => {
  it('finds every route of the app, each with an access declaration and a sample request', () => {
    const keys = routes.map(keyOf);
    // The enumeration really sees the app's routes (a broken hook would make every check vacuous).
    expect(keys).toEqual(expect.arrayContaining(['GET /healthz', 'GET /readyz', 'POST /api/v1/auth/login', 'POST /api/v1/agencies/:id/deactivate', 'GET /api/v1/audit/events']));
    expect(new Set(keys).size).toBe(keys.length);
    expect(routes.filter((r) => r.access === undefined).map(keyOf), 'routes without config.access').toEqual([]);
    expect(keys.filter((k) => !(k in SAMPLES)), 'routes without a sample request in SAMPLES').toEqual([]);
    // A sample for a route that no longer exists is stale: the matrix would silently skip it.
    expect(Object.keys(SAMPLES).filter((k) => !keys.includes(k)), 'samples for routes that do not exist').toEqual([]);
  });

  it('refuses to register a route that declares no access', async () => {
    const bare = await buildApp({ platform: t.platform, config: t.config, logger: pino({ level: 'silent' }) });
    try {
      expect(() => bare.get('/api/v1/undeclared', async () => ({ ok: true }))).toThrow(/declares no access/);
    } finally {
      await bare.close();
    }
  });

  it('documents security in the OpenAPI description exactly for the non-public routes', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(r.statusCode).toBe(200);
    const doc = r.json<OpenApiDoc>();
    const problems: string[] = [];
    for (const route of routes) {
      if (!route.url.startsWith('/api/v1') || !route.access) continue;
      const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const op = doc.paths[path]?.[route.method.toLowerCase()];
      if (route.hidden) {
        if (op) problems.push(`${keyOf(route)} is hidden but documented`);
        if (route.access.kind !== 'public') problems.push(`${keyOf(route)} is hidden from the document yet needs credentials`);
        continue;
      }
      if (!op) {
        problems.push(`${keyOf(route)} is missing from the OpenAPI document`);
        continue;
      }
      const documentedSecurity = Array.isArray(op.security) && op.security.length > 0;
      if (documentedSecurity !== (route.access.kind !== 'public')) {
        problems.push(`${keyOf(route)}: access ${route.access.kind} but OpenAPI security ${JSON.stringify(op.security)}`);
      }
      const permission = route.access.kind === 'permission' ? route.access.permission : null;
      if (permission && !op.description?.includes(`\`${permission}\``)) problems.push(`${keyOf(route)}: description does not name ${permission}`);
    }
    expect(problems).toEqual([]);
  });
});

describe('role matrix', () => {
  const callers: Caller[] = ['anonymous', ...ROLES];

  it.each(callers)('%s gets the declared outcome on every route', async (caller) => {
    expect(routes.length).toBeGreaterThan(0);
    const role = caller === 'anonymous' ? null : caller;
    const ctx: CallerContext = { role, me: sessionOf(role ?? 'viewer') };
    const problems: string[] = [];
    let checked = 0;
    for (const route of routes) {
      const key = keyOf(route);
      const factory = SAMPLES[key];
      if (!route.access) {
        problems.push(`${key}: declares no access`);
        continue;
      }
      if (!factory) {
        problems.push(`${key}: no sample request in SAMPLES`);
        continue;
      }
      const sample = await factory(ctx);
      const headers = role === null ? {} : (sample.headers ?? ctx.me.headers);
      const r = await app.inject({ method: route.method, url: sample.url, headers, ...(sample.payload ? { payload: sample.payload } : {}) });
      const want = promised(route.access, caller);
      const body = String(r.headers['content-type'] ?? '').includes('json') ? r.json<{ code?: string; details?: { permission?: string } }>() : {};
      checked++;
      if (want === '2xx' && sample.publicRefusal) {
        if (route.access.kind !== 'public') problems.push(`${key}: publicRefusal is only for public routes`);
        if (r.statusCode !== sample.publicRefusal.status || body.code !== sample.publicRefusal.code) problems.push(`${key}: expected ${sample.publicRefusal.status} ${sample.publicRefusal.code}, got ${r.statusCode} ${r.body.slice(0, 300)}`);
      } else if (want === '2xx') {
        if (r.statusCode < 200 || r.statusCode > 299) problems.push(`${key}: expected 2xx, got ${r.statusCode} ${r.body.slice(0, 300)}`);
      } else if (want === 401) {
        if (r.statusCode !== 401 || body.code !== 'GS_ERR_AUTH_REQUIRED') problems.push(`${key}: expected 401 GS_ERR_AUTH_REQUIRED, got ${r.statusCode} ${r.body.slice(0, 300)}`);
      } else {
        const permission = route.access.kind === 'permission' ? route.access.permission : '';
        if (r.statusCode !== 403 || body.code !== 'GS_ERR_AUTH_FORBIDDEN' || body.details?.permission !== permission) {
          problems.push(`${key}: expected 403 GS_ERR_AUTH_FORBIDDEN (${permission}), got ${r.statusCode} ${r.body.slice(0, 300)}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBe(routes.length);
  }, 120_000);
});
