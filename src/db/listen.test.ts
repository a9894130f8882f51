import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from './database.js';
import { LISTENER_APPLICATION_NAME } from './pg-listener.js';
import { createServerDatabaseUrl } from './test-database.js';

/** DatabaseHandle.listen on an in-memory PGlite and, when DATABASE_URL is set, on the server. */
interface Driver {
  readonly name: 'pglite' | 'postgres';
  handle: DatabaseHandle | undefined;
  url?: string;
  drop?: () => Promise<void>;
}

const drivers: Driver[] = [{ name: 'pglite', handle: undefined }];
if (process.env.DATABASE_URL) drivers.push({ name: 'postgres', handle: undefined });

beforeAll(async () => {
  for (const d of drivers) {
    if (d.name === 'pglite') {
      d.handle = await openDatabase({ kind: 'pglite', dir: undefined });
    } else {
      const server = (await createServerDatabaseUrl())!;
      d.url = server.url;
      d.drop = server.drop;
      d.handle = await openDatabase({ kind: 'postgres', url: server.url, poolSize: 3 });
    }
  }
});

afterAll(async () => {
  for (const d of drivers) {
    await d.handle?.close();
    await d.drop?.();
  }
});

/** Waits until `done()` holds, or fails after `ms`. */
async function until(done: () => boolean, ms = 5_000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe.each(drivers)('listen on $name', (d) => {
  const handle = (): DatabaseHandle => d.handle!;

  it('delivers a notification committed in a transaction, and none from a rolled-back one', async () => {
    const got: string[] = [];
    const listener = await handle().listen('gs_test_channel', (p) => got.push(p));
    try {
      await handle()
        .db.transaction()
        .execute(async (trx) => {
          await sql`select pg_notify('gs_test_channel', 'rolled back')`.execute(trx);
          throw new Error('roll back');
        })
        .catch(() => undefined);
      await handle()
        .db.transaction()
        .execute(async (trx) => {
          await sql`select pg_notify('gs_test_channel', 'committed')`.execute(trx);
          await sql`select pg_notify('gs_other_channel', 'elsewhere')`.execute(trx);
        });
      await sql`select pg_notify('gs_test_channel', 'autocommit')`.execute(handle().db);
      await until(() => got.length >= 2, 5_000, 'two notifications');
      // A marker sent last: once it arrives, nothing sent before it is still on the way.
      await sql`select pg_notify('gs_test_channel', 'marker')`.execute(handle().db);
      await until(() => got.includes('marker'));
      expect(got).toEqual(['committed', 'autocommit', 'marker']);
    } finally {
      await listener.close();
    }
  });

  it('delivers to every subscriber, and no more after close', async () => {
    const a: string[] = [];
    const b: string[] = [];
    const la = await handle().listen('gs_test_fanout', (p) => a.push(p));
    const lb = await handle().listen('gs_test_fanout', (p) => b.push(p));
    await sql`select pg_notify('gs_test_fanout', 'one')`.execute(handle().db);
    await until(() => a.length === 1 && b.length === 1);
    await la.close();
    await la.close();
    await sql`select pg_notify('gs_test_fanout', 'two')`.execute(handle().db);
    await until(() => b.length === 2);
    await sql`select pg_notify('gs_test_fanout', 'three')`.execute(handle().db);
    await until(() => b.length === 3);
    expect(a).toEqual(['one']);
    await lb.close();
  });
});

describe.runIf(process.env.DATABASE_URL)('listen on postgres, connection lost', () => {
  it('calls onReset when its backend is terminated, then again once listening on a new connection', async () => {
    const d = drivers.find((x) => x.name === 'postgres')!;
    const got: string[] = [];
    let resets = 0;
    const listener = await d.handle!.listen('gs_test_reset', (p) => got.push(p), () => (resets += 1));
    const admin = new pg.Client({ connectionString: d.url });
    await admin.connect();
    try {
      const backends = async () =>
        (await admin.query<{ pid: number }>(`select pid from pg_stat_activity where datname = current_database() and application_name = $1`, [LISTENER_APPLICATION_NAME])).rows.map((r) => r.pid);
      const [before] = await backends();
      expect(before).toBeDefined();
      await admin.query('select pg_terminate_backend($1)', [before]);
      await until(() => resets >= 2, 10_000, 'the loss and the re-subscription');
      const after = await backends();
      expect(after).toHaveLength(1);
      expect(after[0]).not.toBe(before);
      await admin.query(`select pg_notify('gs_test_reset', 'after reconnect')`);
      await until(() => got.includes('after reconnect'));
      expect(resets).toBe(2);
    } finally {
      await admin.end();
      await listener.close();
    }
  });

  it('closes its connection with the handle', async () => {
    const server = (await createServerDatabaseUrl())!;
    const h = await openDatabase({ kind: 'postgres', url: server.url, poolSize: 1 });
    await h.listen('gs_test_close', () => undefined);
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      const count = async () => (await admin.query<{ n: string }>(`select count(*) as n from pg_stat_activity where datname = current_database() and application_name = $1`, [LISTENER_APPLICATION_NAME])).rows[0]!.n;
      expect(await count()).toBe('1');
      await h.close();
      const deadline = Date.now() + 5_000;
      while ((await count()) !== '0' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await count()).toBe('0');
      await expect(h.listen('gs_test_close', () => undefined)).rejects.toThrow(/closed/);
    } finally {
      await admin.end();
      await server.drop();
    }
  });
});
