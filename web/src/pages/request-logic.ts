import type { GrantTerms, MaskKind, RequestStatus, RowCondition, ShareRequest } from '../api-requests';

/** The form of 申请共享, as the person filled it in. */
export interface RequestFormValues {
  readonly systemId?: string;
  readonly items?: readonly string[];
  readonly business?: string;
  readonly basis?: string;
  readonly dataUsers?: string;
  readonly shareMethod?: string;
  readonly validUntil?: string;
  readonly frequency?: string;
  readonly expectedVolume?: string;
}

const trimmed = (v: string | undefined): string | undefined => {
  const s = v?.trim();
  return s ? s : undefined;
};

/** The body of POST /share-requests: texts trimmed, empty optional fields left out, the agreement attached. */
export function requestBody(resource: string, v: RequestFormValues, agreementId: string | null): Record<string, unknown> {
  const body: Record<string, unknown> = {
    resource,
    systemId: v.systemId,
    items: [...(v.items ?? [])],
    purpose: { business: trimmed(v.business), basis: trimmed(v.basis) },
    dataUsers: trimmed(v.dataUsers),
    shareMethod: v.shareMethod,
    validUntil: v.validUntil,
  };
  const frequency = trimmed(v.frequency);
  if (frequency) body.frequency = frequency;
  const volume = trimmed(v.expectedVolume);
  if (volume) body.expectedVolume = volume;
  if (agreementId) body.attachments = [{ id: agreementId, kind: 'securityAgreement' }];
  return body;
}

/** The terms of an approval (or of the supervisor's overruling), as the reviewer narrowed them. */
export interface TermsFormValues {
  readonly items?: readonly string[];
  readonly masking?: Readonly<Record<string, MaskKind | 'none' | undefined>>;
  readonly rowFilterItem?: string;
  readonly rowFilterOp?: RowCondition['op'];
  readonly rowFilterValues?: string;
  readonly ratePerMinute?: number | null;
  readonly volumePerDay?: number | null;
  readonly validUntil?: string;
  readonly conditions?: string;
}

/**
 * Terms from the form: only what narrows the request is sent (an unchanged item list is left out,
 * so "approve as asked" and "approve narrowed" are the same call with or without terms).
 */
export function termsOf(asked: readonly string[], v: TermsFormValues): GrantTerms | undefined {
  const terms: { -readonly [K in keyof GrantTerms]: GrantTerms[K] } = {};
  const items = v.items ?? asked;
  if (items.length > 0 && (items.length !== asked.length || items.some((i) => !asked.includes(i)))) terms.items = [...items];
  const masking: Record<string, MaskKind> = {};
  for (const [item, kind] of Object.entries(v.masking ?? {})) if (kind && kind !== 'none' && items.includes(item)) masking[item] = kind;
  if (Object.keys(masking).length > 0) terms.masking = masking;
  const values = (v.rowFilterValues ?? '')
    .split(/[,，;；\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (v.rowFilterItem && v.rowFilterOp && values.length > 0) terms.rowFilter = [{ item: v.rowFilterItem, op: v.rowFilterOp, values: [...new Set(values)] }];
  if (v.ratePerMinute) terms.ratePerMinute = v.ratePerMinute;
  if (v.volumePerDay) terms.volumePerDay = v.volumePerDay;
  if (v.validUntil) terms.validUntil = v.validUntil;
  const conditions = trimmed(v.conditions);
  if (conditions) terms.conditions = conditions;
  return Object.keys(terms).length > 0 ? terms : undefined;
}

export type DeadlineState = 'overdue' | 'dueSoon' | 'onTime' | 'none';

/** How close a pending request is to its deadline: overdue as the API says, due soon within `soonDays` calendar days of `today`. */
export function deadlineState(r: Pick<ShareRequest, 'deadline'>, today: string, soonDays = 2): DeadlineState {
  if (!r.deadline) return 'none';
  if (r.deadline.overdue) return 'overdue';
  const days = (Date.parse(`${r.deadline.dueOn}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / 86_400_000;
  return days <= soonDays ? 'dueSoon' : 'onTime';
}

/** A queue in the order a reviewer works it: overdue first, then by deadline, then oldest first; requests without a deadline last. */
export function byDeadline<T extends Pick<ShareRequest, 'deadline' | 'number'>>(rows: readonly T[]): T[] {
  return [...rows].sort((a, b) => {
    if (!a.deadline || !b.deadline) return a.deadline ? -1 : b.deadline ? 1 : a.number - b.number;
    if (a.deadline.overdue !== b.deadline.overdue) return a.deadline.overdue ? -1 : 1;
    return a.deadline.dueOn.localeCompare(b.deadline.dueOn) || a.number - b.number;
  });
}

/** China's calendar day of an instant (the platform's deadlines are China's days). */
export function chinaToday(now: Date = new Date()): string {
  return new Date(now.getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
}

export type RequestAction = 'approve' | 'askInfo' | 'refuse' | 'reply' | 'withdraw' | 'dispute' | 'arbitrate' | 'conformance';

const PENDING: readonly RequestStatus[] = ['conformance', 'review', 'infoRequested'];

/**
 * The steps a person may offer on a request: by the state it is in, their permissions and which
 * side their agency is on. The API decides again; this only hides buttons that would be refused.
 */
export function actionsFor(r: Pick<ShareRequest, 'status' | 'consumer' | 'provider' | 'dispute' | 'decision'>, permissions: readonly string[], agencyId: string | null): RequestAction[] {
  const can = (p: string) => permissions.includes(p);
  const out: RequestAction[] = [];
  const provider = agencyId !== null && r.provider.id === agencyId;
  const consumer = agencyId !== null && r.consumer.id === agencyId;
  if (r.status === 'review' && provider && can('request:review')) out.push('approve', 'askInfo', 'refuse');
  if (r.status === 'conformance' && can('request:arbitrate')) out.push('conformance');
  if (r.status === 'disputed' && can('request:arbitrate')) out.push('arbitrate');
  if (consumer && can('request:file')) {
    if (r.status === 'infoRequested') out.push('reply');
    if (PENDING.includes(r.status)) out.push('withdraw');
    const narrowed = r.status === 'granted' && r.decision?.kind === 'narrowed';
    if ((r.status === 'refused' || narrowed) && !r.dispute) out.push('dispute');
  }
  return out;
}
