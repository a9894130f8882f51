-- A table resource whose physical table is not created yet. A catalog import publishing a
-- migrated catalog may publish tens of thousands of table resources in its one transaction;
-- creating a table takes several locks (the table, its indexes, its TOAST table) held to the end
-- of the transaction, and a PostgreSQL 15 server with the default settings runs out of shared
-- memory after about 2,500 of them (measured). Such an import registers each table pending
-- (columns decided, no physical table) and the exchange creates it at its first use
-- (ExchangeService: a load, a query, a subscription, a verification). A publication through
-- review still creates its table at once.
alter table exchange_tables add column pending boolean not null default false;
