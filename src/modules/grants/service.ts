import type { Db } from '../../db/database.js';
import { GsError } from '../../lib/errors.js';
import { checkVersion } from '../../lib/records.js';
import { isUuid, newId } from '../../lib/secrets.js';
import { chinaDateOf } from '../../lib/working-calendar.js';
import type { Actor, RequestContext } from '../../server/actor.js';
import type { AuditService } from '../audit/service.js';
import type { ProviderLookup } from '../catalog/service.js';
import type { Notice, Notifier } from '../requests/notifier.js';
import type { Grant, GrantEvent } from './schemas.js';
import { GrantStore, type GrantQuery, type GrantRow } from './store.js';
import { describeRowFilter, GRANT_STATUS_ZH, type GrantMethod, type GrantStatus, type MaskKind, type RowCondition } from './vocabulary.js';

/** The terms a grant is issued with, settled by the request's review (or arbitration). */
export interface GrantIssue {
  readonly requestId: string;
  readonly consumerAgencyId: string;
  readonly consumerSystemId: string;
  readonly entryId: string;
  readonly resourceCode: string;
  readonly providerAgencyId: string;
  readonly method: GrantMethod;
  readonly items: readonly string[];
  readonly rowFilter: readonly RowCondition[];
  readonly masking: Readonly<Record<string, MaskKind>>;
  readonly ratePerMinute: number | null;
  readonly volumePerDay: number | null;
  readonly purpose: string;
  readonly conditions: string | null;
  readonly validUntil: string;
}

export interface SystemNames {
  name(systemId: string): Promise<string>;
}

const ACTION_ZH = { suspend: '暂停', reinstate: '恢复', revoke: '撤销' } as const;
type StatusAction = keyof typeof ACTION_ZH;

/** Who may act on a grant: its provider agency's grant managers, the supervisor, the platform. */
function seesAll(actor: Actor): boolean {
  return actor.type === 'cli' || actor.type === 'system' || actor.permissions.has('request:arbitrate') || (actor.agencyId === null && actor.permissions.has('grant:read'));
}

/**
 * Grants (授权): what a consumer system may receive of a resource, by which method, under which
 * terms, until when. Issued only by the share-request workflow (ShareRequestService) inside its
 * transaction; suspended, reinstated and revoked by the provider or the supervisor; expired by
 * the deadline sweep. The exchange asks GrantCheck (check.ts), which reads the same rows.
 */
export class GrantService {
  readonly #store: GrantStore;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly agencies: ProviderLookup,
    private readonly systems: SystemNames,
    private readonly notifier: Notifier,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.#store = new GrantStore(db);
  }

  async #require(actor: Actor, id: string, executor: Db = this.db, forUpdate = false): Promise<GrantRow> {
    const row = isUuid(id) ? await this.#store.byId(id, executor, forUpdate) : undefined;
    if (!row || !(seesAll(actor) || (actor.agencyId !== null && (actor.agencyId === row.consumerAgencyId || actor.agencyId === row.providerAgencyId)))) {
      throw new GsError('GS_ERR_GRANT_NOT_FOUND', { id });
    }
    return row;
  }

  async get(actor: Actor, id: string, lang?: string): Promise<Grant> {
    return this.#view(await this.#require(actor, id), lang);
  }

  async list(actor: Actor, q: GrantQuery, lang?: string): Promise<Grant[]> {
    if (!seesAll(actor)) {
      if (!actor.agencyId) return [];
      if (q.agencyId && q.agencyId !== actor.agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
      q = { ...q, agencyId: actor.agencyId };
    }
    return Promise.all((await this.#store.list(q)).map((r) => this.#view(r, lang)));
  }

  /** The grants a request produced (an arbitration may replace the first); unchecked: the request workflow has checked the reader. */
  async forRequest(requestId: string, lang?: string): Promise<Grant[]> {
    return Promise.all((await this.#store.forRequest(requestId)).map((r) => this.#view(r, lang)));
  }

  async events(grantIds: readonly string[]): Promise<GrantEvent[]> {
    return (await this.#store.events(grantIds)).map((e) => ({
      grantId: e.grantId,
      at: e.at.toISOString(),
      actor: e.actor,
      action: e.action,
      statusFrom: e.statusFrom,
      statusTo: e.statusTo,
      reason: e.reason,
      details: e.details,
    }));
  }

  /** Issues a grant inside the request workflow's transaction (the decision and the grant commit together). */
  async issue(ctx: RequestContext, terms: GrantIssue, trx: Db, id: string = newId()): Promise<GrantRow> {
    const now = this.now();
    const row = await this.#store.insert(
      {
        id,
        requestId: terms.requestId,
        consumerAgencyId: terms.consumerAgencyId,
        consumerSystemId: terms.consumerSystemId,
        entryId: terms.entryId,
        resourceCode: terms.resourceCode,
        providerAgencyId: terms.providerAgencyId,
        shareMethod: terms.method,
        items: [...terms.items],
        rowFilter: JSON.stringify(terms.rowFilter),
        masking: JSON.stringify(terms.masking),
        ratePerMinute: terms.ratePerMinute,
        volumePerDay: terms.volumePerDay,
        purpose: terms.purpose,
        conditions: terms.conditions,
        validFrom: now,
        validUntil: terms.validUntil,
        status: 'active',
        statusReason: null,
        statusChangedBy: null,
        statusChangedAt: null,
        expiryRemindedAt: null,
        createdBy: ctx.actor.name,
      },
      now,
      trx,
    );
    await this.#store.addEvent({ grantId: row.id, at: now, actor: ctx.actor.name, action: 'issue', statusFrom: null, statusTo: 'active', reason: null, details: { requestId: terms.requestId } }, trx);
    await this.audit.record(ctx, { action: 'grant.issue', targetType: 'grant', targetId: row.id, details: { requestId: terms.requestId, systemId: terms.consumerSystemId, resourceCode: terms.resourceCode, method: terms.method, items: terms.items.length, validUntil: terms.validUntil } }, trx);
    return row;
  }

  /** A renewal took effect: the old grant ends now, replaced by `replacement`. */
  async supersede(ctx: RequestContext, grantId: string, replacement: string, trx: Db): Promise<void> {
    const before = await this.#store.byId(grantId, trx, true);
    if (!before || before.status === 'revoked' || before.status === 'expired') return;
    const now = this.now();
    const reason = `续期，由授权 ${replacement} 接替 (renewed by grant ${replacement})`;
    await this.#store.setStatus(grantId, { status: 'expired', statusReason: reason, statusChangedBy: ctx.actor.name, statusChangedAt: now }, now, trx);
    await this.#store.addEvent({ grantId, at: now, actor: ctx.actor.name, action: 'supersede', statusFrom: before.status, statusTo: 'expired', reason, details: { replacement } }, trx);
    await this.audit.record(ctx, { action: 'grant.supersede', targetType: 'grant', targetId: grantId, details: { replacement } }, trx);
  }

  /** A grant ends early by a decision on its request (arbitration overruling a narrowing). */
  async revokeFor(ctx: RequestContext, grantId: string, reason: string, trx: Db): Promise<void> {
    const before = await this.#store.byId(grantId, trx, true);
    if (!before || before.status === 'revoked' || before.status === 'expired') return;
    const now = this.now();
    await this.#store.setStatus(grantId, { status: 'revoked', statusReason: reason, statusChangedBy: ctx.actor.name, statusChangedAt: now }, now, trx);
    await this.#store.addEvent({ grantId, at: now, actor: ctx.actor.name, action: 'revoke', statusFrom: before.status, statusTo: 'revoked', reason, details: {} }, trx);
    await this.audit.record(ctx, { action: 'grant.revoke', targetType: 'grant', targetId: grantId, details: { reason } }, trx);
  }

  suspend(ctx: RequestContext, id: string, input: { reason: string; expectedVersion?: number | undefined }, lang?: string): Promise<Grant> {
    return this.#changeStatus(ctx, id, 'suspend', input, lang);
  }

  reinstate(ctx: RequestContext, id: string, input: { reason: string; expectedVersion?: number | undefined }, lang?: string): Promise<Grant> {
    return this.#changeStatus(ctx, id, 'reinstate', input, lang);
  }

  revoke(ctx: RequestContext, id: string, input: { reason: string; expectedVersion?: number | undefined }, lang?: string): Promise<Grant> {
    return this.#changeStatus(ctx, id, 'revoke', input, lang);
  }

  async #changeStatus(ctx: RequestContext, id: string, action: StatusAction, input: { reason: string; expectedVersion?: number | undefined }, lang?: string): Promise<Grant> {
    const now = this.now();
    const reason = input.reason.trim();
    if (!reason) throw new GsError('GS_ERR_REQUEST_INVALID', { summary: 'body.reason: a reason is required', summaryZh: 'body.reason：须说明理由' }, [{ field: 'body.reason', rule: 'required', message: 'a reason is required', messageZh: '须说明理由' }]);
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.#require(ctx.actor, id, trx, true);
      this.#checkManager(ctx.actor, before);
      checkVersion(input.expectedVersion, before.version);
      const to: GrantStatus = action === 'suspend' ? 'suspended' : action === 'reinstate' ? 'active' : 'revoked';
      const allowedFrom: readonly GrantStatus[] = action === 'suspend' ? ['active'] : action === 'reinstate' ? ['suspended'] : ['active', 'suspended'];
      if (!allowedFrom.includes(before.status as GrantStatus)) throw stateError(before, action);
      if (action === 'reinstate' && before.validUntil < chinaDateOf(now)) throw stateError({ ...before, status: 'expired' }, action);
      const after = await this.#store.setStatus(id, { status: to, statusReason: reason, statusChangedBy: ctx.actor.name, statusChangedAt: now }, now, trx);
      await this.#store.addEvent({ grantId: id, at: now, actor: ctx.actor.name, action, statusFrom: before.status, statusTo: to, reason, details: {} }, trx);
      await this.audit.record(ctx, { action: `grant.${action}`, targetType: 'grant', targetId: id, details: { reason, from: before.status, to } }, trx);
      await this.notifier.notify(this.#statusNotice(after, action, reason), trx);
      return after;
    });
    return this.#view(row, lang);
  }

  #checkManager(actor: Actor, g: GrantRow): void {
    if (actor.type === 'cli' || actor.type === 'system' || actor.permissions.has('request:arbitrate')) return;
    if (!actor.permissions.has('grant:manage')) throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: 'grant:manage' });
    if (actor.agencyId !== g.providerAgencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
  }

  #statusNotice(g: GrantRow, action: StatusAction, reason: string): Notice {
    const kind = action === 'suspend' ? 'grant.suspended' : action === 'reinstate' ? 'grant.reinstated' : 'grant.revoked';
    const en = { suspend: 'suspended', reinstate: 'reinstated', revoke: 'revoked' }[action];
    return {
      kind,
      audience: [
        { agencyId: g.consumerAgencyId, roles: ['requester', 'nodeAdmin'] },
        { agencyId: g.providerAgencyId, roles: ['reviewer', 'serviceAuthoriser'] },
      ],
      subjectZh: `授权已${ACTION_ZH[action]}：${g.resourceCode}`,
      subject: `Grant ${en}: ${g.resourceCode}`,
      bodyZh: `资源 ${g.resourceCode} 的授权（${g.shareMethod}）已${ACTION_ZH[action]}。理由：${reason}`,
      body: `The grant for resource ${g.resourceCode} (${g.shareMethod}) was ${en}. Reason: ${reason}`,
      target: { type: 'grant', id: g.id },
      details: { grantId: g.id, requestId: g.requestId, resourceCode: g.resourceCode, systemId: g.consumerSystemId, method: g.shareMethod, status: g.status, reason },
    };
  }

  /**
   * The deadline sweep's part for grants: those past their last day expire (and say so), those
   * within `reminderDays` of it remind the consumer once to ask for renewal. Several processes
   * may sweep at once; each row is taken by one (SKIP LOCKED).
   */
  async sweep(ctx: RequestContext, reminderDays: number, batch = 200): Promise<{ expired: number; reminded: number }> {
    const now = this.now();
    const today = chinaDateOf(now);
    const remindBy = chinaDateOf(new Date(now.getTime() + reminderDays * 86_400_000));
    let expired = 0;
    let reminded = 0;
    for (;;) {
      const n = await this.db.transaction().execute(async (trx) => {
        const ended = await this.#store.endedBefore(today, batch, trx);
        for (const g of ended) {
          const after = await this.#store.setStatus(g.id, { status: 'expired', statusReason: null, statusChangedBy: ctx.actor.name, statusChangedAt: now }, now, trx);
          await this.#store.addEvent({ grantId: g.id, at: now, actor: ctx.actor.name, action: 'expire', statusFrom: g.status, statusTo: 'expired', reason: null, details: { validUntil: g.validUntil } }, trx);
          await this.audit.record(ctx, { action: 'grant.expire', targetType: 'grant', targetId: g.id, details: { validUntil: g.validUntil } }, trx);
          await this.notifier.notify(
            {
              kind: 'grant.expired',
              audience: [{ agencyId: after.consumerAgencyId, roles: ['requester', 'nodeAdmin'] }],
              subjectZh: `授权已到期：${after.resourceCode}`,
              subject: `Grant expired: ${after.resourceCode}`,
              bodyZh: `资源 ${after.resourceCode} 的授权已于 ${after.validUntil} 到期，如仍需使用请重新申请。`,
              body: `The grant for resource ${after.resourceCode} ended on ${after.validUntil}; file a new request if the data is still needed.`,
              target: { type: 'grant', id: after.id },
              details: { grantId: after.id, requestId: after.requestId, resourceCode: after.resourceCode, validUntil: after.validUntil },
            },
            trx,
          );
        }
        return ended.length;
      });
      expired += n;
      if (n < batch) break;
    }
    for (;;) {
      const n = await this.db.transaction().execute(async (trx) => {
        const ending = await this.#store.endingUnreminded(remindBy, batch, trx);
        for (const g of ending) {
          await this.#store.markReminded(g.id, now, trx);
          await this.notifier.notify(
            {
              kind: 'grant.expiring',
              audience: [{ agencyId: g.consumerAgencyId, roles: ['requester'] }],
              subjectZh: `授权即将到期：${g.resourceCode}（${g.validUntil}）`,
              subject: `Grant ending on ${g.validUntil}: ${g.resourceCode}`,
              bodyZh: `资源 ${g.resourceCode} 的授权将于 ${g.validUntil} 到期。如需继续使用，请在到期前申请续期。`,
              body: `The grant for resource ${g.resourceCode} ends on ${g.validUntil}. Ask for a renewal before then if the data is still needed.`,
              target: { type: 'grant', id: g.id },
              details: { grantId: g.id, requestId: g.requestId, resourceCode: g.resourceCode, validUntil: g.validUntil },
            },
            trx,
          );
        }
        return ending.length;
      });
      reminded += n;
      if (n < batch) break;
    }
    return { expired, reminded };
  }

  async #view(r: GrantRow, lang?: string): Promise<Grant> {
    const ref = async (id: string) => {
      const a = await this.agencies.get(id, lang);
      return { id: a.id, code: a.code, name: a.name };
    };
    const [consumer, provider, systemName] = await Promise.all([ref(r.consumerAgencyId), ref(r.providerAgencyId), this.systems.name(r.consumerSystemId)]);
    const rowFilter = r.rowFilter.map((c) => ({ item: c.item, op: c.op as RowCondition['op'], values: [...c.values] }));
    return {
      id: r.id,
      requestId: r.requestId,
      consumer,
      system: { id: r.consumerSystemId, name: systemName },
      provider,
      entryId: r.entryId,
      resourceCode: r.resourceCode,
      shareMethod: r.shareMethod as GrantMethod,
      items: r.items,
      rowFilter,
      rowFilterText: describeRowFilter(rowFilter),
      masking: r.masking as Record<string, MaskKind>,
      ratePerMinute: r.ratePerMinute,
      volumePerDay: r.volumePerDay,
      purpose: r.purpose,
      conditions: r.conditions,
      validFrom: r.validFrom.toISOString(),
      validUntil: r.validUntil,
      status: r.status as GrantStatus,
      statusReason: r.statusReason,
      statusChangedBy: r.statusChangedBy,
      statusChangedAt: r.statusChangedAt?.toISOString() ?? null,
      version: r.version,
      createdBy: r.createdBy,
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
    };
  }
}

function stateError(g: Pick<GrantRow, 'id' | 'status'>, action: StatusAction): GsError {
  const status = g.status as GrantStatus;
  return new GsError('GS_ERR_GRANT_STATE', { id: g.id, status, statusZh: GRANT_STATUS_ZH[status], action, actionZh: ACTION_ZH[action] });
}
