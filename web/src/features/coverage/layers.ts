import type { FeatureCollection } from 'geojson';
import type {
  ExpressionSpecification,
  FilterSpecification,
  GeoJSONSource,
  LayerSpecification,
  Map as MapLibreMap,
  SourceSpecification,
  VectorTileSource,
} from 'maplibre-gl';
import { useEffect, useMemo, useState } from 'react';
import type { Areas, Level } from './metrics.ts';

/** The density layers a leader may lay over the colours: hexagons of members and of volunteers, the issues' heat. */
export type Density = 'members' | 'volunteers' | 'issues';
export const DENSITIES: Density[] = ['members', 'volunteers', 'issues'];

/** The hexagons' colours, few to many (ColorBrewer RdPu, Blues): apart from the areas' red-to-green. */
export const HEXAGON_RAMPS: Record<'members' | 'volunteers', string[]> = {
  members: ['#fcc5c0', '#fa9fb5', '#f768a1', '#c51b8a', '#7a0177'],
  volunteers: ['#c6dbef', '#9ecae1', '#6baed6', '#3182bd', '#08519c'],
};
/** The issues' heat, sparse to dense (magma). */
export const HEAT_RAMP = ['#fcfdbf', '#fc8961', '#b73779', '#51127c'];
/** Buildings no volunteer reaches: magenta, unlike any colour of the areas. */
export const GAP_COLOUR = '#e6007e';

const CHOROPLETH_OPACITY = 0.75;
/** Under the map's boundaries, names and the views' overlay, which stay readable over the colours... */
const BELOW = 'communities-line';
/** ...but the outline of the area chosen over the boundaries. */
const OUTLINES_BELOW = 'communities-selected';
const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };
const NOTHING: FilterSpecification = ['==', ['id'], -1];

/** The states in which an issue is open (as the server's OPEN_STATUSES): the issues the metrics count as open. */
const OPEN_ISSUES = ['reported', 'accepted', 'in_progress', 'escalated', 'reopened'];

const tiles = (layer: string): SourceSpecification => ({ type: 'vector', url: new URL(`/tiles/${layer}.json`, location.href).href });
/**
 * The districts, streets or communities are the map's own tiles (style.ts), coloured by the figures of the
 * coverage answer set on them as feature state; the gaps are a few hundred features of GeoJSON; grids,
 * volunteers and issues come as the API's vector tiles; members too, for those who may count them (MEMBERS).
 */
function sources(): Record<string, SourceSpecification> {
  return {
    'coverage-grids': tiles('grid_coverage'),
    'coverage-volunteers': tiles('volunteers'),
    'coverage-issues': tiles('issues'),
    'coverage-gaps': { type: 'geojson', data: EMPTY },
  };
}

const hidden = { visibility: 'none' as const };
/** The areas of the level shown, on the map's tiles of that level: only those the coverage answer holds. */
const areasLayers = (source: AreaSource, ids: number[]): LayerSpecification[] => [
  {
    id: 'coverage-areas',
    type: 'fill',
    source,
    'source-layer': source,
    filter: ['in', ['id'], ['literal', ids]],
    layout: hidden,
    paint: { 'fill-opacity': CHOROPLETH_OPACITY },
  },
  {
    id: 'coverage-chosen-area',
    type: 'line',
    source,
    'source-layer': source,
    filter: NOTHING,
    paint: { 'line-color': '#1f3a93', 'line-width': 4 },
  },
];
const LAYERS: LayerSpecification[] = [
  {
    id: 'coverage-grids',
    type: 'fill',
    source: 'coverage-grids',
    'source-layer': 'grid_coverage',
    layout: hidden,
    paint: { 'fill-opacity': CHOROPLETH_OPACITY },
  },
  {
    id: 'coverage-volunteers',
    type: 'fill',
    source: 'coverage-volunteers',
    'source-layer': 'volunteers',
    layout: hidden,
    paint: { 'fill-opacity': 0.6, 'fill-outline-color': '#ffffff' },
  },
  {
    id: 'coverage-issues',
    type: 'heatmap',
    source: 'coverage-issues',
    'source-layer': 'issues',
    layout: hidden,
    filter: ['in', ['get', 'status'], ['literal', OPEN_ISSUES]],
    paint: {
      'heatmap-radius': ['interpolate', ['linear'], ['zoom'], 11, 10, 16, 40],
      'heatmap-opacity': 0.8,
      'heatmap-color': [
        'interpolate',
        ['linear'],
        ['heatmap-density'],
        0,
        'rgba(252,253,191,0)',
        ...HEAT_RAMP.flatMap((colour, i) => [(i + 1) / HEAT_RAMP.length, colour]),
      ] as ExpressionSpecification,
    },
  },
  { id: 'coverage-gaps', type: 'fill', source: 'coverage-gaps', paint: { 'fill-color': GAP_COLOUR, 'fill-opacity': 0.85 } },
  { id: 'coverage-gaps-line', type: 'line', source: 'coverage-gaps', paint: { 'line-color': '#3b0030', 'line-width': 2 } },
];
/**
 * The members' hexagons, under the volunteers': only for those who may count all members, as the server
 * refuses their tiles (and their TileJSON) to roles that read only volunteers.
 */
const MEMBERS: LayerSpecification = {
  id: 'coverage-members',
  type: 'fill',
  source: 'coverage-members',
  'source-layer': 'members',
  layout: hidden,
  paint: { 'fill-opacity': 0.6, 'fill-outline-color': '#ffffff' },
};
const OUTLINES: LayerSpecification[] = [
  {
    id: 'coverage-chosen-grid',
    type: 'line',
    source: 'coverage-grids',
    'source-layer': 'grid_coverage',
    filter: NOTHING,
    paint: { 'line-color': '#1f3a93', 'line-width': 3 },
  },
];

/** The map's tiles (style.ts) the areas of a level are drawn on. */
type AreaSource = 'districts' | 'streets' | 'communities';

/** What the coverage view draws. */
export interface CoverageDrawing {
  level: Level;
  /** the districts, streets or communities as their coverage answer gives them: the level's, or the grids' communities */
  areas: Areas<object> | null;
  /** the areas' fill colour (metrics.ts fillColour: by feature state for the areas, by property for the grids) */
  colour: ExpressionSpecification | string;
  /** the area of `areas` outlined */
  chosen: number | null;
  /** the community whose grids are shown (all grids: null) */
  community: number | null;
  grid: number | null;
  densities: Record<Density, boolean>;
  hexagonColours: Record<'members' | 'volunteers', ExpressionSpecification | string>;
  /** whether the viewer may count all Party members, or only volunteers */
  readsMembers: boolean;
  gaps: FeatureCollection | null;
}

/** Takes what a view added off the map, if the map still has it (a map signed out of has nothing left). */
function remove(map: MapLibreMap, layers: LayerSpecification[], sources: string[]) {
  for (const layer of layers) if (map.getLayer(layer.id)) map.removeLayer(layer.id);
  for (const id of sources) if (map.getSource(id)) map.removeSource(id);
}

/**
 * Draws the coverage on the shared map while the view is open: its own sources and layers, added when the
 * view opens and removed when it closes, so the other views find the map as they left it.
 */
export function useCoverageMap(map: MapLibreMap | null, drawing: CoverageDrawing) {
  const { level, areas, colour, chosen, community, grid, densities, hexagonColours, readsMembers, gaps } = drawing;
  useEffect(() => {
    if (!map) return;
    for (const [id, source] of Object.entries(sources())) map.addSource(id, source);
    for (const layer of LAYERS) map.addLayer(layer, BELOW);
    for (const layer of OUTLINES) map.addLayer(layer, OUTLINES_BELOW);
    return () => remove(map, [...LAYERS, ...OUTLINES], Object.keys(sources()));
  }, [map]);
  useEffect(() => {
    if (!map || !readsMembers) return;
    map.addSource('coverage-members', tiles('members'));
    map.addLayer(MEMBERS, 'coverage-volunteers');
    return () => remove(map, [MEMBERS], ['coverage-members']);
  }, [map, readsMembers]);

  // the level's areas, or the communities of the grids' level (whose chosen community is outlined)
  const areaSource: AreaSource = level === 'grids' ? 'communities' : level;
  const ids = useMemo(() => areas?.features.map((area) => area.id) ?? [], [areas]);
  useEffect(() => {
    if (!map) return;
    const layers = areasLayers(areaSource, ids);
    map.addLayer(layers[0], 'coverage-grids');
    map.addLayer(layers[1], 'coverage-chosen-grid');
    return () => remove(map, layers, []);
  }, [map, areaSource, ids]);
  useEffect(() => {
    if (!map || !areas) return;
    // each area's figures on its tile feature, which the colour reads
    const tiles = { source: areaSource, sourceLayer: areaSource };
    for (const area of areas.features) map.setFeatureState({ ...tiles, id: area.id }, area.properties);
    return () => {
      if (map.getSource(areaSource)) map.removeFeatureState(tiles);
    };
  }, [map, areaSource, areas]);
  useEffect(() => {
    map?.getSource<GeoJSONSource>('coverage-gaps')?.setData(gaps ?? EMPTY);
  }, [map, gaps]);

  useEffect(() => {
    if (!map) return;
    map.setLayoutProperty('coverage-areas', 'visibility', level !== 'grids' ? 'visible' : 'none');
    map.setLayoutProperty('coverage-grids', 'visibility', level === 'grids' ? 'visible' : 'none');
    map.setPaintProperty(level !== 'grids' ? 'coverage-areas' : 'coverage-grids', 'fill-color', colour);
    // grids of one community, or every grid in view
    map.setFilter('coverage-grids', level === 'grids' && community !== null ? ['==', ['get', 'community_id'], community] : null);
  }, [map, level, colour, community, areaSource, ids]);

  useEffect(() => {
    if (!map) return;
    map.setFilter('coverage-chosen-area', chosen === null ? NOTHING : ['==', ['id'], chosen]);
    map.setFilter('coverage-chosen-grid', grid === null ? NOTHING : ['==', ['id'], grid]);
  }, [map, chosen, grid, areaSource, ids]);

  useEffect(() => {
    if (!map) return;
    for (const density of DENSITIES) {
      if (map.getLayer(`coverage-${density}`))
        map.setLayoutProperty(`coverage-${density}`, 'visibility', densities[density] ? 'visible' : 'none');
    }
    if (readsMembers) map.setPaintProperty('coverage-members', 'fill-color', hexagonColours.members);
    map.setPaintProperty('coverage-volunteers', 'fill-color', hexagonColours.volunteers);
  }, [map, densities, hexagonColours, readsMembers]);
}

/**
 * Whether the map is zoomed out beyond where the grids' tiles start (their TileJSON's minzoom), so no grid
 * is drawn; looked at each time the map settles.
 */
export function useBelowGrids(map: MapLibreMap | null): boolean {
  const [below, setBelow] = useState(false);
  useEffect(() => {
    if (!map) return;
    const look = () => setBelow(map.getZoom() < (map.getSource<VectorTileSource>('coverage-grids')?.minzoom ?? 0));
    look();
    map.on('idle', look);
    return () => void map.off('idle', look);
  }, [map]);
  return below;
}

/** No values (one array, the same each render). */
const NO_VALUES: (number | null)[] = [];

/**
 * A property's values over the features of `layer` drawn in view, as the map settles after each move: the
 * class breaks of what comes as tiles (a tile holds only its part of the city). Nothing while `layer` is null.
 */
export function useValuesInView(map: MapLibreMap | null, layer: string | null, property: string): (number | null)[] {
  const [values, setValues] = useState<(number | null)[]>(NO_VALUES);
  // nothing read while there is no map or layer: put away as it renders (the next layer's start from none)
  if ((!map || !layer) && values !== NO_VALUES) setValues(NO_VALUES);
  useEffect(() => {
    if (!map || !layer) return;
    const read = () => {
      const byFeature = new Map<unknown, number | null>();
      map.queryRenderedFeatures({ layers: [layer] }).forEach((feature, i) => {
        const value = feature.properties[property];
        // an area cut by tile edges comes once per tile: once by its id; hexagons have none, and come once.
        // The tiles leave out what is null.
        byFeature.set(feature.id ?? i, typeof value === 'number' ? value : null);
      });
      const next = [...byFeature.values()].sort((a, b) => (a ?? -Infinity) - (b ?? -Infinity));
      // the new colours make the map settle again: the same values must not set off another round
      setValues((last) => (last.length === next.length && last.every((v, i) => v === next[i]) ? last : next));
    };
    map.on('idle', read);
    map.triggerRepaint();
    return () => void map.off('idle', read);
  }, [map, layer, property]);
  return values;
}
