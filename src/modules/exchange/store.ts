import { sql, type RawBuilder } from 'kysely';
import { copyIn, copyText } from '../../db/copy-in.js';
import type { Db } from '../../db/database.js';
import { BOOKKEEPING, primaryKeyColumns, qualified, type SharedColumn } from './columns.js';

/**
 * What a shared table is (where, which columns), without what every accepted batch changes:
 * what a reader needs, and what each server may keep (ExchangeService.shapeOf).
 */
export interface TableShape {
  readonly resourceCode: string;
  readonly entryId: string;
  readonly agencyId: string;
  readonly tableName: string;
  readonly catalogVersion: number;
  readonly schemaVersion: number;
  readonly columns: readonly SharedColumn[];
  readonly withdrawnAt: Date | null;
  readonly retiredAt: Date | null;
  /** Registered by a bulk publication, the physical table not yet created (created at its first use, migration 0020). */
  readonly pending: boolean;
}

export interface TableRow extends TableShape {
  readonly lastSeq: number;
  readonly lastUpdateAt: Date | null;
}

/** A row ready for the table: values by column name (ciphertexts and blind indexes as bytes). */
export type StoredValue = string | boolean | Buffer | null;
export interface WriteRow {
  readonly seq: number;
  readonly deleted: boolean;
  readonly values: ReadonlyMap<string, StoredValue>;
}

const TABLE_COLUMNS = ['resourceCode', 'entryId', 'agencyId', 'tableName', 'catalogVersion', 'schemaVersion', 'columns', 'lastSeq', 'lastUpdateAt', 'withdrawnAt', 'retiredAt', 'pending'] as const;

const ident = (name: string): RawBuilder<unknown> => sql.ref(name);

/** The staging table of the batch in progress (temporary: one per connection, dropped at commit). */
const STAGE = 'pg_temp.gs_ingest_stage';

/** The exchange module's SQL: its metadata tables and the physical shared tables. */
export class ExchangeStore {
  constructor(private readonly db: Db) {}

  async table(resourceCode: string, executor: Db = this.db, lock = false): Promise<TableRow | undefined> {
    let q = executor.selectFrom('exchangeTables').select(TABLE_COLUMNS).where('resourceCode', '=', resourceCode);
    if (lock) q = q.forUpdate();
    return (await q.executeTakeFirst()) as TableRow | undefined;
  }

  async tables(agencyId: string | null, executor: Db = this.db): Promise<TableRow[]> {
    let q = executor.selectFrom('exchangeTables').select(TABLE_COLUMNS).orderBy('resourceCode');
    if (agencyId !== null) q = q.where('agencyId', '=', agencyId);
    return (await q.execute()) as TableRow[];
  }

  async insertTable(row: Omit<TableRow, 'lastSeq' | 'lastUpdateAt' | 'withdrawnAt' | 'retiredAt' | 'schemaVersion' | 'pending'> & { readonly pending?: boolean }, now: Date, trx: Db): Promise<void> {
    await trx
      .insertInto('exchangeTables')
      .values({ ...row, columns: JSON.stringify(row.columns), createdAt: now, updatedAt: now })
      .execute();
  }

  async updateTable(resourceCode: string, patch: { columns?: readonly SharedColumn[]; catalogVersion?: number; schemaVersion?: number; tableName?: string; withdrawnAt?: Date | null; retiredAt?: Date | null; lastSeq?: number; lastUpdateAt?: Date; pending?: boolean }, now: Date, trx: Db): Promise<void> {
    const { columns, ...rest } = patch;
    await trx
      .updateTable('exchangeTables')
      .set({ ...rest, ...(columns ? { columns: JSON.stringify(columns) } : {}), updatedAt: now })
      .where('resourceCode', '=', resourceCode)
      .execute();
  }

  /** Registers new tables as pending (migration 0020), skipping codes that have a row; the codes registered. */
  async insertPendingTables(rows: readonly Omit<TableRow, 'lastSeq' | 'lastUpdateAt' | 'withdrawnAt' | 'retiredAt' | 'schemaVersion' | 'pending'>[], now: Date, trx: Db): Promise<Set<string>> {
    if (rows.length === 0) return new Set();
    const r = await trx
      .insertInto('exchangeTables')
      .values(rows.map((row) => ({ ...row, columns: JSON.stringify(row.columns), pending: true, createdAt: now, updatedAt: now })))
      .onConflict((oc) => oc.column('resourceCode').doNothing())
      .returning('resourceCode')
      .execute();
    return new Set(r.map((x) => x.resourceCode));
  }

  /** Runs generated DDL (column maps are generated, never taken from input). */
  async ddl(statements: readonly string[], trx: Db): Promise<void> {
    for (const s of statements) await sql.raw(s).execute(trx);
  }

  async batch(resourceCode: string, idempotencyKey: string, executor: Db): Promise<{ bodySha256: string; outcome: unknown } | undefined> {
    return executor.selectFrom('exchangeBatches').select(['bodySha256', 'outcome']).where('resourceCode', '=', resourceCode).where('idempotencyKey', '=', idempotencyKey).executeTakeFirst();
  }

  async insertBatch(row: { resourceCode: string; idempotencyKey: string; bodySha256: string; source: string; outcome: unknown; createdBy: string }, now: Date, trx: Db): Promise<void> {
    await trx
      .insertInto('exchangeBatches')
      .values({ ...row, outcome: JSON.stringify(row.outcome), createdAt: now })
      .execute();
  }

  async insertQuarantine(rows: readonly { id: string; resourceCode: string; idempotencyKey: string; rowNumber: number; operation: string; sealedRow: string; problems: unknown }[], now: Date, trx: Db): Promise<void> {
    if (rows.length === 0) return;
    await trx
      .insertInto('exchangeQuarantine')
      .values(rows.map((r) => ({ ...r, problems: JSON.stringify(r.problems), createdAt: now })))
      .execute();
  }

  async quarantine(resourceCode: string, q: { after?: string | undefined; limit: number }, executor: Db = this.db) {
    let query = executor
      .selectFrom('exchangeQuarantine')
      .select(['id', 'idempotencyKey', 'rowNumber', 'operation', 'sealedRow', 'problems', 'createdAt'])
      .where('resourceCode', '=', resourceCode)
      .where('resolvedAt', 'is', null)
      .orderBy('createdAt')
      .orderBy('id')
      .limit(q.limit);
    if (q.after) query = query.where('id', '>', q.after);
    return query.execute();
  }

  async resolveQuarantine(resourceCode: string, ids: readonly string[], now: Date, trx: Db): Promise<number> {
    if (ids.length === 0) return 0;
    const r = await trx.updateTable('exchangeQuarantine').set({ resolvedAt: now }).where('resourceCode', '=', resourceCode).where('id', 'in', ids).where('resolvedAt', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  // ---- data keys ------------------------------------------------------------------------------

  async dataKeys(executor: Db = this.db) {
    return executor.selectFrom('exchangeDataKeys').select(['id', 'purpose', 'algorithm', 'sealedKey', 'active']).orderBy('id').execute();
  }

  /** Inserts an active key for its purpose unless one exists (several servers may race). */
  async insertDataKey(row: { purpose: string; algorithm: string; sealedKey: string }, trx: Db): Promise<void> {
    await sql`insert into exchange_data_keys (purpose, algorithm, sealed_key) values (${row.purpose}, ${row.algorithm}, ${row.sealedKey}) on conflict (purpose) where active do nothing`.execute(trx);
  }

  async deactivateDataKey(id: number, trx: Db): Promise<void> {
    await trx.updateTable('exchangeDataKeys').set({ active: false }).where('id', '=', id).execute();
  }

  // ---- the shared tables ----------------------------------------------------------------------

  /**
   * Upserts (or, with `deleted`, tombstones) rows in one multi-row INSERT … ON CONFLICT. Rows
   * must have distinct keys (a statement cannot touch a row twice). A tombstone clears the
   * non-key values: a deleted record's data does not linger in the table.
   */
  async write(table: TableRow, rows: readonly WriteRow[], now: Date, trx: Db): Promise<void> {
    if (rows.length === 0) return;
    const dataColumns = table.columns.flatMap((c) => (c.indexColumn ? [c.column, c.indexColumn] : [c.column]));
    const pk = new Set(primaryKeyColumns(table.columns));
    const keyOnly = new Set(table.columns.filter((c) => c.key).flatMap((c) => (c.indexColumn ? [c.column, c.indexColumn] : [c.column])));
    const deleted = rows[0]!.deleted;
    const cols = [...dataColumns, BOOKKEEPING.seq, BOOKKEEPING.deleted, BOOKKEEPING.createdAt, BOOKKEEPING.updatedAt];
    const values = rows.map(
      (r) =>
        sql`(${sql.join([
          ...dataColumns.map((c) => (deleted && !keyOnly.has(c) ? sql`null` : sql`${r.values.get(c) ?? null}`)),
          sql`${r.seq}`,
          sql`${r.deleted}`,
          sql`${now}`,
          sql`${now}`,
        ])})`,
    );
    const updates = [...dataColumns.filter((c) => !pk.has(c)), BOOKKEEPING.seq, BOOKKEEPING.deleted, BOOKKEEPING.updatedAt].map((c) => sql`${ident(c)} = excluded.${ident(c)}`);
    await sql`insert into ${sql.raw(qualified(table.tableName))} (${sql.join(cols.map(ident))}) values ${sql.join(values)} on conflict (${sql.join([...pk].map(ident))}) do update set ${sql.join(updates)}`.execute(trx);
  }

  /**
   * The batch's staging table for COPY: a temporary table of the data, index and bookkeeping
   * columns the chunks are copied into, dropped at the end of the batch's transaction.
   */
  async stage(table: TableRow, trx: Db): Promise<void> {
    const defs = table.columns.flatMap((c) => (c.indexColumn ? [`"${c.column}" ${c.sqlType}`, `"${c.indexColumn}" bytea`] : [`"${c.column}" ${c.sqlType}`]));
    await sql.raw(`create temporary table ${STAGE} (${[...defs, `"${BOOKKEEPING.seq}" bigint not null`, `"${BOOKKEEPING.deleted}" boolean not null`].join(', ')}) on commit drop`).execute(trx);
  }

  /**
   * Upserts and tombstones in one go: the rows are copied (COPY, text format) into the staging
   * table made by `stage`, then moved by one INSERT … SELECT … ON CONFLICT DO UPDATE. Rows must
   * have distinct keys; a tombstone's values hold its key columns only, so the others are cleared.
   */
  async writeStaged(table: TableRow, rows: readonly WriteRow[], now: Date, trx: Db): Promise<void> {
    if (rows.length === 0) return;
    const dataColumns = table.columns.flatMap((c) => (c.indexColumn ? [c.column, c.indexColumn] : [c.column]));
    const pk = new Set(primaryKeyColumns(table.columns));
    const parts: string[] = [];
    for (const r of rows) {
      let line = '';
      for (const c of dataColumns) line += `${copyText(r.values.get(c) ?? null)}\t`;
      parts.push(`${line}${r.seq}\t${r.deleted ? 't' : 'f'}\n`);
    }
    const staged = [...dataColumns, BOOKKEEPING.seq, BOOKKEEPING.deleted].map((c) => `"${c}"`).join(', ');
    await copyIn(trx, `copy ${STAGE} (${staged}) from stdin`, Buffer.from(parts.join(''), 'utf8'));
    const updates = [...dataColumns.filter((c) => !pk.has(c)), BOOKKEEPING.seq, BOOKKEEPING.deleted, BOOKKEEPING.updatedAt].map((c) => `"${c}" = excluded."${c}"`).join(', ');
    await sql`insert into ${sql.raw(qualified(table.tableName))} (${sql.raw(staged)}, ${ident(BOOKKEEPING.createdAt)}, ${ident(BOOKKEEPING.updatedAt)}) select ${sql.raw(staged)}, ${now}, ${now} from ${sql.raw(STAGE)} on conflict (${sql.raw([...pk].map((c) => `"${c}"`).join(', '))}) do update set ${sql.raw(updates)}`.execute(trx);
    await sql.raw(`truncate ${STAGE}`).execute(trx);
  }

  /** One row by its key values (already encoded: blind index for a sensitive key). */
  async row(table: TableShape, key: ReadonlyMap<string, StoredValue>, executor: Db = this.db): Promise<Record<string, unknown> | undefined> {
    const conditions = primaryKeyColumns(table.columns).map((c) => sql`${ident(c)} = ${key.get(c) ?? null}`);
    const { list, decode } = selectList(table);
    const r = await sql<Record<string, unknown>>`select ${list} from ${sql.raw(qualified(table.tableName))} where ${sql.join(conditions, sql` and `)}`.execute(executor);
    return r.rows[0] ? decode(r.rows[0]) : undefined;
  }

  /**
   * The rows of many keys in one query, by position: `keys[i]` holds the values of the primary
   * key columns (in `primaryKeyColumns` order, a sensitive key as its blind index). The keys go as
   * one array parameter per key column, unnested with their position and joined on the primary
   * key, so the statement is the same whatever the number of keys and each lookup is an index
   * probe. Returns, for each position found, the named columns and the tombstone flag.
   */
  async rowsByKeys(table: TableShape, keys: readonly (readonly StoredValue[])[], columns: readonly string[], executor: Db = this.db): Promise<Map<number, Record<string, unknown>>> {
    const found = new Map<number, Record<string, unknown>>();
    if (keys.length === 0) return found;
    const pk = primaryKeyColumns(table.columns);
    const typeOf = new Map(table.columns.flatMap((c) => (c.indexColumn ? [[c.indexColumn, 'bytea'] as const] : [[c.column, c.sqlType] as const])));
    const arrays = pk.map((c, j) => sql`${keys.map((k) => k[j] ?? null)}::${sql.raw(`${typeOf.get(c)!}[]`)}`);
    const list = sql.join([BOOKKEEPING.deleted, ...columns].map((n) => sql`t.${ident(n)}`));
    const join = sql.join(pk.map((c, j) => sql`t.${ident(c)} = k.${sql.raw(`v${j}`)}`), sql` and `);
    // Without the query builder's plugins, as `changes`: the rows keep their physical column
    // names (gs_…, c<n>) and are handed on as they come. The position goes under a name no
    // physical column has (they are gs_… and c<n>).
    const r = await sql<Record<string, unknown>>`select k.i as "#", ${list} from unnest(${sql.join(arrays)}) with ordinality as k (${sql.raw(pk.map((_, j) => `v${j}`).join(', '))}, i) join ${sql.raw(qualified(table.tableName))} t on ${join}`.execute(executor.withoutPlugins());
    for (const row of r.rows) found.set(Number(row['#']) - 1, row);
    return found;
  }

  async count(table: TableShape, executor: Db = this.db): Promise<{ live: number; deleted: number }> {
    const r = await sql<{ live: number; deleted: number }>`select count(*) filter (where not ${ident(BOOKKEEPING.deleted)}) as live, count(*) filter (where ${ident(BOOKKEEPING.deleted)}) as deleted from ${sql.raw(qualified(table.tableName))}`.execute(executor);
    return r.rows[0] ?? { live: 0, deleted: 0 };
  }

  /**
   * Rows in sequence order after a cursor: what push and resync read. Without the query
   * builder's plugins (no CamelCasePlugin renaming every key of every row): the rows come back
   * under their physical column names as they are.
   */
  async changes(table: TableShape, after: number, limit: number, executor: Db = this.db): Promise<Record<string, unknown>[]> {
    const r = await sql<Record<string, unknown>>`select ${sql.join(physicalColumns(table).map(ident))} from ${sql.raw(qualified(table.tableName))} where ${ident(BOOKKEEPING.seq)} > ${after} order by ${ident(BOOKKEEPING.seq)} limit ${limit}`.execute(executor.withoutPlugins());
    return r.rows;
  }
}

/** Every physical column of a shared table: data columns (with blind indexes), then bookkeeping. */
function physicalColumns(table: TableShape): string[] {
  return [...table.columns.flatMap((c) => (c.indexColumn ? [c.column, c.indexColumn] : [c.column])), ...Object.values(BOOKKEEPING)];
}

/**
 * Every column under an alias `a<n>` and back: the CamelCasePlugin renames result keys, which
 * would turn `gs_seq` into `gsSeq`; callers get the physical names.
 */
export function selectList(table: TableShape): SelectList {
  let made = selectLists.get(table);
  if (!made) {
    const names = physicalColumns(table);
    made = {
      list: sql.join(names.map((n, i) => sql`${ident(n)} as ${sql.raw(`a${i}`)}`)),
      decode: (r) => Object.fromEntries(names.map((n, i) => [n, r[`a${i}`]])),
    };
    selectLists.set(table, made);
  }
  return made;
}

interface SelectList {
  readonly list: RawBuilder<unknown>;
  readonly decode: (r: Record<string, unknown>) => Record<string, unknown>;
}

/** Made once per shape object: a cached shape (ExchangeService.shapeOf) is read by every request. */
const selectLists = new WeakMap<TableShape, SelectList>();
