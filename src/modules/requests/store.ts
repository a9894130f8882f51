import { sql, type Insertable, type Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { ShareRequestEventsTable, ShareRequestsTable } from '../../db/schema.js';
import type { AttachmentKind, RequestStatus } from './vocabulary.js';

export type ShareRequestRow = Selectable<ShareRequestsTable>;
export type ShareRequestEventRow = Selectable<ShareRequestEventsTable>;
export type ShareRequestPatch = Partial<Omit<ShareRequestRow, 'id' | 'number' | 'consumerAgencyId' | 'providerAgencyId' | 'entryId' | 'createdBy' | 'createdAt' | 'updatedAt' | 'version'>>;

export interface ShareRequestQuery {
  /** Only requests this agency filed or was asked (agency users), or only one side of them. */
  readonly agencyId?: string | undefined;
  readonly side?: 'consumer' | 'provider' | undefined;
  readonly statuses?: readonly RequestStatus[] | undefined;
  readonly resourceCode?: string | undefined;
  /** Pending and past this day (China time). */
  readonly overdueOn?: string | undefined;
  /** Paged by number, newest first. */
  readonly before?: number | undefined;
  readonly limit: number;
}

/** The only SQL over share_requests, their history and their attachment list. */
export class ShareRequestStore {
  constructor(private readonly db: Db) {}

  byId(id: string, executor: Db = this.db, forUpdate = false): Promise<ShareRequestRow | undefined> {
    let q = executor.selectFrom('shareRequests').selectAll().where('id', '=', id);
    if (forUpdate) q = q.forUpdate();
    return q.executeTakeFirst();
  }

  byNumber(number: number, executor: Db = this.db): Promise<ShareRequestRow | undefined> {
    return executor.selectFrom('shareRequests').selectAll().where('number', '=', number).executeTakeFirst();
  }

  list(q: ShareRequestQuery, executor: Db = this.db): Promise<ShareRequestRow[]> {
    let query = executor.selectFrom('shareRequests').selectAll();
    if (q.agencyId) {
      const agencyId = q.agencyId;
      if (q.side === 'consumer') query = query.where('consumerAgencyId', '=', agencyId);
      else if (q.side === 'provider') query = query.where('providerAgencyId', '=', agencyId);
      else query = query.where((eb) => eb.or([eb('consumerAgencyId', '=', agencyId), eb('providerAgencyId', '=', agencyId)]));
    }
    if (q.statuses && q.statuses.length > 0) query = query.where('status', 'in', [...q.statuses]);
    if (q.resourceCode) query = query.where('resourceCode', '=', q.resourceCode);
    if (q.overdueOn) query = query.where('dueOn', '<', q.overdueOn);
    if (q.before !== undefined) query = query.where('number', '<', q.before);
    return query.orderBy('number', 'desc').limit(q.limit).execute();
  }

  insert(row: Omit<Insertable<ShareRequestsTable>, 'number' | 'version' | 'createdAt' | 'updatedAt'>, now: Date, executor: Db): Promise<ShareRequestRow> {
    return executor
      .insertInto('shareRequests')
      .values({ ...row, items: [...row.items], createdAt: now, updatedAt: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  update(id: string, patch: ShareRequestPatch, now: Date, executor: Db): Promise<ShareRequestRow> {
    return executor
      .updateTable('shareRequests')
      .set({ ...patch, ...(patch.items ? { items: [...patch.items] } : {}), updatedAt: now, version: sql<number>`version + 1` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** The platform's bookkeeping (reminded, escalated): leaves the version alone, so no reader's copy goes stale. */
  note(id: string, patch: Pick<ShareRequestPatch, 'remindedAt' | 'escalatedAt'>, executor: Db): Promise<ShareRequestRow> {
    return executor.updateTable('shareRequests').set(patch).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  }

  async addEvent(e: Omit<Insertable<ShareRequestEventsTable>, 'id' | 'details'> & { details?: Record<string, unknown> }, executor: Db): Promise<void> {
    await executor
      .insertInto('shareRequestEvents')
      .values({ ...e, details: JSON.stringify(e.details ?? {}) })
      .execute();
  }

  events(requestId: string): Promise<ShareRequestEventRow[]> {
    return this.db.selectFrom('shareRequestEvents').selectAll().where('requestId', '=', requestId).orderBy('id').execute();
  }

  async addAttachments(requestId: string, refs: readonly { readonly id: string; readonly kind: AttachmentKind }[], now: Date, executor: Db): Promise<void> {
    if (refs.length === 0) return;
    await executor
      .insertInto('shareRequestAttachments')
      .values(refs.map((r) => ({ requestId, attachmentId: r.id, kind: r.kind, addedAt: now })))
      .onConflict((oc) => oc.columns(['requestId', 'attachmentId']).doNothing())
      .execute();
  }

  /** The attachments of these requests with the kind each was given, oldest first. */
  attachmentKinds(requestIds: readonly string[]): Promise<{ requestId: string; attachmentId: string; kind: string }[]> {
    if (requestIds.length === 0) return Promise.resolve([]);
    return this.db.selectFrom('shareRequestAttachments').select(['requestId', 'attachmentId', 'kind']).where('requestId', 'in', requestIds).orderBy('addedAt').orderBy('attachmentId').execute();
  }

  /**
   * Pending requests whose deadline is within reach (dueOn ≤ `remindBy`) and whose reviewer was
   * not reminded yet, or past it (dueOn < `today`) and not escalated yet; locked for this sweep,
   * skipping those another process is sweeping.
   */
  dueForAttention(remindBy: string, today: string, limit: number, trx: Db): Promise<ShareRequestRow[]> {
    return trx
      .selectFrom('shareRequests')
      .selectAll()
      .where('dueOn', 'is not', null)
      .where((eb) => eb.or([eb.and([eb('dueOn', '<=', remindBy), eb('remindedAt', 'is', null)]), eb.and([eb('dueOn', '<', today), eb('escalatedAt', 'is', null)])]))
      .orderBy('dueOn')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
  }

  /** Every request filed in [from, to] (China dates, inclusive), for statistics. */
  forStatistics(from: Date | undefined, to: Date | undefined): Promise<Pick<ShareRequestRow, 'consumerAgencyId' | 'providerAgencyId' | 'shareType' | 'status' | 'decision' | 'reviewStartedAt' | 'decidedAt' | 'disputedAt' | 'arbitrationOutcome' | 'dueOn'>[]> {
    let q = this.db.selectFrom('shareRequests').select(['consumerAgencyId', 'providerAgencyId', 'shareType', 'status', 'decision', 'reviewStartedAt', 'decidedAt', 'disputedAt', 'arbitrationOutcome', 'dueOn']);
    if (from) q = q.where('createdAt', '>=', from);
    if (to) q = q.where('createdAt', '<', to);
    return q.execute();
  }
}
