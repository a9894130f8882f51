import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refused } from '../../../test/helpers/platform.js';
import type { DatabaseHandle } from '../../db/database.js';
import { createTestDatabase } from '../../db/test-database.js';
import { KeyRing } from './key-ring.js';

let handle: DatabaseHandle;
let dir: string;
beforeAll(async () => {
  handle = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'gs-keys-'));
});
afterAll(async () => {
  await handle?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('KeyRing', () => {
  it('seals and opens, binding the context', async () => {
    const ring = KeyRing.ephemeral();
    const sealed = ring.seal(Buffer.from('ca private key'), 'pki.caKey');
    expect(sealed).toMatch(/^gsk1\.[0-9a-f]{16}\./);
    expect(sealed).not.toContain('ca private key');
    expect(ring.open(sealed, 'pki.caKey').toString()).toBe('ca private key');
    await refused(Promise.resolve().then(() => ring.open(sealed, 'audit.signingKey')), 'GS_ERR_KEYS_UNSEAL');
    const altered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
    await refused(Promise.resolve().then(() => ring.open(altered, 'pki.caKey')), 'GS_ERR_KEYS_UNSEAL');
    await refused(Promise.resolve().then(() => KeyRing.ephemeral().open(sealed, 'pki.caKey')), 'GS_ERR_KEYS_UNSEAL');
  });

  it('generates an owner-only quick-start key once, and reuses it', async () => {
    const a = await KeyRing.open(handle.db, { keyFile: undefined, dataDir: dir });
    expect(a.generated).toBe(true);
    expect(statSync(join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    const b = await KeyRing.open(handle.db, { keyFile: undefined, dataDir: dir });
    expect(b.keyId).toBe(a.keyId);
    expect(b.open(a.seal(Buffer.from('x'), 'c'), 'c').toString()).toBe('x');
  });

  it('opens without a key where it may not make one, refusing only what needs the key', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'gs-keys-elsewhere-'));
    try {
      const ring = await KeyRing.open(handle.db, { keyFile: undefined, dataDir: elsewhere, mayGenerate: false });
      expect(ring.available).toBe(false);
      await refused(Promise.resolve().then(() => ring.seal(Buffer.from('x'), 'pki.caKey')), 'GS_ERR_KEYS_MASTER_KEY_MISSING');
      await refused(Promise.resolve().then(() => ring.open('gsk1.a.b.c', 'pki.caKey')), 'GS_ERR_KEYS_MASTER_KEY_MISSING');
      expect(existsSync(join(elsewhere, 'master.key'))).toBe(false);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('refuses a different key than the one the platform was initialised with', async () => {
    const other = join(dir, 'other.key');
    writeFileSync(other, Buffer.alloc(32, 7).toString('base64'), { mode: 0o600 });
    await refused(KeyRing.open(handle.db, { keyFile: other, dataDir: dir }), 'GS_ERR_KEYS_WRONG_MASTER_KEY');
  });

  it('refuses an unusable key file: missing, world-readable, not 32 bytes of base64', async () => {
    await refused(KeyRing.open(handle.db, { keyFile: join(dir, 'absent.key'), dataDir: dir }), 'GS_ERR_KEYS_MASTER_KEY_INVALID');
    const loose = join(dir, 'loose.key');
    writeFileSync(loose, readFileSync(join(dir, 'master.key')));
    chmodSync(loose, 0o644);
    await refused(KeyRing.open(handle.db, { keyFile: loose, dataDir: dir }), 'GS_ERR_KEYS_MASTER_KEY_INVALID');
    const short = join(dir, 'short.key');
    writeFileSync(short, Buffer.alloc(16, 1).toString('base64'), { mode: 0o600 });
    await refused(KeyRing.open(handle.db, { keyFile: short, dataDir: dir }), 'GS_ERR_KEYS_MASTER_KEY_INVALID');
  });
});
