import { describe, expect, it } from 'vitest';
import { highlight, parseQuery, segment, tsvectorLiteral } from './search-text.js';

describe('segment', () => {
  it('cuts Chinese into words, documents also into the words inside long ones', () => {
    expect(segment('不动产登记信息', 'query')).toEqual(['不动产', '登记', '信息']);
    expect(segment('不动产登记信息', 'document')).toEqual(expect.arrayContaining(['不动', '动产', '不动产', '登记', '信息']));
    expect(segment('衡阳市公安局人口基本信息', 'document')).toEqual(expect.arrayContaining(['衡阳', '衡阳市', '公安局', '人口']));
  });

  it('drops punctuation and spaces, folds width and case, and splits other scripts at non-letters', () => {
    expect(segment('法人单位（含统一社会信用代码）', 'query')).toEqual(['法人', '单位', '含', '统一', '社会', '信用', '代码']);
    expect(segment('Ｐｏｐｕｌａｔｉｏｎ Register, 2026', 'document')).toEqual(['population', 'register', '2026']);
    expect(segment('كارخانا تىزىملاش ئۇچۇرى', 'document')).toEqual(['كارخانا', 'تىزىملاش', 'ئۇچۇرى']);
    expect(segment('e-mail地址', 'query')).toEqual(expect.arrayContaining(['e', 'mail', '地址']));
    expect(segment('  ，。 ', 'query')).toEqual([]);
  });
});

describe('tsvectorLiteral', () => {
  it('gives every term its positions and field weight, codes as they are, quotes and backslashes escaped', () => {
    const v = tsvectorLiteral([
      { weight: 'A', texts: ['人口信息'], exact: ['301002/000001'] },
      { weight: 'D', texts: ["O'Brien\\Co 人口"], exact: ["x'y\\z"] },
    ]);
    expect(v).toBe("'人口':1A,7D '信息':2A '301002/000001':3A 'o':4D 'brien':5D 'co':6D 'x''y\\\\z':8D");
  });
});

describe('parseQuery', () => {
  it('requires every word, lets a long word be met by its parts, and Latin words by prefix', () => {
    expect(parseQuery('不动产 登记').tsquery).toBe("('不动产' | ('不动' & '动产')) & '登记'");
    expect(parseQuery('popul').tsquery).toBe("'popul':*");
    expect(parseQuery('人口').terms).toEqual(['人口']);
  });

  it('drops words every entry has (信息, 数据) while there are others, keeps them when alone', () => {
    expect(parseQuery('人口信息').terms).toEqual(['人口']);
    expect(parseQuery('信息').terms).toEqual(['信息']);
    expect(parseQuery('   ').tsquery).toBeNull();
  });

  it("quotes what the user typed, so tsquery operators in it are only text", () => {
    expect(parseQuery("a' | ! & b").tsquery).toBe("'a' & 'b'");
    expect(parseQuery("o'brien").tsquery).toBe("('o''brien' | ('o' & 'brien':*))");
    // A code is matched whole, or by its parts.
    expect(parseQuery('HY-GAJ 人口').tsquery).toBe("('hy-gaj' | ('hy' & 'gaj':*)) & '人口'");
  });
});

describe('highlight', () => {
  it('marks the query words in the text as it is shown, whatever their case or width', () => {
    expect(highlight('衡阳市人口基本信息', ['人口', '信息'])).toEqual([
      { text: '衡阳市', match: false },
      { text: '人口', match: true },
      { text: '基本', match: false },
      { text: '信息', match: true },
    ]);
    expect(highlight('Population REGISTER', ['register'])).toEqual([{ text: 'Population ', match: false }, { text: 'REGISTER', match: true }]);
    expect(highlight('无关', [])).toEqual([{ text: '无关', match: false }]);
  });
});
