/**
 * Bad input at the HTTP edge: every refusal is a 4xx with the standard error body
 * `{ code, message, messageZh, details, requestId }`, names the field and rule where there is
 * one, writes nothing, and never turns into a 500.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCKOUT } from '../src/modules/accounts/store.js';
import type { Role } from '../src/modules/accounts/permissions.js';
import type { Agency } from '../src/modules/agencies/schemas.js';
import { catalogContent } from './helpers/catalog.js';
import { agencyInput, createTestPlatform, sessionCookie, STRONG_PASSWORD, usccFor, userWithRoles, type LoggedIn, type TestPlatform } from './helpers/platform.js';

interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly messageZh: string;
  readonly details: Record<string, unknown> & { readonly fields?: readonly { field: string; rule: string; message: string }[] };
  readonly requestId: string;
}

const BODY_LIMIT = 4096;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let t: TestPlatform;
let home: Agency;
let seq = 100;
const next = (): number => ++seq;

/**
 * Every request of this file goes through here: whatever the input, the answer is not a 500, it
 * carries an x-request-id, and an error has exactly the standard body with that request id.
 */
async function call(options: InjectOptions): Promise<LightMyRequestResponse> {
  const r = await t.app.inject(options);
  expect(r.statusCode, `${options.method} ${options.url}: ${r.body}`).toBeLessThan(500);
  const requestId = r.headers['x-request-id'];
  expect(typeof requestId, 'x-request-id header').toBe('string');
  if (r.statusCode >= 400) {
    const body = r.json<ErrorBody>();
    expect(Object.keys(body).sort()).toEqual(['code', 'details', 'message', 'messageZh', 'requestId']);
    expect(body.code).toMatch(/^GS_ERR_[A-Z]+_[A-Z_]+$/);
    expect(body.message.length).toBeGreaterThan(0);
    expect(body.messageZh).toMatch(/[\u4e00-\u9fff]/);
    expect(typeof body.details).toBe('object');
    expect(body.requestId).toBe(requestId);
    // Never a stack trace or an internal error text in a reply.
    expect(r.body).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
  }
  return r;
}

/** Asserts status and code; returns the error body. */
function refused(r: LightMyRequestResponse, status: number, code: string): ErrorBody {
  expect(r.statusCode, r.body).toBe(status);
  const body = r.json<ErrorBody>();
  expect(body.code).toBe(code);
  return body;
}

function field(body: ErrorBody, name: string): { field: string; rule: string; message: string } | undefined {
  return body.details.fields?.find((f) => f.field === name);
}

/** Rows that a refused request must not have added. */
async function counts(): Promise<{ agencies: number; users: number; audit: number }> {
  const n = async (table: 'agencies' | 'users' | 'auditEvents'): Promise<number> => {
    const row = await t.platform.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  return { agencies: await n('agencies'), users: await n('users'), audit: await n('auditEvents') };
}

/** A new logged-in account (fresh, so earlier clock moves cannot have expired its session). */
async function session(roles: Role[], agencyId: string | null = null): Promise<LoggedIn> {
  return userWithRoles(t, `bad${next()}`, roles, agencyId);
}

const postAgency = (headers: Record<string, string>, payload: unknown, extra: Partial<InjectOptions> = {}): Promise<LightMyRequestResponse> =>
  call({ method: 'POST', url: '/api/v1/agencies', headers, payload: payload as InjectOptions['payload'], ...extra });

beforeAll(async () => {
  t = await createTestPlatform({ bodyLimitBytes: BODY_LIMIT });
  home = await t.platform.agencies.create(t.cli, agencyInput(1));
});

afterAll(async () => t?.close());

describe('request bodies', () => {
  let op: LoggedIn;
  beforeAll(async () => {
    op = await session(['operator']);
  });

  it('refuses malformed JSON with 400 GS_ERR_REQUEST_MALFORMED_JSON and writes nothing', async () => {
    const before = await counts();
    const r = await postAgency({ ...op.headers, 'content-type': 'application/json' }, '{"code": "AG9001", "nameZh": ');
    const body = refused(r, 400, 'GS_ERR_REQUEST_MALFORMED_JSON');
    expect(typeof body.details.reason).toBe('string');
    expect(body.message).toContain('JSON');
    // Prototype poisoning is refused by the parser, not passed on to the handler.
    refused(await postAgency({ ...op.headers, 'content-type': 'application/json' }, '{"__proto__": {"admin": true}}'), 400, 'GS_ERR_REQUEST_MALFORMED_JSON');
    const empty = await postAgency({ ...op.headers, 'content-type': 'application/json' }, '');
    refused(empty, 400, 'GS_ERR_REQUEST_MALFORMED_JSON');
    expect(await counts()).toEqual(before);
  });

  it('refuses an unknown field, naming it and the additionalProperties rule', async () => {
    const before = await counts();
    const valid = agencyInput(next());
    const body = refused(await postAgency(op.headers, { ...valid, colour: 'red' }), 400, 'GS_ERR_REQUEST_INVALID');
    expect(field(body, 'body.colour')).toMatchObject({ rule: 'additionalProperties' });
    expect(body.message).toContain('body.colour');
    expect(await counts()).toEqual(before);
    // The same input without the unknown field is accepted: the refusal was about that field.
    expect((await postAgency(op.headers, valid)).statusCode).toBe(201);
  });

  it('refuses wrongly typed fields without coercing them', async () => {
    const before = await counts();
    const level = refused(await postAgency(op.headers, agencyInput(next(), { level: 5 })), 400, 'GS_ERR_REQUEST_INVALID');
    expect(field(level, 'body.level')).toBeDefined();
    const n = next();
    const name = refused(await postAgency(op.headers, agencyInput(n, { nameZh: 123 })), 400, 'GS_ERR_REQUEST_INVALID');
    expect(field(name, 'body.nameZh')).toMatchObject({ rule: 'type' });
    const nested = refused(await postAgency(op.headers, agencyInput(next(), { contacts: [{ name: '李四', email: 'not-an-email' }] })), 400, 'GS_ERR_REQUEST_INVALID');
    expect(field(nested, 'body.contacts.0.email')).toMatchObject({ rule: 'format' });
    expect(await counts()).toEqual(before);
    // 123 did not become the name "123".
    const list = await call({ method: 'GET', url: `/api/v1/agencies?q=${agencyInput(n).code}`, headers: op.headers });
    expect(list.json<{ items: unknown[] }>().items).toEqual([]);
  });

  it('refuses a USCC with a wrong check character, naming the expected one', async () => {
    const before = await counts();
    const valid = usccFor(next());
    const expected = valid.at(-1)!;
    const wrong = valid.slice(0, 17) + (expected === '0' ? '1' : '0');
    const body = refused(await postAgency(op.headers, agencyInput(next(), { uscc: wrong })), 400, 'GS_ERR_AGENCY_USCC_INVALID');
    const f = field(body, 'body.uscc');
    expect(f).toMatchObject({ rule: 'checkCharacter' });
    expect(f?.message).toContain(`expected ${expected}`);
    expect(body.details.uscc).toBe(wrong);
    expect(String(body.details.reason)).toContain(`expected ${expected}`);
    expect(await counts()).toEqual(before);
  });

  it(`refuses a body over the limit (${BODY_LIMIT} bytes) with 413 GS_ERR_REQUEST_TOO_LARGE`, async () => {
    const before = await counts();
    const input = agencyInput(next(), { names: { en: 'x'.repeat(BODY_LIMIT) } });
    const body = refused(await postAgency(op.headers, input), 413, 'GS_ERR_REQUEST_TOO_LARGE');
    expect(body.details.limit).toBe(BODY_LIMIT);
    expect(await counts()).toEqual(before);
  });

  it('refuses a body that is not JSON with 415, naming the content type', async () => {
    const before = await counts();
    const json = JSON.stringify(agencyInput(next()));
    const text = refused(await postAgency({ ...op.headers, 'content-type': 'text/plain' }, json), 415, 'GS_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE');
    expect(text.details.contentType).toBe('text/plain');
    expect(text.message).toContain('text/plain');
    const xml = refused(await postAgency({ ...op.headers, 'content-type': 'application/xml; charset=utf-8' }, '<agency/>'), 415, 'GS_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE');
    expect(xml.details.contentType).toBe('application/xml');
    const form = refused(await postAgency({ ...op.headers, 'content-type': 'application/x-www-form-urlencoded' }, 'code=AG1'), 415, 'GS_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE');
    expect(form.details.contentType).toBe('application/x-www-form-urlencoded');
    expect(await counts()).toEqual(before);
  });

  it('refuses bad query strings and path parameters with a 4xx naming the problem', async () => {
    const limit = refused(await call({ method: 'GET', url: '/api/v1/agencies?limit=abc', headers: op.headers }), 400, 'GS_ERR_REQUEST_INVALID');
    expect(field(limit, 'querystring.limit')).toBeDefined();
    const unknown = refused(await call({ method: 'GET', url: '/api/v1/agencies?colour=red', headers: op.headers }), 400, 'GS_ERR_REQUEST_INVALID');
    expect(field(unknown, 'querystring.colour')).toMatchObject({ rule: 'additionalProperties' });
    refused(await call({ method: 'GET', url: '/api/v1/agencies?limit=100000', headers: op.headers }), 400, 'GS_ERR_REQUEST_INVALID');
    refused(await call({ method: 'GET', url: '/api/v1/agencies/not-a-uuid', headers: op.headers }), 404, 'GS_ERR_AGENCY_NOT_FOUND');
    refused(await call({ method: 'GET', url: '/api/v1/regions/abc', headers: op.headers }), 404, 'GS_ERR_REGION_NOT_FOUND');
    refused(await call({ method: 'GET', url: '/api/v1/users/00000000-0000-4000-8000-000000000000', headers: op.headers }), 404, 'GS_ERR_USER_NOT_FOUND');
  });

  it('answers odd but well-formed bodies with a 4xx, never a 500', async () => {
    const before = await counts();
    const bodies: unknown[] = [
      'null',
      '[]',
      '42',
      '"a string"',
      '{"constructor": {"prototype": {"admin": true}}}',
      JSON.stringify(agencyInput(next(), { parentId: 'not-a-uuid' })),
      JSON.stringify(agencyInput(next(), { parentId: '00000000-0000-4000-8000-000000000000' })),
      JSON.stringify(agencyInput(next(), { regionCode: '999999' })),
      JSON.stringify(agencyInput(next(), { level: 'province' })),
      JSON.stringify(agencyInput(next(), { names: { 'zh-CN': '中文' } })),
      JSON.stringify(agencyInput(next(), { contacts: Array.from({ length: 21 }, () => ({ name: 'x' })) })),
      JSON.stringify(agencyInput(next(), { uscc: '1'.repeat(17) + 'I' })),
      JSON.stringify(agencyInput(next(), { code: '🙂🙂🙂' })),
      // U+0000 is valid JSON but PostgreSQL stores it neither in text nor in jsonb.
      JSON.stringify(agencyInput(next(), { nameZh: 'a\u0000b' })),
      JSON.stringify(agencyInput(next(), { names: { en: 'a\u0000b' } })),
      JSON.stringify(agencyInput(next(), { contacts: [{ name: 'a\u0000b' }] })),
    ];
    for (const payload of bodies) {
      const r = await postAgency({ ...op.headers, 'content-type': 'application/json' }, payload);
      expect(r.statusCode, `${String(payload)} → ${r.body}`).toBeGreaterThanOrEqual(400);
    }
    const nul = await call({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'a\u0000b', password: 'x' } });
    expect(nul.statusCode).toBeGreaterThanOrEqual(400);
    const nulQuery = await call({ method: 'GET', url: '/api/v1/agencies?q=a%00b', headers: op.headers });
    expect(nulQuery.statusCode).toBeGreaterThanOrEqual(400);
    const taken = await postAgency(op.headers, { ...agencyInput(next()), code: home.code });
    refused(taken, 409, 'GS_ERR_AGENCY_CODE_TAKEN');
    expect((await counts()).agencies).toBe(before.agencies);

    const emptyPatch = await call({ method: 'PATCH', url: `/api/v1/agencies/${home.id}`, headers: op.headers, payload: {} });
    refused(emptyPatch, 400, 'GS_ERR_REQUEST_INVALID');
    const stale = await call({ method: 'PATCH', url: `/api/v1/agencies/${home.id}`, headers: op.headers, payload: { nameZh: '改名', expectedVersion: 99 } });
    refused(stale, 409, 'GS_ERR_REQUEST_CONFLICT');
    const after = await call({ method: 'GET', url: `/api/v1/agencies/${home.id}`, headers: op.headers });
    expect(after.json<Agency>()).toMatchObject({ nameZh: home.nameZh, version: home.version });
  });
});

describe('catalog entries', () => {
  let cat: LoggedIn;
  const entries = async (): Promise<number> =>
    Number((await t.platform.db.selectFrom('catalogEntries').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const postEntry = (payload: unknown): Promise<LightMyRequestResponse> =>
    call({ method: 'POST', url: '/api/v1/catalog/entries', headers: { ...cat.headers, 'content-type': 'application/json' }, payload: payload as InjectOptions['payload'] });
  beforeAll(async () => {
    cat = await session(['cataloger'], home.id);
  });

  it('answers odd entries with a 4xx naming the field, never a 500, and stores nothing', async () => {
    const before = await entries();
    const content = catalogContent();
    const cases: [unknown, string][] = [
      [{ content: { ...content, nameZh: 'a\u0000b' } }, 'body'],
      [{ content: { ...content, dataItems: [{ nameZh: 'a\u0000b', dataType: 'integer' }] } }, 'body'],
      [{ content: { ...content, names: { en: 'a\u0000b' } } }, 'body'],
      [{ content: { ...content, shareMethods: ['table', 'table'] } }, 'body.content.shareMethods'],
      [{ content: { ...content, shareMethods: ['fax'] } }, 'body.content.shareMethods.0'],
      [{ content: { ...content, relatedCodes: ['not-a-code'] } }, 'body.content.relatedCodes.0'],
      [{ content: { ...content, format: { type: 'database', subtype: 'DM 8!' } } }, 'body.content.format.subtype'],
      [{ content: { ...content, dataItems: [{ nameZh: '数量', dataType: 'integer', length: 0 }] } }, 'body.content.dataItems.0.length'],
      [{ content: { ...content, dataItems: [{ nameZh: '数量', dataType: 'integer', sensitive: 'yes' }] } }, 'body.content.dataItems.0.sensitive'],
      [{ content: { ...content, legalBasis: { law: '某法' } } }, 'body.content.legalBasis.article'],
      [{ content: { ...content, extensions: { level: { nested: true } } } }, 'body.content.extensions.level'],
      [{ content: { nameZh: '' } }, 'body.content.nameZh'],
    ];
    for (const [payload, fieldName] of cases) {
      const r = await postEntry(JSON.stringify(payload));
      expect(r.statusCode, `${JSON.stringify(payload)} → ${r.body}`).toBe(400);
      if (fieldName !== 'body') expect(r.json<ErrorBody>().details.fields?.map((f) => f.field), r.body).toContain(fieldName);
    }
    expect(await entries()).toBe(before);
    // The same content without the odd parts is accepted.
    expect((await postEntry(JSON.stringify({ content }))).statusCode).toBe(201);
  });

  it('refuses bad ids, cursors and version numbers in paths and queries', async () => {
    refused(await call({ method: 'GET', url: '/api/v1/catalog/entries/not-an-entry', headers: cat.headers }), 404, 'GS_ERR_CATALOG_ENTRY_NOT_FOUND');
    refused(await call({ method: 'GET', url: `/api/v1/catalog/entries/${encodeURIComponent('301002/999999')}`, headers: cat.headers }), 404, 'GS_ERR_CATALOG_ENTRY_NOT_FOUND');
    refused(await call({ method: 'GET', url: '/api/v1/catalog/entries?after=abc', headers: cat.headers }), 400, 'GS_ERR_REQUEST_INVALID');
    refused(await call({ method: 'GET', url: '/api/v1/catalog/changes?after=-1', headers: cat.headers }), 400, 'GS_ERR_REQUEST_INVALID');
    refused(await call({ method: 'GET', url: '/api/v1/catalog/entries?status=archived', headers: cat.headers }), 400, 'GS_ERR_REQUEST_INVALID');
    const e = await t.platform.catalog.create(t.cli, { agencyId: home.id, content: catalogContent() });
    refused(await call({ method: 'GET', url: `/api/v1/catalog/entries/${e.id}/versions/7`, headers: cat.headers }), 404, 'GS_ERR_CATALOG_VERSION_NOT_FOUND');
    refused(await call({ method: 'GET', url: `/api/v1/catalog/entries/${e.id}/diff?from=0&to=1`, headers: cat.headers }), 400, 'GS_ERR_REQUEST_INVALID');
  });
});

describe('login', () => {
  it('refuses a wrong password and an unknown user alike with 401 GS_ERR_AUTH_INVALID_CREDENTIALS', async () => {
    const { password } = await t.platform.accounts.create(t.cli, { username: 'known-user', displayName: 'Known' });
    const wrong = refused(await call({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'known-user', password: `${password}x` } }), 401, 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    const unknown = refused(await call({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'no-such-user', password } }), 401, 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    // Nothing in the reply tells the two apart.
    const { requestId: _a, ...w } = wrong;
    const { requestId: _b, ...u } = unknown;
    expect(u).toEqual(w);
    const ok = await call({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'known-user', password } });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['set-cookie']).toBeDefined();
  });

  it(`locks the account after ${LOCKOUT.attempts} failures, even for the right password, until ${LOCKOUT.windowMinutes} minutes pass`, async () => {
    const { password } = await t.platform.accounts.create(t.cli, { username: 'lock-me', displayName: 'Lock' });
    const login = (pw: string) => call({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'lock-me', password: pw } });
    for (let i = 0; i < LOCKOUT.attempts; i++) refused(await login(`wrong-${i}`), 401, 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    const locked = refused(await login(password), 423, 'GS_ERR_AUTH_LOCKED');
    expect(locked.details.attempts).toBe(LOCKOUT.attempts);
    expect(new Date(String(locked.details.until)).getTime()).toBeGreaterThan(t.clock.now().getTime());
    expect(locked.message).toContain(String(LOCKOUT.attempts));
    t.clock.advance(LOCKOUT.windowMinutes * 60_000 - 60_000);
    refused(await login(password), 423, 'GS_ERR_AUTH_LOCKED');
    t.clock.advance(61_000);
    const ok = await login(password);
    expect(ok.statusCode, ok.body).toBe(200);
  });
});

describe('API tokens', () => {
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('refuses an expired token with 401 GS_ERR_AUTH_TOKEN_INVALID', async () => {
    const { user } = await t.platform.accounts.create(t.cli, { username: `tok${next()}`, displayName: 'Token', roles: ['operator'] });
    const { token } = await t.platform.accounts.createToken(t.cli, { userId: user.id, name: 'soon expired', expiresAt: new Date(t.clock.now().getTime() + 3_600_000) });
    expect((await call({ method: 'GET', url: '/api/v1/agencies', headers: bearer(token) })).statusCode).toBe(200);
    t.clock.advance(3_600_000 + 1000);
    refused(await call({ method: 'GET', url: '/api/v1/agencies', headers: bearer(token) }), 401, 'GS_ERR_AUTH_TOKEN_INVALID');
  });

  it('refuses a revoked token with 401', async () => {
    const { user } = await t.platform.accounts.create(t.cli, { username: `tok${next()}`, displayName: 'Token', roles: ['operator'] });
    const { token, view } = await t.platform.accounts.createToken(t.cli, { userId: user.id, name: 'to revoke', expiresAt: new Date(t.clock.now().getTime() + 86_400_000) });
    expect((await call({ method: 'GET', url: '/api/v1/agencies', headers: bearer(token) })).statusCode).toBe(200);
    await t.platform.accounts.revokeToken(t.cli, view.id, 'leaked');
    refused(await call({ method: 'GET', url: '/api/v1/agencies', headers: bearer(token) }), 401, 'GS_ERR_AUTH_TOKEN_INVALID');
  });

  it('refuses unknown and malformed bearer credentials with 401', async () => {
    refused(await call({ method: 'GET', url: '/api/v1/agencies', headers: bearer('gst_not-a-real-token') }), 401, 'GS_ERR_AUTH_TOKEN_INVALID');
    refused(await call({ method: 'GET', url: '/api/v1/agencies', headers: { authorization: 'Bearer' } }), 401, 'GS_ERR_AUTH_TOKEN_INVALID');
    refused(await call({ method: 'GET', url: '/api/v1/agencies', headers: { authorization: 'Basic b3A6cGFzcw==' } }), 401, 'GS_ERR_AUTH_TOKEN_INVALID');
    refused(await call({ method: 'GET', url: '/api/v1/agencies', headers: { cookie: 'gs_session=gss_forged' } }), 401, 'GS_ERR_AUTH_SESSION_EXPIRED');
  });

  it('refuses with 403 what the token scopes leave out, even when the account holds it', async () => {
    const { user } = await t.platform.accounts.create(t.cli, { username: `tok${next()}`, displayName: 'Token', roles: ['operator'] });
    const { token } = await t.platform.accounts.createToken(t.cli, { userId: user.id, name: 'read only', scopes: ['agency:read'], expiresAt: new Date(t.clock.now().getTime() + 86_400_000) });
    expect((await call({ method: 'GET', url: '/api/v1/agencies', headers: bearer(token) })).statusCode).toBe(200);
    const before = await counts();
    const body = refused(await postAgency(bearer(token), agencyInput(next())), 403, 'GS_ERR_AUTH_FORBIDDEN');
    expect(body.details.permission).toBe('agency:manage');
    expect((await counts()).agencies).toBe(before.agencies);
  });
});

describe('permissions', () => {
  it('refuses a role acting outside its permissions with 403 and records access.denied', async () => {
    const auditor = await session(['auditor']);
    const before = await counts();
    const body = refused(await postAgency(auditor.headers, agencyInput(next())), 403, 'GS_ERR_AUTH_FORBIDDEN');
    expect(body.details.permission).toBe('agency:manage');
    expect((await counts()).agencies).toBe(before.agencies);
    const events = await t.platform.audit.search({ action: 'access.denied', requestId: body.requestId, limit: 10 });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actorId: auditor.userId, outcome: 'denied', targetType: 'route', targetId: 'POST /api/v1/agencies', details: { permission: 'agency:manage' } });
  });
});

describe('sessions', () => {
  it('ends a session idle for longer than the idle timeout: 401 GS_ERR_AUTH_SESSION_EXPIRED', async () => {
    const s = await session(['supervisor']);
    expect((await call({ method: 'GET', url: '/api/v1/agencies', headers: s.headers })).statusCode).toBe(200);
    t.clock.advance((t.config.sessionIdleMinutes + 1) * 60_000);
    const body = refused(await call({ method: 'GET', url: '/api/v1/agencies', headers: s.headers }), 401, 'GS_ERR_AUTH_SESSION_EXPIRED');
    expect(body.details.reason).toBe('idle timeout');
    // Ended for good: coming back does not revive it.
    refused(await call({ method: 'GET', url: '/api/v1/auth/me', headers: s.headers }), 401, 'GS_ERR_AUTH_SESSION_EXPIRED');
  });

  it('ends a session at the absolute timeout even while it is in use', async () => {
    const s = await session(['supervisor']);
    const step = (t.config.sessionIdleMinutes - 5) * 60_000;
    const absolute = t.config.sessionAbsoluteHours * 3_600_000;
    let elapsed = 0;
    while (elapsed + step < absolute) {
      t.clock.advance(step);
      elapsed += step;
      const r = await call({ method: 'GET', url: '/api/v1/auth/me', headers: s.headers });
      expect(r.statusCode, `after ${elapsed / 60_000} minutes: ${r.body}`).toBe(200);
    }
    t.clock.advance(step);
    const body = refused(await call({ method: 'GET', url: '/api/v1/auth/me', headers: s.headers }), 401, 'GS_ERR_AUTH_SESSION_EXPIRED');
    expect(body.details.reason).toBe('absolute timeout');
  });

  it('keeps an account that must change its password to /auth/me and /auth/password', async () => {
    const { user, password } = await t.platform.accounts.create(t.cli, { username: `setup${next()}`, displayName: 'Setup', roles: ['viewer'], agencyId: home.id });
    const login = await call({ method: 'POST', url: '/api/v1/auth/login', payload: { username: user.username, password } });
    expect(login.json<{ setupRequired: string[] }>().setupRequired).toEqual(['changePassword']);
    const headers = { cookie: sessionCookie(login.headers['set-cookie']) };
    const blocked = refused(await call({ method: 'GET', url: '/api/v1/agencies', headers }), 403, 'GS_ERR_AUTH_SETUP_REQUIRED');
    expect(blocked.details.steps).toBe('changePassword');
    refused(await call({ method: 'GET', url: '/api/v1/me/tokens', headers }), 403, 'GS_ERR_AUTH_SETUP_REQUIRED');
    const me = await call({ method: 'GET', url: '/api/v1/auth/me', headers });
    expect(me.statusCode).toBe(200);
    expect(me.json<{ setupRequired: string[] }>().setupRequired).toEqual(['changePassword']);
    const changed = await call({ method: 'POST', url: '/api/v1/auth/password', headers, payload: { currentPassword: password, newPassword: STRONG_PASSWORD } });
    expect(changed.statusCode, changed.body).toBe(200);
    expect((await call({ method: 'GET', url: '/api/v1/agencies', headers })).statusCode).toBe(200);
  });

  it('keeps an administrator without an authenticator to the setup routes after the password change', async () => {
    const { user, password } = await t.platform.accounts.create(t.cli, { username: `setup${next()}`, displayName: 'Setup', roles: ['operator'] });
    const login = await call({ method: 'POST', url: '/api/v1/auth/login', payload: { username: user.username, password } });
    expect(login.json<{ setupRequired: string[] }>().setupRequired).toEqual(['changePassword', 'enrolTotp']);
    const headers = { cookie: sessionCookie(login.headers['set-cookie']) };
    const changed = await call({ method: 'POST', url: '/api/v1/auth/password', headers, payload: { currentPassword: password, newPassword: STRONG_PASSWORD } });
    expect(changed.statusCode, changed.body).toBe(200);
    const blocked = refused(await call({ method: 'GET', url: '/api/v1/agencies', headers }), 403, 'GS_ERR_AUTH_SETUP_REQUIRED');
    expect(blocked.details.steps).toBe('enrolTotp');
    expect((await call({ method: 'POST', url: '/api/v1/auth/totp/enrol', headers })).statusCode).toBe(200);
  });
});

describe('routing and request ids', () => {
  it('answers an unknown route with 404 GS_ERR_REQUEST_NOT_FOUND, with or without credentials', async () => {
    const anon = refused(await call({ method: 'GET', url: '/api/v1/no-such-thing?x=1' }), 404, 'GS_ERR_REQUEST_NOT_FOUND');
    expect(anon.details).toEqual({ method: 'GET', url: '/api/v1/no-such-thing' });
    const s = await session(['supervisor']);
    refused(await call({ method: 'POST', url: '/api/v1/no-such-thing', headers: s.headers, payload: { a: 1 } }), 404, 'GS_ERR_REQUEST_NOT_FOUND');
    const wrongMethod = refused(await call({ method: 'DELETE', url: `/api/v1/agencies/${home.id}`, headers: s.headers }), 404, 'GS_ERR_REQUEST_NOT_FOUND');
    expect(wrongMethod.details.method).toBe('DELETE');
    refused(await call({ method: 'GET', url: '/nothing-here' }), 404, 'GS_ERR_REQUEST_NOT_FOUND');
  });

  it('gives every response an x-request-id, the same as the error body requestId', async () => {
    const ok = await call({ method: 'GET', url: '/healthz' });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['x-request-id']).toMatch(UUID);
    const other = await call({ method: 'GET', url: '/healthz' });
    expect(other.headers['x-request-id']).not.toBe(ok.headers['x-request-id']);
    const err = await call({ method: 'GET', url: '/api/v1/agencies' });
    const body = refused(err, 401, 'GS_ERR_AUTH_REQUIRED');
    expect(body.requestId).toMatch(UUID);
    expect(err.headers['x-request-id']).toBe(body.requestId);
  });

  it('echoes a valid incoming x-request-id and replaces an invalid one', async () => {
    const given = 'client-trace.0001';
    const ok = await call({ method: 'GET', url: '/healthz', headers: { 'x-request-id': given } });
    expect(ok.headers['x-request-id']).toBe(given);
    const err = await call({ method: 'GET', url: '/api/v1/agencies', headers: { 'x-request-id': given } });
    expect(refused(err, 401, 'GS_ERR_AUTH_REQUIRED').requestId).toBe(given);
    for (const bad of ['short', 'has spaces in it', 'x'.repeat(129), 'semi;colon;header']) {
      const r = await call({ method: 'GET', url: '/healthz', headers: { 'x-request-id': bad } });
      expect(r.headers['x-request-id']).toMatch(UUID);
    }
  });

  it('records the request id of a refused login in the audit trail', async () => {
    const given = `audit-trace-${next()}`;
    const r = await call({ method: 'POST', url: '/api/v1/auth/login', headers: { 'x-request-id': given }, payload: { username: 'nobody-at-all', password: 'whatever' } });
    refused(r, 401, 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    const events = await t.platform.audit.search({ action: 'auth.login', requestId: given, limit: 10 });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: 'failure', details: { reason: 'unknownUser' } });
  });
});
