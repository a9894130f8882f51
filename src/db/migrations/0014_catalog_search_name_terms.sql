-- Bounded catalog search (src/modules/catalog/search-store.ts, docs/catalog-search.md "Speed").
--
-- 1. Filter terms: each row's document gets, without positions (ts_rank never sees them), a term
--    per filter value — provider, region at 2/4/6 digits, classification at 1/3/6 digits, share
--    type, each share method, format, update cycle — so the GIN index resolves the filters with
--    the words instead of every hit of a word being read to test them. The same terms as
--    `filterTerms` in search-store.ts, which writes them from now on.
-- 2. name_terms: the terms of the entry's name (the A-weight terms of its document: the name in
--    every language and the resource code), with a GIN index of their own.
--    Hits whose name has every query word come first, newest first, so a page of them is read by
--    walking the publication-date index and stops once the page is full; the column's own
--    statistics let the planner tell a word in many names (walk the date index) from one in few
--    (GIN, then sort those few).
update catalog_search set document = document || array_to_tsvector(array(
  select distinct t from unnest(array[
      '~p:' || agency_id::text,
      '~r:' || left(region_code, 2), '~r:' || left(region_code, 4), '~r:' || region_code,
      '~c:' || left(classification_code, 1), '~c:' || left(classification_code, 3), '~c:' || left(classification_code, 6),
      '~s:' || share_type, '~f:' || format_type, '~u:' || update_cycle
    ] || array(select '~m:' || m from unnest(share_methods) m)) t
  where t is not null));
alter table catalog_search add column name_terms tsvector not null default '';
update catalog_search set name_terms = ts_filter(document, '{a}');
create index catalog_search_name_idx on catalog_search using gin (name_terms);
-- Both updates rewrote every row: fresh statistics now, so the first searches after the upgrade
-- are planned on what the table holds (autovacuum reclaims the old row versions later).
analyze catalog_search;
