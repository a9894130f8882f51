/**
 * Catalog import and export through the real HTTP app: the file as the raw request body, the
 * report as the reply, and the published catalog streamed back as XLSX, JSON and DCAT-AP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agency } from '../src/modules/agencies/schemas.js';
import type { ImportReport } from '../src/modules/catalog/import-file.js';
import { csv, HEADERS, resourceRows, xlsx } from './helpers/catalog-file.js';
import { agencyInput, createTestPlatform, userWithRoles, type LoggedIn, type TestPlatform } from './helpers/platform.js';

let t: TestPlatform;
let home: Agency;
let cataloger: LoggedIn;
let supervisor: LoggedIn;
let viewer: LoggedIn;

const V1 = '/api/v1/catalog';
const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

async function upload(who: LoggedIn, url: string, body: Buffer | string, contentType: string) {
  return t.app.inject({ method: 'POST', url, headers: { ...who.headers, 'content-type': contentType }, payload: body });
}

beforeAll(async () => {
  t = await createTestPlatform();
  home = await t.platform.agencies.create(t.cli, agencyInput(1, { code: 'HOME', nameZh: '衡阳市不动产登记中心' }));
  cataloger = await userWithRoles(t, 'imp-cataloger', ['cataloger'], home.id);
  supervisor = await userWithRoles(t, 'imp-supervisor', ['supervisor']);
  viewer = await userWithRoles(t, 'imp-viewer', ['viewer'], home.id);
});
afterAll(async () => t?.close());

describe('POST /catalog/imports', () => {
  it('imports a CSV upload as drafts of the cataloger’s agency and replies with the report', async () => {
    const r = await upload(cataloger, `${V1}/imports?fileName=${encodeURIComponent('目录.csv')}`, `\ufeff${csv([HEADERS, ...resourceRows({ 资源名称: '不动产登记信息', 提供方: '' })])}`, 'text/csv; charset=utf-8');
    expect(r.statusCode, r.body).toBe(200);
    const report = r.json<ImportReport>();
    expect(report).toMatchObject({ outcome: 'imported', mode: 'draft', format: 'csv', imported: 1, errors: [] });
    const entry = await t.app.inject({ method: 'GET', url: `${V1}/entries/${report.entries[0]!.entryId}`, headers: cataloger.headers });
    expect(entry.json()).toMatchObject({ status: 'unpublished', provider: { code: 'HOME' }, pending: { state: 'draft', nameZh: '不动产登记信息' } });
    const audit = await t.platform.audit.search({ action: 'catalog.import', limit: 5, order: 'newest' });
    expect(audit[0]).toMatchObject({ actorName: 'imp-cataloger', targetId: report.importId, details: { mode: 'draft', imported: 1, file: '目录.csv' } });
  });

  it('replies 200 with located errors when rows fail, and imports nothing', async () => {
    const r = await upload(cataloger, `${V1}/imports`, await xlsx([HEADERS, ...resourceRows({ 资源名称: '坏的', 共享类型: '有条件共享', 共享条件: '' })]), XLSX_TYPE);
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json<ImportReport>()).toMatchObject({ outcome: 'rejected', format: 'xlsx', imported: 0, errors: [{ row: 2, column: '共享条件', rule: 'shareCondition.missing', messageZh: '有条件共享须填写共享条件' }] });
  });

  it('refuses a file that is neither XLSX nor CSV: 415 for another content type, 400 for bytes that are not one', async () => {
    const pdf = await upload(cataloger, `${V1}/imports`, Buffer.from('%PDF-1.7\n'), 'application/pdf');
    expect(pdf.statusCode).toBe(415);
    expect(pdf.json()).toMatchObject({ code: 'GS_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE' });
    const json = await t.app.inject({ method: 'POST', url: `${V1}/imports`, headers: cataloger.headers, payload: { rows: [] } });
    expect(json.statusCode).toBe(415);
    const binary = await upload(cataloger, `${V1}/imports`, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00]), 'application/octet-stream');
    expect(binary.statusCode).toBe(400);
    expect(binary.json()).toMatchObject({ code: 'GS_ERR_CATALOG_IMPORT_FILE_UNREADABLE', messageZh: expect.stringContaining('既不是 XLSX 也不是 CSV') });
    const fake = await upload(cataloger, `${V1}/imports`, 'not a workbook', XLSX_TYPE);
    expect(fake.json()).toMatchObject({ code: 'GS_ERR_CATALOG_IMPORT_FILE_UNREADABLE' });
  });

  it('lets only the supervisor migrate a catalog with direct publication', async () => {
    const body = csv([HEADERS, ...resourceRows({ 资源名称: '不动产权利信息', 资源代码: '301002/000042', 发布日期: '2022-03-04' })]);
    expect((await upload(cataloger, `${V1}/imports/published`, body, 'text/csv')).statusCode).toBe(403);
    const r = await upload(supervisor, `${V1}/imports/published`, body, 'text/csv');
    expect(r.json<ImportReport>()).toMatchObject({ outcome: 'imported', mode: 'publish', entries: [{ resourceCode: '301002/000042' }] });
  });
});

describe('GET /catalog/export', () => {
  it('streams the published catalog as JSON, DCAT-AP JSON-LD and the XLSX template to every reader', async () => {
    const json = await t.app.inject({ method: 'GET', url: `${V1}/export?format=json`, headers: viewer.headers });
    expect(json.statusCode).toBe(200);
    const doc = json.json<{ count: number; entries: { resourceCode: string; content: { nameZh: string } }[] }>();
    expect(doc.entries.map((e) => [e.resourceCode, e.content.nameZh])).toEqual([['301002/000042', '不动产权利信息']]);

    const dcat = await t.app.inject({ method: 'GET', url: `${V1}/export?format=dcat`, headers: viewer.headers });
    expect(dcat.headers['content-type']).toMatch(/^application\/ld\+json/);
    const catalog = dcat.json<{ '@type': string; 'dcat:dataset': Record<string, unknown>[]; 'dcat:service': Record<string, unknown>[] }>();
    expect(catalog['@type']).toBe('dcat:Catalog');
    expect(catalog['dcat:dataset'][0]).toMatchObject({
      '@type': 'dcat:Dataset',
      'dct:identifier': '301002/000042',
      'dct:title': [{ '@value': '不动产权利信息', '@language': 'zh' }],
      'dct:issued': { '@value': '2022-03-04' },
      'dct:accrualPeriodicity': { '@id': 'http://publications.europa.eu/resource/authority/frequency/DAILY' },
      'dct:accessRights': { '@id': 'http://publications.europa.eu/resource/authority/access-right/RESTRICTED' },
      'dct:publisher': { 'dct:identifier': 'HOME' },
    });
    expect(catalog['dcat:service']).toHaveLength(1);

    const sheet = await t.app.inject({ method: 'GET', url: `${V1}/export?format=xlsx`, headers: viewer.headers });
    expect(sheet.headers['content-disposition']).toContain('catalog.xlsx');
    expect(sheet.rawPayload.subarray(0, 2).toString()).toBe('PK');
  });
});
