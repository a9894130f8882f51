import type { DatabaseHandle, Listener } from './database.js';

export interface ListenedCacheOptions {
  /** The LISTEN/NOTIFY channel whose every notification empties the cache (any payload). */
  readonly channel: string;
  /** The database handle's LISTEN (DatabaseHandle.listen). */
  readonly listen: DatabaseHandle['listen'];
  readonly now: () => Date;
  /** Safety net against a missed notification: no value is served from the cache for longer. */
  readonly ttlMs?: number;
  /** Bound on cached keys: past it the cache is emptied and fills again. */
  readonly maxEntries?: number;
}

export interface ListenedCacheStats {
  readonly hits: number;
  readonly loads: number;
  /** Loads whose value was not kept because a notification came while they read. */
  readonly discardedLoads: number;
  readonly resets: number;
  readonly size: number;
}

const DEFAULT_TTL_MS = 60_000;
const DEFAULT_MAX_ENTRIES = 10_000;

/**
 * A read-through cache of database facts that change seldom (who holds a certificate, say),
 * emptied whenever a trigger announces a change on `channel`. The rule that keeps it right:
 * a load keeps its value only if no notification (or lost connection) came between its start
 * and its end, since a change committed meanwhile may be missing from what it read. Until
 * `start` has subscribed, and after `stop`, nothing is cached: every `get` reads the database.
 */
export class ListenedCache<V> {
  readonly #options: ListenedCacheOptions;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  #entries = new Map<string, { readonly value: V; readonly expiresAt: number }>();
  #generation = 0;
  #listening = false;
  #listener: Listener | undefined;
  #starting: Promise<void> | undefined;
  #stats = { hits: 0, loads: 0, discardedLoads: 0, resets: 0 };

  constructor(options: ListenedCacheOptions) {
    this.#options = options;
    this.#ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  }

  /** Subscribes to the channel; from then on values are kept. */
  start(): Promise<void> {
    this.#starting ??= this.#options
      .listen(
        this.#options.channel,
        () => this.#reset(),
        () => this.#reset(),
      )
      .then(
        (listener) => {
          this.#listener = listener;
          this.#reset();
          this.#listening = true;
        },
        (e: unknown) => {
          this.#starting = undefined;
          throw e;
        },
      );
    return this.#starting;
  }

  async stop(): Promise<void> {
    const starting = this.#starting;
    this.#starting = undefined;
    await starting?.catch(() => undefined);
    this.#listening = false;
    this.#reset();
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.close();
  }

  /** The value for `key`: cached, else read by `load` (and kept when nothing changed meanwhile). */
  async get(key: string, load: () => Promise<V>): Promise<V> {
    const cached = this.#entries.get(key);
    if (cached !== undefined && cached.expiresAt > this.#options.now().getTime()) {
      this.#stats.hits += 1;
      return cached.value;
    }
    const generation = this.#generation;
    this.#stats.loads += 1;
    const value = await load();
    if (!this.#listening) return value;
    if (generation !== this.#generation) {
      this.#stats.discardedLoads += 1;
      return value;
    }
    if (this.#entries.size >= this.#maxEntries) this.#entries = new Map();
    this.#entries.set(key, { value, expiresAt: this.#options.now().getTime() + this.#ttlMs });
    return value;
  }

  stats(): ListenedCacheStats {
    return { ...this.#stats, size: this.#entries.size };
  }

  #reset(): void {
    this.#generation += 1;
    this.#stats.resets += 1;
    this.#entries = new Map();
  }
}
