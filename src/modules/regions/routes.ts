import { Type } from 'typebox';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, literals, nextCursor, page } from '../../server/schema-kit.js';
import { REGION_LEVELS } from './region-data.js';

const tags = ['regions'];

const Region = Type.Object({
  code: Type.String(),
  name: Type.String(),
  level: literals(REGION_LEVELS),
  parentCode: Type.Union([Type.String(), Type.Null()]),
  active: Type.Boolean(),
  source: Type.String({ description: 'The edition the division comes from' }),
});

export async function regionRoutes(app: GsApp, { regions }: Platform): Promise<void> {
  app.get(
    '/regions',
    {
      config: { access: needs('region:read') },
      schema: {
        tags,
        summary: 'GB/T 2260 administrative divisions',
        querystring: Type.Object(
          {
            parentCode: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
            level: Type.Optional(literals(REGION_LEVELS)),
            q: Type.Optional(Type.String({ maxLength: 50, description: 'Part of the name, or the start of the code' })),
            includeInactive: Type.Optional(Type.Boolean()),
            after: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
            limit: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: page(Region), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 500;
      const items = await regions.list({ ...req.query, limit });
      return { items, next: nextCursor(items, limit, (r) => r.code) };
    },
  );

  app.get(
    '/regions/:code',
    {
      config: { access: needs('region:read') },
      schema: {
        tags,
        summary: 'One division',
        params: Type.Object({ code: Type.String({ maxLength: 12 }) }, { additionalProperties: false }),
        response: { 200: Region, ...ERROR_RESPONSES },
      },
    },
    async (req) => regions.get(req.params.code),
  );
}
