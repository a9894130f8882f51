import { sql, type Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { BusinessSystemsTable, ContactRow } from '../../db/schema.js';

export type SystemRow = Selectable<BusinessSystemsTable>;

export class SystemStore {
  constructor(private readonly db: Db) {}

  byId(id: string, executor: Db = this.db): Promise<SystemRow | undefined> {
    return executor.selectFrom('businessSystems').selectAll().where('id', '=', id).executeTakeFirst();
  }

  byName(agencyId: string, name: string, executor: Db): Promise<SystemRow | undefined> {
    return executor.selectFrom('businessSystems').selectAll().where('agencyId', '=', agencyId).where('name', '=', name).executeTakeFirst();
  }

  list(q: { agencyId?: string | undefined; status?: string | undefined; after?: string | undefined; limit: number }): Promise<SystemRow[]> {
    let query = this.db.selectFrom('businessSystems').selectAll();
    if (q.agencyId) query = query.where('agencyId', '=', q.agencyId);
    if (q.status) query = query.where('status', '=', q.status);
    if (q.after) query = query.where('id', '>', q.after);
    return query.orderBy('id').limit(q.limit).execute();
  }

  insert(row: { id: string; agencyId: string; name: string; purpose: string; ownerContact: ContactRow; status: string; createdBy: string }, now: Date, executor: Db): Promise<SystemRow> {
    return executor
      .insertInto('businessSystems')
      .values({ ...row, ownerContact: JSON.stringify(row.ownerContact), statusReason: null, createdAt: now, updatedAt: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  update(id: string, patch: { name?: string; purpose?: string; ownerContact?: ContactRow; status?: string; statusReason?: string | null }, now: Date, executor: Db): Promise<SystemRow> {
    const { ownerContact, ...rest } = patch;
    return executor
      .updateTable('businessSystems')
      .set({ ...rest, ...(ownerContact ? { ownerContact: JSON.stringify(ownerContact) } : {}), updatedAt: now, version: sql<number>`version + 1` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }
}
