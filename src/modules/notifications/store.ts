import { sql, type Insertable, type Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type {
  NotificationDeliveriesTable,
  NotificationDeliveryAttemptsTable,
  NotificationInboxTable,
  NotificationsTable,
  WebhooksTable,
} from '../../db/schema.js';
import type { DeliveryChannel, DeliveryStatus } from './vocabulary.js';

export type NotificationRow = Selectable<NotificationsTable>;
export type InboxRow = Selectable<NotificationInboxTable>;
export type WebhookRow = Selectable<WebhooksTable>;
export type DeliveryRow = Selectable<NotificationDeliveriesTable>;
export type AttemptRow = Selectable<NotificationDeliveryAttemptsTable>;

export type InboxItemRow = InboxRow & Pick<NotificationRow, 'kind' | 'subjectZh' | 'subject' | 'bodyZh' | 'body' | 'targetType' | 'targetId' | 'details'>;
export type DeliveryListRow = DeliveryRow & { readonly kind: string };

export interface InboxQuery {
  readonly accountId: string;
  readonly unread?: boolean | undefined;
  /** The `seq` of the last item of the previous page (newest first). */
  readonly before?: number | undefined;
  readonly limit: number;
}

export interface DeliveryQuery {
  readonly status?: DeliveryStatus | undefined;
  readonly channel?: DeliveryChannel | undefined;
  readonly webhookId?: string | undefined;
  readonly before?: number | undefined;
  readonly limit: number;
}

export interface AttemptOutcome {
  readonly ok: boolean;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly httpStatus?: number | undefined;
  readonly smtpResponse?: string | undefined;
  readonly error?: string | undefined;
}

/** The only SQL over the notification tables. */
export class NotificationStore {
  constructor(private readonly db: Db) {}

  // notices and inboxes

  async insertNotification(row: Insertable<NotificationsTable>, executor: Db): Promise<void> {
    await executor.insertInto('notifications').values(row).execute();
  }

  notification(id: string, executor: Db = this.db): Promise<NotificationRow | undefined> {
    return executor.selectFrom('notifications').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insertInbox(rows: readonly Insertable<NotificationInboxTable>[], executor: Db): Promise<void> {
    if (rows.length > 0) await executor.insertInto('notificationInbox').values([...rows]).execute();
  }

  inbox(q: InboxQuery): Promise<InboxItemRow[]> {
    let query = this.db
      .selectFrom('notificationInbox as i')
      .innerJoin('notifications as n', 'n.id', 'i.notificationId')
      .selectAll('i')
      .select(['n.kind', 'n.subjectZh', 'n.subject', 'n.bodyZh', 'n.body', 'n.targetType', 'n.targetId', 'n.details'])
      .where('i.accountId', '=', q.accountId);
    if (q.unread === true) query = query.where('i.readAt', 'is', null);
    if (q.unread === false) query = query.where('i.readAt', 'is not', null);
    if (q.before !== undefined) query = query.where('i.seq', '<', q.before);
    return query.orderBy('i.seq', 'desc').limit(q.limit).execute();
  }

  inboxItem(accountId: string, id: string): Promise<InboxItemRow | undefined> {
    return this.db
      .selectFrom('notificationInbox as i')
      .innerJoin('notifications as n', 'n.id', 'i.notificationId')
      .selectAll('i')
      .select(['n.kind', 'n.subjectZh', 'n.subject', 'n.bodyZh', 'n.body', 'n.targetType', 'n.targetId', 'n.details'])
      .where('i.accountId', '=', accountId)
      .where('i.id', '=', id)
      .executeTakeFirst();
  }

  async unreadCount(accountId: string): Promise<number> {
    const r = await this.db
      .selectFrom('notificationInbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('accountId', '=', accountId)
      .where('readAt', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Marks read (keeping the first reading time); `id` undefined: every unread item. Returns how many changed. */
  async markRead(accountId: string, id: string | undefined, now: Date): Promise<number> {
    let q = this.db.updateTable('notificationInbox').set({ readAt: now }).where('accountId', '=', accountId).where('readAt', 'is', null);
    if (id !== undefined) q = q.where('id', '=', id);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  // preferences

  /** The accounts among `ids` that turned e-mail off. */
  async emailOff(ids: readonly string[], executor: Db): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await executor.selectFrom('notificationPreferences').select('accountId').where('accountId', 'in', [...ids]).where('email', '=', false).execute();
    return new Set(rows.map((r) => r.accountId));
  }

  async emailPreference(accountId: string): Promise<boolean> {
    const row = await this.db.selectFrom('notificationPreferences').select('email').where('accountId', '=', accountId).executeTakeFirst();
    return row?.email ?? true;
  }

  async setEmailPreference(accountId: string, email: boolean, now: Date): Promise<void> {
    await this.db
      .insertInto('notificationPreferences')
      .values({ accountId, email, updatedAt: now })
      .onConflict((oc) => oc.column('accountId').doUpdateSet({ email, updatedAt: now }))
      .execute();
  }

  // webhooks

  webhook(id: string, executor: Db = this.db, forUpdate = false): Promise<WebhookRow | undefined> {
    let q = executor.selectFrom('webhooks').selectAll().where('id', '=', id).where('deletedAt', 'is', null);
    if (forUpdate) q = q.forUpdate();
    return q.executeTakeFirst();
  }

  /** `agencyId` undefined: every webhook; null: the platform-level ones. */
  webhooks(q: { readonly agencyId?: string | null | undefined; readonly after?: string | undefined; readonly limit: number }): Promise<WebhookRow[]> {
    let query = this.db.selectFrom('webhooks').selectAll().where('deletedAt', 'is', null);
    if (q.agencyId === null) query = query.where('agencyId', 'is', null);
    else if (q.agencyId !== undefined) query = query.where('agencyId', '=', q.agencyId);
    if (q.after) query = query.where('id', '>', q.after);
    return query.orderBy('id').limit(q.limit).execute();
  }

  /** The active webhooks of these agencies (and the platform-level ones when `platform`) that want `kind`. */
  subscribedWebhooks(agencyIds: readonly string[], platform: boolean, kind: string, executor: Db): Promise<WebhookRow[]> {
    if (agencyIds.length === 0 && !platform) return Promise.resolve([]);
    return executor
      .selectFrom('webhooks')
      .selectAll()
      .where('deletedAt', 'is', null)
      .where('active', '=', true)
      .where((eb) => {
        const whose = [];
        if (agencyIds.length > 0) whose.push(eb('agencyId', 'in', [...agencyIds]));
        if (platform) whose.push(eb('agencyId', 'is', null));
        return eb.or(whose);
      })
      .where((eb) => eb.or([eb('kinds', 'is', null), sql<boolean>`${kind} = any(kinds)`]))
      .orderBy('id')
      .execute();
  }

  insertWebhook(row: Insertable<WebhooksTable>, executor: Db): Promise<WebhookRow> {
    return executor.insertInto('webhooks').values(row).returningAll().executeTakeFirstOrThrow();
  }

  updateWebhook(id: string, patch: Partial<Pick<WebhookRow, 'url' | 'description' | 'kinds' | 'active' | 'deletedAt'>>, now: Date, executor: Db): Promise<WebhookRow> {
    return executor
      .updateTable('webhooks')
      .set({ ...patch, updatedAt: now, version: sql<number>`version + 1` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  // deliveries

  async insertDeliveries(rows: readonly Insertable<NotificationDeliveriesTable>[], executor: Db): Promise<void> {
    if (rows.length > 0) await executor.insertInto('notificationDeliveries').values([...rows]).execute();
  }

  delivery(id: string, executor: Db = this.db, forUpdate = false): Promise<DeliveryListRow | undefined> {
    let q = executor
      .selectFrom('notificationDeliveries as d')
      .innerJoin('notifications as n', 'n.id', 'd.notificationId')
      .selectAll('d')
      .select('n.kind')
      .where('d.id', '=', id);
    if (forUpdate) q = q.forUpdate('d');
    return q.executeTakeFirst();
  }

  deliveries(q: DeliveryQuery): Promise<DeliveryListRow[]> {
    let query = this.db.selectFrom('notificationDeliveries as d').innerJoin('notifications as n', 'n.id', 'd.notificationId').selectAll('d').select('n.kind');
    if (q.status) query = query.where('d.status', '=', q.status);
    if (q.channel) query = query.where('d.channel', '=', q.channel);
    if (q.webhookId) query = query.where('d.webhookId', '=', q.webhookId);
    if (q.before !== undefined) query = query.where('d.seq', '<', q.before);
    return query.orderBy('d.seq', 'desc').limit(q.limit).execute();
  }

  async attemptsOf(deliveryIds: readonly string[]): Promise<AttemptRow[]> {
    if (deliveryIds.length === 0) return [];
    return this.db.selectFrom('notificationDeliveryAttempts').selectAll().where('deliveryId', 'in', [...deliveryIds]).orderBy('id').execute();
  }

  /** A new series of attempts, due now (manual retry). */
  async requeue(id: string, now: Date, executor: Db): Promise<void> {
    await executor.updateTable('notificationDeliveries').set({ status: 'pending', attempts: 0, nextAttemptAt: now, claimedBy: null }).where('id', '=', id).execute();
  }

  /** Gives up the pending deliveries of a webhook (deleted), recording why. */
  async failPendingOfWebhook(webhookId: string, reason: string, executor: Db): Promise<void> {
    await executor.updateTable('notificationDeliveries').set({ status: 'failed', lastError: reason, claimedBy: null }).where('webhookId', '=', webhookId).where('status', '=', 'pending').execute();
  }

  /**
   * Claims up to `limit` due deliveries for one attempt: in one short transaction the rows are
   * locked (skipping rows another worker holds), their attempt counted and their due time moved
   * to `leaseUntil`. Until then no worker claims them again; the attempt's result is written by
   * `finish`. A worker that dies mid-attempt leaves the row to be claimed after its lease.
   */
  claimDue(worker: string, now: Date, leaseUntil: Date, limit: number): Promise<DeliveryRow[]> {
    return this.db.transaction().execute(async (trx) => {
      const due = await trx
        .selectFrom('notificationDeliveries')
        .select('id')
        .where('status', '=', 'pending')
        .where('nextAttemptAt', '<=', now)
        .orderBy('nextAttemptAt')
        .limit(limit)
        .forUpdate()
        .skipLocked()
        .execute();
      if (due.length === 0) return [];
      return trx
        .updateTable('notificationDeliveries')
        .set({ attempts: sql<number>`attempts + 1`, nextAttemptAt: leaseUntil, claimedBy: worker, lastAttemptAt: now })
        .where(
          'id',
          'in',
          due.map((d) => d.id),
        )
        .returningAll()
        .execute();
    });
  }

  /**
   * Records an attempt, and its consequence for the delivery: delivered, due again at `retryAt`,
   * or failed when `retryAt` is null — the latter only while the claim is still this worker's (a
   * manual retry or an expired lease may have handed the row on meanwhile). Returns whether the
   * delivery was updated.
   */
  finish(claim: DeliveryRow, worker: string, outcome: AttemptOutcome, retryAt: Date | null): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('notificationDeliveryAttempts')
        .values({
          deliveryId: claim.id,
          attempt: claim.attempts,
          worker,
          startedAt: outcome.startedAt,
          finishedAt: outcome.finishedAt,
          outcome: outcome.ok ? 'delivered' : 'failed',
          httpStatus: outcome.httpStatus ?? null,
          smtpResponse: outcome.smtpResponse ?? null,
          error: outcome.error ?? null,
        })
        .execute();
      const set = outcome.ok
        ? { status: 'delivered', deliveredAt: outcome.finishedAt, lastError: null, claimedBy: null }
        : retryAt
          ? { status: 'pending', nextAttemptAt: retryAt, lastError: outcome.error ?? null, claimedBy: null }
          : { status: 'failed', lastError: outcome.error ?? null, claimedBy: null };
      const r = await trx
        .updateTable('notificationDeliveries')
        .set(set)
        .where('id', '=', claim.id)
        .where('claimedBy', '=', worker)
        .where('attempts', '=', claim.attempts)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    });
  }
}
