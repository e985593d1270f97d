import type { Polygon, Position } from 'geojson';
import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionFor } from '../support/app.ts';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { apiAs, LIVE, mapIdle as idle, openAs } from './pages.ts';

interface Grid {
  id: number;
  geometry: Polygon;
  properties: { name: string; version: number };
}
interface ImpactGrid {
  id: number;
  after: { households: number } | null;
  before: { households: number } | null;
}
interface Impact {
  grids: ImpactGrid[];
  moved: { buildings: { id: number }[] };
  saveable: boolean;
}

/** Where a longitude/latitude is on the page (not on the canvas): where the mouse goes to touch it. */
const onPage = (page: Page, at: Position) =>
  page.evaluate(([lon, lat]) => {
    const map = window.gridmap!.map;
    const { x, y } = map.project([lon, lat]);
    const box = map.getCanvas().getBoundingClientRect();
    return { x: box.left + x, y: box.top + y };
  }, at);

describe.skipIf(!haveBrowser)(`the planner's view in headless Chromium (${mode} database)`, () => {
  let test: TestDatabase;
  let pages: Awaited<ReturnType<typeof servePages>> | undefined;
  let browser: Browser;
  let baseUrl: string;
  let api: ReturnType<typeof apiAs>;
  let page: Page;
  const errors: string[] = [];
  /** the bodies of the dry runs of redraws the page sent, in order */
  const redraws: { url: string; body: Record<string, unknown> }[] = [];
  /** the planner's community and its grids as the API gives them */
  let community: number;
  let grids: Grid[];

  const panel = () => page.getByTestId('planning');
  const impact = () => panel().getByTestId('impact');
  const currentGrids = async () => (await api('planner', `/api/v1/grids?community=${community}`)).body.features as Grid[];

  /**
   * A vertex of the grid inside the community (not on its boundary) that exactly one other grid has too, and
   * that neighbour: a vertex in the middle of their shared edge, which moves buildings when dragged into it.
   */
  const sharedVertex = async (id: number) => {
    const {
      rows: [vertex],
    } = await sql<{ lon: number; lat: number; neighbour: number }>`
      select ST_X(p.geom) as lon, ST_Y(p.geom) as lat, min(o.id) as neighbour
      from grids g join communities c on c.id = g.community_id
        cross join lateral ST_DumpPoints(g.geom) p
        join grids o on o.community_id = g.community_id and o.id <> g.id and ST_DWithin(o.geom, p.geom, 1e-9)
      where g.id = ${id} and not ST_DWithin(ST_Boundary(c.geom), p.geom, 1e-9)
      group by p.path, p.geom having count(*) = 1
      order by p.path limit 1`.execute(test.database.db);
    return { position: [vertex.lon, vertex.lat], neighbour: (await currentGrids()).find((g) => g.id === vertex.neighbour)! };
  };

  /** The mean of a grid's vertices: inside it, the demo city's grids being near rectangles. */
  const centre = (g: Grid): Position => {
    const ring = g.geometry.coordinates[0].slice(0, -1);
    return [ring.reduce((s, p) => s + p[0], 0) / ring.length, ring.reduce((s, p) => s + p[1], 0) / ring.length];
  };

  /**
   * Presses the mouse on a vertex and drags it `pixels` towards a point (clear of the snapping to the edges it
   * leaves), in steps, pausing halfway as a planner would.
   */
  const drag = async (vertex: Position, towards: Position, pixels: number, pause: () => Promise<void>) => {
    const [from, aim] = [await onPage(page, vertex), await onPage(page, towards)];
    const length = Math.hypot(aim.x - from.x, aim.y - from.y);
    const to = { x: from.x + ((aim.x - from.x) * pixels) / length, y: from.y + ((aim.y - from.y) * pixels) / length };
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    const steps = 12;
    for (let i = 1; i <= steps; i++) {
      await page.mouse.move(from.x + ((to.x - from.x) * i) / steps, from.y + ((to.y - from.y) * i) / steps);
      if (i === steps / 2) await pause();
    }
    await page.mouse.up();
  };

  /** The after counts the panel shows against a dry run's, grid by grid, once the panel has the last answer. */
  const expectImpactShown = async (expected: Impact) => {
    await expect.poll(() => impact().getAttribute('data-state'), LIVE).toBe('ready');
    for (const g of expected.grids) {
      expect(await impact().getByTestId(`impact-after-${g.id}`).textContent(), `grid ${g.id} after`).toBe(
        String(g.after?.households ?? '—'),
      );
      expect(await impact().getByTestId(`impact-before-${g.id}`).textContent(), `grid ${g.id} before`).toBe(
        String(g.before?.households ?? '—'),
      );
    }
    expect(await impact().locator('tbody tr[data-status]').count()).toBe(expected.grids.length);
    // each grid's people and open issues before and after, on a line of its own
    for (const g of expected.grids) expect(await impact().getByTestId(`impact-people-${g.id}`).textContent()).toContain('居民');
    expect(await impact().getByTestId('moved-buildings').textContent()).toBe(String(expected.moved.buildings.length));
  };

  beforeAll(async () => {
    test = await openTestDatabase();
    pages = await servePages(test.database);
    ({ browser, baseUrl } = pages);
    api = apiAs(test.database, baseUrl);
    [{ id: community }] = (await api('planner', '/api/v1/communities')).body.features;
    grids = await currentGrids();

    page = await openAs(browser, baseUrl, 'planner', errors);
    page.on(
      'request',
      (r) => r.method() === 'POST' && r.url().endsWith('/redraw') && redraws.push({ url: r.url(), body: r.postDataJSON() }),
    );
    await page.getByRole('link', { name: '网格规划', exact: true }).click();
    await panel().getByTestId('household-chart').waitFor();
    // the map moves to the community: the tests touch it where it ends up
    await page.waitForFunction(() => !window.gridmap!.map.isMoving(), null, LIVE);
    await idle(page);
  });
  afterAll(async () => {
    await pages?.close();
    await test?.drop();
  });

  it('colours the community’s grids by their households against the band, one bar each', async () => {
    const figures = (await api('planner', `/api/v1/coverage/grids?community=${community}`)).body.features as {
      id: number;
      properties: { households: number; band_min: number; band_max: number };
    }[];
    const chart = panel().getByTestId('household-chart');
    await expect.poll(() => chart.locator('g[data-grid]').count(), LIVE).toBe(figures.length);
    for (const f of figures)
      expect(await chart.locator(`g[data-grid="${f.id}"]`).getAttribute('data-households')).toBe(String(f.properties.households));
    expect(await chart.locator('figcaption').textContent()).toContain(
      `${figures[0].properties.band_min}–${figures[0].properties.band_max}`,
    );
    const drawn = await page.evaluate(() =>
      window.gridmap!.map.queryRenderedFeatures({ layers: ['planning-grids-fill'] }).map((f) => f.id),
    );
    expect(new Set(drawn)).toEqual(new Set(grids.map((g) => g.id)));
    // the base map's own grid layers, the selected grid's outline too, leave the community to this view
    const filters = await page.evaluate(() =>
      ['grids-fill', 'grids-line', 'grids-label', 'grids-selected'].map((l) => JSON.stringify(window.gridmap!.map.getFilter(l))),
    );
    for (const f of filters) expect(f).toContain(`["!=",["get","community_id"],${community}]`);
    await page.screenshot({ path: `test-results/planning-grids-${mode}.png` });
    expect(errors).toEqual([]);
  });

  it('drags a vertex of a grid with the mouse, shows the dry run’s impact as it goes, and saves it with a note', async () => {
    const edited = grids[0];
    const click = await onPage(page, centre(edited));
    await page.mouse.click(click.x, click.y);
    await expect.poll(() => panel().getByTestId('chosen-grid').getAttribute('data-grid'), LIVE).toBe(String(edited.id));
    expect(await panel().getByTestId('grid-version').textContent()).toBe(String(edited.properties.version));
    await idle(page);

    // the vertex it shares with a neighbour, dragged well into the neighbour: buildings change grid
    const { position, neighbour } = await sharedVertex(edited.id);
    await drag(position, centre(neighbour), 45, async () => {
      // held still halfway, the view weighs the shape as it is: the impact shows while the vertex is still held
      await expect.poll(() => impact().getAttribute('data-state'), LIVE).toBe('ready');
      await page.screenshot({ path: `test-results/planning-dragging-${mode}.png` });
    });
    const halfway = redraws.length;
    expect(halfway).toBeGreaterThan(0);
    await expect.poll(() => impact().getAttribute('data-state'), LIVE).toBe('ready');

    // what the page asked last is what it shows: the same question to the API gets the same answer
    const [last] = redraws.slice(-1);
    expect(last.url).toBe(`${baseUrl}/api/v1/grids/${edited.id}/redraw`);
    expect(last.body).toMatchObject({ dryRun: true, adjustNeighbours: true });
    const sent = last.body.geometry as Polygon;
    expect(sent.coordinates[0]).not.toEqual(edited.geometry.coordinates[0]);
    const asked = await api('planner', `/api/v1/grids/${edited.id}/redraw`, {
      method: 'POST',
      body: { geometry: sent, dryRun: true, adjustNeighbours: true },
    });
    expect(asked.status).toBe(200);
    const expected = asked.body as Impact;
    expect(expected.moved.buildings.length).toBeGreaterThan(0);
    expect(expected.grids.map((g) => g.id).sort()).toEqual([edited.id, neighbour.id].sort());
    await expectImpactShown(expected);
    // the buildings that change grid are the ones highlighted
    await idle(page);
    const highlighted = await page.evaluate(() =>
      window.gridmap!.map.queryRenderedFeatures({ layers: ['planning-moved'] }).map((f) => f.id),
    );
    expect(new Set(highlighted)).toEqual(new Set(expected.moved.buildings.map((b) => b.id)));
    // the chart shows each grid's households after the change beside its bar
    for (const g of expected.grids) {
      expect(await panel().getByTestId('household-chart').locator(`g[data-grid="${g.id}"]`).getAttribute('data-after')).toBe(
        String(g.after!.households),
      );
    }
    await impact().scrollIntoViewIfNeeded();
    await page.screenshot({ path: `test-results/planning-impact-${mode}.png` });

    const note = '网页拖动顶点：楼栋划入第一网格';
    await panel().getByTestId('plan-note').fill(note);
    await panel().getByTestId('plan-save').click();
    await panel().getByTestId('saved').waitFor(LIVE);
    const stored = (await api('planner', `/api/v1/grids/${edited.id}`)).body as Grid;
    expect(stored.properties.version).toBe(edited.properties.version + 1);
    expect(stored.geometry.coordinates).toEqual(sent.coordinates);
    await expect.poll(() => panel().getByTestId('grid-version').textContent(), LIVE).toBe(String(stored.properties.version));
    const history = panel().getByTestId('grid-history');
    await expect.poll(() => history.locator('li').first().textContent(), LIVE).toContain(note);
    expect(await history.locator('li').first().getAttribute('data-version')).toBe(String(stored.properties.version));
    // the map and the chart show the grids as saved
    const households = (await api('planner', `/api/v1/coverage/grids?community=${community}`)).body.features.find(
      (f: { id: number }) => f.id === edited.id,
    ).properties.households;
    expect(households).toBe(expected.grids.find((g) => g.id === edited.id)!.after!.households);
    await expect
      .poll(() => panel().getByTestId('household-chart').locator(`g[data-grid="${edited.id}"]`).getAttribute('data-households'), LIVE)
      .toBe(String(households));
    await page.screenshot({ path: `test-results/planning-saved-${mode}.png` });
    expect(errors).toEqual([]);
  });

  it('refuses a save over a change made meanwhile: shows who changed the grid, when and why, and reloads it', async () => {
    const edited = (await currentGrids()).find((g) => g.id === grids[0].id)!;
    const { position, neighbour } = await sharedVertex(edited.id);
    await drag(position, centre(neighbour), 25, async () => {});
    await expect.poll(() => impact().getAttribute('data-state'), LIVE).toBe('ready');

    // meanwhile the admin puts the grid back as it was first
    const token = await sessionFor(test.database, 'admin');
    const reverted = await fetch(`${baseUrl}/api/v1/grids/${edited.id}/revert`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'If-Match': `"${edited.properties.version}"` },
      body: JSON.stringify({ version: grids[0].properties.version, adjustNeighbours: true, note: '管理员恢复原边界' }),
    });
    expect(reverted.status).toBe(200);

    await panel().getByTestId('plan-note').fill('再调整一次');
    await panel().getByTestId('plan-save').click();
    const stale = panel().getByTestId('stale');
    await expect.poll(() => stale.textContent(), LIVE).toContain('管理员恢复原边界');
    expect(await stale.textContent()).toContain(`v${edited.properties.version + 1}`);
    // the same save again would be refused again: it is off until the grids are reloaded
    expect(await panel().getByTestId('plan-save').isDisabled()).toBe(true);
    expect(await stale.textContent()).toContain('admin');
    await stale.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `test-results/planning-stale-${mode}.png` });
    // nothing of the refused save was written
    expect((await api('planner', `/api/v1/grids/${edited.id}`)).body.geometry).toEqual(grids[0].geometry);

    await stale.getByRole('button', { name: '重新加载最新边界' }).click();
    await expect.poll(() => panel().getByTestId('grid-version').textContent(), LIVE).toBe(String(edited.properties.version + 1));
    expect(await panel().getByTestId('stale').count()).toBe(0);
    // the browser logs the refusal itself; nothing else went wrong
    expect(errors).toEqual([expect.stringContaining('412 (Precondition Failed)')]);
    errors.length = 0;
  });

  it('says in Chinese why a change cannot be saved, and keeps the change when a bar of the chart is clicked', async () => {
    const edited = (await currentGrids()).find((g) => g.id === grids[0].id)!;
    await expect.poll(() => panel().getByTestId('chosen-grid').getAttribute('data-grid'), LIVE).toBe(String(edited.id));
    // each older version offers to go back to it, named with its number
    await expect
      .poll(
        () =>
          panel()
            .getByTestId('grid-history')
            .getByRole('button', { name: `恢复到 v${grids[0].properties.version}`, exact: true })
            .count(),
        LIVE,
      )
      .toBe(1);
    // with the neighbours left as they are, a vertex dragged into the neighbour makes the grids overlap
    await panel().locator('input[name="adjustNeighbours"]').uncheck();
    await idle(page);
    const { position, neighbour } = await sharedVertex(edited.id);
    await drag(position, centre(neighbour), 35, async () => {});
    await expect.poll(() => impact().getAttribute('data-state'), LIVE).toBe('ready');
    const refusals = impact().getByTestId('impact-refusals');
    await expect.poll(() => refusals.textContent(), LIVE).toContain('重叠');
    const said = (await refusals.locator('li').first().textContent())!;
    const names = [edited.properties.name, neighbour.properties.name];
    expect(said).toMatch(new RegExp(`^(${names[0]}与${names[1]}|${names[1]}与${names[0]})将重叠 [\\d,.]+ m²$`));
    expect(said).not.toMatch(/[A-Za-z]{3,}/);
    expect(await refusals.locator('li').first().getAttribute('data-title')).toBe('Grids overlap');
    expect(await panel().getByTestId('plan-save').isDisabled()).toBe(true);
    expect(await impact().getByTestId('impact-status').textContent()).toBe('影响已算出，不能保存');

    // a click on another grid's bar does not throw the reshaped boundary away
    // (the bar says it is disabled now, which Playwright would wait out: the click is the planner's all the same)
    await panel().getByTestId('household-chart').locator(`g[data-grid="${neighbour.id}"]`).click({ force: true });
    expect(await panel().getByTestId('chosen-grid').getAttribute('data-grid')).toBe(String(edited.id));
    expect(await panel().getByTestId('household-chart').locator(`g[data-grid="${neighbour.id}"]`).getAttribute('aria-disabled')).toBe(
      'true',
    );
    expect(await impact().getByTestId('impact-refusals').count()).toBe(1);
    await impact().scrollIntoViewIfNeeded();
    await page.screenshot({ path: `test-results/planning-refusal-${mode}.png` });

    // dragged back where it was (it snaps onto the neighbour's vertex there), the boundary is the one saved: nothing to save
    const moved = (redraws.at(-1)!.body.geometry as Polygon).coordinates[0].find(
      (p) => !edited.geometry.coordinates[0].some((q) => q[0] === p[0] && q[1] === p[1]),
    )!;
    const [from, to] = [await onPage(page, moved), await onPage(page, position)];
    await drag(moved, position, Math.hypot(to.x - from.x, to.y - from.y), async () => {});
    await expect.poll(() => panel().getByTestId('plan-unchanged').count(), LIVE).toBe(1);
    await expect.poll(() => impact().getAttribute('data-state'), LIVE).toBe('ready');
    expect((redraws.at(-1)!.body.geometry as Polygon).coordinates).toEqual(edited.geometry.coordinates);
    expect(await impact().getByTestId('impact-refusals').count()).toBe(0);
    await panel().getByTestId('plan-note').fill('没有改动');
    expect(await panel().getByTestId('plan-save').isDisabled()).toBe(true);

    await impact().getByRole('button', { name: '放弃' }).click();
    await panel().locator('input[name="adjustNeighbours"]').check();
    expect(errors).toEqual([]);
  });

  it('chooses a grid from the chart with the keyboard', async () => {
    const chart = panel().getByTestId('household-chart');
    expect(await chart.locator('svg').getAttribute('role')).not.toBe('img');
    const other = grids[1];
    const bar = chart.locator(`g[data-grid="${other.id}"]`);
    expect(await bar.getAttribute('role')).toBe('button');
    expect(await bar.getAttribute('aria-label')).toContain(other.properties.name);
    expect(await bar.getAttribute('aria-label')).toMatch(/\d+ 户/);
    await bar.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => panel().getByTestId('chosen-grid').getAttribute('data-grid'), LIVE).toBe(String(other.id));
    expect(await bar.getAttribute('aria-pressed')).toBe('true');
    // Space too
    await chart.locator(`g[data-grid="${grids[0].id}"]`).focus();
    await page.keyboard.press(' ');
    await expect.poll(() => panel().getByTestId('chosen-grid').getAttribute('data-grid'), LIVE).toBe(String(grids[0].id));
    // while a new grid is drawn the bars choose nothing: they are not buttons
    await panel().getByRole('button', { name: '新增网格' }).click();
    expect(await bar.getAttribute('role')).toBe('img');
    await panel().getByRole('button', { name: '修改边界' }).click();
    await bar.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => panel().getByTestId('chosen-grid').getAttribute('data-grid'), LIVE).toBe(String(other.id));
    expect(errors).toEqual([]);
  });

  it('suggests a division of the community by households and draws the draft over the grids', async () => {
    await panel().getByRole('button', { name: '智能划分' }).click();
    await panel().locator('input[name="count"]').fill(String(grids.length));
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/v1/communities/${community}/suggest-grids`), LIVE),
      panel().getByTestId('suggest').click(),
    ]);
    expect(answer.status()).toBe(200);
    const suggestion = await answer.json();
    expect(suggestion.draft.features.length).toBe(grids.length);

    const shown = panel().getByTestId('suggestion');
    await expect.poll(() => shown.locator('[data-count="grids"]').textContent(), LIVE).toBe(String(grids.length));
    expect(await shown.locator('[data-count="deviation"]').textContent()).toBe(`${suggestion.households.max_deviation_pct.toFixed(1)}%`);
    // each draft grid is drawn dashed, labelled with its households
    const labels = await page.getByTestId('draft-label').allTextContents();
    expect(labels.sort()).toEqual(
      suggestion.draft.features
        .map((f: { properties: { name: string; households: number } }) => `${f.properties.name} ${f.properties.households} 户`)
        .sort(),
    );
    await idle(page);
    const drafted = await page.evaluate(() => window.gridmap!.map.queryRenderedFeatures({ layers: ['planning-draft'] }).length);
    expect(drafted).toBeGreaterThanOrEqual(grids.length);
    // the impact of taking the draft, as the API weighed it
    await expectImpactShown(suggestion.impact);
    expect(await panel().getByTestId('plan-save').textContent()).toBe('保存草案');
    await page.screenshot({ path: `test-results/planning-suggest-${mode}.png` });
    expect(errors).toEqual([]);
  });

  it('after a save, the map view shows the grid as saved, and the grids on a date are asked for at the end of the local day', async () => {
    const asked: string[] = [];
    page.on(
      'request',
      (r) => r.url().includes(`/api/v1/communities/${community}/grids?at=`) && asked.push(new URL(r.url()).searchParams.get('at')!),
    );
    await panel().getByRole('button', { name: '修改边界' }).click();
    const today = await page.evaluate(() => {
      const now = new Date();
      return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
    });
    expect(await panel().getByTestId('as-of').getAttribute('max')).toBe(today);
    await panel().getByTestId('as-of').fill(today);
    await expect.poll(() => asked.length, LIVE).toBe(1);
    expect(asked[0]).toMatch(new RegExp(`^${today}T23:59:59\\.999[+-]\\d{2}:\\d{2}$`));
    await panel().getByTestId('as-of-grids').waitFor(LIVE);

    const edited = (await currentGrids()).find((g) => g.id === grids[1].id)!;
    await expect.poll(() => panel().getByTestId('chosen-grid').getAttribute('data-grid'), LIVE).toBe(String(edited.id));
    await idle(page);
    const { position, neighbour } = await sharedVertex(edited.id);
    await drag(position, centre(neighbour), 45, async () => {});
    await expect.poll(() => impact().getAttribute('data-state'), LIVE).toBe('ready');
    const sent = redraws.at(-1)!.body.geometry as Polygon;
    await panel().getByTestId('plan-note').fill('网页拖动顶点：第二网格扩大');
    await panel().getByTestId('plan-save').click();
    await panel().getByTestId('saved').waitFor(LIVE);
    // the grids on that date are asked for again: the change just saved is one of them
    await expect.poll(() => asked.length, LIVE).toBe(2);

    // a point of what the grid took from its neighbour, well inside it
    const {
      rows: [taken],
    } = await sql<{ lon: number; lat: number }>`
      select ST_X(p) as lon, ST_Y(p) as lat from (
        select ST_PointOnSurface(ST_Intersection(ST_SetSRID(ST_GeomFromGeoJSON(${JSON.stringify(sent)}), 4326),
                                                 ST_SetSRID(ST_GeomFromGeoJSON(${JSON.stringify(neighbour.geometry)}), 4326))) as p) q`.execute(
      test.database.db,
    );
    expect(taken).toBeDefined();

    await page.getByRole('link', { name: '地图', exact: true }).click();
    // the map's own grid layers, from tiles, show the grid there now (the map before the save showed the neighbour)
    const gridAt = () =>
      page.evaluate(
        ([lon, lat]) => {
          try {
            const map = window.gridmap!.map;
            if (!map.loaded() || map.isMoving() || !map.getLayer('grids-fill') || map.getLayer('planning-grids-fill')) return null;
            return [...new Set(map.queryRenderedFeatures(map.project([lon, lat]), { layers: ['grids-fill'] }).map((f) => f.id))];
          } catch {
            return null;
          }
        },
        [taken.lon, taken.lat],
      );
    await expect.poll(gridAt, { timeout: 20_000, interval: 200 }).toEqual([edited.id]);
    await page.screenshot({ path: `test-results/planning-map-after-${mode}.png` });
    expect(errors).toEqual([]);
  });
});
