import { GsError } from '../lib/errors.js';
import { isUuid } from '../lib/secrets.js';
import { isRole, PERMISSIONS, type Role } from '../modules/accounts/permissions.js';
import type { AgencyCreate } from '../modules/agencies/schemas.js';
import { cliContext, type RequestContext } from './actor.js';
import type { Platform } from './platform.js';

/**
 * The operations the admin CLI offers. Each runs against a Platform with the local
 * administrator's context, either in the CLI process (PostgreSQL server, or an embedded data
 * directory no server holds) or inside the running server through its admin socket. Inputs are
 * plain JSON so they cross the socket unchanged.
 */
export interface AgencyListInput {
  readonly q?: string;
  readonly regionCode?: string;
  readonly includeInactive?: boolean;
  readonly limit?: number;
}

export interface UserAddInput {
  readonly username: string;
  readonly displayName: string;
  readonly agency?: string;
  readonly roles?: readonly string[];
  readonly email?: string;
  readonly phone?: string;
}

async function agencyIdOf(platform: Platform, idOrCode: string): Promise<string> {
  return isUuid(idOrCode) ? (await platform.agencies.get(idOrCode)).id : (await platform.agencies.getByCode(idOrCode)).id;
}

function parseRoles(roles: readonly string[]): Role[] {
  return roles.map((r) => {
    if (!isRole(r)) throw new GsError('GS_ERR_REQUEST_INVALID', { summary: `unknown role ${r}` }, [{ field: 'roles', rule: 'enum', message: `unknown role ${r}` }]);
    return r;
  });
}

export const ADMIN_OPERATIONS = {
  async init(p: Platform, _ctx: RequestContext, _input: Record<string, never>) {
    return p.bootstrap();
  },
  /** The schema was brought up to date when the platform was opened; this reports its version. */
  async migrate(p: Platform, _ctx: RequestContext, _input: Record<string, never>) {
    return (await p.readiness()).schema;
  },
  async agencyAdd(p: Platform, ctx: RequestContext, input: AgencyCreate & { parent?: string }) {
    const { parent, ...rest } = input;
    const parentId = parent ? await agencyIdOf(p, parent) : rest.parentId;
    return p.agencies.create(ctx, { ...rest, ...(parentId ? { parentId } : {}) });
  },
  async agencyList(p: Platform, _ctx: RequestContext, input: AgencyListInput) {
    return p.agencies.list({ q: input.q, regionCode: input.regionCode, active: input.includeInactive ? undefined : true, limit: input.limit ?? 500 });
  },
  async agencyShow(p: Platform, _ctx: RequestContext, input: { idOrCode: string }) {
    return isUuid(input.idOrCode) ? p.agencies.get(input.idOrCode) : p.agencies.getByCode(input.idOrCode);
  },
  async userAdd(p: Platform, ctx: RequestContext, input: UserAddInput) {
    const agencyId = input.agency ? await agencyIdOf(p, input.agency) : null;
    return p.accounts.create(ctx, { username: input.username, displayName: input.displayName, agencyId, roles: parseRoles(input.roles ?? []), email: input.email, phone: input.phone });
  },
  async userList(p: Platform, _ctx: RequestContext, input: { agency?: string; role?: string; limit?: number }) {
    const agencyId = input.agency ? await agencyIdOf(p, input.agency) : undefined;
    return p.accounts.list({ agencyId, role: input.role, limit: input.limit ?? 500 });
  },
  async userResetPassword(p: Platform, ctx: RequestContext, input: { username: string }) {
    const user = await p.accounts.getByName(input.username);
    return p.accounts.resetPassword(ctx, user.id);
  },
  async userRoles(p: Platform, ctx: RequestContext, input: { username: string; roles?: readonly string[] }) {
    const user = await p.accounts.getByName(input.username);
    return input.roles ? p.accounts.setRoles(ctx, user.id, parseRoles(input.roles)) : user;
  },
  async tokenCreate(p: Platform, ctx: RequestContext, input: { username: string; name: string; expiresAt: string; scopes?: readonly string[] }) {
    const user = await p.accounts.getByName(input.username);
    return p.accounts.createToken(ctx, { userId: user.id, name: input.name, expiresAt: new Date(input.expiresAt), scopes: input.scopes });
  },
  async tokenRevoke(p: Platform, ctx: RequestContext, input: { id: string; reason: string }) {
    return p.accounts.revokeToken(ctx, input.id, input.reason);
  },
} as const;

export type AdminOperationName = keyof typeof ADMIN_OPERATIONS;
export type AdminOperationInput<N extends AdminOperationName> = Parameters<(typeof ADMIN_OPERATIONS)[N]>[2];
export type AdminOperationResult<N extends AdminOperationName> = Awaited<ReturnType<(typeof ADMIN_OPERATIONS)[N]>>;

export function isAdminOperation(name: string): name is AdminOperationName {
  return Object.hasOwn(ADMIN_OPERATIONS, name);
}

/** Runs a named operation as the local administrator `osUser`. */
export async function runAdminOperation(platform: Platform, name: string, input: unknown, osUser: string): Promise<unknown> {
  if (!isAdminOperation(name)) throw new GsError('GS_ERR_REQUEST_INVALID', { summary: `unknown admin operation ${name}` });
  const ctx = cliContext(osUser, new Set(PERMISSIONS));
  const op = ADMIN_OPERATIONS[name] as (p: Platform, c: RequestContext, i: unknown) => Promise<unknown>;
  return op(platform, ctx, input);
}
