import type { ClassificationCategory, DataItemFormat, DataType, FormatType, ShareMethod, ShareType, UpdateCycle } from './vocabulary.js';

/**
 * The content of one version of a catalog entry, normalised: what the store keeps, what the
 * conformance rules and the diff read. Absent elements are null (a draft may be incomplete;
 * conformance.ts says what submission needs).
 */
export interface Classification {
  /** 类 */
  readonly category: ClassificationCategory;
  /** 项, 2 digits */
  readonly group: string;
  /** 目, 3 digits */
  readonly subgroup: string;
  /** 细目, 1–6 digits, optional */
  readonly detail: string | null;
}

export interface DataItem {
  readonly nameZh: string;
  readonly names: Readonly<Record<string, string>>;
  readonly dataType: DataType;
  /** string: maximum length in characters. */
  readonly length: number | null;
  /** decimal: total digits and digits after the point. */
  readonly precision: number | null;
  readonly scale: number | null;
  readonly description: string;
  readonly sensitive: boolean;
  readonly format: DataItemFormat | null;
  /** Part of the key of a table resource (关键信息项). */
  readonly key: boolean;
}

export interface LegalBasis {
  /** The law, regulation or rule (法律、法规、规章) */
  readonly law: string;
  /** The article (条款) */
  readonly article: string;
}

export interface Openness {
  readonly open: boolean;
  readonly condition: string | null;
}

export type ExtensionValue = string | number | boolean;

export interface EntryContent {
  readonly classification: Classification | null;
  readonly nameZh: string;
  readonly names: Readonly<Record<string, string>>;
  readonly abstractZh: string | null;
  readonly abstracts: Readonly<Record<string, string>>;
  readonly format: { readonly type: FormatType; readonly subtype: string | null } | null;
  readonly dataItems: readonly DataItem[];
  readonly shareType: ShareType | null;
  readonly shareCondition: string | null;
  readonly legalBasis: LegalBasis | null;
  readonly shareMethods: readonly ShareMethod[];
  readonly openness: Openness | null;
  readonly updateCycle: UpdateCycle | null;
  readonly relatedCodes: readonly string[];
  readonly extensions: Readonly<Record<string, ExtensionValue>>;
}

/** 前段码: 类 + 项 + 目 + 细目, e.g. 2 01 003 → "201003". Fixed widths make the concatenation unambiguous. */
export function classificationCode(c: Classification): string {
  return `${c.category}${c.group}${c.subgroup}${c.detail ?? ''}`;
}

export function parseClassificationCode(code: string): Classification {
  return {
    category: code.charAt(0) as ClassificationCategory,
    group: code.slice(1, 3),
    subgroup: code.slice(3, 6),
    detail: code.length > 6 ? code.slice(6) : null,
  };
}

/** 资源代码 = 前段码 (classification) + "/" + 后段码 (6-digit sequence within the classification). */
export const RESOURCE_CODE_PATTERN = '^[123][0-9]{5}[0-9]{0,6}/[0-9]{6}$';

export function resourceCode(classification: string, sequence: number): string {
  return `${classification}/${String(sequence).padStart(6, '0')}`;
}
