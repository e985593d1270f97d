import { describe, expect, it } from 'vitest';
import { GROUP_LAYERS, LAYER_GROUPS, buildStyle } from '../web/src/features/map/style.ts';

describe('the offline map style', () => {
  it('fetches nothing from the internet without a configured basemap', () => {
    const style = buildStyle({ basemap: null, maxFeatures: 10000 });
    expect(JSON.stringify(style)).not.toMatch(/https?:/);
    expect(style.glyphs).toBeUndefined();
    expect(style.sprite).toBeUndefined();
    // the layers from Gridmap's own tiles, and the overlay the dispatch views draw on (local GeoJSON, empty at first)
    expect(Object.keys(style.sources)).toEqual(['communities', 'grids', 'buildings', 'overlay']);
    for (const group of LAYER_GROUPS) expect(style.sources[group]).toEqual({ type: 'vector', url: `/tiles/${group}.json` });
    expect(style.sources.overlay.type).toBe('geojson');
  });

  it('draws a configured basemap above the background and under every Gridmap layer', () => {
    const style = buildStyle({ basemap: { tiles: ['https://tiles.example.org/{z}/{x}/{y}.png'], attribution: '天地图' }, maxFeatures: 10000 });
    expect(style.sources.basemap).toMatchObject({ type: 'raster', tiles: ['https://tiles.example.org/{z}/{x}/{y}.png'], attribution: '天地图' });
    expect(style.layers.slice(0, 2).map((l) => l.id)).toEqual(['background', 'basemap']);
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
