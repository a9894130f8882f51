import { createHash } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../../db/database.js';
import { SHARED_SCHEMA } from '../exchange/columns.js';

/**
 * The tables of the backed-up schemas (`BACKUP_SCHEMAS`) as the catalog describes them, and the two things a logical
 * backup does with them: read every row in primary-key order (keyset paging, one page in memory)
 * and load rows back. A row travels as the JSON array of its columns' text forms, rendered by the
 * database under fixed session settings (`renderSettings`), so the same data reads the same on
 * PGlite and on any PostgreSQL server.
 */
export interface TableColumn {
  readonly name: string;
  /** `format_type`, e.g. `timestamp with time zone`, `text[]`; used to cast text back. */
  readonly type: string;
}

export interface TableInfo {
  readonly schema: BackupSchema;
  readonly name: string;
  readonly columns: readonly TableColumn[];
  /** Positions in `columns` of the primary key (empty: no primary key, paged by ctid). */
  readonly keyColumns: readonly number[];
}

/**
 * The schemas a backup holds: `public` (made by migrations) and the exchange's `shared` (one
 * table per published table resource, made at publication, so a backup carries its definition).
 */
export const BACKUP_SCHEMAS = ['public', SHARED_SCHEMA] as const;
export type BackupSchema = (typeof BACKUP_SCHEMAS)[number];

const PAGE_ROWS = 1000;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The table's quoted, schema-qualified name. */
export function relationOf(table: Pick<TableInfo, 'schema' | 'name'>): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

/**
 * The table's name in a backup (markers, manifest): bare for the public schema, as backups made
 * before other schemas were included name them, `<schema>.<name>` otherwise.
 */
export function backupNameOf(table: Pick<TableInfo, 'schema' | 'name'>): string {
  return table.schema === 'public' ? table.name : `${table.schema}.${table.name}`;
}

/**
 * Session settings every export and load runs under (inside its transaction), so that text
 * forms do not depend on a server's defaults: time zone, date style, float digits, bytea format.
 */
export async function renderSettings(trx: Db): Promise<void> {
  for (const statement of [
    "set local timezone = 'UTC'",
    "set local datestyle = 'ISO, YMD'",
    "set local intervalstyle = 'postgres'",
    'set local extra_float_digits = 3',
    "set local bytea_output = 'hex'",
  ]) {
    await sql.raw(statement).execute(trx);
  }
}

/** Ordinary and partitioned tables of a schema (not partitions), by name; `only`: that one. */
export async function listTables(db: Db, schema: BackupSchema = 'public', only?: string): Promise<TableInfo[]> {
  const tables = await sql<{ name: string }>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schema} and c.relkind in ('r', 'p') and not c.relispartition
    ${only === undefined ? sql`` : sql`and c.relname = ${only}`}
    order by c.relname`.execute(db);
  const result: TableInfo[] = [];
  for (const { name } of tables.rows) {
    const regclass = relationOf({ schema, name });
    // Generated columns are computed again on load, so they are neither exported nor loaded.
    const columns = await sql<{ name: string; type: string }>`
      select attname as name, format_type(atttypid, atttypmod) as type from pg_attribute
      where attrelid = ${regclass}::regclass and attnum > 0 and not attisdropped and attgenerated = ''
      order by attnum`.execute(db);
    const keys = await sql<{ name: string }>`
      select a.attname as name from pg_index i
      cross join lateral unnest(i.indkey) with ordinality k(attnum, ord)
      join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
      where i.indrelid = ${regclass}::regclass and i.indisprimary
      order by k.ord`.execute(db);
    const cols = columns.rows.map((c) => ({ name: c.name, type: c.type }));
    result.push({ schema, name, columns: cols, keyColumns: keys.rows.map((k) => cols.findIndex((c) => c.name === k.name)) });
  }
  return result;
}

/**
 * The statements that create the table as it is, read from the catalog: columns (type, not null,
 * default, generated expression) in their order, then its constraints (primary key, unique,
 * check) and its other indexes by their own names. For tables no migration creates (the shared
 * tables), so that a restore makes them again exactly, whatever versions and renames made them:
 * a table that gained columns has them after the bookkeeping ones, and a retired (renamed)
 * table keeps its original constraint name while a new table took the next one.
 * Foreign keys are not included (shared tables have none).
 */
export async function tableDefinition(db: Db, table: TableInfo): Promise<string[]> {
  const regclass = relationOf(table);
  const columns = await sql<{ name: string; type: string; notNull: boolean; dflt: string | null; generated: string }>`
    select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
      pg_get_expr(d.adbin, d.adrelid) as dflt, a.attgenerated as generated
    from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    where a.attrelid = ${regclass}::regclass and a.attnum > 0 and not a.attisdropped
    order by a.attnum`.execute(db);
  const defs = columns.rows.map((c) => {
    let def = `${quoteIdent(c.name)} ${c.type}`;
    if (c.generated === 's' && c.dflt !== null) def += ` generated always as (${c.dflt}) stored`;
    else if (c.dflt !== null) def += ` default ${c.dflt}`;
    return c.notNull ? `${def} not null` : def;
  });
  const constraints = await sql<{ name: string; definition: string }>`
    select conname as name, pg_get_constraintdef(oid) as definition from pg_constraint
    where conrelid = ${regclass}::regclass and contype in ('p', 'u', 'c', 'x')
    order by conname`.execute(db);
  const indexes = await sql<{ definition: string }>`
    select pg_get_indexdef(i.indexrelid) as definition from pg_index i join pg_class x on x.oid = i.indexrelid
    where i.indrelid = ${regclass}::regclass and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid and c.conrelid = i.indrelid)
    order by x.relname`.execute(db);
  return [
    `create table ${regclass} (${defs.join(', ')})`,
    ...constraints.rows.map((c) => `alter table ${regclass} add constraint ${quoteIdent(c.name)} ${c.definition}`),
    ...indexes.rows.map((i) => i.definition),
  ];
}

export interface ForeignKey {
  readonly table: string;
  readonly name: string;
  readonly referenced: string;
  readonly definition: string;
}

export async function listForeignKeys(db: Db): Promise<ForeignKey[]> {
  const r = await sql<ForeignKey>`
    select c.relname as table, con.conname as name, p.relname as referenced, pg_get_constraintdef(con.oid) as definition
    from pg_constraint con
    join pg_class c on c.oid = con.conrelid join pg_namespace n on n.oid = c.relnamespace
    join pg_class p on p.oid = con.confrelid
    where con.contype = 'f' and n.nspname = 'public'
    order by c.relname, con.conname`.execute(db);
  return r.rows;
}

/** Parents before children; a cycle (or a self-reference) is broken by name order. */
export function parentsFirst(tables: readonly TableInfo[], foreignKeys: readonly ForeignKey[]): TableInfo[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const ordered: TableInfo[] = [];
  const visit = (name: string): void => {
    if (done.has(name) || visiting.has(name)) return;
    visiting.add(name);
    for (const fk of foreignKeys) if (fk.table === name && fk.referenced !== name) visit(fk.referenced);
    visiting.delete(name);
    done.add(name);
    const t = byName.get(name);
    if (t) ordered.push(t);
  };
  for (const t of tables) visit(t.name);
  return ordered;
}

function rowExpression(table: TableInfo): string {
  return `json_build_array(${table.columns.map((c) => `${quoteIdent(c.name)}::text`).join(', ')})::text`;
}

/**
 * Every row of the table as the JSON text of its columns' text forms, in primary-key order,
 * one page at a time. Must run inside the caller's transaction (one snapshot).
 */
export async function* readRows(trx: Db, table: TableInfo): AsyncGenerator<string> {
  const keyed = table.keyColumns.length > 0;
  const keyList = keyed ? table.keyColumns.map((i) => quoteIdent(table.columns[i]!.name)).join(', ') : 'ctid';
  const from = `${rowExpression(table)} as r, ${keyed ? "'[]'" : 'ctid::text'} as k from ${relationOf(table)}`;
  let cursor: { row: string[]; ctid: string } | undefined;
  for (;;) {
    let query: RawBuilder<{ r: string; k: string }>;
    if (!cursor) {
      query = sql<{ r: string; k: string }>`select ${sql.raw(from)} order by ${sql.raw(keyList)} limit ${sql.lit(PAGE_ROWS)}`;
    } else if (keyed) {
      const row = cursor.row;
      const bounds = sql.join(table.keyColumns.map((i) => sql`${row[i] ?? null}::${sql.raw(table.columns[i]!.type)}`));
      query = sql<{ r: string; k: string }>`select ${sql.raw(from)} where (${sql.raw(keyList)}) > (${bounds}) order by ${sql.raw(keyList)} limit ${sql.lit(PAGE_ROWS)}`;
    } else {
      query = sql<{ r: string; k: string }>`select ${sql.raw(from)} where ctid > ${cursor.ctid}::tid order by ctid limit ${sql.lit(PAGE_ROWS)}`;
    }
    const page = (await query.execute(trx)).rows;
    for (const { r } of page) yield r;
    const last = page.at(-1);
    if (!last || page.length < PAGE_ROWS) return;
    cursor = { row: JSON.parse(last.r) as string[], ctid: last.k };
  }
}

/** Row count and SHA-256 over the rows' text forms in primary-key order, each followed by a newline. */
export class TableDigest {
  readonly #hash = createHash('sha256');
  rows = 0;

  add(row: string): void {
    this.#hash.update(row).update('\n');
    this.rows++;
  }

  digest(): string {
    return this.#hash.digest('hex');
  }
}

export async function tableChecksum(trx: Db, table: TableInfo): Promise<{ rows: number; sha256: string }> {
  const d = new TableDigest();
  for await (const row of readRows(trx, table)) d.add(row);
  return { rows: d.rows, sha256: d.digest() };
}

/** Inserts rows (JSON arrays of text forms) as one statement, identity values kept as they were. */
export async function insertRows(trx: Db, table: TableInfo, rows: readonly string[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = table.columns.map((c) => quoteIdent(c.name)).join(', ');
  const values = table.columns.map((c, i) => `(x->>${i})::${c.type}`).join(', ');
  await sql`insert into ${sql.raw(relationOf(table))} (${sql.raw(columns)}) overriding system value
    select ${sql.raw(values)} from json_array_elements(${`[${rows.join(',')}]`}::json) x`.execute(trx);
}

/** Moves every sequence owned by a column of the table past the column's highest value. */
export async function resetSequences(trx: Db, table: TableInfo): Promise<void> {
  for (const column of table.columns) {
    const r = await sql<{ seq: string | null }>`select pg_get_serial_sequence(${relationOf(table)}, ${column.name}) as seq`.execute(trx);
    const seq = r.rows[0]?.seq;
    if (!seq) continue;
    const col = quoteIdent(column.name);
    await sql`select setval(${seq}::regclass, coalesce((select max(${sql.raw(col)}) from ${sql.raw(relationOf(table))}), 0) + 1, false)`.execute(trx);
  }
}
