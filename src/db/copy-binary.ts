import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

/**
 * Reading a query's result through `COPY (…) TO STDOUT (FORMAT binary)`: each column's value as
 * the raw bytes PostgreSQL sends for it (a text column's UTF-8, an int8's 8 big-endian bytes),
 * with nothing decoded on the way. `pg` turns every value of an ordinary result into a string;
 * a reader that wants bytes — the audit verifier, hashing megabytes — would only encode them
 * again. Server only: PGlite has no COPY to a client.
 */

/** A row of raw column values; null for SQL NULL. */
export type BinaryRow = readonly (Buffer | null)[];

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** The tuples of a binary COPY stream (PostgreSQL's documented file format, version 0). */
export function parseBinaryCopy(data: Buffer): BinaryRow[] {
  if (data.length < 21 || SIGNATURE.compare(data, 0, SIGNATURE.length) !== 0) throw new Error('not a binary COPY stream (bad signature)');
  let at = SIGNATURE.length + 4;
  at += 4 + data.readUInt32BE(at);
  const rows: BinaryRow[] = [];
  for (;;) {
    if (at + 2 > data.length) throw new Error('binary COPY stream ends before its trailer');
    const fields = data.readInt16BE(at);
    at += 2;
    if (fields === -1) return rows;
    const row: (Buffer | null)[] = [];
    for (let f = 0; f < fields; f++) {
      const length = data.readInt32BE(at);
      at += 4;
      if (length === -1) {
        row.push(null);
        continue;
      }
      if (at + length > data.length) throw new Error('binary COPY stream ends inside a value');
      row.push(data.subarray(at, at + length));
      at += length;
    }
    rows.push(row);
  }
}

/**
 * Runs `select` (a complete SELECT statement; COPY takes no parameters, so it must carry its
 * values as literals the caller has checked) on a connection of `pool`, returning the whole
 * binary COPY stream as it arrived (signature, header, tuples, trailer), for a reader that walks
 * the tuples itself rather than take a Buffer per value.
 */
export async function copyOutStream(pool: pg.Pool, select: string): Promise<Buffer> {
  const client = await pool.connect();
  let failed: Error | undefined;
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of client.query(copyTo(`copy (${select}) to stdout (format binary)`)) as AsyncIterable<Buffer>) chunks.push(chunk);
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  } catch (e) {
    failed = e instanceof Error ? e : new Error(String(e));
    throw failed;
  } finally {
    // A connection whose COPY failed half-way is not handed to anyone else.
    client.release(failed);
  }
}

/** `copyOutStream`, its tuples parsed into rows of raw values. */
export async function copyOutBinary(pool: pg.Pool, select: string): Promise<BinaryRow[]> {
  return parseBinaryCopy(await copyOutStream(pool, select));
}
