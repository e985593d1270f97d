import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { apiAs, LIVE, newPage, openAs } from './pages.ts';

describe.skipIf(!haveBrowser)(`the web client's addresses in headless Chromium (${mode} database)`, () => {
  let test: TestDatabase;
  let pages: Awaited<ReturnType<typeof servePages>> | undefined;
  let browser: Browser;
  let baseUrl: string;
  let api: ReturnType<typeof apiAs>;
  const errors: string[] = [];
  /** the grid worker's grid and community, and an issue on that grid's wall */
  let grid: number, community: number, issue: { id: number; title: string };

  /** The signed-in page's address, without its origin. */
  const address = (page: Page) => page.url().slice(baseUrl.length);
  const mapLoaded = (page: Page) => page.waitForFunction(() => window.gridmap?.map.loaded(), null, { timeout: 60_000 });
  /** The top bar's link to the view shown. */
  const currentView = (page: Page) => page.locator('nav.views a[aria-current="page"]').textContent();

  beforeAll(async () => {
    test = await openTestDatabase();
    pages = await servePages(test.database);
    ({ browser, baseUrl } = pages);
    api = apiAs(test.database, baseUrl);
    ({
      rows: [{ grid, community }],
    } = await sql<{ grid: number; community: number }>`
      select g.id as grid, g.community_id as community from users u join grids g on g.id = u.scope_grid_id
      where u.username = 'gridworker'`.execute(test.database.db));
    const wall = (await api('gridworker', `/api/v1/walls/grid/${grid}`)).body;
    expect(wall.features.length).toBeGreaterThan(1);
    issue = { id: wall.features[0].id, title: wall.features[0].properties.title };
  });
  afterAll(async () => {
    await pages?.close();
    await test?.drop();
  });

  it('serves the page at the client’s addresses, and leaves the API’s, OGC’s, tiles’ and Open311’s paths to the server', async () => {
    for (const path of ['/map', '/map/grids/3', `/issues/${issue.id}`, '/planning/communities/1/grids/2', '/echo']) {
      const response = await fetch(`${baseUrl}${path}`, { headers: { Accept: 'text/html' } });
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type'), path).toMatch(/^text\/html/);
      expect(await response.text(), path).toContain('<div id="root">');
    }
    for (const path of ['/api/v1/nothing-here', '/api', '/ogc/collections/nothing-here', '/tiles/nothing-here', '/open311/nothing-here']) {
      const response = await fetch(`${baseUrl}${path}`, { headers: { Accept: 'text/html' } });
      expect(response.status, path).toBeGreaterThanOrEqual(400);
      expect(await response.text(), path).not.toContain('<div id="root">');
    }
  });

  it('opens an issue linked to a signed-out user once it has signed in, and keeps it on reload', async () => {
    const page = await newPage(browser, errors);
    await page.goto(`${baseUrl}/issues/${issue.id}`);
    await page.getByRole('button', { name: /^gridworker ·/ }).click();
    await page.getByRole('button', { name: '登录', exact: true }).click();
    const opened = page.getByTestId('issue-page');
    await opened.waitFor({ timeout: 60_000 });
    expect(await opened.getAttribute('data-issue')).toBe(String(issue.id));
    expect(await opened.locator('h3').first().textContent()).toBe(`#${issue.id} ${issue.title}`);
    await expect.poll(() => address(page), LIVE).toBe(`/issues/${issue.id}`);
    expect(await currentView(page)).toBe('问题墙');

    await page.reload();
    await page.getByTestId('issue-page').locator('h3').first().waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('issue-page').getAttribute('data-issue')).toBe(String(issue.id));

    // back to its wall, and another issue from the list: Back returns to the list, then to the first issue
    await page.getByRole('button', { name: '← 返回' }).first().click();
    await expect.poll(() => address(page), LIVE).toBe(`/walls/grid/${grid}`);
    const list = page.getByTestId('wall-list');
    const other = (await api('gridworker', `/api/v1/walls/grid/${grid}`)).body.features[1].id as number;
    await list.locator(`li[data-issue="${other}"] button`).click();
    await expect.poll(() => page.getByTestId('issue-page').getAttribute('data-issue'), LIVE).toBe(String(other));
    await expect.poll(() => address(page), LIVE).toBe(`/issues/${other}`);
    await page.goBack();
    await list.waitFor();
    await expect.poll(() => address(page), LIVE).toBe(`/walls/grid/${grid}`);
    await page.goBack();
    await expect.poll(() => page.getByTestId('issue-page').getAttribute('data-issue'), LIVE).toBe(String(issue.id));
    for (const [width, height] of [
      [1440, 900],
      [390, 844],
    ]) {
      await page.setViewportSize({ width, height });
      await page.screenshot({ path: `test-results/urls-issue-${width}-${mode}.png` });
    }

    // signing out leaves the issue's address: the next user starts at its own view
    await page.getByRole('button', { name: '退出' }).click();
    await page.getByRole('form', { name: '登录' }).waitFor();
    await expect.poll(() => address(page), LIVE).toBe('/');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('opens every view of the admin’s by its address, and redirects a view the role has not to its own', async () => {
    const page = await openAs(browser, baseUrl, 'admin', errors);
    await expect.poll(() => address(page), LIVE).toBe('/map');
    const firstCommunity = (await api('admin', '/api/v1/communities')).body.features[0].id as number;
    const views: [string, string, string][] = [
      ['/walls', '问题墙', 'wall-panel'],
      ['/dispatch', '调度', 'dispatch-panel'],
      ['/setup', '建图向导', 'setup-panel'],
      ['/import', '导入导出', 'import-panel'],
      ['/metrics', '办理统计', 'metrics'],
      ['/coverage', '覆盖', 'coverage'],
      ['/planning', '网格规划', 'planning'],
      ['/gis', 'GIS 数据服务', 'gis'],
      ['/echo', '回音壁', 'echo-wall'],
      ['/accounts', '账号与审计', 'accounts-panel'],
      ['/map', '地图', 'map'],
    ];
    for (const [path, name, testId] of views) {
      await page.goto(`${baseUrl}${path}`);
      await page.getByTestId(testId).waitFor({ timeout: 60_000 });
      expect(await currentView(page), path).toBe(name);
      // the wall an admin has none of its own: the first community's, chosen for it once the walls are read
      await expect
        .poll(() => address(page), { ...LIVE, message: path })
        .toBe(path === '/walls' ? `/walls/community/${firstCommunity}` : path);
    }
    // the community chosen in the coverage view: kept by a reload, Back returns to the one before
    const [other] = (await api('admin', '/api/v1/communities')).body.features.filter((c: { id: number }) => c.id !== community);
    await page.goto(`${baseUrl}/coverage?community=${community}`);
    const chosenCommunity = () => page.getByTestId('coverage').locator('select[name="community"]').inputValue();
    await expect.poll(chosenCommunity, { timeout: 60_000 }).toBe(String(community));
    await page.getByTestId('coverage').locator('select[name="community"]').selectOption(String(other.id));
    await expect.poll(() => address(page), LIVE).toBe(`/coverage?community=${other.id}`);
    await page.reload();
    await expect.poll(chosenCommunity, { timeout: 60_000 }).toBe(String(other.id));
    await page.goBack();
    await expect.poll(chosenCommunity, LIVE).toBe(String(community));
    // so are the level and the street chosen in its table
    const level = () => page.getByTestId('coverage').locator('select[name="level"]').inputValue();
    await page.getByTestId('coverage').locator('select[name="level"]').selectOption('streets');
    await expect.poll(() => address(page), LIVE).toBe(`/coverage?level=streets&community=${community}`);
    const street = page.getByTestId('coverage').locator('.coverage-table tbody tr').first();
    await street.waitFor({ timeout: 60_000 });
    const streetId = await street.getAttribute('data-area');
    await street.click();
    await expect.poll(() => address(page), LIVE).toBe(`/coverage?level=streets&community=${community}&area=${streetId}`);
    await page.reload();
    await expect.poll(level, { timeout: 60_000 }).toBe('streets');
    await page.goBack();
    await page.goBack();
    await expect.poll(level, LIVE).toBe('communities');
    await page.goto(`${baseUrl}/map`);
    await page.getByTestId('map').waitFor();
    // the top bar's links are addresses too: Back returns to the view before
    await page.getByRole('link', { name: '覆盖', exact: true }).click();
    await page.getByTestId('coverage').waitFor();
    await expect.poll(() => address(page), LIVE).toBe('/coverage');
    await page.goBack();
    await expect.poll(() => currentView(page), LIVE).toBe('地图');
    await page.close();

    // a resident has no planning nor accounts: it lands on the map; a volunteer at / on its tasks
    const resident = await openAs(browser, baseUrl, 'resident', errors);
    for (const path of ['/planning', '/accounts', '/nowhere']) {
      await resident.goto(`${baseUrl}${path}`);
      await expect.poll(() => address(resident), LIVE).toBe('/map');
      expect(await currentView(resident)).toBe('地图');
    }
    await resident.close();
    const volunteer = await openAs(browser, baseUrl, 'volunteer', errors);
    await expect.poll(() => address(volunteer), LIVE).toBe('/tasks');
    await volunteer.getByTestId('volunteer-panel').waitFor();
    await volunteer.close();
    expect(errors).toEqual([]);
  });

  it('keeps the feature chosen on the map in the address: a reload shows it again, Back the one before', async () => {
    const page = await openAs(browser, baseUrl, 'admin', errors);
    const gridName = (await api('admin', `/api/v1/grids/${grid}`)).body.properties.name as string;
    await page.goto(`${baseUrl}/map/grids/${grid}`);
    await mapLoaded(page);
    const panel = page.getByTestId('feature-panel');
    await expect.poll(() => panel.locator('h2').textContent(), LIVE).toBe(gridName);
    const outlined = () => page.evaluate(() => JSON.stringify(window.gridmap!.map.getFilter('grids-selected')));
    await expect.poll(outlined, LIVE).toContain(String(grid));

    // a click on a building of the grid chooses it, at its own address
    const {
      rows: [building],
    } = await sql<{ id: number; lon: number; lat: number }>`
      select b.id, ST_X(p) as lon, ST_Y(p) as lat from buildings b, ST_PointOnSurface(b.geom) p
      where b.grid_id = ${grid} order by b.id limit 1`.execute(test.database.db);
    const target = await page.evaluate(
      ([lon, lat]) =>
        new Promise<{ x: number; y: number }>((resolve) => {
          const map = window.gridmap!.map;
          map.once('idle', () => {
            const { x, y } = map.project([lon, lat]);
            const box = map.getCanvas().getBoundingClientRect();
            resolve({ x: box.left + x, y: box.top + y });
          });
          map.jumpTo({ center: [lon, lat], zoom: 17 });
        }),
      [building.lon, building.lat],
    );
    await page.mouse.click(target.x, target.y);
    await expect.poll(() => address(page), LIVE).toBe(`/map/buildings/${building.id}`);
    await expect.poll(() => panel.locator('.panel-kind').textContent(), LIVE).toBe('楼栋');
    await page.reload();
    await mapLoaded(page);
    await expect.poll(() => page.getByTestId('feature-panel').locator('.panel-kind').textContent(), LIVE).toBe('楼栋');
    await page.screenshot({ path: `test-results/urls-building-${mode}.png` });
    await page.goBack();
    await expect.poll(() => page.getByTestId('feature-panel').locator('h2').textContent(), LIVE).toBe(gridName);
    await expect.poll(outlined, LIVE).toContain(String(grid));
    expect(errors).toEqual([]);
    await page.close();
  });

  it('keeps the planner’s grid, the dispatcher’s issue and volunteer, and the echo wall’s community in the address', async () => {
    const [planned] = (await api('planner', '/api/v1/communities')).body.features as { id: number }[];
    const plannedGrids = (await api('planner', `/api/v1/grids?community=${planned.id}`)).body.features as { id: number }[];
    const planner = await openAs(browser, baseUrl, 'planner', errors);
    await planner.getByRole('link', { name: '网格规划', exact: true }).click();
    // the planner's one community is chosen for it
    await expect.poll(() => address(planner), LIVE).toBe(`/planning/communities/${planned.id}`);
    await planner.goto(`${baseUrl}/planning/communities/${planned.id}/grids/${plannedGrids[1].id}`);
    const chosen = planner.getByTestId('chosen-grid');
    await expect.poll(() => chosen.getAttribute('data-grid'), { timeout: 60_000 }).toBe(String(plannedGrids[1].id));
    // a bar of the chart chooses another grid: Back returns to the first
    await planner.getByTestId('household-chart').locator(`[data-grid="${plannedGrids[0].id}"]`).first().click();
    await expect.poll(() => chosen.getAttribute('data-grid'), LIVE).toBe(String(plannedGrids[0].id));
    await expect.poll(() => address(planner), LIVE).toBe(`/planning/communities/${planned.id}/grids/${plannedGrids[0].id}`);
    await planner.goBack();
    await expect.poll(() => chosen.getAttribute('data-grid'), LIVE).toBe(String(plannedGrids[1].id));
    await planner.screenshot({ path: `test-results/urls-planning-${mode}.png` });
    await planner.close();

    const open = (await api('dispatcher', '/api/v1/issues?open=true&limit=1')).body.features[0] as {
      id: number;
      properties: { title: string };
    };
    const dispatcher = await newPage(browser, errors);
    const streams: string[] = [];
    dispatcher.on('request', (r) => r.url().endsWith('/api/v1/events') && streams.push(r.url()));
    await dispatcher.goto(`${baseUrl}/dispatch/issues/${open.id}`);
    await dispatcher.getByRole('button', { name: /^dispatcher ·/ }).click();
    await dispatcher.getByRole('button', { name: '登录', exact: true }).click();
    const heading = dispatcher.getByTestId('dispatch-panel').locator('h3', { hasText: `#${open.id} ` });
    await heading.waitFor({ timeout: 60_000 });
    expect(await heading.textContent()).toContain(`#${open.id} ${open.properties.title}`);
    await expect.poll(() => dispatcher.getByTestId('nearest').locator('li').count(), LIVE).toBeGreaterThan(0);
    // the map, the event log and the answers kept all hear the server's events through one stream
    await mapLoaded(dispatcher);
    expect(streams).toHaveLength(1);
    // a volunteer has an address: their card, kept by a reload; Back returns to the issue
    const first = dispatcher.getByTestId('nearest').locator('li').first();
    const volunteer = Number(await first.getAttribute('data-volunteer'));
    const name = (await api('dispatcher', `/api/v1/members/${volunteer}`)).body.properties.name as string;
    await first.getByRole('link').click();
    await expect.poll(() => address(dispatcher), LIVE).toBe(`/dispatch/volunteers/${volunteer}`);
    const card = dispatcher.getByTestId('volunteer-card');
    await expect.poll(() => card.locator('h3').textContent(), LIVE).toContain(name);
    await dispatcher.reload();
    await expect.poll(() => card.locator('h3').textContent(), { timeout: 60_000 }).toContain(name);
    await dispatcher.goBack();
    await expect.poll(() => address(dispatcher), LIVE).toBe(`/dispatch/issues/${open.id}`);
    await heading.waitFor(LIVE);
    await dispatcher.close();

    const echo = await newPage(browser, errors);
    await echo.goto(`${baseUrl}/#echo`);
    await expect.poll(() => address(echo), LIVE).toBe('/echo');
    const wall = echo.getByTestId('echo-wall');
    const all = (await (await fetch(`${baseUrl}/api/v1/echo?limit=10`)).json()).total as number;
    await expect.poll(() => wall.getByTestId('echo-total').textContent(), LIVE).toBe(String(all));
    await wall.locator('select[name="community"]').selectOption(String(community));
    await expect.poll(() => address(echo), LIVE).toBe(`/echo?community=${community}`);
    const own = (await (await fetch(`${baseUrl}/api/v1/echo?limit=10&community=${community}`)).json()).total as number;
    await expect.poll(() => wall.getByTestId('echo-total').textContent(), LIVE).toBe(String(own));
    await echo.goBack();
    await expect.poll(() => wall.getByTestId('echo-total').textContent(), LIVE).toBe(String(all));
    await echo.goForward();
    await expect.poll(() => wall.getByTestId('echo-total').textContent(), LIVE).toBe(String(own));
    await echo.close();
    expect(errors).toEqual([]);
  });
});
