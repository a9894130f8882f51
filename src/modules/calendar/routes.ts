import { formatChinaInstant, parseDateOrInstant, type Deadline } from '../../lib/working-calendar.js';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES } from '../../server/schema-kit.js';
import {
  BetweenQuery,
  CalendarDaySet,
  CalendarDayView,
  CalendarImport,
  CalendarYearView,
  CoverageView,
  DateParams,
  DeadlineQuery,
  DeadlineView,
  WorkingDaysView,
  YearParams,
} from './schemas.js';

const tags = ['calendar'];

function deadlineView(d: Deadline) {
  return { ...d, unknownYears: [...d.unknownYears], dueAt: formatChinaInstant(d.dueAt) };
}

export async function calendarRoutes(app: GsApp, { calendar }: Platform): Promise<void> {
  app.get(
    '/calendar/coverage',
    {
      config: { access: needs('calendar:read') },
      schema: { tags, summary: 'The years the working-day calendar knows; beyond them it counts weekends only', response: { 200: CoverageView, ...ERROR_RESPONSES } },
    },
    async () => {
      const c = await calendar.coverage();
      return { ...c, knownYears: [...c.knownYears], years: [...c.years] };
    },
  );

  app.get(
    '/calendar/deadline',
    {
      config: { access: needs('calendar:read') },
      schema: {
        tags,
        summary: 'The deadline of a time limit in working days',
        description: 'Received on day D (China time): the first working day is the next working day after D; due by the end of the n-th working day.',
        querystring: DeadlineQuery,
        response: { 200: DeadlineView, ...ERROR_RESPONSES },
      },
    },
    async (req) => deadlineView(await calendar.deadline(parseDateOrInstant(req.query.from, 'querystring.from'), req.query.days)),
  );

  app.get(
    '/calendar/working-days',
    {
      config: { access: needs('calendar:read') },
      schema: { tags, summary: 'Working days after one date up to and including another', querystring: BetweenQuery, response: { 200: WorkingDaysView, ...ERROR_RESPONSES } },
    },
    async (req) => {
      const r = await calendar.workingDaysBetween(parseDateOrInstant(req.query.from, 'querystring.from'), parseDateOrInstant(req.query.to, 'querystring.to'));
      return { ...r, unknownYears: [...r.unknownYears] };
    },
  );

  app.get(
    '/calendar/years/:year',
    {
      config: { access: needs('calendar:read') },
      schema: { tags, summary: "A year's holidays and make-up working days", params: YearParams, response: { 200: CalendarYearView, ...ERROR_RESPONSES } },
    },
    async (req) => {
      const y = await calendar.year(req.params.year);
      return { ...y, days: [...y.days] };
    },
  );

  app.put(
    '/calendar/years/:year',
    {
      config: { access: needs('calendar:manage') },
      schema: {
        tags,
        summary: "Import a year's arrangement, replacing all its entries (all or nothing)",
        params: YearParams,
        body: CalendarImport,
        response: { 200: CalendarYearView, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const y = await calendar.importYear(req.ctx, req.params.year, req.body);
      return { ...y, days: [...y.days] };
    },
  );

  app.get(
    '/calendar/days/:date',
    {
      config: { access: needs('calendar:read') },
      schema: { tags, summary: 'One day: working or not, and why', params: DateParams, response: { 200: CalendarDayView, ...ERROR_RESPONSES } },
    },
    async (req) => calendar.day(req.params.date, 'params.date'),
  );

  app.put(
    '/calendar/days/:date',
    {
      config: { access: needs('calendar:manage') },
      schema: { tags, summary: 'Make a day a holiday or a make-up working day', params: DateParams, body: CalendarDaySet, response: { 200: CalendarDayView, ...ERROR_RESPONSES } },
    },
    async (req) => calendar.setDay(req.ctx, req.params.date, req.body),
  );

  app.delete(
    '/calendar/days/:date',
    {
      config: { access: needs('calendar:manage') },
      schema: { tags, summary: "Remove a day's entry: it follows the weekend rule again", params: DateParams, response: { 200: CalendarDayView, ...ERROR_RESPONSES } },
    },
    async (req) => calendar.clearDay(req.ctx, req.params.date),
  );
}
