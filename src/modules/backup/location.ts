import { basename, dirname, resolve } from 'node:path';

/**
 * Where backups go: a directory, or a prefix in an S3-compatible bucket written as
 * `s3://bucket/prefix/`. A backup is a name at such a target; `s3://bucket/prefix/name.gsbackup`
 * or a file path names both at once. Pure parsing (no I/O), so the configuration can check a
 * target when it is loaded.
 */
export type TargetLocation =
  | { readonly kind: 'directory'; readonly dir: string }
  /** `prefix` is empty or ends with `/`. */
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string };

/** The file name ending `backup list` shows and the scheduler writes. */
export const BACKUP_SUFFIX = '.gsbackup';

const S3_URL = /^s3:\/\/([^/]*)(?:\/(.*))?$/;
// The bucket naming rules of S3 and MinIO (lower case, so a bucket has one spelling).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export class LocationError extends Error {}

export function isS3Url(text: string): boolean {
  return text.startsWith('s3://');
}

function s3Parts(text: string): { bucket: string; path: string } {
  const m = S3_URL.exec(text);
  if (!m) throw new LocationError('expected s3://bucket/prefix/');
  const bucket = m[1] ?? '';
  if (!BUCKET.test(bucket)) throw new LocationError(`bucket name ${JSON.stringify(bucket)} is not valid (3–63 characters: lower-case letters, digits, "." and "-")`);
  const path = m[2] ?? '';
  // Object stores differ in how they treat empty, "." and ".." segments; refuse them all.
  if (path.split('/').slice(0, -1).some((s) => s === '' || s === '.' || s === '..') || path.includes('\\')) {
    throw new LocationError(`key ${JSON.stringify(path)} has an empty, "." or ".." segment or a backslash`);
  }
  return { bucket, path };
}

/** A target: a directory (made absolute) or `s3://bucket[/prefix[/]]` (the prefix gets its `/`). */
export function parseTarget(text: string): TargetLocation {
  if (text.trim() === '') throw new LocationError('is empty');
  if (!isS3Url(text)) return { kind: 'directory', dir: resolve(text) };
  const { bucket, path } = s3Parts(text);
  if (path === '') return { kind: 's3', bucket, prefix: '' };
  const last = path.split('/').at(-1);
  if (last === '.' || last === '..') throw new LocationError(`key ${JSON.stringify(path)} ends in "${last}"`);
  return { kind: 's3', bucket, prefix: path.endsWith('/') ? path : `${path}/` };
}

/** A backup: the target it is at and its name there. */
export function parseBackupLocation(text: string): { readonly target: TargetLocation; readonly name: string } {
  if (text.trim() === '') throw new LocationError('is empty');
  if (!isS3Url(text)) {
    const file = resolve(text);
    return { target: { kind: 'directory', dir: dirname(file) }, name: basename(file) };
  }
  const { bucket, path } = s3Parts(text);
  const slash = path.lastIndexOf('/');
  const name = path.slice(slash + 1);
  if (name === '' || name === '.' || name === '..') throw new LocationError('names no object (expected s3://bucket/prefix/name.gsbackup)');
  return { target: { kind: 's3', bucket, prefix: path.slice(0, slash + 1) }, name };
}

/** The text form of a target, as `parseTarget` reads it. */
export function formatTarget(t: TargetLocation): string {
  return t.kind === 'directory' ? t.dir : `s3://${t.bucket}/${t.prefix}`;
}

/** A name for a backup taken at `at`: `govshare-20250601T023000Z.gsbackup` (UTC, sorts by time). */
export function backupName(at: Date, kind: 'manual' | 'scheduled' = 'manual'): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `govshare-${kind === 'scheduled' ? 'scheduled-' : ''}${stamp}${BACKUP_SUFFIX}`;
}

/** Names the scheduler writes; retention touches nothing else. */
const SCHEDULED_NAME = /^govshare-scheduled-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\.gsbackup$/;

/** When a scheduled backup was taken, from its name; undefined for any other name. */
export function scheduledBackupTime(name: string): Date | undefined {
  const m = SCHEDULED_NAME.exec(name);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const at = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls a month 13 or a 31 February over; such a name is not one we wrote.
  return backupName(at, 'scheduled') === name ? at : undefined;
}
