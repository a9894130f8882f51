import { Type } from 'typebox';
import { GsError } from '../../lib/errors.js';
import { exchangeContext } from '../../server/actor.js';
import type { ExchangeApp } from '../../server/exchange-app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES } from '../../server/schema-kit.js';
import { PULL_DEFAULT_LIMIT, PULL_MAX_LIMIT, type PullFilter } from './pull.js';
import { ResourceCodeParams } from './schemas.js';

const ItemName = Type.String({ minLength: 1, maxLength: 100, description: 'A data item by its Chinese name (信息项名称)' });
const Scalar = Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean()]);

const Filter = Type.Union(
  [
    Type.Object({ item: ItemName, op: Type.Literal('eq'), value: Scalar }, { additionalProperties: false }),
    Type.Object({ item: ItemName, op: Type.Literal('in'), values: Type.Array(Scalar, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false }),
    Type.Object({ item: ItemName, op: Type.Literal('prefix'), value: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false }),
    Type.Object({ item: ItemName, op: Type.Literal('range'), from: Type.Optional(Scalar), to: Type.Optional(Scalar) }, { additionalProperties: false }),
  ],
  { description: 'eq / in / prefix (text items) / range (inclusive from and to) on a granted item; on a sensitive item only eq or in, and only on a key item (by its blind index)' },
);

const QueryBody = Type.Object(
  {
    filters: Type.Optional(Type.Array(Filter, { maxItems: 20, description: 'All must hold' })),
    items: Type.Optional(Type.Array(ItemName, { minItems: 1, maxItems: 2000, uniqueItems: true, description: 'The items to return, granted ones only; all granted items when absent' })),
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'The `next` of the previous page' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PULL_MAX_LIMIT, default: PULL_DEFAULT_LIMIT })),
    purpose: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: "The purpose of this call for the audit trail; the grant's purpose when absent" })),
  },
  { additionalProperties: false },
);

const Page = Type.Object({
  grantId: Type.String(),
  items: Type.Array(Type.String()),
  rows: Type.Array(Type.Record(Type.String(), Type.Unknown()), { description: 'Granted items only, masked as the grant says' }),
  next: Type.Union([Type.Integer(), Type.Null()], { description: 'Pass as `after` for the next page; null at the end' }),
});

/** Acquisition (资源获取) on the exchange port: a business system queries under its pull grant. */
export async function pullRoutes(app: ExchangeApp, { pull }: Platform): Promise<void> {
  app.post(
    '/exchange/v1/resources/:code/query',
    {
      schema: {
        tags: ['exchange'],
        summary: 'Query a shared table under a pull grant: filters and projection on granted items, the row filter and masking of the grant applied, keyset paging, quota counted; audited',
        params: ResourceCodeParams,
        body: QueryBody,
        response: { 200: Page, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const who = req.exchange!;
      if (who.subjectType !== 'system') throw new GsError('GS_ERR_EXCHANGE_SYSTEM_REQUIRED', { subjectType: who.subjectType });
      const page = await pull.query(exchangeContext(who, req.id, req.ip), who.subjectId, req.params.code, { ...req.body, filters: req.body.filters as PullFilter[] | undefined });
      return { ...page, items: [...page.items] };
    },
  );
}
