import type { IncomingMessage } from 'node:http';
import { Type } from 'typebox';
import { GsError } from '../../lib/errors.js';
import { exchangeContext } from '../../server/actor.js';
import type { ExchangeApp } from '../../server/exchange-app.js';
import type { Platform } from '../../server/platform.js';
import type { ExchangeIdentity } from '../pki/service.js';
import { ERROR_RESPONSES, ErrorBody, literals, Uuid } from '../../server/schema-kit.js';
import { FORMAT_OF_TYPE } from './routes.js';
import { ResourceCodeParams } from './schemas.js';
import { MATCH_MODES } from './verify.js';
import { VERIFY_JOB_STATES } from './verify-job-store.js';
import type { VerifyCaller, VerifyJobView } from './verify-jobs.js';
import { CSV_ENCODINGS, LOAD_FORMATS } from './vocabulary.js';

const RESPONSES = { ...ERROR_RESPONSES, 422: ErrorBody } as const;

const SubmitQuery = Type.Object(
  {
    format: Type.Optional(literals(LOAD_FORMATS, { description: 'Default: from the Content-Type (text/csv, application/x-ndjson, the XLSX type)' })),
    encoding: Type.Optional(literals(CSV_ENCODINGS, { description: 'CSV only; default: detected (UTF-8 or GB18030/GBK)' })),
    match: Type.Optional(literals(MATCH_MODES, { description: 'exact (default) or normalised (trim, full-width → half-width, case), for every field not named in `normalised`' })),
    normalised: Type.Optional(Type.String({ minLength: 1, maxLength: 4000, description: 'Comma-separated items compared normalised whatever `match` says' })),
    purpose: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: "For the audit trail; the grant's purpose when absent" })),
  },
  { additionalProperties: false },
);

const JobView = Type.Object({
  id: Uuid,
  resourceCode: Type.String(),
  state: literals(VERIFY_JOB_STATES),
  records: Type.Object({ done: Type.Integer(), total: Type.Integer() }),
  matched: Type.Integer({ description: 'Fields that match, over every record compared so far' }),
  mismatched: Type.Integer(),
  notFound: Type.Integer({ description: 'Fields of records with no live record within the grant' }),
  keyItems: Type.Array(Type.String()),
  fieldItems: Type.Array(Type.String()),
  modes: Type.Record(Type.String(), literals(MATCH_MODES)),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String(), messageZh: Type.String() }), Type.Null()]),
  createdAt: Type.String(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
});

const JobParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });

/** The serialiser's types want mutable arrays. */
const mutable = (v: VerifyJobView) => ({ ...v, keyItems: [...v.keyItems], fieldItems: [...v.fieldItems], modes: { ...v.modes } });

/** Reads a request body whole, stopping (413) past `maxBytes`. */
async function readBody(source: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of source) {
    const b = chunk as Buffer;
    bytes += b.length;
    if (bytes > maxBytes) throw new GsError('GS_ERR_EXCHANGE_VERIFY_FILE_TOO_LARGE', { limit: maxBytes });
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Batch verification (批量核验) on the exchange port: submit a file as a job, read its state and its result. */
export async function verifyJobRoutes(app: ExchangeApp, { verifyJobs, config }: Platform): Promise<void> {
  const maxBytes = config.verifyBatchMaxBytes;
  const callerOf = (who: ExchangeIdentity): VerifyCaller => {
    if (who.subjectType !== 'system') throw new GsError('GS_ERR_EXCHANGE_SYSTEM_REQUIRED', { subjectType: who.subjectType });
    return { systemId: who.subjectId, agencyId: who.agencyId, name: who.name };
  };

  // The file is the raw body (not JSON); the parser stays in this scope.
  await app.register(async (plain) => {
    const scope = plain as unknown as ExchangeApp;
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    scope.post(
      '/exchange/v1/resources/:code/verify-jobs',
      {
        schema: {
          tags: ['exchange'],
          summary: 'Submit a file of records for batch verification (批量核验): 202 with a job that compares them in the background; under a comparison (or pull) grant; audited as data.verify-batch',
          description: [
            'The body is the file: CSV (UTF-8 or GB18030/GBK, detected), NDJSON or XLSX, its columns every key item of the resource and the items to verify.',
            `At most GOVSHARE_VERIFY_BATCH_MAX_BYTES (now ${maxBytes} bytes): larger → 413 GS_ERR_EXCHANGE_VERIFY_FILE_TOO_LARGE.`,
            'The file is checked whole first: a header that is not key items and items to verify, a record with the wrong cells, a key value that does not check → 422 GS_ERR_EXCHANGE_VERIFY_FILE_INVALID listing each row and column; no job is created.',
          ].join(' '),
          params: ResourceCodeParams,
          querystring: SubmitQuery,
          response: { 202: JobView, ...RESPONSES },
        },
      },
      async (req, reply) => {
        const caller = callerOf(req.exchange!);
        const source = req.body as IncomingMessage | undefined;
        if (!source || typeof source.pipe !== 'function') throw new GsError('GS_ERR_DATA_FILE_UNREADABLE', { location: 'the request', reason: 'it has no body', reasonZh: '请求没有内容' });
        let bytes: Buffer;
        try {
          const declared = Number(req.headers['content-length']);
          if (Number.isFinite(declared) && declared > maxBytes) throw new GsError('GS_ERR_EXCHANGE_VERIFY_FILE_TOO_LARGE', { limit: maxBytes });
          bytes = await readBody(source, maxBytes);
        } catch (e) {
          // What the client is still sending is not read: the connection ends with the refusal.
          if (!source.readableEnded) reply.header('connection', 'close');
          throw e;
        }
        const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase() ?? '';
        const format = req.query.format ?? FORMAT_OF_TYPE[type];
        if (!format) throw new GsError('GS_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE', { contentType: type || 'none' });
        const normalised = req.query.normalised?.split(',').map((s) => s.trim()).filter((s) => s !== '');
        const job = await verifyJobs.submit(exchangeContext(req.exchange!, req.id, req.ip), caller, req.params.code, { bytes, format, encoding: req.query.encoding, match: req.query.match, normalised, purpose: req.query.purpose });
        reply.code(202).header('location', `/exchange/v1/verify-jobs/${job.id}`);
        return mutable(job);
      },
    );
  });

  app.get(
    '/exchange/v1/verify-jobs/:id',
    {
      schema: {
        tags: ['exchange'],
        summary: 'A batch verification job of the calling system: state, records done of total, match / mismatch / not_found counts, the error of a failed job',
        params: JobParams,
        response: { 200: JobView, ...RESPONSES },
      },
    },
    async (req) => mutable(await verifyJobs.get(callerOf(req.exchange!), req.params.id)),
  );

  app.get(
    '/exchange/v1/verify-jobs/:id/result',
    {
      schema: {
        tags: ['exchange'],
        summary: "The result file of a job that succeeded (CSV, UTF-8 with BOM): row number, the key as submitted, one column per field with match / mismatch / not_found; never a stored value",
        params: JobParams,
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'text/csv; charset=utf-8' }), ...RESPONSES },
      },
    },
    async (req, reply) => {
      const csv = await verifyJobs.result(callerOf(req.exchange!), req.params.id);
      return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="verify-${req.params.id}.csv"`).send(csv);
    },
  );
}
