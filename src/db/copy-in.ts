import { once } from 'node:events';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { CompiledQuery } from 'kysely';
import pg from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';
import type { Db } from './database.js';

/**
 * `COPY … FROM STDIN` through Kysely, on both drivers, on the connection of the executor it is
 * given — inside a transaction, the transaction's own.
 *
 * PostgreSQL takes no parameters in COPY, so a `copy … from stdin` statement carrying exactly one
 * parameter cannot mean anything else: that parameter is the data (text COPY format). The two
 * drivers recognise it where the statement reaches them: on the server, the pool's client class
 * (`CopyingClient`) streams it with pg-copy-streams; on PGlite, `copyingPGlite` hands it over as
 * the `/dev/blob` of `COPY … FROM '/dev/blob'`.
 */
const COPY_FROM_STDIN = /^\s*copy\s[\s\S]+\sfrom\s+stdin\b/i;

function isCopyIn(text: unknown, values: unknown): values is readonly [Buffer] {
  return typeof text === 'string' && Array.isArray(values) && values.length === 1 && Buffer.isBuffer(values[0]) && COPY_FROM_STDIN.test(text);
}

/** Runs `statement` (`copy <table> (<columns>) from stdin`, text format) with `data`. */
export async function copyIn(executor: Db, statement: string, data: Buffer): Promise<void> {
  await executor.executeQuery(CompiledQuery.raw(statement, [data]));
}

/** One value in COPY's text format: `\N` for NULL, bytea as `\\x<hex>`, backslash and line breaks escaped. */
export function copyText(v: string | boolean | Buffer | null): string {
  if (v === null) return '\\N';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (Buffer.isBuffer(v)) return `\\\\x${v.toString('hex')}`;
  return NEEDS_ESCAPE.test(v) ? v.replace(ESCAPED, (c) => ESCAPES[c]!) : v;
}

const NEEDS_ESCAPE = /[\\\n\r\t]/;
const ESCAPED = /[\\\n\r\t]/g;
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const plainQuery = pg.Client.prototype.query;

/** The pool's client on the server: a COPY FROM STDIN with its data as the one parameter is streamed. */
export class CopyingClient extends pg.Client {}

Object.defineProperty(CopyingClient.prototype, 'query', {
  value: function query(this: pg.Client, ...args: unknown[]): unknown {
    const [text, values] = args;
    if (!isCopyIn(text, values)) return Reflect.apply(plainQuery, this, args) as unknown;
    return copyThrough(this, text as string, values[0]);
  },
});

async function copyThrough(client: pg.Client, statement: string, data: Buffer): Promise<{ command: string; rowCount: number; rows: never[] }> {
  const stream = client.query(copyFromStdin(statement));
  const failed = once(stream, 'error').then(([e]) => Promise.reject(e as Error));
  failed.catch(() => undefined);
  stream.end(data);
  await Promise.race([once(stream, 'finish'), failed]);
  return { command: 'COPY', rowCount: stream.rowCount, rows: [] };
}

type Queryable = Pick<PGlite, 'query'> | Pick<Transaction, 'query'>;

function blobQuery(target: Queryable): Queryable['query'] {
  return ((text: string, values?: unknown[], options?: Record<string, unknown>) => {
    if (!isCopyIn(text, values)) return target.query(text, values, options);
    return target.query(text.replace(/\sfrom\s+stdin\b/i, " from '/dev/blob'"), [], { ...options, blob: new Blob([values[0]]) });
  }) as Queryable['query'];
}

/** The PGlite instance as the dialect sees it: a COPY FROM STDIN with its data as the one parameter reads it as '/dev/blob'. */
export function copyingPGlite(pglite: PGlite): PGlite {
  const query = blobQuery(pglite);
  const transaction: PGlite['transaction'] = (fn) => pglite.transaction((tx) => fn(Object.assign(Object.create(tx) as Transaction, { query: blobQuery(tx) })));
  return new Proxy(pglite, {
    get(target, prop) {
      if (prop === 'query') return query;
      if (prop === 'transaction') return transaction;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
