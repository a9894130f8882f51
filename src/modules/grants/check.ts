import type { DatabaseHandle, Db, Listener } from '../../db/database.js';
import { GsError } from '../../lib/errors.js';
import { chinaDateOf, endOfChinaDay } from '../../lib/working-calendar.js';
import { GrantCheckStore, type GrantCheckFacts, type GrantCheckRow, type GrantCheckSource } from './check-store.js';
import { GRANT_METHODS, type GrantMethod, type MaskKind, type RowCondition } from './vocabulary.js';

export { GRANT_METHODS, type GrantMethod, type RowCondition } from './vocabulary.js';

/** The methods as the refusal messages name them. */
const METHOD_NAMES_ZH: Readonly<Record<GrantMethod, string>> = { push: '推送', pull: '获取', comparison: '比对', file: '文件' };

/**
 * The grant check (授权校验) of the exchange: may business system S use resource R by method M,
 * and under which grant? Answers come from an in-process cache, invalidated through the
 * `govshare_grants` channel (migration 0010); the rules it keeps are in README.md beside this file.
 */

/** The grant in force for (system, resource, method): what the exchange enforces. */
export interface EffectiveGrant {
  readonly grantId: string;
  readonly requestId: string;
  readonly consumerAgencyId: string;
  readonly consumerSystemId: string;
  readonly entryId: string;
  readonly resourceCode: string;
  readonly providerAgencyId: string;
  readonly method: GrantMethod;
  readonly items: readonly string[];
  /** Every condition must hold for a row to be delivered. */
  readonly rowFilter: readonly RowCondition[];
  /** Items not named are delivered as they are. */
  readonly masking: Readonly<Record<string, MaskKind>>;
  readonly ratePerMinute: number | null;
  readonly volumePerDay: number | null;
  readonly purpose: string;
  /** YYYY-MM-DD China time, the last day in force. */
  readonly validUntil: string;
  readonly version: number;
}

/**
 * The refusals, most informative first: when several grants exist and none is in force, the
 * refusal of the grant earliest in this list is given (see `refusalOf`).
 */
export const GRANT_REFUSAL_CODES = [
  'GS_ERR_GRANT_SYSTEM_INACTIVE',
  'GS_ERR_GRANT_RESOURCE_WITHDRAWN',
  'GS_ERR_GRANT_NONE',
  'GS_ERR_GRANT_METHOD',
  'GS_ERR_GRANT_SUSPENDED',
  'GS_ERR_GRANT_NOT_YET_VALID',
  'GS_ERR_GRANT_REVOKED',
  'GS_ERR_GRANT_EXPIRED',
] as const;
export type GrantRefusalCode = (typeof GRANT_REFUSAL_CODES)[number];

export type GrantDecision =
  | { readonly allowed: true; readonly grant: EffectiveGrant }
  | { readonly allowed: false; readonly code: GrantRefusalCode; readonly grantId?: string };

/** The refusal as the error the exchange answers with (HTTP 403). */
export function refusalError(decision: Extract<GrantDecision, { allowed: false }>, systemId: string, resource: string, method: GrantMethod): GsError {
  return new GsError(decision.code, { systemId, resource, method, methodZh: METHOD_NAMES_ZH[method], grantId: decision.grantId ?? '' });
}

export interface GrantCheckOptions {
  readonly db: Db;
  /** The database handle's LISTEN (DatabaseHandle.listen). */
  readonly listen: DatabaseHandle['listen'];
  /** The platform's clock: validity is judged by it, not by the database's. */
  readonly now: () => Date;
  /** Safety net against a missed notification: no answer is served from the cache for longer. */
  readonly ttlMs?: number;
  /** Bound on cached (system, resource) pairs (each holds the answers for the four methods). */
  readonly maxEntries?: number;
  /** Where facts are read; the store by default (tests wrap it). */
  readonly source?: GrantCheckSource;
}

export const GRANT_CHANNEL = 'govshare_grants';
export const DEFAULT_TTL_MS = 60_000;
export const DEFAULT_MAX_ENTRIES = 100_000;
const MAX_CHANGE_MARKS = 10_000;

/** The four answers for one (system, resource), valid until `expiresAt` (ms since the epoch). */
interface CachedPair {
  readonly decisions: readonly GrantDecision[];
  readonly expiresAt: number;
}

export interface GrantCheckStats {
  readonly hits: number;
  readonly loads: number;
  /** Loads whose answer was not cached because a notification or reset came meanwhile. */
  readonly discardedLoads: number;
  readonly notifications: number;
  readonly resets: number;
  /** Cached (system, resource) pairs. */
  readonly size: number;
}

/** A method's place in a pair's answers (GRANT_METHODS order); a Map, so no inherited key matches. */
const METHOD_INDEX: ReadonlyMap<string, number> = new Map(GRANT_METHODS.map((m, i) => [m, i]));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NO_SYSTEM: GrantDecision = Object.freeze({ allowed: false, code: 'GS_ERR_GRANT_NONE' });
const UNKNOWN_METHOD: GrantDecision = Object.freeze({ allowed: false, code: 'GS_ERR_GRANT_METHOD' });

export class GrantCheck {
  readonly #source: GrantCheckSource;
  readonly #listen: DatabaseHandle['listen'];
  readonly #now: () => Date;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  /** systemId → resource code → the pair's answers. */
  #cache = new Map<string, Map<string, CachedPair>>();
  #size = 0;
  /**
   * The generation rule: a load stores its answer only if nothing it depends on changed since it
   * started, for a change committed while it ran may not be in what it read. `#generation` counts
   * notifications and resets; `#changedAt` says when a system or resource last changed (its
   * notification's generation), `#resetAt` when everything did. Bounded: past
   * MAX_CHANGE_MARKS it is cleared and counts as a reset (loads in flight are then discarded).
   */
  #generation = 0;
  #resetAt = 0;
  #changedAt = new Map<string, number>();
  /** Loads in progress, shared by concurrent misses of the same pair (same generation only). */
  #inFlight = new Map<string, Promise<readonly GrantDecision[]>>();
  #listener: Listener | undefined;
  #starting: Promise<void> | undefined;
  #stats = { hits: 0, loads: 0, discardedLoads: 0, notifications: 0, resets: 0 };

  constructor(options: GrantCheckOptions) {
    this.#source = options.source ?? new GrantCheckStore(options.db);
    this.#listen = options.listen;
    this.#now = options.now;
    this.#ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  }

  /** Subscribes to the invalidation channel; until then every check reads the database. */
  start(): Promise<void> {
    this.#starting ??= this.#listen(
      GRANT_CHANNEL,
      (payload) => this.#invalidate(payload),
      () => this.#reset(),
    ).then(
      (listener) => {
        this.#listener = listener;
        // Whatever was cached before listening may have missed a change.
        this.#reset();
      },
      (e: unknown) => {
        this.#starting = undefined;
        throw e;
      },
    );
    return this.#starting;
  }

  async stop(): Promise<void> {
    const starting = this.#starting;
    this.#starting = undefined;
    await starting?.catch(() => undefined);
    const listener = this.#listener;
    this.#listener = undefined;
    this.#reset();
    await listener?.close();
  }

  /**
   * The effective grant of `systemId` for `resource` (a resource code) and `method`, or the
   * refusal. A plain value when the answer is cached (the exchange's hot path), else a promise.
   */
  check(systemId: string, resource: string, method: GrantMethod): GrantDecision | Promise<GrantDecision> {
    const index = METHOD_INDEX.get(method);
    if (index === undefined) return UNKNOWN_METHOD;
    const cached = this.#cache.get(systemId)?.get(resource);
    if (cached !== undefined && cached.expiresAt > this.#now().getTime()) {
      this.#stats.hits += 1;
      return cached.decisions[index]!;
    }
    if (!UUID.test(systemId)) return NO_SYSTEM;
    return this.#load(systemId, resource).then((decisions) => decisions[index]!);
  }

  stats(): GrantCheckStats {
    return { ...this.#stats, size: this.#size };
  }

  #load(systemId: string, resource: string): Promise<readonly GrantDecision[]> {
    const key = `${systemId}\u0000${resource}`;
    const running = this.#inFlight.get(key);
    if (running) return running;
    const loading = this.#loadFresh(systemId, resource, this.#generation).finally(() => {
      if (this.#inFlight.get(key) === loading) this.#inFlight.delete(key);
    });
    this.#inFlight.set(key, loading);
    return loading;
  }

  async #loadFresh(systemId: string, resource: string, generation: number): Promise<readonly GrantDecision[]> {
    this.#stats.loads += 1;
    const facts = await this.#source.load(systemId, resource);
    const now = this.#now().getTime();
    const { decisions, changesAt } = decideAll(facts, now);
    if (this.#listener !== undefined && this.#unchangedSince(generation, systemId, resource)) {
      this.#store(systemId, resource, { decisions, expiresAt: Math.min(changesAt, now + this.#ttlMs) });
    } else {
      this.#stats.discardedLoads += 1;
    }
    return decisions;
  }

  #store(systemId: string, resource: string, pair: CachedPair): void {
    let bySystem = this.#cache.get(systemId);
    if (bySystem === undefined) {
      bySystem = new Map();
      this.#cache.set(systemId, bySystem);
    }
    if (!bySystem.has(resource)) {
      if (this.#size >= this.#maxEntries) {
        // Clear when full: the working set of a platform is far below the bound, so this is a
        // safety valve, not an eviction policy worth the bookkeeping of an LRU on the hot path.
        this.#cache = new Map([[systemId, (bySystem = new Map())]]);
        this.#size = 0;
      }
      this.#size += 1;
    }
    bySystem.set(resource, pair);
  }

  #unchangedSince(generation: number, systemId: string, resource: string): boolean {
    return this.#resetAt <= generation && (this.#changedAt.get(`system:${systemId}`) ?? 0) <= generation && (this.#changedAt.get(`entry:${resource}`) ?? 0) <= generation;
  }

  /** `system:<id>` drops that system's answers, `entry:<resource code>` that resource's. */
  #invalidate(payload: string): void {
    this.#stats.notifications += 1;
    this.#generation += 1;
    if (payload.startsWith('system:')) {
      const systemId = payload.slice('system:'.length);
      this.#mark(payload);
      this.#forgetInFlight((key) => key.startsWith(`${systemId}\u0000`));
      const bySystem = this.#cache.get(systemId);
      if (bySystem) {
        this.#size -= bySystem.size;
        this.#cache.delete(systemId);
      }
    } else if (payload.startsWith('entry:')) {
      const resource = payload.slice('entry:'.length);
      this.#mark(payload);
      this.#forgetInFlight((key) => key.endsWith(`\u0000${resource}`));
      for (const bySystem of this.#cache.values()) if (bySystem.delete(resource)) this.#size -= 1;
    } else {
      // Unknown payload: a newer writer announcing a change this version cannot place.
      this.#resetAt = this.#generation;
      this.#inFlight.clear();
      this.#clear();
    }
  }

  #mark(subject: string): void {
    if (this.#changedAt.size >= MAX_CHANGE_MARKS) {
      this.#changedAt.clear();
      this.#resetAt = this.#generation;
    }
    this.#changedAt.set(subject, this.#generation);
  }

  /** Later misses must not join a load that may have read before the change. */
  #forgetInFlight(affected: (key: string) => boolean): void {
    for (const key of this.#inFlight.keys()) if (affected(key)) this.#inFlight.delete(key);
  }

  #reset(): void {
    this.#stats.resets += 1;
    this.#generation += 1;
    this.#resetAt = this.#generation;
    this.#changedAt.clear();
    this.#inFlight.clear();
    this.#clear();
  }

  #clear(): void {
    this.#cache = new Map();
    this.#size = 0;
  }
}

/**
 * The answer for each method (in GRANT_METHODS order) and the first instant after `now` at which
 * one of them may change by the clock alone (a grant's start, or the end of its last day).
 */
function decideAll(facts: GrantCheckFacts, now: number): { decisions: readonly GrantDecision[]; changesAt: number } {
  let changesAt = Number.POSITIVE_INFINITY;
  for (const g of facts.grants) {
    const from = g.validFrom.getTime();
    const end = endOfChinaDay(g.validUntil).getTime();
    if (from > now) changesAt = Math.min(changesAt, from);
    if (end > now) changesAt = Math.min(changesAt, end);
  }
  const today = chinaDateOf(new Date(now));
  const decisions = GRANT_METHODS.map((method) => Object.freeze(decide(facts, method, now, today)));
  return { decisions, changesAt };
}

function decide(facts: GrantCheckFacts, method: GrantMethod, now: number, today: string): GrantDecision {
  if (facts.systemStatus === null) return { allowed: false, code: 'GS_ERR_GRANT_NONE' };
  if (facts.systemStatus !== 'active') return { allowed: false, code: 'GS_ERR_GRANT_SYSTEM_INACTIVE' };
  // A code is only ever given to a published entry, so a known code that is not published now
  // belongs to a withdrawn one. Said also to a system without grants: the catalog is public.
  if (facts.entryStatus !== null && facts.entryStatus !== 'published') return { allowed: false, code: 'GS_ERR_GRANT_RESOURCE_WITHDRAWN' };
  if (facts.grants.length === 0) return { allowed: false, code: 'GS_ERR_GRANT_NONE' };
  const forMethod = facts.grants.filter((g) => g.shareMethod === method);
  if (forMethod.length === 0) return { allowed: false, code: 'GS_ERR_GRANT_METHOD' };
  let effective: GrantCheckRow | undefined;
  let refusal: { code: GrantRefusalCode; grant: GrantCheckRow } | undefined;
  for (const g of forMethod) {
    const code = refusalOf(g, now, today);
    if (code === undefined) {
      if (effective === undefined || later(g, effective)) effective = g;
    } else if (refusal === undefined || rank(code) < rank(refusal.code) || (code === refusal.code && later(g, refusal.grant))) {
      refusal = { code, grant: g };
    }
  }
  if (effective) return { allowed: true, grant: effectiveGrant(effective, method) };
  return { allowed: false, code: refusal!.code, grantId: refusal!.grant.id };
}

/**
 * Why one grant is not in force at `now`, or undefined when it is. Revoked is final whatever the
 * dates; otherwise a grant whose last day has passed is expired whatever its status says (the
 * expiry sweeper sets the status later); a suspended one is suspended; an active one is in
 * force from valid_from to the end of valid_until, China time.
 */
function refusalOf(g: GrantCheckRow, now: number, today: string): GrantRefusalCode | undefined {
  if (g.status === 'revoked') return 'GS_ERR_GRANT_REVOKED';
  if (g.status === 'expired' || today > g.validUntil) return 'GS_ERR_GRANT_EXPIRED';
  if (g.status === 'suspended') return 'GS_ERR_GRANT_SUSPENDED';
  if (g.status !== 'active') return 'GS_ERR_GRANT_REVOKED';
  if (g.validFrom.getTime() > now) return 'GS_ERR_GRANT_NOT_YET_VALID';
  return undefined;
}

function rank(code: GrantRefusalCode): number {
  return GRANT_REFUSAL_CODES.indexOf(code);
}

/** The grant lasting longer wins; then the newer one, so that the choice never depends on row order. */
function later(a: GrantCheckRow, b: GrantCheckRow): boolean {
  if (a.validUntil !== b.validUntil) return a.validUntil > b.validUntil;
  if (a.validFrom.getTime() !== b.validFrom.getTime()) return a.validFrom.getTime() > b.validFrom.getTime();
  return a.id > b.id;
}

function effectiveGrant(g: GrantCheckRow, method: GrantMethod): EffectiveGrant {
  // The JSON columns are written only by the grants service, which validates them.
  const rowFilter = g.rowFilter.map((c) => Object.freeze({ item: c.item, op: c.op as RowCondition['op'], values: Object.freeze([...c.values]) }));
  return Object.freeze({
    grantId: g.id,
    requestId: g.requestId,
    consumerAgencyId: g.consumerAgencyId,
    consumerSystemId: g.consumerSystemId,
    entryId: g.entryId,
    resourceCode: g.resourceCode,
    providerAgencyId: g.providerAgencyId,
    method,
    items: Object.freeze([...g.items]),
    rowFilter: Object.freeze(rowFilter),
    masking: Object.freeze({ ...g.masking }) as Readonly<Record<string, MaskKind>>,
    ratePerMinute: g.ratePerMinute,
    volumePerDay: g.volumePerDay,
    purpose: g.purpose,
    validUntil: g.validUntil,
    version: g.version,
  });
}
