import { Type, type TSchema } from 'typebox';
import { ERRORS } from '../lib/errors.js';

/** Shared TypeBox pieces for route schemas. Every object schema refuses unknown properties. */

export const Uuid = Type.String({ format: 'uuid' });
export const DateTime = Type.String({ format: 'date-time' });
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

export const Limit = Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'Page size' });

/** A closed vocabulary (`as const` array) as `{ type: 'string', enum: [...] }`. */
export function literals<const T extends readonly string[]>(values: T, options: { description?: string } = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

export function page<T extends TSchema>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    next: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `after` (or `before`) to get the next page; null on the last page' }),
  });
}

export const ErrorBody = Type.Object(
  {
    code: Type.Unsafe<string>({ type: 'string', enum: Object.keys(ERRORS) }),
    message: Type.String(),
    messageZh: Type.String(),
    details: Type.Object({
      fields: Type.Optional(
        Type.Array(Type.Object({ field: Type.String(), rule: Type.String(), message: Type.String(), messageZh: Type.Optional(Type.String()) })),
      ),
    }, { additionalProperties: true }),
    requestId: Type.String(),
  },
  { description: 'Every error: a registered code, English and Chinese text, details naming the field and rule broken' },
);

/** The error responses every route can produce, for the OpenAPI document. */
export const ERROR_RESPONSES = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  423: ErrorBody,
  429: ErrorBody,
} as const;

export function nextCursor<T>(items: readonly T[], limit: number, key: (item: T) => string | number): string | null {
  const last = items.at(-1);
  return items.length === limit && last !== undefined ? String(key(last)) : null;
}
