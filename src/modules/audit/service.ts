import type { KeyObject } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Db } from '../../db/database.js';
import { GsError } from '../../lib/errors.js';
import type { RequestContext } from '../../server/actor.js';
import type { KeyRing } from '../keys/key-ring.js';
import { ArchiveFileWriter, ARCHIVE_FORMAT, ARCHIVE_VERSION, type ArchiveHeader } from './archive-file.js';
import {
  archiveSignatureValid,
  checkpointSignatureValid,
  eventHash,
  generateSigningKey,
  GENESIS_HASH,
  isHashAlgorithm,
  keyPairMatches,
  privateKeyFromDer,
  publicKeyFromPem,
  signArchive,
  signCheckpoint,
  SIGNING_ALGORITHM,
  type ArchiveStatement,
  type AuditHashAlgorithm,
} from './chain.js';
import { auditCsv } from './csv.js';
import { APPEND_AT_ONCE, AuditStore, type ArchiveRow, type AuditQuery, type AuditRow, type ChainHead, type CheckpointRow, type NewAuditRow } from './store.js';
import { checkingThreads, inlineChecker, threadChecker, type PageFailure, type PageResult } from './verify-hashing.js';

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** `<area>.<verb>` in kebab-case: `agency.create`, `user.set-roles`, `auth.end-session`. */
const ACTION_ID = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?:\.[a-z][a-z0-9]*(?:-[a-z0-9]+)*)+$/;

export interface AuditEntry {
  /** `<area>.<verb>` in kebab-case, e.g. `agency.create`, `user.set-roles` (docs/operations.md lists them). */
  readonly action: string;
  readonly targetType?: string;
  readonly targetId?: string | null;
  readonly outcome?: AuditOutcome;
  readonly details?: Record<string, unknown>;
}

/** What an export selects: a search without paging. */
export type AuditFilters = Omit<AuditQuery, 'before' | 'limit' | 'order'>;

export interface AuditServiceOptions {
  /** The master key: seals the audit signing key. */
  readonly keys: KeyRing;
  readonly hashAlgorithm: AuditHashAlgorithm;
  /** A checkpoint is signed whenever the chain passes a multiple of this many events. */
  readonly checkpointEvents: number;
  readonly now: () => Date;
  /**
   * Threads that recompute hashes during `verify`: by default none for small chains, else one
   * fewer than the CPUs (at most 4); 0 hashes on the calling thread.
   */
  readonly verifyThreads?: number | undefined;
  /**
   * `fast` (default): pages rendered by the database, checked on threads; `reference`: field by
   * field in order, as chain.ts states the rules (the fast path's fallback, and its yardstick in tests).
   */
  readonly verifyMethod?: 'fast' | 'reference' | undefined;
  /**
   * The PostgreSQL server's binary COPY reader (DatabaseHandle.copyOutStream): verification pages
   * arrive as rows of stored columns, and the database renders nothing.
   */
  readonly copyOutStream?: ((select: string) => Promise<Buffer>) | undefined;
}

/**
 * The legal minimum: network logs are kept at least six months (网络安全法 §21). Events younger
 * than this are never archived; migration 0006 enforces the same floor in the database.
 */
export const AUDIT_MIN_RETENTION_DAYS = 180;
const DAY_MS = 86_400_000;

export interface AuditCheckpoint {
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
  readonly keyId: string;
}

/** The archives the oldest events were moved to, as the live chain records them. */
export interface AuditArchivesView {
  readonly count: number;
  /** Events 1…lastSeq are in archive files, not in the database (0: nothing archived). */
  readonly lastSeq: number;
  readonly lastHash: string;
  readonly newest: { readonly firstSeq: number; readonly lastSeq: number; readonly fileName: string; readonly fileSha256: string; readonly archivedAt: string } | null;
}

/** The outcome of a verification: a value, broken or not (the CLI turns a broken one into exit 8). */
export interface AuditVerification {
  readonly ok: boolean;
  /** Events checked in the database: from seq 1, or from the one after the newest archive. */
  readonly events: number;
  readonly lastSeq: number;
  readonly archives: AuditArchivesView;
  readonly checkpoints: number;
  readonly lastCheckpoint: AuditCheckpoint | null;
  /** Events after the last checkpoint: chained, but not yet anchored by a signature. */
  readonly unsignedTail: number;
  /** The first sequence number that fails, or null. */
  readonly firstBadSeq: number | null;
  readonly problem: string | null;
}

/** What `archive` did: nothing (no event old enough), or the file it wrote and the events it removed. */
export type AuditArchiveResult =
  | { readonly archived: false; readonly cutOff: string; readonly reason: string }
  | {
      readonly archived: true;
      readonly cutOff: string;
      readonly file: string;
      readonly firstSeq: number;
      readonly lastSeq: number;
      readonly events: number;
      readonly checkpoints: number;
      readonly firstAt: string;
      readonly lastAt: string;
      readonly lastHash: string;
      readonly fileSha256: string;
      readonly contentSha256: string;
      readonly keyId: string;
    };

export interface AuditPublicKey {
  readonly id: string;
  readonly algorithm: string;
  readonly publicKey: string;
  readonly createdAt: string;
}

interface Signer {
  readonly keyId: string;
  readonly privateKey: KeyObject;
}

/** Sequence numbers per page read by `verify`: one text, one thread's batch. */
const VERIFY_PAGE = 5_000;
/** Events per page read by `archive`. */
const ARCHIVE_PAGE = 5_000;

/** A problem found by `verify`; of two, the lower seq wins, and at one seq the lower rank. */
interface Failure {
  readonly seq: number;
  /** 0: sequence, chaining, link; 1: the event's hash; 2: its checkpoint. */
  readonly rank: 0 | 1 | 2;
  readonly problem: string;
}

function earlier(a: Failure | null, b: Failure | null): Failure | null {
  if (!a) return b;
  if (!b) return a;
  return a.seq < b.seq || (a.seq === b.seq && a.rank <= b.rank) ? a : b;
}

function archiveStatement(a: ArchiveRow): ArchiveStatement {
  return { firstSeq: a.firstSeq, lastSeq: a.lastSeq, firstPrevHash: a.firstPrevHash, lastHash: a.lastHash, events: a.events, contentSha256: a.contentSha256, at: a.archivedAt, keyId: a.keyId };
}

function archivesView(archives: readonly ArchiveRow[]): AuditArchivesView {
  const newest = archives.at(-1);
  return {
    count: archives.length,
    lastSeq: newest?.lastSeq ?? 0,
    lastHash: newest?.lastHash ?? GENESIS_HASH,
    newest: newest ? { firstSeq: newest.firstSeq, lastSeq: newest.lastSeq, fileName: newest.fileName, fileSha256: newest.fileSha256, archivedAt: newest.archivedAt.toISOString() } : null,
  };
}

function sealContext(keyId: string): string {
  return `audit.signingKey:${keyId}`;
}

function checkpointView(c: CheckpointRow): AuditCheckpoint {
  return { seq: c.seq, hash: c.hash, at: c.at.toISOString(), keyId: c.keyId };
}

/**
 * The tamper-evident audit trail (rules in README.md). Every state-changing action calls `record`,
 * inside the same transaction as the change when it has one, so a change is never kept without
 * its record. An append takes the audit lock until its transaction ends, reads the head of the
 * chain and inserts the next events — or, with no transaction of its own, first tries one INSERT
 * after the head this process knows (README.md, "Appends in one statement"); every
 * `checkpointEvents` events a checkpoint signed with the platform's audit key anchors the chain.
 */
/** At most this many events in one group-commit append. */
const GROUP_MAX = 500;

export class AuditService {
  readonly #store: AuditStore;
  readonly #db: Db;
  readonly #options: AuditServiceOptions;
  #signer: Signer | undefined;

  constructor(db: Db, options: AuditServiceOptions) {
    this.#db = db;
    this.#store = new AuditStore(db, options.copyOutStream);
    this.#options = options;
  }

  async record(ctx: RequestContext, entry: AuditEntry, executor?: Db): Promise<number> {
    const [id] = await this.recordMany(ctx, [entry], executor);
    return id!;
  }

  /** Appends several events in one go (one lock, one head read, multi-row inserts). */
  recordMany(ctx: RequestContext, entries: readonly AuditEntry[], executor?: Db): Promise<number[]> {
    const at = this.#options.now();
    return this.#append(
      entries.map((entry) => this.#row(ctx, entry, at)),
      executor,
    );
  }

  /**
   * Records an event that belongs to no transaction of its own, on a hot path (an exchange call),
   * together with the events of concurrent callers: one transaction, one lock, one head read for
   * all of them (group commit). Resolves once the event is committed — a caller answers only
   * after that, so no call is ever answered unaudited; a failed append rejects every caller in it.
   */
  recordGrouped(ctx: RequestContext, entry: AuditEntry): Promise<number> {
    let row: NewAuditRow;
    try {
      row = this.#row(ctx, entry, this.#options.now());
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return new Promise<number>((resolve, reject) => {
      this.#grouped.push({ row, resolve, reject });
      if (!this.#draining) this.#draining = this.#drain();
    });
  }

  readonly #grouped: { row: NewAuditRow; resolve: (id: number) => void; reject: (e: unknown) => void }[] = [];
  #draining: Promise<void> | undefined;

  /** Appends the waiting events in batches while any wait; callers arriving meanwhile join the next batch. */
  async #drain(): Promise<void> {
    try {
      while (this.#grouped.length > 0) {
        const batch = this.#grouped.splice(0, GROUP_MAX);
        try {
          const ids = await this.#append(batch.map((b) => b.row));
          batch.forEach((b, i) => b.resolve(ids[i]!));
        } catch (e) {
          for (const b of batch) b.reject(e);
        }
      }
    } finally {
      this.#draining = undefined;
    }
  }

  /**
   * The last event this process knows of the chain (its own last append, or the head its last
   * locked append read): an append of its own with no transaction around it is tried after this
   * head in one statement (`appendIfHead`), and takes the lock only when that head is no longer the
   * last. Never trusted for anything else: the statement checks it.
   */
  #knownHead: ChainHead | undefined;

  async #append(rows: NewAuditRow[], executor?: Db): Promise<number[]> {
    const every = this.#options.checkpointEvents;
    const passesCheckpoint = (before: number, after: number): boolean => Math.floor(after / every) > Math.floor(before / every);
    const run = async (trx: Db): Promise<{ ids: number[]; head: ChainHead }> => {
      await this.#store.lock(trx);
      const before = await this.#store.head(trx, this.#options.hashAlgorithm);
      const appended = await this.#store.append(trx, rows, this.#options.hashAlgorithm, before);
      if (passesCheckpoint(before?.seq ?? 0, appended.head.seq)) {
        const signer = await this.#existingSigner(trx);
        // Before bootstrap created the key there is nothing to sign with; the next checkpoint covers these.
        if (signer) await this.#insertCheckpoint(trx, signer, appended.head);
      }
      return appended;
    };
    if (rows.length === 0) return [];
    // Inside a caller's transaction: under the lock until it ends (it may roll back; nothing is learnt).
    if (executor?.isTransaction) return (await run(executor)).ids;
    const db = executor ?? this.#db;
    const known = this.#knownHead;
    // One statement, no lock, no head read — unless the chain moved on, or a checkpoint falls due (signed in the append's transaction).
    if (known && rows.length <= APPEND_AT_ONCE && !passesCheckpoint(known.seq, known.seq + rows.length)) {
      const appended = await this.#store.appendIfHead(db, rows, this.#options.hashAlgorithm, known);
      if (appended) {
        this.#learn(appended.head);
        return appended.ids;
      }
      if (this.#knownHead === known) this.#knownHead = undefined;
    }
    const appended = await db.transaction().execute(run);
    this.#learn(appended.head);
    return appended.ids;
  }

  /** A committed head: kept if it is further on than the one known (appends of this process may finish out of order). */
  #learn(head: ChainHead): void {
    if (!this.#knownHead || head.seq > this.#knownHead.seq) this.#knownHead = head;
  }

  #row(ctx: RequestContext, entry: AuditEntry, at: Date): NewAuditRow {
    if (!ACTION_ID.test(entry.action)) throw new Error(`audit action ${JSON.stringify(entry.action)} is not a kebab-case <area>.<verb> id`);
    const text = (v: string | null | undefined): string | null => (v === null || v === undefined ? null : storableText(v));
    return {
      at,
      actorType: ctx.actor.type,
      actorId: ctx.actor.userId?.toLowerCase() ?? null,
      actorAgencyId: ctx.actor.agencyId?.toLowerCase() ?? null,
      actorName: storableText(ctx.actor.name),
      action: entry.action,
      targetType: text(entry.targetType),
      targetId: text(entry.targetId),
      outcome: entry.outcome ?? 'success',
      requestId: text(ctx.requestId),
      ip: text(ctx.ip),
      // As it will read back from jsonb: what the hash covers.
      details: storableJson(JSON.parse(JSON.stringify(entry.details ?? {})) as unknown) as Record<string, unknown>,
    };
  }

  /**
   * Start-up: chains the events written before the hash chain existed and creates the audit
   * signing key if there is none. Idempotent; several servers may run it at once.
   */
  async prepare(): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await this.#store.lock(trx);
      await this.#store.head(trx, this.#options.hashAlgorithm);
      await this.#ensureSigningKey(trx);
    });
  }

  /** Signs a checkpoint of the current head if events were added since the last one. */
  async checkpoint(): Promise<AuditCheckpoint | null> {
    const created = await this.#db.transaction().execute(async (trx) => {
      await this.#store.lock(trx);
      const head = await this.#store.head(trx, this.#options.hashAlgorithm);
      const last = await this.#store.lastCheckpoint(trx);
      if (!head || (last && last.seq >= head.seq)) return null;
      const signer = await this.#ensureSigningKey(trx);
      return this.#insertCheckpoint(trx, signer, head);
    });
    return created ? checkpointView(created) : null;
  }

  async lastCheckpoint(): Promise<AuditCheckpoint | null> {
    const c = await this.#store.lastCheckpoint();
    return c ? checkpointView(c) : null;
  }

  async #insertCheckpoint(trx: Db, signer: Signer, head: ChainHead): Promise<CheckpointRow> {
    const fields = { seq: head.seq, hash: head.hash, at: this.#options.now(), keyId: signer.keyId };
    const row = { ...fields, signature: signCheckpoint(fields, signer.privateKey) };
    await this.#store.insertCheckpoint(trx, row);
    return row;
  }

  async #existingSigner(executor: Db): Promise<Signer | undefined> {
    if (this.#signer) return this.#signer;
    // An admin command without the master key leaves its checkpoint to the servers' timer.
    if (!this.#options.keys.available) return undefined;
    const key = await this.#store.currentSigningKey(executor);
    if (!key) return undefined;
    const signer = { keyId: key.id, privateKey: privateKeyFromDer(this.#options.keys.open(key.privateKeySealed, sealContext(key.id))) };
    // Only keys read from the database are cached: a key created in a transaction that rolls back would vanish.
    this.#signer = signer;
    return signer;
  }

  /** With the audit lock held, so two servers never both create one. */
  async #ensureSigningKey(trx: Db): Promise<Signer> {
    const existing = await this.#existingSigner(trx);
    if (existing) return existing;
    const pair = generateSigningKey();
    await this.#store.insertSigningKey(trx, {
      id: pair.id,
      algorithm: SIGNING_ALGORITHM,
      publicKey: pair.publicKeyPem,
      privateKeySealed: this.#options.keys.seal(pair.privateKeyDer, sealContext(pair.id)),
    });
    return { keyId: pair.id, privateKey: privateKeyFromDer(pair.privateKeyDer) };
  }

  /**
   * Checks the chain: the archive records (each signed by the platform, each continuing the one
   * before), then every event in the database from the newest archive's anchor (or seq 1) to the
   * head — contiguous sequence numbers, each prev_hash the hash before, each hash recomputed —
   * every checkpoint (signature, and the hash of the event it signs), the signing keys (the
   * sealed private key opens with the master key and matches the public key), and that no signed
   * checkpoint lies beyond the last event (a truncated tail). Stops at the first problem and
   * names its sequence number. Events appended meanwhile are left to the next verification.
   *
   * The events are read a page at a time as one text and checked on worker threads for a long
   * chain (verify-hashing.ts), links across pages stitched here in order. A hash that fails that
   * way is recomputed field by field (chain.ts) before it is reported; should that disagree,
   * the whole chain is checked again the reference way, so the verdict is always the rules'.
   */
  async verify(): Promise<AuditVerification> {
    // Checking that the signing keys are the platform's own needs the master key; without it the
    // check would wrongly report them foreign.
    if (!this.#options.keys.available) throw new GsError('GS_ERR_KEYS_MASTER_KEY_MISSING', { context: 'audit signing keys' });
    const keys = new Map<string, KeyObject>();
    const archives = await this.#store.archives();
    const view = archivesView(archives);
    for (const k of await this.#store.signingKeys()) {
      let sound = false;
      try {
        sound = k.algorithm === SIGNING_ALGORITHM && keyPairMatches(privateKeyFromDer(this.#options.keys.open(k.privateKeySealed, sealContext(k.id))), k.publicKey);
      } catch {
        sound = false;
      }
      if (!sound) return this.#broken(0, 0, 0, null, view, null, `signing key ${k.id} is not one this platform made (its sealed private key does not open with the master key or does not match its public key)`);
      keys.set(k.id, publicKeyFromPem(k.publicKey));
    }
    // Checkpoints before the head: every checkpoint read here signs an event at or below it.
    const checkpoints = await this.#store.checkpoints();
    const live = await this.#store.seqRange();
    const lastCheckpoint = checkpoints.at(-1) ?? null;
    const broken = (f: Failure, anchorSeq: number) => this.#broken(f.seq - 1 - anchorSeq, f.seq - 1, checkpoints.length, lastCheckpoint, view, f.seq, f.problem);

    // The archive records: a signed, gapless series from seq 1; the live chain continues the last.
    let anchor: ChainHead = { seq: 0, hash: GENESIS_HASH };
    const archivedEnds = new Map<number, string>();
    for (const a of archives) {
      const range = `${a.firstSeq}…${a.lastSeq}`;
      if (a.firstSeq !== anchor.seq + 1 || a.firstPrevHash !== anchor.hash) {
        return broken({ seq: anchor.seq + 1, rank: 0, problem: `the archive record of events ${range} does not continue ${anchor.seq === 0 ? 'the start of the chain' : `the archive ending at event ${anchor.seq}`}` }, 0);
      }
      const key = keys.get(a.keyId);
      if (!key || !archiveSignatureValid(archiveStatement(a), a.signature, key)) {
        return broken({ seq: a.firstSeq, rank: 0, problem: `the signature of the archive record of events ${range} (${a.fileName}) does not verify` }, 0);
      }
      anchor = { seq: a.lastSeq, hash: a.lastHash };
      archivedEnds.set(a.lastSeq, a.lastHash);
    }
    // Checkpoints of the archived range stay in the database: their signatures still verify, and
    // one that ends an archive must sign that archive's last hash. Their events are in the files.
    for (const c of checkpoints) {
      if (c.seq > anchor.seq) break;
      const key = keys.get(c.keyId);
      if (!key || !checkpointSignatureValid(c, c.signature, key)) return broken({ seq: c.seq, rank: 2, problem: `the signature of checkpoint ${c.seq} (archived range) does not verify` }, 0);
      const end = archivedEnds.get(c.seq);
      if (end !== undefined && end !== c.hash) return broken({ seq: c.seq, rank: 2, problem: `checkpoint ${c.seq} signs another hash than the archive ending there records` }, 0);
    }
    if (live && live.first <= anchor.seq) {
      return broken({ seq: live.first, rank: 0, problem: `event ${live.first} is still in the database although events 1…${anchor.seq} were archived (inserted or restored afterwards)` }, 0);
    }
    const head = Math.max(live?.last ?? 0, anchor.seq);
    const liveCheckpoints = checkpoints.filter((c) => c.seq > anchor.seq);

    let failure =
      this.#options.verifyMethod === 'reference'
        ? await this.#walkByReference(anchor, head, liveCheckpoints, keys)
        : await this.#walk(anchor, head, liveCheckpoints, keys);
    if (failure?.rank === 1 && this.#options.verifyMethod !== 'reference' && !(await this.#hashDiffers(failure.seq))) {
      // The fast path disagrees with the rules' own implementation: trust only the latter.
      failure = await this.#walkByReference(anchor, head, liveCheckpoints, keys);
    }
    if (failure) return broken(failure, anchor.seq);
    if (lastCheckpoint && lastCheckpoint.seq > head) {
      return this.#broken(head - anchor.seq, head, checkpoints.length, lastCheckpoint, view, head + 1, `events ${head + 1}…${lastCheckpoint.seq} are missing: checkpoint ${lastCheckpoint.seq} signed them (the tail was truncated)`);
    }
    return {
      ok: true,
      events: head - anchor.seq,
      lastSeq: head,
      archives: view,
      checkpoints: checkpoints.length,
      lastCheckpoint: lastCheckpoint ? checkpointView(lastCheckpoint) : null,
      unsignedTail: head - Math.max(lastCheckpoint?.seq ?? 0, anchor.seq),
      firstBadSeq: null,
      problem: null,
    };
  }

  /**
   * The fast walk: pages of VERIFY_PAGE seqs read ahead (two at a time, so PostgreSQL renders one
   * while the other travels), checked on threads, results taken in order.
   */
  async #walk(anchor: ChainHead, head: number, checkpoints: readonly CheckpointRow[], keys: ReadonlyMap<string, KeyObject>): Promise<Failure | null> {
    const threads = this.#options.verifyThreads ?? checkingThreads(head - anchor.seq);
    const checker = threads > 0 ? threadChecker(threads) : inlineChecker();
    const ahead = Math.max(2, checker.parallelism + 1);
    const pages: { readonly after: number; readonly last: number; readonly result: Promise<{ events: number; result: PageResult }> }[] = [];
    let next = anchor.seq;
    const issue = (): void => {
      const after = next;
      const last = Math.min(after + VERIFY_PAGE, head);
      next = last;
      const want = checkpoints.filter((c) => c.seq > after && c.seq <= last).map((c) => c.seq);
      const result = this.#store.readsRows
        ? this.#store.readVerifyRows(after, last - after).then(async (bytes) => ({ events: -1, result: await checker.check(bytes, after + 1, want, 'rows') }))
        : this.#store.readVerifyPage(this.#db, after, last).then(async (page) => ({ events: page.events, result: await checker.check(page.bytes, after + 1, want, 'lines') }));
      // A page abandoned at a problem must not become an unhandled rejection.
      result.catch(() => undefined);
      pages.push({ after, last, result });
    };
    const bySeq = new Map(checkpoints.map((c) => [c.seq, c]));
    let prev = anchor.hash;
    try {
      while (next < head && pages.length < ahead) issue();
      for (let page = pages.shift(); page; page = pages.shift()) {
        const { events, result: r } = await page.result;
        if (next < head) issue();
        let failure: Failure | null = null;
        if (r.failure) failure = this.#pageFailure(r.failure, page.last);
        else if (events === 0 || r.checked === 0) failure = { seq: page.after + 1, rank: 0, problem: `events ${page.after + 1}…${page.last} are missing` };
        // The page ended early: its last events are gone (the next page would not link).
        else if (r.checked < page.last - page.after) failure = this.#pageFailure({ seq: page.after + r.checked + 1, kind: 'missing' }, page.last);
        if (r.firstPrev !== null && r.firstPrev !== prev) {
          failure = earlier(failure, { seq: page.after + 1, rank: 0, problem: `event ${page.after + 1} does not link to event ${page.after} (prev_hash differs: removed, inserted or reordered events)` });
        }
        for (const [seqText, stored] of Object.entries(r.hashes)) {
          const c = bySeq.get(Number(seqText))!;
          const key = keys.get(c.keyId);
          if (c.hash !== stored) failure = earlier(failure, { seq: c.seq, rank: 2, problem: `checkpoint ${c.seq} signs another hash than event ${c.seq} has` });
          else if (!key || !checkpointSignatureValid(c, c.signature, key)) failure = earlier(failure, { seq: c.seq, rank: 2, problem: `the signature of checkpoint ${c.seq} does not verify` });
        }
        if (failure) return failure;
        prev = r.lastHash ?? prev;
      }
      return null;
    } finally {
      await checker.close();
    }
  }

  #pageFailure(f: PageFailure, pageLast: number): Failure {
    switch (f.kind) {
      case 'missing':
        return { seq: f.seq, rank: 0, problem: `event ${f.seq} is missing (the next event is ${typeof f.found === 'number' && f.found <= pageLast ? f.found : `beyond ${f.seq}`})` };
      case 'unchained':
        return { seq: f.seq, rank: 0, problem: `event ${f.seq} is not chained (written before the hash chain; the platform chains such events at start)` };
      case 'algorithm':
        return { seq: f.seq, rank: 0, problem: `event ${f.seq} names an unknown hash algorithm ${String(f.found)}` };
      case 'link':
        return { seq: f.seq, rank: 0, problem: `event ${f.seq} does not link to event ${f.seq - 1} (prev_hash differs: removed, inserted or reordered events)` };
      case 'hash':
        return { seq: f.seq, rank: 1, problem: `event ${f.seq} does not match its hash (its content was changed)` };
    }
  }

  /** Whether the event's hash differs when recomputed field by field (chain.ts). */
  async #hashDiffers(seq: number): Promise<boolean> {
    const [r] = await this.#store.readChain(this.#db, seq - 1, 1);
    if (!r || r.seq !== seq || r.hash === null || r.prevHash === null || r.hashAlg === null || !isHashAlgorithm(r.hashAlg)) return true;
    return eventHash({ ...r, at: r.atText, hashAlg: r.hashAlg, prevHash: r.prevHash }) !== r.hash;
  }

  /** The reference walk: every event field by field, in order, on this thread (the rules' own implementation). */
  async #walkByReference(anchor: ChainHead, head: number, checkpoints: readonly CheckpointRow[], keys: ReadonlyMap<string, KeyObject>): Promise<Failure | null> {
    const bySeq = new Map(checkpoints.map((c) => [c.seq, c]));
    let prev = anchor.hash;
    let expected = anchor.seq + 1;
    while (expected <= head) {
      const rows = await this.#store.readChain(this.#db, expected - 1, Math.min(ARCHIVE_PAGE, head - expected + 1));
      if (rows.length === 0) return { seq: expected, rank: 0, problem: `events ${expected}…${head} are missing` };
      for (const r of rows) {
        if (r.seq > head) return null;
        if (r.seq !== expected) return { seq: expected, rank: 0, problem: `event ${expected} is missing (the next event is ${r.seq})` };
        if (r.hash === null || r.prevHash === null || r.hashAlg === null) return this.#pageFailure({ seq: r.seq, kind: 'unchained' }, head);
        if (!isHashAlgorithm(r.hashAlg)) return this.#pageFailure({ seq: r.seq, kind: 'algorithm', found: r.hashAlg }, head);
        if (r.prevHash !== prev) return this.#pageFailure({ seq: r.seq, kind: 'link' }, head);
        if (eventHash({ ...r, at: r.atText, hashAlg: r.hashAlg, prevHash: r.prevHash }) !== r.hash) return this.#pageFailure({ seq: r.seq, kind: 'hash' }, head);
        const c = bySeq.get(r.seq);
        if (c) {
          const key = keys.get(c.keyId);
          if (c.hash !== r.hash) return { seq: r.seq, rank: 2, problem: `checkpoint ${c.seq} signs another hash than event ${r.seq} has` };
          if (!key || !checkpointSignatureValid(c, c.signature, key)) return { seq: r.seq, rank: 2, problem: `the signature of checkpoint ${c.seq} does not verify` };
        }
        prev = r.hash;
        expected++;
      }
    }
    return null;
  }

  #broken(events: number, lastGoodSeq: number, checkpoints: number, lastCheckpoint: CheckpointRow | null, archives: AuditArchivesView, firstBadSeq: number | null, problem: string): AuditVerification {
    return {
      ok: false,
      events: Math.max(0, events),
      lastSeq: lastGoodSeq,
      archives,
      checkpoints,
      lastCheckpoint: lastCheckpoint ? checkpointView(lastCheckpoint) : null,
      unsignedTail: 0,
      firstBadSeq,
      problem,
    };
  }

  /**
   * Moves the oldest events to a signed archive file and removes them from the database: the
   * longest prefix of the live chain older than `before`, which must itself be at least
   * AUDIT_MIN_RETENTION_DAYS old. The range is verified while it is written (a broken chain is
   * never archived); the file is complete and on disk before the database changes; the record of
   * the archive, the removal and the `audit.archive` event are one transaction.
   */
  async archive(ctx: RequestContext, input: { readonly before: Date; readonly out: string }): Promise<AuditArchiveResult> {
    const now = this.#options.now();
    const latest = new Date(now.getTime() - AUDIT_MIN_RETENTION_DAYS * DAY_MS);
    const cutOff = input.before.toISOString();
    if (input.before.getTime() > latest.getTime()) {
      throw new GsError('GS_ERR_AUDIT_RETENTION', { days: AUDIT_MIN_RETENTION_DAYS, before: cutOff, latest: latest.toISOString() });
    }
    if (!this.#options.keys.available) throw new GsError('GS_ERR_KEYS_MASTER_KEY_MISSING', { context: 'signing the audit archive' });
    const newest = await this.#store.newestArchive();
    const anchor: ChainHead = { seq: newest?.lastSeq ?? 0, hash: newest?.lastHash ?? GENESIS_HASH };
    const lastSeq = await this.#store.lastOlderThan(this.#db, anchor.seq, input.before);
    if (lastSeq === undefined) return { archived: false, cutOff, reason: `no event after seq ${anchor.seq} is older than ${cutOff}` };
    const firstSeq = anchor.seq + 1;
    const summary = await this.#store.rangeSummary(this.#db, firstSeq, lastSeq);
    if (summary.events !== lastSeq - firstSeq + 1) {
      throw new GsError('GS_ERR_AUDIT_CHAIN_BROKEN', { seq: firstSeq, problem: `events ${firstSeq}…${lastSeq} are not all there (${summary.events} found); run govshare audit verify` });
    }
    const signer = await this.#existingSigner(this.#db);
    if (!signer) throw new GsError('GS_ERR_DB_NOT_INITIALISED', { location: 'the audit signing key' });
    const checkpoints = await this.#store.checkpointsBetween(this.#db, firstSeq, lastSeq);
    const keyIds = new Set([signer.keyId, ...checkpoints.map((c) => c.keyId)]);
    const keys = (await this.#store.signingKeys()).filter((k) => keyIds.has(k.id));
    const publicKeys = new Map(keys.map((k) => [k.id, publicKeyFromPem(k.publicKey)]));

    const writer = await ArchiveFileWriter.create(input.out);
    let lastHash: string;
    let fileSha256: string;
    let contentSha256: string;
    try {
      const header: ArchiveHeader = {
        type: 'header',
        format: ARCHIVE_FORMAT,
        version: ARCHIVE_VERSION,
        chain: 'govshare-audit-v1',
        hashAlgorithms: summary.hashAlgorithms,
        firstSeq,
        lastSeq,
        firstPrevHash: anchor.hash,
        lastHash: (await this.#store.readChain(this.#db, lastSeq - 1, 1))[0]?.hash ?? '',
        events: summary.events,
        checkpoints: checkpoints.length,
        firstAt: summary.firstAt,
        lastAt: summary.lastAt,
        cutOff,
        createdAt: now.toISOString(),
        createdBy: ctx.actor.name,
        keys: keys.map((k) => ({ id: k.id, algorithm: k.algorithm, publicKey: k.publicKey })),
      };
      await writer.line(header);
      lastHash = await this.#writeArchivedEvents(writer, anchor, lastSeq, checkpoints, publicKeys);
      if (lastHash !== header.lastHash) throw new GsError('GS_ERR_AUDIT_CHAIN_BROKEN', { seq: lastSeq, problem: `event ${lastSeq} changed while it was archived` });
      contentSha256 = writer.contentSha256();
      const statement: ArchiveStatement = { firstSeq, lastSeq, firstPrevHash: anchor.hash, lastHash, events: summary.events, contentSha256, at: now, keyId: signer.keyId };
      const signature = signArchive(statement, signer.privateKey);
      fileSha256 = await writer.finish({ type: 'signature', algorithm: SIGNING_ALGORITHM, ...statement, at: now.toISOString(), signature });

      // Only once the file is on disk: record it, remove its events, audit that — or none of it.
      let recorded = false;
      await this.#db.transaction().execute(async (trx) => {
        try {
          await this.#store.lock(trx);
          const current = await this.#store.newestArchive(trx);
          if ((current?.lastSeq ?? 0) !== anchor.seq) throw new GsError('GS_ERR_AUDIT_ARCHIVE_CONFLICT', { lastSeq: current?.lastSeq ?? 0, path: input.out });
          await this.#store.insertArchive(trx, {
            ...statement,
            firstAt: new Date(summary.firstAt),
            lastAt: new Date(summary.lastAt),
            cutOff: input.before,
            fileSha256,
            fileName: basename(input.out),
            signature,
            archivedAt: now,
            archivedBy: ctx.actor.name,
          });
          const removed = await this.#store.deleteArchived(trx, firstSeq, lastSeq);
          if (removed !== summary.events) throw new Error(`removed ${removed} events of ${summary.events}`);
          await this.record(
            ctx,
            {
              action: 'audit.archive',
              targetType: 'auditArchive',
              targetId: basename(input.out),
              details: { firstSeq, lastSeq, events: summary.events, firstAt: summary.firstAt, lastAt: summary.lastAt, cutOff, fileSha256, contentSha256, keyId: signer.keyId },
            },
            trx,
          );
        } catch (e) {
          throw this.#retentionRefusal(e, cutOff, latest);
        }
        recorded = true;
      }).catch(async (e: unknown) => {
        // Rolled back: the events are still in the database, so the file must not stay as if it
        // held them alone. A failed commit after the work (recorded) may have kept it: keep the file.
        if (!recorded) await unlink(input.out).catch(() => undefined);
        throw e;
      });
    } catch (e) {
      await writer.abandon();
      throw e;
    }
    return { archived: true, cutOff, file: input.out, firstSeq, lastSeq, events: summary.events, checkpoints: checkpoints.length, firstAt: summary.firstAt, lastAt: summary.lastAt, lastHash, fileSha256, contentSha256, keyId: signer.keyId };
  }

  /** Writes events after `anchor` up to `lastSeq`, checking each link, hash and checkpoint on the way; returns the last hash. */
  async #writeArchivedEvents(writer: ArchiveFileWriter, anchor: ChainHead, lastSeq: number, checkpoints: readonly CheckpointRow[], keys: ReadonlyMap<string, KeyObject>): Promise<string> {
    const bySeq = new Map(checkpoints.map((c) => [c.seq, c]));
    let prev = anchor;
    while (prev.seq < lastSeq) {
      const rows = await this.#store.readChain(this.#db, prev.seq, Math.min(ARCHIVE_PAGE, lastSeq - prev.seq));
      if (rows.length === 0) throw new GsError('GS_ERR_AUDIT_CHAIN_BROKEN', { seq: prev.seq + 1, problem: `event ${prev.seq + 1} is missing` });
      for (const r of rows) {
        const broken = (problem: string) => new GsError('GS_ERR_AUDIT_CHAIN_BROKEN', { seq: r.seq, problem: `${problem}; nothing was archived` });
        if (r.seq !== prev.seq + 1) throw new GsError('GS_ERR_AUDIT_CHAIN_BROKEN', { seq: prev.seq + 1, problem: `event ${prev.seq + 1} is missing; nothing was archived` });
        if (r.hash === null || r.prevHash === null || r.hashAlg === null || !isHashAlgorithm(r.hashAlg)) throw broken(`event ${r.seq} is not chained`);
        if (r.prevHash !== prev.hash) throw broken(`event ${r.seq} does not link to event ${r.seq - 1}`);
        const event = { seq: r.seq, hashAlg: r.hashAlg, at: r.atText, actorType: r.actorType, actorId: r.actorId, actorAgencyId: r.actorAgencyId, actorName: r.actorName, action: r.action, targetType: r.targetType, targetId: r.targetId, outcome: r.outcome, requestId: r.requestId, ip: r.ip, details: r.details, prevHash: r.prevHash };
        if (eventHash(event) !== r.hash) throw broken(`event ${r.seq} does not match its hash`);
        await writer.line({ type: 'event', ...event, hash: r.hash });
        const c = bySeq.get(r.seq);
        if (c) {
          const key = keys.get(c.keyId);
          if (c.hash !== r.hash || !key || !checkpointSignatureValid(c, c.signature, key)) throw broken(`checkpoint ${c.seq} does not verify`);
          await writer.line({ type: 'checkpoint', seq: c.seq, hash: c.hash, at: c.at.toISOString(), keyId: c.keyId, signature: c.signature });
        }
        prev = { seq: r.seq, hash: r.hash };
      }
    }
    return prev.hash;
  }

  /** The database's own retention check (migration 0006) refused: say so with the service's code. */
  #retentionRefusal(e: unknown, cutOff: string, latest: Date): unknown {
    const message = e instanceof Error ? e.message : '';
    if (/younger than (the minimum retention of )?180 days/.test(message)) {
      return new GsError('GS_ERR_AUDIT_RETENTION', { days: AUDIT_MIN_RETENTION_DAYS, before: cutOff, latest: latest.toISOString() }, undefined, { cause: e });
    }
    return e;
  }

  /** The public keys of the platform's audit signing keys, to publish for offline verification of archives. */
  async publicKeys(): Promise<AuditPublicKey[]> {
    return (await this.#store.signingKeys()).map((k) => ({ id: k.id, algorithm: k.algorithm, publicKey: k.publicKey, createdAt: k.createdAt.toISOString() }));
  }

  search(q: AuditQuery): Promise<AuditRow[]> {
    if (q.from && q.to && q.from.getTime() >= q.to.getTime()) {
      throw new GsError('GS_ERR_AUDIT_RANGE_INVALID', { from: q.from.toISOString(), to: q.to.toISOString() });
    }
    return this.#store.search(q);
  }

  /**
   * The matching events in chain order as CSV: all of them or none (more than `max` is refused,
   * never cut short). The export itself is audited.
   */
  async exportCsv(ctx: RequestContext, filters: AuditFilters, max: number): Promise<{ csv: string; count: number }> {
    const rows = await this.search({ ...filters, limit: max + 1, order: 'chain' });
    if (rows.length > max) throw new GsError('GS_ERR_AUDIT_EXPORT_TOO_LARGE', { max });
    const shown = Object.fromEntries(Object.entries(filters).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]).filter(([, v]) => v !== undefined));
    await this.record(ctx, { action: 'audit.export', targetType: 'auditTrail', details: { filters: shown, count: rows.length } });
    return { csv: auditCsv(rows), count: rows.length };
  }
}

/**
 * Text as PostgreSQL stores it and gives it back unchanged: no NUL (text and jsonb refuse it) and
 * no lone UTF-16 surrogate (the drivers turn it into U+FFFD on the way in, so the hash taken before
 * storing would not match the stored event). Such characters arrive only in hostile or broken
 * input — a user name typed at the login form, say — and the event must still be recorded.
 */
// eslint-disable-next-line no-control-regex -- finding NUL is the point
const UNSTORABLE_CHAR = /[\u0000\uD800-\uDFFF]/;

function storableText(value: string): string {
  // Most text has neither NUL nor a surrogate: one quick test, and the replacement only when needed.
  if (!UNSTORABLE_CHAR.test(value)) return value;
  // eslint-disable-next-line no-control-regex -- finding NUL is the point
  return value.replace(/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

function storableJson(value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (Array.isArray(value)) return value.map(storableJson);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableText(k), storableJson(v)]));
  return value;
}
