import { sql, type Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { AttachmentsTable } from '../../db/schema.js';

export type AttachmentRow = Selectable<AttachmentsTable>;

/** The only SQL over the attachments and attachment_links tables. */
export class AttachmentStore {
  constructor(private readonly db: Db) {}

  insert(row: Omit<AttachmentRow, 'createdAt'>, now: Date, executor: Db): Promise<AttachmentRow> {
    return executor
      .insertInto('attachments')
      .values({ ...row, createdAt: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  byId(id: string, executor: Db = this.db): Promise<AttachmentRow | undefined> {
    return executor.selectFrom('attachments').selectAll().where('id', '=', id).executeTakeFirst();
  }

  byIds(ids: readonly string[], executor: Db, forUpdate = false): Promise<AttachmentRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    let q = executor.selectFrom('attachments').selectAll().where('id', 'in', [...ids]);
    if (forUpdate) q = q.forShare();
    return q.execute();
  }

  /** Whether a link names `agencyId` among the readers of the attachment. */
  async readableThroughLink(id: string, agencyId: string, executor: Db = this.db): Promise<boolean> {
    const row = await executor
      .selectFrom('attachmentLinks')
      .select('attachmentId')
      .where('attachmentId', '=', id)
      .where(sql<boolean>`${agencyId}::uuid = any(reader_agency_ids)`)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Links (or re-links, replacing the readers) attachments to their owner. */
  async link(ids: readonly string[], owner: { readonly ownerType: string; readonly ownerId: string }, readerAgencyIds: readonly string[], now: Date, executor: Db): Promise<void> {
    if (ids.length === 0) return;
    await executor
      .insertInto('attachmentLinks')
      .values(ids.map((attachmentId) => ({ attachmentId, ownerType: owner.ownerType, ownerId: owner.ownerId, readerAgencyIds: [...readerAgencyIds], createdAt: now })))
      .onConflict((oc) => oc.columns(['attachmentId', 'ownerType', 'ownerId']).doUpdateSet({ readerAgencyIds: [...readerAgencyIds] }))
      .execute();
  }

  /** The attachments of one owner, in the order they were uploaded. */
  /** The attachments linked to any of these owners, each with the owner it is linked to. */
  linkedToAny(ownerType: string, ownerIds: readonly string[], executor: Db = this.db): Promise<(AttachmentRow & { ownerId: string })[]> {
    if (ownerIds.length === 0) return Promise.resolve([]);
    return executor
      .selectFrom('attachments as a')
      .innerJoin('attachmentLinks as l', 'l.attachmentId', 'a.id')
      .selectAll('a')
      .select('l.ownerId')
      .where('l.ownerType', '=', ownerType)
      .where('l.ownerId', 'in', ownerIds)
      .orderBy('a.createdAt')
      .orderBy('a.id')
      .execute();
  }

  linked(ownerType: string, ownerId: string, executor: Db = this.db): Promise<AttachmentRow[]> {
    return executor
      .selectFrom('attachments as a')
      .innerJoin('attachmentLinks as l', 'l.attachmentId', 'a.id')
      .selectAll('a')
      .where('l.ownerType', '=', ownerType)
      .where('l.ownerId', '=', ownerId)
      .orderBy('a.createdAt')
      .orderBy('a.id')
      .execute();
  }
}
