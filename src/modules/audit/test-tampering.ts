import { sql } from 'kysely';
import { expect } from 'vitest';
import type { Platform } from '../../server/platform.js';

/**
 * For tests: tampers with the audit trail as the database owner would — with the append-only
 * trigger switched off — then runs `check`. Every tamper is undone afterwards from a copy, and the
 * chain must verify again, so each test starts from an intact chain.
 */
export async function tampered(platform: Platform, statements: readonly string[], check: () => Promise<void>): Promise<void> {
  const db = platform.db;
  await sql`create table audit_copy as select * from audit_events`.execute(db);
  const raw = async (text: string) => sql.raw(text).execute(db);
  try {
    await raw('alter table audit_events disable trigger audit_events_no_update');
    for (const s of statements) await raw(s);
    await raw('alter table audit_events enable trigger audit_events_no_update');
    await check();
  } finally {
    await raw('alter table audit_events disable trigger audit_events_no_update');
    await raw('delete from audit_events');
    await raw('insert into audit_events overriding system value select * from audit_copy');
    await raw('alter table audit_events enable trigger audit_events_no_update');
    await raw('drop table audit_copy');
  }
  expect((await platform.audit.verify()).ok).toBe(true);
}
