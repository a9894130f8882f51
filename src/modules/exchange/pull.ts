import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../../db/database.js';
import { GsError } from '../../lib/errors.js';
import { chinaDateOf, startOfChinaDay } from '../../lib/working-calendar.js';
import type { RequestContext } from '../../server/actor.js';
import type { AuditService } from '../audit/service.js';
import { refusalError, type EffectiveGrant, type GrantCheck } from '../grants/check.js';
import { BOOKKEEPING, qualified, type SharedColumn } from './columns.js';
import { grantView, requireGranted } from './grant-view.js';
import { checkValue } from './row-check.js';
import type { ExchangeService } from './service.js';
import { selectList, type TableShape } from './store.js';

/** One filter of a query, on a granted item. `range` bounds are inclusive; either may be absent. */
export type PullFilter =
  | { readonly item: string; readonly op: 'eq'; readonly value: unknown }
  | { readonly item: string; readonly op: 'in'; readonly values: readonly unknown[] }
  | { readonly item: string; readonly op: 'prefix'; readonly value: string }
  | { readonly item: string; readonly op: 'range'; readonly from?: unknown; readonly to?: unknown };

export interface PullQuery {
  readonly filters?: readonly PullFilter[] | undefined;
  /** Items to return (a subset of the grant's); all granted items when absent. */
  readonly items?: readonly string[] | undefined;
  /** The `next` of the previous page. */
  readonly after?: number | undefined;
  readonly limit?: number | undefined;
  /** The purpose of this call, recorded in the audit trail (the grant's purpose when absent). */
  readonly purpose?: string | undefined;
}

export interface PullPage {
  readonly grantId: string;
  readonly items: readonly string[];
  readonly rows: Record<string, unknown>[];
  /** Pass as `after` for the next page; null when this page ended the table. */
  readonly next: number | null;
}

export const PULL_DEFAULT_LIMIT = 100;
export const PULL_MAX_LIMIT = 1000;

/**
 * Acquisition (资源获取, seed 000 §24): a business system queries a shared table under its `pull`
 * grant. What the grant does not allow never leaves: filters and projection only on granted
 * items, the grant's row filter always applied, masking applied to what is returned, the quota
 * counted across servers. Every call — answered or refused — is audited with system, grant,
 * purpose, items and row count, never values.
 *
 * Paging is by keyset on the change sequence (`gs_seq`, unique and indexed): a row changed while
 * a consumer pages moves to a higher number, so it may come again with its new values, never be
 * missed.
 */
export class PullService {
  constructor(
    private readonly db: Db,
    private readonly exchange: ExchangeService,
    private readonly grants: GrantCheck,
    private readonly audit: AuditService,
    private readonly now: () => Date,
  ) {}

  async query(ctx: RequestContext, systemId: string, resourceCode: string, q: PullQuery): Promise<PullPage> {
    const decision = await this.grants.check(systemId, resourceCode, 'pull');
    if (!decision.allowed) {
      const error = refusalError(decision, systemId, resourceCode, 'pull');
      await this.#refused(ctx, resourceCode, systemId, decision.grantId ?? null, q, error.code);
      throw error;
    }
    const grant = decision.grant;
    try {
      return await this.#query(ctx, systemId, grant, resourceCode, q);
    } catch (e) {
      if (e instanceof GsError) await this.#refused(ctx, resourceCode, systemId, grant.grantId, q, e.code);
      throw e;
    }
  }

  async #query(ctx: RequestContext, systemId: string, grant: EffectiveGrant, resourceCode: string, q: PullQuery): Promise<PullPage> {
    const items = q.items ?? grant.items;
    const filters = q.filters ?? [];
    requireGranted(grant, [...items, ...filters.map((f) => f.item)]);

    const table = await this.exchange.shapeOf(resourceCode);
    const byItem = new Map(table.columns.map((c) => [c.item, c]));
    const limit = Math.min(q.limit ?? PULL_DEFAULT_LIMIT, PULL_MAX_LIMIT);
    await this.#countCall(grant);
    const remaining = await this.#rowsLeft(grant);
    const take = Math.min(limit, remaining);

    // Conditions: the consumer's filters, then the grant's row filter (SQL where the column is
    // plain; in memory after decryption for a sensitive item, which no SQL can compare).
    const where: RawBuilder<unknown>[] = [sql`not ${sql.ref(BOOKKEEPING.deleted)}`, sql`${sql.ref(BOOKKEEPING.seq)} > ${q.after ?? 0}`];
    for (const f of filters) where.push(await this.#filterSql(table, byItem, f));
    const inMemory = grant.rowFilter.filter((c) => {
      const col = byItem.get(c.item);
      if (!col) return true;
      if (col.sensitive) return true;
      const values = c.values.map((v) => textValue(col, v));
      where.push(c.op === 'eq' ? sql`${sql.ref(col.column)}::text = ${values[0]}` : c.op === 'in' ? sql`${sql.ref(col.column)}::text in (${sql.join(values)})` : sql`(${sql.join(values.map((v) => sql`starts_with(${sql.ref(col.column)}::text, ${v})`), sql` or `)})`);
      return false;
    });

    const view = grantView({ items, rowFilter: inMemory, masking: grant.masking }, { hashKey: await this.exchange.maskKey(grant.consumerAgencyId) });
    const rows: Record<string, unknown>[] = [];
    let next: number | null = null;
    if (take > 0) {
      const { list, decode } = selectList(table);
      // In-memory conditions may drop rows: read a little more than asked, page on what was read.
      const read = await sql<Record<string, unknown>>`select ${list} from ${sql.raw(qualified(table.tableName))} where ${sql.join(where, sql` and `)} order by ${sql.ref(BOOKKEEPING.seq)} limit ${take}`.execute(this.db);
      const decoded = await this.exchange.decodeRows(table, read.rows.map(decode));
      for (const r of decoded) if (view.passes(r.values)) rows.push(view.present(r.values));
      if (read.rows.length === take && take > 0) next = decoded[decoded.length - 1]!.seq;
    } else if (limit > 0) {
      throw new GsError('GS_ERR_DATA_QUOTA_EXCEEDED', { resourceCode, grantId: grant.grantId, quota: 'volumePerDay', limit: grant.volumePerDay ?? 0 });
    }
    await this.#countRows(grant, rows.length);
    await this.audit.recordGrouped(ctx, {
      action: 'data.pull',
      targetType: 'resource',
      targetId: resourceCode,
      details: { systemId, grantId: grant.grantId, purpose: q.purpose ?? grant.purpose, items, filters: filters.map((f) => `${f.item} ${f.op}`), after: q.after ?? 0, rows: rows.length },
    });
    return { grantId: grant.grantId, items, rows, next };
  }

  async #filterSql(table: TableShape, byItem: ReadonlyMap<string, SharedColumn>, f: PullFilter): Promise<RawBuilder<unknown>> {
    const col = byItem.get(f.item);
    if (!col) throw new GsError('GS_ERR_DATA_FILTER_INVALID', { item: f.item, reason: 'the shared table has no such item', reasonZh: '共享库表没有该信息项' });
    const ref = sql.ref(col.column);
    if (col.sensitive) {
      // Encrypted: only equality on a key item, through its blind index.
      if (!col.indexColumn || (f.op !== 'eq' && f.op !== 'in')) throw new GsError('GS_ERR_DATA_FILTER_INVALID', { item: f.item, reason: 'a sensitive item is stored encrypted: only eq or in on a key item can be searched', reasonZh: '敏感信息项加密存储，只能对主键信息项按 eq 或 in 查询' });
      const values = f.op === 'eq' ? [f.value] : f.values;
      const indexes = await Promise.all(values.map((v) => this.exchange.blindIndexOf(table, String(this.#checked(col, v)))));
      return sql`${sql.ref(col.indexColumn)} in (${sql.join(indexes)})`;
    }
    switch (f.op) {
      case 'eq':
        return sql`${ref} = ${this.#checked(col, f.value)}`;
      case 'in':
        if (f.values.length === 0) throw new GsError('GS_ERR_DATA_FILTER_INVALID', { item: f.item, reason: 'in needs at least one value', reasonZh: 'in 至少需要一个值' });
        return sql`${ref} in (${sql.join(f.values.map((v) => this.#checked(col, v)))})`;
      case 'prefix':
        if (col.dataType !== 'string') throw new GsError('GS_ERR_DATA_FILTER_INVALID', { item: f.item, reason: 'prefix applies to text items only', reasonZh: 'prefix 只适用于文本信息项' });
        return sql`starts_with(${ref}, ${f.value})`;
      case 'range': {
        if (col.dataType === 'boolean' || (f.from === undefined && f.to === undefined)) throw new GsError('GS_ERR_DATA_FILTER_INVALID', { item: f.item, reason: 'range needs from or to, on a text, number or date item', reasonZh: 'range 须给出 from 或 to，且只适用于文本、数值或日期信息项' });
        const parts: RawBuilder<unknown>[] = [];
        if (f.from !== undefined) parts.push(sql`${ref} >= ${this.#checked(col, f.from)}`);
        if (f.to !== undefined) parts.push(sql`${ref} <= ${this.#checked(col, f.to)}`);
        return sql.join(parts, sql` and `);
      }
    }
  }

  /** A filter value checked against its item's type (a clear error, not a database one). */
  #checked(col: SharedColumn, value: unknown): string | boolean | null {
    const r = checkValue(col, value);
    if ('problem' in r) throw new GsError('GS_ERR_DATA_FILTER_INVALID', { item: col.item, reason: r.problem.message, reasonZh: r.problem.messageZh });
    return r.value;
  }

  // ---- quota (exchange_usage) ----------------------------------------------------------------

  async #countCall(grant: EffectiveGrant): Promise<void> {
    if (grant.ratePerMinute === null && grant.volumePerDay === null) return;
    await this.#sweepUsage();
    if (grant.ratePerMinute === null) return;
    const minute = new Date(Math.floor(this.now().getTime() / 60_000) * 60_000);
    const used = await this.#add(grant.grantId, 'calls', minute, 1);
    if (used > grant.ratePerMinute) throw new GsError('GS_ERR_DATA_QUOTA_EXCEEDED', { resourceCode: grant.resourceCode, grantId: grant.grantId, quota: 'ratePerMinute', limit: grant.ratePerMinute });
  }

  /** Rows the grant may still receive today (China time); Infinity without a volume quota. */
  async #rowsLeft(grant: EffectiveGrant): Promise<number> {
    if (grant.volumePerDay === null) return Number.POSITIVE_INFINITY;
    const r = await sql<{ used: number }>`select used from exchange_usage where grant_id = ${grant.grantId} and kind = 'rows' and window_start = ${this.#today()}`.execute(this.db);
    return Math.max(0, grant.volumePerDay - Number(r.rows[0]?.used ?? 0));
  }

  async #countRows(grant: EffectiveGrant, rows: number): Promise<void> {
    if (grant.volumePerDay === null || rows === 0) return;
    await this.#add(grant.grantId, 'rows', this.#today(), rows);
  }

  /** Windows that can no longer count (older than yesterday), removed once a day per process. */
  async #sweepUsage(): Promise<void> {
    const today = this.#today();
    if (this.#sweptFor !== undefined && this.#sweptFor >= today.getTime()) return;
    this.#sweptFor = today.getTime();
    await sql`delete from exchange_usage where window_start < ${new Date(today.getTime() - 86_400_000)}`.execute(this.db);
  }

  #sweptFor: number | undefined;

  #today(): Date {
    return startOfChinaDay(chinaDateOf(this.now()));
  }

  async #add(grantId: string, kind: 'calls' | 'rows', windowStart: Date, n: number): Promise<number> {
    const r = await sql<{ used: number }>`insert into exchange_usage (grant_id, kind, window_start, used) values (${grantId}, ${kind}, ${windowStart}, ${n})
      on conflict (grant_id, kind, window_start) do update set used = exchange_usage.used + excluded.used returning used`.execute(this.db);
    return Number(r.rows[0]!.used);
  }

  async #refused(ctx: RequestContext, resourceCode: string, systemId: string, grantId: string | null, q: PullQuery, code: string): Promise<void> {
    await this.audit.recordGrouped(ctx, {
      action: 'data.pull',
      targetType: 'resource',
      targetId: resourceCode,
      outcome: 'denied',
      details: { systemId, grantId, purpose: q.purpose ?? null, items: q.items ?? null, code },
    });
  }
}

/** A row-filter value as the column's text form compares (`::text`); the grant holds text. */
function textValue(col: SharedColumn, v: string): string {
  const r = checkValue(col, v);
  return 'problem' in r || r.value === null ? v : String(r.value);
}
