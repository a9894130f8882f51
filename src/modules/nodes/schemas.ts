import { Type, type Static } from 'typebox';
import { DateTime, literals, Uuid } from '../../server/schema-kit.js';
import { Contact, Reason } from '../agencies/schemas.js';

export const NODE_STATUSES = ['active', 'deactivated'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

/**
 * A node code: what operators and the node's own configuration call it (e.g. `HY-FGW-01`). Kept
 * to characters that are safe in host names, file names and URLs. Unique without regard to case,
 * so `hy-fgw-01` cannot stand beside `HY-FGW-01`; the same rule is a check in the table.
 */
export const NODE_CODE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$';

const fields = {
  name: Type.String({ minLength: 1, maxLength: 100, description: '中文名称, e.g. 市发改委前置机' }),
  description: Type.String({ maxLength: 2000, description: 'Where the node stands and what it serves' }),
  contact: Contact,
};

export const NodeCreate = Type.Object(
  {
    agencyId: Uuid,
    code: Type.String({ pattern: NODE_CODE_PATTERN, description: 'Unique node code (letters, digits, ".", "_", "-"; 2–64 characters); never changes' }),
    name: fields.name,
    description: Type.Optional(fields.description),
    contact: fields.contact,
  },
  { additionalProperties: false, description: 'The contact is whoever maintains the node at the agency (seed 000 §33–35)' },
);
export type NodeCreate = Static<typeof NodeCreate>;

export const NodePatch = Type.Object(
  {
    name: Type.Optional(fields.name),
    description: Type.Optional(fields.description),
    contact: Type.Optional(fields.contact),
    expectedVersion: Type.Optional(Type.Integer({ minimum: 1, description: 'Refuse the change (409) if the node is no longer at this version' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type NodePatch = Static<typeof NodePatch>;

export const AgencyNode = Type.Object({
  id: Uuid,
  agencyId: Uuid,
  code: Type.String(),
  name: Type.String(),
  description: Type.String(),
  contact: Contact,
  status: literals(NODE_STATUSES),
  statusReason: Type.Union([Type.String(), Type.Null()]),
  version: Type.Integer(),
  createdBy: Type.String(),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type AgencyNode = Static<typeof AgencyNode>;

export const Deactivation = Reason;
export const Reactivation = Type.Object({ reason: Type.Optional(Reason.properties.reason) }, { additionalProperties: false });
