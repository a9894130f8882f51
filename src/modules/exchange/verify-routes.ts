import { Type } from 'typebox';
import { GsError } from '../../lib/errors.js';
import { exchangeContext } from '../../server/actor.js';
import type { ExchangeApp } from '../../server/exchange-app.js';
import type { Platform } from '../../server/platform.js';
import { ERROR_RESPONSES, literals } from '../../server/schema-kit.js';
import { ResourceCodeParams } from './schemas.js';
import { MATCH_MODES } from './verify.js';

const ItemName = Type.String({ minLength: 1, maxLength: 100 });
const Mode = literals(MATCH_MODES);

const VerifyBody = Type.Object(
  {
    key: Type.Record(ItemName, Type.Unknown(), { description: 'The key items of the record, by item name (信息项名称)' }),
    fields: Type.Record(ItemName, Type.Unknown(), { description: 'The values to verify, by item name; at most 200' }),
    match: Type.Optional(Type.Union([Mode, Type.Record(ItemName, Mode)], { description: 'exact (default) or normalised (trim, full-width → half-width, case), for all fields or per item' })),
    purpose: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: "For the audit trail; the grant's purpose when absent" })),
  },
  { additionalProperties: false },
);

const Answer = Type.Object({
  grantId: Type.String(),
  found: Type.Boolean({ description: 'Whether a live record with this key exists within the grant (its row filter)' }),
  fields: Type.Record(Type.String(), literals(['match', 'mismatch', 'not_found'] as const), { description: 'Per submitted item; never a stored value' }),
});

/** Single-record verification (核验) on the exchange port, under a comparison or pull grant. */
export async function verifyRoutes(app: ExchangeApp, { verify }: Platform): Promise<void> {
  app.post(
    '/exchange/v1/resources/:code/verify',
    {
      schema: {
        tags: ['exchange'],
        summary: 'Verify one record: per field match / mismatch / not_found, never the stored values; under a comparison (or pull) grant; audited',
        params: ResourceCodeParams,
        body: VerifyBody,
        response: { 200: Answer, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const who = req.exchange!;
      if (who.subjectType !== 'system') throw new GsError('GS_ERR_EXCHANGE_SYSTEM_REQUIRED', { subjectType: who.subjectType });
      if (Object.keys(req.body.fields).length > 200) throw new GsError('GS_ERR_REQUEST_INVALID', { summary: 'fields: at most 200 items', summaryZh: 'fields：最多 200 个信息项' });
      return verify.verify(exchangeContext(who, req.id, req.ip), who.subjectId, req.params.code, req.body);
    },
  );
}
