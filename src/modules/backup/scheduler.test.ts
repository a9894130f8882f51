import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../db/database.js';
import { migrate } from '../../db/migrate.js';
import { createServerDatabaseUrl, createTestDatabase } from '../../db/test-database.js';
import { caught } from '../../../test/helpers/platform.js';
import { loadConfig, type Config } from '../../server/config.js';
import { Platform } from '../../server/platform.js';
import { backupName } from './location.js';
import { BackupScheduler, startBackupSchedule, type ScheduledRun, type SchedulerTimers } from './scheduler.js';
import { parseRetention, parseSchedule } from './schedule.js';
import { S3Target } from './s3-target.js';
import { DirectoryTarget, type BackupTarget } from './target.js';
import { startTestObjectStore, TEST_ACCESS_KEY_ID, type TestObjectStore } from './test-object-store.js';

const config: Config = loadConfig({ env: {}, overrides: { logLevel: 'silent' } });
const key = randomBytes(32);

let dir: string;
let blobDir: string;
let store: TestObjectStore;

/** Two connections to one database, as two `serve` processes have (one shared handle on the embedded database). */
async function oneDatabaseTwoProcesses(): Promise<{ a: DatabaseHandle; b: DatabaseHandle; close(): Promise<void> }> {
  const server = await createServerDatabaseUrl();
  if (!server) {
    const h = await createTestDatabase();
    return { a: h, b: h, close: () => h.close() };
  }
  const a = await openDatabase({ kind: 'postgres', url: server.url, poolSize: 3 });
  await migrate(a.db);
  const b = await openDatabase({ kind: 'postgres', url: server.url, poolSize: 3 });
  return { a, b, close: async () => (await a.close(), await b.close(), await server.drop()) };
}

/** A real logger whose lines the test reads. */
function recordingLogger(): { logger: Logger; lines: () => { level: number; msg: string; [k: string]: unknown }[] } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

/** A clock the test sets; local times, as the schedule is in the server's time zone. */
function clockAt(y: number, mo: number, d: number, h: number, mi: number): { now: () => Date; set(t: Date): void; advance(ms: number): void } {
  let t = new Date(y, mo - 1, d, h, mi);
  return { now: () => new Date(t), set: (x) => (t = x), advance: (ms) => (t = new Date(t.getTime() + ms)) };
}

function scheduler(handle: DatabaseHandle, o: { target: () => BackupTarget; now: () => Date; logger: Logger; schedule?: string; retention?: string; timers?: SchedulerTimers }): BackupScheduler {
  const platform = Platform.fromDatabase(handle, config, o.now);
  return new BackupScheduler({
    db: handle.db,
    kind: handle.kind,
    blobDir,
    audit: platform.audit,
    schedule: parseSchedule(o.schedule ?? '02:30'),
    retention: o.retention ? parseRetention(o.retention) : undefined,
    verify: 'hash',
    target: o.target,
    key: () => key,
    logger: o.logger,
    now: o.now,
    ...(o.timers ? { timers: o.timers } : {}),
  });
}

async function scheduledEvents(handle: DatabaseHandle, now: () => Date, action = 'backup.create') {
  return Platform.fromDatabase(handle, config, now).audit.search({ action, actorName: 'govshare', limit: 100 });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'govshare-scheduler-'));
  blobDir = join(dir, 'blobs');
  mkdirSync(blobDir);
  writeFileSync(join(blobDir, 'one'), randomBytes(1000));
  store = await startTestObjectStore({ buckets: ['backups'] });
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('scheduled backups', () => {
  it('runs a due backup once with two schedulers on one database, then not again until the next slot', async () => {
    const db = await oneDatabaseTwoProcesses();
    const folder = join(dir, 'once');
    mkdirSync(folder);
    const clock = clockAt(2031, 1, 15, 3, 0);
    const log = recordingLogger();
    const a = scheduler(db.a, { target: () => new DirectoryTarget(folder), now: clock.now, logger: log.logger });
    const b = scheduler(db.b, { target: () => new DirectoryTarget(folder), now: clock.now, logger: log.logger });
    try {
      const both = await Promise.all([a.runDue(), b.runDue()]);
      const outcomes = both.map((r) => r.outcome).sort();
      expect(outcomes[1]).toBe('success');
      // the other found the lock held, or (had it come later) the slot done
      expect(['busy', 'taken']).toContain(outcomes[0]);
      expect((await Promise.all([a.runDue(), b.runDue()])).map((r) => r.outcome).sort()).toEqual(['not-due', 'taken']);
      expect(readdirSync(folder)).toEqual([backupName(clock.now(), 'scheduled')]);
      const events = await scheduledEvents(db.a, clock.now);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ outcome: 'success', targetType: 'backup', targetId: join(folder, backupName(clock.now(), 'scheduled')) });
      expect(events[0]!.details).toMatchObject({ scheduled: true, verified: 'hash', slot: new Date(2031, 0, 15, 2, 30).toISOString() });
      expect(log.lines().filter((l) => l.msg === 'scheduled backup written and checked')).toHaveLength(1);

      // later the same day: nothing; the next day after 02:30: one more, by either
      clock.set(new Date(2031, 0, 15, 23, 0));
      expect((await Promise.all([a.runDue(), b.runDue()])).map((r) => r.outcome)).toEqual(['not-due', 'not-due']);
      clock.set(new Date(2031, 0, 16, 2, 31));
      const next = (await Promise.all([b.runDue(), a.runDue()])).map((r) => r.outcome).sort();
      expect(next[1]).toBe('success');
      expect(readdirSync(folder)).toHaveLength(2);
    } finally {
      await db.close();
    }
  }, 120_000);

  it('removes the oldest scheduled backups beyond N after a successful one, and nothing else at the target', async () => {
    const handle = await createTestDatabase();
    const folder = join(dir, 'retention');
    mkdirSync(folder);
    // an operator's own backup and another file at the same target
    writeFileSync(join(folder, 'govshare-20300101T000000Z.gsbackup'), 'manual');
    writeFileSync(join(folder, 'notes.gsbackup'), 'not ours');
    const clock = clockAt(2031, 1, 15, 0, 30);
    const log = recordingLogger();
    const s = scheduler(handle, { target: () => new DirectoryTarget(folder), now: clock.now, logger: log.logger, schedule: '1h', retention: '3' });
    try {
      const written: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await s.runDue();
        expect(r.outcome, JSON.stringify(r)).toBe('success');
        written.push(backupName(clock.now(), 'scheduled'));
        expect((r as Extract<ScheduledRun, { outcome: 'success' }>).removed).toEqual(i < 3 ? [] : [written[i - 3]]);
        clock.advance(3_600_000);
      }
      expect(readdirSync(folder).sort()).toEqual(['govshare-20300101T000000Z.gsbackup', ...written.slice(2), 'notes.gsbackup'].sort());
      const removals = log.lines().filter((l) => l.msg === 'removed an old scheduled backup (retention)');
      expect(removals.map((l) => l.backup)).toEqual([join(folder, written[0]!), join(folder, written[1]!)]);
      expect((await scheduledEvents(handle, clock.now, 'backup.delete')).map((e) => e.targetId).sort()).toEqual([join(folder, written[0]!), join(folder, written[1]!)]);
    } finally {
      await handle.close();
    }
  }, 120_000);

  it('reports a failing target: logged at error level, audited as a failure, not retried in the same slot', async () => {
    const handle = await createTestDatabase();
    const clock = clockAt(2031, 1, 15, 3, 0);
    const log = recordingLogger();
    const wrongSecret = (): BackupTarget => new S3Target({ bucket: 'backups', prefix: 'failing/' }, { endpoint: store.endpoint, region: 'us-east-1', pathStyle: true, accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: 'wrong' });
    const s = scheduler(handle, { target: wrongSecret, now: clock.now, logger: log.logger });
    try {
      const r = await s.runDue();
      expect(r.outcome).toBe('failure');
      const error = (r as Extract<ScheduledRun, { outcome: 'failure' }>).error;
      expect(error.code).toBe('GS_ERR_BACKUP_STORE_REFUSED');
      const logged = log.lines().filter((l) => l.level === 50);
      expect(logged).toHaveLength(1);
      expect(logged[0]!.msg).toContain('scheduled backup failed');
      expect(logged[0]!.msg).toContain('SignatureDoesNotMatch');
      const [event] = await scheduledEvents(handle, clock.now);
      expect(event).toMatchObject({ outcome: 'failure', targetId: `s3://backups/failing/${backupName(clock.now(), 'scheduled')}` });
      expect(event!.details).toMatchObject({ scheduled: true, code: 'GS_ERR_BACKUP_STORE_REFUSED' });
      // not every minute again: this process and any other see the slot done
      expect((await s.runDue()).outcome).toBe('not-due');
      expect((await scheduler(handle, { target: wrongSecret, now: clock.now, logger: log.logger }).runDue()).outcome).toBe('taken');
      // a missing folder is a failure too
      clock.set(new Date(2031, 0, 16, 3, 0));
      const missing = await scheduler(handle, { target: () => new DirectoryTarget(join(dir, 'no-such-folder')), now: clock.now, logger: log.logger }).runDue();
      expect(missing.outcome).toBe('failure');
      expect((missing as Extract<ScheduledRun, { outcome: 'failure' }>).error.message).toContain('does not exist');
    } finally {
      await handle.close();
    }
  }, 60_000);

  it('writes to a bucket and applies retention there', async () => {
    const handle = await createTestDatabase();
    const clock = clockAt(2031, 1, 15, 0, 10);
    const log = recordingLogger();
    const options = { endpoint: store.endpoint, region: 'us-east-1', pathStyle: true, accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: 'S3RVER' };
    const target = (): S3Target => new S3Target({ bucket: 'backups', prefix: 'scheduled/' }, options);
    const s = scheduler(handle, { target, now: clock.now, logger: log.logger, schedule: '1h', retention: '1' });
    try {
      for (let i = 0; i < 2; i++) {
        expect((await s.runDue()).outcome).toBe('success');
        clock.advance(3_600_000);
      }
      const t = target();
      expect((await t.list()).map((b) => b.name)).toEqual([backupName(new Date(2031, 0, 15, 1, 10), 'scheduled')]);
      t.close();
    } finally {
      await handle.close();
    }
  }, 60_000);

  it('removes a backup that fails its check after writing, and reports it', async () => {
    const handle = await createTestDatabase();
    const folder = join(dir, 'check');
    mkdirSync(folder);
    const clock = clockAt(2031, 1, 15, 3, 0);
    const log = recordingLogger();
    // A target whose stored copy comes back altered (a store that damages data).
    const damaging = (): BackupTarget => {
      const inner = new DirectoryTarget(folder);
      return Object.assign(Object.create(inner) as DirectoryTarget, {
        source: (name: string) => ({
          location: inner.locationOf(name),
          open: async () => {
            const chunks: Buffer[] = [];
            for await (const c of (await inner.source(name).open()) as AsyncIterable<Buffer>) chunks.push(c);
            const all = Buffer.concat(chunks);
            all[all.length - 40]! ^= 1;
            return Readable.from([all]);
          },
        }),
      });
    };
    try {
      const r = await scheduler(handle, { target: damaging, now: clock.now, logger: log.logger }).runDue();
      expect(r.outcome).toBe('failure');
      expect((r as Extract<ScheduledRun, { outcome: 'failure' }>).error.code).toBe('GS_ERR_BACKUP_CORRUPT');
      expect(readdirSync(folder)).toEqual([]);
    } finally {
      await handle.close();
    }
  }, 60_000);

  it('checks at start and on its timer; stopping it stops a backup in progress and leaves the slot for later', async () => {
    const handle = await createTestDatabase();
    const folder = join(dir, 'timer');
    mkdirSync(folder);
    const clock = clockAt(2031, 1, 15, 3, 0);
    const log = recordingLogger();
    const intervals: { fn: () => void; ms: number; cleared: boolean }[] = [];
    const timers: SchedulerTimers = {
      setInterval: (fn, ms) => {
        const t = { fn, ms, cleared: false, unref: () => undefined };
        intervals.push(t);
        return t;
      },
      clearInterval: (h) => {
        (h as { cleared: boolean }).cleared = true;
      },
    };
    // prepare() waits until the test lets it go, so the stop arrives mid-backup
    let entered!: () => void;
    const inPrepare = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = (): BackupTarget => {
      const inner = new DirectoryTarget(folder);
      return Object.assign(Object.create(inner) as DirectoryTarget, {
        prepare: async (name: string) => {
          entered();
          await held;
          return inner.prepare(name);
        },
      });
    };
    try {
      const s = scheduler(handle, { target: slow, now: clock.now, logger: log.logger, timers });
      s.start();
      expect(intervals.map((t) => t.ms)).toEqual([60_000]);
      await inPrepare;
      const stopping = s.stop();
      release();
      await stopping;
      expect(intervals[0]!.cleared).toBe(true);
      expect(readdirSync(folder)).toEqual([]);
      expect(await scheduledEvents(handle, clock.now)).toEqual([]);
      expect(log.lines().some((l) => l.msg.includes('stopped by the shutdown'))).toBe(true);
      // the next start (or another server) takes the slot
      const again = scheduler(handle, { target: () => new DirectoryTarget(folder), now: clock.now, logger: log.logger, timers });
      again.start();
      intervals[1]!.fn();
      await again.stop();
      expect(readdirSync(folder)).toHaveLength(1);
    } finally {
      await handle.close();
    }
  }, 60_000);

  it('refuses to start without a target or a usable backup key, and does nothing without a schedule', async () => {
    const handle = await createTestDatabase();
    const platform = Platform.fromDatabase(handle, config);
    const logger = recordingLogger().logger;
    const keyFile = join(dir, 'backup.key');
    writeFileSync(keyFile, `${key.toString('base64')}\n`, { mode: 0o600 });
    try {
      await (await startBackupSchedule(config, platform, logger)).stop();
      expect((await caught(startBackupSchedule({ ...config, backupSchedule: '02:30' }, platform, logger))).message).toContain('GOVSHARE_BACKUP_TARGET');
      const noKey = await caught(startBackupSchedule({ ...config, backupSchedule: '02:30', backupTarget: dir }, platform, logger));
      expect(noKey.code).toBe('GS_ERR_BACKUP_KEY_MISSING');
      const noCredentials = await caught(startBackupSchedule({ ...config, backupSchedule: '02:30', backupTarget: 's3://backups/x/', backupKeyFile: keyFile }, platform, logger, {}));
      expect(noCredentials.code).toBe('GS_ERR_BACKUP_STORE_CREDENTIALS');
      // a good configuration starts (checking at once) and stops
      const running = await startBackupSchedule({ ...config, backupSchedule: '02:30', backupTarget: join(dir, 'started'), backupKeyFile: keyFile }, platform, logger);
      await running.stop();
      expect(existsSync(join(dir, 'started'))).toBe(false);
    } finally {
      await handle.close();
    }
  }, 60_000);
});
