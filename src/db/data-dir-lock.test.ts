import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GsError } from '../lib/errors.js';
import { acquireDataDirLock, lockPath, readLockHolder, takeOverStale, type DataDirLock, type LockHolder } from './data-dir-lock.js';

let dir: string;
const held: DataDirLock[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gs-lock-'));
});

afterEach(() => {
  for (const lock of held.splice(0)) lock.release();
  rmSync(dir, { recursive: true, force: true });
});

function acquire(dataDir: string, adminSocket: string | null = null): DataDirLock {
  const lock = acquireDataDirLock(dataDir, adminSocket);
  held.push(lock);
  return lock;
}

function holderFile(dataDir: string): LockHolder {
  return JSON.parse(readFileSync(lockPath(dataDir), 'utf8')) as LockHolder;
}

/** The pid of a process that has exited (and so cannot hold a lock). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('spawn gave no pid');
  await new Promise<void>((resolve, reject) => {
    child.once('exit', () => resolve());
    child.once('error', reject);
  });
  return pid;
}

function writeLock(dataDir: string, holder: LockHolder): void {
  writeFileSync(lockPath(dataDir), JSON.stringify(holder), { mode: 0o600 });
}

describe('acquireDataDirLock', () => {
  it('creates govshare.lock naming this process, readable only by its owner', () => {
    const lock = acquire(dir, '/run/govshare/admin.sock');
    expect(lock.path).toBe(join(dir, 'govshare.lock'));
    const holder = holderFile(dir);
    expect(holder.pid).toBe(process.pid);
    expect(holder.hostname).toBe(hostname());
    expect(holder.adminSocket).toBe('/run/govshare/admin.sock');
    expect(Number.isNaN(Date.parse(holder.startedAt))).toBe(false);
    expect(statSync(lock.path).mode & 0o777).toBe(0o600);
    expect(readLockHolder(dir)).toEqual(holder);
  });

  it('creates a missing data directory (mode 0700)', () => {
    const nested = join(dir, 'a', 'b');
    acquire(nested);
    expect(existsSync(lockPath(nested))).toBe(true);
    expect(statSync(nested).mode & 0o777).toBe(0o700);
  });

  it('refuses a second acquire while the lock is held, naming the holder pid', () => {
    acquire(dir);
    let error: unknown;
    try {
      acquire(dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GsError);
    const e = error as GsError;
    expect(e.code).toBe('GS_ERR_DB_DATA_DIR_LOCKED');
    expect(e.params.pid).toBe(process.pid);
    expect(e.message).toContain(String(process.pid));
    expect(e.message).toContain(dir);
    // the holder's lock is untouched
    expect(holderFile(dir).pid).toBe(process.pid);
  });

  it('refuses a lock held by another live process', () => {
    // pid 1 is always alive; it cannot be ours
    writeLock(dir, { pid: 1, hostname: hostname(), startedAt: new Date().toISOString(), adminSocket: null });
    expect(() => acquire(dir)).toThrow(expect.objectContaining({ code: 'GS_ERR_DB_DATA_DIR_LOCKED', params: expect.objectContaining({ pid: 1 }) }));
    expect(holderFile(dir).pid).toBe(1);
  });

  it('takes over a stale lock whose process is gone', async () => {
    const pid = await deadPid();
    writeLock(dir, { pid, hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z', adminSocket: '/tmp/old.sock' });
    expect(readLockHolder(dir)).toBeUndefined();
    const lock = acquire(dir);
    const holder = holderFile(dir);
    expect(holder.pid).toBe(process.pid);
    expect(holder.adminSocket).toBeNull();
    expect(statSync(lock.path).mode & 0o777).toBe(0o600);
  });

  it('takes over an unreadable (corrupt) lock file', () => {
    writeFileSync(lockPath(dir), 'not json', { mode: 0o600 });
    acquire(dir);
    expect(holderFile(dir).pid).toBe(process.pid);
  });

  it('treats a lock from another host as held, since its process cannot be checked', async () => {
    const pid = await deadPid();
    writeLock(dir, { pid, hostname: `${hostname()}-elsewhere`, startedAt: new Date().toISOString(), adminSocket: null });
    expect(() => acquire(dir)).toThrow(expect.objectContaining({ code: 'GS_ERR_DB_DATA_DIR_LOCKED' }));
  });

  it('release removes the lock file, so the directory can be locked again', () => {
    const lock = acquire(dir);
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
    expect(readLockHolder(dir)).toBeUndefined();
    const again = acquire(dir);
    expect(existsSync(again.path)).toBe(true);
  });

  it('release never removes a lock file that another process has since written', () => {
    const lock = acquire(dir);
    // the file now names someone else (it was taken over after we were presumed dead)
    writeLock(dir, { pid: 1, hostname: hostname(), startedAt: new Date().toISOString(), adminSocket: null });
    lock.release();
    expect(holderFile(dir).pid).toBe(1);
  });

  it('release is idempotent', () => {
    const lock = acquire(dir);
    lock.release();
    expect(() => lock.release()).not.toThrow();
    expect(existsSync(lock.path)).toBe(false);
  });

  it('fails with GS_ERR_DB_DATA_DIR when the data directory cannot be created', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expect(() => acquire(join(file, 'sub'))).toThrow(expect.objectContaining({ code: 'GS_ERR_DB_DATA_DIR' }));
  });
});

describe('taking over a stale lock', () => {
  it('puts back a lock that turned out to be live (replaced after it was judged stale) and refuses', () => {
    // What another process would have written after winning the race: a live holder.
    const live: LockHolder = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), adminSocket: null };
    writeFileSync(lockPath(dir), JSON.stringify(live));
    expect(() => takeOverStale(lockPath(dir), dir)).toThrow(GsError);
    expect(JSON.parse(readFileSync(lockPath(dir), 'utf8'))).toEqual(live);
    expect(existsSync(`${lockPath(dir)}.stale.${process.pid}`)).toBe(false);
  });

  it('removes a lock whose process is gone', () => {
    writeFileSync(lockPath(dir), JSON.stringify({ pid: 2 ** 22 + 12345, hostname: hostname(), startedAt: '', adminSocket: null }));
    takeOverStale(lockPath(dir), dir);
    expect(existsSync(lockPath(dir))).toBe(false);
  });
});
