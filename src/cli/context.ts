import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { CommanderError, type Command } from 'commander';
import { pgliteDir } from '../db/database.js';
import { readLockHolder } from '../db/data-dir-lock.js';
import { GsError, invalidField, isGsError } from '../lib/errors.js';
import { formatChinaInstant } from '../lib/working-calendar.js';
import { ADMIN_OPERATIONS, runAdminOperation, type AdminOperationInput, type AdminOperationName, type AdminOperationResult } from '../server/admin-operations.js';
import { callAdminSocket } from '../server/admin-socket.js';
import { loadConfig, type Config } from '../server/config.js';
import { Platform } from '../server/platform.js';
import { exitCodeFor } from './exit-codes.js';

export interface GlobalOptions {
  readonly config?: string;
  readonly dataDir?: string;
  readonly json?: boolean;
}

/** Settings for a command: defaults < config file < environment < command-line flags. */
export function configFrom(command: Command, overrides: Partial<Record<keyof Config, unknown>> = {}): Config {
  const g = command.optsWithGlobals<GlobalOptions>();
  return loadConfig({ env: process.env, file: g.config, overrides: { ...(g.dataDir ? { dataDir: g.dataDir } : {}), ...overrides } });
}

export function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}

/** Operations that prepare a database rather than act on a prepared platform. */
const PREPARES: readonly AdminOperationName[] = ['init', 'migrate'];

/**
 * Runs an admin operation wherever the data is reachable: on the PostgreSQL server directly; on
 * an embedded data directory directly when no server holds it, or else inside the running server
 * over its admin socket. Never opens a data directory another process holds.
 */
export async function runOperation<N extends AdminOperationName>(config: Config, name: N, input: AdminOperationInput<N>): Promise<AdminOperationResult<N>> {
  const user = osUser();
  if (!config.databaseUrl) {
    const holder = readLockHolder(config.dataDir);
    if (holder) return viaSocket(config, holder.adminSocket, holder.pid, name, input, user);
    // A mistyped --data-dir must not leave an empty database behind.
    if (!PREPARES.includes(name) && !existsSync(pgliteDir(config.dataDir))) {
      throw new GsError('GS_ERR_DB_NOT_INITIALISED', { location: config.dataDir });
    }
  }
  // The schema may change only by `migrate`/`init` on a shared server (other versions may be
  // running); an embedded directory we now hold alone is brought up to date as `serve` would.
  const mayMigrate = !config.databaseUrl || PREPARES.includes(name);
  let opened: Awaited<ReturnType<typeof Platform.open>>;
  try {
    // Only `init` prepares a platform and so may create its quick-start master key.
    opened = await Platform.open(config, { migrate: mayMigrate, mayGenerateKey: name === 'init' });
  } catch (e) {
    if (isGsError(e) && e.code === 'GS_ERR_DB_DATA_DIR_LOCKED') {
      const holder = readLockHolder(config.dataDir);
      return viaSocket(config, holder?.adminSocket ?? null, holder?.pid ?? e.params.pid, name, input, user);
    }
    throw e;
  }
  const { platform } = opened;
  try {
    if (!mayMigrate) {
      const status = (await platform.readiness()).schema;
      if (status && status.dbVersion > status.codeVersion) throw new GsError('GS_ERR_DB_SCHEMA_NEWER', { ...status });
      if (status && status.dbVersion < status.codeVersion) throw new GsError('GS_ERR_DB_SCHEMA_OUTDATED', { ...status });
    }
    // Admin commands act on a prepared platform (regions loaded, administrators created);
    // preparing one prints one-time passwords, which is `init`'s and `serve`'s job.
    if (!PREPARES.includes(name) && !(await platform.isInitialised())) {
      throw new GsError('GS_ERR_DB_NOT_INITIALISED', { location: platform.database.location });
    }
    return (await runAdminOperation(platform, name, input, user)) as AdminOperationResult<N>;
  } finally {
    await platform.close();
  }
}

async function viaSocket<N extends AdminOperationName>(config: Config, socket: string | null, pid: unknown, name: N, input: AdminOperationInput<N>, user: string) {
  if (!socket) throw new GsError('GS_ERR_DB_DATA_DIR_LOCKED', { dataDir: config.dataDir, pid: pid ?? 'unknown' });
  return (await callAdminSocket(socket, name, input, user)) as AdminOperationResult<N>;
}

/** Prints a one-line error (never a stack trace) and sets the exit code from the one mapping. */
export function fail(error: unknown): never {
  if (isGsError(error)) {
    const fields = error.fields?.map((f) => `${f.field}: ${f.message}`).join('; ');
    process.stderr.write(`govshare: ${error.message}${fields && !error.message.includes(fields) ? ` (${fields})` : ''} [${error.code}]\n`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`govshare: unexpected error: ${message} [GS_ERR_SERVER_INTERNAL]\n`);
    if (process.env.GOVSHARE_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
  }
  process.exit(exitCodeFor(error));
}

/** Wraps a command action so every failure ends in `fail`. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      // A usage error (`usage`) is commander's to report: main exits 2 for it.
      if (e instanceof CommanderError) throw e;
      fail(e);
    }
  };
}

/** Stops with a usage error (exit 2) that commander prints, with the command's help after it. */
export function usage(command: Command, message: string): never {
  command.error(`error: ${message}`);
}

/** A repeatable, comma-separable list option (`--status review,infoRequested --status disputed`). */
export function listOf(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/** `--limit N`: 1 to 500. */
export function limitOf(raw: string): number {
  if (!/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > 500) throw invalidField('--limit', 'range', `must be a whole number from 1 to 500, not ${raw}`);
  return Number(raw);
}

/** An instant as people in China read it: `2026-09-28 14:05` (China time). */
export function chinaTime(iso: string): string {
  return formatChinaInstant(new Date(iso)).slice(0, 16).replace('T', ' ');
}

export function print(command: Command, value: unknown, human: () => string): void {
  const json = command.optsWithGlobals<GlobalOptions>().json;
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

/** A plain text table: columns padded to their widest cell (CJK counted double). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const width = (s: string): number => [...s].reduce((n, ch) => n + (/[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1), 0);
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => width(r[i] ?? ''))));
  return all.map((r) => r.map((c, i) => c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - width(c)))).join('  ').trimEnd()).join('\n');
}

export const OPERATIONS = ADMIN_OPERATIONS;
