import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { CamelCasePlugin, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { GsError } from '../lib/errors.js';
import { copyOutBinary, copyOutStream, type BinaryRow } from './copy-binary.js';
import { CopyingClient, copyingPGlite } from './copy-in.js';
import { listenPostgres, type Listener } from './pg-listener.js';
import { SerialisedPGliteDialect } from './pglite-dialect.js';
import type { Database } from './schema.js';
import { TYPE_PARSERS } from './type-parsers.js';

export const DATABASE_KINDS = ['pglite', 'postgres'] as const;
export type DatabaseKind = (typeof DATABASE_KINDS)[number];

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  readonly db: Db;
  readonly kind: DatabaseKind;
  /** Where the data is, safe to print (no password). */
  readonly location: string;
  /**
   * PostgreSQL server only: the rows of a SELECT with every value as the raw bytes the server
   * sends (copy-binary.ts), for readers of large results that want bytes rather than strings.
   */
  readonly copyOutBinary?: (select: string) => Promise<BinaryRow[]>;
  /** PostgreSQL server only: the same, as the whole binary COPY stream (copy-binary.ts `copyOutStream`). */
  readonly copyOutStream?: (select: string) => Promise<Buffer>;
  /**
   * Subscribes to a LISTEN/NOTIFY channel: `onMessage` gets the payload of every notification
   * committed on it. On the PostgreSQL server the subscription has a connection of its own; when
   * that connection is lost `onReset` is called (notifications may have been missed), and called
   * again once it listens again on a new connection. PGlite has no connection to lose. Resolves
   * once listening; `close()` of the handle closes every subscription.
   */
  listen(channel: string, onMessage: (payload: string) => void, onReset?: () => void): Promise<Listener>;
  close(): Promise<void>;
}

export type { Listener } from './pg-listener.js';

/** The open subscriptions of one handle, closed before the handle itself. */
class Listeners {
  readonly #open = new Set<Listener>();
  #closed = false;

  async add(subscribe: () => Promise<Listener>): Promise<Listener> {
    if (this.#closed) throw new Error('the database handle is closed');
    const inner = await subscribe();
    let done: Promise<void> | undefined;
    const listener: Listener = {
      close: () => {
        if (!done) {
          this.#open.delete(listener);
          done = inner.close();
        }
        return done;
      },
    };
    this.#open.add(listener);
    if (this.#closed) await listener.close();
    return listener;
  }

  async closeAll(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#open].map((l) => l.close().catch(() => undefined)));
  }
}

export type DatabaseTarget =
  | { readonly kind: 'postgres'; readonly url: string; readonly poolSize?: number }
  /** `dir` undefined: in memory (tests). */
  | { readonly kind: 'pglite'; readonly dir: string | undefined };

const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    const parser = TYPE_PARSERS[oid];
    if (parser && format !== 'binary') return parser;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** `postgres://user:secret@host/db` → `postgres://user@host/db` for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    // `pg` also takes the password as a query parameter.
    if (u.searchParams.has('password')) u.searchParams.delete('password');
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function reason(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) return reason(e.errors[0]);
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

/** The directory PGlite keeps its files in, under the platform's data directory. */
export function pgliteDir(dataDir: string): string {
  return join(dataDir, 'pgdata');
}

export async function openDatabase(target: DatabaseTarget): Promise<DatabaseHandle> {
  if (target.kind === 'postgres') return openPostgres(target.url, target.poolSize ?? 10);
  return openPGlite(target.dir);
}

async function openPostgres(url: string, poolSize: number): Promise<DatabaseHandle> {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    types: pgTypes,
    application_name: 'govshare',
    // COPY FROM STDIN through Kysely, on the transaction's connection (copy-in.ts).
    Client: CopyingClient,
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [new CamelCasePlugin()] });
  try {
    await sql`select 1`.execute(db);
  } catch (e) {
    await db.destroy().catch(() => undefined);
    throw new GsError('GS_ERR_DB_UNAVAILABLE', { reason: `${redactUrl(url)}: ${reason(e)}` }, undefined, { cause: e });
  }
  const listeners = new Listeners();
  return {
    db,
    kind: 'postgres',
    location: redactUrl(url),
    copyOutBinary: (select) => copyOutBinary(pool, select),
    copyOutStream: (select) => copyOutStream(pool, select),
    listen: (channel, onMessage, onReset) =>
      listeners.add(async () => {
        try {
          return await listenPostgres({ url, channel, onMessage, onReset });
        } catch (e) {
          throw new GsError('GS_ERR_DB_UNAVAILABLE', { reason: `${redactUrl(url)}: LISTEN ${channel}: ${reason(e)}` }, undefined, { cause: e });
        }
      }),
    close: async () => {
      await listeners.closeAll();
      await db.destroy();
    },
  };
}

async function openPGlite(dir: string | undefined): Promise<DatabaseHandle> {
  let pglite: PGlite;
  try {
    if (dir !== undefined) mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The options-object form: `new PGlite(undefined, options)` silently drops the options.
    pglite = new PGlite({ dataDir: dir, parsers: TYPE_PARSERS as Record<number, (value: string) => unknown> });
    await pglite.waitReady;
  } catch (e) {
    throw new GsError('GS_ERR_DB_DATA_DIR', { dataDir: dir ?? '(memory)', reason: reason(e) }, undefined, { cause: e });
  }
  const db = new Kysely<Database>({ dialect: new SerialisedPGliteDialect(copyingPGlite(pglite)), plugins: [new CamelCasePlugin()] });
  const listeners = new Listeners();
  return {
    db,
    kind: 'pglite',
    location: dir ?? '(memory)',
    // PGlite delivers a notification when the statement carrying it (the COMMIT, or the
    // statement itself outside a transaction) returns, whichever caller of the instance ran it:
    // the serialising dialect's transactions included. One instance, no connection to lose: no onReset.
    listen: (channel, onMessage) =>
      listeners.add(async () => {
        const unlisten = await pglite.listen(channel, onMessage);
        return { close: () => (pglite.closed ? Promise.resolve() : unlisten()) };
      }),
    close: async () => {
      await listeners.closeAll();
      await db.destroy();
    },
  };
}
