import { readFile, writeFile } from 'node:fs/promises';
import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { apiAs, coloursAt, LIVE, mapIdle as idle, openAs, type Rgb } from './pages.ts';

interface Area {
  id: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- figures of every kind, read by name in the checks
  properties: Record<string, any>;
}
interface LegendItem {
  colour: string;
  from: number | null;
  to: number | null;
}

const rgb = (hex: string): Rgb => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as Rgb;
/** A figure as the table writes it, in steps of `scale` (rates to 0.1 %: 1000; per 100 households to 0.1: 10): what it is classed by. */
const written = (value: number, scale: number) => Math.round(value * scale) / scale;
const [RATE, TENTHS] = [1000, 10];
/** Whether a legend's label ("< 20%", "20% – 22.5%", "≥ 28.3%", "100%") holds a figure as the table writes it ("22.6%"). */
function holds(label: string, figure: string) {
  const number = (text: string) => Number(text.replace('%', ''));
  const [, op, a, b] = /^(<|≥)? ?([\d.]+%?)(?: – ([\d.]+%?))?$/.exec(label) ?? [];
  if (a === undefined) return false;
  const value = number(figure);
  return op === '<'
    ? value < number(a)
    : op === '≥'
      ? value >= number(a)
      : b
        ? value >= number(a) && value <= number(b)
        : value === number(a);
}
const distance = (a: Rgb, b: Rgb) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

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
  /** such points in every community of the city */
  let insideAll: Map<number, [number, number][]>;
  /** and in every street and district */
  let insideAreas: { streets: Map<number, [number, number][]>; districts: Map<number, [number, number][]> };

  const panel = () => page.getByTestId('coverage');
  const legend = () => panel().getByTestId('coverage-legend');
  const legendItems = () =>
    legend()
      .locator('li')
      .evaluateAll((items) =>
        items.map((li) => ({
          colour: li.getAttribute('data-colour')!,
          from: li.hasAttribute('data-from') ? Number(li.getAttribute('data-from')) : null,
          to: li.hasAttribute('data-to') ? Number(li.getAttribute('data-to')) : null,
        })),
      );

  /** The legend's colour for a value: the class that holds it (the last one up to and with its top). */
  const classOf = (items: LegendItem[], value: number) => {
    const classes = items.filter((item) => item.from !== null);
    return classes.find((c, i) => value >= c.from! && (i === classes.length - 1 ? value <= c.to! : value < c.to!))?.colour;
  };
  /**
   * The legend colour each area is drawn in: at each of its points the legend's colour nearest to the pixel
   * (the fill is translucent over buildings and lines), then the one most of its points show; on the
   * leader's page unless another is named.
   */
  const drawnClasses = async (areas: Map<number, [number, number][]>, items: Pick<LegendItem, 'colour'>[], on = page) => {
    const ids = [...areas.keys()];
    const pixels = await coloursAt(
      on,
      ids.flatMap((id) => areas.get(id)!),
    );
    const palette = items.map((item) => item.colour);
    let next = 0;
    return new Map(
      ids.map((id) => {
        const votes = new Map<string, number>();
        for (const pixel of pixels.slice(next, (next += areas.get(id)!.length))) {
          const nearest = palette.reduce((best, colour) => (distance(rgb(colour), pixel) < distance(rgb(best), pixel) ? colour : best));
          votes.set(nearest, (votes.get(nearest) ?? 0) + 1);
        }
        return [id, [...votes].sort((a, b) => b[1] - a[1])[0][0]];
      }),
    );
  };

  beforeAll(async () => {
    test = await openTestDatabase();
    pages = await servePages(test.database);
    ({ browser, baseUrl } = pages);
    api = apiAs(test.database, baseUrl);
    communities = (await api('leader', '/api/v1/coverage/communities')).body.features;
    const pointsIn = async (table: 'districts' | 'streets' | 'communities' | 'grids') => {
      const { rows } = await sql<{ id: number; lon: number; lat: number }>`
        select a.id, ST_X(p.geom) as lon, ST_Y(p.geom) as lat
        from ${sql.table(table)} a, ST_DumpPoints(ST_GeneratePoints(ST_Buffer(a.geom, -0.0004), 24, 1)) p`.execute(test.database.db);
      const points = new Map<number, [number, number][]>();
      for (const { id, lon, lat } of rows) points.set(id, [...(points.get(id) ?? []), [lon, lat]]);
      return points;
    };
    const [inCommunities, inGrids] = [await pointsIn('communities'), await pointsIn('grids')];
    inside = { communities: new Map(communities.map((c) => [c.id, inCommunities.get(c.id)!])), grids: inGrids };
    insideAll = inCommunities;
    insideAreas = { streets: await pointsIn('streets'), districts: await pointsIn('districts') };

    page = await openAs(browser, baseUrl, 'leader', errors);
    page.on('response', (r) => r.url().includes('/tiles/') && tiles.push({ url: r.url(), status: r.status() }));
    await page.getByRole('link', { name: '覆盖', exact: true }).click();
    await panel().waitFor();
  });
  afterAll(async () => {
    await pages?.close();
    await test?.drop();
  });

  it('opens on the communities the leader reads, coloured by the metric chosen as the legend says, and recolours them when the metric changes', async () => {
    await expect.poll(() => legend().locator('figcaption').textContent(), LIVE).toBe('志愿者覆盖率（500 米内，%）');
    await idle(page);
    // the map fitted to them (not to the whole city): every one of them in view
    const [west, south, east, north] = await page.evaluate(() => window.gridmap!.map.getBounds().toArray().flat());
    for (const [id, points] of inside.communities)
      expect(
        points.every(([lon, lat]) => lon > west && lon < east && lat > south && lat < north),
        String(id),
      ).toBe(true);
    const reach = await legendItems();
    for (const [id, colour] of await drawnClasses(inside.communities, reach)) {
      const community = communities.find((c) => c.id === id)!;
      expect(colour, community.properties.name).toBe(classOf(reach, written(community.properties.volunteer_reach, RATE)));
    }
    await page.screenshot({ path: `test-results/coverage-reach-${mode}.png` });

    await panel().locator('select[name="metric"]').selectOption('members_per_100_households');
    await expect.poll(() => legend().locator('figcaption').textContent(), LIVE).toBe('每百户党员数');
    const perHundred = await legendItems();
    // classes of the new figures: other breaks, and as many classes as the figures allow (4 communities, 4 values)
    expect(perHundred.map((i) => i.from)).not.toEqual(reach.map((i) => i.from));
    const values = communities.map((c) => written(c.properties.members_per_100_households, TENTHS));
    expect(perHundred.length).toBe(Math.min(new Set(values).size, 5));
    expect(perHundred[0].from).toBe(Math.min(...values));
    await idle(page);
    const drawn = await drawnClasses(inside.communities, perHundred);
    for (const community of communities) {
      expect(drawn.get(community.id), community.properties.name).toBe(
        classOf(perHundred, written(community.properties.members_per_100_households, TENTHS)),
      );
    }
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
    // one row per community, worst first, with its figures and its standard; its code as text (="…"), which
    // Excel and WPS keep as written rather than as a number (6.10602E+11)
    expect(lines.slice(1).map((line) => line.split(',').slice(0, 3))).toEqual(
      ranked.map((c, i) => [String(i + 1), `="${c.properties.code}"`, c.properties.name]),
    );
    expect(communities.every((c) => /^\d{12}$/.test(c.properties.code))).toBe(true);
    const row = lines[1 + ranked.findIndex((c) => c.id === short[0].id)].split(',');
    expect(row.slice(-4)).toEqual([
      String(short[0].properties.staff_count),
      String(short[0].properties.staff_required_min),
      String(short[0].properties.staff_required_max),
      '人员不足',
    ]);
    expect(errors).toEqual([]);
  });

  it("colours the leader's street by the metric as its communities are, its row and the map linked; its district, which reaches past the street, has no figures", async () => {
    const [street]: Area[] = (await api('leader', '/api/v1/coverage/streets')).body.features;
    const [district]: Area[] = (await api('leader', '/api/v1/coverage/districts')).body.features;
    expect(district.properties.figures_withheld).toBe(true);
    // the metric of the test before: members per 100 households
    expect(await panel().locator('select[name="metric"]').inputValue()).toBe('members_per_100_households');
    await panel().locator('select[name="level"]').selectOption('streets');
    const table = panel().getByTestId('coverage-streets');
    const rows = table.locator('tbody tr');
    await expect.poll(() => rows.count(), LIVE).toBe(1);
    expect(await table.locator('caption').textContent()).toBe('按街道（社区合计）');
    const figure = written(street.properties.members_per_100_households, TENTHS);
    expect(await rows.first().evaluate((tr) => [...tr.children].map((cell) => cell.textContent))).toEqual([
      '1',
      `${street.properties.name} 宝塔区`,
      figure.toFixed(1),
      String(street.properties.communities),
    ]);
    // no community chosen at this level, nor its gaps; the staffing standard is the communities'
    expect(await panel().locator('select[name="community"]').count()).toBe(0);
    expect(await panel().getByTestId('coverage-communities').count()).toBe(0);
    expect(await panel().locator('select[name="metric"] option[value="staffing"]').count()).toBe(0);

    // the street drawn from the coverage answer, in the legend's class of its figure
    await idle(page);
    const items = await legendItems();
    expect(items.map((item) => item.from)).toEqual([figure]);
    const drawnAreas = () =>
      page.evaluate(() => [...new Set(window.gridmap!.map.queryRenderedFeatures({ layers: ['coverage-areas'] }).map((f) => f.id))]);
    expect(await drawnAreas()).toEqual([street.id]);
    const own = new Map([[street.id, insideAreas.streets.get(street.id)!]]);
    expect((await drawnClasses(own, [...items, { colour: '#bdbdbd' }])).get(street.id)).toBe(classOf(items, figure));

    // a click on its row: chosen, shown on the map and outlined there
    await page.evaluate(() => window.gridmap!.map.jumpTo({ center: [0, 0] }));
    await rows.first().locator('button').click();
    const centre = () => page.evaluate(() => window.gridmap!.map.getCenter().toArray());
    const middleOf = async (table: 'streets' | 'districts', id: number) =>
      (
        await sql<{ lon: number; lat: number }>`
      select (ST_XMin(geom) + ST_XMax(geom)) / 2 as lon, (ST_YMin(geom) + ST_YMax(geom)) / 2 as lat from ${sql.table(table)} where id = ${id}`.execute(
          test.database.db,
        )
      ).rows[0];
    const middle = await middleOf('streets', street.id);
    await expect
      .poll(async () => Math.hypot(...(await centre()).map((v, i) => v - [middle.lon, middle.lat][i])), LIVE)
      .toBeLessThan(0.0002);
    expect(await rows.first().locator('button').getAttribute('aria-pressed')).toBe('true');
    await idle(page);
    expect(
      await page.evaluate(() => [
        ...new Set(window.gridmap!.map.queryRenderedFeatures({ layers: ['coverage-chosen-area'] }).map((f) => f.id)),
      ]),
    ).toEqual([street.id]);
    await page.setViewportSize({ width: 1440, height: 900 });
    await idle(page);
    await page.screenshot({ path: `test-results/coverage-streets-${mode}.png` });

    // the district: listed and drawn, grey, with no figures; the legend says why
    await panel().locator('select[name="level"]').selectOption('districts');
    const districts = panel().getByTestId('coverage-districts');
    await expect.poll(() => districts.locator('tbody tr').count(), LIVE).toBe(1);
    expect(await districts.locator('caption').textContent()).toBe('按区县（社区合计）');
    expect(
      await districts
        .locator('tbody tr')
        .first()
        .evaluate((tr) => [...tr.children].map((cell) => cell.textContent)),
    ).toEqual(['1', district.properties.name, '—', String(district.properties.communities)]);
    await expect.poll(() => legend().textContent(), LIVE).toContain('超出您查看范围的区域');
    expect(await legend().locator('li').allTextContents()).toEqual(['无数据']);
    await districts.locator('tbody tr button').click();
    const middleOfDistrict = await middleOf('districts', district.id);
    await expect
      .poll(async () => Math.hypot(...(await centre()).map((v, i) => v - [middleOfDistrict.lon, middleOfDistrict.lat][i])), LIVE)
      .toBeLessThan(0.0002);
    await idle(page);
    expect(await drawnAreas()).toEqual([district.id]);
    // grey, not any class's colour
    const ramp = ['#d7191c', '#fdae61', '#fee08b', '#a6d96a', '#1a9641', '#bdbdbd'].map((colour) => ({ colour }));
    expect((await drawnClasses(new Map([[district.id, insideAreas.districts.get(district.id)!]]), ramp)).get(district.id)).toBe('#bdbdbd');
    await page.screenshot({ path: `test-results/coverage-districts-${mode}.png` });
    await page.setViewportSize({ width: 1280, height: 800 });

    await panel().locator('select[name="level"]').selectOption('communities');
    await panel().getByTestId('coverage-communities').waitFor();
    expect(errors).toEqual([]);
  });

  it('colours every street and the district of the city in the class whose label holds its figure, ranked worst first, and fits a phone', async () => {
    const admin = await openAs(browser, baseUrl, 'admin', errors);
    await admin.getByRole('link', { name: '覆盖', exact: true }).click();
    const coverage = admin.getByTestId('coverage');
    await coverage.locator('select[name="metric"]').selectOption('volunteers_per_100_households');
    await coverage.locator('select[name="level"]').selectOption('streets');
    const streets: Area[] = (await api('admin', '/api/v1/coverage/streets')).body.features;
    expect(streets.length).toBeGreaterThan(1);
    const rows = coverage.getByTestId('coverage-streets').locator('tbody tr');
    await expect.poll(() => rows.count(), LIVE).toBe(streets.length);
    // worst (fewest volunteers per 100 households) first
    const ranked = [...streets].sort((a, b) => a.properties.volunteers_per_100_households - b.properties.volunteers_per_100_households);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-area'))))).toEqual(ranked.map((s) => s.id));
    // the figures differ, so the legend has a class for each, and each street is drawn in the one whose label holds it
    const figures = streets.map((s) => written(s.properties.volunteers_per_100_households, TENTHS));
    expect(new Set(figures).size).toBe(streets.length);
    const legendOf = () =>
      coverage
        .getByTestId('coverage-legend')
        .locator('li')
        .evaluateAll((lis) => lis.map((li) => ({ colour: li.getAttribute('data-colour')!, label: li.textContent! })));
    await expect.poll(async () => (await legendOf()).length, LIVE).toBe(streets.length);
    // the whole city in view, as a click on the district's row shows it
    await coverage.locator('select[name="level"]').selectOption('districts');
    await coverage.getByTestId('coverage-districts').locator('tbody tr button').click();
    await admin.waitForFunction(() => !window.gridmap!.map.isMoving());
    await coverage.locator('select[name="level"]').selectOption('streets');
    await expect.poll(async () => (await legendOf()).length, LIVE).toBe(streets.length);
    await idle(admin);
    const items = await legendOf();
    const listed = await rows.evaluateAll((trs) =>
      trs.map((tr) => ({ id: Number(tr.getAttribute('data-area')), figure: tr.children[2].textContent! })),
    );
    const drawn = await drawnClasses(new Map(streets.map((s) => [s.id, insideAreas.streets.get(s.id)!])), items, admin);
    for (const row of listed) {
      const holding = items.filter((item) => holds(item.label, row.figure));
      expect(holding, row.figure).toHaveLength(1);
      expect(drawn.get(row.id), row.figure).toBe(holding[0].colour);
    }
    expect(new Set(drawn.values()).size).toBe(streets.length);
    await admin.setViewportSize({ width: 1440, height: 900 });
    await idle(admin);
    await admin.screenshot({ path: `test-results/coverage-streets-admin-${mode}.png` });

    // the table as CSV: each street with its district, its figures and its communities
    const [download] = await Promise.all([
      admin.waitForEvent('download'),
      coverage.getByTestId('coverage-streets').getByRole('button', { name: '导出表格 CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('coverage-streets-volunteers_per_100_households.csv');
    const lines = (await readFile((await download.path())!)).subarray(3).toString('utf8').trimEnd().split('\r\n');
    expect(lines[0].split(',').slice(0, 4)).toEqual(['排名', '编码', '名称', '区县']);
    expect(lines[0].endsWith(',社区数')).toBe(true);
    expect(lines.slice(1).map((line) => [line.split(',').slice(0, 4), line.split(',').at(-1)])).toEqual(
      ranked.map((s, i) => [[String(i + 1), `="${s.properties.code}"`, s.properties.name, '宝塔区'], String(s.properties.communities)]),
    );

    // the district, one figure: a class of its own, drawn in it
    await coverage.locator('select[name="level"]').selectOption('districts');
    const [district]: Area[] = (await api('admin', '/api/v1/coverage/districts')).body.features;
    const districtRow = coverage.getByTestId('coverage-districts').locator('tbody tr');
    const districtFigure = written(district.properties.volunteers_per_100_households, TENTHS).toFixed(1);
    await expect.poll(() => districtRow.locator('td').nth(1).textContent(), LIVE).toBe(districtFigure);
    await expect.poll(async () => (await legendOf()).map((item) => item.label), LIVE).toEqual([districtFigure.replace(/\.0$/, '')]);
    await idle(admin);
    const [only] = await legendOf();
    expect(
      (await drawnClasses(new Map([[district.id, insideAreas.districts.get(district.id)!]]), [only, { colour: '#bdbdbd' }], admin)).get(
        district.id,
      ),
    ).toBe(only.colour);

    // on a phone: one column, nothing wider than the screen, the table's rows whole
    await admin.setViewportSize({ width: 390, height: 844 });
    await coverage.locator('select[name="level"]').selectOption('streets');
    await expect.poll(() => rows.count(), LIVE).toBe(streets.length);
    expect(await admin.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const map = (await admin.getByTestId('map').boundingBox())!;
    expect((await coverage.boundingBox())!.y).toBeGreaterThanOrEqual(map.y + map.height - 1);
    for (const box of await rows.evaluateAll((trs) => trs.map((tr) => tr.getBoundingClientRect().toJSON())))
      expect(box.right).toBeLessThanOrEqual(390);
    await idle(admin);
    await rows.last().scrollIntoViewIfNeeded();
    await admin.screenshot({ path: `test-results/coverage-streets-phone-${mode}.png` });
    await admin.close();
    expect(errors).toEqual([]);
  });

  it("puts each community in the class whose label holds its closure rate as the table writes it, drawn in that class's colour", async () => {
    // the whole city, as an admin sees it: rates closer together than whole per cents (22.2 %, 22.6 %; 28.0 %, 28.3 %)
    const admin = await openAs(browser, baseUrl, 'admin', errors);
    await admin.getByRole('link', { name: '覆盖', exact: true }).click();
    const coverage = admin.getByTestId('coverage');
    await coverage.locator('select[name="metric"]').selectOption('closure_rate');
    const areas = coverage.getByTestId('coverage-communities').locator('tbody tr');
    await expect.poll(() => areas.count(), LIVE).toBe(insideAll.size);
    await expect.poll(() => coverage.getByTestId('coverage-legend').locator('figcaption').textContent(), LIVE).toBe('办结率（%）');
    await admin.waitForFunction(() => !window.gridmap!.map.isMoving());
    await idle(admin);
    const items = await coverage
      .getByTestId('coverage-legend')
      .locator('li')
      .evaluateAll((lis) => lis.map((li) => ({ colour: li.getAttribute('data-colour')!, label: li.textContent! })));
    const rows = await areas.evaluateAll((trs) =>
      trs.map((tr) => ({
        id: Number(tr.getAttribute('data-area')),
        name: tr.children[1].textContent!,
        figure: tr.children[2].textContent!,
      })),
    );
    // figures that tell the classes apart: a rate to 0.1 %, some within a whole per cent of each other
    expect(rows.every((row) => /^\d+\.\d%$/.test(row.figure) || row.figure === '—')).toBe(true);
    const rates = rows
      .map((row) => parseFloat(row.figure))
      .filter((rate) => !Number.isNaN(rate))
      .sort((a, b) => a - b);
    expect(rates.some((rate, i) => i > 0 && rate !== rates[i - 1] && rate - rates[i - 1] < 1)).toBe(true);
    const drawn = await drawnClasses(insideAll, items, admin);
    for (const row of rows) {
      // one class's label holds the figure (no data: the grey one), and the community is drawn in its colour
      const holding =
        row.figure === '—' ? items.filter((item) => item.label === '无数据') : items.filter((item) => holds(item.label, row.figure));
      expect(
        holding.map((item) => item.label),
        `${row.name} ${row.figure}`,
      ).toHaveLength(1);
      expect(drawn.get(row.id), `${row.name} ${row.figure}`).toBe(holding[0].colour);
    }
    await admin.screenshot({ path: `test-results/coverage-closure-rate-${mode}.png` });
    await admin.close();
    expect(errors).toEqual([]);
  });

  it("shows one community's grids from the vector tiles when its row is clicked, coloured by the metric", async () => {
    await panel().locator('select[name="metric"]').selectOption('members_per_100_households');
    // the community with the most buildings out of reach at 200 m (the last of the street in the demo city)
    const gapsAt200 = await Promise.all(
      communities.map(async (c) => (await api('leader', `/api/v1/coverage/gaps?community=${c.id}&reach_m=200`)).body),
    );
    const chosen = communities[gapsAt200.reduce((best, g, i) => (g.numberReturned > gapsAt200[best].numberReturned ? i : best), 0)];
    await panel().getByTestId('coverage-communities').locator(`tr[data-area="${chosen.id}"] button`).click();
    // the map moved to it: centred on it, all of it in view
    const {
      rows: [box],
    } = await sql<{ lon: number; lat: number }>`
      select (ST_XMin(geom) + ST_XMax(geom)) / 2 as lon, (ST_YMin(geom) + ST_YMax(geom)) / 2 as lat from communities where id = ${chosen.id}`.execute(
      test.database.db,
    );
    const centre = () => page.evaluate(() => window.gridmap!.map.getCenter().toArray());
    await expect.poll(async () => Math.hypot(...(await centre()).map((v, i) => v - [box.lon, box.lat][i])), LIVE).toBeLessThan(0.0002);
    const [west, south, east, north] = await page.evaluate(() => window.gridmap!.map.getBounds().toArray().flat());
    expect(inside.communities.get(chosen.id)!.every(([lon, lat]) => lon > west && lon < east && lat > south && lat < north)).toBe(true);
    expect(
      await panel().getByTestId('coverage-communities').locator(`tr[data-area="${chosen.id}"] button`).getAttribute('aria-pressed'),
    ).toBe('true');

    await panel().locator('select[name="level"]').selectOption('grids');
    const grids: Area[] = (await api('leader', `/api/v1/coverage/grids?community=${chosen.id}`)).body.features;
    const table = panel().getByTestId('coverage-grids');
    await expect.poll(() => table.locator('tbody tr').count(), LIVE).toBe(grids.length);
    await idle(page);
    const rendered = await page.evaluate(() =>
      window
        .gridmap!.map.queryRenderedFeatures({ layers: ['coverage-grids'] })
        .map((f) => ({ id: f.id, source: f.source, sourceLayer: f.sourceLayer, community: f.properties.community_id })),
    );
    expect(new Set(rendered.map((f) => f.id))).toEqual(new Set(grids.map((g) => g.id)));
    expect(rendered.every((f) => f.source === 'coverage-grids' && f.sourceLayer === 'grid_coverage' && f.community === chosen.id)).toBe(
      true,
    );
    // every tile asked for carried the session (an empty tile answers 204)
    expect(tiles.some((t) => t.url.includes('/tiles/grid_coverage/') && t.status === 200)).toBe(true);
    expect(tiles.filter((t) => ![200, 204, 304].includes(t.status))).toEqual([]);

    const items = await legendItems();
    const ownGrids = new Map(grids.map((g) => [g.id, inside.grids.get(g.id)!]));
    const drawn = await drawnClasses(ownGrids, items);
    for (const grid of grids)
      expect(drawn.get(grid.id), grid.properties.name).toBe(classOf(items, written(grid.properties.members_per_100_households, TENTHS)));
    await table.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `test-results/coverage-grids-${mode}.png` });
    expect(errors).toEqual([]);
  });

  it('marks and lists the buildings no volunteer reaches in the chosen community at a small reach, a click on one showing it', async () => {
    const community = Number(await panel().locator('select[name="community"]').inputValue());
    expect(await panel().locator('select[name="reach"] option').allTextContents()).toEqual([
      '100 米',
      '200 米',
      '300 米',
      '400 米',
      '500 米',
    ]);
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
    const {
      rows: [middle],
    } = await sql<{ lon: number; lat: number }>`
      select ST_X(p) as lon, ST_Y(p) as lat from buildings b, ST_PointOnSurface(b.geom) p where b.id = ${largest.id}`.execute(
      test.database.db,
    );
    const [pixel] = await coloursAt(page, [[middle.lon, middle.lat]]);
    expect(distance(pixel, rgb('#e6007e'))).toBeLessThan(60);

    // listed as the API gives them: name, grid, distance to the nearest available volunteer, households
    const listed = await gaps.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((cell) => cell.textContent)));
    expect(listed).toEqual(
      expected.features.map((f: Area) => [
        f.properties.name,
        f.properties.grid_name ?? '—',
        f.properties.nearest_volunteer_m === null
          ? `超过 ${f.properties.nearest_volunteer_over_m} 米`
          : `${f.properties.nearest_volunteer_m} 米`,
        String(f.properties.households),
      ]),
    );
    await page.evaluate(() => window.gridmap!.map.jumpTo({ center: [0, 0] }));
    await gaps.locator(`tr[data-building="${largest.id}"] button`).click();
    const {
      rows: [box],
    } = await sql<{ lon: number; lat: number }>`
      select (ST_XMin(geom) + ST_XMax(geom)) / 2 as lon, (ST_YMin(geom) + ST_YMax(geom)) / 2 as lat from buildings where id = ${largest.id}`.execute(
      test.database.db,
    );
    const centre = () => page.evaluate(() => window.gridmap!.map.getCenter().toArray());
    await expect.poll(async () => Math.hypot(...(await centre()).map((v, i) => v - [box.lon, box.lat][i])), LIVE).toBeLessThan(0.0002);
    await page.screenshot({ path: `test-results/coverage-gaps-${mode}.png` });
    expect(errors).toEqual([]);
  });

  it('classes the grids of the whole city by those in view, as they come in tiles', async () => {
    await panel().locator('select[name="community"]').selectOption('');
    await panel().locator('select[name="metric"]').selectOption('households');
    await expect.poll(() => legend().textContent(), LIVE).toContain('分级按地图上可见的网格计算');
    // one zoom level out, but not past where the grids' tiles start (the whole street fitted may be near it)
    await page.evaluate(() => {
      const map = window.gridmap!.map;
      const minzoom = (map.getSource('coverage-grids') as { minzoom?: number } | undefined)?.minzoom ?? 0;
      map.zoomTo(Math.max(map.getZoom() - 1, minzoom + 0.5), { duration: 0 });
    });
    await idle(page);
    const rendered = () =>
      page.evaluate(() =>
        (window.gridmap!.map.getLayer('coverage-grids')
          ? window.gridmap!.map.queryRenderedFeatures({ layers: ['coverage-grids'] })
          : []
        ).map((f) => ({ id: f.id as number, households: f.properties.households as number })),
      );
    // grids of other communities too, with their figures from the tiles (the layer comes once the address
    // without a community has been followed, and its tiles after it)
    let inView: Awaited<ReturnType<typeof rendered>> = [];
    await expect.poll(async () => new Set((inView = await rendered()).map((g) => g.id)).size, { timeout: 30_000 }).toBeGreaterThan(5);
    const households = inView.map((g) => g.households);
    await expect.poll(async () => (await legendItems())[0].from, LIVE).toBe(Math.min(...households));
    const items = await legendItems();
    expect(items.at(-1)!.to).toBe(Math.max(...households));
    // zoomed out this far, a community's name and its white halo cover much of a grid: read the fills without them
    const labels = (visibility: 'none' | 'visible') =>
      page.evaluate((visibility) => {
        const map = window.gridmap!.map;
        for (const layer of map.getStyle().layers) if (layer.type === 'symbol') map.setLayoutProperty(layer.id, 'visibility', visibility);
      }, visibility);
    await labels('none');
    await idle(page);
    const drawn = await drawnClasses(new Map(inView.map((g) => [g.id, inside.grids.get(g.id)!])), items);
    await labels('visible');
    for (const grid of inView) expect(drawn.get(grid.id)).toBe(classOf(items, grid.households));
    await page.screenshot({ path: `test-results/coverage-grids-in-view-${mode}.png` });

    // every grid the leader reads ranked, worst (most households) first, each with its community
    const all: Area[] = (await api('leader', '/api/v1/coverage/grids')).body.features;
    expect(new Set(all.map((g) => g.properties.community_id)).size).toBe(communities.length);
    const table = panel().getByTestId('coverage-grids');
    expect(await table.locator('caption').textContent()).toBe('全部网格排名');
    await expect.poll(() => table.locator('tbody tr').count(), LIVE).toBe(Math.min(all.length, 100));
    const ranked = [...all].sort((a, b) => b.properties.households - a.properties.households);
    expect(await table.locator('tbody tr').first().getAttribute('data-area')).toBe(String(ranked[0].id));
    expect(await table.locator('tbody tr').first().locator('small').textContent()).toBe(` ${ranked[0].properties.community_name}`);

    // zoomed out beyond the grids' tiles (from zoom 12): no grid drawn, and the legend says to zoom in
    const zoom = await page.evaluate(() => window.gridmap!.map.getZoom());
    expect(await legend().textContent()).not.toContain('放大地图以查看网格');
    await page.evaluate(() => window.gridmap!.map.jumpTo({ zoom: 11.5 }));
    await expect.poll(() => legend().textContent(), LIVE).toContain('放大地图以查看网格');
    await page.evaluate((z) => window.gridmap!.map.jumpTo({ zoom: z }), zoom);
    await expect.poll(() => legend().textContent(), LIVE).not.toContain('放大地图以查看网格');
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
    const hexagons = (layer: string) =>
      page.evaluate((id) => window.gridmap!.map.queryRenderedFeatures({ layers: [id] }).map((f) => f.properties), layer);
    const members = await hexagons('coverage-members');
    const volunteers = await hexagons('coverage-volunteers');
    expect(members.length).toBeGreaterThan(0);
    // never fewer than all the volunteers of a cell, and counted in the members' cells too
    expect(members.every((cell) => cell.count >= cell.volunteers)).toBe(true);
    expect(volunteers.every((cell) => cell.count >= cell.available)).toBe(true);
    // the legend's classes span what is drawn
    const memberClasses = await panel()
      .getByTestId('coverage-legend-members')
      .locator('li')
      .evaluateAll((lis) => lis.map((li) => Number(li.getAttribute('data-from'))));
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

  it("follows a grid redrawn elsewhere: the table's households, the coverage fill and the map's grid outline change without a reload", async () => {
    // a vertex one of the leader's grids shares with one neighbour only, inside the community, moved towards
    // that neighbour by more and more until households change grid
    const { rows: shapes } = await sql<{ id: number; community: number; neighbour: number; geometry: object; lon: number; lat: number }>`
      with v as (
        select g.id, g.community_id, g.geom, (p.path)[2] as i, p.geom as at, min(o.id) as neighbour
        from grids g join communities c on c.id = g.community_id
        cross join lateral ST_DumpPoints(g.geom) p
        join grids o on o.community_id = g.community_id and o.id <> g.id and ST_DWithin(o.geom, p.geom, 1e-9)
        where g.community_id in (${sql.join(communities.map((c) => c.id))}) and not ST_DWithin(ST_Boundary(c.geom), p.geom, 1e-9)
          and (p.path)[2] > 1 and (p.path)[2] < ST_NPoints(ST_ExteriorRing(g.geom))
        group by g.id, g.community_id, g.geom, p.path, p.geom having count(*) = 1
        order by g.id, p.path limit 1
      ), shape as (
        select v.*, f.fraction, ST_MakePolygon(ST_SetPoint(ST_ExteriorRing(v.geom), v.i - 1,
                 ST_LineInterpolatePoint(ST_MakeLine(v.at, ST_Centroid(o.geom)), f.fraction))) as after
        from v join grids o on o.id = v.neighbour cross join (values (0.5), (0.7), (0.9)) f(fraction)
      )
      -- and a point the grid takes from its neighbour
      select id, community_id as community, neighbour, ST_AsGeoJSON(after)::json as geometry,
             ST_X(ST_PointOnSurface(ST_Difference(after, geom))) as lon, ST_Y(ST_PointOnSurface(ST_Difference(after, geom))) as lat
      from shape order by fraction`.execute(test.database.db);
    expect(shapes.length).toBe(3);
    const { id, community, neighbour } = shapes[0];
    type Impact = { id: number; version: number; before: { households: number }; after: { households: number } };
    let chosen: { shape: (typeof shapes)[number]; grids: Impact[] } | undefined;
    for (const shape of shapes) {
      const dry = await api('admin', `/api/v1/grids/${id}/redraw`, {
        method: 'POST',
        body: { geometry: shape.geometry, dryRun: true, adjustNeighbours: true },
      });
      expect(dry.status).toBe(200);
      const grids: Impact[] = dry.body.grids;
      if (grids.some((g) => g.before.households !== g.after.households)) {
        chosen = { shape, grids };
        break;
      }
    }
    expect(chosen, 'a shape that moves households').toBeDefined();
    const { shape, grids } = chosen!;

    await panel().locator('select[name="metric"]').selectOption('households');
    await panel().locator('select[name="level"]').selectOption('grids');
    await panel().locator('select[name="community"]').selectOption(String(community));
    const table = panel().getByTestId('coverage-grids');
    const households = (grid: number) => table.locator(`tr[data-area="${grid}"] td`).nth(1).textContent();
    await expect.poll(() => households(id), LIVE).toBe(String(grids.find((g) => g.id === id)!.before.households));
    await idle(page);
    /** The grid each layer draws at the point the grid takes from its neighbour. */
    const gridsAt = () =>
      page.evaluate(
        ([lon, lat]) => {
          const map = window.gridmap!.map;
          const at = map.project([lon, lat]);
          return ['grids-fill', 'coverage-grids'].map((layer) => map.queryRenderedFeatures(at, { layers: [layer] }).map((f) => f.id));
        },
        [shape.lon, shape.lat],
      );
    expect(await gridsAt()).toEqual([[neighbour], [neighbour]]);
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));

    const saved = await api('admin', `/api/v1/grids/${id}/redraw`, {
      method: 'POST',
      headers: { 'If-Match': `"${grids.find((g) => g.id === id)!.version}"` },
      body: { geometry: shape.geometry, dryRun: false, adjustNeighbours: true, note: '浏览器测试：覆盖视图跟随网格变化' },
    });
    expect(saved.status).toBe(200);
    expect(saved.body.saved).toBe(true);
    // the event stream tells the page: its figures and tiles are fetched again
    for (const grid of grids) await expect.poll(() => households(grid.id), LIVE).toBe(String(grid.after.households));
    await expect.poll(gridsAt, LIVE).toEqual([[id], [id]]);
    await idle(page);
    const rendered = await page.evaluate(
      (grid) =>
        window
          .gridmap!.map.queryRenderedFeatures({ layers: ['coverage-grids'], filter: ['==', ['id'], grid] })
          .map((f) => f.properties.households),
      id,
    );
    expect(new Set(rendered)).toEqual(new Set([grids.find((g) => g.id === id)!.after.households]));
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await page.screenshot({ path: `test-results/coverage-grid-event-${mode}.png` });
    expect(errors).toEqual([]);
  });

  it("fits a phone: the map above the panel, nothing wider than the screen, the top bar's buttons in reach; a secretary opens on the community", async () => {
    const phone = await openAs(browser, baseUrl, 'secretary', errors);
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.getByRole('link', { name: '覆盖', exact: true }).click();
    const own: Area[] = (await api('secretary', '/api/v1/coverage/communities')).body.features;
    expect(own).toHaveLength(1);
    const coverage = phone.getByTestId('coverage');
    // the one community the secretary reads, chosen: its grids ranked and its gaps looked for
    await expect.poll(() => coverage.locator('select[name="community"]').inputValue(), LIVE).toBe(String(own[0].id));
    const grids: Area[] = (await api('secretary', `/api/v1/coverage/grids?community=${own[0].id}`)).body.features;
    await expect.poll(() => coverage.getByTestId('coverage-grids').locator('tbody tr').count(), LIVE).toBe(grids.length);
    await expect.poll(() => coverage.getByTestId('coverage-gaps').textContent(), LIVE).not.toContain('选择一个社区');
    await phone.waitForFunction(() => !window.gridmap!.map.isMoving());
    const [west, south, east, north] = await phone.evaluate(() => window.gridmap!.map.getBounds().toArray().flat());
    expect(inside.communities.get(own[0].id)!.every(([lon, lat]) => lon > west && lon < east && lat > south && lat < north)).toBe(true);

    // one column: the map as wide as the screen and tall enough to read, the panel under it
    const map = (await phone.getByTestId('map').boundingBox())!;
    const panelBox = (await coverage.boundingBox())!;
    expect(map.height).toBeGreaterThan(200);
    expect([map.x, map.width]).toEqual([0, 390]);
    expect(panelBox.y).toBeGreaterThanOrEqual(map.y + map.height - 1);
    expect(panelBox.width).toBeLessThanOrEqual(390);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    // every link and button of the top bar can be brought on screen and is not covered there
    for (const [role, name] of [
      ['link', '地图'],
      ['link', '覆盖'],
      ['button', 'English'],
      ['button', '退出'],
    ] as const) {
      const button = phone.getByRole(role, { name, exact: true });
      await button.scrollIntoViewIfNeeded();
      const box = (await button.boundingBox())!;
      expect(box.x >= 0 && box.x + box.width <= 390, name).toBe(true);
      expect(
        await button.evaluate((b) => {
          const { x, y, width, height } = b.getBoundingClientRect();
          return b.contains(document.elementFromPoint(x + width / 2, y + height / 2));
        }),
        name,
      ).toBe(true);
    }
    await phone.screenshot({ path: `test-results/coverage-phone-${mode}.png` });
    await phone.close();
    expect(errors).toEqual([]);
  });

  it("offers a dispatcher, who may count only volunteers, no Party members' hexagons (whose tiles are refused)", async () => {
    const dispatcher = await openAs(browser, baseUrl, 'dispatcher', errors);
    const asked: string[] = [];
    dispatcher.on('request', (r) => asked.push(new URL(r.url()).pathname));
    await dispatcher.getByRole('link', { name: '覆盖', exact: true }).click();
    const coverage = dispatcher.getByTestId('coverage');
    await coverage.getByTestId('coverage-communities').waitFor();
    expect((await api('dispatcher', '/api/v1/coverage/communities')).body.features.every((c: Area) => c.properties.members === null)).toBe(
      true,
    );
    await coverage.getByRole('checkbox', { name: '志愿者（每六边形人数）' }).check();
    await expect.poll(() => coverage.getByTestId('coverage-legend-volunteers').locator('li').count(), LIVE).toBeGreaterThan(0);
    expect(await coverage.getByRole('checkbox', { name: '党员（每六边形人数）' }).count()).toBe(0);
    expect(asked.some((path) => path.startsWith('/tiles/volunteers'))).toBe(true);
    expect(asked.filter((path) => path.startsWith('/tiles/members'))).toEqual([]);
    await dispatcher.close();
    expect(errors).toEqual([]);
  });
});
