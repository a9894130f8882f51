import { GsError, type FieldProblem } from '../../lib/errors.js';
import { isChineseTag, normaliseLanguageTag } from '../../lib/language-tag.js';
import type { DataItem, EntryContent, ExtensionValue } from './content.js';
import type { DataItemInput, EntryContentInput } from './schemas.js';
import type { ExtensionType } from './vocabulary.js';

/** An extension field declaration as the checks need it. */
export interface ExtensionDeclaration {
  readonly key: string;
  readonly labelZh: string;
  readonly type: ExtensionType;
  readonly required: boolean;
  readonly allowedValues: readonly string[];
}

const BASE = 'body.content';

/**
 * Checks what the JSON schema cannot (language tags, a data type's length or precision, unique
 * data item names, extension values against the active declarations) and returns the normalised
 * content. Every problem is collected: one 400 names all of them.
 */
export function normaliseContent(input: EntryContentInput, declarations: readonly ExtensionDeclaration[]): EntryContent {
  const problems: FieldProblem[] = [];
  const problem = (field: string, rule: string, message: string, messageZh: string): void => {
    problems.push({ field: `${BASE}.${field}`, rule, message, messageZh });
  };

  const texts = (field: string, map: Readonly<Record<string, string>> | undefined): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [tag, text] of Object.entries(map ?? {})) {
      const norm = normaliseLanguageTag(tag);
      if (!norm || isChineseTag(norm)) {
        problem(`${field}.${tag}`, 'bcp47', 'not a BCP 47 language tag other than Chinese (Chinese goes in the …Zh field)', '不是中文以外语言的 BCP 47 语言标记（中文填写在 …Zh 字段）');
        continue;
      }
      out[norm] = text.trim();
    }
    return out;
  };

  const seen = new Set<string>();
  const dataItems = (input.dataItems ?? []).map((d, i) => {
    const item = dataItem(d, `dataItems.${i}`, problem, texts);
    if (seen.has(item.nameZh)) problem(`dataItems.${i}.nameZh`, 'unique', `data item ${item.nameZh} appears twice`, `信息项“${item.nameZh}”重复`);
    seen.add(item.nameZh);
    return item;
  });

  const extensions: Record<string, ExtensionValue> = {};
  const byKey = new Map(declarations.map((d) => [d.key, d]));
  for (const [key, value] of Object.entries(input.extensions ?? {})) {
    const decl = byKey.get(key);
    const field = `extensions.${key}`;
    if (!decl) {
      problem(field, 'unknownField', `no active extension field ${key} is declared`, `未定义启用的扩展字段 ${key}`);
      continue;
    }
    const bad = extensionProblem(decl, value);
    if (bad) problem(field, bad.rule, bad.message, bad.messageZh);
    else extensions[key] = typeof value === 'string' ? value.trim() : value;
  }

  const trimmed = (s: string | undefined): string | null => (s === undefined ? null : s.trim() || null);
  const content: EntryContent = {
    classification: input.classification
      ? { category: input.classification.category, group: input.classification.group, subgroup: input.classification.subgroup, detail: input.classification.detail ?? null }
      : null,
    nameZh: input.nameZh.trim(),
    names: texts('names', input.names),
    abstractZh: trimmed(input.abstractZh),
    abstracts: texts('abstracts', input.abstracts),
    format: input.format ? { type: input.format.type, subtype: input.format.subtype ?? null } : null,
    dataItems,
    shareType: input.shareType ?? null,
    shareCondition: trimmed(input.shareCondition),
    legalBasis: input.legalBasis ? { law: input.legalBasis.law.trim(), article: input.legalBasis.article.trim() } : null,
    shareMethods: [...(input.shareMethods ?? [])],
    openness: input.openness ? { open: input.openness.open, condition: trimmed(input.openness.condition) } : null,
    updateCycle: input.updateCycle ?? null,
    relatedCodes: [...(input.relatedCodes ?? [])],
    extensions,
  };
  if (!content.nameZh) problem('nameZh', 'minLength', 'the Chinese name is empty', '中文名称不能为空');
  if (problems.length > 0) {
    throw new GsError(
      'GS_ERR_CATALOG_CONTENT_INVALID',
      { summary: problems.map((p) => `${p.field}: ${p.message}`).join('; '), summaryZh: problems.map((p) => `${p.field}：${p.messageZh ?? p.message}`).join('；') },
      problems,
    );
  }
  return content;
}

function dataItem(
  d: DataItemInput,
  at: string,
  problem: (field: string, rule: string, message: string, messageZh: string) => void,
  texts: (field: string, map: Readonly<Record<string, string>> | undefined) => Record<string, string>,
): DataItem {
  const needs = (what: 'length' | 'precision' | 'scale', wanted: boolean): void => {
    if (wanted && d[what] === undefined) problem(`${at}.${what}`, 'required', `a ${d.dataType} data item needs ${what}`, `${d.dataType} 类型的信息项须填写 ${what}`);
    if (!wanted && d[what] !== undefined) problem(`${at}.${what}`, 'notApplicable', `a ${d.dataType} data item has no ${what}`, `${d.dataType} 类型的信息项没有 ${what}`);
  };
  needs('length', d.dataType === 'string');
  needs('precision', d.dataType === 'decimal');
  needs('scale', d.dataType === 'decimal');
  if (d.precision !== undefined && d.scale !== undefined && d.scale > d.precision) {
    problem(`${at}.scale`, 'maximum', 'scale cannot exceed precision', '小数位数不能大于总位数');
  }
  const nameZh = d.nameZh.trim();
  if (!nameZh) problem(`${at}.nameZh`, 'minLength', 'the Chinese name is empty', '中文名称不能为空');
  return {
    nameZh,
    names: texts(`${at}.names`, d.names),
    dataType: d.dataType,
    length: d.dataType === 'string' ? (d.length ?? null) : null,
    precision: d.dataType === 'decimal' ? (d.precision ?? null) : null,
    scale: d.dataType === 'decimal' ? (d.scale ?? null) : null,
    description: (d.description ?? '').trim(),
    sensitive: d.sensitive ?? false,
    format: d.format ?? null,
    key: d.key ?? false,
  };
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isCalendarDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s;
}

/** Why a value does not fit its declaration, or undefined when it does. */
export function extensionProblem(decl: ExtensionDeclaration, value: ExtensionValue): { rule: string; message: string; messageZh: string } | undefined {
  const type = (en: string, zh: string) => ({ rule: 'type', message: `must be ${en}`, messageZh: `应为${zh}` });
  switch (decl.type) {
    case 'string':
      return typeof value === 'string' && value.trim() !== '' ? undefined : type('a non-empty string', '非空字符串');
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value) ? undefined : type('an integer', '整数');
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : type('a number', '数值');
    case 'boolean':
      return typeof value === 'boolean' ? undefined : type('true or false', '布尔值');
    case 'date':
      return typeof value === 'string' && isCalendarDate(value) ? undefined : { rule: 'format', message: 'must be a date YYYY-MM-DD', messageZh: '应为 YYYY-MM-DD 格式的日期' };
    case 'enum':
      if (typeof value !== 'string') return type('one of the allowed values', '允许的取值之一');
      return decl.allowedValues.includes(value)
        ? undefined
        : { rule: 'allowedValues', message: `must be one of ${decl.allowedValues.join(', ')}`, messageZh: `取值必须为 ${decl.allowedValues.join('、')} 之一` };
  }
}
