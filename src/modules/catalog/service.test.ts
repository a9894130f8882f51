import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogContent } from '../../../test/helpers/catalog.js';
import { agencyInput, createTestPlatform, refused, type TestPlatform } from '../../../test/helpers/platform.js';
import { permissionsOf, type Role } from '../accounts/permissions.js';
import type { Agency } from '../agencies/schemas.js';
import type { RequestContext } from '../../server/actor.js';
import type { EntryContentInput, EntryView } from './schemas.js';
import type { CatalogService } from './service.js';

let t: TestPlatform;
let catalog: CatalogService;
let home: Agency;
let other: Agency;
let cataloger: RequestContext;
let otherCataloger: RequestContext;
let supervisor: RequestContext;
let viewer: RequestContext;
let otherViewer: RequestContext;

function as(role: Role, agencyId: string | null, name: string): RequestContext {
  return { actor: { type: 'user', userId: null, name, roles: [role], agencyId, permissions: permissionsOf([role]) }, requestId: null, ip: null };
}

const tableContent = catalogContent;

async function publishNew(content: EntryContentInput = tableContent(), agency: Agency = home): Promise<EntryView> {
  const who = agency.id === home.id ? cataloger : otherCataloger;
  const e = await catalog.create(who, { content });
  await catalog.submit(who, e.id);
  return catalog.publish(supervisor, e.id, { confirmLegalBasis: content.shareType === 'none' ? true : undefined });
}

beforeAll(async () => {
  t = await createTestPlatform();
  catalog = t.platform.catalog;
  home = await t.platform.agencies.create(t.cli, agencyInput(1, { code: 'HY-SCJG', nameZh: '衡阳市市场监督管理局', names: { en: 'Hengyang Market Regulation' } }));
  other = await t.platform.agencies.create(t.cli, agencyInput(2));
  cataloger = as('cataloger', home.id, 'li.cataloger');
  otherCataloger = as('cataloger', other.id, 'wang.cataloger');
  supervisor = as('supervisor', null, 'zhao.supervisor');
  viewer = as('viewer', home.id, 'home.viewer');
  otherViewer = as('viewer', other.id, 'other.viewer');
});
afterAll(async () => t?.close());

describe('creating and publishing an entry', () => {
  it('walks draft → submitted → published, assigns the resource code at publication and shows the provider code', async () => {
    const draft = await catalog.create(cataloger, { content: tableContent() });
    expect(draft).toMatchObject({ status: 'unpublished', resourceCode: null, published: null, provider: { id: home.id, code: 'HY-SCJG', name: '衡阳市市场监督管理局' } });
    expect(draft.pending).toMatchObject({ number: 1, state: 'draft', nameZh: '企业登记信息', classification: { code: '301002' } });
    expect(draft.pending?.findings).toEqual([]);
    expect(draft.pending?.dataItems.map((d) => d.sqlType)).toEqual(['varchar(18)', 'varchar(200)', 'numeric(18,2)', 'date', 'varchar(18)']);

    const submitted = await catalog.submit(cataloger, draft.id, draft.version);
    expect(submitted.pending).toMatchObject({ state: 'submitted', submitted: { by: 'li.cataloger' } });

    const published = await catalog.publish(supervisor, draft.id, { comment: '同意发布' });
    expect(published.status).toBe('published');
    expect(published.resourceCode).toMatch(/^301002\/\d{6}$/);
    expect(published.pending).toBeNull();
    expect(published.published).toMatchObject({ number: 1, state: 'published', reviewed: { by: 'zhao.supervisor', comment: '同意发布' } });
    expect(published.published?.publishDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);

    // Every signed-in reader of another agency sees it, by id or by code, in their language.
    const seen = await catalog.get(otherViewer.actor, published.resourceCode!, 'ug');
    expect(seen.published?.name).toBe('كارخانا تىزىملاش ئۇچۇرى');
    expect(seen.published?.abstract).toBe('本市登记注册的企业基本信息');
    expect(seen.published?.dataItems[0]).toMatchObject({ name: '统一社会信用代码', nameZh: '统一社会信用代码' });
    expect((await catalog.get(otherViewer.actor, published.id, 'en-GB')).published?.dataItems[0]?.name).toBe('USCC');

    const audit = await t.platform.audit.search({ targetId: draft.id, limit: 10 });
    expect(audit.map((a) => a.action).sort()).toEqual(['catalog.create', 'catalog.publish', 'catalog.submit']);
    const history = await catalog.history(viewer.actor, draft.id);
    expect(history.map((h) => [h.action, h.actor])).toEqual([
      ['catalog.create', 'li.cataloger'],
      ['catalog.submit', 'li.cataloger'],
      ['catalog.publish', 'zhao.supervisor'],
    ]);
  });

  it('numbers resource codes by classification without gaps or repeats, also when published at once', async () => {
    const content = tableContent({ classification: { category: '2', group: '05', subgroup: '001', detail: '01' } });
    const drafts = await Promise.all([1, 2, 3].map(() => catalog.create(cataloger, { content })));
    for (const d of drafts) await catalog.submit(cataloger, d.id);
    const feedBefore = (await catalog.changes(0, 500)).length;
    const published = await Promise.all(drafts.map((d) => catalog.publish(supervisor, d.id, {})));
    expect(published.map((p) => p.resourceCode).sort()).toEqual(['20500101/000001', '20500101/000002', '20500101/000003']);
    // The feed numbers of concurrent publications are consecutive, one per publication.
    const feed = await catalog.changes(feedBefore, 500);
    expect(feed.map((c) => c.seq)).toEqual([feedBefore + 1, feedBefore + 2, feedBefore + 3]);
    expect(new Set(feed.map((c) => c.entryId))).toEqual(new Set(drafts.map((d) => d.id)));
  });

  it('gives other modules the version in force with its typed data items', async () => {
    const p = await publishNew();
    const got = await catalog.getPublished(p.resourceCode!);
    expect(got).toMatchObject({ entryId: p.id, resourceCode: p.resourceCode, provider: { code: 'HY-SCJG' }, version: 1 });
    const items = await catalog.publishedDataItems(p.id);
    expect(items.filter((d) => d.key).map((d) => d.nameZh)).toEqual(['统一社会信用代码']);
    expect(items[2]).toMatchObject({ dataType: 'decimal', precision: 18, scale: 2 });
    const listed = await catalog.listPublished({ agencyId: home.id, limit: 500 });
    expect(listed.map((l) => l.entryId)).toContain(p.id);
  });
});

describe('refusals', () => {
  it('refuses submission of a not-shared entry without legal basis, naming the field', async () => {
    const e = await catalog.create(cataloger, { content: tableContent({ shareType: 'none', shareCondition: undefined, shareMethods: [], dataItems: [] }) });
    expect(e.pending?.findings?.map((f) => f.rule)).toContain('legalBasis.missing');
    const err = await refused(catalog.submit(cataloger, e.id), 'GS_ERR_CATALOG_NOT_CONFORMANT');
    expect(err.status).toBe(400);
    expect(err.fields?.map((f) => f.field)).toContain('body.content.legalBasis');
    expect(err.messageZh).toContain('不予共享须提供法律、法规、规章依据');
    expect((await catalog.get(cataloger.actor, e.id)).pending?.state).toBe('draft');
  });

  it('refuses submission of a conditional entry without its condition', async () => {
    const e = await catalog.create(cataloger, { content: tableContent({ shareCondition: undefined }) });
    const err = await refused(catalog.submit(cataloger, e.id), 'GS_ERR_CATALOG_NOT_CONFORMANT');
    expect(err.fields).toEqual([expect.objectContaining({ field: 'body.content.shareCondition', rule: 'shareCondition.missing' })]);
  });

  it('refuses an unknown or deactivated provider agency', async () => {
    const cli = t.cli;
    let err = await refused(catalog.create(cli, { agencyId: '00000000-0000-4000-8000-000000000000', content: tableContent() }), 'GS_ERR_CATALOG_PROVIDER_INVALID');
    expect(err.fields?.[0]).toMatchObject({ field: 'body.agencyId', rule: 'activeAgency' });
    const gone = await t.platform.agencies.create(t.cli, agencyInput(3));
    // A draft made before its agency was deactivated cannot be submitted afterwards.
    const early = await catalog.create(cli, { agencyId: gone.id, content: tableContent() });
    await t.platform.agencies.deactivate(t.cli, gone.id, '撤并');
    err = await refused(catalog.create(cli, { agencyId: gone.id, content: tableContent() }), 'GS_ERR_CATALOG_PROVIDER_INVALID');
    expect(err.messageZh).toContain('单位已停用');
    err = await refused(catalog.submit(cli, early.id), 'GS_ERR_CATALOG_PROVIDER_INVALID');
    expect(err.fields?.[0]).toMatchObject({ field: 'provider', rule: 'activeAgency' });
  });

  it('names every badly typed data item at once', async () => {
    const err = await refused(
      catalog.create(cataloger, {
        content: tableContent({
          dataItems: [
            { nameZh: '名称', dataType: 'string' },
            { nameZh: '金额', dataType: 'decimal', precision: 4, scale: 6 },
            { nameZh: '数量', dataType: 'integer', length: 10 },
            { nameZh: '名称', dataType: 'date' },
          ],
        }),
      }),
      'GS_ERR_CATALOG_CONTENT_INVALID',
    );
    expect(err.fields?.map((f) => [f.field, f.rule])).toEqual([
      ['body.content.dataItems.0.length', 'required'],
      ['body.content.dataItems.1.scale', 'maximum'],
      ['body.content.dataItems.2.length', 'notApplicable'],
      ['body.content.dataItems.3.nameZh', 'unique'],
    ]);
  });

  it('refuses a Chinese or malformed language tag in names', async () => {
    const err = await refused(catalog.create(cataloger, { content: tableContent({ names: { 'zh-Hans': '企业', 'not a tag': 'x' } }) }), 'GS_ERR_CATALOG_CONTENT_INVALID');
    expect(err.fields?.map((f) => f.field)).toEqual(['body.content.names.zh-Hans', 'body.content.names.not a tag']);
  });

  it("lets a cataloger act for their own agency only, and nobody else edit", async () => {
    const e = await catalog.create(cataloger, { content: tableContent() });
    await refused(catalog.create(otherCataloger, { agencyId: home.id, content: tableContent() }), 'GS_ERR_AUTH_WRONG_AGENCY');
    // Another agency does not even see the draft.
    await refused(catalog.saveDraft(otherCataloger, e.id, { content: tableContent(), expectedVersion: e.version }), 'GS_ERR_CATALOG_ENTRY_NOT_FOUND');
    await refused(catalog.saveDraft(viewer, e.id, { content: tableContent(), expectedVersion: e.version }), 'GS_ERR_AUTH_FORBIDDEN');
    await refused(catalog.publish(cataloger, e.id, {}), 'GS_ERR_AUTH_FORBIDDEN');
    // Once published, another agency's cataloger sees it but may not change it.
    await catalog.submit(cataloger, e.id);
    const p = await catalog.publish(supervisor, e.id, {});
    await refused(catalog.saveDraft(otherCataloger, e.id, { content: tableContent(), expectedVersion: p.version }), 'GS_ERR_AUTH_WRONG_AGENCY');
    await refused(catalog.withdraw(otherCataloger, e.id, { reason: '不要了' }), 'GS_ERR_AUTH_WRONG_AGENCY');
  });

  it('refuses a supervisor decision on a version not submitted with a state conflict', async () => {
    const e = await catalog.create(cataloger, { content: tableContent() });
    const err = await refused(catalog.publish(supervisor, e.id, {}), 'GS_ERR_CATALOG_STATE');
    expect(err.status).toBe(409);
    expect(err.message).toBe(`Catalog entry ${e.id} is draft; cannot publish`);
    expect(err.messageZh).toBe(`目录条目 ${e.id} 当前为草稿，不能发布`);
    await refused(catalog.returnForChanges(supervisor, e.id, { comment: '请补充' }), 'GS_ERR_CATALOG_STATE');
  });

  it('refuses the second of two edits made from the same version', async () => {
    const e = await catalog.create(cataloger, { content: tableContent() });
    await catalog.saveDraft(cataloger, e.id, { content: tableContent({ nameZh: '第一次修改' }), expectedVersion: e.version });
    const err = await refused(catalog.saveDraft(cataloger, e.id, { content: tableContent({ nameZh: '第二次修改' }), expectedVersion: e.version }), 'GS_ERR_REQUEST_CONFLICT');
    expect(err.status).toBe(409);
    expect((await catalog.get(cataloger.actor, e.id)).pending?.nameZh).toBe('第一次修改');
  });

  it('does not let a submitted version be edited, nor a withdrawn entry', async () => {
    const e = await catalog.create(cataloger, { content: tableContent() });
    const s = await catalog.submit(cataloger, e.id);
    await refused(catalog.saveDraft(cataloger, e.id, { content: tableContent(), expectedVersion: s.version }), 'GS_ERR_CATALOG_STATE');
    const w = await catalog.withdraw(cataloger, e.id, { reason: '重复编目' });
    expect(w.status).toBe('withdrawn');
    await refused(catalog.saveDraft(cataloger, e.id, { content: tableContent(), expectedVersion: w.version }), 'GS_ERR_CATALOG_STATE');
  });
});

describe('return, revision and versions', () => {
  it('returns with comments, takes edits and a resubmission', async () => {
    const e = await catalog.create(cataloger, { content: tableContent() });
    await catalog.submit(cataloger, e.id);
    const returned = await catalog.returnForChanges(supervisor, e.id, { comment: '摘要过于简单' });
    expect(returned.pending).toMatchObject({ state: 'returned', reviewed: { by: 'zhao.supervisor', comment: '摘要过于简单' } });
    const edited = await catalog.saveDraft(cataloger, e.id, { content: tableContent({ abstractZh: '本市登记注册的各类企业的基本登记信息，含统一社会信用代码等' }), expectedVersion: returned.version });
    await catalog.submit(cataloger, e.id, edited.version);
    const p = await catalog.publish(supervisor, e.id, {});
    expect(p.published?.abstractZh).toContain('各类企业');
    expect((await catalog.history(cataloger.actor, e.id)).map((h) => h.action)).toEqual(['catalog.create', 'catalog.submit', 'catalog.return', 'catalog.update', 'catalog.submit', 'catalog.publish']);
  });

  it('keeps the published version in force while a revision is reviewed, then supersedes it, and diffs the two', async () => {
    // Shared as an API: a table resource's shared table refuses a removed data item without the
    // exchange's explicit migration (exchange/service.test.ts).
    const p = await publishNew(tableContent({ shareMethods: ['api'] }));
    const items = tableContent().dataItems!;
    const revised = await catalog.saveDraft(
      cataloger,
      p.id,
      {
        content: tableContent({
          shareType: 'unconditional',
          shareCondition: undefined,
          updateCycle: 'realtime',
          shareMethods: ['api'],
          names: { ug: 'كارخانا تىزىملاش ئۇچۇرى', en: 'Registered enterprises' },
          dataItems: [{ ...items[0]! }, { ...items[1]!, length: 300 }, ...items.slice(2, 4), { nameZh: '经营范围', dataType: 'string', length: 2000 }],
        }),
        expectedVersion: p.version,
      },
    );
    expect(revised.pending).toMatchObject({ number: 2, state: 'draft', shareType: 'unconditional' });
    // Readers elsewhere still see version 1 only.
    const outside = await catalog.get(otherViewer.actor, p.id);
    expect(outside.published).toMatchObject({ number: 1, shareType: 'conditional' });
    expect(outside.pending).toBeNull();
    await catalog.submit(cataloger, p.id);
    const again = await catalog.publish(supervisor, p.id, {});
    expect(again.resourceCode).toBe(p.resourceCode);
    expect(again.published).toMatchObject({ number: 2, updateCycle: 'realtime' });
    const versions = await catalog.versions(otherViewer.actor, p.id);
    expect(versions.map((v) => [v.number, v.state])).toEqual([
      [1, 'superseded'],
      [2, 'published'],
    ]);

    const diff = await catalog.diff(otherViewer.actor, p.id, 1, 2);
    expect(diff).toEqual(
      expect.arrayContaining([
        { path: 'names.en', change: 'changed', before: 'Enterprise registrations', after: 'Registered enterprises' },
        { path: 'shareType', change: 'changed', before: 'conditional', after: 'unconditional' },
        { path: 'shareCondition', change: 'removed', before: '用于市场监管和行政审批' },
        { path: 'updateCycle', change: 'changed', before: 'daily', after: 'realtime' },
        { path: 'dataItems[企业名称].length', change: 'changed', before: 200, after: 300 },
        expect.objectContaining({ path: 'dataItems[法定代表人身份证号]', change: 'removed' }),
        expect.objectContaining({ path: 'dataItems[经营范围]', change: 'added' }),
      ]),
    );
    expect(diff.map((d) => d.path)).not.toContain('dataItems[统一社会信用代码].length');
    expect(diff).toHaveLength(7);
  });

  it('keeps the classification of a published entry, so its code stays stable', async () => {
    const p = await publishNew();
    const err = await refused(
      catalog.saveDraft(cataloger, p.id, { content: tableContent({ classification: { category: '3', group: '09', subgroup: '009' } }), expectedVersion: p.version }),
      'GS_ERR_CATALOG_CLASSIFICATION_FROZEN',
    );
    expect(err.fields?.[0]?.field).toBe('body.content.classification');
  });
});

describe('drafts are private to their agency and the supervisor', () => {
  it('hides a draft from other agencies and lists the review queue for the supervisor', async () => {
    const e = await catalog.create(cataloger, { content: tableContent({ nameZh: '保密草稿' }) });
    await refused(catalog.get(otherViewer.actor, e.id), 'GS_ERR_CATALOG_ENTRY_NOT_FOUND');
    expect((await catalog.get(viewer.actor, e.id)).pending?.nameZh).toBe('保密草稿');
    expect((await catalog.get(supervisor.actor, e.id)).pending?.nameZh).toBe('保密草稿');
    expect((await catalog.list(otherViewer.actor, { openState: 'draft', limit: 500 })).map((x) => x.id)).not.toContain(e.id);
    await refused(catalog.list(otherViewer.actor, { openState: 'draft', agencyId: home.id, limit: 500 }), 'GS_ERR_AUTH_WRONG_AGENCY');
    expect((await catalog.list(viewer.actor, { openState: 'draft', limit: 500 })).map((x) => x.id)).toContain(e.id);
    await catalog.submit(cataloger, e.id);
    const queue = await catalog.list(supervisor.actor, { openState: 'submitted', limit: 500 });
    expect(queue.map((x) => x.id)).toContain(e.id);
    expect(queue.every((x) => x.pending?.state === 'submitted')).toBe(true);
    // The published list does not show it.
    expect((await catalog.list(otherViewer.actor, { limit: 500 })).map((x) => x.id)).not.toContain(e.id);
  });

  it('lists a withdrawn entry that was never published to its own agency only, so pages stay full', async () => {
    const never = await catalog.create(cataloger, { content: tableContent() });
    await catalog.withdraw(cataloger, never.id, { reason: '误建' });
    const once = await publishNew();
    await catalog.withdraw(cataloger, once.id, { reason: '停止提供' });
    const outside = await catalog.list(otherViewer.actor, { status: 'withdrawn', limit: 500 });
    expect(outside.map((x) => x.id)).toContain(once.id);
    expect(outside.map((x) => x.id)).not.toContain(never.id);
    expect(outside.every((x) => x.resourceCode !== null)).toBe(true);
    expect((await catalog.list(viewer.actor, { status: 'withdrawn', limit: 500 })).map((x) => x.id)).toEqual(expect.arrayContaining([never.id, once.id]));
    // A page of one is full whenever more entries follow.
    const first = await catalog.list(otherViewer.actor, { status: 'withdrawn', limit: 1 });
    expect(first).toHaveLength(1);
  });
});

describe('the not-shared list (000 §13)', () => {
  it('publishes a not-shared entry only with the supervisor confirming its legal basis, then shows it to every agency', async () => {
    const content = tableContent({
      nameZh: '涉密人员名单',
      classification: { category: '3', group: '02', subgroup: '001' },
      shareType: 'none',
      shareCondition: undefined,
      shareMethods: [],
      legalBasis: { law: '《中华人民共和国保守国家秘密法》', article: '第三十五条' },
    });
    const e = await catalog.create(cataloger, { content });
    await catalog.submit(cataloger, e.id);
    const err = await refused(catalog.publish(supervisor, e.id, {}), 'GS_ERR_CATALOG_LEGAL_BASIS_UNCONFIRMED');
    expect(err.fields?.[0]?.field).toBe('body.confirmLegalBasis');
    const p = await catalog.publish(supervisor, e.id, { confirmLegalBasis: true });
    expect(p.published?.legalBasisConfirmed?.by).toBe('zhao.supervisor');
    const list = await catalog.nonShared(undefined, 500);
    expect(list).toContainEqual(
      expect.objectContaining({ resourceCode: p.resourceCode, nameZh: '涉密人员名单', legalBasis: { law: '《中华人民共和国保守国家秘密法》', article: '第三十五条' }, confirmedBy: 'zhao.supervisor', provider: expect.objectContaining({ code: 'HY-SCJG' }) }),
    );
  });
});

describe('withdrawal and the change feed', () => {
  it('reports publications and withdrawals in order, with the reason, after a cursor', async () => {
    const [start] = (await catalog.changes(0, 500)).slice(-1);
    const after = start?.seq ?? 0;
    const p = await publishNew();
    const w = await catalog.withdraw(cataloger, p.id, { reason: '职能划转，资源由他局提供' });
    expect(w).toMatchObject({ status: 'withdrawn', withdrawn: { reason: '职能划转，资源由他局提供' }, resourceCode: p.resourceCode });
    expect((await catalog.versions(otherViewer.actor, p.id)).map((v) => v.state)).toEqual(['withdrawn']);
    const feed = await catalog.changes(after, 10);
    expect(feed.map((c) => [c.seq, c.kind, c.entryId, c.reason])).toEqual([
      [after + 1, 'published', p.id, null],
      [after + 2, 'withdrawn', p.id, '职能划转，资源由他局提供'],
    ]);
    await refused(catalog.getPublished(p.id), 'GS_ERR_CATALOG_ENTRY_NOT_FOUND');
  });

  it('does not put the withdrawal of a never-published draft in the feed', async () => {
    const before = (await catalog.changes(0, 500)).length;
    const e = await catalog.create(cataloger, { content: tableContent() });
    await catalog.withdraw(cataloger, e.id, { reason: '误建' });
    expect((await catalog.changes(0, 500)).length).toBe(before);
  });
});

describe('revision deadlines (003 三(三))', () => {
  it('sets a deadline 15 working days after a change of law, lists it overdue once passed, and clears it on the next publication', async () => {
    const p = await publishNew();
    // From Monday 2026-06-01 (not counted): 14 working days to Monday 22 June, skipping the
    // Dragon Boat Festival on Friday 19 June (端午节, 19–21 June), so the 15th is Tuesday 23 June.
    const noted = await catalog.recordRevisionNotice(cataloger, p.id, { cause: 'law', occurredOn: '2026-06-01', note: '《企业信息公示暂行条例》修订' });
    expect(noted.revisionDue).toMatchObject({ cause: 'law', occurredOn: '2026-06-01', note: '《企业信息公示暂行条例》修订' });
    expect(noted.revisionDue?.dueOn).toBe('2026-06-23');
    expect(noted.revisionDue?.overdue).toBe(true);
    expect((await catalog.revisionDeadlines(supervisor.actor, true)).map((e) => e.id)).toContain(p.id);
    expect((await catalog.revisionDeadlines(otherViewer.actor, false)).map((e) => e.id)).not.toContain(p.id);

    await catalog.saveDraft(cataloger, p.id, { content: tableContent({ abstractZh: '按修订后的条例更新' }), expectedVersion: noted.version });
    await catalog.submit(cataloger, p.id);
    const republished = await catalog.publish(supervisor, p.id, {});
    expect(republished.revisionDue).toBeNull();
    expect((await catalog.revisionDeadlines(supervisor.actor, false)).map((e) => e.id)).not.toContain(p.id);
    const publishEvent = (await catalog.history(cataloger.actor, p.id)).at(-1);
    expect(publishEvent?.details.revisionDueOnCleared).toBe('2026-06-23');
  });

  it('refuses a revision notice on an entry that is not published', async () => {
    const e = await catalog.create(cataloger, { content: tableContent() });
    await refused(catalog.recordRevisionNotice(cataloger, e.id, { cause: 'duty', occurredOn: '2026-06-01', note: '机构改革' }), 'GS_ERR_CATALOG_STATE');
  });
});

describe('local extension fields', () => {
  it('validates entries against the active declarations', async () => {
    await catalog.createExtensionField(t.cli, { key: 'securityLevel', labelZh: '安全级别', labelEn: 'Security level', type: 'enum', allowedValues: ['一般', '重要', '核心'], required: true });
    await catalog.createExtensionField(t.cli, { key: 'systemName', labelZh: '来源系统', labelEn: 'Source system', type: 'string' });
    await catalog.createExtensionField(t.cli, { key: 'recordCount', labelZh: '数据量', labelEn: 'Record count', type: 'integer' });
    try {
      const err = await refused(
        catalog.create(cataloger, { content: tableContent({ extensions: { securityLevel: '绝密', recordCount: 1.5, colour: 'red' } }) }),
        'GS_ERR_CATALOG_CONTENT_INVALID',
      );
      expect(err.fields?.map((f) => [f.field, f.rule])).toEqual([
        ['body.content.extensions.securityLevel', 'allowedValues'],
        ['body.content.extensions.recordCount', 'type'],
        ['body.content.extensions.colour', 'unknownField'],
      ]);
      const e = await catalog.create(cataloger, { content: tableContent({ extensions: { systemName: '企业登记系统' } }) });
      expect(e.pending?.findings).toEqual([expect.objectContaining({ rule: 'extension.required', field: 'content.extensions.securityLevel', severity: 'error' })]);
      await refused(catalog.submit(cataloger, e.id), 'GS_ERR_CATALOG_NOT_CONFORMANT');
      const ok = await catalog.saveDraft(cataloger, e.id, { content: tableContent({ extensions: { systemName: '企业登记系统', securityLevel: '重要', recordCount: 120000 } }), expectedVersion: e.version });
      expect(ok.pending?.extensions).toEqual({ systemName: '企业登记系统', securityLevel: '重要', recordCount: 120000 });
      expect((await catalog.submit(cataloger, e.id)).pending?.state).toBe('submitted');
    } finally {
      // The declarations apply to every entry: later tests in this file must not need them.
      for (const key of ['securityLevel', 'systemName', 'recordCount']) await catalog.updateExtensionField(t.cli, key, { active: false });
    }
    const fields = await catalog.extensionFields();
    expect(fields.find((f) => f.key === 'securityLevel')).toMatchObject({ type: 'enum', active: false, version: 2 });
    // An inactive field is no longer accepted.
    await refused(catalog.create(cataloger, { content: tableContent({ extensions: { systemName: 'x' } }) }), 'GS_ERR_CATALOG_CONTENT_INVALID');
  });

  it('refuses declarations that contradict their type, and a key declared twice', async () => {
    await refused(catalog.createExtensionField(t.cli, { key: 'level', labelZh: '级别', labelEn: 'Level', type: 'enum' }), 'GS_ERR_CATALOG_EXTENSION_INVALID');
    await refused(catalog.createExtensionField(t.cli, { key: 'level', labelZh: '级别', labelEn: 'Level', type: 'string', allowedValues: ['a'] }), 'GS_ERR_CATALOG_EXTENSION_INVALID');
    await catalog.createExtensionField(t.cli, { key: 'reviewedOn', labelZh: '核查日期', labelEn: 'Checked on', type: 'date' });
    await refused(catalog.createExtensionField(t.cli, { key: 'reviewedOn', labelZh: '核查日期', labelEn: 'Checked on', type: 'date' }), 'GS_ERR_CATALOG_EXTENSION_TAKEN');
    const err = await refused(catalog.create(cataloger, { content: tableContent({ extensions: { reviewedOn: '2026-02-30' } }) }), 'GS_ERR_CATALOG_CONTENT_INVALID');
    expect(err.fields?.[0]).toMatchObject({ field: 'body.content.extensions.reviewedOn', rule: 'format' });
    await catalog.updateExtensionField(t.cli, 'reviewedOn', { active: false });
  });
});
