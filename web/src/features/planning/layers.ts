import type { Feature, FeatureCollection, Polygon, Position } from 'geojson';
import {
  Marker,
  type ExpressionSpecification,
  type FilterSpecification,
  type GeoJSONSource,
  type LayerSpecification,
  type Map as MapLibreMap,
  type SymbolLayerSpecification,
} from 'maplibre-gl';
import { useEffect, useRef } from 'react';
import { NO_DATA_COLOUR, standardClasses } from '../coverage/metrics.ts';
import type { DraftProperties, ImpactReport, PlanGrid } from './plans.ts';

/** The household band's colours, as the coverage view draws them: within green, below orange, above red. */
export const BAND_COLOURS = Object.fromEntries(standardClasses('grids').map((c) => [c.state!, c.colour])) as Record<
  'below' | 'within' | 'above',
  string
>;
export const CHOSEN_COLOUR = '#ffcc00';
export const MOVED_COLOUR = '#d81b60';
export const OVERLAP_COLOUR = '#b71c1c';
export const UNCOVERED_COLOUR = '#ffb300';
export const AFTER_COLOUR = '#0d47a1';
export const DRAFT_COLOUR = '#6a1b9a';
export const PAST_COLOUR = '#4e342e';

const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };
const NOTHING: FilterSpecification = ['==', ['id'], -1];
/**
 * The base map's grid layers, which draw the grids from tiles (and the map view's selected grid): the
 * community being planned is drawn here instead.
 */
const TILE_GRID_LAYERS = ['grids-fill', 'grids-line', 'grids-label', 'grids-selected'];
/** the grids' and the past grids' names, one point each where the label goes */
const SOURCES = [
  'planning-grids',
  'planning-grid-labels',
  'planning-buildings',
  'planning-impact',
  'planning-draft',
  'planning-past',
  'planning-past-labels',
];

const bandColour = ['match', ['get', 'band'], ...Object.entries(BAND_COLOURS).flat(), NO_DATA_COLOUR] as unknown as ExpressionSpecification;
const impactKind = (kind: string): FilterSpecification => ['==', ['get', 'kind'], kind];
const label = (colour: string): Pick<SymbolLayerSpecification, 'layout' | 'paint'> => ({
  layout: { 'text-field': ['get', 'name'], 'text-size': 13 },
  paint: { 'text-color': colour, 'text-halo-color': '#ffffff', 'text-halo-width': 1.5 },
});

/** Under the buildings, so they show through the grids' colours. */
const FILLS: LayerSpecification[] = [
  { id: 'planning-grids-fill', type: 'fill', source: 'planning-grids', paint: { 'fill-color': bandColour, 'fill-opacity': 0.4 } },
];
/** Over the base map, and under terra-draw's handles, which are added after. */
const OVER: LayerSpecification[] = [
  { id: 'planning-grids-line', type: 'line', source: 'planning-grids', paint: { 'line-color': '#23476b', 'line-width': 1.5 } },
  {
    id: 'planning-chosen',
    type: 'line',
    source: 'planning-grids',
    filter: NOTHING,
    paint: { 'line-color': CHOSEN_COLOUR, 'line-width': 4 },
  },
  {
    id: 'planning-moved',
    type: 'fill',
    source: 'planning-buildings',
    filter: NOTHING,
    paint: { 'fill-color': MOVED_COLOUR, 'fill-outline-color': '#000000' },
  },
  {
    id: 'planning-uncovered',
    type: 'fill',
    source: 'planning-impact',
    filter: impactKind('uncovered'),
    paint: { 'fill-color': UNCOVERED_COLOUR, 'fill-opacity': 0.65 },
  },
  {
    id: 'planning-overlaps',
    type: 'fill',
    source: 'planning-impact',
    filter: impactKind('overlap'),
    paint: { 'fill-color': OVERLAP_COLOUR, 'fill-opacity': 0.6 },
  },
  {
    id: 'planning-after',
    type: 'line',
    source: 'planning-impact',
    filter: impactKind('after'),
    paint: { 'line-color': AFTER_COLOUR, 'line-width': 2.5 },
  },
  {
    id: 'planning-draft',
    type: 'line',
    source: 'planning-draft',
    paint: { 'line-color': DRAFT_COLOUR, 'line-width': 3, 'line-dasharray': [2, 1.5] },
  },
  {
    id: 'planning-past',
    type: 'line',
    source: 'planning-past',
    paint: { 'line-color': PAST_COLOUR, 'line-width': 2.5, 'line-dasharray': [1, 1.5] },
  },
  // one label a grid: a polygon's label would repeat on every tile its shape is cut into
  { id: 'planning-past-label', type: 'symbol', source: 'planning-past-labels', ...label(PAST_COLOUR) },
  { id: 'planning-grids-label', type: 'symbol', source: 'planning-grid-labels', minzoom: 14, ...label('#23476b') },
];

/** What the planner's map shows. */
export interface PlanningDrawing {
  community: number | null;
  grids: PlanGrid[];
  /** the grids outlined as chosen (the one edited, or those to merge) */
  chosen: number[];
  buildings: FeatureCollection | null;
  impact: ImpactReport | null;
  draft: FeatureCollection<Polygon, DraftProperties> | null;
  /** the community's grids on a past date */
  past: FeatureCollection | null;
  /** what the draft's labels count in ("户") */
  householdsUnit: string;
}

/**
 * Draws the planning view on the shared map while it is open: the community's grids coloured by their
 * households against the band, the impact of the change weighed (buildings that move, the grids' shapes after,
 * overlaps, parts left in no grid), a suggested draft with its households, and the grids of a past date.
 * Its sources and layers go when the view closes, and the base map's grids come back.
 */
export function usePlanningMap(map: MapLibreMap | null, drawing: PlanningDrawing) {
  const { community, grids, chosen, buildings, impact, draft, past, householdsUnit } = drawing;
  /** the tile grid layers' own filters (the selected grid's), put back when the view closes */
  const tileFilters = useRef(new Map<string, FilterSpecification | undefined>());
  useEffect(() => {
    if (!map) return;
    const filters = tileFilters.current;
    for (const layer of TILE_GRID_LAYERS)
      if (map.getLayer(layer)) filters.set(layer, map.getFilter(layer) as FilterSpecification | undefined);
    for (const id of SOURCES) map.addSource(id, { type: 'geojson', data: EMPTY });
    for (const layer of FILLS) map.addLayer(layer, 'buildings-fill');
    for (const layer of OVER) map.addLayer(layer);
    return () => {
      // the map may be gone already (signed out): then so is everything on it
      for (const layer of [...FILLS, ...OVER]) if (map.getLayer(layer.id)) map.removeLayer(layer.id);
      for (const id of SOURCES) if (map.getSource(id)) map.removeSource(id);
      for (const layer of TILE_GRID_LAYERS) if (map.getLayer(layer)) map.setFilter(layer, filters.get(layer) ?? null);
      filters.clear();
    };
  }, [map]);

  useEffect(() => {
    if (!map) return;
    // the tiles still hold the boundaries as they were before a save: this view draws the community's own
    for (const layer of TILE_GRID_LAYERS) {
      if (!map.getLayer(layer)) continue;
      const own = tileFilters.current.get(layer);
      const others: FilterSpecification = ['!=', ['get', 'community_id'], community ?? -1];
      map.setFilter(layer, community === null ? (own ?? null) : own ? (['all', own, others] as FilterSpecification) : others);
    }
  }, [map, community]);

  useEffect(() => {
    const features = grids.map((g) => ({ ...g, properties: { name: g.properties.name, band: g.properties.band } }));
    map?.getSource<GeoJSONSource>('planning-grids')?.setData({ type: 'FeatureCollection', features });
    map?.getSource<GeoJSONSource>('planning-grid-labels')?.setData(labelPoints(grids));
  }, [map, grids]);

  useEffect(() => {
    map?.setFilter('planning-chosen', chosen.length ? ['in', ['id'], ['literal', chosen]] : NOTHING);
  }, [map, chosen]);

  useEffect(() => {
    map?.getSource<GeoJSONSource>('planning-buildings')?.setData(buildings ?? EMPTY);
  }, [map, buildings]);

  useEffect(() => {
    if (!map) return;
    const moved = impact?.moved.buildings.map((b) => b.id) ?? [];
    map.setFilter('planning-moved', moved.length ? ['in', ['id'], ['literal', moved]] : NOTHING);
    const features: Feature[] = impact
      ? [
          // a draft draws its own boundaries
          ...impact.grids
            .filter((g) => g.geometry && g.status !== 'unchanged' && !draft)
            .map((g): Feature => ({ type: 'Feature', geometry: g.geometry!, properties: { kind: 'after', grid: g.id } })),
          ...impact.overlaps.map((o): Feature => ({ type: 'Feature', geometry: o.geometry, properties: { kind: 'overlap' } })),
          ...impact.uncovered.map((u): Feature => ({ type: 'Feature', geometry: u.geometry, properties: { kind: 'uncovered' } })),
        ]
      : [];
    map.getSource<GeoJSONSource>('planning-impact')?.setData({ type: 'FeatureCollection', features });
  }, [map, impact, draft]);

  useEffect(() => {
    map?.getSource<GeoJSONSource>('planning-past')?.setData(past ?? EMPTY);
    map?.getSource<GeoJSONSource>('planning-past-labels')?.setData(past ? labelPoints(past.features as Feature<Polygon>[]) : EMPTY);
  }, [map, past]);

  useEffect(() => {
    if (!map) return;
    map.getSource<GeoJSONSource>('planning-draft')?.setData(draft ?? EMPTY);
    // the draft's labels name its grids: the current names under them would only clutter
    map.setLayoutProperty('planning-grids-label', 'visibility', draft ? 'none' : 'visible');
    // the households as labels: the map has glyphs only for Chinese characters, so digits go in HTML
    const markers = (draft?.features ?? []).map((f) => {
      const element = Object.assign(document.createElement('div'), { className: 'draft-label' });
      element.dataset.testid = 'draft-label';
      element.append(
        Object.assign(document.createElement('b'), { textContent: f.properties.name }),
        ` ${f.properties.households} ${householdsUnit}`,
      );
      return new Marker({ element }).setLngLat(labelPoint(f.geometry) as [number, number]).addTo(map);
    });
    return () => markers.forEach((m) => m.remove());
  }, [map, draft, householdsUnit]);
}

/** A point for each polygon's name, carrying the name. */
function labelPoints(polygons: Feature<Polygon>[]): FeatureCollection {
  return {
    type: 'FeatureCollection',
    features: polygons
      .filter((p) => p.geometry?.type === 'Polygon')
      .map((p) => ({
        type: 'Feature',
        id: p.id,
        geometry: { type: 'Point', coordinates: labelPoint(p.geometry) },
        properties: { name: p.properties?.name },
      })),
  };
}

/** Whether a point lies inside a polygon (even-odd over all its rings, holes included). */
function inside([x, y]: Position, polygon: Polygon): boolean {
  let within = false;
  for (const ring of polygon.coordinates) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [[xi, yi], [xj, yj]] = [ring[i], ring[j]];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) within = !within;
    }
  }
  return within;
}

/**
 * Where a polygon's label goes: its centroid when that lies inside it (a compact grid), else the middle of
 * the widest stretch of it along the centroid's latitude (an L or a crescent).
 */
export function labelPoint(polygon: Polygon): Position {
  const ring = polygon.coordinates[0];
  let [twiceArea, cx, cy] = [0, 0, 0];
  for (let i = 1; i < ring.length; i++) {
    const [[x0, y0], [x1, y1]] = [ring[i - 1], ring[i]];
    const cross = x0 * y1 - x1 * y0;
    [twiceArea, cx, cy] = [twiceArea + cross, cx + (x0 + x1) * cross, cy + (y0 + y1) * cross];
  }
  if (twiceArea === 0) return ring[0];
  const centroid: Position = [cx / (3 * twiceArea), cy / (3 * twiceArea)];
  if (inside(centroid, polygon)) return centroid;
  const y = centroid[1];
  const crossings = polygon.coordinates
    .flatMap((r) =>
      r.slice(1).flatMap((b, i) => {
        const a = r[i];
        return a[1] > y !== b[1] > y ? [a[0] + ((y - a[1]) * (b[0] - a[0])) / (b[1] - a[1])] : [];
      }),
    )
    .sort((a, b) => a - b);
  let best: Position = ring[0];
  let widest = -1;
  for (let i = 0; i + 1 < crossings.length; i += 2) {
    if (crossings[i + 1] - crossings[i] > widest)
      [widest, best] = [crossings[i + 1] - crossings[i], [(crossings[i] + crossings[i + 1]) / 2, y]];
  }
  return best;
}
