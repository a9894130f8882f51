import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { GsError } from '../../lib/errors.js';
import { readS3Credentials, s3OptionsOf, type S3Options, type S3Settings } from '../../lib/s3-options.js';
import type { Config } from '../../server/config.js';
import { parseTarget } from '../backup/location.js';
import { DirectoryBlobStore } from './directory-blob-store.js';

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

/**
 * The folder `govshare backup` takes blobs from and restores them to: the configured directory
 * store. A bucket is not backed up by govshare (docs/attachments.md); its data directory's
 * `blobs/` is then what is taken, normally nothing.
 */
export function backedUpBlobDir(config: BlobConfig): string {
  const where = parseTarget(config.blobStore ?? defaultBlobDir(config.dataDir));
  return where.kind === 'directory' ? where.dir : defaultBlobDir(config.dataDir);
}

/**
 * The configured blob store: GOVSHARE_BLOB_STORE, a directory or `s3://bucket/prefix/` (checked
 * when the configuration is loaded), by default `<data directory>/blobs`. A bucket's credentials
 * are checked here, so a process with unusable ones stops at start; the AWS SDK itself is loaded
 * on first use (it takes a noticeable part of a second, and most commands never touch a blob).
 */
export function blobStoreOf(config: BlobConfig, env: Readonly<Record<string, string | undefined>>): BlobStore {
  const where = parseTarget(config.blobStore ?? defaultBlobDir(config.dataDir));
  if (where.kind === 'directory') return new DirectoryBlobStore(where.dir);
  const options: S3Options = s3OptionsOf(
    { endpoint: config.blobS3Endpoint, region: config.blobS3Region, pathStyle: config.blobS3PathStyle, caFile: config.blobS3CaFile, credentialsFile: config.blobS3CredentialsFile },
    BLOB_S3,
    env,
  );
  readS3Credentials(options, BLOB_S3);
  return new DeferredS3BlobStore(where, options);
}

/** An S3BlobStore made on first use. */
class DeferredS3BlobStore implements BlobStore {
  readonly location: string;
  #store: Promise<BlobStore> | undefined;
  #loaded: BlobStore | undefined;

  constructor(
    private readonly at: { readonly bucket: string; readonly prefix: string },
    private readonly options: S3Options,
  ) {
    this.location = `s3://${at.bucket}/${at.prefix}`;
  }

  #get(): Promise<BlobStore> {
    this.#store ??= import('./s3-blob-store.js').then(({ S3BlobStore }) => (this.#loaded = new S3BlobStore(this.at, this.options)));
    return this.#store;
  }

  async put(body: Readable, options: { readonly maxBytes: number }): Promise<{ readonly sha256: string; readonly bytes: number }> {
    return (await this.#get()).put(body, options);
  }

  async open(sha256: string): Promise<Readable> {
    return (await this.#get()).open(sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.#get()).has(sha256);
  }

  close(): void {
    this.#loaded?.close();
  }
}
