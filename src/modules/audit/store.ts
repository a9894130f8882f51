import type { Db } from '../../db/database.js';

export interface AuditRow {
  readonly id: number;
  readonly at: Date;
  readonly actorType: string;
  readonly actorId: string | null;
  readonly actorName: string;
  readonly action: string;
  readonly targetType: string | null;
  readonly targetId: string | null;
  readonly outcome: string;
  readonly requestId: string | null;
  readonly ip: string | null;
  readonly details: Record<string, unknown>;
}

export interface AuditQuery {
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  readonly action?: string | undefined;
  readonly actorId?: string | undefined;
  readonly targetType?: string | undefined;
  readonly targetId?: string | undefined;
  readonly outcome?: string | undefined;
  readonly requestId?: string | undefined;
  /** Keyset paging, newest first: events with an id below this. */
  readonly before?: number | undefined;
  readonly limit: number;
}

export class AuditStore {
  constructor(private readonly db: Db) {}

  async append(row: Omit<AuditRow, 'id' | 'at'>, executor: Db = this.db): Promise<number> {
    const inserted = await executor
      .insertInto('auditEvents')
      .values({ ...row, details: JSON.stringify(row.details) })
      .returning('id')
      .executeTakeFirstOrThrow();
    return inserted.id;
  }

  async search(q: AuditQuery): Promise<AuditRow[]> {
    let query = this.db.selectFrom('auditEvents').selectAll();
    if (q.from) query = query.where('at', '>=', q.from);
    if (q.to) query = query.where('at', '<', q.to);
    if (q.action) query = query.where('action', '=', q.action);
    if (q.actorId) query = query.where('actorId', '=', q.actorId);
    if (q.targetType) query = query.where('targetType', '=', q.targetType);
    if (q.targetId) query = query.where('targetId', '=', q.targetId);
    if (q.outcome) query = query.where('outcome', '=', q.outcome);
    if (q.requestId) query = query.where('requestId', '=', q.requestId);
    if (q.before !== undefined) query = query.where('id', '<', q.before);
    return query.orderBy('id', 'desc').limit(q.limit).execute();
  }
}
