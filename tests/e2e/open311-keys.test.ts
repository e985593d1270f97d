import type { Page } from 'playwright-core';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';

/** The admin issues an Open311 key for an application in the accounts view, the application posts with it, the admin revokes it. */
describe.skipIf(!haveBrowser)(`Open311 application keys in headless Chromium (${mode} database)`, () => {
  let test: TestDatabase;
  let pages: Awaited<ReturnType<typeof servePages>> | undefined;
  let page: Page;

  beforeAll(async () => {
    test = await openTestDatabase();
    pages = await servePages(test.database);
    page = await pages.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${pages.baseUrl}/`);
    await page.getByRole('button', { name: /^admin ·/ }).click();
    await page.getByRole('button', { name: '登录', exact: true }).click();
    await page.getByTestId('signed-in').waitFor();
  }, 180_000);
  afterAll(async () => {
    await pages?.close();
    await test?.drop();
  });

  it('issues a key shown once for the ticked services, lists its use, and revokes it', async () => {
    await page.getByRole('link', { name: '账号与审计' }).click();
    const keys = page.getByTestId('open311-keys');
    await keys.locator('input[name="name"]').fill('12345 市民热线');
    await keys.getByLabel('路灯照明').check();
    await keys.getByRole('button', { name: '签发密钥' }).click();
    const shown = keys.locator('input[name="open311-key"]');
    await shown.waitFor();
    const key = await shown.inputValue();
    expect(key).toMatch(/^[\w-]{43}$/);
    const row = keys.locator('tbody tr').filter({ hasText: '12345 市民热线' });
    await expect.poll(() => row.textContent()).toMatch(/路灯照明.*admin.*从未使用/);

    const post = (service: string) =>
      request(pages!.baseUrl)
        .post('/open311/v2/requests.json')
        .type('form')
        .send({ api_key: key, service_code: service, lat: '36.5900', long: '109.4900' });
    expect((await post('noise')).status).toBe(403);
    expect((await post('street_light')).status).toBe(200);
    await page.getByRole('link', { name: '地图', exact: true }).click();
    await page.getByRole('link', { name: '账号与审计' }).click();
    await expect.poll(() => row.textContent()).not.toContain('从未使用');

    await row.getByRole('button', { name: '吊销' }).click();
    await expect.poll(() => row.textContent()).toContain('已吊销');
    expect((await post('street_light')).status).toBe(403);
    await page.screenshot({ path: `test-results/open311-keys-${mode}.png` });
  });
});
