/** What the dashboard shows, computed from the API's answers (no rule of the platform's own). */

export interface AgencyStats {
  readonly agency: { readonly id: string; readonly name: string };
  readonly total: number;
  readonly pending: number;
  readonly granted: number;
  readonly narrowed: number;
  readonly refused: number;
  readonly nonConforming: number;
  readonly disputed: number;
  readonly withdrawn: number;
  readonly overdue: number;
  readonly reviewWorkingDays: { readonly decided: number; readonly median: number | null; readonly p95: number | null };
}

export interface RequestTotals {
  readonly total: number;
  readonly pending: number;
  readonly granted: number;
  readonly refused: number;
  readonly nonConforming: number;
  readonly disputed: number;
  readonly withdrawn: number;
  readonly overdue: number;
}

/** The platform's (or the agency's) request counts: the providers' rows add up to every request once. */
export function requestTotals(providers: readonly AgencyStats[]): RequestTotals {
  const sum = (k: keyof RequestTotals) => providers.reduce((n, p) => n + p[k], 0);
  return { total: sum('total'), pending: sum('pending'), granted: sum('granted'), refused: sum('refused'), nonConforming: sum('nonConforming'), disputed: sum('disputed'), withdrawn: sum('withdrawn'), overdue: sum('overdue') };
}

/** The review times per provider that decided anything, slowest median first, at most `top`. */
export function reviewTimes(providers: readonly AgencyStats[], top = 10): { readonly agency: string; readonly median: number; readonly p95: number }[] {
  return providers
    .filter((p) => p.reviewWorkingDays.decided > 0 && p.reviewWorkingDays.median !== null)
    .map((p) => ({ agency: p.agency.name, median: p.reviewWorkingDays.median ?? 0, p95: p.reviewWorkingDays.p95 ?? p.reviewWorkingDays.median ?? 0 }))
    .sort((a, b) => b.median - a.median || a.agency.localeCompare(b.agency))
    .slice(0, top);
}

/** The largest values first, the rest summed into one "other" slice when there are more than `top`. */
export function topWithOther<T extends { readonly count: number; readonly label: string }>(values: readonly T[], top: number, otherLabel: string): { readonly label: string; readonly count: number }[] {
  const sorted = [...values].sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
  if (sorted.length <= top) return sorted.map((v) => ({ label: v.label, count: v.count }));
  const rest = sorted.slice(top).reduce((n, v) => n + v.count, 0);
  return [...sorted.slice(0, top).map((v) => ({ label: v.label, count: v.count })), { label: otherLabel, count: rest }];
}
