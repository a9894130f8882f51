import type { Db } from '../../db/database.js';
import { GsError, invalidField } from '../../lib/errors.js';
import { checkPasswordRule, generatePassword, hashPassword, verifyPassword, type PasswordRuleProblem } from '../../lib/password.js';
import { checkVersion, stripUndefined } from '../../lib/records.js';
import { hashSecret, isUuid, newBearerSecret, newId } from '../../lib/secrets.js';
import { generateTotpSecret, totpUri, verifyTotp } from '../../lib/totp.js';
import type { Actor, RequestContext } from '../../server/actor.js';
import type { TotpPolicy } from '../../server/config.js';
import type { AuditService } from '../audit/service.js';
import type { KeyRing } from '../keys/key-ring.js';
import {
  ADMIN_ROLES,
  isPermission,
  permissionsOf,
  roleProblems,
  type Permission,
  type Role,
} from './permissions.js';
import type { SessionView, SetupStep, TokenView, UserView } from './schemas.js';
import { AccountStore, LOCKOUT, type AccountSelector, type ApiTokenRow, type UserQuery, type UserRow } from './store.js';

export type { SetupStep, TokenView, UserView } from './schemas.js';
export type { AccountSelector } from './store.js';

export interface AccountSettings {
  readonly totpPolicy: TotpPolicy;
  readonly sessionIdleMinutes: number;
  readonly sessionAbsoluteHours: number;
}

/** What the account service needs to know about agencies (it never reads their tables). */
export interface Recipient {
  readonly id: string;
  readonly agencyId: string | null;
  readonly email: string | null;
  readonly displayName: string;
}

export interface AgencyLookup {
  /** `executor`: the caller's transaction, when called inside one. */
  requireActive(id: string, executor?: Db): Promise<unknown>;
}

export interface Authenticated {
  readonly actor: Actor;
  readonly setupRequired: readonly SetupStep[];
  /**
   * SHA-256 fingerprint (hex) of the client certificate a certificate login bound the session to:
   * every request of the session must present it. Null for password sessions and tokens.
   */
  readonly certificateSha256: string | null;
}

export interface LoginMeta {
  readonly requestId: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export interface LoginResult {
  readonly sessionToken: string;
  readonly expiresAt: Date;
  readonly user: UserView;
  readonly setupRequired: SetupStep[];
}

/** A client certificate TLS verified against the platform CA and the PKI mapped to an account. */
export interface CertificateFactor {
  readonly certificateId: string;
  readonly userId: string;
  readonly serialNumber: string;
  /** SHA-256 of the certificate (DER), lowercase hex. */
  readonly sha256: string;
}

export interface NewUser {
  readonly username: string;
  readonly displayName: string;
  readonly agencyId?: string | null | undefined;
  readonly email?: string | null | undefined;
  readonly phone?: string | null | undefined;
  /** Only the security admin (user:roles) or the local CLI may set roles at creation. */
  readonly roles?: readonly Role[] | undefined;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toUserView(u: UserRow, now: Date): UserView {
  return {
    id: u.id,
    username: u.username,
    displayName: u.displayName,
    agencyId: u.agencyId,
    email: u.email,
    phone: u.phone,
    roles: u.roles,
    active: u.active,
    mustChangePassword: u.mustChangePassword,
    totpEnabled: u.totpEnabled,
    lockedUntil: u.lockedUntil && u.lockedUntil > now ? u.lockedUntil.toISOString() : null,
    lastLoginAt: iso(u.lastLoginAt),
    createdAt: u.createdAt.toISOString(),
    updatedAt: u.updatedAt.toISOString(),
    version: u.version,
  };
}

function toTokenView(t: ApiTokenRow): TokenView {
  return {
    id: t.id,
    userId: t.userId,
    name: t.name,
    scopes: t.scopes,
    expiresAt: t.expiresAt.toISOString(),
    createdAt: t.createdAt.toISOString(),
    createdBy: t.createdBy,
    lastUsedAt: iso(t.lastUsedAt),
    revokedAt: iso(t.revokedAt),
  };
}

/** A hash to verify against when the user does not exist, so timing does not reveal user names. */
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

/** Session `last_seen_at` is written at most this often, so reads do not each cost a write. */
const TOUCH_INTERVAL_MS = 60_000;

export const MAX_TOKEN_DAYS = 366;

/**
 * Accounts: users and roles (三权分立), password + TOTP login with lockout, sessions with idle and
 * absolute timeouts, and personal API tokens. Secrets are stored hashed (scrypt for passwords,
 * SHA-256 for random bearer secrets).
 */
export class AccountService {
  readonly #store: AccountStore;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly agencies: AgencyLookup,
    private readonly settings: AccountSettings,
    /** Seals TOTP secrets: a copy of the users table alone does not give anyone's second factor. */
    private readonly keys: KeyRing,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.#store = new AccountStore(db);
  }

  #sealTotp(userId: string, secret: string): string {
    return this.keys.seal(Buffer.from(secret, 'utf8'), totpContext(userId));
  }

  /** Secrets stored before they were sealed are read as they are (and sealed by `sealStoredTotpSecrets`). */
  #openTotp(userId: string, stored: string): string {
    return stored.startsWith('gsk1.') ? this.keys.open(stored, totpContext(userId)).toString('utf8') : stored;
  }

  /** Start-up: seals TOTP secrets written in clear by an earlier version. Idempotent. */
  async sealStoredTotpSecrets(trx: Db): Promise<number> {
    const rows = await trx
      .selectFrom('users')
      .select(['id', 'totpSecret', 'totpPendingSecret'])
      .where((eb) => eb.or([eb('totpSecret', 'not like', 'gsk1.%'), eb('totpPendingSecret', 'not like', 'gsk1.%')]))
      .execute();
    for (const r of rows) {
      await trx
        .updateTable('users')
        .set({
          totpSecret: r.totpSecret && !r.totpSecret.startsWith('gsk1.') ? this.#sealTotp(r.id, r.totpSecret) : r.totpSecret,
          totpPendingSecret: r.totpPendingSecret && !r.totpPendingSecret.startsWith('gsk1.') ? this.#sealTotp(r.id, r.totpPendingSecret) : r.totpPendingSecret,
        })
        .where('id', '=', r.id)
        .execute();
    }
    return rows.length;
  }

  // ---- users -------------------------------------------------------------------------------

  /**
   * The active accounts any of the selectors reaches, each once, with their agency and e-mail
   * address (notifications). Deactivated accounts are never reached.
   */
  async activeRecipients(selectors: readonly AccountSelector[], executor: Db = this.db): Promise<Recipient[]> {
    for (const s of selectors) {
      if ('accountIds' in s && s.accountIds.some((id) => !isUuid(id))) throw new GsError('GS_ERR_NOTIFICATION_NOTICE_INVALID', { reason: 'an account id is not a UUID', reasonZh: '账号编号不是 UUID' });
      if ('agencyId' in s && !isUuid(s.agencyId)) throw new GsError('GS_ERR_NOTIFICATION_NOTICE_INVALID', { reason: 'an agency id is not a UUID', reasonZh: '单位编号不是 UUID' });
    }
    const rows = await this.#store.activeMatching(selectors, executor);
    return rows.map((r) => ({ id: r.id, agencyId: r.agencyId, email: r.email, displayName: r.displayName }));
  }

  async get(id: string): Promise<UserView> {
    return toUserView(await this.#require(id), this.now());
  }

  async getByName(username: string): Promise<UserView> {
    const u = await this.#store.userByName(username.toLowerCase());
    if (!u) throw new GsError('GS_ERR_USER_NOT_FOUND', { id: username });
    return toUserView(u, this.now());
  }

  async list(q: UserQuery): Promise<UserView[]> {
    const now = this.now();
    return (await this.#store.listUsers(q)).map((u) => toUserView(u, now));
  }

  async #require(id: string, executor?: Db): Promise<UserRow> {
    const u = isUuid(id) ? await this.#store.userById(id, executor) : undefined;
    if (!u) throw new GsError('GS_ERR_USER_NOT_FOUND', { id });
    return u;
  }

  async create(ctx: RequestContext, input: NewUser, executor?: Db): Promise<{ user: UserView; password: string }> {
    const roles = [...new Set(input.roles ?? [])];
    if (roles.length > 0 && !canSetRoles(ctx.actor)) {
      throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: 'user:roles' });
    }
    const agencyId = input.agencyId ?? null;
    if (agencyId) await this.agencies.requireActive(agencyId, executor);
    this.#checkRoles(roles, agencyId !== null);
    const username = input.username.toLowerCase();
    const password = generatePassword();
    const passwordHash = await hashPassword(password);
    const id = newId();
    const run = async (trx: Db): Promise<void> => {
      if (await trx.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst()) {
        throw new GsError('GS_ERR_USER_NAME_TAKEN', { username });
      }
      await this.#store.insertUser(
        {
          id,
          username,
          displayName: input.displayName,
          agencyId,
          email: input.email ?? null,
          phone: input.phone ?? null,
          roles,
          passwordHash,
          mustChangePassword: true,
          active: true,
        },
        trx,
      );
      await this.audit.record(ctx, { action: 'user.create', targetType: 'user', targetId: id, details: { username, agencyId, roles } }, trx);
    };
    if (executor) await run(executor);
    else await this.db.transaction().execute(run);
    return { user: toUserView(await this.#require(id, executor), this.now()), password };
  }

  async update(
    ctx: RequestContext,
    id: string,
    patch: { displayName?: string | undefined; email?: string | null | undefined; phone?: string | null | undefined; agencyId?: string | null | undefined },
    expectedVersion?: number,
  ): Promise<UserView> {
    const before = await this.#require(id);
    checkVersion(expectedVersion, before.version);
    if (patch.agencyId !== undefined && patch.agencyId !== before.agencyId) {
      if (patch.agencyId) await this.agencies.requireActive(patch.agencyId);
      this.#checkRoles(before.roles as Role[], patch.agencyId !== null);
    }
    const changes = stripUndefined(patch);
    const after = await this.db.transaction().execute(async (trx) => {
      const row = await this.#store.updateUser(id, changes, this.now(), trx);
      await this.audit.record(ctx, { action: 'user.update', targetType: 'user', targetId: id, details: { changes } }, trx);
      return row!;
    });
    return toUserView(after, this.now());
  }

  async setActive(ctx: RequestContext, id: string, active: boolean, reason: string | undefined): Promise<UserView> {
    const user = await this.#require(id);
    if (ctx.actor.userId === id && !active) throw invalidField('id', 'notSelf', 'you cannot deactivate your own account');
    const now = this.now();
    const after = await this.db.transaction().execute(async (trx) => {
      if (!active) await this.#ensureNotLastAdmin(user.roles, [], trx);
      const row = await this.#store.updateUser(id, { active }, now, trx);
      if (!active) await this.#store.endUserSessions(id, 'deactivated', now, trx);
      await this.audit.record(ctx, { action: active ? 'user.reactivate' : 'user.deactivate', targetType: 'user', targetId: id, details: { reason: reason ?? null } }, trx);
      return row!;
    });
    return toUserView(after, now);
  }

  /** A new one-time password; the user must change it at next login. Also lifts a lockout. */
  async resetPassword(ctx: RequestContext, id: string): Promise<{ user: UserView; password: string }> {
    await this.#require(id);
    const password = generatePassword();
    const passwordHash = await hashPassword(password);
    const now = this.now();
    const after = await this.db.transaction().execute(async (trx) => {
      const row = await this.#store.updateUser(
        id,
        { passwordHash, mustChangePassword: true, failedAttempts: 0, failedWindowStart: null, lockedUntil: null },
        now,
        trx,
      );
      await this.#store.endUserSessions(id, 'passwordReset', now, trx);
      await this.audit.record(ctx, { action: 'user.reset-password', targetType: 'user', targetId: id }, trx);
      return row!;
    });
    return { user: toUserView(after, now), password };
  }

  async setRoles(ctx: RequestContext, id: string, roles: readonly Role[]): Promise<UserView> {
    if (!canSetRoles(ctx.actor)) throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: 'user:roles' });
    if (ctx.actor.userId === id) throw new GsError('GS_ERR_USER_SELF_ROLES');
    const user = await this.#require(id);
    const next = [...new Set(roles)];
    this.#checkRoles(next, user.agencyId !== null);
    const now = this.now();
    const after = await this.db.transaction().execute(async (trx) => {
      if (user.active) await this.#ensureNotLastAdmin(user.roles, next, trx);
      const row = await this.#store.updateUser(id, { roles: next }, now, trx);
      await this.audit.record(ctx, { action: 'user.set-roles', targetType: 'user', targetId: id, details: { from: user.roles, to: next } }, trx);
      return row!;
    });
    return toUserView(after, now);
  }

  /** Clears a user's authenticator (lost phone); they enrol again at next login. */
  async resetTotp(ctx: RequestContext, id: string): Promise<UserView> {
    await this.#require(id);
    const now = this.now();
    const after = await this.db.transaction().execute(async (trx) => {
      const row = await this.#store.updateUser(id, { totpEnabled: false, totpSecret: null, totpPendingSecret: null, totpLastStep: null }, now, trx);
      await this.#store.endUserSessions(id, 'totpReset', now, trx);
      await this.audit.record(ctx, { action: 'user.reset-totp', targetType: 'user', targetId: id }, trx);
      return row!;
    });
    return toUserView(after, now);
  }

  #checkRoles(roles: readonly Role[], hasAgency: boolean): void {
    const p = roleProblems(roles, hasAgency);
    if (p.conflict) throw new GsError('GS_ERR_USER_ROLE_CONFLICT', { roles: p.conflict.join(', ') });
    if (p.needsAgency) throw new GsError('GS_ERR_USER_ROLE_NEEDS_AGENCY', { role: p.needsAgency });
  }

  /** The platform must never lose its last operator, security admin or auditor. */
  async #ensureNotLastAdmin(before: readonly string[], after: readonly string[], trx: Db): Promise<void> {
    for (const role of ADMIN_ROLES) {
      if (before.includes(role) && !after.includes(role) && (await this.#store.lockActiveWithRole(role, trx)) <= 1) {
        throw new GsError('GS_ERR_USER_LAST_ADMIN', { role });
      }
    }
  }

  /**
   * Creates the first operator, security admin and auditor when the platform has none of that
   * role (idempotent). Runs in the caller's transaction, under the bootstrap lock.
   */
  async ensureInitialAdmins(ctx: RequestContext, trx: Db): Promise<{ username: string; role: Role; password: string }[]> {
    const created: { username: string; role: Role; password: string }[] = [];
    const names: Record<(typeof ADMIN_ROLES)[number], [string, string]> = {
      operator: ['operator', '平台管理员'],
      securityAdmin: ['secadmin', '安全管理员'],
      auditor: ['auditor', '审计管理员'],
    };
    for (const role of ADMIN_ROLES) {
      if ((await this.#store.countActiveWithRole(role, trx)) > 0) continue;
      let [username] = names[role];
      const [, displayName] = names[role];
      // A user of that name may exist without the role (renamed roles); pick a free name.
      for (let i = 2; await trx.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst(); i++) {
        username = `${names[role][0]}${i}`;
      }
      const { password } = await this.create(ctx, { username, displayName, roles: [role] }, trx);
      created.push({ username, role, password });
    }
    return created;
  }

  // ---- login and sessions ------------------------------------------------------------------

  totpRequired(roles: readonly string[]): boolean {
    return this.settings.totpPolicy === 'all' || roles.some((r) => (ADMIN_ROLES as readonly string[]).includes(r));
  }

  /** What is left to do before the account may work; a certificate login needs no authenticator. */
  #setupSteps(u: UserRow, certificateSession = false): SetupStep[] {
    const steps: SetupStep[] = [];
    if (u.mustChangePassword) steps.push('changePassword');
    if (this.totpRequired(u.roles) && !u.totpEnabled && !certificateSession) steps.push('enrolTotp');
    return steps;
  }

  /** Password (+ TOTP once enrolled, mandatory for the admin roles). */
  async login(input: { username: string; password: string; totpCode?: string | undefined }, meta: LoginMeta): Promise<LoginResult> {
    const username = input.username.toLowerCase();
    return this.#login(await this.#store.userByName(username), username, input.password, meta, { kind: 'password', totpCode: input.totpCode });
  }

  /**
   * A platform-issued client certificate (already verified by TLS and mapped to this account by
   * the PKI) plus the account's password: two factors of different kinds (等保 level 3), so no
   * authenticator code is asked. The session is bound to the certificate.
   */
  async loginWithCertificate(input: { password: string }, certificate: CertificateFactor, meta: LoginMeta): Promise<LoginResult> {
    const user = await this.#store.userById(certificate.userId);
    return this.#login(user, user?.username ?? certificate.userId, input.password, meta, { kind: 'certificate', certificate });
  }

  async #login(
    user: UserRow | undefined,
    username: string,
    password: string,
    meta: LoginMeta,
    factor: { kind: 'password'; totpCode: string | undefined } | { kind: 'certificate'; certificate: CertificateFactor },
  ): Promise<LoginResult> {
    const now = this.now();
    const anon: RequestContext = {
      actor: { type: 'anonymous', userId: user?.id ?? null, name: username.slice(0, 64), roles: [], agencyId: null, permissions: new Set() },
      requestId: meta.requestId,
      ip: meta.ip,
    };
    const method = factor.kind === 'certificate' ? { method: 'certificate', certificateId: factor.certificate.certificateId, serialNumber: factor.certificate.serialNumber } : { method: 'password' };
    const fail = async (code: 'GS_ERR_AUTH_INVALID_CREDENTIALS' | 'GS_ERR_AUTH_TOTP_INVALID', reason: string): Promise<never> => {
      let details: Record<string, unknown> = { reason, ...method };
      if (user) {
        const r = await this.#store.registerFailure(user.id, now);
        details = { ...details, failedAttempts: r.failedAttempts, locked: r.lockedUntil !== null && r.lockedUntil > now };
      }
      await this.audit.record(anon, { action: 'auth.login', targetType: 'user', targetId: user?.id ?? null, outcome: 'failure', details });
      throw new GsError(code);
    };
    if (!user) {
      await verifyPassword(password, DUMMY_HASH);
      return fail('GS_ERR_AUTH_INVALID_CREDENTIALS', 'unknownUser');
    }
    if (user.lockedUntil && user.lockedUntil > now) {
      await this.audit.record(anon, { action: 'auth.login', targetType: 'user', targetId: user.id, outcome: 'denied', details: { reason: 'locked', ...method } });
      throw new GsError('GS_ERR_AUTH_LOCKED', { attempts: LOCKOUT.attempts, until: user.lockedUntil.toISOString() });
    }
    if (!(await verifyPassword(password, user.passwordHash))) return fail('GS_ERR_AUTH_INVALID_CREDENTIALS', 'wrongPassword');
    if (!user.active) {
      await this.audit.record(anon, { action: 'auth.login', targetType: 'user', targetId: user.id, outcome: 'denied', details: { reason: 'inactive', ...method } });
      throw new GsError('GS_ERR_AUTH_ACCOUNT_INACTIVE');
    }
    if (factor.kind === 'password' && user.totpEnabled && user.totpSecret) {
      if (!factor.totpCode) throw new GsError('GS_ERR_AUTH_TOTP_REQUIRED');
      const step = verifyTotp(this.#openTotp(user.id, user.totpSecret), factor.totpCode, now.getTime(), user.totpLastStep);
      if (step === null || !(await this.#store.useTotpStep(user.id, step))) return fail('GS_ERR_AUTH_TOTP_INVALID', 'wrongTotp');
    }
    const certificate = factor.kind === 'certificate' ? factor.certificate : null;
    const sessionToken = newBearerSecret('gss');
    const expiresAt = new Date(now.getTime() + this.settings.sessionAbsoluteHours * 3_600_000);
    const sessionId = newId();
    await this.db.transaction().execute(async (trx) => {
      await this.#store.updateUser(user.id, { failedAttempts: 0, failedWindowStart: null, lockedUntil: null, lastLoginAt: now }, now, trx);
      await trx
        .insertInto('sessions')
        .values({
          id: sessionId,
          userId: user.id,
          tokenHash: hashSecret(sessionToken),
          createdAt: now,
          lastSeenAt: now,
          expiresAt,
          ip: meta.ip,
          userAgent: meta.userAgent?.slice(0, 512) ?? null,
          certificateId: certificate?.certificateId ?? null,
          certificateSha256: certificate?.sha256 ?? null,
        })
        .execute();
      await this.audit.record(
        { ...anon, actor: { ...anon.actor, type: 'user', name: user.username } },
        { action: 'auth.login', targetType: 'session', targetId: sessionId, details: { ...method, totp: factor.kind === 'password' && user.totpEnabled } },
        trx,
      );
    });
    const fresh = await this.#require(user.id);
    return { sessionToken, expiresAt, user: toUserView(fresh, now), setupRequired: this.#setupSteps(fresh, certificate !== null) };
  }

  /** Ends the sessions opened with a certificate that was just revoked (in the revocation's transaction). */
  endCertificateSessions(certificateId: string, trx: Db): Promise<number> {
    return this.#store.endCertificateSessions(certificateId, 'certificateRevoked', this.now(), trx);
  }

  #actorFor(user: UserRow, type: 'user' | 'token', permissions: Set<Permission>, ids: { sessionId?: string; tokenId?: string }): Actor {
    return { type, userId: user.id, name: user.username, roles: user.roles as Role[], agencyId: user.agencyId, permissions, ...ids };
  }

  /** The actor behind a session cookie, or a GS_ERR_AUTH_* error. */
  async authenticateSession(sessionToken: string): Promise<Authenticated> {
    const now = this.now();
    const found = await this.#store.sessionWithUser(hashSecret(sessionToken));
    if (!found || found.session.endedAt) throw new GsError('GS_ERR_AUTH_SESSION_EXPIRED', { reason: found?.session.endReason ?? 'unknown session' });
    const { session, user } = found;
    if (session.expiresAt <= now) {
      await this.#store.endSession(session.id, 'absoluteTimeout', now);
      throw new GsError('GS_ERR_AUTH_SESSION_EXPIRED', { reason: 'absolute timeout' });
    }
    if (session.lastSeenAt.getTime() + this.settings.sessionIdleMinutes * 60_000 <= now.getTime()) {
      await this.#store.endSession(session.id, 'idleTimeout', now);
      throw new GsError('GS_ERR_AUTH_SESSION_EXPIRED', { reason: 'idle timeout' });
    }
    if (!user.active) throw new GsError('GS_ERR_AUTH_ACCOUNT_INACTIVE');
    if (now.getTime() - session.lastSeenAt.getTime() > TOUCH_INTERVAL_MS) await this.#store.touchSession(session.id, now, new Date(now.getTime() - TOUCH_INTERVAL_MS));
    return {
      actor: this.#actorFor(user, 'user', permissionsOf(user.roles), { sessionId: session.id }),
      setupRequired: this.#setupSteps(user, session.certificateId !== null),
      certificateSha256: session.certificateSha256,
    };
  }

  /** The actor behind an API token: the user's current permissions, narrowed to the token's scopes. */
  async authenticateToken(token: string): Promise<Authenticated> {
    const now = this.now();
    const found = await this.#store.tokenWithUser(hashSecret(token));
    if (!found || found.token.revokedAt || found.token.expiresAt <= now) throw new GsError('GS_ERR_AUTH_TOKEN_INVALID');
    const { token: row, user } = found;
    if (!user.active) throw new GsError('GS_ERR_AUTH_ACCOUNT_INACTIVE');
    const held = permissionsOf(user.roles);
    const permissions = new Set([...held].filter((p) => row.scopes.includes(p)));
    if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) {
      await this.#store.touchToken(row.id, now, new Date(now.getTime() - TOUCH_INTERVAL_MS));
    }
    // Tokens are for scripts; setup steps (password change, TOTP) concern interactive logins.
    return { actor: this.#actorFor(user, 'token', permissions, { tokenId: row.id }), setupRequired: [], certificateSha256: null };
  }

  async logout(ctx: RequestContext): Promise<void> {
    if (!ctx.actor.sessionId) return;
    await this.#store.endSession(ctx.actor.sessionId, 'logout', this.now());
    await this.audit.record(ctx, { action: 'auth.logout', targetType: 'session', targetId: ctx.actor.sessionId });
  }

  /** The account's sessions still in force (not ended, not past either timeout). */
  async listSessions(ctx: RequestContext): Promise<SessionView[]> {
    const now = this.now();
    const rows = await this.#store.activeSessions(selfId(ctx), now, new Date(now.getTime() - this.settings.sessionIdleMinutes * 60_000));
    return rows.map((s) => ({
      id: s.id,
      createdAt: s.createdAt.toISOString(),
      lastSeenAt: s.lastSeenAt.toISOString(),
      expiresAt: s.expiresAt.toISOString(),
      ip: s.ip,
      userAgent: s.userAgent,
      current: s.id === ctx.actor.sessionId,
    }));
  }

  /** Ends one of your own sessions (a browser left logged in elsewhere). */
  async endOwnSession(ctx: RequestContext, sessionId: string): Promise<void> {
    const session = isUuid(sessionId) ? await this.#store.sessionById(sessionId) : undefined;
    if (!session || session.userId !== selfId(ctx) || session.endedAt) throw new GsError('GS_ERR_AUTH_SESSION_NOT_FOUND', { id: sessionId });
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('sessions').set({ endedAt: this.now(), endReason: 'endedByOwner' }).where('id', '=', sessionId).execute();
      await this.audit.record(ctx, { action: 'auth.end-session', targetType: 'session', targetId: sessionId }, trx);
    });
  }

  /** Ends every session of an account (a lost device, a suspected compromise). */
  async endAllSessions(ctx: RequestContext, userId: string, reason: string): Promise<void> {
    await this.#require(userId);
    await this.db.transaction().execute(async (trx) => {
      await this.#store.endUserSessions(userId, 'endedByAdministrator', this.now(), trx);
      await this.audit.record(ctx, { action: 'user.end-sessions', targetType: 'user', targetId: userId, details: { reason } }, trx);
    });
  }

  async changePassword(ctx: RequestContext, currentPassword: string, newPassword: string): Promise<UserView> {
    const user = await this.#require(selfId(ctx));
    if (!(await verifyPassword(currentPassword, user.passwordHash))) {
      await this.audit.record(ctx, { action: 'user.change-password', targetType: 'user', targetId: user.id, outcome: 'failure', details: { reason: 'wrongCurrentPassword' } });
      throw new GsError('GS_ERR_AUTH_INVALID_CREDENTIALS');
    }
    const problems = checkPasswordRule(newPassword, user.username);
    if (problems.length > 0) {
      throw new GsError('GS_ERR_AUTH_PASSWORD_RULE', { problems: problems.join(', ') }, problems.map((p) => ({ field: 'body.newPassword', rule: p, message: PASSWORD_PROBLEM_TEXT[p] })));
    }
    if (currentPassword === newPassword) throw new GsError('GS_ERR_AUTH_PASSWORD_REUSED');
    const passwordHash = await hashPassword(newPassword);
    const now = this.now();
    const after = await this.db.transaction().execute(async (trx) => {
      const row = await this.#store.updateUser(user.id, { passwordHash, mustChangePassword: false, passwordChangedAt: now }, now, trx);
      // Other sessions were opened with the old password: end them.
      await this.#store.endUserSessions(user.id, 'passwordChanged', now, trx, ctx.actor.sessionId);
      await this.audit.record(ctx, { action: 'user.change-password', targetType: 'user', targetId: user.id }, trx);
      return row!;
    });
    return toUserView(after, now);
  }

  async startTotpEnrolment(ctx: RequestContext): Promise<{ secret: string; otpauthUri: string }> {
    const user = await this.#require(selfId(ctx));
    if (user.totpEnabled) throw invalidField('totp', 'alreadyEnrolled', 'an authenticator is already enrolled; ask the security administrator to reset it');
    const secret = generateTotpSecret();
    await this.db.transaction().execute(async (trx) => {
      await this.#store.updateUser(user.id, { totpPendingSecret: this.#sealTotp(user.id, secret) }, this.now(), trx);
      await this.audit.record(ctx, { action: 'user.totp-enrol-start', targetType: 'user', targetId: user.id }, trx);
    });
    return { secret, otpauthUri: totpUri(secret, user.username, 'govshare') };
  }

  async confirmTotp(ctx: RequestContext, code: string): Promise<UserView> {
    const user = await this.#require(selfId(ctx));
    if (!user.totpPendingSecret) throw new GsError('GS_ERR_AUTH_TOTP_NOT_ENROLLED');
    const now = this.now();
    const step = verifyTotp(this.#openTotp(user.id, user.totpPendingSecret), code, now.getTime(), null);
    if (step === null) throw new GsError('GS_ERR_AUTH_TOTP_INVALID');
    const after = await this.db.transaction().execute(async (trx) => {
      const row = await this.#store.updateUser(user.id, { totpSecret: user.totpPendingSecret, totpPendingSecret: null, totpEnabled: true, totpLastStep: step }, now, trx);
      await this.audit.record(ctx, { action: 'user.totp-enrol', targetType: 'user', targetId: user.id }, trx);
      return row!;
    });
    return toUserView(after, now);
  }

  // ---- API tokens --------------------------------------------------------------------------

  /**
   * A personal API token. Scopes default to every permission the user holds; a scope the user
   * does not hold is refused. The secret is shown once; only its hash is stored.
   */
  async createToken(
    ctx: RequestContext,
    input: { userId: string; name: string; scopes?: readonly string[] | undefined; expiresAt: Date },
  ): Promise<{ token: string; view: TokenView }> {
    const user = await this.#require(input.userId);
    if (!user.active) throw new GsError('GS_ERR_AUTH_ACCOUNT_INACTIVE');
    const now = this.now();
    const held = permissionsOf(user.roles);
    const scopes = input.scopes ? [...new Set(input.scopes)] : [...held];
    for (const s of scopes) if (!isPermission(s) || !held.has(s)) throw new GsError('GS_ERR_TOKEN_SCOPE', { scope: s });
    if (!(input.expiresAt > now)) throw new GsError('GS_ERR_TOKEN_EXPIRY', { expires: input.expiresAt.toISOString(), reason: 'must be in the future' });
    if (input.expiresAt.getTime() - now.getTime() > MAX_TOKEN_DAYS * 86_400_000) {
      throw new GsError('GS_ERR_TOKEN_EXPIRY', { expires: input.expiresAt.toISOString(), reason: `at most ${MAX_TOKEN_DAYS} days ahead` });
    }
    const token = newBearerSecret('gst');
    const id = newId();
    await this.db.transaction().execute(async (trx) => {
      await this.#store.insertToken({ id, userId: user.id, name: input.name, tokenHash: hashSecret(token), scopes, expiresAt: input.expiresAt, createdBy: ctx.actor.name }, trx);
      await this.audit.record(ctx, { action: 'token.create', targetType: 'apiToken', targetId: id, details: { userId: user.id, name: input.name, scopes, expiresAt: input.expiresAt.toISOString() } }, trx);
    });
    return { token, view: toTokenView((await this.#store.tokenById(id))!) };
  }

  async listTokens(userId: string | undefined, includeInactive: boolean): Promise<TokenView[]> {
    return (await this.#store.listTokens(userId, includeInactive, this.now())).map(toTokenView);
  }

  /** Revokes a token. `ownerId` limits it to that user's tokens (self-service). */
  async revokeToken(ctx: RequestContext, id: string, reason: string, ownerId?: string): Promise<TokenView> {
    const row = isUuid(id) ? await this.#store.tokenById(id) : undefined;
    if (!row || (ownerId !== undefined && row.userId !== ownerId)) throw new GsError('GS_ERR_TOKEN_NOT_FOUND', { id });
    await this.db.transaction().execute(async (trx) => {
      await this.#store.revokeToken(id, reason, this.now(), trx);
      await this.audit.record(ctx, { action: 'token.revoke', targetType: 'apiToken', targetId: id, details: { reason, userId: row.userId } }, trx);
    });
    return toTokenView((await this.#store.tokenById(id))!);
  }
}

export const PASSWORD_PROBLEM_TEXT: Record<PasswordRuleProblem, string> = {
  tooShort: 'at least 12 characters',
  tooLong: 'at most 256 characters',
  tooFewClasses: 'at least 3 of: lowercase, uppercase, digit, other character',
  containsUsername: 'must not contain the user name',
};

function canSetRoles(actor: Actor): boolean {
  return actor.type === 'cli' || actor.type === 'system' || actor.permissions.has('user:roles');
}

function selfId(ctx: RequestContext): string {
  if (!ctx.actor.userId) throw new GsError('GS_ERR_AUTH_REQUIRED');
  return ctx.actor.userId;
}

function totpContext(userId: string): string {
  return `accounts.totp:${userId}`;
}
