import { Type, type Static } from 'typebox';
import { DateTime, literals, Uuid } from '../../server/schema-kit.js';
import { DELIVERY_CHANNELS, DELIVERY_STATUSES, NOTICE_KINDS } from './vocabulary.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const InboxItem = Type.Object({
  id: Uuid,
  notificationId: Uuid,
  kind: literals(NOTICE_KINDS),
  subjectZh: Type.String(),
  subject: Type.String(),
  bodyZh: Type.String(),
  body: Type.String(),
  target: Type.Object({ type: Type.String(), id: Type.String() }),
  details: Type.Object({}, { additionalProperties: true }),
  read: Type.Boolean(),
  readAt: Nullable(DateTime),
  createdAt: DateTime,
});
export type InboxItem = Static<typeof InboxItem>;

export const Preferences = Type.Object(
  {
    email: Type.Boolean({ description: 'Receive notices by e-mail too (when the platform sends e-mail and your account has an address)' }),
  },
  { additionalProperties: false },
);
export type Preferences = Static<typeof Preferences>;

export const PreferencesView = Type.Object({
  email: Type.Boolean(),
  emailAddress: Nullable(Type.String({ description: 'Where e-mail goes: the address of your account' })),
  emailAvailable: Type.Boolean({ description: 'Whether this platform sends e-mail at all' }),
});
export type PreferencesView = Static<typeof PreferencesView>;

const Kinds = Type.Array(literals(NOTICE_KINDS), { minItems: 1, uniqueItems: true, description: 'The notice kinds wanted; null or absent: all' });
const Url = Type.String({ minLength: 1, maxLength: 2000, description: 'http:// or https:// address the platform POSTs to' });

export const WebhookCreate = Type.Object(
  {
    url: Url,
    agencyId: Type.Optional(Nullable(Type.String({ format: 'uuid', description: 'The agency whose notices it receives; null: platform-level (the supervisor\'s notices; operator only). Absent: your own agency (the operator: platform-level)' }))),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    kinds: Type.Optional(Nullable(Kinds)),
    active: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);
export type WebhookCreate = Static<typeof WebhookCreate>;

export const WebhookPatch = Type.Object(
  {
    url: Type.Optional(Url),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    kinds: Type.Optional(Nullable(Kinds)),
    active: Type.Optional(Type.Boolean()),
    expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type WebhookPatch = Static<typeof WebhookPatch>;

export const Webhook = Type.Object({
  id: Uuid,
  agencyId: Nullable(Uuid),
  url: Type.String(),
  description: Type.String(),
  kinds: Nullable(Type.Array(literals(NOTICE_KINDS))),
  active: Type.Boolean(),
  version: Type.Integer(),
  createdBy: Type.String(),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type Webhook = Static<typeof Webhook>;

export const WebhookCreated = Type.Object({
  webhook: Webhook,
  secret: Type.String({ description: 'The signing secret, shown this once: keep it with the receiver (docs/notifications.md)' }),
});
export type WebhookCreated = Static<typeof WebhookCreated>;

export const DeliveryAttempt = Type.Object({
  attempt: Type.Integer({ description: 'Number within its series (a manual retry starts a new series)' }),
  worker: Type.String(),
  startedAt: DateTime,
  finishedAt: DateTime,
  outcome: Type.Union([Type.Literal('delivered'), Type.Literal('failed')]),
  httpStatus: Nullable(Type.Integer()),
  smtpResponse: Nullable(Type.String()),
  error: Nullable(Type.String()),
});
export type DeliveryAttempt = Static<typeof DeliveryAttempt>;

export const Delivery = Type.Object({
  id: Uuid,
  notificationId: Uuid,
  kind: Type.String({ description: 'The notice kind, or webhook.test' }),
  channel: literals(DELIVERY_CHANNELS),
  accountId: Nullable(Uuid),
  webhookId: Nullable(Uuid),
  address: Type.String({ description: 'E-mail address, or the webhook URL when queued' }),
  status: literals(DELIVERY_STATUSES),
  attempts: Type.Integer({ description: 'Attempts in the current series' }),
  nextAttemptAt: Nullable(DateTime),
  lastAttemptAt: Nullable(DateTime),
  lastError: Nullable(Type.String()),
  deliveredAt: Nullable(DateTime),
  createdAt: DateTime,
  history: Type.Array(DeliveryAttempt, { description: 'Every attempt, oldest first' }),
});
export type Delivery = Static<typeof Delivery>;
