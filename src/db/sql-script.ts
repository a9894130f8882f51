/**
 * Splits a SQL script into statements at top-level semicolons, respecting quotes, dollar-quoted
 * bodies and comments. Needed because PGlite's extended-protocol `query` runs one statement at a
 * time, and migrations must run through the same Kysely transaction on both drivers.
 */
export function splitSqlScript(script: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  const n = script.length;
  while (i < n) {
    const c = script[i];
    const next = script[i + 1];
    if (c === '-' && next === '-') {
      const end = script.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
    } else if (c === '/' && next === '*') {
      const end = script.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === "'" || c === '"') {
      i = skipQuoted(script, i, c);
    } else if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(script.slice(i, i + 64))?.[0];
      if (tag) {
        const end = script.indexOf(tag, i + tag.length);
        i = end === -1 ? n : end + tag.length;
      } else {
        i++;
      }
    } else if (c === ';') {
      pushStatement(statements, script.slice(start, i));
      i++;
      start = i;
    } else {
      i++;
    }
  }
  pushStatement(statements, script.slice(start));
  return statements;
}

function skipQuoted(s: string, i: number, quote: string): number {
  let j = i + 1;
  while (j < s.length) {
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

function pushStatement(out: string[], text: string): void {
  const withoutComments = text.replace(/--[^\n]*/g, '').trim();
  if (withoutComments !== '') out.push(text.trim());
}
