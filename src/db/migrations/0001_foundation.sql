-- govshare foundation: regions, agencies, business systems, accounts, sessions, API tokens, audit.
-- Keep to PostgreSQL 15 (PGlite is newer; openGauss/KingbaseES are the reason not to use extensions).

create table platform_settings (
  key         text primary key,
  value       jsonb not null,
  updated_at  timestamptz not null default now()
);

-- GB/T 2260 administrative divisions (province / prefecture / county).
create table regions (
  code         text primary key check (code ~ '^[0-9]{6}$'),
  name         text not null,
  level        text not null check (level in ('province', 'prefecture', 'county')),
  parent_code  text references regions (code),
  -- A division abolished in a newer edition stays (agencies and history may point at it).
  active       boolean not null default true,
  source       text not null
);
create index regions_parent_code_idx on regions (parent_code);

create table agencies (
  id                   uuid primary key,
  code                 text not null unique,
  name_zh              text not null,
  -- Other languages by BCP 47 tag: {"ug": "...", "en": "..."}.
  names                jsonb not null default '{}'::jsonb,
  uscc                 text not null unique check (uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
  region_code          text not null references regions (code),
  level                text not null check (level in ('province', 'prefecture', 'county')),
  parent_id            uuid references agencies (id),
  contacts             jsonb not null default '[]'::jsonb,
  active               boolean not null default true,
  deactivated_at       timestamptz,
  deactivation_reason  text,
  version              integer not null default 1,
  created_at           timestamptz not null default now(),
  updated_at           timestamptz not null default now(),
  check (parent_id is null or parent_id <> id)
);
create index agencies_parent_id_idx on agencies (parent_id);
create index agencies_region_code_idx on agencies (region_code);

-- Agencies are never deleted; every version is kept here so history stays readable.
create table agency_history (
  id           bigint generated always as identity primary key,
  agency_id    uuid not null references agencies (id),
  version      integer not null,
  change       text not null check (change in ('created', 'updated', 'deactivated', 'reactivated')),
  snapshot     jsonb not null,
  changed_by   text not null,
  changed_at   timestamptz not null default now(),
  request_id   text,
  unique (agency_id, version)
);

-- 接入系统: a machine identity of an agency; certificates for it come with the PKI.
create table business_systems (
  id             uuid primary key,
  agency_id      uuid not null references agencies (id),
  name           text not null,
  purpose        text not null,
  owner_contact  jsonb not null,
  status         text not null check (status in ('pending', 'active', 'inactive')),
  status_reason  text,
  version        integer not null default 1,
  created_by     text not null,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  unique (agency_id, name)
);

create table users (
  id                    uuid primary key,
  username              text not null unique check (username ~ '^[a-z][a-z0-9._-]{2,63}$'),
  display_name          text not null,
  agency_id             uuid references agencies (id),
  email                 text,
  phone                 text,
  roles                 text[] not null default '{}',
  password_hash         text not null,
  must_change_password  boolean not null default true,
  password_changed_at   timestamptz,
  totp_secret           text,
  totp_enabled          boolean not null default false,
  totp_pending_secret   text,
  totp_last_step        bigint,
  failed_attempts       integer not null default 0,
  failed_window_start   timestamptz,
  locked_until          timestamptz,
  active                boolean not null default true,
  version               integer not null default 1,
  created_at            timestamptz not null default now(),
  updated_at            timestamptz not null default now(),
  last_login_at         timestamptz,
  -- 三权分立, enforced here as well as in the service: no account holds two of these roles.
  constraint users_separation_of_duties check (
    (case when 'operator' = any (roles) then 1 else 0 end)
    + (case when 'securityAdmin' = any (roles) then 1 else 0 end)
    + (case when 'auditor' = any (roles) then 1 else 0 end) <= 1
  )
);
create index users_agency_id_idx on users (agency_id);

create table sessions (
  id            uuid primary key,
  user_id       uuid not null references users (id),
  token_hash    text not null unique,
  created_at    timestamptz not null default now(),
  last_seen_at  timestamptz not null default now(),
  expires_at    timestamptz not null,
  ended_at      timestamptz,
  end_reason    text,
  ip            text,
  user_agent    text
);
create index sessions_user_id_idx on sessions (user_id);

create table api_tokens (
  id              uuid primary key,
  user_id         uuid not null references users (id),
  name            text not null,
  token_hash      text not null unique,
  scopes          text[] not null,
  expires_at      timestamptz not null,
  created_at      timestamptz not null default now(),
  created_by      text not null,
  last_used_at    timestamptz,
  revoked_at      timestamptz,
  revoked_reason  text
);
create index api_tokens_user_id_idx on api_tokens (user_id);

-- The audit trail. Append-only: the triggers below refuse UPDATE, DELETE and TRUNCATE.
create table audit_events (
  id          bigint generated always as identity primary key,
  at          timestamptz not null default now(),
  actor_type  text not null check (actor_type in ('user', 'token', 'cli', 'system', 'anonymous')),
  actor_id    uuid,
  actor_name  text not null,
  action      text not null,
  target_type text,
  target_id   text,
  outcome     text not null check (outcome in ('success', 'failure', 'denied')),
  request_id  text,
  ip          text,
  details     jsonb not null default '{}'::jsonb
);
create index audit_events_at_idx on audit_events (at);
create index audit_events_action_idx on audit_events (action);
create index audit_events_actor_id_idx on audit_events (actor_id);
create index audit_events_target_idx on audit_events (target_type, target_id);

create function audit_events_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'audit_events is append-only (% refused)', tg_op using errcode = '42501';
end
$$;
create trigger audit_events_no_update before update or delete on audit_events
  for each row execute function audit_events_append_only();
create trigger audit_events_no_truncate before truncate on audit_events
  for each statement execute function audit_events_append_only();
