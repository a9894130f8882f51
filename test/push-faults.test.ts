/**
 * A real `govshare serve` killed with SIGKILL in the middle of push delivery: a consumer drains
 * its subscription of 100,000 rows over the exchange port (mutual TLS, fetch and acknowledge),
 * the server is killed after a number of batches, restarted, and the consumer carries on. The
 * consumer applies a batch and moves its cursor together (what a node does in one local
 * transaction) and skips what it already applied: it ends with exactly the provider's rows —
 * checksum equal, no duplicates, no gaps. Embedded PGlite on disk or DATABASE_URL's server.
 * The moment of the kill is the consumer's progress (batches received), never a timer.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertGrants } from '../src/modules/grants/check-fixtures.js';
import type { PushBatch } from '../src/modules/exchange/subscriptions.js';
import { cliContext } from '../src/server/actor.js';
import { loadConfig } from '../src/server/config.js';
import { Platform } from '../src/server/platform.js';
import { PERMISSIONS } from '../src/modules/accounts/permissions.js';
import { createServerDatabaseUrl } from '../src/db/test-database.js';
import { csv, HEADERS, resourceRows } from './helpers/catalog-file.js';
import { freePort, run, start, waitReady, type Proc } from './helpers/cli.js';
import { makeCsr } from './helpers/pki.js';
import { usccFor } from './helpers/platform.js';

const CODE = '301002/000005';
const ROWS = 100_000;
const BATCH = 2_000;

let dir: string;
let vars: Record<string, string | undefined>;
let drop: (() => Promise<void>) | undefined;
let port: number;
let exchangePort: number;
let tls: { key: string; cert: string; ca: string };

/** The checksum of the rows as the consumer holds them: USCC|name|capital, sorted. */
function checksum(rows: Iterable<string>): string {
  return createHash('md5').update([...rows].sort().join('\n')).digest('hex');
}

const expectedRows = (): string[] => Array.from({ length: ROWS }, (_, n) => `${usccFor(300_000 + n)}|衡阳推送企业${n}|${n % 100_000}.${String(n % 100).padStart(2, '0')}`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'govshare-push-faults-'));
  const server = await createServerDatabaseUrl();
  drop = server?.drop;
  port = await freePort();
  exchangePort = await freePort();
  vars = { GOVSHARE_DATA_DIR: join(dir, 'data'), GOVSHARE_PORT: String(port), GOVSHARE_EXCHANGE_PORT: String(exchangePort), ...(server ? { DATABASE_URL: server.url } : {}) };
  expect(run(['init'], vars).code).toBe(0);
  expect(run(['agency', 'add', '--code', 'HYSJ', '--name', '衡阳市市场监督管理局', '--uscc', usccFor(7), '--region', '430400', '--level', 'prefecture'], vars).code).toBe(0);
  expect(run(['agency', 'add', '--code', 'HYSW', '--name', '衡阳市税务局', '--uscc', usccFor(8), '--region', '430400', '--level', 'prefecture'], vars).code).toBe(0);
  const catalog = join(dir, 'catalog.csv');
  writeFileSync(catalog, csv([HEADERS, ...resourceRows({ 提供方: 'HYSJ', 资源代码: CODE })]));
  const imported = run(['catalog', 'import', catalog, '--publish'], vars);
  expect(imported.code, imported.stderr).toBe(0);
  const data = join(dir, 'rows.csv');
  writeFileSync(data, `统一社会信用代码,企业名称,注册资本\n${expectedRows().map((l) => l.replaceAll('|', ',')).join('\n')}\n`);
  const loaded = run(['data', 'load', CODE, data], vars);
  expect(loaded.code, loaded.stderr).toBe(0);

  // The consumer's business system, its certificate and a push grant, set up in process (no server runs yet).
  const config = loadConfig({ env: vars as Record<string, string> });
  const { platform } = await Platform.open(config);
  try {
    const cli = cliContext('test', new Set(PERMISSIONS));
    const agency = (code: string) => platform.db.selectFrom('agencies').select('id').where('code', '=', code).executeTakeFirstOrThrow();
    const consumer = await agency('HYSW');
    const provider = await agency('HYSJ');
    const system = await platform.systems.register(cli, { agencyId: consumer.id, name: '税务推送接收系统', purpose: '推送故障测试', ownerContact: { name: '王五' } });
    const { csr, keyPem } = await makeCsr(`CN=${system.id}`);
    const applied = await platform.pki.applyForSystem(cli, { systemId: system.id, csr });
    const issued = await platform.pki.approve(cli, applied.id, null);
    tls = { key: keyPem, cert: issued.certificatePem!, ca: await platform.pki.caCertificatePem() };
    const entry = await platform.db.selectFrom('catalogEntries').select(['id']).where('resourceCode', '=', CODE).executeTakeFirstOrThrow();
    await insertGrants(platform.db, [
      { consumerAgencyId: consumer.id, systemId: system.id, entry: { id: entry.id, resourceCode: CODE }, providerAgencyId: provider.id, method: 'push', validFrom: new Date(Date.now() - 86_400_000), validUntil: new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10), items: ['统一社会信用代码', '企业名称', '注册资本'] },
    ]);
  } finally {
    await platform.close();
  }
}, 240_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await drop?.();
});

async function serve(): Promise<Proc> {
  const p = start(['serve'], vars);
  await waitReady(port, p, 60_000);
  return p;
}

function post<T>(path: string, body: unknown): Promise<{ status: number; body: T }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: exchangePort, path, method: 'POST', servername: 'localhost', agent: false, ...tls, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as T }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The consumer's copy, as a node keeps it: records by ref, and the cursor they are applied up to, changed together. */
class Consumer {
  readonly records = new Map<string, string>();
  cursor = 0;
  generation = 0;
  applied = 0;
  repeated = 0;
  apply(b: PushBatch): void {
    if (b.reset && b.generation !== this.generation) {
      this.records.clear();
      this.cursor = 0;
      this.generation = b.generation;
    }
    if (b.cursor <= this.cursor) {
      this.repeated++;
      return;
    }
    expect(b.after).toBeLessThanOrEqual(this.cursor);
    for (const c of b.changes) {
      if (c.seq <= this.cursor) continue;
      if (c.op === 'upsert') this.records.set(c.ref, `${String(c.row['统一社会信用代码'])}|${String(c.row['企业名称'])}|${String(c.row['注册资本'])}`);
      else this.records.delete(c.ref);
      this.applied++;
    }
    this.cursor = b.cursor;
  }
}

const path = `/exchange/v1/resources/${encodeURIComponent(CODE)}/subscription`;

describe('SIGKILL of the server during push delivery', () => {
  it('the consumer resumes after the restart and ends with exactly the provider rows, nothing twice, nothing missing', async () => {
    const consumer = new Consumer();
    // Kill after these many batches of each run (three kills, then drain to the end).
    const killAfter = [3, 11, 7];
    let server = await serve();
    let received = 0;
    let ack: { generation: number; cursor: number } | undefined;
    let kills = 0;
    for (;;) {
      let r: { status: number; body: PushBatch };
      try {
        r = await post<PushBatch>(`${path}/changes`, { limit: BATCH, ...(ack ? { ack } : {}) });
      } catch {
        // The server is gone: start it again and carry on from what this consumer holds.
        // The first fetch does not acknowledge (as a consumer that lost its acknowledgement): the
        // batch it already applied comes again, and is recognised.
        server = await serve();
        ack = undefined;
        continue;
      }
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      consumer.apply(r.body);
      ack = { generation: consumer.generation, cursor: consumer.cursor };
      received++;
      if (kills < killAfter.length && received === killAfter[kills]) {
        // Killed with the batch applied here but not yet acknowledged there.
        server.child.kill('SIGKILL');
        await server.exited;
        kills++;
        received = 0;
        continue;
      }
      if (!r.body.more) break;
    }
    const done = await post<{ cursor: number; lastSeq: number }>(`${path}/ack`, ack);
    expect(done.body.cursor).toBe(done.body.lastSeq);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    expect(kills).toBe(3);
    // Each kill left one applied batch unacknowledged: delivered again and recognised.
    expect(consumer.repeated).toBeGreaterThanOrEqual(3);
    expect(consumer.records.size).toBe(ROWS);
    expect(consumer.applied).toBe(ROWS);
    expect(checksum(consumer.records.values())).toBe(checksum(expectedRows()));
  }, 300_000);
});
