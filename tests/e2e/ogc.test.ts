import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { LIVE, newPage, openAs } from './pages.ts';

/**
 * /ogc as a person sees it in a browser, not signed in: from the landing page through the public
 * collections to a page of grids, its sketch and its next/previous links, and one grid; what the pages show
 * checked against SQL on the test database. A private collection answers 401, even to a browser.
 */
describe.skipIf(!haveBrowser)(`the OGC API pages in headless Chromium (${mode} database)`, () => {
  let test: TestDatabase;
  let pages: Awaited<ReturnType<typeof servePages>> | undefined;
  let browser: Browser;
  let baseUrl: string;
  let page: Page;
  const errors: string[] = [];
  const db = () => test.database.db;

  /** The ids of the grids table on the page, in the order shown. */
  const idsShown = () =>
    page
      .getByTestId('items')
      .locator('tbody tr')
      .evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-id'))));
  /** Grid ids in id order, `offset` on: what each page of 10 should hold. */
  const gridIds = async (offset: number) =>
    (await sql<{ id: number }>`select id from grids order by id limit 10 offset ${offset}`.execute(db())).rows.map((r) => r.id);

  beforeAll(async () => {
    test = await openTestDatabase();
    pages = await servePages(test.database);
    ({ browser, baseUrl } = pages);
    page = await newPage(browser, errors);
    page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
  });
  afterAll(async () => {
    await pages?.close();
    await test?.drop();
  });

  it('shows an anonymous visitor the landing page and only the public collections', async () => {
    // no ?f=html: the browser's own Accept header asks for HTML
    const landing = await page.goto(`${baseUrl}/ogc`);
    expect(landing!.headers()['content-type']).toMatch(/^text\/html/);
    await expect(page.getByTestId('who').textContent()).resolves.toMatch(/not signed in/);
    await page.screenshot({ path: `test-results/ogc-landing-${mode}.png`, fullPage: true });

    await page.getByRole('link', { name: 'the collections' }).click();
    await page.getByTestId('collections').waitFor();
    const listed = await page
      .getByTestId('collections')
      .locator('tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-collection')));
    expect(listed).toEqual(['districts', 'streets', 'communities', 'grids']);
    await page.screenshot({ path: `test-results/ogc-collections-${mode}.png`, fullPage: true });
    expect(errors).toEqual([]);
  });

  it('pages through the grids with a sketch of each page, forward and back', async () => {
    await page.getByTestId('collections').getByRole('link', { name: 'grids', exact: true }).click();
    await page.getByTestId('browse').click();
    await page.getByTestId('items').waitFor();

    expect(await idsShown()).toEqual(await gridIds(0));
    const stored = (await sql<{ n: number }>`select count(*)::int as n from grids`.execute(db())).rows[0].n;
    const api = (await (await fetch(`${baseUrl}/ogc/collections/grids/items`)).json()) as { numberMatched: number };
    expect(api.numberMatched).toBe(stored);
    await expect(page.getByTestId('counts').textContent()).resolves.toBe(`10 of ${stored} features, 10 a page`);

    // one shape per row, each drawn inside the sketch with an area of its own (not collapsed, not off the edge)
    const sketch = page.getByTestId('sketch');
    const frame = (await sketch.boundingBox())!;
    const shapes = await sketch.locator('path, circle').evaluateAll((nodes) =>
      nodes.map((n) => {
        const box = n.getBoundingClientRect();
        return { href: n.parentElement!.getAttribute('href'), x: box.x, y: box.y, width: box.width, height: box.height };
      }),
    );
    expect(shapes.map((s) => Number(/items\/(\d+)/.exec(s.href ?? '')?.[1]))).toEqual(await gridIds(0));
    for (const s of shapes) {
      expect(s.width * s.height).toBeGreaterThan(4);
      expect(s.x).toBeGreaterThanOrEqual(frame.x - 1);
      expect(s.y).toBeGreaterThanOrEqual(frame.y - 1);
      expect(s.x + s.width).toBeLessThanOrEqual(frame.x + frame.width + 1);
      expect(s.y + s.height).toBeLessThanOrEqual(frame.y + frame.height + 1);
    }
    // north up, east right: the northernmost grid is drawn highest, the easternmost furthest right
    const {
      rows: [ends],
    } = await sql<{ north: number; south: number; east: number; west: number }>`
      with c as (select id, ST_Centroid(geom) as p from grids where id in (select id from grids order by id limit 10))
      select (select id from c order by ST_Y(p) desc limit 1) as north, (select id from c order by ST_Y(p) limit 1) as south,
             (select id from c order by ST_X(p) desc limit 1) as east, (select id from c order by ST_X(p) limit 1) as west`.execute(db());
    const centre = (id: number) => {
      const s = shapes.find((shape) => shape.href?.includes(`/items/${id}?`))!;
      return { x: s.x + s.width / 2, y: s.y + s.height / 2 };
    };
    expect(centre(ends.north).y).toBeLessThan(centre(ends.south).y);
    expect(centre(ends.east).x).toBeGreaterThan(centre(ends.west).x);
    // a wide table scrolls in its frame; the page itself stays as wide as the window
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    await page.screenshot({ path: `test-results/ogc-items-${mode}.png`, fullPage: true });

    await page.locator('a[rel="next"]').first().click();
    await page.waitForURL(/after=/);
    expect(await idsShown()).toEqual(await gridIds(10));
    expect(await page.getByTestId('sketch').locator('path').count()).toBe(10);
    await page.screenshot({ path: `test-results/ogc-items-next-${mode}.png`, fullPage: true });

    await page.locator('a[rel="prev"]').first().click();
    await page.waitForURL(/before=/);
    expect(await idsShown()).toEqual(await gridIds(0));
    // the first page has nothing before it
    expect(await page.locator('a[rel="prev"]').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it("opens one grid with its properties, the grid worker's phone masked", async () => {
    const [id] = await gridIds(0);
    await page
      .getByTestId('items')
      .getByRole('link', { name: String(id), exact: true })
      .click();
    await page.getByTestId('feature').waitFor();
    const shown = Object.fromEntries(
      await page
        .getByTestId('feature')
        .locator('tr')
        .evaluateAll((rows) => rows.map((r) => [r.querySelector('th')!.textContent, r.querySelector('td')!.textContent])),
    );
    const {
      rows: [grid],
    } = await sql<{ name: string; code: string; phone: string; masked: string }>`
      select name, code, grid_worker_phone as phone, masked_phone(grid_worker_phone) as masked from grids where id = ${id}`.execute(db());
    expect(grid.phone).toMatch(/^1\d{10}$/);
    expect(shown).toMatchObject({ name: grid.name, code: grid.code, grid_worker_phone: grid.masked });
    expect(await page.getByTestId('sketch').locator('path').count()).toBe(1);
    await page.screenshot({ path: `test-results/ogc-feature-${mode}.png`, fullPage: true });
    expect(errors).toEqual([]);
  });

  it('shows a planner in the web client where to connect a GIS, its layers with their counts, and a read-only key that signs the GIS in, until revoked', async () => {
    const planner = await openAs(browser, baseUrl, 'planner', errors);
    await planner.getByRole('link', { name: 'GIS 数据服务', exact: true }).click();
    const panel = planner.getByTestId('gis');
    expect(await panel.locator('input[name="ogc-url"]').inputValue()).toBe(`${baseUrl}/ogc`);
    const rows = panel.getByTestId('gis-collections').locator('tbody tr');
    await expect.poll(() => rows.count(), LIVE).toBe(8);
    const shown = Object.fromEntries(
      await rows.evaluateAll((trs) =>
        trs.map((tr) => [tr.getAttribute('data-collection'), Number(tr.lastElementChild!.textContent!.replace(/,/g, ''))]),
      ),
    );
    const {
      rows: [scope],
    } = await sql<{ community: number }>`select scope_community_id as community from users where username = 'planner'`.execute(db());
    const {
      rows: [counts],
    } = await sql<Record<string, number>>`
      select (select count(*)::int from districts where code = (select left(street_code, 6) from communities where id = ${scope.community})) as districts,
             (select count(*)::int from streets where code = (select street_code from communities where id = ${scope.community})) as streets,
             (select count(*)::int from communities where id = ${scope.community}) as communities,
             (select count(*)::int from grids where community_id = ${scope.community}) as grids,
             (select count(*)::int from buildings where community_id = ${scope.community}) as buildings,
             (select count(*)::int from units where community_id = ${scope.community}) as units,
             (select count(*)::int from issues where community_id = ${scope.community}) as issues,
             (select count(*)::int from members where community_id = ${scope.community}) as members`.execute(db());
    expect(shown).toEqual(counts);

    // a read-only key for the GIS, shown once, listed by its label; it reads as the planner and may not write
    await panel.locator('form.gis-key input[name="label"]').fill('QGIS 规划科');
    await panel.getByRole('button', { name: '创建只读密钥' }).click();
    const headerInput = panel.locator('input[name="ogc-header"]');
    await headerInput.waitFor();
    const header = await headerInput.inputValue();
    expect(header).toMatch(/^Authorization: Bearer [\w-]{20,}$/);
    expect(await panel.getByTestId('gis-commands').textContent()).toContain(header);
    await expect.poll(() => panel.getByTestId('gis-keys').locator('tbody tr td').first().textContent(), LIVE).toBe('QGIS 规划科');
    const authorization = header.slice('Authorization: '.length);
    const asPlanner = await (
      await fetch(`${baseUrl}/ogc/collections/buildings/items?limit=1`, { headers: { Authorization: authorization } })
    ).json();
    expect(asPlanner.numberMatched).toBe(counts.buildings);
    const write = await fetch(`${baseUrl}/api/v1/auth/keys`, {
      method: 'POST',
      headers: { Authorization: authorization, 'Content-Type': 'application/json' },
      body: '{"label":"x"}',
    });
    expect(write.status).toBe(403);
    await planner.screenshot({ path: `test-results/ogc-gis-panel-${mode}.png` });
    // revoked from the panel: the key stops working
    await panel.getByTestId('gis-keys').getByRole('button', { name: '撤销' }).click();
    await expect.poll(() => panel.getByTestId('gis-keys').count(), LIVE).toBe(0);
    expect((await fetch(`${baseUrl}/ogc/collections`, { headers: { Authorization: authorization } })).status).toBe(401);
    expect(errors).toEqual([]);
    await planner.close();
  });

  it('answers 401 with a problem, not a page, for a private collection asked for as HTML without a token', async () => {
    // a page of its own: its 401 is the point here, not an error of the pages above
    const other = await browser.newPage();
    const response = (await other.goto(`${baseUrl}/ogc/collections/buildings?f=html`))!;
    expect(response.status()).toBe(401);
    expect(response.headers()['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(await response.text())).toMatchObject({ status: 401, field: 'Authorization' });
    await other.close();
  });
});
