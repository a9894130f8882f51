import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agencyInput, caught, createTestPlatform, refused, userContext as as, type TestPlatform } from '../../../test/helpers/platform.js';
import type { RequestContext } from '../../server/actor.js';
import { runAdminOperation } from '../../server/admin-operations.js';
import type { Agency } from '../agencies/schemas.js';
import { DirectoryBlobStore } from '../blobs/directory-blob-store.js';
import type { AttachmentService } from './service.js';

let t: TestPlatform;
let attachments: AttachmentService;
let blobDir: string;
let asking: Agency;
let holding: Agency;
let third: Agency;
let requester: RequestContext;
let holdingReviewer: RequestContext;
let thirdViewer: RequestContext;
let supervisor: RequestContext;

function body(bytes: Buffer): Readable {
  return Readable.from((function* () {
    for (let i = 0; i < bytes.length; i += 16 * 1024) yield bytes.subarray(i, i + 16 * 1024);
  })());
}

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

function filesIn(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

const agreement = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(50_000), Buffer.from('\n%%EOF\n')]);

beforeAll(async () => {
  t = await createTestPlatform({ attachmentMaxBytes: 100_000 });
  attachments = t.platform.attachments;
  blobDir = t.platform.blobs.location;
  asking = await t.platform.agencies.create(t.cli, agencyInput(1, { nameZh: '衡阳市行政审批服务局' }));
  holding = await t.platform.agencies.create(t.cli, agencyInput(2, { nameZh: '衡阳市市场监督管理局' }));
  third = await t.platform.agencies.create(t.cli, agencyInput(3));
  requester = as('requester', asking.id, 'asking.requester');
  holdingReviewer = as('reviewer', holding.id, 'holding.reviewer');
  thirdViewer = as('viewer', third.id, 'third.viewer');
  supervisor = as('supervisor', null, 'supervisor');
});
afterAll(async () => t?.close());

describe('attachments', () => {
  it("uploads into the blob store under the content's SHA-256, audited, and reads back for the uploading agency", async () => {
    const a = await attachments.upload(requester, { fileName: 'C:\\Users\\张三\\保密协议（签章版）.pdf', contentType: 'application/pdf', body: body(agreement) });
    expect(a).toMatchObject({
      fileName: '保密协议（签章版）.pdf',
      contentType: 'application/pdf',
      bytes: agreement.length,
      sha256: createHash('sha256').update(agreement).digest('hex'),
      uploadedBy: 'asking.requester',
      agency: { id: asking.id, name: '衡阳市行政审批服务局' },
    });
    expect(await t.platform.blobs.has(a.sha256)).toBe(true);
    expect(await attachments.get(requester.actor, a.id)).toEqual(a);
    const opened = await attachments.open(requester, a.id);
    expect(await readAll(opened.content)).toEqual(agreement);
    const audit = await t.platform.audit.search({ targetId: a.id, limit: 10 });
    expect(audit.map((e) => e.action).sort()).toEqual(['attachment.download', 'attachment.upload']);
  });

  it('shows an attachment to another agency only once a link names it, and to the supervisor always', async () => {
    const a = await attachments.upload(requester, { fileName: '承诺书.pdf', contentType: 'application/pdf', body: body(Buffer.from('%PDF 承诺书')) });
    await refused(attachments.get(holdingReviewer.actor, a.id), 'GS_ERR_ATTACHMENT_NOT_FOUND');
    await refused(attachments.open(holdingReviewer, a.id), 'GS_ERR_ATTACHMENT_NOT_FOUND');
    expect((await attachments.get(supervisor.actor, a.id)).id).toBe(a.id);

    const requestId = '00000000-0000-4000-8000-00000000a001';
    const linked = await t.platform.db.transaction().execute((trx) => attachments.link(trx, { attachmentIds: [a.id], ownerType: 'shareRequest', ownerId: requestId, readerAgencyIds: [holding.id] }, asking.id));
    expect(linked.map((v) => v.id)).toEqual([a.id]);
    expect((await attachments.get(holdingReviewer.actor, a.id)).fileName).toBe('承诺书.pdf');
    expect((await readAll((await attachments.open(holdingReviewer, a.id)).content)).toString()).toBe('%PDF 承诺书');
    await refused(attachments.get(thirdViewer.actor, a.id), 'GS_ERR_ATTACHMENT_NOT_FOUND');
    expect((await attachments.linked('shareRequest', requestId)).map((v) => v.id)).toEqual([a.id]);
    expect(await attachments.linked('shareRequest', '00000000-0000-4000-8000-00000000a002')).toEqual([]);
    // Unknown and malformed ids look the same as another agency's.
    await refused(attachments.get(requester.actor, '00000000-0000-4000-8000-000000000000'), 'GS_ERR_ATTACHMENT_NOT_FOUND');
    await refused(attachments.get(requester.actor, 'not-an-id'), 'GS_ERR_ATTACHMENT_NOT_FOUND');
  });

  it("refuses to link an attachment that does not exist or is another agency's, naming it, and links nothing", async () => {
    const mine = await attachments.upload(requester, { fileName: 'a.pdf', contentType: 'application/pdf', body: body(Buffer.from('mine')) });
    const theirs = await attachments.upload(holdingReviewer, { fileName: 'b.pdf', contentType: 'application/pdf', body: body(Buffer.from('theirs')) });
    const owner = { ownerType: 'shareRequest', ownerId: '00000000-0000-4000-8000-00000000b001', readerAgencyIds: [holding.id] };
    let e = await refused(t.platform.db.transaction().execute((trx) => attachments.link(trx, { ...owner, attachmentIds: [mine.id, theirs.id] }, asking.id)), 'GS_ERR_ATTACHMENT_NOT_LINKABLE');
    expect(e.status).toBe(400);
    expect(e.params.id).toBe(theirs.id);
    const missing = '00000000-0000-4000-8000-00000000dead';
    e = await refused(t.platform.db.transaction().execute((trx) => attachments.link(trx, { ...owner, attachmentIds: [missing] }, asking.id)), 'GS_ERR_ATTACHMENT_NOT_LINKABLE');
    expect(e.message).toContain(missing);
    expect(await attachments.linked(owner.ownerType, owner.ownerId)).toEqual([]);
  });

  it('lets platform staff upload for an agency, which may then link it; an agency user cannot upload for another agency', async () => {
    const forAsking = await attachments.upload(t.cli, { fileName: '保密协议.pdf', contentType: 'application/pdf', body: body(Buffer.from('%PDF staff copy')), agencyId: asking.id });
    expect(forAsking.agency).toEqual({ id: asking.id, code: asking.code, name: asking.name });
    expect((await attachments.get(requester.actor, forAsking.id)).id).toBe(forAsking.id);
    const owner = { ownerType: 'shareRequest', ownerId: '00000000-0000-4000-8000-00000000b002', readerAgencyIds: [holding.id] };
    const linked = await t.platform.db.transaction().execute((trx) => attachments.link(trx, { ...owner, attachmentIds: [forAsking.id] }, asking.id));
    expect(linked.map((a) => a.id)).toEqual([forAsking.id]);
    const audit = await t.platform.audit.search({ targetId: forAsking.id, action: 'attachment.upload', limit: 10 });
    expect(audit.map((a) => a.details)).toEqual([expect.objectContaining({ forAgencyId: asking.id })]);

    await refused(attachments.upload(requester, { fileName: 'x.pdf', body: body(Buffer.from('x')), agencyId: holding.id }), 'GS_ERR_AUTH_WRONG_AGENCY');
    // Naming one's own agency is allowed and changes nothing.
    expect((await attachments.upload(requester, { fileName: 'own.pdf', body: body(Buffer.from('own')), agencyId: asking.id })).agency?.id).toBe(asking.id);
    const before = filesIn(blobDir).length;
    await refused(attachments.upload(t.cli, { fileName: 'x.pdf', body: body(Buffer.from('for nobody')), agencyId: '00000000-0000-4000-8000-00000000beef' }), 'GS_ERR_AGENCY_NOT_FOUND');
    expect(filesIn(blobDir).length).toBe(before);
  });

  it('refuses an attachment over the limit, naming it, and keeps neither a blob nor a row', async () => {
    const before = filesIn(blobDir);
    const e = await refused(attachments.upload(requester, { fileName: 'big.pdf', contentType: 'application/pdf', body: body(randomBytes(100_001)) }), 'GS_ERR_ATTACHMENT_TOO_LARGE');
    expect(e.status).toBe(413);
    expect(e.message).toContain('100000');
    expect(e.message).toContain('GOVSHARE_ATTACHMENT_MAX_BYTES');
    expect(filesIn(blobDir)).toEqual(before);
    expect(await t.platform.db.selectFrom('attachments').select('id').where('fileName', '=', 'big.pdf').execute()).toEqual([]);
  });

  it('keeps neither a blob nor a row when the upload stream fails half-way', async () => {
    const before = filesIn(blobDir);
    const half = randomBytes(30_000);
    const failing = Readable.from((async function* () {
      yield half;
      throw new Error('connection reset by the client');
    })());
    await expect(attachments.upload(requester, { fileName: 'half.pdf', contentType: 'application/pdf', body: failing })).rejects.toThrow('connection reset by the client');
    expect(filesIn(blobDir)).toEqual(before);
    expect(await t.platform.db.selectFrom('attachments').select('id').where('fileName', '=', 'half.pdf').execute()).toEqual([]);
  });

  it('fails the download of a damaged blob with GS_ERR_BLOB_CORRUPT', async () => {
    const a = await attachments.upload(requester, { fileName: 'damaged.pdf', contentType: 'application/pdf', body: body(randomBytes(40_000)) });
    writeFileSync(new DirectoryBlobStore(blobDir).pathOf(a.sha256), randomBytes(40_000));
    const e = await caught(readAll((await attachments.open(requester, a.id)).content));
    expect(e.code).toBe('GS_ERR_BLOB_CORRUPT');
    // `govshare attachments download` writes an intact one whole; on a damaged one it stops with the same code and leaves no partial file.
    const dir = mkdtempSync(join(tmpdir(), 'govshare-download-'));
    const intactBytes = randomBytes(40_000);
    const intact = await attachments.upload(requester, { fileName: 'intact.pdf', contentType: 'application/pdf', body: body(intactBytes) });
    const written = await runAdminOperation(t.platform, 'attachmentDownload', { id: intact.id, out: join(dir, 'intact.pdf') }, 'test');
    expect(written).toMatchObject({ attachment: { id: intact.id, sha256: intact.sha256 }, out: join(dir, 'intact.pdf') });
    expect(readFileSync(join(dir, 'intact.pdf')).equals(intactBytes)).toBe(true);
    const out = join(dir, 'damaged.pdf');
    const cli = await caught(runAdminOperation(t.platform, 'attachmentDownload', { id: a.id, out }, 'test'));
    expect(cli.code).toBe('GS_ERR_BLOB_CORRUPT');
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a name with nothing usable left, a malformed type, and an account without attachment:upload', async () => {
    let e = await refused(attachments.upload(requester, { fileName: '../\u202e..', contentType: 'application/pdf', body: body(Buffer.from('x')) }), 'GS_ERR_ATTACHMENT_INVALID');
    expect(e.fields?.[0]).toMatchObject({ field: 'query.fileName' });
    e = await refused(attachments.upload(requester, { fileName: 'a.pdf', contentType: 'pdf', body: body(Buffer.from('x')) }), 'GS_ERR_ATTACHMENT_INVALID');
    expect(e.fields?.[0]).toMatchObject({ field: 'headers.content-type' });
    await refused(attachments.upload(thirdViewer, { fileName: 'a.pdf', body: body(Buffer.from('x')) }), 'GS_ERR_AUTH_FORBIDDEN');
    // Control and bidi characters go; a long name is cut at 255 characters, not inside one.
    const long = await attachments.upload(requester, { fileName: `报告\u0007\u202egpj.${'协'.repeat(300)}😀.pdf`, body: body(Buffer.from('x')) });
    expect(long.fileName).toMatch(/^报告gpj\.协+$/);
    expect([...long.fileName]).toHaveLength(255);
    expect(long.contentType).toBe('application/octet-stream');
  });

  it('stores identical bytes once, however often they are uploaded', async () => {
    const bytes = Buffer.from(`同一份协议 ${randomBytes(8).toString('hex')}`);
    const before = filesIn(blobDir).length;
    const a = await attachments.upload(requester, { fileName: 'one.pdf', body: body(bytes) });
    const b = await attachments.upload(holdingReviewer, { fileName: 'two.pdf', body: body(bytes) });
    expect(a.id).not.toBe(b.id);
    expect(a.sha256).toBe(b.sha256);
    expect(filesIn(blobDir).length).toBe(before + 1);
  });
});
