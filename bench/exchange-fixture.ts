// What the exchange benchmarks share: the synthetic enterprise-registration table resource
// (key USCC, name, capital, founding date, a sensitive ID number), its rows, and a consumer
// business system with a platform-issued certificate and a grant.
import type { DatabaseHandle } from '../src/db/database.js';
import { idCardCheckCharacter } from '../src/lib/id-card.js';
import { usccCheckCharacter } from '../src/lib/uscc.js';
import { PERMISSIONS } from '../src/modules/accounts/permissions.js';
import { insertGrants, type GrantSpec } from '../src/modules/grants/check-fixtures.js';
import { cliContext, type RequestContext } from '../src/server/actor.js';
import type { Config } from '../src/server/config.js';
import { Platform } from '../src/server/platform.js';
import type { BenchSettings } from './benchmark.js';
import { systemCsr } from './exchange-whoami.js';

export const BENCH_CLI: RequestContext = cliContext('bench', new Set(PERMISSIONS));

/** A valid USCC (GB 32100) numbered n. */
export function uscc(n: number): string {
  const first17 = `91430400${String(n).padStart(9, '0')}`;
  return first17 + usccCheckCharacter(first17)!;
}

/** A valid ID number (GB 11643), one of 1,000. */
export function idCard(n: number): string {
  const first17 = `43040219900101${String(n % 1000).padStart(3, '0')}`;
  return first17 + idCardCheckCharacter(first17)!;
}

export const ENTERPRISE_ITEMS = ['统一社会信用代码', '企业名称', '注册资本', '成立日期', '法定代表人身份证号'] as const;

export interface EnterpriseResource {
  readonly providerId: string;
  readonly consumerId: string;
  readonly entryId: string;
  readonly code: string;
}

/** A provider and a consumer agency, and the provider's published enterprise table resource. */
export async function enterpriseResource(platform: Platform, nameZh: string): Promise<EnterpriseResource> {
  const cli = BENCH_CLI;
  const provider = await platform.agencies.create(cli, { code: 'BENCHP001', nameZh: '基准测试提供单位', uscc: uscc(900_000_001), regionCode: '430400', level: 'prefecture' });
  const consumer = await platform.agencies.create(cli, { code: 'BENCHC001', nameZh: '基准测试使用单位', uscc: uscc(900_000_002), regionCode: '430400', level: 'prefecture' });
  const entry = await platform.catalog.create(cli, {
    agencyId: provider.id,
    content: {
      classification: { category: '3', group: '01', subgroup: '002' },
      nameZh,
      abstractZh: '基准测试用企业登记信息',
      format: { type: 'database', subtype: 'dm' },
      dataItems: [
        { nameZh: '统一社会信用代码', dataType: 'string', length: 18, format: 'uscc', key: true },
        { nameZh: '企业名称', dataType: 'string', length: 200 },
        { nameZh: '注册资本', dataType: 'decimal', precision: 18, scale: 2 },
        { nameZh: '成立日期', dataType: 'date' },
        { nameZh: '法定代表人身份证号', dataType: 'string', length: 18, format: 'idCard', sensitive: true },
      ],
      shareType: 'conditional',
      shareCondition: '基准测试',
      shareMethods: ['table'],
      openness: { open: false },
      updateCycle: 'daily',
    },
  });
  await platform.catalog.submit(cli, entry.id);
  const code = (await platform.catalog.publish(cli, entry.id, {})).resourceCode!;
  return { providerId: provider.id, consumerId: consumer.id, entryId: entry.id, code };
}

/** Row n of the enterprise table. */
export function enterpriseRow(n: number): Record<string, string> {
  return { 统一社会信用代码: uscc(n), 企业名称: `基准企业${n}`, 注册资本: `${n % 10_000}.50`, 成立日期: '2020-01-02', 法定代表人身份证号: idCard(n) };
}

/** Loads rows 0…rows-1 by API batches of `batch`; `progress` every 100,000 rows. */
export async function loadEnterpriseRows(platform: Platform, code: string, rows: number, batch: number, progress?: (loaded: number) => void): Promise<void> {
  for (let from = 0; from < rows; from += batch) {
    const changes = Array.from({ length: Math.min(batch, rows - from) }, (_, i) => ({ row: i + 1, operation: 'upsert' as const, values: enterpriseRow(from + i) }));
    const o = await platform.exchange.applyBatch(BENCH_CLI, code, { idempotencyKey: `bench-${from}`, changes });
    if (o.status !== 'applied') throw new Error(`loading failed: ${JSON.stringify(o.problems.slice(0, 3))}`);
    if (from % 100_000 === 0) progress?.(from);
  }
}

/** A business system of the consumer with a certificate (CSR → approve) and a grant by `method` over the resource. */
export async function consumerSystem(
  platform: Platform,
  handle: DatabaseHandle,
  r: EnterpriseResource,
  name: string,
  grant: Pick<GrantSpec, 'method'> & Partial<Pick<GrantSpec, 'items' | 'masking' | 'rowFilter'>>,
): Promise<{ systemId: string; key: string; cert: string; ca: string }> {
  const cli = BENCH_CLI;
  const system = await platform.systems.register(cli, { agencyId: r.consumerId, name, purpose: '基准测试', ownerContact: { name: '基准' } });
  const { csr, keyPem } = await systemCsr(system.id);
  const applied = await platform.pki.applyForSystem(cli, { systemId: system.id, csr });
  const issued = await platform.pki.approve(cli, applied.id, 'benchmark');
  const now = Date.now();
  await insertGrants(handle.db, [
    {
      consumerAgencyId: r.consumerId,
      systemId: system.id,
      entry: { id: r.entryId, resourceCode: r.code },
      providerAgencyId: r.providerId,
      validFrom: new Date(now - 86_400_000),
      validUntil: new Date(now + 30 * 86_400_000).toISOString().slice(0, 10),
      items: [...ENTERPRISE_ITEMS],
      ...grant,
    },
  ]);
  return { systemId: system.id, key: keyPem, cert: issued.certificatePem!, ca: await platform.pki.caCertificatePem() };
}

/** A bootstrapped platform on the bench database with its grant check started (cached, as in `serve`), stopped at teardown. */
export async function benchPlatform(handle: DatabaseHandle, config: Config, label: string, s: BenchSettings): Promise<Platform> {
  const platform = Platform.fromDatabase(handle, config);
  await platform.bootstrap();
  await platform.startCaches();
  s.teardown.add(`stop the ${label} caches`, () => platform.stopCaches());
  return platform;
}
