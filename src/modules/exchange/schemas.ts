import { Type, type Static } from 'typebox';
import { DateTime, Limit, literals } from '../../server/schema-kit.js';
import { CSV_ENCODINGS, INGEST_POLICIES, LOAD_FORMATS } from './vocabulary.js';

/** The TypeBox schemas of the exchange's console routes (the provider's side). */

export const ResourceCodeParams = Type.Object({ code: Type.String({ pattern: '^[123][0-9]{5}[0-9]{0,6}/[0-9]{6}$', description: 'The resource code, its `/` URL-encoded (301002%2F000001)' }) }, { additionalProperties: false });

const Values = Type.Record(Type.String({ maxLength: 200 }), Type.Unknown(), { description: 'Values by data item (its Chinese name, 信息项名称)' });

export const RowProblem = Type.Object({
  row: Type.Integer({ description: 'API batch: position in `changes` (from 1); CSV: record number (the header is 1); NDJSON: line number' }),
  item: Type.Union([Type.String(), Type.Null()], { description: 'The data item; null for the record as a whole' }),
  rule: Type.String({ description: 'required, type, character, maxLength, integer, decimal, scale, precision, date, datetime, boolean, idCard, uscc, regionCode, unknownItem, notKey, duplicateItem, columnCount, json' }),
  message: Type.String(),
  messageZh: Type.String(),
});

export const BatchOutcome = Type.Object({
  resourceCode: Type.String(),
  idempotencyKey: Type.String(),
  status: literals(['applied', 'replayed', 'rejected'] as const, { description: 'replayed: this key was applied before; nothing changed now' }),
  policy: literals(INGEST_POLICIES),
  rows: Type.Integer(),
  upserted: Type.Integer(),
  deleted: Type.Integer(),
  quarantined: Type.Integer(),
  invalid: Type.Integer({ description: 'Rows with at least one problem' }),
  firstSeq: Type.Union([Type.Integer(), Type.Null()]),
  lastSeq: Type.Union([Type.Integer(), Type.Null()]),
  problems: Type.Array(RowProblem),
  problemCount: Type.Integer({ description: 'All problems; `problems` lists at most 10,000' }),
});

export const Change = Type.Union([
  Type.Object({ upsert: Values }, { additionalProperties: false }),
  Type.Object({ delete: Values }, { additionalProperties: false }),
]);

export const BatchInput = Type.Object(
  {
    idempotencyKey: Type.String({ minLength: 1, maxLength: 200, description: 'The same key with the same changes again changes nothing (answer status replayed); with other changes it is refused' }),
    policy: Type.Optional(literals(INGEST_POLICIES, { description: 'reject (default): any invalid row refuses the batch; quarantine: valid rows are applied, invalid ones kept for fixing' })),
    changes: Type.Array(Change, { minItems: 1, maxItems: 10_000, description: 'In order; the last change of a key wins' }),
  },
  { additionalProperties: false },
);
export type BatchInput = Static<typeof BatchInput>;

export const FileQuery = Type.Object(
  {
    format: Type.Optional(literals(LOAD_FORMATS, { description: 'Default: from the Content-Type (text/csv, application/x-ndjson)' })),
    encoding: Type.Optional(literals(CSV_ENCODINGS, { description: 'CSV only; default: detected (UTF-8 or GB18030/GBK)' })),
    policy: Type.Optional(literals(INGEST_POLICIES)),
    idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "Default: sha256:<the file's SHA-256>" })),
  },
  { additionalProperties: false },
);

export const TableView = Type.Object({
  resourceCode: Type.String(),
  tableName: Type.String(),
  catalogVersion: Type.Integer(),
  schemaVersion: Type.Integer(),
  columns: Type.Array(
    Type.Object({ item: Type.String(), column: Type.String(), sqlType: Type.String(), key: Type.Boolean(), sensitive: Type.Boolean(), format: Type.Union([Type.String(), Type.Null()]), indexColumn: Type.Union([Type.String(), Type.Null()]) }),
  ),
  lastSeq: Type.Integer({ description: 'The sequence number of the last accepted change' }),
  lastUpdateAt: Type.Union([DateTime, Type.Null()], { description: 'When data last changed (update timeliness)' }),
  withdrawn: Type.Boolean(),
  retired: Type.Boolean(),
  liveRows: Type.Integer(),
  deletedRows: Type.Integer({ description: 'Tombstones' }),
});

export const RecordView = Type.Object({ seq: Type.Integer(), deleted: Type.Boolean(), values: Values });

export const QuarantinedRow = Type.Object({
  id: Type.String({ format: 'uuid' }),
  idempotencyKey: Type.String(),
  row: Type.Integer(),
  operation: literals(['upsert', 'delete'] as const),
  values: Values,
  problems: Type.Array(RowProblem),
  createdAt: DateTime,
});

export const ChangesQuery = Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0, default: 0 })), limit: Limit }, { additionalProperties: false });
