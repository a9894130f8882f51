import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import { canonicalTimestamp, eventHash, GENESIS_HASH, type AuditEventFields, type AuditHashAlgorithm } from './chain.js';

export interface AuditRow extends AuditEventFields {
  readonly id: number;
  readonly seq: number;
  readonly at: Date;
  readonly details: Record<string, unknown>;
  readonly hash: string | null;
}

/** An event to append: everything but what the chain assigns. */
export interface NewAuditRow extends AuditEventFields {
  readonly at: Date;
  readonly details: Record<string, unknown>;
}

export interface AuditQuery {
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  readonly action?: string | undefined;
  readonly actorId?: string | undefined;
  readonly actorName?: string | undefined;
  /** The agency of the actor. */
  readonly agencyId?: string | undefined;
  readonly targetType?: string | undefined;
  readonly targetId?: string | undefined;
  readonly outcome?: string | undefined;
  readonly requestId?: string | undefined;
  /** Keyset paging, newest first: events with an id below this. */
  readonly before?: number | undefined;
  readonly limit: number;
  /** Newest first (the default, for paging) or in chain order (exports). */
  readonly order?: 'newest' | 'chain' | undefined;
}

/** An event as the verifier reads it: the stored fields, the timestamp as exact text. */
export interface StoredChainRow extends AuditEventFields {
  readonly seq: number;
  readonly hashAlg: string | null;
  readonly prevHash: string | null;
  readonly hash: string | null;
  readonly atText: string;
  readonly details: unknown;
}

export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export interface CheckpointRow {
  readonly seq: number;
  readonly hash: string;
  readonly at: Date;
  readonly keyId: string;
  readonly signature: string;
}

export interface SigningKeyRow {
  readonly id: string;
  readonly algorithm: string;
  readonly publicKey: string;
  readonly privateKeySealed: string;
  readonly createdAt: Date;
}

/**
 * The one lock every append, chaining and checkpoint takes (transaction-scoped), so the chain
 * grows linearly however many processes write. Distinct from the migration and bootstrap keys.
 */
const AUDIT_LOCK = [0x676f7673, 0x61756474] as const; // 'govs', 'audt'

/** Rows per INSERT (one array parameter per column). */
const INSERT_CHUNK = 5_000;

/** The stored timestamp with its microseconds, as the hash covers it. */
const AT_TEXT = sql<string>`to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export class AuditStore {
  constructor(private readonly db: Db) {}

  /** Takes the audit lock until the end of `trx`. */
  async lock(trx: Db): Promise<void> {
    await sql`select pg_advisory_xact_lock(${AUDIT_LOCK[0]}, ${AUDIT_LOCK[1]})`.execute(trx);
  }

  /**
   * The last event of the chain, chaining first any rows written before the chain existed.
   * Call with the lock held.
   */
  async head(trx: Db, alg: AuditHashAlgorithm): Promise<ChainHead | undefined> {
    const last = await trx.selectFrom('auditEvents').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    if (!last) return undefined;
    if (last.hash !== null) return { seq: last.seq, hash: last.hash };
    return this.#chainUnchained(trx, alg);
  }

  /** Chains, in seq order, the rows the migration to the hash chain found (hash still null). */
  async #chainUnchained(trx: Db, alg: AuditHashAlgorithm): Promise<ChainHead> {
    const before = await trx.selectFrom('auditEvents').select(['seq', 'hash']).where('hash', 'is not', null).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    let prev: ChainHead = { seq: before?.seq ?? 0, hash: before?.hash ?? GENESIS_HASH };
    for (;;) {
      const rows = await this.readChain(trx, prev.seq, 1_000);
      if (rows.length === 0) return prev;
      const updates: { seq: number; prevHash: string; hash: string }[] = [];
      for (const r of rows) {
        if (r.hash !== null) throw new Error(`audit event ${r.seq} is chained but follows an unchained event`);
        const hash = eventHash({ ...r, at: r.atText, hashAlg: alg, prevHash: prev.hash });
        updates.push({ seq: r.seq, prevHash: prev.hash, hash });
        prev = { seq: r.seq, hash };
      }
      const values = sql.join(updates.map((u) => sql`(${u.seq}::bigint, ${u.prevHash}, ${u.hash})`));
      await sql`update audit_events e set prev_hash = v.prev_hash, hash = v.hash, hash_alg = ${alg}
        from (values ${values}) as v(seq, prev_hash, hash) where e.seq = v.seq and e.hash is null`.execute(trx);
    }
  }

  /**
   * Appends events after `head` (the lock held); returns their ids and the new head. One INSERT
   * of column arrays (`unnest`) per chunk: the statement stays the same size however many rows.
   */
  async append(trx: Db, rows: readonly NewAuditRow[], alg: AuditHashAlgorithm, head: ChainHead | undefined): Promise<{ ids: number[]; head: ChainHead }> {
    let prev: ChainHead = head ?? { seq: 0, hash: GENESIS_HASH };
    const ids: number[] = [];
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const chunk = rows.slice(i, i + INSERT_CHUNK);
      const seqs: number[] = [];
      const prevHashes: string[] = [];
      const hashes: string[] = [];
      for (const row of chunk) {
        const seq = prev.seq + 1;
        const hash = eventHash({ ...row, seq, hashAlg: alg, at: canonicalTimestamp(row.at), prevHash: prev.hash });
        seqs.push(seq);
        prevHashes.push(prev.hash);
        hashes.push(hash);
        prev = { seq, hash };
      }
      const col = <T>(pick: (r: NewAuditRow) => T): T[] => chunk.map(pick);
      const inserted = await sql<{ id: number }>`insert into audit_events
          (seq, at, actor_type, actor_id, actor_agency_id, actor_name, action, target_type, target_id, outcome, request_id, ip, details, hash_alg, prev_hash, hash)
        select s, a, at_, ai, ag, an, ac, tt, ti, o, ri, ip, d, ${alg}, ph, h
        from unnest(${seqs}::bigint[], ${col((r) => r.at.toISOString())}::timestamptz[], ${col((r) => r.actorType)}::text[], ${col((r) => r.actorId)}::uuid[],
          ${col((r) => r.actorAgencyId)}::uuid[], ${col((r) => r.actorName)}::text[], ${col((r) => r.action)}::text[], ${col((r) => r.targetType)}::text[],
          ${col((r) => r.targetId)}::text[], ${col((r) => r.outcome)}::text[], ${col((r) => r.requestId)}::text[], ${col((r) => r.ip)}::text[],
          ${col((r) => JSON.stringify(r.details))}::jsonb[], ${prevHashes}::text[], ${hashes}::text[])
          as u(s, a, at_, ai, ag, an, ac, tt, ti, o, ri, ip, d, ph, h)
        order by s
        returning id`.execute(trx);
      for (const r of inserted.rows) ids.push(r.id);
    }
    return { ids, head: prev };
  }

  /**
   * Events after `afterSeq` in chain order, as stored. Raw SQL without the camel-case plugin
   * (the columns are aliased here): verification reads every event through this.
   */
  async readChain(executor: Db, afterSeq: number, limit: number): Promise<StoredChainRow[]> {
    const r = await sql<StoredChainRow>`select seq, hash_alg as "hashAlg", prev_hash as "prevHash", hash, ${AT_TEXT} as "atText",
        actor_type as "actorType", actor_id as "actorId", actor_agency_id as "actorAgencyId", actor_name as "actorName", action,
        target_type as "targetType", target_id as "targetId", outcome, request_id as "requestId", ip, details
      from audit_events where seq > ${afterSeq} order by seq limit ${limit}`.execute(executor.withoutPlugins());
    return r.rows;
  }

  checkpoints(executor: Db = this.db): Promise<CheckpointRow[]> {
    return executor.selectFrom('auditCheckpoints').selectAll().orderBy('seq').execute();
  }

  lastCheckpoint(executor: Db = this.db): Promise<CheckpointRow | undefined> {
    return executor.selectFrom('auditCheckpoints').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
  }

  async insertCheckpoint(trx: Db, c: CheckpointRow): Promise<void> {
    await trx.insertInto('auditCheckpoints').values(c).execute();
  }

  signingKeys(executor: Db = this.db): Promise<SigningKeyRow[]> {
    return executor.selectFrom('auditSigningKeys').selectAll().orderBy('createdAt').execute();
  }

  /** The newest signing key: the one new checkpoints are signed with. */
  currentSigningKey(executor: Db = this.db): Promise<SigningKeyRow | undefined> {
    return executor.selectFrom('auditSigningKeys').selectAll().orderBy('createdAt', 'desc').orderBy('id').limit(1).executeTakeFirst();
  }

  async insertSigningKey(trx: Db, key: Omit<SigningKeyRow, 'createdAt'>): Promise<void> {
    await trx.insertInto('auditSigningKeys').values(key).execute();
  }

  async search(q: AuditQuery): Promise<AuditRow[]> {
    let query = this.db
      .selectFrom('auditEvents')
      .select(['id', 'seq', 'at', 'actorType', 'actorId', 'actorAgencyId', 'actorName', 'action', 'targetType', 'targetId', 'outcome', 'requestId', 'ip', 'details', 'hash']);
    if (q.from) query = query.where('at', '>=', q.from);
    if (q.to) query = query.where('at', '<', q.to);
    if (q.action) query = query.where('action', '=', q.action);
    if (q.actorId) query = query.where('actorId', '=', q.actorId);
    if (q.actorName) query = query.where('actorName', '=', q.actorName);
    if (q.agencyId) query = query.where('actorAgencyId', '=', q.agencyId);
    if (q.targetType) query = query.where('targetType', '=', q.targetType);
    if (q.targetId) query = query.where('targetId', '=', q.targetId);
    if (q.outcome) query = query.where('outcome', '=', q.outcome);
    if (q.requestId) query = query.where('requestId', '=', q.requestId);
    if (q.before !== undefined) query = query.where('id', '<', q.before);
    return (q.order === 'chain' ? query.orderBy('seq') : query.orderBy('id', 'desc')).limit(q.limit).execute();
  }
}
