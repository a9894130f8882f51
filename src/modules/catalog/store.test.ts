import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../db/database.js';
import { createTestDatabase } from '../../db/test-database.js';
import { CatalogStore } from './store.js';

let database: DatabaseHandle;
let store: CatalogStore;

beforeAll(async () => {
  database = await createTestDatabase();
  store = new CatalogStore(database.db);
});
afterAll(async () => database?.close());

/** Holds a transaction open after `step` until `release` is called. */
function heldTransaction<T>(step: (trx: DatabaseHandle['db']) => Promise<T>) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let value: T | undefined;
  const done = database.db.transaction().execute(async (trx) => {
    value = await step(trx);
    await gate;
  });
  return { release, done, value: () => value };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await sleep(10);
  expect(check()).toBe(true);
}

describe('the change feed counter', () => {
  it('makes a second publishing transaction wait until the first commits, so feed numbers commit in order', async () => {
    const first = heldTransaction((trx) => store.allocateFeedSeq(trx));
    await until(() => first.value() !== undefined);
    let second: number | undefined;
    const secondDone = database.db.transaction().execute(async (trx) => {
      second = await store.allocateFeedSeq(trx);
    });
    // While the first publisher has not committed, the second has no number: a reader can never
    // see the later number committed before the earlier one.
    await sleep(300);
    expect(second).toBeUndefined();
    first.release();
    await first.done;
    await secondDone;
    expect(second).toBe(first.value()! + 1);
  });

  it('leaves no gap for a publication that rolled back: the next one takes its number', async () => {
    let taken = 0;
    await database.db
      .transaction()
      .execute(async (trx) => {
        taken = await store.allocateFeedSeq(trx);
        throw new Error('publication failed');
      })
      .catch(() => undefined);
    const next = await database.db.transaction().execute((trx) => store.allocateFeedSeq(trx));
    // The counter row rolled back with the failed publication.
    expect(next).toBe(taken);
  });
});

describe('resource code sequences', () => {
  it('counts per classification code from 1', async () => {
    const take = (code: string) => database.db.transaction().execute((trx) => store.nextSequence(code, trx));
    expect([await take('101001'), await take('101001'), await take('201001'), await take('101001')]).toEqual([1, 2, 1, 3]);
  });
});
