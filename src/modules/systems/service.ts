import type { Db } from '../../db/database.js';
import type { ContactRow } from '../../db/schema.js';
import { GsError } from '../../lib/errors.js';
import { checkVersion, stripUndefined } from '../../lib/records.js';
import { isUuid, newId } from '../../lib/secrets.js';
import type { Actor, RequestContext } from '../../server/actor.js';
import type { AgencyLookup } from '../accounts/service.js';
import type { AuditService } from '../audit/service.js';
import type { BusinessSystem, SystemCreate, SystemPatch, SystemStatus } from './schemas.js';
import { SystemStore, type SystemRow } from './store.js';

/**
 * Business systems (接入系统) registered under an agency (seed 000 §25: access by application and
 * approval). An operator registers a system active; an agency's node admin applies for one, which
 * stays pending until an operator approves it. Agency staff see their own agency's systems only.
 */
export class SystemService {
  readonly #store: SystemStore;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly agencies: AgencyLookup,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.#store = new SystemStore(db);
  }

  async #require(actor: Actor, id: string, executor?: Db): Promise<SystemRow> {
    const row = isUuid(id) ? await this.#store.byId(id, executor) : undefined;
    // Another agency's system is "not found" for agency staff: its existence is not theirs to know.
    if (!row || !seesAllAgencies(actor) && row.agencyId !== actor.agencyId) throw new GsError('GS_ERR_SYSTEM_NOT_FOUND', { id });
    return row;
  }

  async get(actor: Actor, id: string): Promise<BusinessSystem> {
    return toSystem(await this.#require(actor, id));
  }

  async list(actor: Actor, q: { agencyId?: string | undefined; status?: SystemStatus | undefined; after?: string | undefined; limit: number }): Promise<BusinessSystem[]> {
    if (!seesAllAgencies(actor)) {
      if (q.agencyId && q.agencyId !== actor.agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
      if (!actor.agencyId) return [];
      q = { ...q, agencyId: actor.agencyId };
    }
    return (await this.#store.list(q)).map(toSystem);
  }

  async register(ctx: RequestContext, input: SystemCreate): Promise<BusinessSystem> {
    const platformWide = ctx.actor.permissions.has('system:manage') || ctx.actor.type === 'cli';
    if (!platformWide && input.agencyId !== ctx.actor.agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
    await this.agencies.requireActive(input.agencyId);
    const status: SystemStatus = platformWide ? 'active' : 'pending';
    const now = this.now();
    const id = newId();
    const row = await this.db.transaction().execute(async (trx) => {
      if (await this.#store.byName(input.agencyId, input.name, trx)) throw new GsError('GS_ERR_SYSTEM_NAME_TAKEN', { name: input.name });
      const inserted = await this.#store.insert({ id, agencyId: input.agencyId, name: input.name, purpose: input.purpose, ownerContact: input.ownerContact as ContactRow, status, createdBy: ctx.actor.name }, now, trx);
      await this.audit.record(ctx, { action: 'system.register', targetType: 'businessSystem', targetId: id, details: { agencyId: input.agencyId, name: input.name, status } }, trx);
      return inserted;
    });
    return toSystem(row);
  }

  async update(ctx: RequestContext, id: string, input: SystemPatch): Promise<BusinessSystem> {
    const { expectedVersion, ...rest } = input;
    const patch = stripUndefined({ ...rest, ownerContact: rest.ownerContact as ContactRow | undefined });
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.#require(ctx.actor, id, trx);
      checkVersion(expectedVersion, before.version);
      if (patch.name && patch.name !== before.name && (await this.#store.byName(before.agencyId, patch.name, trx))) {
        throw new GsError('GS_ERR_SYSTEM_NAME_TAKEN', { name: patch.name });
      }
      const after = await this.#store.update(id, patch, now, trx);
      await this.audit.record(ctx, { action: 'system.update', targetType: 'businessSystem', targetId: id, details: { fields: Object.keys(patch) } }, trx);
      return after;
    });
    return toSystem(row);
  }

  /** Operator decisions: approve a pending system, deactivate or reactivate one. */
  async setStatus(ctx: RequestContext, id: string, action: 'approve' | 'deactivate' | 'reactivate', reason: string | null): Promise<BusinessSystem> {
    const allowed: Record<typeof action, { from: SystemStatus[]; to: SystemStatus }> = {
      approve: { from: ['pending'], to: 'active' },
      deactivate: { from: ['pending', 'active'], to: 'inactive' },
      reactivate: { from: ['inactive'], to: 'active' },
    };
    const rule = allowed[action];
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.#require(ctx.actor, id, trx);
      if (!rule.from.includes(before.status as SystemStatus)) throw new GsError('GS_ERR_SYSTEM_STATE', { id, status: before.status, action });
      if (rule.to === 'active') await this.agencies.requireActive(before.agencyId, trx);
      const after = await this.#store.update(id, { status: rule.to, statusReason: reason }, now, trx);
      await this.audit.record(ctx, { action: `system.${action}`, targetType: 'businessSystem', targetId: id, details: { reason } }, trx);
      return after;
    });
    return toSystem(row);
  }
}

function seesAllAgencies(actor: Actor): boolean {
  return actor.type === 'cli' || actor.type === 'system' || actor.permissions.has('system:manage') || actor.roles.includes('supervisor');
}

function toSystem(r: SystemRow): BusinessSystem {
  return {
    id: r.id,
    agencyId: r.agencyId,
    name: r.name,
    purpose: r.purpose,
    ownerContact: r.ownerContact as BusinessSystem['ownerContact'],
    status: r.status as SystemStatus,
    statusReason: r.statusReason,
    version: r.version,
    createdBy: r.createdBy,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
