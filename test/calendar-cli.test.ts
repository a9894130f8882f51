/**
 * `govshare calendar …` as an operator runs it: the built command on an initialised embedded
 * data directory (no server running, so each command opens the directory itself).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './helpers/cli.js';

let dir: string;
let envs: Record<string, string>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'govshare-calendar-cli-'));
  envs = { GOVSHARE_DATA_DIR: join(dir, 'data') };
  const init = run(['init'], envs);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
}, 60_000);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('govshare calendar', () => {
  it('lists the shipped 2026 arrangement and says 2027 is not published', () => {
    const list = run(['calendar', 'list', '--year', '2026'], envs);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('2026: national arrangement');
    expect(list.stdout).toContain('248 working days');
    expect(list.stdout).toMatch(/2026-02-28\s+周六\s+workday \(调休\)\s+调休上班（春节）\s+national/);
    const next = run(['calendar', 'list', '--year', '2027'], envs);
    expect(next.stdout).toContain('no arrangement published here');
    expect(run(['calendar', 'list', '--year', '26'], envs).code).toBe(7);
  }, 60_000);

  it('computes a deadline, marking one that reaches into 2027 provisional', () => {
    const firm = run(['calendar', 'deadline', '--from', '2026-12-01', '--days', '15'], envs);
    expect(firm.code, firm.stderr).toBe(0);
    expect(firm.stdout).toContain('due by the end of 2026-12-22 (周二), i.e. before 2026-12-23T00:00:00+08:00');
    expect(firm.stdout).not.toContain('provisional');
    const late = run(['calendar', 'deadline', '--from', '2026-12-20', '--days', '15', '--json'], envs);
    expect(JSON.parse(late.stdout)).toMatchObject({ dueDate: '2027-01-08', provisional: true, unknownYears: [2027] });
    const bad = run(['calendar', 'deadline', '--from', '2026-12-01', '--days', '-3'], envs);
    expect(bad.code).toBe(7);
    expect(bad.stderr).toContain('GS_ERR_CALENDAR_DAYS_INVALID');
  }, 60_000);

  it('sets and clears a day; a make-up working day on a weekday is refused with exit 7', () => {
    const set = run(['calendar', 'set', '2026-12-31', '--holiday', '--name', '地方假日'], envs);
    expect(set.code, set.stderr).toBe(0);
    expect(run(['calendar', 'deadline', '--from', '2026-12-30', '--days', '1', '--json'], envs).stdout).toContain('"dueDate": "2027-01-01"');
    const weekday = run(['calendar', 'set', '2026-12-29', '--workday', '--name', '调休上班'], envs);
    expect(weekday.code).toBe(7);
    expect(weekday.stderr).toContain('GS_ERR_CALENDAR_ENTRY_INVALID');
    expect(weekday.stderr.trim().split('\n')).toHaveLength(1);
    expect(run(['calendar', 'clear', '2026-12-31'], envs).code).toBe(0);
    const again = run(['calendar', 'clear', '2026-12-31'], envs);
    expect(again.code).toBe(6);
    expect(again.stderr).toContain('GS_ERR_CALENDAR_DAY_NOT_FOUND');
  }, 60_000);

  it('imports a year from a file all or nothing, naming the first bad entry', () => {
    const good = [
      { date: '2027-01-01', kind: 'holiday', name: '元旦' },
      { date: '2027-01-02', kind: 'holiday', name: '元旦' },
      { date: '2027-01-03', kind: 'holiday', name: '元旦' },
    ];
    const badFile = join(dir, 'bad.json');
    writeFileSync(badFile, JSON.stringify({ year: 2027, days: [...good, { date: '2027-02-03', kind: 'workday', name: '调休上班' }] }));
    const bad = run(['calendar', 'import', badFile], envs);
    expect(bad.code).toBe(7);
    expect(bad.stderr).toContain('entry 4 (2027-02-03, kind)');
    expect(run(['calendar', 'list', '--year', '2027', '--json'], envs).stdout).toContain('"known": false');

    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{ "year": 2027, days: [');
    const broken = run(['calendar', 'import', notJson], envs);
    expect(broken.code).toBe(7);
    expect(broken.stderr).toContain('GS_ERR_CALENDAR_FILE');

    const goodFile = join(dir, '2027.json');
    writeFileSync(goodFile, JSON.stringify(good));
    const ok = run(['calendar', 'import', goodFile, '--year', '2027'], envs);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('imported 3 days for 2027');
    const list = JSON.parse(run(['calendar', 'list', '--year', '2027', '--json'], envs).stdout) as { known: boolean; arrangement: string; days: unknown[] };
    expect(list).toMatchObject({ known: true, arrangement: 'operator' });
    expect(list.days).toHaveLength(3);
  }, 60_000);
});
