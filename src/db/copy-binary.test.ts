import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBinaryCopy } from './copy-binary.js';
import type { DatabaseHandle } from './database.js';
import { createTestDatabase } from './test-database.js';

/** A binary COPY stream as PostgreSQL writes it (signature, flags, no header extension). */
function stream(rows: readonly (readonly (Buffer | null)[])[]): Buffer {
  const parts: Buffer[] = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)];
  for (const row of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(row.length);
    parts.push(count);
    for (const v of row) {
      const length = Buffer.alloc(4);
      length.writeInt32BE(v === null ? -1 : v.length);
      parts.push(length, ...(v === null ? [] : [v]));
    }
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  parts.push(trailer);
  return Buffer.concat(parts);
}

describe('parseBinaryCopy', () => {
  it('returns every row with each value as its raw bytes, NULL as null', () => {
    const rows = parseBinaryCopy(stream([[Buffer.from('审计\t1\n'), null], [Buffer.alloc(0), Buffer.from([1, 2])]]));
    expect(rows.map((r) => r.map((v) => (v === null ? null : [...v])))).toEqual([[[...Buffer.from('审计\t1\n')], null], [[], [1, 2]]]);
  });

  it('refuses what is not a whole binary COPY stream', () => {
    expect(() => parseBinaryCopy(Buffer.from('id\tname\n1\tx\n'))).toThrow(/bad signature/);
    const whole = stream([[Buffer.from('abcdef')]]);
    expect(() => parseBinaryCopy(whole.subarray(0, whole.length - 2))).toThrow(/before its trailer/);
    expect(() => parseBinaryCopy(whole.subarray(0, whole.length - 5))).toThrow(/inside a value|before its trailer/);
  });
});

describe('copyOutBinary on the PostgreSQL server', () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await createTestDatabase();
  });
  afterAll(async () => {
    await handle?.close();
  });

  it.runIf(process.env.DATABASE_URL)('reads a query’s values as the bytes the server sends, and a failing query leaves the pool usable', async () => {
    const copy = handle.copyOutBinary!;
    const rows = await copy(`select 42::int8, '审计 😀'::text, null::text union all select 7, E'a\\tb\\nc', 'x' order by 1`);
    expect(rows).toHaveLength(2);
    expect(rows[0]![0]!.readBigInt64BE(0)).toBe(7n);
    expect(rows[0]![1]!.toString('utf8')).toBe('a\tb\nc');
    expect(rows[1]![1]!.toString('utf8')).toBe('审计 😀');
    expect(rows[1]![2]).toBeNull();
    await expect(copy('select 1/0')).rejects.toThrow(/division by zero/);
    // The connection that failed was discarded, not handed back broken.
    for (let i = 0; i < 12; i++) expect((await copy('select 1::int8'))[0]![0]!.readBigInt64BE(0)).toBe(1n);
  });

  it.runIf(!process.env.DATABASE_URL)('is not offered by the embedded database (PGlite has no COPY to a client)', () => {
    expect(handle.copyOutBinary).toBeUndefined();
  });
});
