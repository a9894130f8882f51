import { Type } from 'typebox';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, literals } from '../../server/schema-kit.js';
import { LangQuery } from './schemas.js';
import { EXACT_HITS, SEARCH_FACETS } from './search.js';
import { FORMAT_TYPES, SHARE_METHODS, SHARE_TYPES, UPDATE_CYCLES } from './vocabulary.js';

const tags = ['catalog'];

/** Repeat a parameter for several values (`shareType=conditional&shareType=none`): any of them matches. */
const many = <T extends Parameters<typeof Type.Array>[0]>(item: T, description: string) => Type.Optional(Type.Array(item, { maxItems: 50, description }));

const SearchQuerystring = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 200, description: 'Words to find in names, abstracts, data item names and providers, any language; empty: all, newest first' })),
    provider: many(Type.String({ format: 'uuid' }), 'Provider agency id'),
    region: many(Type.String({ pattern: '^[0-9]{6}$' }), "The provider's GB/T 2260 region; a province or prefecture takes in the regions below it"),
    classification: many(Type.String({ pattern: '^[123]([0-9]{2}([0-9]{3}([0-9]{1,6})?)?)?$' }), 'Classification code or its start: 类 (1 digit), 类项 (3), 类项目 (6) or with 细目'),
    shareType: many(literals(SHARE_TYPES), 'Share type'),
    shareMethod: many(literals(SHARE_METHODS), 'Share method'),
    format: many(literals(FORMAT_TYPES), 'Resource format type'),
    updateCycle: many(literals(UPDATE_CYCLES), 'Update cycle'),
    facets: Type.Optional(Type.Boolean({ default: true, description: 'Count hits per facet value (false: leave the counts out)' })),
    lang: LangQuery,
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  },
  { additionalProperties: false },
);

const Segment = Type.Object({ text: Type.String(), match: Type.Boolean() });

const SearchHit = Type.Object({
  entryId: Type.String({ format: 'uuid' }),
  resourceCode: Type.String(),
  version: Type.Integer(),
  name: Type.String(),
  abstract: Type.Union([Type.String(), Type.Null()]),
  provider: Type.Object({ id: Type.String(), code: Type.String(), name: Type.String() }),
  regionCode: Type.String(),
  classificationCode: Type.String(),
  shareType: literals(SHARE_TYPES),
  shareMethods: Type.Array(literals(SHARE_METHODS)),
  formatType: Type.Union([literals(FORMAT_TYPES), Type.Null()]),
  updateCycle: Type.Union([literals(UPDATE_CYCLES), Type.Null()]),
  publishDate: Type.String({ format: 'date' }),
  score: Type.Number({
    description: "ts_rank of the hit's words in its fields (name weighing most); 0 without a query. The order is: hits whose name has every word, newest first, then the others by this score",
  }),
  highlight: Type.Object(
    { name: Type.Array(Segment), abstract: Type.Array(Segment) },
    { description: 'The name and abstract as returned, cut into pieces; the pieces that match a query word have match: true' },
  ),
});

const FacetValue = Type.Object({ value: Type.String(), count: Type.Integer(), label: Type.Optional(Type.String()), code: Type.Optional(Type.String()) });

const SearchResult = Type.Object({
  total: Type.Integer({ description: `Hits in all, counted exactly up to ${EXACT_HITS.toLocaleString('en')}; beyond, ${EXACT_HITS.toLocaleString('en')} with totalIsLowerBound` }),
  totalIsLowerBound: Type.Boolean({
    description: 'true: there are more hits than total (like "10,000+"); total and the facet counts were counted over the first total hits read, so each count is a lower bound',
  }),
  terms: Type.Array(Type.String(), { description: 'The query words as matched, after segmentation' }),
  items: Type.Array(SearchHit),
  facets: Type.Union([Type.Object(Object.fromEntries(SEARCH_FACETS.map((f) => [f, Type.Array(FacetValue)]))), Type.Null()], {
    description:
      'For each facet the most frequent values among all hits (not only this page), with their counts; when totalIsLowerBound, among the first total hits read (storage order, not a random sample)',
  }),
});

/** A GB/T 2260 code as a prefix: 430000 → 43 (the province), 430400 → 4304, 430421 → 430421. */
function regionPrefix(code: string): string {
  if (code.endsWith('0000')) return code.slice(0, 2);
  if (code.endsWith('00')) return code.slice(0, 4);
  return code;
}

export async function catalogSearchRoutes(app: GsApp, { catalogSearch }: Platform): Promise<void> {
  app.get(
    '/catalog/search',
    {
      config: { access: needs('catalog:read') },
      schema: {
        tags,
        summary: 'Search the published catalog (Chinese full text, every language), with filters and facet counts',
        querystring: SearchQuerystring,
        response: { 200: SearchResult, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const q = req.query;
      return catalogSearch.search(
        {
          q: q.q,
          agencyIds: q.provider,
          regionPrefixes: q.region?.map(regionPrefix),
          classificationPrefixes: q.classification,
          shareTypes: q.shareType,
          shareMethods: q.shareMethod,
          formatTypes: q.format,
          updateCycles: q.updateCycle,
          facets: q.facets,
          offset: q.offset ?? 0,
          limit: q.limit ?? 20,
        },
        q.lang,
      );
    },
  );
}
