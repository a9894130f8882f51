import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { conditionHolds, FULL_MASK, grantView, maskPartial } from './grant-view.js';

const hashKey = randomBytes(32);

describe('partial masking', () => {
  it.each([
    ['430402199001011234', '430***********1234'],
    ['13812345678', '138****5678'],
    ['张三', '张*'],
    ['张三丰', '张**'],
    ['欧阳娜娜', '欧**娜'],
    ['x', '*'],
    ['', ''],
    ['91430100MA4L0001XY', '914***********01XY'],
  ])('%s → %s', (value, masked) => {
    expect(maskPartial(value)).toBe(masked);
    expect([...maskPartial(value)].length).toBe([...value].length);
  });

  it('always hides at least a third of a value, and at least one character', () => {
    for (let n = 1; n <= 40; n++) {
      const hidden = [...maskPartial('a'.repeat(n))].filter((c) => c === '*').length;
      expect(hidden * 3).toBeGreaterThanOrEqual(n);
      expect(hidden).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('row filter conditions', () => {
  it('eq, in and prefix compare text; null never matches', () => {
    expect(conditionHolds({ item: 'a', op: 'eq', values: ['430400'] }, '430400')).toBe(true);
    expect(conditionHolds({ item: 'a', op: 'eq', values: ['430400'] }, '430401')).toBe(false);
    expect(conditionHolds({ item: 'a', op: 'in', values: ['1', '2'] }, '2')).toBe(true);
    expect(conditionHolds({ item: 'a', op: 'in', values: ['1', '2'] }, '3')).toBe(false);
    expect(conditionHolds({ item: 'a', op: 'prefix', values: ['4304', '4305'] }, '430521')).toBe(true);
    expect(conditionHolds({ item: 'a', op: 'prefix', values: ['4304'] }, '4303')).toBe(false);
    expect(conditionHolds({ item: 'a', op: 'eq', values: ['true'] }, true)).toBe(true);
    expect(conditionHolds({ item: 'a', op: 'prefix', values: [''] }, null)).toBe(false);
  });
});

describe('grant view', () => {
  const view = grantView(
    {
      items: ['姓名', '身份证号', '行政区划代码', '电话'],
      rowFilter: [
        { item: '行政区划代码', op: 'prefix', values: ['4304'] },
        { item: '等级', op: 'in', values: ['1', '2'] },
      ],
      masking: { 姓名: 'partial', 身份证号: 'hash', 电话: 'full' },
    },
    { hashKey },
  );
  const row = { 姓名: '张三', 身份证号: '430402199001011234', 行政区划代码: '430405', 等级: '1', 电话: '13812345678', 住址: '长沙市' };

  it('presents granted items only, in the grant order, masked as the grant says', () => {
    const shown = view.present(row);
    expect(Object.keys(shown)).toEqual(['姓名', '身份证号', '行政区划代码', '电话']);
    expect(shown).toEqual({
      姓名: '张*',
      身份证号: createHmac('sm3', hashKey).update('430402199001011234').digest('hex'),
      行政区划代码: '430405',
      电话: FULL_MASK,
    });
    expect(JSON.stringify(shown)).not.toContain('长沙市');
  });

  it('hash masking depends on the key: another consumer key gives another value', () => {
    const other = grantView({ items: ['身份证号'], rowFilter: [], masking: { 身份证号: 'hash' } }, { hashKey: randomBytes(32) });
    expect(other.present(row)['身份证号']).not.toBe(view.present(row)['身份证号']);
  });

  it('every condition must hold, also on items that are not granted', () => {
    expect(view.passes(row)).toBe(true);
    expect(view.passes({ ...row, 行政区划代码: '430305' })).toBe(false);
    expect(view.passes({ ...row, 等级: '3' })).toBe(false);
    expect(view.passes({ ...row, 等级: null })).toBe(false);
  });

  it('keeps nulls null (masked or not) and a missing item null', () => {
    expect(view.present({ 姓名: null })).toEqual({ 姓名: null, 身份证号: null, 行政区划代码: null, 电话: null });
  });

  it('an item named like an object property is looked up as itself', () => {
    const odd = grantView({ items: ['__proto__', 'toString'], rowFilter: [], masking: {} }, { hashKey });
    expect(odd.present({})).toEqual(JSON.parse('{"__proto__": null, "toString": null}'));
  });
});
