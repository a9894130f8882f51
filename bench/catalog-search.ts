import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import type { EntryContent } from '../src/modules/catalog/content.js';
import { parseQuery } from '../src/modules/catalog/search-text.js';
import type { CatalogSearch, SearchableEntry, SearchQuery } from '../src/modules/catalog/search.js';
import { cliContext } from '../src/server/actor.js';
import { loadConfig } from '../src/server/config.js';
import { Platform } from '../src/server/platform.js';
import { createBenchDatabase } from './bench-database.js';
import { compared, type Benchmark, type BenchResult, type BenchSettings } from './benchmark.js';
import { PERMISSIONS } from '../src/modules/accounts/permissions.js';

const ENTRIES = 100_000;
const POOL_SIZE = 10;
/** Entries per indexing statement while loading. */
const LOAD_BATCH = 2_000;

const DESCRIPTION = `catalog search over ${ENTRIES.toLocaleString('en')} published entries with generated Chinese names, abstracts and data items: one- and two-word queries with facet counts (CatalogSearch.search, in process, no HTTP), p50/p95 latency, vs the bare ranked full-text query on the same index without facets — on PostgreSQL and on PGlite`;

// ---- generated catalog: real agency and resource naming patterns of a prefecture -------------

const COUNTIES: readonly (readonly [string, string, string])[] = [
  ['430400', '衡阳市', 'HY'],
  ['430405', '珠晖区', 'ZH'],
  ['430406', '雁峰区', 'YF'],
  ['430407', '石鼓区', 'SG'],
  ['430408', '蒸湘区', 'ZX'],
  ['430412', '南岳区', 'NY'],
  ['430421', '衡阳县', 'HYX'],
  ['430422', '衡南县', 'HN'],
  ['430423', '衡山县', 'HS'],
  ['430424', '衡东县', 'HD'],
  ['430426', '祁东县', 'QD'],
  ['430481', '耒阳市', 'LY'],
  ['430482', '常宁市', 'CN'],
];
/** Department, code, the subjects of its resources, the data items peculiar to them. */
const DEPARTMENTS: readonly (readonly [string, string, readonly string[], readonly string[]])[] = [
  ['公安局', 'GAJ', ['人口', '户籍', '居住证', '机动车', '驾驶人', '出入境证件', '治安管理处罚', '犬只登记'], ['户籍地址', '民族', '婚姻状况', '车牌号码', '车辆识别代号', '准驾车型', '证件有效期']],
  ['民政局', 'MZJ', ['婚姻登记', '社会组织', '最低生活保障对象', '特困人员', '殡葬服务', '养老机构', '地名'], ['婚姻登记日期', '保障人数', '保障金额', '床位数', '组织类型']],
  ['人力资源和社会保障局', 'RSJ', ['社会保险参保', '就业登记', '失业登记', '职业资格证书', '劳动合同备案', '工伤认定'], ['参保险种', '缴费基数', '参保状态', '证书编号', '用人单位']],
  ['自然资源和规划局', 'ZRZY', ['不动产登记', '土地出让', '建设用地规划许可', '矿业权', '测绘资质'], ['不动产单元号', '坐落', '权利人', '面积', '用途', '宗地代码']],
  ['住房和城乡建设局', 'ZJJ', ['建设工程施工许可', '商品房预售许可', '建筑业企业资质', '住房公积金缴存', '物业服务企业'], ['项目名称', '建设单位', '施工单位', '资质等级', '缴存余额']],
  ['市场监督管理局', 'SCJG', ['企业登记', '个体工商户登记', '食品经营许可', '特种设备', '行政处罚', '商标'], ['注册资本', '经营范围', '成立日期', '登记机关', '企业类型', '处罚决定书文号']],
  ['卫生健康委员会', 'WJW', ['医疗机构执业登记', '执业医师注册', '出生医学证明', '预防接种', '公共场所卫生许可'], ['机构名称', '执业类别', '执业范围', '出生日期', '接种疫苗']],
  ['教育局', 'JYJ', ['学校基本情况', '学生学籍', '教师资格', '民办学校办学许可', '学前教育机构'], ['学校名称', '学籍号', '年级', '班级', '学段']],
  ['交通运输局', 'JTJ', ['道路运输经营许可', '营运车辆', '从业人员资格', '公路路政许可', '出租汽车'], ['经营许可证号', '车牌号码', '道路运输证号', '经营范围']],
  ['税务局', 'SWJ', ['纳税人登记', '纳税信用等级', '欠税公告', '发票领用', '税收减免'], ['纳税人识别号', '信用等级', '欠税金额', '税种']],
  ['医疗保障局', 'YBJ', ['医保参保', '定点医药机构', '医保结算', '医疗救助对象'], ['参保类型', '结算金额', '定点编号', '救助金额']],
  ['生态环境局', 'STHJ', ['排污许可', '环境影响评价审批', '环境行政处罚', '重点排污单位'], ['排污许可证编号', '行业类别', '污染物种类', '处罚决定书文号']],
  ['农业农村局', 'NYJ', ['农业补贴发放', '农药经营许可', '动物防疫', '农村土地承包经营权', '种子生产经营许可'], ['补贴金额', '承包面积', '地块编码', '许可证号']],
  ['水利局', 'SLJ', ['取水许可', '水利工程', '河道采砂许可', '水土保持方案审批'], ['取水量', '工程名称', '河道名称', '审批文号']],
  ['应急管理局', 'YJJ', ['安全生产许可', '危险化学品经营许可', '生产安全事故', '应急救援队伍'], ['许可范围', '事故等级', '伤亡人数', '队伍人数']],
  ['文化旅游广电体育局', 'WLJ', ['旅游景区', '旅行社经营许可', '网吧经营许可', '文物保护单位', '体育场馆'], ['景区等级', '许可证号', '保护级别', '场馆面积']],
  ['统计局', 'TJJ', ['国民经济统计', '统计调查单位名录', '人口抽样调查', '经济普查'], ['指标名称', '统计期', '指标值', '调查单位']],
  ['司法局', 'SFJ', ['法律援助', '律师执业', '公证机构', '人民调解组织'], ['案件类型', '执业证号', '公证事项', '调解结果']],
  ['退役军人事务局', 'TYJR', ['退役军人', '优抚对象', '烈士纪念设施'], ['入伍时间', '退役时间', '优抚类别']],
  ['财政局', 'CZJ', ['政府采购', '财政预算', '非税收入', '惠民惠农补贴'], ['预算科目', '采购金额', '收入项目', '补贴金额']],
];
const KINDS = ['基本信息', '登记信息', '变更信息', '注销信息', '许可信息', '年度统计数据', '名录', '奖惩信息', '监管信息', '核验服务', '证照信息', '办件信息'];
/** Data items most resources carry, whatever the department. */
const COMMON_ITEMS = ['姓名', '公民身份号码', '性别', '联系电话', '统一社会信用代码', '单位名称', '法定代表人', '登记日期', '有效期起', '有效期止', '发证机关', '行政区划代码', '办理状态', '备注'];
const SHARE = ['unconditional', 'conditional', 'conditional', 'none'] as const;
const CYCLES = ['realtime', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly'] as const;

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4_294_967_296;
  };
}

interface GeneratedAgency {
  readonly id: string;
  readonly code: string;
  readonly nameZh: string;
  readonly regionCode: string;
  readonly subjects: readonly string[];
  readonly items: readonly string[];
}

function entryContent(subject: string, kind: string, agency: GeneratedAgency, n: number, next: () => number): EntryContent {
  const shareType = SHARE[Math.floor(next() * SHARE.length)]!;
  const pool = [...agency.items, ...COMMON_ITEMS];
  const items = Array.from(new Set(Array.from({ length: 3 + Math.floor(next() * 10) }, () => pool[Math.floor(next() * pool.length)]!)));
  const method = shareType === 'none' ? [] : next() < 0.5 ? ['table' as const] : next() < 0.5 ? ['api' as const] : ['table' as const, 'api' as const];
  return {
    classification: { category: next() < 0.2 ? '1' : next() < 0.5 ? '2' : '3', group: String(1 + Math.floor(next() * 20)).padStart(2, '0'), subgroup: String(1 + Math.floor(next() * 30)).padStart(3, '0'), detail: null },
    nameZh: `${agency.nameZh.slice(0, 3)}${subject}${kind}`,
    names: next() < 0.1 ? { en: `${subject} records ${n}` } : {},
    abstractZh: `${agency.nameZh}在履行职责过程中产生的${subject}${kind}，包括${items.slice(0, 3).join('、')}等信息项，按${CYCLES[n % CYCLES.length] === 'daily' ? '日' : '期'}更新。`,
    abstracts: {},
    format: { type: method.includes('api') ? 'serviceInterface' : 'database', subtype: method.includes('api') ? 'rest' : 'dm' },
    dataItems: items.map((name, i) => ({ nameZh: name, names: {}, dataType: 'string', length: 100, precision: null, scale: null, description: '', sensitive: name.includes('身份'), format: null, key: i === 0 })),
    shareType,
    shareCondition: shareType === 'conditional' ? '用于依法履职' : null,
    legalBasis: shareType === 'none' ? { law: '中华人民共和国保守国家秘密法', article: '第九条' } : null,
    shareMethods: method,
    openness: { open: false, condition: null },
    updateCycle: CYCLES[n % CYCLES.length]!,
    relatedCodes: [],
    extensions: {},
  };
}

/** Agencies of a prefecture and `ENTRIES` published entries in the search index (exported for profiling). */
export async function loadGeneratedCatalog(platform: Platform, log: (line: string) => void, label: string): Promise<void> {
  const ctx = cliContext('bench', new Set(PERMISSIONS));
  const agencies: GeneratedAgency[] = [];
  let uscc = 0;
  for (const [region, place, prefix] of COUNTIES) {
    for (const [department, code, subjects, items] of DEPARTMENTS) {
      const a = await platform.agencies.create(ctx, {
        code: `${prefix}-${code}`,
        nameZh: `${place}${department}`,
        uscc: usccFor(++uscc),
        regionCode: region,
        level: region === '430400' ? 'prefecture' : 'county',
      });
      agencies.push({ id: a.id, code: a.code, nameZh: a.nameZh, regionCode: region, subjects, items });
    }
  }
  const next = rng(20_261_201);
  const started = performance.now();
  for (let first = 0; first < ENTRIES; first += LOAD_BATCH) {
    const batch: SearchableEntry[] = [];
    for (let n = first; n < Math.min(first + LOAD_BATCH, ENTRIES); n++) {
      const agency = agencies[Math.floor(next() * agencies.length)]!;
      const subject = agency.subjects[Math.floor(next() * agency.subjects.length)]!;
      const kind = KINDS[Math.floor(next() * KINDS.length)]!;
      const content = entryContent(subject, kind, agency, n, next);
      const c = content.classification!;
      batch.push({
        entryId: randomUUID(),
        resourceCode: `${c.category}${c.group}${c.subgroup}/${String(n + 1).padStart(6, '0')}`,
        version: 1,
        provider: { id: agency.id, code: agency.code, nameZh: agency.nameZh, names: {}, regionCode: agency.regionCode },
        content,
        publishDate: '2026-11-30',
      });
    }
    await platform.db.transaction().execute(async (trx) => {
      // The index references its entries: their rows, without the versions and data items a
      // review would have written (publishing 100,000 entries through review takes far longer
      // than the search being measured; the search reads only the index).
      await sql`insert into catalog_entries (id, agency_id, status, resource_code, published_version, latest_version, created_by)
        select id, agency_id, 'published', code, 1, 1, 'bench' from unnest(${batch.map((e) => e.entryId)}::uuid[], ${batch.map((e) => e.provider.id)}::uuid[], ${batch.map((e) => e.resourceCode)}::text[]) as u(id, agency_id, code)`.execute(trx);
      await platform.catalogSearch.indexMany(batch, trx);
    });
    if ((first / LOAD_BATCH) % 10 === 9) log(`  ${label}: ${first + LOAD_BATCH} entries indexed`);
  }
  await sql`analyze catalog_search`.execute(platform.db);
  log(`  ${label}: ${ENTRIES} entries indexed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
function usccFor(n: number): string {
  const body = `11430400${String(n).padStart(9, '0')}`;
  const sum = [...body].reduce((acc, c, i) => acc + USCC_CHARS.indexOf(c) * USCC_WEIGHTS[i]!, 0);
  return body + USCC_CHARS[(31 - (sum % 31)) % 31];
}

const ONE_WORD = ['人口', '企业', '不动产', '许可', '医疗', '社会保险', '车辆', '学校', '纳税人', '养老', '处罚', '公积金'];
const TWO_WORDS = ['企业 登记', '人口 户籍', '不动产 登记', '医疗机构 执业', '道路运输 许可', '社会保险 参保', '排污 许可', '养老机构 名录', '学生 学籍', '纳税人 信用'];

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;
}

interface Latencies {
  readonly p50: number;
  readonly p95: number;
  readonly queries: number;
  readonly meanHits: number;
}

async function timed(seconds: number, queries: readonly string[], run: (q: string, i: number) => Promise<number>): Promise<Latencies> {
  const times: number[] = [];
  let hits = 0;
  const until = performance.now() + seconds * 1000;
  for (let i = 0; performance.now() < until || times.length < queries.length; i++) {
    const q = queries[i % queries.length]!;
    const t = performance.now();
    hits += await run(q, i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p95: percentile(times, 0.95), queries: times.length, meanHits: hits / times.length };
}

/** Rotating filters, so facets and filters are exercised together. */
function filtersFor(i: number): Partial<SearchQuery> {
  switch (i % 4) {
    case 1:
      return { shareTypes: ['conditional'] };
    case 2:
      return { regionPrefixes: ['4304'], shareMethods: ['api'] };
    case 3:
      return { classificationPrefixes: ['2'] };
    default:
      return {};
  }
}

async function measure(handle: DatabaseHandle, s: BenchSettings, label: string): Promise<Record<string, Latencies>> {
  const platform = Platform.fromDatabase(handle, loadConfig({ env: {}, overrides: { logLevel: 'silent' } }));
  await platform.bootstrap();
  await loadGeneratedCatalog(platform, s.log, label);
  const search: CatalogSearch = platform.catalogSearch;
  const bare = async (q: string): Promise<number> => {
    const tsquery = parseQuery(q).tsquery;
    const r = await sql<{ entry_id: string }>`select entry_id from catalog_search where document @@ ${tsquery}::tsquery order by ts_rank(document, ${tsquery}::tsquery) desc limit 20`.execute(platform.db);
    return r.rows.length;
  };
  const full = async (q: string, i: number): Promise<number> => (await search.search({ q, offset: 0, limit: 20, ...filtersFor(i) })).total;
  s.log(`  ${label}: warming up`);
  await timed(s.warmupSeconds, [...ONE_WORD, ...TWO_WORDS], full);
  const out: Record<string, Latencies> = {};
  for (const [kind, queries] of [['one', ONE_WORD], ['two', TWO_WORDS]] as const) {
    out[`${kind}.search`] = await timed(s.rounds * s.roundSeconds, queries, full);
    out[`${kind}.bare`] = await timed(s.rounds * s.roundSeconds, queries, bare);
    s.log(`  ${label} ${kind}-word: search p50 ${out[`${kind}.search`]!.p50.toFixed(1)} ms p95 ${out[`${kind}.search`]!.p95.toFixed(1)} ms (${out[`${kind}.search`]!.queries} queries, ${Math.round(out[`${kind}.search`]!.meanHits)} hits on average); bare p95 ${out[`${kind}.bare`]!.p95.toFixed(1)} ms`);
  }
  return out;
}

function results(prefix: string, m: Record<string, Latencies>): BenchResult[] {
  return (['one', 'two'] as const).flatMap((k) => [
    compared(`${prefix}.${k}-word.p95`, 'ms', m[`${k}.search`]!.p95, m[`${k}.bare`]!.p95, 2),
    compared(`${prefix}.${k}-word.p50`, 'ms', m[`${k}.search`]!.p50, m[`${k}.bare`]!.p50, 2),
  ]);
}

export const catalogSearch: Benchmark = {
  name: 'catalog-search',
  description: DESCRIPTION,
  async run(s) {
    const database = await createBenchDatabase(s.serverUrl);
    s.teardown.add(`drop database ${database.name}`, () => database.drop());
    const pgHandle = await openDatabase({ kind: 'postgres', url: database.url, poolSize: POOL_SIZE });
    s.teardown.add('close the PostgreSQL pool', () => pgHandle.close());
    await migrate(pgHandle.db);
    const onPostgres = await measure(pgHandle, s, 'postgres');

    const liteHandle = await openDatabase({ kind: 'pglite', dir: undefined });
    s.teardown.add('close PGlite', () => liteHandle.close());
    await migrate(liteHandle.db);
    const onPGlite = await measure(liteHandle, s, 'pglite');
    const side = (m: Record<string, Latencies>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { p50Ms: Number(v.p50.toFixed(2)), p95Ms: Number(v.p95.toFixed(2)), queries: v.queries, meanHits: Math.round(v.meanHits) }]));
    return {
      results: [...results('catalog-search.postgres', onPostgres), ...results('catalog-search.pglite', onPGlite)],
      setup: {
        description: DESCRIPTION,
        database: database.name,
        entries: ENTRIES,
        agencies: COUNTIES.length * DEPARTMENTS.length,
        oneWordQueries: ONE_WORD,
        twoWordQueries: TWO_WORDS,
        filters: 'every 4th query unfiltered; the others: shareType=conditional; region 4304* + shareMethod=api; classification 2*',
        target: { p95Ms: 50, on: 'postgres' },
        postgres: side(onPostgres),
        pglite: side(onPGlite),
      },
    };
  },
};
