import type { Db } from '../../db/database.js';
import { GsError } from '../../lib/errors.js';
import { checkVersion } from '../../lib/records.js';
import { isUuid, newId } from '../../lib/secrets.js';
import { chinaDateOf } from '../../lib/working-calendar.js';
import type { Actor, RequestContext } from '../../server/actor.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService, ProviderLookup } from '../catalog/service.js';
import type { AnswerKind, Demand, DemandAnswer, DemandCreate, DemandRoute, DemandStatus } from './schemas.js';
import { DemandStore, type DemandQuery, type DemandRow } from './store.js';

const STATUS_ZH: Readonly<Record<DemandStatus, string>> = { open: '待分派', routed: '已分派待答复', answered: '已答复' };
const ACTION_ZH = { route: '分派', answer: '答复' } as const;

/**
 * The demand catalog (需求目录, 000 §13): an agency posts a need; the supervisor routes it to the
 * agency that holds the data; that agency answers with a published resource that already has it,
 * a promise to catalog it by a date, or a refusal with reasons; the requester reads the answer.
 * It reaches the catalog only through CatalogService.
 */
export class DemandService {
  readonly #store: DemandStore;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly agencies: ProviderLookup,
    private readonly catalog: Pick<CatalogService, 'getPublished'>,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.#store = new DemandStore(db);
  }

  #everyAgency(actor: Actor): boolean {
    return actor.type === 'cli' || actor.type === 'system' || actor.permissions.has('catalog:review');
  }

  /** The requester, the agency asked and the supervisor see a demand; to others it does not exist. */
  async #require(actor: Actor, id: string, executor: Db = this.db, forUpdate = false): Promise<DemandRow> {
    const row = isUuid(id) ? await this.#store.byId(id, executor, forUpdate) : undefined;
    if (!row || !(this.#everyAgency(actor) || (actor.agencyId !== null && (actor.agencyId === row.requesterAgencyId || actor.agencyId === row.providerAgencyId)))) {
      throw new GsError('GS_ERR_DEMAND_NOT_FOUND', { id });
    }
    return row;
  }

  async #activeAgency(agencyId: string, field: string, executor: Db): Promise<void> {
    await this.agencies.requireActive(agencyId, executor).catch((e: unknown) => {
      if (e instanceof GsError && (e.code === 'GS_ERR_AGENCY_NOT_FOUND' || e.code === 'GS_ERR_AGENCY_INACTIVE')) {
        const [reason, reasonZh] = e.code === 'GS_ERR_AGENCY_NOT_FOUND' ? ['no such agency', '单位不存在'] : ['the agency is deactivated', '单位已停用'];
        throw new GsError('GS_ERR_DEMAND_AGENCY_INVALID', { agencyId, reason, reasonZh }, [{ field, rule: 'activeAgency', message: reason, messageZh: reasonZh }]);
      }
      throw e;
    });
  }

  async get(actor: Actor, id: string, lang?: string): Promise<Demand> {
    return this.#view(await this.#require(actor, id), lang);
  }

  async list(actor: Actor, q: DemandQuery, lang?: string): Promise<Demand[]> {
    if (!this.#everyAgency(actor)) {
      if (!actor.agencyId) return [];
      q = { ...q, agencyId: actor.agencyId };
    }
    return Promise.all((await this.#store.list(q)).map((r) => this.#view(r, lang)));
  }

  /** An agency posts a need (catalogers and requesters, for their own agency). */
  async post(ctx: RequestContext, input: DemandCreate & { requesterAgencyId?: string | undefined }, lang?: string): Promise<Demand> {
    const requesterAgencyId = ctx.actor.type === 'cli' || ctx.actor.type === 'system' ? (input.requesterAgencyId ?? null) : ctx.actor.agencyId;
    if (!requesterAgencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      await this.#activeAgency(requesterAgencyId, 'body.requesterAgencyId', trx);
      if (input.suggestedAgencyId) await this.#activeAgency(input.suggestedAgencyId, 'body.suggestedAgencyId', trx);
      const inserted = await this.#store.insert(
        {
          id: newId(),
          requesterAgencyId,
          title: input.title.trim(),
          description: (input.description ?? '').trim(),
          purpose: input.purpose.trim(),
          wantedItems: (input.wantedItems ?? []).map((w) => w.trim()),
          suggestedAgencyId: input.suggestedAgencyId ?? null,
          createdBy: ctx.actor.name,
        },
        now,
        trx,
      );
      await this.audit.record(ctx, { action: 'demand.post', targetType: 'demand', targetId: inserted.id, details: { title: inserted.title, suggestedAgencyId: inserted.suggestedAgencyId } }, trx);
      return inserted;
    });
    return this.#view(row, lang);
  }

  /** The supervisor sends an open (or re-sends a routed, unanswered) demand to the agency asked to answer. */
  async route(ctx: RequestContext, id: string, input: DemandRoute, lang?: string): Promise<Demand> {
    if (!this.#everyAgency(ctx.actor)) throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: 'catalog:review' });
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.#require(ctx.actor, id, trx, true);
      checkVersion(input.expectedVersion, before.version);
      if (before.status === 'answered') throw stateError(before, 'route');
      await this.#activeAgency(input.providerAgencyId, 'body.providerAgencyId', trx);
      const after = await this.#store.update(id, { status: 'routed', providerAgencyId: input.providerAgencyId, routedBy: ctx.actor.name, routedAt: now, routeComment: input.comment ?? null }, now, trx);
      await this.audit.record(ctx, { action: 'demand.route', targetType: 'demand', targetId: id, details: { providerAgencyId: input.providerAgencyId, previous: before.providerAgencyId } }, trx);
      return after;
    });
    return this.#view(row, lang);
  }

  /** The agency asked answers, once: an existing published resource, a promise with a date, or a refusal with reasons. */
  async answer(ctx: RequestContext, id: string, input: DemandAnswer, lang?: string): Promise<Demand> {
    const now = this.now();
    const check = (d: DemandRow): void => {
      checkVersion(input.expectedVersion, d.version);
      if (d.status !== 'routed') throw stateError(d, 'answer');
      if (ctx.actor.type === 'cli' || ctx.actor.type === 'system') return;
      if (!ctx.actor.permissions.has('catalog:edit')) throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: 'catalog:edit' });
      if (ctx.actor.agencyId !== d.providerAgencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
    };
    check(await this.#require(ctx.actor, id));
    // The catalog is asked before the transaction: its service reads through its own connection.
    const answer = await this.#answerFields(input.kind, input, now);
    const row = await this.db.transaction().execute(async (trx) => {
      // Again under the row lock: a concurrent answer or re-routing wins or loses here.
      check(await this.#require(ctx.actor, id, trx, true));
      const after = await this.#store.update(id, { status: 'answered', ...answer, answeredBy: ctx.actor.name, answeredAt: now }, now, trx);
      await this.audit.record(ctx, { action: 'demand.answer', targetType: 'demand', targetId: id, details: { kind: input.kind, resourceCode: answer.answerResourceCode, promisedBy: answer.answerPromisedBy } }, trx);
      return after;
    });
    return this.#view(row, lang);
  }

  async #answerFields(kind: AnswerKind, input: DemandAnswer, now: Date) {
    const bad = (field: string, rule: string, reason: string, reasonZh: string): GsError =>
      new GsError('GS_ERR_DEMAND_ANSWER_INVALID', { reason, reasonZh }, [{ field: `body.${field}`, rule, message: reason, messageZh: reasonZh }]);
    const reason = input.reason?.trim() || null;
    switch (kind) {
      case 'existing': {
        if (!input.resourceCode) throw bad('resourceCode', 'required', 'name the published resource that has the data', '请填写已发布的资源代码');
        const code = input.resourceCode;
        const entry = await this.catalog.getPublished(code).catch((e: unknown) => {
          if (e instanceof GsError && e.code === 'GS_ERR_CATALOG_ENTRY_NOT_FOUND') throw bad('resourceCode', 'published', `no published resource ${code}`, `不存在已发布的资源 ${code}`);
          throw e;
        });
        return { answerKind: kind, answerEntryId: entry.entryId, answerResourceCode: entry.resourceCode, answerPromisedBy: null, answerReason: reason };
      }
      case 'promise':
        if (!input.promisedBy) throw bad('promisedBy', 'required', 'give the day by which it will be cataloged', '请填写承诺编目完成日期');
        if (input.promisedBy <= chinaDateOf(now)) throw bad('promisedBy', 'future', 'the promised day must be after today', '承诺日期须晚于今天');
        return { answerKind: kind, answerEntryId: null, answerResourceCode: null, answerPromisedBy: input.promisedBy, answerReason: reason };
      case 'refusal':
        // 国发〔2016〕51号: a refusal gives its reasons.
        if (!reason) throw bad('reason', 'required', 'a refusal must give its reasons', '不予提供须说明理由');
        return { answerKind: kind, answerEntryId: null, answerResourceCode: null, answerPromisedBy: null, answerReason: reason };
    }
  }

  async #view(r: DemandRow, lang?: string): Promise<Demand> {
    const ref = async (id: string | null) => {
      if (id === null) return null;
      const a = await this.agencies.get(id, lang);
      return { id: a.id, code: a.code, name: a.name };
    };
    const [requester, suggestedAgency, provider] = await Promise.all([ref(r.requesterAgencyId), ref(r.suggestedAgencyId), ref(r.providerAgencyId)]);
    return {
      id: r.id,
      requester: requester!,
      title: r.title,
      description: r.description,
      purpose: r.purpose,
      wantedItems: r.wantedItems,
      suggestedAgency,
      status: r.status as DemandStatus,
      provider,
      routed: r.routedBy && r.routedAt ? { by: r.routedBy, at: r.routedAt.toISOString(), comment: r.routeComment } : null,
      answer:
        r.answerKind && r.answeredBy && r.answeredAt
          ? { kind: r.answerKind as AnswerKind, entryId: r.answerEntryId, resourceCode: r.answerResourceCode, promisedBy: r.answerPromisedBy, reason: r.answerReason, by: r.answeredBy, at: r.answeredAt.toISOString() }
          : null,
      version: r.version,
      createdBy: r.createdBy,
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
    };
  }
}

function stateError(r: DemandRow, action: keyof typeof ACTION_ZH): GsError {
  const status = r.status as DemandStatus;
  return new GsError('GS_ERR_DEMAND_STATE', { id: r.id, status, statusZh: STATUS_ZH[status], action, actionZh: ACTION_ZH[action] });
}
