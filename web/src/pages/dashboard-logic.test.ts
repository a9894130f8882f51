import { describe, expect, it } from 'vitest';
import { requestTotals, reviewTimes, topWithOther, type AgencyStats } from './dashboard-logic';

const stats = (name: string, over: Partial<AgencyStats>): AgencyStats => ({
  agency: { id: name, name },
  total: 0,
  pending: 0,
  granted: 0,
  narrowed: 0,
  refused: 0,
  nonConforming: 0,
  disputed: 0,
  withdrawn: 0,
  overdue: 0,
  reviewWorkingDays: { decided: 0, median: null, p95: null },
  ...over,
});

describe('dashboard figures', () => {
  it('adds the providers up to the platform totals', () => {
    expect(requestTotals([stats('甲', { total: 3, pending: 1, granted: 1, refused: 1, overdue: 1 }), stats('乙', { total: 2, granted: 1, withdrawn: 1 })])).toEqual({ total: 5, pending: 1, granted: 2, refused: 1, nonConforming: 0, disputed: 0, withdrawn: 1, overdue: 1 });
  });

  it('lists review times of the providers that decided, slowest first', () => {
    const rows = [stats('甲', { reviewWorkingDays: { decided: 2, median: 3, p95: 5 } }), stats('乙', { reviewWorkingDays: { decided: 0, median: null, p95: null } }), stats('丙', { reviewWorkingDays: { decided: 1, median: 7, p95: null } })];
    expect(reviewTimes(rows)).toEqual([
      { agency: '丙', median: 7, p95: 7 },
      { agency: '甲', median: 3, p95: 5 },
    ]);
    expect(reviewTimes(rows, 1)).toHaveLength(1);
  });

  it('keeps the largest values and sums the rest', () => {
    const v = [
      { label: 'a', count: 1 },
      { label: 'b', count: 5 },
      { label: 'c', count: 3 },
      { label: 'd', count: 2 },
    ];
    expect(topWithOther(v, 2, '其他')).toEqual([
      { label: 'b', count: 5 },
      { label: 'c', count: 3 },
      { label: '其他', count: 3 },
    ]);
    expect(topWithOther(v, 4, '其他')).toHaveLength(4);
  });
});
