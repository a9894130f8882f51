-- Batch verification jobs (批量核验, src/modules/exchange/verify-jobs.ts): a business system
-- submits a file of records, a worker compares them with the shared table in the background.
-- Several servers share the queue: a job is claimed with FOR UPDATE SKIP LOCKED and a lease
-- (claimed_by, lease_until), renewed while it runs; a job whose lease ran out (its server died)
-- is claimed again, and failed once it has been interrupted max attempts times.
create table exchange_verify_jobs (
  id               uuid primary key,
  resource_code    text not null,
  system_id        uuid not null,
  agency_id        uuid,
  -- the certificate holder's name as the audit trail names the system (subjectType:name)
  actor_name       text not null,
  request_id       text,
  state            text not null check (state in ('queued', 'running', 'succeeded', 'failed')),
  format           text not null,
  encoding         text,
  bytes            bigint not null,
  -- the submitted columns: key items and the items to verify, and how each is compared
  key_items        jsonb not null,
  field_items      jsonb not null,
  modes            jsonb not null,
  purpose          text,
  records_total    bigint not null,
  records_done     bigint not null default 0,
  matched          bigint not null default 0,
  mismatched       bigint not null default 0,
  not_found        bigint not null default 0,
  attempts         integer not null default 0,
  claimed_by       text,
  lease_until      timestamptz,
  error            jsonb,
  created_at       timestamptz not null,
  started_at       timestamptz,
  finished_at      timestamptz
);
create index exchange_verify_jobs_due on exchange_verify_jobs (created_at) where state in ('queued', 'running');
create index exchange_verify_jobs_finished on exchange_verify_jobs (finished_at) where finished_at is not null;

-- The submitted file and the result file, sealed with the master key (they hold the consumer's
-- records, personal data among them), apart from the job row so that polling a job never reads
-- them. Deleted with their job.
create table exchange_verify_job_files (
  job_id  uuid not null references exchange_verify_jobs (id) on delete cascade,
  kind    text not null check (kind in ('input', 'result')),
  sealed  text not null,
  primary key (job_id, kind)
);
