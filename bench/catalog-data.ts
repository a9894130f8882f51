import { usccCheckCharacter } from '../src/lib/uscc.js';
import type { DataItemInput, EntryContentInput } from '../src/modules/catalog/schemas.js';
import type { RequestContext } from '../src/server/actor.js';
import type { Platform } from '../src/server/platform.js';
import { DATA_ITEM_FORMAT_ZH, DATA_TYPE_ZH, formatCell, SHARE_METHOD_ZH, SHARE_TYPE_ZH, TEMPLATE_COLUMNS, UPDATE_CYCLE_ZH, type ColumnKey } from '../src/modules/catalog/import-template.js';
import type { ShareMethod, ShareType, UpdateCycle } from '../src/modules/catalog/vocabulary.js';

/**
 * Generated catalog entries with realistic names: Hengyang's agencies (city departments and the
 * departments of its counties and districts) and the resources such agencies catalog, 3–12 data
 * items each. Deterministic for a seed, so the import and the search benchmarks see the same data.
 */

export interface BenchAgency {
  readonly code: string;
  readonly nameZh: string;
  /** GB/T 2260 region of the agency. */
  readonly regionCode: string;
}

export interface GeneratedEntry {
  readonly provider: BenchAgency;
  readonly content: EntryContentInput;
}

const AREAS: readonly (readonly [string, string, string])[] = [
  ['衡阳市', 'HY', '430400'],
  ['珠晖区', 'ZH', '430405'],
  ['雁峰区', 'YF', '430406'],
  ['石鼓区', 'SG', '430407'],
  ['蒸湘区', 'ZX', '430408'],
  ['南岳区', 'NY', '430412'],
  ['衡阳县', 'HYX', '430421'],
  ['衡南县', 'HN', '430422'],
  ['衡山县', 'HS', '430423'],
  ['衡东县', 'HD', '430424'],
  ['祁东县', 'QD', '430426'],
  ['耒阳市', 'LY', '430481'],
  ['常宁市', 'CN', '430482'],
];

type Item = DataItemInput;
const s = (nameZh: string, length: number, extra: Partial<Item> = {}): Item => ({ nameZh, dataType: 'string', length, ...extra });
const ID_CARD = s('公民身份号码', 18, { format: 'idCard', key: true, sensitive: true });
const USCC = s('统一社会信用代码', 18, { format: 'uscc', key: true });
const CERT = s('证书编号', 50, { key: true });
const COMMON: readonly Item[] = [
  s('姓名', 50, { sensitive: true }),
  s('性别', 2),
  { nameZh: '出生日期', dataType: 'date' },
  s('民族', 20),
  s('住址', 200, { sensitive: true }),
  s('联系电话', 20, { sensitive: true }),
  s('行政区划代码', 6, { format: 'regionCode' }),
  s('登记机关', 100),
  { nameZh: '登记日期', dataType: 'date' },
  { nameZh: '发证日期', dataType: 'date' },
  { nameZh: '有效期至', dataType: 'date' },
  s('状态', 20),
  { nameZh: '金额', dataType: 'decimal', precision: 18, scale: 2, description: '元' },
  { nameZh: '数量', dataType: 'integer' },
  { nameZh: '更新时间', dataType: 'datetime' },
  s('备注', 500),
  s('企业名称', 200),
  s('法定代表人', 50),
  { nameZh: '注册资本', dataType: 'decimal', precision: 18, scale: 2, description: '万元' },
  s('经营范围', 2000),
  s('坐落', 200),
  { nameZh: '面积', dataType: 'decimal', precision: 12, scale: 2, description: '平方米' },
  { nameZh: '是否有效', dataType: 'boolean' },
];

/** Departments, their code, and the resources they typically hold with the key data item. */
const DEPARTMENTS: readonly { readonly name: string; readonly code: string; readonly category: '1' | '2' | '3'; readonly resources: readonly (readonly [string, Item])[] }[] = [
  { name: '公安局', code: 'GA', category: '1', resources: [['人口基本信息', ID_CARD], ['户籍登记信息', ID_CARD], ['机动车登记信息', CERT], ['驾驶人信息', ID_CARD], ['居住证信息', ID_CARD]] },
  { name: '市场监督管理局', code: 'SCJG', category: '1', resources: [['企业登记信息', USCC], ['个体工商户登记信息', USCC], ['食品经营许可信息', CERT], ['行政处罚信息', USCC]] },
  { name: '自然资源和规划局', code: 'ZRZY', category: '1', resources: [['不动产登记信息', CERT], ['土地使用权信息', CERT], ['国土空间规划信息', CERT]] },
  { name: '人力资源和社会保障局', code: 'RSJ', category: '2', resources: [['社会保险参保信息', ID_CARD], ['就业登记信息', ID_CARD], ['职业资格证书信息', CERT]] },
  { name: '民政局', code: 'MZ', category: '2', resources: [['婚姻登记信息', ID_CARD], ['最低生活保障信息', ID_CARD], ['社会组织登记信息', USCC]] },
  { name: '卫生健康委员会', code: 'WJW', category: '2', resources: [['出生医学证明信息', CERT], ['医疗机构执业许可信息', USCC], ['死亡医学证明信息', ID_CARD]] },
  { name: '教育局', code: 'JY', category: '3', resources: [['学籍信息', ID_CARD], ['学校基本信息', USCC]] },
  { name: '住房和城乡建设局', code: 'ZJ', category: '3', resources: [['建筑企业资质信息', USCC], ['商品房预售许可信息', CERT]] },
  { name: '交通运输局', code: 'JT', category: '3', resources: [['道路运输经营许可信息', CERT], ['营运车辆信息', CERT]] },
  { name: '生态环境局', code: 'HB', category: '3', resources: [['排污许可信息', USCC], ['环境行政处罚信息', USCC]] },
  { name: '医疗保障局', code: 'YB', category: '3', resources: [['医保参保信息', ID_CARD], ['定点医药机构信息', USCC]] },
];

const QUALIFIERS = ['', '', '', '（历史）', '（2018年以来）', '统计', '汇总', '变更记录', '注销信息', '年度报告', '查询', '核验'];

/** Every agency the generator names (city departments and those of each county and district). */
export function benchAgencies(): BenchAgency[] {
  return AREAS.flatMap(([area, areaCode, region]) => DEPARTMENTS.map((d) => ({ code: `${areaCode}-${d.code}`, nameZh: `${area}${d.name}`, regionCode: region })));
}

/** A valid USCC (机关 category 11, Hengyang) for the n-th generated agency. */
function benchUscc(n: number): string {
  const first17 = `11430400${String(n).padStart(9, '0')}`;
  return first17 + usccCheckCharacter(first17)!;
}

/** Registers the generator's agencies on a platform; their ids by code. */
export async function registerBenchAgencies(platform: Platform, ctx: RequestContext): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  let n = 0;
  for (const a of benchAgencies()) {
    const created = await platform.agencies.create(ctx, { code: a.code, nameZh: a.nameZh, uscc: benchUscc(++n), regionCode: a.regionCode, level: a.regionCode === '430400' ? 'prefecture' : 'county' });
    ids.set(a.code, created.id);
  }
  return ids;
}

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const UPDATE_CYCLES: readonly UpdateCycle[] = ['realtime', 'daily', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly', 'irregular'];

/** `count` conformant entries (no error findings): share types mixed, every share method matching its format. */
export function generateCatalogEntries(count: number, seed = 1): GeneratedEntry[] {
  const next = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const agencies = benchAgencies();
  const out: GeneratedEntry[] = [];
  for (let i = 0; i < count; i++) {
    const di = Math.floor(next() * DEPARTMENTS.length);
    const dept = DEPARTMENTS[di]!;
    const areaIndex = Math.floor(next() * AREAS.length);
    const provider = agencies[areaIndex * DEPARTMENTS.length + di]!;
    const [resource, key] = pick(dept.resources);
    const nameZh = `${AREAS[areaIndex]![0]}${resource}${pick(QUALIFIERS)}`;
    const itemCount = 3 + Math.floor(next() * 10);
    const items: Item[] = [key];
    const names = new Set([key.nameZh]);
    while (items.length < itemCount) {
      const item = pick(COMMON);
      if (names.has(item.nameZh)) continue;
      names.add(item.nameZh);
      items.push(item);
    }
    const roll = next();
    const shareType: ShareType = roll < 0.45 ? 'unconditional' : roll < 0.93 ? 'conditional' : 'none';
    const asTable = next() < 0.7;
    const methods: ShareMethod[] = shareType === 'none' ? [] : asTable ? (next() < 0.5 ? ['table', 'api'] : ['table']) : ['api'];
    out.push({
      provider,
      content: {
        classification: { category: dept.category, group: String(1 + (di % 9)).padStart(2, '0'), subgroup: String(1 + Math.floor(next() * 20)).padStart(3, '0') },
        nameZh,
        ...(next() < 0.1 ? { names: { en: `${resource} (${provider.code})` } } : {}),
        abstractZh: `${provider.nameZh}在履行职责过程中采集、产生的${resource}，包括${items
          .slice(0, 3)
          .map((d) => d.nameZh)
          .join('、')}等信息项。`,
        format: { type: 'database', subtype: pick(['dm', 'kingbase', 'oracle', 'mysql', 'opengauss']) },
        dataItems: items,
        shareType,
        ...(shareType === 'conditional' ? { shareCondition: `用于${pick(['行政审批', '社会救助', '市场监管', '社会信用体系建设', '公共服务'])}，须经${provider.nameZh}审核同意` } : {}),
        ...(shareType === 'none' ? { legalBasis: { law: pick(['中华人民共和国保守国家秘密法', '中华人民共和国个人信息保护法', '中华人民共和国统计法']), article: pick(['第九条', '第十三条', '第二十五条']) } } : {}),
        shareMethods: methods,
        openness: { open: shareType === 'unconditional' && next() < 0.2 },
        updateCycle: pick(UPDATE_CYCLES),
      },
    });
  }
  return out;
}

const yesNo = (b: boolean | undefined): string => (b ? '是' : '否');

/** The rows of an entry in the import template (docs/catalog-import.md): resource columns on its first row. */
export function templateRowsOf(e: GeneratedEntry): string[][] {
  const c = e.content;
  const first: Partial<Record<ColumnKey, string>> = {
    category: c.classification?.category ?? '',
    group: c.classification?.group ?? '',
    subgroup: c.classification?.subgroup ?? '',
    nameZh: c.nameZh,
    provider: e.provider.code,
    abstractZh: c.abstractZh ?? '',
    format: c.format ? formatCell(c.format.type, c.format.subtype ?? null) : '',
    shareType: c.shareType ? SHARE_TYPE_ZH[c.shareType] : '',
    shareCondition: c.shareCondition ?? '',
    legalBasisLaw: c.legalBasis?.law ?? '',
    legalBasisArticle: c.legalBasis?.article ?? '',
    shareMethods: (c.shareMethods ?? []).map((m) => SHARE_METHOD_ZH[m]).join('、'),
    open: yesNo(c.openness?.open),
    updateCycle: c.updateCycle ? UPDATE_CYCLE_ZH[c.updateCycle] : '',
  };
  return (c.dataItems ?? []).map((d, i) => {
    const cells: Partial<Record<ColumnKey, string>> = {
      ...(i === 0 ? first : {}),
      itemName: d.nameZh,
      dataType: DATA_TYPE_ZH[d.dataType],
      length: String(d.length ?? d.precision ?? ''),
      scale: d.scale === undefined ? '' : String(d.scale),
      sensitive: yesNo(d.sensitive),
      itemFormat: d.format ? DATA_ITEM_FORMAT_ZH[d.format] : '',
      key: yesNo(d.key),
      description: d.description ?? '',
    };
    const row = TEMPLATE_COLUMNS.map((col) => cells[col.key] ?? '');
    row.push(i === 0 ? (c.names?.en ?? '') : '');
    return row;
  });
}

/** The header row matching templateRowsOf. */
export function templateHeader(): string[] {
  return [...TEMPLATE_COLUMNS.map((c) => c.header), '资源名称@en'];
}
