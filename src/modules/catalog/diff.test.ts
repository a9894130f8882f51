import { describe, expect, it } from 'vitest';
import { catalogContent } from '../../../test/helpers/catalog.js';
import { diffContent } from './diff.js';
import { normaliseContent } from './normalise.js';
import type { EntryContentInput } from './schemas.js';

const content = (over: Partial<EntryContentInput> = {}) => normaliseContent(catalogContent(over), []);

describe('diff of two versions', () => {
  it('is empty for equal content, whatever the order of sets and data items', () => {
    const a = content();
    const b = content({ shareMethods: ['api', 'table'], dataItems: [...catalogContent().dataItems!].reverse() });
    expect(diffContent(a, b)).toEqual([]);
  });

  it('names each changed field, language and data item property', () => {
    const items = catalogContent().dataItems!;
    const b = content({
      names: { ug: 'كارخانا تىزىملاش ئۇچۇرى', kk: 'Кәсіпорындар' },
      openness: { open: true, condition: '脱敏后开放' },
      dataItems: [{ ...items[0]!, names: { en: 'Credit code' } }, { ...items[1]!, sensitive: true }, { nameZh: '注册资本', dataType: 'decimal', precision: 20, scale: 4 }],
    });
    expect(diffContent(content(), b)).toEqual([
      { path: 'names.en', change: 'removed', before: 'Enterprise registrations' },
      { path: 'names.kk', change: 'added', after: 'Кәсіпорындар' },
      { path: 'openness', change: 'changed', before: { open: false, condition: null }, after: { open: true, condition: '脱敏后开放' } },
      expect.objectContaining({ path: 'dataItems[成立日期]', change: 'removed' }),
      expect.objectContaining({ path: 'dataItems[法定代表人身份证号]', change: 'removed' }),
      { path: 'dataItems[统一社会信用代码].names.en', change: 'changed', before: 'USCC', after: 'Credit code' },
      { path: 'dataItems[企业名称].sensitive', change: 'changed', before: false, after: true },
      { path: 'dataItems[注册资本].precision', change: 'changed', before: 18, after: 20 },
      { path: 'dataItems[注册资本].scale', change: 'changed', before: 2, after: 4 },
      { path: 'dataItems[注册资本].description', change: 'changed', before: '万元', after: '' },
    ]);
  });
});
