import { Type, type Static } from 'typebox';
import { DateTime, literals, Uuid } from '../../server/schema-kit.js';
import { REGION_LEVELS } from '../regions/region-data.js';

export const AGENCY_LEVELS = REGION_LEVELS;

export const Contact = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    title: Type.Optional(Type.String({ maxLength: 64 })),
    phone: Type.Optional(Type.String({ pattern: '^[0-9+()\\- ]{3,32}$' })),
    email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
  },
  { additionalProperties: false },
);

const Names = Type.Record(Type.String({ maxLength: 35 }), Type.String({ minLength: 1, maxLength: 200 }), {
  description: 'Names in other languages by BCP 47 tag, e.g. {"ug": "…", "en": "…"}; Chinese goes in nameZh',
});

const editable = {
  nameZh: Type.String({ minLength: 1, maxLength: 200, description: '中文名称 (required)' }),
  names: Names,
  uscc: Type.String({ minLength: 18, maxLength: 18, description: '统一社会信用代码 (GB 32100), check character verified' }),
  regionCode: Type.String({ pattern: '^[0-9]{6}$', description: 'GB/T 2260 code; its level must match the agency level' }),
  level: literals(AGENCY_LEVELS),
  parentId: Type.Union([Uuid, Type.Null()]),
  contacts: Type.Array(Contact, { maxItems: 20 }),
};

export const AgencyCreate = Type.Object(
  {
    code: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$', description: 'Unique agency code, never changes' }),
    nameZh: editable.nameZh,
    names: Type.Optional(editable.names),
    uscc: editable.uscc,
    regionCode: editable.regionCode,
    level: editable.level,
    parentId: Type.Optional(editable.parentId),
    contacts: Type.Optional(editable.contacts),
  },
  { additionalProperties: false },
);
export type AgencyCreate = Static<typeof AgencyCreate>;

export const AgencyPatch = Type.Object(
  {
    nameZh: Type.Optional(editable.nameZh),
    names: Type.Optional(editable.names),
    uscc: Type.Optional(editable.uscc),
    regionCode: Type.Optional(editable.regionCode),
    level: Type.Optional(editable.level),
    parentId: Type.Optional(editable.parentId),
    contacts: Type.Optional(editable.contacts),
    expectedVersion: Type.Optional(Type.Integer({ minimum: 1, description: 'Refuse the change (409) if the agency is no longer at this version' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type AgencyPatch = Static<typeof AgencyPatch>;

export const Agency = Type.Object({
  id: Uuid,
  code: Type.String(),
  name: Type.String({ description: 'The name in the requested language, falling back to Chinese' }),
  nameZh: Type.String(),
  names: Type.Record(Type.String(), Type.String()),
  uscc: Type.String(),
  regionCode: Type.String(),
  level: literals(AGENCY_LEVELS),
  parentId: Type.Union([Uuid, Type.Null()]),
  contacts: Type.Array(Contact),
  active: Type.Boolean(),
  deactivatedAt: Type.Union([DateTime, Type.Null()]),
  deactivationReason: Type.Union([Type.String(), Type.Null()]),
  version: Type.Integer(),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type Agency = Static<typeof Agency>;

export const AgencyHistoryEntry = Type.Object({
  version: Type.Integer(),
  change: literals(['created', 'updated', 'deactivated', 'reactivated'] as const),
  changedBy: Type.String(),
  changedAt: DateTime,
  requestId: Type.Union([Type.String(), Type.Null()]),
  snapshot: Type.Record(Type.String(), Type.Unknown()),
});

export const Reason = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false });
export const LangQuery = Type.Optional(Type.String({ maxLength: 35, description: 'BCP 47 tag of the language wanted; names fall back to Chinese' }));
