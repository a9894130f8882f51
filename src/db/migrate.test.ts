import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GsError, type ErrorCode } from '../lib/errors.js';
import { openDatabase, type DatabaseHandle, type Db } from './database.js';
import { loadMigrations, migrate, schemaStatus, type Migration } from './migrate.js';
import { createServerDatabaseUrl } from './test-database.js';

/**
 * One empty database for the file (in-memory PGlite, or a fresh database on the DATABASE_URL
 * server), migrated by the first test so that its result can be checked.
 */
let handle: DatabaseHandle;
let dropServerDb: (() => Promise<void>) | undefined;
const tmpDirs: string[] = [];

beforeAll(async () => {
  const server = await createServerDatabaseUrl();
  if (server) {
    dropServerDb = server.drop;
    handle = await openDatabase({ kind: 'postgres', url: server.url, poolSize: 4 });
  } else {
    handle = await openDatabase({ kind: 'pglite', dir: undefined });
  }
});

afterAll(async () => {
  await handle?.close();
  await dropServerDb?.();
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

const db = (): Db => handle.db;
const packaged = loadMigrations();

function checksumOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function migration(version: number, name: string, text: string): Migration {
  return { version, name, sql: text, checksum: checksumOf(text) };
}

async function tableExists(name: string): Promise<boolean> {
  const r = await sql<{ present: boolean }>`select to_regclass(${name}) is not null as present`.execute(db());
  return r.rows[0]!.present;
}

async function recorded(): Promise<{ version: number; name: string; checksum: string; appliedAt: Date }[]> {
  return db().selectFrom('schemaMigrations').select(['version', 'name', 'checksum', 'appliedAt']).orderBy('version').execute();
}

async function migrateError(list?: readonly Migration[]): Promise<GsError> {
  const e = await migrate(db(), list).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof GsError)) throw new Error(`expected a GsError, got ${String(e)}`);
  return e;
}

function expectCode(e: GsError, code: ErrorCode): void {
  expect(e.code, e.message).toBe(code);
}

describe('migrate', () => {
  it('reports an empty database as version 0, not current', async () => {
    expect(await schemaStatus(db())).toEqual({ dbVersion: 0, codeVersion: packaged.length, current: false });
  });

  it('applies every packaged migration once and records it with its checksum', async () => {
    const result = await migrate(db());
    expect(result.version).toBe(packaged.length);
    expect(result.applied).toEqual(packaged.map((m) => ({ version: m.version, name: m.name })));
    expect(result.applied[0]).toEqual({ version: 1, name: 'foundation' });

    const rows = await recorded();
    expect(rows.map((r) => ({ version: r.version, name: r.name, checksum: r.checksum }))).toEqual(
      packaged.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum })),
    );
    for (const r of rows) {
      expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(r.appliedAt).toBeInstanceOf(Date);
    }
    // the checksum is the SHA-256 of the file as shipped
    const file = fileURLToPath(new URL('./migrations/0001_foundation.sql', import.meta.url));
    expect(rows[0]!.checksum).toBe(checksumOf(readFileSync(file, 'utf8')));

    for (const table of ['regions', 'agencies', 'agency_history', 'business_systems', 'users', 'sessions', 'api_tokens', 'audit_events', 'platform_settings']) {
      expect(await tableExists(table), table).toBe(true);
    }
  });

  it('applies nothing when run again, sequentially or concurrently', async () => {
    const before = await recorded();
    expect(await migrate(db())).toEqual({ applied: [], version: packaged.length });
    const concurrent = await Promise.all([migrate(db()), migrate(db()), migrate(db())]);
    for (const r of concurrent) expect(r.applied).toEqual([]);
    expect(await recorded()).toEqual(before);
  });

  it('reports current, then outdated when the code has a migration the database lacks', async () => {
    expect(await schemaStatus(db())).toEqual({ dbVersion: packaged.length, codeVersion: packaged.length, current: true });
    const ahead = [...packaged, migration(packaged.length + 1, 'later', 'create table later_probe (id int)')];
    expect(await schemaStatus(db(), ahead)).toEqual({ dbVersion: packaged.length, codeVersion: packaged.length + 1, current: false });
  });

  it('applies a new migration on top and records it', async () => {
    const extra = migration(packaged.length + 1, 'extra_probe', 'create table extra_probe (id int primary key);\ninsert into extra_probe values (1), (2);');
    const list = [...packaged, extra];
    expect(await migrate(db(), list)).toEqual({ applied: [{ version: extra.version, name: 'extra_probe' }], version: list.length });
    const r = await sql<{ n: number }>`select count(*) as n from extra_probe`.execute(db());
    expect(r.rows[0]!.n).toBe(2);
    expect((await recorded()).at(-1)).toMatchObject({ version: extra.version, name: 'extra_probe', checksum: extra.checksum });
    expect(await migrate(db(), list)).toEqual({ applied: [], version: list.length });
    // back to the packaged state for the tests below
    await sql`drop table extra_probe`.execute(db());
    await db().deleteFrom('schemaMigrations').where('version', '=', extra.version).execute();
  });

  it('refuses a database whose recorded version is newer than the code', async () => {
    const future = packaged.length + 5;
    await db().insertInto('schemaMigrations').values({ version: future, name: 'from_the_future', checksum: 'f'.repeat(64) }).execute();
    try {
      const e = await migrateError();
      expectCode(e, 'GS_ERR_DB_SCHEMA_NEWER');
      expect(e.params).toMatchObject({ dbVersion: future, codeVersion: packaged.length });
      expect(await schemaStatus(db())).toEqual({ dbVersion: future, codeVersion: packaged.length, current: false });
    } finally {
      await db().deleteFrom('schemaMigrations').where('version', '=', future).execute();
    }
    expect(await migrate(db())).toEqual({ applied: [], version: packaged.length });
  });

  it('refuses an applied migration whose file was edited afterwards', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gs-migrations-'));
    tmpDirs.push(dir);
    const source = fileURLToPath(new URL('./migrations/', import.meta.url));
    for (const f of readdirSync(source)) copyFileSync(join(source, f), join(dir, f));
    writeFileSync(join(dir, '0001_foundation.sql'), `${packaged[0]!.sql}\n-- an innocent-looking edit\n`);
    const edited = loadMigrations(dir);
    expect(edited[0]!.checksum).not.toBe(packaged[0]!.checksum);

    const e = await migrateError(edited);
    expectCode(e, 'GS_ERR_DB_MIGRATION_CHANGED');
    expect(e.params.version).toBe(1);
    expect(await recorded()).toHaveLength(packaged.length);
  });

  it('rolls a failing migration back completely and records nothing', async () => {
    const broken = migration(packaged.length + 1, 'broken', 'create table half_done (id int);\nselect * from no_such_table;\ncreate table never_reached (id int);');
    const e = await migrateError([...packaged, broken]);
    expectCode(e, 'GS_ERR_DB_MIGRATION_FAILED');
    expect(e.params.version).toBe(broken.version);
    expect(e.message).toContain('no_such_table');
    expect(await tableExists('half_done')).toBe(false);
    expect(await tableExists('never_reached')).toBe(false);
    expect((await recorded()).map((r) => r.version)).toEqual(packaged.map((m) => m.version));
    expect(await schemaStatus(db())).toMatchObject({ dbVersion: packaged.length, current: true });
  });

  it('rolls back every pending migration when a later one in the same run fails', async () => {
    const good = migration(packaged.length + 1, 'good', 'create table good_step (id int)');
    const bad = migration(packaged.length + 2, 'bad', 'create table bad_step (id int); create table bad_step (id int)');
    const e = await migrateError([...packaged, good, bad]);
    expectCode(e, 'GS_ERR_DB_MIGRATION_FAILED');
    expect(e.params.version).toBe(bad.version);
    expect(await tableExists('good_step')).toBe(false);
    expect((await recorded()).map((r) => r.version)).toEqual(packaged.map((m) => m.version));
  });
});

describe('audit_events', () => {
  it('accepts inserts but refuses UPDATE, DELETE and TRUNCATE', async () => {
    const seq = ((await db().selectFrom('auditEvents').select((eb) => eb.fn.max('seq').as('s')).executeTakeFirst())?.s ?? 0) + 1;
    const probe = { seq, actorType: 'system', actorName: 'govshare', action: 'test.probe', outcome: 'success', details: JSON.stringify({ n: 1 }) };
    // A new row must carry its place in the hash chain.
    await expect(db().insertInto('auditEvents').values(probe).execute()).rejects.toThrow(/audit_events_chained/);
    const inserted = await db()
      .insertInto('auditEvents')
      .values({ ...probe, hashAlg: 'sha256', prevHash: '0'.repeat(64), hash: 'f'.repeat(64) })
      .returning('id')
      .executeTakeFirstOrThrow();
    await expect(db().updateTable('auditEvents').set({ action: 'test.tampered' }).where('id', '=', inserted.id).execute()).rejects.toThrow(/append-only/);
    await expect(db().deleteFrom('auditEvents').where('id', '=', inserted.id).execute()).rejects.toThrow(/append-only/);
    await expect(sql`truncate audit_events`.execute(db())).rejects.toThrow(/append-only/);
    await expect(db().updateTable('auditEvents').set({ hash: 'e'.repeat(64) }).where('id', '=', inserted.id).execute()).rejects.toThrow(/append-only/);
    await expect(sql`truncate audit_checkpoints`.execute(db())).rejects.toThrow(/append-only/);
    const row = await db().selectFrom('auditEvents').selectAll().where('id', '=', inserted.id).executeTakeFirstOrThrow();
    expect(row.action).toBe('test.probe');
    expect(row.details).toEqual({ n: 1 });
  });
});

describe('loadMigrations', () => {
  function dirWith(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'gs-migrations-'));
    tmpDirs.push(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  it('loads NNNN_name.sql files in order, ignoring other files', () => {
    const dir = dirWith({ '0002_second.sql': 'select 2', '0001_first.sql': 'select 1', 'README.md': '# notes' });
    expect(loadMigrations(dir).map((m) => [m.version, m.name, m.checksum])).toEqual([
      [1, 'first', checksumOf('select 1')],
      [2, 'second', checksumOf('select 2')],
    ]);
  });

  it('refuses a gap in the numbering', () => {
    const dir = dirWith({ '0001_first.sql': 'select 1', '0003_third.sql': 'select 3' });
    expect(() => loadMigrations(dir)).toThrow(/without gaps/);
  });

  it('refuses a file name that does not match NNNN_name.sql', () => {
    const dir = dirWith({ '0001_First-Thing.sql': 'select 1' });
    expect(() => loadMigrations(dir)).toThrow(/does not match/);
  });

  it('refuses a missing folder', () => {
    expect(() => loadMigrations(join(tmpdir(), 'gs-no-such-folder-9f3a'))).toThrow(/missing/);
  });
});

describe.runIf(Boolean(process.env.DATABASE_URL))('migrate from two processes at once (PostgreSQL server)', () => {
  it('both succeed and each migration is applied exactly once', async () => {
    const server = (await createServerDatabaseUrl())!;
    const a = await openDatabase({ kind: 'postgres', url: server.url, poolSize: 2 });
    const b = await openDatabase({ kind: 'postgres', url: server.url, poolSize: 2 });
    try {
      const [ra, rb] = await Promise.all([migrate(a.db), migrate(b.db)]);
      const applied = [...ra.applied, ...rb.applied];
      expect(applied).toEqual(packaged.map((m) => ({ version: m.version, name: m.name })));
      expect([ra.applied.length, rb.applied.length].sort()).toEqual([0, packaged.length]);
      const rows = await a.db.selectFrom('schemaMigrations').select(['version', 'checksum']).orderBy('version').execute();
      expect(rows).toEqual(packaged.map((m) => ({ version: m.version, checksum: m.checksum })));
      expect(await schemaStatus(b.db)).toMatchObject({ current: true });
    } finally {
      await a.close();
      await b.close();
      await server.drop();
    }
  });
});
