import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyIn, copyText } from './copy-in.js';
import type { DatabaseHandle } from './database.js';
import { createTestDatabase } from './test-database.js';

let handle: DatabaseHandle;

beforeAll(async () => {
  handle = await createTestDatabase();
  await sql`create table copy_in_test (id integer primary key, name text, data bytea, flag boolean)`.execute(handle.db);
});

afterAll(async () => {
  await handle?.close();
});

const line = (...values: (string | boolean | Buffer | null)[]): string => `${values.map(copyText).join('\t')}\n`;

describe('copyIn', () => {
  it("copies text-format rows inside the transaction, on the transaction's connection; a rollback takes them away", async () => {
    const awkward = 'tab\there \\N back\\slash\nline\r\n中文';
    const data = Buffer.from(line('1', awkward, Buffer.from([0, 1, 255]), true) + line('2', null, null, false));
    await handle.db
      .transaction()
      .execute(async (trx) => {
        await copyIn(trx, 'copy copy_in_test (id, name, data, flag) from stdin', data);
        const r = await sql<{ id: number; name: string | null; data: Uint8Array | null; flag: boolean }>`select id, name, data, flag from copy_in_test order by id`.execute(trx);
        expect(r.rows.map((x) => [x.id, x.name, x.data === null ? null : [...x.data], x.flag])).toEqual([
          [1, awkward, [0, 1, 255], true],
          [2, null, null, false],
        ]);
        throw new Error('roll back');
      })
      .catch((e: Error) => expect(e.message).toBe('roll back'));
    expect((await sql<{ n: number }>`select count(*)::int as n from copy_in_test`.execute(handle.db)).rows[0]?.n).toBe(0);
  });

  it('fails the statement on data the table refuses, and the database serves the next query', async () => {
    await expect(handle.db.transaction().execute((trx) => copyIn(trx, 'copy copy_in_test (id, name) from stdin', Buffer.from('x\ty\n')))).rejects.toThrow(/integer/);
    await copyIn(handle.db, 'copy copy_in_test (id, name) from stdin', Buffer.from(line('3', 'after')));
    expect((await sql<{ name: string }>`select name from copy_in_test where id = 3`.execute(handle.db)).rows[0]?.name).toBe('after');
  });
});
