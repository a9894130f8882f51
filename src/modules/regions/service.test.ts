import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../../../test/helpers/platform.js';
import { GsError } from '../../lib/errors.js';
import { loadPackagedRegions } from './region-data.js';
import type { RegionService } from './service.js';

let t: TestPlatform;
let regions: RegionService;

beforeAll(async () => {
  t = await createTestPlatform();
  regions = t.platform.regions;
});
afterAll(async () => t?.close());

describe('regions after bootstrap', () => {
  it('holds the 34 provincial-level divisions, Hunan and Xinjiang among them', async () => {
    const provinces = await regions.list({ level: 'province', limit: 100 });
    expect(provinces).toHaveLength(34);
    expect(provinces.every((p) => p.parentCode === null)).toBe(true);
    expect(provinces.find((p) => p.code === '430000')?.name).toBe('湖南省');
    expect(provinces.find((p) => p.code === '650000')?.name).toBe('新疆维吾尔自治区');
    expect(provinces.find((p) => p.code === '110000')?.name).toBe('北京市');
  });

  it('places 衡阳市 (430400) under Hunan as a prefecture', async () => {
    expect(await regions.get('430400')).toMatchObject({ code: '430400', name: '衡阳市', level: 'prefecture', parentCode: '430000', active: true });
  });

  it('places 珠晖区 (430405) under 衡阳市 as a county', async () => {
    expect(await regions.get('430405')).toMatchObject({ name: '珠晖区', level: 'county', parentCode: '430400' });
  });

  it('places a Beijing district (110101) directly under 110000', async () => {
    const r = await regions.get('110101');
    expect(r).toMatchObject({ name: '东城区', level: 'county', parentCode: '110000' });
    expect((await regions.get(r.parentCode!)).level).toBe('province');
  });

  it('gives every county-level city directly under a province (469001, 659001) an existing parent', async () => {
    for (const code of ['469001', '659001']) {
      const r = await regions.get(code);
      expect(r.level).toBe('county');
      expect(r.parentCode).not.toBeNull();
      const parent = await regions.get(r.parentCode!);
      expect(parent.code.slice(0, 2)).toBe(code.slice(0, 2));
    }
    expect((await regions.get('469001')).name).toBe('五指山市');
    expect((await regions.get('659001')).name).toBe('石河子市');
    // directly under their province: the package's placeholder groupings are not divisions
    expect((await regions.get('469001')).parentCode).toBe('460000');
    expect((await regions.get('659001')).parentCode).toBe('650000');
    for (const placeholder of ['419000', '429000', '469000', '659000']) {
      await expect(regions.get(placeholder)).rejects.toMatchObject({ code: 'GS_ERR_REGION_NOT_FOUND' });
    }
  });

  it('has a parent row for every region that names one', async () => {
    const { regions: packaged } = loadPackagedRegions();
    const all = await regions.list({ limit: 100_000 });
    expect(all).toHaveLength(packaged.length);
    const codes = new Set(all.map((r) => r.code));
    expect(all.filter((r) => r.parentCode !== null && !codes.has(r.parentCode))).toEqual([]);
    const order = { province: 0, prefecture: 1, county: 2 } as const;
    const byCode = new Map(all.map((r) => [r.code, r]));
    for (const r of all) {
      if (r.parentCode === null) continue;
      expect(order[byCode.get(r.parentCode)!.level], r.code).toBeLessThan(order[r.level]);
    }
  });

  it('loads nothing when synchronised again with the same edition', async () => {
    const before = await regions.list({ limit: 100_000 });
    const loaded = await t.platform.db.transaction().execute((trx) => regions.syncPackaged(trx));
    expect(loaded).toBe(0);
    expect(await regions.list({ limit: 100_000 })).toHaveLength(before.length);
  });
});

describe('listing regions', () => {
  it('lists the children of a region, in code order', async () => {
    const counties = await regions.list({ parentCode: '430400', limit: 100 });
    expect(counties.length).toBeGreaterThan(5);
    expect(counties.every((c) => c.parentCode === '430400' && c.level === 'county')).toBe(true);
    expect(counties.map((c) => c.code)).toContain('430405');
    expect(counties.map((c) => c.code)).toEqual([...counties.map((c) => c.code)].sort());
    const prefectures = await regions.list({ parentCode: '430000', limit: 100 });
    expect(prefectures.map((p) => p.code)).toContain('430400');
    expect(prefectures.every((p) => p.level === 'prefecture')).toBe(true);
  });

  it('finds regions by name fragment or code prefix', async () => {
    const byName = await regions.list({ q: '衡阳', limit: 20 });
    expect(byName.map((r) => r.code)).toContain('430400');
    expect(byName.every((r) => r.name.includes('衡阳'))).toBe(true);
    const byCode = await regions.list({ q: '4304', limit: 100 });
    expect(byCode.map((r) => r.code)).toEqual(expect.arrayContaining(['430400', '430405']));
    expect(byCode.every((r) => r.code.startsWith('4304') || r.name.includes('4304'))).toBe(true);
    expect(await regions.list({ q: '珠晖', level: 'county', limit: 10 })).toEqual([expect.objectContaining({ code: '430405' })]);
  });

  it('treats LIKE wildcards in the query literally', async () => {
    expect(await regions.list({ q: '%', limit: 10 })).toEqual([]);
    expect(await regions.list({ q: '_', limit: 10 })).toEqual([]);
  });

  it('pages with after and limit', async () => {
    const first = await regions.list({ level: 'province', limit: 10 });
    const next = await regions.list({ level: 'province', limit: 10, after: first.at(-1)!.code });
    expect(next).toHaveLength(10);
    expect(next[0]!.code > first.at(-1)!.code).toBe(true);
  });

  it('reports an unknown or malformed code as not found', async () => {
    for (const code of ['999999', '43040', 'abcdef']) {
      const e = await regions.get(code).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(GsError);
      expect((e as GsError).code).toBe('GS_ERR_REGION_NOT_FOUND');
    }
  });
});
