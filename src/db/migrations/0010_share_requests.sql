-- Requested sharing (申请共享, seed 003 五; 000 §20–23): a consumer agency's request for a
-- published resource, its review with deadlines in working days, disputes and arbitration, and
-- the grants (授权) that result and that the exchange enforces. src/modules/requests/store.ts and
-- src/modules/grants/store.ts are the only code with SQL for these tables; docs/requests.md
-- describes the workflow for agency users.

create table share_requests (
  id                    uuid primary key,
  -- The number people quote (申请编号), in the order requests were filed.
  number                bigint generated always as identity unique,
  consumer_agency_id    uuid not null references agencies (id),
  consumer_system_id    uuid not null references business_systems (id),
  entry_id              uuid not null references catalog_entries (id),
  resource_code         text not null,
  resource_name         text not null,
  -- The published version the request was filed against and its share type then.
  entry_version         integer not null,
  provider_agency_id    uuid not null references agencies (id),
  share_type            text not null check (share_type in ('unconditional', 'conditional')),
  items                 text[] not null check (cardinality(items) > 0),
  purpose_business      text not null,
  purpose_basis         text not null,
  data_users            text not null,
  share_method          text not null check (share_method in ('push', 'pull', 'comparison', 'file')),
  valid_until           date not null,
  expected_volume       text,
  frequency             text,
  -- A request to renew a grant before it expires.
  renews_grant_id       uuid,
  status                text not null check (status in ('conformance', 'review', 'infoRequested', 'granted', 'refused', 'nonConforming', 'disputed', 'withdrawn')),
  -- The deadline of the stage in progress (conformance check or review), a China-time date.
  due_on                date,
  -- Working days of the review left when the provider asked for more information (clock 'pause').
  review_days_left      integer,
  reminded_at           timestamptz,
  escalated_at          timestamptz,
  review_started_at     timestamptz,
  info_request          text,
  info_requested_at     timestamptz,
  decision              text check (decision in ('approved', 'narrowed', 'refused', 'nonConforming')),
  decision_comment      text,
  refusal_law           text,
  refusal_article       text,
  decided_by            text,
  decided_at            timestamptz,
  dispute_reason        text,
  disputed_by           text,
  disputed_at           timestamptz,
  arbitration_outcome   text check (arbitration_outcome in ('upheld', 'overruled')),
  arbitration_comment   text,
  arbitrated_by         text,
  arbitrated_at         timestamptz,
  grant_id              uuid,
  version               integer not null default 1,
  created_by            text not null,
  created_at            timestamptz not null default now(),
  updated_at            timestamptz not null default now(),
  -- A request waiting for information keeps its deadline only when the clock runs on (clock 'continue').
  check (status not in ('conformance', 'review') or due_on is not null),
  check (status in ('conformance', 'review', 'infoRequested') or due_on is null),
  check (decision is distinct from 'refused' or (decision_comment is not null and refusal_law is not null)),
  check ((status = 'granted') = (grant_id is not null) or status = 'disputed')
);
create index share_requests_consumer_idx on share_requests (consumer_agency_id, number);
create index share_requests_provider_idx on share_requests (provider_agency_id, number);
create index share_requests_due_idx on share_requests (due_on) where due_on is not null;

-- The readable history of a request: every step, by whom, with what comment.
create table share_request_events (
  id           bigint generated always as identity primary key,
  request_id   uuid not null references share_requests (id),
  at           timestamptz not null,
  actor        text not null,
  action       text not null,
  status_from  text,
  status_to    text,
  comment      text,
  details      jsonb not null default '{}'
);
create index share_request_events_request_idx on share_request_events (request_id, id);

create table grants (
  id                  uuid primary key,
  request_id          uuid not null references share_requests (id),
  consumer_agency_id  uuid not null references agencies (id),
  consumer_system_id  uuid not null references business_systems (id),
  entry_id            uuid not null references catalog_entries (id),
  resource_code       text not null,
  provider_agency_id  uuid not null references agencies (id),
  share_method        text not null check (share_method in ('push', 'pull', 'comparison', 'file')),
  items               text[] not null check (cardinality(items) > 0),
  -- [{item, op: 'eq' | 'in' | 'prefix', values: [text]}], all of them must hold.
  row_filter          jsonb not null default '[]',
  -- {item: 'partial' | 'full' | 'hash'}; items not named are delivered as they are.
  masking             jsonb not null default '{}',
  rate_per_minute     integer check (rate_per_minute > 0),
  volume_per_day      bigint check (volume_per_day > 0),
  purpose             text not null,
  conditions          text,
  valid_from          timestamptz not null,
  -- The last day the grant is in force (China time).
  valid_until         date not null,
  status              text not null check (status in ('active', 'suspended', 'revoked', 'expired')),
  status_reason       text,
  status_changed_by   text,
  status_changed_at   timestamptz,
  expiry_reminded_at  timestamptz,
  version             integer not null default 1,
  created_by          text not null,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  check (status in ('active', 'expired') or status_reason is not null)
);
create index grants_check_idx on grants (consumer_system_id, resource_code, share_method);
create index grants_consumer_idx on grants (consumer_agency_id);
create index grants_provider_idx on grants (provider_agency_id);
create index grants_valid_until_idx on grants (valid_until) where status in ('active', 'suspended');

-- What happened to a grant after it was issued: suspended, reinstated, revoked, expired, renewed.
create table grant_events (
  id           bigint generated always as identity primary key,
  grant_id     uuid not null references grants (id),
  at           timestamptz not null,
  actor        text not null,
  action       text not null,
  status_from  text,
  status_to    text,
  reason       text,
  details      jsonb not null default '{}'
);
create index grant_events_grant_idx on grant_events (grant_id, id);

-- Files a request carries (the attachments module stores them): the signed security agreement
-- (保密协议, 000 §22) and anything else the consumer adds.
create table share_request_attachments (
  request_id     uuid not null references share_requests (id),
  attachment_id  uuid not null,
  kind           text not null check (kind in ('securityAgreement', 'other')),
  added_at       timestamptz not null,
  primary key (request_id, attachment_id)
);

alter table share_requests add foreign key (renews_grant_id) references grants (id);
-- Deferred: an unconditional request is filed granted, its grant inserted right after in the same transaction.
alter table share_requests add foreign key (grant_id) references grants (id) deferrable initially deferred;

-- Grant checks are cached in every serve process (src/modules/grants/check.ts). Whatever changes
-- what a check answers — a grant, a business system's status, a resource's publication — says so
-- on this channel, delivered when the change commits; the payload names what changed.
create function govshare_grants_changed() returns trigger language plpgsql as $$
begin
  if tg_table_name = 'grants' then
    perform pg_notify('govshare_grants', 'system:' || new.consumer_system_id::text);
  elsif tg_table_name = 'business_systems' then
    if new.status is distinct from old.status then
      perform pg_notify('govshare_grants', 'system:' || new.id::text);
    end if;
  elsif tg_table_name = 'catalog_entries' then
    if new.status is distinct from old.status or new.resource_code is distinct from old.resource_code then
      perform pg_notify('govshare_grants', 'entry:' || coalesce(new.resource_code, new.id::text));
    end if;
  end if;
  return null;
end
$$;
create trigger grants_changed after insert or update on grants for each row execute function govshare_grants_changed();
create trigger business_systems_grants_changed after update on business_systems for each row execute function govshare_grants_changed();
create trigger catalog_entries_grants_changed after update on catalog_entries for each row execute function govshare_grants_changed();
