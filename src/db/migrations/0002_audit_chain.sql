-- Tamper-evident audit trail: every event gets a contiguous sequence number and is hash-chained
-- to the one before it; signed checkpoints anchor the chain. The rules (canonical serialisation,
-- lock, checkpoints) are in src/modules/audit/README.md.

alter table audit_events
  add column seq bigint,
  add column actor_agency_id uuid,
  add column hash_alg text check (hash_alg in ('sha256', 'sm3')),
  add column prev_hash text,
  add column hash text;

-- Rows written before this migration are numbered in the order they were written; the platform
-- chains them (fills prev_hash, hash, hash_alg) at its next start, before any new event.
alter table audit_events disable trigger audit_events_no_update;
update audit_events e set seq = n.seq
  from (select id, row_number() over (order by id) as seq from audit_events) n
  where e.id = n.id;
alter table audit_events enable trigger audit_events_no_update;

alter table audit_events alter column seq set not null;
alter table audit_events add constraint audit_events_seq_key unique (seq);
alter table audit_events add constraint audit_events_seq_positive check (seq > 0);
-- NOT VALID: enforced for every row inserted or changed from now on, not for the rows above
-- (which are chained once, by the one UPDATE the trigger below allows).
alter table audit_events add constraint audit_events_chained
  check (hash is not null and prev_hash is not null and hash_alg is not null) not valid;
create index audit_events_actor_agency_id_idx on audit_events (actor_agency_id);

-- Still append-only; the one change allowed is chaining a row written before the chain existed,
-- once, without touching anything else in it.
create or replace function audit_events_append_only() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE' and old.hash is null and new.hash is not null
     and (new.id, new.seq, new.at, new.actor_type, new.actor_id, new.actor_agency_id, new.actor_name, new.action,
          new.target_type, new.target_id, new.outcome, new.request_id, new.ip, new.details)
         is not distinct from
         (old.id, old.seq, old.at, old.actor_type, old.actor_id, old.actor_agency_id, old.actor_name, old.action,
          old.target_type, old.target_id, old.outcome, old.request_id, old.ip, old.details)
  then
    return new;
  end if;
  raise exception 'audit_events is append-only (% refused)', tg_op using errcode = '42501';
end
$$;

-- The audit signing keys (ECDSA P-256): the private key sealed under the master key, which is
-- not in the database; the public key in clear, for verification.
create table audit_signing_keys (
  id                  text primary key,
  algorithm           text not null check (algorithm in ('ecdsa-p256-sha256')),
  public_key          text not null,
  private_key_sealed  text not null,
  created_at          timestamptz not null default now()
);

-- A checkpoint signs (seq, hash) of the chain at one point: every event up to seq is fixed by it.
create table audit_checkpoints (
  seq        bigint primary key check (seq > 0),
  hash       text not null,
  at         timestamptz not null,
  key_id     text not null references audit_signing_keys (id),
  signature  text not null
);

create function audit_append_only_table() returns trigger language plpgsql as $$
begin
  raise exception '% is append-only (% refused)', tg_table_name, tg_op using errcode = '42501';
end
$$;
create trigger audit_signing_keys_no_update before update or delete on audit_signing_keys
  for each row execute function audit_append_only_table();
create trigger audit_signing_keys_no_truncate before truncate on audit_signing_keys
  for each statement execute function audit_append_only_table();
create trigger audit_checkpoints_no_update before update or delete on audit_checkpoints
  for each row execute function audit_append_only_table();
create trigger audit_checkpoints_no_truncate before truncate on audit_checkpoints
  for each statement execute function audit_append_only_table();
