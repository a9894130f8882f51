import { sql, type Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { AgenciesTable, ContactRow } from '../../db/schema.js';
import { escapeLike } from '../regions/store.js';

export type AgencyRow = Selectable<AgenciesTable>;

export interface AgencyQuery {
  readonly q?: string | undefined;
  readonly regionCode?: string | undefined;
  readonly level?: string | undefined;
  readonly parentId?: string | undefined;
  readonly active?: boolean | undefined;
  readonly after?: string | undefined;
  readonly limit: number;
}

export interface AgencyFields {
  readonly code: string;
  readonly nameZh: string;
  readonly names: Record<string, string>;
  readonly uscc: string;
  readonly regionCode: string;
  readonly level: string;
  readonly parentId: string | null;
  readonly contacts: readonly ContactRow[];
}

export class AgencyStore {
  constructor(private readonly db: Db) {}

  byId(id: string, executor: Db = this.db): Promise<AgencyRow | undefined> {
    return executor.selectFrom('agencies').selectAll().where('id', '=', id).executeTakeFirst();
  }

  byCode(code: string, executor: Db = this.db): Promise<AgencyRow | undefined> {
    return executor.selectFrom('agencies').selectAll().where('code', '=', code).executeTakeFirst();
  }

  byUscc(uscc: string, executor: Db = this.db): Promise<AgencyRow | undefined> {
    return executor.selectFrom('agencies').selectAll().where('uscc', '=', uscc).executeTakeFirst();
  }

  list(q: AgencyQuery): Promise<AgencyRow[]> {
    let query = this.db.selectFrom('agencies').selectAll();
    if (q.q) {
      const like = `%${escapeLike(q.q)}%`;
      query = query.where((eb) => eb.or([eb('nameZh', 'like', like), eb('code', 'like', like), eb('uscc', '=', q.q!.toUpperCase())]));
    }
    if (q.regionCode) query = query.where('regionCode', '=', q.regionCode);
    if (q.level) query = query.where('level', '=', q.level);
    if (q.parentId) query = query.where('parentId', '=', q.parentId);
    if (q.active !== undefined) query = query.where('active', '=', q.active);
    if (q.after) query = query.where('code', '>', q.after);
    return query.orderBy('code').limit(q.limit).execute();
  }

  countActiveChildren(id: string, executor: Db): Promise<number> {
    return executor
      .selectFrom('agencies')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('parentId', '=', id)
      .where('active', '=', true)
      .executeTakeFirstOrThrow()
      .then((r) => Number(r.n));
  }

  /** Ids of the agency and all its ancestors, nearest first (for cycle checks). */
  async ancestry(id: string, executor: Db): Promise<string[]> {
    const rows = await sql<{ id: string }>`
      with recursive up(id, parent_id, depth) as (
        select id, parent_id, 0 from agencies where id = ${id}
        union all
        select a.id, a.parent_id, up.depth + 1 from agencies a join up on a.id = up.parent_id where up.depth < 64
      )
      select id from up order by depth`.execute(executor);
    return rows.rows.map((r) => r.id);
  }

  async insert(id: string, fields: AgencyFields, now: Date, executor: Db): Promise<AgencyRow> {
    return executor
      .insertInto('agencies')
      .values({ id, ...fields, names: JSON.stringify(fields.names), contacts: JSON.stringify(fields.contacts), createdAt: now, updatedAt: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async update(
    id: string,
    patch: Partial<AgencyFields> & { active?: boolean; deactivatedAt?: Date | null; deactivationReason?: string | null },
    now: Date,
    executor: Db,
  ): Promise<AgencyRow> {
    const { names, contacts, ...rest } = patch;
    return executor
      .updateTable('agencies')
      .set({
        ...rest,
        ...(names !== undefined ? { names: JSON.stringify(names) } : {}),
        ...(contacts !== undefined ? { contacts: JSON.stringify(contacts) } : {}),
        updatedAt: now,
        version: sql<number>`version + 1`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async appendHistory(row: AgencyRow, change: string, changedBy: string, requestId: string | null, now: Date, executor: Db): Promise<void> {
    await executor
      .insertInto('agencyHistory')
      .values({ agencyId: row.id, version: row.version, change, snapshot: JSON.stringify(row), changedBy, changedAt: now, requestId })
      .execute();
  }

  history(id: string): Promise<{ version: number; change: string; snapshot: unknown; changedBy: string; changedAt: Date; requestId: string | null }[]> {
    return this.db
      .selectFrom('agencyHistory')
      .select(['version', 'change', 'snapshot', 'changedBy', 'changedAt', 'requestId'])
      .where('agencyId', '=', id)
      .orderBy('version')
      .execute();
  }
}
