import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { openDatabase, pgliteDir } from '../db/database.js';
import { acquireDataDirLock } from '../db/data-dir-lock.js';
import { readBackupKey, restoreBackup, verifyBackup, type BackupManifest, type RestoreResult } from '../modules/backup/backup.js';
import { backedUpBlobDir } from '../modules/blobs/blob-store.js';
import { backupName, isS3Url } from '../modules/backup/location.js';
import { s3OptionsFrom, type S3Options } from '../modules/backup/s3-options.js';
import { locationIn, openBackupLocation, openTarget, type BackupSource } from '../modules/backup/target.js';
import type { Config } from '../server/config.js';
import { action, configFrom, print, runOperation, table } from './context.js';

function summary(m: BackupManifest): string {
  const rows = m.tables.reduce((n, t) => n + t.rows, 0);
  return `${m.tables.length} tables, ${rows} rows, ${m.blobs.length} blob files; schema version ${m.schemaVersion}, taken ${m.createdAt} from ${m.databaseKind === 'pglite' ? 'an embedded database' : 'PostgreSQL'}`;
}

/** The object-store settings for an `s3://` location (files by absolute path: a server may read them), else none. */
function s3For(config: Config, location: string): S3Options | undefined {
  if (!isS3Url(location)) return undefined;
  const options = s3OptionsFrom(config, process.env);
  return {
    ...options,
    caFile: options.caFile && resolve(options.caFile),
    credentialsFile: options.credentialsFile && resolve(options.credentialsFile),
  };
}

/** Runs `fn` on the backup at `location` (a file or `s3://bucket/key`), then lets go of the connection. */
async function withSource<T>(config: Config, location: string, fn: (source: BackupSource) => Promise<T>): Promise<T> {
  const { target, name } = await openBackupLocation(location, s3For(config, location));
  try {
    return await fn(target.source(name));
  } finally {
    target.close();
  }
}

/**
 * The configured target when the command names none. Checked before the action runs, so that a
 * missing target is a usage error (exit 2); a configuration the action cannot load is reported
 * by the action itself.
 */
function configuredTarget(command: Command): string | undefined {
  try {
    return configFrom(command).backupTarget;
  } catch {
    return 'unknown';
  }
}

async function restore(config: Config, source: BackupSource, key: Buffer, force: boolean): Promise<{ result: RestoreResult; location: string }> {
  const blobDir = backedUpBlobDir(config);
  if (config.databaseUrl) {
    const target = await openDatabase({ kind: 'postgres', url: config.databaseUrl, poolSize: 2 });
    try {
      return { result: await restoreBackup(target.db, source, key, { force, blobDir, location: target.location }), location: target.location };
    } finally {
      await target.close();
    }
  }
  // Refuses while a server (or another command) holds the data directory.
  const lock = acquireDataDirLock(config.dataDir, null);
  const dir = pgliteDir(config.dataDir);
  const fresh = !existsSync(dir);
  try {
    const target = await openDatabase({ kind: 'pglite', dir });
    try {
      return { result: await restoreBackup(target.db, source, key, { force, blobDir, location: config.dataDir }), location: config.dataDir };
    } finally {
      await target.close();
    }
  } catch (e) {
    // A failed restore into a new data directory leaves no database behind.
    if (fresh) rmSync(dir, { recursive: true, force: true });
    throw e;
  } finally {
    lock.release();
  }
}

const create = action(async (opts: { out?: string; target?: string }, command: Command) => {
  const config = configFrom(command);
  // Checked here too, so a missing or unusable key is reported before anything runs.
  readBackupKey(config.backupKeyFile);
  const out = opts.out ?? locationIn(opts.target ?? config.backupTarget!, backupName(new Date()));
  const s3 = s3For(config, out);
  const result = await runOperation(config, 'backup', { out: isS3Url(out) ? out : resolve(out), keyFile: resolve(config.backupKeyFile!), ...(s3 ? { s3 } : {}) });
  print(command, result, () => `govshare: backup written to ${result.file} (${result.bytes} bytes in ${result.durationMs} ms): ${summary(result.manifest)}.`);
});

const list = action(async (where: string | undefined, _opts: unknown, command: Command) => {
  const config = configFrom(command);
  const location = where ?? config.backupTarget!;
  const target = await openTarget(location, s3For(config, location));
  try {
    const backups = await target.list();
    print(command, backups, () =>
      backups.length === 0
        ? `govshare: no backups (*.gsbackup) at ${target.location}.`
        : `${table(
            ['name', 'bytes', 'written (UTC)'],
            backups.map((b) => [b.name, String(b.bytes), b.modifiedAt.toISOString().replace(/\.\d+Z$/, 'Z')]),
          )}\n${backups.length} backups at ${target.location}, ${backups.reduce((n, b) => n + b.bytes, 0)} bytes.`,
    );
  } finally {
    target.close();
  }
});

export function registerBackup(program: Command): void {
  const backup = program
    .command('backup')
    .description('write one consistent, encrypted backup of the database and the blob folder to a file or an S3-compatible bucket (docs/backup.md)')
    .option('--out <file>', 'the backup to write (must not exist): a file, or s3://bucket/prefix/name.gsbackup; with a running embedded server, a file path on the server’s machine, written by the server')
    .option('--target <dir>', 'write to this directory or s3://bucket/prefix/ under a new name govshare-<UTC time>.gsbackup (default: GOVSHARE_BACKUP_TARGET)')
    .action((opts: { out?: string; target?: string }, command: Command) => {
      // Usage errors (exit 2), decided outside `action`, which reports failures of the work itself.
      if (opts.out && opts.target) return command.error('error: give --out <file> or --target <dir>, not both');
      if (!opts.out && !opts.target && !configuredTarget(command)) {
        return command.error('error: required option --out <file> or --target <dir> not specified (or set GOVSHARE_BACKUP_TARGET)');
      }
      return create(opts, command);
    });

  backup
    .command('verify')
    .description('decrypt a backup (a file or s3://bucket/key), check every hash and test-restore it into a scratch database; changes nothing')
    .argument('<file>', 'the backup: a file or s3://bucket/prefix/name.gsbackup')
    .action(
      action(async (file: string, _opts: unknown, command: Command) => {
        const config = configFrom(command);
        const key = readBackupKey(config.backupKeyFile);
        const result = await withSource(config, file, (source) => verifyBackup(source, key));
        print(command, result, () => `govshare: backup ${file} is good: ${summary(result.manifest)}; test restore matched every table (${result.durationMs} ms).`);
      }),
    );

  backup
    .command('list')
    .description('list the backups (*.gsbackup) at a directory or s3://bucket/prefix/ with size and time')
    .argument('[target]', 'a directory or s3://bucket/prefix/ (default: GOVSHARE_BACKUP_TARGET)')
    .action((where: string | undefined, opts: unknown, command: Command) => {
      if (!where && !configuredTarget(command)) return command.error('error: missing argument target (or set GOVSHARE_BACKUP_TARGET)');
      return list(where, opts, command);
    });

  program
    .command('restore')
    .description('restore a backup (a file or s3://bucket/key) into an empty target (a new data directory, or an empty PostgreSQL database)')
    .argument('<file>', 'the backup: a file or s3://bucket/prefix/name.gsbackup')
    .option('--force', 'replace the data of a target that is not empty (every table and the blob folder; see docs/backup.md)')
    .action(
      action(async (file: string, opts: { force?: boolean }, command: Command) => {
        const config = configFrom(command);
        const key = readBackupKey(config.backupKeyFile);
        const { result, location } = await withSource(config, file, (source) => restore(config, source, key, opts.force === true));
        print(command, result, () =>
          [
            `govshare: restored ${file} into ${location}: ${summary(result.manifest)} (${result.durationMs} ms).`,
            'The platform needs the master key it was backed up with (GOVSHARE_MASTER_KEY_FILE, or the passphrase it was initialised with); it is not in the backup.',
          ].join('\n'),
        );
      }),
    );
}
