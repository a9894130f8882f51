/**
 * `govshare exchange whoami|query|verify|verify-batch|verify-job`: the built CLI as an integrator runs it, a client of a
 * real exchange port (mutual TLS, certificate files on disk), no database of its own.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertGrants } from '../src/modules/grants/check-fixtures.js';
import { catalogContent, publishEntry } from './helpers/catalog.js';
import { start } from './helpers/cli.js';
import { startExchange, systemWithCertificate, type TestExchange } from './helpers/exchange.js';
import { agencyInput, createTestPlatform, usccFor, userContext, type TestPlatform } from './helpers/platform.js';

let t: TestPlatform;
let ex: TestExchange;
let dir: string;
let code: string;
let puller: string[];
let checker: string[];
let subscriber: string[];
const DAY = 86_400_000;

/** Runs the CLI without blocking this process (the exchange port it calls runs here). */
async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = start(args, {});
  const exitCode = await p.exited;
  return { code: exitCode, stdout: p.stdout, stderr: p.stderr };
}

beforeAll(async () => {
  t = await createTestPlatform();
  dir = mkdtempSync(join(tmpdir(), 'govshare-exchange-cli-'));
  const provider = (await t.platform.agencies.create(t.cli, agencyInput(41))).id;
  const consumer = (await t.platform.agencies.create(t.cli, agencyInput(42))).id;
  const entry = await publishEntry(t, provider, catalogContent());
  code = entry.code;
  await t.platform.exchange.applyBatch(userContext('nodeAdmin', provider, 'loader'), code, {
    idempotencyKey: 'cli',
    changes: Array.from({ length: 5 }, (_, i) => ({ row: i + 1, operation: 'upsert' as const, values: { 统一社会信用代码: usccFor(200 + i), 企业名称: `长沙企业${i}`, 注册资本: '10.00' } })),
  });
  ex = await startExchange(t);
  writeFileSync(join(dir, 'ca.crt'), ex.caPem);
  const files = async (name: string, method: 'pull' | 'comparison' | 'push'): Promise<string[]> => {
    const who = await systemWithCertificate(t, consumer, name);
    writeFileSync(join(dir, `${name}.crt`), who.cert);
    writeFileSync(join(dir, `${name}.key`), who.key, { mode: 0o600 });
    await insertGrants(t.platform.db, [
      { consumerAgencyId: consumer, systemId: who.systemId, entry: { id: entry.id, resourceCode: code }, providerAgencyId: provider, method, validFrom: new Date(Date.now() - DAY), validUntil: new Date(Date.now() + 30 * DAY).toISOString().slice(0, 10), items: ['统一社会信用代码', '企业名称', '注册资本'] },
    ]);
    return ['--url', `https://127.0.0.1:${ex.port}`, '--servername', 'localhost', '--ca', join(dir, 'ca.crt'), '--cert', join(dir, `${name}.crt`), '--key', join(dir, `${name}.key`)];
  };
  puller = await files('puller', 'pull');
  checker = await files('checker', 'comparison');
  subscriber = await files('subscriber', 'push');
});

afterAll(async () => {
  await ex?.close();
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('govshare exchange', () => {
  it('whoami names the business system of the certificate', async () => {
    const r = await cli(['exchange', 'whoami', ...puller, '--json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ subjectType: 'system', name: 'puller' });
  });

  it('query prints rows as NDJSON, pages with --after, follows them all with --all, and filters', async () => {
    const first = await cli(['exchange', 'query', code, ...puller, '--limit', '2']);
    expect(first.code).toBe(0);
    expect(first.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      { 统一社会信用代码: usccFor(200), 企业名称: '长沙企业0', 注册资本: '10.00' },
      { 统一社会信用代码: usccFor(201), 企业名称: '长沙企业1', 注册资本: '10.00' },
    ]);
    const after = /more rows: --after (\d+)/.exec(first.stderr)?.[1];
    expect(after).toBeDefined();
    const second = await cli(['exchange', 'query', code, ...puller, '--limit', '2', '--after', after!]);
    expect((JSON.parse(second.stdout.split('\n')[0]!) as { 企业名称: string }).企业名称).toBe('长沙企业2');
    const all = await cli(['exchange', 'query', code, ...puller, '--limit', '2', '--all', '--items', '企业名称']);
    expect(all.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { 企业名称: string }).企业名称)).toEqual(['长沙企业0', '长沙企业1', '长沙企业2', '长沙企业3', '长沙企业4']);
    const filtered = await cli(['exchange', 'query', code, ...puller, '--in', `统一社会信用代码=${usccFor(201)},${usccFor(203)}`, '--prefix', '企业名称=长沙']);
    expect(filtered.stdout.trim().split('\n')).toHaveLength(2);
  });

  it('verify prints per field outcomes; a refusal prints its code and exits non-zero', async () => {
    const r = await cli(['exchange', 'verify', code, ...checker, '--record-key', `统一社会信用代码=${usccFor(202)}`, '--field', '企业名称=长沙企业2', '--field', '注册资本=10', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ found: true, fields: { 企业名称: 'match', 注册资本: 'match' } });
    const refused = await cli(['exchange', 'query', code, ...checker]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('GS_ERR_GRANT_METHOD');
  });

  it('subscriptions lists the push subscription; changes writes the snapshot to a file and acknowledges it; resync starts again', async () => {
    const list = await cli(['exchange', 'subscriptions', ...subscriber, '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject([{ resourceCode: code, cursor: 0, phase: 'snapshot', mode: 'poll' }]);
    const out = join(dir, 'changes.ndjson');
    const r = await cli(['exchange', 'changes', code, ...subscriber, '--limit', '2', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('5 changes');
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { op: string; row?: Record<string, unknown> });
    expect(lines[0]).toEqual({ op: 'reset', generation: 1 });
    expect(lines.slice(1).map((l) => l.row?.['企业名称'])).toEqual(['长沙企业0', '长沙企业1', '长沙企业2', '长沙企业3', '长沙企业4']);
    const state = await cli(['exchange', 'subscriptions', ...subscriber, '--json']);
    const [sub] = JSON.parse(state.stdout) as { cursor: number; lastSeq: number }[];
    expect(sub!.cursor).toBe(sub!.lastSeq);
    const again = await cli(['exchange', 'changes', code, ...subscriber]);
    expect(again.stdout).toBe('');
    const resync = await cli(['exchange', 'resync', code, ...subscriber, '--json']);
    expect(JSON.parse(resync.stdout)).toMatchObject({ generation: 2, cursor: 0 });
    const badHook = await cli(['exchange', 'webhook', code, ...subscriber, '--webhook-url', 'http://127.0.0.1:9/x']);
    expect(badHook.code).not.toBe(0);
    expect(badHook.stderr).toContain('GS_ERR_PUSH_WEBHOOK_INVALID');
  });

  it('verify-batch submits a file as a job; --wait follows it and --out writes the result file; a malformed file is refused', async () => {
    const file = join(dir, '核验.csv');
    writeFileSync(file, `统一社会信用代码,企业名称\n${usccFor(201)},长沙企业1\n${usccFor(202)},长沙企业9\n${usccFor(299)},长沙企业0\n`);
    t.platform.verifyJobs.start();
    try {
      const out = join(dir, 'result.csv');
      const r = await cli(['exchange', 'verify-batch', file, '--resource', code, ...checker, '--wait', '--out', out]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('succeeded, 3/3 records');
      expect(readFileSync(out, 'utf8').replace(/^\ufeff/, '').trim().split('\r\n')).toEqual(['row,统一社会信用代码,企业名称', `2,${usccFor(201)},match`, `3,${usccFor(202)},mismatch`, `4,${usccFor(299)},not_found`]);
      const queued = await cli(['exchange', 'verify-batch', file, '--resource', code, ...checker, '--match', 'normalised', '--json']);
      expect(queued.code).toBe(0);
      const id = (JSON.parse(queued.stdout) as { id: string }).id;
      const later = await cli(['exchange', 'verify-job', id, ...checker, '--wait', '--json']);
      expect(JSON.parse(later.stdout)).toMatchObject({ id, state: 'succeeded', matched: 1, mismatched: 1, notFound: 1 });
    } finally {
      await t.platform.verifyJobs.stop();
    }
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, `统一社会信用代码,企业名称\n${usccFor(201)}\n`);
    const refused = await cli(['exchange', 'verify-batch', bad, '--resource', code, ...checker, '--wait']);
    expect(refused.code).toBe(7);
    expect(refused.stderr).toContain('GS_ERR_EXCHANGE_VERIFY_FILE_INVALID');
  });

  it('says what is wrong with a bad option, a missing file, or an unreachable port', async () => {
    const badRange = await cli(['exchange', 'query', code, ...puller, '--range', '注册资本=10']);
    expect(badRange.code).not.toBe(0);
    expect(badRange.stderr).toContain('--range');
    const noFile = await cli(['exchange', 'whoami', ...puller.map((a) => (a.endsWith('puller.key') ? join(dir, 'missing.key') : a))]);
    expect(noFile.code).not.toBe(0);
    expect(noFile.stderr).toContain('--key');
    const closed = await cli(['exchange', 'whoami', ...puller.map((a) => (a.startsWith('https://') ? 'https://127.0.0.1:1' : a))]);
    expect(closed.code).not.toBe(0);
    expect(closed.stderr).toContain('GS_ERR_EXCHANGE_CLIENT');
  });
});
