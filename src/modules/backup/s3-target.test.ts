import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../db/database.js';
import { agencyInput, caught, createTestPlatform, refused, type TestPlatform } from '../../../test/helpers/platform.js';
import { blobDirOf, checkBackup, createBackup, restoreBackup, verifyBackup } from './backup.js';
import { readS3Credentials, type S3Options } from './s3-options.js';
import { S3Target } from './s3-target.js';
import { listTables, renderSettings, tableChecksum } from './tables.js';
import { openBackupLocation, openTarget } from './target.js';
import { selfSignedCertificate, startTestObjectStore, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, type TestObjectStore } from './test-object-store.js';

const MiB = 1024 * 1024;

let dir: string;
let store: TestObjectStore;
let options: S3Options;

function s3(over: Partial<S3Options> = {}): S3Options {
  return { ...options, ...over };
}

/** `n` bytes of random content in 64 KiB chunks, as the backup pipeline delivers it. */
function content(bytes: Buffer): Readable {
  return Readable.from((function* () {
    for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
  })());
}

async function readAll(target: S3Target, name: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of (await target.source(name).open()) as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'govshare-s3-target-'));
  store = await startTestObjectStore({ buckets: ['backups'] });
  options = { endpoint: store.endpoint, region: 'us-east-1', pathStyle: true, accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY, partSize: 5 * MiB };
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('S3 target', () => {
  it('writes a small backup in one PUT and a large one in parts; lists, reads back and removes them', async () => {
    const target = new S3Target({ bucket: 'backups', prefix: 'site-a/' }, s3());
    try {
      const small = randomBytes(100_000);
      const large = randomBytes(12 * MiB + 123);
      const w1 = await target.write('small.gsbackup', content(small));
      const started = Date.now();
      const w2 = await target.write('large.gsbackup', content(large));
      console.info(`12 MiB to the bucket in 5 MiB parts: ${Date.now() - started} ms`);
      expect(w1).toEqual({ location: 's3://backups/site-a/small.gsbackup', bytes: small.length, sha256: sha256(small) });
      expect(w2.bytes).toBe(large.length);
      expect(sha256(await readAll(target, 'large.gsbackup'))).toBe(sha256(large));
      expect(sha256(await readAll(target, 'small.gsbackup'))).toBe(sha256(small));
      // only *.gsbackup directly under the prefix
      await target.write('notes.txt', content(Buffer.from('not a backup')));
      await new S3Target({ bucket: 'backups', prefix: 'site-a/deeper/' }, s3()).write('other.gsbackup', content(Buffer.from('x')));
      // (oldest first; these two were written within the same second, the stores' resolution)
      const listed = (await target.list()).sort((a, b) => (a.name < b.name ? -1 : 1));
      expect(listed.map((b) => [b.name, b.bytes, b.location])).toEqual([
        ['large.gsbackup', large.length, 's3://backups/site-a/large.gsbackup'],
        ['small.gsbackup', small.length, 's3://backups/site-a/small.gsbackup'],
      ]);
      expect(listed[0]!.modifiedAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
      await target.remove('small.gsbackup');
      expect((await target.list()).map((b) => b.name)).toEqual(['large.gsbackup']);
    } finally {
      target.close();
    }
  });

  it('never replaces an object: an existing name is refused before and while writing', async () => {
    const target = new S3Target({ bucket: 'backups', prefix: 'taken/' }, s3());
    try {
      const first = randomBytes(1000);
      await target.write('x.gsbackup', content(first));
      const e = await refused(target.prepare('x.gsbackup'), 'GS_ERR_BACKUP_FILE');
      expect(e.message).toContain('already exists');
      await refused(target.write('x.gsbackup', content(randomBytes(6 * MiB))), 'GS_ERR_BACKUP_FILE');
      expect(sha256(await readAll(target, 'x.gsbackup'))).toBe(sha256(first));
      // a longer name that starts with it is another object
      await target.write('x.gsbackup.old', content(first));
      await target.prepare('x.gsbackup.ol');
    } finally {
      target.close();
    }
  });

  it('names wrong credentials, an unknown bucket and an unreachable store', async () => {
    const wrongSecret = new S3Target({ bucket: 'backups', prefix: '' }, s3({ secretAccessKey: 'not-the-secret' }));
    const e = await refused(wrongSecret.write('y.gsbackup', content(randomBytes(10))), 'GS_ERR_BACKUP_STORE_REFUSED');
    expect(e.message).toContain('secret access key does not belong to the access key id');
    expect(e.message).toContain('s3://backups/y.gsbackup');
    expect(e.message).not.toContain('not-the-secret');
    expect((await caught(wrongSecret.list())).code).toBe('GS_ERR_BACKUP_STORE_REFUSED');
    wrongSecret.close();
    const unknownId = new S3Target({ bucket: 'backups', prefix: '' }, s3({ accessKeyId: 'NOBODY' }));
    expect((await refused(unknownId.list(), 'GS_ERR_BACKUP_STORE_REFUSED')).message).toContain('access key id is unknown');
    unknownId.close();
    const noBucket = new S3Target({ bucket: 'nothere', prefix: '' }, s3());
    expect((await refused(noBucket.list(), 'GS_ERR_BACKUP_STORE_FAILED')).message).toContain('bucket nothere does not exist');
    noBucket.close();
    const closedPort = new S3Target({ bucket: 'backups', prefix: '' }, s3({ endpoint: 'http://127.0.0.1:9' }));
    expect((await refused(closedPort.list(), 'GS_ERR_BACKUP_STORE_FAILED')).message).toContain('cannot reach it');
    closedPort.close();
  });

  it('leaves no object when the store goes away in the middle of a multipart upload', async () => {
    const target = new S3Target({ bucket: 'backups', prefix: 'crash/' }, s3());
    let parts = 0;
    store.onRequest((req) => {
      if (req.method === 'PUT' && req.url?.includes('partNumber=') && ++parts === 2) store.stop();
    });
    try {
      const e = await refused(target.write('big.gsbackup', content(randomBytes(16 * MiB))), 'GS_ERR_BACKUP_STORE_FAILED');
      // the abort could not reach the store either, and the operator is told parts may remain
      expect(e.message).toContain('aborting the unfinished upload also failed');
    } finally {
      store.onRequest(undefined);
      await store.restart();
    }
    expect(await target.list()).toEqual([]);
    await expect(target.source('big.gsbackup').open()).rejects.toThrow('no such object');
    target.close();
  }, 60_000);

  it('reports a failing content stream as itself, aborts the upload and leaves no object', async () => {
    const target = new S3Target({ bucket: 'backups', prefix: 'source-failure/' }, s3());
    try {
      const failing = Readable.from((async function* () {
        for (let i = 0; i < 7 * 16; i++) yield randomBytes(64 * 1024);
        throw new Error('the database went away');
      })());
      await expect(target.write('half.gsbackup', failing)).rejects.toThrow('the database went away');
      expect(await target.list()).toEqual([]);
    } finally {
      target.close();
    }
  });

  it('trusts the CA file given for an HTTPS store, and only with it', async () => {
    const tls = selfSignedCertificate();
    const caFile = join(dir, 'store-ca.pem');
    writeFileSync(caFile, tls.cert);
    const secure = await startTestObjectStore({ buckets: ['tls'], tls });
    try {
      const trusting = new S3Target({ bucket: 'tls', prefix: '' }, s3({ endpoint: secure.endpoint, caFile }));
      await trusting.write('t.gsbackup', content(randomBytes(1000)));
      expect((await trusting.list()).map((b) => b.name)).toEqual(['t.gsbackup']);
      trusting.close();
      const untrusting = new S3Target({ bucket: 'tls', prefix: '' }, s3({ endpoint: secure.endpoint }));
      expect((await refused(untrusting.list(), 'GS_ERR_BACKUP_STORE_FAILED')).message).toMatch(/certificate/i);
      untrusting.close();
    } finally {
      await secure.close();
    }
  });
});

describe('S3 credentials', () => {
  function file(name: string, text: string, mode = 0o600): string {
    const path = join(dir, name);
    writeFileSync(path, text, { mode });
    return path;
  }
  const base: S3Options = { region: 'us-east-1', pathStyle: true };

  it('reads the shared-credentials format from an owner-only file, or both variables', () => {
    const path = file('creds', '# backup writer\n[default]\naws_access_key_id = AKID\naws_secret_access_key = s3cr3t/+=\n');
    expect(readS3Credentials({ ...base, credentialsFile: path })).toEqual({ accessKeyId: 'AKID', secretAccessKey: 's3cr3t/+=' });
    expect(readS3Credentials({ ...base, accessKeyId: 'A', secretAccessKey: 'B' })).toEqual({ accessKeyId: 'A', secretAccessKey: 'B' });
  });

  it('refuses none, half, twice, a file others can read, a file with two profiles', () => {
    const reason = (o: S3Options): string => {
      try {
        readS3Credentials(o);
      } catch (e) {
        expect((e as { code: string }).code).toBe('GS_ERR_BACKUP_STORE_CREDENTIALS');
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(reason(base)).toContain('GOVSHARE_BACKUP_S3_CREDENTIALS_FILE');
    expect(reason({ ...base, accessKeyId: 'A' })).toContain('set both');
    const good = file('creds2', 'aws_access_key_id=A\naws_secret_access_key=B\n');
    expect(reason({ ...base, credentialsFile: good, accessKeyId: 'A', secretAccessKey: 'B' })).toContain('give them in one place');
    expect(reason({ ...base, credentialsFile: file('loose', 'aws_access_key_id=A\naws_secret_access_key=B\n', 0o644) })).toContain('chmod 600');
    expect(reason({ ...base, credentialsFile: file('two', '[a]\naws_access_key_id=A\naws_secret_access_key=B\n[b]\naws_access_key_id=C\naws_secret_access_key=D\n') })).toContain('twice');
    expect(reason({ ...base, credentialsFile: file('half', 'aws_access_key_id=A\n') })).toContain('must hold both');
    expect(reason({ ...base, credentialsFile: join(dir, 'missing') })).toContain('cannot read');
  });

  it('parses s3:// locations and refuses bad ones', async () => {
    const { target, name } = await openBackupLocation('s3://backups/a/b/n.gsbackup', s3());
    expect([target.location, name, target.locationOf(name)]).toEqual(['s3://backups/a/b/', 'n.gsbackup', 's3://backups/a/b/n.gsbackup']);
    target.close();
    const t = await openTarget('s3://backups/a/b', s3());
    expect(t.location).toBe('s3://backups/a/b/');
    t.close();
    for (const bad of ['s3://Bad_Bucket/x.gsbackup', 's3://ab/x.gsbackup', 's3://backups//x.gsbackup', 's3://backups/a/../x.gsbackup', 's3://backups/']) {
      await expect(openBackupLocation(bad, s3()), bad).rejects.toThrow(/GS_ERR_BACKUP_TARGET_INVALID|not valid|segment|names no object/);
    }
  });
});

describe('backup to a bucket', () => {
  let t: TestPlatform;
  let dataDir: string;
  const key = randomBytes(32);

  async function checksums(db: Db): Promise<Record<string, string>> {
    return db.transaction().execute(async (trx) => {
      await renderSettings(trx);
      const out: Record<string, string> = {};
      for (const table of await listTables(trx)) {
        const c = await tableChecksum(trx, table);
        out[table.name] = `${c.rows}:${c.sha256}`;
      }
      return out;
    });
  }

  beforeAll(async () => {
    dataDir = join(dir, 'platform');
    mkdirSync(join(blobDirOf(dataDir), 'xx'), { recursive: true });
    // Incompressible, so the backup is large enough for a multipart upload of three parts.
    writeFileSync(join(blobDirOf(dataDir), 'xx', 'big'), randomBytes(11 * MiB));
    t = await createTestPlatform({ dataDir });
    for (let i = 1; i <= 5; i++) await t.platform.agencies.create(t.cli, agencyInput(i));
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('backs up into the bucket in parts, checks and verifies it there, restores it from there into an empty database', async () => {
    const { target, name } = await openBackupLocation('s3://backups/platform/first.gsbackup', s3());
    try {
      const result = await createBackup({ db: t.platform.db, kind: t.platform.database.kind, blobDir: blobDirOf(dataDir), target, name, key });
      console.info(`backup to the bucket: ${result.bytes} bytes in ${result.durationMs} ms (${t.platform.database.kind})`);
      expect(result.file).toBe('s3://backups/platform/first.gsbackup');
      expect(result.bytes).toBeGreaterThan(10 * MiB);
      expect((await target.list()).map((b) => [b.name, b.bytes])).toEqual([[name, result.bytes]]);
      // the store holds exactly the bytes written
      const manifest = await checkBackup(target.source(name), key, { bytes: result.bytes, sha256: result.sha256 });
      expect(manifest.tables).toEqual(result.manifest.tables);
      const e = await refused(checkBackup(target.source(name), key, { bytes: result.bytes, sha256: '0'.repeat(64) }), 'GS_ERR_BACKUP_CORRUPT');
      expect(e.message).toContain('differs from what was written');
      const verified = await verifyBackup(target.source(name), key);
      expect(verified.manifest.blobs).toEqual(result.manifest.blobs);

      const empty = await openDatabase({ kind: 'pglite', dir: undefined });
      const blobs = join(dir, 'restored', 'blobs');
      try {
        await restoreBackup(empty.db, target.source(name), key, { force: false, blobDir: blobs, location: 'empty' });
        expect(await checksums(empty.db)).toEqual(await checksums(t.platform.db));
        expect(readdirSync(join(blobs, 'xx'))).toEqual(['big']);
      } finally {
        await empty.close();
      }
      // the same name again: refused before the snapshot is read
      await refused(createBackup({ db: t.platform.db, kind: t.platform.database.kind, blobDir: blobDirOf(dataDir), target, name, key }), 'GS_ERR_BACKUP_FILE');
    } finally {
      target.close();
    }
  }, 120_000);
});
