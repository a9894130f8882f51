import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, linkSync, readdirSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GsError, isGsError } from '../../lib/errors.js';
import { BACKUP_SUFFIX, formatTarget, LocationError, parseBackupLocation, parseTarget, type TargetLocation } from './location.js';
import type { S3Options } from './s3-options.js';

/** A backup to read: where it is (for messages) and how to open it. */
export interface BackupSource {
  readonly location: string;
  open(): Promise<Readable>;
}

/** A backup as a target lists it. */
export interface StoredBackup {
  readonly name: string;
  readonly location: string;
  readonly bytes: number;
  readonly modifiedAt: Date;
}

/** What `write` stored: the bytes it sent and their SHA-256, for checking the stored copy. */
export interface WrittenBackup {
  readonly location: string;
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * A place backups are written to, listed at and read from. Invariants every target keeps:
 * `write` makes the backup appear complete or not at all, and never replaces an existing one.
 */
export interface BackupTarget {
  /** The target as the operator wrote it (`/srv/backups`, `s3://bucket/prefix/`). */
  readonly location: string;
  locationOf(name: string): string;
  /** Refuses an existing name or an unusable target before any work is done. */
  prepare(name: string): Promise<void>;
  write(name: string, content: Readable): Promise<WrittenBackup>;
  source(name: string): BackupSource;
  /** The `*.gsbackup` backups directly at the target, oldest first. */
  list(): Promise<StoredBackup[]>;
  remove(name: string): Promise<void>;
  /** Lets go of connections (an S3 client's sockets). */
  close(): void;
}

/** Counts and hashes what passes through. */
export class ByteTally extends Transform {
  readonly #hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  sha256(): string {
    return this.#hash.digest('hex');
  }
}

function fileError(file: string, reason: string): GsError {
  return new GsError('GS_ERR_BACKUP_FILE', { file, reason });
}

export class DirectoryTarget implements BackupTarget {
  readonly location: string;

  constructor(readonly dir: string) {
    this.location = dir;
  }

  locationOf(name: string): string {
    return join(this.dir, name);
  }

  async prepare(name: string): Promise<void> {
    const file = this.locationOf(name);
    if (existsSync(file)) throw fileError(file, 'it already exists; choose a new name');
    if (!existsSync(this.dir)) throw fileError(file, `folder ${this.dir} does not exist`);
  }

  async write(name: string, content: Readable): Promise<WrittenBackup> {
    await this.prepare(name);
    const file = this.locationOf(name);
    const partial = `${file}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
    const tally = new ByteTally();
    // `flush`: the data is on disk before the name appears.
    const out = createWriteStream(partial, { flags: 'wx', mode: 0o600, flush: true });
    try {
      await pipeline(content, tally, out);
      publish(partial, file);
    } catch (e) {
      content.destroy();
      if (isGsError(e)) throw e;
      throw fileError(file, e instanceof Error ? e.message : String(e));
    } finally {
      // A stream destroyed before it opened still creates the file, and closes it later.
      if (!out.closed) await once(out, 'close').catch(() => undefined);
      rmSync(partial, { force: true });
    }
    return { location: file, bytes: tally.bytes, sha256: tally.sha256() };
  }

  source(name: string): BackupSource {
    const file = this.locationOf(name);
    return {
      location: file,
      open: async () => {
        if (!existsSync(file)) throw fileError(file, 'no such file');
        return createReadStream(file);
      },
    };
  }

  async list(): Promise<StoredBackup[]> {
    if (!existsSync(this.dir)) throw new GsError('GS_ERR_BACKUP_TARGET_INVALID', { target: this.dir, reason: 'the folder does not exist' });
    const found: StoredBackup[] = [];
    for (const entry of readdirSync(this.dir, { withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith(BACKUP_SUFFIX)) continue;
      const s = statSync(join(this.dir, entry.name));
      found.push({ name: entry.name, location: join(this.dir, entry.name), bytes: s.size, modifiedAt: s.mtime });
    }
    return found.sort((a, b) => a.modifiedAt.getTime() - b.modifiedAt.getTime() || (a.name < b.name ? -1 : 1));
  }

  async remove(name: string): Promise<void> {
    try {
      unlinkSync(this.locationOf(name));
    } catch (e) {
      throw fileError(this.locationOf(name), e instanceof Error ? e.message : String(e));
    }
  }

  close(): void {
    // nothing held
  }
}

/**
 * Gives the finished file its name without ever replacing another: a hard link fails if the name
 * exists (a rename would overwrite). Where links are not offered, a checked rename.
 */
function publish(partial: string, file: string): void {
  try {
    linkSync(partial, file);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw fileError(file, 'it already exists; choose a new name');
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
  }
  if (existsSync(file)) throw fileError(file, 'it already exists; choose a new name');
  renameSync(partial, file);
}

function invalidTarget(text: string, e: unknown): never {
  if (e instanceof LocationError) throw new GsError('GS_ERR_BACKUP_TARGET_INVALID', { target: text, reason: e.message });
  throw e;
}

async function targetAt(location: TargetLocation, s3: S3Options | undefined): Promise<BackupTarget> {
  if (location.kind === 'directory') return new DirectoryTarget(location.dir);
  if (!s3) throw new GsError('GS_ERR_BACKUP_TARGET_INVALID', { target: formatTarget(location), reason: 'no object-store settings were given' });
  // Loaded on first use: the AWS SDK takes a noticeable part of a second to load, and most
  // commands never touch a bucket.
  const { S3Target } = await import('./s3-target.js');
  return new S3Target(location, s3);
}

/** A directory or `s3://bucket/prefix/`; `s3` is needed for the latter. */
export async function openTarget(text: string, s3: S3Options | undefined): Promise<BackupTarget> {
  let location: TargetLocation;
  try {
    location = parseTarget(text);
  } catch (e) {
    invalidTarget(text, e);
  }
  return targetAt(location, s3);
}

/** A backup file or object (`/path/name.gsbackup`, `s3://bucket/prefix/name.gsbackup`). */
export async function openBackupLocation(text: string, s3: S3Options | undefined): Promise<{ readonly target: BackupTarget; readonly name: string }> {
  let parsed: ReturnType<typeof parseBackupLocation>;
  try {
    parsed = parseBackupLocation(text);
  } catch (e) {
    invalidTarget(text, e);
  }
  return { target: await targetAt(parsed.target, s3), name: parsed.name };
}

/** A backup file on this machine, as a source. */
export function fileSource(file: string): BackupSource {
  return new DirectoryTarget(dirname(file)).source(basename(file));
}

/** The location of `name` at the target `text` (a directory or `s3://bucket/prefix/`), without opening it. */
export function locationIn(text: string, name: string): string {
  let location: TargetLocation;
  try {
    location = parseTarget(text);
  } catch (e) {
    invalidTarget(text, e);
  }
  return location.kind === 'directory' ? join(location.dir, name) : `${formatTarget(location)}${name}`;
}
