import { open, readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import JSZip from 'jszip';
import { SaxesParser } from 'saxes';
import { GsError } from '../../lib/errors.js';

export const IMPORT_FORMATS = ['xlsx', 'csv'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** Encodings a CSV file is read in. GB18030 is a superset of GBK and GB2312 (older office software). */
export const CSV_ENCODINGS = ['utf-8', 'gb18030'] as const;
export type CsvEncoding = (typeof CSV_ENCODINGS)[number];

/** One row of the sheet as text cells; `row` is the spreadsheet row number (the header is row 1). */
export interface SheetRow {
  readonly row: number;
  readonly cells: readonly string[];
}

export interface OpenedSheet {
  readonly format: ImportFormat;
  /** For CSV: the encoding detected. */
  readonly encoding: CsvEncoding | null;
  readonly rows: AsyncIterable<SheetRow>;
}

const ZIP = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const OLE2 = Buffer.from([0xd0, 0xcf, 0x11, 0xe0]);
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function unreadable(reason: string, reasonZh: string): GsError {
  return new GsError('GS_ERR_CATALOG_IMPORT_FILE_UNREADABLE', { reason, reasonZh });
}

/**
 * What the first bytes say the file is. XLSX is a ZIP container; an old binary .xls (OLE2) and
 * anything else with NUL bytes is refused; other bytes are taken as CSV text.
 */
export function sniffFormat(head: Buffer, declared: ImportFormat | undefined): ImportFormat {
  const isZip = head.subarray(0, 4).equals(ZIP);
  if (head.subarray(0, 4).equals(OLE2)) throw unreadable('this is an Excel 97-2003 (.xls) file; save it as .xlsx or CSV', '这是 Excel 97-2003（.xls）文件，请另存为 .xlsx 或 CSV');
  if (declared === 'xlsx' && !isZip) throw unreadable('the file is not an XLSX workbook (no ZIP signature)', '文件不是 XLSX 工作簿（缺少 ZIP 文件头）');
  if (isZip) {
    if (declared === 'csv') throw unreadable('the file is a ZIP/XLSX container, not CSV text', '文件是 ZIP/XLSX 格式，不是 CSV 文本');
    return 'xlsx';
  }
  if (head.includes(0)) throw unreadable('the file is neither XLSX nor CSV text (binary content)', '文件既不是 XLSX 也不是 CSV 文本（含二进制内容）');
  return 'csv';
}

/**
 * CSV text: UTF-8 (with or without BOM), or GB18030/GBK as older office software writes it.
 * Strict UTF-8 decoding fails on GBK bytes (their lead bytes 0x81–0xFE rarely form valid UTF-8
 * sequences over a whole file); the GB18030 decoding is then accepted only if it yields text
 * without control or replacement characters.
 */
export function decodeCsv(bytes: Buffer): { text: string; encoding: CsvEncoding } {
  if (bytes.subarray(0, 3).equals(UTF8_BOM)) return { text: new TextDecoder('utf-8').decode(bytes.subarray(3)), encoding: 'utf-8' };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    // not UTF-8: try GB18030 below
  }
  let text: string;
  try {
    text = new TextDecoder('gb18030', { fatal: true }).decode(bytes);
  } catch {
    throw unreadable('the CSV file is neither UTF-8 nor GB18030/GBK text; save it as "CSV UTF-8"', 'CSV 文件既不是 UTF-8 也不是 GB18030/GBK 编码，请另存为“CSV UTF-8”');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffd]/.test(text)) {
    throw unreadable('the CSV file is not UTF-8, and read as GB18030/GBK it has control characters; save it as "CSV UTF-8"', 'CSV 文件不是 UTF-8 编码，按 GB18030/GBK 解读含有控制字符，请另存为“CSV UTF-8”');
  }
  return { text, encoding: 'gb18030' };
}

/** RFC 4180 CSV: quoted fields with "" escapes and line breaks; LF or CRLF; row numbers count records. */
export function* parseCsv(text: string): Generator<SheetRow> {
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let row = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else cell += ch;
      i++;
      continue;
    }
    if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      cells.push(cell);
      yield { row, cells };
      row++;
      cells = [];
      cell = '';
      if (ch === '\r' && text[i + 1] === '\n') i++;
    } else cell += ch;
    i++;
  }
  if (quoted) throw unreadable(`record ${row} has an unclosed quotation mark`, `第 ${row} 行的引号未闭合`);
  if (cell !== '' || cells.length > 0) {
    cells.push(cell);
    yield { row, cells };
  }
}

/** The XML of one entry of the workbook, decoded across chunk boundaries, fed to a SAX parser. */
async function* xmlEvents(zip: JSZip, name: string, parser: SaxesParser, take: () => SheetRow[]): AsyncGenerator<SheetRow> {
  const file = zip.file(name);
  if (!file) return;
  // exceljs' streaming reader decodes each inflated chunk on its own and so breaks a Chinese
  // character split between two chunks (U+FFFD in the cell); a StringDecoder keeps the tail.
  const decoder = new StringDecoder('utf8');
  // JSZip's stream is an old-style stream without async iteration: pipe it through a Node one.
  const stream = file.nodeStream('nodebuffer').pipe(new PassThrough());
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    parser.write(decoder.write(chunk));
    yield* take();
  }
  parser.write(decoder.end());
  parser.close();
  yield* take();
}

/** Column index (0-based) of a cell reference such as "AB12". */
function columnIndex(ref: string): number {
  let n = 0;
  for (const ch of ref) {
    const c = ch.charCodeAt(0);
    if (c < 65 || c > 90) break;
    n = n * 26 + (c - 64);
  }
  return n - 1;
}

async function sharedStrings(zip: JSZip): Promise<string[]> {
  const out: string[] = [];
  const parser = new SaxesParser();
  let current: string | null = null;
  let inText = false;
  let phonetic = false;
  parser.on('opentag', (t) => {
    if (t.name === 'si') current = '';
    else if (t.name === 'rPh') phonetic = true;
    else if (t.name === 't') inText = true;
  });
  parser.on('closetag', (t) => {
    if (t.name === 'si') {
      out.push(current ?? '');
      current = null;
    } else if (t.name === 'rPh') phonetic = false;
    else if (t.name === 't') inText = false;
  });
  parser.on('text', (text) => {
    if (inText && !phonetic && current !== null) current += text;
  });
  for await (const _ of xmlEvents(zip, 'xl/sharedStrings.xml', parser, () => [])) {
    // only the side effects of parsing
  }
  return out;
}

/** The path of the first worksheet, from the workbook and its relationships. */
async function firstSheetPath(zip: JSZip): Promise<string> {
  const workbook = (await zip.file('xl/workbook.xml')?.async('string')) ?? '';
  const rels = (await zip.file('xl/_rels/workbook.xml.rels')?.async('string')) ?? '';
  const rid = /<(?:\w+:)?sheet\b[^>]*?\br:id="([^"]+)"/.exec(workbook)?.[1];
  const target = rid ? new RegExp(`<Relationship\\b[^>]*?Id="${rid}"[^>]*?Target="([^"]+)"`).exec(rels)?.[1] ?? new RegExp(`<Relationship\\b[^>]*?Target="([^"]+)"[^>]*?Id="${rid}"`).exec(rels)?.[1] : undefined;
  if (!target) return 'xl/worksheets/sheet1.xml';
  return target.startsWith('/') ? target.slice(1) : `xl/${target.replace(/^\.\//, '')}`;
}

async function* xlsxRows(bytes: Buffer): AsyncGenerator<SheetRow> {
  let zip: JSZip;
  try {
    zip = await JSZip.loadAsync(bytes);
  } catch (e) {
    throw unreadable(`the XLSX workbook cannot be read (${(e as Error).message})`, `无法读取 XLSX 工作簿（${(e as Error).message}）`);
  }
  const path = await firstSheetPath(zip);
  if (!zip.file(path)) throw unreadable('the workbook has no worksheet', '工作簿中没有工作表');
  const strings = await sharedStrings(zip);
  const parser = new SaxesParser();
  const done: SheetRow[] = [];
  let rowNumber = 0;
  let cells: string[] = [];
  let col = 0;
  let type = '';
  let value = '';
  let inValue = false;
  parser.on('opentag', (t) => {
    switch (t.name) {
      case 'row':
        rowNumber = Number(t.attributes.r ?? rowNumber + 1);
        cells = [];
        col = 0;
        break;
      case 'c': {
        const ref = t.attributes.r;
        col = typeof ref === 'string' ? columnIndex(ref) : col;
        type = String(t.attributes.t ?? 'n');
        value = '';
        break;
      }
      case 'v':
      case 't':
        inValue = true;
        break;
    }
  });
  parser.on('text', (text) => {
    if (inValue) value += text;
  });
  parser.on('closetag', (t) => {
    switch (t.name) {
      case 'v':
      case 't':
        inValue = false;
        break;
      case 'c':
        while (cells.length < col) cells.push('');
        cells[col] = type === 's' ? (strings[Number(value)] ?? '') : type === 'e' ? '' : value;
        col++;
        break;
      case 'row':
        done.push({ row: rowNumber, cells });
        break;
    }
  });
  try {
    yield* xmlEvents(zip, path, parser, () => done.splice(0));
  } catch (e) {
    if (e instanceof GsError) throw e;
    throw unreadable(`the XLSX worksheet cannot be read (${(e as Error).message})`, `无法读取 XLSX 工作表（${(e as Error).message}）`);
  }
}

/** Opens an upload (bytes) or a file (path) as rows of text cells. */
export async function openSheet(source: { readonly bytes: Buffer } | { readonly path: string }, declared?: ImportFormat): Promise<OpenedSheet> {
  let head: Buffer;
  if ('bytes' in source) head = source.bytes.subarray(0, 8);
  else {
    const fh = await open(source.path, 'r').catch((e: NodeJS.ErrnoException) => {
      throw unreadable(`cannot open the file (${e.code ?? e.message})`, `无法打开文件（${e.code ?? e.message}）`);
    });
    try {
      const buf = Buffer.alloc(8);
      const { bytesRead } = await fh.read(buf, 0, 8, 0);
      head = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }
  if (head.length === 0) throw unreadable('the file is empty', '文件为空');
  const format = sniffFormat(head, declared);
  if (format === 'xlsx') {
    const bytes = 'bytes' in source ? source.bytes : await readFile(source.path);
    return { format, encoding: null, rows: xlsxRows(bytes) };
  }
  const bytes = 'bytes' in source ? source.bytes : await readFile(source.path);
  const { text, encoding } = decodeCsv(bytes);
  const rows = async function* (): AsyncGenerator<SheetRow> {
    yield* parseCsv(text);
  };
  return { format, encoding, rows: rows() };
}
