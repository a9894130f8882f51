-- The platform CA and the certificates it issues (seed 000 §26, §28).

-- The platform's certificate authorities. One is current (`retired_at is null`); the private key is
-- sealed with the master key (KeyRing) and never stored in clear.
create table pki_authorities (
  id                  uuid primary key,
  subject             text not null,
  key_algorithm       text not null,
  certificate_pem     text not null,
  sealed_private_key  text not null,
  not_before          timestamptz not null,
  not_after           timestamptz not null,
  created_at          timestamptz not null default now(),
  retired_at          timestamptz
);
create unique index pki_authorities_current_idx on pki_authorities ((true)) where retired_at is null;

-- Certificates: applied for, decided by an operator, issued, maybe revoked. The subject is a
-- (type, id) pair so a new kind of subject (e.g. agency nodes) is a new value, not a new column.
create table certificates (
  id                  uuid primary key,
  authority_id        uuid not null references pki_authorities (id),
  subject_type        text not null,
  subject_id          uuid not null,
  agency_id           uuid references agencies (id),
  key_source          text not null check (key_source in ('csr', 'generated')),
  csr_pem             text,
  status              text not null check (status in ('pending', 'rejected', 'issued', 'revoked')),
  requested_by        text not null,
  requested_by_user   uuid references users (id),
  requested_at        timestamptz not null,
  decided_by          text,
  decided_at          timestamptz,
  decision_reason     text,
  serial_number       text unique,
  certificate_pem     text,
  fingerprint_sha256  text unique,
  not_before          timestamptz,
  not_after           timestamptz,
  -- A platform-generated private key, sealed, until its one download; then null for good.
  sealed_private_key  text,
  key_downloaded_at   timestamptz,
  revoked_at          timestamptz,
  revoked_by          text,
  revocation_reason   text,
  revocation_comment  text,
  version             integer not null default 1,
  updated_at          timestamptz not null default now()
);
create index certificates_subject_idx on certificates (subject_type, subject_id);
create index certificates_agency_idx on certificates (agency_id);
create index certificates_not_after_idx on certificates (not_after) where status = 'issued';

-- The exchange listener's own TLS certificate, per server name; shared by every server process.
create table pki_server_certificates (
  server_name         text primary key,
  serial_number       text not null,
  certificate_pem     text not null,
  sealed_private_key  text not null,
  not_after           timestamptz not null,
  created_at          timestamptz not null default now()
);
