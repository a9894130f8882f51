/**
 * Splits a SQL script into statements at top-level semicolons, respecting quotes, dollar-quoted
 * bodies and comments. Needed because PGlite's extended-protocol `query` runs one statement at a
 * time, and migrations must run through the same Kysely transaction on both drivers.
 */
export function splitSqlScript(script: string): string[] {
  const statements: string[] = [];
  let start = 0;
  // Whether the current statement has anything besides whitespace and comments.
  let hasCode = false;
  let i = 0;
  const n = script.length;
  while (i < n) {
    const c = script[i];
    const next = script[i + 1];
    if (c === '-' && next === '-') {
      const end = script.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
    } else if (c === '/' && next === '*') {
      i = skipBlockComment(script, i);
    } else if (c === "'" || c === '"') {
      hasCode = true;
      // E'…' (escape string): a backslash escapes the next character, so \' does not end it.
      const escapes = c === "'" && (script[i - 1] === 'E' || script[i - 1] === 'e') && !/[\w$]/.test(script[i - 2] ?? '');
      i = skipQuoted(script, i, c, escapes);
    } else if (c === '$') {
      hasCode = true;
      // A tag follows the rules of an unquoted identifier: no digit first, digits allowed after.
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(script.slice(i, i + 130))?.[0];
      if (tag) {
        const end = script.indexOf(tag, i + tag.length);
        i = end === -1 ? n : end + tag.length;
      } else {
        i++;
      }
    } else if (c === ';') {
      if (hasCode) statements.push(script.slice(start, i).trim());
      hasCode = false;
      i++;
      start = i;
    } else {
      if (c !== undefined && !/\s/.test(c)) hasCode = true;
      i++;
    }
  }
  if (hasCode) statements.push(script.slice(start).trim());
  return statements;
}

/** PostgreSQL block comments nest: `/* a /* b *\/ c *\/` is one comment. */
function skipBlockComment(s: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < s.length) {
    if (s[j] === '/' && s[j + 1] === '*') {
      depth++;
      j += 2;
    } else if (s[j] === '*' && s[j + 1] === '/') {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else {
      j++;
    }
  }
  return s.length;
}

function skipQuoted(s: string, i: number, quote: string, backslashEscapes: boolean): number {
  let j = i + 1;
  while (j < s.length) {
    if (backslashEscapes && s[j] === '\\') {
      j += 2;
      continue;
    }
    if (s[j] === quote) {
      if (s[j + 1] === quote) {
        j += 2; // doubled quote inside the literal
        continue;
      }
      return j + 1;
    }
    j++;
  }
  return s.length;
}
