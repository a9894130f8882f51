import { describe, expect, it } from 'vitest';
import { exceptionProblem, weekdayOf, WorkingCalendar } from '../../lib/working-calendar.js';
import { exceptionsOf, NATIONAL_ARRANGEMENTS, revisionOf, type NationalArrangement } from './national-arrangements.js';

function arrangement(year: number): NationalArrangement {
  const a = NATIONAL_ARRANGEMENTS.find((x) => x.year === year);
  if (!a) throw new Error(`no shipped arrangement for ${year}`);
  return a;
}

const ZH_WEEKDAY = ['', '周一', '周二', '周三', '周四', '周五', '周六', '周日'];
const zh = (date: string): string => ZH_WEEKDAY[weekdayOf(date)]!;

const shipped = new WorkingCalendar(NATIONAL_ARRANGEMENTS.flatMap(exceptionsOf), NATIONAL_ARRANGEMENTS.map((a) => a.year));

describe('the shipped national arrangements', () => {
  it('ship 2025 and 2026, and not 2027 (unpublished when written)', () => {
    expect(NATIONAL_ARRANGEMENTS.map((a) => a.year)).toEqual([2025, 2026]);
    for (const a of NATIONAL_ARRANGEMENTS) {
      expect(a.title).toBe(`国务院办公厅关于${a.year}年部分节假日安排的通知`);
      expect(a.sources.some((s) => s.startsWith('https://www.gov.cn/'))).toBe(true);
      expect(a.issued < `${a.year}-01-01`).toBe(true);
    }
  });

  it('obey the rules every calendar entry obeys, one entry per date, all inside their year', () => {
    for (const a of NATIONAL_ARRANGEMENTS) {
      const days = exceptionsOf(a);
      expect(days.map((d) => exceptionProblem(d)).filter(Boolean)).toEqual([]);
      expect(new Set(days.map((d) => d.date)).size).toBe(days.length);
      expect(days.every((d) => d.date.startsWith(`${a.year}-`))).toBe(true);
    }
  });

  it('expand every holiday period to exactly the total the notice states (共N天)', () => {
    for (const a of NATIONAL_ARRANGEMENTS) {
      const days = exceptionsOf(a).filter((d) => d.kind === 'holiday');
      for (const p of a.holidays) expect(days.filter((d) => d.name === p.name), `${a.year} ${p.name}`).toHaveLength(p.days);
    }
  });

  it('2026: 春节 is the nine days 15–23 February, worked on Saturdays 14 and 28 February', () => {
    const spring = exceptionsOf(arrangement(2026)).filter((d) => d.name === '春节');
    expect(spring.map((d) => d.date)).toEqual(['2026-02-15', '2026-02-16', '2026-02-17', '2026-02-18', '2026-02-19', '2026-02-20', '2026-02-21', '2026-02-22', '2026-02-23']);
    // "2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）"
    expect([zh('2026-02-15'), zh('2026-02-23')]).toEqual(['周日', '周一']);
    expect(shipped.day('2026-02-14')).toMatchObject({ working: true, status: 'makeUpWorkday', weekday: 6 });
    expect(shipped.day('2026-02-28')).toMatchObject({ working: true, status: 'makeUpWorkday', weekday: 6 });
    expect(shipped.nextWorkingDay('2026-02-13')).toBe('2026-02-14');
    expect(shipped.nextWorkingDay('2026-02-14')).toBe('2026-02-24');
  });

  it('2026: every make-up working day is the Saturday or Sunday the notice names, and a working day', () => {
    const workdays = arrangement(2026).workdays.map((w) => [w.date, zh(w.date)]);
    // 1月4日（周日）；2月14日（周六）、2月28日（周六）；5月9日（周六）；9月20日（周日）、10月10日（周六）
    expect(workdays).toEqual([
      ['2026-01-04', '周日'],
      ['2026-02-14', '周六'],
      ['2026-02-28', '周六'],
      ['2026-05-09', '周六'],
      ['2026-09-20', '周日'],
      ['2026-10-10', '周六'],
    ]);
    for (const [date] of workdays) expect(shipped.isWorkingDay(date!)).toBe(true);
  });

  it('2026: the other periods start and end on the weekdays the notice gives', () => {
    const ends = arrangement(2026).holidays.map((p) => [p.name, zh(p.first), zh(p.last), p.days]);
    expect(ends).toEqual([
      ['元旦', '周四', '周六', 3],
      ['春节', '周日', '周一', 9],
      ['清明节', '周六', '周一', 3],
      ['劳动节', '周五', '周二', 5],
      ['端午节', '周五', '周日', 3],
      ['中秋节', '周五', '周日', 3],
      ['国庆节', '周四', '周三', 7],
    ]);
    expect(exceptionsOf(arrangement(2026)).filter((d) => d.kind === 'holiday')).toHaveLength(33);
  });

  it('2025: the notice weekdays, 春节 from 除夕 28 January for 8 days, 国庆节 and 中秋节 together for 8', () => {
    expect(arrangement(2025).holidays.map((p) => [p.name, zh(p.first), zh(p.last), p.days])).toEqual([
      ['元旦', '周三', '周三', 1],
      ['春节', '周二', '周二', 8],
      ['清明节', '周五', '周日', 3],
      ['劳动节', '周四', '周一', 5],
      ['端午节', '周六', '周一', 3],
      ['国庆节、中秋节', '周三', '周三', 8],
    ]);
    expect(arrangement(2025).workdays.map((w) => [w.date, zh(w.date)])).toEqual([
      ['2025-01-26', '周日'],
      ['2025-02-08', '周六'],
      ['2025-04-27', '周日'],
      ['2025-09-28', '周日'],
      ['2025-10-11', '周六'],
    ]);
  });

  it('take off exactly the 13 days of public holidays of the 2024 放假办法 net of make-up days, leaving 248 working days each year', () => {
    for (const year of [2025, 2026]) {
      const days = exceptionsOf(arrangement(year));
      const weekdayHolidays = days.filter((d) => d.kind === 'holiday' && weekdayOf(d.date) <= 5).length;
      const makeUp = days.filter((d) => d.kind === 'workday').length;
      expect(weekdayHolidays - makeUp, String(year)).toBe(13);
      expect(shipped.workingDaysBetween(`${year - 1}-12-31`, `${year}-12-31`), String(year)).toBe(248);
    }
  });

  it('give a share request received on 30 September 2026 its 10-working-day review deadline after 国庆节', () => {
    // 1–7 Oct off; working days 8, 9, Sat 10 (make-up), 12, 13, 14, 15, 16, 19, 20
    const d = shipped.deadline('2026-09-30', 10);
    expect(d).toMatchObject({ dueDate: '2026-10-20', provisional: false });
    expect(d.dueAt.toISOString()).toBe('2026-10-20T16:00:00.000Z');
  });

  it('have a stable revision per year that changes with the content', () => {
    const a = arrangement(2026);
    expect(revisionOf(a)).toBe(revisionOf({ ...a }));
    expect(revisionOf(a)).toMatch(/^2026:[0-9a-f]{16}$/);
    expect(revisionOf({ ...a, workdays: a.workdays.slice(1) })).not.toBe(revisionOf(a));
  });
});
