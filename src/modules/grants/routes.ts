import { Type } from 'typebox';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, IdParams, Limit, literals, nextCursor, page } from '../../server/schema-kit.js';
import { LangQuery } from '../catalog/schemas.js';
import { ShareRequest } from '../requests/schemas.js';
import { Grant, GrantEvent, GrantRenewal, GrantStatusChange } from './schemas.js';
import { GRANT_METHODS, GRANT_STATUSES } from './vocabulary.js';

const tags = ['grants'];
const LangOnly = Type.Object({ lang: LangQuery }, { additionalProperties: false });

export async function grantRoutes(app: GsApp, { grants, requests }: Platform): Promise<void> {
  app.get(
    '/grants',
    {
      config: { access: needs('grant:read') },
      schema: {
        tags,
        summary: 'List grants: agency users see those their agency holds or gave; platform staff see all',
        querystring: Type.Object(
          {
            side: Type.Optional(literals(['consumer', 'provider'] as const)),
            agencyId: Type.Optional(Type.String({ format: 'uuid' })),
            systemId: Type.Optional(Type.String({ format: 'uuid' })),
            resourceCode: Type.Optional(Type.String({ maxLength: 40 })),
            method: Type.Optional(literals(GRANT_METHODS)),
            status: Type.Optional(Type.Array(literals(GRANT_STATUSES), { maxItems: GRANT_STATUSES.length })),
            endingBy: Type.Optional(Type.String({ format: 'date', description: 'In force and ending on or before this day' })),
            after: Type.Optional(Type.String({ format: 'uuid' })),
            lang: LangQuery,
            limit: Limit,
          },
          { additionalProperties: false },
        ),
        response: { 200: page(Grant), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const { lang, status, side, ...q } = req.query;
      const limit = q.limit ?? 50;
      const agencyId = q.agencyId ?? (side ? (req.ctx.actor.agencyId ?? undefined) : undefined);
      const items = await grants.list(req.ctx.actor, { ...q, agencyId, side, statuses: status, limit }, lang);
      return { items, next: nextCursor(items, limit, (g) => g.id) };
    },
  );

  app.get(
    '/grants/:id',
    { config: { access: needs('grant:read') }, schema: { tags, summary: 'One grant and its terms', params: IdParams, querystring: LangOnly, response: { 200: Grant, ...ERROR_RESPONSES } } },
    async (req) => grants.get(req.ctx.actor, req.params.id, req.query.lang),
  );

  app.get(
    '/grants/:id/events',
    {
      config: { access: needs('grant:read') },
      schema: { tags, summary: 'What happened to a grant: issued, suspended, reinstated, revoked, expired', params: IdParams, response: { 200: Type.Object({ items: Type.Array(GrantEvent) }), ...ERROR_RESPONSES } },
    },
    async (req) => {
      const g = await grants.get(req.ctx.actor, req.params.id);
      return { items: await grants.events([g.id]) };
    },
  );

  for (const [path, summary, run] of [
    ['suspend', 'Suspend a grant, with a reason (provider or supervisor); the exchange refuses it within a second', (c, id, b, l) => grants.suspend(c, id, b, l)],
    ['reinstate', 'Put a suspended grant back in force, with a reason', (c, id, b, l) => grants.reinstate(c, id, b, l)],
    ['revoke', 'Revoke a grant for good, with a reason (provider or supervisor)', (c, id, b, l) => grants.revoke(c, id, b, l)],
  ] as const satisfies readonly (readonly [string, string, (ctx: Parameters<typeof grants.suspend>[0], id: string, body: { reason: string; expectedVersion?: number | undefined }, lang: string | undefined) => Promise<Grant>])[]) {
    app.post(
      `/grants/:id/${path}`,
      { config: { access: needs('grant:manage') }, schema: { tags, summary, params: IdParams, querystring: LangOnly, body: GrantStatusChange, response: { 200: Grant, ...ERROR_RESPONSES } } },
      async (req) => run(req.ctx, req.params.id, req.body, req.query.lang),
    );
  }

  app.post(
    '/grants/:id/renew',
    {
      config: { access: needs('request:file') },
      schema: {
        tags,
        summary: 'Consumer: ask to renew a grant before it ends (a new share request with its terms and a later end date)',
        params: IdParams,
        querystring: LangOnly,
        body: GrantRenewal,
        response: { 201: ShareRequest, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => reply.status(201).send(await requests.renew(req.ctx, req.params.id, req.body, req.query.lang)),
  );
}
