import { readFile, writeFile } from 'node:fs/promises';
import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { apiAs, LIVE, openAs } from './pages.ts';

type Rgb = [number, number, number];
interface Area { id: number; properties: Record<string, any> } // eslint-disable-line @typescript-eslint/no-explicit-any
interface LegendItem { colour: string; from: number | null; to: number | null }

const rgb = (hex: string): Rgb => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as Rgb;
const distance = (a: Rgb, b: Rgb) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

/** Resolves when MapLibre has drawn everything it was asked to. */
const idle = (page: Page) => page.evaluate(() => new Promise<void>((resolve) => {
  const map = window.gridmap!.map;
  map.once('idle', () => resolve());
  map.triggerRepaint();
}));

/** The colours the map shows at longitude/latitude points, read off its canvas right after it drew a frame. */
const coloursAt = (page: Page, points: [number, number][]) => page.evaluate((at) => new Promise<Rgb[]>((resolve) => {
  const map = window.gridmap!.map;
  map.once('render', () => {
    const drawn = map.getCanvas();
    const copy = Object.assign(document.createElement('canvas'), { width: drawn.width, height: drawn.height });
    const context = copy.getContext('2d')!;
    context.drawImage(drawn, 0, 0);
    const ratio = drawn.width / drawn.clientWidth;
    resolve(at.map((lonLat) => {
      const { x, y } = map.project(lonLat);
      const [r, g, b] = context.getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
      return [r, g, b] as Rgb;
    }));
  });
  map.triggerRepaint();
}), points);

describe.skipIf(!haveBrowser)(`the leaders' coverage view in headless Chromium (${mode} database)`, () => {
  let test: TestDatabase;
  let pages: Awaited<ReturnType<typeof servePages>> | undefined;
  let browser: Browser;
  let baseUrl: string;
  let api: ReturnType<typeof apiAs>;
  let page: Page;
  const errors: string[] = [];
  /** the tiles the page asked for, with the status each got */
  const tiles: { url: string; status: number }[] = [];
  /** the communities as the leader reads them */
  let communities: Area[];
  /** points well inside each community and grid (by id), to read the map's colour at */
  let inside: { communities: Map<number, [number, number][]>; grids: Map<number, [number, number][]> };

  const panel = () => page.getByTestId('coverage');
  const legend = () => panel().getByTestId('coverage-legend');
  const legendItems = () => legend().locator('li').evaluateAll((items) => items.map((li) => ({
    colour: li.getAttribute('data-colour')!,
    from: li.hasAttribute('data-from') ? Number(li.getAttribute('data-from')) : null,
    to: li.hasAttribute('data-to') ? Number(li.getAttribute('data-to')) : null,
  })));

  /** The legend's colour for a value: the class that holds it (the last one up to and with its top). */
  const classOf = (items: LegendItem[], value: number) => {
    const classes = items.filter((item) => item.from !== null);
    return classes.find((c, i) => value >= c.from! && (i === classes.length - 1 ? value <= c.to! : value < c.to!))?.colour;
  };
  /**
   * The legend colour each area is drawn in: at each of its points the legend's colour nearest to the pixel
   * (the fill is translucent over buildings and lines), then the one most of its points show.
   */
  const drawnClasses = async (areas: Map<number, [number, number][]>, items: LegendItem[]) => {
    const ids = [...areas.keys()];
    const pixels = await coloursAt(page, ids.flatMap((id) => areas.get(id)!));
    const palette = items.map((item) => item.colour);
    let next = 0;
    return new Map(ids.map((id) => {
      const votes = new Map<string, number>();
      for (const pixel of pixels.slice(next, (next += areas.get(id)!.length))) {
        const nearest = palette.reduce((best, colour) => (distance(rgb(colour), pixel) < distance(rgb(best), pixel) ? colour : best));
        votes.set(nearest, (votes.get(nearest) ?? 0) + 1);
      }
      return [id, [...votes].sort((a, b) => b[1] - a[1])[0][0]];
    }));
  };

  beforeAll(async () => {
    test = await openTestDatabase();
    pages = await servePages(test.database);
    ({ browser, baseUrl } = pages);
    api = apiAs(test.database, baseUrl);
    communities = (await api('leader', '/api/v1/coverage/communities')).body.features;
    const pointsIn = async (table: 'communities' | 'grids') => {
      const { rows } = await sql<{ id: number; lon: number; lat: number }>`
        select a.id, ST_X(p.geom) as lon, ST_Y(p.geom) as lat
        from ${sql.table(table)} a, ST_DumpPoints(ST_GeneratePoints(ST_Buffer(a.geom, -0.0004), 24, 1)) p`.execute(test.database.db);
      const points = new Map<number, [number, number][]>();
      for (const { id, lon, lat } of rows) points.set(id, [...(points.get(id) ?? []), [lon, lat]]);
      return points;
    };
    const [inCommunities, inGrids] = [await pointsIn('communities'), await pointsIn('grids')];
    inside = { communities: new Map(communities.map((c) => [c.id, inCommunities.get(c.id)!])), grids: inGrids };

    page = await openAs(browser, baseUrl, 'leader', errors);
    page.on('response', (r) => r.url().includes('/tiles/') && tiles.push({ url: r.url(), status: r.status() }));
    await page.getByRole('button', { name: '覆盖', exact: true }).click();
    await panel().waitFor();
  });
  afterAll(async () => {
    await pages?.close();
    await test?.drop();
  });

  it('colours the communities by the metric chosen, as the legend says, and recolours them when the metric changes', async () => {
    await expect.poll(() => legend().locator('figcaption').textContent(), LIVE).toBe('志愿者覆盖率（500 米内，%）');
    await idle(page);
    const reach = await legendItems();
    for (const [id, colour] of await drawnClasses(inside.communities, reach)) {
      const community = communities.find((c) => c.id === id)!;
      expect(colour, community.properties.name).toBe(classOf(reach, community.properties.volunteer_reach));
    }
    await page.screenshot({ path: `test-results/coverage-reach-${mode}.png` });

    await panel().locator('select[name="metric"]').selectOption('members_per_100_households');
    await expect.poll(() => legend().locator('figcaption').textContent(), LIVE).toBe('每百户党员数');
    const perHundred = await legendItems();
    // classes of the new figures: other breaks, and as many classes as the figures allow (4 communities, 4 values)
    expect(perHundred.map((i) => i.from)).not.toEqual(reach.map((i) => i.from));
    const values = communities.map((c) => c.properties.members_per_100_households as number);
    expect(perHundred.length).toBe(Math.min(new Set(values).size, 5));
    expect(perHundred[0].from).toBe(Math.min(...values));
    await idle(page);
    const drawn = await drawnClasses(inside.communities, perHundred);
    for (const community of communities) expect(drawn.get(community.id), community.properties.name).toBe(classOf(perHundred, community.properties.members_per_100_households));
    // the worst (fewest members per household) in the legend's red, the best in its green
    expect(new Set(drawn.values()).size).toBe(perHundred.length);
    const worst = communities.reduce((a, b) => (a.properties.members_per_100_households < b.properties.members_per_100_households ? a : b));
    expect(drawn.get(worst.id)).toBe('#d7191c');
    await page.screenshot({ path: `test-results/coverage-communities-${mode}.png` });
    expect(errors).toEqual([]);
  });

  it('ranks the communities worst first with their staffing standard, short in red, and exports the table as CSV', async () => {
    const table = panel().getByTestId('coverage-communities');
    const rows = table.locator('tbody tr');
    expect(await rows.count()).toBe(communities.length);
    const ranked = [...communities].sort((a, b) => a.properties.members_per_100_households - b.properties.members_per_100_households);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-area'))))).toEqual(ranked.map((c) => c.id));
    const short = communities.filter((c) => c.properties.staffing === 'short');
    expect(short.length).toBeGreaterThan(0);
    expect(await table.locator('td[data-standard="short"]').count()).toBe(short.length);
    for (const community of short) {
      const cell = table.locator(`tr[data-area="${community.id}"] td[data-standard]`);
      const { staff_count, staff_required_min, staff_required_max } = community.properties;
      expect(await cell.textContent()).toBe(`${staff_count} / ${staff_required_min}–${staff_required_max} 人员不足`);
      expect(await cell.evaluate((td) => getComputedStyle(td).color)).toBe('rgb(192, 57, 43)');
    }

    const [download] = await Promise.all([page.waitForEvent('download'), table.getByRole('button', { name: '导出表格 CSV' }).click()]);
    expect(download.suggestedFilename()).toBe('coverage-communities-members_per_100_households.csv');
    const bytes = await readFile((await download.path())!);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.subarray(3).toString('utf8').trimEnd().split('\r\n');
    await writeFile(`test-results/coverage-communities-${mode}.csv`, bytes);
    expect(lines[0].split(',').slice(0, 5)).toEqual(['排名', '编码', '名称', '街道', '志愿者覆盖率（500 米内，%）']);
    expect(lines[0]).toContain('每百户党员数');
    expect(lines[0].endsWith('社区工作者（实有）,应配下限,应配上限,配备标准')).toBe(true);
    expect(lines).toHaveLength(1 + communities.length);
    // one row per community, worst first, with its figures and its standard
    expect(lines.slice(1).map((line) => line.split(',').slice(0, 3))).toEqual(ranked.map((c, i) => [String(i + 1), c.properties.code, c.properties.name]));
    const row = lines[1 + ranked.findIndex((c) => c.id === short[0].id)].split(',');
    expect(row.slice(-4)).toEqual([String(short[0].properties.staff_count), String(short[0].properties.staff_required_min), String(short[0].properties.staff_required_max), '人员不足']);
    expect(errors).toEqual([]);
  });

  it('shows one community\'s grids from the vector tiles when its row is clicked, coloured by the metric', async () => {
    // the community with the most buildings out of reach at 200 m (the last of the street in the demo city)
    const gapsAt200 = await Promise.all(communities.map(async (c) => (await api('leader', `/api/v1/coverage/gaps?community=${c.id}&reach_m=200`)).body));
    const chosen = communities[gapsAt200.reduce((best, g, i) => (g.numberReturned > gapsAt200[best].numberReturned ? i : best), 0)];
    await panel().getByTestId('coverage-communities').locator(`tr[data-area="${chosen.id}"] button`).click();
    // the map moved to it: centred on it, all of it in view
    const { rows: [box] } = await sql<{ lon: number; lat: number }>`
      select (ST_XMin(geom) + ST_XMax(geom)) / 2 as lon, (ST_YMin(geom) + ST_YMax(geom)) / 2 as lat from communities where id = ${chosen.id}`.execute(test.database.db);
    const centre = () => page.evaluate(() => window.gridmap!.map.getCenter().toArray());
    await expect.poll(async () => Math.hypot(...(await centre()).map((v, i) => v - [box.lon, box.lat][i])), LIVE).toBeLessThan(0.0002);
    const [west, south, east, north] = await page.evaluate(() => window.gridmap!.map.getBounds().toArray().flat());
    expect(inside.communities.get(chosen.id)!.every(([lon, lat]) => lon > west && lon < east && lat > south && lat < north)).toBe(true);
    expect(await panel().getByTestId('coverage-communities').locator(`tr[data-area="${chosen.id}"] button`).getAttribute('aria-pressed')).toBe('true');

    await panel().locator('select[name="level"]').selectOption('grids');
    const grids: Area[] = (await api('leader', `/api/v1/coverage/grids?community=${chosen.id}`)).body.features;
    const table = panel().getByTestId('coverage-grids');
    await expect.poll(() => table.locator('tbody tr').count(), LIVE).toBe(grids.length);
    await idle(page);
    const rendered = await page.evaluate(() => window.gridmap!.map.queryRenderedFeatures({ layers: ['coverage-grids'] })
      .map((f) => ({ id: f.id, source: f.source, sourceLayer: f.sourceLayer, community: f.properties.community_id })));
    expect(new Set(rendered.map((f) => f.id))).toEqual(new Set(grids.map((g) => g.id)));
    expect(rendered.every((f) => f.source === 'coverage-grids' && f.sourceLayer === 'grids' && f.community === chosen.id)).toBe(true);
    // every tile asked for carried the session (an empty tile answers 204)
    expect(tiles.some((t) => t.url.includes('/tiles/grids/') && t.status === 200)).toBe(true);
    expect(tiles.filter((t) => ![200, 204, 304].includes(t.status))).toEqual([]);

    const items = await legendItems();
    const ownGrids = new Map(grids.map((g) => [g.id, inside.grids.get(g.id)!]));
    const drawn = await drawnClasses(ownGrids, items);
    for (const grid of grids) expect(drawn.get(grid.id), grid.properties.name).toBe(classOf(items, grid.properties.members_per_100_households));
    await table.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `test-results/coverage-grids-${mode}.png` });
    expect(errors).toEqual([]);
  });

  it('marks the buildings no volunteer reaches in the chosen community at a small reach, with their count and households', async () => {
    const community = Number(await panel().locator('select[name="community"]').inputValue());
    await panel().locator('select[name="reach"]').selectOption('500');
    const none = (await api('leader', `/api/v1/coverage/gaps?community=${community}&reach_m=500`)).body;
    const gaps = panel().getByTestId('coverage-gaps');
    if (none.numberReturned === 0) await expect.poll(() => gaps.textContent(), LIVE).toContain('所有住户附近都有在岗志愿者');

    await panel().locator('select[name="reach"]').selectOption('200');
    const expected = (await api('leader', `/api/v1/coverage/gaps?community=${community}&reach_m=200`)).body;
    expect(expected.numberReturned).toBeGreaterThan(0);
    await expect.poll(() => gaps.locator('[data-count="buildings"]').textContent(), LIVE).toBe(String(expected.numberReturned));
    expect(await gaps.locator('[data-count="households"]').textContent()).toBe(String(expected.households));
    await idle(page);
    const drawn = await page.evaluate(() => window.gridmap!.map.queryRenderedFeatures({ layers: ['coverage-gaps'] }).map((f) => f.id));
    expect(new Set(drawn)).toEqual(new Set(expected.features.map((f: Area) => f.id)));
    // drawn in the warning colour: the middle of the largest one is magenta
    const largest = expected.features.reduce((a: Area, b: Area) => (a.properties.households >= b.properties.households ? a : b));
    const { rows: [middle] } = await sql<{ lon: number; lat: number }>`
      select ST_X(p) as lon, ST_Y(p) as lat from buildings b, ST_PointOnSurface(b.geom) p where b.id = ${largest.id}`.execute(test.database.db);
    const [pixel] = await coloursAt(page, [[middle.lon, middle.lat]]);
    expect(distance(pixel, rgb('#e6007e'))).toBeLessThan(60);
    await page.screenshot({ path: `test-results/coverage-gaps-${mode}.png` });
    expect(errors).toEqual([]);
  });

  it('classes the grids of the whole city by those in view, as they come in tiles', async () => {
    await panel().locator('select[name="community"]').selectOption('');
    await panel().locator('select[name="metric"]').selectOption('households');
    await expect.poll(() => legend().textContent(), LIVE).toContain('分级按地图上可见的网格计算');
    await page.evaluate(() => window.gridmap!.map.zoomOut({ duration: 0 }));
    await idle(page);
    const inView = await page.evaluate(() => window.gridmap!.map.queryRenderedFeatures({ layers: ['coverage-grids'] })
      .map((f) => ({ id: f.id as number, households: f.properties.households as number })));
    // grids of other communities too, with their figures from the tiles
    expect(new Set(inView.map((g) => g.id)).size).toBeGreaterThan(5);
    const households = inView.map((g) => g.households);
    await expect.poll(async () => (await legendItems())[0].from, LIVE).toBe(Math.min(...households));
    const items = await legendItems();
    expect(items.at(-1)!.to).toBe(Math.max(...households));
    const drawn = await drawnClasses(new Map(inView.map((g) => [g.id, inside.grids.get(g.id)!])), items);
    for (const grid of inView) expect(drawn.get(grid.id)).toBe(classOf(items, grid.households));
    await page.screenshot({ path: `test-results/coverage-grids-in-view-${mode}.png` });
    expect(errors).toEqual([]);
  });

  it('lays members and volunteers as hexagons and the issues as heat over the map, each with its own toggle', async () => {
    await panel().locator('select[name="level"]').selectOption('communities');
    // the points of the communities in view (the map still shows the one chosen)
    const [west, south, east, north] = await page.evaluate(() => window.gridmap!.map.getBounds().toArray().flat());
    const points = [...inside.communities.values()].flat().filter(([lon, lat]) => lon > west && lon < east && lat > south && lat < north);
    expect(points.length).toBeGreaterThan(20);
    const before = await coloursAt(page, points);
    await panel().getByRole('checkbox', { name: '党员（每六边形人数）' }).check();
    await panel().getByRole('checkbox', { name: '志愿者（每六边形人数）' }).check();
    await expect.poll(() => panel().getByTestId('coverage-legend-members').locator('li').count(), LIVE).toBeGreaterThan(0);
    await idle(page);
    const hexagons = (layer: string) => page.evaluate((id) => window.gridmap!.map.queryRenderedFeatures({ layers: [id] }).map((f) => f.properties), layer);
    const members = await hexagons('coverage-members');
    const volunteers = await hexagons('coverage-volunteers');
    expect(members.length).toBeGreaterThan(0);
    // never fewer than all the volunteers of a cell, and counted in the members' cells too
    expect(members.every((cell) => cell.count >= cell.volunteers)).toBe(true);
    expect(volunteers.every((cell) => cell.count >= cell.available)).toBe(true);
    // the legend's classes span what is drawn
    const memberClasses = await panel().getByTestId('coverage-legend-members').locator('li').evaluateAll((lis) => lis.map((li) => Number(li.getAttribute('data-from'))));
    expect(memberClasses[0]).toBe(Math.min(...members.map((cell) => cell.count)));
    await page.screenshot({ path: `test-results/coverage-hexagons-${mode}.png` });

    await panel().getByRole('checkbox', { name: '党员（每六边形人数）' }).uncheck();
    await panel().getByRole('checkbox', { name: '志愿者（每六边形人数）' }).uncheck();
    await idle(page);
    expect(await hexagons('coverage-members')).toEqual([]);
    // the issues' heat is not queryable: it shows in the pixels
    await panel().getByRole('checkbox', { name: '问题热力' }).check();
    await idle(page);
    const heated = await coloursAt(page, points);
    const changed = heated.filter((pixel, i) => distance(pixel, before[i]) > 30).length;
    expect(changed).toBeGreaterThan(heated.length / 10);
    await page.screenshot({ path: `test-results/coverage-heat-${mode}.png` });
    await panel().getByRole('checkbox', { name: '问题热力' }).uncheck();
    expect(errors).toEqual([]);
  });

  it('exports the map with its legend as a PNG, and speaks English on request', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), panel().getByRole('button', { name: '导出地图 PNG' }).click()]);
    const png = await readFile((await download.path())!);
    await writeFile(`test-results/coverage-export-${mode}.png`, png);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const size = await page.evaluate(() => [window.gridmap!.map.getCanvas().width, window.gridmap!.map.getCanvas().height]);
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual(size);

    await page.getByRole('button', { name: 'English' }).click();
    await expect.poll(() => legend().locator('figcaption').textContent(), LIVE).toBe('Households');
    expect(await panel().getByTestId('coverage-communities').locator('caption').textContent()).toBe('Communities');
    await page.screenshot({ path: `test-results/coverage-english-${mode}.png` });
    await page.getByRole('button', { name: '中文' }).click();
    expect(errors).toEqual([]);
  });
});
