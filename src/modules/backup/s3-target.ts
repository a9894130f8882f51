import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { GsError, isGsError } from '../../lib/errors.js';
import { BACKUP_SUFFIX } from './location.js';
import { readS3Credentials, type S3Options } from './s3-options.js';
import type { BackupSource, BackupTarget, StoredBackup, WrittenBackup } from './target.js';

/** The S3 minimum part size; parts of 16 MiB keep memory near 32 MiB and allow 160 GB objects. */
const MIN_PART_SIZE = 5 * 1024 * 1024;
const PART_SIZE = 16 * 1024 * 1024;
const MAX_PARTS = 10_000;

function readCa(file: string): string {
  try {
    const pem = readFileSync(file, 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('it holds no PEM certificate');
    return pem;
  } catch (e) {
    throw new GsError('GS_ERR_CONFIG_INVALID', { key: 'GOVSHARE_BACKUP_S3_CA_FILE', reason: `${file}: ${(e as Error).message}` });
  }
}

/** What the SDK's errors and Node's network errors carry. */
interface ServiceError {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/** The content stream failed (the database, a blob file), not the object store. */
class SourceFailed extends Error {}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

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
    const ca = options.caFile ? readCa(options.caFile) : undefined;
    // The SDK warns on Node 20 that its releases after January 2027 will need Node 22. This
    // version is pinned (package.json) because it runs on Node 20; the operator can do nothing
    // about the warning, and it would land in the middle of every command's output.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.#client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.pathStyle,
      credentials: readS3Credentials(options),
      // The SDK's default CRC32 checksums (sent as aws-chunked trailers for streams) are not
      // understood by many S3-compatible stores. Bodies are buffers whose SHA-256 the request
      // signature covers, and every scheduled backup is read back and checked.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 300_000, ...(ca ? { httpsAgent: new Agent({ ca, keepAlive: true }) } : {}) },
    });
  }

  locationOf(name: string): string {
    return `${this.location}${name}`;
  }

  #key(name: string): string {
    return `${this.#prefix}${name}`;
  }

  #failure(e: unknown, where: string): GsError {
    if (isGsError(e)) return e;
    const err = e as ServiceError;
    const status = err.$metadata?.httpStatusCode;
    const refused = (reason: string): GsError => new GsError('GS_ERR_BACKUP_STORE_REFUSED', { location: where, endpoint: this.#endpoint, reason });
    switch (err.name) {
      case 'SignatureDoesNotMatch':
        return refused('the secret access key does not belong to the access key id (SignatureDoesNotMatch); check the credentials');
      case 'InvalidAccessKeyId':
        return refused('the access key id is unknown to the object store (InvalidAccessKeyId); check the credentials');
      case 'AccessDenied':
        return refused('these credentials may not do this on the bucket or prefix (AccessDenied); check the bucket policy');
      case 'RequestTimeTooSkewed':
        return refused("this machine's clock differs too much from the object store's (RequestTimeTooSkewed); synchronise it (NTP)");
      case 'NoSuchBucket':
        return new GsError('GS_ERR_BACKUP_STORE_FAILED', { location: where, endpoint: this.#endpoint, reason: `bucket ${this.#bucket} does not exist` });
    }
    if (status === 401 || status === 403) return refused(`HTTP ${status} ${err.name ?? ''}: the credentials are wrong or may not use this bucket`.replace(/ +:/, ':'));
    const message = err.message || err.name || String(e);
    if (err.code && NETWORK_CODES.has(err.code)) return new GsError('GS_ERR_BACKUP_STORE_FAILED', { location: where, endpoint: this.#endpoint, reason: `cannot reach it: ${message}` });
    return new GsError('GS_ERR_BACKUP_STORE_FAILED', { location: where, endpoint: this.#endpoint, reason: `${err.name && err.name !== 'Error' && !message.includes(err.name) ? `${err.name}: ` : ''}${message}${status ? ` (HTTP ${status})` : ''}` });
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
    const key = this.#key(name);
    const where = this.locationOf(name);
    const hash = createHash('sha256');
    let bytes = 0;
    let uploadId: string | undefined;
    try {
      await this.prepare(name);
      const parts = partsOf(content, this.#partSize, (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
      })[Symbol.asyncIterator]();
      const first = await parts.next();
      const second = first.done ? first : await parts.next();
      if (second.done) {
        const body = first.done ? Buffer.alloc(0) : first.value;
        await this.#conditional(name, (IfNoneMatch) =>
          this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: body, ContentLength: body.length, ContentType: 'application/octet-stream', IfNoneMatch })),
        );
      } else {
        const created = await this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: key, ContentType: 'application/octet-stream' }));
        uploadId = created.UploadId;
        if (!uploadId) throw new Error('the object store returned no upload id');
        const id = uploadId;
        const done: CompletedPart[] = [];
        let partNumber = 0;
        const upload = (body: Buffer): Promise<void> => {
          const n = ++partNumber;
          if (n > MAX_PARTS) return Promise.reject(new Error(`the backup needs more than ${MAX_PARTS} parts of ${this.#partSize} bytes`));
          const sent = this.#client.send(new UploadPartCommand({ Bucket: this.#bucket, Key: key, UploadId: id, PartNumber: n, Body: body, ContentLength: body.length })).then((r) => {
            if (!r.ETag) throw new Error(`the object store returned no ETag for part ${n}`);
            done.push({ PartNumber: n, ETag: r.ETag });
          });
          // Awaited below; until then a failure must not count as unhandled.
          sent.catch(() => undefined);
          return sent;
        };
        // One part uploading while the next is read from the content.
        let inFlight = upload(first.value);
        for (let next: IteratorResult<Buffer> = second; !next.done; next = await parts.next()) {
          await inFlight;
          inFlight = upload(next.value);
        }
        await inFlight;
        done.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
        await this.#conditional(name, (IfNoneMatch) =>
          this.#client.send(new CompleteMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: id, MultipartUpload: { Parts: done }, IfNoneMatch })),
        );
        uploadId = undefined;
      }
    } catch (e) {
      content.destroy();
      const cause = e instanceof SourceFailed ? e.cause : e;
      const failure = cause === e ? this.#failure(e, where) : cause;
      if (uploadId) {
        const aborted = await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId })).then(
          () => undefined,
          (abortError: unknown) => this.#failure(abortError, where).message,
        );
        // The object never appeared either way; the operator needs to know parts may remain.
        if (aborted && isGsError(failure)) {
          throw new GsError(failure.code, { ...failure.params, reason: `${String(failure.params.reason)}; aborting the unfinished upload also failed (${aborted}): its parts stay until the bucket's rule for incomplete multipart uploads removes them` }, undefined, { cause });
        }
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
          const err = e as ServiceError;
          if (err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404) throw new GsError('GS_ERR_BACKUP_FILE', { file: where, reason: 'no such object' });
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

/**
 * The content in buffers of exactly `size` bytes (the last one shorter). A failure of the content
 * itself comes out as SourceFailed, so it is not reported as the object store's.
 */
async function* partsOf(content: Readable, size: number, tap: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of content as AsyncIterable<Buffer>) {
      tap(chunk);
      pending.push(chunk);
      length += chunk.length;
      if (length < size) continue;
      let all = Buffer.concat(pending, length);
      while (all.length >= size) {
        yield all.subarray(0, size);
        all = all.subarray(size);
      }
      // A copy, so the yielded part's memory is not held by the remainder.
      pending = all.length > 0 ? [Buffer.from(all)] : [];
      length = all.length;
    }
  } catch (e) {
    throw new SourceFailed(e instanceof Error ? e.message : String(e), { cause: e });
  }
  if (length > 0) yield Buffer.concat(pending, length);
}
