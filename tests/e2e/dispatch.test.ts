import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { apiAs, clickAt, LIVE, openAs as openPage } from './pages.ts';

describe.skipIf(!haveBrowser)(`the dispatcher and volunteer views in headless Chromium (${mode} database)`, () => {
  let test: TestDatabase;
  let pages: Awaited<ReturnType<typeof servePages>> | undefined;
  let browser: Browser;
  let baseUrl: string;
  const errors: string[] = [];
  /** the API as a user of the demo city, to set the scene and compare with what the page shows */
  let api: ReturnType<typeof apiAs>;
  const openAs = (username: string) => openPage(browser, baseUrl, username, errors);

  beforeAll(async () => {
    test = await openTestDatabase();
    pages = await servePages(test.database);
    ({ browser, baseUrl } = pages);
    api = apiAs(test.database, baseUrl);
  });
  afterAll(async () => {
    await pages?.close();
    await test?.drop();
  });

  it('ranks the nearest available volunteers for a clicked point, dispatches an issue, and follows the answers live', async () => {
    const page = await openAs('dispatcher');
    await page.getByRole('link', { name: '调度', exact: true }).click();
    await page.getByTestId('dispatch-panel').waitFor();

    // a point in the dispatcher's street: the first open issue there
    const issues = (await api('dispatcher', '/api/v1/issues?limit=1000')).body.features.filter((f: { properties: { status: string } }) =>
      ['reported', 'accepted', 'in_progress'].includes(f.properties.status),
    );
    expect(issues.length).toBeGreaterThan(0);
    const [lon, lat] = issues[0].geometry.coordinates;
    const clicked = await clickAt(page, lon + 0.001, lat + 0.001);
    const expected = (await api('dispatcher', `/api/v1/volunteers/nearest?lon=${clicked.lon}&lat=${clicked.lat}&k=10`)).body.features;
    expect(expected.length).toBeGreaterThan(0);
    const nearest = page.getByTestId('nearest').locator('li');
    await expect.poll(() => nearest.count(), LIVE).toBe(expected.length);
    expect(await nearest.evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-volunteer'))))).toEqual(
      expected.map((f: { id: number }) => f.id),
    );
    expect(await nearest.first().locator('.distance').textContent()).toMatch(/^\d+ m$|^\d+\.\d\d km$/);
    // lines from the point to each volunteer
    await expect
      .poll(() => page.evaluate(() => window.gridmap!.map.queryRenderedFeatures({ layers: ['overlay-routes'] }).length), LIVE)
      .toBeGreaterThan(0);

    // filtering by a skill asks again
    await page.getByRole('checkbox', { name: '医疗' }).check();
    const medical = (await api('dispatcher', `/api/v1/volunteers/nearest?lon=${clicked.lon}&lat=${clicked.lat}&k=10&skill=medical`)).body
      .features;
    await expect
      .poll(() => nearest.evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-volunteer')))), LIVE)
      .toEqual(medical.map((f: { id: number }) => f.id));
    await page.getByRole('checkbox', { name: '医疗' }).uncheck();

    // pick the issue, dispatch it to two
    await page
      .getByTestId('dispatch-panel')
      .getByRole('button', { name: new RegExp(`^#${issues[0].id} `) })
      .click();
    await page.getByRole('spinbutton').fill('2');
    await page.getByRole('button', { name: '派单', exact: true }).click();
    const offers = page.getByTestId('dispatches').locator('li');
    await expect
      .poll(() => offers.evaluateAll((items) => items.map((li) => li.getAttribute('data-state'))), LIVE)
      .toEqual(['offered', 'offered']);

    // the nearest declines on its phone: the page hears it, and the offer has passed to the third
    const { body } = await api('dispatcher', `/api/v1/issues/${issues[0].id}/dispatches`);
    const first = body.requests[0].dispatches[0];
    expect((await api('admin', `/api/v1/dispatches/${first.id}/decline`, { method: 'POST' })).status).toBe(200);
    await expect
      .poll(() => offers.evaluateAll((items) => items.map((li) => li.getAttribute('data-state'))), LIVE)
      .toEqual(['declined', 'offered', 'offered']);
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
    await expect
      .poll(async () => (await api('volunteer', '/api/v1/volunteers/me')).body.current_point?.coordinates[0], LIVE)
      .toBeCloseTo(clicked.lon, 6);

    // a problem right there: the dispatcher's offer goes to it first, and shows up without a reload
    const issue = await api('admin', '/api/v1/issues', {
      method: 'POST',
      body: {
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [clicked.lon, clicked.lat] },
        properties: { title: '楼道积水', category: 'property' },
      },
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
