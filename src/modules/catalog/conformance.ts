import type { EntryContent } from './content.js';
import { FORMAT_MIN_LENGTH, KNOWN_FORMAT_SUBTYPES, type FindingSeverity, type FormatType, type ShareMethod } from './vocabulary.js';

/**
 * Standards-conformance findings over the content of a version (GB/T 21063.3, the 2017 guide,
 * 000 §12–14): values, never exceptions. `error` findings block submission and publication;
 * `warning` findings are shown to the cataloger and to the supervisor, who decides.
 * docs/catalog.md lists every rule.
 */
export interface Finding {
  readonly rule: string;
  readonly field: string;
  readonly severity: FindingSeverity;
  readonly message: string;
  readonly messageZh: string;
}

/** What the rules need besides the content, looked up by the caller (keeps this function pure). */
export interface ConformanceContext {
  /** The state of every related code the content names that exists in the catalog. */
  readonly relatedCodes: ReadonlyMap<string, 'published' | 'withdrawn' | 'unpublished'>;
  /** The entry's own resource code, once it has one. */
  readonly ownCode: string | null;
  /** Active extension field declarations. */
  readonly extensionFields: readonly { readonly key: string; readonly labelZh: string; readonly required: boolean }[];
}

/** Which formats each share method can carry (库表 needs rows, 接口 a service or a database behind it). */
const METHOD_FORMATS: Readonly<Record<ShareMethod, readonly FormatType[]>> = {
  table: ['database', 'spreadsheet', 'selfDescribing'],
  api: ['database', 'serviceInterface'],
  file: ['electronicFile', 'spreadsheet', 'image', 'streamingMedia', 'selfDescribing', 'other'],
};

const METHOD_ZH: Readonly<Record<ShareMethod, string>> = { table: '库表', api: '接口', file: '文件' };

export function conformanceFindings(c: EntryContent, ctx: ConformanceContext): Finding[] {
  const out: Finding[] = [];
  const add = (severity: FindingSeverity, rule: string, field: string, message: string, messageZh: string): void => {
    out.push({ rule, field: `content.${field}`, severity, message, messageZh });
  };
  const missing = (field: string, en: string, zh: string): void => add('error', 'element.missing', field, `${en} is missing`, `缺少${zh}`);

  // Core elements the guide requires of every entry.
  if (!c.classification) missing('classification', 'The classification (类/项/目)', '资源分类（类/项/目）');
  if (!c.abstractZh) missing('abstractZh', 'The abstract', '资源摘要');
  if (!c.format) missing('format', 'The format', '资源格式');
  if (!c.shareType) missing('shareType', 'The share type', '共享类型');
  if (!c.openness) missing('openness', 'The openness (open to the public or not)', '开放属性（是否向社会开放）');
  if (!c.updateCycle) missing('updateCycle', 'The update cycle', '更新周期');

  if (c.classification) {
    const { group, subgroup } = c.classification;
    if (group === '00') add('error', 'classification.code', 'classification.group', 'The 项 code starts at 01', '“项”编码应从 01 开始');
    if (subgroup === '000') add('error', 'classification.code', 'classification.subgroup', 'The 目 code starts at 001', '“目”编码应从 001 开始');
  }

  if (c.format?.subtype && c.format.type !== 'other' && !KNOWN_FORMAT_SUBTYPES[c.format.type].includes(c.format.subtype)) {
    add('warning', 'format.subtype-unknown', 'format.subtype', `Subtype ${c.format.subtype} is not a known ${c.format.type} format`, `格式子类型 ${c.format.subtype} 不是已知的该类格式`);
  }

  // Share type and its companions (000 §12, 003 三(一)).
  if (c.shareType === 'conditional' && !c.shareCondition) {
    add('error', 'shareCondition.missing', 'shareCondition', 'A conditional share needs its share condition', '有条件共享须填写共享条件');
  }
  if (c.shareType === 'none' && !c.legalBasis) {
    add('error', 'legalBasis.missing', 'legalBasis', 'A not-shared resource needs its legal basis (law and article)', '不予共享须提供法律、法规、规章依据（名称及条款）');
  }
  if (c.shareType !== 'conditional' && c.shareCondition) {
    add('warning', 'shareCondition.unexpected', 'shareCondition', 'A share condition is only meaningful for a conditional share', '只有有条件共享才需要共享条件');
  }
  if (c.shareType !== 'none' && c.legalBasis) {
    add('warning', 'legalBasis.unexpected', 'legalBasis', 'A legal basis for not sharing is only meaningful for share type none', '只有不予共享才需要不予共享依据');
  }
  if (c.shareType === 'none') {
    if (c.shareMethods.length > 0) add('error', 'shareMethods.not-shared', 'shareMethods', 'A not-shared resource has no share method', '不予共享的资源不应有共享方式');
    if (c.openness?.open) add('error', 'openness.not-shared', 'openness.open', 'A resource not shared with agencies cannot be open to the public', '不予共享的资源不能向社会开放');
  } else if (c.shareType && c.shareMethods.length === 0) {
    missing('shareMethods', 'The share method', '共享方式');
  }

  // Share method against format.
  if (c.format) {
    for (const m of c.shareMethods) {
      if (!METHOD_FORMATS[m].includes(c.format.type)) {
        add('error', 'shareMethods.format-mismatch', 'shareMethods', `Share method ${m} cannot carry a ${c.format.type} resource`, `共享方式“${METHOD_ZH[m]}”与资源格式不一致`);
      }
    }
  }

  // Data items.
  const structured = c.shareMethods.includes('table') || c.shareMethods.includes('api') || c.format?.type === 'database' || c.format?.type === 'spreadsheet';
  if (structured && c.dataItems.length === 0) missing('dataItems', 'The data items of a structured resource', '结构化资源的信息项');
  if (c.shareMethods.includes('table') && c.dataItems.length > 0 && !c.dataItems.some((d) => d.key)) {
    add('error', 'dataItems.key-missing', 'dataItems', 'A resource shared as a table needs at least one key data item', '以库表方式共享的资源须至少指定一个关键信息项');
  }
  c.dataItems.forEach((d, i) => {
    if (d.format) {
      const need = FORMAT_MIN_LENGTH[d.format];
      if (d.dataType !== 'string' || (d.length ?? 0) < need) {
        add('error', 'dataItems.format-type', `dataItems.${i}.format`, `Format ${d.format} needs a string of at least ${need} characters`, `格式 ${d.format} 需要长度不少于 ${need} 的字符串类型`);
      }
    }
    if (d.key && d.sensitive && c.shareType === 'unconditional') {
      add('warning', 'dataItems.sensitive-key', `dataItems.${i}.sensitive`, 'A sensitive key data item in an unconditional share', '无条件共享资源的关键信息项为敏感信息');
    }
  });
  if (c.shareType === 'unconditional' && c.dataItems.some((d) => d.sensitive)) {
    add('warning', 'shareType.sensitive-unconditional', 'shareType', 'Sensitive data items are usually shared on conditions (000 §12)', '含敏感信息项的资源一般列入有条件共享（000 第十二条）');
  }

  // Related resources must exist.
  c.relatedCodes.forEach((code, i) => {
    const state = ctx.relatedCodes.get(code);
    if (code === ctx.ownCode) add('warning', 'relatedCodes.self', `relatedCodes.${i}`, 'An entry is not related to itself', '关联资源不能是本资源');
    else if (state === undefined || state === 'unpublished') add('error', 'relatedCodes.unknown', `relatedCodes.${i}`, `No published resource ${code}`, `不存在已发布的资源 ${code}`);
    else if (state === 'withdrawn') add('warning', 'relatedCodes.withdrawn', `relatedCodes.${i}`, `Resource ${code} has been withdrawn`, `资源 ${code} 已撤销`);
  });

  for (const f of ctx.extensionFields) {
    if (f.required && c.extensions[f.key] === undefined) add('error', 'extension.required', `extensions.${f.key}`, `Extension field ${f.key} is required`, `扩展字段“${f.labelZh}”为必填`);
  }
  return out;
}

export function blocking(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.severity === 'error');
}
