import { Type, type Static } from 'typebox';
import { DateTime, literals, Uuid } from '../../server/schema-kit.js';

/** open: posted, waiting for the supervisor; routed: with the agency asked to answer; answered. */
export const DEMAND_STATUSES = ['open', 'routed', 'answered'] as const;
export type DemandStatus = (typeof DEMAND_STATUSES)[number];

/** existing: a published resource already has it; promise: it will be cataloged by a date; refusal: with reasons. */
export const ANSWER_KINDS = ['existing', 'promise', 'refusal'] as const;
export type AnswerKind = (typeof ANSWER_KINDS)[number];

export const DemandCreate = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200, description: 'What information is needed' }),
    description: Type.Optional(Type.String({ maxLength: 4000 })),
    purpose: Type.String({ minLength: 1, maxLength: 2000, description: 'The duty it serves (使用用途)' }),
    wantedItems: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 200, uniqueItems: true, description: 'Data items wanted, by name' })),
    suggestedAgencyId: Type.Optional(Type.String({ format: 'uuid', description: 'The agency that may hold it, if known' })),
  },
  { additionalProperties: false },
);
export type DemandCreate = Static<typeof DemandCreate>;

export const DemandRoute = Type.Object(
  {
    providerAgencyId: Type.String({ format: 'uuid', description: 'The agency asked to answer' }),
    comment: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type DemandRoute = Static<typeof DemandRoute>;

export const DemandAnswer = Type.Object(
  {
    kind: literals(ANSWER_KINDS),
    resourceCode: Type.Optional(Type.String({ maxLength: 40, description: 'existing: the published resource that has the data' })),
    promisedBy: Type.Optional(Type.String({ format: 'date', description: 'promise: the day by which it will be cataloged' })),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 4000, description: 'refusal: the reasons (required); promise, existing: an optional note' })),
    expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type DemandAnswer = Static<typeof DemandAnswer>;

const AgencyRef = Type.Object({ id: Uuid, code: Type.String(), name: Type.String() });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const Demand = Type.Object({
  id: Uuid,
  requester: AgencyRef,
  title: Type.String(),
  description: Type.String(),
  purpose: Type.String(),
  wantedItems: Type.Array(Type.String()),
  suggestedAgency: Nullable(AgencyRef),
  status: literals(DEMAND_STATUSES),
  provider: Nullable(AgencyRef),
  routed: Nullable(Type.Object({ by: Type.String(), at: DateTime, comment: Nullable(Type.String()) })),
  answer: Nullable(
    Type.Object({
      kind: literals(ANSWER_KINDS),
      entryId: Nullable(Uuid),
      resourceCode: Nullable(Type.String()),
      promisedBy: Nullable(Type.String({ format: 'date' })),
      reason: Nullable(Type.String()),
      by: Type.String(),
      at: DateTime,
    }),
  ),
  version: Type.Integer(),
  createdBy: Type.String(),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type Demand = Static<typeof Demand>;
