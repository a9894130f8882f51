import { describe, expect, it } from 'vitest';
import { loadMigrations } from './migrate.js';
import { splitSqlScript } from './sql-script.js';

describe('splitSqlScript', () => {
  it('splits at top-level semicolons and trims each statement', () => {
    expect(splitSqlScript('create table a (id int);\n  insert into a values (1);\nselect * from a;')).toEqual([
      'create table a (id int)',
      'insert into a values (1)',
      'select * from a',
    ]);
  });

  it('keeps semicolons inside single-quoted literals, including doubled quotes', () => {
    expect(splitSqlScript("insert into t values ('a;b'); insert into t values ('it''s; fine');")).toEqual([
      "insert into t values ('a;b')",
      "insert into t values ('it''s; fine')",
    ]);
  });

  it("keeps semicolons inside E'' escape strings, where a backslash escapes the quote", () => {
    expect(splitSqlScript("insert into t values (E'it\\'s; fine'); select e'\\\\'; select 2")).toEqual([
      "insert into t values (E'it\\'s; fine')",
      "select e'\\\\'",
      'select 2',
    ]);
    // in a standard string a backslash is an ordinary character: '\' ends at its second quote
    expect(splitSqlScript("select 'a\\'; select 'b'")).toEqual(["select 'a\\'", "select 'b'"]);
  });

  it('keeps semicolons inside double-quoted identifiers', () => {
    expect(splitSqlScript('create table "odd;name" (id int); select 1')).toEqual(['create table "odd;name" (id int)', 'select 1']);
  });

  it('keeps a $$-quoted function body in one statement', () => {
    const fn = `create function f() returns trigger language plpgsql as $$
begin
  raise exception 'no; never';
  return null;
end
$$`;
    expect(splitSqlScript(`${fn};\ncreate trigger t before update on x for each row execute function f();`)).toEqual([
      fn,
      'create trigger t before update on x for each row execute function f()',
    ]);
  });

  it('keeps a $tag$-quoted body in one statement, even when it contains $$ and other quotes', () => {
    const fn = `create function g() returns text language plpgsql as $body$
declare s text := $$a;b$$;
begin
  return s || 'c;d';
end
$body$`;
    expect(splitSqlScript(`${fn}; select g();`)).toEqual([fn, 'select g()']);
  });

  it('accepts dollar-quote tags with digits after the first character, as PostgreSQL does', () => {
    const fn = 'create function h() returns int language sql as $fn1$ select 1; $fn1$';
    expect(splitSqlScript(`${fn}; select h();`)).toEqual([fn, 'select h()']);
  });

  it('does not treat a positional parameter ($1) as a dollar quote', () => {
    expect(splitSqlScript('prepare p as select $1::int; execute p(1);')).toEqual(['prepare p as select $1::int', 'execute p(1)']);
  });

  it('ignores semicolons and quotes inside -- line comments', () => {
    expect(splitSqlScript("-- first; the table's key\ncreate table a (id int); -- trailing; note\nselect 1;")).toEqual([
      "-- first; the table's key\ncreate table a (id int)",
      '-- trailing; note\nselect 1',
    ]);
  });

  it('ignores semicolons and quotes inside /* */ block comments', () => {
    expect(splitSqlScript("/* one; two ' three */ select 1; select /* ; */ 2;")).toEqual(["/* one; two ' three */ select 1", 'select /* ; */ 2']);
  });

  it('keeps a trailing statement that has no semicolon', () => {
    expect(splitSqlScript('select 1;\nselect 2\n')).toEqual(['select 1', 'select 2']);
  });

  it('drops empty statements and statements that are only comments', () => {
    expect(splitSqlScript(';; select 1;;\n ; -- just a note\n;')).toEqual(['select 1']);
    expect(splitSqlScript('select 1; /* closing remark */')).toEqual(['select 1']);
    expect(splitSqlScript('select 1;\n-- end of file')).toEqual(['select 1']);
    expect(splitSqlScript('')).toEqual([]);
    expect(splitSqlScript('  \n -- nothing here\n /* nor; here */ ')).toEqual([]);
  });

  it('splits the packaged migrations into statements that each start with SQL, not a fragment', () => {
    const first = loadMigrations()[0]!;
    const statements = splitSqlScript(first.sql);
    const stripped = statements.map((s) => s.replace(/^(\s*--[^\n]*\n)+/, '').trimStart());
    expect(stripped.every((s) => /^(create|alter|insert|comment)\b/i.test(s))).toBe(true);
    // the append-only trigger function stays whole, with its body
    expect(statements.some((s) => s.startsWith('create function audit_events_append_only()') && s.trimEnd().endsWith('$$'))).toBe(true);
  });
});

describe('nested block comments', () => {
  it('treats a nested /* */ comment as one comment, semicolons inside included', () => {
    expect(splitSqlScript('select 1 /* outer /* inner; */ still comment; */; select 2;')).toEqual(['select 1 /* outer /* inner; */ still comment; */', 'select 2']);
  });
});
