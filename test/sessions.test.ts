import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, sessionCookie, STRONG_PASSWORD, userWithRoles, type TestPlatform } from './helpers/platform.js';

let t: TestPlatform;
beforeAll(async () => {
  t = await createTestPlatform();
});
afterAll(async () => t?.close());

const V1 = '/api/v1';

async function secondLogin(username: string, userAgent: string): Promise<{ cookie: string }> {
  const r = await t.app.inject({ method: 'POST', url: `${V1}/auth/login`, headers: { 'user-agent': userAgent }, payload: { username, password: STRONG_PASSWORD } });
  expect(r.statusCode, r.body).toBe(200);
  return { cookie: sessionCookie(r.headers['set-cookie']) };
}

interface SessionItem {
  readonly id: string;
  readonly current: boolean;
  readonly userAgent: string | null;
}

describe('sessions', () => {
  it('lists your sessions, marks the current one, and ends another one on request', async () => {
    const laptop = await userWithRoles(t, 'sess.user', ['supervisor']);
    const phone = await secondLogin('sess.user', 'phone-browser');
    const list = await t.app.inject({ method: 'GET', url: `${V1}/me/sessions`, headers: laptop.headers });
    expect(list.statusCode).toBe(200);
    const items = list.json<{ items: SessionItem[] }>().items;
    expect(items).toHaveLength(2);
    expect(items.filter((s) => s.current)).toHaveLength(1);
    const phoneSession = items.find((s) => s.userAgent === 'phone-browser')!;
    expect(phoneSession.current).toBe(false);

    const end = await t.app.inject({ method: 'POST', url: `${V1}/me/sessions/${phoneSession.id}/end`, headers: laptop.headers });
    expect(end.statusCode, end.body).toBe(200);
    const refused = await t.app.inject({ method: 'GET', url: `${V1}/auth/me`, headers: { cookie: phone.cookie } });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ code: 'GS_ERR_AUTH_SESSION_EXPIRED' });
    // the laptop session is untouched
    expect((await t.app.inject({ method: 'GET', url: `${V1}/auth/me`, headers: laptop.headers })).statusCode).toBe(200);
    const events = await t.platform.audit.search({ action: 'auth.end-session', targetId: phoneSession.id, limit: 5 });
    expect(events).toHaveLength(1);
  });

  it("cannot end another account's session (404, nothing ended)", async () => {
    const a = await userWithRoles(t, 'sess.a', ['supervisor']);
    const b = await userWithRoles(t, 'sess.b', ['supervisor']);
    const bSessions = (await t.app.inject({ method: 'GET', url: `${V1}/me/sessions`, headers: b.headers })).json<{ items: SessionItem[] }>().items;
    const r = await t.app.inject({ method: 'POST', url: `${V1}/me/sessions/${bSessions[0]!.id}/end`, headers: a.headers });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'GS_ERR_AUTH_SESSION_NOT_FOUND' });
    expect((await t.app.inject({ method: 'GET', url: `${V1}/auth/me`, headers: b.headers })).statusCode).toBe(200);
  });

  it('lets an operator end every session of an account', async () => {
    const op = await userWithRoles(t, 'sess.op', ['operator']);
    const victim = await userWithRoles(t, 'sess.victim', ['supervisor']);
    const other = await secondLogin('sess.victim', 'tablet');
    const r = await t.app.inject({ method: 'POST', url: `${V1}/users/${victim.userId}/end-sessions`, headers: op.headers, payload: { reason: 'lost laptop' } });
    expect(r.statusCode, r.body).toBe(200);
    for (const headers of [victim.headers, { cookie: other.cookie }]) {
      expect((await t.app.inject({ method: 'GET', url: `${V1}/auth/me`, headers })).statusCode).toBe(401);
    }
    const events = await t.platform.audit.search({ action: 'user.end-sessions', targetId: victim.userId, limit: 5 });
    expect(events[0]?.details).toMatchObject({ reason: 'lost laptop' });
  });
});
