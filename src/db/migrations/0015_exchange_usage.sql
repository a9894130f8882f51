-- Quota counters of acquisition (src/modules/exchange/pull.ts): per grant, calls in a minute
-- (window = the minute, kind 'calls') and rows delivered in a China-time day (window = 00:00
-- China time of the day, kind 'rows'). Written with INSERT … ON CONFLICT DO UPDATE … RETURNING,
-- so servers sharing the database count together. Only grants with a quota are counted.
create table exchange_usage (
  grant_id      uuid not null,
  kind          text not null check (kind in ('calls', 'rows')),
  window_start  timestamptz not null,
  used          bigint not null default 0 check (used >= 0),
  primary key (grant_id, kind, window_start)
);
