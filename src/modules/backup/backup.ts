import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, createGzip } from 'node:zlib';
import { sql } from 'kysely';
import { openDatabase, type DatabaseKind, type Db } from '../../db/database.js';
import { loadMigrations, migrate, schemaStatus } from '../../db/migrate.js';
import { GsError, isGsError } from '../../lib/errors.js';
import { readKeyFile } from '../../lib/key-file.js';
import { defaultBlobDir } from '../blobs/blob-store.js';
import { DecryptStream, EncryptStream } from './container.js';
import { ByteTally, type BackupSource, type BackupTarget } from './target.js';
import { backupNameOf, insertRows, listForeignKeys, listTables, parentsFirst, quoteIdent, readRows, relationOf, renderSettings, resetSequences, TableDigest, tableChecksum, tableDefinition, type TableColumn, type TableInfo } from './tables.js';

/**
 * Version of the backup's content (the lines inside the container); see README.md. Format 2 adds
 * the tables of the shared schema, each with its definition; a format 1 backup (public schema
 * only) still restores.
 */
export const BACKUP_FORMAT = 2;
const READABLE_FORMATS: readonly number[] = [1, 2];

/** A shared table's name in a backup: `shared.<name>`, the name as the exchange makes them. */
const SHARED_NAME = /^shared\.([0-9a-z_]{1,63})$/;

export interface BackupManifest {
  readonly format: number;
  readonly schemaVersion: number;
  readonly createdAt: string;
  readonly databaseKind: DatabaseKind;
  readonly tables: readonly { readonly name: string; readonly rows: number; readonly sha256: string }[];
  readonly blobs: readonly { readonly path: string; readonly size: number; readonly sha256: string }[];
}

type Header = Pick<BackupManifest, 'format' | 'schemaVersion' | 'createdAt' | 'databaseKind'>;

/** The backup's records, one JSON line each; rows and blob data are the lines between them. */
type Marker =
  | ({ readonly kind: 'header' } & Header)
  /** `definition`: the statements creating a table no migration creates (the shared tables). */
  | { readonly kind: 'table'; readonly name: string; readonly columns: readonly TableColumn[]; readonly definition?: readonly string[] }
  | { readonly kind: 'blob'; readonly path: string; readonly size: number }
  | ({ readonly kind: 'manifest' } & BackupManifest);

export interface BackupResult {
  /** Where the backup was written: a file path or `s3://bucket/key`. */
  readonly file: string;
  readonly bytes: number;
  /** SHA-256 of the bytes written, to compare with the stored copy. */
  readonly sha256: string;
  readonly durationMs: number;
  readonly manifest: BackupManifest;
}

/** The operator's backup key; without one, the error says how to make one. */
export function readBackupKey(keyFile: string | undefined): Buffer {
  if (!keyFile) throw new GsError('GS_ERR_BACKUP_KEY_MISSING');
  return readKeyFile(keyFile, (reason) => new GsError('GS_ERR_BACKUP_KEY_INVALID', { reason }));
}

/** The blob store's folder of a data directory (it may not exist yet), the default store. */
export const blobDirOf = defaultBlobDir;

function blobFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.push(relative(dir, path).split(sep).join('/'));
    }
  };
  walk(dir);
  return files;
}

const BLOB_PIECE = 48 * 1024;
const FLUSH_CHARS = 256 * 1024;

export interface CreateBackupOptions {
  readonly db: Db;
  readonly kind: DatabaseKind;
  readonly blobDir: string;
  readonly target: BackupTarget;
  /** The backup's name at the target (it must not exist there). */
  readonly name: string;
  readonly key: Buffer;
  /** Stops the backup (the target is left without it). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Writes one consistent backup of the database (every table of the public and the shared schema,
 * with the definitions of the shared tables, which no migration creates; read in one
 * repeatable-read, read-only transaction) and of the blob folder, compressed and encrypted, to
 * `name` at the target (which must not exist; it appears complete or not at all).
 */
export async function createBackup(options: CreateBackupOptions): Promise<BackupResult> {
  const started = Date.now();
  const { target, name } = options;
  const location = target.locationOf(name);
  // Before the snapshot: an existing name, a missing folder or refused credentials cost nothing.
  await target.prepare(name);
  let manifest: BackupManifest | undefined;
  let written: { bytes: number; sha256: string } | undefined;
  try {
    await options.db.transaction().execute(async (trx) => {
      // One snapshot for every table; must be the transaction's first statement.
      await sql`set transaction isolation level repeatable read, read only`.execute(trx);
      await renderSettings(trx);
      const schemaVersion = (await schemaStatus(trx)).dbVersion;
      const tables = [...parentsFirst(await listTables(trx), await listForeignKeys(trx)), ...(await listTables(trx, 'shared'))];
      const header: Header = { format: BACKUP_FORMAT, schemaVersion, createdAt: new Date().toISOString(), databaseKind: options.kind };
      async function* lines(): AsyncGenerator<string> {
        let text = `${JSON.stringify({ kind: 'header', ...header } satisfies Marker)}\n`;
        const tableSums: BackupManifest['tables'][number][] = [];
        for (const table of tables) {
          const definition = table.schema === 'public' ? undefined : await tableDefinition(trx, table);
          text += `${JSON.stringify({ kind: 'table', name: backupNameOf(table), columns: table.columns, ...(definition ? { definition } : {}) } satisfies Marker)}\n`;
          const digest = new TableDigest();
          for await (const row of readRows(trx, table)) {
            digest.add(row);
            text += `${row}\n`;
            if (text.length > FLUSH_CHARS) {
              yield text;
              text = '';
            }
          }
          tableSums.push({ name: backupNameOf(table), rows: digest.rows, sha256: digest.digest() });
        }
        const blobSums: BackupManifest['blobs'][number][] = [];
        for (const path of blobFiles(options.blobDir)) {
          const full = join(options.blobDir, path);
          text += `${JSON.stringify({ kind: 'blob', path, size: statSync(full).size } satisfies Marker)}\n`;
          const hash = createHash('sha256');
          let size = 0;
          for await (const piece of createReadStream(full, { highWaterMark: BLOB_PIECE }) as AsyncIterable<Buffer>) {
            hash.update(piece);
            size += piece.length;
            text += `${piece.toString('base64')}\n`;
            if (text.length > FLUSH_CHARS) {
              yield text;
              text = '';
            }
          }
          blobSums.push({ path, size, sha256: hash.digest('hex') });
        }
        manifest = { ...header, tables: tableSums, blobs: blobSums };
        yield `${text}${JSON.stringify({ kind: 'manifest', ...manifest } satisfies Marker)}\n`;
      }
      // The content's own failure (the database, a blob file) is kept apart from the target's.
      let contentError: Error | null = null;
      const content = pipeline(Readable.from(lines()), createGzip(), new EncryptStream(options.key), (e) => {
        contentError ??= e ?? null;
      });
      const stop = (): void => {
        content.destroy(Object.assign(new Error('the backup was stopped'), { name: 'AbortError' }));
      };
      if (options.signal?.aborted) stop();
      options.signal?.addEventListener('abort', stop, { once: true });
      try {
        written = await target.write(name, content);
      } catch (e) {
        throw contentError && !isGsError(e) ? contentError : e;
      } finally {
        options.signal?.removeEventListener('abort', stop);
      }
    });
  } catch (e) {
    if (isGsError(e)) throw e;
    throw new GsError('GS_ERR_BACKUP_FILE', { file: location, reason: e instanceof Error ? e.message : String(e) }, undefined, { cause: e });
  }
  return { file: location, bytes: written!.bytes, sha256: written!.sha256, durationMs: Date.now() - started, manifest: manifest! };
}

/** The decrypted, decompressed lines of a backup; `tally`, if given, sees the stored bytes. */
async function* readLines(from: BackupSource, key: Buffer, tally?: ByteTally): AsyncGenerator<string> {
  const file = from.location;
  const source = await from.open();
  const decrypt = new DecryptStream(key, file);
  const gunzip = createGunzip();
  source.on('error', (e) => decrypt.destroy(e));
  decrypt.on('error', (e) => gunzip.destroy(e));
  if (tally) {
    tally.on('error', (e) => decrypt.destroy(e));
    source.pipe(tally).pipe(decrypt).pipe(gunzip);
  } else {
    source.pipe(decrypt).pipe(gunzip);
  }
  const decoder = new StringDecoder('utf8');
  let rest = '';
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      const parts = (rest + decoder.write(chunk)).split('\n');
      rest = parts.pop() ?? '';
      yield* parts;
    }
  } catch (e) {
    if (isGsError(e)) throw e;
    throw new GsError('GS_ERR_BACKUP_CORRUPT', { file, reason: e instanceof Error ? e.message : String(e) }, undefined, { cause: e });
  } finally {
    source.destroy();
  }
  if (rest + decoder.end() !== '') throw new GsError('GS_ERR_BACKUP_CORRUPT', { file, reason: 'the content ends in the middle of a line' });
}

function parseMarker(file: string, line: string): Marker {
  try {
    const m = JSON.parse(line) as Marker;
    if (typeof m === 'object' && m !== null && ['header', 'table', 'blob', 'manifest'].includes(m.kind)) return m;
  } catch {
    // reported below
  }
  throw new GsError('GS_ERR_BACKUP_CORRUPT', { file, reason: `unexpected line: ${line.slice(0, 80)}` });
}

/** The backup's header (format, schema version, when, from which kind of database). */
export async function readBackupHeader(source: BackupSource, key: Buffer): Promise<Header> {
  const file = source.location;
  for await (const line of readLines(source, key)) {
    const m = parseMarker(file, line);
    if (m.kind !== 'header') break;
    if (!READABLE_FORMATS.includes(m.format)) throw new GsError('GS_ERR_BACKUP_CORRUPT', { file, reason: `content format ${m.format} is not supported` });
    return { format: m.format, schemaVersion: m.schemaVersion, createdAt: m.createdAt, databaseKind: m.databaseKind };
  }
  throw new GsError('GS_ERR_BACKUP_CORRUPT', { file, reason: 'no header' });
}

export interface RestoreOptions {
  /** Replace the target's data (every table of the public and shared schemas, and the blob folder). */
  readonly force: boolean;
  /** Where blobs go; undefined: check them only (verify). */
  readonly blobDir: string | undefined;
  /** For messages. */
  readonly location: string;
}

export interface RestoreResult {
  readonly manifest: BackupManifest;
  readonly rows: number;
  readonly durationMs: number;
}

/** Why the target is not empty, or undefined when it is. */
async function whyNotEmpty(db: Db, blobDir: string | undefined): Promise<string | undefined> {
  for (const table of await listTables(db)) {
    if (table.name === 'schema_migrations') continue;
    const r = await sql<{ found: boolean }>`select exists (select 1 from ${sql.raw(quoteIdent(table.name))}) as found`.execute(db);
    if (r.rows[0]?.found) return `table ${table.name} has rows`;
  }
  const shared = (await listTables(db, 'shared'))[0];
  if (shared) return `table ${backupNameOf(shared)} exists`;
  if (blobDir && blobFiles(blobDir).length > 0) return `blob folder ${blobDir} has files`;
  return undefined;
}

/**
 * Restores a backup into `db`: migrates it to the backup's schema version, then in one transaction
 * replaces the rows of every table with the backup's (foreign keys and user triggers set aside
 * while loading, then checked and restored), replaces the shared tables with the backup's (created
 * from their definitions in the backup), and compares every table's row count and checksum,
 * read back from the database, with the manifest. Any failure rolls the data back.
 */
export async function restoreBackup(db: Db, source: BackupSource, key: Buffer, options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const file = source.location;
  const header = await readBackupHeader(source, key);
  const migrations = loadMigrations();
  if (header.schemaVersion > migrations.length) {
    throw new GsError('GS_ERR_BACKUP_SCHEMA_NEWER', { backupVersion: header.schemaVersion, codeVersion: migrations.length });
  }
  const reason = await whyNotEmpty(db, options.blobDir);
  if (reason && !options.force) throw new GsError('GS_ERR_BACKUP_TARGET_NOT_EMPTY', { location: options.location, reason });
  const status = await schemaStatus(db);
  if (status.dbVersion > header.schemaVersion) {
    throw new GsError('GS_ERR_BACKUP_TARGET_NOT_EMPTY', { location: options.location, reason: `its schema (version ${status.dbVersion}) is newer than the backup's (${header.schemaVersion})` });
  }
  await migrate(db, migrations.slice(0, header.schemaVersion));

  const staging = options.blobDir ? `${options.blobDir}.restoring-${process.pid}` : undefined;
  if (staging) {
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true, mode: 0o700 });
  }
  let loaded: { manifest: BackupManifest; rows: number };
  try {
    loaded = await db.transaction().execute(async (trx) => {
      await renderSettings(trx);
      const tables = await listTables(trx);
      const foreignKeys = await listForeignKeys(trx);
      for (const t of tables) await sql`alter table ${sql.raw(quoteIdent(t.name))} disable trigger user`.execute(trx);
      for (const fk of foreignKeys) await sql`alter table ${sql.raw(quoteIdent(fk.table))} drop constraint ${sql.raw(quoteIdent(fk.name))}`.execute(trx);
      if (tables.length > 0) await sql`truncate ${sql.raw(tables.map((t) => quoteIdent(t.name)).join(', '))}`.execute(trx);
      // No migration makes the shared tables: the backup's definitions make them again.
      for (const t of await listTables(trx, 'shared')) await sql`drop table ${sql.raw(relationOf(t))}`.execute(trx);

      const manifest = await load(source, key, { trx, tables, blobStaging: staging });

      for (const fk of foreignKeys) await sql`alter table ${sql.raw(quoteIdent(fk.table))} add constraint ${sql.raw(quoteIdent(fk.name))} ${sql.raw(fk.definition)}`.execute(trx);
      for (const t of tables) {
        await sql`alter table ${sql.raw(quoteIdent(t.name))} enable trigger user`.execute(trx);
        await resetSequences(trx, t);
      }
      const shared = await listTables(trx, 'shared');
      for (const t of shared) await resetSequences(trx, t);
      // Read back what the database now holds, the same way the backup read it.
      const byName = new Map([...tables, ...shared].map((t) => [backupNameOf(t), t]));
      let rows = 0;
      for (const expected of manifest.tables) {
        const table = byName.get(expected.name)!;
        const actual = await tableChecksum(trx, table);
        if (actual.rows !== expected.rows || actual.sha256 !== expected.sha256) {
          throw new GsError('GS_ERR_BACKUP_CORRUPT', { file, reason: `table ${expected.name} after loading: ${actual.rows} rows, checksum ${actual.sha256.slice(0, 16)}…; the manifest says ${expected.rows} rows, ${expected.sha256.slice(0, 16)}…` });
        }
        rows += actual.rows;
      }
      return { manifest, rows };
    });
    if (staging && options.blobDir) {
      const replaced = `${options.blobDir}.replaced-${process.pid}`;
      if (existsSync(options.blobDir)) renameSync(options.blobDir, replaced);
      renameSync(staging, options.blobDir);
      rmSync(replaced, { recursive: true, force: true });
    }
  } finally {
    if (staging) rmSync(staging, { recursive: true, force: true });
  }
  return { ...loaded, durationMs: Date.now() - started };
}

/**
 * The bare name of a shared table whose definition is what `tableDefinition` writes for it, or
 * undefined. The backup is authenticated with the operator's key; this keeps a restore from
 * running anything but a table, its constraints and its indexes in the shared schema.
 */
function sharedTableName(backupName: string, definition: readonly string[]): string | undefined {
  const name = SHARED_NAME.exec(backupName)?.[1];
  if (!name || !Array.isArray(definition) || definition.length === 0) return undefined;
  const relation = `"shared"."${name}"`;
  const index = new RegExp(`^CREATE (UNIQUE )?INDEX [0-9a-z_]{1,63} ON shared\\.${name} USING `);
  const fits = (statement: unknown, i: number): boolean =>
    typeof statement === 'string' &&
    !statement.includes(';') &&
    (i === 0 ? statement.startsWith(`create table ${relation} (`) : statement.startsWith(`alter table ${relation} add constraint `) || index.test(statement));
  return definition.every(fits) ? name : undefined;
}

/** Where `load` puts the backup's content; without one it only checks it. */
interface LoadInto {
  readonly trx: Db;
  readonly tables: readonly TableInfo[];
  readonly blobStaging: string | undefined;
}

/**
 * Streams the backup's rows into the target tables (or, without a target, through the hashes
 * only), checking each table's and blob's hash and the manifest.
 */
async function load(source: BackupSource, key: Buffer, into: LoadInto | undefined, tally?: ByteTally): Promise<BackupManifest> {
  const file = source.location;
  const corrupt = (reason: string): GsError => new GsError('GS_ERR_BACKUP_CORRUPT', { file, reason });
  let header: Header | undefined;
  let manifest: BackupManifest | undefined;
  const tableSums = new Map<string, { rows: number; sha256: string }>();
  const blobSums = new Map<string, { size: number; sha256: string }>();
  let table: { name: string; info: TableInfo | undefined; digest: TableDigest; batch: string[]; bytes: number } | undefined;
  let blob: { path: string; hash: ReturnType<typeof createHash>; size: number; fd: string | undefined } | undefined;

  const flushRows = async (): Promise<void> => {
    if (!table || table.batch.length === 0) return;
    if (into && table.info) await insertRows(into.trx, table.info, table.batch);
    table.batch = [];
    table.bytes = 0;
  };
  const closeSection = async (): Promise<void> => {
    if (table) {
      await flushRows();
      tableSums.set(table.name, { rows: table.digest.rows, sha256: table.digest.digest() });
      table = undefined;
    }
    if (blob) {
      blobSums.set(blob.path, { size: blob.size, sha256: blob.hash.digest('hex') });
      blob = undefined;
    }
  };

  for await (const line of readLines(source, key, tally)) {
    if (manifest) throw corrupt('content after the manifest');
    if (!header) {
      const m = parseMarker(file, line);
      if (m.kind !== 'header') throw corrupt('no header');
      if (!READABLE_FORMATS.includes(m.format)) throw corrupt(`content format ${m.format} is not supported`);
      header = m;
      continue;
    }
    if (table && line.startsWith('[')) {
      table.digest.add(line);
      table.batch.push(line);
      table.bytes += line.length;
      if (table.batch.length >= 1000 || table.bytes > 1024 * 1024) await flushRows();
      continue;
    }
    if (blob && !line.startsWith('{')) {
      const piece = Buffer.from(line, 'base64');
      blob.hash.update(piece);
      blob.size += piece.length;
      if (blob.fd) writeFileSync(blob.fd, piece, { flag: 'a', mode: 0o600 });
      continue;
    }
    await closeSection();
    const m = parseMarker(file, line);
    if (m.kind === 'table') {
      let info: TableInfo | undefined;
      if (m.definition !== undefined) {
        const name = sharedTableName(m.name, m.definition);
        if (!name) throw corrupt(`table ${m.name}: not a definition of a shared table`);
        if (tableSums.has(m.name)) throw corrupt(`table ${m.name} appears twice`);
        if (into) {
          for (const statement of m.definition) await sql.raw(statement).execute(into.trx);
          info = (await listTables(into.trx, 'shared', name))[0];
          if (!info || JSON.stringify(info.columns) !== JSON.stringify(m.columns)) throw corrupt(`table ${m.name}: its definition does not make its columns`);
        }
      } else if (into) {
        info = into.tables.find((t) => t.name === m.name);
        if (!info) throw corrupt(`table ${m.name} does not exist at schema version ${header.schemaVersion}`);
        if (JSON.stringify(info.columns) !== JSON.stringify(m.columns)) throw corrupt(`table ${m.name} has other columns than the schema at version ${header.schemaVersion}`);
      }
      if (tableSums.has(m.name)) throw corrupt(`table ${m.name} appears twice`);
      table = { name: m.name, info, digest: new TableDigest(), batch: [], bytes: 0 };
    } else if (m.kind === 'blob') {
      if (m.path.split('/').some((p) => p === '..' || p === '' || p === '.') || m.path.includes('\\')) throw corrupt(`blob path ${m.path} is not allowed`);
      let target: string | undefined;
      if (into?.blobStaging) {
        target = join(into.blobStaging, ...m.path.split('/'));
        mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
        writeFileSync(target, Buffer.alloc(0), { flag: 'wx', mode: 0o600 });
      }
      blob = { path: m.path, hash: createHash('sha256'), size: 0, fd: target };
    } else if (m.kind === 'manifest') {
      manifest = m;
    } else {
      throw corrupt('a second header');
    }
  }
  if (!header) throw corrupt('no header');
  if (!manifest) throw corrupt('no manifest (the content ends early)');
  for (const field of ['format', 'schemaVersion', 'createdAt', 'databaseKind'] as const) {
    if (manifest[field] !== header[field]) throw corrupt(`the manifest's ${field} differs from the header's`);
  }
  const listed = new Set(manifest.tables.map((t) => t.name));
  for (const t of into?.tables ?? []) if (!listed.has(t.name)) throw corrupt(`the manifest lists no table ${t.name}`);
  for (const expected of manifest.tables) {
    const got = tableSums.get(expected.name);
    if (!got) throw corrupt(`table ${expected.name} is in the manifest but not in the backup`);
    if (got.rows !== expected.rows || got.sha256 !== expected.sha256) throw corrupt(`table ${expected.name}: content hash or row count differs from the manifest`);
  }
  if (tableSums.size !== manifest.tables.length) throw corrupt('the backup holds tables the manifest does not list');
  for (const expected of manifest.blobs) {
    const got = blobSums.get(expected.path);
    if (!got || got.size !== expected.size || got.sha256 !== expected.sha256) throw corrupt(`blob ${expected.path}: content differs from the manifest`);
  }
  if (blobSums.size !== manifest.blobs.length) throw corrupt('the backup holds blobs the manifest does not list');
  return manifest;
}

/**
 * Decrypts the backup, checks every hash and test-restores it into a scratch in-memory database,
 * comparing every table's row count and checksum after loading. Changes nothing.
 */
export async function verifyBackup(source: BackupSource, key: Buffer): Promise<RestoreResult> {
  const scratch = await openDatabase({ kind: 'pglite', dir: undefined });
  try {
    return await restoreBackup(scratch.db, source, key, { force: false, blobDir: undefined, location: 'scratch database' });
  } finally {
    await scratch.close();
  }
}

/**
 * Reads the backup once without a database: the stored bytes' size and SHA-256 against what was
 * written (`expected`), every chunk's authentication, every table's and blob's hash and row
 * count against the manifest. Lighter than `verifyBackup` (no test restore); changes nothing.
 */
export async function checkBackup(source: BackupSource, key: Buffer, expected?: { readonly bytes: number; readonly sha256: string }): Promise<BackupManifest> {
  const tally = new ByteTally();
  const manifest = await load(source, key, undefined, tally);
  if (expected) {
    const sha256 = tally.sha256();
    if (tally.bytes !== expected.bytes || sha256 !== expected.sha256) {
      throw new GsError('GS_ERR_BACKUP_CORRUPT', { file: source.location, reason: `the stored copy (${tally.bytes} bytes, SHA-256 ${sha256.slice(0, 16)}…) differs from what was written (${expected.bytes} bytes, ${expected.sha256.slice(0, 16)}…)` });
    }
  }
  return manifest;
}
