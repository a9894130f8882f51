import { Type } from 'typebox';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, IdParams, Limit, literals, nextCursor, page } from '../../server/schema-kit.js';
import { LangQuery } from '../catalog/schemas.js';
import { Demand, DEMAND_STATUSES, DemandAnswer, DemandCreate, DemandRoute } from './schemas.js';

const tags = ['demands'];
const LangOnly = Type.Object({ lang: LangQuery }, { additionalProperties: false });

export async function demandRoutes(app: GsApp, { demands }: Platform): Promise<void> {
  app.get(
    '/demands',
    {
      config: { access: needs('demand:read') },
      schema: {
        tags,
        summary: 'List demands (需求目录): agency users see those their agency posted or was asked to answer; the supervisor sees all',
        querystring: Type.Object({ status: Type.Optional(literals(DEMAND_STATUSES)), after: Type.Optional(Type.String({ format: 'uuid' })), lang: LangQuery, limit: Limit }, { additionalProperties: false }),
        response: { 200: page(Demand), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const { lang, ...q } = req.query;
      const limit = q.limit ?? 50;
      const items = await demands.list(req.ctx.actor, { ...q, limit }, lang);
      return { items, next: nextCursor(items, limit, (d) => d.id) };
    },
  );

  app.post(
    '/demands',
    {
      config: { access: needs('demand:post') },
      schema: { tags, summary: "Post a need for another agency's information, for one's own agency", body: DemandCreate, querystring: LangOnly, response: { 201: Demand, ...ERROR_RESPONSES } },
    },
    async (req, reply) => reply.status(201).send(await demands.post(req.ctx, req.body, req.query.lang)),
  );

  app.get(
    '/demands/:id',
    { config: { access: needs('demand:read') }, schema: { tags, summary: 'One demand, with its routing and answer', params: IdParams, querystring: LangOnly, response: { 200: Demand, ...ERROR_RESPONSES } } },
    async (req) => demands.get(req.ctx.actor, req.params.id, req.query.lang),
  );

  app.post(
    '/demands/:id/route',
    {
      config: { access: needs('catalog:review') },
      schema: { tags, summary: 'Route a demand to the agency asked to answer it (supervisor)', params: IdParams, querystring: LangOnly, body: DemandRoute, response: { 200: Demand, ...ERROR_RESPONSES } },
    },
    async (req) => demands.route(req.ctx, req.params.id, req.body, req.query.lang),
  );

  app.post(
    '/demands/:id/answer',
    {
      config: { access: needs('catalog:edit') },
      schema: {
        tags,
        summary: 'Answer a demand routed to your agency: an existing published resource, a promise to catalog it by a date, or a refusal with reasons',
        params: IdParams,
        querystring: LangOnly,
        body: DemandAnswer,
        response: { 200: Demand, ...ERROR_RESPONSES },
      },
    },
    async (req) => demands.answer(req.ctx, req.params.id, req.body, req.query.lang),
  );
}
