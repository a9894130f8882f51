import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../db/database.js';
import { migrate } from '../../db/migrate.js';
import { createServerDatabaseUrl, createTestDatabase } from '../../db/test-database.js';
import { chinaDateOf, endOfChinaDay } from '../../lib/working-calendar.js';
import { ensureRegion, insertAgency, insertGrants, insertPublishedEntries, insertSystems, setGrantStatus, type FixtureEntry, type GrantSpec } from './check-fixtures.js';
import { GrantCheckStore, type GrantCheckFacts, type GrantCheckSource } from './check-store.js';
import { GrantCheck, refusalError, type GrantCheckOptions, type GrantDecision } from './check.js';
import type { GrantMethod } from './vocabulary.js';
import { PERMISSIONS } from '../accounts/permissions.js';
import { cliContext } from '../../server/actor.js';
import { loadConfig } from '../../server/config.js';
import { Platform } from '../../server/platform.js';

/**
 * Against a real database: in-memory PGlite, or a fresh database on the server of DATABASE_URL.
 * On the server, `other` is a second handle (its own pool and its own LISTEN connection), as a
 * second `serve` process has; on PGlite there is one instance, so `other` is the same handle.
 */
let main: DatabaseHandle;
let other: DatabaseHandle;
let closeAll: () => Promise<void>;
let consumer: string;
let provider: string;
let entryCounter = 0;
const checks: GrantCheck[] = [];

const DAY = 86_400_000;
/** The tests' clock: real time moved by `clock.advance`, or stopped at `clock.at`. */
const clock = {
  offset: 0,
  at: undefined as number | undefined,
  now: (): Date => new Date(clock.at ?? Date.now() + clock.offset),
  advance(ms: number): void {
    clock.offset += ms;
  },
};

beforeAll(async () => {
  const server = await createServerDatabaseUrl();
  if (server) {
    main = await openDatabase({ kind: 'postgres', url: server.url, poolSize: 4 });
    await migrate(main.db);
    other = await openDatabase({ kind: 'postgres', url: server.url, poolSize: 2 });
    closeAll = async () => (await main.close(), await other.close(), await server.drop());
  } else {
    main = await createTestDatabase();
    other = main;
    closeAll = () => main.close();
  }
  await ensureRegion(main.db);
  consumer = await insertAgency(main.db, 1);
  provider = await insertAgency(main.db, 2);
});

afterAll(async () => {
  for (const c of checks) await c.stop();
  await closeAll?.();
});

/** Payloads each GrantCheck received on its channel. */
const received = new WeakMap<GrantCheck, string[]>();

async function started(options: Partial<GrantCheckOptions> = {}, handle: DatabaseHandle = main): Promise<GrantCheck> {
  const payloads: string[] = [];
  const listen = options.listen ?? handle.listen;
  const c = new GrantCheck({
    db: handle.db,
    now: clock.now,
    ...options,
    listen: (channel, onMessage, onReset) =>
      listen(
        channel,
        (p) => {
          payloads.push(p);
          onMessage(p);
        },
        onReset,
      ),
  });
  received.set(c, payloads);
  checks.push(c);
  await c.start();
  return c;
}

/**
 * Waits until every notification committed so far has reached `c`: a marker (about a system
 * that does not exist) is sent last and arrives last. On the server notifications arrive after
 * the insert that caused them returns, and a load they overlap is not cached (the generation rule).
 */
async function quiet(c: GrantCheck): Promise<void> {
  const marker = `system:${randomUUID()}`;
  await sql`select pg_notify('govshare_grants', ${marker})`.execute(main.db);
  await eventually(async () => expect(received.get(c)).toContain(marker));
}

async function entries(n: number): Promise<FixtureEntry[]> {
  const made = await insertPublishedEntries(main.db, provider, n, entryCounter + 1);
  entryCounter += n;
  return made;
}

const daysFromNow = (d: number): string => chinaDateOf(new Date(clock.now().getTime() + d * DAY));

function grant(systemId: string, entry: FixtureEntry, over: Partial<GrantSpec> = {}): GrantSpec {
  return { consumerAgencyId: consumer, systemId, entry, providerAgencyId: provider, method: 'pull', validFrom: new Date(clock.now().getTime() - DAY), validUntil: daysFromNow(30), ...over };
}

async function decided(c: GrantCheck, systemId: string, resource: string, method: GrantMethod = 'pull'): Promise<GrantDecision> {
  return c.check(systemId, resource, method);
}

/** Retries `probe` until it stops throwing, or rethrows its last failure after `ms`. */
async function eventually(probe: () => Promise<void>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await probe();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/**
 * Checks until the answer comes from the cache. On the server the notifications of the fixtures'
 * own inserts arrive after the insert returns, and (the generation rule) a load they overlap is
 * not cached.
 */
async function warm(c: GrantCheck, systemId: string, resource: string, method: GrantMethod = 'pull'): Promise<GrantDecision> {
  let answer: GrantDecision | Promise<GrantDecision> = c.check(systemId, resource, method);
  const deadline = Date.now() + 5_000;
  while (answer instanceof Promise) {
    await answer;
    if (Date.now() > deadline) throw new Error('the answer never came from the cache');
    await new Promise((r) => setTimeout(r, 5));
    answer = c.check(systemId, resource, method);
  }
  return answer;
}

const refusedWith = (code: string, grantId?: string) => (grantId ? { allowed: false, code, grantId } : { allowed: false, code });

describe('GrantCheck answers', () => {
  it('allows with the effective grant, then answers from the cache as a plain value', async () => {
    const c = await started();
    const [system] = await insertSystems(main.db, consumer, 1);
    const [entry] = await entries(1);
    const validUntil = daysFromNow(60);
    const [grantId] = await insertGrants(main.db, [
      grant(system!, entry!, { validUntil, items: ['统一社会信用代码', '登记状态'], rowFilter: [{ item: '登记机关', op: 'prefix', values: ['4304'] }], masking: { 法定代表人身份证号: 'partial' }, ratePerMinute: 600 }),
    ]);
    await quiet(c);
    const first = c.check(system!, entry!.resourceCode, 'pull');
    expect(first).toBeInstanceOf(Promise);
    const decision = await first;
    expect(decision).toEqual({
      allowed: true,
      grant: {
        grantId,
        requestId: expect.any(String),
        consumerAgencyId: consumer,
        consumerSystemId: system,
        entryId: entry!.id,
        resourceCode: entry!.resourceCode,
        providerAgencyId: provider,
        method: 'pull',
        items: ['统一社会信用代码', '登记状态'],
        rowFilter: [{ item: '登记机关', op: 'prefix', values: ['4304'] }],
        masking: { 法定代表人身份证号: 'partial' },
        ratePerMinute: 600,
        volumePerDay: null,
        purpose: '行政许可审查',
        validUntil,
        version: 1,
      },
    });
    const hits = c.stats().hits;
    const second = c.check(system!, entry!.resourceCode, 'pull');
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toBe(decision);
    expect(Object.isFrozen((second as { grant: object }).grant)).toBe(true);
    // One load answered all four methods of the pair.
    expect(c.check(system!, entry!.resourceCode, 'push')).toEqual(refusedWith('GS_ERR_GRANT_METHOD'));
    expect(c.stats().hits).toBe(hits + 2);
  });

  it('refuses with a code for each reason', async () => {
    const c = await started();
    const [system, inactive, bare] = await insertSystems(main.db, consumer, 3);
    await main.db.updateTable('businessSystems').set({ status: 'inactive', statusReason: '停用' }).where('id', '=', inactive!).execute();
    const [e1, e2, e3, e4, e5, e6, withdrawn] = await entries(7);
    const [suspended, revoked, expiredByDate, expiredStatus, notYet] = await insertGrants(main.db, [
      grant(system!, e1!, { status: 'suspended' }),
      grant(system!, e2!, { status: 'revoked' }),
      // Still 'active' in the table: expiry is by date, the sweeper flips the status later.
      grant(system!, e3!, { validFrom: new Date(clock.now().getTime() - 90 * DAY), validUntil: daysFromNow(-1) }),
      grant(system!, e4!, { status: 'expired', validUntil: daysFromNow(-1) }),
      grant(system!, e5!, { validFrom: new Date(clock.now().getTime() + 3 * DAY) }),
      grant(inactive!, e6!),
      grant(system!, withdrawn!),
    ]);
    await main.db.updateTable('catalogEntries').set({ status: 'withdrawn', withdrawnAt: new Date(), withdrawalReason: '职能调整' }).where('id', '=', withdrawn!.id).execute();

    expect(await decided(c, system!, e1!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_SUSPENDED', suspended));
    expect(await decided(c, system!, e2!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_REVOKED', revoked));
    expect(await decided(c, system!, e3!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_EXPIRED', expiredByDate));
    expect(await decided(c, system!, e4!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_EXPIRED', expiredStatus));
    expect(await decided(c, system!, e5!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_NOT_YET_VALID', notYet));
    expect(await decided(c, system!, e1!.resourceCode, 'comparison')).toEqual(refusedWith('GS_ERR_GRANT_METHOD'));
    expect(await decided(c, inactive!, e6!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_SYSTEM_INACTIVE'));
    expect(await decided(c, system!, withdrawn!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_RESOURCE_WITHDRAWN'));
    // Nothing at all: a system without grants, an unknown system, an unknown resource, a malformed id.
    expect(await decided(c, bare!, e1!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_NONE'));
    expect(await decided(c, '00000000-0000-4000-8000-000000000000', e1!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_NONE'));
    expect(await decided(c, system!, '301002999999/999999')).toEqual(refusedWith('GS_ERR_GRANT_NONE'));
    expect(await decided(c, 'not-a-uuid', e1!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_NONE'));
    expect(await decided(c, system!, e1!.resourceCode, 'telnet' as GrantMethod)).toEqual(refusedWith('GS_ERR_GRANT_METHOD'));

    const refusal = (await decided(c, system!, e2!.resourceCode)) as Extract<GrantDecision, { allowed: false }>;
    const error = refusalError(refusal, system!, e2!.resourceCode, 'pull');
    expect(error.status).toBe(403);
    expect(error.message).toBe(`Grant ${revoked} of business system ${system} for resource ${e2!.resourceCode} was revoked`);
    const method = refusalError({ allowed: false, code: 'GS_ERR_GRANT_METHOD' }, system!, e1!.resourceCode, 'comparison');
    expect(method.messageZh).toBe(`业务系统 ${system} 对资源 ${e1!.resourceCode} 的授权不包括比对方式`);
  });

  it('picks the grant in force lasting longest, and the most informative refusal when none is', async () => {
    const c = await started();
    const [system] = await insertSystems(main.db, consumer, 1);
    const [several, refusals, revokedOrExpired, notYetOrRevoked] = await entries(4);
    const past = { validFrom: new Date(clock.now().getTime() - 90 * DAY), validUntil: daysFromNow(-2) };
    const [, longest] = await insertGrants(main.db, [
      grant(system!, several!, { validUntil: daysFromNow(30) }),
      grant(system!, several!, { validUntil: daysFromNow(90) }),
      grant(system!, several!, { validUntil: daysFromNow(365), status: 'revoked' }),
      grant(system!, several!, { validUntil: daysFromNow(400), status: 'suspended' }),
      grant(system!, several!, { validUntil: daysFromNow(500), validFrom: new Date(clock.now().getTime() + DAY) }),
      grant(system!, several!, { validUntil: daysFromNow(600), method: 'push' }),
    ]);
    const [, suspended] = await insertGrants(main.db, [grant(system!, refusals!, { status: 'revoked' }), grant(system!, refusals!, { status: 'suspended' }), grant(system!, refusals!, past)]);
    const [revoked] = await insertGrants(main.db, [grant(system!, revokedOrExpired!, { status: 'revoked' }), grant(system!, revokedOrExpired!, past)]);
    const [, notYet] = await insertGrants(main.db, [grant(system!, notYetOrRevoked!, { status: 'revoked' }), grant(system!, notYetOrRevoked!, { validFrom: new Date(clock.now().getTime() + 2 * DAY) })]);

    const d = await decided(c, system!, several!.resourceCode);
    expect(d.allowed && d.grant.grantId).toBe(longest);
    expect(await decided(c, system!, refusals!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_SUSPENDED', suspended));
    expect(await decided(c, system!, revokedOrExpired!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_REVOKED', revoked));
    expect(await decided(c, system!, notYetOrRevoked!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_NOT_YET_VALID', notYet));
  });
});

describe('GrantCheck invalidation', () => {
  it('sees a revocation made through another connection once the notification arrives, and keeps other systems cached', async () => {
    const c = await started();
    const [system, bystander] = await insertSystems(main.db, consumer, 2);
    const [entry] = await entries(1);
    const [grantId, bystanderGrant] = await insertGrants(main.db, [grant(system!, entry!), grant(bystander!, entry!)]);
    await quiet(c);
    expect((await decided(c, system!, entry!.resourceCode)).allowed).toBe(true);
    expect((await decided(c, bystander!, entry!.resourceCode)).allowed).toBe(true);

    await setGrantStatus(other.db, grantId!, 'revoked');
    await eventually(async () => expect(await decided(c, system!, entry!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_REVOKED', grantId)));
    // `system:<id>` dropped that system's answers only.
    const kept = c.check(bystander!, entry!.resourceCode, 'pull');
    expect(kept).not.toBeInstanceOf(Promise);
    expect((kept as GrantDecision).allowed && (kept as { grant: { grantId: string } }).grant.grantId).toBe(bystanderGrant);

    // Reinstated (suspended, then active again): allowed again.
    await setGrantStatus(other.db, grantId!, 'suspended');
    await eventually(async () => expect(await decided(c, system!, entry!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_SUSPENDED', grantId)));
    await setGrantStatus(other.db, grantId!, 'active');
    await eventually(async () => expect((await decided(c, system!, entry!.resourceCode)).allowed).toBe(true));
  });

  it('sees a new grant, a system deactivated and a resource withdrawn', async () => {
    const c = await started();
    const [system, another] = await insertSystems(main.db, consumer, 2);
    const [entry, second] = await entries(2);
    expect(await decided(c, system!, entry!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_NONE'));
    await insertGrants(other.db, [grant(system!, entry!), grant(system!, second!), grant(another!, entry!)]);
    await eventually(async () => expect((await decided(c, system!, entry!.resourceCode)).allowed).toBe(true));
    expect((await decided(c, system!, second!.resourceCode)).allowed).toBe(true);
    expect((await decided(c, another!, entry!.resourceCode)).allowed).toBe(true);

    await other.db.updateTable('businessSystems').set({ status: 'inactive', statusReason: '停用' }).where('id', '=', system!).execute();
    await eventually(async () => expect(await decided(c, system!, second!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_SYSTEM_INACTIVE')));

    await other.db.updateTable('catalogEntries').set({ status: 'withdrawn', withdrawnAt: new Date(), withdrawalReason: '职能调整' }).where('id', '=', entry!.id).execute();
    await eventually(async () => expect(await decided(c, another!, entry!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_RESOURCE_WITHDRAWN')));
  });

  it('sees a suspension and a revocation made through the grants service, on its platform', async () => {
    // The platform's own check, started as `serve` starts it; the service writes in another process's place.
    const platform = Platform.fromDatabase(main, loadConfig({ env: {}, overrides: { logLevel: 'silent' } }), clock.now);
    await platform.bootstrap();
    const writer = Platform.fromDatabase(other, loadConfig({ env: {}, overrides: { logLevel: 'silent' } }), clock.now);
    const c = platform.grantCheck;
    await c.start();
    try {
      const [system] = await insertSystems(main.db, consumer, 1);
      const [entry] = await entries(1);
      const [grantId] = await insertGrants(main.db, [grant(system!, entry!)]);
      expect((await warm(c, system!, entry!.resourceCode)).allowed).toBe(true);
      const cli = cliContext('test', new Set(PERMISSIONS));
      await writer.grants.suspend(cli, grantId!, { reason: '核查数据使用情况' });
      await eventually(async () => expect(await decided(c, system!, entry!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_SUSPENDED', grantId)));
      await writer.grants.reinstate(cli, grantId!, { reason: '核查完毕' });
      await eventually(async () => expect((await decided(c, system!, entry!.resourceCode)).allowed).toBe(true));
      await writer.grants.revoke(cli, grantId!, { reason: '超范围使用' });
      await eventually(async () => expect(await decided(c, system!, entry!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_REVOKED', grantId)));
    } finally {
      await c.stop();
    }
  });

  it('is seen by a second GrantCheck on the same database', async () => {
    const a = await started();
    const b = await started({}, other);
    const [system] = await insertSystems(main.db, consumer, 1);
    const [entry] = await entries(1);
    const [grantId] = await insertGrants(main.db, [grant(system!, entry!)]);
    expect((await decided(a, system!, entry!.resourceCode)).allowed).toBe(true);
    expect((await decided(b, system!, entry!.resourceCode)).allowed).toBe(true);
    await setGrantStatus(main.db, grantId!, 'revoked');
    await eventually(async () => {
      expect(await decided(a, system!, entry!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_REVOKED', grantId));
      expect(await decided(b, system!, entry!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_REVOKED', grantId));
    });
  });

  it('does not cache what a load read before a notification that came while it ran', async () => {
    const store = new GrantCheckStore(main.db);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let read = false;
    let held = true;
    const source: GrantCheckSource = {
      async load(systemId, resource): Promise<GrantCheckFacts> {
        const facts = await store.load(systemId, resource);
        if (held) {
          held = false;
          read = true;
          await gate;
        }
        return facts;
      },
    };
    const c = await started({ source });
    const [system] = await insertSystems(main.db, consumer, 1);
    const [entry] = await entries(1);
    const [grantId] = await insertGrants(main.db, [grant(system!, entry!)]);
    await quiet(c);
    const slow = decided(c, system!, entry!.resourceCode);
    await eventually(async () => expect(read).toBe(true));
    const notifications = c.stats().notifications;
    await setGrantStatus(other.db, grantId!, 'revoked');
    await eventually(async () => expect(c.stats().notifications).toBeGreaterThan(notifications));
    release();
    // The check that started before the revocation may answer with what it read …
    expect((await slow).allowed).toBe(true);
    expect(c.stats().discardedLoads).toBe(1);
    // … but that answer is not what the next check gets.
    const next = c.check(system!, entry!.resourceCode, 'pull');
    expect(next).toBeInstanceOf(Promise);
    expect(await next).toEqual(refusedWith('GS_ERR_GRANT_REVOKED', grantId));
  });

  it('forgets everything on a reset of the subscription', async () => {
    let reset: (() => void) | undefined;
    const c = await started({
      listen: async (channel, onMessage, onReset) => {
        reset = onReset;
        return main.listen(channel, onMessage, onReset);
      },
    });
    const [system] = await insertSystems(main.db, consumer, 1);
    const [entry] = await entries(1);
    await insertGrants(main.db, [grant(system!, entry!)]);
    await warm(c, system!, entry!.resourceCode);
    reset!();
    expect(c.stats().size).toBe(0);
    expect(c.check(system!, entry!.resourceCode, 'pull')).toBeInstanceOf(Promise);
  });
});

describe('GrantCheck and the clock', () => {
  it('stops allowing at the end of the last day, China time, without any notification', async () => {
    // A TTL longer than the rest of the day: only the end of the day can end the cached allow.
    const c = await started({ ttlMs: 2 * DAY });
    const [system] = await insertSystems(main.db, consumer, 1);
    const [entry] = await entries(1);
    const lastDay = daysFromNow(0);
    const [grantId] = await insertGrants(main.db, [grant(system!, entry!, { validUntil: lastDay })]);
    await quiet(c);
    expect((await decided(c, system!, entry!.resourceCode)).allowed).toBe(true);
    const notifications = c.stats().notifications;
    // One millisecond before the day ends: still allowed, from the cache.
    const end = endOfChinaDay(lastDay).getTime();
    clock.at = end - 1;
    try {
      const before = c.check(system!, entry!.resourceCode, 'pull');
      expect(before).not.toBeInstanceOf(Promise);
      expect((before as GrantDecision).allowed).toBe(true);
      clock.at = end;
      const after = c.check(system!, entry!.resourceCode, 'pull');
      expect(after).toBeInstanceOf(Promise);
      expect(await after).toEqual(refusedWith('GS_ERR_GRANT_EXPIRED', grantId));
      expect(c.stats().notifications).toBe(notifications);
    } finally {
      clock.at = undefined;
    }
  });

  it('starts allowing at valid_from', async () => {
    const c = await started();
    const [system] = await insertSystems(main.db, consumer, 1);
    const [entry] = await entries(1);
    const from = new Date(clock.now().getTime() + 3_600_000);
    const [grantId] = await insertGrants(main.db, [grant(system!, entry!, { validFrom: from })]);
    expect(await decided(c, system!, entry!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_NOT_YET_VALID', grantId));
    clock.advance(3_600_000);
    try {
      const d = await decided(c, system!, entry!.resourceCode);
      expect(d.allowed && d.grant.grantId).toBe(grantId);
    } finally {
      clock.offset = 0;
    }
  });

  it('reads again after the safety TTL, so a missed notification cannot last', async () => {
    // A subscription that never delivers: as if every notification were missed.
    const c = await started({ ttlMs: 60_000, listen: async () => ({ close: async () => undefined }) });
    const [system] = await insertSystems(main.db, consumer, 1);
    const [entry] = await entries(1);
    const [grantId] = await insertGrants(main.db, [grant(system!, entry!)]);
    expect((await decided(c, system!, entry!.resourceCode)).allowed).toBe(true);
    await setGrantStatus(main.db, grantId!, 'revoked');
    expect((await decided(c, system!, entry!.resourceCode)).allowed).toBe(true);
    clock.advance(60_000);
    try {
      expect(await decided(c, system!, entry!.resourceCode)).toEqual(refusedWith('GS_ERR_GRANT_REVOKED', grantId));
    } finally {
      clock.offset = 0;
    }
  });
});

describe('GrantCheck bounds and lifecycle', () => {
  it('holds at most maxEntries pairs and still answers right', async () => {
    const c = await started({ maxEntries: 3 });
    const [system] = await insertSystems(main.db, consumer, 1);
    const made = await entries(5);
    await insertGrants(main.db, made.map((e) => grant(system!, e)));
    for (const e of made) expect((await decided(c, system!, e.resourceCode)).allowed).toBe(true);
    expect(c.stats().size).toBeLessThanOrEqual(3);
    for (const e of made) expect((await decided(c, system!, e.resourceCode)).allowed).toBe(true);
    expect(c.stats().size).toBeLessThanOrEqual(3);
  });

  it('caches nothing before start and after stop', async () => {
    const c = new GrantCheck({ db: main.db, listen: main.listen, now: clock.now });
    const [system] = await insertSystems(main.db, consumer, 1);
    const [entry] = await entries(1);
    await insertGrants(main.db, [grant(system!, entry!)]);
    expect((await decided(c, system!, entry!.resourceCode)).allowed).toBe(true);
    expect(c.check(system!, entry!.resourceCode, 'pull')).toBeInstanceOf(Promise);
    await c.start();
    await warm(c, system!, entry!.resourceCode);
    await c.stop();
    expect(c.stats().size).toBe(0);
    expect((await decided(c, system!, entry!.resourceCode)).allowed).toBe(true);
    expect(c.check(system!, entry!.resourceCode, 'pull')).toBeInstanceOf(Promise);
    await c.check(system!, entry!.resourceCode, 'pull');
  });
});
