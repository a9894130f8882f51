-- The exchange's shared tables (src/modules/exchange). A published table resource has one
-- physical table in the schema `shared`, created and altered by the exchange module when the
-- catalog publishes a version (never by a migration: its columns come from the data items).
create schema if not exists shared;

-- One row per table resource: where its physical table is, how data items map to columns, and
-- its change sequence. `last_seq` is the counter every accepted change takes the next number
-- of; a batch locks this row (FOR UPDATE) for its whole transaction, so sequence numbers commit
-- in order and without gaps.
create table exchange_tables (
  resource_code     text primary key,
  entry_id          uuid not null,
  agency_id         uuid not null references agencies (id),
  table_name        text not null unique check (table_name ~ '^r_[0-9a-z_]{1,60}$'),
  -- the catalog version whose data items the columns follow
  catalog_version   integer not null check (catalog_version >= 1),
  -- incremented by every change of the physical table (a column added)
  schema_version    integer not null default 1 check (schema_version >= 1),
  -- [{ item, column, dataType, sqlType, key, sensitive, format, indexColumn }] (columns.ts)
  columns           jsonb not null,
  last_seq          bigint not null default 0 check (last_seq >= 0),
  last_update_at    timestamptz,
  -- set when the catalog withdraws the resource: its table is kept, nothing more is loaded
  withdrawn_at      timestamptz,
  -- set by an explicit migration (ExchangeService.retireTable): the physical table was renamed
  -- aside and the next publication creates a new one; last_seq carries on
  retired_at        timestamptz,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);

-- Batches applied, by their idempotency key: the same key again changes nothing and gets the
-- first answer back. `body_sha256` tells a replay from a different batch reusing a key.
create table exchange_batches (
  resource_code    text not null references exchange_tables (resource_code),
  idempotency_key  text not null check (length(idempotency_key) between 1 and 200),
  body_sha256      text not null,
  source           text not null,
  outcome          jsonb not null,
  created_by       text not null,
  created_at       timestamptz not null default now(),
  primary key (resource_code, idempotency_key)
);

-- Rows refused under the quarantine policy, kept for the provider to list and fix. The row is
-- sealed (it may hold sensitive values); problems name items and rules, never values.
create table exchange_quarantine (
  id               uuid primary key,
  resource_code    text not null references exchange_tables (resource_code),
  idempotency_key  text not null,
  row_number       integer not null,
  operation        text not null check (operation in ('upsert', 'delete')),
  sealed_row       text not null,
  problems         jsonb not null,
  created_at       timestamptz not null default now(),
  resolved_at      timestamptz
);
create index exchange_quarantine_open_idx on exchange_quarantine (resource_code, created_at) where resolved_at is null;

-- Data keys of the shared tables, sealed with the master key (keys/key-ring.ts). Encrypted
-- values carry the number of the key that encrypted them, so a new key can take over for new
-- writes while older values still open. Blind-index keys are never rotated in place: a new one
-- means recomputing the index columns (docs/exchange.md).
create table exchange_data_keys (
  id           serial primary key,
  purpose      text not null check (purpose in ('encryption', 'blindIndex')),
  algorithm    text not null check (algorithm in ('aes-256-gcm', 'sm4-cbc-hmac-sha256', 'hmac-sha256')),
  sealed_key   text not null,
  active       boolean not null default true,
  created_at   timestamptz not null default now()
);
create unique index exchange_data_keys_active_idx on exchange_data_keys (purpose) where active;
