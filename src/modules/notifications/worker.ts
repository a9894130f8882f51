import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Db } from '../../db/database.js';
import { newId } from '../../lib/secrets.js';
import type { KeyRing } from '../keys/key-ring.js';
import { composeEmail, describeError, postWebhook, webhookBody, webhookSecretContext, type EmailSender, type SendResult } from './channels.js';
import { NotificationStore, type DeliveryRow } from './store.js';

export interface DeliveryWorkerOptions {
  readonly db: Db;
  readonly keys: KeyRing;
  /** Null when the platform sends no e-mail (no GOVSHARE_SMTP_URL): e-mail deliveries then fail. */
  readonly email: EmailSender | null;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  /** Waits after the 1st, 2nd, … failed attempt; the last repeats. */
  readonly retryDelaysMs: readonly number[];
  readonly pollMs: number;
  readonly now: () => Date;
  /** Until `start` is given the server's logger. */
  readonly logger?: WorkerLogger;
  /** Deliveries claimed and attempted at once by one run. */
  readonly batchSize?: number;
}

export type WorkerLogger = Pick<Logger, 'warn' | 'error'>;

const QUIET: WorkerLogger = { warn: () => undefined, error: () => undefined } as unknown as WorkerLogger;

export interface RunResult {
  readonly attempted: number;
  readonly delivered: number;
  /** Failed attempts that will be tried again. */
  readonly retrying: number;
  /** Failed attempts that used up the attempts: the delivery is failed. */
  readonly failed: number;
}

/**
 * Sends the queued deliveries after their notices committed. Any number of workers (several
 * `serve` processes on one PostgreSQL) share the queue: a delivery is claimed with FOR UPDATE
 * SKIP LOCKED and a lease (see NotificationStore.claimDue), so each attempt is made by one
 * worker. Delivery is at least once: a worker that dies after sending and before recording
 * leaves the delivery to be sent again after its lease, which is why receivers get a delivery id.
 */
export class DeliveryWorker {
  readonly #o: DeliveryWorkerOptions;
  readonly #store: NotificationStore;
  /** Names the worker in claims and attempt records: host, process, and a per-instance suffix. */
  readonly id: string;
  #timer: NodeJS.Timeout | undefined;
  #nudge: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = true;
  #logger: WorkerLogger;

  constructor(options: DeliveryWorkerOptions) {
    this.#o = options;
    this.#logger = options.logger ?? QUIET;
    this.#store = new NotificationStore(options.db);
    this.id = `${hostname()}:${process.pid}:${newId().slice(0, 8)}`;
  }

  /** Polls every `pollMs`; `nudge` wakes it at once. */
  start(logger?: WorkerLogger): void {
    if (logger) this.#logger = logger;
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#timer = setInterval(() => this.#wake(), this.#o.pollMs);
    this.#timer.unref();
    this.#wake();
  }

  /** Stops polling and waits for the attempts in flight to be recorded. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#nudge);
    await this.#running;
    this.#o.email?.close();
  }

  /**
   * A notice was queued in this process. Its transaction may not have committed yet, so the
   * worker looks now and once more shortly after; the poll catches anything later.
   */
  nudge(): void {
    if (this.#stopped) return;
    this.#wake();
    clearTimeout(this.#nudge);
    this.#nudge = setTimeout(() => this.#wake(), 250);
    this.#nudge.unref();
  }

  #wake(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          // A full batch means more may be due: go on until a run finds less.
          while (!this.#stopped && (await this.runOnce()).attempted === (this.#o.batchSize ?? 10));
        } while (this.#again && !this.#stopped);
      } catch (err) {
        this.#logger.error({ err }, 'the notification delivery worker could not run');
      } finally {
        this.#running = undefined;
      }
    })();
  }

  /** Claims the due deliveries (one batch), attempts them in parallel and records each outcome. */
  async runOnce(): Promise<RunResult> {
    const now = this.#o.now();
    // The lease outlasts an attempt (the timeout applies per SMTP step, so allow a few).
    const leaseUntil = new Date(now.getTime() + this.#o.timeoutMs * 4 + 30_000);
    const claimed = await this.#store.claimDue(this.id, now, leaseUntil, this.#o.batchSize ?? 10);
    const outcomes = await Promise.all(claimed.map((d) => this.#attempt(d)));
    return {
      attempted: claimed.length,
      delivered: outcomes.filter((o) => o === 'delivered').length,
      retrying: outcomes.filter((o) => o === 'retrying').length,
      failed: outcomes.filter((o) => o === 'failed').length,
    };
  }

  async #attempt(d: DeliveryRow): Promise<'delivered' | 'retrying' | 'failed'> {
    const startedAt = this.#o.now();
    let result: SendResult;
    let final = false;
    try {
      ({ result, final } = await this.#send(d, startedAt));
    } catch (e) {
      result = { ok: false, error: describeError(e) };
    }
    const finishedAt = this.#o.now();
    const retryAt = result.ok || final || d.attempts >= this.#o.maxAttempts ? null : new Date(finishedAt.getTime() + this.#delay(d.attempts));
    try {
      const recorded = await this.#store.finish(d, this.id, { ...result, startedAt, finishedAt }, retryAt);
      if (!recorded) this.#logger.warn({ delivery: d.id }, 'a notification delivery was handed on (manual retry or expired lease) while being attempted');
    } catch (err) {
      // The lease runs out and another attempt follows: at least once.
      this.#logger.error({ err, delivery: d.id }, 'recording a notification delivery attempt failed');
    }
    if (result.ok) return 'delivered';
    const level = retryAt ? 'warn' : 'error';
    this.#logger[level]({ delivery: d.id, channel: d.channel, attempt: d.attempts, error: result.error, retryAt: retryAt?.toISOString() ?? null }, retryAt ? 'notification delivery failed; will retry' : 'notification delivery failed for good');
    return retryAt ? 'retrying' : 'failed';
  }

  #delay(attempts: number): number {
    const delays = this.#o.retryDelaysMs;
    return delays[Math.min(attempts, delays.length) - 1] ?? delays.at(-1) ?? 60_000;
  }

  /** `final`: retrying cannot help (the webhook was deleted or deactivated). */
  async #send(d: DeliveryRow, now: Date): Promise<{ result: SendResult; final: boolean }> {
    const n = await this.#store.notification(d.notificationId);
    if (!n) return { result: { ok: false, error: 'the notice is gone' }, final: true };
    if (d.channel === 'email') {
      if (!this.#o.email) return { result: { ok: false, error: 'this server sends no e-mail (GOVSHARE_SMTP_URL is not set)' }, final: false };
      return { result: await this.#o.email.send(composeEmail(n, d.address, d.id)), final: false };
    }
    const hook = d.webhookId ? await this.#store.webhook(d.webhookId) : undefined;
    if (!hook) return { result: { ok: false, error: 'the webhook was deleted' }, final: true };
    if (!hook.active) return { result: { ok: false, error: 'the webhook is deactivated' }, final: true };
    const secret = this.#o.keys.open(hook.secretSealed, webhookSecretContext(hook.id)).toString('utf8');
    // The URL of the webhook now, not at queue time: a corrected URL applies to pending deliveries.
    return { result: await postWebhook({ url: hook.url, secret, kind: n.kind, deliveryId: d.id, body: webhookBody(n), now, timeoutMs: this.#o.timeoutMs }), final: false };
  }
}
