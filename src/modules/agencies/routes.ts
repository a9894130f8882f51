import { Type } from 'typebox';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, IdParams, Limit, literals, nextCursor, page } from '../../server/schema-kit.js';
import { Agency, AGENCY_LEVELS, AgencyCreate, AgencyHistoryEntry, AgencyPatch, LangQuery, Reason } from './schemas.js';

const tags = ['agencies'];

export async function agencyRoutes(app: GsApp, { agencies }: Platform): Promise<void> {
  app.get(
    '/agencies',
    {
      config: { access: needs('agency:read') },
      schema: {
        tags,
        summary: 'List agencies',
        querystring: Type.Object(
          {
            q: Type.Optional(Type.String({ maxLength: 100, description: 'Part of the Chinese name or code, or a whole USCC' })),
            regionCode: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
            level: Type.Optional(literals(AGENCY_LEVELS)),
            parentId: Type.Optional(Type.String({ format: 'uuid' })),
            active: Type.Optional(Type.Boolean()),
            lang: LangQuery,
            after: Type.Optional(Type.String({ maxLength: 64, description: 'Agency code to continue after' })),
            limit: Limit,
          },
          { additionalProperties: false },
        ),
        response: { 200: page(Agency), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const { lang, ...q } = req.query;
      const items = await agencies.list({ ...q, limit: q.limit ?? 50 }, lang);
      return { items, next: nextCursor(items, q.limit ?? 50, (a) => a.code) };
    },
  );

  app.post(
    '/agencies',
    {
      config: { access: needs('agency:manage') },
      schema: { tags, summary: 'Create an agency', body: AgencyCreate, response: { 201: Agency, ...ERROR_RESPONSES } },
    },
    async (req, reply) => reply.status(201).send(await agencies.create(req.ctx, req.body)),
  );

  app.get(
    '/agencies/:id',
    {
      config: { access: needs('agency:read') },
      schema: {
        tags,
        summary: 'One agency',
        params: IdParams,
        querystring: Type.Object({ lang: LangQuery }, { additionalProperties: false }),
        response: { 200: Agency, ...ERROR_RESPONSES },
      },
    },
    async (req) => agencies.get(req.params.id, req.query.lang),
  );

  app.patch(
    '/agencies/:id',
    {
      config: { access: needs('agency:manage') },
      schema: { tags, summary: 'Change an agency', params: IdParams, body: AgencyPatch, response: { 200: Agency, ...ERROR_RESPONSES } },
    },
    async (req) => agencies.update(req.ctx, req.params.id, req.body),
  );

  app.post(
    '/agencies/:id/deactivate',
    {
      config: { access: needs('agency:manage') },
      schema: { tags, summary: 'Deactivate an agency (never deleted; history stays readable)', params: IdParams, body: Reason, response: { 200: Agency, ...ERROR_RESPONSES } },
    },
    async (req) => agencies.deactivate(req.ctx, req.params.id, req.body.reason),
  );

  app.post(
    '/agencies/:id/reactivate',
    {
      config: { access: needs('agency:manage') },
      schema: { tags, summary: 'Reactivate a deactivated agency', params: IdParams, body: Reason, response: { 200: Agency, ...ERROR_RESPONSES } },
    },
    async (req) => agencies.reactivate(req.ctx, req.params.id, req.body.reason),
  );

  app.get(
    '/agencies/:id/history',
    {
      config: { access: needs('agency:read') },
      schema: { tags, summary: 'Every version of an agency', params: IdParams, response: { 200: Type.Object({ items: Type.Array(AgencyHistoryEntry) }), ...ERROR_RESPONSES } },
    },
    async (req) => ({
      items: (await agencies.history(req.params.id)).map((h) => ({
        ...h,
        change: h.change as 'created' | 'updated' | 'deactivated' | 'reactivated',
        changedAt: h.changedAt.toISOString(),
        snapshot: h.snapshot as Record<string, unknown>,
      })),
    }),
  );
}
