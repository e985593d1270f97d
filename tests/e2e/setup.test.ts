import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { sql } from 'kysely';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../server/db/database.ts';
import { ensureAdmin } from '../../server/features/accounts/service.ts';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { ogrShapefileZip } from '../support/shapefile.ts';
import { LIVE, newPage } from './pages.ts';

const PASSWORD = 'a-new-city-2026';
/** A square of `size` degrees with its south-west corner at lon, lat. */
const square = (lon: number, lat: number, size: number) => ({
  type: 'Polygon',
  coordinates: [
    [
      [lon, lat],
      [lon + size, lat],
      [lon + size, lat + size],
      [lon, lat + size],
      [lon, lat],
    ],
  ],
});
const feature = (geometry: object | null, properties: object) => ({ type: 'Feature', geometry, properties });
const collection = (features: object[], crs?: string) => ({
  type: 'FeatureCollection',
  ...(crs ? { crs: { type: 'name', properties: { name: crs } } } : {}),
  features,
});

const COMMUNITIES = [
  { SQDM: '610113001001', SQMC: '长延堡社区', lon: 108.93 },
  { SQDM: '610113001002', SQMC: '吉祥村社区', lon: 108.95 },
];

/**
 * A new city (雁塔区's codes, round 108.94 E, 34.21 N) as its offices hand it over: districts and streets as
 * GeoJSON (the street without a boundary), the communities as a Shapefile made by GDAL in CGCS2000
 * Gauss–Krüger (EPSG:4545) with a GBK DBF, no .cpg and the bureau's column names, the grids as GeoJSON naming
 * their communities by code only, the buildings as CSV with WKT footprints.
 */
async function cityFiles(db: Database['db'], dir: string) {
  const files = {
    districts: join(dir, '区县.geojson'),
    streets: join(dir, '街道.geojson'),
    communities: join(dir, '社区.zip'),
    grids: join(dir, '网格.geojson'),
    buildings: join(dir, '楼栋.csv'),
  };
  await writeFile(files.districts, JSON.stringify(collection([feature(square(108.9, 34.18, 0.08), { code: '610113', name: '雁塔区' })])));
  await writeFile(
    files.streets,
    JSON.stringify(collection([feature(null, { code: '610113001', name: '小寨路街道', district_code: '610113' })])),
  );
  const projected = [];
  for (const c of COMMUNITIES) {
    const {
      rows: [{ geometry }],
    } = await sql<{ geometry: object }>`
      select ST_AsGeoJSON(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(${JSON.stringify(square(c.lon, 34.2, 0.02))}), 4326), 4545), 3)::json as geometry`.execute(
      db,
    );
    projected.push(feature(geometry, { OBJECTID: projected.length + 1, SQDM: c.SQDM, SQMC: c.SQMC, JDDM: '610113001', Shape_Area: 4e6 }));
  }
  await writeFile(
    files.communities,
    zipSync(await ogrShapefileZip(collection(projected, 'urn:ogc:def:crs:EPSG::4545'), ['ENCODING=LDID/77'])),
  );
  await writeFile(
    files.grids,
    JSON.stringify(
      collection(
        COMMUNITIES.flatMap((c) =>
          [0, 1].map((j) =>
            feature(square(c.lon + j * 0.01, 34.2, 0.01), { code: `${c.SQDM}00${j + 1}`, name: `${c.SQMC}第${j + 1}网格` }),
          ),
        ),
      ),
    ),
  );
  const footprint = (lon: number) =>
    `POLYGON((${[
      [0, 0],
      [0.0005, 0],
      [0.0005, 0.0003],
      [0, 0.0003],
      [0, 0],
    ]
      .map(([x, y]) => `${(lon + x).toFixed(5)} ${(34.205 + y).toFixed(5)}`)
      .join(',')}))`;
  await writeFile(
    files.buildings,
    [
      'name,households,wkt',
      ...COMMUNITIES.flatMap((c) => [0, 1, 2, 3].map((k) => `${c.SQMC}${k + 1}号楼,${40 + k},"${footprint(c.lon + 0.003 + k * 0.004)}"`)),
    ].join('\n'),
  );
  return files;
}

describe.skipIf(!haveBrowser)(`a new city's admin sets up the map in the browser (${mode} database)`, () => {
  let test: TestDatabase;
  let pages: Awaited<ReturnType<typeof servePages>>;
  let browser: Browser;
  let dir: string;
  const errors: string[] = [];

  beforeAll(async () => {
    test = await openTestDatabase();
    // an empty map, and its first admin as GRIDMAP_ADMIN_PASSWORD makes one
    await sql`truncate districts, streets, communities, grids, buildings, members, units, issues, users cascade`.execute(test.database.db);
    await ensureAdmin(test.database.db, PASSWORD);
    pages = await servePages(test.database);
    browser = pages.browser;
    dir = await mkdtemp(join(tmpdir(), 'gridmap-setup-'));
  });
  afterAll(async () => {
    await pages?.close();
    await test?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('walks an empty map through the setup view to a map of the new city', async () => {
    const files = await cityFiles(test.database.db, dir);
    const page = await newPage(browser, errors);
    await page.goto(`${pages.baseUrl}/`);
    await page.getByLabel('用户名').fill('admin');
    await page.getByLabel('密码').fill(PASSWORD);
    await page.getByRole('button', { name: '登录', exact: true }).click();
    const setup = page.getByTestId('setup-panel');
    await setup.waitFor({ timeout: 60_000 });
    const step = (layer: string) => setup.locator(`li[data-layer="${layer}"]`);
    expect(await step('districts').textContent()).toContain('尚无');
    await page.screenshot({ path: `test-results/setup-empty-${mode}.png` });

    /** Imports the file of the step the view offers next, checked first; answers the report's text. */
    const importStep = async (layer: keyof typeof files, fields?: string) => {
      const panel = setup.getByTestId('import-panel');
      await expect.poll(() => panel.locator('h2').textContent(), LIVE).toContain(await step(layer).locator('strong').textContent());
      await panel.locator('input[type=file]').setInputFiles(files[layer]);
      if (fields) await panel.locator('input[name=fields]').fill(fields);
      await panel.getByRole('button', { name: '检查（不写入）' }).click();
      await expect.poll(() => panel.getByTestId('import-report').textContent(), { timeout: 30_000 }).toContain('检查通过');
      await panel.getByRole('button', { name: '导入', exact: true }).click();
      await expect.poll(() => step(layer).textContent(), { timeout: 30_000 }).toMatch(/已有/);
    };
    await importStep('districts');
    await importStep('streets');
    await importStep('communities', 'code:SQDM,name:SQMC,street_code:JDDM');
    await expect.poll(() => step('communities').textContent(), LIVE).toContain('2 个社区还没有网格');
    // the GBK names came through, and the Gauss–Krüger corners landed where PostGIS puts them (within 1 cm)
    const { rows } = await sql<{ name: string; off: number }>`
      select name, ST_Distance(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1)::geography, ST_SetSRID(ST_MakePoint(x, 34.20), 4326)::geography) as off
      from communities cross join lateral (select case code when '610113001001' then 108.93 else 108.95 end as x) corner order by code`.execute(
      test.database.db,
    );
    expect(rows.map((r) => r.name)).toEqual(COMMUNITIES.map((c) => c.SQMC));
    for (const { off } of rows) expect(off).toBeLessThan(0.01);
    await importStep('grids');
    await importStep('buildings');
    await expect.poll(() => step('grids').textContent(), LIVE).toContain('已完成');
    await expect.poll(() => step('buildings').textContent(), LIVE).toContain('已完成');
    await page.screenshot({ path: `test-results/setup-loaded-${mode}.png`, fullPage: true });

    // and on to the map, which opens on the new city with its communities drawn
    await setup.getByRole('button', { name: '查看地图' }).click();
    await page.waitForFunction(() => window.gridmap?.map.loaded(), null, { timeout: 60_000 });
    await expect
      .poll(
        () =>
          page.evaluate(() => {
            const map = window.gridmap!.map;
            return [
              ...new Set(map.queryRenderedFeatures({ layers: ['communities-fill'] }).map((f) => f.properties?.name as string)),
            ].sort();
          }),
        { timeout: 30_000, interval: 250 },
      )
      .toEqual(COMMUNITIES.map((c) => c.SQMC).sort());
    await page.screenshot({ path: `test-results/setup-map-${mode}.png` });
    expect(errors).toEqual([]);
  }, 300_000);
});
