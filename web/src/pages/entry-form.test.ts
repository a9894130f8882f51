import { describe, expect, it } from 'vitest';
import { contentOf, formPathOf, hintsOf } from './entry-form';

describe('catalog entry editor', () => {
  it('turns the form into the content the API takes, leaving out what does not apply', () => {
    expect(
      contentOf({
        classification: { category: '1', group: '03', subgroup: '001', detail: ' ' },
        nameZh: ' 不动产登记信息 ',
        nameEn: 'Real estate',
        abstractZh: '权利人和坐落',
        format: { type: 'database', subtype: 'dm' },
        dataItems: [
          { nameZh: '不动产单元号', dataType: 'string', length: 28, precision: 5, key: true },
          { nameZh: '建筑面积', dataType: 'decimal', precision: 12, scale: 2, length: 9, sensitive: false },
        ],
        shareType: 'conditional',
        shareCondition: '用于行政审批',
        legalBasis: { law: '不会发送', article: '' },
        shareMethods: ['table', 'api'],
        openness: { open: false, condition: '不会发送' },
        updateCycle: 'daily',
        relatedCodes: '101001/000001、 101001/000002，101001/000001',
      }),
    ).toEqual({
      classification: { category: '1', group: '03', subgroup: '001' },
      nameZh: '不动产登记信息',
      names: { en: 'Real estate' },
      abstractZh: '权利人和坐落',
      format: { type: 'database', subtype: 'dm' },
      dataItems: [
        { nameZh: '不动产单元号', dataType: 'string', length: 28, key: true },
        { nameZh: '建筑面积', dataType: 'decimal', precision: 12, scale: 2 },
      ],
      shareType: 'conditional',
      shareCondition: '用于行政审批',
      shareMethods: ['table', 'api'],
      openness: { open: false },
      updateCycle: 'daily',
      relatedCodes: ['101001/000001', '101001/000002'],
    });
    const none = contentOf({ nameZh: '涉密', shareType: 'none', legalBasis: { law: '《保守国家秘密法》', article: '第九条' }, shareMethods: ['table'] });
    expect(none).toEqual({ nameZh: '涉密', shareType: 'none', legalBasis: { law: '《保守国家秘密法》', article: '第九条' } });
  });

  it('hints what the API or the conformance check will refuse, at the field', () => {
    const keys = (v: Parameters<typeof hintsOf>[0]) => hintsOf(v).map((h) => `${h.path.join('.')}:${h.key.replace('authoring.hint.', '')}`);
    expect(keys({ nameZh: '甲', shareType: 'conditional', shareMethods: ['table'] })).toEqual(['shareCondition:conditionRequired']);
    expect(keys({ nameZh: '甲', shareType: 'none' })).toEqual(['legalBasis.law:lawRequired', 'legalBasis.article:articleRequired']);
    expect(keys({ nameZh: ' ', shareType: 'unconditional' })).toEqual(['nameZh:nameRequired', 'shareMethods:methodRequired']);
    expect(
      keys({
        nameZh: '甲',
        dataItems: [
          { nameZh: '编号', dataType: 'string' },
          { nameZh: '编号', dataType: 'string', length: 5 },
          { nameZh: '金额', dataType: 'decimal', precision: 2, scale: 4 },
          { nameZh: '', dataType: 'decimal' },
        ],
      }),
    ).toEqual(['dataItems.0.length:lengthRequired', 'dataItems.1.nameZh:itemNameDuplicate', 'dataItems.2.scale:scaleTooLarge', 'dataItems.3.nameZh:itemNameRequired', 'dataItems.3.precision:precisionRequired']);
    expect(hintsOf({ nameZh: '甲', dataItems: [{ nameZh: '编号', dataType: 'string' }, { nameZh: '编号', dataType: 'integer' }] })[1]?.params).toEqual({ row: 1 });
  });

  it("finds the form field an API error names", () => {
    expect(formPathOf('body.content.dataItems.2.length')).toEqual(['dataItems', 2, 'length']);
    expect(formPathOf('content.legalBasis.article')).toEqual(['legalBasis', 'article']);
    expect(formPathOf('body.content.names.en')).toEqual(['nameEn']);
    expect(formPathOf('body.content.relatedCodes.1')).toEqual(['relatedCodes']);
    expect(formPathOf('body.content.dataItems.0.names.en')).toEqual(['dataItems', 0, 'nameEn']);
    expect(formPathOf('body.expectedVersion')).toBeNull();
  });
});
