import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, pgliteDir } from '../src/db/database.js';
import { PERMISSIONS } from '../src/modules/accounts/permissions.js';
import { cliContext } from '../src/server/actor.js';
import { loadConfig } from '../src/server/config.js';
import { Platform } from '../src/server/platform.js';

// The built command (`npm test` builds first) on an embedded data directory: real processes.
const MAIN = join(process.cwd(), 'dist/src/cli/main.js');

let dir: string;
const dataDir = (): string => join(dir, 'data');

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, GOVSHARE_LOG_LEVEL: 'warn', GOVSHARE_DATA_DIR: dataDir() };
  delete env.DATABASE_URL;
  const r = spawnSync(process.execPath, [MAIN, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gs-audit-cli-'));
  expect(run(['init']).code).toBe(0);
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('govshare audit', () => {
  it('verify passes on an intact trail, export writes CSV once and refuses to overwrite', () => {
    const v = run(['audit', 'verify']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/audit trail intact: \d+ events/);

    const out = join(dir, 'audit.csv');
    const e = run(['audit', 'export', '--out', out, '--action', 'user.create']);
    expect(e.code, e.stderr).toBe(0);
    const lines = readFileSync(out, 'utf8').replace(/^\ufeff/, '').trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^seq,at,actorType/);
    expect(lines.slice(1).every((l) => l.includes(',user.create,'))).toBe(true);
    expect(lines.length).toBeGreaterThan(3); // the three bootstrap administrators

    const again = run(['audit', 'export', '--out', out]);
    expect(again.code).toBe(7);
    expect(again.stderr).toContain('GS_ERR_AUDIT_EXPORT_FILE');

    const bad = run(['audit', 'export', '--out', join(dir, 'x.csv'), '--from', 'yesterday']);
    expect(bad.code).toBe(7);
    expect(bad.stderr).toContain('--from');
    expect(existsSync(join(dir, 'x.csv'))).toBe(false);
  }, 60_000);

  it('search shows the newest matching events, pages on with --before, and refuses a bad limit', () => {
    const all = run(['--json', 'audit', 'search', '--action', 'user.create', '--limit', '2']);
    expect(all.code, all.stderr).toBe(0);
    const page = JSON.parse(all.stdout) as { id: number; action: string; targetId: string }[];
    expect(page).toHaveLength(2);
    expect(page.every((e) => e.action === 'user.create')).toBe(true);
    expect(page[0]!.id).toBeGreaterThan(page[1]!.id);
    const next = JSON.parse(run(['--json', 'audit', 'search', '--action', 'user.create', '--limit', '2', '--before', String(page[1]!.id)]).stdout) as { id: number }[];
    expect(next.length).toBeGreaterThan(0);
    expect(next.every((e) => e.id < page[1]!.id)).toBe(true);

    const human = run(['audit', 'search', '--action', 'user.create', '--limit', '1']);
    expect(human.stdout).toMatch(/^id\s+seq\s+at\s+actor\s+action/);
    expect(human.stdout).toContain('(more: --before');
    expect(run(['audit', 'search', '--action', 'no.such-action']).stdout).toContain('no matching audit events');

    const bad = run(['audit', 'search', '--limit', '0']);
    expect(bad.code).toBe(7);
    expect(bad.stderr).toContain('--limit');
    // Reading the trail from the command line is itself in the trail.
    expect(JSON.parse(run(['--json', 'audit', 'search', '--action', 'audit.search', '--limit', '1']).stdout)).toHaveLength(1);
  }, 60_000);

  it('verify exits 8 naming the first bad sequence when an event was deleted', async () => {
    const handle = await openDatabase({ kind: 'pglite', dir: pgliteDir(dataDir()) });
    try {
      await sql.raw('alter table audit_events disable trigger audit_events_no_update').execute(handle.db);
      await sql.raw('delete from audit_events where seq = 2').execute(handle.db);
      await sql.raw('alter table audit_events enable trigger audit_events_no_update').execute(handle.db);
    } finally {
      await handle.close();
    }
    const v = run(['audit', 'verify']);
    expect(v.code).toBe(8);
    expect(v.stdout).toContain('BROKEN at seq 2');
    expect(v.stderr).toMatch(/sequence 2: event 2 is missing .*\[GS_ERR_AUDIT_CHAIN_BROKEN\]/);
  }, 60_000);
});

describe('govshare audit archive and verify --archive', () => {
  const DAY = 86_400_000;
  let home: string;
  const data = (): string => join(home, 'data');
  const runIn = (args: string[], dataDirectory = data()) => {
    const env: NodeJS.ProcessEnv = { ...process.env, GOVSHARE_LOG_LEVEL: 'warn', GOVSHARE_DATA_DIR: dataDirectory };
    delete env.DATABASE_URL;
    const r = spawnSync(process.execPath, [MAIN, ...args], { env, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'gs-audit-archive-cli-'));
    // A platform that started 250 days ago: prepared and used then with its clock set back, in
    // this process; the commands below run on it as they would on a server's data directory.
    let offset = -250 * DAY;
    const config = loadConfig({ env: {}, overrides: { dataDir: data(), logLevel: 'silent', auditCheckpointEvents: 10 } });
    const { platform } = await Platform.open(config, { now: () => new Date(Date.now() + offset), mayGenerateKey: true });
    try {
      await platform.bootstrap();
      const ctx = cliContext('old-admin', new Set(PERMISSIONS));
      await platform.audit.recordMany(ctx, Array.from({ length: 30 }, (_, i) => ({ action: 'test.old', targetId: String(i), details: { i } })));
      offset = 0;
      await platform.audit.record(ctx, { action: 'test.recent' });
    } finally {
      await platform.close();
    }
  }, 120_000);

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
  });

  it('archives the old events to a signed file that verifies offline; the live trail verifies from it; a recent cut-off is refused', () => {
    const young = runIn(['audit', 'archive', '--before', new Date(Date.now() - 10 * DAY).toISOString(), '--out', join(home, 'young.ndjson')]);
    expect(young.code).toBe(7);
    expect(young.stderr).toMatch(/at least 180 days.*latest cut-off allowed now is \d{4}-\d{2}-\d{2}T.*\[GS_ERR_AUDIT_RETENTION\]/);
    expect(existsSync(join(home, 'young.ndjson'))).toBe(false);

    const file = join(home, 'audit-2025.ndjson');
    const a = runIn(['audit', 'archive', '--before', new Date(Date.now() - 200 * DAY).toISOString().slice(0, 10), '--out', file]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/events 1…\d+ \(\d+ events, .*\) archived to .*audit-2025\.ndjson and removed from the database; sha256 [0-9a-f]{64}/);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const live = runIn(['audit', 'verify']);
    expect(live.code, live.stderr).toBe(0);
    expect(live.stdout).toMatch(/audit trail intact: events 1…\d+ are archived \(1 archive file, the newest audit-2025\.ndjson, archive sha256 [0-9a-f]{64}\); \d+ events \d+…\d+ in the database verified/);

    // Offline: no data directory, no master key.
    const nowhere = join(home, 'no-such-dir');
    const offline = runIn(['audit', 'verify', '--archive', file], nowhere);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toMatch(/archive .*audit-2025\.ndjson intact: events 1…\d+ .*not pinned/);

    const keyFile = join(home, 'audit-public.pem');
    expect(runIn(['audit', 'public-key', '--out', keyFile]).code).toBe(0);
    const pinned = runIn(['audit', 'verify', '--archive', file, '--public-key', keyFile], nowhere);
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(pinned.stdout).toContain('the pinned public key');
    expect(existsSync(nowhere)).toBe(false);
  }, 120_000);

  it('verify --archive exits 8 naming the line and sequence of a changed event', () => {
    const file = join(home, 'audit-2025.ndjson');
    const lines = readFileSync(file, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes('"seq":4,'));
    lines[at] = lines[at]!.replace('"action":"', '"action":"x');
    const tampered = join(home, 'tampered.ndjson');
    writeFileSync(tampered, lines.join('\n'));
    const v = runIn(['audit', 'verify', '--archive', tampered]);
    expect(v.code).toBe(8);
    expect(v.stdout).toContain(`BROKEN at line ${at + 1} (seq 4)`);
    expect(v.stderr).toMatch(new RegExp(`sequence 4: .*tampered\\.ndjson: line ${at + 1}: event 4 does not match its hash .*\\[GS_ERR_AUDIT_CHAIN_BROKEN\\]`));
  }, 60_000);
});
