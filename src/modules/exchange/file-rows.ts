import { createHash } from 'node:crypto';
import { GsError } from '../../lib/errors.js';
import { openSheet } from '../catalog/import-reader.js';
import type { RowProblem } from './row-check.js';
import type { CsvEncoding, LoadFormat } from './vocabulary.js';

/** One record of a data file: its number (CSV: the header is record 1; NDJSON: the line) and values by item name. */
export interface FileRow {
  readonly row: number;
  readonly values: Readonly<Record<string, unknown>>;
  /** A problem of the record as a whole (wrong number of cells, a line that is not JSON). */
  readonly problems?: readonly RowProblem[];
}

export interface OpenedFile {
  readonly rows: AsyncIterable<FileRow>;
  /** Known once the rows have been read to the end. */
  readonly digest: () => string;
  readonly bytes: () => number;
  /** CSV: the encoding declared or detected (known once the first row is read). */
  readonly encoding: () => CsvEncoding | null;
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** How much of a CSV file is looked at to tell UTF-8 from GB18030/GBK. */
const SNIFF_BYTES = 64 * 1024;

export function unreadable(location: string, reason: string, reasonZh: string): GsError {
  return new GsError('GS_ERR_DATA_FILE_UNREADABLE', { location, reason, reasonZh });
}

/**
 * Whether bytes are UTF-8 or GB18030 (a superset of GBK and GB2312, as older office software
 * writes CSV). Strict UTF-8 fails on GBK text almost at once (its lead bytes 0x81–0xFE rarely form
 * valid UTF-8 sequences); a sample that is not UTF-8 must then read as GB18030 without
 * replacement or control characters.
 */
export function detectEncoding(sample: Buffer): CsvEncoding {
  if (sample.subarray(0, 3).equals(UTF8_BOM)) return 'utf-8';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample, { stream: true });
    return 'utf-8';
  } catch {
    // not UTF-8
  }
  let text: string;
  try {
    text = new TextDecoder('gb18030', { fatal: true }).decode(sample, { stream: true });
  } catch {
    throw unreadable('the start of the file', 'neither UTF-8 nor GB18030/GBK text; declare ?encoding= or save it as "CSV UTF-8"', '既不是 UTF-8 也不是 GB18030/GBK 文本；请用 ?encoding= 声明编码，或另存为“CSV UTF-8”');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffd]/.test(text)) {
    throw unreadable('the start of the file', 'not UTF-8, and read as GB18030/GBK it has control characters', '不是 UTF-8 编码，按 GB18030/GBK 解读含有控制字符');
  }
  return 'gb18030';
}

/** Counts and hashes the bytes as they pass, stopping at the size limit. */
async function* metered(source: AsyncIterable<Buffer | string>, maxBytes: number, seen: { bytes: number; hash: ReturnType<typeof createHash> }): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    seen.bytes += b.length;
    if (seen.bytes > maxBytes) throw new GsError('GS_ERR_DATA_FILE_TOO_LARGE', { limit: maxBytes });
    seen.hash.update(b);
    yield b;
  }
}

/** Text decoded in the given or detected encoding, failing (located by byte offset) on bytes that do not decode. */
async function* decoded(source: AsyncIterable<Buffer>, declared: CsvEncoding | undefined, setEncoding: (e: CsvEncoding) => void): AsyncGenerator<string> {
  let head = Buffer.alloc(0);
  let decoder: InstanceType<typeof TextDecoder> | undefined;
  let offset = 0;
  const decode = (b: Buffer, last: boolean): string => {
    try {
      return decoder!.decode(b, { stream: !last });
    } catch {
      throw unreadable(`bytes ${offset}–${offset + b.length}`, 'bytes that are not valid text in the file\'s encoding', '含有不符合文件编码的字节');
    } finally {
      offset += b.length;
    }
  };
  const start = (): string => {
    const encoding = declared ?? detectEncoding(head);
    setEncoding(encoding);
    decoder = new TextDecoder(encoding, { fatal: true, ignoreBOM: false });
    return decode(head, false);
  };
  for await (const chunk of source) {
    if (decoder) {
      yield decode(chunk, false);
      continue;
    }
    head = Buffer.concat([head, chunk]);
    if (head.length >= SNIFF_BYTES) yield start();
  }
  if (!decoder) yield start();
  yield decode(Buffer.alloc(0), true);
}

/**
 * RFC 4180 records from text chunks: quoted cells with "" escapes and line breaks, LF or CRLF.
 * `record` counts records (a quoted line break does not start one).
 */
async function* csvRecords(text: AsyncIterable<string>): AsyncGenerator<{ record: number; cells: string[] }> {
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let afterQuote = false;
  let record = 1;
  let pendingCr = false;
  for await (const chunk of text) {
    for (let i = 0; i < chunk.length; i++) {
      if (pendingCr) {
        pendingCr = false;
        if (chunk[i] === '\n') continue;
      }
      // Fast path, at the start of a record: a whole line in this chunk without quotes or a lone
      // CR is split as it is (what the character loop below would make of it, much faster).
      if (!quoted && !afterQuote && cell === '' && cells.length === 0) {
        const nl = chunk.indexOf('\n', i);
        if (nl >= 0) {
          const end = nl > i && chunk.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
          const line = chunk.slice(i, end);
          if (!line.includes('"') && !line.includes('\r')) {
            yield { record, cells: line.split(',') };
            record++;
            i = nl;
            continue;
          }
        }
      }
      const ch = chunk[i]!;
      if (quoted) {
        if (ch === '"') {
          quoted = false;
          afterQuote = true;
        } else cell += ch;
        continue;
      }
      if (afterQuote) {
        afterQuote = false;
        if (ch === '"') {
          // "" inside quotes: a literal quote, and still quoted
          cell += '"';
          quoted = true;
          continue;
        }
      }
      if (ch === '"' && cell === '') quoted = true;
      else if (ch === ',') {
        cells.push(cell);
        cell = '';
      } else if (ch === '\n' || ch === '\r') {
        cells.push(cell);
        yield { record, cells };
        record++;
        cells = [];
        cell = '';
        pendingCr = ch === '\r';
      } else cell += ch;
    }
  }
  if (quoted) throw unreadable(`record ${record}`, 'a quotation mark is never closed', '引号未闭合');
  if (cell !== '' || cells.length > 0) {
    cells.push(cell);
    yield { record, cells };
  }
}

async function* csvRows(text: AsyncIterable<string>): AsyncGenerator<FileRow> {
  let header: string[] | undefined;
  for await (const { record, cells } of csvRecords(text)) {
    if (!header) {
      header = cells.map((c, i) => (i === 0 ? c.replace(/^\ufeff/, '') : c).trim());
      const seen = new Set<string>();
      for (const h of header) {
        if (h === '') throw unreadable('record 1 (the header)', 'a column has no name', '有列没有名称');
        if (seen.has(h)) throw unreadable('record 1 (the header)', `column ${h} appears twice`, `列“${h}”重复`);
        seen.add(h);
      }
      continue;
    }
    // A blank line carries no record (trailing line breaks, spreadsheet exports).
    if (cells.length === 1 && cells[0] === '') continue;
    if (cells.length !== header.length) {
      yield {
        row: record,
        values: {},
        problems: [{ row: record, item: null, rule: 'columnCount', message: `${cells.length} cells, the header has ${header.length}`, messageZh: `有 ${cells.length} 个单元格，表头为 ${header.length} 列` }],
      };
      continue;
    }
    yield { row: record, values: Object.fromEntries(header.map((h, i) => [h, cells[i]])) };
  }
  if (!header) throw unreadable('record 1', 'the file is empty (no header)', '文件为空（没有表头）');
}

async function* lines(text: AsyncIterable<string>): AsyncGenerator<{ line: number; text: string }> {
  let rest = '';
  let line = 1;
  for await (const chunk of text) {
    rest += chunk;
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      yield { line: line++, text: rest.slice(0, nl).replace(/\r$/, '') };
      rest = rest.slice(nl + 1);
    }
  }
  if (rest !== '') yield { line, text: rest };
}

async function* ndjsonRows(text: AsyncIterable<string>): AsyncGenerator<FileRow> {
  for await (const { line, text: t } of lines(text)) {
    if (t.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(t);
    } catch (e) {
      yield { row: line, values: {}, problems: [{ row: line, item: null, rule: 'json', message: `not JSON (${(e as Error).message})`, messageZh: '不是合法的 JSON' }] };
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      yield { row: line, values: {}, problems: [{ row: line, item: null, rule: 'json', message: 'a line must be one JSON object', messageZh: '每行须为一个 JSON 对象' }] };
      continue;
    }
    yield { row: line, values: value as Record<string, unknown> };
  }
}

/**
 * The first worksheet of an XLSX workbook (a ZIP: its directory is at the end, so the file is read
 * whole, within the size limit): the first row names the data items. Cells come as the sheet
 * stores them: a date typed as a date in the spreadsheet is a serial number and is refused by the
 * date rule; format such columns as text (YYYY-MM-DD).
 */
async function* xlsxRows(source: AsyncIterable<Buffer>): AsyncGenerator<FileRow> {
  const chunks: Buffer[] = [];
  for await (const c of source) chunks.push(c);
  let sheet;
  try {
    sheet = await openSheet({ bytes: Buffer.concat(chunks) }, 'xlsx');
  } catch (e) {
    throw unreadable('the workbook', (e as Error).message, (e as { messageZh?: string }).messageZh ?? (e as Error).message);
  }
  let header: string[] | undefined;
  try {
    for await (const { row, cells } of sheet.rows) {
      if (!header) {
        header = cells.map((c) => c.trim());
        const seen = new Set<string>();
        for (const h of header) {
          if (h === '') throw unreadable('row 1 (the header)', 'a column has no name', '有列没有名称');
          if (seen.has(h)) throw unreadable('row 1 (the header)', `column ${h} appears twice`, `列“${h}”重复`);
          seen.add(h);
        }
        continue;
      }
      if (cells.every((c) => c === '')) continue;
      if (cells.length > header.length && cells.slice(header.length).some((c) => c !== '')) {
        yield { row, values: {}, problems: [{ row, item: null, rule: 'columnCount', message: `cells beyond the ${header.length} named columns`, messageZh: `有超出 ${header.length} 个表头列的单元格` }] };
        continue;
      }
      yield { row, values: Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ''])) };
    }
  } catch (e) {
    if (e instanceof GsError && e.code === 'GS_ERR_DATA_FILE_UNREADABLE') throw e;
    throw unreadable('the worksheet', (e as Error).message, (e as { messageZh?: string }).messageZh ?? (e as Error).message);
  }
  if (!header) throw unreadable('row 1', 'the worksheet is empty (no header)', '工作表为空（没有表头）');
}

/**
 * A data file as rows, streamed: CSV with a header row of data item names (UTF-8 or
 * GB18030/GBK, declared or detected), NDJSON (UTF-8, one object a line), or XLSX (read whole).
 */
export function openDataFile(source: AsyncIterable<Buffer | string>, options: { readonly format: LoadFormat; readonly encoding?: CsvEncoding | undefined; readonly maxBytes: number }): OpenedFile {
  const seen = { bytes: 0, hash: createHash('sha256') };
  let digest: string | undefined;
  let encoding: CsvEncoding | null = null;
  const bytes = metered(source, options.maxBytes, seen);
  const text = decoded(bytes, options.format === 'csv' ? options.encoding : 'utf-8', (e) => {
    encoding = e;
  });
  const rows = options.format === 'csv' ? csvRows(text) : options.format === 'xlsx' ? xlsxRows(bytes) : ndjsonRows(text);
  return {
    rows,
    digest: () => (digest ??= seen.hash.digest('hex')),
    bytes: () => seen.bytes,
    encoding: () => (options.format === 'csv' ? encoding : null),
  };
}
