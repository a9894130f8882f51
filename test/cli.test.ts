import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations } from '../src/db/migrate.js';
import { createServerDatabaseUrl } from '../src/db/test-database.js';
import { freePort, keyFile as makeKeyFile, run, start, waitReady } from './helpers/cli.js';
import { usccFor } from './helpers/platform.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'govshare-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('govshare command', () => {
  it('prints help and exits 0; an unknown command exits 2', () => {
    const help = run(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('serve');
    expect(help.stdout).toContain('Exit codes');
    for (const sub of ['agency', 'user', 'token']) expect(run([sub, '--help'], {}).code).toBe(0);
    expect(run(['frobnicate'], {}).code).toBe(2);
  });

  it('prints its version, the one in package.json', () => {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = run([flag], {});
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
    }
  });

  it('refuses a wrong setting with a one-line message and exit 3', () => {
    const r = run(['serve'], { GOVSHARE_PORT: 'eighty', GOVSHARE_DATA_DIR: join(dir, 'never') });
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('GOVSHARE_PORT');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses an unreachable database with exit 4', () => {
    const r = run(['serve'], { DATABASE_URL: 'postgres://postgres:secret@127.0.0.1:1/nowhere' });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('GS_ERR_DB_UNAVAILABLE');
    expect(r.stderr).not.toContain('secret');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses admin commands on a platform that was never initialised, creating nothing', () => {
    const empty = join(dir, 'never-initialised');
    const r = run(['agency', 'list'], { GOVSHARE_DATA_DIR: empty });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('GS_ERR_DB_NOT_INITIALISED');
    expect(existsSync(empty)).toBe(false);
    // `init` prepares it, printing the administrators' one-time passwords once; then commands work
    const init = run(['init'], { GOVSHARE_DATA_DIR: empty });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/securityAdmin\s+secadmin\s+\S{20}/);
    expect(run(['init'], { GOVSHARE_DATA_DIR: empty }).stdout).toContain('already initialised');
    expect(run(['agency', 'list'], { GOVSHARE_DATA_DIR: empty }).code).toBe(0);
  }, 60_000);

  it('migrates without preparing the platform (no accounts, no passwords printed)', () => {
    const d = join(dir, 'migrate-only');
    const m = run(['migrate'], { GOVSHARE_DATA_DIR: d });
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toContain(`database schema at version ${loadMigrations().length}`);
    expect(m.stdout).not.toContain('one-time password');
    expect(run(['user', 'list'], { GOVSHARE_DATA_DIR: d }).code).toBe(4);
  }, 60_000);

  it('serves, guards its data directory, answers admin commands, shuts down gracefully and keeps data', async () => {
    const dataDir = join(dir, 'data');
    const port = await freePort();
    const envs = { GOVSHARE_DATA_DIR: dataDir, GOVSHARE_PORT: String(port), GOVSHARE_EXCHANGE_PORT: String(await freePort()) };
    const server = start(['serve'], envs);
    await waitReady(port, server);
    // first start on an empty directory creates the three administrators and shows their passwords once
    expect(server.stdout).toMatch(/operator\s+operator\s+\S{20}/);
    expect(server.stdout).toMatch(/securityAdmin\s+secadmin\s+\S{20}/);
    expect(server.stdout).toMatch(/auditor\s+auditor\s+\S{20}/);

    // a second server on the same directory refuses, naming the holder
    const second = run(['serve'], { ...envs, GOVSHARE_PORT: String(await freePort()) });
    expect(second.code).toBe(5);
    expect(second.stderr).toContain('GS_ERR_DB_DATA_DIR_LOCKED');
    expect(second.stderr).toContain(String(server.child.pid));

    // another process on the same port refuses too
    const portTaken = run(['serve'], { ...envs, GOVSHARE_DATA_DIR: join(dir, 'other') });
    expect(portTaken.code).toBe(5);
    expect(portTaken.stderr).toContain('GS_ERR_SERVER_PORT_IN_USE');

    // admin commands go through the running server's admin socket
    const add = run(['agency', 'add', '--code', 'HY', '--name', '衡阳市人民政府', '--uscc', usccFor(1), '--region', '430400', '--level', 'prefecture'], envs);
    expect(add.code, add.stderr).toBe(0);
    const bad = run(['agency', 'add', '--code', 'HY2', '--name', 'x', '--uscc', `${usccFor(2).slice(0, 17)}0`, '--region', '430400', '--level', 'prefecture'], envs);
    expect(bad.code).toBe(7);
    expect(bad.stderr).toContain('GS_ERR_AGENCY_USCC_INVALID');
    const user = run(['user', 'add', 'zhang.san', '--display-name', '张三', '--agency', 'HY', '--roles', 'viewer'], envs);
    expect(user.code, user.stderr).toBe(0);
    const token = run(['token', 'create', '--user', 'zhang.san', '--expires', '1d'], envs);
    expect(token.code, token.stderr).toBe(0);
    const secret = token.stdout.split('\n')[0]!;
    expect(secret).toMatch(/^gst_/);
    const list = await fetch(`http://127.0.0.1:${port}/api/v1/agencies`, { headers: { authorization: `Bearer ${secret}` } });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { items: { code: string }[] }).items.map((a) => a.code)).toEqual(['HY']);

    // graceful stop: exit 0, lock and socket removed
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(existsSync(join(dataDir, 'govshare.lock'))).toBe(false);
    expect(existsSync(join(dataDir, 'admin.sock'))).toBe(false);

    // with no server running, the CLI opens the directory itself
    const offline = run(['agency', 'show', 'HY', '--json'], envs);
    expect(offline.code, offline.stderr).toBe(0);
    expect(JSON.parse(offline.stdout).nameZh).toBe('衡阳市人民政府');
    expect(run(['agency', 'show', 'NOPE'], envs).code).toBe(6);

    // a restart keeps the data and creates no new administrators
    const again = start(['serve'], envs);
    await waitReady(port, again);
    expect(again.stdout).not.toContain('one-time password');
    const after = await fetch(`http://127.0.0.1:${port}/api/v1/agencies`, { headers: { authorization: `Bearer ${secret}` } });
    expect(((await after.json()) as { items: { code: string }[] }).items.map((a) => a.code)).toEqual(['HY']);
    again.child.kill('SIGINT');
    expect(await again.exited).toBe(0);
  }, 120_000);

  it('finishes a request in flight before stopping on SIGTERM', async () => {
    const dataDir = join(dir, 'inflight');
    const port = await freePort();
    const envs = { GOVSHARE_DATA_DIR: dataDir, GOVSHARE_PORT: String(port), GOVSHARE_EXCHANGE_PORT: String(await freePort()) };
    const server = start(['serve'], envs);
    await waitReady(port, server);
    // A login hashes with scrypt (tens of ms): long enough to be in flight when the signal lands.
    const inflight = fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'operator', password: 'wrong-password-123' }),
    });
    await new Promise((r) => setTimeout(r, 5));
    server.child.kill('SIGTERM');
    const r = await inflight;
    expect(r.status).toBe(401);
    expect(await server.exited).toBe(0);
    // and the port is closed afterwards
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  }, 60_000);

  it.runIf(process.env.DATABASE_URL)('runs two servers against one PostgreSQL database', async () => {
    const db = (await createServerDatabaseUrl())!;
    // Servers of one platform share its master key (it seals the CA key in the database).
    const keyFile = makeKeyFile(join(dir, 'pg-master.key'));
    const shared = { DATABASE_URL: db.url, GOVSHARE_MASTER_KEY_FILE: keyFile };
    try {
      const [p1, p2] = [await freePort(), await freePort()];
      const a = start(['serve'], { ...shared, GOVSHARE_PORT: String(p1), GOVSHARE_EXCHANGE_PORT: String(await freePort()), GOVSHARE_DATA_DIR: join(dir, 'pg-a') });
      const b = start(['serve'], { ...shared, GOVSHARE_PORT: String(p2), GOVSHARE_EXCHANGE_PORT: String(await freePort()), GOVSHARE_DATA_DIR: join(dir, 'pg-b') });
      await Promise.all([waitReady(p1, a), waitReady(p2, b)]);
      // exactly one of them created the administrators (bootstrap is serialised on an advisory lock)
      const banners = [a.stdout, b.stdout].filter((s) => s.includes('one-time password')).length;
      expect(banners).toBe(1);
      // what one writes, the other serves
      const add = run(['agency', 'add', '--code', 'PG1', '--name', '双实例测试', '--uscc', usccFor(77), '--region', '430400', '--level', 'prefecture'], shared);
      expect(add.code, add.stderr).toBe(0);
      // An admin command run without the master key (elsewhere than the servers' data) still works
      // where it needs no key, and says so where it does.
      const keyless = { DATABASE_URL: db.url, GOVSHARE_DATA_DIR: join(dir, 'pg-admin-elsewhere') };
      const list = run(['agency', 'list'], keyless);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toContain('PG1');
      const verify = run(['audit', 'verify'], keyless);
      expect(verify.code).toBe(3);
      expect(verify.stderr).toContain('GS_ERR_KEYS_MASTER_KEY_MISSING');
      expect(existsSync(join(dir, 'pg-admin-elsewhere', 'master.key'))).toBe(false);
      run(['user', 'add', 'viewer.pg', '--display-name', 'v', '--agency', 'PG1', '--roles', 'viewer'], shared);
      const tok = run(['token', 'create', '--user', 'viewer.pg', '--expires', '1h'], shared).stdout.split('\n')[0]!;
      for (const port of [p1, p2]) {
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/agencies?q=PG1`, { headers: { authorization: `Bearer ${tok}` } });
        expect(((await r.json()) as { items: { code: string }[] }).items.map((x) => x.code)).toEqual(['PG1']);
      }
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      expect(await a.exited).toBe(0);
      expect(await b.exited).toBe(0);
    } finally {
      await db.drop();
    }
  }, 120_000);
  it('inits and serves with a master key passphrase, refusing a wrong or weak one and a key given two ways', async () => {
    // On the PostgreSQL server when DATABASE_URL is set, else in the embedded database.
    const db = await createServerDatabaseUrl();
    const dataDir = join(dir, 'passphrase');
    const passphrase = 'five random words for govshare';
    const passphraseFile = join(dir, 'master.passphrase');
    writeFileSync(passphraseFile, `${passphrase}\n`, { mode: 0o600 });
    const port = await freePort();
    const envs = { GOVSHARE_DATA_DIR: dataDir, GOVSHARE_PORT: String(port), GOVSHARE_EXCHANGE_PORT: String(await freePort()), ...(db ? { DATABASE_URL: db.url } : {}) };
    try {
      const init = run(['init'], { ...envs, GOVSHARE_MASTER_PASSPHRASE_FILE: passphraseFile });
      expect(init.code, init.stderr).toBe(0);
      expect(init.stdout).toMatch(/securityAdmin\s+secadmin\s+\S{20}/);
      expect(existsSync(join(dataDir, 'master.key'))).toBe(false);

      // The same passphrase from the environment: ready means the CA key unsealed (the exchange
      // port's certificate is issued before ready), and no quick-start key warning.
      const server = start(['serve'], { ...envs, GOVSHARE_MASTER_PASSPHRASE: passphrase });
      await waitReady(port, server);
      expect(server.stdout).not.toContain('quick start');
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      // An admin command that unseals the audit signing keys works with it too.
      const verify = run(['audit', 'verify'], { ...envs, GOVSHARE_MASTER_PASSPHRASE_FILE: passphraseFile });
      expect(verify.code, verify.stderr).toBe(0);

      const wrong = run(['serve'], { ...envs, GOVSHARE_MASTER_PASSPHRASE: 'six random words, but the wrong ones' });
      expect(wrong.code).toBe(3);
      expect(wrong.stderr).toContain('GS_ERR_KEYS_WRONG_MASTER_KEY');
      expect(wrong.stderr).not.toContain('wrong ones');
      expect(wrong.stderr.trim().split('\n')).toHaveLength(1);

      const weak = run(['serve'], { ...envs, GOVSHARE_MASTER_PASSPHRASE: 'too short' });
      expect(weak.code).toBe(3);
      expect(weak.stderr).toContain('GS_ERR_KEYS_PASSPHRASE_WEAK');

      const both = run(['serve'], { ...envs, GOVSHARE_MASTER_PASSPHRASE_FILE: passphraseFile, GOVSHARE_MASTER_KEY_FILE: makeKeyFile(join(dir, 'passphrase-and.key')) });
      expect(both.code).toBe(3);
      expect(both.stderr).toContain('GS_ERR_CONFIG_INVALID');
      expect(both.stderr).toContain('GOVSHARE_MASTER_KEY_FILE and GOVSHARE_MASTER_PASSPHRASE_FILE');

      // Without the passphrase, serve says what is missing instead of making a quick-start key.
      const keyless = run(['serve'], envs);
      expect(keyless.code).toBe(3);
      expect(keyless.stderr).toContain('GS_ERR_KEYS_MASTER_KEY_MISSING');
      expect(existsSync(join(dataDir, 'master.key'))).toBe(false);
    } finally {
      await db?.drop();
    }
  }, 120_000);
});
