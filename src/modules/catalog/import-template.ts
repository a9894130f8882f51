import { DATA_ITEM_FORMATS, DATA_TYPES, FORMAT_TYPE_ZH, FORMAT_TYPES, SHARE_METHODS, SHARE_TYPES, UPDATE_CYCLES, type DataItemFormat, type DataType, type FormatType, type ShareMethod, type ShareType, type UpdateCycle } from './vocabulary.js';

/**
 * The import/export template: the national catalog column layout (2017 《政务信息资源目录编制指南(试行)》)
 * with Chinese header names as the contract. docs/catalog-import.md documents every column.
 *
 * One row per data item; a resource spans several rows. A row whose 资源名称 is filled starts a
 * resource; a row whose 资源名称 is empty continues the resource above (its resource columns must
 * be empty too), which is also what merged cells in a spreadsheet read as.
 */

/** The columns of the template, in order. `resource`: describes the resource (first row only); otherwise the data item. */
export const TEMPLATE_COLUMNS = [
  { header: '类', key: 'category', resource: true, required: true },
  { header: '项', key: 'group', resource: true, required: true },
  { header: '目', key: 'subgroup', resource: true, required: true },
  { header: '细目', key: 'detail', resource: true, required: false },
  { header: '资源名称', key: 'nameZh', resource: true, required: true },
  { header: '资源代码', key: 'resourceCode', resource: true, required: false },
  { header: '提供方', key: 'provider', resource: true, required: false },
  { header: '资源摘要', key: 'abstractZh', resource: true, required: true },
  { header: '资源格式', key: 'format', resource: true, required: true },
  { header: '共享类型', key: 'shareType', resource: true, required: true },
  { header: '共享条件', key: 'shareCondition', resource: true, required: false },
  { header: '不予共享依据', key: 'legalBasisLaw', resource: true, required: false },
  { header: '不予共享条款', key: 'legalBasisArticle', resource: true, required: false },
  { header: '共享方式', key: 'shareMethods', resource: true, required: true },
  { header: '是否向社会开放', key: 'open', resource: true, required: true },
  { header: '开放条件', key: 'openCondition', resource: true, required: false },
  { header: '更新周期', key: 'updateCycle', resource: true, required: true },
  { header: '发布日期', key: 'publishDate', resource: true, required: false },
  { header: '关联资源代码', key: 'relatedCodes', resource: true, required: false },
  { header: '信息项名称', key: 'itemName', resource: false, required: true },
  { header: '数据类型', key: 'dataType', resource: false, required: true },
  { header: '数据长度', key: 'length', resource: false, required: true },
  { header: '小数位数', key: 'scale', resource: false, required: false },
  { header: '是否敏感', key: 'sensitive', resource: false, required: false },
  { header: '格式校验', key: 'itemFormat', resource: false, required: false },
  { header: '是否主键', key: 'key', resource: false, required: false },
  { header: '信息项描述', key: 'description', resource: false, required: false },
] as const;

export type ColumnKey = (typeof TEMPLATE_COLUMNS)[number]['key'];
export type TemplateColumn = (typeof TEMPLATE_COLUMNS)[number];

/** Columns with text in other languages: `资源名称@ug`, `资源摘要@en`, `信息项名称@kk`. */
export const LANGUAGE_COLUMNS = { 资源名称: 'names', 资源摘要: 'abstracts', 信息项名称: 'itemNames' } as const;
export type LanguageColumn = keyof typeof LANGUAGE_COLUMNS;

/** Separators of a list cell (共享方式, 关联资源代码): 、 , ， ; ； and line breaks. */
export const LIST_SEPARATOR = /[、,，;；\n]+/;

export const SHARE_TYPE_ZH: Readonly<Record<ShareType, string>> = { unconditional: '无条件共享', conditional: '有条件共享', none: '不予共享' };
export const SHARE_METHOD_ZH: Readonly<Record<ShareMethod, string>> = { table: '库表', api: '接口', file: '文件' };
export const UPDATE_CYCLE_ZH: Readonly<Record<UpdateCycle, string>> = {
  realtime: '实时',
  daily: '每日',
  weekly: '每周',
  monthly: '每月',
  quarterly: '每季度',
  yearly: '每年',
  irregular: '不定期',
};
export const DATA_TYPE_ZH: Readonly<Record<DataType, string>> = { string: '字符型', integer: '整型', decimal: '数值型', date: '日期型', datetime: '日期时间型', boolean: '逻辑型' };
export const DATA_ITEM_FORMAT_ZH: Readonly<Record<DataItemFormat, string>> = { idCard: '公民身份号码', uscc: '统一社会信用代码', regionCode: '行政区划代码' };
export const CATEGORY_ZH = { '1': '基础信息资源', '2': '主题信息资源', '3': '部门信息资源' } as const;

/** Other spellings accepted on import (older templates, the guide's type letters). */
const ALIASES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  shareType: { 无条件: 'unconditional', 有条件: 'conditional', 不共享: 'none', 不予: 'none' },
  updateCycle: { 每天: 'daily', 日: 'daily', 周: 'weekly', 月: 'monthly', 季度: 'quarterly', 每季: 'quarterly', 年: 'yearly', 每年度: 'yearly', 其他: 'irregular' },
  dataType: {
    c: 'string',
    字符串: 'string',
    文本: 'string',
    i: 'integer',
    整数: 'integer',
    n: 'decimal',
    y: 'decimal',
    b: 'decimal',
    f: 'decimal',
    数值: 'decimal',
    货币型: 'decimal',
    双精度型: 'decimal',
    浮点型: 'decimal',
    d: 'date',
    日期: 'date',
    t: 'datetime',
    日期时间: 'datetime',
    l: 'boolean',
    布尔型: 'boolean',
  },
  itemFormat: { 身份证号: 'idCard', 身份证号码: 'idCard', 信用代码: 'uscc', 区划代码: 'regionCode' },
  category: { 基础: '1', 主题: '2', 部门: '3' },
};

function vocabulary<T extends string>(codes: readonly T[], zh: Readonly<Record<T, string>>, aliases: Readonly<Record<string, string>> = {}): (cell: string) => T | undefined {
  const map = new Map<string, T>();
  for (const c of codes) {
    map.set(c.toLowerCase(), c);
    map.set(zh[c], c);
  }
  for (const [k, v] of Object.entries(aliases)) map.set(k, v as T);
  return (cell) => map.get(cell.trim()) ?? map.get(cell.trim().toLowerCase());
}

/** Chinese label or API code → code; undefined when the cell fits neither. */
export const parseShareType = vocabulary(SHARE_TYPES, SHARE_TYPE_ZH, ALIASES.shareType);
export const parseShareMethod = vocabulary(SHARE_METHODS, SHARE_METHOD_ZH);
export const parseUpdateCycle = vocabulary(UPDATE_CYCLES, UPDATE_CYCLE_ZH, ALIASES.updateCycle);
export const parseDataType = vocabulary(DATA_TYPES, DATA_TYPE_ZH, ALIASES.dataType);
export const parseItemFormat = vocabulary(DATA_ITEM_FORMATS, DATA_ITEM_FORMAT_ZH, ALIASES.itemFormat);
export const parseFormatType = vocabulary(FORMAT_TYPES, FORMAT_TYPE_ZH);
export const parseCategory = vocabulary(['1', '2', '3'] as const, CATEGORY_ZH, ALIASES.category);

const YES = new Set(['是', 'y', 'yes', 'true', '1', '√']);
const NO = new Set(['否', 'n', 'no', 'false', '0', '×']);
export function parseYesNo(cell: string): boolean | undefined {
  const v = cell.trim().toLowerCase();
  if (YES.has(v)) return true;
  if (NO.has(v)) return false;
  return undefined;
}

/** What each vocabulary column accepts, for error messages and docs. */
export function allowedLabels(key: 'shareType' | 'shareMethods' | 'updateCycle' | 'dataType' | 'itemFormat' | 'format' | 'category'): string {
  const pairs = (zh: Readonly<Record<string, string>>): string => Object.entries(zh).map(([code, label]) => `${label}/${code}`).join('、');
  switch (key) {
    case 'shareType':
      return pairs(SHARE_TYPE_ZH);
    case 'shareMethods':
      return pairs(SHARE_METHOD_ZH);
    case 'updateCycle':
      return pairs(UPDATE_CYCLE_ZH);
    case 'dataType':
      return pairs(DATA_TYPE_ZH);
    case 'itemFormat':
      return pairs(DATA_ITEM_FORMAT_ZH);
    case 'format':
      return pairs(FORMAT_TYPE_ZH);
    case 'category':
      return pairs(CATEGORY_ZH);
  }
}

export function formatCell(type: FormatType, subtype: string | null): string {
  return subtype ? `${FORMAT_TYPE_ZH[type]}/${subtype}` : FORMAT_TYPE_ZH[type];
}

/** Header text as compared: without spaces, full-width brackets and @ made ASCII. */
export function normaliseHeader(h: string): string {
  return h.replace(/\s+/g, '').replace(/（/g, '(').replace(/）/g, ')').replace(/＠/g, '@').replace(/\*$/, '');
}
