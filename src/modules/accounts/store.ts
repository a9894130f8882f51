import { sql, type Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { ApiTokensTable, SessionsTable, UsersTable } from '../../db/schema.js';
import { escapeLike } from '../regions/store.js';

export type UserRow = Selectable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type ApiTokenRow = Selectable<ApiTokensTable>;

export interface UserQuery {
  readonly agencyId?: string | undefined;
  readonly role?: string | undefined;
  readonly q?: string | undefined;
  readonly active?: boolean | undefined;
  readonly after?: string | undefined;
  readonly limit: number;
}

/** Who a notification reaches (see AccountService.activeRecipients). */
export type AccountSelector =
  | { readonly agencyId: string; readonly roles: readonly string[] }
  | { readonly role: string }
  | { readonly accountIds: readonly string[] };

/** Lockout rule: this many failures inside the window lock the account for the window's length. */
export const LOCKOUT = { attempts: 5, windowMinutes: 15 } as const;

export class AccountStore {
  constructor(private readonly db: Db) {}

  userById(id: string, executor: Db = this.db): Promise<UserRow | undefined> {
    return executor.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  userByName(username: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  }

  listUsers(q: UserQuery): Promise<UserRow[]> {
    let query = this.db.selectFrom('users').selectAll();
    if (q.agencyId) query = query.where('agencyId', '=', q.agencyId);
    if (q.role) query = query.where(sql<boolean>`${q.role} = any(roles)`);
    if (q.active !== undefined) query = query.where('active', '=', q.active);
    if (q.q) {
      const like = `%${escapeLike(q.q)}%`;
      query = query.where((eb) => eb.or([eb('username', 'like', like), eb('displayName', 'like', like)]));
    }
    if (q.after) query = query.where('username', '>', q.after);
    return query.orderBy('username').limit(q.limit).execute();
  }

  async insertUser(row: Omit<UserRow, 'createdAt' | 'updatedAt' | 'version' | 'failedAttempts' | 'failedWindowStart' | 'lockedUntil' | 'lastLoginAt' | 'totpLastStep' | 'totpPendingSecret' | 'totpSecret' | 'totpEnabled' | 'passwordChangedAt'>, executor: Db): Promise<void> {
    await executor.insertInto('users').values(row).execute();
  }

  async updateUser(id: string, patch: Partial<Omit<UserRow, 'id' | 'createdAt' | 'version'>>, now: Date, executor: Db = this.db): Promise<UserRow | undefined> {
    return executor
      .updateTable('users')
      .set({ ...patch, updatedAt: now, version: sql<number>`version + 1` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  /** Counts one failed login atomically (safe with several servers) and locks when the limit is hit. */
  async registerFailure(id: string, now: Date): Promise<{ failedAttempts: number; lockedUntil: Date | null }> {
    const windowStart = new Date(now.getTime() - LOCKOUT.windowMinutes * 60_000);
    const lockUntil = new Date(now.getTime() + LOCKOUT.windowMinutes * 60_000);
    const fresh = sql<boolean>`(failed_window_start is null or failed_window_start < ${windowStart})`;
    const row = await this.db
      .updateTable('users')
      .set({
        failedAttempts: sql<number>`case when ${fresh} then 1 else failed_attempts + 1 end`,
        failedWindowStart: sql<Date>`case when ${fresh} then ${now} else failed_window_start end`,
        lockedUntil: sql<Date | null>`case when (case when ${fresh} then 1 else failed_attempts + 1 end) >= ${LOCKOUT.attempts} then ${lockUntil} else locked_until end`,
      })
      .where('id', '=', id)
      .returning(['failedAttempts', 'lockedUntil'])
      .executeTakeFirstOrThrow();
    return row;
  }

  /** Marks a TOTP step used; false when that step (or a later one) was already used: a replay. */
  async useTotpStep(id: string, step: number): Promise<boolean> {
    const r = await this.db
      .updateTable('users')
      .set({ totpLastStep: step })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('totpLastStep', 'is', null), eb('totpLastStep', '<', step)]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * Active accounts matching any selector (each once): those of an agency holding one of the
   * roles, every holder of a role, or accounts by id. For notifications.
   */
  activeMatching(selectors: readonly AccountSelector[], executor: Db = this.db): Promise<Pick<UserRow, 'id' | 'agencyId' | 'email' | 'displayName'>[]> {
    if (selectors.length === 0) return Promise.resolve([]);
    return executor
      .selectFrom('users')
      .select(['id', 'agencyId', 'email', 'displayName'])
      .where('active', '=', true)
      .where((eb) =>
        eb.or(
          selectors.map((s) => {
            if ('accountIds' in s) return s.accountIds.length > 0 ? eb('id', 'in', [...s.accountIds]) : eb.val(false);
            if ('agencyId' in s) {
              const roles = s.roles.length > 0 ? eb.or(s.roles.map((r) => sql<boolean>`${r} = any(roles)`)) : eb.val(false);
              return eb.and([eb('agencyId', '=', s.agencyId), roles]);
            }
            return sql<boolean>`${s.role} = any(roles)`;
          }),
        ),
      )
      .orderBy('id')
      .execute();
  }

  countActiveWithRole(role: string, executor: Db = this.db): Promise<number> {
    return executor
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('active', '=', true)
      .where(sql<boolean>`${role} = any(roles)`)
      .executeTakeFirstOrThrow()
      .then((r) => Number(r.n));
  }

  /**
   * Like countActiveWithRole, but locks those users' rows until the transaction ends, so two
   * concurrent transactions each removing a different holder cannot both see the other still there.
   */
  async lockActiveWithRole(role: string, trx: Db): Promise<number> {
    const rows = await trx
      .selectFrom('users')
      .select('id')
      .where('active', '=', true)
      .where(sql<boolean>`${role} = any(roles)`)
      .forUpdate()
      .execute();
    return rows.length;
  }

  // sessions

  sessionWithUser(tokenHash: string): Promise<{ session: SessionRow; user: UserRow } | undefined> {
    return this.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.userId')
      .selectAll('users')
      .select([
        'sessions.id as sessionId',
        'sessions.tokenHash as sessionTokenHash',
        'sessions.createdAt as sessionCreatedAt',
        'sessions.lastSeenAt as sessionLastSeenAt',
        'sessions.expiresAt as sessionExpiresAt',
        'sessions.endedAt as sessionEndedAt',
        'sessions.endReason as sessionEndReason',
        'sessions.ip as sessionIp',
        'sessions.userAgent as sessionUserAgent',
        'sessions.certificateId as sessionCertificateId',
        'sessions.certificateSha256 as sessionCertificateSha256',
      ])
      .where('sessions.tokenHash', '=', tokenHash)
      .executeTakeFirst()
      .then((r) => {
        if (!r) return undefined;
        const {
          sessionId,
          sessionTokenHash,
          sessionCreatedAt,
          sessionLastSeenAt,
          sessionExpiresAt,
          sessionEndedAt,
          sessionEndReason,
          sessionIp,
          sessionUserAgent,
          sessionCertificateId,
          sessionCertificateSha256,
          ...user
        } = r;
        return {
          user,
          session: {
            id: sessionId,
            userId: user.id,
            tokenHash: sessionTokenHash,
            createdAt: sessionCreatedAt,
            lastSeenAt: sessionLastSeenAt,
            expiresAt: sessionExpiresAt,
            endedAt: sessionEndedAt,
            endReason: sessionEndReason,
            ip: sessionIp,
            userAgent: sessionUserAgent,
            certificateId: sessionCertificateId,
            certificateSha256: sessionCertificateSha256,
          },
        };
      });
  }

  /**
   * Records activity unless someone already did since `staleBefore`: concurrent requests of one
   * session then write the row once instead of queueing on its lock.
   */
  activeSessions(userId: string, now: Date, idleSince: Date): Promise<SessionRow[]> {
    return this.db
      .selectFrom('sessions')
      .selectAll()
      .where('userId', '=', userId)
      .where('endedAt', 'is', null)
      .where('expiresAt', '>', now)
      .where('lastSeenAt', '>', idleSince)
      .orderBy('createdAt', 'desc')
      .limit(1000)
      .execute();
  }

  sessionById(id: string): Promise<SessionRow | undefined> {
    return this.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async touchSession(id: string, now: Date, staleBefore: Date): Promise<void> {
    await this.db.updateTable('sessions').set({ lastSeenAt: now }).where('id', '=', id).where('lastSeenAt', '<', staleBefore).execute();
  }

  async endSession(id: string, reason: string, now: Date): Promise<void> {
    await this.db.updateTable('sessions').set({ endedAt: now, endReason: reason }).where('id', '=', id).where('endedAt', 'is', null).execute();
  }

  /** Ends the sessions opened with one client certificate (it was revoked). Returns how many. */
  async endCertificateSessions(certificateId: string, reason: string, now: Date, executor: Db = this.db): Promise<number> {
    const r = await executor.updateTable('sessions').set({ endedAt: now, endReason: reason }).where('certificateId', '=', certificateId).where('endedAt', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async endUserSessions(userId: string, reason: string, now: Date, executor: Db = this.db, exceptSessionId?: string): Promise<void> {
    let q = executor.updateTable('sessions').set({ endedAt: now, endReason: reason }).where('userId', '=', userId).where('endedAt', 'is', null);
    if (exceptSessionId) q = q.where('id', '<>', exceptSessionId);
    await q.execute();
  }

  // API tokens

  async insertToken(row: Omit<ApiTokenRow, 'createdAt' | 'lastUsedAt' | 'revokedAt' | 'revokedReason'>, executor: Db = this.db): Promise<void> {
    await executor.insertInto('apiTokens').values(row).execute();
  }

  tokenWithUser(tokenHash: string): Promise<{ token: ApiTokenRow; user: UserRow } | undefined> {
    return this.db
      .selectFrom('apiTokens')
      .innerJoin('users', 'users.id', 'apiTokens.userId')
      .selectAll('users')
      .select([
        'apiTokens.id as tokenId',
        'apiTokens.name as tokenName',
        'apiTokens.tokenHash as tokenTokenHash',
        'apiTokens.scopes as tokenScopes',
        'apiTokens.expiresAt as tokenExpiresAt',
        'apiTokens.createdAt as tokenCreatedAt',
        'apiTokens.createdBy as tokenCreatedBy',
        'apiTokens.lastUsedAt as tokenLastUsedAt',
        'apiTokens.revokedAt as tokenRevokedAt',
        'apiTokens.revokedReason as tokenRevokedReason',
      ])
      .where('apiTokens.tokenHash', '=', tokenHash)
      .executeTakeFirst()
      .then((r) => {
        if (!r) return undefined;
        const { tokenId, tokenName, tokenTokenHash, tokenScopes, tokenExpiresAt, tokenCreatedAt, tokenCreatedBy, tokenLastUsedAt, tokenRevokedAt, tokenRevokedReason, ...user } = r;
        return {
          user,
          token: {
            id: tokenId,
            userId: user.id,
            name: tokenName,
            tokenHash: tokenTokenHash,
            scopes: tokenScopes,
            expiresAt: tokenExpiresAt,
            createdAt: tokenCreatedAt,
            createdBy: tokenCreatedBy,
            lastUsedAt: tokenLastUsedAt,
            revokedAt: tokenRevokedAt,
            revokedReason: tokenRevokedReason,
          },
        };
      });
  }

  tokenById(id: string): Promise<ApiTokenRow | undefined> {
    return this.db.selectFrom('apiTokens').selectAll().where('id', '=', id).executeTakeFirst();
  }

  listTokens(userId: string | undefined, includeInactive: boolean, now: Date): Promise<ApiTokenRow[]> {
    let q = this.db.selectFrom('apiTokens').selectAll();
    if (userId) q = q.where('userId', '=', userId);
    if (!includeInactive) q = q.where('revokedAt', 'is', null).where('expiresAt', '>', now);
    return q.orderBy('createdAt', 'desc').limit(1000).execute();
  }

  /** Like touchSession: at most one write per token per interval. */
  async touchToken(id: string, now: Date, staleBefore: Date): Promise<void> {
    await this.db
      .updateTable('apiTokens')
      .set({ lastUsedAt: now })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('lastUsedAt', 'is', null), eb('lastUsedAt', '<', staleBefore)]))
      .execute();
  }

  async revokeToken(id: string, reason: string, now: Date, executor: Db = this.db): Promise<boolean> {
    const r = await executor
      .updateTable('apiTokens')
      .set({ revokedAt: now, revokedReason: reason })
      .where('id', '=', id)
      .where('revokedAt', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
