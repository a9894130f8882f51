import { Type, type Static } from 'typebox';
import { DateTime, literals, Uuid } from '../../server/schema-kit.js';
import { PERMISSIONS, ROLES } from './permissions.js';

export const SETUP_STEPS = ['changePassword', 'enrolTotp'] as const;
export type SetupStep = (typeof SETUP_STEPS)[number];

export const Username = Type.String({ pattern: '^[A-Za-z][A-Za-z0-9._-]{2,63}$', description: 'Stored in lowercase' });
const Phone = Type.String({ pattern: '^[0-9+()\\- ]{3,32}$' });
const Email = Type.String({ format: 'email', maxLength: 254 });

export const User = Type.Object({
  id: Uuid,
  username: Type.String(),
  displayName: Type.String(),
  agencyId: Type.Union([Uuid, Type.Null()]),
  email: Type.Union([Type.String(), Type.Null()]),
  phone: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(Type.String()),
  active: Type.Boolean(),
  mustChangePassword: Type.Boolean(),
  totpEnabled: Type.Boolean(),
  lockedUntil: Type.Union([DateTime, Type.Null()]),
  lastLoginAt: Type.Union([DateTime, Type.Null()]),
  createdAt: DateTime,
  updatedAt: DateTime,
  version: Type.Integer(),
});
export type UserView = Static<typeof User>;

export const Me = Type.Object({
  user: User,
  permissions: Type.Array(Type.String()),
  setupRequired: Type.Array(literals(SETUP_STEPS), { description: 'Steps to finish before anything else is allowed' }),
  totpRequired: Type.Boolean(),
});

export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    totpCode: Type.Optional(Type.String({ pattern: '^[0-9]{6}$', description: 'Required once an authenticator is enrolled' })),
  },
  { additionalProperties: false },
);

export const CertificateLoginBody = Type.Object(
  { password: Type.String({ minLength: 1, maxLength: 1024, description: 'The password of the account the client certificate belongs to' }) },
  { additionalProperties: false },
);

export const LoginReply = Type.Object({
  user: User,
  setupRequired: Type.Array(literals(SETUP_STEPS)),
  expiresAt: DateTime,
});

export const PasswordBody = Type.Object(
  {
    currentPassword: Type.String({ minLength: 1, maxLength: 1024 }),
    newPassword: Type.String({ minLength: 1, maxLength: 1024, description: 'At least 12 characters with 3 of: lowercase, uppercase, digit, other' }),
  },
  { additionalProperties: false },
);

export const TotpEnrolReply = Type.Object({ secret: Type.String(), otpauthUri: Type.String({ description: 'Show as a QR code for the authenticator app' }) });
export const TotpConfirmBody = Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false });

export const UserCreate = Type.Object(
  {
    username: Username,
    displayName: Type.String({ minLength: 1, maxLength: 100 }),
    agencyId: Type.Optional(Type.Union([Uuid, Type.Null()])),
    email: Type.Optional(Type.Union([Email, Type.Null()])),
    phone: Type.Optional(Type.Union([Phone, Type.Null()])),
    roles: Type.Optional(Type.Array(literals(ROLES), { maxItems: ROLES.length, description: 'Only a security administrator may set roles' })),
  },
  { additionalProperties: false },
);

export const UserPatch = Type.Object(
  {
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    agencyId: Type.Optional(Type.Union([Uuid, Type.Null()])),
    email: Type.Optional(Type.Union([Email, Type.Null()])),
    phone: Type.Optional(Type.Union([Phone, Type.Null()])),
    expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const UserWithPassword = Type.Object({
  user: User,
  oneTimePassword: Type.String({ description: 'Shown once; the user must change it at first login' }),
});

export const RolesBody = Type.Object({ roles: Type.Array(literals(ROLES), { maxItems: ROLES.length }) }, { additionalProperties: false });

export const Session = Type.Object({
  id: Uuid,
  createdAt: DateTime,
  lastSeenAt: DateTime,
  expiresAt: DateTime,
  ip: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean({ description: 'The session this request came with' }),
});
export type SessionView = Static<typeof Session>;

export const ApiToken = Type.Object({
  id: Uuid,
  userId: Uuid,
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  expiresAt: DateTime,
  createdAt: DateTime,
  createdBy: Type.String(),
  lastUsedAt: Type.Union([DateTime, Type.Null()]),
  revokedAt: Type.Union([DateTime, Type.Null()]),
});
export type TokenView = Static<typeof ApiToken>;

export const TokenCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    scopes: Type.Optional(Type.Array(literals(PERMISSIONS), { maxItems: PERMISSIONS.length, description: 'Default: every permission the account holds' })),
    expiresInDays: Type.Integer({ minimum: 1, maximum: 366 }),
  },
  { additionalProperties: false },
);

export const TokenCreated = Type.Object({ token: Type.String({ description: 'Shown once; send as `Authorization: Bearer …`' }), apiToken: ApiToken });
