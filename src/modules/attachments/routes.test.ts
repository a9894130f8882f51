import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agencyInput, createTestPlatform, userWithRoles, type LoggedIn, type TestPlatform } from '../../../test/helpers/platform.js';
import type { Agency } from '../agencies/schemas.js';
import type { AttachmentView } from './schemas.js';

const V1 = '/api/v1';
const LIMIT = 200_000;

let t: TestPlatform;
let asking: Agency;
let holding: Agency;
let requester: LoggedIn;
let holdingReviewer: LoggedIn;

const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n'), randomBytes(120_000), Buffer.from('\n%%EOF\n')]);
const chineseName = '衡阳市数据共享保密协议（2025）.pdf';

async function upload(who: LoggedIn, bytes: Buffer, headers: Record<string, string> = {}, query = `?fileName=${encodeURIComponent(chineseName)}`) {
  return t.app.inject({ method: 'POST', url: `${V1}/attachments${query}`, headers: { ...who.headers, 'content-type': 'application/pdf', ...headers }, payload: bytes });
}

beforeAll(async () => {
  // The JSON body limit far below the attachment limit: the upload route has its own.
  t = await createTestPlatform({ attachmentMaxBytes: LIMIT, bodyLimitBytes: 64 * 1024 });
  asking = await t.platform.agencies.create(t.cli, agencyInput(1, { nameZh: '衡阳市行政审批服务局' }));
  holding = await t.platform.agencies.create(t.cli, agencyInput(2));
  requester = await userWithRoles(t, 'asking-requester', ['requester'], asking.id);
  holdingReviewer = await userWithRoles(t, 'holding-reviewer', ['reviewer'], holding.id);
});
afterAll(async () => t?.close());

describe('attachments over HTTP', () => {
  let uploaded: AttachmentView;

  it('takes a PDF with a Chinese name as the raw body and gives it back byte for byte with its headers', async () => {
    const r = await upload(requester, pdf);
    expect(r.statusCode, r.body).toBe(201);
    uploaded = r.json<AttachmentView>();
    const sha = createHash('sha256').update(pdf).digest();
    expect(uploaded).toMatchObject({ fileName: chineseName, contentType: 'application/pdf', bytes: pdf.length, sha256: sha.toString('hex'), uploadedBy: 'asking-requester', agency: { id: asking.id } });

    const meta = await t.app.inject({ method: 'GET', url: `${V1}/attachments/${uploaded.id}`, headers: requester.headers });
    expect(meta.json()).toEqual(uploaded);

    const d = await t.app.inject({ method: 'GET', url: `${V1}/attachments/${uploaded.id}/content`, headers: requester.headers });
    expect(d.statusCode).toBe(200);
    expect(d.rawPayload.equals(pdf)).toBe(true);
    expect(d.headers['content-type']).toBe('application/pdf');
    expect(d.headers['content-length']).toBe(String(pdf.length));
    expect(d.headers['content-disposition']).toBe(`attachment; filename="${chineseName.replace(/[^\x20-\x7e]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(chineseName).replace(/[()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`);
    expect(d.headers['content-disposition']).toContain("filename*=UTF-8''%E8%A1%A1%E9%98%B3");
    expect(d.headers.etag).toBe(`"${sha.toString('hex')}"`);
    expect(d.headers.digest).toBe(`sha-256=${sha.toString('base64')}`);
    expect(d.headers['x-content-type-options']).toBe('nosniff');
    expect(d.headers['content-security-policy']).toContain('sandbox');

    const again = await t.app.inject({ method: 'GET', url: `${V1}/attachments/${uploaded.id}/content`, headers: { ...requester.headers, 'if-none-match': d.headers.etag as string } });
    expect(again.statusCode).toBe(304);
  });

  it('takes the name from Content-Disposition (RFC 5987) and any content type', async () => {
    const r = await upload(requester, Buffer.from('{"not":"parsed"}'), { 'content-type': 'application/json', 'content-disposition': `attachment; filename="x.json"; filename*=UTF-8''${encodeURIComponent('数据字典.json')}` }, '');
    expect(r.statusCode, r.body).toBe(201);
    expect(r.json()).toMatchObject({ fileName: '数据字典.json', contentType: 'application/json', bytes: 16 });
    const missing = await upload(requester, Buffer.from('x'), {}, '');
    expect(missing.statusCode).toBe(400);
    expect(missing.json().code).toBe('GS_ERR_ATTACHMENT_INVALID');
  });

  it('refuses an attachment over GOVSHARE_ATTACHMENT_MAX_BYTES with 413 naming the limit, far above the JSON body limit', async () => {
    // (The PDF above passed the JSON body limit; this route has its own.)
    expect(pdf.length).toBeGreaterThan(t.config.bodyLimitBytes);
    const big = await t.platform.db.selectFrom('attachments').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const r = await upload(requester, randomBytes(LIMIT + 1));
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ code: 'GS_ERR_ATTACHMENT_TOO_LARGE', details: { limit: LIMIT } });
    // Also when the client does not say how much is coming (chunked): cut off while streaming.
    const chunked = await t.app.inject({
      method: 'POST',
      url: `${V1}/attachments?fileName=big.bin`,
      headers: { ...requester.headers, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
      payload: Readable.from((function* () {
        for (let i = 0; i < 10; i++) yield randomBytes(LIMIT / 4);
      })()),
    });
    expect(chunked.statusCode).toBe(413);
    expect(chunked.json().code).toBe('GS_ERR_ATTACHMENT_TOO_LARGE');
    expect((await t.platform.db.selectFrom('attachments').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n).toBe(big.n);
  });

  it('sends the 413 over a real connection while the client is still sending, instead of resetting it', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: `${V1}/attachments?fileName=big.bin`, headers: { ...requester.headers, 'content-type': 'application/octet-stream' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      let sent = 0;
      const write = (): void => {
        while (sent < LIMIT * 3) {
          sent += 16_384;
          if (!req.write(randomBytes(16_384))) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'GS_ERR_ATTACHMENT_TOO_LARGE' });
  });

  it('hides an attachment from another agency (404) until a link names it as a reader', async () => {
    for (const url of [`${V1}/attachments/${uploaded.id}`, `${V1}/attachments/${uploaded.id}/content`]) {
      const r = await t.app.inject({ method: 'GET', url, headers: holdingReviewer.headers });
      expect(r.statusCode).toBe(404);
      expect(r.json().code).toBe('GS_ERR_ATTACHMENT_NOT_FOUND');
    }
    await t.platform.db.transaction().execute((trx) =>
      t.platform.attachments.link(trx, { attachmentIds: [uploaded.id], ownerType: 'shareRequest', ownerId: '00000000-0000-4000-8000-0000000000c1', readerAgencyIds: [holding.id] }, asking.id),
    );
    const d = await t.app.inject({ method: 'GET', url: `${V1}/attachments/${uploaded.id}/content`, headers: holdingReviewer.headers });
    expect(d.statusCode).toBe(200);
    expect(d.rawPayload.equals(pdf)).toBe(true);
  });

  it('refuses callers without credentials (401) before reading the body', async () => {
    const r = await t.app.inject({ method: 'POST', url: `${V1}/attachments?fileName=a.pdf`, headers: { 'content-type': 'application/pdf' }, payload: pdf });
    expect(r.statusCode).toBe(401);
    expect(r.json().code).toBe('GS_ERR_AUTH_REQUIRED');
    expect((await t.app.inject({ method: 'GET', url: `${V1}/attachments/${uploaded.id}/content` })).statusCode).toBe(401);
  });

  it('keeps every other route JSON-only: text/plain or a PDF to a JSON route is still 415', async () => {
    for (const type of ['text/plain', 'application/pdf', 'application/octet-stream']) {
      const r = await t.app.inject({ method: 'POST', url: `${V1}/demands`, headers: { ...requester.headers, 'content-type': type }, payload: '{"title":"x","purpose":"y"}' });
      expect(r.statusCode, type).toBe(415);
      expect(r.json().code).toBe('GS_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE');
    }
    const json = await t.app.inject({ method: 'POST', url: `${V1}/demands`, headers: requester.headers, payload: { title: '企业登记信息', purpose: '核验' } });
    expect(json.statusCode).toBe(201);
  });
});
