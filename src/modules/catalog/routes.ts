import { Type, type Static } from 'typebox';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, Limit, literals, nextCursor, page } from '../../server/schema-kit.js';
import {
  ChangeFeedItem,
  DraftSave,
  EntryCreate,
  EntryHistoryItem,
  EntryView,
  ExtensionField,
  ExtensionFieldCreate,
  ExtensionFieldPatch,
  ImportQuery,
  ImportReportView,
  FieldChange,
  Finding,
  LangQuery,
  NonSharedItem,
  Publish,
  Return,
  RevisionNotice,
  Submit,
  VersionView,
  Withdraw,
} from './schemas.js';
import { ENTRY_STATUSES, OPEN_STATES, SHARE_TYPES } from './vocabulary.js';
import { PassThrough, Readable } from 'node:stream';
import { GsError } from '../../lib/errors.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { dcatChunks, EXPORT_CONTENT_TYPES, EXPORT_FORMATS, exportSource, jsonChunks, writeXlsx } from './export.js';
import { importCatalogFile } from './import-file.js';

/** The largest import file the API takes (docs/catalog-import.md); the CLI reads larger files from disk. */
export const IMPORT_MAX_BYTES = 64 * 1024 * 1024;
const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const IMPORT_TYPES = ['text/csv', XLSX_TYPE, 'application/octet-stream'];

const tags = ['catalog'];

const importDescription = `The file is the request body (not multipart), sent as \`text/csv\` (UTF-8, or GB18030/GBK), \`${XLSX_TYPE}\` or \`application/octet-stream\` (the bytes decide); at most ${IMPORT_MAX_BYTES / 1024 / 1024} MiB. The reply is a report, also when rows fail: \`outcome\` says whether anything was written; \`errors\` names the row, the column and the rule of every problem. docs/catalog-import.md has the template.`;

const EntryParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'Entry id or resource code (URL-encode the "/")' }) }, { additionalProperties: false });
const LangOnly = Type.Object({ lang: LangQuery }, { additionalProperties: false });

export async function catalogRoutes(app: GsApp, { catalog, agencies }: Platform): Promise<void> {
  app.get(
    '/catalog/entries',
    {
      config: { access: needs('catalog:read') },
      schema: {
        tags,
        summary: 'List catalog entries: published by default; drafts and the review queue (openState) for their agency and the supervisor',
        querystring: Type.Object(
          {
            agencyId: Type.Optional(Type.String({ format: 'uuid' })),
            status: Type.Optional(literals(ENTRY_STATUSES)),
            openState: Type.Optional(literals(OPEN_STATES, { description: 'Entries whose open version is in this state; submitted = the review queue' })),
            shareType: Type.Optional(literals(SHARE_TYPES)),
            after: Type.Optional(Type.String({ format: 'uuid', description: 'Entry id to continue after' })),
            lang: LangQuery,
            limit: Limit,
          },
          { additionalProperties: false },
        ),
        response: { 200: page(EntryView), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const { lang, ...q } = req.query;
      const limit = q.limit ?? 50;
      const items = await catalog.list(req.ctx.actor, { ...q, limit }, lang);
      return { items, next: nextCursor(items, limit, (e) => e.id) };
    },
  );

  app.post(
    '/catalog/entries',
    {
      config: { access: needs('catalog:edit') },
      schema: { tags, summary: "Create an entry (a draft) for the cataloger's own agency", body: EntryCreate, querystring: LangOnly, response: { 201: EntryView, ...ERROR_RESPONSES } },
    },
    async (req, reply) => reply.status(201).send(await catalog.create(req.ctx, req.body, req.query.lang)),
  );

  app.get(
    '/catalog/entries/:id',
    {
      config: { access: needs('catalog:read') },
      schema: { tags, summary: 'One entry: the version in force, and the open version for its agency and the supervisor', params: EntryParams, querystring: LangOnly, response: { 200: EntryView, ...ERROR_RESPONSES } },
    },
    async (req) => catalog.get(req.ctx.actor, req.params.id, req.query.lang),
  );

  app.put(
    '/catalog/entries/:id/draft',
    {
      config: { access: needs('catalog:edit') },
      schema: {
        tags,
        summary: 'Replace the content of the open version; on a published entry this starts its next version (the published one stays in force)',
        params: EntryParams,
        querystring: LangOnly,
        body: DraftSave,
        response: { 200: EntryView, ...ERROR_RESPONSES },
      },
    },
    async (req) => catalog.saveDraft(req.ctx, req.params.id, req.body, req.query.lang),
  );

  app.post(
    '/catalog/entries/:id/submit',
    {
      config: { access: needs('catalog:edit') },
      schema: { tags, summary: 'Submit the open version for review (refused while it has error findings)', params: EntryParams, querystring: LangOnly, body: Submit, response: { 200: EntryView, ...ERROR_RESPONSES } },
    },
    async (req) => catalog.submit(req.ctx, req.params.id, req.body.expectedVersion, req.query.lang),
  );

  app.post(
    '/catalog/entries/:id/publish',
    {
      config: { access: needs('catalog:review') },
      schema: { tags, summary: 'Publish the submitted version (supervisor); a not-shared entry needs confirmLegalBasis', params: EntryParams, querystring: LangOnly, body: Publish, response: { 200: EntryView, ...ERROR_RESPONSES } },
    },
    async (req) => catalog.publish(req.ctx, req.params.id, req.body, req.query.lang),
  );

  app.post(
    '/catalog/entries/:id/return',
    {
      config: { access: needs('catalog:review') },
      schema: { tags, summary: 'Return the submitted version to its agency with comments (supervisor)', params: EntryParams, querystring: LangOnly, body: Return, response: { 200: EntryView, ...ERROR_RESPONSES } },
    },
    async (req) => catalog.returnForChanges(req.ctx, req.params.id, req.body, req.query.lang),
  );

  app.post(
    '/catalog/entries/:id/withdraw',
    {
      config: { access: needs('catalog:edit') },
      schema: { tags, summary: 'Withdraw (撤销) an entry with a reason', params: EntryParams, querystring: LangOnly, body: Withdraw, response: { 200: EntryView, ...ERROR_RESPONSES } },
    },
    async (req) => catalog.withdraw(req.ctx, req.params.id, req.body, req.query.lang),
  );

  app.post(
    '/catalog/entries/:id/revision-notices',
    {
      config: { access: needs('catalog:edit') },
      schema: {
        tags,
        summary: 'Record a change of law or duty against a published entry: it must be revised within 15 working days (003 三(三))',
        params: EntryParams,
        querystring: LangOnly,
        body: RevisionNotice,
        response: { 200: EntryView, ...ERROR_RESPONSES },
      },
    },
    async (req) => catalog.recordRevisionNotice(req.ctx, req.params.id, req.body, req.query.lang),
  );

  app.get(
    '/catalog/entries/:id/findings',
    {
      config: { access: needs('catalog:read') },
      schema: { tags, summary: 'Conformance findings of the open version (its agency and the supervisor; others get none)', params: EntryParams, response: { 200: Type.Object({ items: Type.Array(Finding) }), ...ERROR_RESPONSES } },
    },
    async (req) => ({ items: await catalog.findings(req.ctx.actor, req.params.id) }),
  );

  app.get(
    '/catalog/entries/:id/versions',
    {
      config: { access: needs('catalog:read') },
      schema: { tags, summary: 'Every version of an entry the caller may read, oldest first', params: EntryParams, querystring: LangOnly, response: { 200: Type.Object({ items: Type.Array(VersionView) }), ...ERROR_RESPONSES } },
    },
    async (req) => ({ items: await catalog.versions(req.ctx.actor, req.params.id, req.query.lang) }),
  );

  app.get(
    '/catalog/entries/:id/versions/:number',
    {
      config: { access: needs('catalog:read') },
      schema: {
        tags,
        summary: 'One version of an entry',
        params: Type.Object({ id: EntryParams.properties.id, number: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
        querystring: LangOnly,
        response: { 200: VersionView, ...ERROR_RESPONSES },
      },
    },
    async (req) => catalog.version(req.ctx.actor, req.params.id, req.params.number, req.query.lang),
  );

  app.get(
    '/catalog/entries/:id/diff',
    {
      config: { access: needs('catalog:read') },
      schema: {
        tags,
        summary: 'Field-by-field difference between two versions (data items matched by Chinese name)',
        params: EntryParams,
        querystring: Type.Object({ from: Type.Integer({ minimum: 1 }), to: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(FieldChange) }), ...ERROR_RESPONSES },
      },
    },
    async (req) => ({ items: await catalog.diff(req.ctx.actor, req.params.id, req.query.from, req.query.to) }),
  );

  app.get(
    '/catalog/entries/:id/history',
    {
      config: { access: needs('catalog:read') },
      schema: { tags, summary: 'Who did what to an entry, when', params: EntryParams, response: { 200: Type.Object({ items: Type.Array(EntryHistoryItem) }), ...ERROR_RESPONSES } },
    },
    async (req) => ({ items: await catalog.history(req.ctx.actor, req.params.id) }),
  );

  app.get(
    '/catalog/non-shared',
    {
      config: { access: needs('catalog:read') },
      schema: {
        tags,
        summary: 'The published list of not-shared resources with the legal basis the supervisor confirmed (000 §13)',
        querystring: Type.Object({ after: Type.Optional(Type.String({ maxLength: 40, description: 'Resource code to continue after' })), lang: LangQuery, limit: Limit }, { additionalProperties: false }),
        response: { 200: page(NonSharedItem), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const items = await catalog.nonShared(req.query.after, limit, req.query.lang);
      return { items, next: nextCursor(items, limit, (i) => i.resourceCode) };
    },
  );

  app.get(
    '/catalog/changes',
    {
      config: { access: needs('catalog:read') },
      schema: {
        tags,
        summary: 'The change feed: publications and withdrawals in order; pass the last seq seen as after',
        querystring: Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0, default: 0 })), limit: Limit }, { additionalProperties: false }),
        response: { 200: page(ChangeFeedItem), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const items = await catalog.changes(req.query.after ?? 0, limit);
      return { items, next: nextCursor(items, limit, (c) => c.seq) };
    },
  );

  app.get(
    '/catalog/revision-deadlines',
    {
      config: { access: needs('catalog:read') },
      schema: {
        tags,
        summary: 'Published entries due for revision after a change of law or duty (agency users: their own agency)',
        querystring: Type.Object({ overdue: Type.Optional(Type.Boolean({ description: 'Only those past their deadline' })), lang: LangQuery }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(EntryView) }), ...ERROR_RESPONSES },
      },
    },
    async (req) => ({ items: await catalog.revisionDeadlines(req.ctx.actor, req.query.overdue ?? false, req.query.lang) }),
  );

  // The import routes take the file as the raw body; their parsers stay inside this scope.
  await app.register(async (scope) => {
    const files = scope as unknown as GsApp;
    files.addContentTypeParser(IMPORT_TYPES, { parseAs: 'buffer', bodyLimit: IMPORT_MAX_BYTES }, (_req, body, done) => done(null, body));
    const run = async (req: FastifyRequest, query: Static<typeof ImportQuery>, publish: boolean) => {
      if (!Buffer.isBuffer(req.body)) throw new GsError('GS_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE', { contentType: req.headers['content-type']?.split(';')[0] ?? 'none' });
      const type = req.headers['content-type']?.split(';')[0]?.trim();
      const format = query.format ?? (type === 'text/csv' ? 'csv' : type === XLSX_TYPE ? 'xlsx' : undefined);
      const report = await importCatalogFile(catalog, agencies, req.ctx, { bytes: req.body }, { ...query, format, publish });
      return { ...report, entries: [...report.entries], errors: [...report.errors] };
    };
    const schema = (summary: string) => ({ tags, summary, description: importDescription, consumes: IMPORT_TYPES, querystring: ImportQuery, response: { 200: ImportReportView, ...ERROR_RESPONSES } });
    files.post(
      '/catalog/imports',
      { bodyLimit: IMPORT_MAX_BYTES, config: { access: needs('catalog:edit') }, schema: schema("Import catalog entries from an XLSX or CSV file as drafts of the cataloger's own agency") },
      async (req) => run(req, req.query as Static<typeof ImportQuery>, false),
    );
    files.post(
      '/catalog/imports/published',
      {
        bodyLimit: IMPORT_MAX_BYTES,
        config: { access: needs('catalog:review') },
        schema: schema('Migrate an already-approved catalog (supervisor): the entries are published directly, keeping their codes and publish dates; audited as catalog.import'),
      },
      async (req) => run(req, req.query as Static<typeof ImportQuery>, true),
    );
  });

  app.get(
    '/catalog/export',
    {
      config: { access: needs('catalog:read') },
      schema: {
        tags,
        summary: 'Export the published catalog: the import template as XLSX, JSON, or DCAT-AP 3 JSON-LD for harvesters (streamed)',
        description: 'docs/dcat.md has the DCAT-AP mapping; the XLSX re-imports with POST /catalog/imports/published.',
        querystring: Type.Object({ format: Type.Optional(literals(EXPORT_FORMATS, { description: 'json (default), xlsx or dcat' })) }, { additionalProperties: false }),
        produces: Object.values(EXPORT_CONTENT_TYPES).map((t) => t.split(';')[0]!),
        response: { 200: Type.Unknown({ description: 'The file, streamed' }), ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => sendExport(reply, req.query.format ?? 'json', `${req.protocol}://${req.host}`),
  );

  async function sendExport(reply: FastifyReply, format: (typeof EXPORT_FORMATS)[number], baseUrl: string): Promise<FastifyReply> {
    const source = await exportSource(catalog);
    const now = new Date();
    const name = { xlsx: 'catalog.xlsx', json: 'catalog.json', dcat: 'catalog.jsonld' }[format];
    reply.header('content-type', EXPORT_CONTENT_TYPES[format]).header('content-disposition', `attachment; filename="${name}"`);
    if (format === 'xlsx') {
      const out = new PassThrough();
      writeXlsx(out, source).catch((e: unknown) => out.destroy(e as Error));
      return reply.send(out);
    }
    return reply.send(Readable.from(format === 'json' ? jsonChunks(source, now) : dcatChunks(source, baseUrl, now)));
  }

  app.get(
    '/catalog/extension-fields',
    {
      config: { access: needs('catalog:read') },
      schema: { tags, summary: 'The local extension fields declared for this deployment', response: { 200: Type.Object({ items: Type.Array(ExtensionField) }), ...ERROR_RESPONSES } },
    },
    async () => ({ items: await catalog.extensionFields() }),
  );

  app.post(
    '/catalog/extension-fields',
    {
      config: { access: needs('catalog:configure') },
      schema: { tags, summary: 'Declare a local extension field (operator)', body: ExtensionFieldCreate, response: { 201: ExtensionField, ...ERROR_RESPONSES } },
    },
    async (req, reply) => reply.status(201).send(await catalog.createExtensionField(req.ctx, req.body)),
  );

  app.patch(
    '/catalog/extension-fields/:key',
    {
      config: { access: needs('catalog:configure') },
      schema: {
        tags,
        summary: 'Change a local extension field: labels, required, allowed values, active (operator; the key and type never change)',
        params: Type.Object({ key: Type.String({ minLength: 1, maxLength: 40 }) }, { additionalProperties: false }),
        body: ExtensionFieldPatch,
        response: { 200: ExtensionField, ...ERROR_RESPONSES },
      },
    },
    async (req) => catalog.updateExtensionField(req.ctx, req.params.key, req.body),
  );
}
