/**
 * The closed vocabularies of a catalog entry (GB/T 21063.3, the 2017 《政务信息资源目录编制指南(试行)》).
 * Each is an `as const` array with a derived type; schemas.ts turns them into enums at the HTTP
 * edge and the migration repeats them as CHECK constraints.
 */

/** 类: 1 基础信息资源, 2 主题信息资源, 3 部门信息资源. */
export const CLASSIFICATION_CATEGORIES = ['1', '2', '3'] as const;
export type ClassificationCategory = (typeof CLASSIFICATION_CATEGORIES)[number];

/** 资源格式类型 (the guide's list). */
export const FORMAT_TYPES = ['electronicFile', 'spreadsheet', 'database', 'image', 'streamingMedia', 'selfDescribing', 'serviceInterface', 'other'] as const;
export type FormatType = (typeof FORMAT_TYPES)[number];

export const FORMAT_TYPE_ZH: Readonly<Record<FormatType, string>> = {
  electronicFile: '电子文件',
  spreadsheet: '电子表格',
  database: '数据库',
  image: '图形图像',
  streamingMedia: '流媒体',
  selfDescribing: '自描述格式',
  serviceInterface: '服务接口',
  other: '其他',
};

/**
 * Subtypes the platform knows per format type. A subtype outside the list is stored (the list
 * cannot foresee every product) but draws a conformance warning.
 */
export const KNOWN_FORMAT_SUBTYPES: Readonly<Record<FormatType, readonly string[]>> = {
  electronicFile: ['ofd', 'pdf', 'doc', 'docx', 'wps', 'txt', 'rtf'],
  spreadsheet: ['xls', 'xlsx', 'et', 'csv'],
  database: ['dm', 'kingbase', 'gbase', 'oscar', 'opengauss', 'postgresql', 'mysql', 'oracle', 'sqlserver'],
  image: ['jpg', 'png', 'tif', 'gif', 'bmp', 'svg'],
  streamingMedia: ['mp4', 'flv', 'avi', 'mp3', 'wav'],
  selfDescribing: ['xml', 'json'],
  serviceInterface: ['rest', 'webservice'],
  other: [],
};

/** 共享类型: 无条件共享 / 有条件共享 / 不予共享. */
export const SHARE_TYPES = ['unconditional', 'conditional', 'none'] as const;
export type ShareType = (typeof SHARE_TYPES)[number];

/** 共享方式: 库表 / 接口 / 文件. */
export const SHARE_METHODS = ['table', 'api', 'file'] as const;
export type ShareMethod = (typeof SHARE_METHODS)[number];

/**
 * 更新周期. `irregular` (不定期) is the guide's "其他": resources updated on events (a
 * permit issued, a decision taken) have no cycle, and the monitoring system must not count them
 * late; every other value is a promise the monitoring system checks.
 */
export const UPDATE_CYCLES = ['realtime', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly', 'irregular'] as const;
export type UpdateCycle = (typeof UPDATE_CYCLES)[number];

/** 信息项数据类型. The exchange creates typed table columns from these, so each maps to one SQL type. */
export const DATA_TYPES = ['string', 'integer', 'decimal', 'date', 'datetime', 'boolean'] as const;
export type DataType = (typeof DATA_TYPES)[number];

/**
 * Declared value formats of a data item, checked on the values the exchange receives:
 * - idCard: 公民身份号码, GB 11643 (18 characters, ISO 7064 MOD 11-2 check character);
 * - uscc: 统一社会信用代码, GB 32100;
 * - regionCode: 行政区划代码, GB/T 2260 (6 digits) — the most common code column in agency data
 *   and the key of the return flow to lower-level platforms.
 */
export const DATA_ITEM_FORMATS = ['idCard', 'uscc', 'regionCode'] as const;
export type DataItemFormat = (typeof DATA_ITEM_FORMATS)[number];

/** The length a string data item needs at least to hold a value of the format. */
export const FORMAT_MIN_LENGTH: Readonly<Record<DataItemFormat, number>> = { idCard: 18, uscc: 18, regionCode: 6 };

/**
 * The states of one version of an entry. Open (editable or under review): draft, submitted,
 * returned. Closed: published (in force), superseded (replaced by a later published version),
 * withdrawn (the entry was withdrawn while this version was in force), discarded (an open version
 * dropped when the entry was withdrawn).
 */
export const VERSION_STATES = ['draft', 'submitted', 'returned', 'published', 'superseded', 'withdrawn', 'discarded'] as const;
export type VersionState = (typeof VERSION_STATES)[number];
export const OPEN_STATES = ['draft', 'submitted', 'returned'] as const satisfies readonly VersionState[];
export type OpenState = (typeof OPEN_STATES)[number];

/** The state of an entry as a whole: never published yet, published (a version in force), withdrawn. */
export const ENTRY_STATUSES = ['unpublished', 'published', 'withdrawn'] as const;
export type EntryStatus = (typeof ENTRY_STATUSES)[number];

/** What the change feed reports. */
export const CHANGE_KINDS = ['published', 'withdrawn'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** 003 三(三): a change of the law or of the agency's duties makes the entry due for revision. */
export const REVISION_CAUSES = ['law', 'duty'] as const;
export type RevisionCause = (typeof REVISION_CAUSES)[number];
/** Working days allowed for the revision (003 三(三)). */
export const REVISION_WORKING_DAYS = 15;

/** Types of a local extension field. */
export const EXTENSION_TYPES = ['string', 'integer', 'number', 'boolean', 'date', 'enum'] as const;
export type ExtensionType = (typeof EXTENSION_TYPES)[number];

export const FINDING_SEVERITIES = ['error', 'warning'] as const;
export type FindingSeverity = (typeof FINDING_SEVERITIES)[number];

export function isOneOf<const T extends readonly string[]>(values: T, v: string | null | undefined): v is T[number] {
  return v !== null && v !== undefined && (values as readonly string[]).includes(v);
}
