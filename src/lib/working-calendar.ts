import { GsError } from './errors.js';

/**
 * The working-day calendar (工作日历): a pure value, no database. Deadlines in working days —
 * catalog revision within 15 working days (003 三(三)), share-request review within 10 working
 * days (国发〔2016〕51号) — are computed with it.
 *
 * **Dates.** A date is a calendar date `YYYY-MM-DD` in the platform's time zone, China Standard
 * Time (Asia/Shanghai): UTC+8 all year, no daylight saving since 1991, so the day boundary is a
 * fixed 16:00 UTC. An instant is turned into a date with `chinaDateOf`, never with the server's
 * local time zone: 2026-05-01T00:30+08:00 is 1 May even though it is still 30 April in UTC.
 *
 * **Working days.** Monday to Friday are working days, Saturday and Sunday are not, unless an
 * exception says otherwise: a `holiday` (a public holiday, also when it falls on a weekend inside
 * a holiday period such as the nine days of 春节 2026) or a `workday` (a make-up working day,
 * 调休上班, always a Saturday or Sunday).
 *
 * **Deadline convention.** Something received on day D — at any time of D, also when D is not a
 * working day — has its first working day on the next working day after D; D itself never counts.
 * A time limit of n working days ends at the end of the n-th working day after D (24:00 China
 * time, i.e. 00:00 +08:00 of the following day). n = 0 means the end of D itself.
 * `workingDaysBetween(a, b)` counts the working days after a up to and including b, so an answer
 * given on the due date took exactly n working days: `workingDaysBetween(D, addWorkingDays(D, n)) === n`.
 *
 * **Coverage.** The calendar knows the years whose arrangement was published (by the State
 * Council, loaded from the shipped data or imported by the operator). Beyond them it falls back
 * to weekends only, and says so: `knownYears`, and `provisional` / `unknownYears` on a deadline.
 */

/** The platform's time zone. China Standard Time has been UTC+8 without daylight saving since 1991. */
export const PLATFORM_TIME_ZONE = 'Asia/Shanghai';
const CHINA_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/** The kinds of exception to the weekend rule, a closed vocabulary checked at every boundary. */
export const CALENDAR_DAY_KINDS = ['holiday', 'workday'] as const;
export type CalendarDayKind = (typeof CALENDAR_DAY_KINDS)[number];

export function isCalendarDayKind(value: unknown): value is CalendarDayKind {
  return typeof value === 'string' && (CALENDAR_DAY_KINDS as readonly string[]).includes(value);
}

/** What a day is, as shown to people: an ordinary workday or weekend, a holiday, or a make-up working day. */
export const DAY_STATUSES = ['workday', 'weekend', 'holiday', 'makeUpWorkday'] as const;
export type DayStatus = (typeof DAY_STATUSES)[number];

/** A calendar date `YYYY-MM-DD` in China Standard Time. */
export type IsoDate = string;

/** Years a date may have: wide enough for any deadline, narrow enough to catch typos like 20266. */
export const MIN_YEAR = 1900;
export const MAX_YEAR = 2999;
/** The largest time limit accepted (about 38 years); bounds the work one request can cause. */
export const MAX_WORKING_DAYS = 10_000;
/** Longest name of an exception: "国庆节、中秋节" fits many times over. */
export const MAX_NAME_LENGTH = 50;

const DATE_SHAPE = /^(\d{4})-(\d{2})-(\d{2})$/;
// RFC 3339 date-time with an explicit offset: an instant without one would be read in some
// machine's local zone, which is exactly the mistake this module exists to prevent.
const INSTANT_SHAPE = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})$/;

function invalidDate(field: string, value: unknown, reason: string, reasonZh: string): GsError {
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  return new GsError('GS_ERR_CALENDAR_DATE_INVALID', { field, value: shown, reason, reasonZh }, [{ field, rule: 'date', message: reason, messageZh: reasonZh }]);
}

/** Day number (days since 1970-01-01) of a valid date, or undefined. */
function dayNumberOrUndefined(value: string): number | undefined {
  const m = DATE_SHAPE.exec(value);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < MIN_YEAR || y > MAX_YEAR || mo < 1 || mo > 12 || d < 1) return undefined;
  const ms = Date.UTC(y, mo - 1, d);
  // Date.UTC rolls 2026-02-30 over into March: a real date maps back to itself.
  return new Date(ms).getUTCDate() === d ? ms / DAY_MS : undefined;
}

export function isIsoDate(value: unknown): value is IsoDate {
  return typeof value === 'string' && dayNumberOrUndefined(value) !== undefined;
}

/** The date itself if it is a real calendar date `YYYY-MM-DD` (years 1900–2999), else GS_ERR_CALENDAR_DATE_INVALID naming `field`. */
export function parseIsoDate(value: unknown, field = 'date'): IsoDate {
  if (typeof value !== 'string' || !DATE_SHAPE.test(value)) {
    throw invalidDate(field, value, 'it must be a date written YYYY-MM-DD', '日期格式应为 YYYY-MM-DD');
  }
  if (dayNumberOrUndefined(value) === undefined) {
    throw invalidDate(field, value, `there is no such day (years ${MIN_YEAR}–${MAX_YEAR})`, `不存在该日期（年份须在 ${MIN_YEAR}–${MAX_YEAR} 之间）`);
  }
  return value;
}

/**
 * A date `YYYY-MM-DD`, or an instant in RFC 3339 with its offset (`2026-05-01T00:30:00+08:00`,
 * `…Z`), as the date it falls on in China Standard Time.
 */
export function parseDateOrInstant(value: unknown, field = 'date'): IsoDate {
  if (typeof value === 'string' && DATE_SHAPE.test(value)) return parseIsoDate(value, field);
  const m = typeof value === 'string' ? INSTANT_SHAPE.exec(value) : null;
  if (!m) {
    throw invalidDate(
      field,
      value,
      'it must be a date YYYY-MM-DD or a date-time with its offset, e.g. 2026-05-01T09:30:00+08:00',
      '应为日期 YYYY-MM-DD 或带时区偏移的日期时间，例如 2026-05-01T09:30:00+08:00',
    );
  }
  parseIsoDate(m[1], field);
  const [h, min, s] = [Number(m[2]), Number(m[3]), Number(m[4] ?? 0)];
  const offset = m[5]!;
  const offsetOk = /^[Zz]$/.test(offset) || (Number(offset.slice(1, 3)) <= 23 && Number(offset.slice(4, 6)) <= 59);
  const ms = Date.parse(String(value).replace(' ', 'T').toUpperCase());
  if (h > 23 || min > 59 || s > 59 || !offsetOk || Number.isNaN(ms)) {
    throw invalidDate(field, value, 'the time of day or the offset is out of range', '时刻或时区偏移超出范围');
  }
  return chinaDateOf(new Date(ms));
}

function dayNumber(date: IsoDate): number {
  // parseIsoDate throws for anything dayNumberOrUndefined would not map
  return dayNumberOrUndefined(parseIsoDate(date))!;
}

function fromDayNumber(n: number): IsoDate {
  return new Date(n * DAY_MS).toISOString().slice(0, 10);
}

/** The date an instant falls on in China Standard Time (not in the server's time zone). */
export function chinaDateOf(instant: Date): IsoDate {
  const ms = instant.getTime();
  if (Number.isNaN(ms)) throw invalidDate('date', String(instant), 'not a valid instant', '不是有效的时刻');
  return new Date(ms + CHINA_OFFSET_MS).toISOString().slice(0, 10);
}

/** 00:00 China Standard Time at the start of `date`. */
export function startOfChinaDay(date: IsoDate): Date {
  return new Date(dayNumber(date) * DAY_MS - CHINA_OFFSET_MS);
}

/** The end of `date` in China Standard Time: 00:00 +08:00 of the next day (exclusive). */
export function endOfChinaDay(date: IsoDate): Date {
  return new Date((dayNumber(date) + 1) * DAY_MS - CHINA_OFFSET_MS);
}

/** An instant written in China Standard Time, e.g. `2026-12-23T00:00:00+08:00`. */
export function formatChinaInstant(instant: Date): string {
  return `${new Date(instant.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

/** ISO weekday: 1 Monday … 7 Sunday. 1970-01-01 (day 0) was a Thursday. */
export function weekdayOf(date: IsoDate): number {
  return weekdayOfDay(dayNumber(date));
}

function weekdayOfDay(n: number): number {
  return ((((n - 4) % 7) + 7) % 7) + 1;
}

export function isWeekend(date: IsoDate): boolean {
  return weekdayOf(date) >= 6;
}

export function yearOf(date: IsoDate): number {
  return Number(date.slice(0, 4));
}

/** Monday–Friday days with day number ≤ n, counted from an anchor Monday (day 4, 1970-01-05). */
function weekdaysUpTo(n: number): number {
  const k = n - 4;
  const weeks = Math.floor(k / 7);
  return weeks * 5 + Math.min(k - weeks * 7 + 1, 5);
}

export interface CalendarException {
  readonly date: IsoDate;
  readonly kind: CalendarDayKind;
  /** What the day is: 春节, 国庆节, 调休上班（春节）, a local holiday's name. */
  readonly name: string;
}

/** A rule an exception breaks, in both languages; undefined when it is acceptable. */
export interface ExceptionProblem {
  readonly field: 'date' | 'kind' | 'name';
  readonly rule: string;
  readonly reason: string;
  readonly reasonZh: string;
}

/**
 * The rules every exception obeys, wherever it comes from (shipped data, the operator's API call,
 * an imported file): a real date, a known kind, a name (the reason for the exception), and a
 * `workday` only on a Saturday or Sunday — a working day on a weekday would change nothing and is
 * almost always a typo for a neighbouring date. A `holiday` may fall on a weekend: the holiday
 * periods of the State Council's notices include their weekends (春节 2026 is nine days).
 */
export function exceptionProblem(entry: { readonly date?: unknown; readonly kind?: unknown; readonly name?: unknown }): ExceptionProblem | undefined {
  if (!isIsoDate(entry.date)) {
    return { field: 'date', rule: 'date', reason: 'not a date YYYY-MM-DD that exists (years 1900–2999)', reasonZh: '不是存在的日期（YYYY-MM-DD，年份 1900–2999）' };
  }
  if (!isCalendarDayKind(entry.kind)) {
    return { field: 'kind', rule: 'enum', reason: `the kind must be one of ${CALENDAR_DAY_KINDS.join(', ')}`, reasonZh: `类型必须为 ${CALENDAR_DAY_KINDS.join('、')} 之一` };
  }
  const name = typeof entry.name === 'string' ? entry.name.trim() : '';
  if (name.length === 0) {
    return { field: 'name', rule: 'required', reason: 'a name is required (e.g. 春节, 调休上班)', reasonZh: '必须填写名称（如 春节、调休上班）' };
  }
  if (name.length > MAX_NAME_LENGTH) {
    return { field: 'name', rule: 'maxLength', reason: `the name is longer than ${MAX_NAME_LENGTH} characters`, reasonZh: `名称超过 ${MAX_NAME_LENGTH} 个字符` };
  }
  if (entry.kind === 'workday' && !isWeekend(entry.date)) {
    return {
      field: 'kind',
      rule: 'workdayOnWeekend',
      reason: `${entry.date} is a weekday, already a working day; a make-up working day (调休上班) is a Saturday or Sunday`,
      reasonZh: `${entry.date} 是周一至周五，本就是工作日；调休上班日只能是周六或周日`,
    };
  }
  return undefined;
}

/** One day as the calendar sees it. */
export interface CalendarDay {
  readonly date: IsoDate;
  /** ISO weekday, 1 Monday … 7 Sunday. */
  readonly weekday: number;
  readonly working: boolean;
  readonly status: DayStatus;
  /** The exception's name (春节, 调休上班…), null for an ordinary day. */
  readonly name: string | null;
  /** False: the year's arrangement is not published here, so the answer is the weekend rule only. */
  readonly knownYear: boolean;
}

export interface Deadline {
  /** D: the day (China time) the thing was received; never counted. */
  readonly received: IsoDate;
  readonly workingDays: number;
  /** The n-th working day after D (D itself for n = 0). */
  readonly dueDate: IsoDate;
  /** The end of the due date: 00:00 +08:00 of the day after it. Due means strictly before this. */
  readonly dueAt: Date;
  /** True when a counted day lies in a year whose arrangement is not known: the deadline may move. */
  readonly provisional: boolean;
  readonly unknownYears: readonly number[];
}

export interface WorkingDaysCount {
  readonly from: IsoDate;
  readonly to: IsoDate;
  /** Working days after `from` up to and including `to`. */
  readonly workingDays: number;
  readonly provisional: boolean;
  readonly unknownYears: readonly number[];
}

type DateInput = IsoDate | Date;

function toDay(value: DateInput, field: string): number {
  return dayNumber(value instanceof Date ? chinaDateOf(value) : parseIsoDate(value, field));
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_WORKING_DAYS) {
    throw new GsError('GS_ERR_CALENDAR_DAYS_INVALID', { days: n, max: MAX_WORKING_DAYS }, [
      { field: 'days', rule: 'range', message: `a whole number from 0 to ${MAX_WORKING_DAYS}`, messageZh: `应为 0 到 ${MAX_WORKING_DAYS} 之间的整数` },
    ]);
  }
}

export class WorkingCalendar {
  /** Exceptions by day number. */
  readonly #exceptions: ReadonlyMap<number, CalendarException>;
  /** The day numbers of the exceptions, ascending (for counting over long spans). */
  readonly #sorted: readonly number[];
  readonly #knownYears: ReadonlySet<number>;

  /**
   * @param exceptions one per date (a second one for a date is a programming error: the store's
   *   primary key and the import checks prevent it)
   * @param knownYears the years whose whole arrangement is in `exceptions`
   */
  constructor(exceptions: Iterable<CalendarException>, knownYears: Iterable<number>) {
    const map = new Map<number, CalendarException>();
    for (const e of exceptions) {
      const problem = exceptionProblem(e);
      if (problem) throw new Error(`calendar exception ${JSON.stringify(e)}: ${problem.reason}`);
      const n = dayNumber(e.date);
      if (map.has(n)) throw new Error(`two calendar exceptions for ${e.date}`);
      map.set(n, { date: e.date, kind: e.kind, name: e.name.trim() });
    }
    this.#exceptions = map;
    this.#sorted = [...map.keys()].sort((a, b) => a - b);
    this.#knownYears = new Set(knownYears);
  }

  /** Weekends only, no year known. */
  static readonly WEEKENDS_ONLY = new WorkingCalendar([], []);

  get knownYears(): readonly number[] {
    return [...this.#knownYears].sort((a, b) => a - b);
  }

  isKnownYear(year: number): boolean {
    return this.#knownYears.has(year);
  }

  /** The exceptions of one year, in date order. */
  exceptionsIn(year: number): CalendarException[] {
    return this.#sorted.map((n) => this.#exceptions.get(n)!).filter((e) => yearOf(e.date) === year);
  }

  #working(n: number): boolean {
    const e = this.#exceptions.get(n);
    if (e) return e.kind === 'workday';
    return weekdayOfDay(n) <= 5;
  }

  day(date: DateInput): CalendarDay {
    const n = toDay(date, 'date');
    const iso = fromDayNumber(n);
    const e = this.#exceptions.get(n);
    const weekday = weekdayOfDay(n);
    const status: DayStatus = e ? (e.kind === 'holiday' ? 'holiday' : 'makeUpWorkday') : weekday <= 5 ? 'workday' : 'weekend';
    return { date: iso, weekday, working: this.#working(n), status, name: e?.name ?? null, knownYear: this.isKnownYear(yearOf(iso)) };
  }

  isWorkingDay(date: DateInput): boolean {
    return this.#working(toDay(date, 'date'));
  }

  /** The first working day strictly after `date`. */
  nextWorkingDay(date: DateInput): IsoDate {
    return this.addWorkingDays(date, 1);
  }

  /** The n-th working day after `start` (never `start` itself; `start` for n = 0). */
  addWorkingDays(start: DateInput, n: number): IsoDate {
    checkCount(n);
    let day = toDay(start, 'from');
    for (let left = n; left > 0; ) {
      day++;
      if (this.#working(day)) left--;
    }
    return fromDayNumber(day);
  }

  /** The deadline of a time limit of n working days for something received at `received` (see the convention above). */
  deadline(received: DateInput, n: number): Deadline {
    const from = fromDayNumber(toDay(received, 'from'));
    const dueDate = this.addWorkingDays(from, n);
    const unknownYears = this.#unknownYears(from, dueDate);
    return { received: from, workingDays: n, dueDate, dueAt: endOfChinaDay(dueDate), provisional: unknownYears.length > 0, unknownYears };
  }

  /**
   * Working days after `from` up to and including `to` (0 when both are the same day). A `to`
   * before `from` is refused: for "review took N working days" it means bad data, not −N.
   * Counted arithmetically (weeks, then the exceptions in range), so long spans cost nothing.
   */
  workingDaysBetween(from: DateInput, to: DateInput): number {
    return this.count(from, to).workingDays;
  }

  count(from: DateInput, to: DateInput): WorkingDaysCount {
    const a = toDay(from, 'from');
    const b = toDay(to, 'to');
    if (b < a) {
      throw new GsError('GS_ERR_CALENDAR_RANGE_INVALID', { from: fromDayNumber(a), to: fromDayNumber(b) }, [
        { field: 'to', rule: 'notBefore', message: 'must not be before from', messageZh: '不能早于起始日期' },
      ]);
    }
    let working = weekdaysUpTo(b) - weekdaysUpTo(a);
    for (let i = lowerBound(this.#sorted, a + 1); i < this.#sorted.length && this.#sorted[i]! <= b; i++) {
      const n = this.#sorted[i]!;
      const weekday = weekdayOfDay(n) <= 5;
      const kind = this.#exceptions.get(n)!.kind;
      if (kind === 'holiday' && weekday) working--;
      if (kind === 'workday' && !weekday) working++;
    }
    const unknownYears = this.#unknownYears(fromDayNumber(a), fromDayNumber(b));
    return { from: fromDayNumber(a), to: fromDayNumber(b), workingDays: working, provisional: unknownYears.length > 0, unknownYears };
  }

  /** Years of the days after `from` up to `to` that the calendar does not know. */
  #unknownYears(from: IsoDate, to: IsoDate): number[] {
    if (to <= from) return [];
    const first = yearOf(fromDayNumber(dayNumber(from) + 1));
    const out: number[] = [];
    for (let y = first; y <= yearOf(to); y++) if (!this.#knownYears.has(y)) out.push(y);
    return out;
  }
}

/** The first index whose value is ≥ x. */
function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
