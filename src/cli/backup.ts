import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { openDatabase, pgliteDir } from '../db/database.js';
import { acquireDataDirLock } from '../db/data-dir-lock.js';
import { blobDirOf, readBackupKey, restoreBackup, verifyBackup, type BackupManifest, type RestoreResult } from '../modules/backup/backup.js';
import type { Config } from '../server/config.js';
import { action, configFrom, print, runOperation } from './context.js';

function summary(m: BackupManifest): string {
  const rows = m.tables.reduce((n, t) => n + t.rows, 0);
  return `${m.tables.length} tables, ${rows} rows, ${m.blobs.length} blob files; schema version ${m.schemaVersion}, taken ${m.createdAt} from ${m.databaseKind === 'pglite' ? 'an embedded database' : 'PostgreSQL'}`;
}

async function restore(config: Config, file: string, key: Buffer, force: boolean): Promise<{ result: RestoreResult; location: string }> {
  const blobDir = blobDirOf(config.dataDir);
  if (config.databaseUrl) {
    const target = await openDatabase({ kind: 'postgres', url: config.databaseUrl, poolSize: 2 });
    try {
      return { result: await restoreBackup(target.db, file, key, { force, blobDir, location: target.location }), location: target.location };
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
      return { result: await restoreBackup(target.db, file, key, { force, blobDir, location: config.dataDir }), location: config.dataDir };
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

const create = action(async (out: string, command: Command) => {
  const config = configFrom(command);
  // Checked here too, so a missing or unusable key is reported before anything runs.
  readBackupKey(config.backupKeyFile);
  const result = await runOperation(config, 'backup', { out: resolve(out), keyFile: resolve(config.backupKeyFile!) });
  print(command, result, () => `govshare: backup written to ${result.file} (${result.bytes} bytes in ${result.durationMs} ms): ${summary(result.manifest)}.`);
});

export function registerBackup(program: Command): void {
  const backup = program
    .command('backup')
    .description('write one consistent, encrypted backup of the database and the blob folder (docs/backup.md)')
    .option('--out <file>', 'the backup file to write (must not exist); with a running embedded server, a path on the server’s machine, written by the server')
    .action((opts: { out?: string }, command: Command) => {
      // Not a required option: `backup verify FILE` has none. A usage error (exit 2), thrown
      // outside `action`, which reports failures of the work itself.
      const out = opts.out ?? command.error('error: required option --out <file> not specified');
      return create(out, command);
    });

  backup
    .command('verify')
    .description('decrypt a backup, check every hash and test-restore it into a scratch database; changes nothing')
    .argument('<file>', 'the backup file')
    .action(
      action(async (file: string, _opts: unknown, command: Command) => {
        const config = configFrom(command);
        const result = await verifyBackup(resolve(file), readBackupKey(config.backupKeyFile));
        print(command, result, () => `govshare: backup ${file} is good: ${summary(result.manifest)}; test restore matched every table (${result.durationMs} ms).`);
      }),
    );

  program
    .command('restore')
    .description('restore a backup into an empty target (a new data directory, or an empty PostgreSQL database)')
    .argument('<file>', 'the backup file')
    .option('--force', 'replace the data of a target that is not empty (every table and the blob folder; see docs/backup.md)')
    .action(
      action(async (file: string, opts: { force?: boolean }, command: Command) => {
        const config = configFrom(command);
        const key = readBackupKey(config.backupKeyFile);
        const { result, location } = await restore(config, resolve(file), key, opts.force === true);
        print(command, result, () =>
          [
            `govshare: restored ${file} into ${location}: ${summary(result.manifest)} (${result.durationMs} ms).`,
            'The platform needs the master key it was backed up with (GOVSHARE_MASTER_KEY_FILE); it is not in the backup.',
          ].join('\n'),
        );
      }),
    );
}
