import { Jieba } from '@node-rs/jieba';
import { dict } from '@node-rs/jieba/dict.js';

/**
 * Text → search terms for the catalog search (search.ts). Chinese has no spaces between words,
 * so text is segmented with jieba (its default dictionary): documents in search mode (every word
 * and the shorter words inside long ones: 不动产 → 不动, 动产, 不动产), queries in normal mode
 * (the longest words), so that a query word always meets the same word in a document and a long
 * query word can still be met by its parts. Text in other languages and scripts (Latin, Cyrillic,
 * Uyghur, Tibetan) is split at whatever is not a letter or digit. Everything is NFKC-normalised
 * (full-width letters and digits become ordinary ones) and lower-cased.
 *
 * The terms go into PostgreSQL as a `tsvector` literal built here, not through a text-search
 * parser: PostgreSQL's parser decides what a letter is by the database's locale, and a C-locale
 * database (the embedded one among them) would drop Chinese characters altogether.
 */

let segmenter: Jieba | undefined;

/** jieba with its dictionary, loaded on first use (about 0.1 s). */
function jieba(): Jieba {
  segmenter ??= Jieba.withDict(dict);
  return segmenter;
}

/** A letter or a digit of any script: what makes a token worth indexing. */
const WORD_CHAR = /[\p{L}\p{N}]/u;
const HAN = /\p{Script=Han}/u;
/** Split points for text jieba is not asked to segment. */
const NON_WORD = /[^\p{L}\p{N}\p{M}]+/u;

/** PostgreSQL's limits: a lexeme below 2 KiB, positions 1…16383. */
const MAX_TERM_CHARS = 200;
const MAX_POSITION = 16_383;

function normalise(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

/**
 * The words of `text`, in order. `document`: search mode (words and the words within them);
 * `query`: the longest words only. Tokens without a letter or digit (spaces, punctuation) are dropped.
 */
export function segment(text: string, mode: 'document' | 'query'): string[] {
  const normalised = normalise(text);
  const out: string[] = [];
  if (!HAN.test(normalised)) {
    for (const t of normalised.split(NON_WORD)) if (t && t.length <= MAX_TERM_CHARS) out.push(t);
    return out;
  }
  const tokens = mode === 'document' ? jieba().cutForSearch(normalised, true) : jieba().cut(normalised, true);
  for (const raw of tokens) {
    // jieba passes runs of other scripts through whole, punctuation included ("e-mail地址").
    for (const t of HAN.test(raw) ? [raw.trim()] : raw.split(NON_WORD)) {
      if (t && t.length <= MAX_TERM_CHARS && WORD_CHAR.test(t)) out.push(t);
    }
  }
  return out;
}

/** How much a field counts in ranking: A name, B abstract, C data item names, D provider. */
export type TermWeight = 'A' | 'B' | 'C' | 'D';

export interface WeightedText {
  readonly weight: TermWeight;
  readonly texts: readonly string[];
  /** Terms taken as they are (codes), not segmented. */
  readonly exact?: readonly string[];
}

function quoteLexeme(term: string): string {
  return `'${term.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * The `tsvector` literal of a document: each term with its positions and weight. Positions count
 * through the document in field order, so ranking sees terms that stand together.
 */
export function tsvectorLiteral(fields: readonly WeightedText[]): string {
  const positions = new Map<string, string[]>();
  let position = 0;
  const add = (term: string, weight: TermWeight): void => {
    position = Math.min(position + 1, MAX_POSITION);
    let list = positions.get(term);
    if (!list) positions.set(term, (list = []));
    // PostgreSQL keeps at most 256 positions of one lexeme.
    if (list.length < 256) list.push(`${position}${weight}`);
  };
  for (const f of fields) {
    for (const text of f.texts) for (const term of segment(text, 'document')) add(term, f.weight);
    for (const code of f.exact ?? []) {
      const term = normalise(code).trim();
      if (term && term.length <= MAX_TERM_CHARS) add(term, f.weight);
    }
  }
  return [...positions].map(([term, list]) => `${quoteLexeme(term)}:${list.join(',')}`).join(' ');
}

/** The words of a query as the search matches them, and the `tsquery` literal (null: nothing to match). */
export interface ParsedQuery {
  readonly terms: readonly string[];
  readonly tsquery: string | null;
}

/**
 * Words that name nearly every catalog entry (…信息, …数据): matching them narrows nothing and
 * ranks nothing, so a query drops them while it has other words. Kept when they are all it has.
 */
const WEAK_TERMS: ReadonlySet<string> = new Set(['信息', '数据', '资料', '情况', '有关', '相关', '的', '和', '与', '及']);

/**
 * A query's `tsquery`: every word must match (AND). A word matches itself or, when jieba would
 * split it further in a document, all of its parts; a Latin word of three letters or more also
 * matches as a prefix (`popul` finds "population").
 */
export function parseQuery(q: string): ParsedQuery {
  const chunks = q.split(/\s+/u).filter((c) => c !== '');
  const words = [...new Set(chunks.flatMap((chunk) => segment(chunk, 'query')))];
  const strong = words.filter((w) => !WEAK_TERMS.has(w));
  const terms = strong.length > 0 ? strong : words;
  if (terms.length === 0) return { terms, tsquery: null };
  const clause = (term: string): string => {
    const alternatives = [HAN.test(term) || term.length < 3 ? quoteLexeme(term) : `${quoteLexeme(term)}:*`];
    const parts = HAN.test(term) ? [...new Set(segment(term, 'document'))].filter((p) => p !== term) : [];
    if (parts.length > 1) alternatives.push(`(${parts.map(quoteLexeme).join(' & ')})`);
    return alternatives.length > 1 ? `(${alternatives.join(' | ')})` : alternatives[0]!;
  };
  const clauses: string[] = [];
  const done = new Set<string>();
  for (const chunk of chunks) {
    const chunkTerms = segment(chunk, 'query').filter((w) => terms.includes(w) && !done.has(w));
    if (chunkTerms.length === 0) continue;
    for (const w of chunkTerms) done.add(w);
    const all = chunkTerms.map(clause);
    // A code (HY-GAJ, 101001/000001) is also indexed whole: it matches whole, or by its parts.
    const whole = normalise(chunk);
    if (!HAN.test(whole) && chunkTerms.length > 1 && whole.length <= MAX_TERM_CHARS) clauses.push(`(${quoteLexeme(whole)} | (${all.join(' & ')}))`);
    else clauses.push(...all);
  }
  return { terms, tsquery: clauses.join(' & ') };
}

/** A piece of text, and whether it is one of the query's words (for highlighting). */
export interface HighlightSegment {
  readonly text: string;
  readonly match: boolean;
}

/**
 * `text` cut into pieces that match a query word (case- and width-insensitively) and pieces that
 * do not, in order; the console marks the matches. Plain pieces: nothing here is HTML.
 */
export function highlight(text: string, terms: readonly string[]): HighlightSegment[] {
  if (terms.length === 0 || text === '') return [{ text, match: false }];
  const folded = normalise(text);
  // NFKC can change lengths (ﬁ → fi); without a one-to-one mapping, mark nothing rather than the wrong place.
  if (folded.length !== text.length) return [{ text, match: false }];
  const marks = new Uint8Array(text.length);
  for (const term of terms) {
    for (let at = folded.indexOf(term); at >= 0; at = folded.indexOf(term, at + term.length)) marks.fill(1, at, at + term.length);
  }
  const out: HighlightSegment[] = [];
  let start = 0;
  for (let i = 1; i <= text.length; i++) {
    if (i === text.length || marks[i] !== marks[start]) {
      out.push({ text: text.slice(start, i), match: marks[start] === 1 });
      start = i;
    }
  }
  return out;
}
