import { createHash } from 'node:crypto';
import type { CalendarException, IsoDate } from '../../lib/working-calendar.js';

/**
 * The State Council's national holiday arrangements (国务院办公厅关于 YYYY 年部分节假日安排的通知)
 * that govshare ships. Start-up loads each year into the calendar (see service.ts for the rules
 * that keep an operator's edits). Every holiday period is written as the notice writes it — first
 * and last day and the total it states ("共9天") — and every make-up working day (调休上班) as a
 * date; a test checks the expansion against those totals and weekdays.
 *
 * Only arrangements read from the notice itself go here: a year that is not published is left
 * out (the calendar then says the year is unknown and deadlines in it are provisional), never
 * guessed from the lunar calendar. The operator loads a newly published year with
 * `govshare calendar import` or `PUT /api/v1/calendar/years/{year}` (docs/calendar.md).
 */
export interface HolidayPeriod {
  readonly name: string;
  readonly first: IsoDate;
  readonly last: IsoDate;
  /** The total the notice states ("共N天"), checked against first…last. */
  readonly days: number;
}

export interface NationalArrangement {
  readonly year: number;
  readonly title: string;
  /** Where the text was read. */
  readonly sources: readonly string[];
  /** The date on the notice. */
  readonly issued: IsoDate;
  readonly holidays: readonly HolidayPeriod[];
  readonly workdays: readonly { readonly date: IsoDate; readonly name: string }[];
}

/** The name of a make-up working day of a holiday: 调休上班（春节）. */
const makeUp = (holiday: string): string => `调休上班（${holiday}）`;

export const NATIONAL_ARRANGEMENTS: readonly NationalArrangement[] = [
  {
    // Issued 2024-11-12 with the revised 《全国年节及纪念日放假办法》 (13 days of public holidays
    // from 2025: 春节 and 劳动节 one day longer). Text: Xinhua's release of 2024-11-12
    // ("新华社北京11月12日电"), as reprinted by several newspapers' sites; the State Council's page,
    // as open holiday datasets cite it: https://www.gov.cn/zhengce/content/202411/content_6986382.htm
    year: 2025,
    title: '国务院办公厅关于2025年部分节假日安排的通知',
    sources: ['https://www.gov.cn/zhengce/content/202411/content_6986382.htm'],
    issued: '2024-11-12',
    holidays: [
      // 一、元旦：1月1日（周三）放假1天，不调休。
      { name: '元旦', first: '2025-01-01', last: '2025-01-01', days: 1 },
      // 二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。
      { name: '春节', first: '2025-01-28', last: '2025-02-04', days: 8 },
      // 三、清明节：4月4日（周五）至6日（周日）放假，共3天。
      { name: '清明节', first: '2025-04-04', last: '2025-04-06', days: 3 },
      // 四、劳动节：5月1日（周四）至5日（周一）放假调休，共5天。
      { name: '劳动节', first: '2025-05-01', last: '2025-05-05', days: 5 },
      // 五、端午节：5月31日（周六）至6月2日（周一）放假，共3天。
      { name: '端午节', first: '2025-05-31', last: '2025-06-02', days: 3 },
      // 六、国庆节、中秋节：10月1日（周三）至8日（周三）放假调休，共8天。
      { name: '国庆节、中秋节', first: '2025-10-01', last: '2025-10-08', days: 8 },
    ],
    workdays: [
      // 1月26日（周日）、2月8日（周六）上班。
      { date: '2025-01-26', name: makeUp('春节') },
      { date: '2025-02-08', name: makeUp('春节') },
      // 4月27日（周日）上班。
      { date: '2025-04-27', name: makeUp('劳动节') },
      // 9月28日（周日）、10月11日（周六）上班。
      { date: '2025-09-28', name: makeUp('国庆节、中秋节') },
      { date: '2025-10-11', name: makeUp('国庆节、中秋节') },
    ],
  },
  {
    // Issued 2025-11-04. Text: Xinhua's release of 2025-11-04 ("新华社北京11月4日电"), as printed by
    // 光明网 https://politics.gmw.cn/2025-11/04/content_38391083.htm and 中山日报 (2025-11-05, A01);
    // the State Council's page, as open holiday datasets cite it:
    // https://www.gov.cn/zhengce/content/202511/content_7047090.htm
    year: 2026,
    title: '国务院办公厅关于2026年部分节假日安排的通知',
    sources: ['https://www.gov.cn/zhengce/content/202511/content_7047090.htm', 'https://politics.gmw.cn/2025-11/04/content_38391083.htm'],
    issued: '2025-11-04',
    holidays: [
      // 一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。
      { name: '元旦', first: '2026-01-01', last: '2026-01-03', days: 3 },
      // 二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。
      { name: '春节', first: '2026-02-15', last: '2026-02-23', days: 9 },
      // 三、清明节：4月4日（周六）至6日（周一）放假，共3天。
      { name: '清明节', first: '2026-04-04', last: '2026-04-06', days: 3 },
      // 四、劳动节：5月1日（周五）至5日（周二）放假调休，共5天。
      { name: '劳动节', first: '2026-05-01', last: '2026-05-05', days: 5 },
      // 五、端午节：6月19日（周五）至21日（周日）放假，共3天。
      { name: '端午节', first: '2026-06-19', last: '2026-06-21', days: 3 },
      // 六、中秋节：9月25日（周五）至27日（周日）放假，共3天。
      { name: '中秋节', first: '2026-09-25', last: '2026-09-27', days: 3 },
      // 七、国庆节：10月1日（周四）至7日（周三）放假调休，共7天。
      { name: '国庆节', first: '2026-10-01', last: '2026-10-07', days: 7 },
    ],
    workdays: [
      // 1月4日（周日）上班。
      { date: '2026-01-04', name: makeUp('元旦') },
      // 2月14日（周六）、2月28日（周六）上班。
      { date: '2026-02-14', name: makeUp('春节') },
      { date: '2026-02-28', name: makeUp('春节') },
      // 5月9日（周六）上班。
      { date: '2026-05-09', name: makeUp('劳动节') },
      // 9月20日（周日）、10月10日（周六）上班。
      { date: '2026-09-20', name: makeUp('国庆节') },
      { date: '2026-10-10', name: makeUp('国庆节') },
    ],
  },
  // 2027: not published as far as could be established when this was written (2026-12-01); the
  // operator imports it once the State Council publishes it (docs/calendar.md).
];

/** Every day of a holiday period, in order. */
function daysOf(period: HolidayPeriod): IsoDate[] {
  const out: IsoDate[] = [];
  for (let ms = Date.parse(`${period.first}T00:00:00Z`); ms <= Date.parse(`${period.last}T00:00:00Z`); ms += 86_400_000) {
    out.push(new Date(ms).toISOString().slice(0, 10));
  }
  return out;
}

/** A year's arrangement as calendar exceptions, in date order. */
export function exceptionsOf(arrangement: NationalArrangement): CalendarException[] {
  const days: CalendarException[] = [
    ...arrangement.holidays.flatMap((p) => daysOf(p).map((date) => ({ date, kind: 'holiday' as const, name: p.name }))),
    ...arrangement.workdays.map((w) => ({ date: w.date, kind: 'workday' as const, name: w.name })),
  ];
  return days.sort((a, b) => (a.date < b.date ? -1 : 1));
}

/**
 * A fingerprint of what a year's shipped arrangement says. Start-up compares it with the one it
 * loaded, so a corrected arrangement in a later govshare release is noticed (and applied unless
 * the operator changed that year).
 */
export function revisionOf(arrangement: NationalArrangement): string {
  const canonical = JSON.stringify(exceptionsOf(arrangement).map((e) => [e.date, e.kind, e.name]));
  return `${arrangement.year}:${createHash('sha256').update(canonical).digest('hex').slice(0, 16)}`;
}
