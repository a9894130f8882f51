import { Type } from 'typebox';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, IdParams, Limit, literals, nextCursor, page, Uuid } from '../../server/schema-kit.js';
import { AgencyNode, Deactivation, NODE_STATUSES, NodeCreate, NodePatch, Reactivation } from './schemas.js';

const tags = ['nodes'];

export async function nodeRoutes(app: GsApp, { nodes }: Platform): Promise<void> {
  app.get(
    '/nodes',
    {
      config: { access: needs('node:read') },
      schema: {
        tags,
        summary: "List agencies' nodes (前置机; agency staff see their own agency only)",
        querystring: Type.Object(
          {
            agencyId: Type.Optional(Uuid),
            status: Type.Optional(literals(NODE_STATUSES)),
            after: Type.Optional(Uuid),
            limit: Limit,
          },
          { additionalProperties: false },
        ),
        response: { 200: page(AgencyNode), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const items = await nodes.list(req.ctx.actor, { ...req.query, limit });
      return { items, next: nextCursor(items, limit, (n) => n.id) };
    },
  );

  app.post(
    '/nodes',
    {
      config: { access: needs('node:register') },
      schema: {
        tags,
        summary: "Register a node (an operator: for any agency; a node admin: for their own agency's). Active at once: it connects only once an operator approves its certificate",
        body: NodeCreate,
        response: { 201: AgencyNode, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => reply.status(201).send(await nodes.register(req.ctx, req.body)),
  );

  app.get(
    '/nodes/:id',
    { config: { access: needs('node:read') }, schema: { tags, summary: 'One node', params: IdParams, response: { 200: AgencyNode, ...ERROR_RESPONSES } } },
    async (req) => nodes.get(req.ctx.actor, req.params.id),
  );

  app.patch(
    '/nodes/:id',
    {
      config: { access: needs('node:register') },
      schema: { tags, summary: 'Change a node (its code and agency never change)', params: IdParams, body: NodePatch, response: { 200: AgencyNode, ...ERROR_RESPONSES } },
    },
    async (req) => nodes.update(req.ctx, req.params.id, req.body),
  );

  app.post(
    '/nodes/:id/deactivate',
    {
      config: { access: needs('node:manage') },
      schema: {
        tags,
        summary: "Deactivate a node, with the reason: its certificates are refused on the exchange port from the next request",
        params: IdParams,
        body: Deactivation,
        response: { 200: AgencyNode, ...ERROR_RESPONSES },
      },
    },
    async (req) => nodes.setStatus(req.ctx, req.params.id, 'deactivate', req.body.reason),
  );

  app.post(
    '/nodes/:id/reactivate',
    {
      config: { access: needs('node:manage') },
      schema: { tags, summary: 'Reactivate a deactivated node (its agency must be active)', params: IdParams, body: Reactivation, response: { 200: AgencyNode, ...ERROR_RESPONSES } },
    },
    async (req) => nodes.setStatus(req.ctx, req.params.id, 'reactivate', req.body.reason ?? null),
  );
}
