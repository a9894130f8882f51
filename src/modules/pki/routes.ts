import { Type } from 'typebox';
import { needs, PUBLIC, self } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, IdParams, Limit, literals, nextCursor, page, Uuid } from '../../server/schema-kit.js';
import { Certificate, CERTIFICATE_STATUSES, Decision, KeyBundleRequest, NodeCertificateApply, OwnCertificateApply, Rejection, Revocation, SUBJECT_TYPES, SystemCertificateApply } from './schemas.js';

const tags = ['certificates'];
const PageQuery = Type.Object({ after: Type.Optional(Uuid), limit: Limit }, { additionalProperties: false });
const Binary = (description: string) => Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description });

export async function pkiRoutes(app: GsApp, { pki }: Platform): Promise<void> {
  app.get(
    '/pki/ca.pem',
    {
      config: { access: PUBLIC },
      schema: { tags, summary: 'The platform CA certificate (PEM): clients trust the exchange port with it', response: { 200: Type.String(), ...ERROR_RESPONSES } },
    },
    async (_req, reply) => reply.type('application/x-pem-file').send(await pki.caCertificatePem()),
  );

  app.get(
    '/pki/crl',
    {
      config: { access: PUBLIC },
      schema: { tags, summary: 'The certificate revocation list (DER, signed by the platform CA, valid for one day)', response: { 200: Binary('application/pkix-crl'), ...ERROR_RESPONSES } },
    },
    async (_req, reply) => reply.type('application/pkix-crl').header('cache-control', 'max-age=300').send(await pki.crl()),
  );

  app.post(
    '/certificates',
    {
      config: { access: needs('certificate:apply') },
      schema: {
        tags,
        summary: "Apply for a business system's client certificate (a node admin: own agency's systems); an operator approves it",
        body: SystemCertificateApply,
        response: { 201: Certificate, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => reply.status(201).send(await pki.applyForSystem(req.ctx, req.body)),
  );

  app.post(
    '/certificates/nodes',
    {
      config: { access: needs('certificate:apply') },
      schema: {
        tags,
        summary: "Apply for an agency node's client certificate (a node admin: own agency's nodes); an operator approves it",
        body: NodeCertificateApply,
        response: { 201: Certificate, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => reply.status(201).send(await pki.applyForNode(req.ctx, req.body)),
  );

  app.get(
    '/certificates',
    {
      config: { access: needs('certificate:read') },
      schema: {
        tags,
        summary: 'List certificates (operators: all; agency staff: their agency)',
        querystring: Type.Object(
          {
            status: Type.Optional(literals(CERTIFICATE_STATUSES)),
            subjectType: Type.Optional(literals(SUBJECT_TYPES)),
            subjectId: Type.Optional(Uuid),
            after: Type.Optional(Uuid),
            limit: Limit,
          },
          { additionalProperties: false },
        ),
        response: { 200: page(Certificate), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const items = await pki.list(req.ctx.actor, { ...req.query, limit });
      return { items, next: nextCursor(items, limit, (c) => c.id) };
    },
  );

  app.get(
    '/certificates/expiring',
    {
      config: { access: needs('certificate:read') },
      schema: {
        tags,
        summary: 'Issued certificates that expire within the next N days (default 30): rotate them',
        querystring: Type.Object(
          { days: Type.Integer({ minimum: 1, maximum: 3650, default: 30 }), after: Type.Optional(Uuid), limit: Limit },
          { additionalProperties: false },
        ),
        response: { 200: page(Certificate), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const items = await pki.list(req.ctx.actor, { expiringWithinDays: req.query.days ?? 30, after: req.query.after, limit });
      return { items, next: nextCursor(items, limit, (c) => c.id) };
    },
  );

  app.get(
    '/certificates/:id',
    { config: { access: needs('certificate:read') }, schema: { tags, summary: 'One certificate', params: IdParams, response: { 200: Certificate, ...ERROR_RESPONSES } } },
    async (req) => pki.get(req.ctx.actor, req.params.id),
  );

  app.post(
    '/certificates/:id/approve',
    {
      config: { access: needs('certificate:manage') },
      schema: { tags, summary: 'Approve an application: the certificate is issued at once', params: IdParams, body: Decision, response: { 200: Certificate, ...ERROR_RESPONSES } },
    },
    async (req) => pki.approve(req.ctx, req.params.id, req.body.reason ?? null),
  );

  app.post(
    '/certificates/:id/reject',
    {
      config: { access: needs('certificate:manage') },
      schema: { tags, summary: 'Reject an application, with the reason', params: IdParams, body: Rejection, response: { 200: Certificate, ...ERROR_RESPONSES } },
    },
    async (req) => pki.reject(req.ctx, req.params.id, req.body.reason),
  );

  app.post(
    '/certificates/:id/revoke',
    {
      config: { access: needs('certificate:manage') },
      schema: { tags, summary: 'Revoke an issued certificate: the exchange port refuses it from the next request, and the CRL lists it', params: IdParams, body: Revocation, response: { 200: Certificate, ...ERROR_RESPONSES } },
    },
    async (req) => pki.revoke(req.ctx, req.params.id, req.body.reason, req.body.comment ?? null),
  );

  app.post(
    '/certificates/:id/key-bundle',
    {
      config: { access: self() },
      schema: {
        tags,
        summary: 'Download, once, the PKCS#12 file (key and certificate) of a certificate whose key the platform generated; only the applicant may',
        params: IdParams,
        body: KeyBundleRequest,
        response: { 200: Binary('application/x-pkcs12'), ...ERROR_RESPONSES, 410: ERROR_RESPONSES[404] },
      },
    },
    async (req, reply) =>
      reply
        .type('application/x-pkcs12')
        .header('content-disposition', `attachment; filename="govshare-${req.params.id}.p12"`)
        .send(await pki.takeKeyBundle(req.ctx, req.params.id, req.body.passphrase)),
  );

  app.post(
    '/me/certificates',
    {
      config: { access: self() },
      schema: { tags, summary: 'Apply for your own client certificate (replaces the USB-key certificate); an operator approves it', body: OwnCertificateApply, response: { 201: Certificate, ...ERROR_RESPONSES } },
    },
    async (req, reply) => reply.status(201).send(await pki.applyForSelf(req.ctx, req.body)),
  );

  app.get(
    '/me/certificates',
    { config: { access: self() }, schema: { tags, summary: 'Your own certificates', querystring: PageQuery, response: { 200: page(Certificate), ...ERROR_RESPONSES } } },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const items = await pki.listOwn(req.ctx.actor, { after: req.query.after, limit });
      return { items, next: nextCursor(items, limit, (c) => c.id) };
    },
  );
}
