import gcoord from 'gcoord';

/**
 * A GCJ-02 basemap (AMap's, Tencent's) drawn where WGS 84 data lies: each tile the map asks for is cut
 * from the basemap's own tiles at the place GCJ-02 moved it to. Only the basemap's pixels move; Gridmap's
 * layers, clicks, drawing and every coordinate sent to the server stay WGS 84.
 */

export const GCJ02_PROTOCOL = 'gcj02';
const TILE = 256;

/** The style's URL for a shifted tile set (`basemap`, `labels`): MapLibre fills in z, x and y. */
export const gcj02TileUrl = (name: string) => `${GCJ02_PROTOCOL}://${name}/{z}/{x}/{y}`;

/** A point's pixel on the Web Mercator world at zoom z. */
export function worldPixel([lon, lat]: [number, number], z: number): [number, number] {
  const size = TILE * 2 ** z;
  const sin = Math.sin((lat * Math.PI) / 180);
  return [((lon + 180) / 360) * size, (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * size];
}

function lonLatOf([px, py]: [number, number], z: number): [number, number] {
  const size = TILE * 2 ** z;
  return [(px / size) * 360 - 180, (Math.atan(Math.sinh(Math.PI * (1 - (2 * py) / size))) * 180) / Math.PI];
}

/**
 * Where the pixels of WGS 84 tile z/x/y lie in the GCJ-02 tiles: the window's top-left corner in world
 * pixels. The shift is the one at the tile's centre: it changes by a few metres a kilometre, less than a
 * pixel across a tile at any zoom (tests/map-style.test.ts measures it).
 */
export function gcj02Window(z: number, x: number, y: number): [number, number] {
  const centre = lonLatOf([(x + 0.5) * TILE, (y + 0.5) * TILE], z);
  const [px, py] = worldPixel(gcoord.transform(centre, gcoord.WGS84, gcoord.GCJ02) as [number, number], z);
  return [Math.round(px - TILE / 2), Math.round(py - TILE / 2)];
}

/**
 * The tile `url` (gcj02://name/z/x/y) from the up to four basemap tiles under its window, fetched from
 * `templates` (one per subdomain, taken in turn); a tile the server does not have is left blank.
 */
export async function loadShiftedTile(url: string, templates: string[], signal: AbortSignal): Promise<ImageBitmap> {
  const [z, x, y] = url.split('/').slice(-3).map(Number);
  const [left, top] = gcj02Window(z, x, y);
  const canvas = new OffscreenCanvas(TILE, TILE);
  const context = canvas.getContext('2d')!;
  const columns = 2 ** z;
  const pieces: Promise<void>[] = [];
  for (let ty = Math.floor(top / TILE); ty * TILE < top + TILE; ty++) {
    for (let tx = Math.floor(left / TILE); tx * TILE < left + TILE; tx++) {
      if (ty < 0 || ty >= columns) continue;
      const column = ((tx % columns) + columns) % columns;
      const template = templates[(column + ty) % templates.length];
      const source = template.replaceAll('{z}', String(z)).replaceAll('{x}', String(column)).replaceAll('{y}', String(ty));
      pieces.push(
        (async () => {
          const response = await fetch(source, { signal });
          if (!response.ok) return;
          context.drawImage(await createImageBitmap(await response.blob()), tx * TILE - left, ty * TILE - top);
        })(),
      );
    }
  }
  await Promise.all(pieces);
  return canvas.transferToImageBitmap();
}
