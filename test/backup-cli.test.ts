import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabaseUrl } from '../src/db/test-database.js';
import { env, freePort, keyFile, MAIN, run } from './helpers/cli.js';
import { usccFor } from './helpers/platform.js';

let dir: string;
let key: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'govshare-backup-cli-'));
  key = keyFile(join(dir, 'backup.key'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('govshare backup, backup verify, restore', () => {
  it('backs up a running embedded server, verifies, refuses bad files, restores into a new data directory', async () => {
    const dataDir = join(dir, 'source');
    const port = await freePort();
    const envs = { GOVSHARE_DATA_DIR: dataDir, GOVSHARE_PORT: String(port), GOVSHARE_EXCHANGE_PORT: String(await freePort()), GOVSHARE_BACKUP_KEY_FILE: key };
    expect(run(['init'], envs).code).toBe(0);
    expect(run(['agency', 'add', '--code', 'HY', '--name', '衡阳市人民政府', '--uscc', usccFor(1), '--region', '430400', '--level', 'prefecture'], envs).code).toBe(0);

    // without a key: refused, saying how to make one; a key others can read: refused
    const noKey = run(['backup', '--out', join(dir, 'x.gsbackup')], { ...envs, GOVSHARE_BACKUP_KEY_FILE: undefined });
    expect(noKey.code).toBe(7);
    expect(noKey.stderr).toContain('GS_ERR_BACKUP_KEY_MISSING');
    expect(noKey.stderr).toContain('openssl rand -base64 32');
    const loose = run(['backup', '--out', join(dir, 'x.gsbackup')], { ...envs, GOVSHARE_BACKUP_KEY_FILE: keyFile(join(dir, 'loose.key'), 0o644) });
    expect(loose.code).toBe(7);
    expect(loose.stderr).toContain('chmod 600');
    // the master key is not a backup key
    const master = run(['backup', '--out', join(dir, 'x.gsbackup')], { ...envs, GOVSHARE_BACKUP_KEY_FILE: join(dataDir, 'master.key') });
    expect(master.code).toBe(7);
    expect(master.stderr).toContain('GS_ERR_BACKUP_SAME_AS_MASTER_KEY');
    expect(run(['backup'], envs).code).toBe(2);
    expect(existsSync(join(dir, 'x.gsbackup'))).toBe(false);

    // while the server runs, the server writes the backup
    const server = spawn(process.execPath, [MAIN, 'serve'], { env: env(envs), stdio: 'ignore' });
    const exited = new Promise((resolve) => server.on('exit', resolve));
    try {
      for (let i = 0; i < 150 && !(await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 200));
      const file = join(dir, 'live.gsbackup');
      const b = run(['backup', '--out', file], envs);
      expect(b.code, b.stderr).toBe(0);
      expect(b.stdout).toContain('backup written to');
      // a restore into the data directory the server holds is refused
      const busy = run(['restore', file, '--force'], envs);
      expect(busy.code).toBe(5);
      expect(busy.stderr).toContain('GS_ERR_DB_DATA_DIR_LOCKED');
    } finally {
      server.kill('SIGTERM');
      await exited;
    }
    const file = join(dir, 'live.gsbackup');

    const ok = run(['backup', 'verify', file], envs);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('is good');
    const truncated = join(dir, 'truncated.gsbackup');
    writeFileSync(truncated, readFileSync(file).subarray(0, 2000));
    const t = run(['backup', 'verify', truncated], envs);
    expect(t.code).toBe(7);
    expect(t.stderr).toContain('GS_ERR_BACKUP_CORRUPT');
    expect(t.stderr.trim().split('\n')).toHaveLength(1);
    const wrong = run(['backup', 'verify', file], { ...envs, GOVSHARE_BACKUP_KEY_FILE: keyFile(join(dir, 'other.key')) });
    expect(wrong.code).toBe(7);
    expect(wrong.stderr).toContain('GS_ERR_BACKUP_WRONG_KEY');

    // restore into a new data directory; a bad file there changes nothing
    const target = { ...envs, GOVSHARE_DATA_DIR: join(dir, 'restored') };
    const bad = run(['restore', truncated], target);
    expect(bad.code).toBe(7);
    expect(existsSync(join(dir, 'restored', 'pgdata'))).toBe(false);
    const r = run(['restore', file], target);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('master key');
    expect(run(['restore', file], target).stderr).toContain('GS_ERR_BACKUP_TARGET_NOT_EMPTY');
    expect(run(['restore', file, '--force'], target).code).toBe(0);
    // with the source's master key, the restored platform works
    copyFileSync(join(dataDir, 'master.key'), join(dir, 'restored', 'master.key'));
    const show = run(['agency', 'show', 'HY', '--json'], target);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout).nameZh).toBe('衡阳市人民政府');
  }, 180_000);

  it.runIf(process.env.DATABASE_URL)('moves an embedded platform to an empty PostgreSQL database', async () => {
    const db = (await createServerDatabaseUrl())!;
    try {
      const dataDir = join(dir, 'source');
      const pg = { DATABASE_URL: db.url, GOVSHARE_DATA_DIR: join(dir, 'pg-files'), GOVSHARE_BACKUP_KEY_FILE: key, GOVSHARE_MASTER_KEY_FILE: join(dataDir, 'master.key') };
      const r = run(['restore', join(dir, 'live.gsbackup')], pg);
      expect(r.code, r.stderr).toBe(0);
      const show = run(['agency', 'show', 'HY', '--json'], pg);
      expect(show.code, show.stderr).toBe(0);
      const b = run(['backup', '--out', join(dir, 'from-pg.gsbackup')], pg);
      expect(b.code, b.stderr).toBe(0);
      expect(run(['backup', 'verify', join(dir, 'from-pg.gsbackup')], pg).code).toBe(0);
    } finally {
      await db.drop();
    }
  }, 120_000);
});
