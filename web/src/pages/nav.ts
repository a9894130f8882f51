import type { Me } from '../api';

/** An entry of the side navigation, shown to accounts holding any of its permissions. */
export interface NavItem {
  readonly key: string;
  readonly path: string;
  /** Translation key of its label. */
  readonly label: string;
  readonly permissions: readonly string[];
}

/**
 * The side navigation, in order. The first path segment of every path here must be in the
 * server's CONSOLE_PAGES (src/server/console-static.ts) so a reload or a copied link works; a test
 * checks it.
 */
export const NAV: readonly NavItem[] = [
  { key: 'dashboard', path: '/dashboard', label: 'nav.dashboard', permissions: ['catalog:read'] },
  { key: 'catalog', path: '/catalog', label: 'nav.catalog', permissions: ['catalog:read'] },
  { key: 'authoring', path: '/authoring', label: 'nav.authoring', permissions: ['catalog:edit'] },
  { key: 'review', path: '/review', label: 'nav.review', permissions: ['catalog:review'] },
  { key: 'requests', path: '/requests', label: 'nav.requests', permissions: ['request:file'] },
  { key: 'reviews', path: '/reviews', label: 'nav.reviews', permissions: ['request:review'] },
  { key: 'arbitration', path: '/arbitration', label: 'nav.arbitration', permissions: ['request:arbitrate'] },
  { key: 'grants', path: '/grants', label: 'nav.grants', permissions: ['grant:read'] },
  { key: 'agencies', path: '/admin/agencies', label: 'nav.agencies', permissions: ['agency:manage', 'system:register'] },
  { key: 'users', path: '/admin/users', label: 'nav.users', permissions: ['user:read'] },
  { key: 'audit', path: '/audit', label: 'nav.audit', permissions: ['audit:read'] },
  { key: 'inbox', path: '/inbox', label: 'nav.inbox', permissions: ['notification:read'] },
];

export function allowed(me: Me, permissions: readonly string[]): boolean {
  return permissions.some((p) => me.permissions.includes(p));
}
