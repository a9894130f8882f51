import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GsError, isGsError } from '../../lib/errors.js';
import { createS3Client, describeS3Failure, isNoSuchKey, MIN_PART_SIZE, SourceFailed, uploadStream, UploadFailed } from '../../lib/s3-client.js';
import type { S3Options } from '../../lib/s3-options.js';
import { BLOB_S3, type BlobStore } from './blob-store.js';
import { Intake, isSha256, verified } from './content.js';

/** Parts of 8 MiB: an upload holds about two in memory; most attachments are a single PUT. */
const PART_SIZE = 8 * 1024 * 1024;

/** Where a blob is uploaded before its SHA-256 is known; a bucket lifecycle rule may expire what a crash leaves here. */
const INCOMING = 'incoming/';

/**
 * Blobs as objects `<prefix><sha256>` in an S3-compatible bucket. The name is known only once
 * every byte has been read, so a blob is streamed to `<prefix>incoming/<uuid>` (one PUT, or a
 * multipart upload completed only after every part arrived), then copied to its name and the
 * upload removed: the named object appears complete or not at all. A refused or failed upload is
 * aborted before anything appears. The client and its failure wording are the backup target's
 * (lib/s3-client.ts).
 */
export class S3BlobStore implements BlobStore {
  readonly location: string;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #client: S3Client;
  readonly #partSize: number;

  constructor(at: { readonly bucket: string; readonly prefix: string }, options: S3Options) {
    this.#bucket = at.bucket;
    this.#prefix = at.prefix;
    this.location = `s3://${at.bucket}/${at.prefix}`;
    this.#partSize = Math.max(MIN_PART_SIZE, options.partSize ?? PART_SIZE);
    this.#client = createS3Client(options, BLOB_S3);
  }

  #key(sha256: string): string {
    return `${this.#prefix}${sha256}`;
  }

  #failed(e: unknown, doing: string): GsError {
    if (isGsError(e)) return e;
    return new GsError('GS_ERR_BLOB_STORE_FAILED', { location: this.location, reason: `${doing}: ${describeS3Failure(e, this.#bucket).reason}` });
  }

  async put(body: Readable, options: { readonly maxBytes: number }): Promise<{ readonly sha256: string; readonly bytes: number }> {
    const incoming = `${this.#prefix}${INCOMING}${randomUUID()}`;
    const intake = new Intake(options.maxBytes);
    try {
      await uploadStream(this.#client, { bucket: this.#bucket, key: incoming, content: body, partSize: this.#partSize, what: 'blob', tap: (chunk) => intake.count(chunk) });
    } catch (e) {
      const failed = e instanceof UploadFailed ? e.failure : e;
      // The body's failure (or the limit) as itself; the store's as ours.
      throw failed instanceof SourceFailed ? failed.cause : this.#failed(failed, 'uploading');
    }
    const sha256 = intake.sha256();
    try {
      if (!(await this.has(sha256))) {
        await this.#client.send(new CopyObjectCommand({ Bucket: this.#bucket, Key: this.#key(sha256), CopySource: `${this.#bucket}/${encodeURI(incoming)}`, ContentType: 'application/octet-stream' }));
      }
    } catch (e) {
      throw this.#failed(e, `naming ${sha256}`);
    } finally {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: incoming })).catch(() => undefined);
    }
    return { sha256, bytes: intake.bytes };
  }

  async open(sha256: string): Promise<Readable> {
    if (!isSha256(sha256)) throw new GsError('GS_ERR_BLOB_NOT_FOUND', { sha256, location: this.location });
    try {
      const r = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(sha256) }));
      if (!(r.Body instanceof Readable)) throw new Error('the object store returned no body');
      return verified(r.Body, sha256, this.location);
    } catch (e) {
      if (isNoSuchKey(e)) throw new GsError('GS_ERR_BLOB_NOT_FOUND', { sha256, location: this.location });
      throw this.#failed(e, `reading ${sha256}`);
    }
  }

  async has(sha256: string): Promise<boolean> {
    if (!isSha256(sha256)) return false;
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(sha256) }));
      return true;
    } catch (e) {
      if (isNoSuchKey(e)) return false;
      throw this.#failed(e, `looking for ${sha256}`);
    }
  }

  close(): void {
    this.#client.destroy();
  }
}
