import { createHash, createHmac, X509Certificate } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { ExchangeSubscriptionsTable } from '../../db/schema.js';
import { GsError } from '../../lib/errors.js';
import { newId } from '../../lib/secrets.js';
import type { Actor, RequestContext } from '../../server/actor.js';
import type { AuditService } from '../audit/service.js';
import { refusalError, type EffectiveGrant, type GrantCheck } from '../grants/check.js';
import { grantView, type GrantView } from './grant-view.js';
import type { DecodedRow, ExchangeService } from './service.js';
import { ExchangeStore, type TableRow } from './store.js';

export type SubscriptionRow = Selectable<ExchangeSubscriptionsTable>;

/** One change of a push batch: an upsert with the granted items as presented, or a delete. */
export interface PushChange {
  readonly seq: number;
  readonly op: 'upsert' | 'delete';
  /**
   * The record's identity for this consumer: a keyed hash of its key values (HMAC-SHA256 under a
   * key of the consumer agency), the same for every change of the record, whatever the grant
   * masks. A consumer keys its copy on it.
   */
  readonly ref: string;
  /** Upsert: the granted items, masked as the grant says. Delete: the granted key items only. */
  readonly row: Record<string, unknown>;
}

export interface PushBatch {
  readonly subscriptionId: string;
  readonly resourceCode: string;
  readonly grantId: string;
  readonly generation: number;
  /** `<subscription>:<generation>:<after>-<cursor>`: the same batch always has the same id. */
  readonly batchId: string;
  /** The cursor the batch follows (the last acknowledged sequence number). */
  readonly after: number;
  /** Acknowledge this (with the generation) once the batch is applied. */
  readonly cursor: number;
  /** snapshot: the live rows the table held when the subscription (re)started; changes: what followed. */
  readonly phase: 'snapshot' | 'changes';
  /** The batch starts from zero: drop what is held of this subscription before applying it. */
  readonly reset: boolean;
  /** More changes are waiting after this batch. */
  readonly more: boolean;
  readonly items: readonly string[];
  readonly changes: readonly PushChange[];
}

export interface SubscriptionView {
  readonly id: string;
  readonly resourceCode: string;
  readonly consumerSystemId: string;
  readonly consumerAgencyId: string;
  readonly grantId: string;
  readonly generation: number;
  readonly cursor: number;
  readonly snapshotUntil: number;
  readonly phase: 'snapshot' | 'changes';
  /** The resource's last sequence number: `lastSeq − cursor` changes are at most waiting. */
  readonly lastSeq: number;
  readonly mode: 'poll' | 'webhook';
  readonly webhookUrl: string | null;
  readonly state: 'active' | 'dead_letter';
  readonly attempts: number;
  readonly nextAttemptAt: string | null;
  readonly lastError: string | null;
  readonly recentAttempts: readonly PushAttempt[];
  readonly lastDeliveryAt: string | null;
  readonly lastAckAt: string | null;
  readonly deadLetteredAt: string | null;
  readonly createdAt: string;
}

/** One webhook attempt as the subscription keeps it (the latest ten). */
export interface PushAttempt {
  readonly at: string;
  readonly after: number;
  readonly cursor: number;
  readonly changes: number;
  readonly httpStatus: number | null;
  readonly error: string | null;
}

export interface SubscriptionOptions {
  /** Changes in one batch when the consumer asks for no number (GOVSHARE_PUSH_BATCH_ROWS). */
  readonly batchRows: number;
}

export const PUSH_MAX_BATCH_ROWS = 10_000;
export const PUSH_MAX_WAIT_SECONDS = 60;
/** How often a long poll looks at the table when no write of this process wakes it (other servers). */
const WAIT_POLL_MS = 1000;
/** Empty batches (every change filtered out) passed over in one call before answering. */
const MAX_SKIPPED_BATCHES = 20;

/** Subscriptions with a batch read ahead at once (each holds at most one batch). */
const MAX_READ_AHEAD = 64;
/** A batch read ahead longer ago than this is read again. */
const READ_AHEAD_MS = 10_000;

interface Prefetch {
  readonly generation: number;
  readonly after: number;
  readonly limit: number;
  readonly grantId: string;
  readonly termsDigest: string;
  readonly snapshotUntil: number;
  readonly at: number;
  readonly batch: Promise<PushBatch>;
}

/** The grant's terms that shape what a consumer holds: a change of them starts the subscription again. */
export function termsDigest(g: Pick<EffectiveGrant, 'items' | 'rowFilter' | 'masking'>): string {
  const masking = Object.keys(g.masking)
    .sort()
    .map((k) => [k, g.masking[k]]);
  return createHash('sha256').update(JSON.stringify([g.items, g.rowFilter, masking])).digest('hex');
}

/**
 * Push (资源推送, seed 000 §24): a `push` grant gives its business system a subscription to the
 * resource's shared table — a cursor over the table's change sequence (`gs_seq`). The consumer
 * fetches the changes after its cursor (long-poll) and acknowledges them, or the platform POSTs them
 * to the consumer's mutual-TLS webhook (push-delivery.ts). What is delivered goes through the same
 * grant view as acquisition: granted items, the row filter, masking.
 *
 * - **Order and at-least-once.** Batches follow `gs_seq`; a batch not acknowledged is delivered
 *   again with the same id. A consumer that applies a batch and stores its cursor in one
 *   transaction gets exactly-once effect.
 * - **Snapshot, then changes.** A new subscription starts at cursor 0 with `snapshotUntil` = the
 *   table's last sequence: up to there live rows only (tombstones and filtered rows are passed
 *   over); after it every change, a row leaving the row filter as a delete.
 * - **Generations.** A resync (asked by the consumer) or a grant whose terms changed starts the
 *   subscription again from zero with the next generation; the first batch says `reset`. An
 *   acknowledgement names its generation, so a late one cannot move the new cursor.
 * - **The grant is checked for every batch**: a revoked, suspended or expired grant stops delivery
 *   at the next batch (the check's cache is invalidated through LISTEN). A renewal with the same
 *   terms keeps the cursor.
 * - Subscriptions come into being on the consumer's first call (or the console's listing of
 *   push grants), not when the grant is issued: the grant module knows nothing of the exchange.
 */
export class SubscriptionService {
  readonly #store: ExchangeStore;
  readonly #waiters = new Map<string, Set<() => void>>();
  /** The batch after the one just handed out, read ahead while the consumer applies it (see fetch). */
  readonly #ahead = new Map<string, Prefetch>();

  constructor(
    private readonly db: Db,
    private readonly exchange: ExchangeService,
    private readonly grants: GrantCheck,
    private readonly audit: AuditService,
    private readonly options: SubscriptionOptions,
    private readonly now: () => Date,
  ) {
    this.#store = new ExchangeStore(db);
  }

  /** Wakes long polls on a resource (called after a batch of it commits in this process). */
  changed(resourceCode: string): void {
    const waiters = this.#waiters.get(resourceCode);
    if (!waiters) return;
    this.#waiters.delete(resourceCode);
    for (const w of waiters) w();
  }

  // ---- the consumer's calls (exchange port) ---------------------------------------------------

  /** The system's subscriptions: one per resource it holds a push grant in force for. */
  async list(ctx: RequestContext, systemId: string): Promise<SubscriptionView[]> {
    const resources = await this.db.selectFrom('grants').select('resourceCode').distinct().where('consumerSystemId', '=', systemId).where('shareMethod', '=', 'push').where('status', '=', 'active').orderBy('resourceCode').execute();
    const views: SubscriptionView[] = [];
    for (const { resourceCode } of resources) {
      const decision = await this.grants.check(systemId, resourceCode, 'push');
      if (!decision.allowed) continue;
      const table = await this.#store.table(resourceCode);
      if (!table) continue;
      const { row } = await this.#open(ctx, decision.grant, table);
      views.push(subscriptionView(row, table.lastSeq));
    }
    return views;
  }

  async get(ctx: RequestContext, systemId: string, resourceCode: string): Promise<SubscriptionView> {
    const { row, table } = await this.#subscribed(ctx, systemId, resourceCode);
    return subscriptionView(row, table.lastSeq);
  }

  /**
   * The batch after the cursor (the same batch again until it is acknowledged). `ack` first
   * acknowledges the previous batch, so a consumer needs one call per batch. With `waitSeconds`,
   * an empty answer waits up to that long for a change (long poll).
   */
  async fetch(ctx: RequestContext, systemId: string, resourceCode: string, q: { limit?: number | undefined; waitSeconds?: number | undefined; ack?: { generation: number; cursor: number } | undefined }): Promise<PushBatch> {
    if (q.ack) await this.ack(systemId, resourceCode, q.ack);
    const limit = Math.min(q.limit ?? this.options.batchRows, PUSH_MAX_BATCH_ROWS);
    const deadline = Date.now() + Math.min(q.waitSeconds ?? 0, PUSH_MAX_WAIT_SECONDS) * 1000;
    for (;;) {
      const s = await this.#subscribed(ctx, systemId, resourceCode);
      if (s.row.mode === 'webhook') throw new GsError('GS_ERR_PUSH_WEBHOOK_MODE', { resourceCode, url: s.row.webhookUrl ?? '' });
      const batch = (await this.#readAhead(s.row, s.grant, limit)) ?? (await this.nextBatch(s.row, s.grant, s.table, limit));
      if (batch.changes.length > 0 || batch.cursor > batch.after || Date.now() >= deadline) {
        await this.#handedOut(s.row, batch);
        if (batch.changes.length > 0) await this.#audited(ctx, s.grant, batch, 'poll');
        if (batch.more) this.#readNext(s.row, s.grant, s.table, batch, limit);
        return batch;
      }
      await this.#waitForChange(resourceCode, batch.cursor, deadline);
    }
  }

  /** Moves the cursor to an acknowledged batch's `cursor` (again: no change; past what was delivered: refused). */
  async ack(systemId: string, resourceCode: string, a: { generation: number; cursor: number }): Promise<SubscriptionView> {
    const row = await this.#row(systemId, resourceCode);
    if (!row) throw new GsError('GS_ERR_PUSH_SUBSCRIPTION_NOT_FOUND', { resourceCode, systemId });
    if (a.generation !== row.generation) throw new GsError('GS_ERR_PUSH_ACK_STALE', { resourceCode, generation: a.generation, current: row.generation });
    if (a.cursor > row.deliveredUntil) throw new GsError('GS_ERR_PUSH_ACK_INVALID', { resourceCode, cursor: a.cursor, deliveredUntil: row.deliveredUntil });
    const now = this.now();
    const moved = await this.db
      .updateTable('exchangeSubscriptions')
      .set({ cursor: sql<number>`greatest(cursor, ${a.cursor})`, lastAckAt: now, updatedAt: now })
      .where('id', '=', row.id)
      .where('generation', '=', a.generation)
      .returningAll()
      .executeTakeFirst();
    // A resync between the read and the update: the acknowledgement is of the old generation.
    if (!moved) throw new GsError('GS_ERR_PUSH_ACK_STALE', { resourceCode, generation: a.generation, current: a.generation + 1 });
    const table = await this.exchange.tableOf(resourceCode);
    return subscriptionView(moved, table.lastSeq);
  }

  /** Starts the subscription again from zero (next generation, a fresh snapshot). */
  async resync(ctx: RequestContext, systemId: string, resourceCode: string): Promise<SubscriptionView> {
    const { row, table } = await this.#subscribed(ctx, systemId, resourceCode);
    const restarted = await this.#restart(row, table, { grantId: row.grantId, termsDigest: row.termsDigest });
    await this.audit.record(ctx, { action: 'subscription.resync', targetType: 'subscription', targetId: row.id, details: { resourceCode, systemId, generation: restarted.generation, snapshotUntil: restarted.snapshotUntil, previousCursor: row.cursor } });
    return subscriptionView(restarted, table.lastSeq);
  }

  /**
   * Has the platform POST the batches to `url` (https only) with mutual TLS: the platform presents
   * its client certificate (issued by the platform CA) and checks the webhook server's certificate
   * against `caPem` when given, else the system's trusted CAs.
   */
  async setWebhook(ctx: RequestContext, systemId: string, resourceCode: string, w: { url: string; caPem?: string | undefined }): Promise<SubscriptionView> {
    const url = checkWebhookUrl(w.url);
    const caPem = w.caPem === undefined ? null : checkCaPem(w.caPem);
    const { row, table } = await this.#subscribed(ctx, systemId, resourceCode);
    const now = this.now();
    const updated = await this.db
      .updateTable('exchangeSubscriptions')
      .set({ mode: 'webhook', webhookUrl: url, webhookCaPem: caPem, state: 'active', attempts: 0, nextAttemptAt: now, deadLetteredAt: null, lastError: null, leaseUntil: null, claimedBy: null, version: sql<number>`version + 1`, updatedAt: now })
      .where('id', '=', row.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.audit.record(ctx, { action: 'subscription.webhook-set', targetType: 'subscription', targetId: row.id, details: { resourceCode, systemId, url, caPem: caPem !== null } });
    this.#onWebhook?.();
    return subscriptionView(updated, table.lastSeq);
  }

  /** Back to fetching: the platform stops POSTing. The cursor stays. */
  async clearWebhook(ctx: RequestContext, systemId: string, resourceCode: string): Promise<SubscriptionView> {
    const { row, table } = await this.#subscribed(ctx, systemId, resourceCode);
    const now = this.now();
    const updated = await this.db
      .updateTable('exchangeSubscriptions')
      .set({ mode: 'poll', webhookUrl: null, webhookCaPem: null, state: 'active', attempts: 0, nextAttemptAt: null, deadLetteredAt: null, leaseUntil: null, claimedBy: null, version: sql<number>`version + 1`, updatedAt: now })
      .where('id', '=', row.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.audit.record(ctx, { action: 'subscription.webhook-clear', targetType: 'subscription', targetId: row.id, details: { resourceCode, systemId, url: row.webhookUrl } });
    return subscriptionView(updated, table.lastSeq);
  }

  /** A dead-lettered subscription (or one waiting for its next attempt) is tried again now, with a fresh series of attempts. */
  async redriveOwn(ctx: RequestContext, systemId: string, resourceCode: string): Promise<SubscriptionView> {
    const row = await this.#row(systemId, resourceCode);
    if (!row) throw new GsError('GS_ERR_PUSH_SUBSCRIPTION_NOT_FOUND', { resourceCode, systemId });
    return this.#redrive(ctx, row);
  }

  // ---- the console (operators, agencies) -------------------------------------------------------

  /** Subscriptions the actor may see: all for platform staff, else those its agency consumes or provides. */
  async consoleList(actor: Actor, q: { resourceCode?: string | undefined; state?: 'active' | 'dead_letter' | undefined }): Promise<SubscriptionView[]> {
    let query = this.db
      .selectFrom('exchangeSubscriptions as s')
      .innerJoin('exchangeTables as t', 't.resourceCode', 's.resourceCode')
      .selectAll('s')
      .select('t.lastSeq as tableLastSeq')
      .orderBy('s.resourceCode')
      .orderBy('s.createdAt');
    if (q.resourceCode) query = query.where('s.resourceCode', '=', q.resourceCode);
    if (q.state) query = query.where('s.state', '=', q.state);
    if (!seesAll(actor)) {
      const agency = actor.agencyId ?? '00000000-0000-0000-0000-000000000000';
      query = query.where((eb) => eb.or([eb('s.consumerAgencyId', '=', agency), eb('t.agencyId', '=', agency)]));
    }
    const rows = await query.execute();
    return rows.map((r) => subscriptionView(r, Number(r.tableLastSeq)));
  }

  async consoleRedrive(ctx: RequestContext, id: string): Promise<SubscriptionView> {
    const row = await this.db.selectFrom('exchangeSubscriptions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new GsError('GS_ERR_PUSH_SUBSCRIPTION_UNKNOWN', { id });
    return this.#redrive(ctx, row);
  }

  // ---- shared with the webhook worker ----------------------------------------------------------

  /** Set by the webhook worker: a webhook registered or re-driven wakes it. */
  #onWebhook: (() => void) | undefined;
  set onWebhook(f: () => void) {
    this.#onWebhook = f;
  }

  /**
   * The subscription for the push grant in force, created on first use; a grant whose terms
   * changed (not a renewal with the same terms) restarts it. Throws the grant refusal otherwise.
   */
  async open(ctx: RequestContext, row: SubscriptionRow): Promise<{ row: SubscriptionRow; grant: EffectiveGrant; table: TableRow }> {
    return this.#subscribed(ctx, row.consumerSystemId, row.resourceCode);
  }

  /**
   * The batch after `row.cursor`. Runs of changes that all fall out (tombstones and filtered rows
   * of the snapshot) are passed over by moving the cursor, up to MAX_SKIPPED_BATCHES reads; a batch
   * after 0 is always answered, empty or not, so the consumer sees its `reset`.
   */
  async nextBatch(row: SubscriptionRow, grant: EffectiveGrant, table: TableRow, limit: number): Promise<PushBatch> {
    const hashKey = await this.exchange.maskKey(grant.consumerAgencyId);
    const view = grantView(grant, { hashKey });
    const refKey = createHmac('sha256', hashKey).update('govshare.push-ref').digest();
    const keyItems = table.columns.filter((c) => c.key).map((c) => c.item);
    const grantedKeys = keyItems.filter((i) => grant.items.includes(i));
    let current = row;
    for (let skipped = 0; ; skipped++) {
      const after = current.cursor;
      const read = await this.exchange.decodeRows(table, await this.#store.changes(table, after, limit));
      const changes = read.flatMap((r) => presentChange(r, current.snapshotUntil, view, refKey, keyItems, grantedKeys));
      const cursor = read.length > 0 ? read[read.length - 1]!.seq : after;
      const batch: PushBatch = {
        subscriptionId: current.id,
        resourceCode: current.resourceCode,
        grantId: grant.grantId,
        generation: current.generation,
        batchId: `${current.id}:${current.generation}:${after}-${cursor}`,
        after,
        cursor,
        phase: after < current.snapshotUntil ? 'snapshot' : 'changes',
        reset: after === 0,
        more: read.length === limit,
        items: view.items,
        changes,
      };
      if (changes.length > 0 || after === 0 || cursor === after || skipped >= MAX_SKIPPED_BATCHES) return batch;
      // Nothing of these rows leaves: move past them without the consumer.
      const moved = await this.#advance(current, after, cursor);
      if (!moved) return batch;
      current = moved;
    }
  }

  /**
   * Starts reading the batch after `batch` while the consumer receives and applies it: a consumer
   * draining a backlog asks for it next (acknowledging `batch`), and the database read, decryption
   * and presentation then overlap its work instead of following it. One per subscription.
   */
  #readNext(row: SubscriptionRow, grant: EffectiveGrant, table: TableRow, batch: PushBatch, limit: number): void {
    if (this.#ahead.size >= MAX_READ_AHEAD) this.#ahead.delete(this.#ahead.keys().next().value!);
    const next = this.nextBatch({ ...row, cursor: batch.cursor }, grant, table, limit);
    next.catch(() => undefined);
    this.#ahead.set(row.id, { generation: row.generation, after: batch.cursor, limit, grantId: grant.grantId, termsDigest: row.termsDigest, snapshotUntil: row.snapshotUntil, at: Date.now(), batch: next });
  }

  /**
   * The batch read ahead, if it is the one asked for now: same generation, terms, grant, limit
   * and snapshot end, following the cursor as it now stands, and fresh. Changes committed after it
   * was read have higher sequence numbers and come in a later batch (README.md), so it is what a
   * read now would answer, except that a row changed meanwhile may come in its earlier version
   * first and its new one later — the same order of the same changes.
   */
  async #readAhead(row: SubscriptionRow, grant: EffectiveGrant, limit: number): Promise<PushBatch | undefined> {
    const ahead = this.#ahead.get(row.id);
    if (!ahead) return undefined;
    this.#ahead.delete(row.id);
    const fits = ahead.generation === row.generation && ahead.after === Number(row.cursor) && ahead.limit === limit && ahead.grantId === grant.grantId && ahead.termsDigest === row.termsDigest && ahead.snapshotUntil === Number(row.snapshotUntil) && Date.now() - ahead.at < READ_AHEAD_MS;
    if (!fits) return undefined;
    try {
      return await ahead.batch;
    } catch {
      return undefined;
    }
  }

  /** Records that a batch was handed out (an acknowledgement may go up to it). */
  async #handedOut(row: SubscriptionRow, batch: PushBatch): Promise<void> {
    if (batch.cursor <= row.deliveredUntil) return;
    await this.db
      .updateTable('exchangeSubscriptions')
      .set({ deliveredUntil: sql<number>`greatest(delivered_until, ${batch.cursor})`, lastDeliveryAt: this.now(), updatedAt: this.now() })
      .where('id', '=', row.id)
      .where('generation', '=', batch.generation)
      .execute();
  }

  /** The cursor moved past changes that deliver nothing, if the subscription is still where it was. */
  async #advance(row: SubscriptionRow, from: number, to: number): Promise<SubscriptionRow | undefined> {
    const now = this.now();
    return this.db
      .updateTable('exchangeSubscriptions')
      .set({ cursor: to, deliveredUntil: sql<number>`greatest(delivered_until, ${to})`, updatedAt: now })
      .where('id', '=', row.id)
      .where('generation', '=', row.generation)
      .where('cursor', '=', from)
      .returningAll()
      .executeTakeFirst();
  }

  async audited(ctx: RequestContext, grant: EffectiveGrant, batch: PushBatch, mode: 'poll' | 'webhook'): Promise<void> {
    await this.#audited(ctx, grant, batch, mode);
  }

  async #audited(ctx: RequestContext, grant: EffectiveGrant, batch: PushBatch, mode: 'poll' | 'webhook'): Promise<void> {
    await this.audit.recordGrouped(ctx, {
      action: 'data.push',
      targetType: 'resource',
      targetId: batch.resourceCode,
      details: { systemId: grant.consumerSystemId, grantId: grant.grantId, subscriptionId: batch.subscriptionId, purpose: grant.purpose, mode, items: batch.items, generation: batch.generation, after: batch.after, cursor: batch.cursor, phase: batch.phase, rows: batch.changes.length },
    });
  }

  async #subscribed(ctx: RequestContext, systemId: string, resourceCode: string): Promise<{ row: SubscriptionRow; grant: EffectiveGrant; table: TableRow }> {
    const decision = await this.grants.check(systemId, resourceCode, 'push');
    if (!decision.allowed) {
      const error = refusalError(decision, systemId, resourceCode, 'push');
      await this.audit.recordGrouped(ctx, { action: 'data.push', targetType: 'resource', targetId: resourceCode, outcome: 'denied', details: { systemId, grantId: decision.grantId ?? null, code: error.code } });
      throw error;
    }
    const table = await this.exchange.tableOf(resourceCode);
    const { row } = await this.#open(ctx, decision.grant, table);
    return { row, grant: decision.grant, table };
  }

  async #open(ctx: RequestContext, grant: EffectiveGrant, table: TableRow): Promise<{ row: SubscriptionRow; created: boolean }> {
    const digest = termsDigest(grant);
    let row = await this.#row(grant.consumerSystemId, table.resourceCode);
    let created = false;
    if (!row) {
      const now = this.now();
      row = await this.db
        .insertInto('exchangeSubscriptions')
        .values({ id: newId(), consumerSystemId: grant.consumerSystemId, consumerAgencyId: grant.consumerAgencyId, resourceCode: table.resourceCode, grantId: grant.grantId, termsDigest: digest, snapshotUntil: table.lastSeq, createdAt: now, updatedAt: now })
        .onConflict((oc) => oc.columns(['consumerSystemId', 'resourceCode']).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (row) {
        created = true;
        await this.audit.record(ctx, { action: 'subscription.create', targetType: 'subscription', targetId: row.id, details: { resourceCode: table.resourceCode, systemId: grant.consumerSystemId, grantId: grant.grantId, snapshotUntil: table.lastSeq } });
      } else {
        row = (await this.#row(grant.consumerSystemId, table.resourceCode))!;
      }
    }
    if (row.termsDigest !== digest) {
      // Other items, row filter or masking: what the consumer holds no longer fits; start again.
      const previous = row;
      row = await this.#restart(row, table, { grantId: grant.grantId, termsDigest: digest });
      await this.audit.record(ctx, { action: 'subscription.resync', targetType: 'subscription', targetId: row.id, details: { resourceCode: table.resourceCode, systemId: grant.consumerSystemId, generation: row.generation, reason: 'grant terms changed', previousGrantId: previous.grantId, grantId: grant.grantId } });
    } else if (row.grantId !== grant.grantId) {
      // A renewal with the same terms: the cursor carries on under the new grant.
      row = await this.db.updateTable('exchangeSubscriptions').set({ grantId: grant.grantId, updatedAt: this.now() }).where('id', '=', row.id).returningAll().executeTakeFirstOrThrow();
    }
    return { row, created };
  }

  async #restart(row: SubscriptionRow, table: TableRow, terms: { grantId: string; termsDigest: string }): Promise<SubscriptionRow> {
    const now = this.now();
    const restarted = await this.db
      .updateTable('exchangeSubscriptions')
      .set({ ...terms, generation: sql<number>`generation + 1`, cursor: 0, deliveredUntil: 0, snapshotUntil: table.lastSeq, state: 'active', attempts: 0, nextAttemptAt: now, deadLetteredAt: null, lastError: null, leaseUntil: null, claimedBy: null, version: sql<number>`version + 1`, updatedAt: now })
      .where('id', '=', row.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    this.#onWebhook?.();
    return restarted;
  }

  async #redrive(ctx: RequestContext, row: SubscriptionRow): Promise<SubscriptionView> {
    const now = this.now();
    const updated = await this.db
      .updateTable('exchangeSubscriptions')
      .set({ state: 'active', attempts: 0, nextAttemptAt: now, deadLetteredAt: null, leaseUntil: null, claimedBy: null, version: sql<number>`version + 1`, updatedAt: now })
      .where('id', '=', row.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.audit.record(ctx, { action: 'subscription.redrive', targetType: 'subscription', targetId: row.id, details: { resourceCode: row.resourceCode, systemId: row.consumerSystemId, previousState: row.state, attempts: row.attempts, lastError: row.lastError } });
    this.#onWebhook?.();
    const table = await this.exchange.tableOf(row.resourceCode);
    return subscriptionView(updated, table.lastSeq);
  }

  #row(systemId: string, resourceCode: string): Promise<SubscriptionRow | undefined> {
    return this.db.selectFrom('exchangeSubscriptions').selectAll().where('consumerSystemId', '=', systemId).where('resourceCode', '=', resourceCode).executeTakeFirst();
  }

  /** Resolves at the deadline, on a write of the resource in this process, or when another server moved it past `cursor`. */
  async #waitForChange(resourceCode: string, cursor: number, deadline: number): Promise<void> {
    while (Date.now() < deadline) {
      const woken = await new Promise<boolean>((resolve) => {
        const waiters = this.#waiters.get(resourceCode) ?? new Set<() => void>();
        this.#waiters.set(resourceCode, waiters);
        const wake = (): void => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(
          () => {
            waiters.delete(wake);
            resolve(false);
          },
          Math.max(1, Math.min(WAIT_POLL_MS, deadline - Date.now())),
        );
        waiters.add(wake);
      });
      if (woken) return;
      const table = await this.#store.table(resourceCode);
      if (!table || table.lastSeq > cursor) return;
    }
  }
}

/** One stored row as the change a consumer receives, or nothing (see nextBatch). */
function presentChange(r: DecodedRow, snapshotUntil: number, view: GrantView, refKey: Buffer, keyItems: readonly string[], grantedKeys: readonly string[]): PushChange[] {
  const inSnapshot = r.seq <= snapshotUntil;
  const ref = createHmac('sha256', refKey)
    .update(JSON.stringify(keyItems.map((i) => r.values[i] ?? null)))
    .digest('hex')
    .slice(0, 32);
  if (!r.deleted && view.passes(r.values)) return [{ seq: r.seq, op: 'upsert', ref, row: view.present(r.values) }];
  // A tombstone, or a row outside the row filter: nothing for a snapshot, a delete afterwards
  // (the consumer may hold the record from before it changed).
  if (inSnapshot) return [];
  const presented = view.present(r.values);
  return [{ seq: r.seq, op: 'delete', ref, row: Object.fromEntries(grantedKeys.map((k) => [k, presented[k] ?? null])) }];
}

function seesAll(actor: Actor): boolean {
  return actor.type === 'cli' || actor.type === 'system' || actor.agencyId === null;
}

export function subscriptionView(r: SubscriptionRow, lastSeq: number): SubscriptionView {
  const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
  return {
    id: r.id,
    resourceCode: r.resourceCode,
    consumerSystemId: r.consumerSystemId,
    consumerAgencyId: r.consumerAgencyId,
    grantId: r.grantId,
    generation: r.generation,
    cursor: Number(r.cursor),
    snapshotUntil: Number(r.snapshotUntil),
    phase: Number(r.cursor) < Number(r.snapshotUntil) ? 'snapshot' : 'changes',
    lastSeq,
    mode: r.mode as 'poll' | 'webhook',
    webhookUrl: r.webhookUrl,
    state: r.state as 'active' | 'dead_letter',
    attempts: r.attempts,
    nextAttemptAt: iso(r.nextAttemptAt),
    lastError: r.lastError,
    recentAttempts: (r.recentAttempts ?? []) as PushAttempt[],
    lastDeliveryAt: iso(r.lastDeliveryAt),
    lastAckAt: iso(r.lastAckAt),
    deadLetteredAt: iso(r.deadLetteredAt),
    createdAt: r.createdAt.toISOString(),
  };
}

/** https only (mutual TLS), a host, no credentials or fragment. */
export function checkWebhookUrl(raw: string): string {
  const bad = (reason: string, reasonZh: string): GsError => new GsError('GS_ERR_PUSH_WEBHOOK_INVALID', { reason, reasonZh }, [{ field: 'body.url', rule: 'url', message: reason, messageZh: reasonZh }]);
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw bad(`${JSON.stringify(raw)} is not a URL`, `${JSON.stringify(raw)} 不是网址`);
  }
  if (u.protocol !== 'https:') throw bad(`push webhooks use https:// (mutual TLS), not ${u.protocol}`, `推送 Webhook 须使用 https://（双向 TLS），不能使用 ${u.protocol}`);
  if (!u.hostname) throw bad('the address names no host', '地址中没有主机名');
  if (u.username || u.password) throw bad('the address must not hold a user name or password; the platform authenticates with its certificate', '地址中不得包含用户名或密码；平台以证书认证');
  if (u.hash) throw bad('the address must not have a #fragment', '地址中不得包含 # 片段');
  return u.toString();
}

/** One or more PEM certificates, each parsable. */
function checkCaPem(pem: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const bad = (reason: string, reasonZh: string): GsError => new GsError('GS_ERR_PUSH_WEBHOOK_INVALID', { reason, reasonZh }, [{ field: 'body.caPem', rule: 'certificate', message: reason, messageZh: reasonZh }]);
  if (blocks.length === 0) throw bad('caPem holds no PEM certificate', 'caPem 中没有 PEM 格式的证书');
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch (e) {
      throw bad(`a certificate in caPem cannot be read: ${e instanceof Error ? e.message : String(e)}`, 'caPem 中的证书无法解析');
    }
  }
  return blocks.join('\n') + '\n';
}
