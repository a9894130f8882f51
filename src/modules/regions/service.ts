import type { Db } from '../../db/database.js';
import { GsError } from '../../lib/errors.js';
import { loadPackagedRegions, type RegionLevel } from './region-data.js';
import { RegionStore, type RegionRow } from './store.js';

export class RegionService {
  readonly #store: RegionStore;

  constructor(private readonly db: Db) {
    this.#store = new RegionStore(db);
  }

  /**
   * Loads the packaged GB/T 2260 edition when the database holds none or an older one. Runs in
   * the caller's transaction (start-up bootstrap, under its lock). Returns the count loaded, or 0.
   */
  async syncPackaged(executor: Db): Promise<number> {
    const { source, regions } = loadPackagedRegions();
    if ((await this.#store.loadedSource(executor)) === source) return 0;
    await this.#store.replaceAll(source, regions, executor);
    return regions.length;
  }

  async get(code: string, executor?: Db): Promise<RegionRow> {
    const region = /^\d{6}$/.test(code) ? await this.#store.get(code, executor) : undefined;
    if (!region) throw new GsError('GS_ERR_REGION_NOT_FOUND', { code });
    return region;
  }

  list(q: { parentCode?: string; level?: RegionLevel; q?: string; includeInactive?: boolean; limit: number; after?: string }): Promise<RegionRow[]> {
    return this.#store.list(q);
  }
}
