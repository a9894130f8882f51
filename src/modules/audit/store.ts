import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../../db/database.js';
import { canonicalJson, canonicalTimestamp, chainedHash, eventBody, eventHash, GENESIS_HASH, type AuditEventFields, type AuditHashAlgorithm } from './chain.js';

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

/** Events of a seq range as the fast verifier reads them: how many, and their lines as UTF-8 bytes. */
export interface VerifyPage {
  readonly events: number;
  readonly bytes: Buffer;
}

/** One archive file the chain's oldest events were moved to (migration 0006). */
export interface ArchiveRow {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly firstPrevHash: string;
  readonly lastHash: string;
  readonly events: number;
  readonly firstAt: Date;
  readonly lastAt: Date;
  readonly cutOff: Date;
  readonly contentSha256: string;
  readonly fileSha256: string;
  readonly fileName: string;
  readonly keyId: string;
  readonly signature: string;
  readonly archivedAt: Date;
  readonly archivedBy: string;
}

/** What an archive of `firstSeq…lastSeq` will hold, read before writing it. */
export interface RangeSummary {
  readonly events: number;
  readonly firstAt: string;
  readonly lastAt: string;
  readonly hashAlgorithms: readonly string[];
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

/**
 * Rows per INSERT (one array parameter per column). Small enough that a batch of a thousand is
 * several chunks, whose serialising and hashing overlaps the database inserting the one before.
 */
const INSERT_CHUNK = 250;

/** Events `appendIfHead` takes in its one statement: one chunk. */
export const APPEND_AT_ONCE = INSERT_CHUNK;

/** Another writer took the `seq` an append meant to use (SQLSTATE 23505 on audit_events_seq_key; PGlite reports it alike). */
function isSeqTaken(e: unknown): boolean {
  const pg = e as { code?: unknown; constraint?: unknown } | null;
  return typeof pg === 'object' && pg !== null && pg.code === '23505' && pg.constraint === 'audit_events_seq_key';
}

/** One INSERT's column arrays, and the chain head after its last row. */
interface InsertChunk {
  readonly head: ChainHead;
  readonly seq: number[];
  readonly at: string[];
  readonly actorType: string[];
  readonly actorId: (string | null)[];
  readonly actorAgencyId: (string | null)[];
  readonly actorName: string[];
  readonly action: string[];
  readonly targetType: (string | null)[];
  readonly targetId: (string | null)[];
  readonly outcome: string[];
  readonly requestId: (string | null)[];
  readonly ip: (string | null)[];
  readonly details: string[];
  readonly prevHash: string[];
  readonly hash: string[];
}

/** `canonicalTimestamp`, remembered for the last date: the events of one batch share theirs. */
class TimestampTexts {
  #date: Date | undefined;
  #text = '';
  of(date: Date): string {
    if (date !== this.#date) {
      this.#date = date;
      this.#text = canonicalTimestamp(date);
    }
    return this.#text;
  }
}

/**
 * The stored timestamp with its microseconds, as the hash covers it. Functions are named with
 * their schema so a search_path set by whoever can change the role cannot slip in look-alikes.
 */
const AT_TEXT_SQL = `pg_catalog.to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const AT_TEXT = sql<string>`${sql.raw(AT_TEXT_SQL)}`;

/**
 * One event as one line of a verification page (verify-hashing.ts): seq, a JSON array of
 * hash_alg, hash, prev_hash and the hashed fields between seq and details in serialisation
 * order, and the details' jsonb text. PostgreSQL's JSON string escapes are JSON.stringify's (the
 * same escapes for `"`, backslash, \b \f \n \r \t, \u00XX for other control characters,
 * everything else as is), so the array holds the serialisation's middle byte for byte; the
 * verifier re-checks an event that fails this way by the field-by-field reference path before
 * reporting it.
 */
const VERIFY_LINE = `seq || E'\t' || pg_catalog.array_to_json(array[hash_alg, hash, prev_hash, ${AT_TEXT_SQL}, actor_type, actor_id::text, actor_agency_id::text,
  actor_name, action, target_type, target_id, outcome, request_id, ip])::text || E'\t' || coalesce(details::text, 'null') || E'\n'`;

/**
 * The columns of a verification row (verify-hashing.ts `checkRows`), in that order: stored values
 * as the server sends them in binary COPY (nothing formatted or cast but the details, whose jsonb
 * binary form is a version byte before the same text).
 */
const VERIFY_ROW_COLUMNS = `seq, hash_alg, hash, prev_hash, at, actor_type, actor_id, actor_agency_id, actor_name, action, target_type, target_id, outcome,
  request_id, ip, details::pg_catalog.text`;

/**
 * Up to `limit` events after `afterSeq` in seq order. `seq > … order by seq limit …` is read
 * along the unique index on seq, in order, with no sort (a range `seq between …` is estimated
 * without statistics as a bitmap scan and a sort, several times the work).
 */
function verifyRowsSql(afterSeq: number, limit: number): string {
  // COPY takes no parameters: the bounds are written in, so they must be integers.
  if (!Number.isSafeInteger(afterSeq) || !Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`verification page after ${afterSeq}, ${limit} events: not integers`);
  return `select ${VERIFY_ROW_COLUMNS} from audit_events where seq > ${afterSeq} order by seq limit ${limit}`;
}

/** The page of events with `afterSeq` < seq <= `lastSeq`: how many, and their lines in seq order as one text. */
function verifyPageSql(afterSeq: number, lastSeq: number): string {
  // COPY takes no parameters: the bounds are written in, so they must be integers.
  if (!Number.isSafeInteger(afterSeq) || !Number.isSafeInteger(lastSeq)) throw new RangeError(`verification page bounds ${afterSeq}…${lastSeq} are not integers`);
  return `select count(*) as events, string_agg(line, '' order by seq) as text
    from (select seq, ${VERIFY_LINE} as line from audit_events where seq > ${afterSeq} and seq <= ${lastSeq}) p`;
}

const ARCHIVE_COLUMNS = `first_seq as "firstSeq", last_seq as "lastSeq", first_prev_hash as "firstPrevHash", last_hash as "lastHash", events,
  first_at as "firstAt", last_at as "lastAt", cut_off as "cutOff", content_sha256 as "contentSha256", file_sha256 as "fileSha256", file_name as "fileName",
  key_id as "keyId", signature, archived_at as "archivedAt", archived_by as "archivedBy"`;

export class AuditStore {
  /**
   * `copyOutStream`: the PostgreSQL server's binary COPY reader (database.ts), with which
   * verification pages are read as rows of stored columns (`readVerifyRows`); without it (PGlite)
   * they are read as one text rendered by the database (`readVerifyPage`).
   */
  constructor(
    private readonly db: Db,
    private readonly copyOutStream?: (select: string) => Promise<Buffer>,
  ) {}

  /** Whether verification pages are read as rows (`readVerifyRows`) rather than text. */
  get readsRows(): boolean {
    return this.copyOutStream !== undefined && !this.db.isTransaction;
  }

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
   * of column arrays (`unnest`) per chunk, so the statement stays the same size however many rows;
   * each chunk is serialised and hashed while the database inserts the one before (the two
   * overlap on different CPUs), and a failed chunk fails the append before the next is sent.
   */
  async append(trx: Db, rows: readonly NewAuditRow[], alg: AuditHashAlgorithm, head: ChainHead | undefined): Promise<{ ids: number[]; head: ChainHead }> {
    let prev: ChainHead = head ?? { seq: 0, hash: GENESIS_HASH };
    const ids: number[] = [];
    const times = new TimestampTexts();
    let inFlight: Promise<void> | undefined;
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const chunk = this.#chunk(rows, i, alg, prev, times);
      prev = chunk.head;
      if (inFlight) await inFlight;
      inFlight = this.#insertChunk(trx, chunk, alg).then((inserted) => {
        for (const id of inserted) ids.push(id);
      });
    }
    await inFlight;
    return { ids, head: prev };
  }

  /**
   * Appends at most `APPEND_AT_ONCE` events after `head` in one statement, without the lock and
   * outside a transaction, if `head` is still the chain's last event; null if it is not (another
   * writer appended since, and nothing was inserted). The statement inserts only when the event
   * `head` names exists with its hash and none follows it; a writer that appends at the same
   * moment (seen by neither snapshot) makes one of the two fail on the unique `seq`, which is
   * answered null as well. Either way the chain stays linear: an event is inserted only as the
   * successor of the event whose hash it carries.
   */
  async appendIfHead(executor: Db, rows: readonly NewAuditRow[], alg: AuditHashAlgorithm, head: ChainHead): Promise<{ ids: number[]; head: ChainHead } | null> {
    if (rows.length > APPEND_AT_ONCE) throw new RangeError(`appendIfHead: ${rows.length} events, at most ${APPEND_AT_ONCE} at once`);
    const chunk = this.#chunk(rows, 0, alg, head, new TimestampTexts());
    const guard = sql`exists (select 1 from audit_events where seq = ${head.seq} and hash = ${head.hash}) and not exists (select 1 from audit_events where seq > ${head.seq})`;
    try {
      const ids = await this.#insertChunk(executor, chunk, alg, guard);
      if (ids.length === 0) return null;
      if (ids.length !== rows.length) throw new Error(`audit append after ${head.seq}: ${ids.length} of ${rows.length} events inserted`);
      return { ids, head: chunk.head };
    } catch (e) {
      if (isSeqTaken(e)) return null;
      throw e;
    }
  }

  /** The column arrays of rows `from`… (at most INSERT_CHUNK) chained after `after`. */
  #chunk(rows: readonly NewAuditRow[], from: number, alg: AuditHashAlgorithm, after: ChainHead, times: TimestampTexts): InsertChunk {
    const n = Math.min(INSERT_CHUNK, rows.length - from);
    const c: InsertChunk = {
      head: after,
      seq: new Array<number>(n), at: new Array<string>(n), actorType: new Array<string>(n), actorId: new Array<string | null>(n),
      actorAgencyId: new Array<string | null>(n), actorName: new Array<string>(n), action: new Array<string>(n), targetType: new Array<string | null>(n),
      targetId: new Array<string | null>(n), outcome: new Array<string>(n), requestId: new Array<string | null>(n), ip: new Array<string | null>(n),
      details: new Array<string>(n), prevHash: new Array<string>(n), hash: new Array<string>(n),
    };
    let { seq, hash: prevHash } = after;
    for (let k = 0; k < n; k++) {
      const row = rows[from + k]!;
      const at = times.of(row.at);
      const details = canonicalJson(row.details);
      seq++;
      const hash = chainedHash(alg, seq, eventBody({ ...row, at }, details), prevHash);
      c.seq[k] = seq;
      c.at[k] = at;
      c.actorType[k] = row.actorType;
      c.actorId[k] = row.actorId;
      c.actorAgencyId[k] = row.actorAgencyId;
      c.actorName[k] = row.actorName;
      c.action[k] = row.action;
      c.targetType[k] = row.targetType;
      c.targetId[k] = row.targetId;
      c.outcome[k] = row.outcome;
      c.requestId[k] = row.requestId;
      c.ip[k] = row.ip;
      // The canonical text is valid JSON of the same value: jsonb stores it as it would the plain one.
      c.details[k] = details;
      c.prevHash[k] = prevHash;
      c.hash[k] = hash;
      prevHash = hash;
    }
    return { ...c, head: { seq, hash: prevHash } };
  }

  async #insertChunk(trx: Db, c: InsertChunk, alg: AuditHashAlgorithm, guard: RawBuilder<unknown> = sql`true`): Promise<number[]> {
    const inserted = await sql<{ id: number }>`insert into audit_events
        (seq, at, actor_type, actor_id, actor_agency_id, actor_name, action, target_type, target_id, outcome, request_id, ip, details, hash_alg, prev_hash, hash)
      select s, a, at_, ai, ag, an, ac, tt, ti, o, ri, ip, d, ${alg}, ph, h
      from unnest(${c.seq}::bigint[], ${c.at}::timestamptz[], ${c.actorType}::text[], ${c.actorId}::uuid[],
        ${c.actorAgencyId}::uuid[], ${c.actorName}::text[], ${c.action}::text[], ${c.targetType}::text[],
        ${c.targetId}::text[], ${c.outcome}::text[], ${c.requestId}::text[], ${c.ip}::text[],
        ${c.details}::jsonb[], ${c.prevHash}::text[], ${c.hash}::text[])
        as u(s, a, at_, ai, ag, an, ac, tt, ti, o, ri, ip, d, ph, h)
      where ${guard}
      order by s
      returning id`.execute(trx);
    return inserted.rows.map((r) => r.id);
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

  /**
   * The events with `afterSeq` < seq <= `lastSeq` as one value, one line each in seq order
   * (VERIFY_LINE), as its UTF-8 bytes: the verifier copies the hashed middle of each line as it
   * came. The embedded database's way (PGlite has no COPY to a client).
   */
  async readVerifyPage(executor: Db, afterSeq: number, lastSeq: number): Promise<VerifyPage> {
    const r = await sql<{ events: number; text: string | null }>`${sql.raw(verifyPageSql(afterSeq, lastSeq))}`.execute(executor.withoutPlugins());
    const row = r.rows[0];
    return { events: row?.events ?? 0, bytes: Buffer.from(row?.text ?? '', 'utf8') };
  }

  /**
   * Up to `limit` events after `afterSeq` in seq order as the binary COPY stream of their stored
   * columns (VERIFY_ROW_COLUMNS), for `checkRows`: the server's way, where the database only
   * reads the rows along the seq index and sends them. On a connection of its own (`readsRows`
   * is false for a service bound to a transaction).
   */
  async readVerifyRows(afterSeq: number, limit: number): Promise<Buffer> {
    if (!this.copyOutStream) throw new Error('verification rows need the PostgreSQL server’s COPY reader');
    return this.copyOutStream(verifyRowsSql(afterSeq, limit));
  }

  /** The lowest and highest sequence numbers in the table (undefined when it is empty). */
  async seqRange(executor: Db = this.db): Promise<{ first: number; last: number } | undefined> {
    const r = await sql<{ first: number | null; last: number | null }>`select min(seq) as first, max(seq) as last from audit_events`.execute(executor.withoutPlugins());
    const row = r.rows[0];
    return row && row.first !== null && row.last !== null ? { first: row.first, last: row.last } : undefined;
  }

  /** Events at or below `seq` (in an archived range they should all be gone). */
  async countUpTo(executor: Db, seq: number): Promise<number> {
    const r = await sql<{ n: number }>`select count(*) as n from audit_events where seq <= ${seq}`.execute(executor.withoutPlugins());
    return r.rows[0]?.n ?? 0;
  }

  /**
   * The last event of the longest run after `afterSeq` whose events are all older than `before`:
   * the event before the first one at or after `before`, or the head when there is none. `at`
   * is not strictly increasing with seq (a writer takes its time before it takes the lock), so
   * this is the longest such prefix, not the last old event.
   */
  async lastOlderThan(executor: Db, afterSeq: number, before: Date): Promise<number | undefined> {
    const r = await sql<{ young: number | null; head: number | null }>`select
        (select min(seq) from audit_events where seq > ${afterSeq} and at >= ${before.toISOString()}::timestamptz) as young,
        (select max(seq) from audit_events) as head`.execute(executor.withoutPlugins());
    const row = r.rows[0];
    if (!row || row.head === null || row.head <= afterSeq) return undefined;
    const last = row.young === null ? row.head : row.young - 1;
    return last > afterSeq ? last : undefined;
  }

  async rangeSummary(executor: Db, firstSeq: number, lastSeq: number): Promise<RangeSummary> {
    const r = await sql<{ events: number; firstAt: string | null; lastAt: string | null; algs: string[] | null }>`select count(*) as events,
        pg_catalog.to_char(min(at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "firstAt",
        pg_catalog.to_char(max(at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "lastAt",
        array_agg(distinct hash_alg) filter (where hash_alg is not null) as algs
      from audit_events where seq between ${firstSeq} and ${lastSeq}`.execute(executor.withoutPlugins());
    const row = r.rows[0];
    return { events: row?.events ?? 0, firstAt: row?.firstAt ?? '', lastAt: row?.lastAt ?? '', hashAlgorithms: row?.algs ?? [] };
  }

  checkpointsBetween(executor: Db, firstSeq: number, lastSeq: number): Promise<CheckpointRow[]> {
    return executor.selectFrom('auditCheckpoints').selectAll().where('seq', '>=', firstSeq).where('seq', '<=', lastSeq).orderBy('seq').execute();
  }

  /** The archives in chain order. */
  async archives(executor: Db = this.db): Promise<ArchiveRow[]> {
    const r = await sql<ArchiveRow>`select ${sql.raw(ARCHIVE_COLUMNS)} from audit_archives order by first_seq`.execute(executor.withoutPlugins());
    return r.rows;
  }

  async newestArchive(executor: Db = this.db): Promise<ArchiveRow | undefined> {
    const r = await sql<ArchiveRow>`select ${sql.raw(ARCHIVE_COLUMNS)} from audit_archives order by last_seq desc limit 1`.execute(executor.withoutPlugins());
    return r.rows[0];
  }

  async insertArchive(trx: Db, a: ArchiveRow): Promise<void> {
    await sql`insert into audit_archives (first_seq, last_seq, first_prev_hash, last_hash, events, first_at, last_at, cut_off, content_sha256, file_sha256,
        file_name, key_id, signature, archived_at, archived_by)
      values (${a.firstSeq}, ${a.lastSeq}, ${a.firstPrevHash}, ${a.lastHash}, ${a.events}, ${a.firstAt.toISOString()}::timestamptz, ${a.lastAt.toISOString()}::timestamptz,
        ${a.cutOff.toISOString()}::timestamptz, ${a.contentSha256}, ${a.fileSha256}, ${a.fileName}, ${a.keyId}, ${a.signature}, ${a.archivedAt.toISOString()}::timestamptz,
        ${a.archivedBy})`.execute(trx.withoutPlugins());
  }

  /** Removes archived events (the trigger lets only those through); returns how many. */
  async deleteArchived(trx: Db, firstSeq: number, lastSeq: number): Promise<number> {
    const r = await sql`delete from audit_events where seq between ${firstSeq} and ${lastSeq}`.execute(trx.withoutPlugins());
    return Number(r.numAffectedRows ?? 0n);
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
