import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../../db/database.js';

/** A row of the search index (migration 0009): one per published entry. */
export interface SearchRow {
  readonly entryId: string;
  readonly resourceCode: string;
  readonly versionNumber: number;
  readonly agencyId: string;
  readonly agencyCode: string;
  readonly agencyNameZh: string;
  readonly agencyNames: Readonly<Record<string, string>>;
  readonly regionCode: string;
  readonly classificationCode: string;
  readonly nameZh: string;
  readonly names: Readonly<Record<string, string>>;
  readonly abstractZh: string | null;
  readonly abstracts: Readonly<Record<string, string>>;
  readonly shareType: string;
  readonly shareMethods: readonly string[];
  readonly formatType: string | null;
  readonly updateCycle: string | null;
  readonly publishDate: string;
}

export interface SearchFilters {
  readonly agencyIds?: readonly string[] | undefined;
  /** Region code prefixes (a province's two digits take in its prefectures and counties). */
  readonly regionPrefixes?: readonly string[] | undefined;
  /** Classification code prefixes: 类 (1 digit), 类项 (3), 类项目 (6) or longer. */
  readonly classificationPrefixes?: readonly string[] | undefined;
  readonly shareTypes?: readonly string[] | undefined;
  readonly shareMethods?: readonly string[] | undefined;
  readonly formatTypes?: readonly string[] | undefined;
  readonly updateCycles?: readonly string[] | undefined;
}

export interface FacetCount {
  readonly facet: string;
  readonly value: string;
  readonly count: number;
  /** For providers: the agency's code and names. */
  readonly code: string | null;
  readonly nameZh: string | null;
  readonly names: Readonly<Record<string, string>> | null;
}

export type RankedRow = SearchRow & { readonly rank: number };

const COLUMNS = sql.raw(`entry_id as "entryId", resource_code as "resourceCode", version_number as "versionNumber", agency_id as "agencyId",
  agency_code as "agencyCode", agency_name_zh as "agencyNameZh", agency_names as "agencyNames", region_code as "regionCode",
  classification_code as "classificationCode", name_zh as "nameZh", names, abstract_zh as "abstractZh", abstracts, share_type as "shareType",
  share_methods as "shareMethods", format_type as "formatType", update_cycle as "updateCycle", publish_date as "publishDate"`);

/** Values of a facet kept per search: the most frequent ones. */
const FACET_VALUES = 30;

function anyOf(column: string, values: readonly string[] | undefined): RawBuilder<unknown> | null {
  return values && values.length > 0 ? sql`${sql.ref(column)} = any(${values as string[]}::text[])` : null;
}

function prefixOf(column: string, prefixes: readonly string[] | undefined): RawBuilder<unknown> | null {
  // starts_with is PostgreSQL 11+; the prefixes are digits only (checked by the route), so no LIKE escaping is at stake.
  return prefixes && prefixes.length > 0 ? sql`(${sql.join(prefixes.map((p) => sql`starts_with(${sql.ref(column)}, ${p})`), sql` or `)})` : null;
}

/** The WHERE clause of a search: the query (if any) and every filter. */
function where(tsquery: string | null, f: SearchFilters): RawBuilder<unknown> {
  const conditions = [
    tsquery === null ? null : sql`document @@ ${tsquery}::tsquery`,
    f.agencyIds && f.agencyIds.length > 0 ? sql`agency_id = any(${f.agencyIds as string[]}::uuid[])` : null,
    prefixOf('region_code', f.regionPrefixes),
    prefixOf('classification_code', f.classificationPrefixes),
    anyOf('share_type', f.shareTypes),
    f.shareMethods && f.shareMethods.length > 0 ? sql`share_methods && ${f.shareMethods as string[]}::text[]` : null,
    anyOf('format_type', f.formatTypes),
    anyOf('update_cycle', f.updateCycles),
  ].filter((c): c is RawBuilder<unknown> => c !== null);
  return conditions.length === 0 ? sql`true` : sql.join(conditions, sql` and `);
}

/** All SQL of the catalog search index. */
export class CatalogSearchStore {
  constructor(private readonly db: Db) {}

  async upsert(row: SearchRow, document: string, trx: Db): Promise<void> {
    await sql`insert into catalog_search (entry_id, resource_code, version_number, agency_id, agency_code, agency_name_zh, agency_names, region_code,
        classification_code, name_zh, names, abstract_zh, abstracts, share_type, share_methods, format_type, update_cycle, publish_date, document)
      values (${row.entryId}, ${row.resourceCode}, ${row.versionNumber}, ${row.agencyId}, ${row.agencyCode}, ${row.agencyNameZh}, ${JSON.stringify(row.agencyNames)}::jsonb,
        ${row.regionCode}, ${row.classificationCode}, ${row.nameZh}, ${JSON.stringify(row.names)}::jsonb, ${row.abstractZh}, ${JSON.stringify(row.abstracts)}::jsonb,
        ${row.shareType}, ${row.shareMethods as string[]}::text[], ${row.formatType}, ${row.updateCycle}, ${row.publishDate}::date, ${document}::tsvector)
      on conflict (entry_id) do update set resource_code = excluded.resource_code, version_number = excluded.version_number, agency_id = excluded.agency_id,
        agency_code = excluded.agency_code, agency_name_zh = excluded.agency_name_zh, agency_names = excluded.agency_names, region_code = excluded.region_code,
        classification_code = excluded.classification_code, name_zh = excluded.name_zh, names = excluded.names, abstract_zh = excluded.abstract_zh,
        abstracts = excluded.abstracts, share_type = excluded.share_type, share_methods = excluded.share_methods, format_type = excluded.format_type,
        update_cycle = excluded.update_cycle, publish_date = excluded.publish_date, document = excluded.document`.execute(trx.withoutPlugins());
  }

  /** Many rows in one statement (column arrays through unnest): rebuilding the index, loading a catalog. */
  async upsertMany(rows: readonly { readonly row: SearchRow; readonly document: string }[], trx: Db): Promise<void> {
    if (rows.length === 0) return;
    const col = <T>(pick: (r: SearchRow) => T): T[] => rows.map((x) => pick(x.row));
    const json = (pick: (r: SearchRow) => Readonly<Record<string, string>>): string[] => rows.map((x) => JSON.stringify(pick(x.row)));
    await sql`insert into catalog_search (entry_id, resource_code, version_number, agency_id, agency_code, agency_name_zh, agency_names, region_code,
        classification_code, name_zh, names, abstract_zh, abstracts, share_type, share_methods, format_type, update_cycle, publish_date, document)
      select u.entry_id, u.resource_code, u.version_number, u.agency_id, u.agency_code, u.agency_name_zh, u.agency_names::jsonb, u.region_code,
        u.classification_code, u.name_zh, u.names::jsonb, u.abstract_zh, u.abstracts::jsonb, u.share_type,
        case when u.share_methods = '' then '{}'::text[] else string_to_array(u.share_methods, ',') end, u.format_type, u.update_cycle, u.publish_date, u.document::tsvector
      from unnest(${col((r) => r.entryId)}::uuid[], ${col((r) => r.resourceCode)}::text[], ${col((r) => r.versionNumber)}::int[], ${col((r) => r.agencyId)}::uuid[],
        ${col((r) => r.agencyCode)}::text[], ${col((r) => r.agencyNameZh)}::text[], ${json((r) => r.agencyNames)}::text[], ${col((r) => r.regionCode)}::text[],
        ${col((r) => r.classificationCode)}::text[], ${col((r) => r.nameZh)}::text[], ${json((r) => r.names)}::text[], ${col((r) => r.abstractZh)}::text[],
        ${json((r) => r.abstracts)}::text[], ${col((r) => r.shareType)}::text[], ${col((r) => r.shareMethods.join(','))}::text[], ${col((r) => r.formatType)}::text[],
        ${col((r) => r.updateCycle)}::text[], ${col((r) => r.publishDate)}::date[], ${rows.map((x) => x.document)}::text[])
        as u(entry_id, resource_code, version_number, agency_id, agency_code, agency_name_zh, agency_names, region_code, classification_code, name_zh, names,
          abstract_zh, abstracts, share_type, share_methods, format_type, update_cycle, publish_date, document)
      on conflict (entry_id) do update set resource_code = excluded.resource_code, version_number = excluded.version_number, agency_id = excluded.agency_id,
        agency_code = excluded.agency_code, agency_name_zh = excluded.agency_name_zh, agency_names = excluded.agency_names, region_code = excluded.region_code,
        classification_code = excluded.classification_code, name_zh = excluded.name_zh, names = excluded.names, abstract_zh = excluded.abstract_zh,
        abstracts = excluded.abstracts, share_type = excluded.share_type, share_methods = excluded.share_methods, format_type = excluded.format_type,
        update_cycle = excluded.update_cycle, publish_date = excluded.publish_date, document = excluded.document`.execute(trx.withoutPlugins());
  }

  async remove(entryId: string, trx: Db): Promise<void> {
    await sql`delete from catalog_search where entry_id = ${entryId}`.execute(trx.withoutPlugins());
  }

  /**
   * One page of hits, best first (by rank, then newest); without a query, newest first. Ranking
   * weighs name over abstract over data items over provider. The ranking sorts only ids and ranks
   * (a top-N sort); the page's 20-odd rows are read afterwards.
   */
  async search(tsquery: string | null, filters: SearchFilters, offset: number, limit: number): Promise<RankedRow[]> {
    const rank = tsquery === null ? sql`0::real` : sql`ts_rank(document, ${tsquery}::tsquery)`;
    const r = await sql<RankedRow>`select ${COLUMNS}, t.rank
      from (select entry_id, publish_date as p, ${rank} as rank from catalog_search where ${where(tsquery, filters)}
            order by rank desc, p desc, entry_id offset ${offset} limit ${limit}) t
      join catalog_search using (entry_id)
      order by t.rank desc, t.p desc, entry_id`.execute(this.db.withoutPlugins());
    return r.rows;
  }

  /**
   * A page of hits with the facet counts and the number of hits, from one pass over the hits: they
   * are ranked and gathered once (with only the columns ranking and counting need), the page is
   * the top of them, the counts are grouping sets over them (share methods, an array, as three
   * filtered counts); the page's rows and the providers' names are read afterwards by key.
   */
  async searchWithFacets(tsquery: string | null, filters: SearchFilters, offset: number, limit: number, classificationDigits: number): Promise<{ rows: RankedRow[]; total: number; counts: FacetCount[] }> {
    const rank = tsquery === null ? sql`0::real` : sql`ts_rank(document, ${tsquery}::tsquery)`;
    const r = await sql<{ kind: 'page' | 'facet'; id: string | null; rank: number | null; g: number | null; agency: string | null; region: string | null; cls: string | null; shareType: string | null; formatType: string | null; updateCycle: string | null; count: number | null; tables: number | null; apis: number | null; files: number | null }>`
      with hits as materialized (
        select entry_id, publish_date, ${rank} as rank, agency_id, region_code, left(classification_code, ${classificationDigits}) as cls, share_type, share_methods,
          format_type, update_cycle
        from catalog_search where ${where(tsquery, filters)}
      )
      select * from (select 'page' as kind, entry_id::text as id, rank, null::int as g, null as agency, null as region, null as cls, null as "shareType",
          null as "formatType", null as "updateCycle", null::bigint as count, null::bigint as tables, null::bigint as apis, null::bigint as files
        from hits order by rank desc, publish_date desc, entry_id offset ${offset} limit ${limit}) page
      union all
      select 'facet', null, null, grouping(agency_id, region_code, cls, share_type, format_type, update_cycle), agency_id::text, region_code, cls, share_type,
        format_type, update_cycle, count(*), count(*) filter (where share_methods @> '{table}'), count(*) filter (where share_methods @> '{api}'),
        count(*) filter (where share_methods @> '{file}')
      from hits group by grouping sets ((agency_id), (region_code), (cls), (share_type), (format_type), (update_cycle), ())`.execute(this.db.withoutPlugins());
    const order = r.rows.filter((x) => x.kind === 'page').map((x) => ({ id: x.id!, rank: x.rank ?? 0 }));
    const counts: FacetCount[] = [];
    let total = 0;
    const add = (facet: string, value: string | null, count: number | null) => {
      if (value !== null && count) counts.push({ facet, value, count, code: null, nameZh: null, names: null });
    };
    for (const row of r.rows) {
      if (row.kind !== 'facet') continue;
      // grouping(): a bit for each column NOT grouped by in this row's set, the first column highest.
      if (row.g === 0b111111) {
        total = row.count ?? 0;
        add('shareMethod', 'table', row.tables);
        add('shareMethod', 'api', row.apis);
        add('shareMethod', 'file', row.files);
      } else if (row.g === 0b011111) add('provider', row.agency, row.count);
      else if (row.g === 0b101111) add('region', row.region, row.count);
      else if (row.g === 0b110111) add('classification', row.cls, row.count);
      else if (row.g === 0b111011) add('shareType', row.shareType, row.count);
      else if (row.g === 0b111101) add('format', row.formatType, row.count);
      else if (row.g === 0b111110) add('updateCycle', row.updateCycle, row.count);
    }
    const byFacet = new Map<string, FacetCount[]>();
    for (const c of counts) byFacet.set(c.facet, [...(byFacet.get(c.facet) ?? []), c]);
    const kept = [...byFacet.values()].flatMap((list) => list.sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1)).slice(0, FACET_VALUES));
    const providerIds = kept.filter((c) => c.facet === 'provider').map((c) => c.value);
    const [rows, labels] = await Promise.all([this.#rows(order), this.#providerLabels(providerIds)]);
    return { rows, total, counts: kept.map((c) => (c.facet === 'provider' && labels.has(c.value) ? { ...c, ...labels.get(c.value)! } : c)) };
  }

  /** The index rows of a page, in its order, with their ranks. */
  async #rows(order: readonly { readonly id: string; readonly rank: number }[]): Promise<RankedRow[]> {
    if (order.length === 0) return [];
    const r = await sql<SearchRow>`select ${COLUMNS} from catalog_search where entry_id = any(${order.map((o) => o.id)}::uuid[])`.execute(this.db.withoutPlugins());
    const byId = new Map(r.rows.map((row) => [row.entryId, row]));
    return order.flatMap((o) => {
      const row = byId.get(o.id);
      return row ? [{ ...row, rank: o.rank }] : [];
    });
  }

  /** Each provider's code and names, from one of its indexed rows. */
  async #providerLabels(ids: readonly string[]): Promise<Map<string, { code: string; nameZh: string; names: Record<string, string> }>> {
    if (ids.length === 0) return new Map();
    const r = await sql<{ id: string; code: string; nameZh: string; names: Record<string, string> }>`select i.id::text as id, s.agency_code as code,
        s.agency_name_zh as "nameZh", s.agency_names as names
      from unnest(${ids as string[]}::uuid[]) as i(id) cross join lateral (select agency_code, agency_name_zh, agency_names from catalog_search where agency_id = i.id limit 1) s`.execute(
      this.db.withoutPlugins(),
    );
    return new Map(r.rows.map((l) => [l.id, { code: l.code, nameZh: l.nameZh, names: l.names }]));
  }

  /** The number of hits alone (a page past the last has no row to carry it). */
  async total(tsquery: string | null, filters: SearchFilters): Promise<number> {
    const r = await sql<{ n: number }>`select count(*) as n from catalog_search where ${where(tsquery, filters)}`.execute(this.db.withoutPlugins());
    return r.rows[0]?.n ?? 0;
  }

  async count(): Promise<number> {
    const r = await sql<{ n: number }>`select count(*) as n from catalog_search`.execute(this.db.withoutPlugins());
    return r.rows[0]?.n ?? 0;
  }
}
