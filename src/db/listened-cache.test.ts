import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../../test/helpers/platform.js';
import { ListenedCache } from './listened-cache.js';

/** A channel of each test's own: a notification one test sent must not reach another's cache. */
let channel = 'govshare_test_cache_0';
let channels = 0;

let t: TestPlatform;

beforeAll(async () => {
  t = await createTestPlatform();
});

afterAll(async () => {
  await t?.close();
});

function cacheOf(ttlMs = 60_000, now: () => Date = t.clock.now): ListenedCache<string> {
  channel = `govshare_test_cache_${++channels}`;
  return new ListenedCache<string>({ channel, listen: t.platform.database.listen, now, ttlMs });
}

async function notify(): Promise<void> {
  await sql`select pg_notify(${channel}, 'changed')`.execute(t.platform.db);
}

/** Waits until the cache has seen `resets` resets (a notification arrives after its commit). */
async function resetsReach(cache: ListenedCache<string>, resets: number): Promise<void> {
  const until = Date.now() + 2_000;
  while (cache.stats().resets < resets && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  expect(cache.stats().resets).toBeGreaterThanOrEqual(resets);
}

describe('a cache emptied through LISTEN', () => {
  it('keeps nothing before it listens or after it stopped: every get reads', async () => {
    const cache = cacheOf();
    let reads = 0;
    const load = async () => `v${++reads}`;
    expect(await cache.get('k', load)).toBe('v1');
    expect(await cache.get('k', load)).toBe('v2');
    await cache.start();
    expect(await cache.get('k', load)).toBe('v3');
    expect(await cache.get('k', load)).toBe('v3');
    await cache.stop();
    expect(await cache.get('k', load)).toBe('v4');
    expect(cache.stats().size).toBe(0);
  });

  it('keeps a value until a notification on its channel, then reads again', async () => {
    const cache = cacheOf();
    await cache.start();
    try {
      let reads = 0;
      const load = async () => `v${++reads}`;
      expect(await cache.get('k', load)).toBe('v1');
      expect(await cache.get('k', load)).toBe('v1');
      expect(cache.stats()).toMatchObject({ hits: 1, loads: 1, size: 1 });
      const resets = cache.stats().resets;
      await notify();
      await resetsReach(cache, resets + 1);
      expect(await cache.get('k', load)).toBe('v2');
    } finally {
      await cache.stop();
    }
  });

  it('does not keep what a load read while a change was announced (the change may be missing from it)', async () => {
    const cache = cacheOf();
    await cache.start();
    try {
      const resets = cache.stats().resets;
      const slow = cache.get('k', async () => {
        await notify();
        await resetsReach(cache, resets + 1);
        return 'read before the change';
      });
      expect(await slow).toBe('read before the change');
      expect(cache.stats()).toMatchObject({ discardedLoads: 1, size: 0 });
      expect(await cache.get('k', async () => 'fresh')).toBe('fresh');
      expect(await cache.get('k', async () => 'not read')).toBe('fresh');
    } finally {
      await cache.stop();
    }
  });

  it('reads again once a value is older than its time to live (a missed notification cannot keep it for ever)', async () => {
    // A clock that moves only when told (the test clock also runs with real time).
    let nowMs = Date.now();
    const cache = cacheOf(1_000, () => new Date(nowMs));
    await cache.start();
    try {
      expect(await cache.get('k', async () => 'first')).toBe('first');
      nowMs += 999;
      expect(await cache.get('k', async () => 'second')).toBe('first');
      nowMs += 2;
      expect(await cache.get('k', async () => 'second')).toBe('second');
    } finally {
      await cache.stop();
    }
  });

  it('passes a failed load on and keeps nothing of it', async () => {
    const cache = cacheOf();
    await cache.start();
    try {
      await expect(cache.get('k', () => Promise.reject(new Error('database gone')))).rejects.toThrow('database gone');
      expect(cache.stats().size).toBe(0);
      expect(await cache.get('k', async () => 'after')).toBe('after');
    } finally {
      await cache.stop();
    }
  });
});
