import { sql } from 'kysely';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { apiAs, clickAt, LIVE, newPage, openAs } from './pages.ts';

interface WallFeature {
  id: number;
  geometry: { coordinates: [number, number] };
  properties: { title: string; status: string; overdue: boolean };
}

describe.skipIf(!haveBrowser)(`the problem wall and the echo wall in headless Chromium (${mode} database)`, () => {
  let test: TestDatabase;
  let pages: Awaited<ReturnType<typeof servePages>> | undefined;
  let browser: Browser;
  let baseUrl: string;
  let api: ReturnType<typeof apiAs>;
  const errors: string[] = [];
  /** the grid worker's grid, its community, and a point well inside the grid */
  let grid: number, community: number, inside: [number, number];
  /** the issue the resident reports in the browser */
  let reported: WallFeature;

  beforeAll(async () => {
    test = await openTestDatabase();
    pages = await servePages(test.database);
    ({ browser, baseUrl } = pages);
    api = apiAs(test.database, baseUrl);
    const {
      rows: [first],
    } = await sql<{ grid: number; community: number; lon: number; lat: number }>`
      select g.id as grid, g.community_id as community, ST_X(p) as lon, ST_Y(p) as lat
      from users u join grids g on g.id = u.scope_grid_id, ST_PointOnSurface(ST_Buffer(g.geom, -0.0003)) p
      where u.username = 'gridworker'`.execute(test.database.db);
    ({ grid, community } = first);
    inside = [first.lon, first.lat];
  });
  afterAll(async () => {
    await pages?.close();
    await test?.drop();
  });

  it('lets a resident report an issue by clicking the map inside its grid, offers the nearby one first, and shows the new one on the grid wall', async () => {
    // the resident reported a broken light a few metres away this morning: the form asks whether it is this one
    const earlier = await api('resident', '/api/v1/issues', {
      method: 'POST',
      body: {
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [inside[0] + 0.0001, inside[1]] },
        properties: { title: '路灯不亮（早上报过）', category: 'street_light' },
      },
    });
    expect(earlier.status).toBe(201);

    const page = await openAs(browser, baseUrl, 'resident', errors);
    await page.getByRole('link', { name: '问题墙', exact: true }).click();
    const panel = page.getByTestId('wall-panel');
    await panel.getByRole('button', { name: '上报问题' }).click();
    const clicked = await clickAt(page, inside[0], inside[1], 16);
    await expect.poll(() => panel.getByTestId('report-point').textContent(), LIVE).toContain(clicked.lon.toFixed(5));
    await panel.locator('select[name="category"]').selectOption('street_light');
    const duplicates = panel.getByTestId('possible-duplicates');
    await expect.poll(() => duplicates.textContent(), LIVE).toContain(`#${earlier.body.id} 路灯不亮（早上报过）`);
    const title = '网页上报：楼下路灯一闪一闪';
    await panel.locator('input[name="title"]').fill(title);
    await panel.locator('textarea[name="description"]').fill('晚上七点以后一直闪，影响老人走路。');
    await page.screenshot({ path: `test-results/wall-report-form-${mode}.png` });
    await panel.getByRole('button', { name: '提交', exact: true }).click();

    // it landed on the grid wall, where the list now shows it (selected) and the map a pin for it
    const row = page.getByTestId('wall-list').locator('li', { hasText: title });
    await row.waitFor({ timeout: LIVE.timeout });
    const wall = (await api('resident', `/api/v1/walls/grid/${grid}`)).body;
    reported = wall.features.find((f: WallFeature) => f.properties.title === title);
    expect(reported.properties.status).toBe('reported');
    expect(reported.geometry.coordinates[0]).toBeCloseTo(clicked.lon, 6);
    expect(reported.geometry.coordinates[1]).toBeCloseTo(clicked.lat, 6);
    expect(await row.getAttribute('data-issue')).toBe(String(reported.id));
    expect(await row.getByRole('button').getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByTestId('wall-summary').textContent()).toContain(`${wall.wall.name} · 网格墙`);
    // a resident reads its own reports only, on the wall as in the list
    expect(await page.getByTestId('wall-list').locator('li').count()).toBe(wall.features.length);
    const pins = () =>
      page.evaluate(() =>
        window
          .gridmap!.map.queryRenderedFeatures({ layers: ['overlay-points'] })
          .map((f) => ({ id: f.id, status: f.properties.status, selected: f.properties.selected })),
      );
    await expect
      .poll(async () => (await pins()).find((p) => p.id === reported.id), LIVE)
      .toEqual({ id: reported.id, status: 'reported', selected: true });
    await page.screenshot({ path: `test-results/wall-reported-${mode}.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lets the grid worker open the new issue from its wall, overdue ones marked, accept it, and see the step in the timeline', async () => {
    const page = await openAs(browser, baseUrl, 'gridworker', errors);
    await page.getByRole('link', { name: '问题墙', exact: true }).click();
    const list = page.getByTestId('wall-list');
    const wall = (await api('gridworker', `/api/v1/walls/grid/${grid}`)).body;
    await expect.poll(() => list.locator('li').count(), LIVE).toBe(wall.features.length);
    // overdue issues are marked in the list as the API counts them, and drawn with the rest
    expect(await list.locator('li.overdue').count()).toBe(wall.features.filter((f: WallFeature) => f.properties.overdue).length);
    // a problem phoned in meanwhile (reported through the API) comes onto the wall from the event stream
    const phoned = await api('admin', '/api/v1/issues', {
      method: 'POST',
      body: {
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [inside[0] - 0.0001, inside[1]] },
        properties: { title: '电话反映：井盖松动', category: 'safety' },
      },
    });
    expect(phoned.status).toBe(201);
    await expect.poll(() => list.locator(`li[data-issue="${phoned.body.id}"]`).count(), LIVE).toBe(1);
    await page.screenshot({ path: `test-results/wall-grid-${mode}.png` });

    await list.locator(`li[data-issue="${reported.id}"] button`).click();
    const issue = page.getByTestId('issue-page');
    await expect.poll(() => issue.locator('h3').textContent(), LIVE).toBe(`#${reported.id} ${reported.properties.title}`);
    const buttons = issue.getByRole('group', { name: '可办理的操作' }).getByRole('button');
    const before = (await api('gridworker', `/api/v1/issues/${reported.id}/timeline`)).body;
    expect(await buttons.count()).toBe(before.actions.length);
    await buttons.filter({ hasText: /^受理$/ }).click();
    await issue.locator('textarea[name="note"]').fill('已受理，今晚去看');
    await issue.getByRole('button', { name: '确认', exact: true }).click();

    const steps = issue.getByTestId('timeline').locator('li');
    await expect.poll(() => steps.count(), LIVE).toBe(2);
    const step = await steps.nth(1).textContent();
    expect(step).toContain('受理');
    expect(step).toContain('已上报 → 已受理');
    expect(step).toContain('gridworker');
    expect(step).toContain('已受理，今晚去看');
    expect(await issue.getByTestId('issue-status').textContent()).toBe('已受理');
    const after = (await api('gridworker', `/api/v1/issues/${reported.id}/timeline`)).body;
    expect(after.status).toBe('accepted');
    expect(after.steps[1]).toMatchObject({ action: 'accept', username: 'gridworker', note: '已受理，今晚去看' });
    // the buttons are now the steps the server allows from the new state
    await expect.poll(() => buttons.count(), LIVE).toBe(after.actions.length);
    await page.screenshot({ path: `test-results/wall-issue-${mode}.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("lets the community secretary record the month's matter as a draft, then publish it on the echo wall", async () => {
    const page = await openAs(browser, baseUrl, 'secretary', errors);
    await page.getByRole('link', { name: '回音壁', exact: true }).click();
    const echo = page.getByTestId('echo-wall');
    await echo.locator('select[name="community"]').selectOption(String(community));
    const form = echo.getByRole('form', { name: '记录本社区一月一事' });
    await form.locator('input[name="month"]').fill('2026-11');
    await form.locator('input[name="title"]').fill('老旧小区加装电梯');
    await form.locator('textarea[name="discussion"]').fill('居民议事会讨论三次，九成住户同意');
    // the reload of the recorded matters after a save lands while the secretary is typing: it must not wipe it
    let release = () => undefined as void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route('**/monthly', async (route) => {
      await held;
      await route.continue();
    });
    await form.getByRole('button', { name: '保存' }).click();
    await expect.poll(() => form.getByRole('status').textContent(), LIVE).toBe('已保存');
    // a draft: the public does not see it yet
    const signedOut = async () => (await (await fetch(`${baseUrl}/api/v1/communities/${community}/monthly`)).json()).matters;
    expect(await signedOut()).toEqual([]);
    await form.locator('textarea[name="outcome"]').fill('3栋试点加装，年底完工');
    await form.locator('input[name="published"]').check();
    const reloaded = page.waitForResponse('**/monthly');
    release();
    await reloaded;
    await page.unroute('**/monthly');
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    expect(await form.locator('textarea[name="outcome"]').inputValue()).toBe('3栋试点加装，年底完工');
    expect(await form.locator('input[name="published"]').isChecked()).toBe(true);
    await form.getByRole('button', { name: '保存' }).click();
    await expect.poll(async () => (await signedOut()).map((m: { title: string }) => m.title), LIVE).toEqual(['老旧小区加装电梯']);
    await expect.poll(() => echo.getByTestId('monthly-matter').textContent(), LIVE).toContain('3栋试点加装，年底完工');
    await page.screenshot({ path: `test-results/echo-monthly-${mode}.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows a leader how each community, then each grid of one, closes its problems, as the API counts them', async () => {
    const page = await openAs(browser, baseUrl, 'leader', errors);
    await page.getByRole('link', { name: '办理统计', exact: true }).click();
    const panel = page.getByTestId('metrics');
    await panel.locator('input[name="from"]').fill('2026-07-01');
    await panel.locator('input[name="to"]').fill('2026-11-28');
    const window = 'from=2026-07-01&to=2026-11-28';
    const byCommunity = (await api('leader', `/api/v1/issues/metrics?by=community&${window}`)).body;
    const rows = panel.locator('tbody tr');
    await expect
      .poll(() => panel.getByTestId('metrics-total').locator('td').first().textContent(), LIVE)
      .toBe(String(byCommunity.total.reported));
    expect(await rows.count()).toBe(byCommunity.areas.length);
    // worst closure rate first
    const first = [...byCommunity.areas].sort(
      (a: { closure_rate: number }, b: { closure_rate: number }) => a.closure_rate - b.closure_rate,
    )[0];
    expect(await rows.first().getAttribute('data-area')).toBe(String(first.area_id));

    await panel.locator('select[name="by"]').selectOption('grid');
    await panel.locator('select[name="community"]').selectOption(String(community));
    const byGrid = (await api('leader', `/api/v1/issues/metrics?by=grid&community=${community}&${window}`)).body;
    await expect
      .poll(() => panel.getByTestId('metrics-total').locator('td').first().textContent(), LIVE)
      .toBe(String(byGrid.total.reported));
    expect(await rows.count()).toBe(byGrid.areas.length);
    await page.screenshot({ path: `test-results/metrics-${mode}.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('opens the echo wall signed out from the login screen, newest answers first, a page at a time, with no token', async () => {
    const page = await newPage(browser, errors);
    const sentTokens: string[] = [];
    page.on('request', (r) => r.headers().authorization && sentTokens.push(r.url()));
    await page.goto(`${baseUrl}/`);
    await page.getByRole('link', { name: '查看回音壁（无需登录）' }).click();
    const echo = page.getByTestId('echo-wall');
    const expected = await (await fetch(`${baseUrl}/api/v1/echo?limit=10`)).json();
    expect(expected.total).toBeGreaterThan(10);
    await expect.poll(() => echo.getByTestId('echo-total').textContent(), LIVE).toBe(String(expected.total));
    const shown = () =>
      echo
        .getByTestId('echo-list')
        .locator('li')
        .evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-issue'))));
    expect(await shown()).toEqual(expected.issues.map((i: { id: number }) => i.id));
    expect(await echo.getByTestId('echo-list').locator('li').first().locator('blockquote').textContent()).toBe(expected.issues[0].answer);
    await page.screenshot({ path: `test-results/echo-${mode}.png` });

    await echo.getByRole('button', { name: '下一页' }).click();
    const next = await (await fetch(`${baseUrl}/api/v1/echo?limit=10&offset=10`)).json();
    await expect.poll(shown, LIVE).toEqual(next.issues.map((i: { id: number }) => i.id));

    // one community's echo wall, by its address
    await page.goto(`${baseUrl}/?view=echo&community=${community}`);
    const own = await (await fetch(`${baseUrl}/api/v1/echo?limit=10&community=${community}`)).json();
    await expect.poll(() => echo.getByTestId('echo-total').textContent(), LIVE).toBe(String(own.total));
    expect(await shown()).toEqual(own.issues.map((i: { id: number }) => i.id));
    // and another, chosen from the filter anyone may use
    const other = next.communities.find((c: { id: number }) => c.id !== community);
    await echo.locator('select[name="community"]').selectOption(String(other.id));
    const theirs = await (await fetch(`${baseUrl}/api/v1/echo?limit=10&community=${other.id}`)).json();
    await expect.poll(() => echo.getByTestId('echo-total').textContent(), LIVE).toBe(String(theirs.total));
    expect(sentTokens).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
