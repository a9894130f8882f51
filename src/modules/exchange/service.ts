import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Db } from '../../db/database.js';
import { GsError } from '../../lib/errors.js';
import { newId } from '../../lib/secrets.js';
import type { Actor, RequestContext } from '../../server/actor.js';
import type { AuditService } from '../audit/service.js';
import type { TablePublished } from '../catalog/service.js';
import type { KeyRing } from '../keys/key-ring.js';
import { BOOKKEEPING, createTableSql, initialColumns, planColumns, primaryKeyColumns, qualified, tableNameOf, type IncompatibleChange, type SharedColumn } from './columns.js';
import { ALGORITHM_OF, blindIndex, decryptValue, encryptValue, keyIdOf, type DataCipherName, type DataKey, type DataKeyAlgorithm } from './data-cipher.js';
import { checkRow, checkValue, type CheckedValue, type RowProblem } from './row-check.js';
import type { ListenedCache } from '../../db/listened-cache.js';
import { ExchangeStore, type StoredValue, type TableRow, type TableShape, type WriteRow } from './store.js';
import { MAX_LISTED_PROBLEMS, type BatchSource, type ChangeOperation, type IngestPolicy } from './vocabulary.js';

/** A row of a shared table decrypted: values by data item name, its sequence number and tombstone. */
export interface DecodedRow {
  readonly seq: number;
  readonly deleted: boolean;
  readonly values: Record<string, unknown>;
}

/** What the catalog tells the exchange when a table resource's version comes into force. */
export type TablePublication = TablePublished;

/** One incoming change before checking: its row number (batch position or file record) and values by item name. */
export interface IncomingChange {
  readonly row: number;
  readonly operation: ChangeOperation;
  readonly values: Readonly<Record<string, unknown>>;
  /** Found by the reader (a record with the wrong number of cells, a line that is not JSON). */
  readonly problems?: readonly RowProblem[] | undefined;
}

export interface BatchOutcome {
  readonly resourceCode: string;
  readonly idempotencyKey: string;
  /** applied: this call changed the table; replayed: the key was applied before, nothing changed now; rejected: nothing applied. */
  readonly status: 'applied' | 'replayed' | 'rejected';
  readonly policy: IngestPolicy;
  readonly rows: number;
  readonly upserted: number;
  readonly deleted: number;
  readonly quarantined: number;
  /** Rows with at least one problem. */
  readonly invalid: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  /** Every problem (at most MAX_LISTED_PROBLEMS listed; problemCount is complete). */
  readonly problems: readonly RowProblem[];
  readonly problemCount: number;
}

export interface TableView {
  readonly resourceCode: string;
  readonly tableName: string;
  readonly catalogVersion: number;
  readonly schemaVersion: number;
  readonly columns: readonly { readonly item: string; readonly column: string; readonly sqlType: string; readonly key: boolean; readonly sensitive: boolean; readonly format: string | null; readonly indexColumn: string | null }[];
  readonly lastSeq: number;
  readonly lastUpdateAt: string | null;
  readonly withdrawn: boolean;
  readonly retired: boolean;
  readonly liveRows: number;
  readonly deletedRows: number;
}

export interface ExchangeOptions {
  /** GOVSHARE_EXCHANGE_CIPHER: how sensitive values are encrypted from now on. */
  readonly cipher: DataCipherName;
  /** Table shapes kept between calls (emptied on the `govshare_exchange_tables` channel). */
  readonly shapes?: ListenedCache<TableShape | undefined>;
}

/** The channel on which migration 0018's trigger announces a change of a table's shape. */
export const TABLE_SHAPE_CHANNEL = 'govshare_exchange_tables';

interface DataKeys {
  readonly encryption: DataKey;
  readonly byId: ReadonlyMap<number, DataKey>;
  readonly index: Buffer;
  /** `maskKey` per consumer agency, derived from `index` (so kept with it). */
  readonly maskKeys: Map<string, Buffer>;
}

/** Thrown inside a transaction to roll it back with an answer (never leaves the service). */
class Rollback extends Error {
  constructor(readonly outcome: BatchOutcome) {
    super('rollback');
  }
}

const canonical = (v: unknown): string =>
  Array.isArray(v)
    ? `[${v.map(canonical).join(',')}]`
    : v !== null && typeof v === 'object'
      ? `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
          .join(',')}}`
      : JSON.stringify(v ?? null);

/** The SHA-256 of a batch's changes (key order inside objects does not count). */
export function batchDigest(changes: readonly IncomingChange[]): string {
  return createHash('sha256').update(canonical(changes.map((c) => [c.operation, c.values]))).digest('hex');
}

/**
 * The exchange's shared tables and the provider's ingest. README.md beside this file states the
 * invariants (sequence allocation, lock order, what a tombstone keeps).
 */
export class ExchangeService {
  readonly #store: ExchangeStore;
  #keys: DataKeys | undefined;
  readonly #changeListeners: ((resourceCode: string) => void)[] = [];

  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly keyRing: KeyRing,
    private readonly options: ExchangeOptions,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.#store = new ExchangeStore(db);
  }

  /** The cache of table shapes (`shapeOf`), started and stopped with the platform's caches. */
  get shapes(): ListenedCache<TableShape | undefined> | undefined {
    return this.options.shapes;
  }

  /** Called after a batch that changed a resource's table committed in this process. */
  onChanged(listener: (resourceCode: string) => void): void {
    this.#changeListeners.push(listener);
  }

  // ---- the catalog's hooks (inside its publishing transaction) --------------------------------

  /**
   * Creates or follows the physical table of a table resource whose version came into force.
   * Refuses (GS_ERR_DATA_TABLE_INCOMPATIBLE, which rolls the publication back) a version the
   * existing table cannot follow without the explicit migration of docs/exchange.md.
   *
   * `deferred`: a new table is registered pending and created at its first use (`publishedMany`).
   */
  async published(p: TablePublication, trx: Db, options: { readonly deferred?: boolean } = {}): Promise<void> {
    const now = this.now();
    const existing = await this.#store.table(p.resourceCode, trx, true);
    // A pending table has no physical table and so no rows: it takes the new version's shape as a new table would.
    if (!existing || existing.retiredAt !== null || existing.pending) {
      const tableName = tableNameOf(p.resourceCode);
      const columns = initialColumns(p.dataItems);
      const pending = options.deferred === true;
      if (!pending) await this.#store.ddl(createTableSql(tableName, columns), trx);
      if (!existing) await this.#store.insertTable({ resourceCode: p.resourceCode, entryId: p.entryId, agencyId: p.agencyId, tableName, catalogVersion: p.version, columns, pending }, now, trx);
      else {
        const renewed = existing.retiredAt !== null ? { schemaVersion: existing.schemaVersion + 1, retiredAt: null } : {};
        await this.#store.updateTable(p.resourceCode, { tableName, columns, catalogVersion: p.version, withdrawnAt: null, pending, ...renewed }, now, trx);
      }
      return;
    }
    const plan = planColumns(existing.tableName, existing.columns, p.dataItems);
    if (plan.kind === 'incompatible') throw incompatible(p.resourceCode, p.version, plan.changes);
    if (plan.kind === 'alter') await this.#store.ddl(plan.statements, trx);
    await this.#store.updateTable(
      p.resourceCode,
      { catalogVersion: p.version, withdrawnAt: null, ...(plan.kind === 'alter' ? { columns: plan.columns, schemaVersion: existing.schemaVersion + (plan.statements.length > 0 ? 1 : 0) } : {}) },
      now,
      trx,
    );
  }

  /**
   * Many new table resources at once (a catalog import publishing a migrated catalog): each is
   * registered pending in one statement, its physical table created at its first use
   * (`#require`, `shapeOf`; migration 0020). A resource that already has a table row (a code
   * in use before) goes through `published`, deferred.
   */
  async publishedMany(ps: readonly TablePublication[], trx: Db): Promise<void> {
    if (ps.length === 0) return;
    const registered = await this.#store.insertPendingTables(
      ps.map((p) => ({ resourceCode: p.resourceCode, entryId: p.entryId, agencyId: p.agencyId, tableName: tableNameOf(p.resourceCode), catalogVersion: p.version, columns: initialColumns(p.dataItems) })),
      this.now(),
      trx,
    );
    for (const p of ps) if (!registered.has(p.resourceCode)) await this.published(p, trx, { deferred: true });
  }

  /** The catalog withdrew the resource: its table stays (consumers' history), loads are refused. */
  async withdrawn(resourceCode: string, trx: Db): Promise<void> {
    await this.#store.updateTable(resourceCode, { withdrawnAt: this.now() }, this.now(), trx);
  }

  /**
   * The explicit migration step for an incompatible change (docs/exchange.md): the physical table
   * is renamed aside (kept, not dropped) and the next publication creates a new one from its data
   * items; the sequence carries on, so consumers see the reload as new changes. The provider then
   * loads the data again.
   */
  async retireTable(ctx: RequestContext, resourceCode: string, reason: string): Promise<{ readonly resourceCode: string; readonly retiredAs: string }> {
    if (ctx.actor.type !== 'cli' && ctx.actor.type !== 'system') throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: 'local administrator (govshare data retire-table)' });
    return this.db.transaction().execute(async (trx) => {
      const table = await this.#require(resourceCode, trx, true);
      if (table.retiredAt !== null) throw new GsError('GS_ERR_DATA_TABLE_RETIRED', { resourceCode });
      const retiredAs = `${table.tableName}_v${table.schemaVersion}`.slice(0, 63);
      await this.#store.ddl([`alter table ${qualified(table.tableName)} rename to "${retiredAs}"`, `alter index "shared"."${table.tableName}_seq_idx" rename to "${retiredAs}_seq_idx"`], trx);
      await this.#store.updateTable(resourceCode, { retiredAt: this.now() }, this.now(), trx);
      await this.audit.record(ctx, { action: 'data.retire-table', targetType: 'resource', targetId: resourceCode, details: { retiredAs, schemaVersion: table.schemaVersion, lastSeq: table.lastSeq, reason } }, trx);
      return { resourceCode, retiredAs };
    });
  }

  // ---- reading --------------------------------------------------------------------------------

  async table(actor: Actor, resourceCode: string): Promise<TableView> {
    // Looking does not create a pending table: it has no rows yet.
    const t = await this.#store.table(resourceCode);
    if (!t) throw new GsError('GS_ERR_DATA_TABLE_NOT_FOUND', { resourceCode });
    this.#checkProvider(actor, t);
    const counts = t.retiredAt === null && !t.pending ? await this.#store.count(t) : { live: 0, deleted: 0 };
    return {
      resourceCode: t.resourceCode,
      tableName: t.tableName,
      catalogVersion: t.catalogVersion,
      schemaVersion: t.schemaVersion,
      columns: t.columns.map((c) => ({ item: c.item, column: c.column, sqlType: c.sqlType, key: c.key, sensitive: c.sensitive, format: c.format, indexColumn: c.indexColumn })),
      lastSeq: t.lastSeq,
      lastUpdateAt: t.lastUpdateAt?.toISOString() ?? null,
      withdrawn: t.withdrawnAt !== null,
      retired: t.retiredAt !== null,
      liveRows: counts.live,
      deletedRows: counts.deleted,
    };
  }

  async tables(actor: Actor): Promise<TableView[]> {
    const everyAgency = actor.type === 'cli' || actor.type === 'system';
    const rows = await this.#store.tables(everyAgency ? null : (actor.agencyId ?? '00000000-0000-0000-0000-000000000000'));
    return Promise.all(rows.map((r) => this.table(actor, r.resourceCode)));
  }

  /**
   * One record by its key values (item name → value), decrypted: a sensitive key is found by its
   * blind index, so no other row is decrypted. The provider's own view; acquisition (later) reads
   * through the grant instead.
   */
  async record(actor: Actor, resourceCode: string, key: Readonly<Record<string, unknown>>): Promise<{ readonly values: Record<string, unknown>; readonly seq: number; readonly deleted: boolean } | null> {
    const t = await this.#require(resourceCode, this.db);
    this.#checkProvider(actor, t);
    const keys = await this.#dataKeys();
    const row = await this.#store.row(t, this.#encodeKey(t, keys, key));
    if (!row) return null;
    return { values: this.#decode(t, keys, row), seq: Number(row.gs_seq), deleted: row.gs_deleted === true };
  }

  /** The rows changed after a sequence number, in order, decrypted (the provider's view; push builds on the same read). */
  async changes(actor: Actor, resourceCode: string, after: number, limit: number): Promise<DecodedRow[]> {
    const t = await this.#require(resourceCode, this.db);
    this.#checkProvider(actor, t);
    return this.decodeRows(t, await this.#store.changes(t, after, limit));
  }

  async quarantine(actor: Actor, resourceCode: string, q: { after?: string | undefined; limit: number }) {
    const t = await this.#require(resourceCode, this.db);
    this.#checkProvider(actor, t);
    const rows = await this.#store.quarantine(resourceCode, q);
    return rows.map((r) => ({
      id: r.id,
      idempotencyKey: r.idempotencyKey,
      row: r.rowNumber,
      operation: r.operation as ChangeOperation,
      values: JSON.parse(this.keyRing.open(r.sealedRow, quarantineContext(resourceCode)).toString('utf8')) as Record<string, unknown>,
      problems: r.problems as RowProblem[],
      createdAt: r.createdAt.toISOString(),
    }));
  }

  /** Marks quarantined rows as dealt with (the provider sent them again corrected, or dropped them on purpose). */
  async resolveQuarantine(ctx: RequestContext, resourceCode: string, ids: readonly string[], note: string): Promise<{ readonly resolved: number }> {
    return this.db.transaction().execute(async (trx) => {
      const t = await this.#require(resourceCode, trx);
      this.#checkProvider(ctx.actor, t);
      const resolved = await this.#store.resolveQuarantine(resourceCode, ids, this.now(), trx);
      await this.audit.record(ctx, { action: 'data.resolve-quarantine', targetType: 'resource', targetId: resourceCode, details: { ids, resolved, note } }, trx);
      return { resolved };
    });
  }

  // ---- ingest ---------------------------------------------------------------------------------

  /** A batch of upserts and deletes from the API; the same idempotency key again changes nothing. */
  async applyBatch(ctx: RequestContext, resourceCode: string, input: { readonly idempotencyKey: string; readonly policy?: IngestPolicy | undefined; readonly changes: readonly IncomingChange[] }): Promise<BatchOutcome> {
    const digest = batchDigest(input.changes);
    return this.#ingest(ctx, resourceCode, toAsync(input.changes), { idempotencyKey: input.idempotencyKey, policy: input.policy ?? 'reject', source: 'api', digest: () => digest, details: {} });
  }

  /**
   * Rows read from a file (file-rows.ts), streamed: checked and written chunk by chunk inside one
   * transaction, so a failure anywhere (a bad row under `reject`, an unreadable record, a closed
   * connection) leaves nothing. Without an idempotency key the file's SHA-256 is the key.
   */
  async loadRows(
    ctx: RequestContext,
    resourceCode: string,
    rows: AsyncIterable<IncomingChange>,
    options: { readonly idempotencyKey?: string | undefined; readonly policy?: IngestPolicy | undefined; readonly digest: () => string; readonly details: Readonly<Record<string, unknown>>; readonly onProgress?: ((rows: number) => void) | undefined },
  ): Promise<BatchOutcome> {
    return this.#ingest(ctx, resourceCode, rows, { idempotencyKey: options.idempotencyKey ?? null, policy: options.policy ?? 'reject', source: 'file', digest: options.digest, details: options.details, onProgress: options.onProgress });
  }

  async #ingest(
    ctx: RequestContext,
    resourceCode: string,
    changes: AsyncIterable<IncomingChange>,
    m: { idempotencyKey: string | null; policy: IngestPolicy; source: BatchSource; digest: () => string; details: Readonly<Record<string, unknown>>; onProgress?: ((rows: number) => void) | undefined },
  ): Promise<BatchOutcome> {
    const now = this.now();
    // Before the batch's transaction: a key created in it would vanish with a rejected batch, and
    // a pending table (migration 0020) created in it would vanish with a batch that failed.
    const keys = await this.#dataKeys();
    await this.#ensureCreated(ctx.actor, resourceCode);
    try {
      const outcome = await this.db.transaction().execute(async (trx) => {
        // The counter row's lock is held to the end: batches of one resource run one after the
        // other, so sequence numbers commit in order and without gaps (README.md).
        const table = await this.#require(resourceCode, trx, true);
        this.#checkProvider(ctx.actor, table);
        if (table.withdrawnAt !== null) throw new GsError('GS_ERR_DATA_RESOURCE_WITHDRAWN', { resourceCode });
        if (table.retiredAt !== null) throw new GsError('GS_ERR_DATA_TABLE_RETIRED', { resourceCode });
        if (m.idempotencyKey !== null) {
          const earlier = await this.#store.batch(resourceCode, m.idempotencyKey, trx);
          // A replay is recognised before any work; its digest is compared at the end.
          if (earlier && m.source === 'api') return this.#replay(earlier, m.idempotencyKey, m.digest());
        }
        const byName = namesOf(table.columns);
        const pk = primaryKeyColumns(table.columns);
        // A multi-row INSERT binds every value: under PostgreSQL's 65,535 parameters.
        const insertRows = Math.max(1, Math.min(1000, Math.floor(30_000 / (table.columns.length * 2 + 4))));
        let staged = false;
        // The chunk being written while the next one is read and checked (PostgreSQL works in its
        // own process meanwhile); statements still run one after the other on the connection.
        let writing: Promise<void> = Promise.resolve();
        let seq = table.lastSeq;
        let firstSeq: number | null = null;
        let rows = 0;
        let upserted = 0;
        let deleted = 0;
        let invalid = 0;
        const problems: RowProblem[] = [];
        let problemCount = 0;
        const quarantined: { id: string; resourceCode: string; idempotencyKey: string; rowNumber: number; operation: string; sealedRow: string; problems: readonly RowProblem[] }[] = [];
        const pending = new Map<string, { operation: ChangeOperation; values: Map<string, StoredValue> }>();

        const flush = async (): Promise<void> => {
          if (pending.size === 0) return;
          const upserts: WriteRow[] = [];
          const deletes: WriteRow[] = [];
          for (const p of pending.values()) {
            seq++;
            firstSeq ??= seq;
            (p.operation === 'delete' ? deletes : upserts).push({ seq, deleted: p.operation === 'delete', values: p.values });
          }
          pending.clear();
          if (upserts.length + deletes.length >= COPY_MIN_ROWS) {
            // Large chunks go through COPY into the batch's staging table (README.md, "Writing").
            await writing;
            if (!staged) await this.#store.stage(table, trx);
            staged = true;
            writing = this.#store.writeStaged(table, [...upserts, ...deletes], now, trx);
            // Awaited before the next statement (or the end): a failure is not lost meanwhile.
            writing.catch(() => undefined);
          } else {
            await writing;
            // Keys are distinct within a chunk, so the statements touch different rows.
            for (let i = 0; i < upserts.length; i += insertRows) await this.#store.write(table, upserts.slice(i, i + insertRows), now, trx);
            for (let i = 0; i < deletes.length; i += insertRows) await this.#store.write(table, deletes.slice(i, i + insertRows), now, trx);
          }
          upserted += upserts.length;
          deleted += deletes.length;
        };

        try {
          for await (const change of changes) {
            rows++;
            const checked = change.problems?.length ? { row: null, problems: change.problems } : checkRow(table.columns, byName, change.row, change.operation, change.values);
            if (checked.row === null || checked.problems.length > 0) {
              invalid++;
              problemCount += checked.problems.length;
              for (const p of checked.problems) if (problems.length < MAX_LISTED_PROBLEMS) problems.push(p);
              if (m.policy === 'quarantine') {
                quarantined.push({
                  id: newId(),
                  resourceCode,
                  idempotencyKey: m.idempotencyKey ?? '',
                  rowNumber: change.row,
                  operation: change.operation,
                  sealedRow: this.keyRing.seal(Buffer.from(JSON.stringify(change.values), 'utf8'), quarantineContext(resourceCode)),
                  problems: checked.problems,
                });
              }
              continue;
            }
            // Under `reject` a bad row dooms the batch: stop writing, keep checking to list them all.
            if (m.policy === 'reject' && invalid > 0) continue;
            const values = this.#encode(table, keys, checked.row.values);
            const id = pk.length === 1 ? storedText(values.get(pk[0]!) ?? null) : JSON.stringify(pk.map((c) => storedText(values.get(c) ?? null)));
            // The last change of a key in the chunk wins, at its position (it takes the later sequence number).
            pending.delete(id);
            pending.set(id, { operation: change.operation, values });
            if (pending.size >= CHUNK_ROWS) await flush();
            if (rows % 1000 === 0) m.onProgress?.(rows);
          }
        } finally {
          // Nothing else goes to the connection, not even the rollback, while a chunk is in flight.
          await writing.catch(() => undefined);
        }
        await writing;
        m.onProgress?.(rows);
        const idempotencyKey = m.idempotencyKey ?? `sha256:${m.digest()}`;
        const base = { resourceCode, idempotencyKey, policy: m.policy, rows, invalid, problems, problemCount };
        if (m.policy === 'reject' && invalid > 0) {
          throw new Rollback({ ...base, status: 'rejected', upserted: 0, deleted: 0, quarantined: 0, firstSeq: null, lastSeq: null });
        }
        await flush();
        await writing;
        const earlier = await this.#store.batch(resourceCode, idempotencyKey, trx);
        if (earlier) throw new Rollback(this.#replay(earlier, idempotencyKey, m.digest()));
        for (const q of quarantined) Object.assign(q, { idempotencyKey });
        await this.#store.insertQuarantine(quarantined, now, trx);
        const outcome: BatchOutcome = { ...base, status: 'applied', upserted, deleted, quarantined: quarantined.length, firstSeq, lastSeq: firstSeq === null ? null : seq };
        if (seq !== table.lastSeq) await this.#store.updateTable(resourceCode, { lastSeq: seq, lastUpdateAt: now }, now, trx);
        await this.#store.insertBatch({ resourceCode, idempotencyKey, bodySha256: m.digest(), source: m.source, outcome, createdBy: ctx.actor.name }, now, trx);
        await this.audit.record(ctx, { action: 'data.load', targetType: 'resource', targetId: resourceCode, details: auditDetails(outcome, m.source, m.details) }, trx);
        return outcome;
      });
      // After commit: long polls and the webhook worker of this process look at once.
      if (outcome.status === 'applied' && outcome.lastSeq !== null) for (const listener of this.#changeListeners) listener(resourceCode);
      return outcome;
    } catch (e) {
      if (!(e instanceof Rollback)) throw e;
      if (e.outcome.status === 'rejected') {
        await this.audit.record(ctx, { action: 'data.load', targetType: 'resource', targetId: resourceCode, details: auditDetails(e.outcome, m.source, m.details) });
      }
      return e.outcome;
    }
  }

  // ---- reading under a grant (acquisition, push, comparison: the grant check is theirs) -------

  /** The table of a resource (GS_ERR_DATA_TABLE_NOT_FOUND when it has none). */
  async tableOf(resourceCode: string, executor: Db = this.db): Promise<TableRow> {
    return this.#require(resourceCode, executor);
  }

  /**
   * The table's shape (name and columns) for a reader outside a transaction: kept between calls
   * by `options.shapes` when there is one, so the exchange's hot paths do not read it each time.
   */
  async shapeOf(resourceCode: string): Promise<TableShape> {
    const read = async () => {
      const t = await this.#store.table(resourceCode);
      return t?.pending ? this.#createPending(resourceCode, this.db) : t;
    };
    const t = await (this.options.shapes ? this.options.shapes.get(resourceCode, read) : read());
    if (!t) throw new GsError('GS_ERR_DATA_TABLE_NOT_FOUND', { resourceCode });
    return t;
  }

  /** Stored rows (as ExchangeStore reads them) decrypted: values by item name, with seq and tombstone. */
  async decodeRows(t: TableShape, rows: readonly Record<string, unknown>[]): Promise<DecodedRow[]> {
    const keys = await this.#dataKeys();
    return rows.map((r) => ({ seq: Number(r[BOOKKEEPING.seq]), deleted: r[BOOKKEEPING.deleted] === true, values: this.#decode(t, keys, r) }));
  }

  /**
   * Key values (item name → value) as the key columns store them, for a lookup: checked against
   * their items (GS_ERR_REQUEST_INVALID naming the item), a sensitive key as its blind index.
   */
  async encodeKey(t: TableShape, key: Readonly<Record<string, unknown>>): Promise<Map<string, StoredValue>> {
    return this.#encodeKey(t, await this.#dataKeys(), key);
  }

  /** One row by its key values (checked and encoded as `encodeKey` does), decrypted; tombstones included. */
  async rowByKey(t: TableShape, key: Readonly<Record<string, unknown>>): Promise<DecodedRow | null> {
    const row = await this.#store.row(t, await this.encodeKey(t, key));
    return row ? ((await this.decodeRows(t, [row]))[0] ?? null) : null;
  }

  /**
   * A key encoder for many records (batch verification): each record's key values checked against
   * their items and encoded as `encodeKey` does, in `primaryKeyColumns` order, the data keys read
   * once. A key that does not check is the item and the rule it breaks, not an exception.
   */
  async keyEncoder(t: TableShape): Promise<(key: Readonly<Record<string, unknown>>) => { readonly values: StoredValue[] } | { readonly item: string; readonly problem: Omit<RowProblem, 'row' | 'item'> }> {
    const keys = await this.#dataKeys();
    const byPk = new Map<string, SharedColumn>(t.columns.filter((c) => c.key).map((c) => [c.indexColumn ?? c.column, c]));
    const order = primaryKeyColumns(t.columns).map((name) => byPk.get(name)!);
    return (key) => {
      const values: StoredValue[] = [];
      for (const c of order) {
        const r = checkValue(c, key[c.item]);
        if ('problem' in r) return { item: c.item, problem: r.problem };
        values.push(c.indexColumn ? blindIndex(keys.index, t.resourceCode, String(r.value)) : r.value);
      }
      return { values };
    };
  }

  /**
   * The rows of many keys (encoded by `keyEncoder`) in one query, decrypted for the named items
   * only (nothing else is decrypted); `result[i]` answers `keys[i]`, null when no row has the key.
   * Tombstones are returned (`deleted`); the caller decides what they mean.
   */
  async rowsByKeys(t: TableShape, keys: readonly (readonly StoredValue[])[], items: readonly string[], executor: Db = this.db): Promise<({ readonly deleted: boolean; readonly values: Record<string, unknown> } | null)[]> {
    const wanted = new Set(items);
    const columns = t.columns.filter((c) => wanted.has(c.item));
    const dataKeys = await this.#dataKeys();
    const found = await this.#store.rowsByKeys(t, keys, columns.map((c) => c.column), executor);
    const narrowed = { ...t, columns };
    return keys.map((_, i) => {
      const row = found.get(i);
      return row ? { deleted: row[BOOKKEEPING.deleted] === true, values: this.#decode(narrowed, dataKeys, row) } : null;
    });
  }

  /** The blind index of a sensitive key item's value (what its `indexColumn` holds). */
  async blindIndexOf(t: TableShape, value: string): Promise<Buffer> {
    return blindIndex((await this.#dataKeys()).index, t.resourceCode, value);
  }

  /**
   * The key of `hash` masking for one consumer agency (grant-view.ts): derived from the blind-index
   * key, so it survives restarts and is the same on every server, and differs per consumer.
   */
  async maskKey(consumerAgencyId: string): Promise<Buffer> {
    const keys = await this.#dataKeys();
    let key = keys.maskKeys.get(consumerAgencyId);
    if (!key) {
      key = createHmac('sha256', keys.index).update(`govshare.mask\0${consumerAgencyId}`).digest();
      keys.maskKeys.set(consumerAgencyId, key);
    }
    return key;
  }

  #encodeKey(t: TableShape, keys: DataKeys, key: Readonly<Record<string, unknown>>): Map<string, StoredValue> {
    const encoded = new Map<string, StoredValue>();
    for (const c of t.columns.filter((x) => x.key)) {
      const r = checkValue(c, key[c.item]);
      if ('problem' in r) throw new GsError('GS_ERR_REQUEST_INVALID', { summary: `${c.item}: ${r.problem.message}`, summaryZh: `${c.item}：${r.problem.messageZh}` }, [{ field: `key.${c.item}`, rule: r.problem.rule, message: r.problem.message, messageZh: r.problem.messageZh }]);
      if (c.indexColumn) encoded.set(c.indexColumn, blindIndex(keys.index, t.resourceCode, String(r.value)));
      else encoded.set(c.column, r.value);
    }
    return encoded;
  }

  #replay(earlier: { bodySha256: string; outcome: unknown }, idempotencyKey: string, digest: string): BatchOutcome {
    if (earlier.bodySha256 !== digest) throw new GsError('GS_ERR_DATA_BATCH_KEY_REUSED', { idempotencyKey });
    return { ...(earlier.outcome as BatchOutcome), status: 'replayed' };
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** The resource's table, its physical table created first if it is still pending. */
  async #require(resourceCode: string, executor: Db, lock = false): Promise<TableRow> {
    const t = await this.#store.table(resourceCode, executor, lock);
    if (!t) throw new GsError('GS_ERR_DATA_TABLE_NOT_FOUND', { resourceCode });
    return t.pending ? this.#createPending(resourceCode, executor) : t;
  }

  /** Creates the resource's table now, in a transaction of its own, if it is pending and the actor is its provider's. */
  async #ensureCreated(actor: Actor, resourceCode: string): Promise<void> {
    const t = await this.#store.table(resourceCode);
    if (!t?.pending) return;
    this.#checkProvider(actor, t);
    await this.#createPending(resourceCode, this.db);
  }

  /**
   * Creates a pending table now: in the caller's transaction when `executor` is one (its row is
   * then locked to the end of it), else in a transaction of its own. The registry row is locked
   * first, so two callers never create the same table twice.
   */
  async #createPending(resourceCode: string, executor: Db): Promise<TableRow> {
    const create = async (trx: Db): Promise<TableRow> => {
      const t = await this.#store.table(resourceCode, trx, true);
      if (!t) throw new GsError('GS_ERR_DATA_TABLE_NOT_FOUND', { resourceCode });
      if (!t.pending) return t;
      await this.#store.ddl(createTableSql(t.tableName, t.columns), trx);
      await this.#store.updateTable(resourceCode, { pending: false }, this.now(), trx);
      return { ...t, pending: false };
    };
    return executor.isTransaction ? create(executor) : this.db.transaction().execute(create);
  }

  /** The provider agency's own people; the local administrator and the platform for every agency. */
  #checkProvider(actor: Actor, t: TableRow): void {
    if (actor.type === 'cli' || actor.type === 'system') return;
    if (actor.agencyId !== t.agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
  }

  /** The checked values as stored: sensitive ones encrypted (and indexed), in the same map (the checked row is the caller's). */
  #encode(t: TableShape, keys: DataKeys, values: ReadonlyMap<string, CheckedValue>): Map<string, StoredValue> {
    const out = values as Map<string, StoredValue>;
    for (const c of t.columns) {
      if (!c.sensitive) continue;
      const v = values.get(c.column) ?? null;
      if (v === null) continue;
      const text = String(v);
      out.set(c.column, encryptValue(keys.encryption, text, `${t.resourceCode}/${c.column}`));
      if (c.indexColumn) out.set(c.indexColumn, blindIndex(keys.index, t.resourceCode, text));
    }
    return out;
  }

  #decode(t: TableShape, keys: DataKeys, row: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const c of t.columns) {
      const v = row[c.column];
      if (v === null || v === undefined) out[c.item] = null;
      else if (c.sensitive) {
        // pg gives a Buffer, PGlite a Uint8Array: viewed as a Buffer without a copy.
        const bytes = v as Uint8Array;
        const stored = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const key = keys.byId.get(keyIdOf(stored));
        if (!key) throw new GsError('GS_ERR_DATA_DECRYPT', { reason: `data key ${keyIdOf(stored)} is unknown` });
        const text = decryptValue(key, stored, `${t.resourceCode}/${c.column}`);
        out[c.item] = c.dataType === 'boolean' ? text === 'true' : text;
      } else out[c.item] = v instanceof Date ? v.toISOString() : v;
    }
    return out;
  }

  /**
   * The data keys, created on first use and sealed with the master key. When the configured
   * cipher differs from the active encryption key's, a new key of the configured cipher takes
   * over (older values still open by their key number).
   */
  async #dataKeys(): Promise<DataKeys> {
    const algorithm = ALGORITHM_OF[this.options.cipher];
    if (this.#keys && this.#keys.encryption.algorithm === algorithm) return this.#keys;
    // In a transaction of its own (never a batch's: a rolled-back key would be cached and used).
    const rows = await this.db.transaction().execute(async (trx) => {
      const found = await this.#store.dataKeys(trx);
      const active = (purpose: string) => found.find((r) => r.purpose === purpose && r.active);
      const current = active('encryption');
      if (current && current.algorithm === algorithm && active('blindIndex')) return found;
      if (current && current.algorithm !== algorithm) await this.#store.deactivateDataKey(current.id, trx);
      if (!current || current.algorithm !== algorithm) await this.#store.insertDataKey({ purpose: 'encryption', algorithm, sealedKey: this.keyRing.seal(randomBytes(32), DATA_KEY_CONTEXT) }, trx);
      if (!active('blindIndex')) await this.#store.insertDataKey({ purpose: 'blindIndex', algorithm: 'hmac-sha256', sealedKey: this.keyRing.seal(randomBytes(32), DATA_KEY_CONTEXT) }, trx);
      return this.#store.dataKeys(trx);
    });
    const byId = new Map<number, DataKey>();
    for (const r of rows) if (r.purpose === 'encryption') byId.set(r.id, { id: r.id, algorithm: r.algorithm as DataKeyAlgorithm, key: this.keyRing.open(r.sealedKey, DATA_KEY_CONTEXT) });
    const enc = rows.find((r) => r.purpose === 'encryption' && r.active);
    const index = rows.find((r) => r.purpose === 'blindIndex' && r.active);
    if (!enc || !index) throw new GsError('GS_ERR_DATA_DECRYPT', { reason: 'the data keys could not be created' });
    const keys = { encryption: byId.get(enc.id)!, byId, index: this.keyRing.open(index.sealedKey, DATA_KEY_CONTEXT), maskKeys: new Map<string, Buffer>() };
    this.#keys = keys;
    return keys;
  }
}

const DATA_KEY_CONTEXT = 'exchange.data-key';

/** Changes checked and held before they are written (the last change of a key in a chunk wins). */
const CHUNK_ROWS = 20_000;
/**
 * From this many rows a chunk is written with COPY through a staging table; below, with
 * multi-row INSERTs (an API batch of a few rows does not pay for a temporary table).
 */
const COPY_MIN_ROWS = 200;

function incompatible(resourceCode: string, version: number, changes: readonly IncompatibleChange[]): GsError {
  const summary = changes.map((c) => `${c.item}: ${c.change}${c.before !== null || c.after !== null ? ` (${c.before ?? '—'} → ${c.after ?? '—'})` : ''}`).join('; ');
  return new GsError(
    'GS_ERR_DATA_TABLE_INCOMPATIBLE',
    { resourceCode, version, summary, changes },
    changes.map((c) => ({ field: `content.dataItems[${c.item}]`, rule: c.change, message: `${c.change}: the shared table cannot follow it without a migration (docs/exchange.md)`, messageZh: '共享库表无法直接随之变更，须先执行迁移步骤（见 docs/exchange.md）' })),
  );
}

function namesOf(columns: readonly SharedColumn[]): Map<string, SharedColumn> {
  return new Map(columns.map((c) => [c.item, c]));
}

function storedText(v: StoredValue): string {
  if (v === null) return '';
  if (Buffer.isBuffer(v)) return v.toString('hex');
  return String(v);
}

function quarantineContext(resourceCode: string): string {
  return `exchange.quarantine:${resourceCode}`;
}

function auditDetails(o: BatchOutcome, source: BatchSource, extra: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return { source, ...extra, idempotencyKey: o.idempotencyKey, status: o.status, policy: o.policy, rows: o.rows, upserted: o.upserted, deleted: o.deleted, quarantined: o.quarantined, invalid: o.invalid, firstSeq: o.firstSeq, lastSeq: o.lastSeq };
}

async function* toAsync<T>(xs: readonly T[]): AsyncGenerator<T> {
  yield* xs;
}
