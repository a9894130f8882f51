/** The shapes of share requests, grants and business systems the console reads (a subset of the OpenAPI description). */

export const REQUEST_STATUSES = ['conformance', 'review', 'infoRequested', 'granted', 'refused', 'nonConforming', 'disputed', 'withdrawn'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];
export const GRANT_METHODS = ['push', 'pull', 'comparison', 'file'] as const;
export type GrantMethod = (typeof GRANT_METHODS)[number];
export const MASK_KINDS = ['partial', 'full', 'hash'] as const;
export type MaskKind = (typeof MASK_KINDS)[number];
export const GRANT_STATUSES = ['active', 'suspended', 'revoked', 'expired'] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];

interface AgencyRef {
  readonly id: string;
  readonly code: string;
  readonly name: string;
}

export interface LegalBasis {
  readonly law: string;
  readonly article: string;
}

export interface ShareRequest {
  readonly id: string;
  readonly number: number;
  readonly consumer: AgencyRef;
  readonly system: { readonly id: string; readonly name: string };
  readonly provider: AgencyRef;
  readonly resource: { readonly entryId: string; readonly resourceCode: string; readonly name: string; readonly version: number };
  readonly shareType: 'unconditional' | 'conditional';
  readonly items: readonly string[];
  readonly sensitiveItems: readonly string[];
  readonly purpose: { readonly business: string; readonly basis: string };
  readonly dataUsers: string;
  readonly shareMethod: GrantMethod;
  readonly validUntil: string;
  readonly frequency: string | null;
  readonly status: RequestStatus;
  readonly deadline: { readonly stage: 'conformance' | 'review'; readonly dueOn: string; readonly overdue: boolean } | null;
  readonly infoRequest: { readonly question: string; readonly at: string } | null;
  readonly decision: { readonly kind: string; readonly comment: string | null; readonly legalBasis: LegalBasis | null; readonly by: string; readonly at: string } | null;
  readonly dispute: { readonly reason: string; readonly by: string; readonly at: string } | null;
  readonly arbitration: { readonly outcome: 'upheld' | 'overruled'; readonly comment: string; readonly by: string; readonly at: string } | null;
  readonly grantId: string | null;
  readonly attachments: readonly { readonly id: string; readonly kind: string; readonly fileName: string; readonly bytes: number }[];
  readonly version: number;
  readonly createdBy: string;
  readonly createdAt: string;
}

export interface HistoryEntry {
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly statusFrom: string | null;
  readonly statusTo: string | null;
  readonly comment: string | null;
}

export interface RowCondition {
  readonly item: string;
  readonly op: 'eq' | 'in' | 'prefix';
  readonly values: readonly string[];
}

/** What a provider (or the supervisor) grants: narrower than asked where it says so. */
export interface GrantTerms {
  readonly items?: readonly string[];
  readonly rowFilter?: readonly RowCondition[];
  readonly masking?: Readonly<Record<string, MaskKind>>;
  readonly ratePerMinute?: number;
  readonly volumePerDay?: number;
  readonly validUntil?: string;
  readonly conditions?: string;
}

export interface Grant {
  readonly id: string;
  readonly requestId: string;
  readonly consumer: AgencyRef;
  readonly system: { readonly id: string; readonly name: string };
  readonly provider: AgencyRef;
  readonly entryId: string;
  readonly resourceCode: string;
  readonly shareMethod: GrantMethod;
  readonly items: readonly string[];
  readonly rowFilterText: string;
  readonly masking: Readonly<Record<string, MaskKind>>;
  readonly ratePerMinute: number | null;
  readonly volumePerDay: number | null;
  readonly purpose: string;
  readonly conditions: string | null;
  readonly validFrom: string;
  readonly validUntil: string;
  readonly status: GrantStatus;
  readonly statusReason: string | null;
  readonly version: number;
}

export interface GrantEvent {
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly statusFrom: string | null;
  readonly statusTo: string | null;
  readonly reason: string | null;
}

export interface BusinessSystem {
  readonly id: string;
  readonly agencyId: string;
  readonly name: string;
  readonly status: string;
}
