/**
 * The catalog through the real HTTP app: what a cataloger, the supervisor and a reader of another
 * agency see and are refused, with the standard error body naming the field and rule.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agency } from '../src/modules/agencies/schemas.js';
import type { EntryView } from '../src/modules/catalog/schemas.js';
import { catalogContent } from './helpers/catalog.js';
import { agencyInput, createTestPlatform, userWithRoles, type LoggedIn, type TestPlatform } from './helpers/platform.js';

interface ErrorBody {
  readonly code: string;
  readonly messageZh: string;
  readonly details: { readonly fields?: readonly { field: string; rule: string; message: string; messageZh?: string }[] } & Record<string, unknown>;
}

let t: TestPlatform;
let home: Agency;
let other: Agency;
let cataloger: LoggedIn;
let otherCataloger: LoggedIn;
let supervisor: LoggedIn;
let otherViewer: LoggedIn;
let auditor: LoggedIn;

const V1 = '/api/v1/catalog';

async function call(who: LoggedIn, options: Omit<InjectOptions, 'headers'>): Promise<LightMyRequestResponse> {
  const r = await t.app.inject({ ...options, headers: who.headers });
  expect(r.statusCode, r.body).toBeLessThan(500);
  return r;
}

function refused(r: LightMyRequestResponse, status: number, code: string): ErrorBody {
  expect(r.statusCode, r.body).toBe(status);
  const body = r.json<ErrorBody>();
  expect(body.code).toBe(code);
  expect(body.messageZh).toMatch(/[\u4e00-\u9fff]/);
  return body;
}

const fieldsOf = (body: ErrorBody): [string, string][] => (body.details.fields ?? []).map((f) => [f.field, f.rule]);

async function created(content = catalogContent()): Promise<EntryView> {
  const r = await call(cataloger, { method: 'POST', url: `${V1}/entries`, payload: { content } });
  expect(r.statusCode, r.body).toBe(201);
  return r.json<EntryView>();
}

async function published(content = catalogContent()): Promise<EntryView> {
  const e = await created(content);
  expect((await call(cataloger, { method: 'POST', url: `${V1}/entries/${e.id}/submit`, payload: {} })).statusCode).toBe(200);
  const r = await call(supervisor, { method: 'POST', url: `${V1}/entries/${e.id}/publish`, payload: {} });
  expect(r.statusCode, r.body).toBe(200);
  return r.json<EntryView>();
}

beforeAll(async () => {
  t = await createTestPlatform();
  home = await t.platform.agencies.create(t.cli, agencyInput(1, { code: 'HY-SCJG', nameZh: '衡阳市市场监督管理局' }));
  other = await t.platform.agencies.create(t.cli, agencyInput(2));
  cataloger = await userWithRoles(t, 'cat.home', ['cataloger'], home.id);
  otherCataloger = await userWithRoles(t, 'cat.other', ['cataloger'], other.id);
  supervisor = await userWithRoles(t, 'sup', ['supervisor']);
  otherViewer = await userWithRoles(t, 'view.other', ['viewer'], other.id);
  auditor = await userWithRoles(t, 'aud2', ['auditor']);
});
afterAll(async () => t?.close());

describe('the catalog over HTTP', () => {
  it('publishes an entry that every agency then reads in its language, by resource code', async () => {
    const p = await published();
    expect(p.resourceCode).toMatch(/^301002\/\d{6}$/);
    const r = await call(otherViewer, { method: 'GET', url: `${V1}/entries/${encodeURIComponent(p.resourceCode!)}?lang=ug` });
    expect(r.statusCode, r.body).toBe(200);
    const seen = r.json<EntryView>();
    expect(seen.published?.name).toBe('كارخانا تىزىملاش ئۇچۇرى');
    // No Uyghur abstract: Chinese.
    expect(seen.published?.abstract).toBe('本市登记注册的企业基本信息');
    expect(seen.published?.names).toEqual({ ug: 'كارخانا تىزىملاش ئۇچۇرى', en: 'Enterprise registrations' });
    expect(seen.provider).toMatchObject({ code: 'HY-SCJG' });

    const feed = await call(otherViewer, { method: 'GET', url: `${V1}/changes?after=0&limit=500` });
    expect(feed.json<{ items: { resourceCode: string; kind: string }[] }>().items).toContainEqual(expect.objectContaining({ resourceCode: p.resourceCode, kind: 'published' }));
  });

  it('refuses unknown vocabulary values, wrong data item types and bad classification codes, naming each field', async () => {
    let r = await call(cataloger, {
      method: 'POST',
      url: `${V1}/entries`,
      payload: { content: catalogContent({ shareType: 'sometimes' as 'none', updateCycle: 'hourly' as 'daily', classification: { category: '4' as '1', group: '1', subgroup: '002' } }) },
    });
    let body = refused(r, 400, 'GS_ERR_REQUEST_INVALID');
    expect(fieldsOf(body)).toEqual(
      expect.arrayContaining([
        ['body.content.shareType', 'enum'],
        ['body.content.updateCycle', 'enum'],
        ['body.content.classification.category', 'enum'],
        ['body.content.classification.group', 'pattern'],
      ]),
    );
    r = await call(cataloger, { method: 'POST', url: `${V1}/entries`, payload: { content: catalogContent({ dataItems: [{ nameZh: '金额', dataType: 'money' as 'decimal' }] }) } });
    expect(fieldsOf(refused(r, 400, 'GS_ERR_REQUEST_INVALID'))).toEqual([['body.content.dataItems.0.dataType', 'enum']]);
    r = await call(cataloger, { method: 'POST', url: `${V1}/entries`, payload: { content: catalogContent({ dataItems: [{ nameZh: '金额', dataType: 'decimal', precision: 10 }] }) } });
    body = refused(r, 400, 'GS_ERR_CATALOG_CONTENT_INVALID');
    expect(fieldsOf(body)).toEqual([['body.content.dataItems.0.scale', 'required']]);
    expect(body.details.fields?.[0]?.messageZh).toContain('scale');
  });

  it('refuses an unknown extension field and an unknown agency with a located error', async () => {
    let r = await call(cataloger, { method: 'POST', url: `${V1}/entries`, payload: { content: catalogContent({ extensions: { colour: 'red' } }) } });
    expect(fieldsOf(refused(r, 400, 'GS_ERR_CATALOG_CONTENT_INVALID'))).toEqual([['body.content.extensions.colour', 'unknownField']]);
    r = await call(cataloger, { method: 'POST', url: `${V1}/entries`, payload: { agencyId: '00000000-0000-4000-8000-000000000000', content: catalogContent() } });
    // Naming another agency is refused before it is looked up: a cataloger acts for their own agency.
    refused(r, 403, 'GS_ERR_AUTH_WRONG_AGENCY');
  });

  it('refuses a not-shared entry without legal basis at submission, naming the field', async () => {
    const e = await created(catalogContent({ shareType: 'none', shareCondition: undefined, shareMethods: [] }));
    const r = await call(cataloger, { method: 'POST', url: `${V1}/entries/${e.id}/submit`, payload: {} });
    const body = refused(r, 400, 'GS_ERR_CATALOG_NOT_CONFORMANT');
    expect(fieldsOf(body)).toEqual([['body.content.legalBasis', 'legalBasis.missing']]);
    const findings = await call(cataloger, { method: 'GET', url: `${V1}/entries/${e.id}/findings` });
    expect(findings.json<{ items: { rule: string }[] }>().items.map((f) => f.rule)).toEqual(['legalBasis.missing']);
  });

  it("refuses another agency's cataloger (403) and a reader who is no cataloger", async () => {
    const p = await published();
    const payload = { content: catalogContent({ nameZh: '别人改的' }), expectedVersion: p.version };
    refused(await call(otherCataloger, { method: 'PUT', url: `${V1}/entries/${p.id}/draft`, payload }), 403, 'GS_ERR_AUTH_WRONG_AGENCY');
    const forbidden = refused(await call(otherViewer, { method: 'PUT', url: `${V1}/entries/${p.id}/draft`, payload }), 403, 'GS_ERR_AUTH_FORBIDDEN');
    expect(forbidden.details.permission).toBe('catalog:edit');
    // 三权分立: the auditor does not read the catalog.
    refused(await call(auditor, { method: 'GET', url: `${V1}/entries/${p.id}` }), 403, 'GS_ERR_AUTH_FORBIDDEN');
  });

  it('answers a supervisor decision on a draft not submitted with 409 GS_ERR_CATALOG_STATE', async () => {
    const e = await created();
    const body = refused(await call(supervisor, { method: 'POST', url: `${V1}/entries/${e.id}/publish`, payload: {} }), 409, 'GS_ERR_CATALOG_STATE');
    expect(body.messageZh).toBe(`目录条目 ${e.id} 当前为草稿，不能发布`);
  });

  it('refuses the second of two concurrent edits with 409', async () => {
    const e = await created();
    const edit = (nameZh: string) => call(cataloger, { method: 'PUT', url: `${V1}/entries/${e.id}/draft`, payload: { content: catalogContent({ nameZh }), expectedVersion: e.version } });
    const [a, b] = await Promise.all([edit('甲'), edit('乙')]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 409]);
    const loser = a.statusCode === 409 ? a : b;
    expect(loser.json<ErrorBody>().code).toBe('GS_ERR_REQUEST_CONFLICT');
  });

  it('lets the operator declare extension fields and refuses a value outside an enum', async () => {
    const operator = await userWithRoles(t, 'op2', ['operator']);
    const declared = await call(operator, { method: 'POST', url: `${V1}/extension-fields`, payload: { key: 'dataLevel', labelZh: '数据分级', labelEn: 'Data level', type: 'enum', allowedValues: ['一般', '重要'] } });
    expect(declared.statusCode, declared.body).toBe(201);
    try {
      const r = await call(cataloger, { method: 'POST', url: `${V1}/entries`, payload: { content: catalogContent({ extensions: { dataLevel: '核心' } }) } });
      const body = refused(r, 400, 'GS_ERR_CATALOG_CONTENT_INVALID');
      expect(body.details.fields?.[0]).toMatchObject({ field: 'body.content.extensions.dataLevel', rule: 'allowedValues', messageZh: '取值必须为 一般、重要 之一' });
      refused(await call(cataloger, { method: 'POST', url: `${V1}/extension-fields`, payload: { key: 'x', labelZh: '字段', labelEn: 'Field', type: 'string' } }), 403, 'GS_ERR_AUTH_FORBIDDEN');
    } finally {
      await call(operator, { method: 'PATCH', url: `${V1}/extension-fields/dataLevel`, payload: { active: false } });
    }
  });

  it('shows the not-shared list with its legal basis to a user of any agency', async () => {
    const e = await created(
      catalogContent({ nameZh: '信访人信息', shareType: 'none', shareCondition: undefined, shareMethods: [], legalBasis: { law: '《信访工作条例》', article: '第四十五条' } }),
    );
    await call(cataloger, { method: 'POST', url: `${V1}/entries/${e.id}/submit`, payload: {} });
    refused(await call(supervisor, { method: 'POST', url: `${V1}/entries/${e.id}/publish`, payload: {} }), 400, 'GS_ERR_CATALOG_LEGAL_BASIS_UNCONFIRMED');
    expect((await call(supervisor, { method: 'POST', url: `${V1}/entries/${e.id}/publish`, payload: { confirmLegalBasis: true } })).statusCode).toBe(200);
    const r = await call(otherViewer, { method: 'GET', url: `${V1}/non-shared` });
    expect(r.json<{ items: { nameZh: string; legalBasis: unknown }[] }>().items).toContainEqual(
      expect.objectContaining({ nameZh: '信访人信息', legalBasis: { law: '《信访工作条例》', article: '第四十五条' } }),
    );
  });
});
