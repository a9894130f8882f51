-- The facet counts of a search (CatalogSearchStore.counts) read, for every hit, only the facet
-- columns. In catalog_search they sit among the entry's texts and its positional document (about
-- 1.4 kB a row), so counting 10,000 hits of a common word visits about 5,000 pages. This narrow
-- copy holds the facet columns and the document's lexemes without positions or weights
-- (strip(document): enough to match a query, which never asks for a phrase or a weight), so the
-- same hits sit on about half the pages. The statements that write catalog_search write it in the
-- same transaction; removing an entry's index row removes it (cascade).
create table catalog_search_facets (
  entry_id             uuid primary key references catalog_search (entry_id) on delete cascade,
  agency_id            uuid not null,
  region_code          text not null,
  classification_code  text not null,
  share_type           text not null,
  share_methods        text[] not null,
  format_type          text,
  update_cycle         text,
  terms                tsvector not null
);

insert into catalog_search_facets (entry_id, agency_id, region_code, classification_code, share_type, share_methods, format_type, update_cycle, terms)
  select entry_id, agency_id, region_code, classification_code, share_type, share_methods, format_type, update_cycle, strip(document) from catalog_search;

create index catalog_search_facets_terms_idx on catalog_search_facets using gin (terms);
analyze catalog_search_facets;
