import type { PGlite } from '@electric-sql/pglite';
import {
  PGliteDialect,
  type DatabaseConnection,
  type Driver,
  type QueryCompiler,
  type TransactionSettings,
} from 'kysely';

/**
 * Kysely's PGlite driver hands the same single connection to every caller, so a query issued
 * while another caller's transaction is open would run *inside* that transaction. This driver
 * queues callers: a connection is held by one caller from acquire to release, exactly like a
 * pool of size one. Transactions therefore stay isolated (and serialised, which is what one
 * embedded database can do anyway).
 *
 * Consequence for code running inside a transaction: every query must go through the transaction
 * (`trx`), never the outer `db`, or it would wait for its own transaction to finish. Such a wait
 * fails after ACQUIRE_TIMEOUT_MS instead of hanging, like `pg`'s pool connection timeout.
 */
export const ACQUIRE_TIMEOUT_MS = 15_000;

class SerialisedDriver implements Driver {
  readonly #inner: Driver;
  #tail: Promise<void> = Promise.resolve();
  readonly #releases = new Map<DatabaseConnection, () => void>();

  constructor(inner: Driver) {
    this.#inner = inner;
  }

  init(): Promise<void> {
    return this.#inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    let release!: () => void;
    const previous = this.#tail;
    this.#tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ACQUIRE_TIMEOUT_MS} ms waiting for the embedded database connection`)), ACQUIRE_TIMEOUT_MS);
    });
    try {
      await Promise.race([previous, timedOut]);
    } catch (e) {
      // Give up our place without blocking those queued behind us.
      void previous.then(release);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    const connection = await this.#inner.acquireConnection();
    this.#releases.set(connection, release);
    return connection;
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    await this.#inner.releaseConnection(connection);
    const release = this.#releases.get(connection);
    this.#releases.delete(connection);
    release?.();
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#inner.rollbackTransaction(connection);
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#inner.savepoint?.(connection, name, compile);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#inner.rollbackToSavepoint?.(connection, name, compile);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#inner.releaseSavepoint?.(connection, name, compile);
  }

  destroy(): Promise<void> {
    return this.#inner.destroy();
  }
}

export class SerialisedPGliteDialect extends PGliteDialect {
  constructor(pglite: PGlite) {
    super({ pglite });
  }

  override createDriver(): Driver {
    return new SerialisedDriver(super.createDriver());
  }
}
