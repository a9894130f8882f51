/** How a consumer system receives the data of a grant: pushed to its node, pulled by queries, compared only, or as files. */
export const GRANT_METHODS = ['push', 'pull', 'comparison', 'file'] as const;
export type GrantMethod = (typeof GRANT_METHODS)[number];

export const GRANT_STATUSES = ['active', 'suspended', 'revoked', 'expired'] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];

/** partial: keep the ends (身份证号 430***********1234, 张*); full: hidden (******); hash: HMAC-SM3 under a key of the consumer agency (exchange/grant-view.ts). */
export const MASK_KINDS = ['partial', 'full', 'hash'] as const;
export type MaskKind = (typeof MASK_KINDS)[number];

/** eq: the item equals the one value; in: one of the values; prefix: starts with one of them (e.g. a region code 4304). */
export const ROW_FILTER_OPS = ['eq', 'in', 'prefix'] as const;
export type RowFilterOp = (typeof ROW_FILTER_OPS)[number];

export interface RowCondition {
  readonly item: string;
  readonly op: RowFilterOp;
  readonly values: readonly string[];
}

export const GRANT_STATUS_ZH: Readonly<Record<GrantStatus, string>> = { active: '有效', suspended: '已暂停', revoked: '已撤销', expired: '已过期' };

export function isGrantMethod(v: unknown): v is GrantMethod {
  return typeof v === 'string' && (GRANT_METHODS as readonly string[]).includes(v);
}

/** A row filter as people read it: `region = 430400 且 level ∈ {1, 2}`. */
export function describeRowFilter(filter: readonly RowCondition[]): string {
  return filter
    .map((c) => (c.op === 'eq' ? `${c.item} = ${c.values[0] ?? ''}` : c.op === 'in' ? `${c.item} ∈ {${c.values.join(', ')}}` : `${c.item} 以 ${c.values.join(' 或 ')} 开头`))
    .join(' 且 ');
}
