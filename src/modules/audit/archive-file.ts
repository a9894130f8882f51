import { createHash, randomBytes, type Hash, type KeyObject } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { link, open, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { GsError } from '../../lib/errors.js';
import {
  archiveSignatureValid,
  checkpointSignatureValid,
  eventHash,
  GENESIS_HASH,
  isHashAlgorithm,
  publicKeyFromPem,
  SIGNING_ALGORITHM,
  signingKeyId,
  type ChainedEvent,
} from './chain.js';

/**
 * The archive file: NDJSON, one JSON object per line, each line ending in "\n".
 *
 *   line 1        header: format, version, chain rules, range (first/last seq, prev_hash of the first
 *                 event, hash of the last), counts, time range, the public keys of every signature
 *   lines 2…      one line per event with every field the chain hash covers plus its hash, in seq
 *                 order; a checkpoint of the range follows the event it signs
 *   last line     the signature: the platform's audit key over the range and the SHA-256 of every
 *                 byte before this line (`signArchive` in chain.ts)
 *
 * Everything needed to check it is in the file: no database, no master key. A verifier that
 * pins the platform's published public key (`--public-key`) also knows who signed it.
 */
export const ARCHIVE_FORMAT = 'govshare-audit-archive';
export const ARCHIVE_VERSION = 1;

export interface ArchiveKey {
  readonly id: string;
  readonly algorithm: string;
  readonly publicKey: string;
}

export interface ArchiveHeader {
  readonly type: 'header';
  readonly format: typeof ARCHIVE_FORMAT;
  readonly version: typeof ARCHIVE_VERSION;
  /** The serialisation version of the events (README.md). */
  readonly chain: 'govshare-audit-v1';
  readonly hashAlgorithms: readonly string[];
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly firstPrevHash: string;
  readonly lastHash: string;
  readonly events: number;
  readonly checkpoints: number;
  readonly firstAt: string;
  readonly lastAt: string;
  /** The cut-off asked for: the archive holds the longest prefix of the chain older than it. */
  readonly cutOff: string;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly keys: readonly ArchiveKey[];
}

export interface ArchiveEventLine extends ChainedEvent {
  readonly type: 'event';
  readonly hash: string;
}

export interface ArchiveCheckpointLine {
  readonly type: 'checkpoint';
  readonly seq: number;
  readonly hash: string;
  /** ISO 8601 with milliseconds, as signed. */
  readonly at: string;
  readonly keyId: string;
  readonly signature: string;
}

export interface ArchiveSignatureLine {
  readonly type: 'signature';
  readonly algorithm: typeof SIGNING_ALGORITHM;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly firstPrevHash: string;
  readonly lastHash: string;
  readonly events: number;
  readonly contentSha256: string;
  readonly at: string;
  readonly keyId: string;
  readonly signature: string;
}

function fileError(path: string, reason: string, cause?: unknown): GsError {
  return new GsError('GS_ERR_AUDIT_ARCHIVE_FILE', { path, reason }, undefined, { cause });
}

/** Buffered output; flushed in chunks of about this many bytes. */
const WRITE_CHUNK = 1 << 20;

/**
 * Writes an archive under a temporary name beside the target (mode 0600) and puts it in place
 * only when complete and on disk, without ever replacing an existing file: the final step is a
 * hard link, which fails if the name exists, where a rename would overwrite.
 */
export class ArchiveFileWriter {
  readonly #content: Hash = createHash('sha256');
  readonly #file: Hash = createHash('sha256');
  #pending: string[] = [];
  #pendingBytes = 0;
  #sealed = false;

  private constructor(
    readonly path: string,
    private readonly partial: string,
    private readonly handle: FileHandle,
  ) {}

  /** Refuses a name that exists before any work is done; `finish` refuses it again, atomically. */
  static async create(path: string): Promise<ArchiveFileWriter> {
    if (existsSync(path)) throw fileError(path, 'the file exists (an archive is never overwritten)');
    const partial = join(dirname(path), `.${basename(path)}.partial-${randomBytes(6).toString('hex')}`);
    try {
      return new ArchiveFileWriter(path, partial, await open(partial, 'wx', 0o600));
    } catch (e) {
      throw fileError(path, (e as Error).message, e);
    }
  }

  /** One line of the archive's content (header, event or checkpoint). */
  async line(value: object): Promise<void> {
    if (this.#sealed) throw new Error('the archive content is sealed');
    const text = `${JSON.stringify(value)}\n`;
    this.#content.update(text, 'utf8');
    await this.#write(text).catch((e: unknown) => {
      throw fileError(this.path, (e as Error).message, e);
    });
  }

  /** The SHA-256 of the content written so far; no content line may follow. */
  contentSha256(): string {
    this.#sealed = true;
    return this.#content.copy().digest('hex');
  }

  /** Writes the signature line, syncs, and puts the file in place. Returns the SHA-256 of the whole file. */
  async finish(signature: ArchiveSignatureLine): Promise<string> {
    try {
      await this.#write(`${JSON.stringify(signature)}\n`);
      await this.#flush();
      await this.handle.sync();
      await this.handle.close();
      await link(this.partial, this.path);
    } catch (e) {
      const exists = (e as NodeJS.ErrnoException).code === 'EEXIST';
      throw fileError(this.path, exists ? 'the file was created meanwhile (an archive is never overwritten)' : (e as Error).message, e);
    }
    await unlink(this.partial);
    // The new name must survive a crash as well as the data.
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    return this.#file.digest('hex');
  }

  /** Removes the partial file (after a failure). */
  async abandon(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await unlink(this.partial).catch(() => undefined);
  }

  async #write(text: string): Promise<void> {
    this.#file.update(text, 'utf8');
    this.#pending.push(text);
    this.#pendingBytes += text.length;
    if (this.#pendingBytes >= WRITE_CHUNK) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const chunk = this.#pending.join('');
    this.#pending = [];
    this.#pendingBytes = 0;
    await this.handle.write(chunk, null, 'utf8');
  }
}

/** The outcome of checking one archive file: a value, broken or not. */
export interface ArchiveVerification {
  readonly ok: boolean;
  readonly file: string;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly firstPrevHash: string | null;
  readonly lastHash: string | null;
  /** Events checked (all of them when ok). */
  readonly events: number;
  readonly checkpoints: number;
  /** The key that signed the file, its signing time, and whether it is one of the pinned keys (null: none pinned). */
  readonly keyId: string | null;
  readonly signedAt: string | null;
  readonly pinned: boolean | null;
  readonly contentSha256: string | null;
  /** What `sha256sum FILE` prints (as `audit_archives` records it); null when the file was not read to its end. */
  readonly fileSha256: string | null;
  /** The first line (1-based) and sequence number that fail, or null. */
  readonly firstBadLine: number | null;
  readonly firstBadSeq: number | null;
  readonly problem: string | null;
}

export interface ArchiveVerifyOptions {
  /** Public keys (PEM) the file must be signed with: the platform's published audit key. */
  readonly publicKeys?: readonly string[];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const HEX64 = /^[0-9a-f]{64}$/;
const EVENT_FIELDS = [
  'type',
  'seq',
  'hashAlg',
  'at',
  'actorType',
  'actorId',
  'actorAgencyId',
  'actorName',
  'action',
  'targetType',
  'targetId',
  'outcome',
  'requestId',
  'ip',
  'details',
  'prevHash',
  'hash',
] as const;
const NULLABLE = new Set(['actorId', 'actorAgencyId', 'targetType', 'targetId', 'requestId', 'ip']);

function isRecord(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

/** The event of a line, or what is wrong with its shape. Every field must be there, and no other. */
function eventOf(v: Record<string, Json>): ArchiveEventLine | string {
  const extra = Object.keys(v).filter((k) => !(EVENT_FIELDS as readonly string[]).includes(k));
  if (extra.length > 0) return `it has fields the chain hash does not cover (${extra.join(', ')})`;
  for (const f of EVENT_FIELDS) {
    if (!(f in v)) return `it lacks the field ${f}`;
    const x = v[f];
    if (f === 'seq') {
      if (!isSeq(x)) return 'its seq is not a positive integer';
    } else if (f === 'details') {
      if (!isRecord(x)) return 'its details are not a JSON object';
    } else if (!(typeof x === 'string' || (x === null && NULLABLE.has(f)))) {
      return `its ${f} is not ${NULLABLE.has(f) ? 'a string or null' : 'a string'}`;
    }
  }
  if (typeof v.hashAlg !== 'string' || !isHashAlgorithm(v.hashAlg)) return `it names an unknown hash algorithm ${JSON.stringify(v.hashAlg)}`;
  return v as unknown as ArchiveEventLine;
}

function checkpointOf(v: Record<string, Json>): ArchiveCheckpointLine | string {
  if (!isSeq(v.seq) || typeof v.hash !== 'string' || typeof v.at !== 'string' || typeof v.keyId !== 'string' || typeof v.signature !== 'string') {
    return 'it is not a complete checkpoint (seq, hash, at, keyId, signature)';
  }
  if (Number.isNaN(new Date(v.at).getTime())) return 'its time is not a date';
  return v as unknown as ArchiveCheckpointLine;
}

function headerOf(v: Json): ArchiveHeader | string {
  if (!isRecord(v) || v.type !== 'header' || v.format !== ARCHIVE_FORMAT) return `it is not the header of a ${ARCHIVE_FORMAT} file`;
  if (v.version !== ARCHIVE_VERSION) return `its format version ${JSON.stringify(v.version)} is not one this govshare reads (${ARCHIVE_VERSION})`;
  if (v.chain !== 'govshare-audit-v1') return `its chain rules ${JSON.stringify(v.chain)} are not ones this govshare knows`;
  if (!isSeq(v.firstSeq) || !isSeq(v.lastSeq) || v.lastSeq < v.firstSeq) return 'its range (firstSeq, lastSeq) is not valid';
  if (typeof v.firstPrevHash !== 'string' || typeof v.lastHash !== 'string' || typeof v.events !== 'number') return 'it lacks firstPrevHash, lastHash or events';
  if (!Array.isArray(v.keys) || !v.keys.every((k) => isRecord(k) && typeof k.id === 'string' && typeof k.publicKey === 'string' && typeof k.algorithm === 'string')) {
    return 'its keys are not a list of { id, algorithm, publicKey }';
  }
  return v as unknown as ArchiveHeader;
}

function signatureOf(v: Record<string, Json>): ArchiveSignatureLine | string {
  const numbers = ['firstSeq', 'lastSeq', 'events'] as const;
  const strings = ['algorithm', 'firstPrevHash', 'lastHash', 'contentSha256', 'at', 'keyId', 'signature'] as const;
  for (const n of numbers) if (typeof v[n] !== 'number') return `its ${n} is not a number`;
  for (const s of strings) if (typeof v[s] !== 'string') return `its ${s} is not a string`;
  if (v.algorithm !== SIGNING_ALGORITHM) return `its algorithm ${JSON.stringify(v.algorithm)} is not ${SIGNING_ALGORITHM}`;
  if (Number.isNaN(new Date(v.at as string).getTime())) return 'its time is not a date';
  return v as unknown as ArchiveSignatureLine;
}

/** The lines of a file as raw bytes (without "\n"), and whether the last one was terminated. */
async function* lines(path: string): AsyncGenerator<{ bytes: Buffer; terminated: boolean }> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    let buf = rest.length > 0 ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      yield { bytes: buf.subarray(start, nl), terminated: true };
      start = nl + 1;
    }
    buf = buf.subarray(start);
    rest = Buffer.from(buf);
  }
  if (rest.length > 0) yield { bytes: rest, terminated: false };
}

function keysOf(pems: readonly string[]): Map<string, KeyObject> {
  const m = new Map<string, KeyObject>();
  for (const pem of pems) {
    const key = publicKeyFromPem(pem);
    m.set(signingKeyId(key), key);
  }
  return m;
}

/**
 * Checks an archive file on its own: the header, every event's hash and its link to the one
 * before (from the header's firstPrevHash), every checkpoint's signature and the hash it signs,
 * the signature line (its content hash over every byte before it, its range and its signature),
 * and, with `publicKeys`, that every signature was made with one of them. Stops at the first
 * problem and names its line and sequence number. Reads the file as a stream: any size works.
 */
export async function verifyArchiveFile(path: string, options: ArchiveVerifyOptions = {}): Promise<ArchiveVerification> {
  const fileHash = createHash('sha256');
  const content = createHash('sha256');
  const pinned = options.publicKeys && options.publicKeys.length > 0 ? keysOf(options.publicKeys) : null;
  let header: ArchiveHeader | null = null;
  let keys = new Map<string, KeyObject>();
  let lineNo = 0;
  let expected = 0;
  let prev = '';
  let lastEvent: ArchiveEventLine | null = null;
  let events = 0;
  let checkpoints = 0;
  let signature: ArchiveSignatureLine | null = null;
  let contentSha256: string | null = null;

  const result = (problem: string | null, badSeq: number | null): ArchiveVerification => ({
    ok: problem === null,
    file: path,
    firstSeq: header?.firstSeq ?? null,
    lastSeq: problem === null ? (header?.lastSeq ?? null) : (lastEvent?.seq ?? null),
    firstPrevHash: header?.firstPrevHash ?? null,
    lastHash: lastEvent?.hash ?? null,
    events,
    checkpoints,
    keyId: signature?.keyId ?? null,
    signedAt: signature?.at ?? null,
    pinned: pinned === null || signature === null ? null : pinned.has(signature.keyId),
    contentSha256,
    fileSha256: problem === null ? fileHash.digest('hex') : null,
    firstBadLine: problem === null ? null : lineNo,
    firstBadSeq: problem === null ? null : badSeq,
    problem,
  });
  const bad = (problem: string, badSeq: number | null = expected > 0 ? expected : null): ArchiveVerification => result(`line ${lineNo}: ${problem}`, badSeq);
  /** A signature by a key the file lists and, when keys are pinned, one of those. */
  const signer = (keyId: string): KeyObject | string => {
    const key = keys.get(keyId);
    if (!key) return `signed with key ${keyId}, which the header does not list`;
    if (pinned && !pinned.has(keyId)) return `signed with key ${keyId}, which is not the pinned public key`;
    return key;
  };

  try {
    for await (const { bytes, terminated } of lines(path)) {
      lineNo++;
      fileHash.update(bytes);
      if (terminated) fileHash.update('\n');
      if (signature) return bad('the file goes on after its signature line');
      let value: Json;
      try {
        value = JSON.parse(bytes.toString('utf8')) as Json;
      } catch {
        return bad(terminated ? 'it is not valid JSON (altered)' : 'it is not valid JSON and has no line end (the file was cut short)');
      }
      if (!terminated) return bad('it has no line end (the file was cut short)');

      if (header === null) {
        const h = headerOf(value);
        if (typeof h === 'string') return bad(h, null);
        if (h.keys.some((k) => k.algorithm !== SIGNING_ALGORITHM)) return bad(`it lists a key that is not ${SIGNING_ALGORITHM}`, null);
        try {
          keys = keysOf(h.keys.map((k) => k.publicKey));
        } catch {
          return bad('one of its public keys is not a PEM public key', null);
        }
        const listed = h.keys.find((k) => !keys.has(k.id));
        if (listed) return bad(`key id ${listed.id} does not belong to the public key listed with it`, null);
        header = h;
        expected = h.firstSeq;
        prev = h.firstPrevHash;
        content.update(bytes).update('\n');
        continue;
      }
      if (!isRecord(value)) return bad('it is not a JSON object');

      if (value.type === 'event') {
        const e = eventOf(value);
        if (typeof e === 'string') return bad(`it is not a valid event line: ${e}`);
        if (e.seq !== expected) {
          return bad(
            e.seq > expected ? `event ${expected} is missing (this line holds event ${e.seq})` : `event ${e.seq} is out of order (event ${expected} was expected here)`,
          );
        }
        if (e.seq > header.lastSeq) return bad(`event ${e.seq} lies beyond the header's range ${header.firstSeq}…${header.lastSeq}`);
        if (e.prevHash !== prev) return bad(`event ${e.seq} does not link to ${e.seq === header.firstSeq ? "the header's firstPrevHash" : `event ${e.seq - 1}`} (prev_hash differs: removed, inserted or reordered events)`);
        if (!HEX64.test(e.hash) || eventHash(e) !== e.hash) return bad(`event ${e.seq} does not match its hash (its content was changed)`);
        lastEvent = e;
        prev = e.hash;
        expected++;
        events++;
      } else if (value.type === 'checkpoint') {
        const c = checkpointOf(value);
        if (typeof c === 'string') return bad(`it is not a valid checkpoint line: ${c}`, lastEvent?.seq ?? null);
        if (!lastEvent || c.seq !== lastEvent.seq) return bad(`checkpoint ${c.seq} does not follow the event it signs`, c.seq);
        if (c.hash !== lastEvent.hash) return bad(`checkpoint ${c.seq} signs another hash than event ${c.seq} has`, c.seq);
        const key = signer(c.keyId);
        if (typeof key === 'string') return bad(`checkpoint ${c.seq} is ${key}`, c.seq);
        if (!checkpointSignatureValid({ ...c, at: new Date(c.at) }, c.signature, key)) return bad(`the signature of checkpoint ${c.seq} does not verify`, c.seq);
        checkpoints++;
      } else if (value.type === 'signature') {
        const s = signatureOf(value);
        if (typeof s === 'string') return bad(`it is not a valid signature line: ${s}`, null);
        contentSha256 = content.digest('hex');
        if (s.contentSha256 !== contentSha256) return bad('the lines before the signature line are not the ones it signed (their SHA-256 differs: altered, removed or added lines)', null);
        const key = signer(s.keyId);
        if (typeof key === 'string') return bad(`the file is ${key}`, null);
        if (!archiveSignatureValid({ ...s, at: new Date(s.at) }, s.signature, key)) return bad('the signature of the file does not verify', null);
        // The signed range must be the header's and the events'.
        const mismatch = (['firstSeq', 'lastSeq', 'firstPrevHash', 'lastHash', 'events'] as const).find((k) => s[k] !== header![k]);
        if (mismatch) return bad(`the signed ${mismatch} is not the header's`, null);
        if (events !== header.events || lastEvent?.seq !== header.lastSeq || lastEvent.hash !== header.lastHash) {
          return bad(`the file holds events ${header.firstSeq}…${lastEvent?.seq ?? '-'} but its header and signature name ${header.firstSeq}…${header.lastSeq}`, (lastEvent?.seq ?? header.firstSeq - 1) + 1);
        }
        signature = s;
        continue;
      } else {
        return bad(`it is neither an event, a checkpoint nor the signature line (type ${JSON.stringify(value.type ?? null)})`);
      }
      content.update(bytes).update('\n');
    }
  } catch (e) {
    return { ...result(`cannot read the file: ${(e as Error).message}`, null), firstBadLine: null };
  }
  if (header === null) {
    lineNo = 1;
    return bad('the file is empty', null);
  }
  if (!signature) {
    const missing = expected <= header.lastSeq ? `; events ${expected}…${header.lastSeq} are missing` : '';
    return result(`the file ends after line ${lineNo} without its signature line (it was cut short)${missing}`, expected <= header.lastSeq ? expected : null);
  }
  return result(null, null);
}

/** Whether archives checked one by one also follow each other: each starts where the one before ended. */
export function archiveSeriesProblem(archives: readonly ArchiveVerification[]): { firstBadSeq: number | null; problem: string } | null {
  const sorted = [...archives].sort((a, b) => (a.firstSeq ?? 0) - (b.firstSeq ?? 0));
  for (let i = 1; i < sorted.length; i++) {
    const before = sorted[i - 1]!;
    const after = sorted[i]!;
    if (after.firstSeq !== (before.lastSeq ?? 0) + 1) {
      return {
        firstBadSeq: (before.lastSeq ?? 0) + 1,
        problem: `${after.file} starts at seq ${after.firstSeq ?? '-'}, but ${before.file} ends at seq ${before.lastSeq ?? '-'} (${(after.firstSeq ?? 0) > (before.lastSeq ?? 0) + 1 ? 'events in between are missing' : 'they overlap'})`,
      };
    }
    if (after.firstPrevHash !== before.lastHash) {
      return { firstBadSeq: after.firstSeq, problem: `${after.file} does not continue ${before.file}: its first event's prev_hash is not the last hash of ${before.file}` };
    }
  }
  const first = sorted[0];
  if (first && first.firstSeq === 1 && first.firstPrevHash !== GENESIS_HASH) {
    return { firstBadSeq: 1, problem: `${first.file} starts at seq 1 but its first event's prev_hash is not the genesis value (64 zeros)` };
  }
  return null;
}
