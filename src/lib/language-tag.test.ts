import { describe, it, expect } from 'vitest';
import { isChineseTag, normaliseLanguageTag } from './language-tag.js';

describe('normaliseLanguageTag', () => {
  it.each([
    ['ug', 'ug'],
    ['kk', 'kk'],
    ['en', 'en'],
    ['bo', 'bo'],
    ['mn-Mong', 'mn-Mong'],
    ['zh-Hans', 'zh-Hans'],
    ['ug-Arab-CN', 'ug-Arab-CN'],
    ['kk-Cyrl-KZ', 'kk-Cyrl-KZ'],
    ['es-419', 'es-419'],
    ['de-1996', 'de-1996'],
    ['en-1234', 'en-1234'], // digit + 3 alphanumerics is a variant
    ['ca-ES-valencia', 'ca-ES-valencia'],
  ])('accepts %s as %s', (input, expected) => {
    expect(normaliseLanguageTag(input)).toBe(expected);
  });

  it('fixes casing of each subtag', () => {
    expect(normaliseLanguageTag('UG-arab-cn')).toBe('ug-Arab-CN');
    expect(normaliseLanguageTag('MN-MONG')).toBe('mn-Mong');
    expect(normaliseLanguageTag('zh-hant-tw')).toBe('zh-Hant-TW');
    expect(normaliseLanguageTag('CA-es-VALENCIA')).toBe('ca-ES-valencia');
  });

  it('maps deprecated aliases to their preferred values', () => {
    expect(normaliseLanguageTag('iw')).toBe('he');
    expect(normaliseLanguageTag('cmn')).toBe('zh');
  });

  it.each([
    '',
    'e',
    'english',
    'ug_CN',
    'zh-',
    '-zh',
    'zh--Hans',
    'zh-Hans-',
    'en US',
    ' en',
    'en-Latn-Latn',
    'en-U',
    'en-12', // two digits: neither a region nor a variant
    'en-a123', // four characters must start with a digit to be a variant
    'de-DE-1901-1901', // repeated variant
    'en-x-private',
    'x-foo',
    'i-klingon',
    'zh-cmn-Hans', // extlang is outside the accepted shapes
    'en-abcdefghi', // variant too long
    '中文',
  ])('rejects %j', (input) => {
    expect(normaliseLanguageTag(input)).toBeUndefined();
  });
});

describe('isChineseTag', () => {
  it('is true for zh and zh-* tags', () => {
    expect(isChineseTag('zh')).toBe(true);
    expect(isChineseTag('zh-Hans')).toBe(true);
    expect(isChineseTag('zh-Hant-TW')).toBe(true);
    expect(isChineseTag('ZH-cn')).toBe(true);
  });

  it('is false for other languages and malformed tags', () => {
    expect(isChineseTag('ug')).toBe(false);
    expect(isChineseTag('ug-Arab-CN')).toBe(false);
    expect(isChineseTag('bo')).toBe(false);
    expect(isChineseTag('zha')).toBe(false); // Zhuang, not Chinese
    expect(isChineseTag('zh-')).toBe(false);
    expect(isChineseTag('zh_CN')).toBe(false);
    expect(isChineseTag('')).toBe(false);
  });
});
