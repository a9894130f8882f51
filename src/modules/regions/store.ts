import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { RegionLevel, RegionRecord } from './region-data.js';

export interface RegionRow extends RegionRecord {
  readonly active: boolean;
  readonly source: string;
}

const SOURCE_KEY = 'regions.source';

export class RegionStore {
  constructor(private readonly db: Db) {}

  async loadedSource(executor: Db = this.db): Promise<string | undefined> {
    const row = await executor.selectFrom('platformSettings').select('value').where('key', '=', SOURCE_KEY).executeTakeFirst();
    return typeof row?.value === 'string' ? row.value : undefined;
  }

  /** Upserts every region (parents before children) and marks regions no longer listed inactive. */
  async replaceAll(source: string, regions: readonly RegionRecord[], executor: Db): Promise<void> {
    const order: Record<RegionLevel, number> = { province: 0, prefecture: 1, county: 2 };
    const sorted = [...regions].sort((a, b) => order[a.level] - order[b.level]);
    for (let i = 0; i < sorted.length; i += 500) {
      const chunk = sorted.slice(i, i + 500).map((r) => ({ ...r, source, active: true }));
      await executor
        .insertInto('regions')
        .values(chunk)
        .onConflict((oc) =>
          oc.column('code').doUpdateSet((eb) => ({
            name: eb.ref('excluded.name'),
            level: eb.ref('excluded.level'),
            parentCode: eb.ref('excluded.parentCode'),
            active: true,
            source: eb.ref('excluded.source'),
          })),
        )
        .execute();
    }
    await executor.updateTable('regions').set({ active: false }).where('source', '<>', source).execute();
    await executor
      .insertInto('platformSettings')
      .values({ key: SOURCE_KEY, value: JSON.stringify(source) })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(source), updatedAt: sql<Date>`now()` }))
      .execute();
  }

  get(code: string, executor: Db = this.db): Promise<RegionRow | undefined> {
    return executor.selectFrom('regions').selectAll().where('code', '=', code).executeTakeFirst() as Promise<RegionRow | undefined>;
  }

  list(q: { parentCode?: string | undefined; level?: RegionLevel | undefined; q?: string | undefined; includeInactive?: boolean | undefined; limit: number; after?: string | undefined }): Promise<RegionRow[]> {
    let query = this.db.selectFrom('regions').selectAll();
    if (q.parentCode !== undefined) query = query.where('parentCode', '=', q.parentCode);
    if (q.level !== undefined) query = query.where('level', '=', q.level);
    if (q.q) query = query.where((eb) => eb.or([eb('name', 'like', `%${escapeLike(q.q!)}%`), eb('code', 'like', `${escapeLike(q.q!)}%`)]));
    if (!q.includeInactive) query = query.where('active', '=', true);
    if (q.after !== undefined) query = query.where('code', '>', q.after);
    return query.orderBy('code').limit(q.limit).execute() as Promise<RegionRow[]>;
  }
}

export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
