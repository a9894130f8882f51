import type { Db } from '../../db/database.js';
import type { ContactRow } from '../../db/schema.js';
import { GsError, type FieldProblem } from '../../lib/errors.js';
import { isChineseTag, localisedText, normaliseLanguageTag } from '../../lib/language-tag.js';
import { checkVersion, stripUndefined } from '../../lib/records.js';
import { isUuid, newId } from '../../lib/secrets.js';
import { checkUscc } from '../../lib/uscc.js';
import type { RequestContext } from '../../server/actor.js';
import type { AuditService } from '../audit/service.js';
import type { RegionService } from '../regions/service.js';
import type { Agency, AgencyCreate, AgencyPatch } from './schemas.js';
import { AgencyStore, type AgencyFields, type AgencyQuery, type AgencyRow } from './store.js';

const USCC_REASONS = {
  length: ['it must be 18 characters', '应为 18 位'],
  charset: ['only digits and the capital letters A–Y without I, O, S, V, Z are allowed', '只能包含数字和除 I、O、S、V、Z 以外的大写字母'],
  checkCharacter: ['the check character is wrong', '校验码错误'],
} as const;

/** Agencies (行政机关/政务部门). Never deleted: deactivated, with every version kept. */
export class AgencyService {
  readonly #store: AgencyStore;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly regions: RegionService,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.#store = new AgencyStore(db);
  }

  async #require(id: string, executor?: Db): Promise<AgencyRow> {
    const row = isUuid(id) ? await this.#store.byId(id, executor) : undefined;
    if (!row) throw new GsError('GS_ERR_AGENCY_NOT_FOUND', { id });
    return row;
  }

  /** `executor`: a caller's transaction (on PGlite's one connection, a read beside it would wait for it). */
  async get(id: string, lang?: string, executor?: Db): Promise<Agency> {
    return toAgency(await this.#require(id, executor), lang);
  }

  async getByCode(code: string, lang?: string): Promise<Agency> {
    const row = await this.#store.byCode(code);
    if (!row) throw new GsError('GS_ERR_AGENCY_NOT_FOUND', { id: code });
    return toAgency(row, lang);
  }

  /** For other modules: the agency exists and is active. */
  async requireActive(id: string, executor?: Db): Promise<Agency> {
    const row = await this.#require(id, executor);
    if (!row.active) throw new GsError('GS_ERR_AGENCY_INACTIVE', { id });
    return toAgency(row);
  }

  async list(q: AgencyQuery, lang?: string): Promise<Agency[]> {
    return (await this.#store.list(q)).map((r) => toAgency(r, lang));
  }

  history(id: string) {
    return this.#require(id).then(() => this.#store.history(id));
  }

  async create(ctx: RequestContext, input: AgencyCreate): Promise<Agency> {
    const fields: AgencyFields = {
      code: input.code,
      nameZh: input.nameZh.trim(),
      names: normaliseNames(input.names ?? {}),
      uscc: normaliseUscc(input.uscc),
      regionCode: input.regionCode,
      level: input.level,
      parentId: input.parentId ?? null,
      contacts: (input.contacts ?? []) as ContactRow[],
    };
    await this.#checkRegion(fields.regionCode, fields.level);
    const now = this.now();
    const id = newId();
    const row = await this.db.transaction().execute(async (trx) => {
      if (await this.#store.byCode(fields.code, trx)) throw new GsError('GS_ERR_AGENCY_CODE_TAKEN', { code: fields.code });
      await this.#checkUsccFree(fields.uscc, null, trx);
      if (fields.parentId) await this.#checkParent(null, fields.parentId, trx);
      const inserted = await this.#store.insert(id, fields, now, trx);
      await this.#store.appendHistory(inserted, 'created', ctx.actor.name, ctx.requestId, now, trx);
      await this.audit.record(ctx, { action: 'agency.create', targetType: 'agency', targetId: id, details: { code: fields.code, nameZh: fields.nameZh } }, trx);
      return inserted;
    });
    return toAgency(row);
  }

  async update(ctx: RequestContext, id: string, input: AgencyPatch): Promise<Agency> {
    const { expectedVersion, ...rest } = input;
    const patch = stripUndefined({
      ...rest,
      nameZh: rest.nameZh?.trim(),
      names: rest.names === undefined ? undefined : normaliseNames(rest.names),
      uscc: rest.uscc === undefined ? undefined : normaliseUscc(rest.uscc),
      contacts: rest.contacts as ContactRow[] | undefined,
    }) as Partial<AgencyFields>;
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.#require(id, trx);
      checkVersion(expectedVersion, before.version);
      if (!before.active) throw new GsError('GS_ERR_AGENCY_INACTIVE', { id });
      if (patch.regionCode !== undefined || patch.level !== undefined) {
        await this.#checkRegion(patch.regionCode ?? before.regionCode, patch.level ?? before.level, trx);
      }
      if (patch.uscc !== undefined && patch.uscc !== before.uscc) await this.#checkUsccFree(patch.uscc, id, trx);
      if (patch.parentId) await this.#checkParent(id, patch.parentId, trx);
      const after = await this.#store.update(id, patch, now, trx);
      await this.#store.appendHistory(after, 'updated', ctx.actor.name, ctx.requestId, now, trx);
      await this.audit.record(ctx, { action: 'agency.update', targetType: 'agency', targetId: id, details: { fields: Object.keys(patch) } }, trx);
      return after;
    });
    return toAgency(row);
  }

  async deactivate(ctx: RequestContext, id: string, reason: string): Promise<Agency> {
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.#require(id, trx);
      if (!before.active) throw new GsError('GS_ERR_AGENCY_INACTIVE', { id });
      const children = await this.#store.countActiveChildren(id, trx);
      if (children > 0) throw new GsError('GS_ERR_AGENCY_HAS_ACTIVE_CHILDREN', { id, count: children });
      const after = await this.#store.update(id, { active: false, deactivatedAt: now, deactivationReason: reason }, now, trx);
      await this.#store.appendHistory(after, 'deactivated', ctx.actor.name, ctx.requestId, now, trx);
      await this.audit.record(ctx, { action: 'agency.deactivate', targetType: 'agency', targetId: id, details: { reason } }, trx);
      return after;
    });
    return toAgency(row);
  }

  async reactivate(ctx: RequestContext, id: string, reason: string): Promise<Agency> {
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.#require(id, trx);
      if (before.active) return before;
      if (before.parentId) {
        const parent = await this.#require(before.parentId, trx);
        if (!parent.active) throw new GsError('GS_ERR_AGENCY_PARENT_INVALID', { parentId: parent.id, reason: 'the parent agency is deactivated', reasonZh: '上级单位已停用' });
      }
      const after = await this.#store.update(id, { active: true, deactivatedAt: null, deactivationReason: null }, now, trx);
      await this.#store.appendHistory(after, 'reactivated', ctx.actor.name, ctx.requestId, now, trx);
      await this.audit.record(ctx, { action: 'agency.reactivate', targetType: 'agency', targetId: id, details: { reason } }, trx);
      return after;
    });
    return toAgency(row);
  }

  async #checkRegion(regionCode: string, level: string, executor?: Db): Promise<void> {
    const region = await this.regions.get(regionCode, executor).catch((e: unknown) => {
      if (e instanceof GsError) throw new GsError(e.code, e.params, [{ field: 'body.regionCode', rule: 'exists', message: e.message }]);
      throw e;
    });
    if (!region.active) {
      throw new GsError('GS_ERR_REGION_NOT_FOUND', { code: regionCode }, [{ field: 'body.regionCode', rule: 'active', message: `region ${regionCode} is abolished` }]);
    }
    if (region.level !== level) {
      const zh: Record<string, string> = { province: '省级', prefecture: '地市级', county: '区县级' };
      throw new GsError('GS_ERR_AGENCY_REGION_LEVEL', { regionCode, regionLevel: region.level, level, regionLevelZh: zh[region.level], levelZh: zh[level] }, [
        { field: 'body.regionCode', rule: 'levelMatches', message: `region ${regionCode} (${region.name}) is a ${region.level} region, the agency is ${level}` },
      ]);
    }
  }

  async #checkUsccFree(uscc: string, selfId: string | null, trx: Db): Promise<void> {
    const holder = await this.#store.byUscc(uscc, trx);
    if (holder && holder.id !== selfId) throw new GsError('GS_ERR_AGENCY_USCC_TAKEN', { uscc, code: holder.code });
  }

  async #checkParent(selfId: string | null, parentId: string, trx: Db): Promise<void> {
    const bad = (reason: string, reasonZh: string): GsError =>
      new GsError('GS_ERR_AGENCY_PARENT_INVALID', { parentId, reason, reasonZh }, [{ field: 'body.parentId', rule: 'validParent', message: reason, messageZh: reasonZh }]);
    const parent = isUuid(parentId) ? await this.#store.byId(parentId, trx) : undefined;
    if (!parent) throw bad('no such agency', '单位不存在');
    if (!parent.active) throw bad('the parent agency is deactivated', '上级单位已停用');
    if (selfId && (await this.#store.ancestry(parentId, trx)).includes(selfId)) {
      throw bad('an agency cannot be placed under itself or its own subordinate', '不能把单位设为自己或自己下级单位的下级');
    }
  }
}

function normaliseUscc(raw: string): string {
  const uscc = raw.trim().toUpperCase();
  const result = checkUscc(uscc);
  if (!result.ok) {
    const [en, zh] = USCC_REASONS[result.problem];
    const expected = result.problem === 'checkCharacter' && result.expected ? result.expected : undefined;
    const reason = expected ? `${en} (expected ${expected})` : en;
    const reasonZh = expected ? `${zh}（应为 ${expected}）` : zh;
    const field: FieldProblem = { field: 'body.uscc', rule: result.problem, message: reason, messageZh: reasonZh };
    throw new GsError('GS_ERR_AGENCY_USCC_INVALID', { uscc: raw, reason, reasonZh, ...(expected ? { expected } : {}) }, [field]);
  }
  return uscc;
}

function normaliseNames(names: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [tag, name] of Object.entries(names)) {
    const norm = normaliseLanguageTag(tag);
    if (!norm || isChineseTag(norm)) {
      throw new GsError('GS_ERR_AGENCY_LANGUAGE_TAG', { tag }, [{ field: `body.names.${tag}`, rule: 'bcp47', message: 'not a BCP 47 language tag other than Chinese' }]);
    }
    out[norm] = name.trim();
  }
  return out;
}

export function toAgency(r: AgencyRow, lang?: string): Agency {
  return {
    id: r.id,
    code: r.code,
    name: localisedText(r.nameZh, r.names, lang),
    nameZh: r.nameZh,
    names: r.names,
    uscc: r.uscc,
    regionCode: r.regionCode,
    level: r.level as Agency['level'],
    parentId: r.parentId,
    contacts: r.contacts as Agency['contacts'],
    active: r.active,
    deactivatedAt: r.deactivatedAt ? r.deactivatedAt.toISOString() : null,
    deactivationReason: r.deactivationReason,
    version: r.version,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
