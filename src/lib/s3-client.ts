import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { GsError } from './errors.js';
import { readS3Credentials, type S3Options, type S3Settings } from './s3-options.js';

/*
 * The pieces of talking to an S3-compatible store that the backup target and the blob store
 * share: the client with its TLS and checksum settings, what a failure means, and a streaming
 * upload that appears complete or not at all. Each caller turns failures into its own codes.
 */

/** The S3 minimum part size. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;

function readCa(file: string, settings: S3Settings): string {
  try {
    const pem = readFileSync(file, 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('it holds no PEM certificate');
    return pem;
  } catch (e) {
    throw new GsError('GS_ERR_CONFIG_INVALID', { key: `${settings.prefix}_CA_FILE`, reason: `${file}: ${(e as Error).message}` });
  }
}

/** A client for `options`; credential and CA problems are reported with `settings`' names. */
export function createS3Client(options: S3Options, settings: S3Settings): S3Client {
  const ca = options.caFile ? readCa(options.caFile, settings) : undefined;
  // The SDK warns on Node 20 that its releases after January 2027 will need Node 22. This
  // version is pinned (package.json) because it runs on Node 20; the operator can do nothing
  // about the warning, and it would land in the middle of every command's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.pathStyle,
    credentials: readS3Credentials(options, settings),
    // The SDK's default CRC32 checksums (sent as aws-chunked trailers for streams) are not
    // understood by many S3-compatible stores. Bodies are buffers whose SHA-256 the request
    // signature covers; what is read back is checked by its SHA-256 by the caller.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 300_000, ...(ca ? { httpsAgent: new Agent({ ca, keepAlive: true }) } : {}) },
  });
}

/** What the SDK's errors and Node's network errors carry. */
export interface ServiceError {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** A failure of the object store, for the operator: refused (credentials, policy, clock) or failed (anything else). */
export function describeS3Failure(e: unknown, bucket: string): { readonly kind: 'refused' | 'failed'; readonly reason: string } {
  const err = e as ServiceError;
  const status = err.$metadata?.httpStatusCode;
  switch (err.name) {
    case 'SignatureDoesNotMatch':
      return { kind: 'refused', reason: 'the secret access key does not belong to the access key id (SignatureDoesNotMatch); check the credentials' };
    case 'InvalidAccessKeyId':
      return { kind: 'refused', reason: 'the access key id is unknown to the object store (InvalidAccessKeyId); check the credentials' };
    case 'AccessDenied':
      return { kind: 'refused', reason: 'these credentials may not do this on the bucket or prefix (AccessDenied); check the bucket policy' };
    case 'RequestTimeTooSkewed':
      return { kind: 'refused', reason: "this machine's clock differs too much from the object store's (RequestTimeTooSkewed); synchronise it (NTP)" };
    case 'NoSuchBucket':
      return { kind: 'failed', reason: `bucket ${bucket} does not exist` };
  }
  if (status === 401 || status === 403) return { kind: 'refused', reason: `HTTP ${status} ${err.name ?? ''}: the credentials are wrong or may not use this bucket`.replace(/ +:/, ':') };
  const message = err.message || err.name || String(e);
  if (err.code && NETWORK_CODES.has(err.code)) return { kind: 'failed', reason: `cannot reach it: ${message}` };
  return { kind: 'failed', reason: `${err.name && err.name !== 'Error' && !message.includes(err.name) ? `${err.name}: ` : ''}${message}${status ? ` (HTTP ${status})` : ''}` };
}

export function isNoSuchKey(e: unknown): boolean {
  const err = e as ServiceError;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404;
}

/** The content stream failed (the database, a blob file, a client's upload), not the object store. */
export class SourceFailed extends Error {}

/**
 * The upload failed and was aborted; when the abort failed too, `abortError` says why (parts of
 * the unfinished upload stay until the bucket's lifecycle rule removes them).
 */
export class UploadFailed extends Error {
  constructor(
    readonly failure: unknown,
    readonly abortError: unknown,
  ) {
    super('upload failed', { cause: failure });
  }
}

export interface StreamUpload {
  readonly bucket: string;
  readonly key: string;
  readonly content: Readable;
  /** Bytes per part; at least MIN_PART_SIZE. Memory stays near two parts. */
  readonly partSize: number;
  /** Sees every chunk of the content as it is read; a throw stops the upload (as SourceFailed). */
  readonly tap: (chunk: Buffer) => void;
  /** Sends the request that makes the object appear (the PUT, or the completion), e.g. with `If-None-Match`. */
  readonly finish?: <T>(send: (ifNoneMatch: string | undefined) => Promise<T>) => Promise<T>;
  /** For the message when the content needs too many parts. */
  readonly what: string;
}

/**
 * Streams `content` to `key`: a small content in one PUT, a larger one as a multipart upload
 * (one part uploading while the next is read) completed only after every part arrived. On any
 * failure the content is destroyed and an unfinished upload aborted, so the object appears
 * complete or not at all. A failure of the content comes out as SourceFailed (its cause the
 * content's error); an abort that failed too as UploadFailed around either.
 */
export async function uploadStream(client: S3Client, u: StreamUpload): Promise<void> {
  const finish = u.finish ?? (<T>(send: (ifNoneMatch: string | undefined) => Promise<T>) => send(undefined));
  let uploadId: string | undefined;
  try {
    const parts = partsOf(u.content, u.partSize, u.tap)[Symbol.asyncIterator]();
    const first = await parts.next();
    const second = first.done ? first : await parts.next();
    if (second.done) {
      const body = first.done ? Buffer.alloc(0) : first.value;
      await finish((IfNoneMatch) => client.send(new PutObjectCommand({ Bucket: u.bucket, Key: u.key, Body: body, ContentLength: body.length, ContentType: 'application/octet-stream', IfNoneMatch })));
      return;
    }
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: u.bucket, Key: u.key, ContentType: 'application/octet-stream' }));
    uploadId = created.UploadId;
    if (!uploadId) throw new Error('the object store returned no upload id');
    const id = uploadId;
    const done: CompletedPart[] = [];
    let partNumber = 0;
    const upload = (body: Buffer): Promise<void> => {
      const n = ++partNumber;
      if (n > MAX_PARTS) return Promise.reject(new Error(`the ${u.what} needs more than ${MAX_PARTS} parts of ${u.partSize} bytes`));
      const sent = client.send(new UploadPartCommand({ Bucket: u.bucket, Key: u.key, UploadId: id, PartNumber: n, Body: body, ContentLength: body.length })).then((r) => {
        if (!r.ETag) throw new Error(`the object store returned no ETag for part ${n}`);
        done.push({ PartNumber: n, ETag: r.ETag });
      });
      // Awaited below; until then a failure must not count as unhandled.
      sent.catch(() => undefined);
      return sent;
    };
    let inFlight = upload(first.value);
    for (let next: IteratorResult<Buffer> = second; !next.done; next = await parts.next()) {
      await inFlight;
      inFlight = upload(next.value);
    }
    await inFlight;
    done.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await finish((IfNoneMatch) => client.send(new CompleteMultipartUploadCommand({ Bucket: u.bucket, Key: u.key, UploadId: id, MultipartUpload: { Parts: done }, IfNoneMatch })));
    uploadId = undefined;
  } catch (e) {
    u.content.destroy();
    if (uploadId) {
      const abortError = await client.send(new AbortMultipartUploadCommand({ Bucket: u.bucket, Key: u.key, UploadId: uploadId })).then(
        () => undefined,
        (abortFailure: unknown) => abortFailure ?? new Error('abort failed'),
      );
      if (abortError !== undefined) throw new UploadFailed(e, abortError);
    }
    throw e;
  }
}

/**
 * The content in buffers of exactly `size` bytes (the last one shorter). A failure of the content
 * itself (or of `tap`) comes out as SourceFailed, so it is not reported as the object store's.
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
