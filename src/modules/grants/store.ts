import { sql, type Insertable, type Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { GrantEventsTable, GrantsTable } from '../../db/schema.js';
import type { GrantMethod, GrantStatus } from './vocabulary.js';

export type GrantRow = Selectable<GrantsTable>;
export type GrantEventRow = Selectable<GrantEventsTable>;

export interface GrantQuery {
  readonly agencyId?: string | undefined;
  readonly side?: 'consumer' | 'provider' | undefined;
  readonly systemId?: string | undefined;
  readonly resourceCode?: string | undefined;
  readonly method?: GrantMethod | undefined;
  readonly statuses?: readonly GrantStatus[] | undefined;
  /** In force (active or suspended) and ending on or before this day. */
  readonly endingBy?: string | undefined;
  readonly after?: string | undefined;
  readonly limit: number;
}

/** The only SQL over grants and their events (the grant check reads them through check-store.ts). */
export class GrantStore {
  constructor(private readonly db: Db) {}

  byId(id: string, executor: Db = this.db, forUpdate = false): Promise<GrantRow | undefined> {
    let q = executor.selectFrom('grants').selectAll().where('id', '=', id);
    if (forUpdate) q = q.forUpdate();
    return q.executeTakeFirst();
  }

  forRequest(requestId: string): Promise<GrantRow[]> {
    return this.db.selectFrom('grants').selectAll().where('requestId', '=', requestId).orderBy('createdAt').execute();
  }

  list(q: GrantQuery): Promise<GrantRow[]> {
    let query = this.db.selectFrom('grants').selectAll();
    if (q.agencyId) {
      const agencyId = q.agencyId;
      if (q.side === 'consumer') query = query.where('consumerAgencyId', '=', agencyId);
      else if (q.side === 'provider') query = query.where('providerAgencyId', '=', agencyId);
      else query = query.where((eb) => eb.or([eb('consumerAgencyId', '=', agencyId), eb('providerAgencyId', '=', agencyId)]));
    }
    if (q.systemId) query = query.where('consumerSystemId', '=', q.systemId);
    if (q.resourceCode) query = query.where('resourceCode', '=', q.resourceCode);
    if (q.method) query = query.where('shareMethod', '=', q.method);
    if (q.statuses && q.statuses.length > 0) query = query.where('status', 'in', [...q.statuses]);
    if (q.endingBy) query = query.where('validUntil', '<=', q.endingBy).where('status', 'in', ['active', 'suspended']);
    if (q.after) query = query.where('id', '>', q.after);
    return query.orderBy('id').limit(q.limit).execute();
  }

  insert(row: Omit<Insertable<GrantsTable>, 'version' | 'createdAt' | 'updatedAt'>, now: Date, executor: Db): Promise<GrantRow> {
    return executor
      .insertInto('grants')
      .values({ ...row, createdAt: now, updatedAt: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  setStatus(id: string, patch: { status: GrantStatus; statusReason: string | null; statusChangedBy: string; statusChangedAt: Date }, now: Date, executor: Db): Promise<GrantRow> {
    return executor
      .updateTable('grants')
      .set({ ...patch, updatedAt: now, version: sql<number>`version + 1` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async markReminded(id: string, now: Date, executor: Db): Promise<void> {
    await executor.updateTable('grants').set({ expiryRemindedAt: now }).where('id', '=', id).execute();
  }

  async addEvent(e: Omit<Insertable<GrantEventsTable>, 'id' | 'details'> & { details?: Record<string, unknown> }, executor: Db): Promise<void> {
    await executor
      .insertInto('grantEvents')
      .values({ ...e, details: JSON.stringify(e.details ?? {}) })
      .execute();
  }

  events(grantIds: readonly string[]): Promise<GrantEventRow[]> {
    if (grantIds.length === 0) return Promise.resolve([]);
    return this.db.selectFrom('grantEvents').selectAll().where('grantId', 'in', [...grantIds]).orderBy('id').execute();
  }

  /** Grants in force whose last day is before `today`, locked for this sweep (others skip them). */
  endedBefore(today: string, limit: number, trx: Db): Promise<GrantRow[]> {
    return trx.selectFrom('grants').selectAll().where('status', 'in', ['active', 'suspended']).where('validUntil', '<', today).orderBy('validUntil').limit(limit).forUpdate().skipLocked().execute();
  }

  /** Active grants ending on or before `by` whose consumer was not reminded yet. */
  endingUnreminded(by: string, limit: number, trx: Db): Promise<GrantRow[]> {
    return trx
      .selectFrom('grants')
      .selectAll()
      .where('status', '=', 'active')
      .where('validUntil', '<=', by)
      .where('expiryRemindedAt', 'is', null)
      .orderBy('validUntil')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
  }
}
