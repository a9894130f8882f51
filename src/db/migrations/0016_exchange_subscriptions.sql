-- Push subscriptions (资源推送, src/modules/exchange/subscriptions.ts). One per consumer business
-- system and table resource, under the `push` grant in force for the pair (a renewal with the same
-- terms keeps the subscription and its cursor; changed terms start it again from zero).
--
-- The shared table is the change log (migration 0013): a subscription is a cursor over its
-- gs_seq. `cursor` is the last sequence number the consumer acknowledged; while it is below
-- `snapshot_until` the subscription is in its snapshot phase (live rows only); `generation`
-- counts starts from zero (the first, a resync, changed terms), and a batch names it so an
-- acknowledgement of an earlier generation cannot move the cursor of the current one.
create table exchange_subscriptions (
  id                  uuid primary key,
  consumer_system_id  uuid not null references business_systems (id),
  consumer_agency_id  uuid not null references agencies (id),
  resource_code       text not null references exchange_tables (resource_code),
  grant_id            uuid not null references grants (id),
  -- SHA-256 of the grant's items, row filter and masking as last delivered.
  terms_digest        text not null,
  generation          integer not null default 1 check (generation > 0),
  cursor              bigint not null default 0 check (cursor >= 0),
  snapshot_until      bigint not null default 0 check (snapshot_until >= 0),
  -- The highest sequence number handed out in this generation (an acknowledgement may not pass it).
  delivered_until     bigint not null default 0 check (delivered_until >= 0),
  -- poll: the consumer fetches (long-poll) and acknowledges; webhook: the platform POSTs batches.
  mode                text not null default 'poll' check (mode in ('poll', 'webhook')),
  webhook_url         text,
  -- PEM of the CA that issued the webhook server's certificate; null: the system's trusted CAs.
  webhook_ca_pem      text,
  -- active, or dead_letter after the attempts of one batch were used up (re-driven by hand).
  state               text not null default 'active' check (state in ('active', 'dead_letter')),
  attempts            integer not null default 0 check (attempts >= 0),
  next_attempt_at     timestamptz,
  lease_until         timestamptz,
  claimed_by          text,
  last_error          text,
  -- The latest attempts of the webhook (at most 10): [{at, after, until, rows, httpStatus, error}].
  recent_attempts     jsonb not null default '[]',
  last_delivery_at    timestamptz,
  last_ack_at         timestamptz,
  dead_lettered_at    timestamptz,
  version             integer not null default 1,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  unique (consumer_system_id, resource_code),
  check (mode = 'poll' or webhook_url is not null),
  check (cursor <= delivered_until)
);

-- What the webhook worker looks for: due webhook subscriptions.
create index exchange_subscriptions_due on exchange_subscriptions (next_attempt_at) where mode = 'webhook' and state = 'active';
create index exchange_subscriptions_resource on exchange_subscriptions (resource_code);
