-- The catalog system (目录系统, seed 000 §11–18, 003 三): entries, their versions and data items,
-- local extension fields, the change feed and each entry's history. src/modules/catalog/store.ts
-- is the only code with SQL for these tables; docs/catalog.md describes them for people.

-- Local extension fields declared by the operator (a province's extra columns).
create table catalog_extension_fields (
  key             text primary key check (key ~ '^[a-z][a-zA-Z0-9]{0,39}$'),
  label_zh        text not null,
  label_en        text not null,
  type            text not null check (type in ('string', 'integer', 'number', 'boolean', 'date', 'enum')),
  required        boolean not null default false,
  allowed_values  text[] not null default '{}',
  active          boolean not null default true,
  version         integer not null default 1,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  check ((type = 'enum') = (cardinality(allowed_values) > 0))
);

create table catalog_entries (
  id                     uuid primary key,
  agency_id              uuid not null references agencies (id),
  status                 text not null check (status in ('unpublished', 'published', 'withdrawn')),
  -- Assigned in the transaction of the first publication, never changed afterwards.
  resource_code          text unique check (resource_code ~ '^[123][0-9]{5}[0-9]{0,6}/[0-9]{6}$'),
  published_version      integer,
  -- The one version being drafted or reviewed, if any.
  open_version           integer,
  latest_version         integer not null,
  withdrawn_at           timestamptz,
  withdrawal_reason      text,
  -- 003 三(三): a change of law or duty recorded against the published entry, and its deadline.
  revision_cause         text check (revision_cause in ('law', 'duty')),
  revision_occurred_on   date,
  revision_note          text,
  revision_due_on        date,
  -- Optimistic concurrency: every change of the entry or of its open version increments it.
  version                integer not null default 1,
  created_by             text not null,
  created_at             timestamptz not null default now(),
  updated_at             timestamptz not null default now(),
  check (status <> 'published' or resource_code is not null),
  check (status <> 'unpublished' or resource_code is null),
  check ((revision_due_on is null) = (revision_cause is null))
);
create index catalog_entries_agency_idx on catalog_entries (agency_id);
create index catalog_entries_revision_due_idx on catalog_entries (revision_due_on) where revision_due_on is not null;

create table catalog_versions (
  entry_id                  uuid not null references catalog_entries (id),
  number                    integer not null check (number >= 1),
  state                     text not null check (state in ('draft', 'submitted', 'returned', 'published', 'superseded', 'withdrawn', 'discarded')),
  -- 前段码: 类 (1) + 项 (2) + 目 (3) + 细目 (0–6 digits).
  classification_code       text check (classification_code ~ '^[123][0-9]{5}[0-9]{0,6}$'),
  name_zh                   text not null,
  names                     jsonb not null default '{}',
  abstract_zh               text,
  abstracts                 jsonb not null default '{}',
  format_type               text check (format_type in ('electronicFile', 'spreadsheet', 'database', 'image', 'streamingMedia', 'selfDescribing', 'serviceInterface', 'other')),
  format_subtype            text,
  share_type                text check (share_type in ('unconditional', 'conditional', 'none')),
  share_condition           text,
  legal_basis_law           text,
  legal_basis_article       text,
  share_methods             text[] not null default '{}' check (share_methods <@ array['table', 'api', 'file']),
  open_to_public            boolean,
  openness_condition        text,
  update_cycle              text check (update_cycle in ('realtime', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly', 'irregular')),
  related_codes             text[] not null default '{}',
  extensions                jsonb not null default '{}',
  publish_date              date,
  legal_basis_confirmed_by  text,
  legal_basis_confirmed_at  timestamptz,
  submitted_by              text,
  submitted_at              timestamptz,
  reviewed_by               text,
  reviewed_at               timestamptz,
  review_comment            text,
  created_by                text not null,
  created_at                timestamptz not null default now(),
  updated_at                timestamptz not null default now(),
  primary key (entry_id, number),
  check ((legal_basis_law is null) = (legal_basis_article is null)),
  check ((state in ('published', 'superseded', 'withdrawn')) = (publish_date is not null))
);
-- At most one open and at most one published version per entry.
create unique index catalog_versions_open_idx on catalog_versions (entry_id) where state in ('draft', 'submitted', 'returned');
create unique index catalog_versions_published_idx on catalog_versions (entry_id) where state = 'published';
create index catalog_versions_state_idx on catalog_versions (state);

-- 信息项 of each version, typed precisely: the exchange creates table columns from them.
create table catalog_data_items (
  entry_id        uuid not null,
  version_number  integer not null,
  position        integer not null,
  name_zh         text not null,
  names           jsonb not null default '{}',
  data_type       text not null check (data_type in ('string', 'integer', 'decimal', 'date', 'datetime', 'boolean')),
  length          integer check (length between 1 and 65535),
  precision       integer check (precision between 1 and 38),
  scale           integer check (scale >= 0 and scale <= precision),
  description     text not null default '',
  sensitive       boolean not null default false,
  format          text check (format in ('idCard', 'uscc', 'regionCode')),
  is_key          boolean not null default false,
  primary key (entry_id, version_number, position),
  unique (entry_id, version_number, name_zh),
  foreign key (entry_id, version_number) references catalog_versions (entry_id, number),
  check ((data_type = 'string') = (length is not null)),
  check ((data_type = 'decimal') = (precision is not null and scale is not null))
);

-- 后段码: the last sequence used per classification code. The row is locked by the publishing
-- transaction, so two first publications in one classification never get the same sequence.
create table catalog_code_sequences (
  classification_code  text primary key,
  last_sequence        integer not null check (last_sequence between 1 and 999999)
);

-- The change feed. Numbers come from the single counter row, updated in the publishing
-- transaction: a second publisher waits on the row lock until the first commits, so numbers are
-- committed in order and a reader that has seen N never later finds a new change below N.
create table catalog_feed_counter (
  id        smallint primary key check (id = 1),
  last_seq  bigint not null
);
insert into catalog_feed_counter (id, last_seq) values (1, 0);

create table catalog_changes (
  seq             bigint primary key,
  kind            text not null check (kind in ('published', 'withdrawn')),
  entry_id        uuid not null references catalog_entries (id),
  resource_code   text not null,
  version_number  integer not null,
  at              timestamptz not null,
  reason          text
);

-- Who did what to an entry, when (the audit trail has the same, chained; this is for reading).
create table catalog_events (
  id              bigint generated always as identity primary key,
  entry_id        uuid not null references catalog_entries (id),
  version_number  integer,
  action          text not null,
  actor_name      text not null,
  actor_user_id   uuid,
  at              timestamptz not null,
  request_id      text,
  comment         text,
  details         jsonb not null default '{}'
);
create index catalog_events_entry_idx on catalog_events (entry_id, id);

-- 需求目录: an agency's need for another agency's information (000 §13), routed by the supervisor
-- to the agency that holds it and answered there, so that nothing shareable is collected twice
-- (000 §6). src/modules/demands/store.ts has the SQL for it; it reaches the catalog only through
-- the catalog service.
create table demands (
  id                    uuid primary key,
  requester_agency_id   uuid not null references agencies (id),
  title                 text not null,
  description           text not null default '',
  purpose               text not null,
  wanted_items          text[] not null default '{}',
  suggested_agency_id   uuid references agencies (id),
  status                text not null check (status in ('open', 'routed', 'answered')),
  provider_agency_id    uuid references agencies (id),
  routed_by             text,
  routed_at             timestamptz,
  route_comment         text,
  answer_kind           text check (answer_kind in ('existing', 'promise', 'refusal')),
  answer_entry_id       uuid references catalog_entries (id),
  answer_resource_code  text,
  answer_promised_by    date,
  answer_reason         text,
  answered_by           text,
  answered_at           timestamptz,
  version               integer not null default 1,
  created_by            text not null,
  created_at            timestamptz not null default now(),
  updated_at            timestamptz not null default now(),
  check ((status = 'open') = (provider_agency_id is null)),
  check ((status = 'answered') = (answer_kind is not null)),
  check (answer_kind is distinct from 'existing' or (answer_entry_id is not null and answer_resource_code is not null)),
  check (answer_kind is distinct from 'promise' or answer_promised_by is not null),
  check (answer_kind is distinct from 'refusal' or answer_reason is not null)
);
create index demands_requester_idx on demands (requester_agency_id);
create index demands_provider_idx on demands (provider_agency_id);
