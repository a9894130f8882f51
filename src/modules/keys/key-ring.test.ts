import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { refused } from '../../../test/helpers/platform.js';
import type { DatabaseHandle } from '../../db/database.js';
import { createTestDatabase } from '../../db/test-database.js';
import { loadConfig } from '../../server/config.js';
import { Platform } from '../../server/platform.js';
import { KeyRing } from './key-ring.js';
import { checkPassphraseStrength, MasterPassphrase, SCRYPT_COST } from './passphrase.js';

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

describe('KeyRing from a passphrase', () => {
  // A database of its own: each test starts from a platform without a key check.
  let db: DatabaseHandle;
  let keysDir: string;
  const PASSPHRASE = '衡阳 政务 共享 交换 平台 主密钥 2024';
  const fromEnv = (text: string) => new MasterPassphrase(text, 'GOVSHARE_MASTER_PASSPHRASE');
  const passphraseFile = (name: string, text: string, mode = 0o600): string => {
    const path = join(keysDir, name);
    writeFileSync(path, text, { mode });
    chmodSync(path, mode);
    return path;
  };
  const storedCheck = async (): Promise<unknown> =>
    (await db.db.selectFrom('platformSettings').select('value').where('key', '=', 'keys.masterKeyCheck').executeTakeFirstOrThrow()).value;

  beforeAll(async () => {
    db = await createTestDatabase();
    keysDir = mkdtempSync(join(tmpdir(), 'gs-passphrase-'));
  });
  afterAll(async () => {
    await db?.close();
    rmSync(keysDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await db.db.deleteFrom('platformSettings').where('key', '=', 'keys.masterKeyCheck').execute();
  });

  it('derives the key with scrypt and a random salt stored beside the key check, and derives it again at the next start', async () => {
    const dataDir = join(keysDir, 'data-derive');
    const first = await KeyRing.open(db.db, { keyFile: undefined, passphraseFile: passphraseFile('derive.pass', `${PASSPHRASE}\n`), dataDir });
    expect(first.generated).toBe(false);
    const stored = (await storedCheck()) as { check: string; scrypt: { N: number; r: number; p: number; salt: string } };
    expect(stored.scrypt).toMatchObject(SCRYPT_COST);
    expect(Buffer.from(stored.scrypt.salt, 'base64')).toHaveLength(16);
    expect(stored.check).toMatch(new RegExp(`^gsk1\\.${first.keyId}\\.`));
    expect(JSON.stringify(stored)).not.toContain('主密钥');
    // Given from the environment (without the file's line break), the same passphrase is the same key.
    const again = await KeyRing.open(db.db, { keyFile: undefined, passphrase: fromEnv(PASSPHRASE), dataDir });
    expect(again.keyId).toBe(first.keyId);
    expect(again.open(first.seal(Buffer.from('ca private key'), 'pki.caKey'), 'pki.caKey').toString()).toBe('ca private key');
    // No quick-start key is made when a passphrase is given.
    expect(existsSync(join(dataDir, 'master.key'))).toBe(false);
  });

  it('gives another platform (another salt) another key from the same passphrase', async () => {
    const a = await KeyRing.open(db.db, { keyFile: undefined, passphrase: fromEnv(PASSPHRASE), dataDir: keysDir });
    await db.db.deleteFrom('platformSettings').where('key', '=', 'keys.masterKeyCheck').execute();
    const b = await KeyRing.open(db.db, { keyFile: undefined, passphrase: fromEnv(PASSPHRASE), dataDir: keysDir });
    expect(b.keyId).not.toBe(a.keyId);
  });

  it('servers starting together on one database agree on one salt', async () => {
    const rings = await Promise.all([1, 2, 3].map(() => KeyRing.open(db.db, { keyFile: undefined, passphrase: fromEnv(PASSPHRASE), dataDir: keysDir })));
    expect(new Set(rings.map((r) => r.keyId)).size).toBe(1);
  });

  it('refuses a wrong passphrase at start without echoing either passphrase', async () => {
    await KeyRing.open(db.db, { keyFile: undefined, passphrase: fromEnv(PASSPHRASE), dataDir: keysDir });
    const e = await refused(KeyRing.open(db.db, { keyFile: undefined, passphrase: fromEnv('another long passphrase, wrong'), dataDir: keysDir }), 'GS_ERR_KEYS_WRONG_MASTER_KEY');
    expect(e.message).toContain('GOVSHARE_MASTER_PASSPHRASE');
    for (const text of [e.message, e.messageZh, JSON.stringify(e.params)]) {
      expect(text).not.toContain('wrong');
      expect(text).not.toContain('主密钥 2024');
    }
  });

  it('refuses a key file on a passphrase platform and a passphrase on a key-file platform, saying which it needs', async () => {
    await KeyRing.open(db.db, { keyFile: undefined, passphrase: fromEnv(PASSPHRASE), dataDir: keysDir });
    const keyFile = join(keysDir, 'some.key');
    writeFileSync(keyFile, Buffer.alloc(32, 9).toString('base64'), { mode: 0o600 });
    const onPassphrase = await refused(KeyRing.open(db.db, { keyFile, dataDir: keysDir }), 'GS_ERR_KEYS_WRONG_MASTER_KEY');
    expect(onPassphrase.params.expected).toContain('a passphrase');

    await db.db.deleteFrom('platformSettings').where('key', '=', 'keys.masterKeyCheck').execute();
    await KeyRing.open(db.db, { keyFile, dataDir: keysDir });
    const onKeyFile = await refused(KeyRing.open(db.db, { keyFile: undefined, passphrase: fromEnv(PASSPHRASE), dataDir: keysDir }), 'GS_ERR_KEYS_WRONG_MASTER_KEY');
    expect(onKeyFile.params.expected).toContain('a key file');
  });

  it('without any key on a passphrase platform: serve and init say it is missing (making no key file), other commands run keyless', async () => {
    await KeyRing.open(db.db, { keyFile: undefined, passphrase: fromEnv(PASSPHRASE), dataDir: keysDir });
    const dataDir = join(keysDir, 'data-keyless');
    const e = await refused(KeyRing.open(db.db, { keyFile: undefined, dataDir }), 'GS_ERR_KEYS_MASTER_KEY_MISSING');
    expect(e.message).toContain('initialised with a passphrase');
    expect(existsSync(join(dataDir, 'master.key'))).toBe(false);
    expect((await KeyRing.open(db.db, { keyFile: undefined, dataDir, mayGenerate: false })).available).toBe(false);
  });

  it('refuses a key given two ways, naming both', async () => {
    const keyFile = join(keysDir, 'both.key');
    writeFileSync(keyFile, Buffer.alloc(32, 3).toString('base64'), { mode: 0o600 });
    const e = await refused(KeyRing.open(db.db, { keyFile, passphrase: fromEnv(PASSPHRASE), dataDir: keysDir }), 'GS_ERR_CONFIG_INVALID');
    expect(e.message).toContain('GOVSHARE_MASTER_KEY_FILE and GOVSHARE_MASTER_PASSPHRASE');
  });

  it('refuses an unusable passphrase file: missing, readable by others', async () => {
    await refused(KeyRing.open(db.db, { keyFile: undefined, passphraseFile: join(keysDir, 'absent.pass'), dataDir: keysDir }), 'GS_ERR_KEYS_MASTER_KEY_INVALID');
    const loose = passphraseFile('loose.pass', PASSPHRASE, 0o640);
    const e = await refused(KeyRing.open(db.db, { keyFile: undefined, passphraseFile: loose, dataDir: keysDir }), 'GS_ERR_KEYS_MASTER_KEY_INVALID');
    expect(e.message).toContain('chmod 600');
  });

  it('refuses a weak passphrase before touching the database', async () => {
    const short = await refused(KeyRing.open(db.db, { keyFile: undefined, passphrase: fromEnv('fifteen chars!!'), dataDir: keysDir }), 'GS_ERR_KEYS_PASSPHRASE_WEAK');
    expect(short.message).toContain('15 characters');
    expect(short.message).toContain('GOVSHARE_MASTER_PASSPHRASE');
    expect(short.message).not.toContain('fifteen');
    const repetitive = await refused(KeyRing.open(db.db, { keyFile: undefined, passphrase: fromEnv('abcabcabcabcabcabcabc'), dataDir: keysDir }), 'GS_ERR_KEYS_PASSPHRASE_WEAK');
    expect(repetitive.message).toContain('3 different characters');
    // A trailing line break does not count; sixteen 汉字 do (characters, not bytes).
    await refused(Promise.resolve().then(() => checkPassphraseStrength(fromEnv('abcdefghijklmno\n'))), 'GS_ERR_KEYS_PASSPHRASE_WEAK');
    expect(() => checkPassphraseStrength(fromEnv('政务信息资源共享交换平台的主密钥'))).not.toThrow();
    expect(await db.db.selectFrom('platformSettings').select('key').where('key', '=', 'keys.masterKeyCheck').executeTakeFirst()).toBeUndefined();
  });

  it('refuses damaged or outlandish stored parameters instead of deriving with them', async () => {
    await KeyRing.open(db.db, { keyFile: undefined, passphrase: fromEnv(PASSPHRASE), dataDir: keysDir });
    const stored = (await storedCheck()) as { check: string; scrypt: Record<string, unknown> };
    for (const scrypt of [{ ...stored.scrypt, N: 2 ** 30 }, { ...stored.scrypt, N: 100_000 }, { ...stored.scrypt, salt: '' }, null]) {
      await db.db.updateTable('platformSettings').set({ value: JSON.stringify({ ...stored, scrypt }) }).where('key', '=', 'keys.masterKeyCheck').execute();
      await refused(KeyRing.open(db.db, { keyFile: undefined, passphrase: fromEnv(PASSPHRASE), dataDir: keysDir }), 'GS_ERR_KEYS_MASTER_KEY_INVALID');
    }
  });

  it('never shows the passphrase when a config holding it is printed or serialised', () => {
    const config = loadConfig({ env: { GOVSHARE_MASTER_PASSPHRASE: PASSPHRASE } });
    expect(config.masterPassphrase?.reveal()).toBe(PASSPHRASE);
    for (const shown of [JSON.stringify(config), inspect(config), String(config.masterPassphrase)]) {
      expect(shown).not.toContain('主密钥');
      expect(shown).toContain('[passphrase from GOVSHARE_MASTER_PASSPHRASE]');
    }
  });
});

describe('the platform on a passphrase-derived key', () => {
  it('seals the CA key, the server TLS key and the audit signing keys, and a restart with the passphrase opens them', async () => {
    const handle = await createTestDatabase();
    try {
      const config = loadConfig({ env: {}, overrides: { logLevel: 'silent' } });
      const passphrase = new MasterPassphrase('a platform started from its passphrase', 'GOVSHARE_MASTER_PASSPHRASE');
      const first = Platform.fromDatabase(handle, config, undefined, await KeyRing.open(handle.db, { keyFile: undefined, passphrase, dataDir: dir }));
      await first.bootstrap();
      const tls = await first.pki.serverCredentials(['localhost']);
      await first.audit.checkpoint();

      // What the next start does: derive the key again from the passphrase and the stored salt.
      const restarted = Platform.fromDatabase(handle, config, undefined, await KeyRing.open(handle.db, { keyFile: undefined, passphrase, dataDir: dir }));
      expect(await restarted.pki.caCertificatePem()).toBe(await first.pki.caCertificatePem());
      expect((await restarted.pki.serverCredentials(['localhost'])).key).toBe(tls.key);
      expect(await restarted.pki.crl()).toBeInstanceOf(Buffer); // signed with the unsealed CA key
      expect((await restarted.audit.verify()).ok).toBe(true);
    } finally {
      await handle.close();
    }
  }, 60_000);
});
