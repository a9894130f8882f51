-- 前置机: the agencies' front-end nodes (seed 000 §9, §33–34). Each belongs to one agency and is
-- maintained there; its client certificate is a `certificates` row with subject_type 'node'.
-- Enrolment, heartbeats and online/offline status are later additions on this table.
create table nodes (
  id             uuid primary key,
  agency_id      uuid not null references agencies (id),
  -- Never changes once registered: the node's configuration and the operators refer to it.
  code           text not null check (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$'),
  name           text not null,
  description    text not null default '',
  contact        jsonb not null,
  status         text not null check (status in ('active', 'deactivated')),
  status_reason  text,
  version        integer not null default 1,
  created_by     text not null,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);
-- Codes are unique without regard to case: HY-FGW-01 and hy-fgw-01 would be one node to a person.
create unique index nodes_code_idx on nodes (lower(code));
create index nodes_agency_id_idx on nodes (agency_id);
