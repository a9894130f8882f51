import { sql, type Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { DemandsTable } from '../../db/schema.js';
import type { DemandStatus } from './schemas.js';

export type DemandRow = Selectable<DemandsTable>;

export interface DemandQuery {
  /** Only demands this agency posted or was asked to answer (agency users). */
  readonly agencyId?: string | undefined;
  readonly status?: DemandStatus | undefined;
  readonly after?: string | undefined;
  readonly limit: number;
}

export type DemandPatch = Partial<Omit<DemandRow, 'id' | 'requesterAgencyId' | 'createdBy' | 'createdAt' | 'updatedAt' | 'version'>>;

/** The only SQL over the demands table. */
export class DemandStore {
  constructor(private readonly db: Db) {}

  byId(id: string, executor: Db = this.db, forUpdate = false): Promise<DemandRow | undefined> {
    let q = executor.selectFrom('demands').selectAll().where('id', '=', id);
    if (forUpdate) q = q.forUpdate();
    return q.executeTakeFirst();
  }

  list(q: DemandQuery): Promise<DemandRow[]> {
    let query = this.db.selectFrom('demands').selectAll();
    if (q.agencyId) {
      const agencyId = q.agencyId;
      query = query.where((eb) => eb.or([eb('requesterAgencyId', '=', agencyId), eb('providerAgencyId', '=', agencyId)]));
    }
    if (q.status) query = query.where('status', '=', q.status);
    if (q.after) query = query.where('id', '>', q.after);
    return query.orderBy('id').limit(q.limit).execute();
  }

  insert(row: Omit<DemandRow, 'version' | 'createdAt' | 'updatedAt' | 'status' | 'providerAgencyId' | 'routedBy' | 'routedAt' | 'routeComment' | 'answerKind' | 'answerEntryId' | 'answerResourceCode' | 'answerPromisedBy' | 'answerReason' | 'answeredBy' | 'answeredAt'>, now: Date, executor: Db): Promise<DemandRow> {
    return executor
      .insertInto('demands')
      .values({ ...row, wantedItems: [...row.wantedItems], status: 'open', createdAt: now, updatedAt: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  update(id: string, patch: DemandPatch, now: Date, executor: Db): Promise<DemandRow> {
    return executor
      .updateTable('demands')
      .set({ ...patch, updatedAt: now, version: sql<number>`version + 1` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }
}
