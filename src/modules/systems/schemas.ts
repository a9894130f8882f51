import { Type, type Static } from 'typebox';
import { DateTime, literals, Uuid } from '../../server/schema-kit.js';
import { Contact } from '../agencies/schemas.js';

export const SYSTEM_STATUSES = ['pending', 'active', 'inactive'] as const;
export type SystemStatus = (typeof SYSTEM_STATUSES)[number];

export const SystemCreate = Type.Object(
  {
    agencyId: Uuid,
    name: Type.String({ minLength: 1, maxLength: 100 }),
    purpose: Type.String({ minLength: 1, maxLength: 2000, description: 'What the system does and why it connects' }),
    ownerContact: Contact,
  },
  { additionalProperties: false },
);
export type SystemCreate = Static<typeof SystemCreate>;

export const SystemPatch = Type.Object(
  {
    name: Type.Optional(SystemCreate.properties.name),
    purpose: Type.Optional(SystemCreate.properties.purpose),
    ownerContact: Type.Optional(Contact),
    expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type SystemPatch = Static<typeof SystemPatch>;

export const BusinessSystem = Type.Object({
  id: Uuid,
  agencyId: Uuid,
  name: Type.String(),
  purpose: Type.String(),
  ownerContact: Contact,
  status: literals(SYSTEM_STATUSES),
  statusReason: Type.Union([Type.String(), Type.Null()]),
  version: Type.Integer(),
  createdBy: Type.String(),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type BusinessSystem = Static<typeof BusinessSystem>;
