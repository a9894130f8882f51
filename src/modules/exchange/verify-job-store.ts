import { sql } from 'kysely';
import type { Db } from '../../db/database.js';

/** The states of a batch verification job: queued → running → succeeded | failed. */
export const VERIFY_JOB_STATES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type VerifyJobState = (typeof VERIFY_JOB_STATES)[number];

/** Why a job failed: an error code with its messages; for a file, the located problems. */
export interface VerifyJobError {
  readonly code: string;
  readonly message: string;
  readonly messageZh: string;
}

export interface VerifyJobRow {
  readonly id: string;
  readonly resourceCode: string;
  readonly systemId: string;
  readonly agencyId: string | null;
  readonly actorName: string;
  readonly requestId: string | null;
  readonly state: VerifyJobState;
  readonly format: string;
  readonly encoding: string | null;
  readonly bytes: number;
  readonly keyItems: string[];
  readonly fieldItems: string[];
  readonly modes: Record<string, string>;
  readonly purpose: string | null;
  readonly recordsTotal: number;
  readonly recordsDone: number;
  readonly matched: number;
  readonly mismatched: number;
  readonly notFound: number;
  readonly attempts: number;
  readonly claimedBy: string | null;
  readonly leaseUntil: Date | null;
  readonly error: VerifyJobError | null;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

export type NewVerifyJob = Omit<VerifyJobRow, 'state' | 'recordsDone' | 'matched' | 'mismatched' | 'notFound' | 'attempts' | 'claimedBy' | 'leaseUntil' | 'error' | 'startedAt' | 'finishedAt'>;

export interface VerifyCounts {
  readonly recordsDone: number;
  readonly matched: number;
  readonly mismatched: number;
  readonly notFound: number;
}

export type VerifyJobFileKind = 'input' | 'result';

/** The SQL of batch verification jobs (exchange_verify_jobs, exchange_verify_job_files). */
export class VerifyJobStore {
  constructor(private readonly db: Db) {}

  async insert(job: NewVerifyJob, sealedInput: string, trx: Db): Promise<void> {
    await trx
      .insertInto('exchangeVerifyJobs')
      .values({ ...job, state: 'queued', keyItems: JSON.stringify(job.keyItems), fieldItems: JSON.stringify(job.fieldItems), modes: JSON.stringify(job.modes) })
      .execute();
    await trx.insertInto('exchangeVerifyJobFiles').values({ jobId: job.id, kind: 'input', sealed: sealedInput }).execute();
  }

  async get(id: string, executor: Db = this.db): Promise<VerifyJobRow | undefined> {
    return (await executor.selectFrom('exchangeVerifyJobs').selectAll().where('id', '=', id).executeTakeFirst()) as VerifyJobRow | undefined;
  }

  async file(id: string, kind: VerifyJobFileKind, executor: Db = this.db): Promise<string | undefined> {
    return (await executor.selectFrom('exchangeVerifyJobFiles').select('sealed').where('jobId', '=', id).where('kind', '=', kind).executeTakeFirst())?.sealed;
  }

  /**
   * Claims the oldest job that is queued, or running under a lease that ran out (its server
   * stopped), in one short transaction: the row is locked (skipping rows another worker holds),
   * its attempt counted, its counts reset and its lease set. Until the lease ends no other worker
   * takes it; the worker renews the lease as it goes (`progress`).
   */
  claim(worker: string, now: Date, leaseUntil: Date): Promise<VerifyJobRow | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const due = await trx
        .selectFrom('exchangeVerifyJobs')
        .select('id')
        .where((eb) => eb.or([eb('state', '=', 'queued'), eb.and([eb('state', '=', 'running'), eb('leaseUntil', '<', now)])]))
        .orderBy('createdAt')
        .limit(1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (!due) return undefined;
      return (await trx
        .updateTable('exchangeVerifyJobs')
        .set({ state: 'running', attempts: sql<number>`attempts + 1`, claimedBy: worker, leaseUntil, startedAt: now, recordsDone: 0, matched: 0, mismatched: 0, notFound: 0 })
        .where('id', '=', due.id)
        .returningAll()
        .executeTakeFirstOrThrow()) as VerifyJobRow;
    });
  }

  /** Records progress and renews the lease while the claim is still this worker's; whether it is. */
  async progress(id: string, worker: string, counts: VerifyCounts, leaseUntil: Date): Promise<boolean> {
    const r = await this.db.updateTable('exchangeVerifyJobs').set({ ...counts, leaseUntil }).where('id', '=', id).where('claimedBy', '=', worker).where('state', '=', 'running').executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** The job succeeded: its result file and final counts, while the claim is this worker's; whether it was. */
  async succeed(id: string, worker: string, counts: VerifyCounts, sealedResult: string, now: Date, trx: Db): Promise<boolean> {
    const r = await trx
      .updateTable('exchangeVerifyJobs')
      .set({ ...counts, state: 'succeeded', claimedBy: null, leaseUntil: null, finishedAt: now })
      .where('id', '=', id)
      .where('claimedBy', '=', worker)
      .where('state', '=', 'running')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
    await trx.insertInto('exchangeVerifyJobFiles').values({ jobId: id, kind: 'result', sealed: sealedResult }).execute();
    return true;
  }

  /** The job failed (`worker` null: whoever holds it, for a job given up after its lease ran out); whether it was still running. */
  async fail(id: string, worker: string | null, error: VerifyJobError, now: Date, trx: Db): Promise<boolean> {
    let q = trx
      .updateTable('exchangeVerifyJobs')
      .set({ state: 'failed', error: JSON.stringify(error), claimedBy: null, leaseUntil: null, finishedAt: now })
      .where('id', '=', id)
      .where('state', '=', 'running');
    if (worker !== null) q = q.where('claimedBy', '=', worker);
    return Number((await q.executeTakeFirst()).numUpdatedRows) === 1;
  }

  /** Hands a job this worker holds back to the queue (the server is stopping), the attempt not counted. */
  async release(id: string, worker: string): Promise<void> {
    await this.db
      .updateTable('exchangeVerifyJobs')
      .set({ state: 'queued', claimedBy: null, leaseUntil: null, attempts: sql<number>`greatest(attempts - 1, 0)`, recordsDone: 0, matched: 0, mismatched: 0, notFound: 0 })
      .where('id', '=', id)
      .where('claimedBy', '=', worker)
      .where('state', '=', 'running')
      .execute();
  }

  /** Deletes jobs (and their files) finished before `before`; how many. */
  async sweep(before: Date): Promise<number> {
    const r = await this.db.deleteFrom('exchangeVerifyJobs').where('finishedAt', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
