import { describe, expect, it } from 'vitest';
import { fileNameOf, queryString } from './api';

describe('console api helpers', () => {
  it('reads the file name of a Content-Disposition, the UTF-8 form first', () => {
    expect(fileNameOf(`attachment; filename="catalog.xlsx"; filename*=UTF-8''%E7%9B%AE%E5%BD%95.xlsx`)).toBe('目录.xlsx');
    expect(fileNameOf('attachment; filename="catalog.xlsx"')).toBe('catalog.xlsx');
    expect(fileNameOf('attachment; filename=plain.csv')).toBe('plain.csv');
    expect(fileNameOf(`attachment; filename*=UTF-8''%E0%A4%A`)).toBeNull();
    expect(fileNameOf(null)).toBeNull();
  });

  it('builds a query string, repeating arrays and leaving out empty values', () => {
    expect(queryString({ q: '不动产', facet: ['a', 'b'], empty: '', none: undefined, page: 2 })).toBe('?q=%E4%B8%8D%E5%8A%A8%E4%BA%A7&facet=a&facet=b&page=2');
    expect(queryString({})).toBe('');
  });
});
