-- Caches of seldom-changing facts, kept in every server process and emptied on a notification
-- (src/db/listened-cache.ts). First: who holds an exchange certificate (PkiService.identify),
-- announced on the `govshare_identities` channel.
-- These triggers send one whenever something identify reads changes: a certificate (issued,
-- revoked, renewed), the business system, node or user holding it, or their agency. Statement
-- level: a change of many rows sends one notification, and PostgreSQL folds the same payload
-- sent twice in a transaction into one.
-- The one trigger function of both caches: notifies the channel named by the trigger's argument.
create function govshare_cache_changed() returns trigger language plpgsql as $$
begin
  perform pg_notify(tg_argv[0], tg_table_name);
  return null;
end
$$;

create trigger certificates_identities_changed after insert or update or delete on certificates
  for each statement execute function govshare_cache_changed('govshare_identities');
create trigger business_systems_identities_changed after update or delete on business_systems
  for each statement execute function govshare_cache_changed('govshare_identities');
create trigger nodes_identities_changed after update or delete on nodes
  for each statement execute function govshare_cache_changed('govshare_identities');
create trigger agencies_identities_changed after update or delete on agencies
  for each statement execute function govshare_cache_changed('govshare_identities');
-- Not on every update of users: a login writes its counters there.
create trigger users_identities_changed after update of username, agency_id, active or delete on users
  for each statement execute function govshare_cache_changed('govshare_identities');

-- The shape of a shared table (its physical name and columns), which the exchange's readers keep
-- (ExchangeService.shapeOf), announced on `govshare_exchange_tables`. Not on the bookkeeping an
-- accepted batch writes (last_seq, last_update_at, updated_at): that changes with every load.
create trigger exchange_tables_shape_changed
  after insert or delete or update of resource_code, entry_id, agency_id, table_name, catalog_version, schema_version, columns, withdrawn_at, retired_at
  on exchange_tables for each statement execute function govshare_cache_changed('govshare_exchange_tables');
