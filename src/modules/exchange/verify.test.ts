import { describe, expect, it } from 'vitest';
import type { SharedColumn } from './columns.js';
import { normalisedText, valuesMatch } from './verify.js';

function column(dataType: SharedColumn['dataType'], over: Partial<SharedColumn> = {}): SharedColumn {
  return { item: '项', column: 'c1', dataType, sqlType: 'text', key: false, sensitive: false, format: null, length: dataType === 'string' ? 50 : null, precision: dataType === 'decimal' ? 18 : null, scale: dataType === 'decimal' ? 2 : null, indexColumn: null, ...over } as SharedColumn;
}

describe('normalised text', () => {
  it('trims, folds full-width forms and the ideographic space, ignores case', () => {
    expect(normalisedText('\u3000ＡＢＣ１２３ ')).toBe('abc123');
    expect(normalisedText('Zhang San')).toBe(normalisedText('ＺＨＡＮＧ　ＳＡＮ'));
  });
});

describe('values match by type', () => {
  it('text: exact or normalised', () => {
    expect(valuesMatch(column('string'), '长沙', '长沙', 'exact')).toBe(true);
    expect(valuesMatch(column('string'), '长沙', '长沙 ', 'exact')).toBe(false);
    expect(valuesMatch(column('string'), '长沙', '长沙 ', 'normalised')).toBe(true);
    expect(valuesMatch(column('string'), 'ABC', 'abc', 'normalised')).toBe(true);
  });

  it('numbers by value', () => {
    expect(valuesMatch(column('decimal'), '1.50', '1.5', 'exact')).toBe(true);
    expect(valuesMatch(column('decimal'), '1.50', 1.5, 'exact')).toBe(true);
    expect(valuesMatch(column('decimal'), '1.50', '1.51', 'exact')).toBe(false);
    expect(valuesMatch(column('decimal'), '0.00', '0', 'exact')).toBe(true);
    expect(valuesMatch(column('decimal'), '-2.10', '-2.1', 'exact')).toBe(true);
    expect(valuesMatch(column('decimal'), '2.10', '-2.1', 'exact')).toBe(false);
    expect(valuesMatch(column('integer'), '42', 42, 'exact')).toBe(true);
    expect(valuesMatch(column('integer'), '42', 'forty-two', 'exact')).toBe(false);
    expect(valuesMatch(column('integer'), '42', '４２', 'normalised')).toBe(true);
  });

  it('dates by day, date-times by instant, booleans by truth', () => {
    expect(valuesMatch(column('date'), '2020-01-02', '2020-01-02', 'exact')).toBe(true);
    expect(valuesMatch(column('date'), '2020-01-02', '2020-01-03', 'exact')).toBe(false);
    expect(valuesMatch(column('datetime'), '2024-05-01T00:30:00.000Z', '2024-05-01 08:30:00', 'exact')).toBe(true);
    expect(valuesMatch(column('boolean'), true, '是', 'exact')).toBe(true);
    expect(valuesMatch(column('boolean'), false, 'true', 'exact')).toBe(false);
  });

  it('null equals only null (or an empty value)', () => {
    expect(valuesMatch(column('string'), null, null, 'exact')).toBe(true);
    expect(valuesMatch(column('string'), null, '', 'exact')).toBe(true);
    expect(valuesMatch(column('string'), null, 'x', 'exact')).toBe(false);
    expect(valuesMatch(column('string'), 'x', null, 'exact')).toBe(false);
  });
});
