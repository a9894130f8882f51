import { GsError } from '../../lib/errors.js';
import type { RequestContext } from '../../server/actor.js';
import type { AuditService } from '../audit/service.js';
import { refusalError, type EffectiveGrant, type GrantCheck } from '../grants/check.js';
import type { SharedColumn } from './columns.js';
import { grantView, requireGranted } from './grant-view.js';
import { checkValue } from './row-check.js';
import type { ExchangeService } from './service.js';

/** How a submitted value is compared with the stored one. */
export const MATCH_MODES = ['exact', 'normalised'] as const;
export type MatchMode = (typeof MATCH_MODES)[number];

export type FieldOutcome = 'match' | 'mismatch' | 'not_found';

export interface VerifyInput {
  /** The key items of the record (item name → value). */
  readonly key: Readonly<Record<string, unknown>>;
  /** The values to verify (item name → value). */
  readonly fields: Readonly<Record<string, unknown>>;
  /** One mode for every field, or a mode per item (absent items: exact). */
  readonly match?: MatchMode | Readonly<Record<string, MatchMode>> | undefined;
  readonly purpose?: string | undefined;
}

export interface VerifyAnswer {
  readonly grantId: string;
  readonly found: boolean;
  readonly fields: Record<string, FieldOutcome>;
}

/**
 * Normalised text (规范化比对): trimmed, full-width forms folded to half-width (NFKC, and the
 * ideographic space), upper and lower case alike. For names and codes keyed in by people.
 */
export function normalisedText(s: string): string {
  return s.normalize('NFKC').replace(/\u3000/g, ' ').trim().toLowerCase();
}

/** A decimal's value as text without insignificant zeros: `1.50` and `1.5` and `01.5` alike. */
function canonicalNumber(s: string): string {
  const m = /^([+-]?)0*(\d*?)(?:\.(\d*?)0*)?$/.exec(s.trim());
  if (!m) return s;
  const int = m[2] || '0';
  const frac = m[3] ?? '';
  const sign = m[1] === '-' && (int !== '0' || frac !== '') ? '-' : '';
  return `${sign}${int}${frac ? `.${frac}` : ''}`;
}

/**
 * Whether a submitted value equals the stored one, by the item's type: numbers by value, dates by
 * day, date-times by instant, booleans by truth, text exactly or normalised. A value that does not
 * parse as the item's type cannot equal anything stored: mismatch. Null equals only null.
 */
export function valuesMatch(col: SharedColumn, stored: unknown, submitted: unknown, mode: MatchMode): boolean {
  if (stored === null || stored === undefined) return submitted === null || submitted === undefined || submitted === '';
  if (submitted === null || submitted === undefined) return false;
  const submittedText = typeof submitted === 'string' ? (mode === 'normalised' ? submitted.normalize('NFKC').trim() : submitted) : submitted;
  if (col.dataType === 'string') {
    if (typeof submitted !== 'string' && typeof submitted !== 'number') return false;
    const a = String(stored);
    const b = String(submitted);
    return mode === 'normalised' ? normalisedText(a) === normalisedText(b) : a === b;
  }
  // Typed items: parse the submitted value as a loaded value would be (checkValue), then compare.
  // (An empty value fails either way: a key item's rule refuses it, another's gives null.)
  const r = checkValue(col, submittedText);
  if ('problem' in r || r.value === null) return false;
  switch (col.dataType) {
    case 'integer':
    case 'decimal':
      return canonicalNumber(String(stored)) === canonicalNumber(String(r.value));
    case 'date':
      return String(stored).slice(0, 10) === String(r.value).slice(0, 10);
    case 'datetime':
      return Date.parse(String(stored)) === Date.parse(String(r.value));
    case 'boolean':
      return (stored === true || stored === 'true') === (r.value === true || r.value === 'true');
    default:
      return String(stored) === String(r.value);
  }
}

/**
 * Single-record verification (核验 / 比对, seed 000 §24): a business system submits a record's key
 * and the values it holds; the answer says per field `match`, `mismatch` or `not_found`, and never
 * carries a stored value. Allowed under a `comparison` grant (which allows only this) or a `pull`
 * grant. The grant's items bound the key and the fields; its row filter hides records (they are
 * `not_found`). A sensitive key is found by its blind index; only the one row found is decrypted.
 * Every call, answered or refused, is audited (`data.verify`), never with values.
 */
export class VerifyService {
  constructor(
    private readonly exchange: ExchangeService,
    private readonly grants: GrantCheck,
    private readonly audit: AuditService,
  ) {}

  async verify(ctx: RequestContext, systemId: string, resourceCode: string, input: VerifyInput): Promise<VerifyAnswer> {
    const grant = await this.#grant(ctx, systemId, resourceCode, input);
    try {
      const answer = await this.#verify(grant, resourceCode, input);
      const outcomes = Object.values(answer.fields);
      await this.audit.recordGrouped(ctx, {
        action: 'data.verify',
        targetType: 'resource',
        targetId: resourceCode,
        details: { systemId, grantId: grant.grantId, method: grant.method, purpose: input.purpose ?? grant.purpose, items: Object.keys(input.fields), found: answer.found, matched: outcomes.filter((o) => o === 'match').length, mismatched: outcomes.filter((o) => o === 'mismatch').length },
      });
      return answer;
    } catch (e) {
      if (e instanceof GsError) await this.#refused(ctx, resourceCode, systemId, grant.grantId, input, e.code);
      throw e;
    }
  }

  /** The comparison grant in force, else the pull grant; refused with the comparison check's code. */
  async #grant(ctx: RequestContext, systemId: string, resourceCode: string, input: VerifyInput): Promise<EffectiveGrant> {
    const decision = await verificationGrant(this.grants, systemId, resourceCode);
    if ('grant' in decision) return decision.grant;
    await this.#refused(ctx, resourceCode, systemId, decision.grantId, input, decision.error.code);
    throw decision.error;
  }

  async #verify(grant: EffectiveGrant, resourceCode: string, input: VerifyInput): Promise<VerifyAnswer> {
    const fieldItems = Object.keys(input.fields);
    if (fieldItems.length === 0) throw new GsError('GS_ERR_REQUEST_INVALID', { summary: 'fields: name at least one item to verify', summaryZh: 'fields：至少给出一个待核验的信息项' }, [{ field: 'fields', rule: 'minProperties', message: 'at least one item', messageZh: '至少一个信息项' }]);
    requireGranted(grant, [...Object.keys(input.key), ...fieldItems]);

    const table = await this.exchange.shapeOf(resourceCode);
    const byItem = new Map(table.columns.map((c) => [c.item, c]));
    const unknown = fieldItems.filter((i) => !byItem.has(i));
    if (unknown.length > 0) throw new GsError('GS_ERR_REQUEST_INVALID', { summary: `fields: ${unknown.join(', ')} are not items of ${resourceCode}`, summaryZh: `fields：${unknown.join('、')} 不是资源 ${resourceCode} 的信息项` });

    const row = await this.exchange.rowByKey(table, input.key);
    const view = grantView(grant, { hashKey: Buffer.alloc(0) });
    const found = row !== null && !row.deleted && view.passes(row.values);
    const fields: Record<string, FieldOutcome> = {};
    for (const item of fieldItems) {
      const outcome: FieldOutcome = !found ? 'not_found' : valuesMatch(byItem.get(item)!, row.values[item], input.fields[item], modeOf(input.match, item)) ? 'match' : 'mismatch';
      Object.defineProperty(fields, item, { value: outcome, enumerable: true, writable: true, configurable: true });
    }
    return { grantId: grant.grantId, found, fields };
  }

  async #refused(ctx: RequestContext, resourceCode: string, systemId: string, grantId: string | null, input: VerifyInput, code: string): Promise<void> {
    await this.audit.recordGrouped(ctx, { action: 'data.verify', targetType: 'resource', targetId: resourceCode, outcome: 'denied', details: { systemId, grantId, purpose: input.purpose ?? null, items: Object.keys(input.fields), code } });
  }
}

/** The grant verification runs under: the comparison grant in force, else the pull grant; else the comparison check's refusal. */
export async function verificationGrant(grants: GrantCheck, systemId: string, resourceCode: string): Promise<{ readonly grant: EffectiveGrant } | { readonly error: GsError; readonly grantId: string | null }> {
  const comparison = await grants.check(systemId, resourceCode, 'comparison');
  if (comparison.allowed) return { grant: comparison.grant };
  const pull = await grants.check(systemId, resourceCode, 'pull');
  if (pull.allowed) return { grant: pull.grant };
  return { error: refusalError(comparison, systemId, resourceCode, 'comparison'), grantId: comparison.grantId ?? null };
}

function modeOf(match: VerifyInput['match'], item: string): MatchMode {
  if (match === undefined) return 'exact';
  if (typeof match === 'string') return match;
  return Object.hasOwn(match, item) ? match[item]! : 'exact';
}
