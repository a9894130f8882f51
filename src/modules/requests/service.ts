import type { Db } from '../../db/database.js';
import { GsError, type FieldProblem } from '../../lib/errors.js';
import { checkVersion } from '../../lib/records.js';
import { isUuid, newId } from '../../lib/secrets.js';
import { chinaDateOf, endOfChinaDay, startOfChinaDay, type WorkingCalendar } from '../../lib/working-calendar.js';
import type { Actor, RequestContext } from '../../server/actor.js';
import type { AuditService } from '../audit/service.js';
import type { DataItem } from '../catalog/content.js';
import type { CatalogService, ProviderLookup, PublishedEntry } from '../catalog/service.js';
import type { GrantTerms } from '../grants/schemas.js';
import type { GrantIssue, GrantService } from '../grants/service.js';
import type { GrantRow } from '../grants/store.js';
import type { GrantMethod, MaskKind, RowCondition } from '../grants/vocabulary.js';
import type { NoticeKind } from '../notifications/vocabulary.js';
import type { Notice, Notifier } from './notifier.js';
import type {
  AgencyStatistics,
  ApproveInput,
  ArbitrateInput,
  AskInfoInput,
  AttachmentRef,
  ConformanceInput,
  HistoryEntry,
  InfoReplyInput,
  ReasonInput,
  RefuseInput,
  ShareRequest,
  ShareRequestCreate,
  Statistics,
} from './schemas.js';
import { ShareRequestStore, type ShareRequestPatch, type ShareRequestQuery, type ShareRequestRow } from './store.js';
import { PENDING_STATUSES, REQUEST_STATUS_ZH, type AttachmentKind, type Decision, type InfoClock, type RequestStatus, type Stage } from './vocabulary.js';

/** How the workflow runs on this platform (GOVSHARE_REQUEST_*; docs/requests.md). */
export interface RequestSettings {
  /** Whether the supervisor checks a conditional request for conformance before the provider reviews it. */
  readonly conformanceCheck: boolean;
  /** Working days the supervisor has for it. */
  readonly conformanceDays: number;
  /** Working days the provider has to decide (国发〔2016〕51号: 10). */
  readonly reviewDays: number;
  readonly infoClock: InfoClock;
  /** The reviewer is reminded this many working days before the deadline. */
  readonly reminderDays: number;
  /** The consumer is reminded this many days before a grant ends. */
  readonly grantExpiryReminderDays: number;
}

export const DEFAULT_REQUEST_SETTINGS: RequestSettings = { conformanceCheck: false, conformanceDays: 2, reviewDays: 10, infoClock: 'pause', reminderDays: 2, grantExpiryReminderDays: 30 };

/** The calendar the deadlines are counted in (CalendarService). */
export interface DeadlineCalendar {
  calendar(executor?: Db): Promise<WorkingCalendar>;
}

/** What the workflow needs of the business systems module. */
export interface SystemLookup {
  get(id: string): Promise<{ readonly id: string; readonly agencyId: string; readonly name: string; readonly status: string }>;
}

export interface AttachmentInfo {
  readonly id: string;
  readonly fileName: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** What the workflow needs of the attachments module. */
export interface RequestAttachments {
  link(trx: Db, input: { readonly attachmentIds: readonly string[]; readonly ownerType: string; readonly ownerId: string; readonly readerAgencyIds: readonly string[] }, uploaderAgencyId: string | null): Promise<readonly AttachmentInfo[]>;
  /** The files linked to each owner, for a whole page of owners at once. */
  filesOf(ownerType: string, ownerIds: readonly string[]): Promise<ReadonlyMap<string, readonly AttachmentInfo[]>>;
}

const OWNER_TYPE = 'shareRequest';

const ACTION_ZH = {
  conformance: '进行符合性审查',
  approve: '批准',
  refuse: '不予共享',
  askInfo: '要求补充材料',
  reply: '补充材料',
  withdraw: '撤回',
  dispute: '提出异议',
  arbitrate: '协调裁决',
} as const;
type Action = keyof typeof ACTION_ZH;

/** Every agency's requests: the supervisor, the local CLI and the platform itself. */
function seesAll(actor: Actor): boolean {
  return actor.type === 'cli' || actor.type === 'system' || actor.permissions.has('request:arbitrate');
}

function isStaff(actor: Actor): boolean {
  return actor.type === 'cli' || actor.type === 'system';
}

function invalid(field: string, rule: string, reason: string, reasonZh: string): GsError {
  return new GsError('GS_ERR_SHARE_REQUEST_INVALID', { reason: `${field}: ${reason}`, reasonZh: `${field}：${reasonZh}` }, [{ field, rule, message: reason, messageZh: reasonZh }]);
}

function badTerms(field: string, rule: string, reason: string, reasonZh: string): GsError {
  return new GsError('GS_ERR_SHARE_REQUEST_TERMS_INVALID', { reason: `${field}: ${reason}`, reasonZh: `${field}：${reasonZh}` }, [{ field, rule, message: reason, messageZh: reasonZh }]);
}

/**
 * Requested sharing (申请共享, 003 五; 000 §20–23). A consumer agency asks for a published
 * resource for one of its business systems; an unconditional resource is granted at once, a
 * conditional one goes (optionally through the supervisor's conformance check) to the provider,
 * who decides within a deadline in working days: as asked, narrower, or a refusal with its legal
 * basis, or asks for more information first. The consumer may dispute a refusal or a narrowing
 * once; the supervisor's arbitration is final. A grant (GrantService) is the result.
 *
 * Invariants: a state change locks the request row and re-checks its state inside the
 * transaction, so of two concurrent decisions exactly one wins (the other gets
 * GS_ERR_SHARE_REQUEST_STATE); the decision, the grant, the history entry, the audit event and
 * the notifications commit together or not at all. Inside a transaction nothing reads through
 * another connection (PGlite has one).
 */
export class ShareRequestService {
  readonly #store: ShareRequestStore;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly agencies: ProviderLookup,
    private readonly systems: SystemLookup,
    private readonly catalog: Pick<CatalogService, 'getPublished'>,
    private readonly calendar: DeadlineCalendar,
    private readonly grants: GrantService,
    private readonly attachments: RequestAttachments,
    private readonly notifier: Notifier,
    private readonly settings: RequestSettings = DEFAULT_REQUEST_SETTINGS,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.#store = new ShareRequestStore(db);
  }

  // ---- reading -----------------------------------------------------------------------------

  /** Both agencies and the supervisor see a request; to anyone else it does not exist. */
  async #require(actor: Actor, id: string, executor: Db = this.db, forUpdate = false): Promise<ShareRequestRow> {
    const row = isUuid(id) ? await this.#store.byId(id, executor, forUpdate) : /^\d{1,15}$/.test(id) ? await this.#byNumber(Number(id), executor, forUpdate) : undefined;
    if (!row || !(seesAll(actor) || (actor.agencyId !== null && (actor.agencyId === row.consumerAgencyId || actor.agencyId === row.providerAgencyId)))) {
      throw new GsError('GS_ERR_SHARE_REQUEST_NOT_FOUND', { id });
    }
    return row;
  }

  async #byNumber(number: number, executor: Db, forUpdate: boolean): Promise<ShareRequestRow | undefined> {
    const row = await this.#store.byNumber(number, executor);
    return row && forUpdate ? this.#store.byId(row.id, executor, true) : row;
  }

  async get(actor: Actor, id: string, lang?: string): Promise<ShareRequest> {
    return this.#view(await this.#require(actor, id), lang);
  }

  async list(actor: Actor, q: Omit<ShareRequestQuery, 'overdueOn'> & { readonly overdue?: boolean | undefined }, lang?: string): Promise<ShareRequest[]> {
    const { overdue, ...rest } = q;
    let query: ShareRequestQuery = { ...rest, ...(overdue ? { overdueOn: chinaDateOf(this.now()), statuses: q.statuses?.length ? q.statuses : [...PENDING_STATUSES] } : {}) };
    if (!seesAll(actor)) {
      if (!actor.agencyId) return [];
      if (q.agencyId && q.agencyId !== actor.agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
      query = { ...query, agencyId: actor.agencyId };
    } else if (!q.agencyId && q.side) {
      throw invalid('query.side', 'needsAgency', 'side needs agencyId', 'side 须与 agencyId 同时使用');
    }
    return this.#views(await this.#store.list(query), lang);
  }

  /** The whole history of a request: its own steps and those of the grants it produced. */
  async history(actor: Actor, id: string): Promise<HistoryEntry[]> {
    const row = await this.#require(actor, id);
    const own = (await this.#store.events(row.id)).map((e) => ({ at: e.at, entry: { at: e.at.toISOString(), actor: e.actor, action: e.action, statusFrom: e.statusFrom, statusTo: e.statusTo, comment: e.comment, details: e.details } }));
    const grantIds = (await this.grants.forRequest(row.id)).map((g) => g.id);
    const ofGrants = (await this.grants.events(grantIds)).map((e) => ({
      at: new Date(e.at),
      entry: { at: e.at, actor: e.actor, action: `grant.${e.action}`, statusFrom: e.statusFrom, statusTo: e.statusTo, comment: e.reason, details: { ...e.details, grantId: e.grantId } },
    }));
    // Stable: a request step and the grant it issued share an instant; the request step comes first.
    return [...own, ...ofGrants].sort((a, b) => a.at.getTime() - b.at.getTime()).map((x) => x.entry);
  }

  // ---- filing ------------------------------------------------------------------------------

  /** A consumer agency's requester files a request for one of its business systems. */
  async file(ctx: RequestContext, input: ShareRequestCreate & { readonly renewsGrantId?: string }, lang?: string): Promise<ShareRequest> {
    const actor = ctx.actor;
    const consumerAgencyId = isStaff(actor) ? (input.consumerAgencyId ?? null) : actor.agencyId;
    if (!consumerAgencyId) {
      if (isStaff(actor)) throw invalid('body.consumerAgencyId', 'required', 'name the consumer agency', '请指定使用方单位');
      throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
    }
    if (!isStaff(actor) && input.consumerAgencyId && input.consumerAgencyId !== consumerAgencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');

    // Everything read through other services is read before the transaction.
    const entry = await this.#published(input.resource, 'body.resource');
    const content = entry.content;
    if (content.shareType === 'none') {
      const basis = content.legalBasis ? `${content.legalBasis.law} ${content.legalBasis.article}` : '—';
      throw new GsError('GS_ERR_SHARE_REQUEST_NOT_SHAREABLE', { resourceCode: entry.resourceCode, legalBasis: basis }, [
        { field: 'body.resource', rule: 'shareable', message: 'the resource is not shared (shareType none); post a demand instead', messageZh: '该资源为不予共享类，请在需求目录中提出需求' },
      ]);
    }
    if (content.shareType !== 'unconditional' && content.shareType !== 'conditional') throw invalid('body.resource', 'shareType', 'the resource has no share type', '该资源未确定共享类型');
    if (entry.provider.id === consumerAgencyId) throw invalid('body.resource', 'otherAgency', 'the resource is your own agency’s', '不能申请本单位提供的资源');

    const system = await this.systems.get(input.systemId).catch((e: unknown) => {
      if (e instanceof GsError && e.code === 'GS_ERR_SYSTEM_NOT_FOUND') throw invalid('body.systemId', 'exists', `no business system ${input.systemId}`, `接入系统 ${input.systemId} 不存在`);
      throw e;
    });
    if (system.agencyId !== consumerAgencyId) throw invalid('body.systemId', 'ownSystem', 'the business system belongs to another agency', '该接入系统不属于本单位');
    if (system.status !== 'active') throw invalid('body.systemId', 'active', `the business system is ${system.status}`, '该接入系统未启用');

    const items = this.#checkItems(entry, input.items);
    const today = chinaDateOf(this.now());
    if (input.validUntil < today) throw invalid('body.validUntil', 'notPast', `the end date ${input.validUntil} is in the past`, `截止时间 ${input.validUntil} 已过`);
    const attachments = input.attachments ?? [];
    const sensitive = sensitiveOf(content.dataItems, items);
    if (sensitive.length > 0 && !attachments.some((a) => a.kind === 'securityAgreement')) {
      throw new GsError('GS_ERR_SHARE_REQUEST_AGREEMENT_REQUIRED', { items: sensitive.join('、') }, [
        { field: 'body.attachments', rule: 'securityAgreement', message: `sensitive items ${sensitive.join(', ')} need a signed security agreement`, messageZh: `敏感信息项 ${sensitive.join('、')} 须附安全保密协议` },
      ]);
    }

    const shareType = content.shareType;
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      await this.agencies.requireActive(consumerAgencyId, trx).catch((e: unknown) => {
        if (e instanceof GsError && (e.code === 'GS_ERR_AGENCY_NOT_FOUND' || e.code === 'GS_ERR_AGENCY_INACTIVE')) throw invalid('body.consumerAgencyId', 'activeAgency', 'the consumer agency does not exist or is deactivated', '使用方单位不存在或已停用');
        throw e;
      });
      const pending = await this.#store.list({ agencyId: consumerAgencyId, side: 'consumer', statuses: [...PENDING_STATUSES, 'disputed'], resourceCode: entry.resourceCode, limit: 500 }, trx);
      const same = pending.find((p) => p.consumerSystemId === system.id && p.shareMethod === input.shareMethod);
      if (same) throw new GsError('GS_ERR_SHARE_REQUEST_PENDING', { number: same.number, id: same.id });

      const calendar = await this.calendar.calendar(trx);
      const stage: Stage | null = shareType === 'unconditional' ? null : this.settings.conformanceCheck ? 'conformance' : 'review';
      const status: RequestStatus = stage ?? 'granted';
      const dueOn = stage === 'conformance' ? calendar.deadline(now, this.settings.conformanceDays).dueDate : stage === 'review' ? calendar.deadline(now, this.settings.reviewDays).dueDate : null;
      const id = newId();
      // An unconditional request is filed granted: its grant id is taken now, the grant inserted below.
      const grantId = stage ? null : newId();
      const inserted = await this.#store.insert(
        {
          id,
          consumerAgencyId,
          consumerSystemId: system.id,
          entryId: entry.entryId,
          resourceCode: entry.resourceCode,
          resourceName: content.nameZh,
          entryVersion: entry.version,
          providerAgencyId: entry.provider.id,
          shareType,
          items,
          purposeBusiness: input.purpose.business.trim(),
          purposeBasis: input.purpose.basis.trim(),
          dataUsers: input.dataUsers.trim(),
          shareMethod: input.shareMethod,
          validUntil: input.validUntil,
          expectedVolume: input.expectedVolume?.trim() ?? null,
          frequency: input.frequency?.trim() ?? null,
          renewsGrantId: input.renewsGrantId ?? null,
          status,
          dueOn,
          reviewStartedAt: stage === 'review' ? now : null,
          ...(grantId ? { grantId, decision: 'approved', decidedBy: ctx.actor.name, decidedAt: now } : {}),
          createdBy: actor.name,
        },
        now,
        trx,
      );
      await this.#linkAttachments(inserted, attachments, now, trx);
      await this.#event(ctx, inserted, 'file', null, status, null, { items: items.length, shareMethod: input.shareMethod, validUntil: input.validUntil, dueOn, renewsGrantId: input.renewsGrantId ?? null }, trx, now);
      await this.audit.record(ctx, { action: 'share-request.file', targetType: 'shareRequest', targetId: id, details: { number: inserted.number, resourceCode: entry.resourceCode, systemId: system.id, method: input.shareMethod, items: items.length, renewsGrantId: input.renewsGrantId ?? null } }, trx);
      if (grantId) {
        // 无条件共享: granted at once with the items asked for; still recorded, bound to its purpose.
        const terms = this.#asAsked(inserted);
        await this.#issue(ctx, inserted, terms, trx, grantId);
        await this.#event(ctx, inserted, 'auto-grant', status, status, null, { grantId }, trx, now);
        await this.#notifyGranted(inserted, terms, 'approved', null, true, trx);
      } else if (stage === 'conformance') {
        await this.notifier.notify(this.#notice(inserted, 'request.conformance', [{ role: 'supervisor' }], '待符合性审查', 'awaits the conformance check', `截止 ${dueOn}`, `due ${dueOn}`), trx);
      } else {
        await this.notifier.notify(this.#notice(inserted, 'request.submitted', [{ agencyId: inserted.providerAgencyId, roles: ['reviewer'] }], '待审核', 'awaits your review', `请于 ${dueOn} 前审核`, `decide by ${dueOn}`), trx);
      }
      return inserted;
    });
    return this.#view(row, lang);
  }

  /** A consumer asks to renew a grant before it ends: a new request with the grant's terms and a later end date. */
  async renew(ctx: RequestContext, grantId: string, input: { validUntil: string; comment?: string | undefined }, lang?: string): Promise<ShareRequest> {
    const grant = await this.grants.get(ctx.actor, grantId);
    if (!isStaff(ctx.actor) && ctx.actor.agencyId !== grant.consumer.id) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
    if (grant.status !== 'active') throw new GsError('GS_ERR_GRANT_STATE', { id: grant.id, status: grant.status, action: 'renew', actionZh: '续期' });
    if (input.validUntil <= grant.validUntil) throw invalid('body.validUntil', 'later', `a renewal must end after ${grant.validUntil}`, `续期截止时间须晚于 ${grant.validUntil}`);
    const original = await this.#store.byId(grant.requestId);
    if (!original) throw new GsError('GS_ERR_SHARE_REQUEST_NOT_FOUND', { id: grant.requestId });
    const agreements = (await this.#store.attachmentKinds([original.id])).map((a) => ({ id: a.attachmentId, kind: a.kind as AttachmentKind }));
    return this.file(
      ctx,
      {
        resource: grant.resourceCode,
        systemId: grant.system.id,
        items: [...grant.items],
        purpose: { business: original.purposeBusiness, basis: original.purposeBasis },
        dataUsers: original.dataUsers,
        shareMethod: grant.shareMethod,
        validUntil: input.validUntil,
        ...(original.expectedVolume ? { expectedVolume: original.expectedVolume } : {}),
        ...(original.frequency ? { frequency: original.frequency } : {}),
        attachments: agreements,
        consumerAgencyId: grant.consumer.id,
        renewsGrantId: grant.id,
      },
      lang,
    );
  }

  // ---- the supervisor's conformance check --------------------------------------------------

  async conformance(ctx: RequestContext, id: string, input: ConformanceInput, lang?: string): Promise<ShareRequest> {
    this.#checkSupervisor(ctx.actor);
    const comment = input.comment?.trim() || null;
    if (!input.conforms && !comment) throw invalid('body.comment', 'required', 'say why the request does not conform', '须说明不符合的理由');
    return this.#step(ctx, id, 'conformance', ['conformance'], input.expectedVersion, lang, async (before, now, trx) => {
      if (input.conforms) {
        const dueOn = (await this.calendar.calendar(trx)).deadline(now, this.settings.reviewDays).dueDate;
        const after = await this.#update(before, { status: 'review', dueOn, reviewStartedAt: now, remindedAt: null, escalatedAt: null }, now, trx);
        await this.#event(ctx, after, 'conformance.pass', before.status, 'review', comment, { dueOn }, trx, now);
        await this.notifier.notify(this.#notice(after, 'request.submitted', [{ agencyId: after.providerAgencyId, roles: ['reviewer'] }], '待审核', 'awaits your review', `已通过符合性审查，请于 ${dueOn} 前审核`, `passed the conformance check; decide by ${dueOn}`), trx);
        return after;
      }
      const after = await this.#update(before, { status: 'nonConforming', dueOn: null, decision: 'nonConforming', decisionComment: comment, decidedBy: ctx.actor.name, decidedAt: now }, now, trx);
      await this.#event(ctx, after, 'conformance.fail', before.status, 'nonConforming', comment, {}, trx, now);
      await this.notifier.notify(this.#notice(after, 'request.decided', [{ agencyId: after.consumerAgencyId, roles: ['requester'] }], '未通过符合性审查', 'did not pass the conformance check', comment ?? '', comment ?? ''), trx);
      return after;
    });
  }

  // ---- the provider's review ---------------------------------------------------------------

  async approve(ctx: RequestContext, id: string, input: ApproveInput, lang?: string): Promise<ShareRequest> {
    const before = await this.#require(ctx.actor, id);
    this.#checkReviewer(ctx.actor, before);
    const entry = await this.#published(before.entryId, 'resource');
    const comment = input.comment?.trim() || null;
    return this.#step(ctx, id, 'approve', ['review', 'infoRequested'], input.expectedVersion, lang, async (locked, now, trx) => {
      this.#checkReviewer(ctx.actor, locked);
      const { terms, narrowed } = this.#terms(locked, entry, input.terms, 'body.terms', now);
      return this.#grant(ctx, locked, terms, narrowed ? 'narrowed' : 'approved', comment, narrowed ? 'narrow' : 'approve', now, trx);
    });
  }

  async refuse(ctx: RequestContext, id: string, input: RefuseInput, lang?: string): Promise<ShareRequest> {
    const reason = input.reason.trim();
    const law = input.legalBasis.law.trim();
    const article = input.legalBasis.article.trim();
    // 000 §20, 国发〔2016〕51号: no refusal without its reasons and a legal basis.
    const missing: FieldProblem[] = [];
    if (!reason) missing.push({ field: 'body.reason', rule: 'required', message: 'a refusal needs its reasons', messageZh: '不予共享须说明理由' });
    if (!law) missing.push({ field: 'body.legalBasis.law', rule: 'required', message: 'a refusal needs its legal basis', messageZh: '不予共享须说明法律依据' });
    if (!article) missing.push({ field: 'body.legalBasis.article', rule: 'required', message: 'name the article', messageZh: '须写明条款' });
    if (missing.length > 0) throw new GsError('GS_ERR_SHARE_REQUEST_INVALID', { reason: missing.map((m) => `${m.field}: ${m.message}`).join('; '), reasonZh: missing.map((m) => `${m.field}：${m.messageZh ?? m.message}`).join('；') }, missing);
    return this.#step(ctx, id, 'refuse', ['review', 'infoRequested'], input.expectedVersion, lang, async (before, now, trx) => {
      this.#checkReviewer(ctx.actor, before);
      const after = await this.#update(before, { status: 'refused', dueOn: null, reviewDaysLeft: null, decision: 'refused', decisionComment: reason, refusalLaw: law, refusalArticle: article, decidedBy: ctx.actor.name, decidedAt: now }, now, trx);
      await this.#event(ctx, after, 'refuse', before.status, 'refused', reason, { law, article }, trx, now);
      await this.notifier.notify(this.#notice(after, 'request.decided', [{ agencyId: after.consumerAgencyId, roles: ['requester'] }], '不予共享', 'was refused', `理由：${reason}（依据：${law} ${article}）。如有异议，可提请主管部门协调。`, `Reason: ${reason} (legal basis: ${law} ${article}). You may dispute it before the supervisor.`), trx);
      return after;
    });
  }

  async askInfo(ctx: RequestContext, id: string, input: AskInfoInput, lang?: string): Promise<ShareRequest> {
    const question = input.question.trim();
    return this.#step(ctx, id, 'askInfo', ['review'], input.expectedVersion, lang, async (before, now, trx) => {
      this.#checkReviewer(ctx.actor, before);
      const clock = this.settings.infoClock;
      let patch: ShareRequestPatch = { status: 'infoRequested', infoRequest: question, infoRequestedAt: now };
      if (clock === 'pause') {
        const today = chinaDateOf(now);
        const left = before.dueOn! <= today ? 0 : (await this.calendar.calendar(trx)).workingDaysBetween(today, before.dueOn!);
        patch = { ...patch, dueOn: null, reviewDaysLeft: left };
      } else if (clock === 'restart') {
        patch = { ...patch, dueOn: null, reviewDaysLeft: null };
      }
      const after = await this.#update(before, patch, now, trx);
      await this.#event(ctx, after, 'ask-info', before.status, 'infoRequested', question, { clock, reviewDaysLeft: after.reviewDaysLeft, dueOn: after.dueOn }, trx, now);
      await this.notifier.notify(this.#notice(after, 'request.infoRequested', [{ agencyId: after.consumerAgencyId, roles: ['requester'] }], '需补充材料', 'needs more information', question, question), trx);
      return after;
    });
  }

  /** The consumer answers the provider's question; the review goes on under the clock rule. */
  async reply(ctx: RequestContext, id: string, input: InfoReplyInput, lang?: string): Promise<ShareRequest> {
    const answer = input.answer.trim();
    return this.#step(ctx, id, 'reply', ['infoRequested'], input.expectedVersion, lang, async (before, now, trx) => {
      this.#checkRequester(ctx.actor, before);
      const clock = this.settings.infoClock;
      const calendar = await this.calendar.calendar(trx);
      const dueOn =
        clock === 'continue' ? before.dueOn! : calendar.deadline(now, clock === 'pause' ? Math.max(before.reviewDaysLeft ?? 0, 1) : this.settings.reviewDays).dueDate;
      await this.#linkAttachments(before, input.attachments ?? [], now, trx);
      const after = await this.#update(before, { status: 'review', dueOn, reviewDaysLeft: null, ...(dueOn !== before.dueOn ? { remindedAt: null, escalatedAt: null } : {}) }, now, trx);
      await this.#event(ctx, after, 'reply', before.status, 'review', answer, { clock, dueOn, attachments: (input.attachments ?? []).map((a) => a.id) }, trx, now);
      await this.notifier.notify(this.#notice(after, 'request.submitted', [{ agencyId: after.providerAgencyId, roles: ['reviewer'] }], '已补充材料，待审核', 'has the information you asked for', `请于 ${dueOn} 前审核。补充说明：${answer}`, `Decide by ${dueOn}. Answer: ${answer}`), trx);
      return after;
    });
  }

  async withdraw(ctx: RequestContext, id: string, input: ReasonInput, lang?: string): Promise<ShareRequest> {
    const reason = input.reason.trim();
    return this.#step(ctx, id, 'withdraw', [...PENDING_STATUSES], input.expectedVersion, lang, async (before, now, trx) => {
      this.#checkRequester(ctx.actor, before);
      const after = await this.#update(before, { status: 'withdrawn', dueOn: null, reviewDaysLeft: null }, now, trx);
      await this.#event(ctx, after, 'withdraw', before.status, 'withdrawn', reason, {}, trx, now);
      const audience = before.status === 'conformance' ? [{ role: 'supervisor' as const }] : [{ agencyId: after.providerAgencyId, roles: ['reviewer' as const] }];
      await this.notifier.notify(this.#notice(after, 'request.decided', audience, '已由申请方撤回', 'was withdrawn by the consumer', reason, reason), trx);
      return after;
    });
  }

  // ---- disputes and arbitration (000 §21) --------------------------------------------------

  /** The consumer contests a refusal or a narrowing, once; the narrowed grant stays in force meanwhile. */
  async dispute(ctx: RequestContext, id: string, input: ReasonInput, lang?: string): Promise<ShareRequest> {
    const reason = input.reason.trim();
    return this.#step(ctx, id, 'dispute', ['refused', 'granted'], input.expectedVersion, lang, async (before, now, trx) => {
      this.#checkRequester(ctx.actor, before);
      if (before.decision !== 'refused' && before.decision !== 'narrowed') throw stateError(before, 'dispute', 'only a refusal or a narrowing can be disputed', '只能对不予共享或缩小范围的决定提出异议');
      if (before.arbitratedAt) throw stateError(before, 'dispute', 'the supervisor’s arbitration is final', '主管部门的协调裁决为最终决定');
      if (before.disputedAt) throw stateError(before, 'dispute', 'it was disputed already', '已提出过异议');
      const after = await this.#update(before, { status: 'disputed', disputeReason: reason, disputedBy: ctx.actor.name, disputedAt: now }, now, trx);
      await this.#event(ctx, after, 'dispute', before.status, 'disputed', reason, { decision: before.decision }, trx, now);
      await this.notifier.notify(this.#notice(after, 'request.disputed', [{ role: 'supervisor' }, { agencyId: after.providerAgencyId, roles: ['reviewer'] }], '申请方提出异议，待协调', 'is disputed by the consumer', reason, reason), trx);
      return after;
    });
  }

  /** The supervisor decides a dispute, finally: the provider's decision stands, or the supervisor sets the terms. */
  async arbitrate(ctx: RequestContext, id: string, input: ArbitrateInput, lang?: string): Promise<ShareRequest> {
    this.#checkSupervisor(ctx.actor);
    const before = await this.#require(ctx.actor, id);
    const comment = input.comment.trim();
    if (input.outcome === 'upheld' && input.terms) throw badTerms('body.terms', 'upheld', 'terms are for an overruling only', '维持原决定时不能设定授权条件');
    const entry = input.outcome === 'overruled' ? await this.#published(before.entryId, 'resource') : undefined;
    return this.#step(ctx, id, 'arbitrate', ['disputed'], input.expectedVersion, lang, async (locked, now, trx) => {
      const arbitration = { arbitrationOutcome: input.outcome, arbitrationComment: comment, arbitratedBy: ctx.actor.name, arbitratedAt: now };
      const audience = [
        { agencyId: locked.consumerAgencyId, roles: ['requester' as const] },
        { agencyId: locked.providerAgencyId, roles: ['reviewer' as const] },
      ];
      if (input.outcome === 'upheld') {
        const back: RequestStatus = locked.decision === 'refused' ? 'refused' : 'granted';
        const after = await this.#update(locked, { status: back, ...arbitration }, now, trx);
        await this.#event(ctx, after, 'arbitrate', locked.status, back, comment, { outcome: 'upheld' }, trx, now);
        await this.notifier.notify(this.#notice(after, 'request.arbitrated', audience, '协调结果：维持原决定', 'arbitrated: the decision stands', comment, comment), trx);
        return after;
      }
      const { terms } = this.#terms(locked, entry!, input.terms, 'body.terms', now);
      if (locked.grantId) await this.grants.revokeFor(ctx, locked.grantId, `主管部门协调裁决，由新授权替代 (replaced by arbitration of request ${locked.number})`, trx);
      const granted = await this.#issue(ctx, locked, terms, trx);
      const after = await this.#update(locked, { status: 'granted', grantId: granted.id, ...arbitration }, now, trx);
      await this.#event(ctx, after, 'arbitrate', locked.status, 'granted', comment, { outcome: 'overruled', grantId: granted.id, previousGrantId: locked.grantId }, trx, now);
      await this.notifier.notify(this.#notice(after, 'request.arbitrated', audience, '协调结果：按主管部门裁决授权', 'arbitrated: granted on the supervisor’s terms', comment, comment), trx);
      return after;
    });
  }

  // ---- deadlines ---------------------------------------------------------------------------

  /**
   * Reminds reviewers of deadlines within `reminderDays` working days, once; escalates requests
   * past their deadline to the supervisor, once. Several processes may sweep at once: each row
   * is taken by one of them (SKIP LOCKED).
   */
  async sweepDeadlines(ctx: RequestContext, batch = 200): Promise<{ reminded: number; escalated: number }> {
    let reminded = 0;
    let escalated = 0;
    for (;;) {
      const n = await this.db.transaction().execute(async (trx) => {
        const now = this.now();
        const today = chinaDateOf(now);
        const calendar = await this.calendar.calendar(trx);
        const remindBy = calendar.addWorkingDays(today, this.settings.reminderDays);
        const rows = await this.#store.dueForAttention(remindBy, today, batch, trx);
        for (const r of rows) {
          const reviewers = r.status === 'conformance' ? [{ role: 'supervisor' as const }] : [{ agencyId: r.providerAgencyId, roles: ['reviewer' as const] }];
          if (r.dueOn! < today && !r.escalatedAt) {
            const after = await this.#update(r, { escalatedAt: now, remindedAt: r.remindedAt ?? now }, now, trx, false);
            await this.#event(ctx, after, 'escalate', r.status, r.status, null, { dueOn: r.dueOn }, trx, now);
            await this.audit.record(ctx, { action: 'share-request.overdue', targetType: 'shareRequest', targetId: r.id, details: { number: r.number, dueOn: r.dueOn, stage: r.status } }, trx);
            await this.notifier.notify(this.#notice(after, 'request.overdue', [{ role: 'supervisor' }, ...reviewers], `已超过办理期限（${r.dueOn}）`, `is overdue (due ${r.dueOn})`, `办理期限 ${r.dueOn} 已过，已提请主管部门督办。`, `The deadline ${r.dueOn} has passed; the supervisor was told.`), trx);
            escalated++;
          } else {
            const after = await this.#update(r, { remindedAt: now }, now, trx, false);
            await this.#event(ctx, after, 'remind', r.status, r.status, null, { dueOn: r.dueOn }, trx, now);
            await this.notifier.notify(this.#notice(after, 'request.deadlineApproaching', reviewers, `临近办理期限（${r.dueOn}）`, `is due on ${r.dueOn}`, `请于 ${r.dueOn} 前办理。`, `Decide by ${r.dueOn}.`), trx);
            reminded++;
          }
        }
        return rows.length;
      });
      if (n < batch) break;
    }
    return { reminded, escalated };
  }

  // ---- statistics --------------------------------------------------------------------------

  /**
   * Per provider and per consumer agency: counts, the approval rate, and the median and 95th
   * percentile of the provider's review time in working days (from the start of its review to the
   * decision), of requests filed in [from, to].
   */
  async statistics(actor: Actor, q: { from?: string | undefined; to?: string | undefined; agencyId?: string | undefined }, lang?: string): Promise<Statistics> {
    let agencyId = q.agencyId;
    if (!seesAll(actor)) {
      if (!actor.agencyId) return { from: q.from ?? null, to: q.to ?? null, providers: [], consumers: [] };
      if (agencyId && agencyId !== actor.agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
      agencyId = actor.agencyId;
    }
    if (q.from && q.to && q.to < q.from) throw invalid('query.to', 'afterFrom', 'to is before from', '结束日期早于开始日期');
    const rows = await this.#store.forStatistics(q.from ? startOfChinaDay(q.from) : undefined, q.to ? endOfChinaDay(q.to) : undefined);
    const calendar = await this.calendar.calendar();
    const today = chinaDateOf(this.now());
    type Acc = { total: number; pending: number; granted: number; narrowed: number; refused: number; nonConforming: number; disputed: number; overruled: number; withdrawn: number; overdue: number; providerDecided: number; providerGranted: number; days: number[] };
    const blank = (): Acc => ({ total: 0, pending: 0, granted: 0, narrowed: 0, refused: 0, nonConforming: 0, disputed: 0, overruled: 0, withdrawn: 0, overdue: 0, providerDecided: 0, providerGranted: 0, days: [] });
    const providers = new Map<string, Acc>();
    const consumers = new Map<string, Acc>();
    for (const r of rows) {
      for (const [map, key] of [[providers, r.providerAgencyId], [consumers, r.consumerAgencyId]] as const) {
        if (agencyId && key !== agencyId) continue;
        let a = map.get(key);
        if (!a) map.set(key, (a = blank()));
        a.total++;
        const status = r.status as RequestStatus;
        if ((PENDING_STATUSES as readonly string[]).includes(status)) {
          a.pending++;
          if (r.dueOn && r.dueOn < today) a.overdue++;
        }
        if (r.decision === 'approved' || r.decision === 'narrowed') a.granted++;
        if (r.decision === 'narrowed') a.narrowed++;
        if (r.decision === 'refused') a.refused++;
        if (r.decision === 'nonConforming') a.nonConforming++;
        if (r.disputedAt) a.disputed++;
        if (r.arbitrationOutcome === 'overruled') a.overruled++;
        if (status === 'withdrawn') a.withdrawn++;
        if (r.shareType === 'conditional' && r.decision && r.decision !== 'nonConforming' && r.reviewStartedAt && r.decidedAt) {
          a.providerDecided++;
          if (r.decision !== 'refused') a.providerGranted++;
          a.days.push(calendar.workingDaysBetween(chinaDateOf(r.reviewStartedAt), chinaDateOf(r.decidedAt)));
        }
      }
    }
    const present = async (map: Map<string, Acc>): Promise<AgencyStatistics[]> =>
      Promise.all(
        [...map.entries()].map(async ([id, a]) => {
          const agency = await this.agencies.get(id, lang);
          const days = [...a.days].sort((x, y) => x - y);
          return {
            agency: { id: agency.id, code: agency.code, name: agency.name },
            total: a.total,
            pending: a.pending,
            granted: a.granted,
            narrowed: a.narrowed,
            refused: a.refused,
            nonConforming: a.nonConforming,
            disputed: a.disputed,
            overruled: a.overruled,
            withdrawn: a.withdrawn,
            overdue: a.overdue,
            approvalRate: a.providerDecided > 0 ? a.providerGranted / a.providerDecided : null,
            reviewWorkingDays: { decided: days.length, median: percentile(days, 0.5), p95: percentile(days, 0.95) },
          };
        }),
      ).then((list) => list.sort((x, y) => y.total - x.total || x.agency.code.localeCompare(y.agency.code)));
    return { from: q.from ?? null, to: q.to ?? null, providers: await present(providers), consumers: await present(consumers) };
  }

  // ---- the parts ---------------------------------------------------------------------------

  /** One state change: lock, re-check the state, apply, and present the result. */
  async #step(
    ctx: RequestContext,
    id: string,
    action: Action,
    from: readonly RequestStatus[],
    expectedVersion: number | undefined,
    lang: string | undefined,
    apply: (before: ShareRequestRow, now: Date, trx: Db) => Promise<ShareRequestRow>,
  ): Promise<ShareRequest> {
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.#require(ctx.actor, id, trx, true);
      // The state first: the loser of two concurrent decisions learns it was decided, not that its version is old.
      if (!from.includes(before.status as RequestStatus)) throw stateError(before, action);
      checkVersion(expectedVersion, before.version);
      return apply(before, this.now(), trx);
    });
    return this.#view(row, lang);
  }

  async #update(before: ShareRequestRow, patch: ShareRequestPatch, now: Date, trx: Db, bump = true): Promise<ShareRequestRow> {
    // Reminders and escalations are the platform's bookkeeping: they do not make a reader's version stale.
    return bump ? this.#store.update(before.id, patch, now, trx) : this.#store.note(before.id, patch, trx);
  }

  async #event(ctx: RequestContext, r: ShareRequestRow, action: string, from: string | null, to: string | null, comment: string | null, details: Record<string, unknown>, trx: Db, at: Date): Promise<void> {
    await this.#store.addEvent({ requestId: r.id, at, actor: ctx.actor.name, action, statusFrom: from, statusTo: to, comment, details }, trx);
    if (action !== 'file' && action !== 'remind' && action !== 'escalate') {
      await this.audit.record(ctx, { action: `share-request.${action}`, targetType: 'shareRequest', targetId: r.id, details: { number: r.number, from, to, ...details } }, trx);
    }
  }

  async #grant(ctx: RequestContext, before: ShareRequestRow, terms: GrantIssue, decision: Decision, comment: string | null, action: string, now: Date, trx: Db): Promise<ShareRequestRow> {
    const granted = await this.#issue(ctx, before, terms, trx);
    const after = await this.#update(before, { status: 'granted', dueOn: null, reviewDaysLeft: null, decision, decisionComment: comment, decidedBy: ctx.actor.name, decidedAt: now, grantId: granted.id }, now, trx);
    await this.#event(ctx, after, action, before.status, 'granted', comment, { grantId: granted.id, items: terms.items.length, narrowed: decision === 'narrowed' }, trx, now);
    await this.#notifyGranted(after, terms, decision, comment, false, trx);
    return after;
  }

  async #notifyGranted(r: ShareRequestRow, terms: GrantIssue, decision: Decision, comment: string | null, automatic: boolean, trx: Db): Promise<void> {
    const [whatZh, what] = automatic ? ['已自动授权（无条件共享）', 'was granted at once (unconditional)'] : decision === 'narrowed' ? ['已批准（缩小范围）', 'was approved with narrower terms'] : ['已批准', 'was approved'];
    const audience: Notice['audience'] = [{ agencyId: r.consumerAgencyId, roles: ['requester', 'nodeAdmin'] }, ...(automatic ? [{ agencyId: r.providerAgencyId, roles: ['reviewer' as const] }] : [])];
    await this.notifier.notify(this.#notice(r, 'request.decided', audience, whatZh, what, `授权有效期至 ${terms.validUntil}。${comment ?? ''}`, `The grant is in force until ${terms.validUntil}. ${comment ?? ''}`), trx);
  }

  async #issue(ctx: RequestContext, r: ShareRequestRow, terms: GrantIssue, trx: Db, id?: string): Promise<GrantRow> {
    const granted = await this.grants.issue(ctx, terms, trx, id);
    if (r.renewsGrantId) await this.grants.supersede(ctx, r.renewsGrantId, granted.id, trx);
    return granted;
  }

  #asAsked(r: ShareRequestRow): GrantIssue {
    return {
      requestId: r.id,
      consumerAgencyId: r.consumerAgencyId,
      consumerSystemId: r.consumerSystemId,
      entryId: r.entryId,
      resourceCode: r.resourceCode,
      providerAgencyId: r.providerAgencyId,
      method: r.shareMethod as GrantMethod,
      items: r.items,
      rowFilter: [],
      masking: {},
      ratePerMinute: null,
      volumePerDay: null,
      purpose: `${r.purposeBusiness}（${r.purposeBasis}）`,
      conditions: null,
      validUntil: r.validUntil,
    };
  }

  /** The terms a reviewer (or the supervisor) grants, checked against the request: never wider than asked. */
  #terms(r: ShareRequestRow, entry: PublishedEntry, given: GrantTerms | undefined, field: string, now: Date): { terms: GrantIssue; narrowed: boolean } {
    const asked = this.#asAsked(r);
    if (!given) return { terms: asked, narrowed: false };
    const items = given.items ?? asked.items;
    const extra = items.filter((i) => !r.items.includes(i));
    if (extra.length > 0) throw badTerms(`${field}.items`, 'subset', `${extra.join(', ')} were not asked for`, `${extra.join('、')} 不在申请范围内`);
    const known = new Set(entry.content.dataItems.map((d) => d.nameZh));
    const rowFilter: RowCondition[] = (given.rowFilter ?? []).map((c, i) => {
      if (!known.has(c.item)) throw badTerms(`${field}.rowFilter.${i}.item`, 'dataItem', `the resource has no data item ${c.item}`, `资源没有信息项 ${c.item}`);
      if (c.op === 'eq' && c.values.length !== 1) throw badTerms(`${field}.rowFilter.${i}.values`, 'oneValue', 'eq takes exactly one value', 'eq 只能有一个取值');
      return { item: c.item, op: c.op, values: c.values.map((v) => v.trim()) };
    });
    const masking: Record<string, MaskKind> = {};
    for (const [item, kind] of Object.entries(given.masking ?? {})) {
      if (!items.includes(item)) throw badTerms(`${field}.masking.${item}`, 'grantedItem', `${item} is not among the granted items`, `${item} 不在授权的信息项中`);
      masking[item] = kind;
    }
    const validUntil = given.validUntil ?? asked.validUntil;
    if (validUntil > r.validUntil) throw badTerms(`${field}.validUntil`, 'notLater', `the grant cannot end after ${r.validUntil}, the day asked for`, `授权截止时间不能晚于申请的 ${r.validUntil}`);
    if (validUntil < chinaDateOf(now)) throw badTerms(`${field}.validUntil`, 'notPast', `${validUntil} is in the past`, `${validUntil} 已过`);
    const conditions = given.conditions?.trim() || null;
    const terms: GrantIssue = { ...asked, items, rowFilter, masking, ratePerMinute: given.ratePerMinute ?? null, volumePerDay: given.volumePerDay ?? null, validUntil, conditions };
    const narrowed =
      items.length < asked.items.length || rowFilter.length > 0 || Object.keys(masking).length > 0 || terms.ratePerMinute !== null || terms.volumePerDay !== null || validUntil < asked.validUntil || conditions !== null;
    return { terms, narrowed };
  }

  #checkItems(entry: PublishedEntry, wanted: readonly string[]): string[] {
    const names = new Set(entry.content.dataItems.map((d) => d.nameZh));
    const items = wanted.map((w) => w.trim());
    const unknown = items.filter((i) => !names.has(i));
    if (unknown.length > 0) {
      throw new GsError(
        'GS_ERR_SHARE_REQUEST_ITEMS_UNKNOWN',
        { resourceCode: entry.resourceCode, items: unknown.join('、') },
        unknown.map((u) => ({ field: `body.items.${wanted.findIndex((w) => w.trim() === u)}`, rule: 'dataItem', message: `the resource has no data item ${u}`, messageZh: `资源没有信息项 ${u}` })),
      );
    }
    if (new Set(items).size !== items.length) throw invalid('body.items', 'unique', 'a data item is named twice', '信息项重复');
    return items;
  }

  async #published(resource: string, field: string): Promise<PublishedEntry> {
    return this.catalog.getPublished(resource).catch((e: unknown) => {
      if (e instanceof GsError && e.code === 'GS_ERR_CATALOG_ENTRY_NOT_FOUND') throw invalid(field, 'published', `no published resource ${resource}`, `不存在已发布的资源 ${resource}`);
      throw e;
    });
  }

  async #linkAttachments(r: ShareRequestRow, refs: readonly AttachmentRef[], now: Date, trx: Db): Promise<void> {
    if (refs.length === 0) return;
    const ids = refs.map((a) => a.id);
    if (new Set(ids).size !== ids.length) throw invalid('body.attachments', 'unique', 'an attachment is named twice', '附件重复');
    await this.attachments.link(trx, { attachmentIds: ids, ownerType: OWNER_TYPE, ownerId: r.id, readerAgencyIds: [r.providerAgencyId] }, r.consumerAgencyId);
    await this.#store.addAttachments(r.id, refs, now, trx);
  }

  #checkReviewer(actor: Actor, r: ShareRequestRow): void {
    if (isStaff(actor)) return;
    if (!actor.permissions.has('request:review')) throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: 'request:review' });
    if (actor.agencyId !== r.providerAgencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
  }

  #checkRequester(actor: Actor, r: ShareRequestRow): void {
    if (isStaff(actor)) return;
    if (!actor.permissions.has('request:file')) throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: 'request:file' });
    if (actor.agencyId !== r.consumerAgencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
  }

  #checkSupervisor(actor: Actor): void {
    if (isStaff(actor) || actor.permissions.has('request:arbitrate')) return;
    throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: 'request:arbitrate' });
  }

  #notice(r: ShareRequestRow, kind: NoticeKind, audience: Notice['audience'], whatZh: string, what: string, moreZh: string, more: string): Notice {
    return {
      kind,
      audience,
      subjectZh: `共享申请 ${r.number}（${r.resourceName}）${whatZh}`,
      subject: `Share request ${r.number} (${r.resourceCode}) ${what}`,
      bodyZh: `共享申请 ${r.number}：资源 ${r.resourceCode}「${r.resourceName}」，共享方式 ${r.shareMethod}。${moreZh}`,
      body: `Share request ${r.number}: resource ${r.resourceCode}, method ${r.shareMethod}. ${more}`,
      target: { type: OWNER_TYPE, id: r.id },
      details: { requestId: r.id, number: r.number, resourceCode: r.resourceCode, status: r.status, decision: r.decision, dueOn: r.dueOn, consumerAgencyId: r.consumerAgencyId, providerAgencyId: r.providerAgencyId },
    };
  }

  async #view(r: ShareRequestRow, lang?: string): Promise<ShareRequest> {
    return (await this.#views([r], lang))[0]!;
  }

  /**
   * The views of a page of requests: the agencies, systems and resources they name are each read
   * once, and the attachments of the whole page in two queries.
   */
  async #views(rows: readonly ShareRequestRow[], lang?: string): Promise<ShareRequest[]> {
    const once = <T>(read: (id: string) => Promise<T>) => {
      const seen = new Map<string, Promise<T>>();
      return (id: string): Promise<T> => {
        let p = seen.get(id);
        if (p === undefined) seen.set(id, (p = read(id)));
        return p;
      };
    };
    const agency = once(async (id) => {
      const a = await this.agencies.get(id, lang);
      return { id: a.id, code: a.code, name: a.name };
    });
    const system = once((id) => this.systems.get(id));
    const entry = once((id) => this.catalog.getPublished(id).catch(() => undefined));
    const ids = rows.map((r) => r.id);
    const [kindRows, files] = await Promise.all([this.#store.attachmentKinds(ids), this.attachments.filesOf(OWNER_TYPE, ids)]);
    const kinds = new Map<string, { attachmentId: string; kind: string }[]>();
    for (const k of kindRows) kinds.set(k.requestId, [...(kinds.get(k.requestId) ?? []), k]);
    return Promise.all(
      rows.map(async (r) => {
        const [consumer, provider, sys, published] = await Promise.all([agency(r.consumerAgencyId), agency(r.providerAgencyId), system(r.consumerSystemId), entry(r.entryId)]);
        return this.#viewOf(r, { consumer, provider, system: sys, entry: published, kinds: kinds.get(r.id) ?? [], files: files.get(r.id) ?? [] });
      }),
    );
  }

  #viewOf(
    r: ShareRequestRow,
    { consumer, provider, system, entry, kinds, files }: {
      consumer: ShareRequest['consumer'];
      provider: ShareRequest['provider'];
      system: { readonly id: string; readonly name: string };
      entry: Awaited<ReturnType<CatalogService['getPublished']>> | undefined;
      kinds: readonly { attachmentId: string; kind: string }[];
      files: readonly AttachmentInfo[];
    },
  ): ShareRequest {
    const byId = new Map(files.map((f) => [f.id, f]));
    const status = r.status as RequestStatus;
    const today = chinaDateOf(this.now());
    const stage: Stage | null = status === 'conformance' ? 'conformance' : status === 'review' || (status === 'infoRequested' && r.dueOn) ? 'review' : null;
    return {
      id: r.id,
      number: r.number,
      consumer,
      system: { id: system.id, name: system.name },
      provider,
      resource: { entryId: r.entryId, resourceCode: r.resourceCode, name: r.resourceName, version: r.entryVersion },
      shareType: r.shareType as 'unconditional' | 'conditional',
      items: r.items,
      sensitiveItems: entry ? sensitiveOf(entry.content.dataItems, r.items) : [],
      purpose: { business: r.purposeBusiness, basis: r.purposeBasis },
      dataUsers: r.dataUsers,
      shareMethod: r.shareMethod as GrantMethod,
      validUntil: r.validUntil,
      expectedVolume: r.expectedVolume,
      frequency: r.frequency,
      renewsGrantId: r.renewsGrantId,
      status,
      statusZh: REQUEST_STATUS_ZH[status],
      deadline: stage && r.dueOn ? { stage, dueOn: r.dueOn, overdue: r.dueOn < today, remindedAt: r.remindedAt?.toISOString() ?? null, escalatedAt: r.escalatedAt?.toISOString() ?? null } : null,
      clock: { mode: this.settings.infoClock, paused: status === 'infoRequested' && r.dueOn === null, reviewDaysLeft: r.reviewDaysLeft },
      infoRequest: r.infoRequest && r.infoRequestedAt ? { question: r.infoRequest, at: r.infoRequestedAt.toISOString() } : null,
      decision:
        r.decision && r.decidedBy && r.decidedAt
          ? { kind: r.decision as Decision, comment: r.decisionComment, legalBasis: r.refusalLaw ? { law: r.refusalLaw, article: r.refusalArticle ?? '' } : null, by: r.decidedBy, at: r.decidedAt.toISOString() }
          : null,
      dispute: r.disputeReason && r.disputedBy && r.disputedAt ? { reason: r.disputeReason, by: r.disputedBy, at: r.disputedAt.toISOString() } : null,
      arbitration:
        r.arbitrationOutcome && r.arbitratedBy && r.arbitratedAt
          ? { outcome: r.arbitrationOutcome as 'upheld' | 'overruled', comment: r.arbitrationComment ?? '', by: r.arbitratedBy, at: r.arbitratedAt.toISOString() }
          : null,
      grantId: r.grantId,
      attachments: kinds.flatMap((k) => {
        const f = byId.get(k.attachmentId);
        return f ? [{ id: f.id, kind: k.kind as AttachmentKind, fileName: f.fileName, bytes: f.bytes, sha256: f.sha256 }] : [];
      }),
      version: r.version,
      createdBy: r.createdBy,
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
    };
  }
}

function sensitiveOf(dataItems: readonly DataItem[], items: readonly string[]): string[] {
  const sensitive = new Set(dataItems.filter((d) => d.sensitive).map((d) => d.nameZh));
  return items.filter((i) => sensitive.has(i));
}

/** Nearest-rank percentile of sorted values; null when there are none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[rank - 1]!;
}

function stateError(r: ShareRequestRow, action: Action, reason?: string, reasonZh?: string): GsError {
  const status = r.status as RequestStatus;
  return new GsError('GS_ERR_SHARE_REQUEST_STATE', {
    id: r.id,
    number: r.number,
    status,
    statusZh: REQUEST_STATUS_ZH[status],
    action,
    actionZh: ACTION_ZH[action],
    ...(reason ? { reason, reasonZh } : {}),
  });
}
