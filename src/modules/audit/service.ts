import type { Db } from '../../db/database.js';
import type { RequestContext } from '../../server/actor.js';
import type { AuditQuery, AuditRow } from './store.js';
import { AuditStore } from './store.js';

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditEntry {
  /** `<area>.<verb>`, e.g. `agency.create`, `auth.login`. */
  readonly action: string;
  readonly targetType?: string;
  readonly targetId?: string | null;
  readonly outcome?: AuditOutcome;
  readonly details?: Record<string, unknown>;
}

/**
 * The audit trail. Every state-changing action calls `record`, inside the same transaction as the
 * change when it has one, so a change is never kept without its record. Here the trail is an
 * append-only table (triggers refuse UPDATE/DELETE); the hash chain and signed checkpoints of the
 * PKI issue go behind this same interface.
 */
export class AuditService {
  readonly #store: AuditStore;

  constructor(db: Db) {
    this.#store = new AuditStore(db);
  }

  record(ctx: RequestContext, entry: AuditEntry, executor?: Db): Promise<number> {
    return this.#store.append(
      {
        actorType: ctx.actor.type,
        actorId: ctx.actor.userId,
        actorName: ctx.actor.name,
        action: entry.action,
        targetType: entry.targetType ?? null,
        targetId: entry.targetId ?? null,
        outcome: entry.outcome ?? 'success',
        requestId: ctx.requestId,
        ip: ctx.ip,
        details: entry.details ?? {},
      },
      executor,
    );
  }

  search(q: AuditQuery): Promise<AuditRow[]> {
    return this.#store.search(q);
  }
}
