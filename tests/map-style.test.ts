import type { FeatureCollection } from 'geojson';
import { describe, expect, it } from 'vitest';
import { GROUP_LAYERS, LAYER_GROUPS, buildStyle } from '../web/src/features/map/style.ts';

const empty: FeatureCollection = { type: 'FeatureCollection', features: [] };
const data = { communities: empty, grids: empty, buildings: empty };

describe('the offline map style', () => {
  it('fetches nothing from the internet without a configured basemap', () => {
    const style = buildStyle({ basemap: null, maxFeatures: 10000 }, data);
    expect(JSON.stringify(style)).not.toMatch(/https?:/);
    expect(style.glyphs).toBeUndefined();
    expect(style.sprite).toBeUndefined();
    // the layers' own data, and the overlay the dispatch views draw on (local GeoJSON, empty at first)
    expect(Object.keys(style.sources)).toEqual(['communities', 'grids', 'buildings', 'overlay']);
    expect(Object.values(style.sources).every((source) => source.type === 'geojson')).toBe(true);
  });

  it('draws a configured basemap above the background and under every Gridmap layer', () => {
    const style = buildStyle({ basemap: { tiles: ['https://tiles.example.org/{z}/{x}/{y}.png'], attribution: '天地图' }, maxFeatures: 10000 }, data);
    expect(style.sources.basemap).toMatchObject({ type: 'raster', tiles: ['https://tiles.example.org/{z}/{x}/{y}.png'], attribution: '天地图' });
    expect(style.layers.slice(0, 2).map((l) => l.id)).toEqual(['background', 'basemap']);
  });

  it('draws the overlay above every other layer', () => {
    const ids = buildStyle({ basemap: null, maxFeatures: 10000 }, data).layers.map((l) => l.id);
    expect(ids.slice(-2)).toEqual(['overlay-routes', 'overlay-points']);
  });

  it('has every layer a toggle controls', () => {
    const ids = buildStyle({ basemap: null, maxFeatures: 10000 }, data).layers.map((l) => l.id);
    for (const group of LAYER_GROUPS) for (const layer of GROUP_LAYERS[group]) expect(ids).toContain(layer);
  });
});
