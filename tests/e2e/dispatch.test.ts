import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionFor } from '../support/app.ts';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';

/** What the page shows after the server changed something: the event stream, then a reload, on a busy machine. */
const LIVE = { timeout: 10_000, interval: 100 };

describe.skipIf(!haveBrowser)(`the dispatcher and volunteer views in headless Chromium (${mode} database)`, () => {
  let test: TestDatabase;
  let pages: Awaited<ReturnType<typeof servePages>> | undefined;
  let browser: Browser;
  let baseUrl: string;
  const errors: string[] = [];
  /** the API as a user of the demo city, to set the scene and compare with what the page shows */
  const api = async (as: string, path: string, init: { method?: string; body?: unknown } = {}) => {
    const token = await sessionFor(test.database, as);
    const response = await fetch(`${baseUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return { status: response.status, body: await response.json().catch(() => null) };
  };

  async function openAs(username: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${baseUrl}/`);
    await page.getByRole('button', { name: new RegExp(`^${username} ·`) }).click();
    await page.getByRole('button', { name: '登录', exact: true }).click();
    await page.getByTestId('signed-in').waitFor();
    await page.waitForFunction(() => window.gridmap?.map.loaded(), null, { timeout: 60_000 });
    return page;
  }

  /** Clicks the map at a longitude/latitude; returns the point MapLibre reports for that pixel. */
  const clickAt = async (page: Page, lon: number, lat: number) => {
    const target = await page.evaluate(([x0, y0]) => {
      const map = window.gridmap!.map;
      map.jumpTo({ center: [x0, y0], zoom: 15 });
      const { x, y } = map.project([x0, y0]);
      const box = map.getCanvas().getBoundingClientRect();
      const at = map.unproject([Math.round(x), Math.round(y)]);
      return { x: box.left + Math.round(x), y: box.top + Math.round(y), lon: at.lng, lat: at.lat };
    }, [lon, lat]);
    await page.mouse.click(target.x, target.y);
    return target;
  };

  beforeAll(async () => {
    test = await openTestDatabase();
    pages = await servePages(test.database);
    ({ browser, baseUrl } = pages);
  });
  afterAll(async () => {
    await pages?.close();
    await test?.drop();
  });

  it('ranks the nearest available volunteers for a clicked point, dispatches an issue, and follows the answers live', async () => {
    const page = await openAs('dispatcher');
    await page.getByRole('button', { name: '调度', exact: true }).click();
    await page.getByTestId('dispatch-panel').waitFor();

    // a point in the dispatcher's street: the first open issue there
    const issues = (await api('dispatcher', '/api/v1/issues?limit=1000')).body.features
      .filter((f: { properties: { status: string } }) => ['reported', 'accepted', 'in_progress'].includes(f.properties.status));
    expect(issues.length).toBeGreaterThan(0);
    const [lon, lat] = issues[0].geometry.coordinates;
    const clicked = await clickAt(page, lon + 0.001, lat + 0.001);
    const expected = (await api('dispatcher', `/api/v1/volunteers/nearest?lon=${clicked.lon}&lat=${clicked.lat}&k=10`)).body.features;
    expect(expected.length).toBeGreaterThan(0);
    const nearest = page.getByTestId('nearest').locator('li');
    await expect.poll(() => nearest.count(), LIVE).toBe(expected.length);
    expect(await nearest.evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-volunteer'))))).toEqual(expected.map((f: { id: number }) => f.id));
    expect(await nearest.first().locator('.distance').textContent()).toMatch(/^\d+ m$|^\d+\.\d\d km$/);
    // lines from the point to each volunteer
    await expect.poll(() => page.evaluate(() => window.gridmap!.map.queryRenderedFeatures({ layers: ['overlay-routes'] }).length), LIVE).toBeGreaterThan(0);

    // filtering by a skill asks again
    await page.getByRole('checkbox', { name: '医疗' }).check();
    const medical = (await api('dispatcher', `/api/v1/volunteers/nearest?lon=${clicked.lon}&lat=${clicked.lat}&k=10&skill=medical`)).body.features;
    await expect.poll(() => nearest.evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-volunteer')))), LIVE)
      .toEqual(medical.map((f: { id: number }) => f.id));
    await page.getByRole('checkbox', { name: '医疗' }).uncheck();

    // pick the issue, dispatch it to two
    await page.getByTestId('dispatch-panel').getByRole('button', { name: new RegExp(`^#${issues[0].id} `) }).click();
    await page.getByRole('spinbutton').fill('2');
    await page.getByRole('button', { name: '派单', exact: true }).click();
    const offers = page.getByTestId('dispatches').locator('li');
    await expect.poll(() => offers.evaluateAll((items) => items.map((li) => li.getAttribute('data-state'))), LIVE).toEqual(['offered', 'offered']);

    // the nearest declines on its phone: the page hears it, and the offer has passed to the third
    const { body } = await api('dispatcher', `/api/v1/issues/${issues[0].id}/dispatches`);
    const first = body.requests[0].dispatches[0];
    expect((await api('admin', `/api/v1/dispatches/${first.id}/decline`, { method: 'POST' })).status).toBe(200);
    await expect.poll(() => offers.evaluateAll((items) => items.map((li) => li.getAttribute('data-state'))), LIVE).toEqual(['declined', 'offered', 'offered']);
    await expect.poll(() => page.getByTestId('event-log').locator('li').count(), LIVE).toBeGreaterThan(0);
    await page.screenshot({ path: `test-results/dispatch-${mode}.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lets a volunteer report where it is and accept an offer that arrives live', async () => {
    const page = await openAs('volunteer');
    await page.getByTestId('volunteer-panel').waitFor();
    const me = (await api('volunteer', '/api/v1/volunteers/me')).body;
    if (me.availability === 'off_duty') await page.getByRole('button', { name: '上岗' }).click();
    await page.getByRole('button', { name: '下岗休息' }).waitFor();

    // it reports where it is now by clicking the map
    const [lon, lat] = me.home.coordinates;
    const clicked = await clickAt(page, lon + 0.002, lat);
    await expect.poll(async () => (await api('volunteer', '/api/v1/volunteers/me')).body.current_point?.coordinates[0], LIVE).toBeCloseTo(clicked.lon, 6);

    // a problem right there: the dispatcher's offer goes to it first, and shows up without a reload
    const issue = await api('admin', '/api/v1/issues', {
      method: 'POST',
      body: { type: 'Feature', geometry: { type: 'Point', coordinates: [clicked.lon, clicked.lat] }, properties: { title: '楼道积水', category: 'property' } },
    });
    const dispatched = await api('admin', `/api/v1/issues/${issue.body.id}/dispatch`, { method: 'POST', body: { k: 1 } });
    expect(dispatched.body.dispatches[0].volunteer_id).toBe(me.id);
    const mine = page.getByTestId('my-dispatches').locator('li');
    await expect.poll(() => mine.count(), LIVE).toBe(1);
    expect(await mine.first().textContent()).toContain('楼道积水');
    await page.getByRole('button', { name: '接单' }).click();
    await expect.poll(() => mine.first().getAttribute('data-state'), LIVE).toBe('accepted');
    await page.getByText('执行任务中').waitFor();
    await page.screenshot({ path: `test-results/volunteer-${mode}.png` });
    const after = await api('admin', `/api/v1/issues/${issue.body.id}/dispatches`);
    expect(after.body.requests[0].state).toBe('assigned');
    expect(errors).toEqual([]);
    await page.close();
  });
});
