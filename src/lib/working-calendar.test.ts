import { describe, expect, it } from 'vitest';
import { GsError } from './errors.js';
import {
  chinaDateOf,
  endOfChinaDay,
  exceptionProblem,
  formatChinaInstant,
  MAX_WORKING_DAYS,
  parseDateOrInstant,
  parseIsoDate,
  startOfChinaDay,
  weekdayOf,
  WorkingCalendar,
  type CalendarException,
} from './working-calendar.js';

function refusedWith(fn: () => unknown, code: string): GsError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GsError);
    expect((e as GsError).code).toBe(code);
    return e as GsError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

// A small made-up year, so these tests do not depend on the shipped data (which has its own test):
// 2030-10-01 (Tue) … 10-07 (Mon) a holiday week, Sunday 09-29 and Saturday 10-12 make-up working days.
const HOLIDAY_WEEK: CalendarException[] = [
  ...['01', '02', '03', '04', '05', '06', '07'].map((d) => ({ date: `2030-10-${d}`, kind: 'holiday' as const, name: '国庆节' })),
  { date: '2030-09-29', kind: 'workday', name: '调休上班' },
  { date: '2030-10-12', kind: 'workday', name: '调休上班' },
];
const cal = new WorkingCalendar(HOLIDAY_WEEK, [2030]);

describe('dates', () => {
  it('knows the weekday of a date (1 Monday … 7 Sunday), far from 1970 too', () => {
    expect(weekdayOf('1970-01-01')).toBe(4);
    expect(weekdayOf('2026-12-01')).toBe(2);
    expect(weekdayOf('2030-10-01')).toBe(2);
    expect(weekdayOf('1900-01-01')).toBe(1);
    expect(weekdayOf('2999-12-31')).toBe(2);
  });

  it('refuses malformed and impossible dates, naming the field', () => {
    for (const bad of ['2026-2-1', '2026/02/01', '20260201', '2026-02-30', '2026-13-01', '2025-02-29', '1899-12-31', '3000-01-01', '', ' 2026-02-01']) {
      const e = refusedWith(() => parseIsoDate(bad, 'body.date'), 'GS_ERR_CALENDAR_DATE_INVALID');
      expect(e.params.field).toBe('body.date');
      expect(e.fields?.[0]?.field).toBe('body.date');
      expect(e.message).toContain(bad === '' ? 'body.date' : bad);
    }
    expect(parseIsoDate('2024-02-29')).toBe('2024-02-29');
    refusedWith(() => parseIsoDate(20260201), 'GS_ERR_CALENDAR_DATE_INVALID');
  });

  it('puts the day boundary at midnight China time, not UTC or the server zone', () => {
    // 00:30 on 1 May in Beijing is 16:30 on 30 April in UTC: it is 1 May.
    expect(chinaDateOf(new Date('2026-05-01T00:30:00+08:00'))).toBe('2026-05-01');
    expect(chinaDateOf(new Date('2026-04-30T16:30:00Z'))).toBe('2026-05-01');
    expect(chinaDateOf(new Date('2026-04-30T15:59:59.999Z'))).toBe('2026-04-30');
    expect(parseDateOrInstant('2026-05-01T00:30:00+08:00')).toBe('2026-05-01');
    expect(parseDateOrInstant('2026-04-30T16:30Z')).toBe('2026-05-01');
    expect(parseDateOrInstant('2026-04-30T23:59:59-05:00')).toBe('2026-05-01');
    expect(parseDateOrInstant('2026-05-01')).toBe('2026-05-01');
    expect(startOfChinaDay('2026-05-01').toISOString()).toBe('2026-04-30T16:00:00.000Z');
    expect(endOfChinaDay('2026-05-01').toISOString()).toBe('2026-05-01T16:00:00.000Z');
    expect(formatChinaInstant(endOfChinaDay('2026-12-31'))).toBe('2027-01-01T00:00:00+08:00');
  });

  it('refuses an instant without an offset (it would be read in some machine zone) or out of range', () => {
    for (const bad of ['2026-05-01T00:30:00', '2026-05-01T25:00:00+08:00', '2026-05-01T10:61+08:00', '2026-05-01T10:00+24:00', 'yesterday', '2026-02-30T10:00:00Z']) {
      const e = refusedWith(() => parseDateOrInstant(bad, 'querystring.from'), 'GS_ERR_CALENDAR_DATE_INVALID');
      expect(e.params.field).toBe('querystring.from');
    }
  });

  it('treats an event in the first minutes of 1 May as received on 1 May (a holiday), starting the count on the next working day', () => {
    const may = new WorkingCalendar([...['01', '02', '03', '04', '05'].map((d) => ({ date: `2026-05-${d}`, kind: 'holiday' as const, name: '劳动节' })), { date: '2026-05-09', kind: 'workday', name: '调休上班' }], [2026]);
    const d = may.deadline(new Date('2026-04-30T16:30:00Z'), 1);
    expect(d.received).toBe('2026-05-01');
    expect(d.dueDate).toBe('2026-05-06');
    // received 30 April (a Thursday, a working day) instead: the first working day after it is 6 May too
    expect(may.deadline(new Date('2026-04-30T15:59:00Z'), 1).received).toBe('2026-04-30');
  });
});

describe('working days', () => {
  it('has Monday–Friday working and weekends off when no exception says otherwise', () => {
    const plain = WorkingCalendar.WEEKENDS_ONLY;
    expect(['2031-03-03', '2031-03-04', '2031-03-05', '2031-03-06', '2031-03-07'].map((d) => plain.isWorkingDay(d))).toEqual([true, true, true, true, true]);
    expect(plain.isWorkingDay('2031-03-08')).toBe(false);
    expect(plain.isWorkingDay('2031-03-09')).toBe(false);
    expect(plain.day('2031-03-08')).toEqual({ date: '2031-03-08', weekday: 6, working: false, status: 'weekend', name: null, knownYear: false });
  });

  it('takes holidays off, also on weekdays, and works on make-up Saturdays and Sundays (调休)', () => {
    expect(cal.isWorkingDay('2030-10-01')).toBe(false);
    expect(cal.isWorkingDay('2030-10-07')).toBe(false); // a Monday in the holiday week
    expect(cal.isWorkingDay('2030-09-29')).toBe(true); // a Sunday, worked
    expect(cal.isWorkingDay('2030-10-12')).toBe(true); // a Saturday, worked
    expect(cal.isWorkingDay('2030-10-13')).toBe(false); // the Sunday after stays off
    expect(cal.day('2030-10-12')).toMatchObject({ status: 'makeUpWorkday', name: '调休上班', working: true, weekday: 6, knownYear: true });
    expect(cal.day('2030-10-03')).toMatchObject({ status: 'holiday', name: '国庆节', working: false });
    expect(cal.day(new Date('2030-10-07T23:00:00+08:00')).date).toBe('2030-10-07');
  });

  it('finds the next working day strictly after a date, over a holiday week', () => {
    expect(cal.nextWorkingDay('2030-09-30')).toBe('2030-10-08');
    expect(cal.nextWorkingDay('2030-09-28')).toBe('2030-09-29'); // Saturday → the make-up Sunday
    expect(cal.nextWorkingDay('2030-10-08')).toBe('2030-10-09');
    expect(cal.nextWorkingDay('2030-10-11')).toBe('2030-10-12'); // Friday → the make-up Saturday
  });

  it('counts a deadline from the next working day and ends it at the end of the n-th working day, China time', () => {
    // received Monday 30 Sept; 1 Oct – 7 Oct off; working days 8, 9, 10, 11 and Saturday 12 Oct
    const d = cal.deadline('2030-09-30', 5);
    expect(d).toMatchObject({ received: '2030-09-30', workingDays: 5, dueDate: '2030-10-12', provisional: false, unknownYears: [] });
    expect(d.dueAt.toISOString()).toBe('2030-10-12T16:00:00.000Z');
    expect(formatChinaInstant(d.dueAt)).toBe('2030-10-13T00:00:00+08:00');
    // received on a holiday: counting starts the same way
    expect(cal.addWorkingDays('2030-10-03', 1)).toBe('2030-10-08');
    // received on a working day at 23:59: that day still does not count
    expect(cal.deadline(new Date('2030-10-08T23:59:00+08:00'), 1).dueDate).toBe('2030-10-09');
  });

  it('gives n = 0 as the end of the day received, and refuses a negative, fractional or huge n', () => {
    expect(cal.addWorkingDays('2030-10-05', 0)).toBe('2030-10-05');
    expect(cal.deadline('2030-10-05', 0).dueAt.toISOString()).toBe('2030-10-05T16:00:00.000Z');
    for (const n of [-1, 1.5, Number.NaN, MAX_WORKING_DAYS + 1]) {
      const e = refusedWith(() => cal.addWorkingDays('2030-10-05', n), 'GS_ERR_CALENDAR_DAYS_INVALID');
      expect(e.params.max).toBe(MAX_WORKING_DAYS);
    }
  });

  it('counts working days between two dates: after the first, up to and including the second', () => {
    expect(cal.workingDaysBetween('2030-09-30', '2030-09-30')).toBe(0);
    // Sun 29 Sept and Sat 12 Oct (make-up), Mon 30 Sept, Tue 8 – Fri 11 Oct, Mon 14 Oct
    expect(cal.workingDaysBetween('2030-09-27', '2030-10-14')).toBe(8);
    expect(cal.workingDaysBetween('2030-09-30', '2030-10-07')).toBe(0);
    expect(cal.workingDaysBetween(new Date('2030-09-30T10:00:00+08:00'), new Date('2030-10-12T18:00:00+08:00'))).toBe(5);
    const e = refusedWith(() => cal.workingDaysBetween('2030-10-12', '2030-09-30'), 'GS_ERR_CALENDAR_RANGE_INVALID');
    expect(e.params).toEqual({ from: '2030-10-12', to: '2030-09-30' });
  });

  it('is consistent: the working days between D and its due date are the n of the time limit', () => {
    for (const start of ['2030-09-20', '2030-09-28', '2030-09-30', '2030-10-04', '2030-10-11', '2030-12-30']) {
      for (const n of [0, 1, 2, 5, 10, 15, 40]) {
        const due = cal.addWorkingDays(start, n);
        expect(cal.workingDaysBetween(start, due), `${start} + ${n}`).toBe(n);
        if (n > 0) expect(cal.isWorkingDay(due)).toBe(true);
      }
    }
  });

  it('counts long spans exactly (centuries), agreeing with a day-by-day walk', () => {
    const plain = WorkingCalendar.WEEKENDS_ONLY;
    // 2000-01-03 is a Monday; 52 weeks later, 260 working days
    expect(plain.workingDaysBetween('2000-01-02', '2000-12-31')).toBe(260);
    // 400 Gregorian years are exactly 20,871 weeks
    expect(plain.workingDaysBetween('1999-12-31', '2399-12-31')).toBe(20_871 * 5);
    // the holiday week removes 5 weekdays and the two make-up days add 2: 3 fewer working days in 2030
    expect(cal.addWorkingDays('2030-01-01', 9_000)).toBe(plain.addWorkingDays('2030-01-01', 9_003));
    const due = cal.addWorkingDays('2030-01-01', MAX_WORKING_DAYS);
    expect(cal.workingDaysBetween('2030-01-01', due)).toBe(MAX_WORKING_DAYS);
    // the arithmetic count agrees with walking the days one by one over 60 years around the exceptions
    let walked = 0;
    for (let ms = Date.parse('2000-01-02T00:00:00Z'); ms <= Date.parse('2060-01-01T00:00:00Z'); ms += 86_400_000) {
      if (cal.isWorkingDay(new Date(ms).toISOString().slice(0, 10))) walked++;
    }
    expect(cal.workingDaysBetween('2000-01-01', '2060-01-01')).toBe(walked);
  });
});

describe('coverage', () => {
  it('falls back to weekends beyond the known years and marks such deadlines provisional', () => {
    expect(cal.knownYears).toEqual([2030]);
    // 15 working days from 2030-12-20 reach into 2031, which the calendar does not know
    const d = cal.deadline('2030-12-20', 15);
    expect(d.provisional).toBe(true);
    expect(d.unknownYears).toEqual([2031]);
    expect(d.dueDate).toBe('2031-01-10'); // weekends only in 2031: 23 Dec … 10 Jan
    expect(cal.day('2031-01-01')).toMatchObject({ working: true, knownYear: false, status: 'workday' });
    // a deadline whose counted days are all in the known year is firm, whatever year D is in
    expect(cal.deadline('2029-12-31', 2)).toMatchObject({ dueDate: '2030-01-02', provisional: false, unknownYears: [] });
    // … but counting Monday 2029-12-31 makes it provisional
    expect(cal.deadline('2029-12-30', 2)).toMatchObject({ dueDate: '2030-01-01', provisional: true, unknownYears: [2029] });
    // n = 0 counts no day at all
    expect(cal.deadline('2040-01-01', 0).provisional).toBe(false);
    const between = cal.count('2030-12-01', '2032-01-05');
    expect(between.unknownYears).toEqual([2031, 2032]);
  });
});

describe('exception rules', () => {
  it('accepts a holiday on any day and a make-up working day on a weekend', () => {
    expect(exceptionProblem({ date: '2026-02-15', kind: 'holiday', name: '春节' })).toBeUndefined(); // a Sunday
    expect(exceptionProblem({ date: '2026-02-16', kind: 'holiday', name: '春节' })).toBeUndefined();
    expect(exceptionProblem({ date: '2026-02-14', kind: 'workday', name: '调休上班' })).toBeUndefined();
  });

  it('refuses a make-up working day on a weekday, an unknown kind, a missing name or a bad date', () => {
    expect(exceptionProblem({ date: '2026-02-13', kind: 'workday', name: '调休上班' })).toMatchObject({ field: 'kind', rule: 'workdayOnWeekend' });
    expect(exceptionProblem({ date: '2026-02-14', kind: 'day-off', name: 'x' })).toMatchObject({ field: 'kind', rule: 'enum' });
    expect(exceptionProblem({ date: '2026-02-14', kind: 'holiday', name: '   ' })).toMatchObject({ field: 'name', rule: 'required' });
    expect(exceptionProblem({ date: '2026-02-14', kind: 'holiday', name: '节'.repeat(51) })).toMatchObject({ field: 'name', rule: 'maxLength' });
    expect(exceptionProblem({ date: '2026-02-30', kind: 'holiday', name: '春节' })).toMatchObject({ field: 'date' });
    expect(() => new WorkingCalendar([{ date: '2026-02-13', kind: 'workday', name: 'x' }], [])).toThrow(/weekday/);
    expect(() => new WorkingCalendar([{ date: '2026-02-14', kind: 'workday', name: 'x' }, { date: '2026-02-14', kind: 'holiday', name: 'y' }], [])).toThrow(/two/);
  });
});
