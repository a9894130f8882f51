import { GsError } from '../../lib/errors.js';
import { newId } from '../../lib/secrets.js';
import type { RequestContext } from '../../server/actor.js';
import type { Agency } from '../agencies/schemas.js';
import type { ExtensionDeclaration } from './normalise.js';
import { openSheet, type CsvEncoding, type ImportFormat } from './import-reader.js';
import { headerOf, locate, readHeader, readResources, type ImportProblem, type ParsedResource } from './import-rows.js';
import type { CatalogService, ImportCandidate } from './service.js';
import type { ExtensionType } from './vocabulary.js';

/** What the import needs of the agencies module: every agency, to resolve 提供方 by code or name. */
export interface AgencyDirectory {
  list(q: { readonly after?: string | undefined; readonly limit: number }): Promise<readonly Agency[]>;
}

export interface ImportFileOptions {
  readonly format?: ImportFormat | undefined;
  /** The provider of rows whose 提供方 is empty: agency code or id; a cataloger's own agency by default. */
  readonly agency?: string | undefined;
  readonly partial?: boolean | undefined;
  readonly publish?: boolean | undefined;
  readonly dryRun?: boolean | undefined;
  /** A file name for the report and the audit trail. */
  readonly fileName?: string | undefined;
  readonly onProgress?: ((p: ImportProgress) => void) | undefined;
}

export interface ImportProgress {
  readonly phase: 'reading' | 'validating' | 'writing';
  readonly done: number;
  /** Unknown while reading. */
  readonly total: number | null;
}

export const IMPORT_OUTCOMES = ['imported', 'partial', 'rejected', 'checked'] as const;
export type ImportOutcomeKind = (typeof IMPORT_OUTCOMES)[number];

/** The result of an import: a value, whatever happened to the rows. docs/catalog-import.md describes it. */
export interface ImportReport {
  readonly importId: string;
  /** imported: everything; partial: the good resources, the rest failed; rejected: nothing written; checked: dry run. */
  readonly outcome: ImportOutcomeKind;
  readonly mode: 'draft' | 'publish';
  readonly format: ImportFormat;
  readonly encoding: CsvEncoding | null;
  readonly rows: number;
  readonly resources: number;
  readonly imported: number;
  readonly failedResources: number;
  readonly entries: readonly { readonly row: number; readonly entryId: string; readonly resourceCode: string | null; readonly nameZh: string }[];
  readonly errors: readonly ImportProblem[];
}

async function allAgencies(directory: AgencyDirectory): Promise<Agency[]> {
  const out: Agency[] = [];
  for (let after: string | undefined; ; ) {
    const page = await directory.list({ after, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
    after = page[page.length - 1]!.code;
  }
}

/**
 * Imports a catalog file (docs/catalog-import.md): reads every row, checks every resource by the
 * catalog's rules (CatalogService.importEntries), and writes all of them in one transaction, or
 * none if any row failed — unless `partial`. Refuses only a file it cannot read at all.
 */
export async function importCatalogFile(
  catalog: CatalogService,
  agencies: AgencyDirectory,
  ctx: RequestContext,
  source: { readonly bytes: Buffer } | { readonly path: string },
  options: ImportFileOptions = {},
): Promise<ImportReport> {
  const publish = options.publish ?? false;
  const sheet = await openSheet(source, options.format);
  const declarations: ExtensionDeclaration[] = (await catalog.extensionFields())
    .filter((f) => f.active)
    .map((f) => ({ key: f.key, labelZh: f.labelZh, type: f.type as ExtensionType, required: f.required, allowedValues: f.allowedValues }));
  const directory = await allAgencies(agencies);
  const byCode = new Map(directory.map((a) => [a.code, a]));
  const byName = new Map<string, Agency[]>();
  for (const a of directory) byName.set(a.nameZh, [...(byName.get(a.nameZh) ?? []), a]);
  const byId = new Map(directory.map((a) => [a.id, a]));

  let fallback: Agency | undefined;
  if (options.agency) {
    fallback = byCode.get(options.agency) ?? byId.get(options.agency);
    if (!fallback) throw new GsError('GS_ERR_CATALOG_IMPORT_OPTION_INVALID', { reason: `no agency ${options.agency}`, reasonZh: `单位 ${options.agency} 不存在` });
  } else if (ctx.actor.agencyId) fallback = byId.get(ctx.actor.agencyId);

  const importId = newId();
  const errors: ImportProblem[] = [];
  const base = { importId, mode: publish ? ('publish' as const) : ('draft' as const), format: sheet.format, encoding: sheet.encoding };
  const progress = options.onProgress;
  let rows = 0;

  const iterator = sheet.rows[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) throw new GsError('GS_ERR_CATALOG_IMPORT_FILE_UNREADABLE', { reason: 'the file has no header row', reasonZh: '文件没有表头行' });
  const { layout, problems: headerProblems } = readHeader(first.value.cells, declarations);
  if (headerProblems.length > 0) {
    return { ...base, outcome: 'rejected', rows: 0, resources: 0, imported: 0, failedResources: 0, entries: [], errors: headerProblems };
  }
  const rest: AsyncIterable<(typeof first)['value']> = { [Symbol.asyncIterator]: () => iterator };

  const resources: ParsedResource[] = [];
  for await (const item of readResources(rest, layout, (row) => {
    rows = row - 1;
    if (row % 1000 === 0) progress?.({ phase: 'reading', done: rows, total: null });
  })) {
    if ('content' in item) resources.push(item);
    else errors.push(item);
  }
  progress?.({ phase: 'reading', done: rows, total: rows });

  const candidates: ImportCandidate[] = [];
  const readProblems: ImportProblem[][] = [];
  for (const r of resources) {
    const own = [...r.problems];
    let agency: Agency | undefined;
    const providerColumn = headerOf('provider');
    if (r.provider) {
      agency = byCode.get(r.provider);
      const named = byName.get(r.provider) ?? [];
      if (!agency && named.length === 1) agency = named[0];
      if (!agency) {
        const [message, messageZh] =
          named.length > 1 ? [`${r.provider} names ${named.length} agencies; give the agency code`, `名称“${r.provider}”对应 ${named.length} 个单位，请填写单位代码`] : [`no agency with code or name ${r.provider}`, `不存在代码或名称为“${r.provider}”的单位`];
        own.push({ row: r.firstRow, column: providerColumn, value: r.provider, rule: 'agency', message, messageZh });
      }
    } else {
      agency = fallback;
      if (!agency) own.push({ row: r.firstRow, column: providerColumn, rule: 'required', message: 'give the provider (agency code or name), or the agency option', messageZh: '请填写提供方（单位代码或名称），或指定默认提供方单位' });
    }
    readProblems.push(own);
    candidates.push({ agencyId: agency?.id ?? '00000000-0000-4000-8000-000000000000', content: r.content, resourceCode: r.resourceCode, publishDate: r.publishDate });
  }

  const outcome = await catalog.importEntries(ctx, candidates, {
    publish,
    // A resource with unreadable cells must not be written: partial writes only clean ones.
    partial: options.partial ?? false,
    // Rows outside any resource fail the file as a whole unless partial.
    dryRun: (options.dryRun ?? false) || (errors.length > 0 && !(options.partial ?? false)),
    importId,
    source: { file: options.fileName ?? null, format: sheet.format, rows },
    onProgress: progress ? (p) => progress({ phase: p.phase, done: p.done, total: p.total }) : undefined,
    exclude: readProblems.map((p) => p.length > 0),
  });

  const entries: { row: number; entryId: string; resourceCode: string | null; nameZh: string }[] = [];
  let failedResources = 0;
  resources.forEach((r, i) => {
    const own = readProblems[i]!;
    // The provider column problems explain an agency problem already; the placeholder id says nothing more.
    const checked = outcome.problems[i]!.filter((p) => !(own.some((o) => o.column === headerOf('provider')) && p.field === 'agencyId'));
    const located = checked
      .filter((p) => !(p.field === 'excluded'))
      .map((p): ImportProblem => {
        const at = p.field === 'agencyId' ? { row: r.firstRow, column: headerOf('provider') } : p.field === 'resourceCode' ? { row: r.firstRow, column: headerOf('resourceCode') } : p.field === 'publishDate' ? { row: r.firstRow, column: headerOf('publishDate') } : locate(p.field, r);
        return { ...at, rule: p.rule, message: p.message, messageZh: p.messageZh };
      });
    // An unreadable 数据类型 makes the length checks of that row say nothing useful.
    const typeUnread = new Set(own.filter((o) => o.column === headerOf('dataType')).map((o) => o.row));
    const all = dedupe([...own, ...located.filter((p) => !(typeUnread.has(p.row) && (p.column === headerOf('length') || p.column === headerOf('scale'))))]);
    if (all.length > 0) failedResources++;
    errors.push(...all);
    const w = outcome.written[i];
    if (w) entries.push({ row: r.firstRow, entryId: w.entryId, resourceCode: w.resourceCode, nameZh: r.content.nameZh });
  });
  errors.sort((a, b) => a.row - b.row);
  const failed = errors.length > 0;
  const kind: ImportOutcomeKind = options.dryRun ? 'checked' : !failed ? 'imported' : entries.length > 0 ? 'partial' : 'rejected';
  return { ...base, outcome: kind, rows, resources: resources.length, imported: entries.length, failedResources, entries, errors };
}

/** One problem per cell: a cell read wrong is not also reported as missing by the later checks. */
function dedupe(problems: readonly ImportProblem[]): ImportProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.row}|${p.column}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
