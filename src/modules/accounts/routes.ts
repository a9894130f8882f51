import { Type } from 'typebox';
import { needs, PUBLIC, self } from '../../server/access.js';
import { API_PREFIX, SESSION_COOKIE, type GsApp } from '../../server/app.js';
import { GsError } from '../../lib/errors.js';
import { LoginThrottle } from '../../server/login-throttle.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, IdParams, Limit, literals, nextCursor, page } from '../../server/schema-kit.js';
import { permissionsOf, ROLES } from './permissions.js';
import { presentedCertificate } from '../../server/client-certificate.js';
import {
  ApiToken,
  CertificateLoginBody,
  LoginBody,
  Session,
  LoginReply,
  Me,
  PasswordBody,
  RolesBody,
  TokenCreate,
  TokenCreated,
  TotpConfirmBody,
  TotpEnrolReply,
  User,
  UserCreate,
  UserPatch,
  UserWithPassword,
} from './schemas.js';

const Ok = Type.Object({ ok: Type.Boolean() });
const ReasonBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false });
const OptionalReasonBody = Type.Object({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) }, { additionalProperties: false });

export async function accountRoutes(app: GsApp, platform: Platform): Promise<void> {
  const { accounts, config } = platform;

  const throttle = new LoginThrottle(config.loginAttemptsPerMinute, platform.now);

  const cookie = (value: string, maxAgeSeconds: number): string =>
    [`${SESSION_COOKIE}=${encodeURIComponent(value)}`, `Path=${API_PREFIX}`, 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAgeSeconds}`, ...(config.secureCookies || config.consoleTls ? ['Secure'] : [])].join('; ');

  // ---- authentication ----------------------------------------------------------------------

  app.post(
    '/auth/login',
    {
      config: { access: PUBLIC },
      schema: {
        tags: ['auth'],
        summary: 'Log in with password (+ TOTP code once enrolled); sets the session cookie',
        body: LoginBody,
        response: { 200: LoginReply, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      const wait = throttle.take(req.ip);
      if (wait > 0) {
        await platform.audit.record(req.ctx, { action: 'auth.login', targetType: 'address', targetId: req.ip, outcome: 'denied', details: { reason: 'rateLimited', username: req.body.username.slice(0, 64) } });
        throw new GsError('GS_ERR_AUTH_RATE_LIMITED', { retryAfterSeconds: wait });
      }
      const r = await accounts.login(req.body, { requestId: req.id, ip: req.ip, userAgent: req.headers['user-agent'] ?? null });
      reply.header('set-cookie', cookie(r.sessionToken, config.sessionAbsoluteHours * 3600));
      return { user: r.user, setupRequired: r.setupRequired, expiresAt: r.expiresAt.toISOString() };
    },
  );

  app.post(
    '/auth/login/certificate',
    {
      config: { access: PUBLIC },
      schema: {
        tags: ['auth'],
        summary: 'Log in with a platform-issued client certificate (presented over HTTPS on this port) plus the password; sets the session cookie',
        description: 'Needs GOVSHARE_CONSOLE_TLS. The certificate replaces the authenticator code (two factors of different kinds); the session is bound to the certificate and ends when it is revoked.',
        body: CertificateLoginBody,
        response: { 200: LoginReply, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      const wait = throttle.take(req.ip);
      if (wait > 0) {
        await platform.audit.record(req.ctx, { action: 'auth.login', targetType: 'address', targetId: req.ip, outcome: 'denied', details: { reason: 'rateLimited', method: 'certificate' } });
        throw new GsError('GS_ERR_AUTH_RATE_LIMITED', { retryAfterSeconds: wait });
      }
      const presented = presentedCertificate(req.raw);
      if (!presented.ok) {
        await platform.audit.record(req.ctx, { action: 'auth.login', targetType: 'address', targetId: req.ip, outcome: 'denied', details: { reason: presented.trusted ? 'noCertificate' : 'untrustedCertificate', method: 'certificate', detail: presented.reason } });
        throw new GsError(presented.trusted ? 'GS_ERR_AUTH_CERT_REQUIRED' : 'GS_ERR_AUTH_CERT_UNTRUSTED', { reason: presented.reason });
      }
      const { certificate } = presented;
      let identity;
      try {
        identity = await platform.pki.identify(certificate);
      } catch (e) {
        await platform.audit.record(req.ctx, { action: 'auth.login', targetType: 'certificate', targetId: certificate.serialNumber, outcome: 'denied', details: { reason: e instanceof GsError ? e.code : 'error', method: 'certificate' } });
        throw e;
      }
      if (identity.subjectType !== 'user') {
        await platform.audit.record(req.ctx, { action: 'auth.login', targetType: 'certificate', targetId: identity.certificateId, outcome: 'denied', details: { reason: 'notAUserCertificate', method: 'certificate', subjectType: identity.subjectType } });
        throw new GsError('GS_ERR_AUTH_CERT_NOT_USER', { subjectType: identity.subjectType });
      }
      const r = await accounts.loginWithCertificate(
        req.body,
        { certificateId: identity.certificateId, userId: identity.subjectId, serialNumber: identity.serialNumber, sha256: certificate.sha256 },
        { requestId: req.id, ip: req.ip, userAgent: req.headers['user-agent'] ?? null },
      );
      reply.header('set-cookie', cookie(r.sessionToken, config.sessionAbsoluteHours * 3600));
      return { user: r.user, setupRequired: r.setupRequired, expiresAt: r.expiresAt.toISOString() };
    },
  );

  app.post(
    '/auth/logout',
    { config: { access: self({ duringSetup: true }) }, schema: { tags: ['auth'], summary: 'End this session', response: { 200: Ok, ...ERROR_RESPONSES } } },
    async (req, reply) => {
      await accounts.logout(req.ctx);
      reply.header('set-cookie', cookie('', 0));
      return { ok: true };
    },
  );

  app.get(
    '/auth/me',
    { config: { access: self({ duringSetup: true }) }, schema: { tags: ['auth'], summary: 'The account behind this session or token', response: { 200: Me, ...ERROR_RESPONSES } } },
    async (req) => {
      const user = await accounts.get(req.ctx.actor.userId!);
      return { user, permissions: [...req.ctx.actor.permissions], setupRequired: [...req.setupRequired], totpRequired: accounts.totpRequired(user.roles) };
    },
  );

  app.post(
    '/auth/password',
    { config: { access: self({ duringSetup: true }) }, schema: { tags: ['auth'], summary: 'Change your password (ends your other sessions)', body: PasswordBody, response: { 200: User, ...ERROR_RESPONSES } } },
    async (req) => accounts.changePassword(req.ctx, req.body.currentPassword, req.body.newPassword),
  );

  app.post(
    '/auth/totp/enrol',
    { config: { access: self({ duringSetup: true }) }, schema: { tags: ['auth'], summary: 'Start authenticator (TOTP) enrolment', response: { 200: TotpEnrolReply, ...ERROR_RESPONSES } } },
    async (req) => accounts.startTotpEnrolment(req.ctx),
  );

  app.post(
    '/auth/totp/confirm',
    { config: { access: self({ duringSetup: true }) }, schema: { tags: ['auth'], summary: 'Confirm enrolment with a first code', body: TotpConfirmBody, response: { 200: User, ...ERROR_RESPONSES } } },
    async (req) => accounts.confirmTotp(req.ctx, req.body.code),
  );

  app.get(
    '/me/sessions',
    {
      config: { access: self({ duringSetup: true }) },
      schema: { tags: ['auth'], summary: 'Your sessions still in force', response: { 200: Type.Object({ items: Type.Array(Session) }), ...ERROR_RESPONSES } },
    },
    async (req) => ({ items: await accounts.listSessions(req.ctx) }),
  );

  app.post(
    '/me/sessions/:id/end',
    { config: { access: self({ duringSetup: true }) }, schema: { tags: ['auth'], summary: 'End one of your sessions (e.g. a browser left logged in elsewhere)', params: IdParams, response: { 200: Ok, ...ERROR_RESPONSES } } },
    async (req) => {
      await accounts.endOwnSession(req.ctx, req.params.id);
      return { ok: true };
    },
  );

  // ---- personal API tokens -----------------------------------------------------------------

  app.get(
    '/me/tokens',
    {
      config: { access: self() },
      schema: {
        tags: ['tokens'],
        summary: 'Your API tokens',
        querystring: Type.Object({ includeInactive: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(ApiToken) }), ...ERROR_RESPONSES },
      },
    },
    async (req) => ({ items: await accounts.listTokens(req.ctx.actor.userId!, req.query.includeInactive ?? false) }),
  );

  app.post(
    '/me/tokens',
    { config: { access: self() }, schema: { tags: ['tokens'], summary: 'Create an API token for scripts (shown once)', body: TokenCreate, response: { 201: TokenCreated, ...ERROR_RESPONSES } } },
    async (req, reply) => {
      const expiresAt = new Date(platform.now().getTime() + req.body.expiresInDays * 86_400_000);
      const r = await accounts.createToken(req.ctx, { userId: req.ctx.actor.userId!, name: req.body.name, scopes: req.body.scopes, expiresAt });
      return reply.status(201).send({ token: r.token, apiToken: r.view });
    },
  );

  app.post(
    '/me/tokens/:id/revoke',
    { config: { access: self() }, schema: { tags: ['tokens'], summary: 'Revoke one of your tokens', params: IdParams, body: OptionalReasonBody, response: { 200: ApiToken, ...ERROR_RESPONSES } } },
    async (req) => accounts.revokeToken(req.ctx, req.params.id, req.body.reason ?? 'revoked by owner', req.ctx.actor.userId!),
  );

  app.get(
    '/tokens',
    {
      config: { access: needs('token:manage') },
      schema: {
        tags: ['tokens'],
        summary: "Every account's API tokens",
        querystring: Type.Object({ userId: Type.Optional(Type.String({ format: 'uuid' })), includeInactive: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(ApiToken) }), ...ERROR_RESPONSES },
      },
    },
    async (req) => ({ items: await accounts.listTokens(req.query.userId, req.query.includeInactive ?? false) }),
  );

  app.post(
    '/tokens/:id/revoke',
    { config: { access: needs('token:manage') }, schema: { tags: ['tokens'], summary: "Revoke any account's token", params: IdParams, body: ReasonBody, response: { 200: ApiToken, ...ERROR_RESPONSES } } },
    async (req) => accounts.revokeToken(req.ctx, req.params.id, req.body.reason),
  );

  // ---- users (operator: accounts; security admin: roles) -----------------------------------

  app.get(
    '/users',
    {
      config: { access: needs('user:read') },
      schema: {
        tags: ['users'],
        summary: 'List accounts',
        querystring: Type.Object(
          {
            agencyId: Type.Optional(Type.String({ format: 'uuid' })),
            role: Type.Optional(literals(ROLES)),
            q: Type.Optional(Type.String({ maxLength: 64 })),
            active: Type.Optional(Type.Boolean()),
            after: Type.Optional(Type.String({ maxLength: 64 })),
            limit: Limit,
          },
          { additionalProperties: false },
        ),
        response: { 200: page(User), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const items = await accounts.list({ ...req.query, limit });
      return { items, next: nextCursor(items, limit, (u) => u.username) };
    },
  );

  app.post(
    '/users',
    {
      config: { access: needs('user:manage') },
      schema: { tags: ['users'], summary: 'Create an account with a one-time password', body: UserCreate, response: { 201: UserWithPassword, ...ERROR_RESPONSES } },
    },
    async (req, reply) => {
      const r = await accounts.create(req.ctx, req.body);
      return reply.status(201).send({ user: r.user, oneTimePassword: r.password });
    },
  );

  app.get(
    '/users/:id',
    { config: { access: needs('user:read') }, schema: { tags: ['users'], summary: 'One account', params: IdParams, response: { 200: User, ...ERROR_RESPONSES } } },
    async (req) => accounts.get(req.params.id),
  );

  app.patch(
    '/users/:id',
    { config: { access: needs('user:manage') }, schema: { tags: ['users'], summary: 'Change an account', params: IdParams, body: UserPatch, response: { 200: User, ...ERROR_RESPONSES } } },
    async (req) => {
      const { expectedVersion, ...patch } = req.body;
      return accounts.update(req.ctx, req.params.id, patch, expectedVersion);
    },
  );

  app.post(
    '/users/:id/deactivate',
    { config: { access: needs('user:manage') }, schema: { tags: ['users'], summary: 'Deactivate an account (ends its sessions)', params: IdParams, body: ReasonBody, response: { 200: User, ...ERROR_RESPONSES } } },
    async (req) => accounts.setActive(req.ctx, req.params.id, false, req.body.reason),
  );

  app.post(
    '/users/:id/reactivate',
    { config: { access: needs('user:manage') }, schema: { tags: ['users'], summary: 'Reactivate an account', params: IdParams, body: ReasonBody, response: { 200: User, ...ERROR_RESPONSES } } },
    async (req) => accounts.setActive(req.ctx, req.params.id, true, req.body.reason),
  );

  app.post(
    '/users/:id/reset-password',
    {
      config: { access: needs('user:manage') },
      schema: { tags: ['users'], summary: 'Issue a one-time password (also lifts a lockout)', params: IdParams, response: { 200: UserWithPassword, ...ERROR_RESPONSES } },
    },
    async (req) => {
      const r = await accounts.resetPassword(req.ctx, req.params.id);
      return { user: r.user, oneTimePassword: r.password };
    },
  );

  app.post(
    '/users/:id/end-sessions',
    {
      config: { access: needs('user:manage') },
      schema: { tags: ['users'], summary: 'End every session of an account (lost device, suspected compromise)', params: IdParams, body: ReasonBody, response: { 200: Ok, ...ERROR_RESPONSES } },
    },
    async (req) => {
      await accounts.endAllSessions(req.ctx, req.params.id, req.body.reason);
      return { ok: true };
    },
  );

  app.put(
    '/users/:id/roles',
    {
      config: { access: needs('user:roles') },
      schema: { tags: ['users'], summary: 'Set the roles of an account (security administrator; 三权分立 enforced)', params: IdParams, body: RolesBody, response: { 200: User, ...ERROR_RESPONSES } },
    },
    async (req) => accounts.setRoles(req.ctx, req.params.id, req.body.roles),
  );

  app.post(
    '/users/:id/reset-totp',
    {
      config: { access: needs('user:roles') },
      schema: { tags: ['users'], summary: "Clear an account's authenticator; it enrols again at next login", params: IdParams, response: { 200: User, ...ERROR_RESPONSES } },
    },
    async (req) => accounts.resetTotp(req.ctx, req.params.id),
  );

  app.get(
    '/roles',
    {
      config: { access: self() },
      schema: {
        tags: ['users'],
        summary: 'The roles and the permissions each grants',
        response: { 200: Type.Object({ items: Type.Array(Type.Object({ role: Type.String(), permissions: Type.Array(Type.String()) })) }), ...ERROR_RESPONSES },
      },
    },
    async () => ({ items: ROLES.map((role) => ({ role, permissions: [...permissionsOf([role])] })) }),
  );
}
