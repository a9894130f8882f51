import type { EntryContentInput } from '../../src/modules/catalog/schemas.js';
import type { TestPlatform } from './platform.js';

/** A complete, conformant catalog entry for a table resource (no findings). */
export function catalogContent(over: Partial<EntryContentInput> = {}): EntryContentInput {
  return {
    classification: { category: '3', group: '01', subgroup: '002' },
    nameZh: '企业登记信息',
    names: { ug: 'كارخانا تىزىملاش ئۇچۇرى', en: 'Enterprise registrations' },
    abstractZh: '本市登记注册的企业基本信息',
    abstracts: { en: 'Basic data of enterprises registered in the city' },
    format: { type: 'database', subtype: 'dm' },
    dataItems: [
      { nameZh: '统一社会信用代码', names: { en: 'USCC' }, dataType: 'string', length: 18, format: 'uscc', key: true },
      { nameZh: '企业名称', dataType: 'string', length: 200 },
      { nameZh: '注册资本', dataType: 'decimal', precision: 18, scale: 2, description: '万元' },
      { nameZh: '成立日期', dataType: 'date' },
      { nameZh: '法定代表人身份证号', dataType: 'string', length: 18, format: 'idCard', sensitive: true },
    ],
    shareType: 'conditional',
    shareCondition: '用于市场监管和行政审批',
    shareMethods: ['table', 'api'],
    openness: { open: false },
    updateCycle: 'daily',
    ...over,
  };
}

/** Creates, submits and publishes an entry as the local administrator; its id and resource code. */
export async function publishEntry(t: TestPlatform, agencyId: string, content: EntryContentInput): Promise<{ id: string; code: string }> {
  const e = await t.platform.catalog.create(t.cli, { agencyId, content });
  await t.platform.catalog.submit(t.cli, e.id);
  const p = await t.platform.catalog.publish(t.cli, e.id, {});
  return { id: e.id, code: p.resourceCode! };
}

/** Publishes a new version of a published entry with other content. */
export async function publishRevision(t: TestPlatform, id: string, content: EntryContentInput): Promise<void> {
  const e = await t.platform.catalog.get(t.cli.actor, id);
  const d = await t.platform.catalog.saveDraft(t.cli, id, { content, expectedVersion: e.version });
  await t.platform.catalog.submit(t.cli, id, d.version);
  await t.platform.catalog.publish(t.cli, id, {});
}
