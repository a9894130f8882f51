-- Who holds an exchange certificate (PkiService.identify) is cached in every server process and
-- emptied on a notification on the `govshare_identities` channel (src/db/listened-cache.ts).
-- These triggers send one whenever something identify reads changes: a certificate (issued,
-- revoked, renewed), the business system, node or user holding it, or their agency. Statement
-- level: a change of many rows sends one notification, and PostgreSQL folds the same payload
-- sent twice in a transaction into one.
create function govshare_identities_changed() returns trigger language plpgsql as $$
begin
  perform pg_notify('govshare_identities', tg_table_name);
  return null;
end
$$;

create trigger certificates_identities_changed after insert or update or delete on certificates
  for each statement execute function govshare_identities_changed();
create trigger business_systems_identities_changed after update or delete on business_systems
  for each statement execute function govshare_identities_changed();
create trigger nodes_identities_changed after update or delete on nodes
  for each statement execute function govshare_identities_changed();
create trigger agencies_identities_changed after update or delete on agencies
  for each statement execute function govshare_identities_changed();
-- Not on every update of users: a login writes its counters there.
create trigger users_identities_changed after update of username, agency_id, active or delete on users
  for each statement execute function govshare_identities_changed();
