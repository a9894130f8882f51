import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { DatabaseKind, Db } from '../../db/database.js';
import { GsError, isGsError } from '../../lib/errors.js';
import { SYSTEM_ACTOR, systemContext, type RequestContext } from '../../server/actor.js';
import type { Config } from '../../server/config.js';
import type { AuditService } from '../audit/service.js';
import { checkBackup, createBackup, readBackupKey, verifyBackup } from './backup.js';
import { backedUpBlobDir } from '../blobs/blob-store.js';
import { backupName, isS3Url } from './location.js';
import { s3OptionsFrom } from './s3-options.js';
import { expiredBackups, nextSlot, parseRetention, parseSchedule, slotOf, type BackupRetention, type BackupSchedule, type BackupVerifyMode } from './schedule.js';
import { openTarget, type BackupTarget } from './target.js';

/**
 * Scheduled backups inside `serve` (rules in README.md beside this file). Every process of a
 * platform runs a scheduler; for each slot exactly one of them writes the backup:
 *
 * - a scheduler works only while holding the platform's backup lock, a PostgreSQL session-level
 *   advisory lock (`pg_try_advisory_lock`) on a connection kept for the run; a process that
 *   does not get it tries again at its next check. (The embedded database has one process.)
 * - holding it, it looks in the audit trail for a scheduled `backup.create` event at or after
 *   the slot: every run records one, success or failure, before letting go of the lock. Found:
 *   the slot is done. So a slot runs once, and a failing target is not retried every minute.
 */
const LOCK_KEYS = [0x676f7673, 0x6261636b] as const; // 'govs', 'back'

/** Embedded databases being backed up by a scheduler of this process (they have no second process). */
const LOCAL_RUNS = new WeakSet<Db>();

export type ScheduledRun =
  | { readonly outcome: 'not-due' }
  /** A scheduled backup is running now, here or in another process. */
  | { readonly outcome: 'busy' }
  /** The slot's backup was already run, by any process. */
  | { readonly outcome: 'taken'; readonly slot: Date }
  /** Stopped by the server's shutdown; the slot stays open for the next check. */
  | { readonly outcome: 'stopped'; readonly slot: Date }
  | { readonly outcome: 'success'; readonly slot: Date; readonly file: string; readonly bytes: number; readonly durationMs: number; readonly removed: readonly string[] }
  | { readonly outcome: 'failure'; readonly slot: Date; readonly error: GsError };

export interface SchedulerTimers {
  setInterval(fn: () => void, ms: number): { unref?: () => unknown };
  clearInterval(handle: unknown): void;
}

export interface BackupSchedulerOptions {
  readonly db: Db;
  readonly kind: DatabaseKind;
  readonly blobDir: string;
  readonly audit: Pick<AuditService, 'record' | 'search'>;
  readonly schedule: BackupSchedule;
  readonly retention: BackupRetention | undefined;
  readonly verify: BackupVerifyMode;
  /** Opened for each run, so a replaced credentials file needs no restart. */
  readonly target: () => BackupTarget | Promise<BackupTarget>;
  readonly key: () => Buffer;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly timers?: SchedulerTimers;
  /** How often the scheduler looks whether a slot is due. */
  readonly checkEveryMs?: number;
}

export class BackupScheduler {
  readonly #o: BackupSchedulerOptions;
  readonly #timers: SchedulerTimers;
  #timer: { unref?: () => unknown } | undefined;
  /** The latest slot this process has seen done; spares the audit query at every check. */
  #handled: number | undefined;
  #current: Promise<ScheduledRun> | undefined;
  #abort: AbortController | undefined;

  constructor(options: BackupSchedulerOptions) {
    this.#o = options;
    this.#timers = options.timers ?? { setInterval: (fn, ms) => setInterval(fn, ms), clearInterval: (h) => clearInterval(h as NodeJS.Timeout) };
  }

  /** Checks now (a slot missed while the server was down is taken at once) and then every minute. */
  start(): void {
    if (this.#timer) return;
    const check = (): void => {
      this.runDue().catch((err: unknown) => this.#o.logger.error({ err }, 'the backup scheduler could not check for a due backup'));
    };
    this.#timer = this.#timers.setInterval(check, this.#o.checkEveryMs ?? 60_000);
    this.#timer.unref?.();
    check();
  }

  /** Stops checking; a backup in progress is stopped (and left for the next start or another server). */
  async stop(): Promise<void> {
    if (this.#timer) this.#timers.clearInterval(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort();
    await this.#current?.catch(() => undefined);
  }

  /** Runs the backup of the current slot if no process has. */
  async runDue(): Promise<ScheduledRun> {
    const slot = slotOf(this.#o.schedule, this.#o.now());
    if (this.#handled !== undefined && this.#handled >= slot.getTime()) return { outcome: 'not-due' };
    if (this.#current) return { outcome: 'busy' };
    const run = this.#exclusive(async () => ((await this.#ranSince(slot)) ? { outcome: 'taken', slot } : this.#run(slot)));
    this.#current = run;
    try {
      const result = await run;
      if (result.outcome !== 'busy' && result.outcome !== 'stopped') this.#handled = slot.getTime();
      return result;
    } finally {
      this.#current = undefined;
    }
  }

  async #exclusive(fn: () => Promise<ScheduledRun>): Promise<ScheduledRun> {
    const { db } = this.#o;
    if (this.#o.kind === 'pglite') {
      if (LOCAL_RUNS.has(db)) return { outcome: 'busy' };
      LOCAL_RUNS.add(db);
      try {
        return await fn();
      } finally {
        LOCAL_RUNS.delete(db);
      }
    }
    // A session lock needs its session for the whole run: one connection is kept aside for it.
    return db.connection().execute(async (conn) => {
      const r = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${LOCK_KEYS[0]}, ${LOCK_KEYS[1]}) as locked`.execute(conn);
      if (r.rows[0]?.locked !== true) return { outcome: 'busy' };
      try {
        return await fn();
      } finally {
        // If the connection is gone, so is its session and with it the lock.
        await sql`select pg_advisory_unlock(${LOCK_KEYS[0]}, ${LOCK_KEYS[1]})`.execute(conn).catch((err: unknown) => this.#o.logger.warn({ err }, 'releasing the backup lock failed'));
      }
    });
  }

  async #ranSince(slot: Date): Promise<boolean> {
    const found = await this.#o.audit.search({ action: 'backup.create', actorName: SYSTEM_ACTOR.name, targetType: 'backup', from: slot, limit: 1 });
    return found.length > 0;
  }

  async #run(slot: Date): Promise<ScheduledRun> {
    const { logger, audit } = this.#o;
    const ctx = systemContext();
    const name = backupName(this.#o.now(), 'scheduled');
    const abort = new AbortController();
    this.#abort = abort;
    let target: BackupTarget | undefined;
    let location = name;
    try {
      const key = this.#o.key();
      target = await this.#o.target();
      location = target.locationOf(name);
      const result = await createBackup({ db: this.#o.db, kind: this.#o.kind, blobDir: this.#o.blobDir, target, name, key, signal: abort.signal });
      try {
        if (this.#o.verify === 'restore') await verifyBackup(target.source(name), key);
        else await checkBackup(target.source(name), key, { bytes: result.bytes, sha256: result.sha256 });
      } catch (e) {
        // A backup that failed its check must not count among those retention keeps.
        const written = target;
        await written.remove(name).catch((err: unknown) => logger.error({ err, backup: result.file }, 'removing the scheduled backup that failed its check failed'));
        throw e;
      }
      const rows = result.manifest.tables.reduce((n, t) => n + t.rows, 0);
      await audit.record(ctx, {
        action: 'backup.create',
        targetType: 'backup',
        targetId: result.file,
        details: { scheduled: true, slot: slot.toISOString(), verified: this.#o.verify, bytes: result.bytes, sha256: result.sha256, rows, blobs: result.manifest.blobs.length, schemaVersion: result.manifest.schemaVersion },
      });
      logger.info({ backup: result.file, bytes: result.bytes, durationMs: result.durationMs, verified: this.#o.verify }, 'scheduled backup written and checked');
      const removed = this.#o.retention ? await this.#applyRetention(target, name, this.#o.retention, ctx) : [];
      return { outcome: 'success', slot, file: result.file, bytes: result.bytes, durationMs: result.durationMs, removed };
    } catch (e) {
      if (abort.signal.aborted) {
        logger.warn({ backup: location }, 'scheduled backup stopped by the shutdown; the next start, or another server, takes it');
        return { outcome: 'stopped', slot };
      }
      const error = isGsError(e) ? e : new GsError('GS_ERR_BACKUP_FILE', { file: location, reason: e instanceof Error ? e.message : String(e) });
      logger.error({ err: e, code: error.code, backup: location }, `scheduled backup failed: ${error.message}`);
      await audit
        .record(ctx, { action: 'backup.create', targetType: 'backup', targetId: location, outcome: 'failure', details: { scheduled: true, slot: slot.toISOString(), code: error.code, reason: error.message } })
        .catch((err: unknown) => logger.error({ err }, 'recording the failed scheduled backup in the audit trail failed'));
      return { outcome: 'failure', slot, error };
    } finally {
      target?.close();
      this.#abort = undefined;
    }
  }

  /** Removes the scheduled backups retention no longer keeps; a failure here leaves them for the next run. */
  async #applyRetention(target: BackupTarget, newest: string, retention: BackupRetention, ctx: RequestContext): Promise<string[]> {
    const removed: string[] = [];
    try {
      const listed = await target.list();
      for (const name of expiredBackups(listed.map((b) => b.name), newest, retention, this.#o.now())) {
        const b = listed.find((x) => x.name === name)!;
        await target.remove(name);
        removed.push(name);
        this.#o.logger.info({ backup: b.location, bytes: b.bytes, writtenAt: b.modifiedAt.toISOString(), retention }, 'removed an old scheduled backup (retention)');
        await this.#o.audit.record(ctx, { action: 'backup.delete', targetType: 'backup', targetId: b.location, details: { scheduled: true, reason: 'retention', bytes: b.bytes } });
      }
    } catch (e) {
      this.#o.logger.error({ err: e, target: target.location }, 'applying the backup retention failed; old backups stay until the next scheduled backup');
    }
    return removed;
  }
}

/** What the scheduler needs of the platform (the composition root passes itself). */
export interface SchedulerPlatform {
  readonly db: Db;
  readonly database: { readonly kind: DatabaseKind };
  readonly audit: Pick<AuditService, 'record' | 'search'>;
  readonly keys: { isKey(key: Uint8Array): boolean };
  readonly now: () => Date;
}

export interface RunningBackupSchedule {
  stop(): Promise<void>;
}

/**
 * Starts the scheduler of `serve` when `backupSchedule` is set (otherwise does nothing). What a
 * scheduled backup needs (target, backup key, credentials) is checked now, so a mistake stops the
 * start instead of the first backup at night.
 */
export async function startBackupSchedule(config: Config, platform: SchedulerPlatform, logger: Logger, env: Readonly<Record<string, string | undefined>> = process.env): Promise<RunningBackupSchedule> {
  if (!config.backupSchedule) return { stop: async () => undefined };
  const where = config.backupTarget;
  if (!where) throw new GsError('GS_ERR_CONFIG_INVALID', { key: 'GOVSHARE_BACKUP_TARGET', reason: 'is needed with GOVSHARE_BACKUP_SCHEDULE: where the scheduled backups go' });
  if (platform.database.kind === 'postgres' && config.dbPoolSize < 2) {
    throw new GsError('GS_ERR_CONFIG_INVALID', { key: 'GOVSHARE_DB_POOL_SIZE', reason: 'must be at least 2 with GOVSHARE_BACKUP_SCHEDULE (a scheduled backup keeps one connection for its lock)' });
  }
  const key = (): Buffer => {
    const k = readBackupKey(config.backupKeyFile);
    if (platform.keys.isKey(k)) throw new GsError('GS_ERR_BACKUP_SAME_AS_MASTER_KEY');
    return k;
  };
  const s3 = isS3Url(where) ? s3OptionsFrom(config, env) : undefined;
  const target = (): Promise<BackupTarget> => openTarget(where, s3);
  key();
  (await target()).close();
  const schedule = parseSchedule(config.backupSchedule);
  const scheduler = new BackupScheduler({
    db: platform.db,
    kind: platform.database.kind,
    blobDir: backedUpBlobDir(config),
    audit: platform.audit,
    schedule,
    retention: config.backupRetention ? parseRetention(config.backupRetention) : undefined,
    verify: config.backupVerify,
    target,
    key,
    logger,
    now: platform.now,
  });
  scheduler.start();
  logger.info({ schedule: config.backupSchedule, target: where, retention: config.backupRetention ?? 'keep all', verify: config.backupVerify, next: nextSlot(schedule, platform.now()).toISOString() }, 'scheduled backups on');
  return { stop: () => scheduler.stop() };
}
