import type { Db } from '../../db/database.js';

/** One grant of a business system for a resource, as the check needs it. */
export interface GrantCheckRow {
  readonly id: string;
  readonly requestId: string;
  readonly consumerAgencyId: string;
  readonly consumerSystemId: string;
  readonly entryId: string;
  readonly resourceCode: string;
  readonly providerAgencyId: string;
  readonly shareMethod: string;
  readonly items: readonly string[];
  readonly rowFilter: readonly { readonly item: string; readonly op: string; readonly values: readonly string[] }[];
  readonly masking: Readonly<Record<string, string>>;
  readonly ratePerMinute: number | null;
  readonly volumePerDay: number | null;
  readonly purpose: string;
  readonly validFrom: Date;
  /** YYYY-MM-DD, the last day in force (China time). */
  readonly validUntil: string;
  readonly status: string;
  readonly version: number;
}

/** Everything a check of (system, resource) depends on, read in one statement. */
export interface GrantCheckFacts {
  /** `business_systems.status`; null: no such system. */
  readonly systemStatus: string | null;
  /** `catalog_entries.status` of the entry with that resource code; null: no such code. */
  readonly entryStatus: string | null;
  /** Every grant of the system for the resource, all methods and states. */
  readonly grants: readonly GrantCheckRow[];
}

/** Where the check reads its facts; GrantCheckStore, or a wrapper in tests. */
export interface GrantCheckSource {
  load(systemId: string, resourceCode: string): Promise<GrantCheckFacts>;
}

/**
 * The grant check's SQL: read-only, over grants, business_systems and catalog_entries (the
 * tables whose changes the trigger govshare_grants_changed announces). The grants themselves
 * are written by src/modules/grants/store.ts.
 */
export class GrantCheckStore implements GrantCheckSource {
  constructor(private readonly db: Db) {}

  async load(systemId: string, resourceCode: string): Promise<GrantCheckFacts> {
    // One row per grant (uses grants_check_idx), or one row of nulls for the grants when there
    // are none; no row at all when the system does not exist. One statement: one snapshot.
    const rows = await this.db
      .selectFrom('businessSystems as bs')
      .leftJoin('catalogEntries as ce', (j) => j.on('ce.resourceCode', '=', resourceCode))
      .leftJoin('grants as g', (j) => j.onRef('g.consumerSystemId', '=', 'bs.id').on('g.resourceCode', '=', resourceCode))
      .where('bs.id', '=', systemId)
      .select([
        'bs.status as systemStatus',
        'ce.status as entryStatus',
        'g.id',
        'g.requestId',
        'g.consumerAgencyId',
        'g.consumerSystemId',
        'g.entryId',
        'g.resourceCode',
        'g.providerAgencyId',
        'g.shareMethod',
        'g.items',
        'g.rowFilter',
        'g.masking',
        'g.ratePerMinute',
        'g.volumePerDay',
        'g.purpose',
        'g.validFrom',
        'g.validUntil',
        'g.status',
        'g.version',
      ])
      .execute();
    const first = rows[0];
    if (!first) return { systemStatus: null, entryStatus: null, grants: [] };
    const grants: GrantCheckRow[] = [];
    for (const r of rows) {
      if (r.id === null) continue;
      grants.push({
        id: r.id,
        requestId: r.requestId!,
        consumerAgencyId: r.consumerAgencyId!,
        consumerSystemId: r.consumerSystemId!,
        entryId: r.entryId!,
        resourceCode: r.resourceCode!,
        providerAgencyId: r.providerAgencyId!,
        shareMethod: r.shareMethod!,
        items: r.items!,
        rowFilter: r.rowFilter!,
        masking: r.masking!,
        ratePerMinute: r.ratePerMinute,
        volumePerDay: r.volumePerDay === null ? null : Number(r.volumePerDay),
        purpose: r.purpose!,
        validFrom: r.validFrom!,
        validUntil: r.validUntil!,
        status: r.status!,
        version: r.version!,
      });
    }
    return { systemStatus: first.systemStatus, entryStatus: first.entryStatus, grants };
  }
}
