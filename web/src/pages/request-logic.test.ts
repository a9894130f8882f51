import { describe, expect, it } from 'vitest';
import { actionsFor, byDeadline, chinaToday, deadlineState, requestBody, termsOf } from './request-logic';

const agencyA = { id: 'a', code: 'A', name: '甲' };
const agencyB = { id: 'b', code: 'B', name: '乙' };
const req = (status: string, over: Record<string, unknown> = {}) =>
  ({ status, consumer: agencyA, provider: agencyB, dispute: null, decision: null, ...over }) as Parameters<typeof actionsFor>[0];

describe('share request forms and queues', () => {
  it('builds the request body: trimmed texts, optional fields left out, the agreement attached as such', () => {
    const body = requestBody('R1', { systemId: 's', items: ['姓名', '身份证号'], business: ' 一网通办 ', basis: '条例第五条', dataUsers: '窗口人员', shareMethod: 'pull', validUntil: '2027-12-31', frequency: '  ' }, 'att-1');
    expect(body).toEqual({
      resource: 'R1',
      systemId: 's',
      items: ['姓名', '身份证号'],
      purpose: { business: '一网通办', basis: '条例第五条' },
      dataUsers: '窗口人员',
      shareMethod: 'pull',
      validUntil: '2027-12-31',
      attachments: [{ id: 'att-1', kind: 'securityAgreement' }],
    });
    expect(requestBody('R1', { items: [] }, null)).not.toHaveProperty('attachments');
  });

  it('sends only the terms that narrow: fewer items, masking of granted items, a row filter, limits', () => {
    const asked = ['不动产单元号', '权利人名称', '坐落'];
    expect(termsOf(asked, { items: asked })).toBeUndefined();
    expect(termsOf(asked, { items: [...asked].reverse(), masking: { 坐落: 'none' } })).toBeUndefined();
    expect(
      termsOf(asked, {
        items: ['不动产单元号', '权利人名称'],
        masking: { 权利人名称: 'partial', 坐落: 'full' },
        rowFilterItem: '不动产单元号',
        rowFilterOp: 'prefix',
        rowFilterValues: '4304， 4305 4304',
        ratePerMinute: 60,
        conditions: ' 仅限窗口使用 ',
      }),
    ).toEqual({ items: ['不动产单元号', '权利人名称'], masking: { 权利人名称: 'partial' }, rowFilter: [{ item: '不动产单元号', op: 'prefix', values: ['4304', '4305'] }], ratePerMinute: 60, conditions: '仅限窗口使用' });
    expect(termsOf(asked, { rowFilterItem: '坐落', rowFilterOp: 'eq', rowFilterValues: ' ' })).toBeUndefined();
  });

  it('orders a queue overdue first, then by deadline, and marks what is due soon', () => {
    const rows = [
      { number: 1, deadline: null },
      { number: 2, deadline: { stage: 'review' as const, dueOn: '2026-12-10', overdue: false } },
      { number: 3, deadline: { stage: 'review' as const, dueOn: '2026-12-01', overdue: true } },
      { number: 4, deadline: { stage: 'review' as const, dueOn: '2026-12-04', overdue: false } },
    ];
    expect(byDeadline(rows).map((r) => r.number)).toEqual([3, 4, 2, 1]);
    expect(rows.map((r) => deadlineState(r, '2026-12-03'))).toEqual(['none', 'onTime', 'overdue', 'dueSoon']);
    expect(chinaToday(new Date('2026-12-03T17:00:00Z'))).toBe('2026-12-04');
  });

  it('offers each side only the steps its state allows', () => {
    const reviewer = ['request:read', 'request:review'];
    const requester = ['request:read', 'request:file'];
    const supervisor = ['request:read', 'request:arbitrate'];
    expect(actionsFor(req('review'), reviewer, 'b')).toEqual(['approve', 'askInfo', 'refuse']);
    expect(actionsFor(req('review'), reviewer, 'a')).toEqual([]);
    expect(actionsFor(req('review'), requester, 'a')).toEqual(['withdraw']);
    expect(actionsFor(req('infoRequested'), requester, 'a')).toEqual(['reply', 'withdraw']);
    expect(actionsFor(req('refused'), requester, 'a')).toEqual(['dispute']);
    expect(actionsFor(req('granted', { decision: { kind: 'narrowed' } }), requester, 'a')).toEqual(['dispute']);
    expect(actionsFor(req('granted', { decision: { kind: 'approved' } }), requester, 'a')).toEqual([]);
    expect(actionsFor(req('refused', { dispute: { reason: 'x' } }), requester, 'a')).toEqual([]);
    expect(actionsFor(req('disputed'), supervisor, null)).toEqual(['arbitrate']);
    expect(actionsFor(req('conformance'), supervisor, null)).toEqual(['conformance']);
  });
});
