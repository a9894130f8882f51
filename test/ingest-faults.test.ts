/**
 * A real `govshare serve` killed with SIGKILL in the middle of a 200,000-row file upload: after
 * the restart the load is applied whole or not at all, and the same upload again applies it
 * exactly once. Embedded PGlite (a data directory on disk) or the PostgreSQL server of
 * DATABASE_URL. The moment of the kill is driven by the upload's progress (bytes of the file
 * sent), never by a timer.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, pgliteDir } from '../src/db/database.js';
import { createServerDatabaseUrl } from '../src/db/test-database.js';
import { csv, HEADERS, resourceRows } from './helpers/catalog-file.js';
import { freePort, run, start, waitReady, type Proc } from './helpers/cli.js';
import { usccFor } from './helpers/platform.js';

const CODE = '301002/000004';
const TABLE = 'shared."r_301002_000004"';
const ROWS = 200_000;

let dir: string;
let dataDir: string;
let vars: Record<string, string | undefined>;
let serverUrl: string | undefined;
let drop: (() => Promise<void>) | undefined;
let token: string;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'govshare-ingest-faults-'));
  dataDir = join(dir, 'data');
  const server = await createServerDatabaseUrl();
  serverUrl = server?.url;
  drop = server?.drop;
  port = await freePort();
  vars = { GOVSHARE_DATA_DIR: dataDir, GOVSHARE_PORT: String(port), GOVSHARE_EXCHANGE_PORT: String(await freePort()), ...(server ? { DATABASE_URL: server.url } : {}) };
  expect(run(['init'], vars).code).toBe(0);
  const agency = run(['agency', 'add', '--code', 'HYSJ', '--name', '衡阳市市场监督管理局', '--uscc', usccFor(7), '--region', '430400', '--level', 'prefecture'], vars);
  expect(agency.code, agency.stderr).toBe(0);
  const catalog = join(dir, 'catalog.csv');
  writeFileSync(catalog, csv([HEADERS, ...resourceRows({ 提供方: 'HYSJ', 资源代码: CODE })]));
  const imported = run(['catalog', 'import', catalog, '--publish'], vars);
  expect(imported.code, imported.stderr).toBe(0);
  expect(run(['user', 'add', 'loader', '--display-name', '装载员', '--agency', 'HYSJ', '--roles', 'nodeAdmin'], vars).code).toBe(0);
  const created = run(['token', 'create', '--user', 'loader', '--expires', '1d', '--scope', 'data:load,data:read'], vars);
  expect(created.code, created.stderr).toBe(0);
  token = created.stdout.split('\n')[0]!;
}, 180_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await drop?.();
});

/** The file of trial `t` (every trial's names differ, so its SHA-256 and its key do too) and the checksum of its rows as the table will hold them. */
function writeFile(t: number): { path: string; checksum: string } {
  const lines: string[] = [];
  for (let n = 0; n < ROWS; n++) lines.push(`${usccFor(100_000 + n)}|衡阳企业${n}-${t}|${n % 100_000}.${String(n % 100).padStart(2, '0')}`);
  const path = join(dir, `trial-${t}.csv`);
  writeFileSync(path, `统一社会信用代码,企业名称,注册资本\n${lines.map((l) => l.replaceAll('|', ',')).join('\n')}\n`);
  lines.sort();
  return { path, checksum: createHash('md5').update(lines.join('\n')).digest('hex') };
}

/**
 * When the server is killed: once that share of the file's bytes is sent; right after the last
 * byte (while it checks, writes or commits the last chunk); or as its answer arrives (committed).
 */
type Moment = number | 'sent' | 'answered';

interface TableState {
  readonly rows: number;
  readonly lastSeq: number;
  readonly batches: number;
  readonly checksum: string;
}

/**
 * What the database holds, read directly (the server is down on PGlite: one process at a time).
 * On the PostgreSQL server, first waits for the killed server's sessions to end, so that nothing
 * it sent before dying (a COMMIT) is still to be done.
 */
async function inspect(): Promise<TableState> {
  if (serverUrl) {
    const c = new pg.Client({ connectionString: serverUrl, application_name: 'govshare-test' });
    await c.connect();
    try {
      for (;;) {
        const r = await c.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'govshare'`);
        if (r.rows[0]!.n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await c.end();
    }
  }
  const handle = await openDatabase(serverUrl ? { kind: 'postgres', url: serverUrl, poolSize: 1 } : { kind: 'pglite', dir: pgliteDir(dataDir) });
  try {
    // Published by an import, the table is registered and created by its first load (docs/exchange.md): none yet, no rows.
    const exists = (await sql<{ t: string | null }>`select to_regclass(${TABLE})::text as t`.execute(handle.db)).rows[0]!.t !== null;
    const t = exists
      ? await sql<{ rows: number; checksum: string }>`select count(*)::int as rows, coalesce(md5(string_agg(c1 || '|' || c2 || '|' || c3::text, E'\n' order by c1 collate "C")), '') as checksum from ${sql.raw(TABLE)} where not gs_deleted`.execute(handle.db)
      : { rows: [{ rows: 0, checksum: '' }] };
    const meta = await sql<{ seq: string; batches: number }>`select (select last_seq from exchange_tables where resource_code = ${CODE})::text as seq, (select count(*)::int from exchange_batches where resource_code = ${CODE}) as batches`.execute(handle.db);
    return { rows: t.rows[0]!.rows, checksum: t.rows[0]!.checksum, lastSeq: Number(meta.rows[0]!.seq), batches: meta.rows[0]!.batches };
  } finally {
    await handle.close();
  }
}

async function serve(): Promise<Proc> {
  const p = start(['serve'], vars);
  await waitReady(port, p, 60_000);
  return p;
}

async function stop(p: Proc): Promise<void> {
  p.child.kill('SIGTERM');
  expect(await p.exited).toBe(0);
}

/**
 * Uploads the file as the body of POST /data/tables/{code}/files, streamed. With `killAt`, the
 * server is sent SIGKILL at that moment, and the upload ends with whatever happened.
 */
function upload(path: string, killAt?: { readonly at: Moment; readonly size: number; readonly server: Proc }): Promise<{ status: number; body: Record<string, unknown> } | { failed: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/api/v1/data/tables/${encodeURIComponent(CODE)}/files`, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv', 'transfer-encoding': 'chunked' } }, (res) => {
      if (killAt?.at === 'answered') kill();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown> }));
      res.on('error', (e) => resolve({ failed: e.message }));
      res.on('close', () => resolve({ failed: 'closed' }));
    });
    req.on('error', (e) => resolve({ failed: e.message }));
    let sent = 0;
    let killed = false;
    const kill = (): void => {
      if (killed || !killAt) return;
      killed = true;
      killAt.server.child.kill('SIGKILL');
    };
    const file = createReadStream(path, { highWaterMark: 64 * 1024 });
    file.on('data', (chunk: Buffer | string) => {
      if (killed) return;
      sent += chunk.length;
      if (!req.write(chunk)) {
        file.pause();
        req.once('drain', () => file.resume());
      }
      if (killAt && typeof killAt.at === 'number' && sent >= killAt.size * killAt.at) kill();
    });
    file.on('end', () => {
      if (killed) return;
      req.end();
      if (killAt?.at === 'sent') kill();
    });
  });
}

describe(`SIGKILL of govshare serve during a ${ROWS.toLocaleString('en')}-row upload`, () => {
  it('leaves the load applied whole or not at all; uploading it again applies it exactly once', async () => {
    const moments: Moment[] = [0.1, 0.45, 0.8, 'sent', 'answered'];
    let before = await inspect();
    expect(before).toMatchObject({ rows: 0, lastSeq: 0, batches: 0 });
    const outcomes: string[] = [];
    for (const [t, moment] of moments.entries()) {
      const file = writeFile(t);
      const size = statSync(file.path).size;
      const server = await serve();
      const interrupted = await upload(file.path, { at: moment, size, server });
      await server.exited;
      const after = await inspect();
      const applied = after.lastSeq !== before.lastSeq;
      outcomes.push(`${moment}: ${applied ? 'applied' : 'not applied'}${'status' in interrupted ? ` (answered ${interrupted.status})` : ''}`);
      // Whole or nothing: every row with the file's values and one batch more, or the table as it was.
      if (applied) expect(after).toEqual({ rows: ROWS, lastSeq: before.lastSeq + ROWS, batches: before.batches + 1, checksum: file.checksum });
      else expect(after).toEqual(before);

      const restarted = await serve();
      const again = await upload(file.path);
      expect(again).toMatchObject({ status: 200, body: { status: applied ? 'replayed' : 'applied', rows: ROWS } });
      await stop(restarted);
      const once = await inspect();
      expect(once).toEqual({ rows: ROWS, lastSeq: before.lastSeq + ROWS, batches: before.batches + 1, checksum: file.checksum });
      before = once;
    }
    // Not an assertion (the moment a kill lands is the machine's), but worth seeing in the output.
    console.log(`ingest faults (${serverUrl ? 'PostgreSQL' : 'PGlite'}): ${outcomes.join('; ')}`);
  }, 900_000);
});
