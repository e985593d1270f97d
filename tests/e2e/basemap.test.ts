import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32, deflateSync } from 'node:zlib';
import gcoord from 'gcoord';
import { sql } from 'kysely';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { worldPixel } from '../../web/src/features/map/gcj02.ts';
import { haveBrowser, servePages } from '../support/browser.ts';
import { mode, openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { coloursAt } from './pages.ts';

/**
 * A GCJ-02 basemap with Tianditu-style labels, in headless Chromium: a tile server made here draws a red
 * disc on its basemap and a blue dot on its labels where a building lies in GCJ-02, as AMap's tiles would;
 * on the page both must show at the building's WGS 84 position (where Gridmap draws it), the labels over
 * the basemap, and nothing at the unshifted GCJ-02 position, hundreds of metres away.
 */

type Rgb = [number, number, number];
const ZOOM = 15;

/** A 256×256 RGBA PNG, each pixel from `paint` (world pixel x, y at the tile's zoom). */
function png(paint: (x: number, y: number) => [number, number, number, number], left: number, top: number) {
  const rows = Buffer.alloc(256 * (1 + 256 * 4));
  for (let y = 0; y < 256; y++) {
    for (let x = 0; x < 256; x++) rows.set(paint(left + x + 0.5, top + y + 0.5), y * (1 + 1024) + 1 + x * 4);
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(256, 0);
  header.writeUInt32BE(256, 4);
  header.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe.skipIf(!haveBrowser)(`a GCJ-02 basemap with labels in headless Chromium (${mode} database)`, () => {
  let test: TestDatabase;
  let pages: Awaited<ReturnType<typeof servePages>> | undefined;
  let tiles: Server;
  let page: Page;
  let building: [number, number];
  const subdomains = new Set<string>();

  beforeAll(async () => {
    test = await openTestDatabase();
    const {
      rows: [b],
    } = await sql<{ at: [number, number] }>`
      select json_build_array(ST_X(p), ST_Y(p)) as at from (select ST_PointOnSurface(geom) p from buildings order by id limit 1) s`.execute(
      test.database.db,
    );
    building = b.at;
    // where AMap's tiles would draw the building: at its GCJ-02 position
    const marked = (z: number) => worldPixel(gcoord.transform(building, gcoord.WGS84, gcoord.GCJ02) as [number, number], z);
    tiles = createServer((req, res) => {
      const url = new URL(req.url!, 'http://tiles');
      const [subdomain] = url.pathname.split('/').slice(1);
      subdomains.add(subdomain);
      const [z, row, column] = ['TILEMATRIX', 'TILEROW', 'TILECOL'].map((k) => Number(url.searchParams.get(k)));
      const [mx, my] = marked(z);
      const near = (x: number, y: number, r: number) => Math.hypot(x - mx, y - my) <= r;
      const paint =
        url.searchParams.get('LAYER') === 'cva'
          ? (x: number, y: number): [number, number, number, number] => (near(x, y, 3) ? [0, 0, 255, 255] : [0, 0, 0, 0])
          : (x: number, y: number): [number, number, number, number] => (near(x, y, 9) ? [255, 0, 0, 255] : [220, 220, 220, 255]);
      res.writeHead(200, { 'Content-Type': 'image/png', 'Access-Control-Allow-Origin': '*' }).end(png(paint, column * 256, row * 256));
    });
    await new Promise<void>((resolve) => tiles.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(tiles.address() as AddressInfo).port}`;
    // Tianditu's WMTS form: the placeholders in its own order, {s} a subdomain (here a path, on one test server)
    const template = (layer: string) =>
      `${origin}/{s}/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=${layer}&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY`;
    pages = await servePages(test.database, {
      BASEMAP_TILES: template('vec'),
      BASEMAP_LABELS: template('cva'),
      BASEMAP_SUBDOMAINS: 't0,t1,t2',
      BASEMAP_CRS: 'gcj02',
    });
    page = await pages.browser.newPage({ viewport: { width: 1000, height: 700 } });
    await page.goto(`${pages.baseUrl}/`);
    await page.getByRole('button', { name: /^admin ·/ }).click();
    await page.getByRole('button', { name: '登录', exact: true }).click();
    await page.waitForFunction(() => window.gridmap?.map.loaded(), null, { timeout: 60_000 });
  }, 180_000);
  afterAll(async () => {
    await pages?.close();
    await new Promise((resolve) => tiles?.close(resolve));
    await test?.drop();
  });

  /** The colours drawn at screen offsets from the building, with Gridmap's own layers hidden, once every tile has come. */
  const coloursAround = async (offsets: [number, number][]) =>
    coloursAt(
      page,
      await page.evaluate(
        async ({ at, zoom, offsets }) => {
          const map = window.gridmap!.map;
          for (const layer of map.getStyle().layers) {
            if (!['background', 'basemap', 'basemap-labels'].includes(layer.id)) map.setLayoutProperty(layer.id, 'visibility', 'none');
          }
          map.jumpTo({ center: at, zoom });
          await new Promise<void>((resolve) => map.once('idle', () => resolve()));
          const centre = map.project(at);
          return offsets.map(([dx, dy]) => map.unproject([centre.x + dx, centre.y + dy]).toArray() as [number, number]);
        },
        { at: building, zoom: ZOOM, offsets },
      ),
    );

  it('draws the GCJ-02 basemap where the WGS 84 building is, its labels over it, from every subdomain', async () => {
    // MapLibre's world is 512 px wide at zoom 0: on screen, a 256 px tile pyramid's zoom + 1
    const [bx, by] = worldPixel(building, ZOOM + 1);
    const [gx, gy] = worldPixel(gcoord.transform(building, gcoord.WGS84, gcoord.GCJ02) as [number, number], ZOOM + 1);
    // the offset is real: an unshifted basemap would put the mark this far away
    expect(Math.hypot(gx - bx, gy - by)).toBeGreaterThan(80);
    const [atBuilding, ring, beside, unshifted] = await coloursAround([
      [0, 0],
      [6, 0],
      [40, 40],
      [gx - bx, gy - by],
    ]);
    const near = (pixel: Rgb, colour: Rgb) => Math.hypot(pixel[0] - colour[0], pixel[1] - colour[1], pixel[2] - colour[2]) < 60;
    expect(near(atBuilding as Rgb, [0, 0, 255]), `labels' blue at the building, got ${atBuilding}`).toBe(true);
    expect(near(ring as Rgb, [255, 0, 0]), `basemap's red round it, got ${ring}`).toBe(true);
    expect(near(beside as Rgb, [220, 220, 220]), `plain basemap beside it, got ${beside}`).toBe(true);
    expect(near(unshifted as Rgb, [220, 220, 220]), `nothing where GCJ-02 put it, got ${unshifted}`).toBe(true);
    expect([...subdomains].sort()).toEqual(['t0', 't1', 't2']);
    await page.screenshot({ path: `test-results/basemap-gcj02-${mode}.png` });
  });
});
