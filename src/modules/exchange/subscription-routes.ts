import { Type } from 'typebox';
import { GsError } from '../../lib/errors.js';
import { needs } from '../../server/access.js';
import { exchangeContext } from '../../server/actor.js';
import type { GsApp } from '../../server/app.js';
import type { ExchangeApp } from '../../server/exchange-app.js';
import type { Platform } from '../../server/platform.js';
import { DateTime, ERROR_RESPONSES, IdParams, literals, Uuid } from '../../server/schema-kit.js';
import { ResourceCodeParams } from './schemas.js';
import { PUSH_MAX_BATCH_ROWS, PUSH_MAX_WAIT_SECONDS, type PushBatch, type SubscriptionView } from './subscriptions.js';

const tags = ['exchange'];
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const Attempt = Type.Object({
  at: DateTime,
  after: Type.Integer(),
  cursor: Type.Integer(),
  changes: Type.Integer(),
  httpStatus: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
});

export const Subscription = Type.Object({
  id: Uuid,
  resourceCode: Type.String(),
  consumerSystemId: Uuid,
  consumerAgencyId: Uuid,
  grantId: Uuid,
  generation: Type.Integer({ description: 'Starts from zero so far (1 = the first); an acknowledgement names it' }),
  cursor: Type.Integer({ description: 'The last acknowledged sequence number' }),
  snapshotUntil: Type.Integer({ description: 'Up to this sequence number the subscription delivers the snapshot (live rows only)' }),
  phase: literals(['snapshot', 'changes'] as const),
  lastSeq: Type.Integer({ description: "The resource's last sequence number: at most lastSeq − cursor changes are waiting" }),
  mode: literals(['poll', 'webhook'] as const, { description: 'poll: the consumer fetches and acknowledges; webhook: the platform POSTs' }),
  webhookUrl: Nullable(Type.String()),
  state: literals(['active', 'dead_letter'] as const, { description: 'dead_letter: a webhook batch failed every attempt; re-drive to try again' }),
  attempts: Type.Integer({ description: 'Failed attempts of the current webhook batch' }),
  nextAttemptAt: Nullable(DateTime),
  lastError: Nullable(Type.String()),
  recentAttempts: Type.Array(Attempt, { description: 'The latest webhook attempts, newest first (at most 10)' }),
  lastDeliveryAt: Nullable(DateTime),
  lastAckAt: Nullable(DateTime),
  deadLetteredAt: Nullable(DateTime),
  createdAt: DateTime,
});

const Batch = Type.Object({
  subscriptionId: Uuid,
  resourceCode: Type.String(),
  grantId: Uuid,
  generation: Type.Integer(),
  batchId: Type.String({ description: '<subscription>:<generation>:<after>-<cursor>; a batch delivered again has the same id' }),
  after: Type.Integer({ description: 'The cursor this batch follows' }),
  cursor: Type.Integer({ description: 'Acknowledge this, with the generation, once the batch is applied' }),
  phase: literals(['snapshot', 'changes'] as const),
  reset: Type.Boolean({ description: 'The batch starts from zero: drop what you hold of this subscription before applying it' }),
  more: Type.Boolean({ description: 'More changes wait: fetch again at once' }),
  items: Type.Array(Type.String()),
  changes: Type.Array(
    Type.Object({
      seq: Type.Integer(),
      op: literals(['upsert', 'delete'] as const),
      ref: Type.String({ description: "The record's identity for this consumer (keyed hash of its key); key your copy on it" }),
      row: Type.Record(Type.String(), Type.Unknown(), { description: 'upsert: the granted items, masked as the grant says; delete: the granted key items' }),
    }),
  ),
});

const Ack = Type.Object({ generation: Type.Integer({ minimum: 1 }), cursor: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });

const FetchBody = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PUSH_MAX_BATCH_ROWS, description: 'Changes in the batch at most (GOVSHARE_PUSH_BATCH_ROWS when absent)' })),
    waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: PUSH_MAX_WAIT_SECONDS, default: 0, description: 'Long poll: wait up to this long for a change when none is waiting' })),
    ack: Type.Optional(Type.Object({ generation: Type.Integer({ minimum: 1 }), cursor: Type.Integer({ minimum: 0 }) }, { additionalProperties: false, description: 'Acknowledge the previous batch first (one call per batch)' })),
  },
  { additionalProperties: false },
);

const WebhookBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2000, description: 'https:// address the platform POSTs batches to, presenting its client certificate (issued by the platform CA)' }),
    caPem: Type.Optional(Type.String({ minLength: 1, maxLength: 65_536, description: "PEM of the CA that issued the webhook server's certificate; the system's trusted CAs when absent" })),
  },
  { additionalProperties: false },
);

const view = (v: SubscriptionView) => ({ ...v, recentAttempts: [...v.recentAttempts] });
/** A batch as answered: exactly the fields of `Batch` (its rows are the grant's presentation, granted items only). */
const batchOut = (b: PushBatch) => ({
  subscriptionId: b.subscriptionId,
  resourceCode: b.resourceCode,
  grantId: b.grantId,
  generation: b.generation,
  batchId: b.batchId,
  after: b.after,
  cursor: b.cursor,
  phase: b.phase,
  reset: b.reset,
  more: b.more,
  items: [...b.items],
  changes: b.changes.map((c) => ({ seq: c.seq, op: c.op, ref: c.ref, row: c.row })),
});

/**
 * The batch answer is written with JSON.stringify, not the serializer compiled from `Batch`:
 * for rows of arbitrary item names (a record of unknown values) the compiled one writes each value
 * on its own, about 6× slower for a batch of 10,000 changes (37 ms against 6 ms, the same 2 MB
 * of JSON). `batchOut` builds exactly the schema's fields, so nothing the schema would have
 * dropped can be written; the schema still documents the answer in the OpenAPI description.
 */
const stringifyBatch = () => (data: unknown) => JSON.stringify(data);

/** Push (资源推送) on the exchange port: the consumer system's subscriptions under its push grants. */
export async function subscriptionRoutes(app: ExchangeApp, { subscriptions }: Platform): Promise<void> {
  const system = (req: { exchange: { subjectType: string; subjectId: string } | null }): string => {
    const who = req.exchange!;
    if (who.subjectType !== 'system') throw new GsError('GS_ERR_EXCHANGE_SYSTEM_REQUIRED', { subjectType: who.subjectType });
    return who.subjectId;
  };
  const path = '/exchange/v1/resources/:code/subscription';

  app.get('/exchange/v1/subscriptions', { schema: { tags, summary: 'The subscriptions of this system: one per resource it holds a push grant in force for (created on first use)', response: { 200: Type.Object({ items: Type.Array(Subscription) }), ...ERROR_RESPONSES } } }, async (req) => {
    const items = await subscriptions.list(exchangeContext(req.exchange!, req.id, req.ip), system(req));
    return { items: items.map(view) };
  });

  app.get(path, { schema: { tags, summary: 'This system’s subscription to a resource (created on first use, under the push grant in force)', params: ResourceCodeParams, response: { 200: Subscription, ...ERROR_RESPONSES } } }, async (req) => view(await subscriptions.get(exchangeContext(req.exchange!, req.id, req.ip), system(req), req.params.code)));

  app.post(
    `${path}/changes`,
    {
      schema: {
        tags,
        summary: 'The batch after the cursor: granted items, row filter and masking applied, in sequence order; the same batch again until acknowledged (at-least-once). Optionally acknowledges the previous batch first, and waits (long poll) when nothing is waiting; audited',
        params: ResourceCodeParams,
        body: FetchBody,
        response: { 200: Batch, ...ERROR_RESPONSES },
      },
      serializerCompiler: stringifyBatch,
    },
    async (req) => batchOut(await subscriptions.fetch(exchangeContext(req.exchange!, req.id, req.ip), system(req), req.params.code, req.body)),
  );

  app.post(`${path}/ack`, { schema: { tags, summary: 'Acknowledges a batch: the cursor moves to its cursor', params: ResourceCodeParams, body: Ack, response: { 200: Subscription, ...ERROR_RESPONSES } } }, async (req) => view(await subscriptions.ack(system(req), req.params.code, req.body)));

  app.post(`${path}/resync`, { schema: { tags, summary: 'Starts the subscription again from zero: next generation, a fresh snapshot, the first batch marked reset; audited', params: ResourceCodeParams, response: { 200: Subscription, ...ERROR_RESPONSES } } }, async (req) => view(await subscriptions.resync(exchangeContext(req.exchange!, req.id, req.ip), system(req), req.params.code)));

  app.put(
    `${path}/webhook`,
    { schema: { tags, summary: 'Has the platform POST the batches to an https webhook with mutual TLS; a 2xx answer acknowledges a batch; audited', params: ResourceCodeParams, body: WebhookBody, response: { 200: Subscription, ...ERROR_RESPONSES } } },
    async (req) => view(await subscriptions.setWebhook(exchangeContext(req.exchange!, req.id, req.ip), system(req), req.params.code, req.body)),
  );

  app.delete(`${path}/webhook`, { schema: { tags, summary: 'Back to fetching: the platform stops POSTing; the cursor stays; audited', params: ResourceCodeParams, response: { 200: Subscription, ...ERROR_RESPONSES } } }, async (req) => view(await subscriptions.clearWebhook(exchangeContext(req.exchange!, req.id, req.ip), system(req), req.params.code)));

  app.post(`${path}/redrive`, { schema: { tags, summary: 'Tries a dead-lettered (or waiting) webhook subscription again now, with a fresh series of attempts; audited', params: ResourceCodeParams, response: { 200: Subscription, ...ERROR_RESPONSES } } }, async (req) => view(await subscriptions.redriveOwn(exchangeContext(req.exchange!, req.id, req.ip), system(req), req.params.code)));
}

/** The console's view of push subscriptions: lag, state, dead letters, re-drive. */
export async function subscriptionConsoleRoutes(app: GsApp, { subscriptions }: Platform): Promise<void> {
  app.get(
    '/subscriptions',
    {
      config: { access: needs('grant:read') },
      schema: {
        tags: ['grants'],
        summary: 'Push subscriptions: all for platform staff, else those the caller’s agency consumes or provides; with cursor, lag, state and recent webhook attempts',
        querystring: Type.Object({ resourceCode: Type.Optional(Type.String({ maxLength: 40 })), state: Type.Optional(literals(['active', 'dead_letter'] as const)) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(Subscription) }), ...ERROR_RESPONSES },
      },
    },
    async (req) => ({ items: (await subscriptions.consoleList(req.ctx.actor, req.query)).map(view) }),
  );

  app.post(
    '/subscriptions/:id/redrive',
    { config: { access: needs('subscription:manage') }, schema: { tags: ['grants'], summary: 'Tries a dead-lettered (or waiting) webhook subscription again now, with a fresh series of attempts; audited', params: IdParams, response: { 200: Subscription, ...ERROR_RESPONSES } } },
    async (req) => view(await subscriptions.consoleRedrive(req.ctx, req.params.id)),
  );
}
