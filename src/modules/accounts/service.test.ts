import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agencyInput, createTestPlatform, refused, STRONG_PASSWORD, type TestPlatform } from '../../../test/helpers/platform.js';
import { checkPasswordRule } from '../../lib/password.js';
import { hashSecret } from '../../lib/secrets.js';
import { currentStep, totpCode } from '../../lib/totp.js';
import { systemContext, type Actor, type RequestContext } from '../../server/actor.js';
import { ADMIN_ROLES, permissionsOf, type Permission, type Role } from './permissions.js';
import type { AccountService, UserView } from './service.js';

let t: TestPlatform;
let accounts: AccountService;
let agencyId: string;

beforeAll(async () => {
  t = await createTestPlatform();
  accounts = t.platform.accounts;
  agencyId = (await t.platform.agencies.create(t.cli, agencyInput(1))).id;
});
afterAll(async () => t?.close());

const MINUTE = 60_000;
const meta = { requestId: 'req-test', ip: '192.0.2.7', userAgent: 'vitest' };

async function newUser(username: string, roles: Role[] = [], agency: string | null = null): Promise<{ id: string; password: string }> {
  const { user, password } = await accounts.create(t.cli, { username, displayName: username, roles, agencyId: agency });
  return { id: user.id, password };
}

function login(username: string, password: string, code?: string) {
  return accounts.login({ username, password, totpCode: code }, meta);
}

async function sessionContext(sessionToken: string): Promise<RequestContext> {
  const { actor } = await accounts.authenticateSession(sessionToken);
  return { actor, requestId: 'req-test', ip: meta.ip };
}

/** A context for an actor holding exactly these roles (as the HTTP layer builds it). */
function roleContext(roles: Role[], over: Partial<Actor> = {}): RequestContext {
  return { actor: { type: 'user', userId: null, name: `as-${roles.join('+')}`, roles, agencyId: null, permissions: permissionsOf(roles), ...over }, requestId: null, ip: null };
}

async function userRow(id: string) {
  return t.platform.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function auditActions(targetId: string): Promise<string[]> {
  const rows = await t.platform.audit.search({ targetId, limit: 100 });
  return rows.map((r) => r.action).reverse();
}

/** A 6-digit code that is valid for none of the steps around now. */
function wrongCode(secret: string): string {
  const step = currentStep(t.clock.now().getTime());
  const valid = new Set([-2, -1, 0, 1, 2].map((d) => totpCode(secret, step + d)));
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, '0');
    if (!valid.has(candidate)) return candidate;
  }
}

describe('initial administrators', () => {
  it('bootstrap created exactly one operator, one security admin and one auditor, each with a one-time password', async () => {
    for (const role of ADMIN_ROLES) {
      const holders = await accounts.list({ role, limit: 10 });
      expect(holders, role).toHaveLength(1);
      expect(holders[0]!.roles).toEqual([role]);
      expect(holders[0]!.mustChangePassword).toBe(true);
    }
    expect((await accounts.list({ role: 'operator', limit: 10 }))[0]!.username).toBe('operator');
    expect((await accounts.list({ role: 'securityAdmin', limit: 10 }))[0]!.username).toBe('secadmin');
    expect((await accounts.list({ role: 'auditor', limit: 10 }))[0]!.username).toBe('auditor');
  });

  it('ensureInitialAdmins is idempotent: a second run creates nobody', async () => {
    const before = await t.platform.db.selectFrom('users').select('id').execute();
    const again = await t.platform.bootstrap();
    expect(again).toEqual({ regionsLoaded: 0, calendar: { loaded: [], skipped: [] }, createdAdmins: [] });
    const direct = await t.platform.db.transaction().execute((trx) => accounts.ensureInitialAdmins(systemContext(), trx));
    expect(direct).toEqual([]);
    const after = await t.platform.db.selectFrom('users').select('id').execute();
    expect(after).toHaveLength(before.length);
  });
});

describe('the last administrator of each kind', () => {
  it('cannot lose the role or be deactivated', async () => {
    const auditor = await accounts.getByName('auditor');
    let e = await refused(accounts.setRoles(t.cli, auditor.id, []), 'GS_ERR_USER_LAST_ADMIN');
    expect(e.params.role).toBe('auditor');
    e = await refused(accounts.setActive(t.cli, auditor.id, false, 'leaving'), 'GS_ERR_USER_LAST_ADMIN');
    expect(e.params.role).toBe('auditor');
    const operator = await accounts.getByName('operator');
    e = await refused(accounts.setRoles(t.cli, operator.id, ['supervisor']), 'GS_ERR_USER_LAST_ADMIN');
    expect(e.params.role).toBe('operator');
    expect((await accounts.get(auditor.id)).active).toBe(true);
    expect((await accounts.get(auditor.id)).roles).toEqual(['auditor']);
  });

  it('can be replaced: with a second auditor the first may go, then the second is the last', async () => {
    const first = await accounts.getByName('auditor');
    const { id: second } = await newUser('auditor.two', ['auditor']);
    expect((await accounts.setActive(t.cli, first.id, false, 'rotation')).active).toBe(false);
    await refused(accounts.setActive(t.cli, second, false, 'oops'), 'GS_ERR_USER_LAST_ADMIN');
    await refused(accounts.setRoles(t.cli, second, []), 'GS_ERR_USER_LAST_ADMIN');
    expect((await accounts.setActive(t.cli, first.id, true, 'back')).active).toBe(true);
    expect(await auditActions(first.id)).toEqual(expect.arrayContaining(['user.deactivate', 'user.reactivate']));
  });

  it('two concurrent deactivations of the last two auditors cannot both succeed', async () => {
    if ((await accounts.list({ role: 'auditor', active: true, limit: 10 })).length < 2) await newUser('auditor.race', ['auditor']);
    const holders = await accounts.list({ role: 'auditor', active: true, limit: 10 });
    expect(holders).toHaveLength(2);
    const [first, second] = holders as [UserView, UserView];
    const results = await Promise.allSettled([accounts.setActive(t.cli, first.id, false, 'race'), accounts.setActive(t.cli, second.id, false, 'race')]);
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'GS_ERR_USER_LAST_ADMIN' });
    expect(await accounts.list({ role: 'auditor', active: true, limit: 10 })).toHaveLength(1);
    for (const u of [first, second]) if (!(await accounts.get(u.id)).active) await accounts.setActive(t.cli, u.id, true, 'restore');
  });
});

describe('creating users', () => {
  it('creates a user with a one-time password that passes the password rule', async () => {
    const { user, password } = await accounts.create(t.cli, { username: 'Wang.Fang', displayName: '王芳', email: 'wf@example.gov.cn', agencyId, roles: ['viewer'] });
    expect(user.username).toBe('wang.fang');
    expect(user.displayName).toBe('王芳');
    expect(user.mustChangePassword).toBe(true);
    expect(user.active).toBe(true);
    expect(user.roles).toEqual(['viewer']);
    expect(user.agencyId).toBe(agencyId);
    expect(checkPasswordRule(password, user.username)).toEqual([]);
    const row = await userRow(user.id);
    expect(row.passwordHash).toMatch(/^scrypt\$/);
    expect(row.passwordHash).not.toContain(password);
    // the one-time password logs in, and the user name is case-insensitive
    const r = await login('WANG.FANG', password);
    expect(r.user.id).toBe(user.id);
    expect(r.setupRequired).toEqual(['changePassword']);
    expect(await auditActions(user.id)).toContain('user.create');
  });

  it('refuses a user name that is taken, whatever its case', async () => {
    await newUser('dup.name');
    const e = await refused(accounts.create(t.cli, { username: 'dup.name', displayName: 'x' }), 'GS_ERR_USER_NAME_TAKEN');
    expect(e.params.username).toBe('dup.name');
    await refused(accounts.create(t.cli, { username: 'DUP.Name', displayName: 'x' }), 'GS_ERR_USER_NAME_TAKEN');
    expect(await accounts.list({ q: 'dup.name', limit: 10 })).toHaveLength(1);
  });

  it('三权分立: refuses two administrator roles on one account', async () => {
    const e = await refused(accounts.create(t.cli, { username: 'two.hats', displayName: 'x', roles: ['operator', 'auditor'] }), 'GS_ERR_USER_ROLE_CONFLICT');
    expect(e.message).toContain('operator');
    expect(e.message).toContain('auditor');
    expect(await accounts.list({ q: 'two.hats', limit: 10 })).toEqual([]);

    const { id } = await newUser('one.hat', ['securityAdmin']);
    await refused(accounts.setRoles(t.cli, id, ['securityAdmin', 'operator']), 'GS_ERR_USER_ROLE_CONFLICT');
    expect((await accounts.get(id)).roles).toEqual(['securityAdmin']);
  });

  it('三权分立: the database refuses two administrator roles even when written directly', async () => {
    const { id } = await newUser('sql.writer', ['operator']);
    await expect(sql`update users set roles = array['operator', 'auditor'] where id = ${id}`.execute(t.platform.db)).rejects.toThrow(/users_separation_of_duties/);
    await expect(
      sql`insert into users (id, username, display_name, roles, password_hash) values (gen_random_uuid(), 'sql.direct', 'x', array['securityAdmin', 'auditor'], 'x')`.execute(t.platform.db),
    ).rejects.toThrow(/users_separation_of_duties/);
    expect((await userRow(id)).roles).toEqual(['operator']);
  });

  it('refuses an agency role for an account without an agency', async () => {
    const e = await refused(accounts.create(t.cli, { username: 'no.agency', displayName: 'x', roles: ['cataloger'] }), 'GS_ERR_USER_ROLE_NEEDS_AGENCY');
    expect(e.params.role).toBe('cataloger');
    const { id } = await newUser('has.agency', ['reviewer'], agencyId);
    await refused(accounts.update(t.cli, id, { agencyId: null }), 'GS_ERR_USER_ROLE_NEEDS_AGENCY');
    const { id: plain } = await newUser('plain.user');
    await refused(accounts.setRoles(t.cli, plain, ['nodeAdmin']), 'GS_ERR_USER_ROLE_NEEDS_AGENCY');
  });

  it('refuses roles at creation from an actor without user:roles', async () => {
    const operator = roleContext(['operator']);
    expect(operator.actor.permissions.has('user:manage')).toBe(true);
    const e = await refused(accounts.create(operator, { username: 'by.operator', displayName: 'x', roles: ['viewer'], agencyId }), 'GS_ERR_AUTH_FORBIDDEN');
    expect(e.params.permission).toBe('user:roles');
    expect(await accounts.list({ q: 'by.operator', limit: 10 })).toEqual([]);
    // without roles the operator may create the account
    const { user } = await accounts.create(operator, { username: 'by.operator', displayName: 'x', agencyId });
    expect(user.roles).toEqual([]);
    // the security admin may set roles
    const { user: withRoles } = await accounts.create(roleContext(['securityAdmin']), { username: 'by.secadmin', displayName: 'x', roles: ['viewer'], agencyId });
    expect(withRoles.roles).toEqual(['viewer']);
  });

  it('a security admin cannot change their own roles', async () => {
    const { id } = await newUser('sec.self', ['securityAdmin']);
    const self = roleContext(['securityAdmin'], { userId: id, name: 'sec.self' });
    await refused(accounts.setRoles(self, id, ['securityAdmin', 'supervisor']), 'GS_ERR_USER_SELF_ROLES');
    await refused(accounts.setRoles(self, id, []), 'GS_ERR_USER_SELF_ROLES');
    expect((await accounts.get(id)).roles).toEqual(['securityAdmin']);
    // but may change someone else's
    const { id: other } = await newUser('sec.other', [], agencyId);
    expect((await accounts.setRoles(self, other, ['viewer'])).roles).toEqual(['viewer']);
    expect(await auditActions(other)).toEqual(['user.create', 'user.set-roles']);
  });

  it('refuses role changes by anyone without user:roles, also when called past the HTTP layer', async () => {
    const { id } = await newUser('role.target', [], agencyId);
    await refused(accounts.setRoles(roleContext(['operator']), id, ['viewer']), 'GS_ERR_AUTH_FORBIDDEN');
    expect((await accounts.get(id)).roles).toEqual([]);
  });
});

describe('login', () => {
  it('succeeds with the right password, resets failures and opens a session', async () => {
    const { id, password } = await newUser('login.ok');
    await refused(login('login.ok', 'wrong-password-1'), 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    await refused(login('login.ok', 'wrong-password-2'), 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    expect((await userRow(id)).failedAttempts).toBe(2);

    const r = await login('login.ok', password);
    expect(r.sessionToken).toMatch(/^gss_/);
    expect(r.expiresAt.getTime()).toBeGreaterThan(t.clock.now().getTime());
    const row = await userRow(id);
    expect(row.failedAttempts).toBe(0);
    expect(row.failedWindowStart).toBeNull();
    expect(row.lastLoginAt).toBeInstanceOf(Date);

    const sessions = await t.platform.db.selectFrom('sessions').selectAll().where('userId', '=', id).execute();
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.tokenHash).toBe(hashSecret(r.sessionToken));
    expect(sessions[0]!.ip).toBe(meta.ip);
    expect(JSON.stringify(sessions[0])).not.toContain(r.sessionToken);

    const { actor, setupRequired } = await accounts.authenticateSession(r.sessionToken);
    expect(actor).toMatchObject({ type: 'user', userId: id, name: 'login.ok', sessionId: sessions[0]!.id });
    expect(setupRequired).toEqual(['changePassword']);

    const events = await t.platform.audit.search({ action: 'auth.login', actorId: id, limit: 10 });
    expect(events.map((e) => e.outcome).sort()).toEqual(['failure', 'failure', 'success']);
  });

  it('refuses an unknown user with the same error as a wrong password, and audits it', async () => {
    await refused(login('nobody.here', 'whatever-1234'), 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    const events = await t.platform.audit.search({ action: 'auth.login', outcome: 'failure', limit: 50 });
    expect(events.some((e) => e.actorName === 'nobody.here' && e.targetId === null)).toBe(true);
  });

  it('refuses a deactivated account', async () => {
    const { id, password } = await newUser('login.gone');
    await accounts.setActive(t.cli, id, false, 'left');
    await refused(login('login.gone', password), 'GS_ERR_AUTH_ACCOUNT_INACTIVE');
  });

  it('ends a session after the idle timeout', async () => {
    const { password } = await newUser('login.idle');
    const { sessionToken } = await login('login.idle', password);
    t.clock.advance((t.config.sessionIdleMinutes + 1) * MINUTE);
    const e = await refused(accounts.authenticateSession(sessionToken), 'GS_ERR_AUTH_SESSION_EXPIRED');
    expect(e.params.reason).toBe('idle timeout');
  });

  it('counts failures in a 15-minute window: 4, a pause of 16 minutes, 4 more do not lock', async () => {
    const { id, password } = await newUser('lock.window');
    for (let i = 0; i < 4; i++) await refused(login('lock.window', `wrong-${i}`), 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    expect((await userRow(id)).failedAttempts).toBe(4);
    t.clock.advance(16 * MINUTE);
    for (let i = 0; i < 4; i++) await refused(login('lock.window', `wrong-again-${i}`), 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    const row = await userRow(id);
    expect(row.failedAttempts).toBe(4);
    expect(row.lockedUntil).toBeNull();
    expect((await login('lock.window', password)).user.id).toBe(id);
  });

  it('locks after 5 failures inside the window, for 15 minutes', async () => {
    const { id, password } = await newUser('lock.five');
    for (let i = 0; i < 5; i++) await refused(login('lock.five', `wrong-${i}`), 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    const e = await refused(login('lock.five', password), 'GS_ERR_AUTH_LOCKED');
    expect(e.params.attempts).toBe(5);
    const lockedUntil = (await userRow(id)).lockedUntil!;
    expect(lockedUntil.getTime() - t.clock.now().getTime()).toBeGreaterThan(14 * MINUTE);
    expect(lockedUntil.getTime() - t.clock.now().getTime()).toBeLessThanOrEqual(15 * MINUTE);
    expect((await accounts.get(id)).lockedUntil).toBe(lockedUntil.toISOString());

    t.clock.advance(14 * MINUTE);
    await refused(login('lock.five', password), 'GS_ERR_AUTH_LOCKED');
    t.clock.advance(2 * MINUTE);
    const r = await login('lock.five', password);
    expect(r.user.lockedUntil).toBeNull();
    expect((await userRow(id)).failedAttempts).toBe(0);
    const denied = await t.platform.audit.search({ action: 'auth.login', targetId: id, outcome: 'denied', limit: 10 });
    expect(denied.length).toBeGreaterThanOrEqual(2);
  });
});

describe('TOTP', () => {
  it('enrol, confirm, then every login needs a fresh code; a wrong code counts as a failure; a code works once', async () => {
    const { id, password } = await newUser('totp.user');
    const first = await login('totp.user', password);
    const ctx = await sessionContext(first.sessionToken);

    await refused(accounts.confirmTotp(ctx, '123456'), 'GS_ERR_AUTH_TOTP_NOT_ENROLLED');
    const { secret, otpauthUri } = await accounts.startTotpEnrolment(ctx);
    expect(otpauthUri).toContain(`secret=${secret}`);
    expect(otpauthUri).toContain('totp.user');
    await refused(accounts.confirmTotp(ctx, wrongCode(secret)), 'GS_ERR_AUTH_TOTP_INVALID');
    expect((await accounts.get(id)).totpEnabled).toBe(false);

    const enrolCode = totpCode(secret, currentStep(t.clock.now().getTime()));
    const enrolled = await accounts.confirmTotp(ctx, enrolCode);
    expect(enrolled.totpEnabled).toBe(true);
    const row = await userRow(id);
    // stored sealed under the master key, bound to this account: never the secret itself
    expect(row.totpSecret).toMatch(/^gsk1\./);
    expect(row.totpSecret).not.toContain(secret);
    expect(t.platform.keys.open(row.totpSecret!, `accounts.totp:${id}`).toString()).toBe(secret);
    expect(row.totpPendingSecret).toBeNull();
    await refused(accounts.startTotpEnrolment(ctx), 'GS_ERR_REQUEST_INVALID');

    await refused(login('totp.user', password), 'GS_ERR_AUTH_TOTP_REQUIRED');
    expect((await userRow(id)).failedAttempts).toBe(0);

    await refused(login('totp.user', password, wrongCode(secret)), 'GS_ERR_AUTH_TOTP_INVALID');
    expect((await userRow(id)).failedAttempts).toBe(1);

    // the code used to confirm enrolment cannot be used again
    await refused(login('totp.user', password, enrolCode), 'GS_ERR_AUTH_TOTP_INVALID');
    expect((await userRow(id)).failedAttempts).toBe(2);

    t.clock.advance(30_000);
    const fresh = totpCode(secret, currentStep(t.clock.now().getTime()));
    const ok = await login('totp.user', password, fresh);
    expect(ok.user.id).toBe(id);
    expect((await userRow(id)).failedAttempts).toBe(0);

    // replay of the code that just logged in
    await refused(login('totp.user', password, fresh), 'GS_ERR_AUTH_TOTP_INVALID');

    t.clock.advance(30_000);
    expect((await login('totp.user', password, totpCode(secret, currentStep(t.clock.now().getTime())))).user.id).toBe(id);
    expect(await auditActions(id)).toEqual(expect.arrayContaining(['user.totp-enrol-start', 'user.totp-enrol']));
  });

  it('reports TOTP enrolment as a setup step for administrators', async () => {
    const { password } = await newUser('totp.admin', ['securityAdmin']);
    const r = await login('totp.admin', password);
    expect(r.setupRequired).toEqual(['changePassword', 'enrolTotp']);
  });
});

describe('password change', () => {
  it('enforces the rule, refuses a wrong current password and ends the other sessions', async () => {
    const { id, password } = await newUser('pw.change');
    const a = await login('pw.change', password);
    const b = await login('pw.change', password);
    const ctxA = await sessionContext(a.sessionToken);

    let e = await refused(accounts.changePassword(ctxA, password, 'abc'), 'GS_ERR_AUTH_PASSWORD_RULE');
    expect(e.fields?.map((f) => f.rule)).toEqual(['tooShort', 'tooFewClasses']);
    expect(e.fields?.every((f) => f.field === 'body.newPassword' && f.message.length > 0)).toBe(true);
    e = await refused(accounts.changePassword(ctxA, password, 'My-pw.change-2024'), 'GS_ERR_AUTH_PASSWORD_RULE');
    expect(e.fields?.map((f) => f.rule)).toEqual(['containsUsername']);
    e = await refused(accounts.changePassword(ctxA, password, 'alllowercaseletters'), 'GS_ERR_AUTH_PASSWORD_RULE');
    expect(e.fields?.map((f) => f.rule)).toEqual(['tooFewClasses']);

    await refused(accounts.changePassword(ctxA, 'not-the-password-1A', STRONG_PASSWORD), 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    await refused(accounts.changePassword(ctxA, password, password), 'GS_ERR_AUTH_PASSWORD_REUSED');
    expect((await userRow(id)).mustChangePassword).toBe(true);
    const failures = await t.platform.audit.search({ action: 'user.change-password', targetId: id, outcome: 'failure', limit: 10 });
    expect(failures).toHaveLength(1);

    const after = await accounts.changePassword(ctxA, password, STRONG_PASSWORD);
    expect(after.mustChangePassword).toBe(false);
    expect((await userRow(id)).passwordChangedAt).toBeInstanceOf(Date);

    // the session that changed it lives on, the other one is over
    expect((await accounts.authenticateSession(a.sessionToken)).setupRequired).toEqual([]);
    e = await refused(accounts.authenticateSession(b.sessionToken), 'GS_ERR_AUTH_SESSION_EXPIRED');
    expect(e.params.reason).toBe('passwordChanged');

    await refused(login('pw.change', password), 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    expect((await login('pw.change', STRONG_PASSWORD)).user.id).toBe(id);
    expect(await auditActions(id)).toContain('user.change-password');
  });

  it('needs a user behind the request', async () => {
    await refused(accounts.changePassword(t.cli, 'x', STRONG_PASSWORD), 'GS_ERR_AUTH_REQUIRED');
  });
});

describe('password reset', () => {
  it('gives a new one-time password, ends sessions and lifts a lockout', async () => {
    const { id, password } = await newUser('pw.reset');
    const s = await login('pw.reset', password);
    for (let i = 0; i < 5; i++) await refused(login('pw.reset', `wrong-${i}`), 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    await refused(login('pw.reset', password), 'GS_ERR_AUTH_LOCKED');

    const reset = await accounts.resetPassword(t.cli, id);
    expect(reset.password).not.toBe(password);
    expect(checkPasswordRule(reset.password, 'pw.reset')).toEqual([]);
    expect(reset.user.mustChangePassword).toBe(true);
    expect(reset.user.lockedUntil).toBeNull();
    const e = await refused(accounts.authenticateSession(s.sessionToken), 'GS_ERR_AUTH_SESSION_EXPIRED');
    expect(e.params.reason).toBe('passwordReset');

    await refused(login('pw.reset', password), 'GS_ERR_AUTH_INVALID_CREDENTIALS');
    const r = await login('pw.reset', reset.password);
    expect(r.setupRequired).toContain('changePassword');
    expect(await auditActions(id)).toContain('user.reset-password');
  });
});

describe('API tokens', () => {
  const days = (n: number): Date => new Date(t.clock.now().getTime() + n * 86_400_000);

  it('scopes default to the permissions the user holds; the token authenticates with them', async () => {
    const { id } = await newUser('tok.default', ['operator']);
    const { token, view } = await accounts.createToken(t.cli, { userId: id, name: 'nightly sync', expiresAt: days(30) });
    expect(token).toMatch(/^gst_/);
    expect([...view.scopes].sort()).toEqual([...permissionsOf(['operator'])].sort());
    expect(view.revokedAt).toBeNull();
    expect(view.createdBy).toBe('cli:test');

    const { actor, setupRequired } = await accounts.authenticateToken(token);
    expect(actor).toMatchObject({ type: 'token', userId: id, name: 'tok.default', tokenId: view.id });
    expect([...actor.permissions].sort()).toEqual([...permissionsOf(['operator'])].sort());
    expect(setupRequired).toEqual([]);
    expect(await auditActions(view.id)).toEqual(['token.create']);
  });

  it('stores only the hash of the secret', async () => {
    const { id } = await newUser('tok.hash', ['supervisor']);
    const { token, view } = await accounts.createToken(t.cli, { userId: id, name: 'hash check', expiresAt: days(1) });
    const row = await t.platform.db.selectFrom('apiTokens').selectAll().where('id', '=', view.id).executeTakeFirstOrThrow();
    expect(row.tokenHash).toBe(hashSecret(token));
    const secretPart = token.slice('gst_'.length);
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(token);
    expect(stored).not.toContain(secretPart);
    const auditRows = await t.platform.audit.search({ targetId: view.id, limit: 10 });
    expect(JSON.stringify(auditRows)).not.toContain(secretPart);
  });

  it('refuses a scope the user does not hold, or that does not exist', async () => {
    const { id } = await newUser('tok.scope', ['operator']);
    let e = await refused(accounts.createToken(t.cli, { userId: id, name: 'x', scopes: ['agency:read', 'audit:read'], expiresAt: days(1) }), 'GS_ERR_TOKEN_SCOPE');
    expect(e.params.scope).toBe('audit:read');
    e = await refused(accounts.createToken(t.cli, { userId: id, name: 'x', scopes: ['root:everything'], expiresAt: days(1) }), 'GS_ERR_TOKEN_SCOPE');
    expect(e.params.scope).toBe('root:everything');
    expect(await accounts.listTokens(id, true)).toEqual([]);
  });

  it('refuses an expiry in the past or more than 366 days ahead', async () => {
    const { id } = await newUser('tok.expiry', ['supervisor']);
    await refused(accounts.createToken(t.cli, { userId: id, name: 'x', expiresAt: days(-1) }), 'GS_ERR_TOKEN_EXPIRY');
    await refused(accounts.createToken(t.cli, { userId: id, name: 'x', expiresAt: t.clock.now() }), 'GS_ERR_TOKEN_EXPIRY');
    await refused(accounts.createToken(t.cli, { userId: id, name: 'x', expiresAt: days(367) }), 'GS_ERR_TOKEN_EXPIRY');
    expect((await accounts.createToken(t.cli, { userId: id, name: 'a year', expiresAt: days(365) })).view.name).toBe('a year');
  });

  it('stops authenticating when it expires', async () => {
    const { id } = await newUser('tok.expires', ['supervisor']);
    const { token } = await accounts.createToken(t.cli, { userId: id, name: 'short', expiresAt: new Date(t.clock.now().getTime() + 60 * MINUTE) });
    await accounts.authenticateToken(token);
    t.clock.advance(61 * MINUTE);
    await refused(accounts.authenticateToken(token), 'GS_ERR_AUTH_TOKEN_INVALID');
    expect(await accounts.listTokens(id, false)).toEqual([]);
    expect(await accounts.listTokens(id, true)).toHaveLength(1);
  });

  it('can be revoked, after which it no longer authenticates', async () => {
    const { id } = await newUser('tok.revoke', ['supervisor']);
    const { token, view } = await accounts.createToken(t.cli, { userId: id, name: 'to revoke', expiresAt: days(10) });
    const { id: stranger } = await newUser('tok.stranger');
    await refused(accounts.revokeToken(t.cli, view.id, 'not yours', stranger), 'GS_ERR_TOKEN_NOT_FOUND');
    await accounts.authenticateToken(token);

    const revoked = await accounts.revokeToken(t.cli, view.id, 'leaked', id);
    expect(revoked.revokedAt).not.toBeNull();
    await refused(accounts.authenticateToken(token), 'GS_ERR_AUTH_TOKEN_INVALID');
    expect(await accounts.listTokens(id, false)).toEqual([]);
    expect(await auditActions(view.id)).toEqual(['token.create', 'token.revoke']);
    await refused(accounts.revokeToken(t.cli, 'not-a-uuid', 'x'), 'GS_ERR_TOKEN_NOT_FOUND');
  });

  it("grants the intersection of its scopes and the user's current roles", async () => {
    const { id } = await newUser('tok.roles', ['operator']);
    const all = await accounts.createToken(t.cli, { userId: id, name: 'all', expiresAt: days(10) });
    const narrow = await accounts.createToken(t.cli, { userId: id, name: 'narrow', scopes: ['agency:read', 'system:manage'], expiresAt: days(10) });
    expect(sortedPermissions((await accounts.authenticateToken(narrow.token)).actor)).toEqual(['agency:read', 'system:manage']);

    // the user loses the operator role: the tokens lose what only it granted
    await accounts.setRoles(t.cli, id, ['supervisor']);
    // (catalog:review is the supervisor's alone: the token, scoped to the operator's permissions, never had it)
    const operatorScopes = permissionsOf(['operator']);
    expect(sortedPermissions((await accounts.authenticateToken(all.token)).actor)).toEqual([...permissionsOf(['supervisor'])].filter((p) => operatorScopes.has(p)).sort());
    expect(sortedPermissions((await accounts.authenticateToken(all.token)).actor)).not.toContain('catalog:review');
    expect(sortedPermissions((await accounts.authenticateToken(narrow.token)).actor)).toEqual(['agency:read']);

    // and getting it back does not widen a token beyond its scopes
    await accounts.setRoles(t.cli, id, ['operator']);
    expect(sortedPermissions((await accounts.authenticateToken(narrow.token)).actor)).toEqual(['agency:read', 'system:manage']);
  });

  it('stops authenticating when its user is deactivated', async () => {
    const { id } = await newUser('tok.inactive', ['supervisor']);
    const { token } = await accounts.createToken(t.cli, { userId: id, name: 'x', expiresAt: days(10) });
    await accounts.setActive(t.cli, id, false, 'left');
    await refused(accounts.authenticateToken(token), 'GS_ERR_AUTH_ACCOUNT_INACTIVE');
    await refused(accounts.createToken(t.cli, { userId: id, name: 'y', expiresAt: days(10) }), 'GS_ERR_AUTH_ACCOUNT_INACTIVE');
  });
});

function sortedPermissions(actor: Actor): Permission[] {
  return [...actor.permissions].sort();
}

describe('TOTP secrets written in clear by an earlier version', () => {
  it('are sealed at start-up and keep working', async () => {
    const { id, password } = await newUser('totp.legacy', ['supervisor']);
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    // as the foundation release stored it
    await t.platform.db.updateTable('users').set({ totpSecret: secret, totpEnabled: true, totpLastStep: null }).where('id', '=', id).execute();
    const code = totpCode(secret, currentStep(t.clock.now().getTime()));
    expect((await login('totp.legacy', password, code)).user.id).toBe(id);
    await t.platform.bootstrap();
    const row = await userRow(id);
    expect(row.totpSecret).toMatch(/^gsk1\./);
    t.clock.advance(60_000);
    const later = totpCode(secret, currentStep(t.clock.now().getTime()));
    expect((await login('totp.legacy', password, later)).user.id).toBe(id);
  });
});
