/**
 * The console's request path end to end, in Chinese, in Chromium against a real `govshare serve`:
 * another agency's requester files a request from the entry page (items picked, the security
 * agreement attached); the provider's reviewer refuses it with its legal basis; the requester
 * disputes; the supervisor arbitrates and grants on narrower terms (fewer items, one masked); both
 * sides see the grant. A second request is approved narrowed by the reviewer. Each step is checked
 * in the page and then through the API.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { catalogContent } from './helpers/catalog.js';
import { ConsoleServer, describeConsole, docShot, launchBrowser, signIn, signOut, watchedPage, type ConsoleUser, type PageWatch } from './helpers/console.js';
import { usccFor } from './helpers/platform.js';

const ENTRY_NAME = '不动产登记信息';
const ITEMS = ['不动产单元号', '权利人名称', '权利人证件号码', '坐落'];

describeConsole('console: request, refuse, dispute, arbitrate, grant', () => {
  let server: ConsoleServer;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let entryId: string;
  let systemId: string;
  let requester: ConsoleUser;
  let reviewer: ConsoleUser;
  let supervisor: ConsoleUser;

  beforeAll(async () => {
    server = await ConsoleServer.start();
    server.agency('HYZRZY', '衡阳市自然资源和规划局', usccFor(41));
    const consumerId = String(server.agency('HYZWFW', '衡阳市政务服务中心', usccFor(42)).id);
    await server.user('li.si', '李四', ['cataloger'], 'HYZRZY');
    reviewer = await server.user('qian.qi', '钱七', ['reviewer'], 'HYZRZY');
    requester = await server.user('zhao.liu', '赵六', ['requester'], 'HYZWFW');
    supervisor = await server.user('wang.wu', '王五', ['supervisor']);
    const content = catalogContent({
      classification: { category: '1', group: '03', subgroup: '001' },
      nameZh: ENTRY_NAME,
      names: { en: 'Real estate registrations' },
      abstractZh: '本市不动产登记簿记载的权利人、坐落和面积',
      dataItems: [
        { nameZh: ITEMS[0]!, dataType: 'string', length: 28, key: true },
        { nameZh: ITEMS[1]!, dataType: 'string', length: 200 },
        { nameZh: ITEMS[2]!, dataType: 'string', length: 18, format: 'idCard', sensitive: true },
        { nameZh: ITEMS[3]!, dataType: 'string', length: 500 },
      ],
    });
    const entry = await server.api('li.si', 'POST', '/catalog/entries', { content });
    entryId = String(entry.id);
    await server.api('li.si', 'POST', `/catalog/entries/${entryId}/submit`, {});
    await server.api('wang.wu', 'POST', `/catalog/entries/${entryId}/publish`, { comment: '符合编目要求' });
    systemId = String((await server.api('operator', 'POST', '/systems', { agencyId: consumerId, name: '一网通办系统', purpose: '不动产登记“一网通办”', ownerContact: { name: '赵六' } })).id);
    context = await launchBrowser(server.dir);
    ({ page, watch } = await watchedPage(context));
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await server?.stop();
  });

  const status = () => page.getByTestId('request-status').textContent();
  const openRow = async (number: number) => {
    await page.locator(`[data-testid="request-row"][data-number="${number}"] a`).click();
    await page.getByTestId('request-title').waitFor();
  };
  const act = async (label: string) => {
    await page.getByTestId('request-actions').locator('.ant-radio-button-wrapper', { hasText: new RegExp(`^${label}$`) }).click();
  };

  it('files, refuses with a legal basis, disputes, arbitrates narrower, and shows the grant to both sides', async () => {
    // The requester files from the entry page.
    await signIn(page, server.base, requester);
    await page.goto(`${server.base}/catalog/entries/${entryId}`);
    await page.getByTestId('file-request').click();
    await page.getByTestId('request-resource').filter({ hasText: ENTRY_NAME }).waitFor();
    await page.getByLabel('使用数据的业务系统').click();
    await page.locator('.ant-select-item-option').filter({ hasText: '一网通办系统' }).click();
    for (const item of ITEMS.slice(0, 3)) await page.getByTestId('request-items').getByText(item, { exact: false }).click();
    expect(await page.getByText('所选信息项含敏感项：须附已签署的保密协议。').count()).toBe(1);
    await page.getByLabel('应用业务').fill('不动产登记“一网通办”');
    await page.getByLabel('履职依据').fill('《不动产登记暂行条例》第二十七条');
    await page.getByLabel('使用对象').fill('政务服务窗口工作人员');
    await page.getByLabel('使用截止日期').fill('2099-12-31');
    await page.keyboard.press('Enter');
    // Without the agreement the API refuses: the reason is shown and the form stays filled.
    await page.getByTestId('request-submit').click();
    await expect.poll(() => page.getByTestId('request-error').textContent()).toContain('保密协议');
    expect(await page.getByLabel('使用对象').inputValue()).toBe('政务服务窗口工作人员');
    await page.locator('[data-testid="request-agreement"] input[type="file"]').setInputFiles({ name: '保密协议.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n% 保密协议（已签署）\n%%EOF\n') });
    await docShot(page, 'requests-file');
    await page.getByTestId('request-submit').click();
    await page.getByTestId('request-title').waitFor();
    expect(await status()).toBe('待审核');
    const number = Number(/共享申请 (\d+)/.exec((await page.getByTestId('request-title').textContent()) ?? '')?.[1]);
    expect(number).toBeGreaterThan(0);
    const filed = await server.api('zhao.liu', 'GET', `/share-requests/${number}`);
    expect(filed.items).toEqual(ITEMS.slice(0, 3));
    expect((filed.attachments as { fileName: string; kind: string }[]).map((a) => [a.fileName, a.kind])).toEqual([['保密协议.pdf', 'securityAgreement']]);
    expect((filed.system as { id: string }).id).toBe(systemId);
    await signOut(page);

    // The provider's reviewer refuses it, naming the law.
    await signIn(page, server.base, reviewer);
    await page.getByRole('menuitem', { name: '待审申请' }).click();
    await page.locator(`[data-testid="request-row"][data-number="${number}"]`).waitFor();
    await docShot(page, 'requests-review-queue');
    await openRow(number);
    await act('不予共享');
    // The legal basis is required: the form says so before the API is asked.
    await page.getByLabel('不予共享的理由').fill('权利人证件号码属个人敏感信息，申请用途不需要');
    await page.getByTestId('action-submit').click();
    await expect.poll(() => page.getByText('此项必填').count()).toBeGreaterThan(0);
    await page.getByLabel('法律法规规章').fill('《中华人民共和国个人信息保护法》');
    await page.getByLabel('条款').fill('第六条');
    await docShot(page, 'requests-refuse');
    await page.getByTestId('action-submit').click();
    await expect.poll(status).toBe('不予共享');
    expect(await page.getByTestId('request-decision').textContent()).toContain('《中华人民共和国个人信息保护法》 第六条');
    await signOut(page);

    // The requester disputes.
    await signIn(page, server.base, requester);
    await page.getByRole('menuitem', { name: '我的申请' }).click();
    await openRow(number);
    await act('提出异议');
    await page.getByLabel('异议理由').fill('窗口核验权利人身份须比对证件号码');
    await page.getByTestId('action-submit').click();
    await expect.poll(status).toBe('异议待协调');
    await signOut(page);

    // The supervisor arbitrates: granted, but without the ID number and with the holder's name masked.
    await signIn(page, server.base, supervisor);
    await page.getByRole('menuitem', { name: '争议协调' }).click();
    await openRow(number);
    await act('协调裁决');
    await page.getByTestId('arbitrate-outcome').getByText('按主管部门裁决授权').click();
    await page.getByTestId('terms-items').getByText('权利人证件号码').click();
    await page.getByLabel('权利人名称 脱敏').click();
    await page.locator('.ant-select-item-option').filter({ hasText: '部分遮盖' }).click();
    await page.getByLabel('裁决理由（双方可见）').fill('证件号码不予提供，姓名脱敏后满足窗口核验需要');
    await docShot(page, 'requests-arbitrate');
    await page.getByTestId('action-submit').click();
    await expect.poll(status).toBe('已授权');
    expect(await page.getByTestId('request-arbitration').textContent()).toContain('按主管部门裁决授权');
    await page.getByTestId('request-grant-link').click();
    await expect.poll(() => page.getByTestId('grant-status').textContent()).toBe('有效');
    expect(await page.getByTestId('grant-items').textContent()).toBe('不动产单元号权利人名称（部分遮盖）');
    await signOut(page);

    // The requester sees the grant, and the API agrees.
    await signIn(page, server.base, requester);
    await page.getByRole('menuitem', { name: '授权' }).click();
    await page.getByTestId('grant-link').first().click();
    await expect.poll(() => page.getByTestId('grant-items').textContent()).toBe('不动产单元号权利人名称（部分遮盖）');
    await docShot(page, 'requests-grant');
    const request = await server.api('zhao.liu', 'GET', `/share-requests/${number}`);
    expect(request.status).toBe('granted');
    const grant = await server.api('zhao.liu', 'GET', `/grants/${String(request.grantId)}`);
    expect(grant.items).toEqual(['不动产单元号', '权利人名称']);
    expect(grant.masking).toEqual({ 权利人名称: 'partial' });
    expect(grant.status).toBe('active');
    await signOut(page);
    expect(watch.violations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
  }, 240_000);

  it('the reviewer approves a request narrowed, and the grant holds exactly those terms', async () => {
    const filed = await server.api('zhao.liu', 'POST', '/share-requests', {
      systemId,
      resource: entryId,
      items: [ITEMS[0], ITEMS[1], ITEMS[3]],
      purpose: { business: '不动产抵押登记', basis: '《不动产登记暂行条例》第二十七条' },
      dataUsers: '登记窗口',
      shareMethod: 'comparison',
      validUntil: '2099-12-31',
    });
    const number = Number(filed.number);
    await signIn(page, server.base, reviewer);
    await page.goto(`${server.base}/requests/${number}`);
    await page.getByTestId('request-title').waitFor();
    await act('同意');
    await page.getByTestId('approve-narrow').click();
    await page.getByTestId('terms-items').getByText('坐落').click();
    await page.getByLabel('数据行范围', { exact: true }).click();
    await page.locator('.ant-select-item-option').filter({ hasText: '不动产单元号' }).click();
    await page.getByLabel('条件', { exact: true }).click();
    await page.locator('.ant-select-item-option').filter({ hasText: '前缀为' }).click();
    await page.getByLabel('取值', { exact: true }).fill('430406');
    await page.getByLabel('使用条件').fill('仅限抵押登记窗口使用');
    await page.getByTestId('action-submit').click();
    await expect.poll(status).toBe('已授权');
    expect(await page.getByTestId('request-decision').textContent()).toContain('缩小范围后同意');
    const request = await server.api('qian.qi', 'GET', `/share-requests/${number}`);
    const grant = await server.api('qian.qi', 'GET', `/grants/${String(request.grantId)}`);
    expect(grant.items).toEqual(['不动产单元号', '权利人名称']);
    expect(grant.rowFilter).toEqual([{ item: '不动产单元号', op: 'prefix', values: ['430406'] }]);
    expect(grant.conditions).toBe('仅限抵押登记窗口使用');
    await signOut(page);
    expect(watch.violations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
  }, 120_000);

  it("the supervisor's overview counts what the API counts and draws its charts", async () => {
    await signIn(page, server.base, supervisor);
    await page.getByRole('menuitem', { name: '概览' }).click();
    await page.getByTestId('dashboard-counts').waitFor();
    const stats = (await server.api('wang.wu', 'GET', '/share-requests/statistics')).providers as { pending: number; overdue: number; granted: number }[];
    const sum = (k: 'pending' | 'overdue' | 'granted') => stats.reduce((n, p) => n + p[k], 0);
    // The provider granted one (narrowed); the other it refused and the supervisor overruled (counted as the provider decided it).
    expect(sum('granted')).toBe(1);
    const count = (id: string) => page.getByTestId(id).locator('.ant-statistic-content-value').textContent();
    await expect.poll(() => count('count-pending')).toBe(String(sum('pending')));
    expect(await count('count-overdue')).toBe(String(sum('overdue')));
    expect(await count('count-published')).toBe('1');
    for (const chart of ['chart-share-type', 'chart-provider', 'chart-request-state', 'chart-review-time']) {
      const size = await page.getByTestId(chart).locator('canvas').first().evaluate((c) => {
        const canvas = c as unknown as { width: number; height: number };
        return canvas.width * canvas.height;
      });
      expect(size, chart).toBeGreaterThan(0);
    }
    await docShot(page, 'dashboard');
    await signOut(page);
    expect(watch.violations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
  }, 120_000);
});
