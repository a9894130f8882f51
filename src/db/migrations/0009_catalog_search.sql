-- The catalog search index (src/modules/catalog/search.ts): one row per published entry, written
-- in the transaction that publishes the entry and removed in the one that withdraws it. The
-- document is a tsvector of jieba-segmented terms built by the application (search-text.ts), so
-- it does not depend on the database's locale or text-search configuration.
create table catalog_search (
  entry_id             uuid primary key references catalog_entries (id),
  resource_code        text not null unique,
  version_number       integer not null,
  agency_id            uuid not null references agencies (id),
  agency_code          text not null,
  agency_name_zh       text not null,
  agency_names         jsonb not null default '{}',
  region_code          text not null,
  classification_code  text not null,
  name_zh              text not null,
  names                jsonb not null default '{}',
  abstract_zh          text,
  abstracts            jsonb not null default '{}',
  share_type           text not null,
  share_methods        text[] not null default '{}',
  format_type          text,
  update_cycle         text,
  publish_date         date not null,
  document             tsvector not null
);
create index catalog_search_document_idx on catalog_search using gin (document);
create index catalog_search_agency_idx on catalog_search (agency_id);
create index catalog_search_publish_idx on catalog_search (publish_date desc, entry_id);
