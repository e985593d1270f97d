import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD } from '../../data/demo-accounts.ts';
import { sessionFor } from '../support/app.ts';
import { mapIdle } from './pages.ts';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';

describe.skipIf(!haveBrowser)(`the map page in headless Chromium (${mode} database)`, () => {
  let test: TestDatabase;
  let pages: Awaited<ReturnType<typeof servePages>> | undefined;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  let baseUrl: string;
  /** the API as the test itself reads it, to compare with what the page shows */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers of every route, read by name in the checks
  let api: (path: string) => Promise<any>;

  /** Signs in through the login screen, as a user would: pick the demo account, submit. */
  const signIn = async (username: string) => {
    await page.getByRole('button', { name: new RegExp(`^${username} ·`) }).click();
    await page.getByRole('button', { name: '登录', exact: true }).click();
    await page.getByTestId('signed-in').waitFor();
  };

  const idle = () => mapIdle(page);
  const rendered = (layer: string) =>
    page.evaluate((id) => window.gridmap!.map.queryRenderedFeatures({ layers: [id] }).map((f) => f.id as number), layer);

  beforeAll(async () => {
    test = await openTestDatabase();
    pages = await servePages(test.database);
    ({ browser, baseUrl } = pages);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('crash', () => errors.push('the page crashed'));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
    const token = await sessionFor(test.database, 'admin');
    api = async (path) => (await fetch(`${baseUrl}${path}`, { headers: { Authorization: `Bearer ${token}` } })).json();
    await page.goto(`${baseUrl}/`);
    await page.getByRole('form', { name: '登录' }).waitFor();
    await page.screenshot({ path: `test-results/login-${mode}.png` });
    await signIn('admin');
    await page.waitForFunction(() => window.gridmap?.map.loaded(), null, { timeout: 60_000 });
    await idle();
  });
  afterAll(async () => {
    await pages?.close();
    await test?.drop();
  });

  it('draws every grid and building of the demo city, fitted to the view, with names in Chinese', async () => {
    expect(new Set(await rendered('grids-fill')).size).toBe(40);
    expect(new Set(await rendered('buildings-fill')).size).toBeGreaterThan(1500);
    const labels = await page.evaluate(() =>
      window.gridmap!.map.queryRenderedFeatures({ layers: ['communities-label'] }).map((f) => f.properties.name),
    );
    expect(labels.length).toBeGreaterThan(0);
    expect(labels.every((name) => /社区$/.test(name))).toBe(true);
    await page.screenshot({ path: `test-results/map-${mode}.png` });
    expect(errors).toEqual([]);
  });

  it('opens the side panel with a building’s properties when it is clicked', async () => {
    const target = await page.evaluate(() => {
      const map = window.gridmap!.map;
      const [building] = map
        .queryRenderedFeatures({ layers: ['buildings-fill'] })
        .filter((f) => f.geometry.type === 'Polygon')
        .sort((a, b) => Number(a.id) - Number(b.id));
      const ring = (building.geometry as GeoJSON.Polygon).coordinates[0].slice(0, -1);
      const centre: [number, number] = [ring.reduce((s, p) => s + p[0], 0) / ring.length, ring.reduce((s, p) => s + p[1], 0) / ring.length];
      const { x, y } = map.project(centre);
      const box = map.getCanvas().getBoundingClientRect();
      return {
        x: box.left + x,
        y: box.top + y,
        name: building.properties.name as string,
        households: building.properties.households as number,
      };
    });
    await page.mouse.click(target.x, target.y);
    const panel = page.getByTestId('feature-panel');
    await expect.poll(() => panel.locator('h2').textContent()).toBe(target.name);
    expect(await panel.locator('.panel-kind').textContent()).toBe('楼栋');
    expect(await panel.locator('[data-property="households"]').textContent()).toBe(String(target.households));
    await page.getByRole('button', { name: '关闭' }).click();
    await expect.poll(() => page.getByTestId('feature-panel').count()).toBe(0);
  });

  it('shows a grid’s Party branch and counts when it is clicked', async () => {
    await page.getByRole('checkbox', { name: '楼栋' }).uncheck();
    await idle();
    const target = await page.evaluate(() => {
      const map = window.gridmap!.map;
      const grid = map.queryRenderedFeatures({ layers: ['grids-fill'] }).sort((a, b) => Number(a.id) - Number(b.id))[0];
      const ring = (grid.geometry as GeoJSON.Polygon).coordinates[0].slice(0, -1);
      const centre: [number, number] = [ring.reduce((s, p) => s + p[0], 0) / ring.length, ring.reduce((s, p) => s + p[1], 0) / ring.length];
      const { x, y } = map.project(centre);
      const box = map.getCanvas().getBoundingClientRect();
      return { x: box.left + x, y: box.top + y, id: grid.id as number, community: grid.properties.community_id as number };
    });
    await page.mouse.click(target.x, target.y);
    const organisation = page.getByTestId('organisation');
    await organisation.waitFor();
    const tree = await api(`/api/v1/communities/${target.community}/tree`);
    const grid = tree.grids.find((g: { id: number }) => g.id === target.id);
    expect(await page.getByTestId('feature-panel').locator('.panel-kind').textContent()).toBe('网格');
    expect(await organisation.locator('[data-count="households"]').textContent()).toBe(String(grid.counts.households));
    expect(await organisation.textContent()).toContain(grid.party_branch.name);
    await page.screenshot({ path: `test-results/grid-panel-${mode}.png` });
    await page.getByRole('checkbox', { name: '楼栋' }).check();
    await idle();
  });

  it('draws the district and its streets with their names (区县, 街道), each toggled on its own', async () => {
    const codes = async (layer: string) =>
      new Set(
        await page.evaluate(
          (id) => window.gridmap!.map.queryRenderedFeatures({ layers: [id] }).map((f) => f.properties.code as string),
          layer,
        ),
      );
    expect(await codes('districts-line')).toEqual(new Set(['610602']));
    expect(await codes('streets-line')).toEqual(new Set(['610602001', '610602002']));
    const names = await page.evaluate(() =>
      window.gridmap!.map.queryRenderedFeatures({ layers: ['streets-label'] }).map((f) => f.properties.name as string),
    );
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((name) => /街道$/.test(name))).toBe(true);
    await page.getByRole('checkbox', { name: '街道' }).uncheck();
    await idle();
    expect(await codes('streets-line')).toEqual(new Set());
    expect(await codes('districts-line')).toEqual(new Set(['610602']));
    await page.getByRole('checkbox', { name: '街道' }).check();
    await idle();
    expect((await codes('streets-line')).size).toBe(2);
  });

  it('hides and shows a layer with its toggle', async () => {
    await page.getByRole('checkbox', { name: '楼栋' }).uncheck();
    await idle();
    expect(await rendered('buildings-fill')).toEqual([]);
    await page.getByRole('checkbox', { name: '楼栋' }).check();
    await idle();
    expect((await rendered('buildings-fill')).length).toBeGreaterThan(0);
  });

  it('checks and imports a file from the import view, listing rejected rows', async () => {
    const footprint = (lon: number, name: string) => ({
      type: 'Feature',
      properties: { name },
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [lon, 36.5862],
            [lon + 0.0002, 36.5862],
            [lon + 0.0002, 36.5864],
            [lon, 36.5864],
            [lon, 36.5862],
          ],
        ],
      },
    });
    const file = (features: unknown[]) => ({
      name: 'footprints.geojson',
      mimeType: 'application/geo+json',
      buffer: Buffer.from(JSON.stringify({ type: 'FeatureCollection', features })),
    });
    await page.getByRole('link', { name: '导入导出' }).click();
    const panel = page.getByTestId('import-panel');
    await panel.locator('select[name="layer"]').selectOption('buildings');
    await panel
      .locator('input[type="file"]')
      .setInputFiles(file([footprint(109.4862, '网页导入楼'), { ...footprint(109.4866, ''), properties: { name: '' } }]));
    await panel.getByRole('button', { name: '检查（不写入）' }).click();
    const report = page.getByTestId('import-report');
    await expect.poll(() => report.textContent()).toContain('有错误，未写入任何数据');
    expect(await report.locator('tbody tr').count()).toBe(1);
    expect(await report.locator('tbody td').first().textContent()).toBe('2');

    // a file over a limit is refused in the reader's language, never the server's English
    await panel.locator('input[type="file"]').setInputFiles({
      name: 'deep.geojson',
      mimeType: 'application/geo+json',
      buffer: Buffer.from(`{"type":"FeatureCollection","features":[${'['.repeat(40)}`),
    });
    await panel.getByRole('button', { name: '检查（不写入）' }).click();
    await expect.poll(() => report.textContent()).toContain('JSON 嵌套层数过多');
    expect(await report.textContent()).not.toMatch(/nests/);

    await panel.locator('input[type="file"]').setInputFiles(file([footprint(109.4862, '网页导入楼')]));
    await panel.getByRole('button', { name: '导入', exact: true }).click();
    await expect.poll(() => report.textContent()).toContain('已写入');
    const stored = await api('/api/v1/buildings?limit=10000');
    expect(stored.features.filter((f: { properties: { name: string } }) => f.properties.name === '网页导入楼')).toHaveLength(1);
    await page.screenshot({ path: `test-results/import-${mode}.png` });
    await page.getByRole('link', { name: '地图', exact: true }).click();
    await page.waitForFunction(() => window.gridmap?.map.loaded(), null, { timeout: 60_000 });
  });

  it('switches the interface to English and back', async () => {
    await page.getByRole('button', { name: 'English' }).click();
    expect(await page.locator('h1').textContent()).toBe('Gridmap');
    expect(await page.getByRole('checkbox', { name: 'Buildings' }).count()).toBe(1);
    await page.getByRole('button', { name: '中文' }).click();
    expect(await page.locator('h1').textContent()).toBe('Gridmap 网格地图');
  });

  it('shows an admin the users and the audit log, and creates a user from the form', async () => {
    await page.getByRole('link', { name: '账号与审计' }).click();
    const panel = page.getByTestId('accounts-panel');
    await expect.poll(() => panel.locator('tbody tr').count()).toBeGreaterThan(7);
    // the footprint imported above is the newest write, by admin
    const newest = page.getByTestId('audit-log').locator('tbody tr').first();
    await expect.poll(() => newest.textContent(), { timeout: 10_000 }).toMatch(/admin.*新增.*楼栋/);
    await panel.locator('input[name="username"]').fill('li.ming');
    await panel.locator('input[name="display_name"]').fill('李明');
    await panel.locator('input[name="password"]').fill('correct-horse-battery');
    await panel.locator('select[name="role"]').selectOption('leader');
    await panel.locator('select[name="scopeKind"]').selectOption('community');
    await panel.locator('input[name="scopeValue"]').fill('1');
    await panel.getByRole('button', { name: '创建' }).click();
    // creating a user hashes its password (scrypt, about half a second, more on a busy machine)
    await expect.poll(() => panel.locator('tbody').first().textContent(), { timeout: 15_000 }).toContain('li.ming (李明)');
    expect((await api('/api/v1/users?role=leader')).users.map((u: { username: string }) => u.username)).toContain('li.ming');
    await page.screenshot({ path: `test-results/accounts-${mode}.png` });
    await page.getByRole('link', { name: '地图', exact: true }).click();
    await page.waitForFunction(() => window.gridmap?.map.loaded(), null, { timeout: 60_000 });
  });

  it('signs out, refuses a wrong password, and signs a leader in with its own role and scope', async () => {
    await page.getByRole('button', { name: '退出' }).click();
    const form = page.getByRole('form', { name: '登录' });
    await form.waitFor();
    await form.locator('input[name="username"]').fill('leader');
    await form.locator('input[name="password"]').fill('not-the-password');
    await form.getByRole('button', { name: '登录', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 10_000 }).toBe('用户名或密码错误，或账号已停用');
    await form.locator('input[name="password"]').fill(DEMO_PASSWORD);
    await form.getByRole('button', { name: '登录', exact: true }).click();
    const badge = page.getByTestId('signed-in');
    await expect.poll(() => badge.textContent(), { timeout: 10_000 }).toMatch(/领导 · 街道 \d{9}/);
    expect(await page.getByRole('link', { name: '账号与审计' }).count()).toBe(0);
    // the session is remembered across a reload
    await page.reload();
    await page.waitForFunction(() => window.gridmap?.map.loaded(), null, { timeout: 60_000 });
    await expect.poll(() => page.getByTestId('signed-in').textContent()).toMatch(/领导/);
    await idle();
    // the leader's map holds only its street's grids
    const street = (await api('/api/v1/users?role=leader')).users.find((u: { username: string }) => u.username === 'leader').scope.street;
    const communities = (await api('/api/v1/communities?limit=1000')).features
      .filter((c: { properties: { street_code: string } }) => c.properties.street_code === street)
      .map((c: { id: number }) => c.id);
    const grids = (await api('/api/v1/grids?limit=1000')).features.filter((g: { properties: { community_id: number } }) =>
      communities.includes(g.properties.community_id),
    );
    expect(new Set(await rendered('grids-fill')).size).toBe(grids.length);
    expect(grids.length).toBeLessThan(40);
    await page.screenshot({ path: `test-results/leader-${mode}.png` });
  });

  it('renders the API docs under the content security policy, with Authorize for the bearer token', async () => {
    const docs = await browser.newPage();
    const problems: string[] = [];
    docs.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    docs.on('pageerror', (e) => problems.push(e.message));
    docs.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
    await docs.goto(`${baseUrl}/api/v1/docs`);
    await docs.locator('.opblock').first().waitFor({ timeout: 30_000 });
    expect(await docs.locator('.opblock').count()).toBeGreaterThan(30);
    expect(await docs.getByRole('button', { name: /Authorize/ }).count()).toBe(1);
    expect(problems).toEqual([]);
    await docs.close();
  });
});
