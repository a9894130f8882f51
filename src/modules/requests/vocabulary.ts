/**
 * conformance: with the supervisor for the conformance check (optional, GOVSHARE_REQUEST_CONFORMANCE_CHECK);
 * review: with the provider; infoRequested: the provider asked the consumer for more;
 * granted / refused / nonConforming: decided; disputed: the consumer contests a refusal or a
 * narrowing before the supervisor; withdrawn: by the consumer while pending.
 */
export const REQUEST_STATUSES = ['conformance', 'review', 'infoRequested', 'granted', 'refused', 'nonConforming', 'disputed', 'withdrawn'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export const PENDING_STATUSES = ['conformance', 'review', 'infoRequested'] as const satisfies readonly RequestStatus[];

export const REQUEST_STATUS_ZH: Readonly<Record<RequestStatus, string>> = {
  conformance: '待主管部门符合性审查',
  review: '待提供方审核',
  infoRequested: '待补充材料',
  granted: '已授权',
  refused: '不予共享',
  nonConforming: '未通过符合性审查',
  disputed: '争议待协调',
  withdrawn: '已撤回',
};

/** approved: as asked; narrowed: with fewer items, a row filter, masking, a quota, an earlier end or conditions. */
export const DECISIONS = ['approved', 'narrowed', 'refused', 'nonConforming'] as const;
export type Decision = (typeof DECISIONS)[number];

/**
 * What the review deadline does while the provider waits for information it asked for:
 * pause: stops, and resumes with the working days that were left; restart: starts again in full
 * when the answer arrives; continue: keeps running.
 */
export const INFO_CLOCKS = ['pause', 'restart', 'continue'] as const;
export type InfoClock = (typeof INFO_CLOCKS)[number];

export const ATTACHMENT_KINDS = ['securityAgreement', 'other'] as const;
export type AttachmentKind = (typeof ATTACHMENT_KINDS)[number];

/** upheld: the provider's decision stands; overruled: the supervisor sets the terms. Final either way (000 §21). */
export const ARBITRATION_OUTCOMES = ['upheld', 'overruled'] as const;
export type ArbitrationOutcome = (typeof ARBITRATION_OUTCOMES)[number];

export const STAGES = ['conformance', 'review'] as const;
export type Stage = (typeof STAGES)[number];
