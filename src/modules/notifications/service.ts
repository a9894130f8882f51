import type { Insertable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { NotificationDeliveriesTable } from '../../db/schema.js';
import { GsError } from '../../lib/errors.js';
import { checkVersion, stripUndefined } from '../../lib/records.js';
import { isUuid, newId } from '../../lib/secrets.js';
import type { Actor, RequestContext } from '../../server/actor.js';
import type { AccountService } from '../accounts/service.js';
import type { Role } from '../accounts/permissions.js';
import type { AuditService } from '../audit/service.js';
import type { KeyRing } from '../keys/key-ring.js';
import { newWebhookSecret, webhookSecretContext } from './channels.js';
import type { Delivery, DeliveryAttempt, InboxItem, PreferencesView, Webhook, WebhookCreate, WebhookCreated, WebhookPatch } from './schemas.js';
import { NotificationStore, type AttemptRow, type DeliveryListRow, type DeliveryQuery, type InboxItemRow, type WebhookRow } from './store.js';
import { isNoticeKind, TEST_KIND, type DeliveryChannel, type DeliveryStatus, type NoticeKind } from './vocabulary.js';

export { NOTICE_KINDS, type NoticeKind } from './vocabulary.js';

/** Who a notice is for. Several audiences are united; an account is reached once. */
export type Audience =
  /** The active accounts of that agency holding any of these roles. */
  | { readonly agencyId: string; readonly roles: readonly Role[] }
  /** Every active account with that role, platform-wide (e.g. 'supervisor'). */
  | { readonly role: Role }
  | { readonly accountIds: readonly string[] };

export interface Notice {
  readonly kind: NoticeKind;
  readonly audience: readonly Audience[];
  /** Chinese first: the console is Chinese. */
  readonly subjectZh: string;
  readonly subject: string;
  readonly bodyZh: string;
  readonly body: string;
  /** What the notice is about, e.g. `{ type: 'shareRequest', id }`. */
  readonly target: { readonly type: string; readonly id: string };
  /** Goes into the webhook payload as it is (JSON). */
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface NotificationSettings {
  /** Whether this platform sends e-mail (GOVSHARE_SMTP_URL set): without it no e-mail is queued. */
  readonly emailEnabled: boolean;
}

const STATUS_ZH: Readonly<Record<DeliveryStatus, string>> = { pending: '待投递', delivered: '已投递', failed: '投递失败' };
const MAX_TEXT = { subject: 300, body: 20_000 } as const;

/**
 * Notifications (README.md beside this file): an in-app inbox per account, e-mail, and signed
 * webhooks per agency. `notify` runs inside the caller's transaction and only writes rows; the
 * DeliveryWorker sends after commit, retrying with backoff, and records every attempt.
 */
export class NotificationService {
  readonly #store: NotificationStore;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly accounts: Pick<AccountService, 'activeRecipients'>,
    private readonly agencies: { requireActive(id: string, executor?: Db): Promise<unknown> },
    /** Seals webhook secrets: a copy of the database alone does not let anyone forge a delivery. */
    private readonly keys: KeyRing,
    private readonly settings: NotificationSettings,
    private readonly now: () => Date = () => new Date(),
    /** Called after queuing deliveries (wakes this process's delivery worker). */
    private readonly onQueued: () => void = () => undefined,
  ) {
    this.#store = new NotificationStore(db);
  }

  // ---- notify --------------------------------------------------------------------------------

  /**
   * Writes the notice, an inbox row per recipient and the deliveries (e-mail per recipient with
   * an address who did not turn e-mail off; each subscribed webhook), all in `trx`: they commit or
   * roll back with the caller's decision. Sends nothing; SMTP or webhook trouble never reaches
   * here. Recipients: the active accounts the audiences reach, once each.
   */
  async notify(notice: Notice, trx: Db): Promise<{ readonly recipients: number }> {
    checkNotice(notice);
    const now = this.now();
    const recipients = await this.accounts.activeRecipients(notice.audience, trx);
    const id = newId();
    await this.#store.insertNotification(
      {
        id,
        kind: notice.kind,
        subjectZh: notice.subjectZh,
        subject: notice.subject,
        bodyZh: notice.bodyZh,
        body: notice.body,
        targetType: notice.target.type,
        targetId: notice.target.id,
        details: JSON.stringify(notice.details ?? {}),
        createdAt: now,
      },
      trx,
    );
    await this.#store.insertInbox(
      recipients.map((r) => ({ id: newId(), notificationId: id, accountId: r.id, createdAt: now })),
      trx,
    );
    const deliveries: Insertable<NotificationDeliveriesTable>[] = [];
    const queued = (row: Pick<Insertable<NotificationDeliveriesTable>, 'channel' | 'accountId' | 'webhookId' | 'address'>): Insertable<NotificationDeliveriesTable> => ({
      ...row,
      id: newId(),
      notificationId: id,
      status: 'pending',
      nextAttemptAt: now,
      createdAt: now,
    });
    if (this.settings.emailEnabled) {
      const withAddress = recipients.filter((r) => r.email);
      const off = await this.#store.emailOff(
        withAddress.map((r) => r.id),
        trx,
      );
      for (const r of withAddress) if (!off.has(r.id)) deliveries.push(queued({ channel: 'email', accountId: r.id, webhookId: null, address: r.email! }));
    }
    // The webhooks of every agency the notice reaches; platform-level ones for notices to
    // platform-wide roles and to accounts of no agency (the supervisor, the operator).
    const agencyIds = new Set<string>();
    let platform = false;
    for (const a of notice.audience) {
      if ('agencyId' in a) agencyIds.add(a.agencyId);
      else if ('role' in a) platform = true;
    }
    for (const r of recipients) {
      if (r.agencyId) agencyIds.add(r.agencyId);
      else platform = true;
    }
    for (const hook of await this.#store.subscribedWebhooks([...agencyIds], platform, notice.kind, trx)) {
      deliveries.push(queued({ channel: 'webhook', accountId: null, webhookId: hook.id, address: hook.url }));
    }
    await this.#store.insertDeliveries(deliveries, trx);
    if (deliveries.length > 0) this.onQueued();
    return { recipients: recipients.length };
  }

  // ---- inbox ---------------------------------------------------------------------------------

  #ownInbox(actor: Actor): string {
    // The local CLI and the platform itself have no inbox.
    if (!actor.userId) throw new GsError('GS_ERR_NOTIFICATION_NOT_FOUND', { id: '-' });
    return actor.userId;
  }

  async inbox(actor: Actor, q: { unread?: boolean | undefined; before?: number | undefined; limit: number }): Promise<{ items: InboxItem[]; next: string | null }> {
    const rows = await this.#store.inbox({ accountId: this.#ownInbox(actor), ...q });
    const last = rows.at(-1);
    return { items: rows.map(inboxView), next: rows.length === q.limit && last ? String(last.seq) : null };
  }

  async unreadCount(actor: Actor): Promise<number> {
    return this.#store.unreadCount(this.#ownInbox(actor));
  }

  /** Marks one of your own notifications read; someone else's does not exist for you. */
  async markRead(actor: Actor, id: string): Promise<InboxItem> {
    const accountId = this.#ownInbox(actor);
    if (!isUuid(id) || !(await this.#store.inboxItem(accountId, id))) throw new GsError('GS_ERR_NOTIFICATION_NOT_FOUND', { id });
    await this.#store.markRead(accountId, id, this.now());
    return inboxView((await this.#store.inboxItem(accountId, id))!);
  }

  async markAllRead(actor: Actor): Promise<number> {
    return this.#store.markRead(this.#ownInbox(actor), undefined, this.now());
  }

  async preferences(actor: Actor): Promise<PreferencesView> {
    const accountId = this.#ownInbox(actor);
    const [me] = await this.accounts.activeRecipients([{ accountIds: [accountId] }], this.db);
    return { email: await this.#store.emailPreference(accountId), emailAddress: me?.email ?? null, emailAvailable: this.settings.emailEnabled };
  }

  async setPreferences(actor: Actor, input: { readonly email: boolean }): Promise<PreferencesView> {
    await this.#store.setEmailPreference(this.#ownInbox(actor), input.email, this.now());
    return this.preferences(actor);
  }

  // ---- webhooks ------------------------------------------------------------------------------

  /** The operator (and the CLI) manage every agency's webhooks and the platform-level ones. */
  #everyAgency(actor: Actor): boolean {
    return actor.type === 'cli' || actor.type === 'system' || actor.permissions.has('notification:deliveries');
  }

  /** Another agency's webhook does not exist for an agency's node admin. */
  async #requireWebhook(actor: Actor, id: string, executor: Db = this.db, forUpdate = false): Promise<WebhookRow> {
    const row = isUuid(id) ? await this.#store.webhook(id, executor, forUpdate) : undefined;
    if (!row || !(this.#everyAgency(actor) || (actor.agencyId !== null && row.agencyId === actor.agencyId))) throw new GsError('GS_ERR_WEBHOOK_NOT_FOUND', { id });
    return row;
  }

  async listWebhooks(actor: Actor, q: { agencyId?: string | null | undefined; after?: string | undefined; limit: number }): Promise<Webhook[]> {
    if (!this.#everyAgency(actor)) {
      if (!actor.agencyId) return [];
      if (q.agencyId !== undefined && q.agencyId !== actor.agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
      q = { ...q, agencyId: actor.agencyId };
    }
    return (await this.#store.webhooks(q)).map(webhookView);
  }

  async getWebhook(actor: Actor, id: string): Promise<Webhook> {
    return webhookView(await this.#requireWebhook(actor, id));
  }

  /** Registers an endpoint; its signing secret is returned this once and stored sealed. */
  async createWebhook(ctx: RequestContext, input: WebhookCreate): Promise<WebhookCreated> {
    const every = this.#everyAgency(ctx.actor);
    const agencyId = input.agencyId !== undefined ? input.agencyId : every ? null : ctx.actor.agencyId;
    if (!every && (agencyId === null || agencyId !== ctx.actor.agencyId)) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
    const url = checkUrl(input.url);
    const id = newId();
    const secret = newWebhookSecret();
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      if (agencyId !== null) await this.#activeAgency(agencyId, trx);
      const inserted = await this.#store.insertWebhook(
        {
          id,
          agencyId,
          url,
          description: (input.description ?? '').trim(),
          secretSealed: this.keys.seal(Buffer.from(secret, 'utf8'), webhookSecretContext(id)),
          kinds: input.kinds ? [...input.kinds] : null,
          active: input.active ?? true,
          createdBy: ctx.actor.name,
          createdAt: now,
          updatedAt: now,
        },
        trx,
      );
      await this.audit.record(ctx, { action: 'webhook.create', targetType: 'webhook', targetId: id, details: { agencyId, url, kinds: inserted.kinds, active: inserted.active } }, trx);
      return inserted;
    });
    return { webhook: webhookView(row), secret };
  }

  async updateWebhook(ctx: RequestContext, id: string, input: WebhookPatch): Promise<Webhook> {
    const url = input.url !== undefined ? checkUrl(input.url) : undefined;
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.#requireWebhook(ctx.actor, id, trx, true);
      checkVersion(input.expectedVersion, before.version);
      const patch = stripUndefined({ url, description: input.description?.trim(), kinds: input.kinds === undefined ? undefined : input.kinds === null ? null : [...input.kinds], active: input.active });
      const after = await this.#store.updateWebhook(id, patch, now, trx);
      await this.audit.record(ctx, { action: 'webhook.update', targetType: 'webhook', targetId: id, details: { agencyId: before.agencyId, changed: Object.keys(patch), url: after.url, kinds: after.kinds, active: after.active } }, trx);
      return after;
    });
    return webhookView(row);
  }

  /** Removes an endpoint; its pending deliveries are given up (failed, with the reason). */
  async deleteWebhook(ctx: RequestContext, id: string): Promise<void> {
    const now = this.now();
    await this.db.transaction().execute(async (trx) => {
      const before = await this.#requireWebhook(ctx.actor, id, trx, true);
      await this.#store.updateWebhook(id, { deletedAt: now, active: false }, now, trx);
      await this.#store.failPendingOfWebhook(id, 'the webhook was deleted', trx);
      await this.audit.record(ctx, { action: 'webhook.delete', targetType: 'webhook', targetId: id, details: { agencyId: before.agencyId, url: before.url } }, trx);
    });
  }

  /** Queues a `webhook.test` delivery to the endpoint (no inbox row), to check the receiver. */
  async testWebhook(ctx: RequestContext, id: string): Promise<Delivery> {
    const now = this.now();
    const deliveryId = newId();
    await this.db.transaction().execute(async (trx) => {
      const hook = await this.#requireWebhook(ctx.actor, id, trx);
      if (!hook.active) throw new GsError('GS_ERR_WEBHOOK_INACTIVE', { id });
      const notificationId = newId();
      await this.#store.insertNotification(
        {
          id: notificationId,
          kind: TEST_KIND,
          subjectZh: 'Webhook 测试',
          subject: 'Webhook test',
          bodyZh: `由 ${ctx.actor.name} 发起的测试投递。`,
          body: `A test delivery requested by ${ctx.actor.name}.`,
          targetType: 'webhook',
          targetId: id,
          details: JSON.stringify({ requestedBy: ctx.actor.name }),
          createdAt: now,
        },
        trx,
      );
      await this.#store.insertDeliveries([{ id: deliveryId, notificationId, channel: 'webhook', accountId: null, webhookId: id, address: hook.url, status: 'pending', nextAttemptAt: now, createdAt: now }], trx);
      await this.audit.record(ctx, { action: 'webhook.test', targetType: 'webhook', targetId: id, details: { deliveryId } }, trx);
    });
    this.onQueued();
    return (await this.#deliveryViews([(await this.#store.delivery(deliveryId))!]))[0]!;
  }

  /** The deliveries to one webhook, newest first (its agency's node admin sees them too). */
  async webhookDeliveries(actor: Actor, id: string, q: Omit<DeliveryQuery, 'webhookId'>): Promise<{ items: Delivery[]; next: string | null }> {
    await this.#requireWebhook(actor, id);
    return this.#deliveryPage({ ...q, webhookId: id });
  }

  async #activeAgency(agencyId: string, executor: Db): Promise<void> {
    await this.agencies.requireActive(agencyId, executor).catch((e: unknown) => {
      if (e instanceof GsError && (e.code === 'GS_ERR_AGENCY_NOT_FOUND' || e.code === 'GS_ERR_AGENCY_INACTIVE')) {
        const [reason, reasonZh] = e.code === 'GS_ERR_AGENCY_NOT_FOUND' ? ['no such agency', '单位不存在'] : ['the agency is deactivated', '单位已停用'];
        throw new GsError('GS_ERR_WEBHOOK_AGENCY_INVALID', { agencyId, reason, reasonZh }, [{ field: 'body.agencyId', rule: 'activeAgency', message: reason, messageZh: reasonZh }]);
      }
      throw e;
    });
  }

  // ---- deliveries (the operator) -------------------------------------------------------------

  async listDeliveries(q: DeliveryQuery): Promise<{ items: Delivery[]; next: string | null }> {
    return this.#deliveryPage(q);
  }

  async getDelivery(id: string): Promise<Delivery> {
    const row = isUuid(id) ? await this.#store.delivery(id) : undefined;
    if (!row) throw new GsError('GS_ERR_NOTIFICATION_DELIVERY_NOT_FOUND', { id });
    return (await this.#deliveryViews([row]))[0]!;
  }

  /**
   * Starts a new series of attempts now, for a failed delivery (or a pending one waiting for its
   * next try). A delivered one is not sent again.
   */
  async retryDelivery(ctx: RequestContext, id: string): Promise<Delivery> {
    const now = this.now();
    await this.db.transaction().execute(async (trx) => {
      const row = isUuid(id) ? await this.#store.delivery(id, trx, true) : undefined;
      if (!row) throw new GsError('GS_ERR_NOTIFICATION_DELIVERY_NOT_FOUND', { id });
      const status = row.status as DeliveryStatus;
      if (status === 'delivered') throw new GsError('GS_ERR_NOTIFICATION_DELIVERY_STATE', { id, status, statusZh: STATUS_ZH[status], action: 'retry', actionZh: '重试' });
      if (row.webhookId && !(await this.#store.webhook(row.webhookId, trx))) {
        throw new GsError('GS_ERR_NOTIFICATION_DELIVERY_STATE', { id, status: `${status} (its webhook was deleted)`, statusZh: `${STATUS_ZH[status]}（Webhook 已删除）`, action: 'retry', actionZh: '重试' });
      }
      await this.#store.requeue(id, now, trx);
      await this.audit.record(ctx, { action: 'notification.delivery.retry', targetType: 'notificationDelivery', targetId: id, details: { channel: row.channel, previousStatus: status, attempts: row.attempts, lastError: row.lastError } }, trx);
    });
    this.onQueued();
    return this.getDelivery(id);
  }

  async #deliveryPage(q: DeliveryQuery): Promise<{ items: Delivery[]; next: string | null }> {
    const rows = await this.#store.deliveries(q);
    const last = rows.at(-1);
    return { items: await this.#deliveryViews(rows), next: rows.length === q.limit && last ? String(last.seq) : null };
  }

  async #deliveryViews(rows: readonly DeliveryListRow[]): Promise<Delivery[]> {
    const attempts = await this.#store.attemptsOf(rows.map((r) => r.id));
    const byDelivery = new Map<string, AttemptRow[]>();
    for (const a of attempts) byDelivery.set(a.deliveryId, [...(byDelivery.get(a.deliveryId) ?? []), a]);
    return rows.map((r) => deliveryView(r, byDelivery.get(r.id) ?? []));
  }
}

function invalidNotice(reason: string, reasonZh: string): GsError {
  return new GsError('GS_ERR_NOTIFICATION_NOTICE_INVALID', { reason, reasonZh });
}

/** A notice comes from code, not from a user: a bad one is a programming error, said plainly. */
function checkNotice(n: Notice): void {
  if (!isNoticeKind(n.kind)) throw invalidNotice(`unknown kind ${JSON.stringify(n.kind)}`, `未知的通知类型 ${JSON.stringify(n.kind)}`);
  for (const [field, max] of [['subjectZh', MAX_TEXT.subject], ['subject', MAX_TEXT.subject], ['bodyZh', MAX_TEXT.body], ['body', MAX_TEXT.body]] as const) {
    const v = n[field];
    if (typeof v !== 'string' || v.trim() === '' || v.length > max) throw invalidNotice(`${field} must be 1–${max} characters`, `${field} 须为 1–${max} 个字符`);
  }
  if (!n.target?.type || !n.target.id) throw invalidNotice('the target needs a type and an id', '通知对象须有类型和编号');
}

/** http(s) only, no credentials in the address (the secret signs instead), a host. */
function checkUrl(raw: string): string {
  const bad = (reason: string, reasonZh: string, rule: string): GsError =>
    new GsError('GS_ERR_WEBHOOK_URL_INVALID', { url: raw, reason, reasonZh }, [{ field: 'body.url', rule, message: reason, messageZh: reasonZh }]);
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw bad(`${JSON.stringify(raw)} is not a URL`, `${JSON.stringify(raw)} 不是网址`, 'url');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad(`the address must use http:// or https://, not ${u.protocol}`, `地址须使用 http:// 或 https://，不能使用 ${u.protocol}`, 'scheme');
  if (!u.hostname) throw bad('the address names no host', '地址中没有主机名', 'host');
  if (u.username || u.password) throw bad('the address must not hold a user name or password; deliveries are signed with the webhook secret', '地址中不得包含用户名或密码；投递以 Webhook 密钥签名', 'credentials');
  if (u.hash) throw bad('the address must not have a #fragment', '地址中不得包含 # 片段', 'fragment');
  return u.toString();
}

function inboxView(r: InboxItemRow): InboxItem {
  return {
    id: r.id,
    notificationId: r.notificationId,
    kind: r.kind as NoticeKind,
    subjectZh: r.subjectZh,
    subject: r.subject,
    bodyZh: r.bodyZh,
    body: r.body,
    target: { type: r.targetType, id: r.targetId },
    details: r.details,
    read: r.readAt !== null,
    readAt: r.readAt?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
  };
}

function webhookView(r: WebhookRow): Webhook {
  return {
    id: r.id,
    agencyId: r.agencyId,
    url: r.url,
    description: r.description,
    kinds: (r.kinds as NoticeKind[] | null) ?? null,
    active: r.active,
    version: r.version,
    createdBy: r.createdBy,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

function deliveryView(r: DeliveryListRow, attempts: readonly AttemptRow[]): Delivery {
  const history: DeliveryAttempt[] = attempts.map((a) => ({
    attempt: a.attempt,
    worker: a.worker,
    startedAt: a.startedAt.toISOString(),
    finishedAt: a.finishedAt.toISOString(),
    outcome: a.outcome as 'delivered' | 'failed',
    httpStatus: a.httpStatus,
    smtpResponse: a.smtpResponse,
    error: a.error,
  }));
  return {
    id: r.id,
    notificationId: r.notificationId,
    kind: r.kind,
    channel: r.channel as DeliveryChannel,
    accountId: r.accountId,
    webhookId: r.webhookId,
    address: r.address,
    status: r.status as DeliveryStatus,
    attempts: r.attempts,
    nextAttemptAt: r.status === 'pending' ? r.nextAttemptAt.toISOString() : null,
    lastAttemptAt: r.lastAttemptAt?.toISOString() ?? null,
    lastError: r.lastError,
    deliveredAt: r.deliveredAt?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
    history,
  };
}
