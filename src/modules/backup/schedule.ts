import { scheduledBackupTime } from './location.js';

/**
 * The rules of scheduled backups, as pure functions of the time (tested without waiting):
 * when a backup is due, and which old ones retention removes.
 *
 * A schedule is a list of times of day in the server's time zone: `02:30`, `02:30,14:30`, or
 * `6h` (every 6 hours from midnight: 00:00, 06:00, 12:00, 18:00). The *slot* due at a moment is
 * the latest scheduled time at or before it; each slot gets one backup, by one process.
 */
export interface BackupSchedule {
  /** Minutes after local midnight, ascending, distinct. */
  readonly minutes: readonly number[];
}

export const BACKUP_VERIFY_MODES = ['hash', 'restore'] as const;
export type BackupVerifyMode = (typeof BACKUP_VERIFY_MODES)[number];

export function parseSchedule(text: string): BackupSchedule {
  const t = text.trim();
  const every = /^(\d{1,2})h$/.exec(t);
  if (every) {
    const hours = Number(every[1]);
    if (hours < 1 || 24 % hours !== 0) throw new Error(`"${t}": the interval must divide a day (1, 2, 3, 4, 6, 8, 12 or 24 hours)`);
    return { minutes: Array.from({ length: 24 / hours }, (_, i) => i * hours * 60) };
  }
  const minutes = t.split(',').map((part) => {
    const m = /^(\d{1,2}):(\d{2})$/.exec(part.trim());
    const h = Number(m?.[1]);
    const min = Number(m?.[2]);
    if (!m || h > 23 || min > 59) throw new Error(`"${part.trim()}" is not a time of day HH:MM (expected e.g. "02:30", "02:30,14:30" or "6h")`);
    return h * 60 + min;
  });
  return { minutes: [...new Set(minutes)].sort((a, b) => a - b) };
}

function at(day: Date, minutes: number): Date {
  return new Date(day.getFullYear(), day.getMonth(), day.getDate(), Math.floor(minutes / 60), minutes % 60, 0, 0);
}

/** The latest scheduled time at or before `now` (local time). */
export function slotOf(schedule: BackupSchedule, now: Date): Date {
  for (let back = 0; back <= 1; back++) {
    const day = new Date(now.getFullYear(), now.getMonth(), now.getDate() - back);
    for (let i = schedule.minutes.length - 1; i >= 0; i--) {
      const t = at(day, schedule.minutes[i]!);
      if (t.getTime() <= now.getTime()) return t;
    }
  }
  throw new Error('a schedule has at least one time a day');
}

/** The first scheduled time after `now`. */
export function nextSlot(schedule: BackupSchedule, now: Date): Date {
  for (let ahead = 0; ahead <= 1; ahead++) {
    const day = new Date(now.getFullYear(), now.getMonth(), now.getDate() + ahead);
    for (const m of schedule.minutes) {
      const t = at(day, m);
      if (t.getTime() > now.getTime()) return t;
    }
  }
  throw new Error('a schedule has at least one time a day');
}

/**
 * Which scheduled backups to keep: the newest `keepLast`, and/or those younger than `keepDays`
 * (a backup is kept if either rule keeps it).
 */
export interface BackupRetention {
  readonly keepLast?: number;
  readonly keepDays?: number;
}

export function parseRetention(text: string): BackupRetention {
  let keepLast: number | undefined;
  let keepDays: number | undefined;
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(d?)$/.exec(part);
    const n = Number(m?.[1]);
    if (!m || n < 1 || n > 100_000) throw new Error(`"${part}" is neither a count of backups (e.g. "14") nor an age in days (e.g. "30d")`);
    if (m[2] === 'd') {
      if (keepDays !== undefined) throw new Error('gives the age twice');
      keepDays = n;
    } else {
      if (keepLast !== undefined) throw new Error('gives the count twice');
      keepLast = n;
    }
  }
  return { ...(keepLast !== undefined ? { keepLast } : {}), ...(keepDays !== undefined ? { keepDays } : {}) };
}

/**
 * The names retention removes from a target's listing, given the scheduled backup just written
 * and verified (`newest`). Only names the scheduler writes are considered; `newest` and anything
 * written at or after it are never removed; the others go unless a rule keeps them.
 */
export function expiredBackups(names: readonly string[], newest: string, retention: BackupRetention, now: Date): string[] {
  if (retention.keepLast === undefined && retention.keepDays === undefined) return [];
  const newestAt = scheduledBackupTime(newest);
  if (!newestAt) throw new Error(`${newest} is not a scheduled backup's name`);
  const scheduled = names
    .map((name) => ({ name, at: scheduledBackupTime(name) }))
    .filter((b): b is { name: string; at: Date } => b.at !== undefined)
    .sort((a, b) => b.at.getTime() - a.at.getTime() || (a.name < b.name ? 1 : -1));
  const expired: string[] = [];
  scheduled.forEach((b, rank) => {
    if (b.name === newest || b.at.getTime() >= newestAt.getTime()) return;
    const byCount = retention.keepLast !== undefined && rank < retention.keepLast;
    const byAge = retention.keepDays !== undefined && now.getTime() - b.at.getTime() < retention.keepDays * 86_400_000;
    if (!byCount && !byAge) expired.push(b.name);
  });
  return expired;
}
