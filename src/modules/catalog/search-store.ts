import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../../db/database.js';

/** A row of the search index (migration 0008): one per published entry. */
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

export type RankedRow = SearchRow & { readonly rank: number; readonly total: number };

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

  async remove(entryId: string, trx: Db): Promise<void> {
    await sql`delete from catalog_search where entry_id = ${entryId}`.execute(trx.withoutPlugins());
  }

  /**
   * One page of hits, best first (by rank, then newest), each with the number of all hits. Without
   * a query, newest first. Ranking weighs name over abstract over data items over provider.
   */
  async search(tsquery: string | null, filters: SearchFilters, offset: number, limit: number): Promise<RankedRow[]> {
    const rank = tsquery === null ? sql`0::real` : sql`ts_rank(document, ${tsquery}::tsquery)`;
    const r = await sql<RankedRow>`select ${COLUMNS}, ${rank} as rank, count(*) over () as total
      from catalog_search where ${where(tsquery, filters)}
      order by rank desc, publish_date desc, entry_id
      offset ${offset} limit ${limit}`.execute(this.db.withoutPlugins());
    return r.rows;
  }

  /** How many of all hits fall under each value of each facet (the most frequent values). */
  async facets(tsquery: string | null, filters: SearchFilters, classificationDigits: number): Promise<FacetCount[]> {
    const r = await sql<FacetCount>`with hits as materialized (
        select agency_id, agency_code, agency_name_zh, agency_names, region_code, classification_code, share_type, share_methods, format_type, update_cycle
        from catalog_search where ${where(tsquery, filters)}
      ), counted as (
        select 'provider' as facet, agency_id::text as value, count(*) as count, min(agency_code) as code, min(agency_name_zh) as name_zh, (array_agg(agency_names))[1] as names
          from hits group by agency_id
        union all select 'region', region_code, count(*), null, null, null from hits group by region_code
        union all select 'classification', left(classification_code, ${classificationDigits}), count(*), null, null, null from hits group by 2
        union all select 'shareType', share_type, count(*), null, null, null from hits group by share_type
        union all select 'shareMethod', m, count(*), null, null, null from hits, unnest(share_methods) as m group by m
        union all select 'format', format_type, count(*), null, null, null from hits where format_type is not null group by format_type
        union all select 'updateCycle', update_cycle, count(*), null, null, null from hits where update_cycle is not null group by update_cycle
      )
      select facet, value, count, code, name_zh as "nameZh", names from (
        select *, row_number() over (partition by facet order by count desc, value) as n from counted
      ) ranked
      where n <= ${FACET_VALUES}
      order by facet, count desc, value`.execute(this.db.withoutPlugins());
    return r.rows;
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
