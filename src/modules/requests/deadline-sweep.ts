import type { Logger } from 'pino';
import { systemContext } from '../../server/actor.js';
import type { GrantService } from '../grants/service.js';
import type { ShareRequestService } from './service.js';

export interface RunningSweep {
  /** Runs one sweep now (tests, `govshare requests sweep`); waits for one in progress first. */
  runOnce(): Promise<SweepResult>;
  stop(): Promise<void>;
}

export interface SweepResult {
  readonly reminded: number;
  readonly escalated: number;
  readonly grantsExpired: number;
  readonly grantsReminded: number;
}

/** One pass over deadlines and grant ends; safe to run in several processes at once (SKIP LOCKED). */
export async function sweepOnce(requests: ShareRequestService, grants: GrantService, grantExpiryReminderDays: number): Promise<SweepResult> {
  const ctx = systemContext();
  const { reminded, escalated } = await requests.sweepDeadlines(ctx);
  const { expired, reminded: grantsReminded } = await grants.sweep(ctx, grantExpiryReminderDays);
  return { reminded, escalated, grantsExpired: expired, grantsReminded };
}

/**
 * Every `serve` process sweeps every `seconds`: reviewers reminded of near deadlines, overdue
 * requests escalated to the supervisor, grants past their end expired, consumers reminded to renew.
 */
export function startDeadlineSweep(requests: ShareRequestService, grants: GrantService, options: { seconds: number; grantExpiryReminderDays: number }, logger: Logger): RunningSweep {
  let current: Promise<SweepResult> | undefined;
  const run = (): Promise<SweepResult> => {
    const previous = current ?? Promise.resolve(undefined);
    const next = previous.then(() => sweepOnce(requests, grants, options.grantExpiryReminderDays));
    current = next.catch(() => ({ reminded: 0, escalated: 0, grantsExpired: 0, grantsReminded: 0 }));
    return next;
  };
  const tick = (): void => {
    run().then(
      (r) => {
        if (r.reminded + r.escalated + r.grantsExpired + r.grantsReminded > 0) logger.info(r, 'share-request deadlines swept');
      },
      (err: unknown) => logger.error({ err }, 'sweeping share-request deadlines failed'),
    );
  };
  const timer = setInterval(tick, options.seconds * 1000);
  timer.unref();
  // The first pass soon after start: a platform that was down may have missed deadlines.
  const first = setTimeout(tick, 1000);
  first.unref();
  return {
    runOnce: run,
    stop: async () => {
      clearInterval(timer);
      clearTimeout(first);
      await current;
    },
  };
}
