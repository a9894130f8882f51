/**
 * The web console end to end: Debian's Chromium (driven by playwright-core, no downloaded browser)
 * against a real `govshare serve` on the embedded database, as a newcomer uses it: first login with
 * a one-time password, password change, authenticator enrolment, login with the code, a catalog
 * search in Chinese, an entry's data items, the language switch, the inbox, logout.
 *
 * Needs /usr/bin/chromium and the CJK font: `apt-get install -y chromium fonts-wqy-microhei`
 * (.ci/run installs them). Without Chromium the test is skipped locally and fails under CI=true.
 */
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { currentStep, totpCode } from '../src/lib/totp.js';
import { catalogContent } from './helpers/catalog.js';
import { ConsoleServer, describeConsole, docShot, launchBrowser, shot, watchedPage } from './helpers/console.js';
import { STRONG_PASSWORD, usccFor } from './helpers/platform.js';

const ENTRY_NAME = '不动产登记信息';

describeConsole('web console in Chromium', () => {
  let server: ConsoleServer;
  let context: BrowserContext;
  let oneTimePassword: string;

  beforeAll(async () => {
    // Everyone needs an authenticator here, so the browser walks the whole first-login setup.
    server = await ConsoleServer.start({ GOVSHARE_TOTP_POLICY: 'all' });
    server.agency('HYZRZY', '衡阳市自然资源和规划局', usccFor(31));
    const consumerId = String(server.agency('HYZWFW', '衡阳市政务服务中心', usccFor(32)).id);
    oneTimePassword = String(server.cli(['--json', 'user', 'add', 'li.si', '--display-name', '李四', '--agency', 'HYZRZY', '--roles', 'cataloger,reviewer']).password);
    server.cli(['--json', 'user', 'add', 'wang.wu', '--display-name', '王五', '--roles', 'supervisor']);
    server.cli(['--json', 'user', 'add', 'zhao.liu', '--display-name', '赵六', '--agency', 'HYZWFW', '--roles', 'requester']);

    // The published entry the browser looks for, made through the API by its agency and the supervisor.
    const content = catalogContent({
      classification: { category: '1', group: '03', subgroup: '001' },
      nameZh: ENTRY_NAME,
      names: { en: 'Real estate registrations' },
      abstractZh: '本市不动产登记簿记载的权利人、坐落和面积',
      abstracts: { en: 'Right holders, locations and areas from the real estate register' },
      dataItems: [
        { nameZh: '不动产单元号', names: { en: 'Real estate unit number' }, dataType: 'string', length: 28, key: true },
        { nameZh: '权利人名称', names: { en: 'Right holder' }, dataType: 'string', length: 200 },
        { nameZh: '坐落', names: { en: 'Location' }, dataType: 'string', length: 500 },
        { nameZh: '建筑面积', names: { en: 'Floor area' }, dataType: 'decimal', precision: 12, scale: 2, description: '平方米' },
      ],
    });
    const entry = await server.api('li.si', 'POST', '/catalog/entries', { content });
    await server.api('li.si', 'POST', `/catalog/entries/${String(entry.id)}/submit`, {});
    await server.api('wang.wu', 'POST', `/catalog/entries/${String(entry.id)}/publish`, { comment: '符合编目要求' });
    // Another agency asks for it: the provider's reviewer (the browser's account) is notified.
    const system = await server.api('operator', 'POST', '/systems', { agencyId: consumerId, name: '一网通办系统', purpose: '不动产登记“一网通办”', ownerContact: { name: '赵六' } });
    await server.api('zhao.liu', 'POST', '/share-requests', {
      systemId: system.id,
      resource: entry.id,
      items: ['不动产单元号', '权利人名称'],
      purpose: { business: '不动产登记“一网通办”', basis: '《不动产登记暂行条例》第二十七条' },
      dataUsers: '政务服务窗口工作人员',
      shareMethod: 'pull',
      validUntil: '2099-12-31',
      frequency: '实时',
    });

    context = await launchBrowser(server.dir);
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await server?.stop();
  });


  it('first login, search, entry, language switch, logout — in Chinese, under the CSP, with the CJK font', async () => {
    const { page, watch } = await watchedPage(context);

    const first = await page.goto(`${server.base}/`);
    expect(first?.headers()['content-security-policy']).toContain("script-src 'self'");

    // A wrong password says what happened.
    await page.getByLabel('用户名').fill('li.si');
    await page.getByLabel('密码', { exact: true }).fill('wrong-password');
    await page.getByRole('button', { name: /登\s*录/ }).click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toContain('用户名或密码错误');
    await docShot(page, 'start-login');

    // First login with the one-time password: change it, then enrol the authenticator.
    await page.getByLabel('密码', { exact: true }).fill(oneTimePassword);
    await page.getByRole('button', { name: /登\s*录/ }).click();
    await page.getByRole('heading', { name: '完成账号设置' }).waitFor();
    await page.getByLabel('当前密码（一次性密码）').fill(oneTimePassword);
    await page.getByLabel('新密码', { exact: true }).fill(STRONG_PASSWORD);
    await page.getByLabel('再次输入新密码').fill(STRONG_PASSWORD);
    await page.getByRole('button', { name: '修改密码' }).click();
    const secret = (await page.getByTestId('totp-secret').textContent())?.trim() ?? '';
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    expect(await page.getByAltText('身份验证器二维码').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(100);
    await docShot(page, 'start-totp');
    const step = currentStep(Date.now());
    await page.getByLabel('验证码').fill(totpCode(secret, step - 1));
    await page.getByRole('button', { name: '确认绑定' }).click();
    await page.getByTestId('current-user').waitFor();
    expect(await page.getByTestId('current-user').textContent()).toContain('李四');

    // Log out, and in again with password and the authenticator's code.
    await page.getByRole('button', { name: '退出登录' }).click();
    await expect.poll(() => page.getByTestId('login-notice').textContent()).toContain('您已退出登录');
    await page.getByLabel('用户名').fill('li.si');
    await page.getByLabel('密码', { exact: true }).fill(STRONG_PASSWORD);
    await page.getByLabel('动态验证码').fill(totpCode(secret, step));
    await page.getByRole('button', { name: /登\s*录/ }).click();
    await page.getByTestId('current-user').waitFor();
    await expect.poll(() => page.getByTestId('current-agency').textContent()).toContain('衡阳市自然资源和规划局');

    // The inbox: the request's notification, unread, then read.
    await expect.poll(() => page.getByTestId('unread-count').textContent()).toBe('1');
    await page.getByRole('menuitem', { name: /消息/ }).click();
    const notice = page.getByTestId('inbox-item');
    await notice.first().waitFor();
    expect(await notice.count()).toBe(1);
    expect(await notice.first().textContent()).toContain('未读');
    expect(await notice.first().textContent()).toContain(ENTRY_NAME);
    await expect.poll(() => page.getByRole('button', { name: '全部标为已读' }).isEnabled()).toBe(true);
    await docShot(page, 'start-inbox');
    await notice.first().getByRole('button', { name: '标为已读' }).click();
    await expect.poll(() => notice.first().textContent()).not.toContain('未读');
    await expect.poll(() => page.getByTestId('unread-count').count()).toBe(0);
    await page.getByRole('menuitem', { name: '目录检索' }).click();

    // Search in Chinese: the hit, its highlighted words, the facets.
    await page.getByLabel('检索词').fill('不动产');
    await page.getByTestId('search-submit').click();
    const hit = page.getByTestId('search-hit').filter({ hasText: ENTRY_NAME });
    await hit.waitFor();
    expect(await hit.locator('mark').first().textContent()).toBe('不动产');
    expect(await page.getByTestId('search-total').textContent()).toContain('共 1 条');
    expect(await page.getByTestId('facet-shareType').textContent()).toContain('有条件共享');
    expect(new URL(page.url()).searchParams.get('q')).toBe('不动产');
    await docShot(page, 'start-search');

    // The entry: data items, share attributes, versions.
    await hit.getByRole('link').click();
    await page.getByTestId('entry-name').filter({ hasText: ENTRY_NAME }).waitFor();
    const items = page.getByTestId('data-items');
    for (const name of ['不动产单元号', '权利人名称', '坐落', '建筑面积']) expect(await items.textContent()).toContain(name);
    expect(await items.textContent()).toContain('numeric(12,2)');
    await docShot(page, 'start-entry');
    await page.getByRole('tab', { name: '共享属性' }).click();
    expect(await page.getByTestId('share-attributes').textContent()).toContain('用于市场监管和行政审批');
    await page.getByRole('tab', { name: '版本历史' }).click();
    expect(await page.getByTestId('versions').textContent()).toContain('已发布');

    // The Chinese text is drawn with the CJK font, not with boxes: ask the renderer which font it used.
    const cdp = await context.newCDPSession(page);
    const { root } = (await cdp.send('DOM.getDocument')) as { root: { nodeId: number } };
    const { nodeId } = (await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector: '[data-testid="entry-name"]' })) as { nodeId: number };
    await cdp.send('CSS.enable');
    const { fonts } = (await cdp.send('CSS.getPlatformFontsForNode', { nodeId })) as { fonts: { familyName: string; glyphCount: number }[] };
    expect(fonts.map((f) => f.familyName)).toContain('WenQuanYi Micro Hei');
    expect(fonts.find((f) => f.familyName === 'WenQuanYi Micro Hei')?.glyphCount).toBeGreaterThanOrEqual(ENTRY_NAME.length);

    // English, catalog content included, and back.
    await page.getByRole('tab', { name: '信息项' }).click();
    // The switch works from the keyboard: focus it, open it, pick the language.
    await page.getByRole('combobox', { name: '语言' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('.ant-select-item-option[title="English"]').click();
    await page.getByRole('tab', { name: 'Data items' }).waitFor();
    await expect.poll(() => page.getByTestId('entry-name').textContent()).toBe('Real estate registrations');
    expect(await page.getByTestId('data-items').textContent()).toContain('Real estate unit number');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await shot(page, '06-entry-english');
    await page.getByRole('combobox', { name: 'Language' }).click();
    await page.locator('.ant-select-item-option[title="中文"]').click();
    await page.getByRole('tab', { name: '信息项' }).waitFor();
    await expect.poll(() => page.getByTestId('entry-name').textContent()).toBe(ENTRY_NAME);

    // A client-side route survives a reload (the server answers index.html for it).
    await page.reload();
    await page.getByTestId('entry-name').filter({ hasText: ENTRY_NAME }).waitFor();

    await page.getByRole('button', { name: '退出登录' }).click();
    await expect.poll(() => page.getByTestId('login-notice').textContent()).toContain('您已退出登录');
    const me = await page.evaluate(async () => (await fetch('/api/v1/auth/me')).status);
    expect(me).toBe(401);

    expect(watch.violations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
  }, 180_000);
});
