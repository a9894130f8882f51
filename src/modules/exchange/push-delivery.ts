import { createHash } from 'node:crypto';
import { Agent, request } from 'node:https';
import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../../db/database.js';
import { GsError } from '../../lib/errors.js';
import { newId } from '../../lib/secrets.js';
import { systemContext } from '../../server/actor.js';
import type { AuditService } from '../audit/service.js';
import type { TlsCredentials } from '../pki/service.js';
import type { PushAttempt, PushBatch, SubscriptionRow, SubscriptionService } from './subscriptions.js';

export interface PushDeliveryOptions {
  readonly db: Db;
  readonly subscriptions: SubscriptionService;
  readonly audit: AuditService;
  /** The platform's client certificate (PkiService.platformClientCredentials). */
  readonly credentials: () => Promise<TlsCredentials>;
  /** Attempts of one batch before the subscription is dead-lettered (GOVSHARE_PUSH_MAX_ATTEMPTS). */
  readonly maxAttempts: number;
  /** Waits after the 1st, 2nd, … failed attempt; the last repeats (GOVSHARE_PUSH_RETRY_DELAYS). */
  readonly retryDelaysMs: readonly number[];
  /** How long the webhook has to answer (GOVSHARE_PUSH_TIMEOUT_MS). */
  readonly timeoutMs: number;
  readonly batchRows: number;
  readonly pollMs: number;
  readonly now: () => Date;
}

type WorkerLogger = Pick<Logger, 'warn' | 'error' | 'info'>;
const QUIET = { warn: () => undefined, error: () => undefined, info: () => undefined } as unknown as WorkerLogger;

/** Batches one claim delivers before the subscription is let go (others get their turn). */
const BATCHES_PER_CLAIM = 50;
/** Subscriptions claimed by one run. */
const CLAIM = 10;
/** A grant refusal is looked at again after this long (a suspension may be lifted). */
const REFUSED_RECHECK_MS = 60_000;
const MAX_ERROR = 500;
/** Webhook attempts a subscription keeps (newest first). */
const RECENT_ATTEMPTS = 10;

export interface PushRunResult {
  readonly claimed: number;
  readonly batches: number;
  readonly failed: number;
  readonly deadLettered: number;
}

/**
 * Posts the batches of webhook subscriptions (subscriptions.ts) to the consumers' mutual-TLS
 * webhooks. Several `serve` processes share the work: a subscription is claimed with FOR UPDATE
 * SKIP LOCKED and a lease, so one worker delivers it at a time and its batches stay in order.
 *
 * A 2xx answer acknowledges the batch (the cursor moves to its `cursor`); anything else — an
 * error status, a redirect, no answer within the timeout, a TLS failure — is a failed attempt,
 * retried after the configured delays; after `maxAttempts` the subscription is dead-lettered
 * (state `dead_letter`, visible with its recent attempts) until re-driven. Delivery is
 * at-least-once: a worker that dies after the POST and before recording it leaves the same batch
 * (same batch id) to be posted again after its lease.
 */
export class PushDelivery {
  readonly #o: PushDeliveryOptions;
  readonly id = `${hostname()}:${process.pid}:${newId().slice(0, 8)}`;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = true;
  /** Set by `stop`: a delivery in flight ends after its current batch. */
  #closing = false;
  #logger: WorkerLogger = QUIET;
  readonly #agents = new Map<string, Agent>();

  constructor(options: PushDeliveryOptions) {
    this.#o = options;
    options.subscriptions.onWebhook = () => this.nudge();
  }

  start(logger?: WorkerLogger): void {
    if (logger) this.#logger = logger;
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#closing = false;
    this.#timer = setInterval(() => this.nudge(), this.#o.pollMs);
    this.#timer.unref();
    this.nudge();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#closing = true;
    clearInterval(this.#timer);
    await this.#running;
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
  }

  /** Runs soon (a batch committed, a webhook registered). */
  nudge(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          const r = await this.runOnce();
          if (r.claimed === CLAIM) this.#again = true;
        } catch (err) {
          this.#logger.error({ err }, 'push delivery run failed');
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#running = undefined;
    });
  }

  /** One run: claims due webhook subscriptions with changes waiting and delivers them. */
  async runOnce(): Promise<PushRunResult> {
    const claimed = await this.#claim();
    let batches = 0;
    let failed = 0;
    let deadLettered = 0;
    await Promise.all(
      claimed.map(async (row) => {
        const r = await this.#deliver(row);
        batches += r.batches;
        if (r.failed) failed++;
        if (r.dead) deadLettered++;
      }),
    );
    return { claimed: claimed.length, batches, failed, deadLettered };
  }

  async #claim(): Promise<SubscriptionRow[]> {
    const now = this.#o.now();
    const leaseUntil = new Date(now.getTime() + this.#o.timeoutMs * (BATCHES_PER_CLAIM + 1));
    return this.#o.db.transaction().execute(async (trx) => {
      const due = await sql<{ id: string }>`
        select s.id from exchange_subscriptions s join exchange_tables t on t.resource_code = s.resource_code
        where s.mode = 'webhook' and s.state = 'active'
          and (s.next_attempt_at is null or s.next_attempt_at <= ${now})
          and (s.lease_until is null or s.lease_until <= ${now})
          and t.last_seq > s.cursor
        order by s.next_attempt_at nulls first
        limit ${CLAIM}
        for update of s skip locked`.execute(trx);
      if (due.rows.length === 0) return [];
      return trx
        .updateTable('exchangeSubscriptions')
        .set({ leaseUntil, claimedBy: this.id })
        .where(
          'id',
          'in',
          due.rows.map((r) => r.id),
        )
        .returningAll()
        .execute();
    });
  }

  async #deliver(claimed: SubscriptionRow): Promise<{ batches: number; failed: boolean; dead: boolean }> {
    const ctx = systemContext();
    let row = claimed;
    let batches = 0;
    for (let i = 0; i < BATCHES_PER_CLAIM && !this.#closing; i++) {
      let opened;
      try {
        opened = await this.#o.subscriptions.open(ctx, row);
      } catch (e) {
        if (!(e instanceof GsError)) throw e;
        // Revoked, suspended, expired…: nothing leaves; looked at again later.
        await this.#release(row, { nextAttemptAt: new Date(this.#o.now().getTime() + REFUSED_RECHECK_MS), lastError: `${e.code}: ${e.message}`.slice(0, MAX_ERROR) });
        return { batches, failed: false, dead: false };
      }
      row = opened.row;
      if (row.mode !== 'webhook' || row.state !== 'active' || row.claimedBy !== this.id) return { batches, failed: false, dead: false };
      const batch = await this.#o.subscriptions.nextBatch(row, opened.grant, opened.table, this.#o.batchRows);
      if (batch.changes.length === 0 && batch.cursor === batch.after && !batch.reset) break;
      if (batch.changes.length === 0 && !batch.reset) {
        // Only changes that deliver nothing: past them without a POST.
        const moved = await this.#acknowledged(row, batch, null);
        if (!moved) return { batches, failed: false, dead: false };
        row = moved;
        continue;
      }
      const started = this.#o.now();
      const result = await this.#post(row, batch);
      const attempt: PushAttempt = { at: started.toISOString(), after: batch.after, cursor: batch.cursor, changes: batch.changes.length, httpStatus: result.httpStatus, error: result.error };
      if (!result.ok) {
        const attempts = row.attempts + 1;
        const dead = attempts >= this.#o.maxAttempts;
        const delay = this.#o.retryDelaysMs[Math.min(attempts - 1, this.#o.retryDelaysMs.length - 1)]!;
        await this.#release(row, { attempts, nextAttemptAt: dead ? null : new Date(this.#o.now().getTime() + delay), lastError: result.error, attempt, dead });
        if (dead) {
          await this.#o.audit.record(ctx, { action: 'subscription.dead-letter', targetType: 'subscription', targetId: row.id, outcome: 'failure', details: { resourceCode: row.resourceCode, systemId: row.consumerSystemId, attempts, after: batch.after, cursor: batch.cursor, lastError: result.error } });
          this.#logger.warn({ subscriptionId: row.id, resourceCode: row.resourceCode, attempts, error: result.error }, 'push subscription dead-lettered');
        }
        return { batches, failed: true, dead };
      }
      const moved = await this.#acknowledged(row, batch, attempt);
      if (!moved) return { batches, failed: false, dead: false };
      row = moved;
      batches++;
      if (batch.changes.length > 0) await this.#o.subscriptions.audited(ctx, opened.grant, batch, 'webhook');
      if (!batch.more) break;
    }
    await this.#release(row, {});
    return { batches, failed: false, dead: false };
  }

  /** The batch was taken: the cursor moves, the series of attempts ends. Only while this worker holds the claim and the generation is the same. */
  async #acknowledged(row: SubscriptionRow, batch: PushBatch, attempt: PushAttempt | null): Promise<SubscriptionRow | undefined> {
    const now = this.#o.now();
    return this.#o.db
      .updateTable('exchangeSubscriptions')
      .set({
        cursor: batch.cursor,
        deliveredUntil: sql<number>`greatest(delivered_until, ${batch.cursor})`,
        attempts: 0,
        lastError: null,
        lastDeliveryAt: now,
        lastAckAt: now,
        nextAttemptAt: null,
        ...(attempt ? { recentAttempts: withAttempt(attempt) } : {}),
        updatedAt: now,
      })
      .where('id', '=', row.id)
      .where('claimedBy', '=', this.id)
      .where('generation', '=', batch.generation)
      .where('cursor', '=', batch.after)
      .returningAll()
      .executeTakeFirst();
  }

  async #release(row: SubscriptionRow, r: { attempts?: number; nextAttemptAt?: Date | null; lastError?: string | null; attempt?: PushAttempt; dead?: boolean }): Promise<void> {
    const now = this.#o.now();
    await this.#o.db
      .updateTable('exchangeSubscriptions')
      .set({
        leaseUntil: null,
        claimedBy: null,
        ...(r.attempts !== undefined ? { attempts: r.attempts } : {}),
        ...(r.nextAttemptAt !== undefined ? { nextAttemptAt: r.nextAttemptAt } : {}),
        ...(r.lastError !== undefined ? { lastError: r.lastError } : {}),
        ...(r.attempt ? { recentAttempts: withAttempt(r.attempt) } : {}),
        ...(r.dead ? { state: 'dead_letter', deadLetteredAt: now } : {}),
        updatedAt: now,
      })
      .where('id', '=', row.id)
      .where('claimedBy', '=', this.id)
      .execute();
  }

  async #post(row: SubscriptionRow, batch: PushBatch): Promise<{ ok: boolean; httpStatus: number | null; error: string | null }> {
    const body = JSON.stringify(batch);
    let agent: Agent;
    try {
      agent = await this.#agent(row);
    } catch (e) {
      return { ok: false, httpStatus: null, error: `the platform's client certificate is not available: ${e instanceof Error ? e.message : String(e)}` };
    }
    return new Promise((resolve) => {
      const req = request(
        row.webhookUrl!,
        {
          method: 'POST',
          agent,
          timeout: this.#o.timeoutMs,
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'govshare-push/1',
            'x-govshare-subscription': batch.subscriptionId,
            'x-govshare-batch': batch.batchId,
            'x-govshare-resource': encodeURIComponent(batch.resourceCode),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            if (size < 300) chunks.push(c);
            size += c.length;
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve({ ok: true, httpStatus: status, error: null });
            else resolve({ ok: false, httpStatus: status, error: `HTTP ${status}${chunks.length ? `: ${Buffer.concat(chunks).toString('utf8').slice(0, 300).trim()}` : ''}`.slice(0, MAX_ERROR) });
          });
          res.on('error', (e) => resolve({ ok: false, httpStatus: res.statusCode ?? null, error: e.message.slice(0, MAX_ERROR) }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#o.timeoutMs} ms`)));
      req.on('error', (e) => resolve({ ok: false, httpStatus: null, error: e.message.slice(0, MAX_ERROR) }));
      req.end(body);
    });
  }

  /** A keep-alive agent per webhook trust (CA) and platform certificate. */
  async #agent(row: SubscriptionRow): Promise<Agent> {
    const creds = await this.#o.credentials();
    const key = createHash('sha256').update(`${row.webhookCaPem ?? ''}\0${creds.cert}`).digest('hex');
    let agent = this.#agents.get(key);
    if (!agent) {
      agent = new Agent({ keepAlive: true, maxSockets: 4, key: creds.key, cert: creds.cert, ...(row.webhookCaPem ? { ca: row.webhookCaPem } : {}), minVersion: 'TLSv1.2' });
      this.#agents.set(key, agent);
    }
    return agent;
  }
}

/** The attempt first, then the earlier ones, at most RECENT_ATTEMPTS. */
function withAttempt(attempt: PushAttempt) {
  return sql<string>`(select coalesce(jsonb_agg(e.a order by e.n), '[]'::jsonb) from (select a, n from jsonb_array_elements(${JSON.stringify([attempt])}::jsonb || recent_attempts) with ordinality as x(a, n) order by n limit ${RECENT_ATTEMPTS}) e)`;
}
