import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caught, refused } from '../../../test/helpers/platform.js';
import { startTestObjectStore, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, type TestObjectStore } from '../backup/test-object-store.js';
import { backedUpBlobDir, blobStoreOf, type BlobStore } from './blob-store.js';
import { DirectoryBlobStore } from './directory-blob-store.js';
import { S3BlobStore } from './s3-blob-store.js';

const MiB = 1024 * 1024;

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The bytes in 64 KiB chunks, as a request body arrives. */
function body(bytes: Buffer): Readable {
  return Readable.from((function* () {
    for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
  })());
}

/** `before` bytes, then a failure, as a client that goes away mid-upload. */
function failingBody(before: Buffer): Readable {
  return Readable.from((async function* () {
    yield before;
    await new Promise((r) => setTimeout(r, 10));
    throw new Error('the client went away');
  })());
}

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

interface Subject {
  readonly store: BlobStore;
  /** Everything the store holds, temporary uploads included. */
  entries(): Promise<string[]>;
  /** Replaces a stored blob's bytes behind the store's back. */
  damage(sha: string, bytes: Buffer): Promise<void>;
}

let dir: string;
let objectStore: TestObjectStore;
let s3: S3Client;
const subjects: Record<'directory' | 's3', () => Subject> = {} as never;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'govshare-blobs-'));
  objectStore = await startTestObjectStore({ buckets: ['blobs'] });
  const directory = new DirectoryBlobStore(join(dir, 'store'));
  const walk = (d: string): string[] => {
    try {
      return readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [relative(directory.dir, join(d, e.name))]));
    } catch {
      return [];
    }
  };
  subjects.directory = () => ({
    store: directory,
    entries: async () => walk(directory.dir),
    damage: async (sha, bytes) => writeFileSync(directory.pathOf(sha), bytes),
  });
  const bucket = new S3BlobStore({ bucket: 'blobs', prefix: 'site-a/' }, { endpoint: objectStore.endpoint, region: 'us-east-1', pathStyle: true, accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY, partSize: 5 * MiB });
  // After the store's client, which turns off the SDK's Node 20 warning.
  s3 = new S3Client({ region: 'us-east-1', endpoint: objectStore.endpoint, forcePathStyle: true, credentials: { accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY } });
  subjects.s3 = () => ({
    store: bucket,
    entries: async () => ((await s3.send(new ListObjectsV2Command({ Bucket: 'blobs', Prefix: 'site-a/' }))).Contents ?? []).map((o) => o.Key!),
    damage: async (sha, bytes) => void (await s3.send(new PutObjectCommand({ Bucket: 'blobs', Key: `site-a/${sha}`, Body: bytes }))),
  });
});

afterAll(async () => {
  subjects.s3?.().store.close();
  s3?.destroy();
  await objectStore?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(['directory', 's3'] as const)('the %s blob store', (kind) => {
  it('stores bytes under their SHA-256 and gives them back', async () => {
    const { store } = subjects[kind]();
    const bytes = randomBytes(300_000);
    const put = await store.put(body(bytes), { maxBytes: MiB });
    expect(put).toEqual({ sha256: sha256(bytes), bytes: bytes.length });
    expect(await store.has(put.sha256)).toBe(true);
    expect(sha256(await readAll(await store.open(put.sha256)))).toBe(put.sha256);
    const empty = await store.put(body(Buffer.alloc(0)), { maxBytes: MiB });
    expect(empty).toEqual({ sha256: sha256(Buffer.alloc(0)), bytes: 0 });
    expect((await readAll(await store.open(empty.sha256))).length).toBe(0);
  });

  it('keeps one blob for the same bytes stored twice, and nothing else', async () => {
    const s = subjects[kind]();
    const bytes = Buffer.from(`保密协议 ${kind} ${randomBytes(8).toString('hex')}`);
    const before = await s.entries();
    const a = await s.store.put(body(bytes), { maxBytes: MiB });
    const b = await s.store.put(body(bytes), { maxBytes: MiB });
    expect(b).toEqual(a);
    const added = (await s.entries()).filter((e) => !before.includes(e));
    expect(added).toHaveLength(1);
    expect(added[0]).toContain(a.sha256);
  });

  it('refuses more than the limit with the limit named, leaving nothing behind', async () => {
    const s = subjects[kind]();
    const before = await s.entries();
    const e = await refused(s.store.put(body(randomBytes(MiB + 1)), { maxBytes: MiB }), 'GS_ERR_BLOB_TOO_LARGE');
    expect(e.status).toBe(413);
    expect(e.message).toContain(String(MiB));
    expect(await s.entries()).toEqual(before);
  });

  it('stores nothing when the body fails half-way, and reports the body failure as itself', async () => {
    const s = subjects[kind]();
    const before = await s.entries();
    const bytes = randomBytes(200_000);
    const e = await s.store.put(failingBody(bytes), { maxBytes: MiB }).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(e?.message).toBe('the client went away');
    expect(await s.entries()).toEqual(before);
    expect(await s.store.has(sha256(bytes))).toBe(false);
  });

  it('fails a read of a damaged blob with GS_ERR_BLOB_CORRUPT instead of serving other bytes', async () => {
    const s = subjects[kind]();
    const bytes = randomBytes(100_000);
    const { sha256: sha } = await s.store.put(body(bytes), { maxBytes: MiB });
    const damaged = Buffer.from(bytes);
    damaged[50_000] = damaged[50_000]! ^ 0xff;
    await s.damage(sha, damaged);
    const e = await caught(readAll(await s.store.open(sha)));
    expect(e.code).toBe('GS_ERR_BLOB_CORRUPT');
    expect(e.message).toContain(sha);
  });

  it('says a blob it does not hold is not found', async () => {
    const { store } = subjects[kind]();
    const absent = sha256(randomBytes(16));
    expect(await store.has(absent)).toBe(false);
    await refused(store.open(absent), 'GS_ERR_BLOB_NOT_FOUND');
    await refused(store.open('../../etc/passwd'), 'GS_ERR_BLOB_NOT_FOUND');
  });
});

describe('the S3 blob store', () => {
  it('streams a large blob in parts, and refuses one past the limit after the first part without a named object', async () => {
    const s = subjects.s3();
    const large = randomBytes(12 * MiB + 5);
    const put = await s.store.put(body(large), { maxBytes: 20 * MiB });
    expect(put).toEqual({ sha256: sha256(large), bytes: large.length });
    expect(sha256(await readAll(await s.store.open(put.sha256)))).toBe(put.sha256);
    const before = await s.entries();
    await refused(s.store.put(body(randomBytes(12 * MiB)), { maxBytes: 7 * MiB }), 'GS_ERR_BLOB_TOO_LARGE');
    expect(await s.entries()).toEqual(before);
  });

  it('names the blob settings when credentials are missing, and opens from the configuration', async () => {
    const config = { dataDir: dir, blobStore: 's3://blobs/site-b/', blobS3Endpoint: objectStore.endpoint, blobS3Region: 'us-east-1', blobS3PathStyle: true, blobS3CaFile: undefined, blobS3CredentialsFile: undefined };
    const e = await refused((async () => blobStoreOf(config, {}))(), 'GS_ERR_BLOB_STORE_CREDENTIALS');
    expect(e.message).toContain('GOVSHARE_BLOB_S3_ACCESS_KEY_ID');
    const store = blobStoreOf(config, { GOVSHARE_BLOB_S3_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID, GOVSHARE_BLOB_S3_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY });
    try {
      expect(store.location).toBe('s3://blobs/site-b/');
      const { sha256: sha } = await store.put(body(Buffer.from('x')), { maxBytes: 10 });
      expect(await readAll(await store.open(sha))).toEqual(Buffer.from('x'));
    } finally {
      store.close();
    }
    const fallback = blobStoreOf({ ...config, blobStore: undefined }, {});
    expect(fallback.location).toBe(join(dir, 'blobs'));
    // What `govshare backup` takes: the configured folder, or the data directory's for a bucket.
    expect(backedUpBlobDir({ ...config, blobStore: '/srv/govshare-files' })).toBe('/srv/govshare-files');
    expect(backedUpBlobDir({ ...config, blobStore: undefined })).toBe(join(dir, 'blobs'));
    expect(backedUpBlobDir(config)).toBe(join(dir, 'blobs'));
  });

  it('reports a store it cannot reach as GS_ERR_BLOB_STORE_FAILED', async () => {
    const unreachable = new S3BlobStore({ bucket: 'blobs', prefix: '' }, { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', pathStyle: true, accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY });
    try {
      const e = await refused(unreachable.put(body(Buffer.from('x')), { maxBytes: 10 }), 'GS_ERR_BLOB_STORE_FAILED');
      expect(e.message).toContain('cannot reach it');
    } finally {
      unreachable.close();
    }
  });
});
