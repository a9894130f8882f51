import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, refused, type TestPlatform } from '../../../test/helpers/platform.js';
import { createTestDatabase } from '../../db/test-database.js';
import { systemContext } from '../../server/actor.js';
import { Platform } from '../../server/platform.js';
import { NATIONAL_ARRANGEMENTS, type NationalArrangement } from './national-arrangements.js';
import { CalendarService } from './service.js';

let t: TestPlatform;
let calendar: CalendarService;

beforeAll(async () => {
  t = await createTestPlatform();
  calendar = t.platform.calendar;
});
afterAll(async () => t?.close());

async function auditActions(prefix: string): Promise<string[]> {
  const rows = await t.platform.db.selectFrom('auditEvents').select('action').where('action', 'like', `${prefix}%`).orderBy('seq').execute();
  return rows.map((r) => r.action);
}

async function calendarRows(): Promise<number> {
  return Number((await t.platform.db.selectFrom('calendarDays').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
}

describe('after bootstrap', () => {
  it('holds the shipped 2025 and 2026 arrangements, 2027 unknown', async () => {
    const coverage = await calendar.coverage();
    expect(coverage.timeZone).toBe('Asia/Shanghai');
    expect(coverage.knownYears).toEqual([2025, 2026]);
    expect(coverage.years.map((y) => [y.year, y.arrangement, y.entries])).toEqual([
      [2025, 'national', 33],
      [2026, 'national', 39],
    ]);
    const y2026 = await calendar.year(2026);
    expect(y2026).toMatchObject({ known: true, arrangement: 'national', workingDays: 248, loadedBy: 'govshare' });
    expect(y2026.source).toMatch(/^https:\/\/www\.gov\.cn\//);
    expect(y2026.days.filter((d) => d.name === '春节')).toHaveLength(9);
    expect(y2026.days.find((d) => d.date === '2026-02-14')).toMatchObject({ kind: 'workday', weekday: 6, source: 'national' });
    const y2027 = await calendar.year(2027);
    expect(y2027).toMatchObject({ known: false, arrangement: null, days: [], workingDays: 261 });
    expect(await auditActions('calendar.')).toEqual(['calendar.load-national', 'calendar.load-national']);
  });

  it('answers deadlines from the database calendar: 15 working days from 1 December 2026 reach into unknown 2027', async () => {
    const d = await calendar.deadline('2026-12-01', 15);
    expect(d).toMatchObject({ received: '2026-12-01', dueDate: '2026-12-22', provisional: false });
    const late = await calendar.deadline('2026-12-20', 15);
    expect(late).toMatchObject({ provisional: true, unknownYears: [2027] });
    // 10 working days for a share request received during 春节 2026
    expect((await calendar.deadline('2026-02-17', 10)).dueDate).toBe('2026-03-06'); // Sat 28 Feb is worked
    expect(await calendar.workingDaysBetween('2026-09-30', '2026-10-20')).toMatchObject({ workingDays: 10, provisional: false });
  });

  it('loads nothing again when bootstrapped a second time', async () => {
    const before = await calendarRows();
    const result = await t.platform.bootstrap();
    expect(result.calendar).toEqual({ loaded: [], skipped: [] });
    expect(await calendarRows()).toBe(before);
    expect(await auditActions('calendar.load')).toHaveLength(2);
  });
});

describe('the operator edits days', () => {
  it('sets a holiday and a make-up working day, taking effect in deadlines at once, audited with what was there', async () => {
    expect((await calendar.deadline('2026-12-30', 1)).dueDate).toBe('2026-12-31');
    const set = await calendar.setDay(t.cli, '2026-12-31', { kind: 'holiday', name: ' 地方假日 ' });
    expect(set).toMatchObject({ date: '2026-12-31', working: false, status: 'holiday', name: '地方假日', entry: { kind: 'holiday', name: '地方假日', source: 'operator', changedBy: 'cli:test' } });
    expect((await calendar.deadline('2026-12-30', 1)).dueDate).toBe('2027-01-01');
    const sat = await calendar.setDay(t.cli, '2026-12-26', { kind: 'workday', name: '调休上班' });
    expect(sat).toMatchObject({ working: true, status: 'makeUpWorkday', weekday: 6 });
    expect((await calendar.deadline('2026-12-25', 1)).dueDate).toBe('2026-12-26');
    const events = await t.platform.audit.search({ action: 'calendar.set-day', limit: 5 });
    expect(events.map((e) => e.targetId)).toEqual(['2026-12-26', '2026-12-31']);
    expect(events[1]?.details).toMatchObject({ date: '2026-12-31', kind: 'holiday', name: '地方假日', before: null });
    expect((await calendar.year(2026)).operatorEditedAt).not.toBeNull();
  });

  it('overrides a national day, keeping what it replaced in the audit trail', async () => {
    const day = await calendar.setDay(t.cli, '2026-10-07', { kind: 'holiday', name: '国庆节（本地延长说明）' });
    expect(day.entry).toMatchObject({ source: 'operator' });
    const [event] = await t.platform.audit.search({ action: 'calendar.set-day', targetId: '2026-10-07', limit: 1 });
    expect(event?.details.before).toEqual({ kind: 'holiday', name: '国庆节', source: 'national' });
  });

  it('clears a day, which then follows the weekend rule; clearing a day with no entry is refused', async () => {
    const cleared = await calendar.clearDay(t.cli, '2026-12-26');
    expect(cleared).toMatchObject({ working: false, status: 'weekend', entry: null });
    const e = await refused(calendar.clearDay(t.cli, '2026-12-26'), 'GS_ERR_CALENDAR_DAY_NOT_FOUND');
    expect(e.params.date).toBe('2026-12-26');
    expect(e.status).toBe(404);
    const [event] = await t.platform.audit.search({ action: 'calendar.clear-day', limit: 1 });
    expect(event?.details).toMatchObject({ date: '2026-12-26', before: { kind: 'workday', source: 'operator' } });
  });

  it('refuses a make-up working day on a weekday, an unknown kind, an empty name and an impossible date, changing nothing', async () => {
    const rows = await calendarRows();
    const version = Number((await t.platform.db.selectFrom('calendarState').select('version').executeTakeFirstOrThrow()).version);
    let e = await refused(calendar.setDay(t.cli, '2026-12-29', { kind: 'workday', name: '调休上班' }), 'GS_ERR_CALENDAR_ENTRY_INVALID');
    expect(e.message).toContain('2026-12-29');
    expect(e.fields?.[0]).toMatchObject({ field: 'body.kind', rule: 'workdayOnWeekend' });
    e = await refused(calendar.setDay(t.cli, '2026-12-29', { kind: 'vacation', name: 'x' }), 'GS_ERR_CALENDAR_ENTRY_INVALID');
    expect(e.fields?.[0]).toMatchObject({ field: 'body.kind', rule: 'enum' });
    e = await refused(calendar.setDay(t.cli, '2026-12-29', { kind: 'holiday', name: '  ' }), 'GS_ERR_CALENDAR_ENTRY_INVALID');
    expect(e.fields?.[0]).toMatchObject({ field: 'body.name', rule: 'required' });
    e = await refused(calendar.setDay(t.cli, '2026-02-29', { kind: 'holiday', name: 'x' }), 'GS_ERR_CALENDAR_DATE_INVALID');
    expect(e.params).toMatchObject({ field: 'params.date', value: '2026-02-29' });
    expect(await calendarRows()).toBe(rows);
    expect(Number((await t.platform.db.selectFrom('calendarState').select('version').executeTakeFirstOrThrow()).version)).toBe(version);
  });
});

describe('importing a year', () => {
  const y2030 = [
    { date: '2030-01-01', kind: 'holiday', name: '元旦' },
    { date: '2030-02-02', kind: 'holiday', name: '春节' },
    { date: '2030-02-03', kind: 'holiday', name: '春节' },
    { date: '2030-02-04', kind: 'holiday', name: '春节' },
    { date: '2030-01-26', kind: 'workday', name: '调休上班' },
  ];

  it('makes an unknown year known, replacing the entries set by hand before', async () => {
    await calendar.setDay(t.cli, '2030-05-06', { kind: 'holiday', name: '试验' });
    expect((await calendar.deadline('2029-12-31', 1)).provisional).toBe(true);
    const year = await calendar.importYear(t.cli, 2030, { days: y2030, source: '国务院办公厅关于2030年部分节假日安排的通知（测试）' });
    expect(year).toMatchObject({ year: 2030, known: true, arrangement: 'operator', loadedBy: 'cli:test', entries: 5 });
    expect(year.days.map((d) => d.date)).toEqual(['2030-01-01', '2030-01-26', '2030-02-02', '2030-02-03', '2030-02-04']);
    expect((await calendar.day('2030-05-06')).entry).toBeNull();
    expect((await calendar.coverage()).knownYears).toContain(2030);
    // 2030-01-01 is a holiday now: one working day after 31 December 2029 is 2 January, and firm
    expect(await calendar.deadline('2029-12-31', 1)).toMatchObject({ dueDate: '2030-01-02', provisional: false, unknownYears: [] });
    const [event] = await t.platform.audit.search({ action: 'calendar.import', limit: 1 });
    expect(event?.details).toMatchObject({ year: 2030, days: 5, replaced: 1 });
  });

  it('refuses an import with one bad entry and changes nothing, naming every bad entry', async () => {
    const before = await calendar.year(2030);
    const bad = [...y2030, { date: '2030-02-05', kind: 'holliday', name: '春节' }, { date: '2030-13-01', kind: 'holiday', name: '春节' }, { date: '2030-02-02', kind: 'holiday', name: '春节' }, { date: '2031-01-01', kind: 'holiday', name: '元旦' }, { date: '2030-02-06', kind: 'workday', name: '调休' }, 'not an object'];
    const e = await refused(calendar.importYear(t.cli, 2030, { days: bad }), 'GS_ERR_CALENDAR_IMPORT_INVALID');
    expect(e.params).toMatchObject({ year: 2030, count: 6, index: 6, date: '2030-02-05', field: 'kind' });
    expect(e.message).toContain('entry 6 (2030-02-05, kind)');
    expect(e.fields?.map((f) => [f.field, f.rule])).toEqual([
      ['body.days.5.kind', 'enum'],
      ['body.days.6.date', 'date'],
      ['body.days.7.date', 'unique'],
      ['body.days.8.date', 'inYear'],
      ['body.days.9.kind', 'workdayOnWeekend'],
      ['body.days.10.date', 'date'],
    ]);
    expect(e.fields?.[2]?.message).toContain('entry 2');
    expect(await calendar.year(2030)).toEqual(before);
    await refused(calendar.importYear(t.cli, 2030, { days: [] }), 'GS_ERR_REQUEST_INVALID');
    await refused(calendar.importYear(t.cli, 3000, { days: y2030 }), 'GS_ERR_CALENDAR_YEAR_INVALID');
  });

  it('rolls back completely when the import fails after its writes (here: the audit write)', async () => {
    await sql`create function fail_calendar_audit() returns trigger language plpgsql as $$
      begin
        if new.action = 'calendar.import' then raise exception 'audit store unavailable'; end if;
        return new;
      end $$`.execute(t.platform.db);
    await sql`create trigger fail_calendar_audit before insert on audit_events for each row execute function fail_calendar_audit()`.execute(t.platform.db);
    try {
      const before = await calendar.year(2030);
      await expect(calendar.importYear(t.cli, 2030, { days: y2030.slice(0, 2) })).rejects.toThrow(/audit store unavailable/);
      expect(await calendar.year(2030)).toEqual(before);
      expect((await calendar.calendar()).isWorkingDay('2030-02-04')).toBe(false);
    } finally {
      await sql`drop trigger fail_calendar_audit on audit_events`.execute(t.platform.db);
      await sql`drop function fail_calendar_audit()`.execute(t.platform.db);
    }
  });
});

describe('several processes on one database', () => {
  it('a second service instance (another server) sees a change made through the first at its next query', async () => {
    const other = new CalendarService(t.platform.db, t.platform.audit, t.clock.now);
    expect((await other.calendar()).isWorkingDay('2026-12-28')).toBe(true);
    await calendar.setDay(t.cli, '2026-12-28', { kind: 'holiday', name: '临时假日' });
    expect((await other.calendar()).isWorkingDay('2026-12-28')).toBe(false);
    await calendar.clearDay(t.cli, '2026-12-28');
    expect((await other.calendar()).isWorkingDay('2026-12-28')).toBe(true);
  });

  it('reuses the loaded calendar while nothing changed', async () => {
    const a = await calendar.calendar();
    expect(await calendar.calendar()).toBe(a);
  });
});

describe('start-up and the shipped arrangements', () => {
  /** A platform on a fresh, migrated database; `shipped(list)` is its calendar as a release shipping `list` would run it. */
  async function withShipped() {
    const database = await createTestDatabase();
    const platform = Platform.fromDatabase(database, t.config);
    const shipped = (list: readonly NationalArrangement[]) => new CalendarService(platform.db, platform.audit, () => new Date(), list);
    const sync = (list: readonly NationalArrangement[]) => platform.db.transaction().execute((trx) => shipped(list).syncNational(systemContext(), trx));
    return { platform, shipped, sync, close: () => platform.close() };
  }
  const a2026 = NATIONAL_ARRANGEMENTS.find((a) => a.year === 2026)!;
  // A corrected release: one make-up working day dropped.
  const corrected: NationalArrangement = { ...a2026, workdays: a2026.workdays.filter((w) => w.date !== '2026-10-10') };

  it('never overwrites an operator edit: a day set by hand before the year ships stays, the rest loads', async () => {
    const p = await withShipped();
    try {
      await p.sync([]);
      await p.shipped([]).setDay(t.cli, '2026-02-16', { kind: 'holiday', name: '本地春节安排' });
      const result = await p.sync([a2026]);
      expect(result.loaded).toEqual([expect.objectContaining({ year: 2026, days: 38, keptOperatorDays: 1 })]);
      const service = p.shipped([a2026]);
      expect((await service.day('2026-02-16')).entry).toMatchObject({ name: '本地春节安排', source: 'operator' });
      expect((await service.day('2026-02-17')).entry).toMatchObject({ name: '春节', source: 'national' });
      expect((await service.coverage()).knownYears).toEqual([2026]);
    } finally {
      await p.close();
    }
  });

  it('applies a corrected shipped arrangement to a year nobody changed', async () => {
    const p = await withShipped();
    try {
      await p.sync([a2026]);
      const result = await p.sync([corrected]);
      expect(result.loaded.map((l) => l.year)).toEqual([2026]);
      expect((await p.shipped([corrected]).calendar()).isWorkingDay('2026-10-10')).toBe(false);
    } finally {
      await p.close();
    }
  });

  it('leaves a corrected arrangement alone (once reported and audited) when an operator changed the year, even by clearing a day', async () => {
    const p = await withShipped();
    try {
      await p.sync([a2026]);
      await p.shipped([a2026]).clearDay(t.cli, '2026-02-23');
      const result = await p.sync([corrected]);
      expect(result.loaded).toEqual([]);
      expect(result.skipped).toEqual([expect.objectContaining({ year: 2026, reason: expect.stringContaining('an operator changed days of 2026') })]);
      const cal = await p.shipped([corrected]).calendar();
      expect(cal.isWorkingDay('2026-02-23')).toBe(true); // the cleared day stays cleared
      expect(cal.isWorkingDay('2026-10-10')).toBe(true); // the old national make-up day stays
      expect(await p.sync([corrected])).toEqual({ loaded: [], skipped: [] });
      const audit = await p.platform.audit.search({ action: 'calendar.skip-national', limit: 5 });
      expect(audit).toHaveLength(1);
    } finally {
      await p.close();
    }
  });

  it('never touches a year the operator imported', async () => {
    const p = await withShipped();
    try {
      await p.sync([]);
      await p.shipped([]).importYear(t.cli, 2026, { days: [{ date: '2026-01-01', kind: 'holiday', name: '元旦' }] });
      const result = await p.sync([a2026]);
      expect(result.loaded).toEqual([]);
      expect(result.skipped.map((s) => s.year)).toEqual([2026]);
      const year = await p.shipped([a2026]).year(2026);
      expect(year).toMatchObject({ arrangement: 'operator', entries: 1 });
    } finally {
      await p.close();
    }
  });
});
