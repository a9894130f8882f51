import { formatProblem } from '../catalog/data-item-format.js';
import type { DataItemFormat } from '../catalog/vocabulary.js';
import type { SharedColumn } from './columns.js';
import type { ChangeOperation } from './vocabulary.js';

/** One broken rule of one row: where (row number, data item) and what, never the value. */
export interface RowProblem {
  readonly row: number;
  /** The data item's Chinese name; null for a problem of the row as a whole. */
  readonly item: string | null;
  readonly rule: string;
  readonly message: string;
  readonly messageZh: string;
}

/** A value as it goes to the database: text for numbers and dates (exact), boolean, or null. */
export type CheckedValue = string | boolean | null;

export interface CheckedRow {
  readonly row: number;
  readonly operation: ChangeOperation;
  /** By column, for every column of the map (null where absent); deletes: the key columns only. */
  readonly values: ReadonlyMap<string, CheckedValue>;
}

const BOOLEAN_TEXT: Readonly<Record<string, boolean>> = { true: true, false: false, '1': true, '0': false, 是: true, 否: false, y: true, n: false, yes: true, no: false };
const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

/**
 * `2024-05-01T08:30:00+08:00`, `…Z`, or without a zone (`2024-05-01 08:30:00`): China time, as
 * agencies' systems write it. Returned as ISO 8601 with its offset, for PostgreSQL to parse.
 */
function datetimeText(s: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(s);
  if (!m || !isCalendarDate(m[1]!)) return undefined;
  if (Number(m[2]) > 23 || Number(m[3]) > 59 || Number(m[4] ?? 0) > 59) return undefined;
  return `${m[1]}T${m[2]}:${m[3]}:${m[4] ?? '00'}${m[5] ?? ''}${m[6] ?? '+08:00'}`;
}

type Problem = Omit<RowProblem, 'row' | 'item'>;
const p = (rule: string, message: string, messageZh: string): Problem => ({ rule, message, messageZh });

/** The text form of one value for its column, or the rule it breaks. */
export function checkValue(c: SharedColumn, raw: unknown): { value: CheckedValue } | { problem: Problem } {
  if (raw === null || raw === undefined || raw === '') {
    return c.key ? { problem: p('required', 'a key data item must have a value', '关键信息项不能为空') } : { value: null };
  }
  switch (c.dataType) {
    case 'string': {
      if (typeof raw !== 'string') return { problem: p('type', 'must be text', '应为文本') };
      // PostgreSQL cannot store U+0000 in text: refused here, at its row, not by the database mid-batch.
      if (raw.includes('\u0000')) return { problem: p('character', 'contains the character U+0000, which cannot be stored', '含有无法保存的字符 U+0000') };
      const value = c.format === 'idCard' ? raw.toUpperCase() : raw;
      // UTF-16 units are never fewer than characters: count characters only when it matters.
      const chars = c.length !== null && value.length > c.length ? [...value].length : 0;
      if (c.length !== null && chars > c.length) return { problem: p('maxLength', `longer than ${c.length} characters (${chars})`, `长度超过 ${c.length} 个字符（${chars}）`) };
      if (c.format) {
        const bad = formatProblem(c.format as DataItemFormat, value);
        if (bad) return { problem: p(c.format, bad.message, bad.messageZh) };
      }
      return { value };
    }
    case 'integer': {
      const s = typeof raw === 'number' && Number.isInteger(raw) ? String(raw) : typeof raw === 'string' ? raw.trim() : null;
      if (s === null || !/^[+-]?\d+$/.test(s)) return { problem: p('integer', 'not an integer', '不是整数') };
      const n = BigInt(s);
      if (n < INT8_MIN || n > INT8_MAX) return { problem: p('integer', 'outside the 64-bit integer range', '超出 64 位整数范围') };
      return { value: n.toString() };
    }
    case 'decimal': {
      const s = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : typeof raw === 'string' ? raw.trim() : null;
      const m = s === null ? null : /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(s);
      if (!m) return { problem: p('decimal', 'not a decimal number', '不是数字') };
      const precision = c.precision ?? 38;
      const scale = c.scale ?? 0;
      const whole = m[2]!.replace(/^0+(?=\d)/, '');
      const fraction = (m[3] ?? '').replace(/0+$/, '');
      // Refused rather than rounded: a changed value would be dropped data.
      if (fraction.length > scale) return { problem: p('scale', `more than ${scale} digits after the point`, `小数位超过 ${scale} 位`) };
      if (whole !== '0' && whole.length > precision - scale) return { problem: p('precision', `more than ${precision - scale} digits before the point`, `整数部分超过 ${precision - scale} 位`) };
      return { value: `${m[1] === '-' ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}` };
    }
    case 'date': {
      if (typeof raw !== 'string' || !isCalendarDate(raw.trim())) return { problem: p('date', 'not a date YYYY-MM-DD', '不是 YYYY-MM-DD 格式的日期') };
      return { value: raw.trim() };
    }
    case 'datetime': {
      const v = typeof raw === 'string' ? datetimeText(raw.trim()) : undefined;
      if (!v) return { problem: p('datetime', 'not a date and time (ISO 8601, e.g. 2024-05-01T08:30:00+08:00)', '不是日期时间（ISO 8601，如 2024-05-01T08:30:00+08:00）') };
      return { value: v };
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return { value: raw };
      const v = typeof raw === 'string' ? BOOLEAN_TEXT[raw.trim().toLowerCase()] : undefined;
      if (v === undefined) return { problem: p('boolean', 'not a yes/no value (true/false, 1/0, 是/否)', '不是是/否值（true/false、1/0、是/否）') };
      return { value: v };
    }
    default:
      return { problem: p('type', `unknown data type ${c.dataType}`, `未知数据类型 ${c.dataType}`) };
  }
}

/**
 * Checks one change against the column map: every value by its item's rules, unknown names
 * refused (nothing is dropped silently), a delete carrying the key items only.
 */
export function checkRow(columns: readonly SharedColumn[], byName: ReadonlyMap<string, SharedColumn>, row: number, operation: ChangeOperation, values: Readonly<Record<string, unknown>>): { row: CheckedRow; problems: RowProblem[] } {
  const problems: RowProblem[] = [];
  const out = new Map<string, CheckedValue>();
  // Names are checked first (unknown, not a key in a delete, given twice); values are then taken
  // by column. A name that is not a known item's is looked at only on this first pass.
  let given: Map<string, unknown> | undefined;
  for (const name in values) {
    const c = byName.get(name);
    if (c && c.item === name && (operation !== 'delete' || c.key)) continue;
    given ??= new Map();
    if (!c) problems.push({ row, item: name, rule: 'unknownItem', message: `no data item ${name} in this resource`, messageZh: `本资源没有信息项“${name}”` });
    else if (operation === 'delete' && !c.key) problems.push({ row, item: c.item, rule: 'notKey', message: 'a delete names the key data items only', messageZh: '删除只需给出关键信息项' });
    else if (Object.hasOwn(values, c.item) || given.has(c.column)) problems.push({ row, item: c.item, rule: 'duplicateItem', message: 'given twice (by its Chinese and another name)', messageZh: '重复给出（中文名称与其他名称）' });
    else given.set(c.column, values[name]);
  }
  for (const c of columns) {
    if (operation === 'delete' && !c.key) continue;
    const r = checkValue(c, Object.hasOwn(values, c.item) ? values[c.item] : given?.get(c.column));
    if ('problem' in r) problems.push({ row, item: c.item, ...r.problem });
    else out.set(c.column, r.value);
  }
  return { row: { row, operation, values: out }, problems };
}
