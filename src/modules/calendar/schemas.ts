import { Type, type Static } from 'typebox';
import { CALENDAR_DAY_KINDS, DAY_STATUSES, MAX_NAME_LENGTH, MAX_WORKING_DAYS, MAX_YEAR, MIN_YEAR } from '../../lib/working-calendar.js';
import { DateTime, literals } from '../../server/schema-kit.js';
import { CALENDAR_SOURCES } from './store.js';

/** The shape of a date; whether the day exists (2026-02-30) is checked by the calendar, which names the field. */
const DATE_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}$';

export const CalendarDate = Type.String({ pattern: DATE_PATTERN, description: 'A calendar date YYYY-MM-DD in China Standard Time (Asia/Shanghai)' });
const DateOrInstant = Type.String({
  minLength: 10,
  maxLength: 40,
  description: 'A date YYYY-MM-DD, or a date-time with its offset (2026-05-01T00:30:00+08:00), taken as the date it falls on in China Standard Time',
});
const Year = Type.Integer({ minimum: MIN_YEAR, maximum: MAX_YEAR });

export const DateParams = Type.Object({ date: CalendarDate }, { additionalProperties: false });
export const YearParams = Type.Object({ year: Year }, { additionalProperties: false });

const Name = Type.String({ minLength: 1, maxLength: MAX_NAME_LENGTH, description: 'What the day is: 春节, 国庆节, 调休上班, a local holiday' });
const Kind = literals(CALENDAR_DAY_KINDS, { description: '`holiday`: not a working day; `workday`: a make-up working day (调休上班), only on a Saturday or Sunday' });

export const CalendarDaySet = Type.Object({ kind: Kind, name: Name }, { additionalProperties: false });
export type CalendarDaySet = Static<typeof CalendarDaySet>;

export const CalendarImportDay = Type.Object({ date: CalendarDate, kind: Kind, name: Name }, { additionalProperties: false });

export const CalendarImport = Type.Object(
  {
    days: Type.Array(CalendarImportDay, { minItems: 1, maxItems: 366, description: 'Every holiday (each day of each period, weekends inside a period included) and every make-up working day of the year' }),
    source: Type.Optional(Type.String({ maxLength: 500, description: 'What the arrangement was taken from: the notice title or address' })),
  },
  { additionalProperties: false },
);
export type CalendarImport = Static<typeof CalendarImport>;

export const DeadlineQuery = Type.Object(
  {
    from: DateOrInstant,
    days: Type.Integer({ minimum: 0, maximum: MAX_WORKING_DAYS, description: 'The time limit in working days (0: the end of the day received)' }),
  },
  { additionalProperties: false },
);

export const BetweenQuery = Type.Object({ from: DateOrInstant, to: DateOrInstant }, { additionalProperties: false });

const UnknownYears = Type.Array(Type.Integer(), { description: 'Counted years whose arrangement is not known: weekends only there' });

export const DeadlineView = Type.Object({
  received: CalendarDate,
  workingDays: Type.Integer(),
  dueDate: CalendarDate,
  dueAt: Type.String({ format: 'date-time', description: 'The end of the due date: due strictly before this instant (00:00 +08:00 of the next day)' }),
  provisional: Type.Boolean({ description: 'True when a counted day lies in a year whose arrangement is not published here: the deadline may still move' }),
  unknownYears: UnknownYears,
});

export const WorkingDaysView = Type.Object({
  from: CalendarDate,
  to: CalendarDate,
  workingDays: Type.Integer({ description: 'Working days after `from` up to and including `to`' }),
  provisional: Type.Boolean(),
  unknownYears: UnknownYears,
});

export const CalendarEntryView = Type.Object({
  date: CalendarDate,
  weekday: Type.Integer({ minimum: 1, maximum: 7, description: 'ISO weekday, 1 Monday … 7 Sunday' }),
  kind: Kind,
  name: Type.String(),
  source: literals(CALENDAR_SOURCES, { description: '`national`: the shipped State Council arrangement; `operator`: set or imported by an operator' }),
  changedBy: Type.String(),
  changedAt: DateTime,
});

export const CalendarDayView = Type.Object({
  date: CalendarDate,
  weekday: Type.Integer({ minimum: 1, maximum: 7 }),
  working: Type.Boolean(),
  status: literals(DAY_STATUSES),
  name: Type.Union([Type.String(), Type.Null()]),
  knownYear: Type.Boolean({ description: "False: the year's arrangement is not published here; the answer follows the weekend rule only" }),
  entry: Type.Union([CalendarEntryView, Type.Null()]),
});

const NullableDateTime = Type.Union([DateTime, Type.Null()]);

const yearInfo = {
  year: Type.Integer(),
  known: Type.Boolean(),
  arrangement: Type.Union([literals(CALENDAR_SOURCES), Type.Null()]),
  source: Type.Union([Type.String(), Type.Null()]),
  nationalRevision: Type.Union([Type.String(), Type.Null()]),
  loadedBy: Type.Union([Type.String(), Type.Null()]),
  loadedAt: NullableDateTime,
  operatorEditedAt: NullableDateTime,
  entries: Type.Integer(),
};

export const CalendarYearInfoView = Type.Object(yearInfo);

export const CalendarYearView = Type.Object({
  ...yearInfo,
  workingDays: Type.Integer({ description: 'Working days in the year under this calendar' }),
  days: Type.Array(CalendarEntryView),
});

export const CoverageView = Type.Object({
  timeZone: Type.String(),
  today: CalendarDate,
  knownYears: Type.Array(Type.Integer(), { description: 'Years whose whole arrangement is loaded; beyond them, weekends only' }),
  years: Type.Array(CalendarYearInfoView),
});
