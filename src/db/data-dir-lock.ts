import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { GsError } from '../lib/errors.js';

/**
 * PGlite is one process's database: two processes opening one data directory would corrupt it.
 * The process that opens it holds `govshare.lock`. The lock appears complete and atomically: its
 * content is written to a private temporary file first, which is then hard-linked into place
 * (link fails if the lock exists), so no one ever reads a half-written lock. A stale lock left by a
 * crashed process (its pid is gone) is taken over. The lock records the admin socket so that
 * admin commands can talk to the running server instead.
 */
export interface LockHolder {
  readonly pid: number;
  readonly hostname: string;
  readonly startedAt: string;
  readonly adminSocket: string | null;
}

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

export function lockPath(dataDir: string): string {
  return join(dataDir, 'govshare.lock');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLockHolder(dataDir: string): LockHolder | undefined {
  return liveHolder(lockPath(dataDir));
}

function liveHolder(file: string): LockHolder | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const holder = JSON.parse(text) as LockHolder;
    if (typeof holder.pid !== 'number') return undefined;
    // A lock from another host (shared disk) cannot be checked; treat it as held.
    if (holder.hostname !== hostname()) return holder;
    return isAlive(holder.pid) ? holder : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Moves a stale lock aside. Rename is atomic, but another process may have replaced the stale lock
 * with its own live one after we judged it stale; then we moved a live lock, and put it back.
 */
export function takeOverStale(path: string, dataDir: string): void {
  const aside = `${path}.stale.${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else moved it first; the caller tries again
  }
  const moved = liveHolder(aside);
  if (moved) {
    try {
      linkSync(aside, path);
    } catch {
      // a third process locked meanwhile; either way the directory is held
    }
    unlinkSync(aside);
    throw new GsError('GS_ERR_DB_DATA_DIR_LOCKED', { dataDir, pid: moved.pid });
  }
  unlinkSync(aside);
}

export function acquireDataDirLock(dataDir: string, adminSocket: string | null): DataDirLock {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new GsError('GS_ERR_DB_DATA_DIR', { dataDir, reason: (e as Error).message });
  }
  const path = lockPath(dataDir);
  const holder: LockHolder = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), adminSocket };
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(holder), { mode: 0o600 });
  } catch (e) {
    throw new GsError('GS_ERR_DB_DATA_DIR', { dataDir, reason: (e as Error).message });
  }
  let acquired = false;
  try {
    for (let attempt = 0; attempt < 2 && !acquired; attempt++) {
      try {
        linkSync(tmp, path);
        acquired = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new GsError('GS_ERR_DB_DATA_DIR', { dataDir, reason: (e as Error).message });
        }
        const current = readLockHolder(dataDir);
        if (current) throw new GsError('GS_ERR_DB_DATA_DIR_LOCKED', { dataDir, pid: current.pid });
        takeOverStale(path, dataDir);
      }
    }
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean
    }
  }
  if (acquired) {
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      process.removeListener('exit', release);
      try {
        const now = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
        if (now.pid === process.pid) unlinkSync(path);
      } catch {
        // already gone
      }
    };
    process.on('exit', release);
    return { path, release };
  }
  const current = readLockHolder(dataDir);
  throw new GsError('GS_ERR_DB_DATA_DIR_LOCKED', { dataDir, pid: current?.pid ?? 'unknown' });
}
