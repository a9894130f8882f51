import type { DataItem, EntryContent } from './content.js';

export interface FieldChange {
  /** e.g. `shareType`, `names.ug`, `dataItems[身份证号].length`, `dataItems[身份证号]` */
  readonly path: string;
  readonly change: 'added' | 'removed' | 'changed';
  readonly before?: unknown;
  readonly after?: unknown;
}

const absent = (v: unknown): boolean => v === null || v === undefined || (Array.isArray(v) && v.length === 0);

/** Stable JSON for comparison: object keys sorted, so {a,b} equals {b,a}. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

function compare(path: string, before: unknown, after: unknown, out: FieldChange[]): void {
  if (canonical(before) === canonical(after)) return;
  if (absent(before)) out.push({ path, change: 'added', after });
  else if (absent(after)) out.push({ path, change: 'removed', before });
  else out.push({ path, change: 'changed', before, after });
}

/** Per key of a map (names by language, extensions by key). */
function compareMap(path: string, before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>, out: FieldChange[]): void {
  for (const k of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) compare(`${path}.${k}`, before[k], after[k], out);
}

/** Sets (share methods, related codes) compare without regard to order. */
const sorted = (xs: readonly string[]): string[] => [...xs].sort();

const ITEM_FIELDS = ['dataType', 'length', 'precision', 'scale', 'description', 'sensitive', 'format', 'key'] as const satisfies readonly (keyof DataItem)[];

/**
 * The field-by-field difference from one version's content to another's. Data items are matched
 * by their Chinese name (unique within an entry): a renamed item shows as one removed and one
 * added; a moved item is not a change (order carries no meaning for a table's columns).
 */
export function diffContent(a: EntryContent, b: EntryContent): FieldChange[] {
  const out: FieldChange[] = [];
  compare('classification', a.classification, b.classification, out);
  compare('nameZh', a.nameZh, b.nameZh, out);
  compareMap('names', a.names, b.names, out);
  compare('abstractZh', a.abstractZh, b.abstractZh, out);
  compareMap('abstracts', a.abstracts, b.abstracts, out);
  compare('format', a.format, b.format, out);
  compare('shareType', a.shareType, b.shareType, out);
  compare('shareCondition', a.shareCondition, b.shareCondition, out);
  compare('legalBasis', a.legalBasis, b.legalBasis, out);
  compare('shareMethods', sorted(a.shareMethods), sorted(b.shareMethods), out);
  compare('openness', a.openness, b.openness, out);
  compare('updateCycle', a.updateCycle, b.updateCycle, out);
  compare('relatedCodes', sorted(a.relatedCodes), sorted(b.relatedCodes), out);
  compareMap('extensions', a.extensions, b.extensions, out);

  const before = new Map(a.dataItems.map((d) => [d.nameZh, d]));
  const after = new Map(b.dataItems.map((d) => [d.nameZh, d]));
  for (const [name, item] of before) if (!after.has(name)) out.push({ path: `dataItems[${name}]`, change: 'removed', before: item });
  for (const [name, item] of after) {
    const old = before.get(name);
    if (!old) {
      out.push({ path: `dataItems[${name}]`, change: 'added', after: item });
      continue;
    }
    for (const f of ITEM_FIELDS) compare(`dataItems[${name}].${f}`, old[f], item[f], out);
    compareMap(`dataItems[${name}].names`, old.names, item.names, out);
  }
  return out;
}
