-- Retention and archiving of the audit trail (src/modules/audit/README.md, docs/audit.md).
--
-- The oldest events may leave audit_events only as a prefix of the chain that was first written
-- to a signed archive file, and only once they are older than the legal minimum retention of 180
-- days (网络安全法 §21: network logs are kept at least six months). Both rules are enforced here,
-- in the database, so raw SQL by the application's own role cannot remove a young event either.

-- One row per archive file: the range of the chain it holds, the anchor the live chain continues
-- from (last_seq, last_hash), and the platform's signature over both and the file's content hash.
create table audit_archives (
  first_seq        bigint primary key check (first_seq > 0),
  last_seq         bigint not null unique,
  -- prev_hash of the first archived event: the previous archive's last_hash, or 64 zeros.
  first_prev_hash  text not null,
  last_hash        text not null,
  events           bigint not null,
  first_at         timestamptz not null,
  last_at          timestamptz not null,
  -- The cut-off asked for: the archive holds the longest prefix of events older than this.
  cut_off          timestamptz not null,
  -- SHA-256 of the file's lines before its signature line (what the signature covers) and of
  -- the whole file (what `sha256sum FILE` prints).
  content_sha256   text not null,
  file_sha256      text not null,
  file_name        text not null,
  key_id           text not null references audit_signing_keys (id),
  signature        text not null,
  archived_at      timestamptz not null,
  archived_by      text not null,
  check (last_seq >= first_seq and events = last_seq - first_seq + 1 and last_at >= first_at)
);

-- Archives follow each other without gap or overlap, each ends on an event that exists with the
-- recorded hash, and none reaches an event younger than the minimum retention.
create function audit_archives_check() returns trigger language plpgsql as $$
declare
  previous audit_archives;
begin
  select * into previous from audit_archives order by last_seq desc limit 1;
  if new.first_seq <> coalesce(previous.last_seq, 0) + 1 then
    raise exception 'audit archive must start at seq % (it starts at %)', coalesce(previous.last_seq, 0) + 1, new.first_seq using errcode = '23514';
  end if;
  if new.first_prev_hash <> coalesce(previous.last_hash, repeat('0', 64)) then
    raise exception 'audit archive starting at seq % does not continue the previous archive''s last hash', new.first_seq using errcode = '23514';
  end if;
  if not exists (select 1 from audit_events where seq = new.last_seq and hash = new.last_hash) then
    raise exception 'audit archive ends at seq % with a hash that event does not have', new.last_seq using errcode = '23514';
  end if;
  if new.last_at >= now() - interval '180 days' then
    raise exception 'audit events younger than 180 days cannot be archived (event % is from %)', new.last_seq, new.last_at using errcode = '42501';
  end if;
  return new;
end
$$;
create trigger audit_archives_before_insert before insert on audit_archives
  for each row execute function audit_archives_check();
create trigger audit_archives_no_update before update or delete on audit_archives
  for each row execute function audit_append_only_table();
create trigger audit_archives_no_truncate before truncate on audit_archives
  for each statement execute function audit_append_only_table();

-- Still append-only, with two exceptions: chaining a row written before the chain existed (as in
-- 0002), and deleting a row that an archive holds and that is older than 180 days. TRUNCATE stays
-- refused by its own statement trigger.
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
  if tg_op = 'DELETE' then
    if old.at >= now() - interval '180 days' then
      raise exception 'audit_events is append-only: event % is younger than the minimum retention of 180 days (DELETE refused)', old.seq using errcode = '42501';
    end if;
    if old.seq > coalesce((select max(last_seq) from audit_archives), 0) then
      raise exception 'audit_events is append-only: event % is not in an archive (DELETE refused)', old.seq using errcode = '42501';
    end if;
    return old;
  end if;
  raise exception 'audit_events is append-only (% refused)', tg_op using errcode = '42501';
end
$$;
