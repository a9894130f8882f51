/**
 * The working-day calendar through the real HTTP app: answers every signed-in directory reader
 * gets, the operator's edits, and bad input refused with a located 4xx that changes nothing.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agency } from '../src/modules/agencies/schemas.js';
import { agencyInput, createTestPlatform, userWithRoles, type LoggedIn, type TestPlatform } from './helpers/platform.js';

interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly messageZh: string;
  readonly details: Record<string, unknown> & { readonly fields?: readonly { field: string; rule: string; message: string }[] };
}

let t: TestPlatform;
let operator: LoggedIn;
let viewer: LoggedIn;
let supervisor: LoggedIn;
let auditor: LoggedIn;
let home: Agency;

beforeAll(async () => {
  t = await createTestPlatform();
  home = await t.platform.agencies.create(t.cli, agencyInput(1));
  operator = await userWithRoles(t, 'cal-operator', ['operator']);
  viewer = await userWithRoles(t, 'cal-viewer', ['viewer'], home.id);
  supervisor = await userWithRoles(t, 'cal-supervisor', ['supervisor']);
  auditor = await userWithRoles(t, 'cal-auditor', ['auditor']);
});
afterAll(async () => t?.close());

async function call(who: LoggedIn | null, options: InjectOptions): Promise<LightMyRequestResponse> {
  const r = await t.app.inject({ ...options, headers: { ...(options.headers ?? {}), ...(who ? who.headers : {}) } });
  expect(r.statusCode, `${options.method} ${options.url}: ${r.body}`).toBeLessThan(500);
  return r;
}

function refused(r: LightMyRequestResponse, status: number, code: string): ErrorBody {
  expect(r.statusCode, r.body).toBe(status);
  const body = r.json<ErrorBody>();
  expect(body.code).toBe(code);
  expect(body.messageZh).toMatch(/[\u4e00-\u9fff]/);
  return body;
}

const year = async (y: number) => (await call(viewer, { method: 'GET', url: `/api/v1/calendar/years/${y}` })).json<{ known: boolean; days: { date: string; kind: string; name: string; source: string }[] }>();
const calendarEvents = async (): Promise<number> =>
  Number((await t.platform.db.selectFrom('auditEvents').select((eb) => eb.fn.countAll<number>().as('n')).where('action', 'like', 'calendar.%').executeTakeFirstOrThrow()).n);

describe('reading the calendar', () => {
  it('gives an agency user the 2026 deadline of a share request received in the evening of 30 September (10 working days)', async () => {
    const r = await call(viewer, { method: 'GET', url: `/api/v1/calendar/deadline?from=${encodeURIComponent('2026-09-30T21:15:00+08:00')}&days=10` });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ received: '2026-09-30', workingDays: 10, dueDate: '2026-10-20', dueAt: '2026-10-21T00:00:00+08:00', provisional: false, unknownYears: [] });
  });

  it('counts an event at 00:30 on 1 May (China time) as received on 1 May, although it is 30 April in UTC', async () => {
    const r = await call(supervisor, { method: 'GET', url: `/api/v1/calendar/deadline?from=${encodeURIComponent('2026-04-30T16:30:00Z')}&days=1` });
    expect(r.json()).toMatchObject({ received: '2026-05-01', dueDate: '2026-05-06' });
  });

  it('warns that a deadline reaching into 2027 is provisional: that arrangement is not published here', async () => {
    const r = await call(viewer, { method: 'GET', url: '/api/v1/calendar/deadline?from=2026-12-20&days=15' });
    expect(r.json()).toMatchObject({ provisional: true, unknownYears: [2027] });
    const coverage = (await call(viewer, { method: 'GET', url: '/api/v1/calendar/coverage' })).json<{ knownYears: number[]; timeZone: string }>();
    expect(coverage).toMatchObject({ knownYears: [2025, 2026], timeZone: 'Asia/Shanghai' });
  });

  it('explains a day and counts working days between two dates', async () => {
    const day = await call(viewer, { method: 'GET', url: '/api/v1/calendar/days/2026-02-28' });
    expect(day.json()).toMatchObject({ date: '2026-02-28', weekday: 6, working: true, status: 'makeUpWorkday', name: '调休上班（春节）', knownYear: true, entry: { source: 'national' } });
    const between = await call(viewer, { method: 'GET', url: '/api/v1/calendar/working-days?from=2026-02-13&to=2026-02-28' });
    // make-up Saturday 14, 15–23 off, Tuesday 24 – Friday 27, make-up Saturday 28
    expect(between.json()).toMatchObject({ workingDays: 6, provisional: false });
  });

  it('refuses the auditor (audit trail only) and anonymous callers', async () => {
    refused(await call(auditor, { method: 'GET', url: '/api/v1/calendar/coverage' }), 403, 'GS_ERR_AUTH_FORBIDDEN');
    refused(await call(null, { method: 'GET', url: '/api/v1/calendar/deadline?from=2026-12-01&days=1' }), 401, 'GS_ERR_AUTH_REQUIRED');
  });
});

describe('bad queries', () => {
  it('refuses malformed and impossible dates, naming the parameter', async () => {
    let body = refused(await call(viewer, { method: 'GET', url: '/api/v1/calendar/deadline?from=2026-02-30&days=1' }), 400, 'GS_ERR_CALENDAR_DATE_INVALID');
    expect(body.details.fields?.[0]?.field).toBe('querystring.from');
    expect(body.message).toContain('2026-02-30');
    body = refused(await call(viewer, { method: 'GET', url: `/api/v1/calendar/deadline?from=${encodeURIComponent('2026-05-01T00:30:00')}&days=1` }), 400, 'GS_ERR_CALENDAR_DATE_INVALID');
    expect(body.message).toContain('offset');
    body = refused(await call(viewer, { method: 'GET', url: '/api/v1/calendar/days/2026-13-01' }), 400, 'GS_ERR_CALENDAR_DATE_INVALID');
    expect(body.details.fields?.[0]?.field).toBe('params.date');
    body = refused(await call(viewer, { method: 'GET', url: '/api/v1/calendar/days/1-May-2026' }), 400, 'GS_ERR_REQUEST_INVALID');
    expect(body.details.fields?.[0]).toMatchObject({ field: 'params.date', rule: 'pattern' });
    body = refused(await call(viewer, { method: 'GET', url: '/api/v1/calendar/working-days?from=2026-10-20&to=2026-09-30' }), 400, 'GS_ERR_CALENDAR_RANGE_INVALID');
    expect(body.message).toContain('2026-09-30');
  });

  it('refuses a negative or fractional number of days and a year outside the calendar', async () => {
    let body = refused(await call(viewer, { method: 'GET', url: '/api/v1/calendar/deadline?from=2026-12-01&days=-1' }), 400, 'GS_ERR_REQUEST_INVALID');
    expect(body.details.fields?.[0]).toMatchObject({ field: 'querystring.days', rule: 'minimum' });
    body = refused(await call(viewer, { method: 'GET', url: '/api/v1/calendar/deadline?from=2026-12-01&days=1.5' }), 400, 'GS_ERR_REQUEST_INVALID');
    expect(body.details.fields?.[0]?.field).toBe('querystring.days');
    body = refused(await call(viewer, { method: 'GET', url: '/api/v1/calendar/years/20266' }), 400, 'GS_ERR_REQUEST_INVALID');
    expect(body.details.fields?.[0]?.field).toBe('params.year');
  });
});

describe('editing the calendar', () => {
  it('lets the operator set a local holiday and clear it again, audited', async () => {
    const before = await calendarEvents();
    const set = await call(operator, { method: 'PUT', url: '/api/v1/calendar/days/2026-12-31', payload: { kind: 'holiday', name: '地方假日' } });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ working: false, status: 'holiday', entry: { source: 'operator', changedBy: 'cal-operator' } });
    const d = await call(viewer, { method: 'GET', url: '/api/v1/calendar/deadline?from=2026-12-30&days=1' });
    expect(d.json()).toMatchObject({ dueDate: '2027-01-01', provisional: true });
    const cleared = await call(operator, { method: 'DELETE', url: '/api/v1/calendar/days/2026-12-31' });
    expect(cleared.json()).toMatchObject({ working: true, status: 'workday', entry: null });
    expect(await calendarEvents()).toBe(before + 2);
    refused(await call(operator, { method: 'DELETE', url: '/api/v1/calendar/days/2026-12-31' }), 404, 'GS_ERR_CALENDAR_DAY_NOT_FOUND');
  });

  it('refuses edits by anyone but the operator (403), changing nothing', async () => {
    const before = await year(2026);
    for (const who of [viewer, supervisor]) {
      const body = refused(await call(who, { method: 'PUT', url: '/api/v1/calendar/days/2026-12-31', payload: { kind: 'holiday', name: '地方假日' } }), 403, 'GS_ERR_AUTH_FORBIDDEN');
      expect(body.details.permission).toBe('calendar:manage');
      refused(await call(who, { method: 'DELETE', url: '/api/v1/calendar/days/2026-02-14' }), 403, 'GS_ERR_AUTH_FORBIDDEN');
      refused(await call(who, { method: 'PUT', url: '/api/v1/calendar/years/2026', payload: { days: [{ date: '2026-01-01', kind: 'holiday', name: '元旦' }] } }), 403, 'GS_ERR_AUTH_FORBIDDEN');
    }
    expect(await year(2026)).toEqual(before);
  });

  it('refuses an unknown kind, a missing name, unknown fields and a make-up working day on a weekday', async () => {
    let body = refused(await call(operator, { method: 'PUT', url: '/api/v1/calendar/days/2026-12-26', payload: { kind: 'dayoff', name: 'x' } }), 400, 'GS_ERR_REQUEST_INVALID');
    expect(body.details.fields?.[0]).toMatchObject({ field: 'body.kind', rule: 'enum' });
    body = refused(await call(operator, { method: 'PUT', url: '/api/v1/calendar/days/2026-12-26', payload: { kind: 'holiday' } }), 400, 'GS_ERR_REQUEST_INVALID');
    expect(body.details.fields?.[0]).toMatchObject({ field: 'body.name', rule: 'required' });
    body = refused(await call(operator, { method: 'PUT', url: '/api/v1/calendar/days/2026-12-26', payload: { kind: 'holiday', name: 'x', source: 'operator' } }), 400, 'GS_ERR_REQUEST_INVALID');
    expect(body.details.fields?.[0]).toMatchObject({ field: 'body.source', rule: 'additionalProperties' });
    body = refused(await call(operator, { method: 'PUT', url: '/api/v1/calendar/days/2026-12-29', payload: { kind: 'workday', name: '调休上班' } }), 400, 'GS_ERR_CALENDAR_ENTRY_INVALID');
    expect(body.message).toContain('2026-12-29');
    expect(body.details.fields?.[0]).toMatchObject({ field: 'body.kind', rule: 'workdayOnWeekend' });
    body = refused(await call(operator, { method: 'PUT', url: '/api/v1/calendar/days/2026-02-29', payload: { kind: 'holiday', name: 'x' } }), 400, 'GS_ERR_CALENDAR_DATE_INVALID');
    expect((await call(viewer, { method: 'GET', url: '/api/v1/calendar/days/2026-12-26' })).json()).toMatchObject({ entry: null });
  });

  it("imports next year's arrangement all at once, and an import with one bad entry changes nothing", async () => {
    const days = [
      { date: '2027-01-01', kind: 'holiday', name: '元旦' },
      { date: '2027-01-02', kind: 'holiday', name: '元旦' },
      { date: '2027-01-03', kind: 'holiday', name: '元旦' },
    ];
    const events = await calendarEvents();
    const bad = refused(
      await call(operator, { method: 'PUT', url: '/api/v1/calendar/years/2027', payload: { days: [...days, { date: '2027-02-30', kind: 'holiday', name: '春节' }] } }),
      400,
      'GS_ERR_CALENDAR_IMPORT_INVALID',
    );
    expect(bad.message).toContain('entry 4 (2027-02-30');
    expect(bad.details.fields?.map((f) => f.field)).toEqual(['body.days.3.date']);
    const dup = refused(await call(operator, { method: 'PUT', url: '/api/v1/calendar/years/2027', payload: { days: [...days, days[0]] } }), 400, 'GS_ERR_CALENDAR_IMPORT_INVALID');
    expect(dup.details.fields?.[0]).toMatchObject({ field: 'body.days.3.date', rule: 'unique' });
    const kind = refused(await call(operator, { method: 'PUT', url: '/api/v1/calendar/years/2027', payload: { days: [...days, { date: '2027-02-06', kind: 'vacation', name: '春节' }] } }), 400, 'GS_ERR_REQUEST_INVALID');
    expect(kind.details.fields?.[0]).toMatchObject({ field: 'body.days.3.kind', rule: 'enum' });
    expect(await year(2027)).toMatchObject({ known: false, days: [] });
    expect(await calendarEvents()).toBe(events);

    const ok = await call(operator, { method: 'PUT', url: '/api/v1/calendar/years/2027', payload: { days, source: '国务院办公厅关于2027年部分节假日安排的通知' } });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ year: 2027, known: true, arrangement: 'operator', entries: 3 });
    const d = await call(viewer, { method: 'GET', url: '/api/v1/calendar/deadline?from=2026-12-31&days=1' });
    expect(d.json()).toMatchObject({ dueDate: '2027-01-04', provisional: false });
  });
});
