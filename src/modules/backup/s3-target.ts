import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { GsError, isGsError } from '../../lib/errors.js';
import { createS3Client, describeS3Failure, isNoSuchKey, MIN_PART_SIZE, SourceFailed, uploadStream, UploadFailed, type ServiceError } from '../../lib/s3-client.js';
import { BACKUP_SUFFIX } from './location.js';
import { BACKUP_S3, type S3Options } from './s3-options.js';
import type { BackupSource, BackupTarget, StoredBackup, WrittenBackup } from './target.js';

/** Parts of 16 MiB keep memory near 32 MiB and allow 160 GB objects. */
const PART_SIZE = 16 * 1024 * 1024;

function isExistsError(e: ServiceError): boolean {
  return e.name === 'PreconditionFailed' || e.name === 'ConditionalRequestConflict' || e.$metadata?.httpStatusCode === 412;
}

function isNotImplemented(e: ServiceError): boolean {
  return e.name === 'NotImplemented' || e.$metadata?.httpStatusCode === 501;
}

/**
 * An S3-compatible bucket and prefix as a backup target. Writes stream in parts (one uploading
 * while the next is read), so memory stays near two parts whatever the backup's size. A backup
 * appears complete or not at all: a small one is one PUT, a large one a multipart upload that is
 * completed only after every part arrived, and aborted on any failure. It never replaces an
 * object: the name is checked first, and the PUT or the completion carries `If-None-Match: *`,
 * which stores that offer conditional writes enforce atomically.
 */
export class S3Target implements BackupTarget {
  readonly location: string;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #client: S3Client;
  readonly #endpoint: string;
  readonly #partSize: number;

  constructor(at: { readonly bucket: string; readonly prefix: string }, options: S3Options) {
    this.#bucket = at.bucket;
    this.#prefix = at.prefix;
    this.location = `s3://${at.bucket}/${at.prefix}`;
    this.#endpoint = options.endpoint ?? `AWS S3 ${options.region}`;
    this.#partSize = Math.max(MIN_PART_SIZE, options.partSize ?? PART_SIZE);
    this.#client = createS3Client(options, BACKUP_S3);
  }

  locationOf(name: string): string {
    return `${this.location}${name}`;
  }

  #key(name: string): string {
    return `${this.#prefix}${name}`;
  }

  #failure(e: unknown, where: string): GsError {
    if (isGsError(e)) return e;
    const { kind, reason } = describeS3Failure(e, this.#bucket);
    return new GsError(kind === 'refused' ? 'GS_ERR_BACKUP_STORE_REFUSED' : 'GS_ERR_BACKUP_STORE_FAILED', { location: where, endpoint: this.#endpoint, reason });
  }

  #exists(where: string): GsError {
    return new GsError('GS_ERR_BACKUP_FILE', { file: where, reason: 'it already exists; choose a new name' });
  }

  /**
   * A listing rather than HEAD: a refused HEAD has no body, so it cannot say whether the key id or
   * the secret is wrong. The exact key sorts first among keys that start with it.
   */
  async prepare(name: string): Promise<void> {
    const key = this.#key(name);
    const where = this.locationOf(name);
    try {
      const r = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: key, MaxKeys: 1 }));
      if (r.Contents?.[0]?.Key === key) throw this.#exists(where);
    } catch (e) {
      throw this.#failure(e, where);
    }
  }

  /** Sends with `If-None-Match: *`; a store that does not implement it gets the name checked again and the request without. */
  async #conditional<T>(name: string, send: (ifNoneMatch: string | undefined) => Promise<T>): Promise<T> {
    try {
      return await send('*');
    } catch (e) {
      if (isExistsError(e as ServiceError)) throw this.#exists(this.locationOf(name));
      if (!isNotImplemented(e as ServiceError)) throw e;
    }
    await this.prepare(name);
    return send(undefined);
  }

  async write(name: string, content: Readable): Promise<WrittenBackup> {
    const where = this.locationOf(name);
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      await this.prepare(name);
      await uploadStream(this.#client, {
        bucket: this.#bucket,
        key: this.#key(name),
        content,
        partSize: this.#partSize,
        what: 'backup',
        tap: (chunk) => {
          hash.update(chunk);
          bytes += chunk.length;
        },
        finish: (send) => this.#conditional(name, send),
      });
    } catch (e) {
      content.destroy();
      const failed = e instanceof UploadFailed ? e.failure : e;
      const cause = failed instanceof SourceFailed ? failed.cause : failed;
      const failure = cause === failed ? this.#failure(failed, where) : cause;
      // The object never appeared either way; the operator needs to know parts may remain.
      if (e instanceof UploadFailed && isGsError(failure)) {
        const aborted = this.#failure(e.abortError, where).message;
        throw new GsError(failure.code, { ...failure.params, reason: `${String(failure.params.reason)}; aborting the unfinished upload also failed (${aborted}): its parts stay until the bucket's rule for incomplete multipart uploads removes them` }, undefined, { cause });
      }
      throw failure;
    }
    return { location: where, bytes, sha256: hash.digest('hex') };
  }

  source(name: string): BackupSource {
    const where = this.locationOf(name);
    return {
      location: where,
      open: async () => {
        try {
          const r = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(name) }));
          if (!(r.Body instanceof Readable)) throw new Error('the object store returned no body');
          return r.Body;
        } catch (e) {
          if (isNoSuchKey(e)) throw new GsError('GS_ERR_BACKUP_FILE', { file: where, reason: 'no such object' });
          throw this.#failure(e, where);
        }
      },
    };
  }

  async list(): Promise<StoredBackup[]> {
    const found: StoredBackup[] = [];
    let token: string | undefined;
    try {
      do {
        const r = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: this.#prefix, Delimiter: '/', ContinuationToken: token }));
        for (const o of r.Contents ?? []) {
          if (!o.Key?.endsWith(BACKUP_SUFFIX)) continue;
          const name = o.Key.slice(this.#prefix.length);
          found.push({ name, location: this.locationOf(name), bytes: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) });
        }
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
    } catch (e) {
      throw this.#failure(e, this.location);
    }
    return found.sort((a, b) => a.modifiedAt.getTime() - b.modifiedAt.getTime() || (a.name < b.name ? -1 : 1));
  }

  async remove(name: string): Promise<void> {
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(name) }));
    } catch (e) {
      throw this.#failure(e, this.locationOf(name));
    }
  }

  close(): void {
    this.#client.destroy();
  }
}
