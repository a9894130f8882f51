import { createHash } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../../db/database.js';

/**
 * The tables of the public schema as the catalog describes them, and the two things a logical
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
  readonly name: string;
  readonly columns: readonly TableColumn[];
  /** Positions in `columns` of the primary key (empty: no primary key, paged by ctid). */
  readonly keyColumns: readonly number[];
}

const PAGE_ROWS = 1000;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
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

/** Ordinary and partitioned tables of the public schema (not partitions), by name. */
export async function listTables(db: Db): Promise<TableInfo[]> {
  const tables = await sql<{ name: string }>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
    order by c.relname`.execute(db);
  const result: TableInfo[] = [];
  for (const { name } of tables.rows) {
    const regclass = quoteIdent(name);
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
    result.push({ name, columns: cols, keyColumns: keys.rows.map((k) => cols.findIndex((c) => c.name === k.name)) });
  }
  return result;
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
  const from = `${rowExpression(table)} as r, ${keyed ? "'[]'" : 'ctid::text'} as k from ${quoteIdent(table.name)}`;
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
  await sql`insert into ${sql.raw(quoteIdent(table.name))} (${sql.raw(columns)}) overriding system value
    select ${sql.raw(values)} from json_array_elements(${`[${rows.join(',')}]`}::json) x`.execute(trx);
}

/** Moves every sequence owned by a column of the table past the column's highest value. */
export async function resetSequences(trx: Db, table: TableInfo): Promise<void> {
  for (const column of table.columns) {
    const r = await sql<{ seq: string | null }>`select pg_get_serial_sequence(${quoteIdent(table.name)}, ${column.name}) as seq`.execute(trx);
    const seq = r.rows[0]?.seq;
    if (!seq) continue;
    const col = quoteIdent(column.name);
    await sql`select setval(${seq}::regclass, coalesce((select max(${sql.raw(col)}) from ${sql.raw(quoteIdent(table.name))}), 0) + 1, false)`.execute(trx);
  }
}
