import { GsError, invalidField } from '../lib/errors.js';
import { isUuid } from '../lib/secrets.js';
import { chinaDateOf, formatChinaInstant, parseDateOrInstant, yearOf } from '../lib/working-calendar.js';
import { isRole, PERMISSIONS, type Role } from '../modules/accounts/permissions.js';
import { createBackup, readBackupKey } from '../modules/backup/backup.js';
import { backedUpBlobDir } from '../modules/blobs/blob-store.js';
import type { S3Options } from '../modules/backup/s3-options.js';
import { openBackupLocation } from '../modules/backup/target.js';
import type { AgencyCreate } from '../modules/agencies/schemas.js';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dcatChunks, exportSource, jsonChunks, writeXlsx, type ExportFormat } from '../modules/catalog/export.js';
import { importCatalogFile, type ImportProgress } from '../modules/catalog/import-file.js';
import type { ImportFormat } from '../modules/catalog/import-reader.js';
import { Type, type Static, type TSchema } from 'typebox';
import { openDataFile } from '../modules/exchange/file-rows.js';
import type { CsvEncoding, IngestPolicy, LoadFormat } from '../modules/exchange/vocabulary.js';
import { GrantTerms } from '../modules/grants/schemas.js';
import { refusalError } from '../modules/grants/check.js';
import { GRANT_METHODS, GRANT_STATUSES } from '../modules/grants/vocabulary.js';
import { sweepOnce } from '../modules/requests/deadline-sweep.js';
import { mediaTypeOfName } from '../modules/attachments/file-name.js';
import { AttachmentRef, ShareRequestCreate } from '../modules/requests/schemas.js';
import { DELIVERY_CHANNELS, DELIVERY_STATUSES, NOTICE_KINDS } from '../modules/notifications/vocabulary.js';
import { ARBITRATION_OUTCOMES, REQUEST_STATUSES } from '../modules/requests/vocabulary.js';
import { cliContext, type RequestContext } from './actor.js';
import { checkInput } from './input-check.js';
import type { Platform } from './platform.js';
import { literals } from './schema-kit.js';

/**
 * The operations the admin CLI offers. Each runs against a Platform with the local
 * administrator's context, either in the CLI process (PostgreSQL server, or an embedded data
 * directory no server holds) or inside the running server through its admin socket. Inputs are
 * plain JSON so they cross the socket unchanged.
 */
export interface AgencyListInput {
  readonly q?: string;
  readonly regionCode?: string;
  readonly includeInactive?: boolean;
  readonly limit?: number;
}

export interface UserAddInput {
  readonly username: string;
  readonly displayName: string;
  readonly agency?: string;
  readonly roles?: readonly string[];
  readonly email?: string;
  readonly phone?: string;
}

export interface AuditExportInput {
  readonly from?: string;
  readonly to?: string;
  readonly action?: string;
  readonly actorId?: string;
  readonly actorName?: string;
  /** Agency code or id: events of that agency's accounts. */
  readonly agency?: string;
  readonly targetType?: string;
  readonly targetId?: string;
  readonly outcome?: string;
}

export interface AuditArchiveInput {
  /** ISO 8601: archive the longest prefix of the chain older than this. */
  readonly before: string;
  /** Absolute path of the archive file to create. */
  readonly out: string;
}

export interface CatalogImportInput {
  /** Absolute path of the file; through the admin socket, a path on the server's machine. */
  readonly file: string;
  readonly format?: ImportFormat;
  readonly agency?: string;
  readonly partial?: boolean;
  readonly publish?: boolean;
  readonly dryRun?: boolean;
  /** In-process only: a function does not cross the admin socket (JSON drops it), so no progress there. */
  readonly onProgress?: (p: ImportProgress) => void;
}

export interface DataLoadInput {
  /** The table resource's code. */
  readonly resource: string;
  /** Absolute path of the file; through the admin socket, a path on the server's machine. */
  readonly file: string;
  readonly format?: LoadFormat;
  readonly encoding?: CsvEncoding;
  readonly policy?: IngestPolicy;
  readonly idempotencyKey?: string;
  /** In-process only (JSON drops functions): rows read and bytes read of the file's size. */
  readonly onProgress?: (p: { readonly rows: number; readonly bytes: number; readonly totalBytes: number }) => void;
}

export interface CatalogExportInput {
  readonly format: ExportFormat;
  /** Absolute path of the file to write. */
  readonly out: string;
  /** The platform's public address, for the DCAT identifiers. */
  readonly baseUrl: string;
}

/** The largest export the CLI writes in one file. */
const AUDIT_EXPORT_MAX = 1_000_000;

async function agencyIdOf(platform: Platform, idOrCode: string): Promise<string> {
  return isUuid(idOrCode) ? (await platform.agencies.get(idOrCode)).id : (await platform.agencies.getByCode(idOrCode)).id;
}

/**
 * An operation whose input is checked against `schema` first: through the admin socket it is
 * whatever JSON arrived, and the CLI passes on files it read without looking inside.
 */
function checked<S extends TSchema, R>(schema: S, run: (p: Platform, ctx: RequestContext, input: Static<S>) => Promise<R>) {
  return (p: Platform, ctx: RequestContext, input: Static<S>): Promise<R> => run(p, ctx, checkInput(schema, input));
}

const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength });
/** A share request's id or its number (申请编号). */
const RequestKey = Type.Object({ id: Text(64) }, { additionalProperties: false });
/** An agency's code or id. */
const AgencyKey = Text(64);
const Sides = literals(['consumer', 'provider'] as const);
const Day = Type.String({ format: 'date' });

export const RequestListInput = Type.Object(
  {
    status: Type.Optional(Type.Array(literals(REQUEST_STATUSES), { maxItems: REQUEST_STATUSES.length })),
    overdue: Type.Optional(Type.Boolean()),
    agency: Type.Optional(AgencyKey),
    side: Type.Optional(Sides),
    resource: Type.Optional(Text(40)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    before: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

export const GrantListInput = Type.Object(
  {
    agency: Type.Optional(AgencyKey),
    side: Type.Optional(Sides),
    system: Type.Optional(Type.String({ format: 'uuid' })),
    resource: Type.Optional(Text(40)),
    method: Type.Optional(literals(GRANT_METHODS)),
    status: Type.Optional(Type.Array(literals(GRANT_STATUSES), { maxItems: GRANT_STATUSES.length })),
    endingBy: Type.Optional(Day),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    after: Type.Optional(Type.String({ format: 'uuid' })),
  },
  { additionalProperties: false },
);

/** The body of POST /api/v1/share-requests, as read from a file; `consumer` (code or id) may name the consumer agency instead of `consumerAgencyId`. */
const RequestFileInput = Type.Object({ body: Type.Unknown(), consumer: Type.Optional(AgencyKey) }, { additionalProperties: false });

const WithReason = Type.Object({ id: Text(64), reason: Text(4000) }, { additionalProperties: false });

const Uuid = Type.String({ format: 'uuid' });
const NoticeKinds = Type.Array(literals(NOTICE_KINDS), { minItems: 1, uniqueItems: true });

export const WebhookAddInput = Type.Object(
  {
    url: Text(2000),
    /** The agency (code or id) whose notices it receives; absent: platform-level (the supervisor's notices). */
    agency: Type.Optional(AgencyKey),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    kinds: Type.Optional(NoticeKinds),
    active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const WebhookUpdateInput = Type.Object(
  {
    id: Uuid,
    url: Type.Optional(Text(2000)),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    /** null: every kind. */
    kinds: Type.Optional(Type.Union([NoticeKinds, Type.Null()])),
    active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const AttachmentUploadInput = Type.Object(
  {
    /** Absolute path; through the admin socket, a path on the server's machine. */
    file: Text(4096),
    /** The agency (code or id) the file is uploaded for, so it can attach it to its own requests. */
    agency: Type.Optional(AgencyKey),
    contentType: Type.Optional(Text(255)),
    fileName: Type.Optional(Text(255)),
  },
  { additionalProperties: false },
);

/** Opens a file the operation was given, refusing a missing or unreadable one by its path. */
async function openFile(path: string, field: string) {
  const stream = createReadStream(path);
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (e: NodeJS.ErrnoException) => reject(invalidField(field, 'readable', `cannot read ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.message}`)));
  });
  return stream;
}

function sideNeedsAgency(input: { side?: string; agency?: string }): void {
  if (input.side && !input.agency) throw invalidField('side', 'needsAgency', 'side needs the agency whose side it is (--agency CODE)');
}

function parseRoles(roles: readonly string[]): Role[] {
  return roles.map((r) => {
    if (!isRole(r)) throw new GsError('GS_ERR_REQUEST_INVALID', { summary: `unknown role ${r}` }, [{ field: 'roles', rule: 'enum', message: `unknown role ${r}` }]);
    return r;
  });
}

export const ADMIN_OPERATIONS = {
  async init(p: Platform, _ctx: RequestContext, _input: Record<string, never>) {
    return p.bootstrap();
  },
  /** The schema was brought up to date when the platform was opened; this reports its version. */
  async migrate(p: Platform, _ctx: RequestContext, _input: Record<string, never>) {
    return (await p.readiness()).schema;
  },
  async agencyAdd(p: Platform, ctx: RequestContext, input: AgencyCreate & { parent?: string }) {
    const { parent, ...rest } = input;
    const parentId = parent ? await agencyIdOf(p, parent) : rest.parentId;
    return p.agencies.create(ctx, { ...rest, ...(parentId ? { parentId } : {}) });
  },
  async agencyList(p: Platform, _ctx: RequestContext, input: AgencyListInput) {
    return p.agencies.list({ q: input.q, regionCode: input.regionCode, active: input.includeInactive ? undefined : true, limit: input.limit ?? 500 });
  },
  async agencyShow(p: Platform, _ctx: RequestContext, input: { idOrCode: string }) {
    return isUuid(input.idOrCode) ? p.agencies.get(input.idOrCode) : p.agencies.getByCode(input.idOrCode);
  },
  /** A year of the working-day calendar; by default the current year in China. */
  async calendarList(p: Platform, _ctx: RequestContext, input: { year?: number }) {
    return p.calendar.year(input.year ?? yearOf(chinaDateOf(p.now())));
  },
  async calendarSet(p: Platform, ctx: RequestContext, input: { date: string; kind: string; name: string }) {
    return p.calendar.setDay(ctx, input.date, { kind: input.kind, name: input.name });
  },
  async calendarClear(p: Platform, ctx: RequestContext, input: { date: string }) {
    return p.calendar.clearDay(ctx, input.date);
  },
  /** The CLI reads the file; its entries arrive as they are written and are checked by the service. */
  async calendarImport(p: Platform, ctx: RequestContext, input: { year: number; days: readonly unknown[]; source?: string }) {
    return p.calendar.importYear(ctx, input.year, { days: input.days, source: input.source });
  },
  async calendarDeadline(p: Platform, _ctx: RequestContext, input: { from: string; days: number }) {
    const d = await p.calendar.deadline(parseDateOrInstant(input.from, 'from'), input.days);
    return { ...d, dueAt: formatChinaInstant(d.dueAt) };
  },
  async calendarBetween(p: Platform, _ctx: RequestContext, input: { from: string; to: string }) {
    return p.calendar.workingDaysBetween(parseDateOrInstant(input.from, 'from'), parseDateOrInstant(input.to, 'to'));
  },
  async userAdd(p: Platform, ctx: RequestContext, input: UserAddInput) {
    const agencyId = input.agency ? await agencyIdOf(p, input.agency) : null;
    return p.accounts.create(ctx, { username: input.username, displayName: input.displayName, agencyId, roles: parseRoles(input.roles ?? []), email: input.email, phone: input.phone });
  },
  async userList(p: Platform, _ctx: RequestContext, input: { agency?: string; role?: string; limit?: number }) {
    const agencyId = input.agency ? await agencyIdOf(p, input.agency) : undefined;
    return p.accounts.list({ agencyId, role: input.role, limit: input.limit ?? 500 });
  },
  async userResetPassword(p: Platform, ctx: RequestContext, input: { username: string }) {
    const user = await p.accounts.getByName(input.username);
    return p.accounts.resetPassword(ctx, user.id);
  },
  async userRoles(p: Platform, ctx: RequestContext, input: { username: string; roles?: readonly string[] }) {
    const user = await p.accounts.getByName(input.username);
    return input.roles ? p.accounts.setRoles(ctx, user.id, parseRoles(input.roles)) : user;
  },
  async tokenCreate(p: Platform, ctx: RequestContext, input: { username: string; name: string; expiresAt: string; scopes?: readonly string[] }) {
    const user = await p.accounts.getByName(input.username);
    return p.accounts.createToken(ctx, { userId: user.id, name: input.name, expiresAt: new Date(input.expiresAt), scopes: input.scopes });
  },
  async tokenRevoke(p: Platform, ctx: RequestContext, input: { id: string; reason: string }) {
    return p.accounts.revokeToken(ctx, input.id, input.reason);
  },
  /** Checks the whole audit chain and every checkpoint; the check itself is audited. */
  async auditVerify(p: Platform, ctx: RequestContext, _input: Record<string, never>) {
    const report = await p.audit.verify();
    await p.audit.record(ctx, { action: 'audit.verify', targetType: 'auditTrail', outcome: report.ok ? 'success' : 'failure', details: { lastSeq: report.lastSeq, firstBadSeq: report.firstBadSeq, problem: report.problem } });
    return report;
  },
  async auditCheckpoint(p: Platform, _ctx: RequestContext, _input: Record<string, never>) {
    return (await p.audit.checkpoint()) ?? (await p.audit.lastCheckpoint());
  },
  /**
   * Moves the events older than `before` (at least 180 days ago) to a signed archive file at
   * `out` and removes them from the database; audited (`audit.archive`). Through the admin
   * socket the running server writes the file, so `out` is a path on the server's machine.
   */
  async auditArchive(p: Platform, ctx: RequestContext, input: AuditArchiveInput) {
    return p.audit.archive(ctx, { before: new Date(input.before), out: input.out });
  },
  /** The audit signing keys' public keys, to publish for offline verification of archive files. */
  async auditPublicKeys(p: Platform, _ctx: RequestContext, _input: Record<string, never>) {
    return p.audit.publicKeys();
  },
  /** The newest matching events first, `limit` at most; `before` pages on (an event id). The local administrator reads the whole trail, so the reading is itself audited. */
  async auditSearch(p: Platform, ctx: RequestContext, input: AuditExportInput & { limit: number; before?: number }) {
    const { agency, from, to, limit, before, ...rest } = input;
    const agencyId = agency ? await agencyIdOf(p, agency) : undefined;
    const rows = await p.audit.search({ ...rest, agencyId, from: from ? new Date(from) : undefined, to: to ? new Date(to) : undefined, before, limit, order: 'newest' });
    await p.audit.record(ctx, { action: 'audit.search', targetType: 'auditTrail', details: { filters: input, count: rows.length } });
    return rows.map((r) => ({ ...r, at: r.at.toISOString() }));
  },
  async auditExport(p: Platform, ctx: RequestContext, input: AuditExportInput) {
    const { agency, from, to, ...rest } = input;
    const agencyId = agency ? await agencyIdOf(p, agency) : undefined;
    return p.audit.exportCsv(ctx, { ...rest, agencyId, from: from ? new Date(from) : undefined, to: to ? new Date(to) : undefined }, AUDIT_EXPORT_MAX);
  },
  /** Imports a catalog file as the local administrator (docs/catalog-import.md); the report is the result. */
  async catalogImport(p: Platform, ctx: RequestContext, input: CatalogImportInput) {
    const { file, ...options } = input;
    return importCatalogFile(p.catalog, p.agencies, ctx, { path: file }, { ...options, fileName: file.split('/').pop() });
  },
  /**
   * Loads a CSV or NDJSON file into a table resource's shared table as the local administrator,
   * streamed from disk; a rejected file is an outcome (its problems listed), not an error.
   */
  async dataLoad(p: Platform, ctx: RequestContext, input: DataLoadInput) {
    const totalBytes = await stat(input.file).then(
      (s) => s.size,
      (e: NodeJS.ErrnoException) => {
        throw new GsError('GS_ERR_DATA_FILE_UNREADABLE', { location: input.file, reason: `cannot open it (${e.code ?? e.message})`, reasonZh: `无法打开（${e.code ?? e.message}）` });
      },
    );
    if (totalBytes > p.config.dataLoadMaxBytes) throw new GsError('GS_ERR_DATA_FILE_TOO_LARGE', { limit: p.config.dataLoadMaxBytes });
    const format = input.format ?? (/\.(ndjson|jsonl)$/i.test(input.file) ? 'ndjson' : /\.xlsx$/i.test(input.file) ? 'xlsx' : 'csv');
    const file = openDataFile(createReadStream(input.file), { format, encoding: input.encoding, maxBytes: p.config.dataLoadMaxBytes });
    const outcome = await p.exchange.loadRows(ctx, input.resource, file.rows, {
      idempotencyKey: input.idempotencyKey,
      policy: input.policy,
      digest: file.digest,
      details: { format, file: input.file.split('/').pop() ?? input.file, bytes: totalBytes },
      onProgress: input.onProgress ? (n) => input.onProgress?.({ rows: n, bytes: file.bytes(), totalBytes }) : undefined,
    });
    return { ...outcome, format, encoding: file.encoding() };
  },
  /** The explicit migration step for an incompatible catalog change (docs/exchange.md). */
  dataRetireTable: checked(Type.Object({ resource: Text(40), reason: Text(4000) }, { additionalProperties: false }), async (p, ctx, { resource, reason }) => p.exchange.retireTable(ctx, resource, reason)),
  /** Writes the published catalog to `out` as XLSX (the import template), JSON or DCAT-AP JSON-LD. */
  async catalogExport(p: Platform, ctx: RequestContext, input: CatalogExportInput) {
    const source = await exportSource(p.catalog);
    let count = 0;
    const counted = (async function* () {
      for await (const e of source.entries) {
        count++;
        yield e;
      }
    })();
    const counting = { ...source, entries: counted };
    const out = createWriteStream(input.out);
    if (input.format === 'xlsx') {
      const finished = new Promise<void>((resolve, reject) => out.on('finish', () => resolve()).on('error', reject));
      await writeXlsx(out, counting);
      await finished;
    } else {
      const now = p.now();
      await pipeline(Readable.from(input.format === 'json' ? jsonChunks(counting, now) : dcatChunks(counting, input.baseUrl, now)), out);
    }
    await p.audit.record(ctx, { action: 'catalog.export', targetType: 'catalog', details: { format: input.format, count, out: input.out } });
    return { format: input.format, out: input.out, count };
  },
  /**
   * Writes a backup to `out`: a file on this process's machine, or an object `s3://bucket/key`
   * reached with `s3`. Through the admin socket, the running server writes it (the embedded
   * database is open only there), reading the key and credential files it is given.
   */
  async backup(p: Platform, ctx: RequestContext, input: { out: string; keyFile: string; s3?: S3Options }) {
    const key = readBackupKey(input.keyFile);
    if (p.keys.isKey(key)) throw new GsError('GS_ERR_BACKUP_SAME_AS_MASTER_KEY');
    const { target, name } = await openBackupLocation(input.out, input.s3);
    try {
      const result = await createBackup({ db: p.db, kind: p.database.kind, blobDir: backedUpBlobDir(p.config), target, name, key });
      const rows = result.manifest.tables.reduce((n, t) => n + t.rows, 0);
      await p.audit.record(ctx, { action: 'backup.create', targetType: 'backup', targetId: result.file, details: { bytes: result.bytes, sha256: result.sha256, rows, blobs: result.manifest.blobs.length, schemaVersion: result.manifest.schemaVersion } });
      return result;
    } finally {
      target.close();
    }
  },
  // ---- share requests and grants (docs/requests.md); the local administrator may act for any agency

  requestList: checked(RequestListInput, async (p, ctx, input) => {
    sideNeedsAgency(input);
    const agencyId = input.agency ? await agencyIdOf(p, input.agency) : undefined;
    return p.requests.list(ctx.actor, { agencyId, side: input.side, statuses: input.status, resourceCode: input.resource, overdue: input.overdue, before: input.before, limit: input.limit ?? 50 });
  }),
  /** A request and the grant now in force for it, if any. */
  requestShow: checked(RequestKey, async (p, ctx, input) => {
    const request = await p.requests.get(ctx.actor, input.id);
    const grant = request.grantId ? await p.grants.get(ctx.actor, request.grantId) : null;
    return { request, grant };
  }),
  requestHistory: checked(RequestKey, async (p, ctx, input) => p.requests.history(ctx.actor, input.id)),
  requestFile: checked(RequestFileInput, async (p, ctx, input) => {
    const body = checkInput(ShareRequestCreate, input.body, 'body');
    const consumerAgencyId = input.consumer ? await agencyIdOf(p, input.consumer) : body.consumerAgencyId;
    if (input.consumer && body.consumerAgencyId && body.consumerAgencyId !== consumerAgencyId) {
      throw invalidField('consumer', 'sameAgency', `${input.consumer} is not the agency of the file's consumerAgencyId ${body.consumerAgencyId}`);
    }
    if (!consumerAgencyId) throw invalidField('body.consumerAgencyId', 'required', 'name the consumer agency: consumerAgencyId in the file, or --consumer CODE');
    return p.requests.file(ctx, { ...body, consumerAgencyId });
  }),
  requestConformance: checked(Type.Object({ id: Text(64), conforms: Type.Boolean(), comment: Type.Optional(Text(4000)) }, { additionalProperties: false }), async (p, ctx, { id, ...rest }) =>
    p.requests.conformance(ctx, id, rest),
  ),
  requestApprove: checked(Type.Object({ id: Text(64), terms: Type.Optional(Type.Unknown()), comment: Type.Optional(Text(4000)) }, { additionalProperties: false }), async (p, ctx, { id, terms, comment }) =>
    p.requests.approve(ctx, id, { ...(terms === undefined ? {} : { terms: checkInput(GrantTerms, terms, 'terms') }), ...(comment ? { comment } : {}) }),
  ),
  requestRefuse: checked(Type.Object({ id: Text(64), reason: Text(4000), law: Text(500), article: Text(200) }, { additionalProperties: false }), async (p, ctx, { id, reason, law, article }) =>
    p.requests.refuse(ctx, id, { reason, legalBasis: { law, article } }),
  ),
  requestAskInfo: checked(Type.Object({ id: Text(64), question: Text(4000) }, { additionalProperties: false }), async (p, ctx, { id, question }) => p.requests.askInfo(ctx, id, { question })),
  requestReply: checked(Type.Object({ id: Text(64), answer: Text(4000), attachments: Type.Optional(Type.Array(AttachmentRef, { maxItems: 20 })) }, { additionalProperties: false }), async (p, ctx, { id, answer, attachments }) =>
    p.requests.reply(ctx, id, { answer, ...(attachments ? { attachments } : {}) }),
  ),
  requestWithdraw: checked(WithReason, async (p, ctx, { id, reason }) => p.requests.withdraw(ctx, id, { reason })),
  requestDispute: checked(WithReason, async (p, ctx, { id, reason }) => p.requests.dispute(ctx, id, { reason })),
  requestArbitrate: checked(
    Type.Object({ id: Text(64), outcome: literals(ARBITRATION_OUTCOMES), comment: Text(4000), terms: Type.Optional(Type.Unknown()) }, { additionalProperties: false }),
    async (p, ctx, { id, outcome, comment, terms }) => p.requests.arbitrate(ctx, id, { outcome, comment, ...(terms === undefined ? {} : { terms: checkInput(GrantTerms, terms, 'terms') }) }),
  ),
  /** One pass of the deadline sweep `serve` runs every GOVSHARE_REQUEST_SWEEP_SECONDS; safe beside a running one. */
  requestSweep: checked(Type.Object({}, { additionalProperties: false }), async (p) => sweepOnce(p.requests, p.grants, p.config.grantExpiryReminderDays)),
  requestStats: checked(Type.Object({ from: Type.Optional(Day), to: Type.Optional(Day), agency: Type.Optional(AgencyKey) }, { additionalProperties: false }), async (p, ctx, input) => {
    const agencyId = input.agency ? await agencyIdOf(p, input.agency) : undefined;
    return p.requests.statistics(ctx.actor, { from: input.from, to: input.to, agencyId });
  }),
  grantList: checked(GrantListInput, async (p, ctx, input) => {
    sideNeedsAgency(input);
    const agencyId = input.agency ? await agencyIdOf(p, input.agency) : undefined;
    return p.grants.list(ctx.actor, { agencyId, side: input.side, systemId: input.system, resourceCode: input.resource, method: input.method, statuses: input.status, endingBy: input.endingBy, after: input.after, limit: input.limit ?? 50 });
  }),
  /** A grant and what happened to it. */
  grantShow: checked(Type.Object({ id: Text(64) }, { additionalProperties: false }), async (p, ctx, input) => {
    const grant = await p.grants.get(ctx.actor, input.id);
    return { grant, events: await p.grants.events([grant.id]) };
  }),
  grantSuspend: checked(WithReason, async (p, ctx, { id, reason }) => p.grants.suspend(ctx, id, { reason })),
  grantReinstate: checked(WithReason, async (p, ctx, { id, reason }) => p.grants.reinstate(ctx, id, { reason })),
  grantRevoke: checked(WithReason, async (p, ctx, { id, reason }) => p.grants.revoke(ctx, id, { reason })),
  /**
   * What the exchange would decide now for (system, resource, method): the grant in force, or its
   * refusal as the error the exchange answers with. Through the admin socket, the running server's
   * cached check answers, so this also shows what that server currently holds.
   */
  grantCheck: checked(Type.Object({ system: Uuid, resource: Text(40), method: literals(GRANT_METHODS) }, { additionalProperties: false }), async (p, _ctx, { system, resource, method }) => {
    const decision = await p.grantCheck.check(system, resource, method);
    if (!decision.allowed) throw refusalError(decision, system, resource, method);
    return decision.grant;
  }),
  /** A renewal is a new share request with the grant's terms and a later end, reviewed like any other. */
  grantRenew: checked(Type.Object({ id: Text(64), until: Day, comment: Type.Optional(Text(4000)) }, { additionalProperties: false }), async (p, ctx, { id, until, comment }) =>
    p.requests.renew(ctx, id, { validUntil: until, ...(comment ? { comment } : {}) }),
  ),
  // ---- attachments (docs/attachments.md)
  /** Stores a file for an agency (or for the platform); through the admin socket the server reads the path. */
  attachmentUpload: checked(AttachmentUploadInput, async (p, ctx, input) => {
    const agencyId = input.agency ? await agencyIdOf(p, input.agency) : undefined;
    const fileName = input.fileName ?? basename(input.file);
    const body = await openFile(input.file, 'file');
    return p.attachments.upload(ctx, { fileName, contentType: input.contentType ?? mediaTypeOfName(fileName), body, ...(agencyId ? { agencyId } : {}) });
  }),
  attachmentShow: checked(Type.Object({ id: Uuid }, { additionalProperties: false }), async (p, ctx, { id }) => p.attachments.get(ctx.actor, id)),
  /** Writes an attachment's content to `out` (checked against its SHA-256 as it streams; audited). */
  attachmentDownload: checked(Type.Object({ id: Uuid, out: Text(4096) }, { additionalProperties: false }), async (p, ctx, { id, out }) => {
    const handle = await open(out, 'wx').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') throw invalidField('out', 'new', `${out} exists; give a new file name`);
      throw e;
    });
    try {
      const { attachment, content } = await p.attachments.open(ctx, id);
      await pipeline(content, handle.createWriteStream());
      return { attachment, out };
    } catch (e) {
      // Not found, a damaged blob (GS_ERR_BLOB_CORRUPT) or a failed write: no file is left behind.
      await handle.close().catch(() => undefined);
      await rm(out, { force: true });
      throw e;
    }
  }),
  // ---- webhooks and deliveries (docs/notifications.md)
  webhookList: checked(
    Type.Object({ agency: Type.Optional(AgencyKey), platform: Type.Optional(Type.Boolean()), after: Type.Optional(Uuid), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }, { additionalProperties: false }),
    async (p, ctx, input) => {
      if (input.agency && input.platform) throw invalidField('platform', 'exclusive', 'give --agency or --platform, not both');
      const agencyId = input.agency ? await agencyIdOf(p, input.agency) : input.platform ? null : undefined;
      return p.notifications.listWebhooks(ctx.actor, { agencyId, after: input.after, limit: input.limit ?? 50 });
    },
  ),
  webhookAdd: checked(WebhookAddInput, async (p, ctx, input) => {
    const agencyId = input.agency ? await agencyIdOf(p, input.agency) : null;
    return p.notifications.createWebhook(ctx, { url: input.url, agencyId, ...(input.description !== undefined ? { description: input.description } : {}), ...(input.kinds ? { kinds: input.kinds } : {}), ...(input.active !== undefined ? { active: input.active } : {}) });
  }),
  /** A webhook and its latest deliveries. */
  webhookShow: checked(Type.Object({ id: Uuid, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }, { additionalProperties: false }), async (p, ctx, { id, limit }) => ({
    webhook: await p.notifications.getWebhook(ctx.actor, id),
    deliveries: (await p.notifications.webhookDeliveries(ctx.actor, id, { limit: limit ?? 10 })).items,
  })),
  webhookUpdate: checked(WebhookUpdateInput, async (p, ctx, { id, ...patch }) => p.notifications.updateWebhook(ctx, id, patch)),
  webhookRemove: checked(Type.Object({ id: Uuid }, { additionalProperties: false }), async (p, ctx, { id }) => {
    await p.notifications.deleteWebhook(ctx, id);
    return { id, removed: true };
  }),
  webhookTest: checked(Type.Object({ id: Uuid }, { additionalProperties: false }), async (p, ctx, { id }) => p.notifications.testWebhook(ctx, id)),
  deliveryList: checked(
    Type.Object(
      {
        status: Type.Optional(literals(DELIVERY_STATUSES)),
        channel: Type.Optional(literals(DELIVERY_CHANNELS)),
        webhook: Type.Optional(Uuid),
        before: Type.Optional(Type.Integer({ minimum: 1 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
      },
      { additionalProperties: false },
    ),
    async (p, ctx, input) => {
      const q = { status: input.status, channel: input.channel, before: input.before, limit: input.limit ?? 50 };
      return input.webhook ? p.notifications.webhookDeliveries(ctx.actor, input.webhook, q) : p.notifications.listDeliveries(q);
    },
  ),
  deliveryShow: checked(Type.Object({ id: Uuid }, { additionalProperties: false }), async (p, _ctx, { id }) => p.notifications.getDelivery(id)),
  deliveryRetry: checked(Type.Object({ id: Uuid }, { additionalProperties: false }), async (p, ctx, { id }) => p.notifications.retryDelivery(ctx, id)),
} as const;

export type AdminOperationName = keyof typeof ADMIN_OPERATIONS;
export type AdminOperationInput<N extends AdminOperationName> = Parameters<(typeof ADMIN_OPERATIONS)[N]>[2];
export type AdminOperationResult<N extends AdminOperationName> = Awaited<ReturnType<(typeof ADMIN_OPERATIONS)[N]>>;

export function isAdminOperation(name: string): name is AdminOperationName {
  return Object.hasOwn(ADMIN_OPERATIONS, name);
}

/** Runs a named operation as the local administrator `osUser`. */
export async function runAdminOperation(platform: Platform, name: string, input: unknown, osUser: string): Promise<unknown> {
  if (!isAdminOperation(name)) throw new GsError('GS_ERR_REQUEST_INVALID', { summary: `unknown admin operation ${name}` });
  const ctx = cliContext(osUser, new Set(PERMISSIONS));
  const op = ADMIN_OPERATIONS[name] as (p: Platform, c: RequestContext, i: unknown) => Promise<unknown>;
  return op(platform, ctx, input);
}
