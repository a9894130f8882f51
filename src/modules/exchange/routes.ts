import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { Type } from 'typebox';
import { GsError } from '../../lib/errors.js';
import { needs } from '../../server/access.js';
import type { GsApp } from '../../server/app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, ErrorBody, nextCursor, page } from '../../server/schema-kit.js';
import { openDataFile } from './file-rows.js';
import { BatchInput, BatchOutcome, ChangesQuery, FileQuery, QuarantinedRow, RecordView, ResourceCodeParams, TableView as TableViewSchema } from './schemas.js';
import type { BatchOutcome as Outcome, IncomingChange, TableView } from './service.js';
import type { LoadFormat } from './vocabulary.js';

const tags = ['data'];
const RESPONSES = { ...ERROR_RESPONSES, 422: ErrorBody } as const;
/** JSON batches are read whole: at most this much, whatever the file limit. */
const BATCH_BODY_MAX = 64 * 1024 * 1024;

/** A rejected batch is the client's to fix: 422 with every problem (the outcome is in the details). */
export function rejection(o: Outcome): GsError {
  return new GsError(
    'GS_ERR_DATA_BATCH_REJECTED',
    { rows: o.rows, invalid: o.invalid, idempotencyKey: o.idempotencyKey, problemCount: o.problemCount, problems: o.problems },
    o.problems.map((p) => ({ field: p.item === null ? `rows.${p.row}` : `rows.${p.row}.${p.item}`, rule: p.rule, message: p.message, messageZh: p.messageZh })),
  );
}

/** The serialiser's types want mutable arrays. */
const mutable = (v: TableView): TableView & { columns: TableView['columns'][number][] } => ({ ...v, columns: [...v.columns] });

export const FORMAT_OF_TYPE: Readonly<Record<string, LoadFormat>> = { 'text/csv': 'csv', 'application/csv': 'csv', 'application/x-ndjson': 'ndjson', 'application/ndjson': 'ndjson', 'application/jsonl': 'ndjson', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx' };

export async function exchangeDataRoutes(app: GsApp, { exchange, config }: Platform): Promise<void> {
  const maxBytes = config.dataLoadMaxBytes;

  app.get(
    '/data/tables',
    {
      config: { access: needs('data:read') },
      schema: { tags, summary: "The shared tables of the caller's agency's table resources: columns, last sequence number, last update, row counts", response: { 200: Type.Object({ items: Type.Array(TableViewSchema) }), ...RESPONSES } },
    },
    async (req) => ({ items: (await exchange.tables(req.ctx.actor)).map(mutable) }),
  );

  app.get(
    '/data/tables/:code',
    {
      config: { access: needs('data:read') },
      schema: { tags, summary: 'A shared table (provider agency)', params: ResourceCodeParams, response: { 200: TableViewSchema, ...RESPONSES } },
    },
    async (req) => mutable(await exchange.table(req.ctx.actor, req.params.code)),
  );

  app.post(
    '/data/tables/:code/lookup',
    {
      config: { access: needs('data:read') },
      schema: {
        tags,
        summary: 'One record by its key data items, decrypted (provider agency); a sensitive key is found by its blind index',
        params: ResourceCodeParams,
        body: Type.Object({ key: Type.Record(Type.String({ maxLength: 200 }), Type.Unknown()) }, { additionalProperties: false }),
        response: { 200: Type.Object({ record: Type.Union([RecordView, Type.Null()]) }), ...RESPONSES },
      },
    },
    async (req) => ({ record: await exchange.record(req.ctx.actor, req.params.code, req.body.key) }),
  );

  app.get(
    '/data/tables/:code/changes',
    {
      config: { access: needs('data:read') },
      schema: { tags, summary: 'The change log: rows in sequence order after `after` (tombstones included), decrypted (provider agency)', params: ResourceCodeParams, querystring: ChangesQuery, response: { 200: page(RecordView), ...RESPONSES } },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const items = await exchange.changes(req.ctx.actor, req.params.code, req.query.after ?? 0, limit);
      return { items, next: nextCursor(items, limit, (r) => r.seq) };
    },
  );

  app.post(
    '/data/tables/:code/batches',
    {
      bodyLimit: Math.min(maxBytes, BATCH_BODY_MAX),
      config: { access: needs('data:load') },
      schema: {
        tags,
        summary: 'Load a batch of upserts and deletes (provider agency), applied whole in one transaction; audited as data.load',
        description:
          'Each change is `{ "upsert": { item: value, … } }` or `{ "delete": { keyItem: value } }`, by data item name. 200 with status applied (or replayed: the idempotency key was applied before and nothing changed now); 422 GS_ERR_DATA_BATCH_REJECTED listing every bad row (policy reject); 409 GS_ERR_DATA_BATCH_KEY_REUSED for a key used for other changes.',
        params: ResourceCodeParams,
        body: BatchInput,
        response: { 200: BatchOutcome, ...RESPONSES },
      },
    },
    async (req) => {
      const changes: IncomingChange[] = req.body.changes.map((c, i) => ('upsert' in c ? { row: i + 1, operation: 'upsert', values: c.upsert } : { row: i + 1, operation: 'delete', values: c.delete }));
      const out = await exchange.applyBatch(req.ctx, req.params.code, { idempotencyKey: req.body.idempotencyKey, policy: req.body.policy, changes });
      if (out.status === 'rejected') throw rejection(out);
      return { ...out, problems: [...out.problems] };
    },
  );

  // The file is the raw body, streamed into the load (never buffered whole); the parser stays in this scope.
  await app.register(async (scope) => {
    const files = scope as unknown as GsApp;
    files.removeAllContentTypeParsers();
    files.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    files.post(
      '/data/tables/:code/files',
      {
        config: { access: needs('data:load') },
        schema: {
          tags,
          summary: 'Load a CSV, NDJSON or XLSX file of upserts (provider agency), streamed and applied whole in one transaction; audited as data.load',
          description: [
            'CSV: a header row of data item names, UTF-8 or GB18030/GBK (detected, or `?encoding=`). NDJSON: one JSON object a line. XLSX: the first worksheet, its first row naming the data items (read whole within the limit; format date columns as text).',
            `At most GOVSHARE_DATA_LOAD_MAX_BYTES (now ${maxBytes} bytes): larger → 413 GS_ERR_DATA_FILE_TOO_LARGE, nothing loaded. Unreadable bytes or an unclosed quote → 400 GS_ERR_DATA_FILE_UNREADABLE naming where.`,
            'Without `idempotencyKey` the key is the file\'s SHA-256: the same file twice changes nothing.',
          ].join(' '),
          params: ResourceCodeParams,
          querystring: FileQuery,
          response: { 200: BatchOutcome, ...RESPONSES },
        },
      },
      async (req, reply) => {
        const source = req.body as IncomingMessage | undefined;
        if (!source || typeof source.pipe !== 'function') throw new GsError('GS_ERR_DATA_FILE_UNREADABLE', { location: 'the request', reason: 'it has no body', reasonZh: '请求没有内容' });
        try {
          const declared = Number(req.headers['content-length']);
          if (Number.isFinite(declared) && declared > maxBytes) throw new GsError('GS_ERR_DATA_FILE_TOO_LARGE', { limit: maxBytes });
          const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase() ?? '';
          const format = req.query.format ?? FORMAT_OF_TYPE[type];
          if (!format) throw new GsError('GS_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE', { contentType: type || 'none' });
          // The reader gets a stream of its own to stop (destroy) at the limit or a bad record:
          // destroying the request itself would reset the connection before the refusal is sent.
          const body = new PassThrough();
          source.on('error', (e) => body.destroy(e));
          source.on('close', () => {
            if (!source.readableEnded) body.destroy(new Error('the client closed the connection before the file was complete'));
          });
          source.pipe(body);
          const file = openDataFile(body, { format, encoding: req.query.encoding, maxBytes });
          const out = await exchange.loadRows(req.ctx, req.params.code, file.rows, {
            idempotencyKey: req.query.idempotencyKey,
            policy: req.query.policy,
            digest: file.digest,
            details: { format, encoding: file.encoding(), bytes: file.bytes() },
          });
          if (out.status === 'rejected') throw rejection(out);
          return { ...out, problems: [...out.problems] };
        } catch (e) {
          // What the client is still sending is not read: the connection ends with the refusal.
          if (!source.readableEnded) reply.header('connection', 'close');
          throw e;
        }
      },
    );
  });

  app.get(
    '/data/tables/:code/quarantine',
    {
      config: { access: needs('data:read') },
      schema: {
        tags,
        summary: 'Rows kept in quarantine (policy quarantine) and not yet resolved, with their problems, for the provider to fix and send again',
        params: ResourceCodeParams,
        querystring: Type.Object({ after: Type.Optional(Type.String({ format: 'uuid' })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })) }, { additionalProperties: false }),
        response: { 200: page(QuarantinedRow), ...RESPONSES },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const items = await exchange.quarantine(req.ctx.actor, req.params.code, { after: req.query.after, limit });
      return { items, next: nextCursor(items, limit, (r) => r.id) };
    },
  );

  app.post(
    '/data/tables/:code/quarantine/resolve',
    {
      config: { access: needs('data:load') },
      schema: {
        tags,
        summary: 'Mark quarantined rows as dealt with (sent again corrected, or dropped on purpose, with a note); audited as data.resolve-quarantine',
        params: ResourceCodeParams,
        body: Type.Object({ ids: Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: 1000 }), note: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ resolved: Type.Integer() }), ...RESPONSES },
      },
    },
    async (req) => exchange.resolveQuarantine(req.ctx, req.params.code, req.body.ids, req.body.note),
  );
}
