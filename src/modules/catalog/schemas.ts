import { Type, type Static } from 'typebox';
import { DateTime, literals, Uuid } from '../../server/schema-kit.js';
import { RESOURCE_CODE_PATTERN } from './content.js';
import {
  CHANGE_KINDS,
  CLASSIFICATION_CATEGORIES,
  DATA_ITEM_FORMATS,
  DATA_TYPES,
  ENTRY_STATUSES,
  EXTENSION_TYPES,
  FINDING_SEVERITIES,
  FORMAT_TYPES,
  REVISION_CAUSES,
  SHARE_METHODS,
  SHARE_TYPES,
  UPDATE_CYCLES,
  VERSION_STATES,
} from './vocabulary.js';

const Texts = (max: number, what: string) =>
  Type.Record(Type.String({ maxLength: 35 }), Type.String({ minLength: 1, maxLength: max }), {
    description: `${what} in other languages by BCP 47 tag, e.g. {"ug": "…", "en": "…"}; Chinese goes in the …Zh field`,
  });

export const ResourceCode = Type.String({ pattern: RESOURCE_CODE_PATTERN, description: '资源代码: classification code "/" 6-digit sequence, e.g. 201003/000001' });

export const ClassificationInput = Type.Object(
  {
    category: literals(CLASSIFICATION_CATEGORIES, { description: '类: 1 基础信息资源, 2 主题信息资源, 3 部门信息资源' }),
    group: Type.String({ pattern: '^[0-9]{2}$', description: '项, 2 digits (01–99)' }),
    subgroup: Type.String({ pattern: '^[0-9]{3}$', description: '目, 3 digits (001–999)' }),
    detail: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$', description: '细目, 1–6 digits, optional' })),
  },
  { additionalProperties: false },
);

export const DataItemInput = Type.Object(
  {
    nameZh: Type.String({ minLength: 1, maxLength: 100, description: '信息项名称 (Chinese, required, unique within the entry: versions are diffed by it)' }),
    names: Type.Optional(Texts(100, 'The data item name')),
    dataType: literals(DATA_TYPES, { description: 'string needs length; decimal needs precision and scale' }),
    length: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'string: maximum length in characters' })),
    precision: Type.Optional(Type.Integer({ minimum: 1, maximum: 38, description: 'decimal: total digits' })),
    scale: Type.Optional(Type.Integer({ minimum: 0, maximum: 38, description: 'decimal: digits after the point (≤ precision)' })),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    sensitive: Type.Optional(Type.Boolean({ description: '敏感信息项; default false' })),
    format: Type.Optional(literals(DATA_ITEM_FORMATS, { description: 'Declared value format: idCard (GB 11643), uscc (GB 32100), regionCode (GB/T 2260)' })),
    key: Type.Optional(Type.Boolean({ description: 'Part of the key of a table resource (关键信息项); default false' })),
  },
  { additionalProperties: false },
);
export type DataItemInput = Static<typeof DataItemInput>;

const ExtensionValue = Type.Union([Type.String({ maxLength: 2000 }), Type.Number(), Type.Boolean()]);

/** The content of a version, as a cataloger writes it. Everything but nameZh may be missing in a draft. */
export const EntryContentInput = Type.Object(
  {
    classification: Type.Optional(ClassificationInput),
    nameZh: Type.String({ minLength: 1, maxLength: 200, description: '资源名称 (Chinese, required)' }),
    names: Type.Optional(Texts(200, 'The resource name')),
    abstractZh: Type.Optional(Type.String({ minLength: 1, maxLength: 4000, description: '资源摘要 (Chinese)' })),
    abstracts: Type.Optional(Texts(4000, 'The abstract')),
    format: Type.Optional(
      Type.Object(
        {
          type: literals(FORMAT_TYPES, { description: '资源格式类型' }),
          subtype: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9.+-]{0,31}$', description: 'e.g. xlsx, ofd, pdf, dm, kingbase' })),
        },
        { additionalProperties: false },
      ),
    ),
    dataItems: Type.Optional(Type.Array(DataItemInput, { maxItems: 2000, description: '信息项' })),
    shareType: Type.Optional(literals(SHARE_TYPES, { description: '共享类型' })),
    shareCondition: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: '共享条件 (required for conditional)' })),
    legalBasis: Type.Optional(
      Type.Object(
        {
          law: Type.String({ minLength: 1, maxLength: 200, description: 'The law, regulation or rule' }),
          article: Type.String({ minLength: 1, maxLength: 200, description: 'The article, e.g. 第十四条' }),
        },
        { additionalProperties: false, description: '不予共享依据 (required for none)' },
      ),
    ),
    shareMethods: Type.Optional(Type.Array(literals(SHARE_METHODS), { uniqueItems: true, maxItems: 3, description: '共享方式' })),
    openness: Type.Optional(
      Type.Object(
        {
          open: Type.Boolean({ description: '是否向社会开放' }),
          condition: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: '开放条件' })),
        },
        { additionalProperties: false },
      ),
    ),
    updateCycle: Type.Optional(literals(UPDATE_CYCLES, { description: '更新周期' })),
    relatedCodes: Type.Optional(Type.Array(ResourceCode, { uniqueItems: true, maxItems: 100, description: '关联资源代码' })),
    extensions: Type.Optional(Type.Record(Type.String({ maxLength: 40 }), ExtensionValue, { description: 'Values of the local extension fields, by key' })),
  },
  { additionalProperties: false },
);
export type EntryContentInput = Static<typeof EntryContentInput>;

export const EntryCreate = Type.Object(
  {
    agencyId: Type.Optional(Type.String({ maxLength: 64, description: "Provider agency; a cataloger's own agency when omitted" })),
    content: EntryContentInput,
  },
  { additionalProperties: false },
);
export type EntryCreate = Static<typeof EntryCreate>;

export const ExpectedVersion = Type.Integer({ minimum: 1, description: 'Refuse (409) if the entry is no longer at this version' });

export const DraftSave = Type.Object({ content: EntryContentInput, expectedVersion: ExpectedVersion }, { additionalProperties: false });
export const Submit = Type.Object({ expectedVersion: Type.Optional(ExpectedVersion) }, { additionalProperties: false });
export const Publish = Type.Object(
  {
    expectedVersion: Type.Optional(ExpectedVersion),
    comment: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    confirmLegalBasis: Type.Optional(Type.Boolean({ description: 'Required true for a not-shared (none) entry: the supervisor confirms its legal basis (000 §13)' })),
  },
  { additionalProperties: false },
);
export const Return = Type.Object({ expectedVersion: Type.Optional(ExpectedVersion), comment: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });
export const Withdraw = Type.Object({ expectedVersion: Type.Optional(ExpectedVersion), reason: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });
export const RevisionNotice = Type.Object(
  {
    cause: literals(REVISION_CAUSES, { description: 'law: 法律法规修订; duty: 行政管理职能变化' }),
    occurredOn: Type.String({ format: 'date', description: 'The day the change took effect; the 15 working days count from it' }),
    note: Type.String({ minLength: 1, maxLength: 2000, description: 'What changed' }),
  },
  { additionalProperties: false },
);

export const Finding = Type.Object({
  rule: Type.String({ description: 'Rule id, e.g. legalBasis.missing' }),
  field: Type.String({ description: 'Path of the element, e.g. content.legalBasis, content.dataItems.2.length' }),
  severity: literals(FINDING_SEVERITIES),
  message: Type.String(),
  messageZh: Type.String(),
});

const DataItemView = Type.Object({
  name: Type.String({ description: 'In the requested language, falling back to Chinese' }),
  nameZh: Type.String(),
  names: Type.Record(Type.String(), Type.String()),
  dataType: literals(DATA_TYPES),
  length: Type.Union([Type.Integer(), Type.Null()]),
  precision: Type.Union([Type.Integer(), Type.Null()]),
  scale: Type.Union([Type.Integer(), Type.Null()]),
  sqlType: Type.String({ description: 'The PostgreSQL column type, e.g. varchar(18), numeric(12,2)' }),
  description: Type.String(),
  sensitive: Type.Boolean(),
  format: Type.Union([literals(DATA_ITEM_FORMATS), Type.Null()]),
  key: Type.Boolean(),
});

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const VersionView = Type.Object({
  number: Type.Integer(),
  state: literals(VERSION_STATES),
  classification: Nullable(Type.Object({ category: literals(CLASSIFICATION_CATEGORIES), group: Type.String(), subgroup: Type.String(), detail: Nullable(Type.String()), code: Type.String() })),
  name: Type.String(),
  nameZh: Type.String(),
  names: Type.Record(Type.String(), Type.String()),
  abstract: Nullable(Type.String()),
  abstractZh: Nullable(Type.String()),
  abstracts: Type.Record(Type.String(), Type.String()),
  format: Nullable(Type.Object({ type: literals(FORMAT_TYPES), typeZh: Type.String(), subtype: Nullable(Type.String()) })),
  dataItems: Type.Array(DataItemView),
  shareType: Nullable(literals(SHARE_TYPES)),
  shareCondition: Nullable(Type.String()),
  legalBasis: Nullable(Type.Object({ law: Type.String(), article: Type.String() })),
  legalBasisConfirmed: Nullable(Type.Object({ by: Type.String(), at: DateTime })),
  shareMethods: Type.Array(literals(SHARE_METHODS)),
  openness: Nullable(Type.Object({ open: Type.Boolean(), condition: Nullable(Type.String()) })),
  updateCycle: Nullable(literals(UPDATE_CYCLES)),
  relatedCodes: Type.Array(Type.String()),
  extensions: Type.Record(Type.String(), ExtensionValue),
  publishDate: Nullable(Type.String({ format: 'date' })),
  submitted: Nullable(Type.Object({ by: Type.String(), at: DateTime })),
  reviewed: Nullable(Type.Object({ by: Type.String(), at: DateTime, comment: Nullable(Type.String()) })),
  createdBy: Type.String(),
  createdAt: DateTime,
  updatedAt: DateTime,
  findings: Type.Optional(Type.Array(Finding, { description: 'Conformance findings (open versions only)' })),
});

export const EntryView = Type.Object({
  id: Uuid,
  resourceCode: Nullable(Type.String({ description: 'Assigned at first publication; never changes afterwards' })),
  status: literals(ENTRY_STATUSES),
  provider: Type.Object({ id: Uuid, code: Type.String(), name: Type.String() }),
  version: Type.Integer({ description: 'Concurrency version of the entry: pass as expectedVersion' }),
  publishedVersion: Nullable(Type.Integer()),
  withdrawn: Nullable(Type.Object({ at: DateTime, reason: Type.String() })),
  revisionDue: Nullable(Type.Object({ dueOn: Type.String({ format: 'date' }), cause: literals(REVISION_CAUSES), occurredOn: Type.String({ format: 'date' }), note: Type.String(), overdue: Type.Boolean() })),
  published: Type.Union([VersionView, Type.Null()], { description: 'The version in force; for a withdrawn entry the one last in force (state withdrawn)' }),
  pending: Type.Union([VersionView, Type.Null()], { description: 'The open version (draft, submitted or returned): shown to its agency and the supervisor only' }),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type EntryView = Static<typeof EntryView>;
export type VersionView = Static<typeof VersionView>;

export const EntryHistoryItem = Type.Object({
  at: DateTime,
  actor: Type.String(),
  action: Type.String(),
  version: Nullable(Type.Integer()),
  comment: Nullable(Type.String()),
  details: Type.Record(Type.String(), Type.Unknown()),
});

export const FieldChange = Type.Object({
  path: Type.String({ description: 'e.g. shareType, names.ug, dataItems[身份证号].length' }),
  change: literals(['added', 'removed', 'changed'] as const),
  before: Type.Optional(Type.Unknown()),
  after: Type.Optional(Type.Unknown()),
});

export const ChangeFeedItem = Type.Object({
  seq: Type.Integer(),
  kind: literals(CHANGE_KINDS),
  entryId: Uuid,
  resourceCode: Type.String(),
  version: Type.Integer(),
  at: DateTime,
  reason: Nullable(Type.String()),
});

export const NonSharedItem = Type.Object({
  entryId: Uuid,
  resourceCode: Type.String(),
  name: Type.String(),
  nameZh: Type.String(),
  provider: Type.Object({ id: Uuid, code: Type.String(), name: Type.String() }),
  legalBasis: Type.Object({ law: Type.String(), article: Type.String() }),
  confirmedBy: Type.String(),
  confirmedAt: DateTime,
  publishDate: Type.String({ format: 'date' }),
});

export const ExtensionFieldCreate = Type.Object(
  {
    key: Type.String({ pattern: '^[a-z][a-zA-Z0-9]{0,39}$', description: 'camelCase key, never changes' }),
    labelZh: Type.String({ minLength: 1, maxLength: 100 }),
    labelEn: Type.String({ minLength: 1, maxLength: 100 }),
    type: literals(EXTENSION_TYPES, { description: 'Never changes: stored values would no longer fit' }),
    required: Type.Optional(Type.Boolean()),
    allowedValues: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 200, uniqueItems: true, description: 'enum only: the values allowed' })),
  },
  { additionalProperties: false },
);
export type ExtensionFieldCreate = Static<typeof ExtensionFieldCreate>;

export const ExtensionFieldPatch = Type.Object(
  {
    labelZh: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    labelEn: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    required: Type.Optional(Type.Boolean()),
    allowedValues: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 200, uniqueItems: true })),
    active: Type.Optional(Type.Boolean({ description: 'An inactive field is no longer accepted on new edits; stored values stay readable' })),
    expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type ExtensionFieldPatch = Static<typeof ExtensionFieldPatch>;

export const ExtensionField = Type.Object({
  key: Type.String(),
  labelZh: Type.String(),
  labelEn: Type.String(),
  type: literals(EXTENSION_TYPES),
  required: Type.Boolean(),
  allowedValues: Type.Array(Type.String()),
  active: Type.Boolean(),
  version: Type.Integer(),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type ExtensionField = Static<typeof ExtensionField>;

export const LangQuery = Type.Optional(Type.String({ maxLength: 35, description: 'BCP 47 tag of the language wanted; text falls back to Chinese' }));

export const ImportQuery = Type.Object(
  {
    format: Type.Optional(literals(['xlsx', 'csv'] as const, { description: 'Taken from the content type, and checked against the bytes, when omitted' })),
    agency: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Provider (agency code or id) of rows whose 提供方 is empty; default: your own agency' })),
    partial: Type.Optional(Type.Boolean({ description: 'Import the good resources even if others fail (default: nothing is imported if any row fails)' })),
    dryRun: Type.Optional(Type.Boolean({ description: 'Check every row, write nothing' })),
    fileName: Type.Optional(Type.String({ maxLength: 200, description: 'The file name, for the report and the audit trail' })),
  },
  { additionalProperties: false },
);

export const ImportProblemView = Type.Object({
  row: Type.Integer({ description: 'Spreadsheet row number; the header is row 1' }),
  column: Type.String({ description: 'The column header, e.g. 共享类型, 资源名称@ug' }),
  value: Type.Optional(Type.String()),
  rule: Type.String({ description: 'e.g. enum, required, legalBasis.missing, unique, header.missing' }),
  message: Type.String(),
  messageZh: Type.String(),
});

export const ImportReportView = Type.Object({
  importId: Uuid,
  outcome: literals(['imported', 'partial', 'rejected', 'checked'] as const, { description: 'imported: everything; partial: the good resources (partial option); rejected: nothing was written; checked: dry run' }),
  mode: literals(['draft', 'publish'] as const),
  format: literals(['xlsx', 'csv'] as const),
  encoding: Nullable(literals(['utf-8', 'gb18030'] as const)),
  rows: Type.Integer({ description: 'Data rows read (without the header)' }),
  resources: Type.Integer(),
  imported: Type.Integer(),
  failedResources: Type.Integer(),
  entries: Type.Array(Type.Object({ row: Type.Integer(), entryId: Uuid, resourceCode: Nullable(Type.String()), nameZh: Type.String() })),
  errors: Type.Array(ImportProblemView),
});
