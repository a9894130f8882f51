import type { ReactNode } from 'react';
import type { Me } from '../api';
import { allowed } from './nav';
import { AgenciesPage } from './AgenciesPage';
import { AuditPage } from './AuditPage';
import { AuthoringPage } from './AuthoringPage';
import { CatalogSearchPage } from './CatalogSearchPage';
import { DashboardPage } from './DashboardPage';
import { EntryEditorPage } from './EntryEditorPage';
import { EntryPage } from './EntryPage';
import { GrantPage, GrantsPage } from './GrantsPage';
import { ImportPage } from './ImportPage';
import { InboxPage } from './InboxPage';
import { RequestFormPage } from './RequestFormPage';
import { RequestListPage } from './RequestListPage';
import { RequestPage } from './RequestPage';
import { ReviewEntryPage, ReviewPage } from './ReviewPage';
import { UsersPage } from './UsersPage';

/** What a page is given when it is shown. */
export interface PageContext {
  readonly me: Me;
  /** The path's captured parts, decoded. */
  readonly params: readonly string[];
  /** The path's query. */
  readonly query: URLSearchParams;
  /** Tells the shell that the unread count may have changed. */
  readonly onInboxChange: () => void;
}

/** A page: the paths it answers and the permissions (any of them) that open it. */
export interface Route {
  readonly pattern: RegExp;
  readonly permissions: readonly string[];
  readonly render: (ctx: PageContext) => ReactNode;
}

/** The pages, most specific first: the first whose pattern matches the path and whose permission the account holds is shown. */
export const ROUTES: readonly Route[] = [
  { pattern: /^\/catalog\/entries\/([^/]+)$/, permissions: ['catalog:read'], render: ({ params, me }) => <EntryPage id={params[0]!} me={me} /> },
  { pattern: /^\/catalog(\/.*)?$/, permissions: ['catalog:read'], render: () => <CatalogSearchPage /> },
  { pattern: /^\/dashboard$/, permissions: ['catalog:read'], render: ({ me }) => <DashboardPage me={me} /> },
  { pattern: /^\/authoring\/new$/, permissions: ['catalog:edit'], render: () => <EntryEditorPage id={null} /> },
  { pattern: /^\/authoring\/import$/, permissions: ['catalog:edit'], render: () => <ImportPage /> },
  { pattern: /^\/authoring\/entries\/([^/]+)\/edit$/, permissions: ['catalog:edit'], render: ({ params }) => <EntryEditorPage id={params[0]!} /> },
  { pattern: /^\/authoring$/, permissions: ['catalog:edit'], render: ({ me }) => <AuthoringPage me={me} /> },
  { pattern: /^\/review\/entries\/([^/]+)$/, permissions: ['catalog:review'], render: ({ params }) => <ReviewEntryPage id={params[0]!} /> },
  { pattern: /^\/review$/, permissions: ['catalog:review'], render: () => <ReviewPage /> },
  { pattern: /^\/requests\/new$/, permissions: ['request:file'], render: ({ me, query }) => <RequestFormPage me={me} entryId={query.get('entry') ?? ''} /> },
  { pattern: /^\/requests\/([^/]+)$/, permissions: ['request:read'], render: ({ params, me }) => <RequestPage id={params[0]!} me={me} /> },
  { pattern: /^\/requests$/, permissions: ['request:file'], render: () => <RequestListPage kind="mine" /> },
  { pattern: /^\/reviews$/, permissions: ['request:review'], render: () => <RequestListPage kind="reviews" /> },
  { pattern: /^\/arbitration$/, permissions: ['request:arbitrate'], render: () => <RequestListPage kind="arbitration" /> },
  { pattern: /^\/grants\/([^/]+)$/, permissions: ['grant:read'], render: ({ params, me }) => <GrantPage id={params[0]!} me={me} /> },
  { pattern: /^\/grants$/, permissions: ['grant:read'], render: ({ me }) => <GrantsPage me={me} /> },
  { pattern: /^\/admin\/users$/, permissions: ['user:read'], render: ({ me }) => <UsersPage me={me} /> },
  { pattern: /^\/admin\/agencies$/, permissions: ['agency:manage', 'system:register'], render: ({ me }) => <AgenciesPage me={me} /> },
  { pattern: /^\/audit$/, permissions: ['audit:read'], render: () => <AuditPage /> },
  { pattern: /^\/inbox$/, permissions: ['notification:read'], render: ({ onInboxChange }) => <InboxPage onChange={onInboxChange} /> },
];

/** The page for a path, or null when none matches or the account may not open it. */
export function resolve(path: string, me: Me): { readonly route: Route; readonly params: readonly string[] } | null {
  for (const route of ROUTES) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    if (!allowed(me, route.permissions)) continue;
    return { route, params: m.slice(1).filter((x): x is string => x !== undefined).map((x) => decodeURIComponent(x)) };
  }
  return null;
}
