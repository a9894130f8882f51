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

/** Rows read newest first before a newest-first part of a page is taken from the GIN indexes instead (`#newest`). */
const NEWEST_WALK = 2_000;

/** Values of a facet kept per search: the most frequent ones. */
const FACET_VALUES = 30;

function anyOf(column: string, values: readonly string[] | undefined): RawBuilder<unknown> | null {
  return values && values.length > 0 ? sql`${sql.ref(column)} = any(${values as string[]}::text[])` : null;
}

function prefixOf(column: string, prefixes: readonly string[] | undefined): RawBuilder<unknown> | null {
  // starts_with is PostgreSQL 11+; the prefixes are digits only (checked by the route), so no LIKE escaping is at stake.
  return prefixes && prefixes.length > 0 ? sql`(${sql.join(prefixes.map((p) => sql`starts_with(${sql.ref(column)}, ${p})`), sql` or `)})` : null;
}

/** The filters as conditions on the columns (for rows read by another index than the document's). */
function columnsWhere(f: SearchFilters): RawBuilder<unknown> {
  const conditions = [
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

/**
 * Classification prefixes that are filter terms: 类, 类项, 类项目. A longer prefix (with part of a
 * 细目) is checked on the column instead.
 */
const CLASSIFICATION_TERM_DIGITS: ReadonlySet<number> = new Set([1, 3, 6]);

/**
 * The terms of an entry's filter values, added to its document (not its name terms) without a
 * position (so ts_rank never sees them): the GIN index then resolves the filters together with
 * the words, and a filter that keeps few of a word's hits costs those few, not all of them.
 * Segmentation never makes a term with `~` or `:` (search-text.ts splits at them), nor is either
 * in an agency or resource code. Migration 0014 wrote the same terms into the rows indexed before it.
 */
export function filterTerms(row: SearchRow): string[] {
  const region = row.regionCode;
  const cls = row.classificationCode;
  return [
    ...new Set([
      `~p:${row.agencyId}`,
      `~r:${region.slice(0, 2)}`,
      `~r:${region.slice(0, 4)}`,
      `~r:${region}`,
      ...[...CLASSIFICATION_TERM_DIGITS].map((n) => `~c:${cls.slice(0, n)}`),
      `~s:${row.shareType}`,
      ...row.shareMethods.map((m) => `~m:${m}`),
      ...(row.formatType === null ? [] : [`~f:${row.formatType}`]),
      ...(row.updateCycle === null ? [] : [`~u:${row.updateCycle}`]),
    ]),
  ];
}

const lexeme = (term: string): string => `'${term.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
/** A tsvector literal of terms without positions. */
const tsvectorOf = (terms: readonly string[]): string => terms.map(lexeme).join(' ');

/**
 * A search as a `tsquery` over the document (or the name terms) — the words and every filter
 * that filter terms express — and the filters left to check on the columns.
 */
function match(tsquery: string | null, f: SearchFilters): { tsquery: string | null; residual: RawBuilder<unknown> | null } {
  const clauses: string[] = tsquery === null ? [] : [`(${tsquery})`];
  const any = (prefix: string, values: readonly string[] | undefined) => {
    if (values && values.length > 0) clauses.push(`(${values.map((v) => lexeme(`${prefix}${v}`)).join(' | ')})`);
  };
  any('~p:', f.agencyIds);
  any('~r:', f.regionPrefixes);
  const classifications = f.classificationPrefixes ?? [];
  const asTerms = classifications.every((p) => CLASSIFICATION_TERM_DIGITS.has(p.length));
  if (asTerms) any('~c:', classifications);
  any('~s:', f.shareTypes);
  any('~m:', f.shareMethods);
  any('~f:', f.formatTypes);
  any('~u:', f.updateCycles);
  const residual = asTerms ? null : prefixOf('classification_code', classifications);
  return { tsquery: clauses.length === 0 ? null : clauses.join(' & '), residual };
}

/**
 * The WHERE clause of a search through the document's GIN index: the query (if any) and every
 * filter; on catalog_search_facets the document is its stripped copy `terms`.
 */
function where(m: ReturnType<typeof match>, document: 'document' | 'terms' = 'document'): RawBuilder<unknown> {
  const conditions = [m.tsquery === null ? null : sql`${sql.ref(document)} @@ ${m.tsquery}::tsquery`, m.residual].filter((c): c is RawBuilder<unknown> => c !== null);
  return conditions.length === 0 ? sql`true` : sql.join(conditions, sql` and `);
}

/** All SQL of the catalog search index. */
export class CatalogSearchStore {
  /** `newestWalk`: rows read newest first before `#newest` turns to the GIN indexes (a test sets it low). */
  constructor(
    private readonly db: Db,
    private readonly newestWalk = NEWEST_WALK,
  ) {}

  /** Writes an entry's row; `document` is its terms' tsvector literal (search-text.ts), without the filter terms (added here). */
  async upsert(row: SearchRow, document: string, trx: Db): Promise<void> {
    const filters = tsvectorOf(filterTerms(row));
    await sql`insert into catalog_search (entry_id, resource_code, version_number, agency_id, agency_code, agency_name_zh, agency_names, region_code,
        classification_code, name_zh, names, abstract_zh, abstracts, share_type, share_methods, format_type, update_cycle, publish_date, document, name_terms)
      values (${row.entryId}, ${row.resourceCode}, ${row.versionNumber}, ${row.agencyId}, ${row.agencyCode}, ${row.agencyNameZh}, ${JSON.stringify(row.agencyNames)}::jsonb,
        ${row.regionCode}, ${row.classificationCode}, ${row.nameZh}, ${JSON.stringify(row.names)}::jsonb, ${row.abstractZh}, ${JSON.stringify(row.abstracts)}::jsonb,
        ${row.shareType}, ${row.shareMethods as string[]}::text[], ${row.formatType}, ${row.updateCycle}, ${row.publishDate}::date,
        ${document}::tsvector || ${filters}::tsvector, ts_filter(${document}::tsvector, '{a}'))
      on conflict (entry_id) do update set resource_code = excluded.resource_code, version_number = excluded.version_number, agency_id = excluded.agency_id,
        agency_code = excluded.agency_code, agency_name_zh = excluded.agency_name_zh, agency_names = excluded.agency_names, region_code = excluded.region_code,
        classification_code = excluded.classification_code, name_zh = excluded.name_zh, names = excluded.names, abstract_zh = excluded.abstract_zh,
        abstracts = excluded.abstracts, share_type = excluded.share_type, share_methods = excluded.share_methods, format_type = excluded.format_type,
        update_cycle = excluded.update_cycle, publish_date = excluded.publish_date, document = excluded.document,
        name_terms = excluded.name_terms`.execute(trx.withoutPlugins());
    await this.#copyFacets([row.entryId], trx);
  }

  /** Many rows in one statement (column arrays through unnest): rebuilding the index, loading a catalog. */
  async upsertMany(rows: readonly { readonly row: SearchRow; readonly document: string }[], trx: Db): Promise<void> {
    if (rows.length === 0) return;
    const col = <T>(pick: (r: SearchRow) => T): T[] => rows.map((x) => pick(x.row));
    const json = (pick: (r: SearchRow) => Readonly<Record<string, string>>): string[] => rows.map((x) => JSON.stringify(pick(x.row)));
    await sql`insert into catalog_search (entry_id, resource_code, version_number, agency_id, agency_code, agency_name_zh, agency_names, region_code,
        classification_code, name_zh, names, abstract_zh, abstracts, share_type, share_methods, format_type, update_cycle, publish_date, document, name_terms)
      select u.entry_id, u.resource_code, u.version_number, u.agency_id, u.agency_code, u.agency_name_zh, u.agency_names::jsonb, u.region_code,
        u.classification_code, u.name_zh, u.names::jsonb, u.abstract_zh, u.abstracts::jsonb, u.share_type,
        case when u.share_methods = '' then '{}'::text[] else string_to_array(u.share_methods, ',') end, u.format_type, u.update_cycle, u.publish_date,
        u.document::tsvector || u.filters::tsvector, ts_filter(u.document::tsvector, '{a}')
      from unnest(${col((r) => r.entryId)}::uuid[], ${col((r) => r.resourceCode)}::text[], ${col((r) => r.versionNumber)}::int[], ${col((r) => r.agencyId)}::uuid[],
        ${col((r) => r.agencyCode)}::text[], ${col((r) => r.agencyNameZh)}::text[], ${json((r) => r.agencyNames)}::text[], ${col((r) => r.regionCode)}::text[],
        ${col((r) => r.classificationCode)}::text[], ${col((r) => r.nameZh)}::text[], ${json((r) => r.names)}::text[], ${col((r) => r.abstractZh)}::text[],
        ${json((r) => r.abstracts)}::text[], ${col((r) => r.shareType)}::text[], ${col((r) => r.shareMethods.join(','))}::text[], ${col((r) => r.formatType)}::text[],
        ${col((r) => r.updateCycle)}::text[], ${col((r) => r.publishDate)}::date[], ${rows.map((x) => x.document)}::text[],
        ${rows.map((x) => tsvectorOf(filterTerms(x.row)))}::text[])
        as u(entry_id, resource_code, version_number, agency_id, agency_code, agency_name_zh, agency_names, region_code, classification_code, name_zh, names,
          abstract_zh, abstracts, share_type, share_methods, format_type, update_cycle, publish_date, document, filters)
      on conflict (entry_id) do update set resource_code = excluded.resource_code, version_number = excluded.version_number, agency_id = excluded.agency_id,
        agency_code = excluded.agency_code, agency_name_zh = excluded.agency_name_zh, agency_names = excluded.agency_names, region_code = excluded.region_code,
        classification_code = excluded.classification_code, name_zh = excluded.name_zh, names = excluded.names, abstract_zh = excluded.abstract_zh,
        abstracts = excluded.abstracts, share_type = excluded.share_type, share_methods = excluded.share_methods, format_type = excluded.format_type,
        update_cycle = excluded.update_cycle, publish_date = excluded.publish_date, document = excluded.document,
        name_terms = excluded.name_terms`.execute(trx.withoutPlugins());
    await this.#copyFacets(rows.map((x) => x.row.entryId), trx);
  }

  /** The narrow copy the facet counts read (migration 0019), from the index rows just written. */
  async #copyFacets(entryIds: readonly string[], trx: Db): Promise<void> {
    await sql`insert into catalog_search_facets (entry_id, agency_id, region_code, classification_code, share_type, share_methods, format_type, update_cycle, terms)
      select entry_id, agency_id, region_code, classification_code, share_type, share_methods, format_type, update_cycle, strip(document)
      from catalog_search where entry_id = any(${entryIds as string[]}::uuid[])
      on conflict (entry_id) do update set agency_id = excluded.agency_id, region_code = excluded.region_code, classification_code = excluded.classification_code,
        share_type = excluded.share_type, share_methods = excluded.share_methods, format_type = excluded.format_type, update_cycle = excluded.update_cycle,
        terms = excluded.terms`.execute(trx.withoutPlugins());
  }

  async remove(entryId: string, trx: Db): Promise<void> {
    await sql`delete from catalog_search where entry_id = ${entryId}`.execute(trx.withoutPlugins());
  }

  /**
   * One page of hits in the search's order (docs/catalog-search.md, "Ranking"): first the entries
   * whose name has every query word, newest first; then the others by `ts_rank` (abstract above
   * data item names above the provider), then newest. Without a query, newest first.
   *
   * The newest-first parts cost a page, not every hit (`#newest`). The second tier is read only
   * when the first has fewer than `offset + limit` hits, and is ranked over all of its hits.
   */
  async page(tsquery: string | null, filters: SearchFilters, offset: number, limit: number): Promise<RankedRow[]> {
    const m = match(tsquery, filters);
    if (tsquery === null) return this.#rows(null, (await this.#newest(where(m), offset + limit)).slice(offset));
    const want = offset + limit;
    const named = await this.#newest(sql`name_terms @@ ${tsquery}::tsquery and ${columnsWhere(filters)}`, want);
    const ids = named.slice(offset);
    if (named.length < want) {
      const skip = Math.max(0, offset - named.length);
      const others = await sql<{ id: string }>`select entry_id::text as id from catalog_search
        where ${where(m)} and not name_terms @@ ${tsquery}::tsquery
        order by ts_rank(document, ${tsquery}::tsquery) desc, publish_date desc, entry_id offset ${skip} limit ${want - named.length - skip}`.execute(this.db.withoutPlugins());
      ids.push(...others.rows.map((x) => x.id));
    }
    return this.#rows(tsquery, ids);
  }

  /**
   * The first `want` ids that meet `condition`, newest first. First the newest `NEWEST_WALK`
   * rows are read in the order of `catalog_search_publish_idx` and tested: a condition that many
   * rows meet (a word in thousands of names) fills the page there, at the cost of a page. Only
   * when it does not are all the rows that meet it taken — through the GIN indexes, the
   * materialized CTE keeping the planner from walking the date index again, which for a
   * condition met by few rows (or none) would read the whole table — and sorted: by then they
   * are few, or the newest rows would have held enough of them.
   */
  async #newest(condition: RawBuilder<unknown>, want: number): Promise<string[]> {
    const db = this.db.withoutPlugins();
    const walked = await sql<{ id: string }>`select entry_id::text as id
      from (select entry_id, publish_date, document, name_terms, agency_id, region_code, classification_code, share_type, share_methods, format_type, update_cycle
        from catalog_search order by publish_date desc, entry_id limit ${this.newestWalk}) newest
      where ${condition} order by publish_date desc, entry_id limit ${want}`.execute(db);
    if (walked.rows.length >= want) return walked.rows.map((x) => x.id);
    const all = await sql<{ id: string }>`with hits as materialized (select entry_id, publish_date from catalog_search where ${condition})
      select entry_id::text as id from hits order by publish_date desc, entry_id limit ${want}`.execute(db);
    return all.rows.map((x) => x.id);
  }

  /**
   * The number of hits and, when asked (`classificationDigits` not null), the facet counts, over
   * at most `exactHits` hits: the scan stops after `exactHits + 1`. When there are more, the
   * total is `exactHits` with `totalIsLowerBound` and the facet counts are those of the first
   * `exactHits` hits read (storage order: neither the best-ranked nor a random sample), each a
   * lower bound of the true count. One pass over the hits, read from the narrow copy
   * catalog_search_facets (migration 0019; half the pages of catalog_search for the same hits):
   * the counts are grouping sets over them (share methods, an array, as three filtered counts);
   * the providers' names are read afterwards.
   */
  async counts(tsquery: string | null, filters: SearchFilters, exactHits: number, classificationDigits: number | null): Promise<{ total: number; totalIsLowerBound: boolean; counts: FacetCount[] }> {
    const m = match(tsquery, filters);
    if (m.tsquery === null) return this.#counts(this.db.withoutPlugins(), m, exactHits, classificationDigits);
    // With a LIMIT above the planner's estimate of a common word's hits, a sequential scan looks
    // cheapest; it reads every row up to the last hit counted (for a word in a fifth of the
    // entries, five rows per hit). Through the GIN index only the hits are read: about 25% less
    // time for 10,000 of them, measured. SET LOCAL ends with the transaction.
    // Everything of the counts goes through `trx`: on PGlite (one connection) a query on `this.db` would wait for the transaction.
    return this.db.transaction().execute(async (trx) => {
      await sql`set local enable_seqscan = off`.execute(trx);
      return this.#counts(trx.withoutPlugins(), m, exactHits, classificationDigits);
    });
  }

  async #counts(db: Db, m: ReturnType<typeof match>, exactHits: number, classificationDigits: number | null): Promise<{ total: number; totalIsLowerBound: boolean; counts: FacetCount[] }> {
    if (classificationDigits === null) {
      const r = await sql<{ n: number }>`select count(*)::int as n from (select 1 from catalog_search_facets where ${where(m, 'terms')} limit ${exactHits + 1}) hits`.execute(db);
      const n = r.rows[0]?.n ?? 0;
      return { total: Math.min(n, exactHits), totalIsLowerBound: n > exactHits, counts: [] };
    }
    const r = await sql<{ g: number; found: number; agency: string | null; region: string | null; cls: string | null; shareType: string | null; formatType: string | null; updateCycle: string | null; count: number; tables: number; apis: number; files: number }>`
      with found as materialized (
        select agency_id, region_code, left(classification_code, ${classificationDigits}) as cls, share_type, share_methods, format_type, update_cycle
        from catalog_search_facets where ${where(m, 'terms')} limit ${exactHits + 1}
      ), hits as (select * from found limit ${exactHits})
      select grouping(agency_id, region_code, cls, share_type, format_type, update_cycle) as g, (select count(*)::int from found) as found,
        agency_id::text as agency, region_code as region, cls, share_type as "shareType", format_type as "formatType", update_cycle as "updateCycle",
        count(*)::int as count, (count(*) filter (where share_methods @> '{table}'))::int as tables, (count(*) filter (where share_methods @> '{api}'))::int as apis,
        (count(*) filter (where share_methods @> '{file}'))::int as files
      from hits group by grouping sets ((agency_id), (region_code), (cls), (share_type), (format_type), (update_cycle), ())`.execute(db);
    const counts: FacetCount[] = [];
    let total = 0;
    let found = 0;
    const add = (facet: string, value: string | null, count: number) => {
      if (value !== null && count > 0) counts.push({ facet, value, count, code: null, nameZh: null, names: null });
    };
    for (const row of r.rows) {
      found = row.found;
      // grouping(): a bit for each column NOT grouped by in this row's set, the first column highest.
      if (row.g === 0b111111) {
        total = row.count;
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
    const labels = await this.#providerLabels(db, kept.filter((c) => c.facet === 'provider').map((c) => c.value));
    return {
      total,
      totalIsLowerBound: found > exactHits,
      counts: kept.map((c) => (c.facet === 'provider' && labels.has(c.value) ? { ...c, ...labels.get(c.value)! } : c)),
    };
  }

  /** The index rows of a page, in its order, with their ranks (0 without a query). */
  async #rows(tsquery: string | null, ids: readonly string[]): Promise<RankedRow[]> {
    if (ids.length === 0) return [];
    const rank = tsquery === null ? sql`0::real` : sql`ts_rank(document, ${tsquery}::tsquery)`;
    const r = await sql<RankedRow>`select ${COLUMNS}, ${rank} as rank from catalog_search where entry_id = any(${ids as string[]}::uuid[])`.execute(this.db.withoutPlugins());
    const byId = new Map(r.rows.map((row) => [row.entryId, row]));
    return ids.flatMap((id) => {
      const row = byId.get(id);
      return row ? [row] : [];
    });
  }

  /** Each provider's code and names, from one of its indexed rows. */
  async #providerLabels(db: Db, ids: readonly string[]): Promise<Map<string, { code: string; nameZh: string; names: Record<string, string> }>> {
    if (ids.length === 0) return new Map();
    const r = await sql<{ id: string; code: string; nameZh: string; names: Record<string, string> }>`select i.id::text as id, s.agency_code as code,
        s.agency_name_zh as "nameZh", s.agency_names as names
      from unnest(${ids as string[]}::uuid[]) as i(id) cross join lateral (select agency_code, agency_name_zh, agency_names from catalog_search where agency_id = i.id limit 1) s`.execute(db);
    return new Map(r.rows.map((l) => [l.id, { code: l.code, nameZh: l.nameZh, names: l.names }]));
  }

  async count(): Promise<number> {
    const r = await sql<{ n: number }>`select count(*) as n from catalog_search`.execute(this.db.withoutPlugins());
    return r.rows[0]?.n ?? 0;
  }
}
