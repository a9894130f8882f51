import { Type } from 'typebox';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { DateTime, ERROR_RESPONSES, literals, nextCursor, page } from '../../server/schema-kit.js';
import { ACTOR_TYPES } from '../../server/actor.js';
import { AUDIT_OUTCOMES } from './service.js';

const AuditEvent = Type.Object({
  id: Type.Integer(),
  at: DateTime,
  actorType: literals(ACTOR_TYPES),
  actorId: Type.Union([Type.String(), Type.Null()]),
  actorName: Type.String(),
  action: Type.String(),
  targetType: Type.Union([Type.String(), Type.Null()]),
  targetId: Type.Union([Type.String(), Type.Null()]),
  outcome: literals(AUDIT_OUTCOMES),
  requestId: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
});

export async function auditRoutes(app: GsApp, { audit }: Platform): Promise<void> {
  app.get(
    '/audit/events',
    {
      config: { access: needs('audit:read') },
      schema: {
        tags: ['audit'],
        summary: 'Search the audit trail, newest first',
        querystring: Type.Object(
          {
            from: Type.Optional(DateTime),
            to: Type.Optional(DateTime),
            action: Type.Optional(Type.String({ maxLength: 100 })),
            actorId: Type.Optional(Type.String({ format: 'uuid' })),
            targetType: Type.Optional(Type.String({ maxLength: 100 })),
            targetId: Type.Optional(Type.String({ maxLength: 200 })),
            outcome: Type.Optional(literals(AUDIT_OUTCOMES)),
            requestId: Type.Optional(Type.String({ maxLength: 128 })),
            before: Type.Optional(Type.Integer({ minimum: 1, description: 'Event id to continue before' })),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: page(AuditEvent), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const { from, to, limit = 100, ...rest } = req.query;
      const rows = await audit.search({ ...rest, limit, from: from ? new Date(from) : undefined, to: to ? new Date(to) : undefined });
      const items = rows.map((r) => ({ ...r, at: r.at.toISOString(), actorType: r.actorType as (typeof ACTOR_TYPES)[number], outcome: r.outcome as (typeof AUDIT_OUTCOMES)[number] }));
      return { items, next: nextCursor(items, limit, (e) => e.id) };
    },
  );
}
