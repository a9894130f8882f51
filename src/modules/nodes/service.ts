import type { Db } from '../../db/database.js';
import type { ContactRow } from '../../db/schema.js';
import { GsError } from '../../lib/errors.js';
import { checkVersion, stripUndefined } from '../../lib/records.js';
import { isUuid, newId } from '../../lib/secrets.js';
import type { Actor, RequestContext } from '../../server/actor.js';
import type { AgencyLookup } from '../accounts/service.js';
import type { AuditService } from '../audit/service.js';
import { NODE_CODE_PATTERN, type AgencyNode, type NodeCreate, type NodePatch, type NodeStatus } from './schemas.js';
import { NodeStore, type NodeQuery, type NodeRow } from './store.js';

const CODE = new RegExp(NODE_CODE_PATTERN);
/** The unique index behind "one code, one node" (the nodes migration). */
const CODE_INDEX = 'nodes_code_idx';

/**
 * The registry of agency nodes (前置机, seed 000 §9: part of the platform, deployed at and
 * maintained by each agency; §33–34). A node is registered active by an operator or by the node
 * admin of its own agency: registering gives a node nothing by itself, since it reaches the
 * exchange port only with a client certificate, and every certificate waits for an operator's
 * approval (PkiService). Operators deactivate and reactivate nodes; a deactivated node's
 * certificate is refused on its next request. Agency staff see their own agency's nodes only.
 */
export class NodeService {
  readonly #store: NodeStore;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly agencies: AgencyLookup,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.#store = new NodeStore(db);
  }

  async #require(actor: Actor, id: string, executor?: Db): Promise<NodeRow> {
    const row = isUuid(id) ? await this.#store.byId(id, executor) : undefined;
    // Another agency's node is "not found" for agency staff: its existence is not theirs to know.
    if (!row || !seesAllAgencies(actor) && row.agencyId !== actor.agencyId) throw new GsError('GS_ERR_NODE_NOT_FOUND', { id });
    return row;
  }

  async get(actor: Actor, id: string): Promise<AgencyNode> {
    return toNode(await this.#require(actor, id));
  }

  async list(actor: Actor, q: NodeQuery & { status?: NodeStatus | undefined }): Promise<AgencyNode[]> {
    if (!seesAllAgencies(actor)) {
      if (q.agencyId && q.agencyId !== actor.agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
      if (!actor.agencyId) return [];
      q = { ...q, agencyId: actor.agencyId };
    }
    return (await this.#store.list(q)).map(toNode);
  }

  async register(ctx: RequestContext, input: NodeCreate): Promise<AgencyNode> {
    const platformWide = ctx.actor.permissions.has('node:manage') || ctx.actor.type === 'cli';
    if (!platformWide && input.agencyId !== ctx.actor.agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
    // The route's schema checks the pattern too; this is for callers that are not HTTP requests.
    if (!CODE.test(input.code)) {
      throw new GsError('GS_ERR_NODE_CODE_INVALID', { code: input.code }, [{ field: 'body.code', rule: 'pattern', message: `must match ${NODE_CODE_PATTERN}`, messageZh: '格式不正确' }]);
    }
    await this.agencies.requireActive(input.agencyId);
    const status: NodeStatus = 'active';
    const now = this.now();
    const id = newId();
    const taken = (): GsError => new GsError('GS_ERR_NODE_CODE_TAKEN', { code: input.code });
    const row = await this.db
      .transaction()
      .execute(async (trx) => {
        if (await this.#store.byCode(input.code, trx)) throw taken();
        const inserted = await this.#store.insert(
          { id, agencyId: input.agencyId, code: input.code, name: input.name, description: input.description ?? '', contact: input.contact as ContactRow, status, createdBy: ctx.actor.name },
          now,
          trx,
        );
        await this.audit.record(ctx, { action: 'node.register', targetType: 'node', targetId: id, details: { agencyId: input.agencyId, code: input.code, name: input.name, status } }, trx);
        return inserted;
      })
      .catch((e: unknown) => {
        // Two registrations of one code at once: the loser's insert hits the unique index.
        throw isViolationOf(e, CODE_INDEX) ? taken() : e;
      });
    return toNode(row);
  }

  async update(ctx: RequestContext, id: string, input: NodePatch): Promise<AgencyNode> {
    const { expectedVersion, ...rest } = input;
    const patch = stripUndefined({ ...rest, contact: rest.contact as ContactRow | undefined });
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.#require(ctx.actor, id, trx);
      checkVersion(expectedVersion, before.version);
      const after = await this.#store.update(id, patch, now, trx);
      await this.audit.record(ctx, { action: 'node.update', targetType: 'node', targetId: id, details: { fields: Object.keys(patch) } }, trx);
      return after;
    });
    return toNode(row);
  }

  /** Operator decisions: deactivate an active node, reactivate a deactivated one (its agency must be active). */
  async setStatus(ctx: RequestContext, id: string, action: 'deactivate' | 'reactivate', reason: string | null): Promise<AgencyNode> {
    const [from, to]: [NodeStatus, NodeStatus] = action === 'deactivate' ? ['active', 'deactivated'] : ['deactivated', 'active'];
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.#require(ctx.actor, id, trx);
      if (before.status !== from) throw new GsError('GS_ERR_NODE_STATE', { id, status: before.status, action });
      if (to === 'active') await this.agencies.requireActive(before.agencyId, trx);
      const after = await this.#store.update(id, { status: to, statusReason: reason }, now, trx);
      await this.audit.record(ctx, { action: `node.${action}`, targetType: 'node', targetId: id, details: { reason } }, trx);
      return after;
    });
    return toNode(row);
  }
}

function seesAllAgencies(actor: Actor): boolean {
  return actor.type === 'cli' || actor.type === 'system' || actor.permissions.has('node:manage') || actor.roles.includes('supervisor');
}

/** A PostgreSQL unique violation (SQLSTATE 23505) of the named index or constraint; PGlite reports it alike. */
function isViolationOf(e: unknown, constraint: string): boolean {
  const pg = e as { code?: unknown; constraint?: unknown } | null;
  return typeof pg === 'object' && pg !== null && pg.code === '23505' && pg.constraint === constraint;
}

function toNode(r: NodeRow): AgencyNode {
  return {
    id: r.id,
    agencyId: r.agencyId,
    code: r.code,
    name: r.name,
    description: r.description,
    contact: r.contact as AgencyNode['contact'],
    status: r.status as NodeStatus,
    statusReason: r.statusReason,
    version: r.version,
    createdBy: r.createdBy,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
