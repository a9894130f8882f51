-- Attachments (src/modules/attachments): files an agency uploads to go with a record of another
-- module, e.g. the signed security agreement (保密协议) of a share request. The bytes are in the
-- blob store under their SHA-256; a row here is one upload of them, with the name it was given.
create table attachments (
  id            uuid primary key,
  sha256        text not null check (sha256 ~ '^[0-9a-f]{64}$'),
  bytes         bigint not null check (bytes >= 0),
  file_name     text not null check (length(file_name) between 1 and 255),
  content_type  text not null,
  -- null: uploaded by platform staff (the CLI, the supervisor)
  agency_id     uuid references agencies (id),
  uploaded_by   text not null,
  created_at    timestamptz not null default now()
);
create index attachments_sha256_idx on attachments (sha256);

-- Which record an attachment belongs to (owner_type 'shareRequest', owner_id its id) and which
-- agencies besides the uploader may read it. Written by the owner's module in its transaction.
create table attachment_links (
  attachment_id      uuid not null references attachments (id),
  owner_type         text not null,
  owner_id           uuid not null,
  reader_agency_ids  uuid[] not null default '{}',
  created_at         timestamptz not null default now(),
  primary key (attachment_id, owner_type, owner_id)
);
create index attachment_links_owner_idx on attachment_links (owner_type, owner_id);
create index attachment_links_readers_idx on attachment_links using gin (reader_agency_ids);
