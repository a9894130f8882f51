import type { Permission, Role } from '../modules/accounts/permissions.js';

export const ACTOR_TYPES = ['user', 'token', 'cli', 'system', 'anonymous'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

/** Who is acting: a logged-in user, a script with an API token, the local CLI, or the platform. */
export interface Actor {
  readonly type: ActorType;
  readonly userId: string | null;
  readonly name: string;
  readonly roles: readonly Role[];
  readonly agencyId: string | null;
  readonly permissions: ReadonlySet<Permission>;
  /** Set for session actors: the session to end at logout. */
  readonly sessionId?: string;
  readonly tokenId?: string;
}

/** Who did it and from where; passed to every service call that changes state (for the audit). */
export interface RequestContext {
  readonly actor: Actor;
  readonly requestId: string | null;
  readonly ip: string | null;
}

export const ANONYMOUS: Actor = { type: 'anonymous', userId: null, name: 'anonymous', roles: [], agencyId: null, permissions: new Set() };

/** The platform acting on its own (start-up bootstrap, background work). */
export const SYSTEM_ACTOR: Actor = {
  type: 'system',
  userId: null,
  name: 'govshare',
  roles: [],
  agencyId: null,
  permissions: new Set<Permission>(),
};

export function systemContext(requestId: string | null = null): RequestContext {
  return { actor: SYSTEM_ACTOR, requestId, ip: null };
}

/** The local administrator at the machine (CLI); holds every permission, as root holds the files. */
export function cliContext(osUser: string, permissions: ReadonlySet<Permission>): RequestContext {
  return {
    actor: { type: 'cli', userId: null, name: `cli:${osUser}`, roles: [], agencyId: null, permissions },
    requestId: null,
    ip: null,
  };
}

export function hasPermission(actor: Actor, permission: Permission): boolean {
  return actor.permissions.has(permission);
}

/**
 * A certificate holder on the exchange port (a business system or a node) as the audit records
 * it: actor id = the system's or node's id, its agency, its name prefixed by its kind.
 */
export function exchangeContext(identity: { readonly subjectType: string; readonly subjectId: string; readonly name: string; readonly agencyId: string | null }, requestId: string | null, ip: string | null): RequestContext {
  return {
    actor: { type: 'system', userId: identity.subjectId, name: `${identity.subjectType}:${identity.name}`, roles: [], agencyId: identity.agencyId, permissions: new Set<Permission>() },
    requestId,
    ip,
  };
}
