import { sql, type Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { CalendarDaysTable, CalendarYearsTable } from '../../db/schema.js';
import type { CalendarDayKind, IsoDate } from '../../lib/working-calendar.js';

export type CalendarDayRow = Selectable<CalendarDaysTable>;
export type CalendarYearRow = Selectable<CalendarYearsTable>;

/** Who owns a calendar row: the shipped State Council arrangement, or an operator. */
export const CALENDAR_SOURCES = ['national', 'operator'] as const;
export type CalendarSource = (typeof CALENDAR_SOURCES)[number];

export interface NewCalendarDay {
  readonly date: IsoDate;
  readonly kind: CalendarDayKind;
  readonly name: string;
  readonly source: CalendarSource;
  readonly changedBy: string;
  readonly changedAt: Date;
  readonly requestId: string | null;
}

export interface CalendarYearPatch {
  readonly arrangement?: CalendarSource;
  readonly nationalRevision?: string;
  readonly source?: string | null;
  readonly loadedBy?: string;
  readonly loadedAt?: Date;
  readonly operatorEditedAt?: Date;
}

const firstDay = (year: number): IsoDate => `${String(year).padStart(4, '0')}-01-01`;
const lastDay = (year: number): IsoDate => `${String(year).padStart(4, '0')}-12-31`;

/** The SQL of the working-day calendar's tables (migration 0007); nothing else touches them. */
export class CalendarStore {
  constructor(private readonly db: Db) {}

  async version(executor: Db = this.db): Promise<number> {
    const row = await executor.selectFrom('calendarState').select('version').executeTakeFirstOrThrow();
    return Number(row.version);
  }

  /**
   * The next version, as the first statement of every change: its row lock makes concurrent
   * changes of the calendar (two operators, two servers' start-ups) wait for each other.
   */
  async bumpVersion(trx: Db): Promise<number> {
    const row = await trx
      .updateTable('calendarState')
      .set({ version: sql<number>`version + 1` })
      .returning('version')
      .executeTakeFirstOrThrow();
    return Number(row.version);
  }

  allDays(executor: Db = this.db): Promise<Pick<CalendarDayRow, 'date' | 'kind' | 'name'>[]> {
    return executor.selectFrom('calendarDays').select(['date', 'kind', 'name']).orderBy('date').execute();
  }

  async knownYears(executor: Db = this.db): Promise<number[]> {
    const rows = await executor.selectFrom('calendarYears').select('year').where('arrangement', 'is not', null).orderBy('year').execute();
    return rows.map((r) => r.year);
  }

  day(date: IsoDate, executor: Db = this.db): Promise<CalendarDayRow | undefined> {
    return executor.selectFrom('calendarDays').selectAll().where('date', '=', date).executeTakeFirst();
  }

  daysOfYear(year: number, executor: Db = this.db): Promise<CalendarDayRow[]> {
    return executor.selectFrom('calendarDays').selectAll().where('date', '>=', firstDay(year)).where('date', '<=', lastDay(year)).orderBy('date').execute();
  }

  year(year: number, executor: Db = this.db): Promise<CalendarYearRow | undefined> {
    return executor.selectFrom('calendarYears').selectAll().where('year', '=', year).executeTakeFirst();
  }

  /** Every year the calendar has heard of, with the number of its entries. */
  years(executor: Db = this.db): Promise<(CalendarYearRow & { entries: number })[]> {
    return executor
      .selectFrom('calendarYears as y')
      .selectAll('y')
      .select((eb) =>
        eb
          .selectFrom('calendarDays as d')
          .select((e) => e.fn.countAll<number>().as('n'))
          .where(sql<boolean>`extract(year from d.date) = y.year`)
          .as('entries'),
      )
      .orderBy('y.year')
      .execute()
      .then((rows) => rows.map((r) => ({ ...r, entries: Number(r.entries ?? 0) })));
  }

  async upsertDay(day: NewCalendarDay, trx: Db): Promise<void> {
    await trx
      .insertInto('calendarDays')
      .values(day)
      .onConflict((oc) =>
        oc.column('date').doUpdateSet((eb) => ({
          kind: eb.ref('excluded.kind'),
          name: eb.ref('excluded.name'),
          source: eb.ref('excluded.source'),
          changedBy: eb.ref('excluded.changedBy'),
          changedAt: eb.ref('excluded.changedAt'),
          requestId: eb.ref('excluded.requestId'),
        })),
      )
      .execute();
  }

  async deleteDay(date: IsoDate, trx: Db): Promise<void> {
    await trx.deleteFrom('calendarDays').where('date', '=', date).execute();
  }

  /** Removes a year's entries, of one source or all; returns how many. */
  async deleteYear(year: number, source: CalendarSource | 'all', trx: Db): Promise<number> {
    let q = trx.deleteFrom('calendarDays').where('date', '>=', firstDay(year)).where('date', '<=', lastDay(year));
    if (source !== 'all') q = q.where('source', '=', source);
    const r = await q.executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /**
   * Inserts days; with `keepExisting`, a date that already has a row keeps it (an operator's
   * entry wins over the shipped arrangement). Returns how many were inserted.
   */
  async insertDays(days: readonly NewCalendarDay[], keepExisting: boolean, trx: Db): Promise<number> {
    if (days.length === 0) return 0;
    let q = trx.insertInto('calendarDays').values([...days]);
    if (keepExisting) q = q.onConflict((oc) => oc.column('date').doNothing());
    const r = await q.returning('date').execute();
    return r.length;
  }

  async upsertYear(year: number, patch: CalendarYearPatch, trx: Db): Promise<void> {
    await trx
      .insertInto('calendarYears')
      .values({ year, ...patch })
      .onConflict((oc) => (Object.keys(patch).length === 0 ? oc.column('year').doNothing() : oc.column('year').doUpdateSet(patch)))
      .execute();
  }
}
