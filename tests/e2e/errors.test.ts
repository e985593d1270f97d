import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGIN_LIMITS } from '../../server/features/accounts/routes.ts';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { newPage, openAs } from './pages.ts';

describe.skipIf(!haveBrowser)(`a refusal of the API in the user's language, in headless Chromium (${mode} database)`, () => {
  let test: TestDatabase;
  let pages: Awaited<ReturnType<typeof servePages>> | undefined;
  let browser: Browser;
  let baseUrl: string;
  const errors: string[] = [];

  beforeAll(async () => {
    test = await openTestDatabase();
    pages = await servePages(test.database);
    ({ browser, baseUrl } = pages);
  });
  afterAll(async () => {
    await pages?.close();
    await test?.drop();
  });

  it('says "too many failed logins" in Chinese, not in the server\'s English words', async () => {
    const attempt = () =>
      fetch(`${baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: 'planner', password: 'wrong' }),
      });
    for (let i = 0; i < LOGIN_LIMITS.pair; i++) expect((await attempt()).status).toBe(401);
    const refused = await attempt();
    expect(refused.status).toBe(429);
    const { code, detail } = await refused.json();
    expect(code).toBe('account.too_many_failed_logins');

    const page = await newPage(browser, errors);
    await page.goto(`${baseUrl}/`);
    await page.getByLabel('用户名').fill('planner');
    await page.getByLabel('密码', { exact: true }).fill('wrong');
    await page.getByRole('button', { name: '登录', exact: true }).click();
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.textContent(), { timeout: 10_000 }).toMatch(/^登录失败次数过多，请 \d+ 分钟后再试$/);
    expect(await alert.textContent()).not.toContain(detail.slice(0, 20));
    await page.close();
  });

  it('says which row an address names that does not exist, in Chinese, where the view would show it', async () => {
    const page = await openAs(browser, baseUrl, 'dispatcher', []);
    await page.goto(`${baseUrl}/dispatch/issues/999999`);
    const alert = page.getByTestId('dispatch-panel').getByRole('alert');
    await expect.poll(() => alert.textContent(), { timeout: 30_000 }).toBe('找不到编号为 999999 的问题');
    await page.close();

    const admin = await openAs(browser, baseUrl, 'admin', []);
    await admin.goto(`${baseUrl}/map/grids/999999`);
    await expect.poll(() => admin.getByTestId('feature-panel').getByRole('alert').textContent(), { timeout: 30_000 }).toContain('999999');
    await admin.close();
  });
});
