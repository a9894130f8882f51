import type { Version } from '../api';

export const DATA_TYPES = ['string', 'integer', 'decimal', 'date', 'datetime', 'boolean'] as const;
export const DATA_ITEM_FORMATS = ['idCard', 'uscc', 'regionCode'] as const;
export const FORMAT_TYPES = ['electronicFile', 'spreadsheet', 'database', 'image', 'streamingMedia', 'selfDescribing', 'serviceInterface', 'other'] as const;
export const SHARE_TYPES = ['unconditional', 'conditional', 'none'] as const;
export const SHARE_METHODS = ['table', 'api', 'file'] as const;
export const UPDATE_CYCLES = ['realtime', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly', 'irregular'] as const;

export interface DataItemValues {
  nameZh?: string;
  nameEn?: string;
  dataType?: (typeof DATA_TYPES)[number];
  length?: number | null;
  precision?: number | null;
  scale?: number | null;
  description?: string;
  sensitive?: boolean;
  format?: (typeof DATA_ITEM_FORMATS)[number] | null;
  key?: boolean;
}

/** The editor's values: the entry's content as the form holds it (the English name beside the Chinese). */
export interface EntryFormValues {
  classification?: { category?: string; group?: string; subgroup?: string; detail?: string };
  nameZh?: string;
  nameEn?: string;
  abstractZh?: string;
  abstractEn?: string;
  format?: { type?: string; subtype?: string };
  dataItems?: DataItemValues[];
  shareType?: (typeof SHARE_TYPES)[number];
  shareCondition?: string;
  legalBasis?: { law?: string; article?: string };
  shareMethods?: string[];
  openness?: { open?: boolean; condition?: string };
  updateCycle?: string;
  relatedCodes?: string;
}

const text = (v: string | undefined | null): string | undefined => {
  const s = v?.trim();
  return s ? s : undefined;
};
const num = (v: number | null | undefined): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** The content the API takes (EntryContentInput): empty fields left out, the English texts under `names`/`abstracts`. */
export function contentOf(v: EntryFormValues): Record<string, unknown> {
  const c: Record<string, unknown> = { nameZh: text(v.nameZh) ?? '' };
  const en = text(v.nameEn);
  if (en) c.names = { en };
  const cls = v.classification;
  if (cls && text(cls.category) && text(cls.group) && text(cls.subgroup)) {
    c.classification = { category: text(cls.category), group: text(cls.group), subgroup: text(cls.subgroup), ...(text(cls.detail) ? { detail: text(cls.detail) } : {}) };
  }
  if (text(v.abstractZh)) c.abstractZh = text(v.abstractZh);
  if (text(v.abstractEn)) c.abstracts = { en: text(v.abstractEn) };
  if (v.format?.type) c.format = { type: v.format.type, ...(text(v.format.subtype) ? { subtype: text(v.format.subtype) } : {}) };
  if (v.dataItems && v.dataItems.length > 0) {
    c.dataItems = v.dataItems.map((i) => {
      const item: Record<string, unknown> = { nameZh: text(i.nameZh) ?? '', dataType: i.dataType ?? 'string' };
      if (text(i.nameEn)) item.names = { en: text(i.nameEn) };
      if (i.dataType === 'string' || i.dataType === undefined) {
        if (num(i.length) !== undefined) item.length = num(i.length);
      }
      if (i.dataType === 'decimal') {
        if (num(i.precision) !== undefined) item.precision = num(i.precision);
        if (num(i.scale) !== undefined) item.scale = num(i.scale);
      }
      if (text(i.description)) item.description = text(i.description);
      if (i.sensitive) item.sensitive = true;
      if (i.format) item.format = i.format;
      if (i.key) item.key = true;
      return item;
    });
  }
  if (v.shareType) c.shareType = v.shareType;
  if (v.shareType === 'conditional' && text(v.shareCondition)) c.shareCondition = text(v.shareCondition);
  if (v.shareType === 'none' && (text(v.legalBasis?.law) || text(v.legalBasis?.article))) c.legalBasis = { law: text(v.legalBasis?.law) ?? '', article: text(v.legalBasis?.article) ?? '' };
  if (v.shareType !== 'none' && v.shareMethods && v.shareMethods.length > 0) c.shareMethods = [...v.shareMethods];
  if (v.openness && typeof v.openness.open === 'boolean') c.openness = { open: v.openness.open, ...(v.openness.open && text(v.openness.condition) ? { condition: text(v.openness.condition) } : {}) };
  if (v.updateCycle) c.updateCycle = v.updateCycle;
  const related = (v.relatedCodes ?? '')
    .split(/[、,，;；\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (related.length > 0) c.relatedCodes = [...new Set(related)];
  return c;
}

/** The form's values for a version being edited (the open one, or the published one a new version starts from). */
export function valuesOf(v: Version & { readonly nameZh?: string; readonly names?: Readonly<Record<string, string>>; readonly abstractZh?: string | null; readonly abstracts?: Readonly<Record<string, string>> }): EntryFormValues {
  const cls = v.classification as { category?: string; group?: string; subgroup?: string; detail?: string | null } | null;
  return {
    classification: cls ? { category: cls.category, group: cls.group, subgroup: cls.subgroup, detail: cls.detail ?? undefined } : undefined,
    nameZh: v.nameZh ?? v.name,
    nameEn: v.names?.en,
    abstractZh: v.abstractZh ?? v.abstract ?? undefined,
    abstractEn: v.abstracts?.en,
    format: v.format ? { type: v.format.type, subtype: v.format.subtype ?? undefined } : undefined,
    dataItems: v.dataItems.map((i) => ({
      nameZh: i.nameZh,
      nameEn: (i as { names?: Record<string, string> }).names?.en,
      dataType: i.dataType as DataItemValues['dataType'],
      length: i.length,
      precision: i.precision,
      scale: i.scale,
      description: i.description || undefined,
      sensitive: i.sensitive,
      format: (i.format as DataItemValues['format']) ?? null,
      key: i.key,
    })),
    shareType: (v.shareType as EntryFormValues['shareType']) ?? undefined,
    shareCondition: v.shareCondition ?? undefined,
    legalBasis: v.legalBasis ?? undefined,
    shareMethods: [...v.shareMethods],
    openness: v.openness ? { open: v.openness.open, condition: v.openness.condition ?? undefined } : undefined,
    updateCycle: v.updateCycle ?? undefined,
    relatedCodes: v.relatedCodes.join('、'),
  };
}

/** A hint shown at a field while typing: a translation key and the field's path in the form. */
export interface Hint {
  readonly path: readonly (string | number)[];
  readonly key: string;
  readonly params?: Readonly<Record<string, string | number>>;
}

/**
 * What the API will refuse or the conformance check will flag, said while the person types (the
 * API decides again on save and submit).
 */
export function hintsOf(v: EntryFormValues): Hint[] {
  const hints: Hint[] = [];
  if (!text(v.nameZh)) hints.push({ path: ['nameZh'], key: 'authoring.hint.nameRequired' });
  if (v.shareType === 'conditional' && !text(v.shareCondition)) hints.push({ path: ['shareCondition'], key: 'authoring.hint.conditionRequired' });
  if (v.shareType === 'none') {
    if (!text(v.legalBasis?.law)) hints.push({ path: ['legalBasis', 'law'], key: 'authoring.hint.lawRequired' });
    if (!text(v.legalBasis?.article)) hints.push({ path: ['legalBasis', 'article'], key: 'authoring.hint.articleRequired' });
  }
  if (v.shareType && v.shareType !== 'none' && (v.shareMethods ?? []).length === 0) hints.push({ path: ['shareMethods'], key: 'authoring.hint.methodRequired' });
  const seen = new Map<string, number>();
  (v.dataItems ?? []).forEach((i, n) => {
    const name = text(i.nameZh);
    if (!name) hints.push({ path: ['dataItems', n, 'nameZh'], key: 'authoring.hint.itemNameRequired' });
    else if (seen.has(name)) hints.push({ path: ['dataItems', n, 'nameZh'], key: 'authoring.hint.itemNameDuplicate', params: { row: (seen.get(name) ?? 0) + 1 } });
    else seen.set(name, n);
    if ((i.dataType ?? 'string') === 'string' && num(i.length) === undefined) hints.push({ path: ['dataItems', n, 'length'], key: 'authoring.hint.lengthRequired' });
    if (i.dataType === 'decimal') {
      if (num(i.precision) === undefined) hints.push({ path: ['dataItems', n, 'precision'], key: 'authoring.hint.precisionRequired' });
      else if (num(i.scale) !== undefined && num(i.scale)! > num(i.precision)!) hints.push({ path: ['dataItems', n, 'scale'], key: 'authoring.hint.scaleTooLarge' });
    }
  });
  return hints;
}

/**
 * Where the API's `details.fields[].field` points in the editor: `body.content.dataItems.2.length`
 * → ['dataItems', 2, 'length']; `content.names.en` → ['nameEn']. Null when it is not a field of the form.
 */
export function formPathOf(apiField: string): (string | number)[] | null {
  const parts = apiField.replace(/^body\./, '').replace(/^content\./, '').split(/[./]/).filter(Boolean);
  if (parts.length === 0) return null;
  if (parts[0] === 'names' && parts[1] === 'en') return ['nameEn'];
  if (parts[0] === 'abstracts' && parts[1] === 'en') return ['abstractEn'];
  if (parts[0] === 'dataItems' && parts[2] === 'names') return ['dataItems', Number(parts[1]), 'nameEn'];
  const known = ['classification', 'nameZh', 'abstractZh', 'format', 'dataItems', 'shareType', 'shareCondition', 'legalBasis', 'shareMethods', 'openness', 'updateCycle', 'relatedCodes'];
  if (!known.includes(parts[0]!)) return null;
  if (parts[0] === 'relatedCodes' || parts[0] === 'shareMethods') return [parts[0]];
  return parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}
