import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GsError } from '../lib/errors.js';
import { openDatabase, redactUrl, type DatabaseHandle, type Db } from './database.js';
import { createServerDatabaseUrl } from './test-database.js';

/**
 * The type mapping must be the same on both drivers, so each check runs on an in-memory PGlite
 * and, when DATABASE_URL is set, on a fresh database of that PostgreSQL server. No migrations
 * are needed here: the tests make their own scratch tables.
 */
interface Driver {
  readonly name: 'pglite' | 'postgres';
  handle: DatabaseHandle | undefined;
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
      d.drop = server.drop;
      d.handle = await openDatabase({ kind: 'postgres', url: server.url, poolSize: 4 });
    }
  }
});

afterAll(async () => {
  for (const d of drivers) {
    await d.handle?.close();
    await d.drop?.();
  }
});

async function one<T>(db: Db, query: ReturnType<typeof sql<T>>): Promise<T> {
  const r = await query.execute(db);
  return r.rows[0]!;
}

describe.each(drivers)('column types on $name', (d) => {
  const db = (): Db => d.handle!.db;

  it('reports the driver kind and a printable location', () => {
    expect(d.handle!.kind).toBe(d.name);
    if (d.name === 'pglite') expect(d.handle!.location).toBe('(memory)');
    else expect(d.handle!.location).toMatch(/^postgres(ql)?:\/\//);
  });

  it('returns int8 as a JS number, up to the largest safe integer', async () => {
    const r = await one(db(), sql<{ big: unknown; small: unknown; negative: unknown }>`select 9007199254740991::int8 as big, 42::int8 as small, (-9007199254740991)::int8 as negative`);
    expect(r.big).toBe(9007199254740991);
    expect(typeof r.big).toBe('number');
    expect(r.small).toBe(42);
    expect(r.negative).toBe(-9007199254740991);
  });

  it('returns count(*) as a JS number', async () => {
    const r = await one(db(), sql<{ n: unknown }>`select count(*) as n from generate_series(1, 3)`);
    expect(r.n).toBe(3);
  });

  it('refuses an int8 beyond the safe integer range instead of losing precision', async () => {
    await expect(sql`select 9007199254740993::int8 as v`.execute(db())).rejects.toThrow(/outside the safe integer range/);
    await expect(sql`select (-9007199254740993)::int8 as v`.execute(db())).rejects.toThrow(/outside the safe integer range/);
    // the connection is still usable afterwards
    expect((await one(db(), sql<{ v: unknown }>`select 1::int8 as v`)).v).toBe(1);
  });

  it('returns numeric as an exact string', async () => {
    const r = await one(db(), sql<{ v: unknown; w: unknown }>`select 12345678901234567890.123456789::numeric as v, 0.1::numeric(10, 2) as w`);
    expect(r.v).toBe('12345678901234567890.123456789');
    expect(r.w).toBe('0.10');
  });

  it("returns date as 'YYYY-MM-DD' with no time-zone shift", async () => {
    const r = await one(db(), sql<{ v: unknown; w: unknown }>`select '2024-02-29'::date as v, '1999-12-31'::date as w`);
    expect(r.v).toBe('2024-02-29');
    expect(r.w).toBe('1999-12-31');
  });

  it('returns timestamptz as a Date at the right instant', async () => {
    const r = await one(db(), sql<{ v: unknown }>`select '2024-01-02T03:04:05.678Z'::timestamptz as v`);
    expect(r.v).toBeInstanceOf(Date);
    expect((r.v as Date).toISOString()).toBe('2024-01-02T03:04:05.678Z');
  });

  it('maps snake_case columns to camelCase through Kysely', async () => {
    const r = await one(db(), sql<Record<string, unknown>>`select 1 as some_column`);
    expect(Object.keys(r)).toEqual(['someColumn']);
  });
});

describe.each(drivers)('transactions on $name', (d) => {
  const db = (): Db => d.handle!.db;
  const table = `tx_probe_${d.name}`;

  beforeAll(async () => {
    await sql`create table ${sql.table(table)} (id int primary key)`.execute(db());
  });

  it('commits a transaction and rolls back a failed one completely', async () => {
    await db()
      .transaction()
      .execute(async (trx) => {
        await sql`insert into ${sql.table(table)} values (1)`.execute(trx);
      });
    await expect(
      db()
        .transaction()
        .execute(async (trx) => {
          await sql`insert into ${sql.table(table)} values (2)`.execute(trx);
          throw new Error('abort');
        }),
    ).rejects.toThrow('abort');
    const rows = await sql<{ id: number }>`select id from ${sql.table(table)} order by id`.execute(db());
    expect(rows.rows.map((r) => r.id)).toEqual([1]);
    await sql`delete from ${sql.table(table)}`.execute(db());
  });

  it('hides an open transaction’s insert from a query through the outer db', async () => {
    const events: string[] = [];
    let outer: Promise<number> | undefined;
    await expect(
      db()
        .transaction()
        .execute(async (trx) => {
          await sql`insert into ${sql.table(table)} values (10)`.execute(trx);
          const inside = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(trx);
          expect(inside.rows[0]!.n).toBe(1);
          events.push('trx: inserted');
          outer = sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(db()).then((r) => {
            events.push('outer: answered');
            return r.rows[0]!.n;
          });
          // Give the outer query every chance to run while the transaction is still open.
          await new Promise((resolve) => setTimeout(resolve, 100));
          events.push('trx: rolling back');
          throw new Error('roll back');
        }),
    ).rejects.toThrow('roll back');
    expect(await outer).toBe(0);
    if (d.name === 'pglite') {
      // One embedded connection: the outer query waits until the transaction has given it back.
      expect(events).toEqual(['trx: inserted', 'trx: rolling back', 'outer: answered']);
    } else {
      // A pool: the outer query runs at once on another connection and sees nothing uncommitted.
      expect(events).toEqual(['trx: inserted', 'outer: answered', 'trx: rolling back']);
    }
    const after = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(db());
    expect(after.rows[0]!.n).toBe(0);
  });

  it('lets an outer query see a transaction’s row once it commits, never before', async () => {
    const seen: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const trxDone = db()
      .transaction()
      .execute(async (trx) => {
        await sql`insert into ${sql.table(table)} values (20)`.execute(trx);
        await gate;
      });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const outer = sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)} where id = 20`.execute(db()).then((r) => {
      seen.push(r.rows[0]!.n);
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await Promise.all([trxDone, outer]);
    // PGlite: the outer query waited for the commit and sees the row; PostgreSQL: it ran at once
    // under read committed and saw nothing. Never an uncommitted row read through the transaction.
    expect(seen).toEqual(d.name === 'pglite' ? [1] : [0]);
    const after = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)} where id = 20`.execute(db());
    expect(after.rows[0]!.n).toBe(1);
  });

  it('serialises concurrent transactions without losing an update', async () => {
    await sql`insert into ${sql.table(table)} values (100)`.execute(db());
    await Promise.all(
      Array.from({ length: 5 }, () =>
        db()
          .transaction()
          .execute(async (trx) => {
            const r = await sql<{ id: number }>`select id from ${sql.table(table)} where id >= 100 order by id desc limit 1 for update`.execute(trx);
            await sql`update ${sql.table(table)} set id = ${r.rows[0]!.id + 1} where id = ${r.rows[0]!.id}`.execute(trx);
          }),
      ),
    );
    const r = await sql<{ id: number }>`select id from ${sql.table(table)} where id >= 100`.execute(db());
    expect(r.rows.map((x) => x.id)).toEqual([105]);
  });
});

describe('openDatabase on an unreachable server', () => {
  it('fails with GS_ERR_DB_UNAVAILABLE', async () => {
    const error = await openDatabase({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:1/nope' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GsError);
    expect((error as GsError).code).toBe('GS_ERR_DB_UNAVAILABLE');
    expect((error as GsError).message).toContain('127.0.0.1:1');
  });

  it('never puts the password into the error', async () => {
    const error = await openDatabase({ kind: 'postgres', url: 'postgres://postgres:Sup3r-Secret@127.0.0.1:1/nope' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GsError);
    const e = error as GsError;
    expect(e.code).toBe('GS_ERR_DB_UNAVAILABLE');
    expect(e.message).toContain('postgres://postgres@127.0.0.1:1/nope');
    expect(e.message).not.toContain('Sup3r-Secret');
    expect(e.messageZh).not.toContain('Sup3r-Secret');
    expect(JSON.stringify(e.params)).not.toContain('Sup3r-Secret');
  });
});

describe('redactUrl', () => {
  it('removes the password and keeps everything else', () => {
    expect(redactUrl('postgres://gs:secret@db.example:5432/govshare')).toBe('postgres://gs@db.example:5432/govshare');
    expect(redactUrl('postgresql://gs:p%40ss%2Fword@10.0.0.5/gs?sslmode=require')).toBe('postgresql://gs@10.0.0.5/gs?sslmode=require');
  });

  it('leaves a URL without a password unchanged', () => {
    expect(redactUrl('postgres://gs@db.example:5432/govshare')).toBe('postgres://gs@db.example:5432/govshare');
  });

  it('removes a password given as a query parameter', () => {
    const redacted = redactUrl('postgres://gs@db.example/govshare?password=secret&sslmode=require');
    expect(redacted).not.toContain('secret');
    expect(redacted).toContain('sslmode=require');
  });

  it('does not echo a URL it cannot parse', () => {
    expect(redactUrl('postgres://gs:secret@[::1/gs')).toBe('(unparseable URL)');
  });
});
