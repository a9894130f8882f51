import type { Db } from '../../db/database.js';
import { GsError } from '../../lib/errors.js';
import { localisedText } from '../../lib/language-tag.js';
import { checkVersion } from '../../lib/records.js';
import { isUuid, newId } from '../../lib/secrets.js';
import { chinaDateOf } from '../../lib/working-calendar.js';
import type { Actor, RequestContext } from '../../server/actor.js';
import type { AuditService } from '../audit/service.js';
import type { IndexedProvider, SearchableEntry } from './search.js';
import { blocking, conformanceFindings, type Finding } from './conformance.js';
import { classificationCode, RESOURCE_CODE_PATTERN, resourceCode, type DataItem, type EntryContent } from './content.js';
import { diffContent, type FieldChange } from './diff.js';
import { extensionProblem, isCalendarDate, normaliseContent, type ExtensionDeclaration } from './normalise.js';
import { Value } from 'typebox/value';
import { EntryContentInput, type EntryView, type ExtensionField, type ExtensionFieldCreate, type ExtensionFieldPatch, type VersionView } from './schemas.js';
import { CatalogStore, type EntryQuery, type EntryRow, type ExtensionFieldRow, type StoredVersion, type VersionRow } from './store.js';
import {
  FORMAT_TYPE_ZH,
  isOneOf,
  OPEN_STATES,
  REVISION_WORKING_DAYS,
  type ChangeKind,
  type EntryStatus,
  type ExtensionType,
  type OpenState,
  type RevisionCause,
  type ShareType,
  type VersionState,
} from './vocabulary.js';

/** What the catalog needs of the agencies module. */
export interface ProviderLookup {
  get(id: string, lang?: string): Promise<{ readonly id: string; readonly code: string; readonly name: string }>;
  /** Throws GS_ERR_AGENCY_NOT_FOUND / GS_ERR_AGENCY_INACTIVE. */
  requireActive(id: string, executor?: Db): Promise<IndexedProvider>;
}

/** The search index (search.ts), kept in step with publications inside their transactions. */
export interface CatalogIndex {
  index(entry: SearchableEntry, trx: Db): Promise<void>;
  /** Many at once: an import publishing a migrated catalog. */
  indexMany(entries: readonly SearchableEntry[], trx: Db): Promise<void>;
  remove(entryId: string, trx: Db): Promise<void>;
}

/** A table resource's version in force, as the exchange needs it. */
export interface TablePublished {
  readonly entryId: string;
  readonly agencyId: string;
  readonly resourceCode: string;
  readonly version: number;
  readonly dataItems: readonly DataItem[];
}

/**
 * The exchange's shared tables (exchange/service.ts), kept in step with the publications of table
 * resources inside their transactions: a refusal (a version the table cannot follow) refuses the
 * publication.
 */
export interface SharedTableHook {
  published(p: TablePublished, trx: Db): Promise<void>;
  /** Many at once (an import publishing a migrated catalog): registered, each physical table created at its first use. */
  publishedMany(ps: readonly TablePublished[], trx: Db): Promise<void>;
  withdrawn(resourceCode: string, trx: Db): Promise<void>;
}

/** What the catalog needs of the working-day calendar (CalendarService: weekends, public holidays, 调休). */
export interface WorkingDayCalendar {
  /** The deadline of `days` working days for something that happened on `received` (YYYY-MM-DD, China time; that day not counted). */
  deadline(received: string, days: number, executor?: Db): Promise<{ readonly dueDate: string; readonly provisional: boolean }>;
}

/** A published entry as other modules read it: the version in force and its typed data items. */
export interface PublishedEntry {
  readonly entryId: string;
  readonly resourceCode: string;
  readonly provider: { readonly id: string; readonly code: string; readonly name: string };
  readonly version: number;
  readonly content: EntryContent;
  readonly publishDate: string;
}

export interface ChangeFeedItem {
  readonly seq: number;
  readonly kind: ChangeKind;
  readonly entryId: string;
  readonly resourceCode: string;
  readonly version: number;
  readonly at: string;
  readonly reason: string | null;
}

export interface HistoryItem {
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly version: number | null;
  readonly comment: string | null;
  readonly details: Record<string, unknown>;
}

/** One resource of an import, as the import module read it from its rows. */
export interface ImportCandidate {
  /** The provider agency (the import module resolved the 提供方 cell). */
  readonly agencyId: string;
  readonly content: EntryContentInput;
  /** Publish mode only: the code the resource already has in the catalog being migrated. */
  readonly resourceCode: string | null;
  /** Publish mode only: the date it was published there (YYYY-MM-DD). */
  readonly publishDate: string | null;
}

export interface ImportOptions {
  /** Publish directly (migrating an already-approved catalog): supervisor or the local administrator; audited as such. */
  readonly publish: boolean;
  /** Write the candidates that passed, even if others failed. */
  readonly partial: boolean;
  /** Check everything, write nothing. */
  readonly dryRun: boolean;
  /** Names the import in every event and in the audit trail. */
  readonly importId: string;
  /** What the file was (for the audit record). */
  readonly source: Readonly<Record<string, string | number | null>>;
  /** Candidates the caller already found wrong (unreadable cells): checked, never written. */
  readonly exclude?: readonly boolean[] | undefined;
  /** Called as candidates are checked and written; throwing from it aborts the import (nothing is written). */
  readonly onProgress?: ((p: { readonly phase: 'validating' | 'writing'; readonly done: number; readonly total: number }) => void) | undefined;
}

/** A problem of one candidate; `field` is a content path (`content.dataItems.2.length`) or `agencyId`, `resourceCode`, `publishDate`. */
export interface CandidateProblem {
  readonly field: string;
  readonly rule: string;
  readonly message: string;
  readonly messageZh: string;
}

export interface ImportOutcome {
  /** Per candidate, in order: the problems (empty: it passed). */
  readonly problems: readonly (readonly CandidateProblem[])[];
  /** Per candidate: the entry written, or null (failed, dry run, or not written because others failed). */
  readonly written: readonly ({ readonly entryId: string; readonly resourceCode: string | null } | null)[];
}

/** How many entries one multi-row statement batch writes. */
const IMPORT_CHUNK = 500;

const STATE_ZH: Readonly<Record<VersionState | EntryStatus, string>> = {
  draft: '为草稿',
  submitted: '待审核',
  returned: '已退回',
  published: '已发布',
  superseded: '已被新版本替代',
  withdrawn: '已撤销',
  discarded: '已作废',
  unpublished: '未发布',
};
const ACTION_ZH = {
  edit: '编辑',
  submit: '提交审核',
  publish: '发布',
  return: '退回',
  withdraw: '撤销',
  'record a revision notice': '登记修订事由',
} as const;
type StateAction = keyof typeof ACTION_ZH;

/** The PostgreSQL column type a data item becomes in the exchange's shared table. */
export function sqlTypeOf(d: DataItem): string {
  switch (d.dataType) {
    case 'string':
      return `varchar(${d.length ?? 1})`;
    case 'integer':
      // bigint: agency counters and identifiers outgrow 32 bits.
      return 'bigint';
    case 'decimal':
      return `numeric(${d.precision ?? 38},${d.scale ?? 0})`;
    case 'date':
      return 'date';
    case 'datetime':
      return 'timestamptz';
    case 'boolean':
      return 'boolean';
  }
}

function stateError(id: string, state: VersionState | EntryStatus, action: StateAction): GsError {
  return new GsError('GS_ERR_CATALOG_STATE', { id, state, stateZh: STATE_ZH[state], action, actionZh: ACTION_ZH[action] });
}

const isOpen = (state: string): state is OpenState => isOneOf(OPEN_STATES, state);

/**
 * The catalog (目录系统): entries with the core metadata of GB/T 21063.3, their versions and
 * review, the not-shared list, the change feed and revision deadlines. README.md beside this
 * file states the invariants (one open version, one published version, feed order).
 */
export class CatalogService {
  readonly #store: CatalogStore;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly agencies: ProviderLookup,
    private readonly calendar: WorkingDayCalendar,
    private readonly now: () => Date = () => new Date(),
    /** The search index; none in tests that build the service alone. */
    private readonly search: CatalogIndex | null = null,
    /** The exchange's shared tables; none in tests that build the service alone. */
    private readonly tables: SharedTableHook | null = null,
  ) {
    this.#store = new CatalogStore(db);
  }

  // ---- who may do what ---------------------------------------------------------------------

  /** The supervisor, the CLI and the platform see every agency's drafts. */
  #seesAll(actor: Actor): boolean {
    return actor.type === 'cli' || actor.type === 'system' || actor.permissions.has('catalog:review');
  }

  /** An agency's drafts are seen by its own people and by those who see all. */
  #seesDrafts(actor: Actor, agencyId: string): boolean {
    return this.#seesAll(actor) || actor.agencyId === agencyId;
  }

  #checkEditor(actor: Actor, agencyId: string): void {
    if (actor.type === 'cli' || actor.type === 'system') return;
    if (!actor.permissions.has('catalog:edit')) throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: 'catalog:edit' });
    if (actor.agencyId !== agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
  }

  #checkReviewer(actor: Actor): void {
    if (actor.type === 'cli' || actor.type === 'system') return;
    if (!actor.permissions.has('catalog:review')) throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: 'catalog:review' });
  }

  /** An entry by id or resource code; one never published is "not found" to those who may not see drafts. */
  async #require(actor: Actor, idOrCode: string, executor: Db = this.db, forUpdate = false): Promise<EntryRow> {
    let row: EntryRow | undefined;
    if (isUuid(idOrCode)) row = await this.#store.entryById(idOrCode, executor, forUpdate);
    else if (idOrCode.includes('/')) {
      const byCode = await this.#store.entryByCode(idOrCode, executor);
      row = byCode && forUpdate ? await this.#store.entryById(byCode.id, executor, true) : byCode;
    }
    if (!row || (row.resourceCode === null && !this.#seesDrafts(actor, row.agencyId))) {
      throw new GsError('GS_ERR_CATALOG_ENTRY_NOT_FOUND', { id: idOrCode });
    }
    return row;
  }

  async #requireVersion(entryId: string, number: number, executor: Db = this.db): Promise<StoredVersion> {
    const v = await this.#store.version(entryId, number, executor);
    if (!v) throw new GsError('GS_ERR_CATALOG_VERSION_NOT_FOUND', { id: entryId, version: number });
    return v;
  }

  /** `field`: where the provider comes from — the request's agencyId, or the stored entry's provider. */
  async #provider(agencyId: string, executor: Db, field = 'body.agencyId'): Promise<void> {
    await this.agencies.requireActive(agencyId, executor).catch((e: unknown) => {
      if (e instanceof GsError && (e.code === 'GS_ERR_AGENCY_NOT_FOUND' || e.code === 'GS_ERR_AGENCY_INACTIVE')) {
        const [reason, reasonZh] = e.code === 'GS_ERR_AGENCY_NOT_FOUND' ? ['no such agency', '单位不存在'] : ['the agency is deactivated', '单位已停用'];
        throw new GsError('GS_ERR_CATALOG_PROVIDER_INVALID', { agencyId, reason, reasonZh }, [{ field, rule: 'activeAgency', message: reason, messageZh: reasonZh }]);
      }
      throw e;
    });
  }

  async #declarations(executor: Db): Promise<ExtensionDeclaration[]> {
    return (await this.#store.extensionFields(true, executor)).map((f) => ({ key: f.key, labelZh: f.labelZh, type: f.type as ExtensionType, required: f.required, allowedValues: f.allowedValues }));
  }

  async #content(input: EntryContentInput, executor: Db): Promise<EntryContent> {
    return normaliseContent(input, await this.#declarations(executor));
  }

  /** The conformance findings of a content, with the lookups the pure rules need. */
  async #findings(content: EntryContent, entry: EntryRow, executor: Db = this.db, declarations?: readonly ExtensionDeclaration[]): Promise<Finding[]> {
    const relatedCodes = await this.#store.codeStates(content.relatedCodes, executor);
    return conformanceFindings(content, { relatedCodes, ownCode: entry.resourceCode, extensionFields: declarations ?? (await this.#declarations(executor)) });
  }

  async #event(ctx: RequestContext, entryId: string, versionNumber: number | null, action: string, at: Date, trx: Db, comment: string | null = null, details: Record<string, unknown> = {}): Promise<void> {
    await this.#store.appendEvent({ entryId, versionNumber, action, actorName: ctx.actor.name, actorUserId: ctx.actor.userId, at, requestId: ctx.requestId, comment, details }, trx);
    await this.audit.record(ctx, { action, targetType: 'catalogEntry', targetId: entryId, details: { version: versionNumber, ...(comment ? { comment } : {}), ...details } }, trx);
  }

  // ---- editing -----------------------------------------------------------------------------

  /** A new entry with its first version as a draft. Catalogers: for their own agency. */
  async create(ctx: RequestContext, input: { agencyId?: string | undefined; content: EntryContentInput }, lang?: string): Promise<EntryView> {
    const agencyId = input.agencyId ?? ctx.actor.agencyId;
    if (!agencyId) {
      throw new GsError('GS_ERR_CATALOG_PROVIDER_INVALID', { agencyId: '(none)', reason: 'give agencyId', reasonZh: '请指定提供方单位' }, [{ field: 'body.agencyId', rule: 'required', message: 'give agencyId', messageZh: '请指定提供方单位' }]);
    }
    this.#checkEditor(ctx.actor, agencyId);
    if (!isUuid(agencyId)) {
      throw new GsError('GS_ERR_CATALOG_PROVIDER_INVALID', { agencyId, reason: 'no such agency', reasonZh: '单位不存在' }, [{ field: 'body.agencyId', rule: 'activeAgency', message: 'no such agency', messageZh: '单位不存在' }]);
    }
    const now = this.now();
    const id = newId();
    await this.db.transaction().execute(async (trx) => {
      await this.#provider(agencyId, trx);
      const content = await this.#content(input.content, trx);
      await this.#store.insertEntry({ id, agencyId, createdBy: ctx.actor.name }, now, trx);
      await this.#store.insertVersion(id, 1, content, ctx.actor.name, now, trx);
      await this.#event(ctx, id, 1, 'catalog.create', now, trx, null, { nameZh: content.nameZh, agencyId });
    });
    return this.get(ctx.actor, id, lang);
  }

  /**
   * Replaces the content of the open version (a draft or a returned one). On a published entry
   * without an open version this starts the next version, while the published one stays in force.
   */
  async saveDraft(ctx: RequestContext, id: string, input: { content: EntryContentInput; expectedVersion: number }, lang?: string): Promise<EntryView> {
    const now = this.now();
    const entryId = await this.db.transaction().execute(async (trx) => {
      const entry = await this.#require(ctx.actor, id, trx, true);
      this.#checkEditor(ctx.actor, entry.agencyId);
      checkVersion(input.expectedVersion, entry.version);
      if (entry.status === 'withdrawn') throw stateError(entry.id, 'withdrawn', 'edit');
      const content = await this.#content(input.content, trx);
      if (entry.resourceCode && content.classification) {
        const fixed = entry.resourceCode.split('/')[0]!;
        if (classificationCode(content.classification) !== fixed) {
          throw new GsError('GS_ERR_CATALOG_CLASSIFICATION_FROZEN', { code: entry.resourceCode }, [
            { field: 'body.content.classification', rule: 'frozen', message: `must stay ${fixed}`, messageZh: `须保持为 ${fixed}` },
          ]);
        }
      }
      if (entry.openVersion !== null) {
        const open = await this.#requireVersion(entry.id, entry.openVersion, trx);
        if (open.row.state === 'submitted') throw stateError(entry.id, 'submitted', 'edit');
        await this.#store.replaceContent(entry.id, entry.openVersion, content, now, trx);
        await this.#store.updateEntry(entry.id, {}, now, trx);
        await this.#event(ctx, entry.id, entry.openVersion, 'catalog.update', now, trx);
      } else {
        const number = entry.latestVersion + 1;
        await this.#store.insertVersion(entry.id, number, content, ctx.actor.name, now, trx);
        await this.#store.updateEntry(entry.id, { openVersion: number, latestVersion: number }, now, trx);
        await this.#event(ctx, entry.id, number, 'catalog.revise', now, trx, null, { basedOn: entry.publishedVersion });
      }
      return entry.id;
    });
    return this.get(ctx.actor, entryId, lang);
  }

  /** Sends the open version to the supervisor. Refused while it has error findings. */
  async submit(ctx: RequestContext, id: string, expectedVersion?: number, lang?: string): Promise<EntryView> {
    const now = this.now();
    const entryId = await this.db.transaction().execute(async (trx) => {
      const entry = await this.#require(ctx.actor, id, trx, true);
      this.#checkEditor(ctx.actor, entry.agencyId);
      checkVersion(expectedVersion, entry.version);
      const open = await this.#open(entry, 'submit', trx);
      if (open.row.state === 'submitted') throw stateError(entry.id, 'submitted', 'submit');
      await this.#provider(entry.agencyId, trx, 'provider');
      this.#refuseBlocking(entry, open.row.number, await this.#findings(open.content, entry, trx));
      await this.#store.setVersion(entry.id, open.row.number, { state: 'submitted', submittedBy: ctx.actor.name, submittedAt: now }, now, trx);
      await this.#store.updateEntry(entry.id, {}, now, trx);
      await this.#event(ctx, entry.id, open.row.number, 'catalog.submit', now, trx);
      return entry.id;
    });
    return this.get(ctx.actor, entryId, lang);
  }

  async #open(entry: EntryRow, action: StateAction, trx: Db): Promise<StoredVersion> {
    if (entry.openVersion === null) throw stateError(entry.id, entry.status as EntryStatus, action);
    return this.#requireVersion(entry.id, entry.openVersion, trx);
  }

  #refuseBlocking(entry: EntryRow, version: number, findings: readonly Finding[]): void {
    const errors = blocking(findings);
    if (errors.length === 0) return;
    throw new GsError(
      'GS_ERR_CATALOG_NOT_CONFORMANT',
      {
        id: entry.id,
        version,
        count: errors.length,
        summary: errors.map((f) => `${f.field}: ${f.message}`).join('; '),
        summaryZh: errors.map((f) => `${f.field}：${f.messageZh}`).join('；'),
        findings: errors,
      },
      errors.map((f) => ({ field: `body.${f.field}`, rule: f.rule, message: f.message, messageZh: f.messageZh })),
    );
  }

  // ---- import (import-file.ts reads the file) -----------------------------------------------------

  /**
   * Checks every candidate by the rules of create, submit and (with `publish`) publish — access,
   * provider, content, conformance, codes — and then writes them all in one transaction, or none
   * if any failed (unless `partial`). Drafts by default; `publish` puts them in force directly,
   * confirming the legal basis of not-shared entries, for migrating an approved catalog.
   * Expected failures are values in the outcome; only a broken database throws.
   */
  async importEntries(ctx: RequestContext, candidates: readonly ImportCandidate[], options: ImportOptions): Promise<ImportOutcome> {
    if (options.publish) this.#checkReviewer(ctx.actor);
    else if (ctx.actor.type !== 'cli' && ctx.actor.type !== 'system' && !ctx.actor.permissions.has('catalog:edit')) throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: 'catalog:edit' });
    const declarations = await this.#declarations(this.db);
    const today = chinaDateOf(this.now());
    const problems: CandidateProblem[][] = candidates.map(() => []);
    const contents: (EntryContent | null)[] = candidates.map(() => null);
    const agencyState = new Map<string, CandidateProblem | null>();
    const given = candidates.map((c) => c.resourceCode).filter((c): c is string => c !== null);
    const inCatalog = await this.#store.codesInUse(given);
    const relatedInCatalog = await this.#store.codeStates([...new Set(candidates.flatMap((c) => c.content.relatedCodes ?? []))]);
    const firstWithCode = new Map<string, number>();
    const report = (done: number, phase: 'validating' | 'writing', total: number): void => options.onProgress?.({ phase, done, total });

    for (const [i, c] of candidates.entries()) {
      const bad = (field: string, rule: string, message: string, messageZh: string): void => void problems[i]!.push({ field, rule, message, messageZh });
      if (!(ctx.actor.type === 'cli' || ctx.actor.type === 'system' || options.publish) && ctx.actor.agencyId !== c.agencyId) {
        bad('agencyId', 'ownAgency', 'a cataloger imports only their own agency’s resources', '编目人员只能导入本单位的资源');
      }
      if (!agencyState.has(c.agencyId)) {
        agencyState.set(
          c.agencyId,
          await this.#provider(c.agencyId, this.db).then(
            () => null,
            (e: unknown) => {
              if (e instanceof GsError && e.code === 'GS_ERR_CATALOG_PROVIDER_INVALID') return { field: 'agencyId', rule: 'activeAgency', message: String(e.params.reason), messageZh: String(e.params.reasonZh) };
              throw e;
            },
          ),
        );
      }
      const agencyProblem = agencyState.get(c.agencyId);
      if (agencyProblem) problems[i]!.push(agencyProblem);
      if (options.exclude?.[i]) bad('excluded', 'excluded', 'cells of this resource could not be read', '该资源有无法读取的单元格');
      // The HTTP edge checks its JSON against the schema; an import's content is checked here.
      const shape = schemaProblems(c.content);
      if (shape.length > 0) {
        problems[i]!.push(...shape);
        continue;
      }
      try {
        contents[i] = normaliseContent(c.content, declarations);
      } catch (e) {
        if (!(e instanceof GsError) || !e.fields) throw e;
        for (const f of e.fields) bad(f.field.replace(/^body\./, ''), f.rule, f.message, f.messageZh ?? f.message);
      }
      if (c.resourceCode !== null) {
        if (!options.publish) bad('resourceCode', 'assignedAtPublication', 'a draft gets its resource code when first published; leave 资源代码 empty, or import an approved catalog with the publish option', '草稿在首次发布时才分配资源代码：请留空资源代码，或以直接发布方式导入已审核的目录');
        else if (!new RegExp(RESOURCE_CODE_PATTERN).test(c.resourceCode)) bad('resourceCode', 'pattern', `${c.resourceCode} is not a resource code (classification code/6-digit sequence)`, `${c.resourceCode} 不是资源代码（分类代码/6 位顺序码）`);
        else if (inCatalog.has(c.resourceCode)) bad('resourceCode', 'unique', `resource code ${c.resourceCode} is already in the catalog`, `资源代码 ${c.resourceCode} 在目录中已存在`);
        else if (firstWithCode.has(c.resourceCode)) bad('resourceCode', 'unique', `resource code ${c.resourceCode} appears twice in the file (first at resource ${firstWithCode.get(c.resourceCode)! + 1})`, `资源代码 ${c.resourceCode} 在文件中重复（首次见于第 ${firstWithCode.get(c.resourceCode)! + 1} 个资源）`);
        else {
          firstWithCode.set(c.resourceCode, i);
          const content = contents[i];
          if (content?.classification && c.resourceCode.split('/')[0] !== classificationCode(content.classification)) {
            bad('resourceCode', 'classification', `the code must start with the classification code ${classificationCode(content.classification)}`, `资源代码须以分类代码 ${classificationCode(content.classification)} 开头`);
          }
        }
      }
      if (c.publishDate !== null) {
        if (!options.publish) bad('publishDate', 'assignedAtPublication', 'the publish date is set when the supervisor publishes; leave 发布日期 empty', '发布日期在审核发布时确定，请留空');
        else if (!isCalendarDate(c.publishDate)) bad('publishDate', 'format', `${c.publishDate} is not a date YYYY-MM-DD`, `${c.publishDate} 不是 YYYY-MM-DD 格式的日期`);
        else if (c.publishDate > today) bad('publishDate', 'maximum', 'the publish date is in the future', '发布日期晚于今天');
      }
      if (i % 1000 === 999) report(i + 1, 'validating', candidates.length);
    }

    // Conformance, with the codes of this file counted as published in publish mode: a
    // migrated catalog names its own resources. A code of a failed candidate does not count.
    let passing = new Set(candidates.map((_, i) => i).filter((i) => problems[i]!.length === 0));
    const findingsOf = (i: number): Finding[] => {
      const content = contents[i]!;
      const related = new Map(relatedInCatalog);
      if (options.publish) for (const [code, j] of firstWithCode) if (passing.has(j)) related.set(code, 'published');
      return blocking(conformanceFindings(content, { relatedCodes: related, ownCode: candidates[i]!.resourceCode, extensionFields: declarations }));
    };
    for (const i of [...passing]) for (const f of findingsOf(i)) problems[i]!.push({ field: f.field, rule: f.rule, message: f.message, messageZh: f.messageZh });
    passing = new Set([...passing].filter((i) => problems[i]!.length === 0));
    // A resource naming a file code that failed fails too; repeat until nothing changes.
    for (let changed = options.publish; changed; ) {
      changed = false;
      for (const i of [...passing]) {
        const findings = findingsOf(i);
        if (findings.length > 0) {
          for (const f of findings) problems[i]!.push({ field: f.field, rule: f.rule, message: f.message, messageZh: f.messageZh });
          passing.delete(i);
          changed = true;
        }
      }
    }
    report(candidates.length, 'validating', candidates.length);

    const written: ({ entryId: string; resourceCode: string | null } | null)[] = candidates.map(() => null);
    const failed = candidates.length - passing.size;
    if (options.dryRun || passing.size === 0 || (failed > 0 && !options.partial)) return { problems, written };

    const now = this.now();
    const order = [...passing].sort((a, b) => a - b);
    await this.db.transaction().execute(async (trx) => {
      // Lock order as in #publish: sequence rows, then the feed counter.
      const codes = new Map<number, string>();
      if (options.publish) {
        const maxGiven = new Map<string, number>();
        for (const i of order) {
          const code = candidates[i]!.resourceCode;
          if (!code) continue;
          const [prefix, seq] = code.split('/') as [string, string];
          maxGiven.set(prefix, Math.max(maxGiven.get(prefix) ?? 0, Number(seq)));
          codes.set(i, code);
        }
        for (const [prefix, used] of [...maxGiven].sort()) await this.#store.reserveSequence(prefix, used, trx);
        const byPrefix = new Map<string, number[]>();
        for (const i of order) {
          if (codes.has(i)) continue;
          const prefix = classificationCode(contents[i]!.classification!);
          byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), i]);
        }
        for (const [prefix, members] of [...byPrefix].sort(([a], [b]) => a.localeCompare(b))) {
          const first = await this.#store.nextSequences(prefix, members.length, trx);
          if (first + members.length - 1 > 999_999) throw new GsError('GS_ERR_CATALOG_CODES_EXHAUSTED', { classification: prefix });
          members.forEach((i, k) => codes.set(i, resourceCode(prefix, first + k)));
        }
      }
      const firstSeq = options.publish ? await this.#store.allocateFeedSeqs(order.length, trx) : 0;
      for (let at = 0; at < order.length; at += IMPORT_CHUNK) {
        const chunk = order.slice(at, at + IMPORT_CHUNK);
        const events: Parameters<CatalogStore['appendEvents']>[0][number][] = [];
        const audits: { action: string; targetType: string; targetId: string; details: Record<string, unknown> }[] = [];
        const event = (entryId: string, action: string, details: Record<string, unknown>): void => {
          events.push({ entryId, versionNumber: 1, action, actorName: ctx.actor.name, actorUserId: ctx.actor.userId, at: now, requestId: ctx.requestId, comment: null, details });
          audits.push({ action, targetType: 'catalogEntry', targetId: entryId, details: { version: 1, ...details } });
        };
        const rows = chunk.map((i, k) => {
          const id = newId();
          const content = contents[i]!;
          const c = candidates[i]!;
          const code = codes.get(i) ?? null;
          written[i] = { entryId: id, resourceCode: code };
          event(id, 'catalog.create', { nameZh: content.nameZh, agencyId: c.agencyId, importId: options.importId });
          if (!options.publish) {
            return { entry: { id, agencyId: c.agencyId, createdBy: ctx.actor.name, status: 'unpublished' as const, resourceCode: null, publishedVersion: null, openVersion: 1 }, content, version: { state: 'draft' as const } };
          }
          const feedSeq = firstSeq + at + k;
          event(id, 'catalog.publish', { resourceCode: code, feedSeq, importId: options.importId, migrated: true, ...(content.shareType === 'none' ? { legalBasisConfirmed: true } : {}) });
          const confirmed = content.shareType === 'none' ? { legalBasisConfirmedBy: ctx.actor.name, legalBasisConfirmedAt: now } : {};
          return {
            entry: { id, agencyId: c.agencyId, createdBy: ctx.actor.name, status: 'published' as const, resourceCode: code, publishedVersion: 1, openVersion: null },
            content,
            version: { state: 'published' as const, publishDate: c.publishDate ?? chinaDateOf(now), submittedBy: ctx.actor.name, submittedAt: now, reviewedBy: ctx.actor.name, reviewedAt: now, reviewComment: `import ${options.importId}`, ...confirmed },
          };
        });
        await this.#store.insertImported(rows, now, trx);
        if (options.publish && this.search) {
          // As #publish does: a published entry is searchable from the same transaction on.
          const providers = new Map<string, IndexedProvider>();
          for (const i of chunk) {
            const id = candidates[i]!.agencyId;
            if (!providers.has(id)) providers.set(id, await this.agencies.requireActive(id, trx));
          }
          await this.search.indexMany(
            chunk.map((i) => ({ entryId: written[i]!.entryId, resourceCode: written[i]!.resourceCode!, version: 1, provider: providers.get(candidates[i]!.agencyId)!, content: contents[i]!, publishDate: candidates[i]!.publishDate ?? chinaDateOf(now) })),
            trx,
          );
        }
        if (options.publish && this.tables) {
          // Registered, not created: thousands of tables created in one transaction would exhaust
          // PostgreSQL's lock table, and most of a migrated catalog's are not loaded soon (migration 0020).
          const tables = chunk.filter((i) => contents[i]!.shareMethods.includes('table'));
          await this.tables.publishedMany(
            tables.map((i) => ({ entryId: written[i]!.entryId, agencyId: candidates[i]!.agencyId, resourceCode: written[i]!.resourceCode!, version: 1, dataItems: contents[i]!.dataItems })),
            trx,
          );
        }
        if (options.publish) {
          await this.#store.insertChanges(
            chunk.map((i, k) => ({ seq: firstSeq + at + k, kind: 'published' as const, entryId: written[i]!.entryId, resourceCode: written[i]!.resourceCode!, versionNumber: 1, at: now, reason: null })),
            trx,
          );
        }
        await this.#store.appendEvents(events, trx);
        await this.audit.recordMany(ctx, audits, trx);
        report(Math.min(at + IMPORT_CHUNK, order.length), 'writing', order.length);
      }
      await this.audit.record(
        ctx,
        { action: 'catalog.import', targetType: 'catalogImport', targetId: options.importId, details: { mode: options.publish ? 'publish' : 'draft', partial: options.partial, imported: order.length, failed, ...options.source } },
        trx,
      );
    });
    return { problems, written };
  }

  // ---- review ------------------------------------------------------------------------------

  /**
   * The supervisor publishes a submitted version: it comes into force, the previous published
   * version is superseded. A not-shared entry needs `confirmLegalBasis` (000 §13).
   */
  async publish(ctx: RequestContext, id: string, input: { expectedVersion?: number | undefined; comment?: string | undefined; confirmLegalBasis?: boolean | undefined }, lang?: string): Promise<EntryView> {
    this.#checkReviewer(ctx.actor);
    const now = this.now();
    const entryId = await this.db.transaction().execute(async (trx) => {
      const entry = await this.#require(ctx.actor, id, trx, true);
      checkVersion(input.expectedVersion, entry.version);
      const open = await this.#submitted(entry, 'publish', trx);
      await this.#provider(entry.agencyId, trx, 'provider');
      // Findings again: a related entry may have been withdrawn, a required extension declared.
      this.#refuseBlocking(entry, open.row.number, await this.#findings(open.content, entry, trx));
      if (open.content.shareType === 'none' && input.confirmLegalBasis !== true) {
        throw new GsError('GS_ERR_CATALOG_LEGAL_BASIS_UNCONFIRMED', { id: entry.id, law: open.content.legalBasis?.law ?? '', article: open.content.legalBasis?.article ?? '' }, [
          { field: 'body.confirmLegalBasis', rule: 'required', message: 'must be true for a not-shared entry', messageZh: '不予共享的条目须确认其依据' },
        ]);
      }
      await this.#publish(ctx, trx, entry, open, now, input.comment ?? null);
      return entry.id;
    });
    return this.get(ctx.actor, entryId, lang);
  }

  /** The supervisor returns a submitted version to its agency with comments. */
  async returnForChanges(ctx: RequestContext, id: string, input: { expectedVersion?: number | undefined; comment: string }, lang?: string): Promise<EntryView> {
    this.#checkReviewer(ctx.actor);
    const now = this.now();
    const entryId = await this.db.transaction().execute(async (trx) => {
      const entry = await this.#require(ctx.actor, id, trx, true);
      checkVersion(input.expectedVersion, entry.version);
      const open = await this.#submitted(entry, 'return', trx);
      await this.#store.setVersion(entry.id, open.row.number, { state: 'returned', reviewedBy: ctx.actor.name, reviewedAt: now, reviewComment: input.comment }, now, trx);
      await this.#store.updateEntry(entry.id, {}, now, trx);
      await this.#event(ctx, entry.id, open.row.number, 'catalog.return', now, trx, input.comment);
      return entry.id;
    });
    return this.get(ctx.actor, entryId, lang);
  }

  async #submitted(entry: EntryRow, action: StateAction, trx: Db): Promise<StoredVersion> {
    const open = await this.#open(entry, action, trx);
    if (open.row.state !== 'submitted') throw stateError(entry.id, open.row.state as VersionState, action);
    return open;
  }

  /** Withdraws (撤销) an entry with a reason: it leaves the catalog; its versions stay readable. */
  async withdraw(ctx: RequestContext, id: string, input: { expectedVersion?: number | undefined; reason: string }, lang?: string): Promise<EntryView> {
    const now = this.now();
    const entryId = await this.db.transaction().execute(async (trx) => {
      const entry = await this.#require(ctx.actor, id, trx, true);
      this.#checkEditor(ctx.actor, entry.agencyId);
      checkVersion(input.expectedVersion, entry.version);
      if (entry.status === 'withdrawn') throw stateError(entry.id, 'withdrawn', 'withdraw');
      await this.#withdraw(ctx, trx, entry, input.reason, now);
      return entry.id;
    });
    return this.get(ctx.actor, entryId, lang);
  }

  /**
   * THE place where a version comes into force. Everything that must follow a publication in the
   * same transaction goes here: the resource code, the search index, the change feed.
   */
  async #publish(ctx: RequestContext, trx: Db, entry: EntryRow, version: StoredVersion, now: Date, comment: string | null): Promise<void> {
    let code = entry.resourceCode;
    if (code === null) {
      // The code is assigned at the first publication: drafts that never pass review use no
      // sequence numbers, and the classification is settled by then (frozen from here on).
      const classification = version.content.classification;
      if (!classification) throw stateError(entry.id, 'unpublished', 'publish');
      const prefix = classificationCode(classification);
      const sequence = await this.#store.nextSequence(prefix, trx);
      if (sequence > 999_999) throw new GsError('GS_ERR_CATALOG_CODES_EXHAUSTED', { classification: prefix });
      code = resourceCode(prefix, sequence);
    }
    if (entry.publishedVersion !== null) await this.#store.setVersion(entry.id, entry.publishedVersion, { state: 'superseded' }, now, trx);
    const confirmed = version.content.shareType === 'none' ? { legalBasisConfirmedBy: ctx.actor.name, legalBasisConfirmedAt: now } : {};
    await this.#store.setVersion(
      entry.id,
      version.row.number,
      { state: 'published', publishDate: chinaDateOf(now), reviewedBy: ctx.actor.name, reviewedAt: now, reviewComment: comment, ...confirmed },
      now,
      trx,
    );
    const revisionCleared = entry.revisionDueOn !== null;
    await this.#store.updateEntry(
      entry.id,
      {
        status: 'published',
        resourceCode: code,
        publishedVersion: version.row.number,
        openVersion: null,
        // A new version in force answers a recorded change of law or duty (003 三(三)).
        revisionCause: null,
        revisionOccurredOn: null,
        revisionNote: null,
        revisionDueOn: null,
      },
      now,
      trx,
    );
    if (this.search) {
      const provider = await this.agencies.requireActive(entry.agencyId, trx);
      await this.search.index({ entryId: entry.id, resourceCode: code, version: version.row.number, provider, content: version.content, publishDate: chinaDateOf(now) }, trx);
    }
    if (this.tables && version.content.shareMethods.includes('table')) {
      await this.tables.published({ entryId: entry.id, agencyId: entry.agencyId, resourceCode: code, version: version.row.number, dataItems: version.content.dataItems }, trx);
    }
    const seq = await this.#store.allocateFeedSeq(trx);
    await this.#store.insertChange({ seq, kind: 'published', entryId: entry.id, resourceCode: code, versionNumber: version.row.number, at: now, reason: null }, trx);
    await this.#event(ctx, entry.id, version.row.number, 'catalog.publish', now, trx, comment, {
      resourceCode: code,
      feedSeq: seq,
      ...(revisionCleared ? { revisionDueOnCleared: entry.revisionDueOn } : {}),
      ...(version.content.shareType === 'none' ? { legalBasisConfirmed: true } : {}),
    });
  }

  /** THE place where an entry leaves the catalog (the search index follows here too). */
  async #withdraw(ctx: RequestContext, trx: Db, entry: EntryRow, reason: string, now: Date): Promise<void> {
    if (entry.openVersion !== null) await this.#store.setVersion(entry.id, entry.openVersion, { state: 'discarded' }, now, trx);
    if (entry.publishedVersion !== null) await this.#store.setVersion(entry.id, entry.publishedVersion, { state: 'withdrawn' }, now, trx);
    await this.#store.updateEntry(entry.id, { status: 'withdrawn', openVersion: null, withdrawnAt: now, withdrawalReason: reason, revisionCause: null, revisionOccurredOn: null, revisionNote: null, revisionDueOn: null }, now, trx);
    await this.search?.remove(entry.id, trx);
    if (entry.resourceCode !== null) await this.tables?.withdrawn(entry.resourceCode, trx);
    let feedSeq: number | null = null;
    // An entry never published was never in the feed: its withdrawal is nobody else's business.
    if (entry.publishedVersion !== null && entry.resourceCode !== null) {
      feedSeq = await this.#store.allocateFeedSeq(trx);
      await this.#store.insertChange({ seq: feedSeq, kind: 'withdrawn', entryId: entry.id, resourceCode: entry.resourceCode, versionNumber: entry.publishedVersion, at: now, reason }, trx);
    }
    await this.#event(ctx, entry.id, entry.publishedVersion ?? entry.openVersion, 'catalog.withdraw', now, trx, reason, { feedSeq });
  }

  // ---- revision deadlines (003 三(三)) -------------------------------------------------------

  /**
   * Records a change of law or of the agency's duties against a published entry: the entry must be
   * revised within 15 working days of the change. Publishing a new version clears the deadline.
   */
  async recordRevisionNotice(ctx: RequestContext, id: string, input: { cause: RevisionCause; occurredOn: string; note: string }, lang?: string): Promise<EntryView> {
    const now = this.now();
    const entryId = await this.db.transaction().execute(async (trx) => {
      const entry = await this.#require(ctx.actor, id, trx, true);
      this.#checkEditor(ctx.actor, entry.agencyId);
      if (entry.status !== 'published') throw stateError(entry.id, entry.status as EntryStatus, 'record a revision notice');
      const deadline = await this.calendar.deadline(input.occurredOn, REVISION_WORKING_DAYS, trx);
      const dueOn = deadline.dueDate;
      await this.#store.updateEntry(entry.id, { revisionCause: input.cause, revisionOccurredOn: input.occurredOn, revisionNote: input.note, revisionDueOn: dueOn }, now, trx);
      // provisional: the calendar does not know that year's holiday arrangement yet (weekends only).
      await this.#event(ctx, entry.id, entry.publishedVersion, 'catalog.record-revision-notice', now, trx, input.note, { cause: input.cause, occurredOn: input.occurredOn, dueOn, provisional: deadline.provisional });
      return entry.id;
    });
    return this.get(ctx.actor, entryId, lang);
  }

  /** Entries with a revision deadline (only overdue ones with `overdue`); agency users see their own. */
  async revisionDeadlines(actor: Actor, overdue: boolean, lang?: string): Promise<EntryView[]> {
    const today = chinaDateOf(this.now());
    const yesterday = chinaDateOf(new Date(Date.parse(`${today}T12:00:00+08:00`) - 86_400_000));
    const everyAgency = this.#seesAll(actor);
    if (!everyAgency && !actor.agencyId) return [];
    const rows = await this.#store.revisionsDue(overdue ? yesterday : undefined, everyAgency ? undefined : (actor.agencyId ?? undefined));
    return Promise.all(rows.map((r) => this.#view(actor, r, lang)));
  }

  // ---- reading -----------------------------------------------------------------------------

  async get(actor: Actor, idOrCode: string, lang?: string): Promise<EntryView> {
    return this.#view(actor, await this.#require(actor, idOrCode), lang);
  }

  async list(actor: Actor, q: EntryQuery, lang?: string): Promise<EntryView[]> {
    const everyAgency = this.#seesAll(actor);
    // Entries never published are listed only to their agency (and to the supervisor).
    let query: EntryQuery = { ...q, unpublishedOf: everyAgency ? 'all' : actor.agencyId };
    if (q.openState || q.status === 'unpublished') {
      // Drafts and the review queue: one's own agency, or every agency for the supervisor.
      if (!everyAgency) {
        if (q.agencyId && q.agencyId !== actor.agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
        if (!actor.agencyId) return [];
        query = { ...query, agencyId: actor.agencyId };
      }
    } else if (!q.status) {
      query = { ...query, status: 'published' };
    }
    const rows = await this.#store.listEntries(query);
    const keys = rows.flatMap((r) => [r.publishedVersion, r.openVersion].filter((n): n is number => n !== null).map((number) => ({ entryId: r.id, number })));
    const preloaded = { versions: await this.#store.versions(keys), declarations: await this.#declarations(this.db) };
    return Promise.all(rows.map((r) => this.#view(actor, r, lang, preloaded)));
  }

  /** `preloaded`: what a list page reads once for all its entries. */
  async #view(
    actor: Actor,
    entry: EntryRow,
    lang: string | undefined,
    preloaded?: { readonly versions: ReadonlyMap<string, StoredVersion>; readonly declarations: readonly ExtensionDeclaration[] },
  ): Promise<EntryView> {
    const load = async (n: number | null): Promise<StoredVersion | null> => (n === null ? null : (preloaded?.versions.get(`${entry.id}:${n}`) ?? (await this.#store.version(entry.id, n)) ?? null));
    const published = await load(entry.publishedVersion);
    const pending = this.#seesDrafts(actor, entry.agencyId) ? await load(entry.openVersion) : null;
    const provider = await this.agencies.get(entry.agencyId, lang);
    const today = chinaDateOf(this.now());
    return {
      id: entry.id,
      resourceCode: entry.resourceCode,
      status: entry.status as EntryStatus,
      provider: { id: provider.id, code: provider.code, name: provider.name },
      version: entry.version,
      publishedVersion: entry.publishedVersion,
      withdrawn: entry.withdrawnAt && entry.withdrawalReason !== null ? { at: entry.withdrawnAt.toISOString(), reason: entry.withdrawalReason } : null,
      revisionDue:
        entry.revisionDueOn && entry.revisionCause && entry.revisionOccurredOn
          ? { dueOn: entry.revisionDueOn, cause: entry.revisionCause as RevisionCause, occurredOn: entry.revisionOccurredOn, note: entry.revisionNote ?? '', overdue: today > entry.revisionDueOn }
          : null,
      published: published ? versionView(published, lang) : null,
      pending: pending ? versionView(pending, lang, await this.#findings(pending.content, entry, this.db, preloaded?.declarations)) : null,
      createdAt: entry.createdAt.toISOString(),
      updatedAt: entry.updatedAt.toISOString(),
    };
  }

  /** Every version the actor may read: closed ones for everybody, open and discarded ones for the agency and the supervisor. */
  async versions(actor: Actor, idOrCode: string, lang?: string): Promise<VersionView[]> {
    const entry = await this.#require(actor, idOrCode);
    const drafts = this.#seesDrafts(actor, entry.agencyId);
    const rows = (await this.#store.versionRows(entry.id)).filter((r) => drafts || isPublic(r));
    const stored = await this.#store.versions(rows.map((r) => ({ entryId: entry.id, number: r.number })));
    return rows.map((r) => versionView(stored.get(`${entry.id}:${r.number}`)!, lang));
  }

  async version(actor: Actor, idOrCode: string, number: number, lang?: string): Promise<VersionView> {
    const entry = await this.#require(actor, idOrCode);
    const v = await this.#readableVersion(actor, entry, number);
    return versionView(v, lang, isOpen(v.row.state) ? await this.#findings(v.content, entry) : undefined);
  }

  async #readableVersion(actor: Actor, entry: EntryRow, number: number): Promise<StoredVersion> {
    const v = await this.#store.version(entry.id, number);
    if (!v || (!isPublic(v.row) && !this.#seesDrafts(actor, entry.agencyId))) throw new GsError('GS_ERR_CATALOG_VERSION_NOT_FOUND', { id: entry.id, version: number });
    return v;
  }

  /** What changed from version `from` to version `to`, field by field. */
  async diff(actor: Actor, idOrCode: string, from: number, to: number): Promise<FieldChange[]> {
    const entry = await this.#require(actor, idOrCode);
    const [a, b] = await Promise.all([this.#readableVersion(actor, entry, from), this.#readableVersion(actor, entry, to)]);
    return diffContent(a.content, b.content);
  }

  /** Who did what, when: every event of the entry (drafting events only for those who see drafts). */
  async history(actor: Actor, idOrCode: string): Promise<HistoryItem[]> {
    const entry = await this.#require(actor, idOrCode);
    const drafts = this.#seesDrafts(actor, entry.agencyId);
    const publicActions = new Set(['catalog.publish', 'catalog.withdraw', 'catalog.record-revision-notice']);
    return (await this.#store.events(entry.id))
      .filter((e) => drafts || publicActions.has(e.action))
      .map((e) => ({ at: e.at.toISOString(), actor: e.actorName, action: e.action, version: e.versionNumber, comment: e.comment, details: e.details }));
  }

  /** The findings of the open version, for the cataloger and the supervisor. */
  async findings(actor: Actor, idOrCode: string): Promise<Finding[]> {
    const entry = await this.#require(actor, idOrCode);
    if (entry.openVersion === null || !this.#seesDrafts(actor, entry.agencyId)) return [];
    return this.#findings((await this.#requireVersion(entry.id, entry.openVersion)).content, entry);
  }

  /** Published changes after `after`, oldest first. */
  async changes(after: number, limit: number): Promise<ChangeFeedItem[]> {
    return (await this.#store.changes(after, limit)).map((c) => ({
      seq: c.seq,
      kind: c.kind as ChangeKind,
      entryId: c.entryId,
      resourceCode: c.resourceCode,
      version: c.versionNumber,
      at: c.at.toISOString(),
      reason: c.reason,
    }));
  }

  /** The published list of not-shared resources with their confirmed legal basis (000 §13). */
  async nonShared(after: string | undefined, limit: number, lang?: string) {
    const rows = await this.#store.nonShared(after, limit);
    return Promise.all(
      rows.map(async (r) => {
        const p = await this.agencies.get(r.agencyId, lang);
        return {
          entryId: r.entryId,
          resourceCode: r.resourceCode,
          name: localisedText(r.nameZh, r.names, lang),
          nameZh: r.nameZh,
          provider: { id: p.id, code: p.code, name: p.name },
          legalBasis: { law: r.legalBasisLaw ?? '', article: r.legalBasisArticle ?? '' },
          confirmedBy: r.legalBasisConfirmedBy ?? '',
          confirmedAt: (r.legalBasisConfirmedAt ?? r.updatedAt).toISOString(),
          publishDate: r.publishDate ?? '',
        };
      }),
    );
  }

  // ---- for other modules (exchange, search, demands) ---------------------------------------

  /** The version in force of a published entry, by id or resource code. */
  async getPublished(idOrCode: string, lang?: string): Promise<PublishedEntry> {
    const entry = isUuid(idOrCode) ? await this.#store.entryById(idOrCode) : await this.#store.entryByCode(idOrCode);
    if (!entry || entry.status !== 'published' || entry.publishedVersion === null || entry.resourceCode === null) throw new GsError('GS_ERR_CATALOG_ENTRY_NOT_FOUND', { id: idOrCode });
    const v = await this.#requireVersion(entry.id, entry.publishedVersion);
    const p = await this.agencies.get(entry.agencyId, lang);
    return { entryId: entry.id, resourceCode: entry.resourceCode, provider: { id: p.id, code: p.code, name: p.name }, version: v.row.number, content: v.content, publishDate: v.row.publishDate ?? '' };
  }

  /** The data items of the version in force, in order (the exchange builds table columns from them; `sqlTypeOf`). */
  async publishedDataItems(idOrCode: string): Promise<readonly DataItem[]> {
    return (await this.getPublished(idOrCode)).content.dataItems;
  }

  /** The language tags other than Chinese in the published catalog (the export's language columns). */
  publishedLanguages(): Promise<string[]> {
    return this.#store.publishedLanguages();
  }

  /** Published entries, paged by id. */
  async listPublished(q: { agencyId?: string | undefined; shareType?: ShareType | undefined; after?: string | undefined; limit: number }): Promise<PublishedEntry[]> {
    const rows = await this.#store.listEntries({ ...q, status: 'published' });
    const versions = await this.#store.versions(rows.map((r) => ({ entryId: r.id, number: r.publishedVersion! })));
    return Promise.all(
      rows.map(async (r) => {
        const v = versions.get(`${r.id}:${r.publishedVersion!}`)!;
        const p = await this.agencies.get(r.agencyId);
        return { entryId: r.id, resourceCode: r.resourceCode!, provider: { id: p.id, code: p.code, name: p.name }, version: v.row.number, content: v.content, publishDate: v.row.publishDate ?? '' };
      }),
    );
  }

  // ---- local extension fields --------------------------------------------------------------

  async extensionFields(): Promise<ExtensionField[]> {
    return (await this.#store.extensionFields(false)).map(toExtensionField);
  }

  async createExtensionField(ctx: RequestContext, input: ExtensionFieldCreate): Promise<ExtensionField> {
    const allowedValues = input.allowedValues ?? [];
    checkDeclaration(input.key, input.type, allowedValues);
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      if (await this.#store.extensionField(input.key, trx)) throw new GsError('GS_ERR_CATALOG_EXTENSION_TAKEN', { key: input.key });
      const inserted = await this.#store.insertExtensionField({ key: input.key, labelZh: input.labelZh, labelEn: input.labelEn, type: input.type, required: input.required ?? false, allowedValues }, now, trx);
      await this.audit.record(ctx, { action: 'catalog.declare-extension-field', targetType: 'catalogExtensionField', targetId: input.key, details: { type: input.type, required: inserted.required, allowedValues } }, trx);
      return inserted;
    });
    return toExtensionField(row);
  }

  async updateExtensionField(ctx: RequestContext, key: string, input: ExtensionFieldPatch): Promise<ExtensionField> {
    const { expectedVersion, ...patch } = input;
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.#store.extensionField(key, trx);
      if (!before) throw new GsError('GS_ERR_CATALOG_EXTENSION_NOT_FOUND', { key });
      checkVersion(expectedVersion, before.version);
      if (patch.allowedValues) checkDeclaration(key, before.type as ExtensionType, patch.allowedValues);
      const changes = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      const after = await this.#store.updateExtensionField(key, changes, now, trx);
      await this.audit.record(ctx, { action: 'catalog.update-extension-field', targetType: 'catalogExtensionField', targetId: key, details: { fields: Object.keys(changes) } }, trx);
      return after;
    });
    return toExtensionField(row);
  }
}

/** Published, superseded and withdrawn versions were public once and stay readable. */
function isPublic(r: VersionRow): boolean {
  return r.state === 'published' || r.state === 'superseded' || r.state === 'withdrawn';
}

function checkDeclaration(key: string, type: ExtensionType, allowedValues: readonly string[]): void {
  const bad = (reason: string, reasonZh: string): GsError =>
    new GsError('GS_ERR_CATALOG_EXTENSION_INVALID', { key, reason, reasonZh }, [{ field: 'body.allowedValues', rule: 'allowedValues', message: reason, messageZh: reasonZh }]);
  if (type === 'enum' && allowedValues.length === 0) throw bad('an enum field needs allowedValues', '枚举类型须列出允许的取值');
  if (type !== 'enum' && allowedValues.length > 0) throw bad('only an enum field has allowedValues', '只有枚举类型才有允许的取值');
  // The declaration must accept its own allowed values (they are strings by construction).
  for (const v of allowedValues) if (extensionProblem({ key, labelZh: key, type, required: false, allowedValues }, v)) throw bad(`value ${v} is not allowed`, `取值 ${v} 不合法`);
}

function toExtensionField(r: ExtensionFieldRow): ExtensionField {
  return {
    key: r.key,
    labelZh: r.labelZh,
    labelEn: r.labelEn,
    type: r.type as ExtensionType,
    required: r.required,
    allowedValues: r.allowedValues,
    active: r.active,
    version: r.version,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

export function versionView(v: StoredVersion, lang: string | undefined, findings?: readonly Finding[]): VersionView {
  const c = v.content;
  const r = v.row;
  return {
    number: r.number,
    state: r.state as VersionState,
    classification: c.classification ? { ...c.classification, code: classificationCode(c.classification) } : null,
    name: localisedText(c.nameZh, c.names, lang),
    nameZh: c.nameZh,
    names: { ...c.names },
    abstract: c.abstractZh === null ? null : localisedText(c.abstractZh, c.abstracts, lang),
    abstractZh: c.abstractZh,
    abstracts: { ...c.abstracts },
    format: c.format ? { type: c.format.type, typeZh: FORMAT_TYPE_ZH[c.format.type], subtype: c.format.subtype } : null,
    dataItems: c.dataItems.map((d) => ({ ...d, names: { ...d.names }, name: localisedText(d.nameZh, d.names, lang), sqlType: sqlTypeOf(d) })),
    shareType: c.shareType,
    shareCondition: c.shareCondition,
    legalBasis: c.legalBasis ? { ...c.legalBasis } : null,
    legalBasisConfirmed: r.legalBasisConfirmedBy && r.legalBasisConfirmedAt ? { by: r.legalBasisConfirmedBy, at: r.legalBasisConfirmedAt.toISOString() } : null,
    shareMethods: [...c.shareMethods],
    openness: c.openness ? { ...c.openness } : null,
    updateCycle: c.updateCycle,
    relatedCodes: [...c.relatedCodes],
    extensions: { ...c.extensions },
    publishDate: r.publishDate,
    submitted: r.submittedBy && r.submittedAt ? { by: r.submittedBy, at: r.submittedAt.toISOString() } : null,
    reviewed: r.reviewedBy && r.reviewedAt ? { by: r.reviewedBy, at: r.reviewedAt.toISOString(), comment: r.reviewComment } : null,
    createdBy: r.createdBy,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    ...(findings ? { findings: [...findings] } : {}),
  };
}

/** What the JSON schema of an entry's content says about an import candidate: one problem per field. */
function schemaProblems(content: EntryContentInput): CandidateProblem[] {
  const out = new Map<string, CandidateProblem>();
  for (const e of Value.Errors(EntryContentInput, content)) {
    // A union reports each branch and then itself: keep the first word on a field.
    const field = `content${e.instancePath.replace(/\//g, '.')}`;
    if (out.has(field)) continue;
    out.set(field, { field, rule: e.keyword === 'const' || e.keyword === 'anyOf' ? 'enum' : e.keyword, message: e.message, messageZh: `取值不符合要求（${e.keyword}）：${e.message}` });
  }
  return [...out.values()];
}
