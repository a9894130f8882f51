import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { GsError } from '../lib/errors.js';
import type { Db } from './database.js';
import { splitSqlScript } from './sql-script.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrationResult {
  readonly applied: readonly { readonly version: number; readonly name: string }[];
  readonly version: number;
}

export interface SchemaStatus {
  readonly dbVersion: number;
  readonly codeVersion: number;
  readonly current: boolean;
}

/** Any two-int key unique to govshare; every process that migrates takes it first. */
const MIGRATION_LOCK_KEY = 0x676f7673; // 'govs'

function migrationsDir(): string {
  // Beside this file in the source tree; the build copies the folder beside the compiled file.
  return fileURLToPath(new URL('./migrations/', import.meta.url));
}

/** The numbered SQL files `NNNN_name.sql`, in order. */
export function loadMigrations(dir: string = migrationsDir()): Migration[] {
  if (!existsSync(dir)) throw new Error(`migrations folder ${dir} is missing (was the build complete?)`);
  const migrations = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((file) => {
      const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
      if (!m) throw new Error(`migration file name ${file} does not match NNNN_name.sql`);
      const text = readFileSync(`${dir}/${file}`, 'utf8');
      return {
        version: Number(m[1]),
        name: m[2]!,
        sql: text,
        checksum: createHash('sha256').update(text).digest('hex'),
      };
    });
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 0001, 0002, … without gaps; found ${m.version} at position ${i + 1}`);
  });
  return migrations;
}

async function ensureTable(db: Db): Promise<void> {
  await sql`create table if not exists schema_migrations (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
  )`.execute(db);
}

/**
 * Applies the pending migrations in one transaction, holding an advisory lock so several
 * processes starting at once apply each migration exactly once. Refuses a database that is
 * newer than the code or whose applied migrations were edited afterwards.
 */
export async function migrate(db: Db, migrations: readonly Migration[] = loadMigrations()): Promise<MigrationResult> {
  const codeVersion = migrations.length;
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY}, 1)`.execute(trx);
    await ensureTable(trx);
    const appliedRows = await trx.selectFrom('schemaMigrations').selectAll().orderBy('version').execute();
    const dbVersion = appliedRows.at(-1)?.version ?? 0;
    if (dbVersion > codeVersion) throw new GsError('GS_ERR_DB_SCHEMA_NEWER', { dbVersion, codeVersion });
    for (const row of appliedRows) {
      const m = migrations[row.version - 1];
      if (!m || m.checksum !== row.checksum) throw new GsError('GS_ERR_DB_MIGRATION_CHANGED', { version: row.version });
    }
    const applied: { version: number; name: string }[] = [];
    for (const m of migrations.slice(dbVersion)) {
      try {
        for (const statement of splitSqlScript(m.sql)) await sql.raw(statement).execute(trx);
      } catch (e) {
        throw new GsError('GS_ERR_DB_MIGRATION_FAILED', { version: m.version, reason: e instanceof Error ? e.message : String(e) }, undefined, { cause: e });
      }
      await trx.insertInto('schemaMigrations').values({ version: m.version, name: m.name, checksum: m.checksum }).execute();
      applied.push({ version: m.version, name: m.name });
    }
    return { applied, version: codeVersion };
  });
}

export async function schemaStatus(db: Db, migrations: readonly Migration[] = loadMigrations()): Promise<SchemaStatus> {
  const exists = await sql<{ present: boolean }>`select to_regclass('schema_migrations') is not null as present`.execute(db);
  let dbVersion = 0;
  if (exists.rows[0]?.present) {
    const row = await db.selectFrom('schemaMigrations').select((eb) => eb.fn.max('version').as('v')).executeTakeFirst();
    dbVersion = row?.v ?? 0;
  }
  return { dbVersion, codeVersion: migrations.length, current: dbVersion === migrations.length };
}
