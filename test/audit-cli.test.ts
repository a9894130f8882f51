import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, pgliteDir } from '../src/db/database.js';

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
