import type { WorkingDayCalendar } from './service.js';

/**
 * Working days as Monday to Friday, without public holidays or make-up working days (调休).
 * Only until the platform's working-day calendar is wired in: deadlines computed with it can be
 * early over a public holiday and late over a make-up Saturday.
 */
export const weekdayCalendar: WorkingDayCalendar = {
  async addWorkingDays(from: string, days: number): Promise<string> {
    const d = new Date(`${from}T00:00:00Z`);
    let left = days;
    while (left > 0) {
      d.setUTCDate(d.getUTCDate() + 1);
      const day = d.getUTCDay();
      if (day !== 0 && day !== 6) left--;
    }
    return d.toISOString().slice(0, 10);
  },
};
