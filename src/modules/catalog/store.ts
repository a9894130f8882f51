import { sql, type Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { CatalogChangesTable, CatalogDataItemsTable, CatalogEntriesTable, CatalogEventsTable, CatalogExtensionFieldsTable, CatalogVersionsTable } from '../../db/schema.js';
import { classificationCode, parseClassificationCode, type DataItem, type EntryContent } from './content.js';
import type { ChangeKind, DataItemFormat, DataType, EntryStatus, FormatType, OpenState, ShareMethod, ShareType, UpdateCycle, VersionState } from './vocabulary.js';

export type EntryRow = Selectable<CatalogEntriesTable>;
export type VersionRow = Selectable<CatalogVersionsTable>;
export type DataItemRow = Selectable<CatalogDataItemsTable>;
export type ExtensionFieldRow = Selectable<CatalogExtensionFieldsTable>;
export type ChangeRow = Selectable<CatalogChangesTable>;
export type EventRow = Selectable<CatalogEventsTable>;

/** A version with its data items, as the service reads it. */
export interface StoredVersion {
  readonly row: VersionRow;
  readonly content: EntryContent;
}

export interface EntryQuery {
  readonly agencyId?: string | undefined;
  readonly status?: EntryStatus | undefined;
  /** Entries whose open version is in this state (drafts, the review queue). */
  readonly openState?: OpenState | undefined;
  readonly shareType?: ShareType | undefined;
  /** Entries never published are included only for this agency ('all': every agency's; null: none). */
  readonly unpublishedOf?: string | 'all' | null | undefined;
  readonly after?: string | undefined;
  readonly limit: number;
}

export type EntryPatch = Partial<Omit<EntryRow, 'id' | 'agencyId' | 'createdBy' | 'createdAt' | 'updatedAt' | 'version'>>;

export type VersionPatch = Partial<
  Pick<
    VersionRow,
    'state' | 'publishDate' | 'legalBasisConfirmedBy' | 'legalBasisConfirmedAt' | 'submittedBy' | 'submittedAt' | 'reviewedBy' | 'reviewedAt' | 'reviewComment'
  >
>;

export interface NewEvent {
  readonly entryId: string;
  readonly versionNumber: number | null;
  readonly action: string;
  readonly actorName: string;
  readonly actorUserId: string | null;
  readonly at: Date;
  readonly requestId: string | null;
  readonly comment: string | null;
  readonly details: Record<string, unknown>;
}

function contentColumns(c: EntryContent) {
  return {
    classificationCode: c.classification ? classificationCode(c.classification) : null,
    nameZh: c.nameZh,
    names: JSON.stringify(c.names),
    abstractZh: c.abstractZh,
    abstracts: JSON.stringify(c.abstracts),
    formatType: c.format?.type ?? null,
    formatSubtype: c.format?.subtype ?? null,
    shareType: c.shareType,
    shareCondition: c.shareCondition,
    legalBasisLaw: c.legalBasis?.law ?? null,
    legalBasisArticle: c.legalBasis?.article ?? null,
    shareMethods: [...c.shareMethods],
    openToPublic: c.openness?.open ?? null,
    opennessCondition: c.openness?.condition ?? null,
    updateCycle: c.updateCycle,
    relatedCodes: [...c.relatedCodes],
    extensions: JSON.stringify(c.extensions),
  };
}

function dataItemRow(entryId: string, versionNumber: number, position: number, d: DataItem) {
  return {
    entryId,
    versionNumber,
    position,
    nameZh: d.nameZh,
    names: JSON.stringify(d.names),
    dataType: d.dataType,
    length: d.length,
    precision: d.precision,
    scale: d.scale,
    description: d.description,
    sensitive: d.sensitive,
    format: d.format,
    isKey: d.key,
  };
}

function toDataItem(r: DataItemRow): DataItem {
  return {
    nameZh: r.nameZh,
    names: r.names,
    dataType: r.dataType as DataType,
    length: r.length,
    precision: r.precision,
    scale: r.scale,
    description: r.description,
    sensitive: r.sensitive,
    format: r.format as DataItemFormat | null,
    key: r.isKey,
  };
}

function toContent(r: VersionRow, items: readonly DataItemRow[]): EntryContent {
  return {
    classification: r.classificationCode ? parseClassificationCode(r.classificationCode) : null,
    nameZh: r.nameZh,
    names: r.names,
    abstractZh: r.abstractZh,
    abstracts: r.abstracts,
    format: r.formatType ? { type: r.formatType as FormatType, subtype: r.formatSubtype } : null,
    dataItems: [...items].sort((a, b) => a.position - b.position).map(toDataItem),
    shareType: r.shareType as ShareType | null,
    shareCondition: r.shareCondition,
    legalBasis: r.legalBasisLaw !== null && r.legalBasisArticle !== null ? { law: r.legalBasisLaw, article: r.legalBasisArticle } : null,
    shareMethods: r.shareMethods as ShareMethod[],
    openness: r.openToPublic === null ? null : { open: r.openToPublic, condition: r.opennessCondition },
    updateCycle: r.updateCycle as UpdateCycle | null,
    relatedCodes: r.relatedCodes,
    extensions: r.extensions,
  };
}

/** The only SQL over the catalog tables. */
export class CatalogStore {
  constructor(private readonly db: Db) {}

  // ---- extension fields ----------------------------------------------------------------------

  extensionFields(activeOnly: boolean, executor: Db = this.db): Promise<ExtensionFieldRow[]> {
    let q = executor.selectFrom('catalogExtensionFields').selectAll();
    if (activeOnly) q = q.where('active', '=', true);
    return q.orderBy('key').execute();
  }

  extensionField(key: string, executor: Db = this.db): Promise<ExtensionFieldRow | undefined> {
    return executor.selectFrom('catalogExtensionFields').selectAll().where('key', '=', key).executeTakeFirst();
  }

  insertExtensionField(f: Omit<ExtensionFieldRow, 'active' | 'version' | 'createdAt' | 'updatedAt'>, now: Date, executor: Db): Promise<ExtensionFieldRow> {
    return executor
      .insertInto('catalogExtensionFields')
      .values({ ...f, allowedValues: [...f.allowedValues], createdAt: now, updatedAt: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  updateExtensionField(key: string, patch: Partial<Pick<ExtensionFieldRow, 'labelZh' | 'labelEn' | 'required' | 'allowedValues' | 'active'>>, now: Date, executor: Db): Promise<ExtensionFieldRow> {
    return executor
      .updateTable('catalogExtensionFields')
      .set({ ...patch, updatedAt: now, version: sql<number>`version + 1` })
      .where('key', '=', key)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  // ---- entries -------------------------------------------------------------------------------

  /** `forUpdate`: lock the row for the rest of the transaction (every change of an entry takes it first). */
  entryById(id: string, executor: Db = this.db, forUpdate = false): Promise<EntryRow | undefined> {
    let q = executor.selectFrom('catalogEntries').selectAll().where('id', '=', id);
    if (forUpdate) q = q.forUpdate();
    return q.executeTakeFirst();
  }

  entryByCode(code: string, executor: Db = this.db): Promise<EntryRow | undefined> {
    return executor.selectFrom('catalogEntries').selectAll().where('resourceCode', '=', code).executeTakeFirst();
  }

  insertEntry(e: { id: string; agencyId: string; createdBy: string }, now: Date, executor: Db): Promise<EntryRow> {
    return executor
      .insertInto('catalogEntries')
      .values({ ...e, status: 'unpublished', openVersion: 1, latestVersion: 1, createdAt: now, updatedAt: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  updateEntry(id: string, patch: EntryPatch, now: Date, executor: Db): Promise<EntryRow> {
    return executor
      .updateTable('catalogEntries')
      .set({ ...patch, updatedAt: now, version: sql<number>`version + 1` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  listEntries(q: EntryQuery): Promise<EntryRow[]> {
    let query = this.db.selectFrom('catalogEntries as e').selectAll('e');
    if (q.agencyId) query = query.where('e.agencyId', '=', q.agencyId);
    if (q.status) query = query.where('e.status', '=', q.status);
    if (q.openState) {
      const state = q.openState;
      query = query.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('catalogVersions as v')
            .select('v.number')
            .whereRef('v.entryId', '=', 'e.id')
            .whereRef('v.number', '=', 'e.openVersion')
            .where('v.state', '=', state),
        ),
      );
    }
    if (q.shareType) {
      const shareType = q.shareType;
      query = query.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('catalogVersions as v')
            .select('v.number')
            .whereRef('v.entryId', '=', 'e.id')
            .whereRef('v.number', '=', 'e.publishedVersion')
            .where('v.shareType', '=', shareType),
        ),
      );
    }
    if (q.unpublishedOf !== 'all') {
      const own = q.unpublishedOf ?? null;
      query = query.where((eb) => (own === null ? eb('e.resourceCode', 'is not', null) : eb.or([eb('e.resourceCode', 'is not', null), eb('e.agencyId', '=', own)])));
    }
    if (q.after) query = query.where('e.id', '>', q.after);
    return query.orderBy('e.id').limit(q.limit).execute();
  }

  /** Published entries with a revision deadline on or before `dueBy` (all deadlines when undefined). */
  revisionsDue(dueBy: string | undefined, agencyId: string | undefined): Promise<EntryRow[]> {
    let q = this.db.selectFrom('catalogEntries').selectAll().where('revisionDueOn', 'is not', null).where('status', '=', 'published');
    if (dueBy) q = q.where('revisionDueOn', '<=', dueBy);
    if (agencyId) q = q.where('agencyId', '=', agencyId);
    return q.orderBy('revisionDueOn').orderBy('id').limit(1000).execute();
  }

  /** The state of each given resource code that exists. */
  async codeStates(codes: readonly string[], executor: Db = this.db): Promise<Map<string, EntryStatus>> {
    if (codes.length === 0) return new Map();
    const rows = await executor.selectFrom('catalogEntries').select(['resourceCode', 'status']).where('resourceCode', 'in', [...codes]).execute();
    return new Map(rows.map((r) => [r.resourceCode!, r.status as EntryStatus]));
  }

  /** 后段码: the next sequence within a classification; the upsert locks its row until commit. */
  async nextSequence(classification: string, executor: Db): Promise<number> {
    const row = await executor
      .insertInto('catalogCodeSequences')
      .values({ classificationCode: classification, lastSequence: 1 })
      .onConflict((oc) => oc.column('classificationCode').doUpdateSet({ lastSequence: sql<number>`catalog_code_sequences.last_sequence + 1` }))
      .returning('lastSequence')
      .executeTakeFirstOrThrow();
    return row.lastSequence;
  }

  // ---- batch writes (imports) ------------------------------------------------------------------

  /** New entries with their first version and its data items, many at once (one import chunk). */
  async insertImported(
    items: readonly {
      readonly entry: { id: string; agencyId: string; createdBy: string; status: EntryStatus; resourceCode: string | null; publishedVersion: number | null; openVersion: number | null };
      readonly content: EntryContent;
      readonly version: VersionPatch & { state: VersionState };
    }[],
    now: Date,
    executor: Db,
  ): Promise<void> {
    if (items.length === 0) return;
    await executor
      .insertInto('catalogEntries')
      .values(items.map((i) => ({ ...i.entry, latestVersion: 1, createdAt: now, updatedAt: now })))
      .execute();
    await executor
      .insertInto('catalogVersions')
      .values(items.map((i) => ({ entryId: i.entry.id, number: 1, ...contentColumns(i.content), ...i.version, createdBy: i.entry.createdBy, createdAt: now, updatedAt: now })))
      .execute();
    const rows = items.flatMap((i) => i.content.dataItems.map((d, position) => dataItemRow(i.entry.id, 1, position, d)));
    // PostgreSQL takes at most 65535 parameters per statement: 13 columns a row.
    for (let at = 0; at < rows.length; at += 4000) await executor.insertInto('catalogDataItems').values(rows.slice(at, at + 4000)).execute();
  }

  /** Makes the next sequence of a classification follow `used` (a code kept from a migrated catalog). */
  async reserveSequence(classification: string, used: number, executor: Db): Promise<void> {
    await executor
      .insertInto('catalogCodeSequences')
      .values({ classificationCode: classification, lastSequence: used })
      .onConflict((oc) => oc.column('classificationCode').doUpdateSet({ lastSequence: sql<number>`greatest(catalog_code_sequences.last_sequence, ${used})` }))
      .execute();
  }

  /** `count` consecutive sequence numbers of a classification; returns the first. Locks its row as nextSequence does. */
  async nextSequences(classification: string, count: number, executor: Db): Promise<number> {
    const row = await executor
      .insertInto('catalogCodeSequences')
      .values({ classificationCode: classification, lastSequence: count })
      .onConflict((oc) => oc.column('classificationCode').doUpdateSet({ lastSequence: sql<number>`catalog_code_sequences.last_sequence + ${count}` }))
      .returning('lastSequence')
      .executeTakeFirstOrThrow();
    return row.lastSequence - count + 1;
  }

  /** `count` consecutive feed numbers (same lock as allocateFeedSeq); returns the first. */
  async allocateFeedSeqs(count: number, executor: Db): Promise<number> {
    const row = await executor
      .updateTable('catalogFeedCounter')
      .set({ lastSeq: sql<number>`last_seq + ${count}` })
      .where('id', '=', 1)
      .returning('lastSeq')
      .executeTakeFirstOrThrow();
    return row.lastSeq - count + 1;
  }

  async insertChanges(changes: readonly { seq: number; kind: ChangeKind; entryId: string; resourceCode: string; versionNumber: number; at: Date; reason: string | null }[], executor: Db): Promise<void> {
    if (changes.length > 0) await executor.insertInto('catalogChanges').values([...changes]).execute();
  }

  async appendEvents(events: readonly NewEvent[], executor: Db): Promise<void> {
    if (events.length > 0) await executor.insertInto('catalogEvents').values(events.map((e) => ({ ...e, details: JSON.stringify(e.details) }))).execute();
  }

  /** The resource codes among `codes` that entries already hold (duplicate checks of an import). */
  async codesInUse(codes: readonly string[], executor: Db = this.db): Promise<Set<string>> {
    const out = new Set<string>();
    for (let at = 0; at < codes.length; at += 5000) {
      const rows = await executor.selectFrom('catalogEntries').select('resourceCode').where('resourceCode', 'in', codes.slice(at, at + 5000)).execute();
      for (const r of rows) if (r.resourceCode) out.add(r.resourceCode);
    }
    return out;
  }

  /** The language tags used by the published versions' names, abstracts and data item names (export headers). */
  async publishedLanguages(): Promise<string[]> {
    const r = await sql<{ tag: string }>`
      select distinct k as tag from (
        select jsonb_object_keys(v.names) as k from catalog_versions v where v.state = 'published'
        union all select jsonb_object_keys(v.abstracts) from catalog_versions v where v.state = 'published'
        union all select jsonb_object_keys(d.names) from catalog_data_items d
          join catalog_versions v on v.entry_id = d.entry_id and v.number = d.version_number where v.state = 'published'
      ) t order by 1`.execute(this.db);
    return r.rows.map((x) => x.tag);
  }

  // ---- versions ------------------------------------------------------------------------------

  async version(entryId: string, number: number, executor: Db = this.db): Promise<StoredVersion | undefined> {
    const row = await executor.selectFrom('catalogVersions').selectAll().where('entryId', '=', entryId).where('number', '=', number).executeTakeFirst();
    if (!row) return undefined;
    const items = await executor.selectFrom('catalogDataItems').selectAll().where('entryId', '=', entryId).where('versionNumber', '=', number).execute();
    return { row, content: toContent(row, items) };
  }

  /** Several versions at once (list pages), keyed `entryId:number`. */
  async versions(keys: readonly { entryId: string; number: number }[]): Promise<Map<string, StoredVersion>> {
    if (keys.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('catalogVersions')
      .selectAll()
      .where((eb) => eb.or(keys.map((k) => eb.and([eb('entryId', '=', k.entryId), eb('number', '=', k.number)]))))
      .execute();
    const items = await this.db
      .selectFrom('catalogDataItems')
      .selectAll()
      .where((eb) => eb.or(keys.map((k) => eb.and([eb('entryId', '=', k.entryId), eb('versionNumber', '=', k.number)]))))
      .execute();
    const byVersion = new Map<string, DataItemRow[]>();
    for (const i of items) {
      const key = `${i.entryId}:${i.versionNumber}`;
      byVersion.set(key, [...(byVersion.get(key) ?? []), i]);
    }
    return new Map(rows.map((r) => [`${r.entryId}:${r.number}`, { row: r, content: toContent(r, byVersion.get(`${r.entryId}:${r.number}`) ?? []) }]));
  }

  versionRows(entryId: string): Promise<VersionRow[]> {
    return this.db.selectFrom('catalogVersions').selectAll().where('entryId', '=', entryId).orderBy('number').execute();
  }

  async insertVersion(entryId: string, number: number, content: EntryContent, createdBy: string, now: Date, executor: Db): Promise<void> {
    await executor
      .insertInto('catalogVersions')
      .values({ entryId, number, state: 'draft', ...contentColumns(content), createdBy, createdAt: now, updatedAt: now })
      .execute();
    await this.#insertItems(entryId, number, content.dataItems, executor);
  }

  /** Replaces the content of an open version: its columns and all its data items. */
  async replaceContent(entryId: string, number: number, content: EntryContent, now: Date, executor: Db): Promise<void> {
    await executor.updateTable('catalogVersions').set({ ...contentColumns(content), updatedAt: now }).where('entryId', '=', entryId).where('number', '=', number).execute();
    await executor.deleteFrom('catalogDataItems').where('entryId', '=', entryId).where('versionNumber', '=', number).execute();
    await this.#insertItems(entryId, number, content.dataItems, executor);
  }

  async #insertItems(entryId: string, number: number, items: readonly DataItem[], executor: Db): Promise<void> {
    if (items.length === 0) return;
    await executor
      .insertInto('catalogDataItems')
      .values(items.map((d, position) => dataItemRow(entryId, number, position, d)))
      .execute();
  }

  async setVersion(entryId: string, number: number, patch: VersionPatch & { state?: VersionState }, now: Date, executor: Db): Promise<void> {
    await executor.updateTable('catalogVersions').set({ ...patch, updatedAt: now }).where('entryId', '=', entryId).where('number', '=', number).execute();
  }

  /** Published not-shared versions whose legal basis the supervisor confirmed (000 §13). */
  nonShared(after: string | undefined, limit: number): Promise<(VersionRow & { resourceCode: string; agencyId: string })[]> {
    let q = this.db
      .selectFrom('catalogVersions as v')
      .innerJoin('catalogEntries as e', (j) => j.onRef('e.id', '=', 'v.entryId').onRef('e.publishedVersion', '=', 'v.number'))
      .selectAll('v')
      .select(['e.resourceCode', 'e.agencyId'])
      .where('v.state', '=', 'published')
      .where('v.shareType', '=', 'none')
      .where('v.legalBasisConfirmedBy', 'is not', null);
    if (after) q = q.where('e.resourceCode', '>', after);
    return q.orderBy('e.resourceCode').limit(limit).execute() as Promise<(VersionRow & { resourceCode: string; agencyId: string })[]>;
  }

  // ---- change feed ---------------------------------------------------------------------------

  /**
   * The next feed number. The update locks the single counter row until the transaction ends,
   * so publishing transactions take numbers one after another, each after the previous committed.
   */
  async allocateFeedSeq(executor: Db): Promise<number> {
    const row = await executor
      .updateTable('catalogFeedCounter')
      .set({ lastSeq: sql<number>`last_seq + 1` })
      .where('id', '=', 1)
      .returning('lastSeq')
      .executeTakeFirstOrThrow();
    return row.lastSeq;
  }

  async insertChange(c: { seq: number; kind: ChangeKind; entryId: string; resourceCode: string; versionNumber: number; at: Date; reason: string | null }, executor: Db): Promise<void> {
    await executor.insertInto('catalogChanges').values(c).execute();
  }

  changes(after: number, limit: number): Promise<ChangeRow[]> {
    return this.db.selectFrom('catalogChanges').selectAll().where('seq', '>', after).orderBy('seq').limit(limit).execute();
  }

  // ---- history -------------------------------------------------------------------------------

  async appendEvent(e: NewEvent, executor: Db): Promise<void> {
    await executor
      .insertInto('catalogEvents')
      .values({ ...e, details: JSON.stringify(e.details) })
      .execute();
  }

  events(entryId: string): Promise<EventRow[]> {
    return this.db.selectFrom('catalogEvents').selectAll().where('entryId', '=', entryId).orderBy('id').execute();
  }
}
