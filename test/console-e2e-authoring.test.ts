/**
 * The console's catalog path end to end, in Chinese, in Chromium against a real `govshare serve`:
 * a cataloger imports an XLSX in the national template with one bad row and sees that row's error
 * (nothing imported), imports the good resource alone, creates an entry in the editor (an inline
 * hint appears and clears), saves and submits it; the supervisor finds it in the review queue with
 * its conformance findings and publishes it; it is then found in 目录检索. Checked in the page and
 * through the API.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HEADERS, itemCells, resourceRows, xlsx } from './helpers/catalog-file.js';
import { ConsoleServer, describeConsole, docShot, launchBrowser, signIn, signOut, watchedPage, type ConsoleUser, type PageWatch } from './helpers/console.js';
import { usccFor } from './helpers/platform.js';

const NEW_ENTRY = '不动产登记簿信息';

describeConsole('console: import, create, submit, review and publish a catalog entry', () => {
  let server: ConsoleServer;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let cataloger: ConsoleUser;
  let supervisor: ConsoleUser;
  let file: Buffer;

  beforeAll(async () => {
    server = await ConsoleServer.start();
    server.agency('HYZRZY', '衡阳市自然资源和规划局', usccFor(51));
    cataloger = await server.user('li.si', '李四', ['cataloger'], 'HYZRZY');
    supervisor = await server.user('wang.wu', '王五', ['supervisor']);
    // Rows 2–4: a good resource; rows 5–7: one whose 共享类型 is not a share type.
    file = await xlsx([HEADERS, ...resourceRows({ 提供方: '', 资源名称: '企业登记信息' }), ...resourceRows({ 提供方: '', 资源名称: '企业年报信息', 共享类型: '随便共享' }, itemCells(2))]);
    context = await launchBrowser(server.dir);
    ({ page, watch } = await watchedPage(context));
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await server?.stop();
  });

  it('imports with a bad row, creates and submits an entry, and the supervisor publishes it', async () => {
    await signIn(page, server.base, cataloger);
    await page.getByRole('menuitem', { name: '本单位目录' }).click();
    await page.getByTestId('import-entries').click();
    const chooseFile = async () => page.locator('[data-testid="import-file"] input[type="file"]').setInputFiles({ name: '目录.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: file });
    await chooseFile();
    await page.getByTestId('import-run').click();
    await expect.poll(() => page.getByTestId('import-outcome').textContent()).toContain('未导入');
    const errors = page.getByTestId('import-errors');
    expect(await errors.textContent()).toContain('共享类型');
    expect(await errors.textContent()).toContain('随便共享');
    const firstError = errors.locator('tbody tr').first();
    expect(await firstError.locator('td').first().textContent()).toBe('5');
    await docShot(page, 'authoring-import-errors');
    expect(((await server.api('li.si', 'GET', '/catalog/entries?openState=draft')).items as unknown[]).length).toBe(0);
    // With "import the good ones" the first resource goes in as a draft, the bad one stays listed.
    await page.getByText('只导入无错误的资源').click();
    await page.getByTestId('import-run').click();
    await expect.poll(() => page.getByTestId('import-outcome').textContent()).toContain('部分导入');
    expect(await page.getByTestId('import-entries').textContent()).toContain('企业登记信息');
    const drafts = (await server.api('li.si', 'GET', '/catalog/entries?openState=draft')).items as { pending: { nameZh: string } }[];
    expect(drafts.map((d) => d.pending.nameZh)).toEqual(['企业登记信息']);

    // A new entry in the editor.
    await page.getByRole('menuitem', { name: '本单位目录' }).click();
    await page.getByTestId('new-entry').click();
    await page.getByTestId('editor-title').waitFor();
    await page.getByLabel('资源名称（中文）').fill(NEW_ENTRY);
    await page.getByLabel('资源摘要（中文）').fill('本市不动产登记簿记载的权利人、坐落和面积');
    await page.getByLabel('类', { exact: true }).click();
    await page.locator('.ant-select-item-option').filter({ hasText: '1 基础信息资源' }).click();
    await page.getByLabel('项', { exact: true }).fill('03');
    await page.getByLabel('目', { exact: true }).fill('001');
    await page.getByLabel('资源格式').click();
    await page.locator('.ant-select-item-option').filter({ hasText: '数据库' }).click();
    // 有条件共享 is the default: the condition is asked for while it is empty, and the hint clears when it is written.
    await page.getByLabel('共享条件').fill('x');
    await page.getByLabel('共享条件').fill('');
    await expect.poll(() => page.getByText('有条件共享须写明共享条件').count()).toBe(1);
    await page.getByLabel('共享条件').fill('用于不动产登记“一网通办”');
    await expect.poll(() => page.getByText('有条件共享须写明共享条件').count()).toBe(0);
    await page.getByLabel('信息项 1', { exact: true }).fill('不动产单元号');
    await expect.poll(() => page.getByText('字符型须填写长度').count()).toBe(1);
    const rows = page.getByTestId('editor-item');
    await rows.nth(0).getByLabel('长度').fill('28');
    await rows.nth(0).getByLabel('关键项').check();
    await page.getByTestId('add-item').click();
    await page.getByLabel('信息项 2', { exact: true }).fill('权利人名称');
    await rows.nth(1).getByLabel('长度').fill('200');
    await expect.poll(() => page.getByText('字符型须填写长度').count()).toBe(0);
    await page.getByTestId('editor-save').click();
    await expect.poll(() => page.getByTestId('editor-saved').textContent()).toContain('草稿已保存');
    await docShot(page, 'authoring-editor');
    await page.getByTestId('editor-submit').click();
    await expect.poll(() => page.getByTestId('editor-state').textContent()).toBe('待审核');
    const submitted = (await server.api('li.si', 'GET', '/catalog/entries?openState=submitted')).items as { id: string; pending: { nameZh: string; dataItems: { nameZh: string; length: number; key: boolean }[]; shareCondition: string } }[];
    expect(submitted.map((e) => e.pending.nameZh)).toEqual([NEW_ENTRY]);
    expect(submitted[0]!.pending.dataItems.map((i) => [i.nameZh, i.length, i.key])).toEqual([
      ['不动产单元号', 28, true],
      ['权利人名称', 200, false],
    ]);
    expect(submitted[0]!.pending.shareCondition).toBe('用于不动产登记“一网通办”');
    await signOut(page);

    // The supervisor reviews and publishes it.
    await signIn(page, server.base, supervisor);
    await page.getByRole('menuitem', { name: '目录审核' }).click();
    await page.getByTestId('review-entry').filter({ hasText: NEW_ENTRY }).click();
    await page.getByTestId('review-title').waitFor();
    expect(await page.getByTestId('review-state').textContent()).toBe('待审核');
    const findings = (await server.api('wang.wu', 'GET', `/catalog/entries/${submitted[0]!.id}/findings`)).items as unknown[];
    if (findings.length === 0) expect(await page.getByTestId('review-no-findings').count()).toBe(1);
    else expect(await page.getByTestId('review-findings').locator('li').count()).toBe(findings.length);
    await docShot(page, 'authoring-review');
    // Returning needs a comment: the form says so.
    await page.getByText('退回修改', { exact: true }).first().click();
    await page.getByTestId('review-submit').click();
    await expect.poll(() => page.getByText('此项必填').count()).toBeGreaterThan(0);
    await page.getByText('审核通过并发布', { exact: true }).first().click();
    await page.getByTestId('review-comment').fill('符合编目要求');
    await page.getByTestId('review-submit').click();
    await expect.poll(() => page.getByTestId('review-state').textContent()).toBe('已发布');
    const published = await server.api('wang.wu', 'GET', `/catalog/entries/${submitted[0]!.id}`);
    expect(published.status).toBe('published');
    expect(String(published.resourceCode)).toMatch(/^\d+\/\d{6}$/);

    // Anyone finds it in the catalog.
    await page.getByRole('menuitem', { name: '目录检索' }).click();
    await page.getByLabel('检索词').fill('不动产登记簿');
    await page.getByTestId('search-submit').click();
    await page.getByTestId('search-hit').filter({ hasText: NEW_ENTRY }).waitFor();
    await signOut(page);
    expect(watch.violations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
  }, 240_000);
});
