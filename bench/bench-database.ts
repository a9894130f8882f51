import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import type { BenchSettings } from './benchmark.js';

export interface BenchDatabase {
  readonly name: string;
  /** The server URL with the path naming this database. */
  readonly url: string;
  /** Drops the database, closing whatever connections are still open on it. */
  drop(): Promise<void>;
}

/** An error as one line; a refused connection to `localhost` is an AggregateError with no message. */
export function errorLine(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) return errorLine(e.errors[0]);
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

async function withServer<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000, application_name: 'govshare-bench' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The server's version (`server_version`), or a thrown error when it cannot be reached. */
export async function serverVersion(serverUrl: string): Promise<string> {
  return withServer(serverUrl, async (c) => {
    const r = await c.query<{ server_version: string }>('show server_version');
    return r.rows[0]?.server_version ?? 'unknown';
  });
}

/** A new, empty database `gs_bench_<random>` on the server. */
export async function createBenchDatabase(serverUrl: string): Promise<BenchDatabase> {
  const name = `gs_bench_${randomBytes(6).toString('hex')}`;
  await withServer(serverUrl, async (c) => {
    await c.query(`create database ${name}`);
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    // `with (force)` (PostgreSQL 13+): a pool that failed to close must not keep the database.
    drop: () =>
      withServer(serverUrl, async (c) => {
        await c.query(`drop database if exists ${name} with (force)`);
      }),
  };
}

/**
 * Runs `measure` on a fresh, migrated database on the PostgreSQL server (a pool of `poolSize`),
 * then on a fresh, migrated in-memory PGlite. What it opens is registered for teardown.
 */
export async function onBothDatabases<T>(s: BenchSettings, poolSize: number, measure: (handle: DatabaseHandle, label: 'postgres' | 'pglite') => Promise<T>): Promise<{ readonly database: string; readonly postgres: T; readonly pglite: T }> {
  const database = await createBenchDatabase(s.serverUrl);
  s.teardown.add(`drop database ${database.name}`, () => database.drop());
  const pgHandle = await openDatabase({ kind: 'postgres', url: database.url, poolSize });
  s.teardown.add('close the PostgreSQL pool', () => pgHandle.close());
  await migrate(pgHandle.db);
  const postgres = await measure(pgHandle, 'postgres');
  const liteHandle = await openDatabase({ kind: 'pglite', dir: undefined });
  s.teardown.add('close PGlite', () => liteHandle.close());
  await migrate(liteHandle.db);
  const pglite = await measure(liteHandle, 'pglite');
  return { database: database.name, postgres, pglite };
}
