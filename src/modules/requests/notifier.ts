import type { Db } from '../../db/database.js';
import type { Role } from '../accounts/permissions.js';

export type Audience =
  | { readonly agencyId: string; readonly roles: readonly Role[] }
  | { readonly role: Role }
  | { readonly accountIds: readonly string[] };

export interface Notice {
  readonly kind: string;
  readonly audience: readonly Audience[];
  readonly subjectZh: string;
  readonly subject: string;
  readonly bodyZh: string;
  readonly body: string;
  readonly target: { readonly type: string; readonly id: string };
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface Notifier {
  notify(notice: Notice, trx: Db): Promise<unknown>;
}
