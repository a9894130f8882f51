import type { ExtensionDeclaration } from './normalise.js';
import type { DataItemInput, EntryContentInput } from './schemas.js';
import type { SheetRow } from './import-reader.js';
import {
  allowedLabels,
  LANGUAGE_COLUMNS,
  LIST_SEPARATOR,
  normaliseHeader,
  parseCategory,
  parseDataType,
  parseFormatType,
  parseItemFormat,
  parseShareMethod,
  parseShareType,
  parseUpdateCycle,
  parseYesNo,
  TEMPLATE_COLUMNS,
  type ColumnKey,
  type LanguageColumn,
} from './import-template.js';
import type { ShareMethod } from './vocabulary.js';

/** One problem of an import file, located: spreadsheet row number and column header. */
export interface ImportProblem {
  readonly row: number;
  readonly column: string;
  readonly value?: string | undefined;
  readonly rule: string;
  readonly message: string;
  readonly messageZh: string;
}

/** One resource of the file (one or more rows), as far as its cells could be read. */
export interface ParsedResource {
  readonly firstRow: number;
  readonly lastRow: number;
  /** The 提供方 cell: an agency code or Chinese name; empty for the default provider. */
  readonly provider: string;
  readonly resourceCode: string | null;
  readonly publishDate: string | null;
  readonly content: EntryContentInput;
  /** The row of each data item, by index. */
  readonly itemRows: readonly number[];
  /** The header each extension key was read from. */
  readonly extensionHeaders: Readonly<Record<string, string>>;
  /** Problems found reading the cells (vocabulary, numbers, continuation rows). */
  readonly problems: readonly ImportProblem[];
}

type HeaderRole =
  | { readonly kind: 'column'; readonly key: ColumnKey; readonly resource: boolean }
  | { readonly kind: 'language'; readonly of: LanguageColumn; readonly tag: string }
  | { readonly kind: 'extension'; readonly decl: ExtensionDeclaration };

export interface HeaderLayout {
  readonly roles: readonly (HeaderRole | null)[];
  readonly headers: readonly string[];
}

const HEADER_OF = Object.fromEntries(TEMPLATE_COLUMNS.map((c) => [c.key, c.header])) as Record<ColumnKey, string>;
export const headerOf = (key: ColumnKey): string => HEADER_OF[key];

/** Reads the header row: every column must be known, every required one present, none twice. */
export function readHeader(cells: readonly string[], declarations: readonly ExtensionDeclaration[]): { layout: HeaderLayout; problems: ImportProblem[] } {
  const problems: ImportProblem[] = [];
  const byHeader = new Map<string, (typeof TEMPLATE_COLUMNS)[number]>(TEMPLATE_COLUMNS.map((c) => [c.header, c]));
  const extensions = new Map<string, ExtensionDeclaration>();
  for (const d of declarations) {
    extensions.set(normaliseHeader(d.labelZh), d);
    extensions.set(d.key, d);
  }
  const seen = new Set<string>();
  const roles: (HeaderRole | null)[] = [];
  const headers: string[] = [];
  // Trailing empty header cells are formatting, not columns.
  let width = cells.length;
  while (width > 0 && cells[width - 1]!.trim() === '') width--;
  for (let i = 0; i < width; i++) {
    const raw = cells[i]!.trim();
    const h = normaliseHeader(raw);
    headers.push(raw);
    const problem = (rule: string, message: string, messageZh: string): void => {
      problems.push({ row: 1, column: raw || `(column ${i + 1})`, rule, message, messageZh });
      roles.push(null);
    };
    if (h === '') {
      problem('header.empty', `column ${i + 1} has no header`, `第 ${i + 1} 列没有表头`);
      continue;
    }
    const identity = h.startsWith('扩展:') || h.startsWith('扩展：') ? `ext:${h.slice(3)}` : h;
    if (seen.has(identity)) {
      problem('header.duplicate', `column ${raw} appears twice`, `列“${raw}”重复`);
      continue;
    }
    seen.add(identity);
    const at = h.indexOf('@');
    const column = byHeader.get(h);
    if (column) roles.push({ kind: 'column', key: column.key, resource: column.resource });
    else if (at > 0 && h.slice(0, at) in LANGUAGE_COLUMNS) roles.push({ kind: 'language', of: h.slice(0, at) as LanguageColumn, tag: h.slice(at + 1) });
    else {
      const decl = extensions.get(h.replace(/^扩展[:：]/, ''));
      if (decl) roles.push({ kind: 'extension', decl });
      else
        problem(
          'header.unknown',
          `unknown column ${raw}: not a template column, not a language column (资源名称@ug) and not a declared extension field`,
          `未知的列“${raw}”：既不是模板列，也不是语言列（如 资源名称@ug）或已定义的扩展字段`,
        );
    }
  }
  for (const c of TEMPLATE_COLUMNS) {
    if (c.required && !roles.some((r) => r?.kind === 'column' && r.key === c.key)) {
      problems.push({ row: 1, column: c.header, rule: 'header.missing', message: `required column ${c.header} is missing (renamed?)`, messageZh: `缺少必需的列“${c.header}”（是否被改名？）` });
    }
  }
  return { layout: { roles, headers }, problems };
}

/** Groups the data rows into resources and reads their cells. Rows with every cell empty are skipped. */
export async function* readResources(rows: AsyncIterable<SheetRow>, layout: HeaderLayout, onRow?: (row: number) => void): AsyncGenerator<ParsedResource | ImportProblem> {
  let current: Builder | null = null;
  for await (const r of rows) {
    onRow?.(r.row);
    if (r.cells.every((c) => c.trim() === '')) continue;
    const cells = new Map<number, string>();
    r.cells.forEach((c, i) => {
      const v = c.trim();
      if (v !== '') cells.set(i, v);
    });
    const nameIdx = layout.roles.findIndex((x) => x?.kind === 'column' && x.key === 'nameZh');
    const startsResource = cells.has(nameIdx);
    if (startsResource) {
      if (current) yield current.finish();
      current = new Builder(r.row, layout);
      current.resourceCells(cells);
    } else if (!current) {
      yield { row: r.row, column: headerOf('nameZh'), rule: 'required', message: 'the first row of a resource needs its 资源名称', messageZh: '资源的第一行须填写资源名称' };
      continue;
    } else {
      current.continuation(r.row, cells);
    }
    current.itemCells(r.row, cells);
    for (const i of cells.keys()) if (i >= layout.roles.length) current.problem(r.row, `(column ${i + 1})`, 'header.missing', 'a value in a column without a header', '该列没有表头却有取值', cells.get(i));
  }
  if (current) yield current.finish();
}

class Builder {
  readonly #layout: HeaderLayout;
  readonly #problems: ImportProblem[] = [];
  readonly #items: DataItemInput[] = [];
  readonly #itemRows: number[] = [];
  readonly #extensionHeaders: Record<string, string> = {};
  #content: { -readonly [K in keyof EntryContentInput]: EntryContentInput[K] } = { nameZh: '' };
  #provider = '';
  #code: string | null = null;
  #publishDate: string | null = null;
  #lastRow: number;

  constructor(
    readonly firstRow: number,
    layout: HeaderLayout,
  ) {
    this.#layout = layout;
    this.#lastRow = firstRow;
  }

  problem(row: number, column: string, rule: string, message: string, messageZh: string, value?: string): void {
    this.#problems.push({ row, column, value, rule, message, messageZh });
  }

  #unknown(row: number, key: ColumnKey, value: string, allowed: Parameters<typeof allowedLabels>[0]): void {
    const list = allowedLabels(allowed);
    this.problem(row, headerOf(key), 'enum', `unknown value ${value}; allowed: ${list}`, `取值“${value}”无效，允许：${list}`, value);
  }

  resourceCells(cells: ReadonlyMap<number, string>): void {
    const row = this.firstRow;
    const c = this.#content;
    const classification = { category: '', group: '', subgroup: '', detail: undefined as string | undefined };
    const names: Record<string, string> = {};
    const abstracts: Record<string, string> = {};
    const extensions: Record<string, string | number | boolean> = {};
    let legalLaw: string | undefined;
    let legalArticle: string | undefined;
    let openCondition: string | undefined;
    let open: boolean | undefined;
    for (const [i, v] of cells) {
      const role = this.#layout.roles[i];
      if (!role) continue;
      if (role.kind === 'language') {
        if (role.of === '资源名称') names[role.tag] = v;
        else if (role.of === '资源摘要') abstracts[role.tag] = v;
        continue;
      }
      if (role.kind === 'extension') {
        const value = extensionValue(role.decl, v);
        const header = this.#layout.headers[i]!;
        this.#extensionHeaders[role.decl.key] = header;
        if (value === undefined) this.problem(row, header, 'type', `${v} is not a ${role.decl.type} value`, `“${v}”不是${role.decl.type}类型的取值`, v);
        else extensions[role.decl.key] = value;
        continue;
      }
      switch (role.key) {
        case 'category': {
          const cat = parseCategory(v);
          if (cat) classification.category = cat;
          else this.#unknown(row, 'category', v, 'category');
          break;
        }
        case 'group':
          classification.group = digits(v, 2);
          break;
        case 'subgroup':
          classification.subgroup = digits(v, 3);
          break;
        case 'detail':
          classification.detail = v;
          break;
        case 'nameZh':
          c.nameZh = v;
          break;
        case 'resourceCode':
          this.#code = v;
          break;
        case 'provider':
          this.#provider = v;
          break;
        case 'abstractZh':
          c.abstractZh = v;
          break;
        case 'format': {
          const slash = v.search(/[/／]/);
          const typeText = slash < 0 ? v : v.slice(0, slash).trim();
          const type = parseFormatType(typeText);
          if (!type) this.#unknown(row, 'format', typeText, 'format');
          else c.format = slash < 0 ? { type } : { type, subtype: v.slice(slash + 1).trim().toLowerCase() };
          break;
        }
        case 'shareType': {
          const t = parseShareType(v);
          if (t) c.shareType = t;
          else this.#unknown(row, 'shareType', v, 'shareType');
          break;
        }
        case 'shareCondition':
          c.shareCondition = v;
          break;
        case 'legalBasisLaw':
          legalLaw = v;
          break;
        case 'legalBasisArticle':
          legalArticle = v;
          break;
        case 'shareMethods': {
          const methods: ShareMethod[] = [];
          for (const part of v.split(LIST_SEPARATOR).map((s) => s.trim()).filter(Boolean)) {
            const m = parseShareMethod(part);
            if (!m) this.#unknown(row, 'shareMethods', part, 'shareMethods');
            else if (!methods.includes(m)) methods.push(m);
          }
          c.shareMethods = methods;
          break;
        }
        case 'open': {
          const yes = parseYesNo(v);
          if (yes === undefined) this.problem(row, headerOf('open'), 'yesNo', `${v} is not 是 or 否`, `“${v}”应为“是”或“否”`, v);
          else open = yes;
          break;
        }
        case 'openCondition':
          openCondition = v;
          break;
        case 'updateCycle': {
          const u = parseUpdateCycle(v);
          if (u) c.updateCycle = u;
          else this.#unknown(row, 'updateCycle', v, 'updateCycle');
          break;
        }
        case 'publishDate':
          this.#publishDate = excelDate(v);
          break;
        case 'relatedCodes':
          c.relatedCodes = [...new Set(v.split(LIST_SEPARATOR).map((s) => s.trim()).filter(Boolean))];
          break;
        default:
          break; // data item columns: itemCells
      }
    }
    if (classification.category || classification.group || classification.subgroup) {
      // Left incomplete, the schema check names the missing part by its column.
      c.classification = { category: classification.category as '1', group: classification.group, subgroup: classification.subgroup, ...(classification.detail ? { detail: classification.detail } : {}) };
    }
    if (Object.keys(names).length > 0) c.names = names;
    if (Object.keys(abstracts).length > 0) c.abstracts = abstracts;
    if (Object.keys(extensions).length > 0) c.extensions = extensions;
    if (legalLaw !== undefined || legalArticle !== undefined) {
      c.legalBasis = { law: legalLaw ?? '', article: legalArticle ?? '' };
      if (!legalLaw) this.problem(row, headerOf('legalBasisLaw'), 'required', 'the law is missing while its article is given', '填写了条款但缺少法规名称');
      if (!legalArticle) this.problem(row, headerOf('legalBasisArticle'), 'required', 'the article of the law is missing', '缺少法规条款');
    }
    if (open !== undefined) c.openness = openCondition ? { open, condition: openCondition } : { open };
    else if (openCondition) this.problem(row, headerOf('open'), 'required', 'an open condition without 是否向社会开放', '填写了开放条件但未填写是否向社会开放');
  }

  /** A row continuing the resource above: only data item (and data item language) columns may be filled. */
  continuation(row: number, cells: ReadonlyMap<number, string>): void {
    this.#lastRow = row;
    for (const [i, v] of cells) {
      const role = this.#layout.roles[i];
      const resourceColumn = (role?.kind === 'column' && role.resource) || role?.kind === 'extension' || (role?.kind === 'language' && role.of !== '信息项名称');
      if (resourceColumn) {
        this.problem(
          row,
          this.#layout.headers[i]!,
          'continuation',
          'a row continuing a resource (资源名称 empty) must leave the resource columns empty; start a new resource by filling 资源名称',
          '资源名称为空的行是上一资源的续行，资源列须留空；如为新资源，请填写资源名称',
          v,
        );
      }
    }
  }

  itemCells(row: number, cells: ReadonlyMap<number, string>): void {
    const item: { -readonly [K in keyof DataItemInput]: DataItemInput[K] } = { nameZh: '', dataType: 'string' };
    let any = false;
    let named = false;
    let typed = false;
    const names: Record<string, string> = {};
    let lengthCell: string | undefined;
    let scaleCell: string | undefined;
    for (const [i, v] of cells) {
      const role = this.#layout.roles[i];
      if (!role) continue;
      if (role.kind === 'language' && role.of === '信息项名称') {
        names[role.tag] = v;
        any = true;
        continue;
      }
      if (role.kind !== 'column' || role.resource) continue;
      any = true;
      switch (role.key) {
        case 'itemName':
          item.nameZh = v;
          named = true;
          break;
        case 'dataType': {
          const t = parseDataType(v);
          if (t) {
            item.dataType = t;
            typed = true;
          } else this.#unknown(row, 'dataType', v, 'dataType');
          break;
        }
        case 'length':
          lengthCell = v;
          break;
        case 'scale':
          scaleCell = v;
          break;
        case 'sensitive':
        case 'key': {
          const yes = parseYesNo(v);
          if (yes === undefined) this.problem(row, headerOf(role.key), 'yesNo', `${v} is not 是 or 否`, `“${v}”应为“是”或“否”`, v);
          else item[role.key === 'key' ? 'key' : 'sensitive'] = yes;
          break;
        }
        case 'itemFormat': {
          const f = parseItemFormat(v);
          if (f) item.format = f;
          else this.#unknown(row, 'itemFormat', v, 'itemFormat');
          break;
        }
        case 'description':
          item.description = v;
          break;
        default:
          break;
      }
    }
    if (!any) return;
    if (!named) {
      this.problem(row, headerOf('itemName'), 'required', 'data item columns are filled but 信息项名称 is empty', '填写了信息项的列但信息项名称为空');
      return;
    }
    if (!typed && !this.#problems.some((p) => p.row === row && p.column === headerOf('dataType'))) {
      this.problem(row, headerOf('dataType'), 'required', 'the data type is missing', '缺少数据类型');
    }
    const integer = (cell: string, key: 'length' | 'scale'): number | undefined => {
      if (!/^\d+$/.test(cell)) {
        this.problem(row, headerOf(key), 'integer', `${cell} is not a whole number`, `“${cell}”不是整数`, cell);
        return undefined;
      }
      return Number(cell);
    };
    if (lengthCell !== undefined) {
      const n = integer(lengthCell, 'length');
      if (n !== undefined) {
        if (item.dataType === 'decimal') item.precision = n;
        else item.length = n;
      }
    }
    if (scaleCell !== undefined) {
      const n = integer(scaleCell, 'scale');
      if (n !== undefined) item.scale = n;
    } else if (item.dataType === 'decimal' && item.precision !== undefined) {
      item.scale = 0; // 数值型 with a length and no 小数位数: whole numbers
    }
    if (Object.keys(names).length > 0) item.names = names;
    this.#items.push(item);
    this.#itemRows.push(row);
  }

  finish(): ParsedResource {
    if (this.#items.length > 0) this.#content.dataItems = this.#items;
    return {
      firstRow: this.firstRow,
      lastRow: this.#lastRow,
      provider: this.#provider,
      resourceCode: this.#code,
      publishDate: this.#publishDate,
      content: this.#content,
      itemRows: this.#itemRows,
      extensionHeaders: this.#extensionHeaders,
      problems: this.#problems,
    };
  }
}

/** A code cell: a spreadsheet may have turned "01" into the number 1; whole numbers are padded back. */
function digits(v: string, width: number): string {
  return /^\d+$/.test(v) && v.length < width ? v.padStart(width, '0') : v;
}

/** A date cell: a workbook keeps dates as day numbers from 1899-12-30 unless the cell is text. */
function excelDate(v: string): string {
  if (!/^\d{5}(\.\d+)?$/.test(v)) return v;
  return new Date(Date.UTC(1899, 11, 30) + Math.floor(Number(v)) * 86_400_000).toISOString().slice(0, 10);
}

function extensionValue(decl: ExtensionDeclaration, v: string): string | number | boolean | undefined {
  switch (decl.type) {
    case 'integer':
    case 'number': {
      const n = Number(v);
      return v !== '' && Number.isFinite(n) ? n : undefined;
    }
    case 'boolean':
      return parseYesNo(v);
    default:
      return v;
  }
}

/**
 * The (row, column) of a content path as the checks name it (`content.dataItems.2.length`,
 * `body.content.names.ug`, TypeBox's `/classification/group`).
 */
export function locate(path: string, r: ParsedResource): { row: number; column: string } {
  const parts = path
    .replace(/^body\./, '')
    .replace(/^content\./, '')
    .replace(/^\//, '')
    .split(/[./]/)
    .filter(Boolean);
  const at = (column: string, row = r.firstRow) => ({ row, column });
  const [head, second, third] = parts;
  switch (head) {
    case 'classification':
      return at(second === 'group' ? '项' : second === 'subgroup' ? '目' : second === 'detail' ? '细目' : '类');
    case 'nameZh':
      return at('资源名称');
    case 'names':
      return at(second ? `资源名称@${second}` : '资源名称');
    case 'abstractZh':
      return at('资源摘要');
    case 'abstracts':
      return at(second ? `资源摘要@${second}` : '资源摘要');
    case 'format':
      return at('资源格式');
    case 'shareType':
      return at('共享类型');
    case 'shareCondition':
      return at('共享条件');
    case 'legalBasis':
      return at(second === 'article' ? '不予共享条款' : '不予共享依据');
    case 'shareMethods':
      return at('共享方式');
    case 'openness':
      return at(second === 'condition' ? '开放条件' : '是否向社会开放');
    case 'updateCycle':
      return at('更新周期');
    case 'relatedCodes':
      return at('关联资源代码');
    case 'extensions':
      return at(second ? (r.extensionHeaders[second] ?? second) : '扩展字段');
    case 'dataItems': {
      const index = second !== undefined && /^\d+$/.test(second) ? Number(second) : -1;
      const row = r.itemRows[index] ?? r.firstRow;
      const column: Record<string, string> = {
        nameZh: '信息项名称',
        names: '信息项名称',
        dataType: '数据类型',
        length: '数据长度',
        precision: '数据长度',
        scale: '小数位数',
        sensitive: '是否敏感',
        format: '格式校验',
        key: '是否主键',
        description: '信息项描述',
      };
      const name = third === 'names' && parts[3] ? `信息项名称@${parts[3]}` : (column[third ?? ''] ?? '信息项名称');
      return at(name, row);
    }
    default:
      return at(head ?? '资源名称');
  }
}
