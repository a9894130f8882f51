import { describe, expect, it } from 'vitest';
import { GsError } from '../../lib/errors.js';
import { loadConfig } from '../../server/config.js';
import { backupName, parseBackupLocation, parseTarget, scheduledBackupTime } from './location.js';
import { s3OptionsFrom } from './s3-options.js';
import { expiredBackups, nextSlot, parseRetention, parseSchedule, slotOf } from './schedule.js';

/** A local time (the schedule is in the server's time zone). */
function local(y: number, mo: number, d: number, h: number, mi: number): Date {
  return new Date(y, mo - 1, d, h, mi);
}

describe('schedule', () => {
  it('reads daily times and intervals that divide a day', () => {
    expect(parseSchedule('02:30').minutes).toEqual([150]);
    expect(parseSchedule(' 14:00, 2:30 ,14:00').minutes).toEqual([150, 840]);
    expect(parseSchedule('6h').minutes).toEqual([0, 360, 720, 1080]);
    expect(parseSchedule('24h').minutes).toEqual([0]);
    for (const bad of ['', '25:00', '02:60', '2.30', '5h', '0h', 'daily', '02:30,']) expect(() => parseSchedule(bad), bad).toThrow();
  });

  it('finds the slot due at a moment (the latest scheduled time at or before it) and the next one', () => {
    const s = parseSchedule('02:30,14:30');
    expect(slotOf(s, local(2031, 1, 15, 2, 30))).toEqual(local(2031, 1, 15, 2, 30));
    expect(slotOf(s, local(2031, 1, 15, 14, 29))).toEqual(local(2031, 1, 15, 2, 30));
    expect(slotOf(s, local(2031, 1, 15, 23, 59))).toEqual(local(2031, 1, 15, 14, 30));
    // before the first time of the day: yesterday's last, across a month boundary
    expect(slotOf(s, local(2031, 3, 1, 1, 0))).toEqual(local(2031, 2, 28, 14, 30));
    expect(nextSlot(s, local(2031, 1, 15, 2, 30))).toEqual(local(2031, 1, 15, 14, 30));
    expect(nextSlot(s, local(2031, 12, 31, 20, 0))).toEqual(local(2032, 1, 1, 2, 30));
    expect(slotOf(parseSchedule('8h'), local(2031, 1, 15, 7, 59))).toEqual(local(2031, 1, 15, 0, 0));
  });
});

describe('retention', () => {
  const at = (h: number): string => backupName(new Date(Date.UTC(2031, 0, 15, h)), 'scheduled');
  const now = new Date(Date.UTC(2031, 0, 15, 12));
  const names = [at(1), at(2), at(3), at(4), at(5), 'govshare-20310115T010000Z.gsbackup', 'notes.gsbackup', 'govshare-scheduled-bad.gsbackup'];

  it('reads a count, an age, or both', () => {
    expect(parseRetention('14')).toEqual({ keepLast: 14 });
    expect(parseRetention('30d')).toEqual({ keepDays: 30 });
    expect(parseRetention('7, 30d')).toEqual({ keepLast: 7, keepDays: 30 });
    for (const bad of ['', '0', '-1', '7,8', '1d,2d', 'week', '7w']) expect(() => parseRetention(bad), bad).toThrow();
  });

  it('removes scheduled backups beyond the newest N, oldest first, and nothing else', () => {
    expect(expiredBackups(names, at(5), { keepLast: 2 }, now).sort()).toEqual([at(1), at(2), at(3)]);
    expect(expiredBackups(names, at(5), { keepLast: 10 }, now)).toEqual([]);
  });

  it('keeps by age, and keeps what either rule keeps', () => {
    const hours = (n: number): number => n / 24;
    // "days" from a fraction: 8.5 hours back from 12:00 keeps 04:00 and 05:00
    expect(expiredBackups(names, at(5), { keepDays: hours(8.5) }, now).sort()).toEqual([at(1), at(2), at(3)]);
    expect(expiredBackups(names, at(5), { keepLast: 4, keepDays: hours(8.5) }, now)).toEqual([at(1)]);
  });

  it('never removes the newest successful backup or anything written after it', () => {
    // at(5) exists but the run that just succeeded wrote at(3) (another server's clock ran ahead)
    expect(expiredBackups(names, at(3), { keepLast: 1 }, now).sort()).toEqual([at(1), at(2)]);
    expect(expiredBackups([at(1)], at(1), { keepLast: 1 }, now)).toEqual([]);
    expect(expiredBackups(names, at(5), {}, now)).toEqual([]);
  });
});

describe('locations and names', () => {
  it('reads directories and s3:// targets and backups', () => {
    expect(parseTarget('s3://backups')).toEqual({ kind: 's3', bucket: 'backups', prefix: '' });
    expect(parseTarget('s3://backups/a/b')).toEqual({ kind: 's3', bucket: 'backups', prefix: 'a/b/' });
    expect(parseTarget('/srv/backups')).toEqual({ kind: 'directory', dir: '/srv/backups' });
    expect(parseBackupLocation('s3://backups/x.gsbackup')).toEqual({ target: { kind: 's3', bucket: 'backups', prefix: '' }, name: 'x.gsbackup' });
    expect(parseBackupLocation('/srv/backups/x.gsbackup')).toEqual({ target: { kind: 'directory', dir: '/srv/backups' }, name: 'x.gsbackup' });
    for (const bad of ['s3://', 's3://UPPER', 's3://b/x', 's3://bucket//x', 's3://bucket/./x', '']) {
      expect(() => (bad.endsWith('x') ? parseBackupLocation(bad) : parseTarget(bad)), bad).toThrow();
    }
  });

  it('names backups by their UTC time, scheduled ones recognisably', () => {
    const t = new Date(Date.UTC(2031, 0, 15, 2, 30, 5, 123));
    expect(backupName(t)).toBe('govshare-20310115T023005Z.gsbackup');
    expect(backupName(t, 'scheduled')).toBe('govshare-scheduled-20310115T023005Z.gsbackup');
    expect(scheduledBackupTime(backupName(t, 'scheduled'))).toEqual(new Date(Date.UTC(2031, 0, 15, 2, 30, 5)));
    expect(scheduledBackupTime(backupName(t))).toBeUndefined();
    expect(scheduledBackupTime('govshare-scheduled-20311315T023005Z.gsbackup')).toBeUndefined();
  });
});

describe('backup settings', () => {
  it('reads them from the environment; object-store credentials only from there or a file', () => {
    const env = {
      GOVSHARE_BACKUP_TARGET: 's3://govshare-backups/city/',
      GOVSHARE_BACKUP_SCHEDULE: '02:30,14:30',
      GOVSHARE_BACKUP_RETENTION: '14,30d',
      GOVSHARE_BACKUP_VERIFY: 'restore',
      GOVSHARE_BACKUP_S3_ENDPOINT: 'https://minio.internal:9000/',
      GOVSHARE_BACKUP_S3_REGION: 'cn-south-1',
      GOVSHARE_BACKUP_S3_PATH_STYLE: 'false',
      GOVSHARE_BACKUP_S3_CA_FILE: '/etc/govshare/store-ca.pem',
      GOVSHARE_BACKUP_S3_ACCESS_KEY_ID: 'AKID',
      GOVSHARE_BACKUP_S3_SECRET_ACCESS_KEY: 'secret',
    };
    const c = loadConfig({ env });
    expect(c).toMatchObject({ backupTarget: 's3://govshare-backups/city/', backupSchedule: '02:30,14:30', backupRetention: '14,30d', backupVerify: 'restore', backupS3Endpoint: 'https://minio.internal:9000', backupS3Region: 'cn-south-1', backupS3PathStyle: false });
    expect(JSON.stringify(c)).not.toContain('secret');
    expect(s3OptionsFrom(c, env)).toEqual({ endpoint: 'https://minio.internal:9000', region: 'cn-south-1', pathStyle: false, caFile: '/etc/govshare/store-ca.pem', credentialsFile: undefined, accessKeyId: 'AKID', secretAccessKey: 'secret' });
    expect(loadConfig({ env: {} })).toMatchObject({ backupVerify: 'hash', backupS3Region: 'us-east-1', backupS3PathStyle: true });
  });

  it('refuses a bad one, naming the variable', () => {
    for (const [name, value] of [
      ['GOVSHARE_BACKUP_SCHEDULE', '25:00'],
      ['GOVSHARE_BACKUP_SCHEDULE', '5h'],
      ['GOVSHARE_BACKUP_RETENTION', 'week'],
      ['GOVSHARE_BACKUP_VERIFY', 'full'],
      ['GOVSHARE_BACKUP_TARGET', 's3://UPPER/x/'],
      ['GOVSHARE_BACKUP_S3_ENDPOINT', 'https://minio.internal:9000/bucket'],
      ['GOVSHARE_BACKUP_S3_ENDPOINT', 's3://bucket'],
      ['GOVSHARE_BACKUP_S3_PATH_STYLE', 'sometimes'],
    ] as const) {
      let error: unknown;
      try {
        loadConfig({ env: { [name]: value } });
      } catch (e) {
        error = e;
      }
      expect(error, `${name}=${value}`).toBeInstanceOf(GsError);
      expect((error as GsError).code).toBe('GS_ERR_CONFIG_INVALID');
      expect((error as GsError).message).toContain(name);
    }
  });
});
