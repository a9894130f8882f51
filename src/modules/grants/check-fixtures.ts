import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { GrantMethod, GrantStatus } from './vocabulary.js';

/**
 * Rows for grant-check tests and the grant-check benchmark, written directly (the request and
 * grant workflow has its own tests): agencies, business systems, published catalog entries, and
 * grants with the share request each one comes from.
 */

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** A valid USCC (机关 category 11, Hengyang region) derived from n; 9 digits of n. */
function usccFor(n: number): string {
  const body = `11430400${String(n).padStart(9, '0')}`;
  const sum = [...body].reduce((acc, c, i) => acc + USCC_CHARS.indexOf(c) * USCC_WEIGHTS[i]!, 0);
  return body + USCC_CHARS[(31 - (sum % 31)) % 31];
}

/** The region the fixture agencies are in (衡阳市), when the regions were not loaded. */
export async function ensureRegion(db: Db): Promise<void> {
  await db.insertInto('regions').values({ code: '430400', name: '衡阳市', level: 'prefecture', source: 'fixture' }).onConflict((oc) => oc.column('code').doNothing()).execute();
}

export async function insertAgency(db: Db, n: number): Promise<string> {
  const id = randomUUID();
  await db.insertInto('agencies').values({ id, code: `GC${String(n).padStart(6, '0')}`, nameZh: `授权校验测试单位${n}`, names: '{}', uscc: usccFor(900_000_000 + n), regionCode: '430400', level: 'prefecture', contacts: '[]' }).execute();
  return id;
}

export async function insertSystems(db: Db, agencyId: string, count: number, status = 'active'): Promise<string[]> {
  const rows = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    agencyId,
    name: `业务系统-${randomUUID().slice(0, 8)}-${i}`,
    purpose: '授权校验测试',
    ownerContact: JSON.stringify({ name: '张三', phone: '0734-0000000' }),
    status,
    createdBy: 'fixture',
  }));
  for (let i = 0; i < rows.length; i += 1_000) await db.insertInto('businessSystems').values(rows.slice(i, i + 1_000)).execute();
  return rows.map((r) => r.id);
}

export interface FixtureEntry {
  readonly id: string;
  readonly resourceCode: string;
}

/** Published entries (status and code only; the check reads nothing else) with codes 3010020000n/00000n. */
export async function insertPublishedEntries(db: Db, agencyId: string, count: number, first = 1): Promise<FixtureEntry[]> {
  const rows = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    agencyId,
    status: 'published',
    resourceCode: `301002${String(first + i).padStart(6, '0')}/${String(first + i).padStart(6, '0')}`,
    publishedVersion: 1,
    latestVersion: 1,
    createdBy: 'fixture',
  }));
  for (let i = 0; i < rows.length; i += 1_000) await db.insertInto('catalogEntries').values(rows.slice(i, i + 1_000)).execute();
  return rows.map((r) => ({ id: r.id, resourceCode: r.resourceCode }));
}

export interface GrantSpec {
  readonly consumerAgencyId: string;
  readonly systemId: string;
  readonly entry: FixtureEntry;
  readonly providerAgencyId: string;
  readonly method: GrantMethod;
  readonly status?: GrantStatus;
  readonly validFrom: Date;
  /** YYYY-MM-DD, last day in force. */
  readonly validUntil: string;
  readonly items?: readonly string[];
  readonly rowFilter?: readonly { item: string; op: 'eq' | 'in' | 'prefix'; values: readonly string[] }[];
  readonly masking?: Readonly<Record<string, 'partial' | 'full' | 'hash'>>;
  readonly ratePerMinute?: number | null;
  readonly volumePerDay?: number | null;
}

/** Grants with their (granted) share requests, in batches; their ids in the order given. */
export async function insertGrants(db: Db, specs: readonly GrantSpec[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < specs.length; i += 500) {
    const batch = specs.slice(i, i + 500).map((s) => ({ s, requestId: randomUUID(), grantId: randomUUID() }));
    await db.transaction().execute(async (trx) => {
      // A request must exist before its grant and names it once granted: review first, then granted.
      await trx
        .insertInto('shareRequests')
        .values(
          batch.map(({ s, requestId }) => ({
            id: requestId,
            consumerAgencyId: s.consumerAgencyId,
            consumerSystemId: s.systemId,
            entryId: s.entry.id,
            resourceCode: s.entry.resourceCode,
            resourceName: `测试资源 ${s.entry.resourceCode}`,
            entryVersion: 1,
            providerAgencyId: s.providerAgencyId,
            shareType: 'conditional',
            items: [...(s.items ?? ['统一社会信用代码', '企业名称'])],
            purposeBusiness: '行政许可审查',
            purposeBasis: '《行政许可法》第三十一条',
            dataUsers: '审批科',
            shareMethod: s.method,
            validUntil: s.validUntil,
            status: 'review',
            dueOn: s.validUntil,
            createdBy: 'fixture',
          })),
        )
        .execute();
      await trx
        .insertInto('grants')
        .values(
          batch.map(({ s, requestId, grantId }) => {
            const status = s.status ?? 'active';
            return {
              id: grantId,
              requestId,
              consumerAgencyId: s.consumerAgencyId,
              consumerSystemId: s.systemId,
              entryId: s.entry.id,
              resourceCode: s.entry.resourceCode,
              providerAgencyId: s.providerAgencyId,
              shareMethod: s.method,
              items: [...(s.items ?? ['统一社会信用代码', '企业名称'])],
              rowFilter: JSON.stringify(s.rowFilter ?? []),
              masking: JSON.stringify(s.masking ?? {}),
              ratePerMinute: s.ratePerMinute ?? null,
              volumePerDay: s.volumePerDay ?? null,
              purpose: '行政许可审查',
              validFrom: s.validFrom,
              validUntil: s.validUntil,
              status,
              statusReason: status === 'active' || status === 'expired' ? null : '测试',
              createdBy: 'fixture',
            };
          }),
        )
        .execute();
      await sql`update share_requests r set status = 'granted', due_on = null, grant_id = v.grant_id
        from unnest(${batch.map((b) => b.requestId)}::uuid[], ${batch.map((b) => b.grantId)}::uuid[]) as v (request_id, grant_id)
        where r.id = v.request_id`.execute(trx);
    });
    ids.push(...batch.map((b) => b.grantId));
  }
  return ids;
}

/** A grant's status change as the grants service will make it (the trigger announces it on commit). */
export async function setGrantStatus(db: Db, grantId: string, status: GrantStatus): Promise<void> {
  await db
    .updateTable('grants')
    .set((eb) => ({ status, statusReason: status === 'active' || status === 'expired' ? null : '测试', version: eb('version', '+', 1), updatedAt: new Date() }))
    .where('id', '=', grantId)
    .execute();
}
