import type { SetupStep } from '../modules/accounts/schemas.js';
import type { Permission } from '../modules/accounts/permissions.js';
import type { RequestContext } from './actor.js';

/**
 * What a route requires, declared on every route (`config.access`). A route without a declaration
 * is refused at registration, and the role-matrix test checks every declaration against every role.
 *
 * - public: anyone (health checks, login, the API description);
 * - self: any logged-in account acting on itself; `duringSetup` routes stay open while the account
 *   still has to change its password or enrol TOTP;
 * - permission: an account whose roles grant the permission (for API tokens: and whose scopes do).
 */
export type Access =
  | { readonly kind: 'public' }
  | { readonly kind: 'self'; readonly duringSetup: boolean }
  | { readonly kind: 'permission'; readonly permission: Permission };

export const PUBLIC: Access = { kind: 'public' };

export function self(options: { duringSetup?: boolean } = {}): Access {
  return { kind: 'self', duringSetup: options.duringSetup ?? false };
}

export function needs(permission: Permission): Access {
  return { kind: 'permission', permission };
}

export function describeAccess(access: Access): string {
  switch (access.kind) {
    case 'public':
      return 'Access: public.';
    case 'self':
      return `Access: any logged-in account${access.duringSetup ? ' (also before its first-login setup is finished)' : ''}.`;
    case 'permission':
      return `Access: permission \`${access.permission}\`.`;
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    ctx: RequestContext;
    setupRequired: readonly SetupStep[];
  }
}
