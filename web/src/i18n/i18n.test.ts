import { describe, expect, it } from 'vitest';
import { CATALOGS, LABEL_FILES, formatDate, formatNumber, interpolate, translate } from './i18n';

describe('console i18n', () => {
  it('both languages have the same labels, none empty', () => {
    expect(Object.keys(CATALOGS.en).sort()).toEqual(Object.keys(CATALOGS['zh-CN']).sort());
    for (const [k, v] of [...Object.entries(CATALOGS.en), ...Object.entries(CATALOGS['zh-CN'])]) expect(v.trim(), k).not.toBe('');
  });

  it('each area has its file in both languages, and no label is defined in two files', () => {
    const areas = (files: Record<string, unknown>) => Object.keys(files).filter((f) => f.startsWith('./')).map((f) => f.replace(/^\.\/[^/]+\//, '')).sort();
    expect(areas(LABEL_FILES.en)).toEqual(areas(LABEL_FILES['zh-CN']));
    for (const files of Object.values(LABEL_FILES)) {
      const seen = new Map<string, string>();
      for (const [file, labels] of Object.entries(files)) {
        for (const key of Object.keys(labels)) {
          expect(seen.get(key), `${key} in ${file}`).toBeUndefined();
          seen.set(key, file);
        }
      }
    }
  });

  it('looks a label up in the chosen language, falls back to Chinese, then shows the key', () => {
    const catalogs = { 'zh-CN': { a: '甲', b: '乙 {n}' }, en: { a: 'A' } };
    expect(translate('en', 'a', undefined, catalogs)).toBe('A');
    expect(translate('en', 'b', { n: 2 }, catalogs)).toBe('乙 2');
    expect(translate('zh-CN', 'missing.key', undefined, catalogs)).toBe('missing.key');
    expect(translate('zh-CN', 'catalog.search')).toBe('检索');
    expect(translate('en', 'catalog.search')).toBe('Search');
  });

  it('fills placeholders and leaves an unfilled one visible', () => {
    expect(interpolate('共 {total} 条，{x}', { total: 3 })).toBe('共 3 条，{x}');
  });

  it('formats numbers and calendar days for zh-CN', () => {
    expect(formatNumber('zh-CN', 12345)).toBe('12,345');
    expect(formatDate('zh-CN', '2026-12-03')).toBe('2026年12月3日');
    expect(formatDate('en', '2026-12-03')).toBe('December 3, 2026');
  });
});
