import type { Readable } from 'node:stream';
import type { Db } from '../../db/database.js';
import { GsError, isGsError } from '../../lib/errors.js';
import { isUuid, newId } from '../../lib/secrets.js';
import type { Actor, RequestContext } from '../../server/actor.js';
import type { AuditService } from '../audit/service.js';
import type { BlobStore } from '../blobs/blob-store.js';
import type { ProviderLookup } from '../catalog/service.js';
import { mediaTypeOf, sanitiseFileName } from './file-name.js';
import type { AttachmentView } from './schemas.js';
import { AttachmentStore, type AttachmentRow } from './store.js';

export interface AttachmentUpload {
  /** As the client gave it; made safe here (file-name.ts). */
  readonly fileName: string;
  /** The upload's Content-Type; absent: application/octet-stream. */
  readonly contentType?: string | undefined;
  readonly body: Readable;
  /**
   * Platform staff only (the CLI, the platform itself): record the upload for this agency, so that
   * it can attach the file to its own records (a request filed for it from the command line).
   * Anyone else uploads for their own agency; naming another is GS_ERR_AUTH_WRONG_AGENCY.
   */
  readonly agencyId?: string | undefined;
}

/** What an owner shows of a linked file. */
export interface LinkedFile {
  readonly id: string;
  readonly fileName: string;
  readonly contentType: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface AttachmentLink {
  readonly attachmentIds: readonly string[];
  /** The kind of record they belong to, e.g. 'shareRequest'. */
  readonly ownerType: string;
  readonly ownerId: string;
  /** Agencies besides the uploader that may read them (e.g. the provider asked). */
  readonly readerAgencyIds: readonly string[];
}

/**
 * Files agencies attach to the records of other modules (the security agreement of a share
 * request). The bytes go to the blob store under their SHA-256; a row records one upload with
 * its name, type and uploader. An attachment is visible to its uploading agency, to the agencies
 * a link names as readers, and to accounts that see every agency (CLI, the platform, the
 * supervisor); to anyone else it does not exist. Owners link attachments through `link`, inside
 * their own transaction.
 */
export class AttachmentService {
  readonly #store: AttachmentStore;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly agencies: { get(id: string, lang?: string, executor?: Db): ReturnType<ProviderLookup['get']> },
    private readonly blobs: BlobStore,
    private readonly options: { readonly maxBytes: number },
    private readonly now: () => Date = () => new Date(),
  ) {
    this.#store = new AttachmentStore(db);
  }

  /** The largest attachment accepted, in bytes (GOVSHARE_ATTACHMENT_MAX_BYTES). */
  get maxBytes(): number {
    return this.options.maxBytes;
  }

  #everyAgency(actor: Actor): boolean {
    return actor.type === 'cli' || actor.type === 'system' || actor.permissions.has('catalog:review');
  }

  async #require(actor: Actor, id: string): Promise<AttachmentRow> {
    const row = isUuid(id) ? await this.#store.byId(id) : undefined;
    if (row && (this.#everyAgency(actor) || (actor.agencyId !== null && (actor.agencyId === row.agencyId || (await this.#store.readableThroughLink(id, actor.agencyId)))))) {
      return row;
    }
    throw new GsError('GS_ERR_ATTACHMENT_NOT_FOUND', { id });
  }

  /**
   * Streams the body into the blob store (at most maxBytes, else GS_ERR_ATTACHMENT_TOO_LARGE and
   * nothing stored), then records it for the uploader's agency (none for platform staff).
   */
  async upload(ctx: RequestContext, input: AttachmentUpload, lang?: string): Promise<AttachmentView> {
    const { actor } = ctx;
    const staff = actor.type === 'cli' || actor.type === 'system';
    let fileName: string;
    let contentType: string;
    try {
      if (!staff && !actor.permissions.has('attachment:upload')) throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: 'attachment:upload' });
      if (input.agencyId !== undefined && !staff && input.agencyId !== actor.agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
      fileName = sanitiseFileName(input.fileName, 'query.fileName');
      contentType = mediaTypeOf(input.contentType);
      if (staff && input.agencyId !== undefined) await this.agencies.get(input.agencyId);
    } catch (e) {
      input.body.destroy();
      throw e;
    }
    const stored = await this.blobs.put(input.body, { maxBytes: this.options.maxBytes }).catch((e: unknown) => {
      if (isGsError(e) && e.code === 'GS_ERR_BLOB_TOO_LARGE') throw new GsError('GS_ERR_ATTACHMENT_TOO_LARGE', { limit: this.options.maxBytes });
      throw e;
    });
    // A blob whose row is never written (the database failed here) stays unreferenced in the store.
    const row = await this.db.transaction().execute(async (trx) => {
      const inserted = await this.#store.insert(
        { id: newId(), sha256: stored.sha256, bytes: stored.bytes, fileName, contentType, agencyId: staff ? (input.agencyId ?? null) : actor.agencyId, uploadedBy: actor.name },
        this.now(),
        trx,
      );
      await this.audit.record(ctx, { action: 'attachment.upload', targetType: 'attachment', targetId: inserted.id, details: { fileName, contentType, bytes: stored.bytes, sha256: stored.sha256, ...(staff && input.agencyId !== undefined ? { forAgencyId: input.agencyId } : {}) } }, trx);
      return inserted;
    });
    return this.#view(row, lang);
  }

  async get(actor: Actor, id: string, lang?: string): Promise<AttachmentView> {
    return this.#view(await this.#require(actor, id), lang);
  }

  /**
   * The attachment and its content, checked against its SHA-256 as it streams (a damaged blob
   * fails the stream with GS_ERR_BLOB_CORRUPT). Each download is audited.
   */
  async open(ctx: RequestContext, id: string, lang?: string): Promise<{ readonly attachment: AttachmentView; readonly content: Readable }> {
    const row = await this.#require(ctx.actor, id);
    const content = await this.blobs.open(row.sha256);
    try {
      await this.audit.record(ctx, { action: 'attachment.download', targetType: 'attachment', targetId: id, details: { fileName: row.fileName, sha256: row.sha256 } });
      return { attachment: await this.#view(row, lang), content };
    } catch (e) {
      content.destroy();
      throw e;
    }
  }

  /**
   * Links attachments to their owner, inside the owner's transaction; re-linking replaces the
   * readers. Every id must be an attachment uploaded by `uploaderAgencyId` (null: by platform
   * staff), else GS_ERR_ATTACHMENT_NOT_LINKABLE naming it: one agency cannot attach another's file.
   */
  async link(trx: Db, input: AttachmentLink, uploaderAgencyId: string | null, lang?: string): Promise<AttachmentView[]> {
    const ids = [...new Set(input.attachmentIds)];
    const bad = ids.find((id) => !isUuid(id));
    if (bad !== undefined) throw notLinkable(bad);
    const rows = new Map((await this.#store.byIds(ids, trx, true)).map((r) => [r.id, r]));
    for (const id of ids) {
      if (rows.get(id)?.agencyId !== uploaderAgencyId) throw notLinkable(id);
    }
    const readers = [...new Set(input.readerAgencyIds)];
    const badReader = readers.find((r) => !isUuid(r));
    if (badReader !== undefined) throw new GsError('GS_ERR_REQUEST_INVALID', { summary: `reader agency ${badReader} is not an id`, summaryZh: `可读单位 ${badReader} 不是合法的标识` });
    await this.#store.link(ids, input, readers, this.now(), trx);
    return Promise.all(ids.map((id) => this.#view(rows.get(id)!, lang, trx)));
  }

  /** The attachments linked to one owner, for showing with it (the owner has checked who may see it). */
  async linked(ownerType: string, ownerId: string, lang?: string, executor: Db = this.db): Promise<AttachmentView[]> {
    if (!isUuid(ownerId)) return [];
    return Promise.all((await this.#store.linked(ownerType, ownerId, executor)).map((r) => this.#view(r, lang, executor)));
  }

  /**
   * The files linked to each of these owners (by owner id; owners without any are absent), without
   * the uploading agency's name: one query for a whole page of owners (the owner has checked who
   * may see them).
   */
  async filesOf(ownerType: string, ownerIds: readonly string[], executor: Db = this.db): Promise<Map<string, LinkedFile[]>> {
    const rows = await this.#store.linkedToAny(ownerType, ownerIds.filter(isUuid), executor);
    const byOwner = new Map<string, LinkedFile[]>();
    for (const r of rows) {
      const files = byOwner.get(r.ownerId) ?? [];
      files.push({ id: r.id, fileName: r.fileName, contentType: r.contentType, bytes: r.bytes, sha256: r.sha256 });
      byOwner.set(r.ownerId, files);
    }
    return byOwner;
  }

  async #view(r: AttachmentRow, lang?: string, executor?: Db): Promise<AttachmentView> {
    const agency = r.agencyId === null ? null : await this.agencies.get(r.agencyId, lang, executor);
    return {
      id: r.id,
      fileName: r.fileName,
      contentType: r.contentType,
      bytes: r.bytes,
      sha256: r.sha256,
      uploadedBy: r.uploadedBy,
      agency: agency && { id: agency.id, code: agency.code, name: agency.name },
      createdAt: r.createdAt.toISOString(),
    };
  }
}

function notLinkable(id: string): GsError {
  return new GsError('GS_ERR_ATTACHMENT_NOT_LINKABLE', { id }, [{ field: 'attachmentIds', rule: 'ownAttachment', message: `attachment ${id} does not exist or was not uploaded by your agency`, messageZh: `附件 ${id} 不存在或不是本单位上传的` }]);
}
