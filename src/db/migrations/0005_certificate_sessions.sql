-- Console sessions opened with a client certificate + password (seed 000 §28; 等保 level 3: two
-- factors of different kinds). The session is bound to that certificate: every request of it must
-- present the same certificate, and revoking the certificate ends the session.
alter table sessions
  add column certificate_id uuid references certificates (id),
  add column certificate_sha256 text;
alter table sessions add constraint sessions_certificate_both
  check ((certificate_id is null) = (certificate_sha256 is null));
create index sessions_certificate_id_idx on sessions (certificate_id) where certificate_id is not null;
