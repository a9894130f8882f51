import { Type, type Static } from 'typebox';
import { GsError } from '../../lib/errors.js';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { DateTime, ERROR_RESPONSES, literals, nextCursor, page } from '../../server/schema-kit.js';
import { ACTOR_TYPES } from '../../server/actor.js';
import { AUDIT_OUTCOMES, type AuditFilters } from './service.js';
import type { AuditRow } from './store.js';

/** The largest CSV export over HTTP; larger ones are refused (narrow the range) or made with the CLI. */
export const HTTP_EXPORT_MAX = 100_000;

const AuditEvent = Type.Object({
  id: Type.Integer(),
  seq: Type.Integer({ description: 'Position in the hash chain (1, 2, 3, … without gaps)' }),
  at: DateTime,
  actorType: literals(ACTOR_TYPES),
  actorId: Type.Union([Type.String(), Type.Null()]),
  actorName: Type.String(),
  actorAgencyId: Type.Union([Type.String(), Type.Null()], { description: 'The agency the actor belongs to' }),
  action: Type.String(),
  targetType: Type.Union([Type.String(), Type.Null()]),
  targetId: Type.Union([Type.String(), Type.Null()]),
  outcome: literals(AUDIT_OUTCOMES),
  requestId: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
  hash: Type.Union([Type.String(), Type.Null()], { description: 'The event hash (hex)' }),
});

const filterFields = {
  from: Type.Optional(DateTime),
  to: Type.Optional(DateTime),
  action: Type.Optional(Type.String({ maxLength: 100 })),
  actorId: Type.Optional(Type.String({ format: 'uuid' })),
  actorName: Type.Optional(Type.String({ maxLength: 200 })),
  targetType: Type.Optional(Type.String({ maxLength: 100 })),
  targetId: Type.Optional(Type.String({ maxLength: 200 })),
  outcome: Type.Optional(literals(AUDIT_OUTCOMES)),
  requestId: Type.Optional(Type.String({ maxLength: 128 })),
};
const agencyFilter = { agencyId: Type.Optional(Type.String({ format: 'uuid', description: "The actor's agency" })) };
const paging = {
  before: Type.Optional(Type.Integer({ minimum: 1, description: 'Event id to continue before' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
};

const SearchQuery = Type.Object({ ...filterFields, ...agencyFilter, ...paging }, { additionalProperties: false });
const AgencySearchQuery = Type.Object({ ...filterFields, ...paging }, { additionalProperties: false });
const ExportQuery = Type.Object({ ...filterFields, ...agencyFilter }, { additionalProperties: false });

function filtersOf(q: Static<typeof ExportQuery>): AuditFilters {
  const { from, to, ...rest } = q;
  return { ...rest, from: from ? new Date(from) : undefined, to: to ? new Date(to) : undefined };
}

function view(r: AuditRow) {
  return { ...r, at: r.at.toISOString(), actorType: r.actorType as (typeof ACTOR_TYPES)[number], outcome: r.outcome as (typeof AUDIT_OUTCOMES)[number] };
}

export async function auditRoutes(app: GsApp, { audit }: Platform): Promise<void> {
  app.get(
    '/audit/events',
    {
      config: { access: needs('audit:read') },
      schema: {
        tags: ['audit'],
        summary: 'Search the audit trail, newest first',
        description: "Filters: time range (`from` inclusive, `to` exclusive), action, actor (`actorId`, `actorName`), the actor's agency (`agencyId`), target, outcome, request id.",
        querystring: SearchQuery,
        response: { 200: page(AuditEvent), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const { before, limit = 100, ...filters } = req.query;
      const items = (await audit.search({ ...filtersOf(filters), before, limit })).map(view);
      return { items, next: nextCursor(items, limit, (e) => e.id) };
    },
  );

  app.get(
    '/audit/events/export',
    {
      config: { access: needs('audit:read') },
      schema: {
        tags: ['audit'],
        summary: 'Export the audit trail as CSV, in chain order',
        description: `The same filters as the search. At most ${HTTP_EXPORT_MAX} events: more is refused with GS_ERR_AUDIT_EXPORT_TOO_LARGE (narrow the time range, or use \`govshare audit export\`). UTF-8 with a byte-order mark; the export is itself audited (\`audit.export\`).`,
        querystring: ExportQuery,
        produces: ['text/csv'],
        response: { 200: Type.String({ description: 'CSV: seq, at, actorType, actorId, actorName, actorAgencyId, action, targetType, targetId, outcome, requestId, ip, details, hash' }), ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      const { csv } = await audit.exportCsv(req.ctx, filtersOf(req.query), HTTP_EXPORT_MAX);
      return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="audit-events.csv"').send(csv);
    },
  );

  app.get(
    '/audit/agency-events',
    {
      config: { access: needs('audit:read-agency') },
      schema: {
        tags: ['audit'],
        summary: "Search the audit events of your own agency's accounts, newest first",
        description: 'The events whose actor belongs to the caller’s agency (000 §29); the same filters as the auditor’s search.',
        querystring: AgencySearchQuery,
        response: { 200: page(AuditEvent), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const agencyId = req.ctx.actor.agencyId;
      if (!agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
      const { before, limit = 100, ...filters } = req.query;
      const items = (await audit.search({ ...filtersOf(filters), agencyId, before, limit })).map(view);
      return { items, next: nextCursor(items, limit, (e) => e.id) };
    },
  );
}
