import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { GsError, isGsError } from '../../lib/errors.js';

/* The streams every blob store puts its content through, in and out. */

const SHA256 = /^[0-9a-f]{64}$/;

export function isSha256(text: string): boolean {
  return SHA256.test(text);
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
