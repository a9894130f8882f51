import type { SharedColumnRow } from '../../db/schema.js';
import type { DataItem } from '../catalog/content.js';
import { sqlTypeOf as catalogSqlTypeOf } from '../catalog/service.js';

/** A column of a shared table as the column map keeps it (exchange_tables.columns). */
export type SharedColumn = SharedColumnRow;

/** The schema the shared tables live in. */
export const SHARED_SCHEMA = 'shared';

/**
 * Bookkeeping columns of every shared table. The `gs_` prefix cannot clash with a data item's
 * column (`c<n>`). The table is the change log: `gs_seq` is the resource's sequence number of the
 * last change of the row (unique: every change takes a new one), `gs_deleted` a tombstone.
 */
export const BOOKKEEPING = { seq: 'gs_seq', deleted: 'gs_deleted', createdAt: 'gs_created_at', updatedAt: 'gs_updated_at' } as const;

/** `301002/000001` → `r_301002_000001`: the physical table's name, fixed at creation. */
export function tableNameOf(resourceCode: string): string {
  return `r_${resourceCode.replace('/', '_')}`;
}

/** The qualified, quoted name. Names are generated here (never from input), so quoting is for form. */
export function qualified(tableName: string): string {
  return `"${SHARED_SCHEMA}"."${tableName}"`;
}

/**
 * The column type of a data item: the catalog's SQL type of its data type (varchar(length),
 * bigint, numeric(p,s), date, timestamptz, boolean), except that a sensitive item is stored
 * encrypted (bytea, its key number inside).
 */
export function sqlTypeOf(d: DataItem): string {
  return d.sensitive ? 'bytea' : catalogSqlTypeOf(d);
}

function columnOf(d: DataItem, name: string): SharedColumn {
  return {
    item: d.nameZh,
    column: name,
    dataType: d.dataType,
    sqlType: sqlTypeOf(d),
    key: d.key,
    sensitive: d.sensitive,
    format: d.format,
    length: d.length,
    precision: d.precision,
    scale: d.scale,
    // A sensitive key is looked up (and is unique) by its keyed hash: ciphertexts are random.
    indexColumn: d.key && d.sensitive ? `${name}_bi` : null,
  };
}

/** The column map of a new table: `c1`, `c2`, … in the order of the data items. */
export function initialColumns(items: readonly DataItem[]): SharedColumn[] {
  return items.map((d, i) => columnOf(d, `c${i + 1}`));
}

/** The columns making up the primary key: the key items, a sensitive one by its blind index. */
export function primaryKeyColumns(columns: readonly SharedColumn[]): string[] {
  return columns.filter((c) => c.key).map((c) => c.indexColumn ?? c.column);
}

/** CREATE TABLE for a new column map. */
export function createTableSql(tableName: string, columns: readonly SharedColumn[]): string[] {
  const defs = columns.flatMap((c) => {
    const own = `"${c.column}" ${c.sqlType}${c.key ? ' not null' : ''}`;
    return c.indexColumn ? [own, `"${c.indexColumn}" bytea not null`] : [own];
  });
  const t = qualified(tableName);
  return [
    `create table ${t} (${[
      ...defs,
      `"${BOOKKEEPING.seq}" bigint not null`,
      `"${BOOKKEEPING.deleted}" boolean not null default false`,
      `"${BOOKKEEPING.createdAt}" timestamptz not null default now()`,
      `"${BOOKKEEPING.updatedAt}" timestamptz not null default now()`,
      `primary key (${primaryKeyColumns(columns)
        .map((c) => `"${c}"`)
        .join(', ')})`,
    ].join(', ')})`,
    // Push and resync read changes in sequence order from a cursor.
    `create unique index "${tableName}_seq_idx" on ${t} ("${BOOKKEEPING.seq}")`,
  ];
}

/** Why a new version cannot follow the existing table without an explicit migration. */
export interface IncompatibleChange {
  readonly item: string;
  readonly change: 'removed' | 'typeChanged' | 'keyChanged' | 'sensitivityChanged' | 'keyAdded';
  readonly before: string | null;
  readonly after: string | null;
}

export type ColumnPlan =
  | { readonly kind: 'unchanged'; readonly columns: readonly SharedColumn[] }
  /** Compatible: new nullable columns, wider varchars, new formats; `statements` does it. */
  | { readonly kind: 'alter'; readonly columns: readonly SharedColumn[]; readonly statements: readonly string[]; readonly added: readonly string[] }
  | { readonly kind: 'incompatible'; readonly changes: readonly IncompatibleChange[] };

const varcharLength = (sqlType: string): number | null => {
  const m = /^varchar\((\d+)\)$/.exec(sqlType);
  return m ? Number(m[1]) : null;
};

/**
 * How the table of a published resource follows a new published version. Data items are matched
 * by their Chinese name (as the catalog's diff does). Compatible: added non-key items (new
 * nullable columns), a longer string, a changed format or description. Everything else — an item
 * removed, a type changed, the key or the sensitivity changed — would lose or reinterpret stored
 * data and needs the explicit migration of docs/exchange.md.
 */
export function planColumns(tableName: string, existing: readonly SharedColumn[], items: readonly DataItem[]): ColumnPlan {
  const byItem = new Map(items.map((d) => [d.nameZh, d]));
  const changes: IncompatibleChange[] = [];
  const statements: string[] = [];
  const next: SharedColumn[] = [];
  let changed = false;
  for (const c of existing) {
    const d = byItem.get(c.item);
    if (!d) {
      changes.push({ item: c.item, change: 'removed', before: c.sqlType, after: null });
      continue;
    }
    const sqlType = sqlTypeOf(d);
    if (d.key !== c.key) changes.push({ item: c.item, change: 'keyChanged', before: String(c.key), after: String(d.key) });
    else if (d.sensitive !== c.sensitive) changes.push({ item: c.item, change: 'sensitivityChanged', before: String(c.sensitive), after: String(d.sensitive) });
    else if (sqlType !== c.sqlType || d.dataType !== c.dataType) {
      const before = varcharLength(c.sqlType);
      const after = varcharLength(sqlType);
      // Widening a varchar rewrites nothing in PostgreSQL; anything else may not fit the data.
      if (before !== null && after !== null && after > before && d.dataType === c.dataType) {
        statements.push(`alter table ${qualified(tableName)} alter column "${c.column}" type ${sqlType}`);
      } else changes.push({ item: c.item, change: 'typeChanged', before: c.sqlType, after: sqlType });
    }
    const updated = { ...columnOf(d, c.column), indexColumn: c.indexColumn };
    if (JSON.stringify(updated) !== JSON.stringify(c)) changed = true;
    next.push(updated);
  }
  const known = new Set(existing.map((c) => c.item));
  let n = Math.max(0, ...existing.map((c) => Number(c.column.slice(1)))) + 1;
  const added: string[] = [];
  for (const d of items) {
    if (known.has(d.nameZh)) continue;
    if (d.key) {
      changes.push({ item: d.nameZh, change: 'keyAdded', before: null, after: sqlTypeOf(d) });
      continue;
    }
    const c = columnOf(d, `c${n++}`);
    statements.push(`alter table ${qualified(tableName)} add column "${c.column}" ${c.sqlType}`);
    added.push(d.nameZh);
    next.push(c);
  }
  if (changes.length > 0) return { kind: 'incompatible', changes };
  if (statements.length === 0 && !changed) return { kind: 'unchanged', columns: existing };
  return { kind: 'alter', columns: next, statements, added };
}
