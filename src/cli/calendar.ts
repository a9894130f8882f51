import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { GsError } from '../lib/errors.js';
import { MAX_WORKING_DAYS, MAX_YEAR, MIN_YEAR, weekdayOf, type IsoDate } from '../lib/working-calendar.js';
import type { CalendarYear } from '../modules/calendar/service.js';
import { action, configFrom, print, runOperation, table } from './context.js';

const ZH_WEEKDAYS = ['', '周一', '周二', '周三', '周四', '周五', '周六', '周日'];
const zhWeekday = (date: IsoDate): string => ZH_WEEKDAYS[weekdayOf(date)] ?? '';

function parseYear(raw: string): number {
  if (!/^\d{4}$/.test(raw)) throw new GsError('GS_ERR_CALENDAR_YEAR_INVALID', { year: raw, min: MIN_YEAR, max: MAX_YEAR }, [{ field: '--year', rule: 'range', message: `a year from ${MIN_YEAR} to ${MAX_YEAR}` }]);
  return Number(raw);
}

function parseDays(raw: string): number {
  if (!/^\d{1,6}$/.test(raw)) {
    throw new GsError('GS_ERR_CALENDAR_DAYS_INVALID', { days: raw, max: MAX_WORKING_DAYS }, [{ field: '--days', rule: 'range', message: `a whole number from 0 to ${MAX_WORKING_DAYS}` }]);
  }
  return Number(raw);
}

function fileError(path: string, reason: string, reasonZh: string): GsError {
  return new GsError('GS_ERR_CALENDAR_FILE', { path, reason, reasonZh });
}

/**
 * A year's arrangement from a JSON file: `{ "year": 2027, "source": "…", "days": [{ "date",
 * "kind", "name" }, …] }`, or just the array of days with `--year`. The entries themselves are
 * checked by the platform, which reports every bad one.
 */
export function readArrangementFile(file: string, yearOption: number | undefined): { year: number; source?: string; days: unknown[] } {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw fileError(path, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message, (e as NodeJS.ErrnoException).code === 'ENOENT' ? '文件不存在' : (e as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw fileError(path, `not valid JSON (${(e as Error).message})`, `不是合法的 JSON（${(e as Error).message}）`);
  }
  const body = Array.isArray(parsed) ? { days: parsed } : parsed;
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { days?: unknown }).days)) {
    throw fileError(path, 'it must hold an object with a "days" array, or an array of days', '文件内容应为含 "days" 数组的对象，或日期条目数组');
  }
  const { year: fileYear, source, days } = body as { year?: unknown; source?: unknown; days: unknown[] };
  if (fileYear !== undefined && (typeof fileYear !== 'number' || !Number.isInteger(fileYear))) throw fileError(path, '"year" must be a whole number', '"year" 应为整数');
  if (source !== undefined && typeof source !== 'string') throw fileError(path, '"source" must be text', '"source" 应为文本');
  if (fileYear !== undefined && yearOption !== undefined && fileYear !== yearOption) {
    throw fileError(path, `the file is for ${fileYear}, --year says ${yearOption}`, `文件中的年份为 ${fileYear}，与 --year ${yearOption} 不一致`);
  }
  const year = yearOption ?? (fileYear as number | undefined);
  if (year === undefined) throw fileError(path, 'it names no year: add "year" to the file or give --year', '文件未注明年份：请在文件中加入 "year" 或使用 --year');
  return { year, days, ...(typeof source === 'string' ? { source } : {}) };
}

function describeYear(y: CalendarYear): string {
  const head = y.known
    ? `${y.year}: ${y.arrangement === 'national' ? 'national arrangement' : 'arrangement imported by an operator'}${y.source ? ` (${y.source})` : ''} · ${y.workingDays} working days`
    : `${y.year}: no arrangement published here — weekends only; deadlines in ${y.year} are provisional (load it with: govshare calendar import FILE)`;
  if (y.days.length === 0) return `${head}\n(no holidays or make-up working days)`;
  const rows = y.days.map((d) => [d.date, zhWeekday(d.date), d.kind === 'holiday' ? 'holiday' : 'workday (调休)', d.name, d.source, d.changedBy]);
  return `${head}\n${table(['date', 'day', 'kind', 'name', 'source', 'changed by'], rows)}`;
}

export function registerCalendar(program: Command): void {
  const calendar = program.command('calendar').description('the working-day calendar (工作日历): holidays, make-up working days, deadlines');

  calendar
    .command('list')
    .description("a year's holidays and make-up working days")
    .option('--year <year>', 'the year (default: this year, China time)')
    .action(
      action(async (opts: { year?: string }, command: Command) => {
        const y = await runOperation(configFrom(command), 'calendarList', opts.year === undefined ? {} : { year: parseYear(opts.year) });
        print(command, y, () => describeYear(y));
      }),
    );

  calendar
    .command('set <date>')
    .description('make a day a holiday or a make-up working day (调休上班, a Saturday or Sunday)')
    .option('--holiday', 'a day off')
    .option('--workday', 'a make-up working day')
    .requiredOption('--name <name>', 'what the day is, e.g. 春节, 调休上班, a local holiday')
    .action(
      action(async (date: string, opts: { holiday?: boolean; workday?: boolean; name: string }, command: Command) => {
        if (Boolean(opts.holiday) === Boolean(opts.workday)) {
          throw new GsError('GS_ERR_CALENDAR_ENTRY_INVALID', { date, field: 'kind', reason: 'give exactly one of --holiday and --workday', reasonZh: '--holiday 与 --workday 须且只能指定一个' });
        }
        const d = await runOperation(configFrom(command), 'calendarSet', { date, kind: opts.holiday ? 'holiday' : 'workday', name: opts.name });
        print(command, d, () => `govshare: ${d.date} (${zhWeekday(d.date)}) is now ${d.working ? 'a make-up working day' : 'a holiday'}: ${d.name ?? ''}.`);
      }),
    );

  calendar
    .command('clear <date>')
    .description("remove a day's entry: it follows the weekend rule again")
    .action(
      action(async (date: string, _opts: unknown, command: Command) => {
        const d = await runOperation(configFrom(command), 'calendarClear', { date });
        print(command, d, () => `govshare: ${d.date} (${zhWeekday(d.date)}) cleared; it is ${d.working ? 'a working day' : 'a weekend day'}.`);
      }),
    );

  calendar
    .command('import <file>')
    .description("replace a year's arrangement with the days in a JSON file (all or nothing; docs/calendar.md)")
    .option('--year <year>', 'the year, if the file does not say')
    .action(
      action(async (file: string, opts: { year?: string }, command: Command) => {
        const input = readArrangementFile(file, opts.year === undefined ? undefined : parseYear(opts.year));
        const y = await runOperation(configFrom(command), 'calendarImport', input);
        print(command, y, () => `govshare: imported ${y.entries} days for ${y.year} (${y.workingDays} working days).`);
      }),
    );

  calendar
    .command('deadline')
    .description('the deadline of a time limit in working days, counted from the next working day after --from')
    .requiredOption('--from <date>', 'the day received: YYYY-MM-DD, or a date-time with its offset')
    .requiredOption('--days <n>', 'the time limit in working days')
    .action(
      action(async (opts: { from: string; days: string }, command: Command) => {
        const d = await runOperation(configFrom(command), 'calendarDeadline', { from: opts.from, days: parseDays(opts.days) });
        print(command, d, () =>
          [
            `${d.workingDays} working days from ${d.received}: due by the end of ${d.dueDate} (${zhWeekday(d.dueDate)}), i.e. before ${d.dueAt}.`,
            ...(d.provisional ? [`provisional: ${d.unknownYears.join(', ')} not in the calendar (weekends only); the deadline may move when the arrangement is loaded.`] : []),
          ].join('\n'),
        );
      }),
    );

  calendar
    .command('between')
    .description('working days after --from up to and including --to')
    .requiredOption('--from <date>', 'YYYY-MM-DD, or a date-time with its offset')
    .requiredOption('--to <date>', 'YYYY-MM-DD, or a date-time with its offset')
    .action(
      action(async (opts: { from: string; to: string }, command: Command) => {
        const r = await runOperation(configFrom(command), 'calendarBetween', { from: opts.from, to: opts.to });
        print(command, r, () =>
          [`${r.workingDays} working days after ${r.from} up to and including ${r.to}.`, ...(r.provisional ? [`provisional: ${r.unknownYears.join(', ')} not in the calendar (weekends only).`] : [])].join('\n'),
        );
      }),
    );
}
