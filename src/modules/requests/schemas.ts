import { Type, type Static } from 'typebox';
import { DateTime, literals, Uuid } from '../../server/schema-kit.js';
import { GrantTerms } from '../grants/schemas.js';
import { GRANT_METHODS } from '../grants/vocabulary.js';
import { ARBITRATION_OUTCOMES, ATTACHMENT_KINDS, DECISIONS, INFO_CLOCKS, REQUEST_STATUSES, STAGES } from './vocabulary.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Text = (maxLength: number, description?: string) => Type.String({ minLength: 1, maxLength, ...(description ? { description } : {}) });

export const AttachmentRef = Type.Object(
  { id: Type.String({ format: 'uuid', description: 'An attachment uploaded with POST /api/v1/attachments' }), kind: literals(ATTACHMENT_KINDS) },
  { additionalProperties: false },
);
export type AttachmentRef = Static<typeof AttachmentRef>;

export const ShareRequestCreate = Type.Object(
  {
    resource: Text(64, 'The published resource: its resource code (资源代码) or entry id'),
    systemId: Type.String({ format: 'uuid', description: 'The business system (接入系统) of your agency that will use the data' }),
    items: Type.Array(Text(100), { minItems: 1, maxItems: 2000, uniqueItems: true, description: 'The data items (信息项) wanted, by name' }),
    purpose: Type.Object(
      {
        business: Text(2000, 'The business the data serves (应用业务)'),
        basis: Text(2000, 'The duty or legal basis behind it (履职依据)'),
      },
      { additionalProperties: false },
    ),
    dataUsers: Text(2000, 'Who will use the data (使用对象)'),
    shareMethod: literals(GRANT_METHODS, { description: 'push to your node, pull by queries, comparison only, or files' }),
    validUntil: Type.String({ format: 'date', description: 'The last day the data is needed (截止时间)' }),
    expectedVolume: Type.Optional(Text(200, 'e.g. 约 5 万条/月')),
    frequency: Type.Optional(Text(200, 'e.g. 每日')),
    attachments: Type.Optional(Type.Array(AttachmentRef, { maxItems: 20, description: 'A signed security agreement (保密协议) is required when any item wanted is sensitive' })),
    consumerAgencyId: Type.Optional(Type.String({ format: 'uuid', description: 'CLI only: the consumer agency (agency users file for their own)' })),
  },
  { additionalProperties: false },
);
export type ShareRequestCreate = Static<typeof ShareRequestCreate>;

const Versioned = { expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })) };

export const ConformanceInput = Type.Object(
  { conforms: Type.Boolean(), comment: Type.Optional(Text(4000)), ...Versioned },
  { additionalProperties: false },
);
export type ConformanceInput = Static<typeof ConformanceInput>;

export const ApproveInput = Type.Object(
  { terms: Type.Optional(GrantTerms), comment: Type.Optional(Text(4000)), ...Versioned },
  { additionalProperties: false },
);
export type ApproveInput = Static<typeof ApproveInput>;

export const LegalBasisInput = Type.Object(
  { law: Text(500, 'The law, regulation or rule (法律法规规章)'), article: Text(200, 'The article (条款)') },
  { additionalProperties: false },
);

export const RefuseInput = Type.Object(
  { reason: Text(4000, 'Why (不予共享理由)'), legalBasis: LegalBasisInput, ...Versioned },
  { additionalProperties: false },
);
export type RefuseInput = Static<typeof RefuseInput>;

export const AskInfoInput = Type.Object({ question: Text(4000, 'What the consumer must add'), ...Versioned }, { additionalProperties: false });
export type AskInfoInput = Static<typeof AskInfoInput>;

export const InfoReplyInput = Type.Object(
  { answer: Text(4000), attachments: Type.Optional(Type.Array(AttachmentRef, { maxItems: 20 })), ...Versioned },
  { additionalProperties: false },
);
export type InfoReplyInput = Static<typeof InfoReplyInput>;

export const ReasonInput = Type.Object({ reason: Text(4000), ...Versioned }, { additionalProperties: false });
export type ReasonInput = Static<typeof ReasonInput>;

export const ArbitrateInput = Type.Object(
  {
    outcome: literals(ARBITRATION_OUTCOMES),
    comment: Text(4000, 'The reasons of the decision; shown to both agencies'),
    terms: Type.Optional(GrantTerms),
    ...Versioned,
  },
  { additionalProperties: false },
);
export type ArbitrateInput = Static<typeof ArbitrateInput>;

const AgencyRef = Type.Object({ id: Uuid, code: Type.String(), name: Type.String() });
const Attachment = Type.Object({ id: Uuid, kind: literals(ATTACHMENT_KINDS), fileName: Type.String(), bytes: Type.Integer(), sha256: Type.String() });
const LegalBasis = Type.Object({ law: Type.String(), article: Type.String() });

export const ShareRequest = Type.Object({
  id: Uuid,
  number: Type.Integer({ description: '申请编号' }),
  consumer: AgencyRef,
  system: Type.Object({ id: Uuid, name: Type.String() }),
  provider: AgencyRef,
  resource: Type.Object({ entryId: Uuid, resourceCode: Type.String(), name: Type.String(), version: Type.Integer() }),
  shareType: literals(['unconditional', 'conditional'] as const),
  items: Type.Array(Type.String()),
  sensitiveItems: Type.Array(Type.String()),
  purpose: Type.Object({ business: Type.String(), basis: Type.String() }),
  dataUsers: Type.String(),
  shareMethod: literals(GRANT_METHODS),
  validUntil: Type.String({ format: 'date' }),
  expectedVolume: Nullable(Type.String()),
  frequency: Nullable(Type.String()),
  renewsGrantId: Nullable(Uuid),
  status: literals(REQUEST_STATUSES),
  statusZh: Type.String(),
  deadline: Nullable(
    Type.Object({
      stage: literals(STAGES),
      dueOn: Type.String({ format: 'date' }),
      overdue: Type.Boolean(),
      remindedAt: Nullable(DateTime),
      escalatedAt: Nullable(DateTime),
    }),
  ),
  clock: Type.Object({
    mode: literals(INFO_CLOCKS, { description: 'What the review deadline does while information is awaited' }),
    paused: Type.Boolean(),
    reviewDaysLeft: Nullable(Type.Integer()),
  }),
  infoRequest: Nullable(Type.Object({ question: Type.String(), at: DateTime })),
  decision: Nullable(
    Type.Object({
      kind: literals(DECISIONS),
      comment: Nullable(Type.String()),
      legalBasis: Nullable(LegalBasis),
      by: Type.String(),
      at: DateTime,
    }),
  ),
  dispute: Nullable(Type.Object({ reason: Type.String(), by: Type.String(), at: DateTime })),
  arbitration: Nullable(Type.Object({ outcome: literals(ARBITRATION_OUTCOMES), comment: Type.String(), by: Type.String(), at: DateTime })),
  grantId: Nullable(Uuid),
  attachments: Type.Array(Attachment),
  version: Type.Integer(),
  createdBy: Type.String(),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type ShareRequest = Static<typeof ShareRequest>;

export const HistoryEntry = Type.Object({
  at: DateTime,
  actor: Type.String(),
  action: Type.String({ description: 'file, auto-grant, conformance.pass, conformance.fail, approve, narrow, refuse, ask-info, reply, withdraw, dispute, arbitrate, remind, escalate; and of its grants: grant.issue, grant.suspend, grant.reinstate, grant.revoke, grant.supersede, grant.expire' }),
  statusFrom: Nullable(Type.String()),
  statusTo: Nullable(Type.String()),
  comment: Nullable(Type.String()),
  details: Type.Record(Type.String(), Type.Unknown()),
});
export type HistoryEntry = Static<typeof HistoryEntry>;

export const AgencyStatistics = Type.Object({
  agency: AgencyRef,
  total: Type.Integer(),
  pending: Type.Integer(),
  granted: Type.Integer({ description: 'approved by the provider, as asked or narrowed (unconditional ones included)' }),
  narrowed: Type.Integer(),
  refused: Type.Integer(),
  nonConforming: Type.Integer(),
  disputed: Type.Integer({ description: 'ever disputed' }),
  overruled: Type.Integer({ description: 'the supervisor overruled the provider on dispute (counted as the provider decided them: refused or narrowed)' }),
  withdrawn: Type.Integer(),
  overdue: Type.Integer({ description: 'pending now and past their deadline' }),
  approvalRate: Nullable(Type.Number({ description: 'granted / (granted + refused), of the conditional requests decided by the provider' })),
  reviewWorkingDays: Type.Object({
    decided: Type.Integer({ description: 'conditional requests decided by the provider' }),
    median: Nullable(Type.Number()),
    p95: Nullable(Type.Number()),
  }),
});
export type AgencyStatistics = Static<typeof AgencyStatistics>;

export const Statistics = Type.Object({
  from: Nullable(Type.String({ format: 'date' })),
  to: Nullable(Type.String({ format: 'date' })),
  providers: Type.Array(AgencyStatistics),
  consumers: Type.Array(AgencyStatistics),
});
export type Statistics = Static<typeof Statistics>;
