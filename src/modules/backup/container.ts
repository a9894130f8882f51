import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { GsError } from '../../lib/errors.js';

/**
 * The encrypted container of a backup file (see README.md beside this file):
 *
 *   header  "GSBACKUP" | version (1 byte) | key id (8 bytes) | salt (32 bytes)
 *   chunk*  flags (1 byte, 1 = last) | length (4 bytes, big-endian) | ciphertext | GCM tag (16 bytes)
 *
 * Each file gets its own AES-256-GCM key, HKDF-derived from the backup key and the file's random
 * salt, so nonces (the chunk index) never repeat under one key. Every chunk authenticates the
 * header and its own flags, and its index is its nonce: a changed, reordered, dropped or added
 * chunk fails, and a file that ends without a chunk marked last is truncated.
 */
const MAGIC = Buffer.from('GSBACKUP', 'ascii');
const VERSION = 1;
const HEADER_LENGTH = MAGIC.length + 1 + 8 + 32;
const TAG_LENGTH = 16;
const FRAME_LENGTH = 5;
const LAST = 1;
/** Plaintext per chunk. A reader refuses larger chunks, so a damaged length cannot exhaust memory. */
export const CHUNK_SIZE = 64 * 1024;

/** An identifier of a backup key that reveals nothing about it; printed to tell keys apart. */
export function backupKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('govshare backup key id').digest('hex').slice(0, 16);
}

function fileKey(key: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', key, salt, 'govshare backup v1', 32));
}

function nonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

/** Plaintext in, container out. */
export class EncryptStream extends Transform {
  readonly #key: Buffer;
  readonly #header: Buffer;
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #index = 0;

  constructor(backupKey: Buffer) {
    super();
    const salt = randomBytes(32);
    this.#header = Buffer.concat([MAGIC, Buffer.from([VERSION]), Buffer.from(backupKeyId(backupKey), 'hex'), salt]);
    this.#key = fileKey(backupKey, salt);
    this.push(this.#header);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#pending.push(chunk);
    this.#pendingLength += chunk.length;
    if (this.#pendingLength > CHUNK_SIZE) {
      let all = Buffer.concat(this.#pending);
      // Keep at least one byte back: the last chunk is written by _flush, marked last.
      while (all.length > CHUNK_SIZE) {
        this.#seal(all.subarray(0, CHUNK_SIZE), 0);
        all = all.subarray(CHUNK_SIZE);
      }
      this.#pending = [all];
      this.#pendingLength = all.length;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#seal(Buffer.concat(this.#pending), LAST);
    callback();
  }

  #seal(plaintext: Buffer, flags: number): void {
    const frame = Buffer.alloc(FRAME_LENGTH);
    frame.writeUInt8(flags, 0);
    frame.writeUInt32BE(plaintext.length, 1);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce(this.#index++));
    cipher.setAAD(Buffer.concat([this.#header, frame.subarray(0, 1)]));
    this.push(Buffer.concat([frame, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
  }
}

/** Container in, plaintext out; fails with GS_ERR_BACKUP_WRONG_KEY or GS_ERR_BACKUP_CORRUPT. */
export class DecryptStream extends Transform {
  readonly #backupKey: Buffer;
  readonly #file: string;
  #key: Buffer | undefined;
  #header: Buffer | undefined;
  #buffer: Buffer = Buffer.alloc(0);
  #index = 0;
  #ended = false;

  constructor(backupKey: Buffer, file: string) {
    super();
    this.#backupKey = backupKey;
    this.#file = file;
  }

  #corrupt(reason: string): GsError {
    return new GsError('GS_ERR_BACKUP_CORRUPT', { file: this.#file, reason });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    try {
      this.#drain();
      callback();
    } catch (e) {
      callback(e as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (!this.#header) return callback(this.#corrupt('not a govshare backup (too short)'));
    if (!this.#ended) return callback(this.#corrupt('truncated: the file ends before its last chunk'));
    callback();
  }

  #drain(): void {
    if (!this.#header) {
      if (this.#buffer.length < HEADER_LENGTH) return;
      const header = this.#buffer.subarray(0, HEADER_LENGTH);
      if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw this.#corrupt('not a govshare backup (no GSBACKUP header)');
      if (header[MAGIC.length] !== VERSION) throw this.#corrupt(`container version ${header[MAGIC.length]} is not supported`);
      const fileKeyId = header.subarray(MAGIC.length + 1, MAGIC.length + 9).toString('hex');
      const keyId = backupKeyId(this.#backupKey);
      if (fileKeyId !== keyId) throw new GsError('GS_ERR_BACKUP_WRONG_KEY', { file: this.#file, fileKeyId, keyId });
      this.#header = Buffer.from(header);
      this.#key = fileKey(this.#backupKey, header.subarray(MAGIC.length + 9));
      this.#buffer = this.#buffer.subarray(HEADER_LENGTH);
    }
    while (this.#buffer.length >= FRAME_LENGTH) {
      if (this.#ended) throw this.#corrupt('data after the last chunk');
      const flags = this.#buffer.readUInt8(0);
      const length = this.#buffer.readUInt32BE(1);
      if ((flags & ~LAST) !== 0 || length > CHUNK_SIZE) throw this.#corrupt(`chunk ${this.#index} has a damaged frame`);
      const total = FRAME_LENGTH + length + TAG_LENGTH;
      if (this.#buffer.length < total) return;
      const body = this.#buffer.subarray(FRAME_LENGTH, FRAME_LENGTH + length);
      const tag = this.#buffer.subarray(FRAME_LENGTH + length, total);
      let plaintext: Buffer;
      try {
        const decipher = createDecipheriv('aes-256-gcm', this.#key!, nonce(this.#index));
        decipher.setAAD(Buffer.concat([this.#header, Buffer.from([flags])]));
        decipher.setAuthTag(tag);
        plaintext = Buffer.concat([decipher.update(body), decipher.final()]);
      } catch {
        throw this.#corrupt(`chunk ${this.#index} fails authentication (altered data)`);
      }
      this.#index++;
      this.#buffer = this.#buffer.subarray(total);
      if (flags & LAST) this.#ended = true;
      this.push(plaintext);
    }
    if (this.#ended && this.#buffer.length > 0) throw this.#corrupt('data after the last chunk');
  }
}
