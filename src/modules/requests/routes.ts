import { Type, type Static, type TSchema } from 'typebox';
import type { Permission } from '../accounts/permissions.js';
import type { RequestContext } from '../../server/actor.js';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, Limit, literals, nextCursor, page } from '../../server/schema-kit.js';
import { LangQuery } from '../catalog/schemas.js';
import {
  ApproveInput,
  ArbitrateInput,
  AskInfoInput,
  ConformanceInput,
  HistoryEntry,
  InfoReplyInput,
  ReasonInput,
  RefuseInput,
  ShareRequest,
  ShareRequestCreate,
  Statistics,
} from './schemas.js';
import { REQUEST_STATUSES } from './vocabulary.js';

const tags = ['share requests'];
const LangOnly = Type.Object({ lang: LangQuery }, { additionalProperties: false });
const RequestParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'The request id, or its number (申请编号)' }) }, { additionalProperties: false });

export async function shareRequestRoutes(app: GsApp, { requests }: Platform): Promise<void> {
  app.get(
    '/share-requests',
    {
      config: { access: needs('request:read') },
      schema: {
        tags,
        summary: 'List share requests, newest first: agency users see those their agency filed or was asked; the supervisor sees all',
        querystring: Type.Object(
          {
            side: Type.Optional(literals(['consumer', 'provider'] as const, { description: 'consumer: filed by the agency; provider: made of its resources' })),
            agencyId: Type.Optional(Type.String({ format: 'uuid', description: 'Supervisor: one agency’s requests' })),
            status: Type.Optional(Type.Array(literals(REQUEST_STATUSES), { maxItems: REQUEST_STATUSES.length })),
            resourceCode: Type.Optional(Type.String({ maxLength: 40 })),
            overdue: Type.Optional(Type.Boolean({ description: 'Only pending requests past their deadline (the overdue list)' })),
            before: Type.Optional(Type.Integer({ minimum: 1, description: 'Paging: requests numbered below this' })),
            lang: LangQuery,
            limit: Limit,
          },
          { additionalProperties: false },
        ),
        response: { 200: page(ShareRequest), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const { lang, status, side, ...q } = req.query;
      const limit = q.limit ?? 50;
      // An agency user's `side` applies to their own agency.
      const agencyId = q.agencyId ?? (side ? (req.ctx.actor.agencyId ?? undefined) : undefined);
      const items = await requests.list(req.ctx.actor, { ...q, agencyId, side, statuses: status, limit }, lang);
      return { items, next: nextCursor(items, limit, (r) => r.number) };
    },
  );

  app.post(
    '/share-requests',
    {
      config: { access: needs('request:file') },
      schema: {
        tags,
        summary: 'File a share request for a published resource, for a business system of your agency (unconditional resources are granted at once)',
        body: ShareRequestCreate,
        querystring: LangOnly,
        response: { 201: ShareRequest, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => reply.status(201).send(await requests.file(req.ctx, req.body, req.query.lang)),
  );

  app.get(
    '/share-requests/statistics',
    {
      config: { access: needs('request:read') },
      schema: {
        tags,
        summary: 'Per provider and consumer agency: counts, approval rate, median and 95th-percentile review time in working days',
        querystring: Type.Object(
          {
            from: Type.Optional(Type.String({ format: 'date', description: 'Requests filed on or after this day' })),
            to: Type.Optional(Type.String({ format: 'date', description: '… and on or before this day' })),
            agencyId: Type.Optional(Type.String({ format: 'uuid' })),
            lang: LangQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: Statistics, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const { lang, ...q } = req.query;
      return requests.statistics(req.ctx.actor, q, lang);
    },
  );

  app.get(
    '/share-requests/:id',
    { config: { access: needs('request:read') }, schema: { tags, summary: 'One share request, with its deadline, decision and attachments', params: RequestParams, querystring: LangOnly, response: { 200: ShareRequest, ...ERROR_RESPONSES } } },
    async (req) => requests.get(req.ctx.actor, req.params.id, req.query.lang),
  );

  app.get(
    '/share-requests/:id/history',
    {
      config: { access: needs('request:read') },
      schema: { tags, summary: 'Every step of a request and of the grants it produced, oldest first', params: RequestParams, response: { 200: Type.Object({ items: Type.Array(HistoryEntry) }), ...ERROR_RESPONSES } },
    },
    async (req) => ({ items: await requests.history(req.ctx.actor, req.params.id) }),
  );

  const step = <T extends TSchema>(path: string, permission: Permission, summary: string, body: T, run: (ctx: RequestContext, id: string, body: Static<T>, lang: string | undefined) => Promise<ShareRequest>): void => {
    app.post(
      `/share-requests/:id/${path}`,
      { config: { access: needs(permission) }, schema: { tags, summary, params: RequestParams, querystring: LangOnly, body, response: { 200: ShareRequest, ...ERROR_RESPONSES } } },
      async (req) => run(req.ctx, req.params.id, req.body as Static<T>, req.query.lang),
    );
  };

  step('conformance', 'request:arbitrate', 'Supervisor: the conformance check of a conditional request (passes it to the provider, or ends it with reasons)', ConformanceInput, (c, id, b, l) => requests.conformance(c, id, b, l));
  step('approve', 'request:review', 'Provider: approve, as asked or with narrower terms (fewer items, a row filter, masking, a quota, an earlier end, conditions)', ApproveInput, (c, id, b, l) => requests.approve(c, id, b, l));
  step('refuse', 'request:review', 'Provider: refuse, with the reasons and the legal basis (000 §20)', RefuseInput, (c, id, b, l) => requests.refuse(c, id, b, l));
  step('ask-info', 'request:review', 'Provider: ask the consumer for more information (the deadline then follows GOVSHARE_REQUEST_INFO_CLOCK)', AskInfoInput, (c, id, b, l) => requests.askInfo(c, id, b, l));
  step('reply', 'request:file', 'Consumer: give the information asked for', InfoReplyInput, (c, id, b, l) => requests.reply(c, id, b, l));
  step('withdraw', 'request:file', 'Consumer: withdraw a pending request', ReasonInput, (c, id, b, l) => requests.withdraw(c, id, b, l));
  step('dispute', 'request:file', 'Consumer: dispute a refusal or a narrowing before the supervisor (once)', ReasonInput, (c, id, b, l) => requests.dispute(c, id, b, l));
  step('arbitrate', 'request:arbitrate', 'Supervisor: decide a dispute, finally (000 §21): uphold the decision or grant on your terms', ArbitrateInput, (c, id, b, l) => requests.arbitrate(c, id, b, l));
}
