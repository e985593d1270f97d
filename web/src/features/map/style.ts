import type { FeatureCollection } from 'geojson';
import type {
  ExpressionSpecification,
  FilterSpecification,
  LayerSpecification,
  RasterSourceSpecification,
  StyleSpecification,
} from 'maplibre-gl';
import type { MapConfig } from '../../api.ts';
import { gcj02TileUrl } from './gcj02.ts';

export const LAYER_GROUPS = ['districts', 'streets', 'communities', 'grids', 'buildings'] as const;
export type LayerGroup = (typeof LAYER_GROUPS)[number];

/** The map layers each toggle shows or hides; the fill layers are also what a click selects. */
export const GROUP_LAYERS: Record<LayerGroup, string[]> = {
  districts: ['districts-line', 'districts-label'],
  streets: ['streets-line', 'streets-label'],
  communities: ['communities-fill', 'communities-line', 'communities-label', 'communities-selected'],
  grids: ['grids-fill', 'grids-line', 'grids-label', 'grids-selected'],
  buildings: ['buildings-fill', 'buildings-line', 'buildings-selected'],
};
export const CLICKABLE_LAYERS = ['buildings-fill', 'grids-fill', 'communities-fill'];

// What a view draws over the map (the dispatcher's issues, the point asked about, lines to the nearest
// volunteers, a wall's issues): source `overlay`, features with a `kind` (issue, target, volunteer, route)
// and a `state`; a wall's issues carry their `status` and whether they are `overdue`.
const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };

/** An issue's colour in each state: its pin on the map and its badge in the lists. */
export const ISSUE_STATUS_COLOURS: Record<string, string> = {
  reported: '#d35400',
  accepted: '#9a7d0a',
  in_progress: '#2874a6',
  escalated: '#7d3c98',
  reopened: '#c2185b',
  resolved: '#1e8449',
  answered: '#117a65',
  rated: '#5d6d7e',
  closed: '#5d6d7e',
  rejected: '#839192',
};
/** The ring round an overdue issue's pin and the mark on its row. */
export const OVERDUE_COLOUR = '#e3000f';
const statusColour: ExpressionSpecification = ['coalesce', ['get', ['get', 'status'], ['literal', ISSUE_STATUS_COLOURS]], '#e59866'];

// Names are drawn with the browser's own CJK fonts, so the map needs no font server.
export const LOCAL_FONT_FAMILY = '"Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif';

const NOTHING_SELECTED: FilterSpecification = ['==', ['id'], -1];

type Basemap = NonNullable<MapConfig['basemap']>;

/** A basemap's tiles, or its labels': GCJ-02 ones through the protocol that shifts them onto WGS 84 (gcj02.ts). */
const basemapSource = (basemap: Basemap, name: string, tiles: string[]): RasterSourceSpecification => ({
  type: 'raster',
  tiles: basemap.crs === 'gcj02' ? [gcj02TileUrl(name)] : tiles,
  tileSize: 256,
  attribution: basemap.attribution,
});

/**
 * An offline style: a plain background, an optional basemap the deployment names (and its labels), and Gridmap's
 * own layers from Gridmap's vector tiles (TileJSON at `origin`/tiles/<layer>.json), so a city of 100,000
 * buildings is drawn tile by tile, not from one big GeoJSON. Nothing is fetched from the internet.
 */
export function buildStyle(config: MapConfig, origin = ''): StyleSpecification {
  const layers: LayerSpecification[] = [{ id: 'background', type: 'background', paint: { 'background-color': '#f4f1ea' } }];
  const { basemap } = config;
  if (basemap) layers.push({ id: 'basemap', type: 'raster', source: 'basemap' });
  if (basemap?.labels) layers.push({ id: 'basemap-labels', type: 'raster', source: 'basemap-labels' });
  layers.push(
    {
      id: 'communities-fill',
      type: 'fill',
      source: 'communities',
      'source-layer': 'communities',
      paint: { 'fill-color': '#f7d9c4', 'fill-opacity': 0.35 },
    },
    { id: 'grids-fill', type: 'fill', source: 'grids', 'source-layer': 'grids', paint: { 'fill-color': '#4a7fb5', 'fill-opacity': 0.06 } },
    {
      id: 'grids-line',
      type: 'line',
      source: 'grids',
      'source-layer': 'grids',
      paint: { 'line-color': '#4a7fb5', 'line-width': 1.2, 'line-dasharray': [3, 2] },
    },
    {
      id: 'buildings-fill',
      type: 'fill',
      source: 'buildings',
      'source-layer': 'buildings',
      minzoom: 13,
      paint: {
        'fill-color': [
          'case',
          ['get', 'has_party_group'],
          '#d9534f',
          ['match', ['get', 'kind'], 'residential', '#e8a866', 'school', '#7fb77e', '#a9a9a9'],
        ],
        'fill-opacity': 0.85,
      },
    },
    {
      id: 'buildings-line',
      type: 'line',
      source: 'buildings',
      'source-layer': 'buildings',
      minzoom: 15,
      paint: { 'line-color': '#6b4a2b', 'line-width': 0.5 },
    },
    // districts and streets as wide pale bands under the communities' lines (their outer edges are the same line)
    {
      id: 'districts-line',
      type: 'line',
      source: 'districts',
      'source-layer': 'districts',
      paint: { 'line-color': '#5b2c6f', 'line-width': 9, 'line-opacity': 0.3 },
    },
    {
      id: 'streets-line',
      type: 'line',
      source: 'streets',
      'source-layer': 'streets',
      paint: { 'line-color': '#8e44ad', 'line-width': 5, 'line-opacity': 0.45 },
    },
    {
      id: 'communities-line',
      type: 'line',
      source: 'communities',
      'source-layer': 'communities',
      paint: { 'line-color': '#b03a2e', 'line-width': 2.5 },
    },
    {
      id: 'communities-selected',
      type: 'line',
      source: 'communities',
      'source-layer': 'communities',
      filter: NOTHING_SELECTED,
      paint: { 'line-color': '#ffcc00', 'line-width': 5 },
    },
    {
      id: 'grids-selected',
      type: 'line',
      source: 'grids',
      'source-layer': 'grids',
      filter: NOTHING_SELECTED,
      paint: { 'line-color': '#ffcc00', 'line-width': 4 },
    },
    {
      id: 'buildings-selected',
      type: 'line',
      source: 'buildings',
      'source-layer': 'buildings',
      filter: NOTHING_SELECTED,
      paint: { 'line-color': '#1f3a93', 'line-width': 3 },
    },
    {
      id: 'grids-label',
      type: 'symbol',
      source: 'grids',
      'source-layer': 'grids_label',
      minzoom: 14,
      layout: { 'text-field': ['get', 'name'], 'text-size': 13 },
      paint: { 'text-color': '#23476b', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5 },
    },
    // before the communities' names: where they collide, a community's name is kept
    {
      id: 'districts-label',
      type: 'symbol',
      source: 'districts',
      'source-layer': 'districts_label',
      maxzoom: 12,
      layout: { 'text-field': ['get', 'name'], 'text-size': 20 },
      paint: { 'text-color': '#5b2c6f', 'text-halo-color': '#ffffff', 'text-halo-width': 2 },
    },
    {
      id: 'streets-label',
      type: 'symbol',
      source: 'streets',
      'source-layer': 'streets_label',
      maxzoom: 15,
      layout: { 'text-field': ['get', 'name'], 'text-size': 17 },
      paint: { 'text-color': '#6c3483', 'text-halo-color': '#ffffff', 'text-halo-width': 2 },
    },
    {
      id: 'communities-label',
      type: 'symbol',
      source: 'communities',
      'source-layer': 'communities_label',
      layout: { 'text-field': ['get', 'name'], 'text-size': 16 },
      paint: { 'text-color': '#7b241c', 'text-halo-color': '#ffffff', 'text-halo-width': 2 },
    },
    {
      id: 'overlay-routes',
      type: 'line',
      source: 'overlay',
      filter: ['==', ['get', 'kind'], 'route'],
      paint: {
        'line-color': ['match', ['get', 'state'], 'accepted', '#1e8449', 'arrived', '#1e8449', 'offered', '#d68910', '#2e86c1'],
        'line-width': ['match', ['get', 'state'], 'accepted', 4, 'arrived', 4, 2.5],
        'line-dasharray': ['match', ['get', 'state'], 'offered', ['literal', [2, 1]], ['literal', [1, 0]]],
      },
    },
    {
      id: 'overlay-points',
      type: 'circle',
      source: 'overlay',
      filter: ['!=', ['get', 'kind'], 'route'],
      paint: {
        'circle-radius': ['match', ['get', 'kind'], 'issue', ['case', ['==', ['get', 'selected'], true], 9, 7], 'target', 8, 6],
        'circle-color': [
          'match',
          ['get', 'kind'],
          'issue',
          ['case', ['has', 'status'], statusColour, ['==', ['get', 'selected'], true], '#b03a2e', '#e59866'],
          'target',
          '#1f3a93',
          ['match', ['get', 'state'], 'accepted', '#1e8449', 'arrived', '#1e8449', 'offered', '#d68910', '#2e86c1'],
        ],
        'circle-stroke-color': [
          'case',
          ['==', ['get', 'overdue'], true],
          OVERDUE_COLOUR,
          ['==', ['get', 'selected'], true],
          '#1f3a93',
          '#ffffff',
        ],
        'circle-stroke-width': ['case', ['==', ['get', 'overdue'], true], 3, 2],
      },
    },
  );
  return {
    version: 8,
    sources: {
      ...(basemap ? { basemap: basemapSource(basemap, 'basemap', basemap.tiles) } : {}),
      ...(basemap?.labels ? { 'basemap-labels': basemapSource(basemap, 'labels', basemap.labels) } : {}),
      ...Object.fromEntries(LAYER_GROUPS.map((group) => [group, { type: 'vector' as const, url: `${origin}/tiles/${group}.json` }])),
      overlay: { type: 'geojson', data: EMPTY },
    },
    layers,
  };
}

export const selectedFilter = (id: number | string | undefined): FilterSpecification =>
  id === undefined ? NOTHING_SELECTED : ['==', ['id'], id];
