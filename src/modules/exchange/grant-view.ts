import { createHmac } from 'node:crypto';
import { GsError } from '../../lib/errors.js';
import type { EffectiveGrant } from '../grants/check.js';
import type { MaskKind, RowCondition } from '../grants/vocabulary.js';

/**
 * What a grant lets a consumer see of a shared table's rows: the granted items only, rows passing
 * the grant's row filter, masked items masked. Pull (acquisition) and push (subscriptions) both
 * present rows through this one view, so the two can never disagree on what leaves the platform.
 *
 * Rows are the exchange's decoded rows: values by the data item's Chinese name (sensitive items
 * already decrypted), numbers and dates as text, booleans as booleans, absent values null.
 */
export interface GrantView {
  /** The granted items, in the grant's order: the only keys of a presented row. */
  readonly items: readonly string[];
  /** Whether a decoded row passes every condition of the row filter. */
  passes(row: Readonly<Record<string, unknown>>): boolean;
  /** The row as the consumer receives it: granted items only, masked where the grant says. */
  present(row: Readonly<Record<string, unknown>>): Record<string, unknown>;
}

export interface GrantViewOptions {
  /**
   * The key of `hash` masking (HMAC-SM3). Callers give one per consumer agency, so a consumer can
   * join its own resources on a hashed item while two consumers' hashes never match, and a
   * hashed ID number cannot be reversed by hashing every possible number.
   */
  readonly hashKey: Buffer;
}

/** Text of a value as the row filter and masking compare it: booleans and numbers as written. */
function textOf(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}

/** Whether one condition holds; a null value never matches (a filter names what is delivered). */
export function conditionHolds(c: RowCondition, value: unknown): boolean {
  if (value === null || value === undefined) return false;
  const text = textOf(value);
  switch (c.op) {
    case 'eq':
      return text === c.values[0];
    case 'in':
      return c.values.includes(text);
    case 'prefix':
      return c.values.some((p) => text.startsWith(p));
  }
}

/**
 * Partial masking keeps the ends and hides the middle, by characters (not bytes), the way Chinese
 * systems show personal data: 18-digit ID number `430***********1234`, mobile `138****5678`,
 * name `张*` / `张**` / `欧**娜`. Short values keep less: at least a third is always hidden.
 */
export function maskPartial(value: string): string {
  const chars = [...value];
  const n = chars.length;
  if (n === 0) return '';
  if (n === 1) return '*';
  const [head, tail] = n <= 3 ? [1, 0] : n <= 6 ? [1, 1] : n <= 10 ? [2, 2] : [3, 4];
  return chars.slice(0, head).join('') + '*'.repeat(n - head - tail) + chars.slice(n - tail).join('');
}

/** Every character hidden; the length is hidden too (a fixed six stars). */
export const FULL_MASK = '******';

export function maskValue(kind: MaskKind, value: unknown, hashKey: Buffer): unknown {
  if (value === null || value === undefined) return null;
  const text = textOf(value);
  switch (kind) {
    case 'partial':
      return maskPartial(text);
    case 'full':
      return FULL_MASK;
    case 'hash':
      return createHmac('sm3', hashKey).update(text, 'utf8').digest('hex');
  }
}

export function grantView(grant: Pick<EffectiveGrant, 'items' | 'rowFilter' | 'masking'>, options: GrantViewOptions): GrantView {
  const items = [...grant.items];
  const filter = [...grant.rowFilter];
  // A Map, so an item called `__proto__` or `toString` is looked up as itself.
  const masks = new Map(Object.entries(grant.masking));
  const { hashKey } = options;
  return {
    items,
    passes: (row) => filter.every((c) => conditionHolds(c, row[c.item])),
    present: (row) => {
      const out: Record<string, unknown> = {};
      for (const item of items) {
        const v = Object.hasOwn(row, item) ? row[item] : null;
        const mask = masks.get(item);
        const value = mask ? maskValue(mask, v, hashKey) : (v ?? null);
        // An item called `__proto__` must become a key, not the prototype: defineProperty for it
        // (and only for it: plain assignment is several times faster on every other row).
        if (item === '__proto__') Object.defineProperty(out, item, { value, enumerable: true, writable: true, configurable: true });
        else out[item] = value;
      }
      return out;
    },
  };
}

/** Refuses (GS_ERR_DATA_ITEMS_NOT_GRANTED, naming them) items a call names outside its grant: never silently dropped. */
export function requireGranted(grant: Pick<EffectiveGrant, 'grantId' | 'resourceCode' | 'items'>, items: Iterable<string>): void {
  const granted = new Set(grant.items);
  const outside = [...new Set(items)].filter((i) => !granted.has(i));
  if (outside.length > 0) throw new GsError('GS_ERR_DATA_ITEMS_NOT_GRANTED', { resourceCode: grant.resourceCode, items: outside.join('、'), grantId: grant.grantId });
}
