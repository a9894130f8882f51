import { Type } from 'typebox';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, IdParams, Limit, literals, nextCursor, page } from '../../server/schema-kit.js';
import { BusinessSystem, SYSTEM_STATUSES, SystemCreate, SystemPatch } from './schemas.js';

const tags = ['business systems'];
const OptionalReason = Type.Object({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) }, { additionalProperties: false });

export async function systemRoutes(app: GsApp, { systems }: Platform): Promise<void> {
  app.get(
    '/systems',
    {
      config: { access: needs('system:read') },
      schema: {
        tags,
        summary: 'List business systems (agency staff see their own agency only)',
        querystring: Type.Object(
          {
            agencyId: Type.Optional(Type.String({ format: 'uuid' })),
            status: Type.Optional(literals(SYSTEM_STATUSES)),
            after: Type.Optional(Type.String({ format: 'uuid' })),
            limit: Limit,
          },
          { additionalProperties: false },
        ),
        response: { 200: page(BusinessSystem), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const items = await systems.list(req.ctx.actor, { ...req.query, limit });
      return { items, next: nextCursor(items, limit, (s) => s.id) };
    },
  );

  app.post(
    '/systems',
    {
      config: { access: needs('system:register') },
      schema: {
        tags,
        summary: 'Register a business system (an operator: active at once; a node admin: pending approval)',
        body: SystemCreate,
        response: { 201: BusinessSystem, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => reply.status(201).send(await systems.register(req.ctx, req.body)),
  );

  app.get(
    '/systems/:id',
    { config: { access: needs('system:read') }, schema: { tags, summary: 'One business system', params: IdParams, response: { 200: BusinessSystem, ...ERROR_RESPONSES } } },
    async (req) => systems.get(req.ctx.actor, req.params.id),
  );

  app.patch(
    '/systems/:id',
    {
      config: { access: needs('system:register') },
      schema: { tags, summary: 'Change a business system', params: IdParams, body: SystemPatch, response: { 200: BusinessSystem, ...ERROR_RESPONSES } },
    },
    async (req) => systems.update(req.ctx, req.params.id, req.body),
  );

  for (const action of ['approve', 'deactivate', 'reactivate'] as const) {
    app.post(
      `/systems/:id/${action}`,
      {
        config: { access: needs('system:manage') },
        schema: { tags, summary: `${action[0]!.toUpperCase()}${action.slice(1)} a business system`, params: IdParams, body: OptionalReason, response: { 200: BusinessSystem, ...ERROR_RESPONSES } },
      },
      async (req) => systems.setStatus(req.ctx, req.params.id, action, req.body.reason ?? null),
    );
  }
}
