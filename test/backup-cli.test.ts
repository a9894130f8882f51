import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabaseUrl } from '../src/db/test-database.js';
import { startTestObjectStore, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, type TestObjectStore } from '../src/modules/backup/test-object-store.js';
import { env, freePort, keyFile, MAIN, run, start, waitReady } from './helpers/cli.js';
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

/**
 * A command run to its end without blocking this process: the object store these commands talk
 * to runs in it (`run` waits synchronously).
 */
async function runAsync(args: string[], extra: Record<string, string | undefined>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = start(args, extra);
  const code = await p.exited;
  return { code, stdout: p.stdout, stderr: p.stderr };
}

describe('backups in an S3-compatible bucket', () => {
  let store: TestObjectStore;
  let s3: Record<string, string | undefined>;
  beforeAll(async () => {
    store = await startTestObjectStore({ buckets: ['backups'] });
    s3 = { GOVSHARE_BACKUP_S3_ENDPOINT: store.endpoint, GOVSHARE_BACKUP_S3_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID, GOVSHARE_BACKUP_S3_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY };
  });
  afterAll(async () => {
    await store?.close();
  });

  it('backs up to a bucket (also through a running server), lists, verifies and restores from it; names wrong credentials; never overwrites', async () => {
    const dataDir = join(dir, 's3-source');
    const port = await freePort();
    const envs = { GOVSHARE_DATA_DIR: dataDir, GOVSHARE_PORT: String(port), GOVSHARE_EXCHANGE_PORT: String(await freePort()), GOVSHARE_BACKUP_KEY_FILE: key, ...s3 };
    expect(run(['init'], envs).code).toBe(0);
    expect(run(['agency', 'add', '--code', 'CS', '--name', '长沙市人民政府', '--uscc', usccFor(2), '--region', '430100', '--level', 'prefecture'], envs).code).toBe(0);

    // to a prefix under a generated name, by the command itself (no server running)
    const first = await runAsync(['backup', '--target', 's3://backups/cli/'], envs);
    expect(first.code, first.stderr).toBe(0);
    const url = /backup written to (s3:\/\/backups\/cli\/govshare-\d{8}T\d{6}Z\.gsbackup)/.exec(first.stdout)?.[1];
    expect(url, first.stdout).toBeDefined();

    // the same object again is refused; a wrong secret is named, on one line
    const again = await runAsync(['backup', '--out', url!], envs);
    expect(again.code).toBe(7);
    expect(again.stderr).toContain('already exists');
    const wrong = await runAsync(['backup', '--target', 's3://backups/cli/'], { ...envs, GOVSHARE_BACKUP_S3_SECRET_ACCESS_KEY: 'not-the-secret' });
    expect(wrong.code).toBe(7);
    expect(wrong.stderr).toContain('GS_ERR_BACKUP_STORE_REFUSED');
    expect(wrong.stderr).toContain('secret access key does not belong to the access key id');
    expect(wrong.stderr).not.toContain('not-the-secret');
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    const none = await runAsync(['backup', '--target', 's3://backups/cli/'], { ...envs, GOVSHARE_BACKUP_S3_ACCESS_KEY_ID: undefined, GOVSHARE_BACKUP_S3_SECRET_ACCESS_KEY: undefined });
    expect(none.code).toBe(7);
    expect(none.stderr).toContain('GS_ERR_BACKUP_STORE_CREDENTIALS');

    // while the server runs, the server uploads (credentials from a file, passed by path)
    const credentials = join(dir, 's3.credentials');
    writeFileSync(credentials, `[default]\naws_access_key_id = ${TEST_ACCESS_KEY_ID}\naws_secret_access_key = ${TEST_SECRET_ACCESS_KEY}\n`, { mode: 0o600 });
    const viaFile = { ...envs, GOVSHARE_BACKUP_S3_ACCESS_KEY_ID: undefined, GOVSHARE_BACKUP_S3_SECRET_ACCESS_KEY: undefined, GOVSHARE_BACKUP_S3_CREDENTIALS_FILE: credentials };
    const server = start(['serve'], viaFile);
    try {
      await waitReady(port, server);
      const live = await runAsync(['backup', '--out', 's3://backups/cli/live.gsbackup'], viaFile);
      expect(live.code, live.stderr).toBe(0);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }

    const listed = await runAsync(['backup', 'list', 's3://backups/cli/', '--json'], envs);
    expect(listed.code, listed.stderr).toBe(0);
    const backups = JSON.parse(listed.stdout) as { name: string; bytes: number; location: string }[];
    expect(backups.map((b) => b.location).sort()).toEqual([url, 's3://backups/cli/live.gsbackup'].sort());
    expect(backups.every((b) => b.bytes > 1000)).toBe(true);
    const table = await runAsync(['backup', 'list', 's3://backups/cli/'], envs);
    expect(table.stdout).toContain('live.gsbackup');
    expect(table.stdout).toContain('2 backups at s3://backups/cli/');

    const verified = await runAsync(['backup', 'verify', 's3://backups/cli/live.gsbackup'], envs);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain('is good');
    const missing = await runAsync(['backup', 'verify', 's3://backups/cli/nothing.gsbackup'], envs);
    expect(missing.code).toBe(7);
    expect(missing.stderr).toContain('no such object');

    const target = { ...envs, GOVSHARE_DATA_DIR: join(dir, 's3-restored') };
    const restored = await runAsync(['restore', 's3://backups/cli/live.gsbackup'], target);
    expect(restored.code, restored.stderr).toBe(0);
    copyFileSync(join(dataDir, 'master.key'), join(dir, 's3-restored', 'master.key'));
    const show = run(['agency', 'show', 'CS', '--json'], target);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout).nameZh).toBe('长沙市人民政府');
  }, 180_000);

  it('serve writes scheduled backups to the configured target and checks them; refuses to start without a backup key', async () => {
    const dataDir = join(dir, 'scheduled');
    const targetDir = join(dir, 'scheduled-backups');
    mkdirSync(targetDir);
    const port = await freePort();
    const envs = {
      GOVSHARE_DATA_DIR: dataDir,
      GOVSHARE_PORT: String(port),
      GOVSHARE_EXCHANGE_PORT: String(await freePort()),
      GOVSHARE_BACKUP_KEY_FILE: key,
      GOVSHARE_BACKUP_TARGET: targetDir,
      // Daily at midnight: the slot of today is due at any time of the day, once.
      GOVSHARE_BACKUP_SCHEDULE: '00:00',
      GOVSHARE_BACKUP_RETENTION: '3',
      GOVSHARE_LOG_LEVEL: 'info',
    };
    const refusedStart = await runAsync(['serve'], { ...envs, GOVSHARE_BACKUP_KEY_FILE: undefined });
    expect(refusedStart.code).not.toBe(0);
    expect(refusedStart.stderr + refusedStart.stdout).toContain('GS_ERR_BACKUP_KEY_MISSING');

    // Today's slot has no backup yet, so the first check (at start) takes one.
    const server = start(['serve'], envs);
    try {
      await waitReady(port, server);
      for (let i = 0; i < 100 && !server.stdout.includes('scheduled backup written and checked'); i++) await new Promise((r) => setTimeout(r, 200));
      expect(server.stdout).toContain('scheduled backups on');
      expect(server.stdout).toContain('scheduled backup written and checked');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    const files = readdirSync(targetDir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^govshare-scheduled-\d{8}T\d{6}Z\.gsbackup$/);
    // `backup list` without an argument lists the configured target
    const listed = run(['backup', 'list', '--json'], envs);
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((b) => b.name)).toEqual(files);
    expect(run(['backup', 'verify', join(targetDir, files[0]!)], envs).code).toBe(0);
    // the audit trail has it, recorded by the platform itself
    const audit = run(['audit', 'export', '--action', 'backup.create', '--out', join(dir, 'scheduled-audit.csv')], envs);
    expect(audit.code, audit.stderr).toBe(0);
    const csv = readFileSync(join(dir, 'scheduled-audit.csv'), 'utf8');
    expect(csv).toContain('govshare');
    expect(csv).toContain(files[0]);
    // a second start on the same day takes no second backup
    const second = start(['serve'], envs);
    try {
      await waitReady(port, second);
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    expect(readdirSync(targetDir)).toHaveLength(1);
  }, 180_000);
});
