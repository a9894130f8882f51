/**
 * Roles and permissions. A route declares the one permission it needs (see server/access.ts);
 * a role grants a fixed set of permissions. Row-level rules (an agency role acts on its own
 * agency only) live in the services.
 */
export const ROLES = [
  'operator',
  'securityAdmin',
  'auditor',
  'supervisor',
  'cataloger',
  'requester',
  'reviewer',
  'serviceAuthoriser',
  'viewer',
  'nodeAdmin',
] as const;
export type Role = (typeof ROLES)[number];

/** 三权分立: at most one of these on one account. */
export const ADMIN_ROLES = ['operator', 'securityAdmin', 'auditor'] as const satisfies readonly Role[];

/** Roles that act for one agency; the account must belong to an agency. */
export const AGENCY_ROLES = ['cataloger', 'requester', 'reviewer', 'serviceAuthoriser', 'viewer', 'nodeAdmin'] as const satisfies readonly Role[];

export const PERMISSIONS = [
  'region:read',
  'agency:read',
  'agency:manage',
  'system:read',
  'system:register',
  'system:manage',
  'node:read',
  'node:register',
  'node:manage',
  'user:read',
  'user:manage',
  'user:roles',
  'token:manage',
  'audit:read',
  'audit:read-agency',
  'certificate:read',
  'certificate:apply',
  'certificate:manage',
  'calendar:read',
  'calendar:manage',
  'catalog:read',
  'catalog:edit',
  'catalog:review',
  'catalog:configure',
  'demand:read',
  'demand:post',
  'request:read',
  'request:file',
  'request:review',
  'request:arbitrate',
  'grant:read',
  'grant:manage',
  'attachment:read',
  'attachment:upload',
  'notification:read',
  'webhook:manage',
  'notification:deliveries',
  'subscription:manage',
  'data:read',
  'data:load',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

// Reading the working-day calendar (deadlines, which days are worked) goes with reading the directory.
const DIRECTORY: readonly Permission[] = ['region:read', 'agency:read', 'system:read', 'node:read', 'calendar:read'];
/** Every signed-in account reads the published catalog, except the auditor (三权分立: the audit trail only). */
const AGENCY_USER: readonly Permission[] = [...DIRECTORY, 'audit:read-agency', 'catalog:read', 'demand:read', 'request:read', 'grant:read', 'attachment:read', 'notification:read'];
/** Agency users who file share requests or answer them upload their attachments (the security agreement). */
const ATTACHING: readonly Permission[] = ['attachment:upload'];

export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  // The operator reads grants (why is a system refused?) but not the requests' purposes, and runs
  // the notification deliveries: every agency's webhooks, the platform-level ones, the deliveries
  // view and manual retries; and re-drives dead-lettered push subscriptions.
  operator: [...DIRECTORY, 'catalog:read', 'catalog:configure', 'grant:read', 'agency:manage', 'system:register', 'system:manage', 'node:register', 'node:manage', 'user:read', 'user:manage', 'certificate:read', 'certificate:apply', 'certificate:manage', 'calendar:manage', 'notification:read', 'webhook:manage', 'notification:deliveries', 'subscription:manage'],
  securityAdmin: ['region:read', 'agency:read', 'calendar:read', 'catalog:read', 'user:read', 'user:roles', 'token:manage', 'notification:read'],
  // The auditor reads the audit trail and nothing else (not even an inbox).
  auditor: ['audit:read'],
  // The supervisor reviews catalog entries of every agency (000 §13, 003 三(二)) and edits none.
  // They also route the demand catalog's needs to the agency that holds the data (catalog:review).
  // They check requests for conformance, arbitrate disputes (000 §21) and may suspend or revoke any
  // grant; they read every agency's attachments (a request's security agreement) when arbitrating.
  supervisor: [...DIRECTORY, 'catalog:read', 'catalog:review', 'demand:read', 'request:read', 'request:arbitrate', 'grant:read', 'grant:manage', 'attachment:read', 'notification:read'],
  // Agency users read the audit events of their own agency (000 §29); catalogers edit their own
  // agency's entries (the service checks the agency).
  // Catalogers answer demands routed to their agency (catalog:edit); catalogers and requesters post them.
  cataloger: [...AGENCY_USER, ...ATTACHING, 'catalog:edit', 'demand:post', 'data:read'],
  // Requesters file share requests for their agency; reviewers decide those made of its resources
  // and, with the service authorisers (服务授权, 000 §29), suspend or revoke the grants it gave.
  requester: [...AGENCY_USER, ...ATTACHING, 'demand:post', 'request:file'],
  reviewer: [...AGENCY_USER, ...ATTACHING, 'request:review', 'grant:manage'],
  serviceAuthoriser: [...AGENCY_USER, 'grant:manage'],
  viewer: AGENCY_USER,
  // The node admin also registers the agency's webhooks (its own agency's only: the service checks),
  // and loads the agency's data into the shared tables of its table resources (data:load), as the
  // node does; catalogers read those tables' state (their own agency's: the service checks).
  nodeAdmin: [...AGENCY_USER, 'system:register', 'node:register', 'certificate:read', 'certificate:apply', 'webhook:manage', 'data:read', 'data:load'],
};

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}

export function permissionsOf(roles: readonly string[]): Set<Permission> {
  const out = new Set<Permission>();
  for (const r of roles) if (isRole(r)) for (const p of ROLE_PERMISSIONS[r]) out.add(p);
  return out;
}

/** Problems with a set of roles for an account, or [] when acceptable. */
export function roleProblems(roles: readonly Role[], hasAgency: boolean): { conflict?: Role[]; needsAgency?: Role } {
  const admin = roles.filter((r) => (ADMIN_ROLES as readonly Role[]).includes(r));
  if (admin.length > 1) return { conflict: admin };
  const agencyRole = roles.find((r) => (AGENCY_ROLES as readonly Role[]).includes(r));
  if (agencyRole && !hasAgency) return { needsAgency: agencyRole };
  return {};
}
