import type { Browser, Page } from 'playwright-core';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';

describe.skipIf(!haveBrowser)(`the import view in headless Chromium (${mode} database)`, () => {
  let test: TestDatabase;
  let pages: Awaited<ReturnType<typeof servePages>> | undefined;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    test = await openTestDatabase();
    pages = await servePages(test.database);
    browser = pages.browser;
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${pages.baseUrl}/`);
    await page.getByRole('button', { name: /^admin ·/ }).click();
    await page.getByRole('button', { name: '登录', exact: true }).click();
    await page.getByTestId('signed-in').waitFor();
  });
  afterAll(async () => {
    await pages?.close();
    await test?.drop();
  });

  it('maps a roster’s Chinese columns in the editor, and shows the import’s progress as it runs', async () => {
    const {
      rows: [at],
    } = await sql<{ lon: number; lat: number }>`
      select ST_X(p) as lon, ST_Y(p) as lat from (select ST_PointOnSurface(geom) as p from grids order by id limit 1) g`.execute(
      test.database.db,
    );
    const rows = 20_000;
    const csv = [
      '序号,姓名,党员类别,lon,lat',
      ...Array.from({ length: rows }, (_, i) => `${i + 1},网页花名册${i},在职党员,${at.lon},${at.lat}`),
    ].join('\n');
    await page.getByRole('link', { name: '导入导出' }).click();
    const panel = page.getByTestId('import-panel');
    await panel.locator('select[name="layer"]').selectOption('members');
    await panel.locator('input[type="file"]').setInputFiles({ name: 'roster.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    // checked as it is, every row lacks a name: the report lists the file's columns for the editor
    await panel.getByRole('button', { name: '检查（不写入）' }).click();
    const report = page.getByTestId('import-report');
    await expect.poll(() => report.textContent(), { timeout: 60_000 }).toContain('有错误，未写入任何数据');
    const editor = page.getByTestId('import-mapping');
    await panel.getByRole('combobox', { name: '姓名' }).selectOption('name');
    await panel.getByRole('combobox', { name: '党员类别' }).selectOption('category');
    expect(await panel.locator('input[name="fields"]').inputValue()).toBe('name:姓名,category:党员类别');
    expect(await editor.getByRole('combobox', { name: '序号' }).inputValue()).toBe('');

    await panel.getByRole('button', { name: '导入', exact: true }).click();
    const progress = page.getByTestId('import-progress');
    await progress.waitFor({ timeout: 30_000 });
    await expect.poll(() => progress.textContent(), { timeout: 60_000 }).toMatch(/(检查|写入) \d+% · 读取 \d+ · 拒绝 0/);
    await page.screenshot({ path: `test-results/import-progress-${mode}.png` });
    await expect.poll(() => report.textContent(), { timeout: 120_000 }).toContain('已写入');
    expect(await report.textContent()).toContain('已忽略的列: 序号');
    expect(await progress.count()).toBe(0);
    const {
      rows: [stored],
    } = await sql<{ n: number; categories: string[] }>`
      select count(*)::int as n, array_agg(distinct category) as categories from members where name like '网页花名册%'`.execute(
      test.database.db,
    );
    expect(stored).toEqual({ n: rows, categories: ['in_service'] });
  }, 240_000);
});
