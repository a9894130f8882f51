import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerBase } from 'fastify';
import { ERRORS, GsError, type FieldProblem } from '../lib/errors.js';

export interface ErrorReply {
  readonly status: number;
  readonly body: {
    readonly code: string;
    readonly message: string;
    readonly messageZh: string;
    readonly details: Record<string, unknown>;
    readonly requestId: string;
  };
  /** True when the cause is ours, not the client's: log it with its stack. */
  readonly internal: boolean;
  /** Extra response headers (Retry-After for 429). */
  readonly headers: Readonly<Record<string, string>>;
}

export interface ValidationItem {
  readonly instancePath: string;
  readonly keyword: string;
  readonly message?: string;
  readonly params: Record<string, unknown>;
}

function fieldOf(context: string, item: ValidationItem): string {
  const path = item.instancePath
    .split('/')
    .filter((p) => p !== '')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (item.keyword === 'required' && typeof item.params.missingProperty === 'string') path.push(item.params.missingProperty);
  if (item.keyword === 'additionalProperties' && typeof item.params.additionalProperty === 'string') path.push(item.params.additionalProperty);
  return [context, ...path].filter((p) => p !== '').join('.') || context;
}

function ruleMessage(item: ValidationItem): string {
  if (item.keyword === 'additionalProperties') return 'unknown field';
  if (item.keyword === 'enum' && Array.isArray(item.params.allowedValues)) return `must be one of ${item.params.allowedValues.join(', ')}`;
  return item.message ?? item.keyword;
}

/** The rule broken, in Chinese, for the console. */
function ruleMessageZh(item: ValidationItem): string {
  const p = item.params;
  switch (item.keyword) {
    case 'required':
      return '缺少必填字段';
    case 'additionalProperties':
      return '未知字段';
    case 'type':
      return `类型错误，应为 ${String(p.type)}`;
    case 'minLength':
      return `长度不能少于 ${String(p.limit)} 个字符`;
    case 'maxLength':
      return `长度不能超过 ${String(p.limit)} 个字符`;
    case 'pattern':
      return '格式不正确';
    case 'format':
      return `格式不正确（应为 ${String(p.format)}）`;
    case 'enum':
      return Array.isArray(p.allowedValues) ? `取值必须为 ${p.allowedValues.join('、')} 之一` : '取值不在允许范围内';
    case 'minimum':
    case 'exclusiveMinimum':
      return `不能小于 ${String(p.limit)}`;
    case 'maximum':
    case 'exclusiveMaximum':
      return `不能大于 ${String(p.limit)}`;
    case 'minItems':
      return `至少需要 ${String(p.limit)} 项`;
    case 'maxItems':
      return `最多 ${String(p.limit)} 项`;
    case 'minProperties':
      return '至少需要填写一个字段';
    default:
      return item.message ?? item.keyword;
  }
}

/** JSON Schema validation problems as one GS_ERR_REQUEST_INVALID naming each field (`context` prefixes the paths: body, query, …). */
export function validationError(context: string, items: readonly ValidationItem[]): GsError {
  const fields: FieldProblem[] = items.map((item) => ({ field: fieldOf(context, item), rule: item.keyword, message: ruleMessage(item), messageZh: ruleMessageZh(item) }));
  const summary = fields.map((f) => `${f.field}: ${f.message}`).join('; ');
  const summaryZh = fields.map((f) => `${f.field}：${f.messageZh}`).join('；');
  return new GsError('GS_ERR_REQUEST_INVALID', { summary, summaryZh }, fields);
}

/** A PostgreSQL error that reached the edge: unique violations are the client's race, not ours. */
function pgCode(error: unknown): { code: string; constraint?: string } | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof (error as { code: unknown }).code === 'string') {
    const e = error as { code: string; constraint?: string };
    if (/^[0-9A-Z]{5}$/.test(e.code)) return e;
  }
  return undefined;
}

/** The one mapping from anything thrown in a request to an HTTP status and error body. */
export function toErrorReply(error: unknown, requestId: string, bodyLimit: number, contentType?: string): ErrorReply {
  const make = (e: GsError, internal = false): ErrorReply => ({
    status: e.status,
    body: {
      code: e.code,
      message: e.message,
      messageZh: e.messageZh,
      details: { ...e.params, ...(e.fields ? { fields: e.fields } : {}) },
      requestId,
    },
    internal,
    headers: e.code === 'GS_ERR_AUTH_RATE_LIMITED' ? { 'retry-after': String(e.params.retryAfterSeconds) } : {},
  });
  if (error instanceof GsError) return make(error);

  const fe = error as Partial<FastifyError> & { validation?: ValidationItem[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    return make(validationError(fe.validationContext ?? 'body', fe.validation));
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return make(new GsError('GS_ERR_REQUEST_TOO_LARGE', { limit: bodyLimit }));
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      // Fastify's error does not name the type; the request's header does.
      return make(new GsError('GS_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE', { contentType: contentType?.split(';')[0]?.trim() || 'unknown' }));
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return make(new GsError('GS_ERR_REQUEST_MALFORMED_JSON', { reason: 'it does not parse, or it sets __proto__ or constructor.prototype' }));
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return make(new GsError('GS_ERR_REQUEST_MALFORMED_JSON', { reason: 'the body is empty' }));
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return make(new GsError('GS_ERR_REQUEST_INVALID', { summary: 'Content-Length does not match the body', summaryZh: 'Content-Length 与请求体长度不符' }));
  }
  if (error instanceof SyntaxError && fe.statusCode === 400) {
    return make(new GsError('GS_ERR_REQUEST_MALFORMED_JSON', { reason: error.message }));
  }
  const pg = pgCode(error);
  if (pg?.code === '23505') return make(new GsError('GS_ERR_REQUEST_DUPLICATE', { constraint: pg.constraint ?? 'unique key' }));
  // Valid JSON text PostgreSQL cannot store (U+0000 in text or jsonb) is the client's input, not our fault.
  if (pg?.code === '22021' || pg?.code === '22P05') {
    return make(new GsError('GS_ERR_REQUEST_INVALID', { summary: 'a text field contains a character that cannot be stored (U+0000)', summaryZh: '文本字段含有无法保存的字符（U+0000）' }));
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return make(new GsError('GS_ERR_REQUEST_INVALID', { summary: fe.message ?? 'bad request' }));
  }
  const internal = new GsError('GS_ERR_SERVER_INTERNAL', { requestId });
  return make(internal, true);
}

export const KNOWN_ERROR_CODES = Object.keys(ERRORS);

/**
 * What both listeners (console/API and exchange) share: errors and unknown routes go through
 * `toErrorReply`, the one mapping; and on close, requests in flight finish and their keep-alive
 * connections close with them instead of holding the process until keepAliveTimeout.
 */
export function installErrorHandling<S extends RawServerBase>(
  app: FastifyInstance<S, RawRequestDefaultExpression<S>, RawReplyDefaultExpression<S>, FastifyBaseLogger, TypeBoxTypeProvider>,
  options: { readonly bodyLimitBytes: number; readonly label: string },
): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  app.setErrorHandler((error, req, reply) => {
    const r = toErrorReply(error, req.id, options.bodyLimitBytes, req.headers['content-type']);
    if (r.internal) req.log.error({ err: error }, `${options.label} failed`);
    else req.log.info({ code: r.body.code, status: r.status }, `${options.label} refused`);
    return reply.status(r.status).headers(r.headers).send(r.body);
  });

  app.setNotFoundHandler({}, (req, reply) => {
    const r = toErrorReply(new GsError('GS_ERR_REQUEST_NOT_FOUND', { method: req.method, url: req.url.split('?')[0] }), req.id, options.bodyLimitBytes);
    return reply.status(r.status).send(r.body);
  });
}
