import { describe, expect, it } from 'vitest';
import gcoord from 'gcoord';
import { gcj02Window, worldPixel } from '../web/src/features/map/gcj02.ts';
import { GROUP_LAYERS, LAYER_GROUPS, buildStyle } from '../web/src/features/map/style.ts';

describe('the offline map style', () => {
  it('fetches nothing from the internet without a configured basemap', () => {
    const style = buildStyle({ basemap: null, maxFeatures: 10000 });
    expect(JSON.stringify(style)).not.toMatch(/https?:/);
    expect(style.glyphs).toBeUndefined();
    expect(style.sprite).toBeUndefined();
    // the layers from Gridmap's own tiles, and the overlay the dispatch views draw on (local GeoJSON, empty at first)
    expect(Object.keys(style.sources)).toEqual(['districts', 'streets', 'communities', 'grids', 'buildings', 'overlay']);
    for (const group of LAYER_GROUPS) expect(style.sources[group]).toEqual({ type: 'vector', url: `/tiles/${group}.json` });
    expect(style.sources.overlay.type).toBe('geojson');
  });

  it('draws a configured basemap above the background and under every Gridmap layer', () => {
    const style = buildStyle({
      basemap: { tiles: ['https://tiles.example.org/{z}/{x}/{y}.png'], labels: null, crs: 'wgs84', attribution: '天地图' },
      maxFeatures: 10000,
    });
    expect(style.sources.basemap).toMatchObject({
      type: 'raster',
      tiles: ['https://tiles.example.org/{z}/{x}/{y}.png'],
      attribution: '天地图',
    });
    expect(style.layers.slice(0, 2).map((l) => l.id)).toEqual(['background', 'basemap']);
    expect(style.sources['basemap-labels']).toBeUndefined();
  });

  it("draws Tianditu's labels over its basemap and under every Gridmap layer, from every subdomain", () => {
    const tiles = [0, 1].map((n) => `http://t${n}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=KEY`);
    const labels = [0, 1].map((n) => `http://t${n}.tianditu.gov.cn/DataServer?T=cva_w&x={x}&y={y}&l={z}&tk=KEY`);
    const style = buildStyle({ basemap: { tiles, labels, crs: 'wgs84', attribution: '天地图' }, maxFeatures: 10000 });
    expect(style.sources.basemap).toMatchObject({ type: 'raster', tiles });
    expect(style.sources['basemap-labels']).toMatchObject({ type: 'raster', tiles: labels });
    expect(style.layers.slice(0, 3).map((l) => l.id)).toEqual(['background', 'basemap', 'basemap-labels']);
  });

  it("takes a GCJ-02 basemap's tiles through the protocol that shifts them onto WGS 84", () => {
    const tiles = ['https://webrd01.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}'];
    const style = buildStyle({ basemap: { tiles, labels: tiles, crs: 'gcj02', attribution: '高德' }, maxFeatures: 10000 });
    expect(style.sources.basemap).toMatchObject({ type: 'raster', tiles: ['gcj02://basemap/{z}/{x}/{y}'] });
    expect(style.sources['basemap-labels']).toMatchObject({ type: 'raster', tiles: ['gcj02://labels/{z}/{x}/{y}'] });
  });

  it('draws the overlay above every other layer', () => {
    const ids = buildStyle({ basemap: null, maxFeatures: 10000 }).layers.map((l) => l.id);
    expect(ids.slice(-2)).toEqual(['overlay-routes', 'overlay-points']);
  });

  it('draws each group’s layers from its own tile layer, and names from its label points', () => {
    for (const layer of buildStyle({ basemap: null, maxFeatures: 10000 }).layers) {
      if (!('source' in layer) || !LAYER_GROUPS.includes(layer.source as never)) continue;
      // a name once per area (server/features/tiles/layers.ts: labelled layers), not once per tile its outline crosses
      expect(layer['source-layer'], layer.id).toBe(layer.type === 'symbol' ? `${layer.source}_label` : layer.source);
    }
  });

  it('has every layer a toggle controls', () => {
    const ids = buildStyle({ basemap: null, maxFeatures: 10000 }).layers.map((l) => l.id);
    for (const group of LAYER_GROUPS) for (const layer of GROUP_LAYERS[group]) expect(ids).toContain(layer);
  });
});

describe('a GCJ-02 basemap under WGS 84 data', () => {
  // Yan'an (the demo city) and Beijing
  const places: [number, number][] = [
    [109.49, 36.59],
    [116.397, 39.909],
  ];

  it("cuts each tile from the GCJ-02 tiles where GCJ-02 moved its centre: a building's pixel moves by the GCJ-02 offset", () => {
    for (const place of places) {
      for (const z of [10, 14, 18]) {
        const [px, py] = worldPixel(place, z);
        const [x, y] = [Math.floor(px / 256), Math.floor(py / 256)];
        const [left, top] = gcj02Window(z, x, y);
        // the pixel the shifted tile shows at the building is the GCJ-02 basemap's pixel of the building's GCJ-02 position
        const [gx, gy] = worldPixel(gcoord.transform(place, gcoord.WGS84, gcoord.GCJ02) as [number, number], z);
        const shown = [left + (px - x * 256), top + (py - y * 256)];
        expect(Math.hypot(shown[0] - gx, shown[1] - gy), `z${z} at ${place}`).toBeLessThan(1);
        // and the offset is real: hundreds of metres, many pixels at z18
        if (z === 18) expect(Math.hypot(gx - px, gy - py)).toBeGreaterThan(100);
      }
    }
  });

  it("is within a pixel at the tile's corners too, at every zoom", () => {
    for (const place of places) {
      for (let z = 3; z <= 19; z++) {
        const [px, py] = worldPixel(place, z);
        const [x, y] = [Math.floor(px / 256), Math.floor(py / 256)];
        const [left, top] = gcj02Window(z, x, y);
        for (const [cx, cy] of [
          [0, 0],
          [256, 0],
          [0, 256],
          [256, 256],
        ]) {
          const corner = worldPixel(lonLatAt(x * 256 + cx, y * 256 + cy, z), z);
          const [gx, gy] = worldPixel(
            gcoord.transform(lonLatAt(corner[0], corner[1], z), gcoord.WGS84, gcoord.GCJ02) as [number, number],
            z,
          );
          expect(Math.hypot(left + cx - gx, top + cy - gy), `z${z} corner ${cx},${cy}`).toBeLessThan(1.5);
        }
      }
    }
  });
});

function lonLatAt(px: number, py: number, z: number): [number, number] {
  const size = 256 * 2 ** z;
  return [(px / size) * 360 - 180, (Math.atan(Math.sinh(Math.PI * (1 - (2 * py) / size))) * 180) / Math.PI];
}
