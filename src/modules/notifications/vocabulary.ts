/**
 * What the platform notifies people of. The requests module (share requests and grants) sends
 * these; a webhook may subscribe to some of them. Kept apart from service.ts so callers and
 * schemas can import the vocabulary without the service.
 */
export const NOTICE_KINDS = [
  'request.submitted', // a new request for the provider's reviewers (or the supervisor's conformance check)
  'request.conformance', // a request awaits the supervisor's conformance check
  'request.infoRequested', // the provider asks the consumer for more information
  'request.decided', // approved / approved narrower / refused / conformance failed
  'request.disputed', // the consumer disputes; for the supervisor
  'request.arbitrated', // the supervisor's final decision
  'request.deadlineApproaching',
  'request.overdue', // escalation to the supervisor
  'grant.expiring',
  'grant.expired',
  'grant.suspended',
  'grant.revoked',
  'grant.reinstated',
] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

export function isNoticeKind(value: string): value is NoticeKind {
  return (NOTICE_KINDS as readonly string[]).includes(value);
}

/** The kind of the deliveries `POST /webhooks/:id/test` queues; never in an inbox, never filtered out. */
export const TEST_KIND = 'webhook.test';

export const DELIVERY_CHANNELS = ['email', 'webhook'] as const;
export type DeliveryChannel = (typeof DELIVERY_CHANNELS)[number];

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
