import type { ColumnType, Generated } from 'kysely';

/** Table types for Kysely, in camelCase (the CamelCasePlugin maps them to snake_case columns). */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface PlatformSettingsTable {
  key: string;
  value: Json<unknown>;
  updatedAt: Timestamp;
}

export interface RegionsTable {
  code: string;
  name: string;
  level: string;
  parentCode: string | null;
  active: Generated<boolean>;
  source: string;
}

export interface ContactRow {
  readonly name: string;
  readonly title?: string | undefined;
  readonly phone?: string | undefined;
  readonly email?: string | undefined;
}

export interface AgenciesTable {
  id: string;
  code: string;
  nameZh: string;
  names: Json<Record<string, string>>;
  uscc: string;
  regionCode: string;
  level: string;
  parentId: string | null;
  contacts: Json<ContactRow[]>;
  active: Generated<boolean>;
  deactivatedAt: Date | null;
  deactivationReason: string | null;
  version: Generated<number>;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface AgencyHistoryTable {
  id: Generated<number>;
  agencyId: string;
  version: number;
  change: string;
  snapshot: Json<unknown>;
  changedBy: string;
  changedAt: Timestamp;
  requestId: string | null;
}

export interface BusinessSystemsTable {
  id: string;
  agencyId: string;
  name: string;
  purpose: string;
  ownerContact: Json<ContactRow>;
  status: string;
  statusReason: string | null;
  version: Generated<number>;
  createdBy: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface NodesTable {
  id: string;
  agencyId: string;
  code: string;
  name: string;
  description: string;
  contact: Json<ContactRow>;
  status: string;
  statusReason: string | null;
  version: Generated<number>;
  createdBy: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface UsersTable {
  id: string;
  username: string;
  displayName: string;
  agencyId: string | null;
  email: string | null;
  phone: string | null;
  roles: string[];
  passwordHash: string;
  mustChangePassword: Generated<boolean>;
  passwordChangedAt: Date | null;
  totpSecret: string | null;
  totpEnabled: Generated<boolean>;
  totpPendingSecret: string | null;
  totpLastStep: number | null;
  failedAttempts: Generated<number>;
  failedWindowStart: Date | null;
  lockedUntil: Date | null;
  active: Generated<boolean>;
  version: Generated<number>;
  createdAt: Timestamp;
  updatedAt: Timestamp;
  lastLoginAt: Date | null;
}

export interface SessionsTable {
  id: string;
  userId: string;
  tokenHash: string;
  createdAt: Timestamp;
  lastSeenAt: Timestamp;
  expiresAt: Date;
  endedAt: Date | null;
  endReason: string | null;
  ip: string | null;
  userAgent: string | null;
  /** Set for a certificate + password login: the session is bound to that client certificate. */
  certificateId: ColumnType<string | null, string | null | undefined, never>;
  certificateSha256: ColumnType<string | null, string | null | undefined, never>;
}

export interface ApiTokensTable {
  id: string;
  userId: string;
  name: string;
  tokenHash: string;
  scopes: string[];
  expiresAt: Date;
  createdAt: Timestamp;
  createdBy: string;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  revokedReason: string | null;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: Timestamp;
  actorType: string;
  actorId: string | null;
  actorName: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: string;
  requestId: string | null;
  ip: string | null;
  details: Json<Record<string, unknown>>;
  seq: number;
  actorAgencyId: string | null;
  /** Null only on rows written before the hash chain, until the platform chains them. */
  hashAlg: string | null;
  prevHash: string | null;
  hash: string | null;
}

export interface AuditSigningKeysTable {
  id: string;
  algorithm: string;
  publicKey: string;
  privateKeySealed: string;
  createdAt: Timestamp;
}

export interface AuditCheckpointsTable {
  seq: number;
  hash: string;
  at: Timestamp;
  keyId: string;
  signature: string;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  checksum: string;
  appliedAt: Timestamp;
}

export interface PkiAuthoritiesTable {
  id: string;
  subject: string;
  keyAlgorithm: string;
  certificatePem: string;
  sealedPrivateKey: string;
  notBefore: Date;
  notAfter: Date;
  createdAt: Timestamp;
  retiredAt: Date | null;
}

export interface CertificatesTable {
  id: string;
  authorityId: string;
  subjectType: string;
  subjectId: string;
  agencyId: string | null;
  keySource: string;
  csrPem: string | null;
  status: string;
  requestedBy: string;
  requestedByUser: string | null;
  requestedAt: Date;
  decidedBy: string | null;
  decidedAt: Date | null;
  decisionReason: string | null;
  serialNumber: string | null;
  certificatePem: string | null;
  fingerprintSha256: string | null;
  notBefore: Date | null;
  notAfter: Date | null;
  sealedPrivateKey: string | null;
  keyDownloadedAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
  revocationReason: string | null;
  revocationComment: string | null;
  version: Generated<number>;
  updatedAt: Timestamp;
}

export interface PkiServerCertificatesTable {
  serverName: string;
  serialNumber: string;
  certificatePem: string;
  sealedPrivateKey: string;
  notAfter: Date;
  createdAt: Timestamp;
}

/** `date` columns come back as 'YYYY-MM-DD' strings (type-parsers.ts), never as Date. */
export interface CalendarDaysTable {
  date: string;
  kind: string;
  name: string;
  source: string;
  changedBy: string;
  changedAt: Timestamp;
  requestId: string | null;
}

export interface CalendarYearsTable {
  year: number;
  arrangement: string | null;
  nationalRevision: string | null;
  source: string | null;
  loadedBy: string | null;
  loadedAt: Date | null;
  operatorEditedAt: Date | null;
}

export interface CalendarStateTable {
  singleton: Generated<boolean>;
  version: number;
}

export interface CatalogExtensionFieldsTable {
  key: string;
  labelZh: string;
  labelEn: string;
  type: string;
  required: boolean;
  allowedValues: string[];
  active: Generated<boolean>;
  version: Generated<number>;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface CatalogEntriesTable {
  id: string;
  agencyId: string;
  status: string;
  resourceCode: string | null;
  publishedVersion: number | null;
  openVersion: number | null;
  latestVersion: number;
  withdrawnAt: Date | null;
  withdrawalReason: string | null;
  revisionCause: string | null;
  revisionOccurredOn: string | null;
  revisionNote: string | null;
  revisionDueOn: string | null;
  version: Generated<number>;
  createdBy: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface CatalogVersionsTable {
  entryId: string;
  number: number;
  state: string;
  classificationCode: string | null;
  nameZh: string;
  names: Json<Record<string, string>>;
  abstractZh: string | null;
  abstracts: Json<Record<string, string>>;
  formatType: string | null;
  formatSubtype: string | null;
  shareType: string | null;
  shareCondition: string | null;
  legalBasisLaw: string | null;
  legalBasisArticle: string | null;
  shareMethods: string[];
  openToPublic: boolean | null;
  opennessCondition: string | null;
  updateCycle: string | null;
  relatedCodes: string[];
  extensions: Json<Record<string, string | number | boolean>>;
  publishDate: string | null;
  legalBasisConfirmedBy: string | null;
  legalBasisConfirmedAt: Date | null;
  submittedBy: string | null;
  submittedAt: Date | null;
  reviewedBy: string | null;
  reviewedAt: Date | null;
  reviewComment: string | null;
  createdBy: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface CatalogDataItemsTable {
  entryId: string;
  versionNumber: number;
  position: number;
  nameZh: string;
  names: Json<Record<string, string>>;
  dataType: string;
  length: number | null;
  precision: number | null;
  scale: number | null;
  description: string;
  sensitive: boolean;
  format: string | null;
  isKey: boolean;
}

export interface CatalogCodeSequencesTable {
  classificationCode: string;
  lastSequence: number;
}

export interface CatalogFeedCounterTable {
  id: number;
  lastSeq: number;
}

export interface CatalogChangesTable {
  seq: number;
  kind: string;
  entryId: string;
  resourceCode: string;
  versionNumber: number;
  at: Date;
  reason: string | null;
}

export interface CatalogEventsTable {
  id: Generated<number>;
  entryId: string;
  versionNumber: number | null;
  action: string;
  actorName: string;
  actorUserId: string | null;
  at: Date;
  requestId: string | null;
  comment: string | null;
  details: Json<Record<string, unknown>>;
}

export interface DemandsTable {
  id: string;
  requesterAgencyId: string;
  title: string;
  description: string;
  purpose: string;
  wantedItems: string[];
  suggestedAgencyId: string | null;
  status: string;
  providerAgencyId: string | null;
  routedBy: string | null;
  routedAt: Date | null;
  routeComment: string | null;
  answerKind: string | null;
  answerEntryId: string | null;
  answerResourceCode: string | null;
  answerPromisedBy: string | null;
  answerReason: string | null;
  answeredBy: string | null;
  answeredAt: Date | null;
  version: Generated<number>;
  createdBy: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface ShareRequestsTable {
  id: string;
  number: Generated<number>;
  consumerAgencyId: string;
  consumerSystemId: string;
  entryId: string;
  resourceCode: string;
  resourceName: string;
  entryVersion: number;
  providerAgencyId: string;
  shareType: string;
  items: string[];
  purposeBusiness: string;
  purposeBasis: string;
  dataUsers: string;
  shareMethod: string;
  validUntil: string;
  expectedVolume: string | null;
  frequency: string | null;
  renewsGrantId: string | null;
  status: string;
  dueOn: string | null;
  reviewDaysLeft: number | null;
  remindedAt: Date | null;
  escalatedAt: Date | null;
  reviewStartedAt: Date | null;
  infoRequest: string | null;
  infoRequestedAt: Date | null;
  decision: string | null;
  decisionComment: string | null;
  refusalLaw: string | null;
  refusalArticle: string | null;
  decidedBy: string | null;
  decidedAt: Date | null;
  disputeReason: string | null;
  disputedBy: string | null;
  disputedAt: Date | null;
  arbitrationOutcome: string | null;
  arbitrationComment: string | null;
  arbitratedBy: string | null;
  arbitratedAt: Date | null;
  grantId: string | null;
  version: Generated<number>;
  createdBy: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface ShareRequestEventsTable {
  id: Generated<number>;
  requestId: string;
  at: Date;
  actor: string;
  action: string;
  statusFrom: string | null;
  statusTo: string | null;
  comment: string | null;
  details: Json<Record<string, unknown>>;
}

export interface GrantsTable {
  id: string;
  requestId: string;
  consumerAgencyId: string;
  consumerSystemId: string;
  entryId: string;
  resourceCode: string;
  providerAgencyId: string;
  shareMethod: string;
  items: string[];
  rowFilter: Json<readonly { readonly item: string; readonly op: string; readonly values: readonly string[] }[]>;
  masking: Json<Readonly<Record<string, string>>>;
  ratePerMinute: number | null;
  volumePerDay: number | null;
  purpose: string;
  conditions: string | null;
  validFrom: Date;
  validUntil: string;
  status: string;
  statusReason: string | null;
  statusChangedBy: string | null;
  statusChangedAt: Date | null;
  expiryRemindedAt: Date | null;
  version: Generated<number>;
  createdBy: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface GrantEventsTable {
  id: Generated<number>;
  grantId: string;
  at: Date;
  actor: string;
  action: string;
  statusFrom: string | null;
  statusTo: string | null;
  reason: string | null;
  details: Json<Record<string, unknown>>;
}

export interface ShareRequestAttachmentsTable {
  requestId: string;
  attachmentId: string;
  kind: string;
  addedAt: Date;
}

export interface AttachmentsTable {
  id: string;
  sha256: string;
  bytes: number;
  fileName: string;
  contentType: string;
  agencyId: string | null;
  uploadedBy: string;
  createdAt: Timestamp;
}

export interface AttachmentLinksTable {
  attachmentId: string;
  ownerType: string;
  ownerId: string;
  readerAgencyIds: string[];
  createdAt: Timestamp;
}

export interface NotificationsTable {
  id: string;
  kind: string;
  subjectZh: string;
  subject: string;
  bodyZh: string;
  body: string;
  targetType: string;
  targetId: string;
  details: Json<Record<string, unknown>>;
  createdAt: Timestamp;
}

export interface NotificationInboxTable {
  id: string;
  seq: Generated<number>;
  notificationId: string;
  accountId: string;
  readAt: Date | null;
  createdAt: Timestamp;
}

export interface NotificationPreferencesTable {
  accountId: string;
  email: boolean;
  updatedAt: Timestamp;
}

export interface WebhooksTable {
  id: string;
  agencyId: string | null;
  url: string;
  description: string;
  secretSealed: string;
  kinds: string[] | null;
  active: Generated<boolean>;
  version: Generated<number>;
  createdBy: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
  deletedAt: Date | null;
}

export interface NotificationDeliveriesTable {
  id: string;
  seq: Generated<number>;
  notificationId: string;
  channel: string;
  accountId: string | null;
  webhookId: string | null;
  address: string;
  status: string;
  attempts: Generated<number>;
  nextAttemptAt: Timestamp;
  claimedBy: string | null;
  lastAttemptAt: Date | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Timestamp;
}

export interface NotificationDeliveryAttemptsTable {
  id: Generated<number>;
  deliveryId: string;
  attempt: number;
  worker: string;
  startedAt: Date;
  finishedAt: Date;
  outcome: string;
  httpStatus: number | null;
  smtpResponse: string | null;
  error: string | null;
}

/** exchange/columns.ts: how a data item maps to a column of its shared table. */
export interface SharedColumnRow {
  readonly item: string;
  readonly column: string;
  readonly dataType: string;
  readonly sqlType: string;
  readonly key: boolean;
  readonly sensitive: boolean;
  readonly format: string | null;
  readonly length: number | null;
  readonly precision: number | null;
  readonly scale: number | null;
  /** The blind-index column of a sensitive key item (its keyed hash), else null. */
  readonly indexColumn: string | null;
}

export interface ExchangeTablesTable {
  resourceCode: string;
  entryId: string;
  agencyId: string;
  tableName: string;
  catalogVersion: number;
  schemaVersion: Generated<number>;
  columns: Json<SharedColumnRow[]>;
  lastSeq: Generated<number>;
  lastUpdateAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  withdrawnAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  retiredAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** Registered, its physical table not yet created (migration 0020). */
  pending: Generated<boolean>;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface ExchangeBatchesTable {
  resourceCode: string;
  idempotencyKey: string;
  bodySha256: string;
  source: string;
  outcome: Json<unknown>;
  createdBy: string;
  createdAt: Timestamp;
}

export interface ExchangeQuarantineTable {
  id: string;
  resourceCode: string;
  idempotencyKey: string;
  rowNumber: number;
  operation: string;
  sealedRow: string;
  problems: Json<unknown>;
  createdAt: Timestamp;
  resolvedAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface ExchangeDataKeysTable {
  id: Generated<number>;
  purpose: string;
  algorithm: string;
  sealedKey: string;
  active: Generated<boolean>;
  createdAt: Timestamp;
}

export interface ExchangeSubscriptionsTable {
  id: string;
  consumerSystemId: string;
  consumerAgencyId: string;
  resourceCode: string;
  grantId: string;
  termsDigest: string;
  generation: Generated<number>;
  cursor: Generated<number>;
  snapshotUntil: Generated<number>;
  deliveredUntil: Generated<number>;
  mode: Generated<string>;
  webhookUrl: string | null;
  webhookCaPem: string | null;
  state: Generated<string>;
  attempts: Generated<number>;
  nextAttemptAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  leaseUntil: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  claimedBy: string | null;
  lastError: string | null;
  recentAttempts: ColumnType<unknown[], string | undefined, string>;
  lastDeliveryAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  lastAckAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  deadLetteredAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  version: Generated<number>;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface ExchangeVerifyJobsTable {
  id: string;
  resourceCode: string;
  systemId: string;
  agencyId: string | null;
  actorName: string;
  requestId: string | null;
  state: string;
  format: string;
  encoding: string | null;
  bytes: ColumnType<number, number, number>;
  keyItems: Json<string[]>;
  fieldItems: Json<string[]>;
  modes: Json<Record<string, string>>;
  purpose: string | null;
  recordsTotal: ColumnType<number, number, number>;
  recordsDone: ColumnType<number, number | undefined, number>;
  matched: ColumnType<number, number | undefined, number>;
  mismatched: ColumnType<number, number | undefined, number>;
  notFound: ColumnType<number, number | undefined, number>;
  attempts: Generated<number>;
  claimedBy: string | null;
  leaseUntil: Date | null;
  error: Json<unknown> | null;
  createdAt: Timestamp;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface ExchangeVerifyJobFilesTable {
  jobId: string;
  kind: string;
  sealed: string;
}

export interface Database {
  platformSettings: PlatformSettingsTable;
  regions: RegionsTable;
  agencies: AgenciesTable;
  agencyHistory: AgencyHistoryTable;
  businessSystems: BusinessSystemsTable;
  users: UsersTable;
  sessions: SessionsTable;
  apiTokens: ApiTokensTable;
  auditEvents: AuditEventsTable;
  auditSigningKeys: AuditSigningKeysTable;
  auditCheckpoints: AuditCheckpointsTable;
  schemaMigrations: SchemaMigrationsTable;
  pkiAuthorities: PkiAuthoritiesTable;
  certificates: CertificatesTable;
  pkiServerCertificates: PkiServerCertificatesTable;
  nodes: NodesTable;
  calendarDays: CalendarDaysTable;
  calendarYears: CalendarYearsTable;
  calendarState: CalendarStateTable;
  catalogExtensionFields: CatalogExtensionFieldsTable;
  catalogEntries: CatalogEntriesTable;
  catalogVersions: CatalogVersionsTable;
  catalogDataItems: CatalogDataItemsTable;
  catalogCodeSequences: CatalogCodeSequencesTable;
  catalogFeedCounter: CatalogFeedCounterTable;
  catalogChanges: CatalogChangesTable;
  catalogEvents: CatalogEventsTable;
  demands: DemandsTable;
  shareRequests: ShareRequestsTable;
  shareRequestEvents: ShareRequestEventsTable;
  grants: GrantsTable;
  grantEvents: GrantEventsTable;
  shareRequestAttachments: ShareRequestAttachmentsTable;
  attachments: AttachmentsTable;
  exchangeTables: ExchangeTablesTable;
  exchangeBatches: ExchangeBatchesTable;
  exchangeQuarantine: ExchangeQuarantineTable;
  exchangeDataKeys: ExchangeDataKeysTable;
  exchangeSubscriptions: ExchangeSubscriptionsTable;
  attachmentLinks: AttachmentLinksTable;
  notifications: NotificationsTable;
  notificationInbox: NotificationInboxTable;
  notificationPreferences: NotificationPreferencesTable;
  webhooks: WebhooksTable;
  notificationDeliveries: NotificationDeliveriesTable;
  notificationDeliveryAttempts: NotificationDeliveryAttemptsTable;
  exchangeVerifyJobs: ExchangeVerifyJobsTable;
  exchangeVerifyJobFiles: ExchangeVerifyJobFilesTable;
}
