import type { Db } from '../../db/database.js';
import { localisedText } from '../../lib/language-tag.js';
import { classificationCode, type EntryContent } from './content.js';
import { CatalogSearchStore, type FacetCount, type RankedRow, type SearchFilters, type SearchRow } from './search-store.js';
import { highlight, parseQuery, tsvectorLiteral, type HighlightSegment } from './search-text.js';
import type { FormatType, ShareMethod, ShareType, UpdateCycle } from './vocabulary.js';

/**
 * Chinese full-text search over the published catalog (issue: name, abstract, data item names
 * and provider, in every language present), with facets. The index (`catalog_search`) has one
 * row per published entry, written by CatalogService in the transaction that publishes the
 * entry and removed in the one that withdraws it; `reindex` rebuilds it. Terms are jieba-segmented
 * here (search-text.ts) into a PostgreSQL `tsvector` with a GIN index. Hits whose name has every
 * query word come first, newest first; the others follow by `ts_rank` with the abstract (B) above
 * data item names (C) and the provider (D) (search-store.ts `page`). The total and the facet
 * counts are exact up to `exactHits` hits and lower bounds beyond (`totalIsLowerBound`), so that
 * a word found in most of the catalog costs a bounded amount of work.
 */

/** The provider as the index keeps it: its code and names are searchable, its region a facet. */
export interface IndexedProvider {
  readonly id: string;
  readonly code: string;
  readonly nameZh: string;
  readonly names: Readonly<Record<string, string>>;
  readonly regionCode: string;
}

/** What the index needs of a published entry. */
export interface SearchableEntry {
  readonly entryId: string;
  readonly resourceCode: string;
  readonly version: number;
  readonly provider: IndexedProvider;
  readonly content: EntryContent;
  readonly publishDate: string;
}

export const SEARCH_FACETS = ['provider', 'region', 'classification', 'shareType', 'shareMethod', 'format', 'updateCycle'] as const;
export type SearchFacet = (typeof SEARCH_FACETS)[number];

export interface SearchQuery extends SearchFilters {
  /** Words to find; empty: everything the filters let through, newest first. */
  readonly q?: string | undefined;
  readonly offset: number;
  readonly limit: number;
  /** Leave out the facet counts (a second query). */
  readonly facets?: boolean | undefined;
}

export interface FacetValue {
  readonly value: string;
  readonly count: number;
  /** Providers: the agency's name in the language asked for and its code. */
  readonly label?: string | undefined;
  readonly code?: string | undefined;
}

export interface SearchHit {
  readonly entryId: string;
  readonly resourceCode: string;
  readonly version: number;
  readonly name: string;
  readonly abstract: string | null;
  readonly provider: { readonly id: string; readonly code: string; readonly name: string };
  readonly regionCode: string;
  readonly classificationCode: string;
  readonly shareType: ShareType;
  readonly shareMethods: ShareMethod[];
  readonly formatType: FormatType | null;
  readonly updateCycle: UpdateCycle | null;
  readonly publishDate: string;
  readonly score: number;
  /** The name and abstract (as returned) cut into pieces, the pieces that match a query word marked. */
  readonly highlight: { readonly name: HighlightSegment[]; readonly abstract: HighlightSegment[] };
}

export interface SearchResult {
  /** Hits in all, exact up to the search's `exactHits`; beyond, that number with `totalIsLowerBound`. */
  readonly total: number;
  /** More hits than `total`: the total and the facet counts were counted over the first `total` hits. */
  readonly totalIsLowerBound: boolean;
  /** The query's words as matched (after segmentation), for the console to show and highlight. */
  readonly terms: string[];
  readonly items: SearchHit[];
  readonly facets: Record<SearchFacet, FacetValue[]> | null;
}

/** An abstract is returned whole up to this many characters, else cut around the first match. */
const ABSTRACT_CHARS = 160;

function excerpt(text: string, terms: readonly string[]): string {
  if (text.length <= ABSTRACT_CHARS) return text;
  const lower = text.toLowerCase();
  const first = Math.min(...terms.map((t) => lower.indexOf(t)).filter((i) => i >= 0), Number.MAX_SAFE_INTEGER);
  const start = first === Number.MAX_SAFE_INTEGER ? 0 : Math.max(0, first - 40);
  return `${start > 0 ? '…' : ''}${text.slice(start, start + ABSTRACT_CHARS)}${start + ABSTRACT_CHARS < text.length ? '…' : ''}`;
}

/**
 * Hits counted exactly (Elasticsearch's `track_total_hits` default): beyond, the total and the
 * facet counts are lower bounds, so a word in most of the catalog is counted in bounded time.
 */
export const EXACT_HITS = 10_000;

export interface CatalogSearchOptions {
  /** Hits counted exactly (default EXACT_HITS). */
  readonly exactHits?: number | undefined;
  /** Rows read newest first before a page turns to the GIN indexes (search-store.ts `#newest`; default 2,000). */
  readonly newestWalk?: number | undefined;
}

export class CatalogSearch {
  readonly #store: CatalogSearchStore;
  readonly #exactHits: number;

  constructor(db: Db, options: CatalogSearchOptions = {}) {
    this.#store = new CatalogSearchStore(db, options.newestWalk);
    this.#exactHits = options.exactHits ?? EXACT_HITS;
  }

  /** Puts the entry's version in force into the index (inside the publishing transaction). */
  async index(entry: SearchableEntry, trx: Db): Promise<void> {
    const { row, document } = this.#indexRow(entry);
    await this.#store.upsert(row, document, trx);
  }

  /** Many entries in one statement (rebuilding the index, loading a catalog). */
  async indexMany(entries: readonly SearchableEntry[], trx: Db): Promise<void> {
    await this.#store.upsertMany(entries.map((e) => this.#indexRow(e)), trx);
  }

  #indexRow(entry: SearchableEntry): { row: SearchRow; document: string } {
    const c = entry.content;
    const languages = (zh: string | null, texts: Readonly<Record<string, string>>) => [...(zh ? [zh] : []), ...Object.values(texts)];
    const document = tsvectorLiteral([
      { weight: 'A', texts: languages(c.nameZh, c.names), exact: [entry.resourceCode] },
      { weight: 'B', texts: languages(c.abstractZh, c.abstracts) },
      { weight: 'C', texts: c.dataItems.flatMap((d) => languages(d.nameZh, d.names)) },
      { weight: 'D', texts: [...languages(entry.provider.nameZh, entry.provider.names), entry.provider.code], exact: [entry.provider.code] },
    ]);
    return {
      document,
      row: {
        entryId: entry.entryId,
        resourceCode: entry.resourceCode,
        versionNumber: entry.version,
        agencyId: entry.provider.id,
        agencyCode: entry.provider.code,
        agencyNameZh: entry.provider.nameZh,
        agencyNames: entry.provider.names,
        regionCode: entry.provider.regionCode,
        classificationCode: c.classification ? classificationCode(c.classification) : entry.resourceCode.split('/')[0]!,
        nameZh: c.nameZh,
        names: c.names,
        abstractZh: c.abstractZh,
        abstracts: c.abstracts,
        shareType: c.shareType ?? 'none',
        shareMethods: c.shareMethods,
        formatType: c.format?.type ?? null,
        updateCycle: c.updateCycle,
        publishDate: entry.publishDate,
      },
    };
  }

  /** Takes a withdrawn entry out of the index (inside the withdrawing transaction). */
  remove(entryId: string, trx: Db): Promise<void> {
    return this.#store.remove(entryId, trx);
  }

  /** Entries in the index: after `reindex`, the number of published entries. */
  indexed(): Promise<number> {
    return this.#store.count();
  }

  async search(query: SearchQuery, lang?: string): Promise<SearchResult> {
    const parsed = parseQuery(query.q ?? '');
    const tsquery = parsed.tsquery;
    // The classification facet goes one level below the filter: 类 → 项 → 目.
    const deepest = Math.max(0, ...(query.classificationPrefixes ?? []).map((p) => p.length));
    const classificationDigits = deepest === 0 ? 1 : deepest === 1 ? 3 : 6;
    // The page and the counts are independent queries: on a PostgreSQL pool they run side by side.
    const [rows, counted] = await Promise.all([
      this.#store.page(tsquery, query, query.offset, query.limit),
      this.#store.counts(tsquery, query, this.#exactHits, query.facets === false ? null : classificationDigits),
    ]);
    return {
      total: counted.total,
      totalIsLowerBound: counted.totalIsLowerBound,
      terms: [...parsed.terms],
      items: rows.map((r) => this.#hit(r, parsed.terms, lang)),
      facets: query.facets === false ? null : this.#facets(counted.counts, lang),
    };
  }

  #hit(r: RankedRow, terms: readonly string[], lang: string | undefined): SearchHit {
    const name = localisedText(r.nameZh, r.names, lang);
    const abstractText = r.abstractZh === null ? null : localisedText(r.abstractZh, r.abstracts, lang);
    const abstract = abstractText === null ? null : excerpt(abstractText, terms);
    return {
      entryId: r.entryId,
      resourceCode: r.resourceCode,
      version: r.versionNumber,
      name,
      abstract,
      provider: { id: r.agencyId, code: r.agencyCode, name: localisedText(r.agencyNameZh, r.agencyNames, lang) },
      regionCode: r.regionCode,
      classificationCode: r.classificationCode,
      // The index holds only what the catalog's vocabularies allow (written from validated content).
      shareType: r.shareType as ShareType,
      shareMethods: [...r.shareMethods] as ShareMethod[],
      formatType: r.formatType as FormatType | null,
      updateCycle: r.updateCycle as UpdateCycle | null,
      publishDate: r.publishDate,
      score: Math.round(r.rank * 1e6) / 1e6,
      highlight: { name: highlight(name, terms), abstract: abstract === null ? [] : highlight(abstract, terms) },
    };
  }

  #facets(rows: readonly FacetCount[], lang: string | undefined): Record<SearchFacet, FacetValue[]> {
    const out = Object.fromEntries(SEARCH_FACETS.map((f) => [f, [] as FacetValue[]])) as Record<SearchFacet, FacetValue[]>;
    for (const r of rows) {
      const list = out[r.facet as SearchFacet];
      if (!list) continue;
      list.push(r.facet === 'provider' && r.nameZh !== null ? { value: r.value, count: r.count, label: localisedText(r.nameZh, r.names ?? {}, lang), code: r.code ?? undefined } : { value: r.value, count: r.count });
    }
    return out;
  }
}
