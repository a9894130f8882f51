import type { Db } from '../../db/database.js';
import { GsError, invalidField, type FieldProblem } from '../../lib/errors.js';
import {
  chinaDateOf,
  exceptionProblem,
  isCalendarDayKind,
  MAX_YEAR,
  MIN_YEAR,
  parseIsoDate,
  PLATFORM_TIME_ZONE,
  weekdayOf,
  WorkingCalendar,
  yearOf,
  type CalendarDay,
  type CalendarDayKind,
  type CalendarException,
  type Deadline,
  type IsoDate,
  type WorkingDaysCount,
} from '../../lib/working-calendar.js';
import type { RequestContext } from '../../server/actor.js';
import type { AuditService } from '../audit/service.js';
import { exceptionsOf, NATIONAL_ARRANGEMENTS, revisionOf, type NationalArrangement } from './national-arrangements.js';
import { CalendarStore, type CalendarDayRow, type CalendarSource, type CalendarYearRow, type NewCalendarDay } from './store.js';

/** One entry of the calendar as stored: what it says, who owns it, who changed it last. */
export interface CalendarEntry {
  readonly date: IsoDate;
  readonly weekday: number;
  readonly kind: CalendarDayKind;
  readonly name: string;
  readonly source: CalendarSource;
  readonly changedBy: string;
  readonly changedAt: string;
}

export interface CalendarYearInfo {
  readonly year: number;
  /** The year's complete arrangement is loaded: deadlines in it are firm. */
  readonly known: boolean;
  /** Whose arrangement it is: the shipped national one, one an operator imported, or none. */
  readonly arrangement: CalendarSource | null;
  readonly source: string | null;
  readonly nationalRevision: string | null;
  readonly loadedBy: string | null;
  readonly loadedAt: string | null;
  /** Last time an operator set or cleared one of its days (null: never). */
  readonly operatorEditedAt: string | null;
  readonly entries: number;
}

export interface CalendarYear extends CalendarYearInfo {
  /** Working days in the year under this calendar. */
  readonly workingDays: number;
  readonly days: readonly CalendarEntry[];
}

export interface CalendarDayView extends CalendarDay {
  readonly entry: CalendarEntry | null;
}

export interface CalendarCoverage {
  readonly timeZone: string;
  /** Today in China Standard Time. */
  readonly today: IsoDate;
  readonly knownYears: readonly number[];
  readonly years: readonly CalendarYearInfo[];
}

/** What start-up did with the shipped arrangements. */
export interface CalendarSyncResult {
  readonly loaded: readonly { readonly year: number; readonly revision: string; readonly days: number; readonly keptOperatorDays: number }[];
  readonly skipped: readonly { readonly year: number; readonly revision: string; readonly reason: string }[];
}

/** A day as the operator gives it (API body, CLI flags, an imported file): checked here. */
export interface CalendarDayInput {
  readonly kind: unknown;
  readonly name: unknown;
}

export interface CalendarImportInput {
  readonly days: readonly unknown[];
  /** What the arrangement was taken from: the notice's title or address. */
  readonly source?: string | null | undefined;
}

const EMPTY_CACHE = { version: -1, calendar: WorkingCalendar.WEEKENDS_ONLY };

/**
 * The working-day calendar of the platform: the shipped State Council arrangements, the
 * operator's changes, and the deadlines computed from them (src/modules/calendar/README.md).
 *
 * Other modules call `calendar()` once and compute with the value (`deadline`, `isWorkingDay`,
 * `workingDaysBetween`), or `deadline(from, days)` for one answer.
 */
export class CalendarService {
  readonly #store: CalendarStore;
  /** The calendar as of a committed version; see `calendar`. */
  #cache: { readonly version: number; readonly calendar: WorkingCalendar } = EMPTY_CACHE;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly now: () => Date = () => new Date(),
    private readonly arrangements: readonly NationalArrangement[] = NATIONAL_ARRANGEMENTS,
  ) {
    this.#store = new CalendarStore(db);
  }

  /**
   * The calendar now in force, as a value. One primary-key read checks the version every change
   * bumps (in any process); the days are loaded again only when it moved. The version is read
   * before the days: a change committed in between makes the cached copy look older than it is
   * (reloaded next time), never newer. Only reads outside a transaction fill the cache — a
   * transaction may still roll back what it read.
   */
  async calendar(executor: Db = this.db): Promise<WorkingCalendar> {
    const version = await this.#store.version(executor);
    const cached = this.#cache;
    if (cached.version === version) return cached.calendar;
    const rows = await this.#store.allDays(executor);
    const known = await this.#store.knownYears(executor);
    const calendar = new WorkingCalendar(rows.map(toException), known);
    if (!executor.isTransaction && version > this.#cache.version) this.#cache = { version, calendar };
    return calendar;
  }

  /** The deadline of `days` working days for something received at `received` (docs/calendar.md). */
  async deadline(received: IsoDate | Date, days: number, executor?: Db): Promise<Deadline> {
    return (await this.calendar(executor)).deadline(received, days);
  }

  /** Working days after `from` up to and including `to`, with whether an unknown year is involved. */
  async workingDaysBetween(from: IsoDate | Date, to: IsoDate | Date, executor?: Db): Promise<WorkingDaysCount> {
    return (await this.calendar(executor)).count(from, to);
  }

  async day(date: IsoDate, field = 'date'): Promise<CalendarDayView> {
    const d = parseIsoDate(date, field);
    const [calendar, row] = [await this.calendar(), await this.#store.day(d)];
    return { ...calendar.day(d), entry: row ? toEntry(row) : null };
  }

  async coverage(): Promise<CalendarCoverage> {
    const calendar = await this.calendar();
    const years = await this.#store.years();
    return { timeZone: PLATFORM_TIME_ZONE, today: chinaDateOf(this.now()), knownYears: calendar.knownYears, years: years.map((y) => toYearInfo(y, y.entries)) };
  }

  async year(year: number): Promise<CalendarYear> {
    checkYear(year);
    const calendar = await this.calendar();
    const rows = await this.#store.daysOfYear(year);
    const info = await this.#store.year(year);
    const first = `${year}-01-01`;
    const workingDays = calendar.workingDaysBetween(first, `${year}-12-31`) + (calendar.isWorkingDay(first) ? 1 : 0);
    return { ...toYearInfo(info ?? emptyYear(year), rows.length), workingDays, days: rows.map(toEntry) };
  }

  /** Makes `date` a holiday or a make-up working day, owned by the operator (start-up never changes it). */
  async setDay(ctx: RequestContext, date: IsoDate, input: CalendarDayInput): Promise<CalendarDayView> {
    const d = parseIsoDate(date, 'params.date');
    const problem = exceptionProblem({ date: d, kind: input.kind, name: input.name });
    if (problem) {
      throw new GsError('GS_ERR_CALENDAR_ENTRY_INVALID', { date: d, field: problem.field, reason: problem.reason, reasonZh: problem.reasonZh }, [
        { field: `body.${problem.field}`, rule: problem.rule, message: problem.reason, messageZh: problem.reasonZh },
      ]);
    }
    const kind = input.kind as CalendarDayKind;
    const name = String(input.name).trim();
    const now = this.now();
    await this.db.transaction().execute(async (trx) => {
      await this.#store.bumpVersion(trx);
      const before = await this.#store.day(d, trx);
      await this.#store.upsertDay({ date: d, kind, name, source: 'operator', changedBy: ctx.actor.name, changedAt: now, requestId: ctx.requestId }, trx);
      await this.#store.upsertYear(yearOf(d), { operatorEditedAt: now }, trx);
      await this.audit.record(ctx, { action: 'calendar.set-day', targetType: 'calendarDay', targetId: d, details: { date: d, kind, name, before: before ? previous(before) : null } }, trx);
    });
    return this.day(d);
  }

  /** Removes the entry of `date` (national or operator): the day follows the weekend rule again. */
  async clearDay(ctx: RequestContext, date: IsoDate): Promise<CalendarDayView> {
    const d = parseIsoDate(date, 'params.date');
    const now = this.now();
    await this.db.transaction().execute(async (trx) => {
      await this.#store.bumpVersion(trx);
      const before = await this.#store.day(d, trx);
      if (!before) throw new GsError('GS_ERR_CALENDAR_DAY_NOT_FOUND', { date: d });
      await this.#store.deleteDay(d, trx);
      // Remembered, so that start-up does not bring a cleared national day back (README.md).
      await this.#store.upsertYear(yearOf(d), { operatorEditedAt: now }, trx);
      await this.audit.record(ctx, { action: 'calendar.clear-day', targetType: 'calendarDay', targetId: d, details: { date: d, before: previous(before) } }, trx);
    });
    return this.day(d);
  }

  /**
   * Replaces the whole arrangement of `year` (national and operator entries alike) with `days`,
   * all or nothing: every entry is checked first and every problem reported, naming the entry;
   * with any problem nothing changes. The year is then known and owned by the operator.
   */
  async importYear(ctx: RequestContext, year: number, input: CalendarImportInput): Promise<CalendarYear> {
    checkYear(year);
    const days = checkImport(year, input.days);
    const source = input.source?.trim() || null;
    const now = this.now();
    await this.db.transaction().execute(async (trx) => {
      await this.#store.bumpVersion(trx);
      const replaced = await this.#store.deleteYear(year, 'all', trx);
      await this.#store.insertDays(
        days.map((e) => ({ ...e, source: 'operator', changedBy: ctx.actor.name, changedAt: now, requestId: ctx.requestId })),
        false,
        trx,
      );
      await this.#store.upsertYear(year, { arrangement: 'operator', source, loadedBy: ctx.actor.name, loadedAt: now, operatorEditedAt: now }, trx);
      await this.audit.record(
        ctx,
        {
          action: 'calendar.import',
          targetType: 'calendarYear',
          targetId: String(year),
          details: { year, source, days: days.length, replaced, entries: days.map((e) => [e.date, e.kind, e.name]) },
        },
        trx,
      );
    });
    return this.year(year);
  }

  /**
   * Loads the shipped arrangements, in the caller's transaction (start-up bootstrap, under its
   * lock). Per year: a year the operator imported is never touched; a year not loaded yet gets
   * every shipped day whose date has no operator entry; a year whose shipped arrangement changed
   * since it was loaded (a corrected release) is replaced only if no operator changed any of its
   * days — otherwise it is left alone and reported, for the operator to review and import.
   */
  async syncNational(ctx: RequestContext, trx: Db): Promise<CalendarSyncResult> {
    const loaded: { year: number; revision: string; days: number; keptOperatorDays: number }[] = [];
    const skipped: { year: number; revision: string; reason: string }[] = [];
    let bumped = false;
    for (const arrangement of this.arrangements) {
      const { year } = arrangement;
      const revision = revisionOf(arrangement);
      const row = await this.#store.year(year, trx);
      if (row?.nationalRevision === revision && row.arrangement !== null) continue;
      const keep =
        row?.arrangement === 'operator'
          ? `the operator imported the arrangement of ${year}`
          : row?.nationalRevision && row.operatorEditedAt
            ? `an operator changed days of ${year} after its national arrangement was loaded (review with calendar list --year ${year}, and import the corrected arrangement if it applies)`
            : undefined;
      if (keep) {
        // Noted as dealt with, so start-up reports (and audits) it once, not at every start.
        await this.#store.upsertYear(year, { nationalRevision: revision }, trx);
        await this.audit.record(ctx, { action: 'calendar.skip-national', targetType: 'calendarYear', targetId: String(year), details: { year, revision, title: arrangement.title, reason: keep } }, trx);
        skipped.push({ year, revision, reason: keep });
        continue;
      }
      if (!bumped) {
        await this.#store.bumpVersion(trx);
        bumped = true;
      }
      const now = this.now();
      const days = exceptionsOf(arrangement);
      await this.#store.deleteYear(year, 'national', trx);
      const inserted = await this.#store.insertDays(
        days.map((e): NewCalendarDay => ({ ...e, source: 'national', changedBy: ctx.actor.name, changedAt: now, requestId: null })),
        true,
        trx,
      );
      await this.#store.upsertYear(year, { arrangement: 'national', nationalRevision: revision, source: arrangement.sources[0] ?? arrangement.title, loadedBy: ctx.actor.name, loadedAt: now }, trx);
      await this.audit.record(
        ctx,
        { action: 'calendar.load-national', targetType: 'calendarYear', targetId: String(year), details: { year, revision, title: arrangement.title, days: inserted, keptOperatorDays: days.length - inserted } },
        trx,
      );
      loaded.push({ year, revision, days: inserted, keptOperatorDays: days.length - inserted });
    }
    return { loaded, skipped };
  }
}

function checkYear(year: number): void {
  if (!Number.isInteger(year) || year < MIN_YEAR || year > MAX_YEAR) {
    throw new GsError('GS_ERR_CALENDAR_YEAR_INVALID', { year, min: MIN_YEAR, max: MAX_YEAR }, [{ field: 'year', rule: 'range', message: `a year from ${MIN_YEAR} to ${MAX_YEAR}` }]);
  }
}

interface ImportProblem {
  readonly index: number;
  readonly date: string;
  readonly field: string;
  readonly rule: string;
  readonly reason: string;
  readonly reasonZh: string;
}

/** Every entry checked against the rules, the year and each other; the entries, or every problem at once. */
function checkImport(year: number, days: readonly unknown[]): CalendarException[] {
  if (!Array.isArray(days) || days.length === 0) throw invalidField('body.days', 'minItems', 'an arrangement lists at least one day');
  const problems: ImportProblem[] = [];
  const seen = new Map<string, number>();
  const out: CalendarException[] = [];
  days.forEach((raw, index) => {
    const entry = (typeof raw === 'object' && raw !== null ? raw : {}) as { date?: unknown; kind?: unknown; name?: unknown };
    const date = typeof entry.date === 'string' ? entry.date : JSON.stringify(entry.date ?? null);
    const problem = exceptionProblem(entry);
    if (problem) {
      problems.push({ index, date, ...problem });
      return;
    }
    if (yearOf(date) !== year) {
      problems.push({ index, date, field: 'date', rule: 'inYear', reason: `the date is not in ${year}`, reasonZh: `日期不在 ${year} 年内` });
      return;
    }
    const earlier = seen.get(date);
    if (earlier !== undefined) {
      problems.push({ index, date, field: 'date', rule: 'unique', reason: `the date is already entry ${earlier + 1}`, reasonZh: `该日期与第 ${earlier + 1} 条重复` });
      return;
    }
    seen.set(date, index);
    out.push({ date, kind: entry.kind as CalendarDayKind, name: String(entry.name).trim() });
  });
  const first = problems[0];
  if (first) {
    const fields: FieldProblem[] = problems.map((p) => ({
      field: `body.days.${p.index}.${p.field}`,
      rule: p.rule,
      message: `entry ${p.index + 1} (${p.date}): ${p.reason}`,
      messageZh: `第 ${p.index + 1} 条（${p.date}）：${p.reasonZh}`,
    }));
    throw new GsError(
      'GS_ERR_CALENDAR_IMPORT_INVALID',
      { year, count: problems.length, index: first.index + 1, date: first.date, field: first.field, reason: first.reason, reasonZh: first.reasonZh },
      fields,
    );
  }
  return out;
}

function toException(row: Pick<CalendarDayRow, 'date' | 'kind' | 'name'>): CalendarException {
  // The table's check constraint admits only the two kinds; anything else is a broken database.
  if (!isCalendarDayKind(row.kind)) throw new Error(`calendar_days ${row.date} has kind ${row.kind}`);
  return { date: row.date, kind: row.kind, name: row.name };
}

function toEntry(row: CalendarDayRow): CalendarEntry {
  return {
    date: row.date,
    weekday: weekdayOf(row.date),
    kind: row.kind as CalendarDayKind,
    name: row.name,
    source: row.source as CalendarSource,
    changedBy: row.changedBy,
    changedAt: row.changedAt.toISOString(),
  };
}

function previous(row: CalendarDayRow): { kind: string; name: string; source: string } {
  return { kind: row.kind, name: row.name, source: row.source };
}

function emptyYear(year: number): CalendarYearRow {
  return { year, arrangement: null, nationalRevision: null, source: null, loadedBy: null, loadedAt: null, operatorEditedAt: null };
}

function toYearInfo(row: CalendarYearRow, entries: number): CalendarYearInfo {
  return {
    year: row.year,
    known: row.arrangement !== null,
    arrangement: row.arrangement as CalendarSource | null,
    source: row.source,
    nationalRevision: row.nationalRevision,
    loadedBy: row.loadedBy,
    loadedAt: row.loadedAt?.toISOString() ?? null,
    operatorEditedAt: row.operatorEditedAt?.toISOString() ?? null,
    entries,
  };
}
