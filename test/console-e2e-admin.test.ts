/**
 * Administration and audit in the console, in Chinese, in Chromium against a real `govshare serve`:
 * the operator adds an agency (a wrong USCC is refused with the API's reason), registers a business
 * system and creates an account (its one-time password shown once); the security administrator
 * gives it a role and is refused a combination 三权分立 forbids; the auditor finds the account's
 * creation in the audit trail and exports it as CSV. Administrators sign in with their
 * authenticator's code.
 */
import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConsoleServer, describeConsole, docShot, launchBrowser, signIn, signOut, watchedPage, type ConsoleUser, type PageWatch } from './helpers/console.js';
import { usccFor } from './helpers/platform.js';

describeConsole('console: agencies, users and roles, audit', () => {
  let server: ConsoleServer;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let operator: ConsoleUser;
  let securityAdmin: ConsoleUser;
  let auditor: ConsoleUser;

  beforeAll(async () => {
    server = await ConsoleServer.start();
    server.agency('HYZRZY', '衡阳市自然资源和规划局', usccFor(61));
    operator = await server.user('op.chen', '陈运维', ['operator']);
    securityAdmin = await server.user('sec.lin', '林安全', ['securityAdmin']);
    auditor = await server.user('aud.he', '何审计', ['auditor']);
    context = await launchBrowser(server.dir);
    ({ page, watch } = await watchedPage(context));
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await server?.stop();
  });

  it('operator, security administrator and auditor each do their part', async () => {
    expect(operator.totpSecret).not.toBeNull();
    await signIn(page, server.base, operator);
    await page.getByRole('menuitem', { name: '单位与业务系统' }).click();
    await page.getByTestId('agency-list').waitFor();
    const fill = async (uscc: string) => {
      await page.getByLabel('单位代码').fill('HYJT');
      await page.getByLabel('单位名称').fill('衡阳市交通运输局');
      await page.getByLabel('统一社会信用代码').fill(uscc);
      await page.getByLabel('行政区划代码').fill('430400');
    };
    // A USCC with a wrong check character passes the form's pattern and is refused by the API, which says why.
    const good = usccFor(62);
    const bad = `${good.slice(0, 17)}${good[17] === '0' ? '1' : '0'}`;
    await fill(bad);
    await page.getByTestId('create-agency').click();
    await expect.poll(() => page.getByTestId('agency-error').textContent()).toContain('统一社会信用代码');
    await fill(good);
    await page.getByTestId('create-agency').click();
    await page.getByTestId('agency-list').getByText('衡阳市交通运输局').waitFor();
    const agencies = (await server.api('op.chen', 'GET', '/agencies?limit=200')).items as { id: string; code: string }[];
    expect(agencies.map((a) => a.code)).toContain('HYJT');
    // A business system for it.
    await page.getByTestId('system-agency').click();
    await page.locator('.ant-select-item-option').filter({ hasText: '衡阳市交通运输局' }).click();
    await page.getByLabel('系统名称').fill('交通执法系统');
    await page.getByLabel('用途').fill('道路运输执法');
    await page.getByLabel('负责人').fill('周八');
    await page.getByTestId('register-system').click();
    await page.getByTestId('system-list').getByText('交通执法系统').waitFor();
    await docShot(page, 'admin-agencies');

    // An account: the one-time password is shown once.
    await page.getByRole('menuitem', { name: '用户与角色' }).click();
    await page.getByLabel('用户名', { exact: true }).fill('zhang.san');
    await page.getByLabel('姓名', { exact: true }).fill('张三');
    await page.getByLabel('所属单位', { exact: true }).click();
    await page.locator('.ant-select-item-option').filter({ hasText: '衡阳市交通运输局' }).click();
    await page.getByTestId('create-user').click();
    const oneTime = (await page.getByTestId('one-time-password-value').textContent())?.trim() ?? '';
    expect(oneTime.length).toBeGreaterThanOrEqual(12);
    await docShot(page, 'admin-users');
    const login = await fetch(`${server.base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'zhang.san', password: oneTime }) });
    expect(login.status).toBe(200);
    await signOut(page);

    // The security administrator sets roles; two of the three administrator roles on one account are refused.
    await signIn(page, server.base, securityAdmin);
    await page.getByRole('menuitem', { name: '用户与角色' }).click();
    await page.getByTestId('user-zhang.san').getByTestId('edit-roles').click();
    await page.getByTestId('role-choices').getByText('编目人员').click();
    await page.getByTestId('save-roles').click();
    await page.getByTestId('user-zhang.san').getByText('编目人员').waitFor();
    await page.getByTestId('user-op.chen').getByTestId('edit-roles').click();
    await page.getByTestId('role-choices').getByText('审计管理员').click();
    await page.getByTestId('save-roles').click();
    await expect.poll(() => page.getByTestId('roles-error').textContent()).toContain('三权分立');
    await docShot(page, 'admin-roles-refused');
    const users = (await server.api('sec.lin', 'GET', '/users?limit=200')).items as { id: string; username: string; roles: string[] }[];
    expect(users.find((u) => u.username === 'op.chen')?.roles).toEqual(['operator']);
    expect(users.find((u) => u.username === 'zhang.san')?.roles).toEqual(['cataloger']);
    await page.keyboard.press('Escape');
    await signOut(page);

    // The auditor finds the account's creation and exports it.
    await signIn(page, server.base, auditor);
    await page.getByRole('menuitem', { name: '审计' }).click();
    await page.getByLabel('操作', { exact: true }).fill('user.create');
    await page.getByTestId('audit-search').click();
    const zhang = users.find((u) => u.username === 'zhang.san');
    await expect.poll(() => page.getByTestId('audit-list').textContent()).toContain(`op.chen (user)user.createuser ${String(zhang?.id)}`);
    await docShot(page, 'admin-audit');
    const downloading = page.waitForEvent('download');
    await page.getByTestId('audit-export').click();
    const file = await downloading;
    const csv = readFileSync((await file.path())!, 'utf8');
    expect(csv.split('\r\n')[0]).toContain('seq,at,actorType');
    expect(csv).toContain('user.create');
    expect(csv).toContain('zhang.san');
    expect(csv).not.toContain('agency.create');
    await signOut(page);
    expect(watch.violations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
  }, 240_000);
});
