import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { Type } from 'typebox';
import { GsError } from '../../lib/errors.js';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, IdParams } from '../../server/schema-kit.js';
import { LangQuery } from '../catalog/schemas.js';
import { contentDisposition, fileNameOfDisposition } from './file-name.js';
import { AttachmentView, UploadQuery } from './schemas.js';

const tags = ['attachments'];
const LangOnly = Type.Object({ lang: LangQuery }, { additionalProperties: false });

export async function attachmentRoutes(app: GsApp, { attachments }: Platform): Promise<void> {
  // The upload takes the file itself as the body, of any type; this parser stays inside this
  // scope, so every other route still accepts JSON only. The body is handed on as the request
  // stream, unread and unbuffered: the blob store reads it and stops at the attachment limit
  // (Fastify's body limit applies only to bodies it reads itself).
  await app.register(async (scope) => {
    const files = scope as unknown as GsApp;
    files.removeAllContentTypeParsers();
    files.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    files.post(
      '/attachments',
      {
        config: { access: needs('attachment:upload') },
        schema: {
          tags,
          summary: "Upload an attachment (e.g. a signed security agreement, 保密协议) for the uploader's own agency; link it to a request when filing it",
          description: [
            'The body is the file itself with its Content-Type (application/pdf, image/jpeg, application/octet-stream, …); the file name comes from `?fileName=` or a `Content-Disposition: attachment; filename*=UTF-8\'\'…` header.',
            `At most GOVSHARE_ATTACHMENT_MAX_BYTES (now ${attachments.maxBytes} bytes): larger is refused with 413 GS_ERR_ATTACHMENT_TOO_LARGE and nothing is kept. Visible to the uploading agency until linked.`,
          ].join(' '),
          querystring: UploadQuery,
          response: { 201: AttachmentView, ...ERROR_RESPONSES },
        },
      },
      async (req, reply) => {
        const source = req.body as IncomingMessage | undefined;
        if (!source || typeof source.pipe !== 'function') throw new GsError('GS_ERR_ATTACHMENT_INVALID', { reason: 'the request has no body', reasonZh: '请求没有内容' });
        // The blob store gets a stream of its own to stop (destroy) at the limit: destroying the
        // request itself would reset the connection before the 413 could be sent.
        const body = new PassThrough();
        source.on('error', (e) => body.destroy(e));
        source.on('close', () => {
          if (!source.readableEnded) body.destroy(new Error('the client closed the connection before the upload was complete'));
        });
        source.pipe(body);
        const declared = Number(req.headers['content-length']);
        // Refused before a byte is read when the client says how much is coming.
        try {
          if (Number.isFinite(declared) && declared > attachments.maxBytes) throw new GsError('GS_ERR_ATTACHMENT_TOO_LARGE', { limit: attachments.maxBytes });
          const fileName = req.query.fileName ?? fileNameOfDisposition(req.headers['content-disposition']) ?? '';
          const view = await attachments.upload(req.ctx, { fileName, contentType: req.headers['content-type'], body }, req.query.lang);
          return reply.status(201).send(view);
        } catch (e) {
          // What the client is still sending is not read: the connection ends with the refusal.
          if (!source.readableEnded) reply.header('connection', 'close');
          throw e;
        }
      },
    );
  });

  app.get(
    '/attachments/:id',
    {
      config: { access: needs('attachment:read') },
      schema: {
        tags,
        summary: 'An attachment\'s name, type, size and SHA-256: for its uploading agency, the agencies of the records it is linked to, and the supervisor',
        params: IdParams,
        querystring: LangOnly,
        response: { 200: AttachmentView, ...ERROR_RESPONSES },
      },
    },
    async (req) => attachments.get(req.ctx.actor, req.params.id, req.query.lang),
  );

  app.get(
    '/attachments/:id/content',
    {
      config: { access: needs('attachment:read') },
      schema: {
        tags,
        summary: 'Download an attachment (audited as attachment.download)',
        description:
          "Content-Type as uploaded; Content-Disposition `attachment` with the name RFC 5987-encoded (filename*=UTF-8''…); ETag the content's SHA-256 (If-None-Match answers 304) and Digest / Repr-Digest `sha-256`. The content is checked against its SHA-256 as it streams: a damaged blob cuts the download short with an error instead of completing it.",
        params: IdParams,
        produces: ['application/octet-stream'],
        response: { 200: Type.Unknown({ description: 'The file, streamed' }), 304: Type.Null({ description: 'Not modified: the If-None-Match ETag is this content' }), ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      const etag = `"${(await attachments.get(req.ctx.actor, req.params.id)).sha256}"`;
      if (req.headers['if-none-match']?.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}`)) return reply.status(304).header('etag', etag).send();
      const { attachment, content } = await attachments.open(req.ctx, req.params.id);
      const sha = Buffer.from(attachment.sha256, 'hex').toString('base64');
      return reply
        .header('content-type', attachment.contentType)
        .header('content-length', String(attachment.bytes))
        .header('content-disposition', contentDisposition(attachment.fileName))
        .header('etag', `"${attachment.sha256}"`)
        .header('digest', `sha-256=${sha}`)
        .header('repr-digest', `sha-256=:${sha}:`)
        // Served from the API's origin: never rendered as a page there, whatever its type.
        .header('content-security-policy', "default-src 'none'; sandbox")
        .send(content);
    },
  );
}
