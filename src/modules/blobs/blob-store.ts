import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { GsError, isGsError } from '../../lib/errors.js';
import { s3OptionsOf, type S3Options, type S3Settings } from '../../lib/s3-options.js';
import type { Config } from '../../server/config.js';
import { parseTarget } from '../backup/location.js';

/**
 * Content-addressed storage of files: a blob is named by the SHA-256 of its bytes. Invariants
 * every store keeps: `put` makes a blob appear complete or not at all, and leaves nothing behind
 * when it fails or is refused; a blob, once there, is never changed (the same bytes again are a
 * no-op); `open` yields exactly the bytes of that SHA-256 or fails with GS_ERR_BLOB_CORRUPT.
 */
export interface BlobStore {
  /** Where the blobs are (`/srv/govshare/blobs`, `s3://bucket/prefix/`), for messages; no secrets. */
  readonly location: string;
  /**
   * Streams `body` in, computing its SHA-256 and size. More than `maxBytes` is refused with
   * GS_ERR_BLOB_TOO_LARGE (naming the limit) as soon as the limit is passed; a failure of `body`
   * comes out as that failure. Either way nothing is stored.
   */
  put(body: Readable, options: { readonly maxBytes: number }): Promise<{ readonly sha256: string; readonly bytes: number }>;
  /** The blob's bytes, checked against its SHA-256 as they stream; GS_ERR_BLOB_NOT_FOUND when absent. */
  open(sha256: string): Promise<Readable>;
  has(sha256: string): Promise<boolean>;
  /** Lets go of connections (an S3 client's sockets). */
  close(): void;
}

const SHA256 = /^[0-9a-f]{64}$/;

export function isSha256(text: string): boolean {
  return SHA256.test(text);
}

/** The blob store's settings: `GOVSHARE_BLOB_S3_*` (docs/attachments.md). */
export const BLOB_S3: S3Settings = {
  prefix: 'GOVSHARE_BLOB_S3',
  credentialsError: (reason) => new GsError('GS_ERR_BLOB_STORE_CREDENTIALS', { reason }),
};

export type BlobConfig = Pick<Config, 'dataDir' | 'blobStore' | 'blobS3Endpoint' | 'blobS3Region' | 'blobS3PathStyle' | 'blobS3CaFile' | 'blobS3CredentialsFile'>;

/** The blob store of the data directory when GOVSHARE_BLOB_STORE is not set. */
export function defaultBlobDir(dataDir: string): string {
  return join(dataDir, 'blobs');
}

/** The configured store's folder on this machine, or undefined for a bucket. */
export function blobDirectoryOf(config: BlobConfig): string | undefined {
  const where = parseTarget(config.blobStore ?? defaultBlobDir(config.dataDir));
  return where.kind === 'directory' ? where.dir : undefined;
}

/**
 * The configured blob store: GOVSHARE_BLOB_STORE, a directory or `s3://bucket/prefix/` (checked
 * when the configuration is loaded), by default `<data directory>/blobs`.
 */
export async function openBlobStore(config: BlobConfig, env: Readonly<Record<string, string | undefined>>): Promise<BlobStore> {
  const where = parseTarget(config.blobStore ?? defaultBlobDir(config.dataDir));
  if (where.kind === 'directory') {
    const { DirectoryBlobStore } = await import('./directory-blob-store.js');
    return new DirectoryBlobStore(where.dir);
  }
  const options: S3Options = s3OptionsOf(
    { endpoint: config.blobS3Endpoint, region: config.blobS3Region, pathStyle: config.blobS3PathStyle, caFile: config.blobS3CaFile, credentialsFile: config.blobS3CredentialsFile },
    BLOB_S3,
    env,
  );
  // Loaded on first use: the AWS SDK takes a noticeable part of a second to load.
  const { S3BlobStore } = await import('./s3-blob-store.js');
  return new S3BlobStore(where, options);
}

/**
 * Passes `body` on while hashing and counting it; refuses (GS_ERR_BLOB_TOO_LARGE) the first chunk
 * that takes it past `maxBytes`, before that chunk goes anywhere.
 */
export class Intake extends Transform {
  readonly #hash = createHash('sha256');
  bytes = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  /** Counts and hashes one chunk; throws when it passes the limit. */
  count(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) throw new GsError('GS_ERR_BLOB_TOO_LARGE', { limit: this.maxBytes });
    this.#hash.update(chunk);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.count(chunk);
    } catch (e) {
      callback(e as Error);
      return;
    }
    callback(null, chunk);
  }

  sha256(): string {
    return this.#hash.digest('hex');
  }
}

/**
 * The stored bytes on their way out, hashed as they pass; at the end, a SHA-256 other than the
 * blob's name fails the stream with GS_ERR_BLOB_CORRUPT instead of ending it, so a reader never
 * takes damaged content for the blob. (The bytes before the end have gone out already: a
 * download is cut short, with an error, rather than completed.)
 */
export function verified(stored: Readable, sha256: string, location: string): Readable {
  const hash = createHash('sha256');
  let bytes = 0;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      const actual = hash.digest('hex');
      if (actual === sha256) callback();
      else callback(new GsError('GS_ERR_BLOB_CORRUPT', { sha256, location, reason: `${bytes} bytes read, SHA-256 ${actual}` }));
    },
  });
  stored.on('error', (e) => check.destroy(isGsError(e) ? e : new GsError('GS_ERR_BLOB_STORE_FAILED', { location, reason: `reading ${sha256}: ${e.message}` })));
  check.on('close', () => stored.destroy());
  return stored.pipe(check);
}
