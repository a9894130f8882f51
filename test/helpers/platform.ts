import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HTTPMethods, RouteOptions } from 'fastify';
import pino from 'pino';
import { expect } from 'vitest';
import { GsError, type ErrorCode } from '../../src/lib/errors.js';
import { createTestDatabase } from '../../src/db/test-database.js';
import { totpCode, currentStep } from '../../src/lib/totp.js';
import type { Role } from '../../src/modules/accounts/permissions.js';
import { cliContext, type RequestContext } from '../../src/server/actor.js';
import { PERMISSIONS, permissionsOf } from '../../src/modules/accounts/permissions.js';
import type { Access } from '../../src/server/access.js';
import { buildApp, type GsApp } from '../../src/server/app.js';
import { loadConfig, type Config } from '../../src/server/config.js';
import { Platform } from '../../src/server/platform.js';

/** A clock tests can move forward (idle timeouts, lockout windows, token expiry). */
export class TestClock {
  #offsetMs = 0;
  now = (): Date => new Date(Date.now() + this.#offsetMs);
  advance(ms: number): void {
    this.#offsetMs += ms;
  }
}

export interface TestPlatform {
  readonly platform: Platform;
  readonly app: GsApp;
  readonly config: Config;
  readonly clock: TestClock;
  readonly cli: RequestContext;
  close(): Promise<void>;
}

/** One migrated, bootstrapped platform and its HTTP app for a test file. */
export async function createTestPlatform(overrides: Partial<Config> = {}): Promise<TestPlatform> {
  // Blobs (attachments) go to a folder of this test's own, not the default data directory.
  const blobDir = overrides.blobStore === undefined ? mkdtempSync(join(tmpdir(), 'govshare-test-blobs-')) : undefined;
  // Tests log in many times from one address; the throttle has its own test.
  const config = loadConfig({ env: {}, overrides: { logLevel: 'silent', loginAttemptsPerMinute: 1_000_000, ...(blobDir ? { blobStore: blobDir } : {}), ...overrides } });
  const database = await createTestDatabase();
  const clock = new TestClock();
  const platform = Platform.fromDatabase(database, config, clock.now);
  await platform.bootstrap();
  platform.markReady();
  const app = await buildApp({ platform, config, logger: pino({ level: 'silent' }) });
  await app.ready();
  return {
    platform,
    app,
    config,
    clock,
    cli: cliContext('test', new Set(PERMISSIONS)),
    close: async () => {
      await app.close();
      await platform.close();
      if (blobDir) rmSync(blobDir, { recursive: true, force: true });
    },
  };
}

/** A logged-in user holding one role (of an agency, or none), as services see it. */
export function userContext(role: Role, agencyId: string | null, name: string): RequestContext {
  return { actor: { type: 'user', userId: null, name, roles: [role], agencyId, permissions: permissionsOf([role]) }, requestId: null, ip: null };
}

/** Any valid agency input; `n` makes code and USCC unique. */
export function agencyInput(n: number, over: Record<string, unknown> = {}) {
  return {
    code: `AG${String(n).padStart(4, '0')}`,
    nameZh: `测试单位${n}`,
    uscc: usccFor(n),
    regionCode: '430400',
    level: 'prefecture' as const,
    ...over,
  };
}

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** A valid USCC (机关 category 11, Hengyang region) derived from n. */
export function usccFor(n: number): string {
  const body = `11430400${String(n).padStart(9, '0')}`;
  const sum = [...body].reduce((acc, c, i) => acc + USCC_CHARS.indexOf(c) * USCC_WEIGHTS[i]!, 0);
  return body + USCC_CHARS[(31 - (sum % 31)) % 31];
}

export const STRONG_PASSWORD = 'Correct-Horse-9-Battery';

export interface LoggedIn {
  readonly userId: string;
  readonly cookie: string;
  readonly headers: { cookie: string };
}

function sessionCookie(setCookie: string | string[] | undefined): string {
  const raw = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  const m = /gs_session=([^;]*)/.exec(raw ?? '');
  if (!m?.[1]) throw new Error(`no session cookie in ${String(raw)}`);
  return `gs_session=${m[1]}`;
}

/**
 * Creates a user with roles, finishes first-login setup through the real API (password change,
 * TOTP enrolment when required) and returns a logged-in session.
 */
export async function userWithRoles(t: TestPlatform, username: string, roles: Role[], agencyId: string | null = null): Promise<LoggedIn & { totpSecret: string | null }> {
  const { user, password } = await t.platform.accounts.create(t.cli, { username, displayName: username, roles, agencyId });
  const login = async (pw: string, totpCodeValue?: string) =>
    t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: pw, ...(totpCodeValue ? { totpCode: totpCodeValue } : {}) } });
  let r = await login(password);
  if (r.statusCode !== 200) throw new Error(`login failed: ${r.body}`);
  let cookie = sessionCookie(r.headers['set-cookie']);
  r = await t.app.inject({ method: 'POST', url: '/api/v1/auth/password', headers: { cookie }, payload: { currentPassword: password, newPassword: STRONG_PASSWORD } });
  if (r.statusCode !== 200) throw new Error(`password change failed: ${r.body}`);
  let totpSecret: string | null = null;
  if (t.platform.accounts.totpRequired(roles)) {
    r = await t.app.inject({ method: 'POST', url: '/api/v1/auth/totp/enrol', headers: { cookie } });
    totpSecret = (r.json() as { secret: string }).secret;
    const step = currentStep(t.clock.now().getTime());
    r = await t.app.inject({ method: 'POST', url: '/api/v1/auth/totp/confirm', headers: { cookie }, payload: { code: totpCode(totpSecret, step - 1) } });
    if (r.statusCode !== 200) throw new Error(`totp confirm failed: ${r.body}`);
    // log in again with both factors
    r = await login(STRONG_PASSWORD, totpCode(totpSecret, step));
    if (r.statusCode !== 200) throw new Error(`second login failed: ${r.body}`);
    cookie = sessionCookie(r.headers['set-cookie']);
  }
  return { userId: user.id, cookie, headers: { cookie }, totpSecret };
}

export { sessionCookie };

/** The GsError a promise rejects with; fails the test if it succeeds or throws something else. */
export async function caught(p: Promise<unknown>): Promise<GsError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof GsError)) throw new Error(`expected a GsError, got ${e === undefined ? 'success' : String(e)}`);
  return e;
}

/** Asserts the promise is refused with `code`; returns the error for further checks. */
export async function refused(p: Promise<unknown>, code: ErrorCode): Promise<GsError> {
  const e = await caught(p);
  expect(e.code, e.message).toBe(code);
  return e;
}

export interface RegisteredRoute {
  readonly method: HTTPMethods;
  readonly url: string;
  readonly access: Access | undefined;
  readonly hidden: boolean;
}

/**
 * A second app on the test platform, built with a hook that records every route it registers —
 * except HEAD twins of GET routes, the Swagger UI's own files and the catch-all, which are not API
 * routes. Close the app before the platform.
 */
export async function appRecordingRoutes(t: TestPlatform): Promise<{ app: GsApp; routes: RegisteredRoute[] }> {
  const routes: RegisteredRoute[] = [];
  const app = await buildApp({
    platform: t.platform,
    config: t.config,
    logger: pino({ level: 'silent' }),
    onRoute: (route: RouteOptions) => {
      for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
        if (method === 'HEAD' || route.url.startsWith('/api/docs') || route.url === '*') continue;
        const schema = route.schema as { hide?: boolean } | undefined;
        routes.push({ method, url: route.url, access: route.config?.access, hidden: schema?.hide === true });
      }
    },
  });
  await app.ready();
  return { app, routes };
}
