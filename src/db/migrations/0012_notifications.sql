-- Notifications (src/modules/notifications/, README.md there). A notice is written in the
-- transaction of the decision that causes it, with one inbox row per recipient account and one
-- queued delivery per e-mail recipient and per webhook; a delivery worker sends the deliveries
-- after commit, claiming them with FOR UPDATE SKIP LOCKED, and records every attempt.
create table notifications (
  id           uuid primary key,
  kind         text not null,
  subject_zh   text not null,
  subject      text not null,
  body_zh      text not null,
  body         text not null,
  target_type  text not null,
  target_id    text not null,
  details      jsonb not null default '{}',
  created_at   timestamptz not null
);
create index notifications_target_idx on notifications (target_type, target_id);

-- One row per recipient account and notice; seq orders an inbox, newest first.
create table notification_inbox (
  id               uuid primary key,
  seq              bigint generated always as identity unique,
  notification_id  uuid not null references notifications (id),
  account_id       uuid not null references users (id),
  read_at          timestamptz,
  created_at       timestamptz not null,
  unique (notification_id, account_id)
);
create index notification_inbox_account_idx on notification_inbox (account_id, seq desc);
create index notification_inbox_unread_idx on notification_inbox (account_id, seq desc) where read_at is null;

-- An account without a row gets e-mail (when the platform sends e-mail and the account has an address).
create table notification_preferences (
  account_id  uuid primary key references users (id),
  email       boolean not null default true,
  updated_at  timestamptz not null
);

-- Webhook endpoints of an agency, or of the platform (agency_id null: the notices for the
-- supervisor and other platform-wide roles). The secret is sealed with the master key.
create table webhooks (
  id             uuid primary key,
  agency_id      uuid references agencies (id),
  url            text not null,
  description    text not null default '',
  secret_sealed  text not null,
  kinds          text[],
  active         boolean not null default true,
  version        integer not null default 1,
  created_by     text not null,
  created_at     timestamptz not null,
  updated_at     timestamptz not null,
  deleted_at     timestamptz
);
create index webhooks_agency_idx on webhooks (agency_id) where deleted_at is null;

-- status: pending (due at next_attempt_at; a worker that claims it moves next_attempt_at past
-- the end of its attempt, which is its lease), delivered, failed (attempts ran out).
-- attempts counts the attempts of the current series; a manual retry starts a new series.
create table notification_deliveries (
  id               uuid primary key,
  seq              bigint generated always as identity unique,
  notification_id  uuid not null references notifications (id),
  channel          text not null check (channel in ('email', 'webhook')),
  account_id       uuid references users (id),
  webhook_id       uuid references webhooks (id),
  address          text not null,
  status           text not null check (status in ('pending', 'delivered', 'failed')),
  attempts         integer not null default 0,
  next_attempt_at  timestamptz not null,
  claimed_by       text,
  last_attempt_at  timestamptz,
  last_error       text,
  delivered_at     timestamptz,
  created_at       timestamptz not null,
  check ((channel = 'email') = (account_id is not null)),
  check ((channel = 'webhook') = (webhook_id is not null))
);
create index notification_deliveries_due_idx on notification_deliveries (next_attempt_at) where status = 'pending';
create index notification_deliveries_status_idx on notification_deliveries (status, seq desc);
create index notification_deliveries_webhook_idx on notification_deliveries (webhook_id, seq desc) where webhook_id is not null;

create table notification_delivery_attempts (
  id             bigint generated always as identity primary key,
  delivery_id    uuid not null references notification_deliveries (id),
  attempt        integer not null,
  worker         text not null,
  started_at     timestamptz not null,
  finished_at    timestamptz not null,
  outcome        text not null check (outcome in ('delivered', 'failed')),
  http_status    integer,
  smtp_response  text,
  error          text
);
create index notification_delivery_attempts_delivery_idx on notification_delivery_attempts (delivery_id, id);
