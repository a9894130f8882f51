import { sql, type Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { ContactRow, NodesTable } from '../../db/schema.js';

export type NodeRow = Selectable<NodesTable>;

export interface NodeQuery {
  readonly agencyId?: string | undefined;
  readonly status?: string | undefined;
  readonly after?: string | undefined;
  readonly limit: number;
}

export interface NodeFields {
  readonly name: string;
  readonly description: string;
  readonly contact: ContactRow;
}

export class NodeStore {
  constructor(private readonly db: Db) {}

  byId(id: string, executor: Db = this.db): Promise<NodeRow | undefined> {
    return executor.selectFrom('nodes').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The node whose code equals `code` ignoring case (the unique index is on `lower(code)`). */
  byCode(code: string, executor: Db = this.db): Promise<NodeRow | undefined> {
    return executor
      .selectFrom('nodes')
      .selectAll()
      .where(sql<string>`lower(code)`, '=', code.toLowerCase())
      .executeTakeFirst();
  }

  list(q: NodeQuery): Promise<NodeRow[]> {
    let query = this.db.selectFrom('nodes').selectAll();
    if (q.agencyId) query = query.where('agencyId', '=', q.agencyId);
    if (q.status) query = query.where('status', '=', q.status);
    if (q.after) query = query.where('id', '>', q.after);
    return query.orderBy('id').limit(q.limit).execute();
  }

  insert(row: NodeFields & { id: string; agencyId: string; code: string; status: string; createdBy: string }, now: Date, executor: Db): Promise<NodeRow> {
    return executor
      .insertInto('nodes')
      .values({ ...row, contact: JSON.stringify(row.contact), statusReason: null, createdAt: now, updatedAt: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  update(id: string, patch: Partial<NodeFields> & { status?: string; statusReason?: string | null }, now: Date, executor: Db): Promise<NodeRow> {
    const { contact, ...rest } = patch;
    return executor
      .updateTable('nodes')
      .set({ ...rest, ...(contact ? { contact: JSON.stringify(contact) } : {}), updatedAt: now, version: sql<number>`version + 1` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }
}
