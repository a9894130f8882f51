import pg from 'pg';

/** A subscription to one LISTEN/NOTIFY channel; `close` ends it (idempotent). */
export interface Listener {
  close(): Promise<void>;
}

export interface PostgresListenerOptions {
  readonly url: string;
  readonly channel: string;
  readonly onMessage: (payload: string) => void;
  /**
   * Called when the connection is lost (notifications may be missed from then on) and again once
   * the channel is listened to on a new connection (whatever was missed meanwhile is unknown).
   */
  readonly onReset?: (() => void) | undefined;
  /** First reconnection delay; doubles on every failed attempt up to `maxBackoffMs`. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How often the connection is probed, so that a silently dead one is noticed. */
  readonly heartbeatMs?: number;
}

/** How the listening connections show in `pg_stat_activity.application_name`. */
export const LISTENER_APPLICATION_NAME = 'govshare-listen';

/**
 * LISTEN on a dedicated connection of its own (`pg.Client`): a pool would hand the connection to
 * other work and drop the subscription when it recycles the connection. When the connection goes
 * (server restart, `pg_terminate_backend`, network), it reconnects with exponential backoff and
 * LISTENs again, telling the owner through `onReset` both when it is lost and when it is back.
 * Resolves once the first LISTEN is in place; rejects if that first connection fails.
 */
export async function listenPostgres(options: PostgresListenerOptions): Promise<Listener> {
  const listener = new PostgresListener(options);
  await listener.connect();
  return listener;
}

class PostgresListener implements Listener {
  readonly #o: PostgresListenerOptions;
  #client: pg.Client | undefined;
  #closed = false;
  #reconnect: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #attempt = 0;

  constructor(options: PostgresListenerOptions) {
    this.#o = options;
  }

  /** One connection and its LISTEN; rejects (having closed the client) when either fails. */
  async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#o.url,
      application_name: LISTENER_APPLICATION_NAME,
      connectionTimeoutMillis: 5_000,
      // A query (the LISTEN, the heartbeat) that gets no answer counts as a lost connection.
      query_timeout: 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    let established = false;
    let lost = false;
    const onLost = (): void => {
      // 'error' and 'end' both come for one loss; errors during connect() reject it instead.
      if (!established || lost) return;
      lost = true;
      if (this.#client === client) this.#client = undefined;
      clearInterval(this.#heartbeat);
      client.end().catch(() => undefined);
      if (this.#closed) return;
      this.#o.onReset?.();
      this.#scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (message) => {
      if (message.channel === this.#o.channel && !lost && !this.#closed) this.#o.onMessage(message.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`listen ${client.escapeIdentifier(this.#o.channel)}`);
    } catch (e) {
      client.removeAllListeners('notification');
      // Keep an error handler: a late socket error must not become an uncaught exception.
      await client.end().catch(() => undefined);
      throw e;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    established = true;
    this.#client = client;
    this.#heartbeat = setInterval(() => {
      client.query('select 1').catch(() => {
        onLost();
      });
    }, this.#o.heartbeatMs ?? 30_000);
    this.#heartbeat.unref();
  }

  #scheduleReconnect(): void {
    const min = this.#o.minBackoffMs ?? 100;
    const max = this.#o.maxBackoffMs ?? 5_000;
    const delay = Math.min(max, min * 2 ** this.#attempt) * (0.75 + Math.random() * 0.5);
    this.#attempt += 1;
    this.#reconnect = setTimeout(() => {
      this.#reconnect = undefined;
      this.connect().then(
        () => {
          if (this.#closed) return;
          this.#attempt = 0;
          // Re-subscribed: anything published while the connection was down was missed.
          this.#o.onReset?.();
        },
        () => {
          if (!this.#closed) this.#scheduleReconnect();
        },
      );
    }, delay);
    this.#reconnect.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnect);
    clearInterval(this.#heartbeat);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }
}
