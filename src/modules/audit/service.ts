import type { KeyObject } from 'node:crypto';
import type { Db } from '../../db/database.js';
import { GsError } from '../../lib/errors.js';
import type { RequestContext } from '../../server/actor.js';
import type { KeyRing } from '../keys/key-ring.js';
import {
  checkpointSignatureValid,
  eventHash,
  generateSigningKey,
  GENESIS_HASH,
  isHashAlgorithm,
  keyPairMatches,
  privateKeyFromDer,
  publicKeyFromPem,
  signCheckpoint,
  SIGNING_ALGORITHM,
  type AuditHashAlgorithm,
} from './chain.js';
import { auditCsv } from './csv.js';
import { AuditStore, type AuditQuery, type AuditRow, type ChainHead, type CheckpointRow, type NewAuditRow } from './store.js';

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
}

export interface AuditCheckpoint {
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
  readonly keyId: string;
}

/** The outcome of a verification: a value, broken or not (the CLI turns a broken one into exit 8). */
export interface AuditVerification {
  readonly ok: boolean;
  /** Events checked, from seq 1. */
  readonly events: number;
  readonly lastSeq: number;
  readonly checkpoints: number;
  readonly lastCheckpoint: AuditCheckpoint | null;
  /** Events after the last checkpoint: chained, but not yet anchored by a signature. */
  readonly unsignedTail: number;
  /** The first sequence number that fails, or null. */
  readonly firstBadSeq: number | null;
  readonly problem: string | null;
}

interface Signer {
  readonly keyId: string;
  readonly privateKey: KeyObject;
}

const VERIFY_BATCH = 5_000;

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
 * chain and inserts the next events; every `checkpointEvents` events a checkpoint signed with the
 * platform's audit key anchors the chain.
 */
export class AuditService {
  readonly #store: AuditStore;
  readonly #db: Db;
  readonly #options: AuditServiceOptions;
  #signer: Signer | undefined;

  constructor(db: Db, options: AuditServiceOptions) {
    this.#db = db;
    this.#store = new AuditStore(db);
    this.#options = options;
  }

  async record(ctx: RequestContext, entry: AuditEntry, executor?: Db): Promise<number> {
    const [id] = await this.recordMany(ctx, [entry], executor);
    return id!;
  }

  /** Appends several events in one go (one lock, one head read, multi-row inserts). */
  recordMany(ctx: RequestContext, entries: readonly AuditEntry[], executor?: Db): Promise<number[]> {
    const at = this.#options.now();
    const rows = entries.map((entry) => this.#row(ctx, entry, at));
    const run = async (trx: Db): Promise<number[]> => {
      await this.#store.lock(trx);
      const before = await this.#store.head(trx, this.#options.hashAlgorithm);
      const { ids, head } = await this.#store.append(trx, rows, this.#options.hashAlgorithm, before);
      const every = this.#options.checkpointEvents;
      if (Math.floor(head.seq / every) > Math.floor((before?.seq ?? 0) / every)) {
        const signer = await this.#existingSigner(trx);
        // Before bootstrap created the key there is nothing to sign with; the next checkpoint covers these.
        if (signer) await this.#insertCheckpoint(trx, signer, head);
      }
      return ids;
    };
    if (rows.length === 0) return Promise.resolve([]);
    return executor?.isTransaction ? run(executor) : (executor ?? this.#db).transaction().execute(run);
  }

  #row(ctx: RequestContext, entry: AuditEntry, at: Date): NewAuditRow {
    if (!ACTION_ID.test(entry.action)) throw new Error(`audit action ${JSON.stringify(entry.action)} is not a kebab-case <area>.<verb> id`);
    return {
      at,
      actorType: ctx.actor.type,
      actorId: ctx.actor.userId?.toLowerCase() ?? null,
      actorAgencyId: ctx.actor.agencyId?.toLowerCase() ?? null,
      actorName: ctx.actor.name,
      action: entry.action,
      targetType: entry.targetType ?? null,
      targetId: entry.targetId ?? null,
      outcome: entry.outcome ?? 'success',
      requestId: ctx.requestId,
      ip: ctx.ip,
      // As it will read back from jsonb: what the hash covers.
      details: JSON.parse(JSON.stringify(entry.details ?? {})) as Record<string, unknown>,
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
   * Checks the whole chain from seq 1 (contiguous sequence numbers, each prev_hash the hash before,
   * each hash recomputed), every checkpoint (signature, and the hash of the event it signs), the
   * signing keys (the sealed private key opens with the master key and matches the public key),
   * and that no signed checkpoint lies beyond the last event (a truncated tail). Stops at the
   * first problem and names its sequence number.
   */
  async verify(): Promise<AuditVerification> {
    // Checking that the signing keys are the platform's own needs the master key; without it the
    // check would wrongly report them foreign.
    if (!this.#options.keys.available) throw new GsError('GS_ERR_KEYS_MASTER_KEY_MISSING', { context: 'audit signing keys' });
    const keys = new Map<string, KeyObject>();
    for (const k of await this.#store.signingKeys()) {
      let sound = false;
      try {
        sound = k.algorithm === SIGNING_ALGORITHM && keyPairMatches(privateKeyFromDer(this.#options.keys.open(k.privateKeySealed, sealContext(k.id))), k.publicKey);
      } catch {
        sound = false;
      }
      if (!sound) return this.#broken(0, 0, 0, null, null, `signing key ${k.id} is not one this platform made (its sealed private key does not open with the master key or does not match its public key)`);
      keys.set(k.id, publicKeyFromPem(k.publicKey));
    }
    const checkpoints = await this.#store.checkpoints();
    const lastCheckpoint = checkpoints.at(-1) ?? null;
    const bySeq = new Map(checkpoints.map((c) => [c.seq, c]));
    const broken = (seq: number, checked: number, problem: string) => this.#broken(checked, seq - 1, checkpoints.length, lastCheckpoint, seq, problem);

    let prev = GENESIS_HASH;
    let expected = 1;
    // The next page is read while this one is hashed.
    let pending = this.#store.readChain(this.#db, 0, VERIFY_BATCH);
    for (;;) {
      const rows = await pending;
      const lastRow = rows.at(-1);
      if (!lastRow) break;
      pending = rows.length < VERIFY_BATCH ? Promise.resolve([]) : this.#store.readChain(this.#db, lastRow.seq, VERIFY_BATCH);
      // A page abandoned at a problem must not become an unhandled rejection.
      pending.catch(() => undefined);
      for (const r of rows) {
        const checked = expected - 1;
        if (r.seq !== expected) return broken(expected, checked, `event ${expected} is missing (the next event is ${r.seq})`);
        if (r.hash === null || r.prevHash === null || r.hashAlg === null) return broken(r.seq, checked, `event ${r.seq} is not chained (written before the hash chain; the platform chains such events at start)`);
        if (!isHashAlgorithm(r.hashAlg)) return broken(r.seq, checked, `event ${r.seq} names an unknown hash algorithm ${r.hashAlg}`);
        if (r.prevHash !== prev) return broken(r.seq, checked, `event ${r.seq} does not link to event ${r.seq - 1} (prev_hash differs: removed, inserted or reordered events)`);
        const hash = eventHash({ ...r, at: r.atText, hashAlg: r.hashAlg, prevHash: r.prevHash });
        if (hash !== r.hash) return broken(r.seq, checked, `event ${r.seq} does not match its hash (its content was changed)`);
        const c = bySeq.get(r.seq);
        if (c) {
          if (c.hash !== r.hash) return broken(r.seq, checked, `checkpoint ${c.seq} signs another hash than event ${r.seq} has`);
          const key = keys.get(c.keyId);
          if (!key || !checkpointSignatureValid(c, c.signature, key)) return broken(r.seq, checked, `the signature of checkpoint ${c.seq} does not verify`);
        }
        prev = r.hash;
        expected++;
      }
    }
    const lastSeq = expected - 1;
    if (lastCheckpoint && lastCheckpoint.seq > lastSeq) {
      return this.#broken(lastSeq, lastSeq, checkpoints.length, lastCheckpoint, lastSeq + 1, `events ${lastSeq + 1}…${lastCheckpoint.seq} are missing: checkpoint ${lastCheckpoint.seq} signed them (the tail was truncated)`);
    }
    return {
      ok: true,
      events: lastSeq,
      lastSeq,
      checkpoints: checkpoints.length,
      lastCheckpoint: lastCheckpoint ? checkpointView(lastCheckpoint) : null,
      unsignedTail: lastSeq - (lastCheckpoint?.seq ?? 0),
      firstBadSeq: null,
      problem: null,
    };
  }

  #broken(events: number, lastGoodSeq: number, checkpoints: number, lastCheckpoint: CheckpointRow | null, firstBadSeq: number | null, problem: string): AuditVerification {
    return {
      ok: false,
      events,
      lastSeq: lastGoodSeq,
      checkpoints,
      lastCheckpoint: lastCheckpoint ? checkpointView(lastCheckpoint) : null,
      unsignedTail: 0,
      firstBadSeq,
      problem,
    };
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
