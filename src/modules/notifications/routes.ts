import { Type } from 'typebox';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, IdParams, Limit, literals, nextCursor, page } from '../../server/schema-kit.js';
import { Delivery, InboxItem, Preferences, PreferencesView, Webhook, WebhookCreate, WebhookCreated, WebhookPatch } from './schemas.js';
import { DELIVERY_CHANNELS, DELIVERY_STATUSES } from './vocabulary.js';

const tags = ['notifications'];
const Before = Type.Optional(Type.Integer({ minimum: 1, description: 'The `next` of the previous page' }));

export async function notificationRoutes(app: GsApp, { notifications }: Platform): Promise<void> {
  // ---- the inbox: one's own notifications -----------------------------------------------------

  app.get(
    '/notifications',
    {
      config: { access: needs('notification:read') },
      schema: {
        tags,
        summary: 'Your inbox, newest first; unread=true for the unread ones only',
        querystring: Type.Object({ unread: Type.Optional(Type.Boolean()), before: Before, limit: Limit }, { additionalProperties: false }),
        response: { 200: page(InboxItem), ...ERROR_RESPONSES },
      },
    },
    async (req) => notifications.inbox(req.ctx.actor, { ...req.query, limit: req.query.limit ?? 50 }),
  );

  app.get(
    '/notifications/unread-count',
    { config: { access: needs('notification:read') }, schema: { tags, summary: 'How many notifications in your inbox are unread', response: { 200: Type.Object({ unread: Type.Integer() }), ...ERROR_RESPONSES } } },
    async (req) => ({ unread: await notifications.unreadCount(req.ctx.actor) }),
  );

  app.post(
    '/notifications/:id/read',
    { config: { access: needs('notification:read') }, schema: { tags, summary: 'Mark one of your notifications read', params: IdParams, response: { 200: InboxItem, ...ERROR_RESPONSES } } },
    async (req) => notifications.markRead(req.ctx.actor, req.params.id),
  );

  app.post(
    '/notifications/read-all',
    { config: { access: needs('notification:read') }, schema: { tags, summary: 'Mark every notification in your inbox read', response: { 200: Type.Object({ marked: Type.Integer() }), ...ERROR_RESPONSES } } },
    async (req) => ({ marked: await notifications.markAllRead(req.ctx.actor) }),
  );

  app.get(
    '/notifications/preferences',
    { config: { access: needs('notification:read') }, schema: { tags, summary: 'Your notification preferences (e-mail on or off)', response: { 200: PreferencesView, ...ERROR_RESPONSES } } },
    async (req) => notifications.preferences(req.ctx.actor),
  );

  app.put(
    '/notifications/preferences',
    { config: { access: needs('notification:read') }, schema: { tags, summary: 'Turn e-mail notifications on or off for yourself (the inbox always gets them)', body: Preferences, response: { 200: PreferencesView, ...ERROR_RESPONSES } } },
    async (req) => notifications.setPreferences(req.ctx.actor, req.body),
  );

  // ---- webhooks: an agency's node admin for its agency, the operator for all -----------------

  app.get(
    '/webhooks',
    {
      config: { access: needs('webhook:manage') },
      schema: {
        tags,
        summary: "Webhooks: a node admin sees its own agency's, the operator every agency's and the platform-level ones",
        querystring: Type.Object({ agencyId: Type.Optional(Type.String({ format: 'uuid' })), after: Type.Optional(Type.String({ format: 'uuid' })), limit: Limit }, { additionalProperties: false }),
        response: { 200: page(Webhook), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const items = await notifications.listWebhooks(req.ctx.actor, { ...req.query, limit });
      return { items, next: nextCursor(items, limit, (w) => w.id) };
    },
  );

  app.post(
    '/webhooks',
    {
      config: { access: needs('webhook:manage') },
      schema: {
        tags,
        summary: 'Register a webhook; the signing secret is in the answer, this once',
        body: WebhookCreate,
        response: { 201: WebhookCreated, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => reply.status(201).send(await notifications.createWebhook(req.ctx, req.body)),
  );

  app.get(
    '/webhooks/:id',
    { config: { access: needs('webhook:manage') }, schema: { tags, summary: 'One webhook (never its secret)', params: IdParams, response: { 200: Webhook, ...ERROR_RESPONSES } } },
    async (req) => notifications.getWebhook(req.ctx.actor, req.params.id),
  );

  app.patch(
    '/webhooks/:id',
    { config: { access: needs('webhook:manage') }, schema: { tags, summary: "Change a webhook's address, kinds, description or active flag", params: IdParams, body: WebhookPatch, response: { 200: Webhook, ...ERROR_RESPONSES } } },
    async (req) => notifications.updateWebhook(req.ctx, req.params.id, req.body),
  );

  app.delete(
    '/webhooks/:id',
    { config: { access: needs('webhook:manage') }, schema: { tags, summary: 'Delete a webhook; its pending deliveries are given up', params: IdParams, response: { 204: Type.Null(), ...ERROR_RESPONSES } } },
    async (req, reply) => {
      await notifications.deleteWebhook(req.ctx, req.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/webhooks/:id/test',
    { config: { access: needs('webhook:manage') }, schema: { tags, summary: 'Queue a test delivery (kind webhook.test) to the webhook', params: IdParams, response: { 202: Delivery, ...ERROR_RESPONSES } } },
    async (req, reply) => reply.status(202).send(await notifications.testWebhook(req.ctx, req.params.id)),
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      config: { access: needs('webhook:manage') },
      schema: { tags, summary: 'The deliveries to one webhook, newest first, with every attempt', params: IdParams, querystring: Type.Object({ before: Before, limit: Limit }, { additionalProperties: false }), response: { 200: page(Delivery), ...ERROR_RESPONSES } },
    },
    async (req) => notifications.webhookDeliveries(req.ctx.actor, req.params.id, { ...req.query, limit: req.query.limit ?? 50 }),
  );

  // ---- deliveries: the operator --------------------------------------------------------------

  app.get(
    '/notification-deliveries',
    {
      config: { access: needs('notification:deliveries') },
      schema: {
        tags,
        summary: 'E-mail and webhook deliveries, newest first, with every attempt (time, outcome, HTTP status or SMTP response, error)',
        querystring: Type.Object({ status: Type.Optional(literals(DELIVERY_STATUSES)), channel: Type.Optional(literals(DELIVERY_CHANNELS)), before: Before, limit: Limit }, { additionalProperties: false }),
        response: { 200: page(Delivery), ...ERROR_RESPONSES },
      },
    },
    async (req) => notifications.listDeliveries({ ...req.query, limit: req.query.limit ?? 50 }),
  );

  app.get(
    '/notification-deliveries/:id',
    { config: { access: needs('notification:deliveries') }, schema: { tags, summary: 'One delivery with every attempt', params: IdParams, response: { 200: Delivery, ...ERROR_RESPONSES } } },
    async (req) => notifications.getDelivery(req.params.id),
  );

  app.post(
    '/notification-deliveries/:id/retry',
    {
      config: { access: needs('notification:deliveries') },
      schema: { tags, summary: 'Try a failed (or waiting) delivery again now, with a fresh series of attempts', params: IdParams, response: { 200: Delivery, ...ERROR_RESPONSES } },
    },
    async (req) => notifications.retryDelivery(req.ctx, req.params.id),
  );
}
