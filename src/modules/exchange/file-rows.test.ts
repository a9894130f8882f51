import { describe, expect, it } from 'vitest';
import { GsError } from '../../lib/errors.js';
import { openDataFile, type FileRow } from './file-rows.js';

/**
 * The CSV reader's first implementation, character by character, kept as the reference: the
 * reader that splits plain lines at once must read every file exactly as it did.
 */
function referenceRecords(text: string): { record: number; cells: string[] }[] {
  const out: { record: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let afterQuote = false;
  let record = 1;
  let pendingCr = false;
  for (const ch of text) {
    if (pendingCr) {
      pendingCr = false;
      if (ch === '\n') continue;
    }
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
      out.push({ record, cells });
      record++;
      cells = [];
      cell = '';
      pendingCr = ch === '\r';
    } else cell += ch;
  }
  if (quoted) throw new Error(`unclosed at record ${record}`);
  if (cell !== '' || cells.length > 0) {
    cells.push(cell);
    out.push({ record, cells });
  }
  return out;
}

const HEADER = ['a', 'b', 'c'];
/** A first row longer than the encoding sniff (64 KiB), so that the text then comes in the chunks cut. */
const PAD = `p,p,${'p'.repeat(65_536)}\n`;

function referenceRows(body: string): FileRow[] | string {
  let records;
  try {
    records = referenceRecords(`a,b,c\n${PAD}${body}`);
  } catch (e) {
    return (e as Error).message.replace('unclosed at ', '');
  }
  const rows: FileRow[] = [];
  for (const { record, cells } of records.slice(1)) {
    if (cells.length === 1 && cells[0] === '') continue;
    if (cells.length !== HEADER.length) rows.push({ row: record, operation: 'upsert', values: {}, problems: [expect.objectContaining({ row: record, rule: 'columnCount' }) as never] });
    else rows.push({ row: record, operation: 'upsert', values: Object.fromEntries(HEADER.map((h, i) => [h, cells[i]])) });
  }
  return rows;
}

async function read(body: string, chunkSizes: () => number): Promise<FileRow[] | string> {
  const bytes = Buffer.from(`a,b,c\n${PAD}${body}`);
  const file = openDataFile(
    (async function* () {
      const head = Buffer.byteLength(`a,b,c\n${PAD}`);
      yield bytes.subarray(0, head);
      for (let i = head; i < bytes.length; ) {
        const n = chunkSizes();
        yield bytes.subarray(i, i + n);
        i += n;
      }
    })(),
    { format: 'csv', encoding: 'utf-8', maxBytes: 1 << 20 },
  );
  const rows: FileRow[] = [];
  try {
    for await (const r of file.rows) rows.push(r);
  } catch (e) {
    if (e instanceof GsError && e.code === 'GS_ERR_DATA_FILE_UNREADABLE') return String(e.params.location);
    throw e;
  }
  return rows;
}

/** A small deterministic generator (the same cases every run). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe('the CSV reader', () => {
  it('reads quoted cells, "" escapes, quoted line breaks, CRLF, lone CR and blank lines as RFC 4180 says, however the bytes are cut', async () => {
    const body = 'x,"y, z",1\r\n"多行\n文本","引""号""",2\n\n\rp,q,r\rs,t,"u"\r\n"a"b,c,d\nshort,row\nlast,no,newline';
    const expected = referenceRows(body);
    expect(typeof expected).not.toBe('string');
    expect(await read(body, () => 1 << 16)).toEqual(expected);
    expect(await read(body, () => 1)).toEqual(expected);
    expect(await read(body, () => 3)).toEqual(expected);
  });

  it('reads random files exactly as the character-by-character reader does', async () => {
    const next = random(7);
    const alphabet = ['a', 'b', ',', ',', '"', '\n', '\n', '\r', '中', ' '];
    for (let n = 0; n < 300; n++) {
      let body = '';
      const length = Math.floor(next() * 60);
      for (let i = 0; i < length; i++) body += alphabet[Math.floor(next() * alphabet.length)];
      const expected = referenceRows(body);
      const got = await read(body, () => 1 + Math.floor(next() * 9));
      if (typeof expected === 'string') expect(got, JSON.stringify(body)).toBe(expected);
      else expect(got, JSON.stringify(body)).toEqual(expected);
    }
  });
});
