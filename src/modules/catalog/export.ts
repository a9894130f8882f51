import type { Writable } from 'node:stream';
import { loadExcelJs } from '../../lib/exceljs.js';
import { classificationCode, type DataItem, type EntryContent } from './content.js';
import {
  CATEGORY_ZH,
  DATA_ITEM_FORMAT_ZH,
  DATA_TYPE_ZH,
  formatCell,
  SHARE_METHOD_ZH,
  SHARE_TYPE_ZH,
  TEMPLATE_COLUMNS,
  UPDATE_CYCLE_ZH,
  type ColumnKey,
} from './import-template.js';
import type { ExtensionField } from './schemas.js';
import type { CatalogService, PublishedEntry } from './service.js';
import type { ShareType, UpdateCycle } from './vocabulary.js';

export const EXPORT_FORMATS = ['xlsx', 'json', 'dcat'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_CONTENT_TYPES: Readonly<Record<ExportFormat, string>> = {
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  json: 'application/json; charset=utf-8',
  dcat: 'application/ld+json; charset=utf-8',
};

/** What an export reads: the published entries page by page, the declared extensions, the languages present. */
export interface ExportSource {
  readonly entries: AsyncIterable<PublishedEntry>;
  readonly extensionFields: readonly ExtensionField[];
  readonly languages: readonly string[];
}

/** The published catalog as an export reads it: every entry, page by page in id order. */
export async function exportSource(catalog: Pick<CatalogService, 'listPublished' | 'extensionFields' | 'publishedLanguages'>): Promise<ExportSource> {
  const entries = async function* (): AsyncGenerator<PublishedEntry> {
    for (let after: string | undefined; ; ) {
      const page = await catalog.listPublished({ after, limit: 500 });
      yield* page;
      if (page.length < 500) return;
      after = page[page.length - 1]!.entryId;
    }
  };
  return { entries: entries(), extensionFields: (await catalog.extensionFields()).filter((f) => f.active), languages: await catalog.publishedLanguages() };
}

/** The template's header row for this catalog: the national columns, then language and extension columns. */
export function exportHeaders(languages: readonly string[], extensionFields: readonly ExtensionField[]): string[] {
  const base: string[] = TEMPLATE_COLUMNS.map((c) => c.header);
  const langs = languages.flatMap((tag) => [`资源名称@${tag}`, `资源摘要@${tag}`, `信息项名称@${tag}`]);
  return [...base, ...langs, ...extensionFields.map((f) => f.labelZh)];
}

const yesNo = (b: boolean): string => (b ? '是' : '否');

/** The rows of one entry in the template: resource columns on the first row, one data item a row. */
export function templateRows(e: PublishedEntry, languages: readonly string[], extensionFields: readonly ExtensionField[]): string[][] {
  const c = e.content;
  const resource: Record<ColumnKey, string> = {
    category: c.classification?.category ?? '',
    group: c.classification?.group ?? '',
    subgroup: c.classification?.subgroup ?? '',
    detail: c.classification?.detail ?? '',
    nameZh: c.nameZh,
    resourceCode: e.resourceCode,
    provider: e.provider.code,
    abstractZh: c.abstractZh ?? '',
    format: c.format ? formatCell(c.format.type, c.format.subtype) : '',
    shareType: c.shareType ? SHARE_TYPE_ZH[c.shareType] : '',
    shareCondition: c.shareCondition ?? '',
    legalBasisLaw: c.legalBasis?.law ?? '',
    legalBasisArticle: c.legalBasis?.article ?? '',
    shareMethods: c.shareMethods.map((m) => SHARE_METHOD_ZH[m]).join('、'),
    open: c.openness ? yesNo(c.openness.open) : '',
    openCondition: c.openness?.condition ?? '',
    updateCycle: c.updateCycle ? UPDATE_CYCLE_ZH[c.updateCycle] : '',
    publishDate: e.publishDate,
    relatedCodes: c.relatedCodes.join('、'),
    itemName: '',
    dataType: '',
    length: '',
    scale: '',
    sensitive: '',
    itemFormat: '',
    key: '',
    description: '',
  };
  const item = (d: DataItem): Partial<Record<ColumnKey, string>> => ({
    itemName: d.nameZh,
    dataType: DATA_TYPE_ZH[d.dataType],
    length: String(d.length ?? d.precision ?? ''),
    scale: d.scale === null ? '' : String(d.scale),
    sensitive: yesNo(d.sensitive),
    itemFormat: d.format ? DATA_ITEM_FORMAT_ZH[d.format] : '',
    key: yesNo(d.key),
    description: d.description,
  });
  const items = c.dataItems.length > 0 ? c.dataItems : [null];
  return items.map((d, i) => {
    const cells: Partial<Record<ColumnKey, string>> = { ...(i === 0 ? resource : {}), ...(d ? item(d) : {}) };
    const row = TEMPLATE_COLUMNS.map((col) => cells[col.key] ?? '');
    for (const tag of languages) row.push(i === 0 ? (c.names[tag] ?? '') : '', i === 0 ? (c.abstracts[tag] ?? '') : '', d?.names[tag] ?? '');
    for (const f of extensionFields) {
      const v = i === 0 ? c.extensions[f.key] : undefined;
      row.push(v === undefined ? '' : typeof v === 'boolean' ? yesNo(v) : String(v));
    }
    return row;
  });
}

/** Writes the template workbook with exceljs' streaming writer: memory stays flat for a large catalog. */
export async function writeXlsx(out: Writable, source: ExportSource): Promise<number> {
  const ExcelJS = await loadExcelJs();
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useSharedStrings: false, useStyles: true });
  const sheet = workbook.addWorksheet('政务信息资源目录');
  const headers = exportHeaders(source.languages, source.extensionFields);
  const header = sheet.addRow(headers);
  header.font = { bold: true };
  header.commit();
  let count = 0;
  for await (const e of source.entries) {
    for (const row of templateRows(e, source.languages, source.extensionFields)) sheet.addRow(row).commit();
    count++;
  }
  sheet.commit();
  await workbook.commit();
  return count;
}

/** The content of an entry as the API takes it (POST /catalog/entries), so a JSON export can be posted back. */
export function contentInput(c: EntryContent): Record<string, unknown> {
  const drop = <T extends Record<string, unknown>>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;
  return drop({
    classification: c.classification ? drop({ ...c.classification }) : null,
    nameZh: c.nameZh,
    names: c.names,
    abstractZh: c.abstractZh,
    abstracts: c.abstracts,
    format: c.format ? drop({ ...c.format }) : null,
    dataItems: c.dataItems.map((d) => drop({ ...d, names: d.names })),
    shareType: c.shareType,
    shareCondition: c.shareCondition,
    legalBasis: c.legalBasis,
    shareMethods: c.shareMethods,
    openness: c.openness ? drop({ ...c.openness }) : null,
    updateCycle: c.updateCycle,
    relatedCodes: c.relatedCodes,
    extensions: c.extensions,
  });
}

/** JSON: `{ exportedAt, count, entries: [...] }`, written entry by entry. */
export async function* jsonChunks(source: ExportSource, exportedAt: Date): AsyncGenerator<string> {
  yield `{"exportedAt":${JSON.stringify(exportedAt.toISOString())},"entries":[`;
  let n = 0;
  for await (const e of source.entries) {
    const item = { resourceCode: e.resourceCode, entryId: e.entryId, provider: e.provider, version: e.version, publishDate: e.publishDate, content: contentInput(e.content) };
    yield `${n++ === 0 ? '' : ','}\n${JSON.stringify(item)}`;
  }
  yield `\n],"count":${n}}\n`;
}

// ---- DCAT-AP 3 (docs/dcat.md has the mapping) ---------------------------------------------------

/** EU Publications Office frequency vocabulary (DCAT-AP's dct:accrualPeriodicity). */
const FREQUENCY = 'http://publications.europa.eu/resource/authority/frequency/';
export const UPDATE_CYCLE_FREQUENCY: Readonly<Record<UpdateCycle, string>> = {
  realtime: 'UPDATE_CONT',
  daily: 'DAILY',
  weekly: 'WEEKLY',
  monthly: 'MONTHLY',
  quarterly: 'QUARTERLY',
  yearly: 'ANNUAL',
  irregular: 'IRREG',
};
/** EU access-right vocabulary (dct:accessRights). */
const ACCESS_RIGHT = 'http://publications.europa.eu/resource/authority/access-right/';

function accessRight(shareType: ShareType | null, open: boolean): string {
  if (open) return 'PUBLIC';
  return shareType === 'none' ? 'NON_PUBLIC' : 'RESTRICTED';
}

const CONTEXT = {
  dcat: 'http://www.w3.org/ns/dcat#',
  dct: 'http://purl.org/dc/terms/',
  foaf: 'http://xmlns.com/foaf/0.1/',
  skos: 'http://www.w3.org/2004/02/skos/core#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
  vcard: 'http://www.w3.org/2006/vcard/ns#',
  gs: 'https://govshare.example/ns/catalog#',
};

type LangString = { '@value': string; '@language': string };
const texts = (zh: string, others: Readonly<Record<string, string>>): LangString[] => [{ '@value': zh, '@language': 'zh' }, ...Object.entries(others).map(([tag, v]) => ({ '@value': v, '@language': tag }))];

/** One dcat:Dataset (with its distributions and, for `api`, a dcat:DataService) for a published entry. */
export function dcatDataset(e: PublishedEntry, baseUrl: string): Record<string, unknown> {
  const c = e.content;
  const code = e.resourceCode;
  const id = `${baseUrl}/api/v1/catalog/entries/${encodeURIComponent(code)}`;
  const distributions = c.shareMethods.map((m) => ({
    '@id': `${id}#distribution-${m}`,
    '@type': 'dcat:Distribution',
    'dct:title': { '@value': `${c.nameZh}（${SHARE_METHOD_ZH[m]}）`, '@language': 'zh' },
    'dcat:accessURL': { '@id': id },
    'gs:shareMethod': m,
    ...(c.format ? { 'dct:format': c.format.subtype ?? c.format.type } : {}),
    ...(m === 'api' ? { 'dcat:accessService': { '@id': `${id}#service` } } : {}),
  }));
  const open = c.openness?.open ?? false;
  return {
    '@id': id,
    '@type': 'dcat:Dataset',
    'dct:identifier': code,
    'dct:title': texts(c.nameZh, c.names),
    ...(c.abstractZh ? { 'dct:description': texts(c.abstractZh, c.abstracts) } : {}),
    'dct:publisher': { '@id': `${baseUrl}/api/v1/agencies/${e.provider.id}`, '@type': 'foaf:Agent', 'foaf:name': { '@value': e.provider.name, '@language': 'zh' }, 'dct:identifier': e.provider.code },
    ...(c.updateCycle ? { 'dct:accrualPeriodicity': { '@id': FREQUENCY + UPDATE_CYCLE_FREQUENCY[c.updateCycle] } } : {}),
    'dct:issued': { '@value': e.publishDate, '@type': 'xsd:date' },
    ...(c.classification
      ? {
          'dcat:theme': {
            '@id': `${baseUrl}/catalog/classification/${classificationCode(c.classification)}`,
            '@type': 'skos:Concept',
            'skos:notation': classificationCode(c.classification),
            'skos:prefLabel': { '@value': CATEGORY_ZH[c.classification.category], '@language': 'zh' },
          },
        }
      : {}),
    'dct:accessRights': { '@id': ACCESS_RIGHT + accessRight(c.shareType, open) },
    ...(c.shareType ? { 'gs:shareType': c.shareType } : {}),
    ...(c.shareCondition ? { 'gs:shareCondition': { '@value': c.shareCondition, '@language': 'zh' } } : {}),
    ...(c.legalBasis ? { 'gs:legalBasis': { 'gs:law': c.legalBasis.law, 'gs:article': c.legalBasis.article } } : {}),
    ...(c.openness?.condition ? { 'gs:openCondition': { '@value': c.openness.condition, '@language': 'zh' } } : {}),
    ...(c.relatedCodes.length > 0 ? { 'dct:relation': c.relatedCodes.map((r) => ({ '@id': `${baseUrl}/api/v1/catalog/entries/${encodeURIComponent(r)}` })) } : {}),
    'dcat:landingPage': { '@id': id },
    ...(distributions.length > 0 ? { 'dcat:distribution': distributions } : {}),
    ...(c.dataItems.length > 0
      ? {
          'gs:dataItem': c.dataItems.map((d) => ({
            '@type': 'gs:DataItem',
            'dct:title': texts(d.nameZh, d.names),
            'gs:dataType': d.dataType,
            ...(d.length !== null ? { 'gs:length': d.length } : {}),
            ...(d.precision !== null ? { 'gs:precision': d.precision, 'gs:scale': d.scale } : {}),
            'gs:sensitive': d.sensitive,
            'gs:key': d.key,
            ...(d.format ? { 'gs:format': d.format } : {}),
            ...(d.description ? { 'dct:description': { '@value': d.description, '@language': 'zh' } } : {}),
          })),
        }
      : {}),
  };
}

function dcatService(e: PublishedEntry, baseUrl: string): Record<string, unknown> {
  const id = `${baseUrl}/api/v1/catalog/entries/${encodeURIComponent(e.resourceCode)}`;
  return {
    '@id': `${id}#service`,
    '@type': 'dcat:DataService',
    'dct:title': { '@value': `${e.content.nameZh}（接口）`, '@language': 'zh' },
    'dcat:endpointURL': { '@id': id },
    'dcat:servesDataset': { '@id': id },
    'dct:publisher': { '@id': `${baseUrl}/api/v1/agencies/${e.provider.id}` },
  };
}

/** DCAT-AP 3 JSON-LD: one dcat:Catalog with its datasets and data services, written entry by entry. */
export async function* dcatChunks(source: ExportSource, baseUrl: string, exportedAt: Date): AsyncGenerator<string> {
  const head = {
    '@context': CONTEXT,
    '@id': `${baseUrl}/api/v1/catalog/export?format=dcat`,
    '@type': 'dcat:Catalog',
    'dct:title': [
      { '@value': '政务信息资源目录', '@language': 'zh' },
      { '@value': 'Government information resource catalog', '@language': 'en' },
    ],
    'dct:description': { '@value': '本平台已发布的政务信息资源目录（共享目录及不予共享资源清单）', '@language': 'zh' },
    'dct:modified': { '@value': exportedAt.toISOString(), '@type': 'xsd:dateTime' },
    'dct:publisher': { '@type': 'foaf:Agent', 'foaf:name': { '@value': '政务信息资源共享交换平台', '@language': 'zh' } },
  };
  const text = JSON.stringify(head);
  yield `${text.slice(0, -1)},"dcat:dataset":[`;
  const services: Record<string, unknown>[] = [];
  let n = 0;
  for await (const e of source.entries) {
    yield `${n++ === 0 ? '' : ','}\n${JSON.stringify(dcatDataset(e, baseUrl))}`;
    if (e.content.shareMethods.includes('api')) services.push(dcatService(e, baseUrl));
  }
  yield `\n],"dcat:service":[${services.map((s) => JSON.stringify(s)).join(',\n')}]}\n`;
}
