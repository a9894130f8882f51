import { Type, type Static } from 'typebox';
import { DateTime, literals, Uuid } from '../../server/schema-kit.js';
import { GRANT_METHODS, GRANT_STATUSES, MASK_KINDS, ROW_FILTER_OPS } from './vocabulary.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const ItemName = Type.String({ minLength: 1, maxLength: 100 });

export const RowConditionSchema = Type.Object(
  {
    item: ItemName,
    op: literals(ROW_FILTER_OPS),
    values: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 500, uniqueItems: true }),
  },
  { additionalProperties: false, description: 'One condition of a row filter, e.g. {item: "行政区划代码", op: "eq", values: ["430400"]}' },
);

/** What a provider (or the supervisor, overruling) grants; absent parts are as asked. */
export const GrantTerms = Type.Object(
  {
    items: Type.Optional(Type.Array(ItemName, { minItems: 1, maxItems: 2000, uniqueItems: true, description: 'A subset of the items asked for' })),
    rowFilter: Type.Optional(Type.Array(RowConditionSchema, { maxItems: 20, description: 'Rows delivered must meet every condition' })),
    masking: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 100 }), literals(MASK_KINDS), { description: 'Per granted item: partial, full or hash' })),
    ratePerMinute: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Calls per minute (pull, comparison)' })),
    volumePerDay: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description: 'Records per day' })),
    validUntil: Type.Optional(Type.String({ format: 'date', description: 'Last day in force; not after the day asked for' })),
    conditions: Type.Optional(Type.String({ minLength: 1, maxLength: 4000, description: 'Conditions of use (使用条件)' })),
  },
  { additionalProperties: false },
);
export type GrantTerms = Static<typeof GrantTerms>;

const AgencyRef = Type.Object({ id: Uuid, code: Type.String(), name: Type.String() });

export const Grant = Type.Object({
  id: Uuid,
  requestId: Uuid,
  consumer: AgencyRef,
  system: Type.Object({ id: Uuid, name: Type.String() }),
  provider: AgencyRef,
  entryId: Uuid,
  resourceCode: Type.String(),
  shareMethod: literals(GRANT_METHODS),
  items: Type.Array(Type.String()),
  rowFilter: Type.Array(RowConditionSchema),
  rowFilterText: Type.String({ description: 'The row filter as people read it; empty when every row' }),
  masking: Type.Record(Type.String(), literals(MASK_KINDS)),
  ratePerMinute: Nullable(Type.Integer()),
  volumePerDay: Nullable(Type.Integer()),
  purpose: Type.String(),
  conditions: Nullable(Type.String()),
  validFrom: DateTime,
  validUntil: Type.String({ format: 'date' }),
  status: literals(GRANT_STATUSES),
  statusReason: Nullable(Type.String()),
  statusChangedBy: Nullable(Type.String()),
  statusChangedAt: Nullable(DateTime),
  version: Type.Integer(),
  createdBy: Type.String(),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type Grant = Static<typeof Grant>;

export const GrantEvent = Type.Object({
  grantId: Uuid,
  at: DateTime,
  actor: Type.String(),
  action: Type.String(),
  statusFrom: Nullable(Type.String()),
  statusTo: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  details: Type.Record(Type.String(), Type.Unknown()),
});
export type GrantEvent = Static<typeof GrantEvent>;

export const GrantStatusChange = Type.Object(
  {
    reason: Type.String({ minLength: 1, maxLength: 4000, description: 'Why; shown to both agencies' }),
    expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type GrantStatusChange = Static<typeof GrantStatusChange>;

export const GrantRenewal = Type.Object(
  {
    validUntil: Type.String({ format: 'date', description: 'The new last day wanted' }),
    comment: Type.Optional(Type.String({ minLength: 1, maxLength: 4000 })),
  },
  { additionalProperties: false },
);
export type GrantRenewal = Static<typeof GrantRenewal>;
