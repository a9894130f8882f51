-- The working-day calendar (工作日历, src/modules/calendar/README.md, docs/calendar.md): the
-- exceptions to "Monday to Friday work, weekends off" — public holidays and make-up working days
-- (调休上班) — by date, in China Standard Time. History of changes is the audit trail
-- (calendar.set-day, calendar.clear-day, calendar.import, calendar.load-national).

create table calendar_days (
  date        date primary key check (date between '1900-01-01' and '2999-12-31'),
  kind        text not null check (kind in ('holiday', 'workday')),
  name        text not null check (length(btrim(name)) between 1 and 50),
  -- national: loaded from the State Council arrangement govshare ships; operator: set or imported
  -- by an operator. Start-up never changes an operator row.
  source      text not null check (source in ('national', 'operator')),
  changed_by  text not null,
  changed_at  timestamptz not null default now(),
  request_id  text,
  -- A make-up working day is a Saturday or Sunday (isodow 6, 7); on a weekday it would change nothing.
  check (kind <> 'workday' or extract(isodow from date) >= 6)
);

-- One row per year the calendar has heard of: whose arrangement it holds, and whether an
-- operator changed it (which stops start-up from replacing it with a corrected shipped one).
create table calendar_years (
  year                integer primary key check (year between 1900 and 2999),
  -- Whose complete arrangement of the year the calendar holds; null: none, the year is unknown
  -- (weekends only, deadlines in it provisional) even if some days were set by hand.
  arrangement         text check (arrangement in ('national', 'operator')),
  -- The shipped arrangement (national-arrangements.ts revisionOf) start-up last dealt with:
  -- loaded it, or left it alone because an operator owns or changed the year. Null: never.
  national_revision   text,
  -- What the arrangement was taken from: the notice's title or address.
  source              text,
  loaded_by           text,
  loaded_at           timestamptz,
  -- Last time an operator set or cleared a day of this year; null: never.
  operator_edited_at  timestamptz
);

-- Bumped by every change of the calendar, in the changing transaction. Each process caches the
-- calendar with the version it read and reloads when this differs (one primary-key read per
-- query), so several servers on one PostgreSQL never compute with a stale calendar. The row lock
-- of the update also serialises writers of the calendar.
create table calendar_state (
  singleton  boolean primary key default true check (singleton),
  version    bigint not null
);
insert into calendar_state (singleton, version) values (true, 0);
