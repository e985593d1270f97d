import type { FeatureCollection, GeoJsonProperties } from 'geojson';
import { Map as MapLibreMap, addProtocol, setWorkerUrl, type GeoJSONSource, type MapMouseEvent } from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?worker&url';
import 'maplibre-gl/dist/maplibre-gl.css';
import { useEffect, useEffectEvent, useRef, useState } from 'react';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { getJson, withToken, type MapConfig } from '../../api.ts';
import { useI18n } from '../../i18n.tsx';
import { useServerState } from '../../serverState.ts';
import { useChanges } from '../dispatch/events.ts';
import { GCJ02_PROTOCOL, loadShiftedTile } from './gcj02.ts';
import { CLICKABLE_LAYERS, GROUP_LAYERS, LAYER_GROUPS, LOCAL_FONT_FAMILY, buildStyle, selectedFilter, type LayerGroup } from './style.ts';

// A production build must name the worker file itself, or the built page shows a blank map.
setWorkerUrl(workerUrl);

/** A feature chosen on the map: its layer and id. */
export interface Selection {
  group: LayerGroup;
  id: number;
}

/** A feature clicked on the map, with what its tile says of it. */
export interface SelectedFeature extends Selection {
  properties: GeoJsonProperties;
}

declare global {
  interface Window {
    /** The map, for the browser tests and for anyone debugging in the console. */
    gridmap?: { map: MapLibreMap };
  }
}

/** A click in a view that picks places (the dispatcher's): where, and the overlay issue hit, if any. */
export type Pick = (at: [lon: number, lat: number], issueId: number | undefined) => void;

/** West, south, east, north. */
export type Bounds = [number, number, number, number];

export function MapView({
  visible,
  selected,
  onSelect,
  overlay,
  onPick,
  focus,
  onMap,
}: {
  visible: Record<LayerGroup, boolean>;
  selected: Selection | null;
  /** a click on a feature (null: on none); without it, a click outside a picking view does nothing */
  onSelect?: (feature: SelectedFeature | null) => void;
  /** drawn above the map layers (see OVERLAY_LAYERS) */
  overlay?: FeatureCollection;
  /** when set, a click picks a place instead of selecting a feature */
  onPick?: Pick;
  /** when it changes, the map moves to show it (what a view is about, such as a wall's issues) */
  focus?: Bounds | null;
  /** the map once its style has loaded (null when it goes), for views that draw layers of their own */
  onMap?: (map: MapLibreMap | null) => void;
}) {
  const { t } = useI18n();
  const container = useRef<HTMLDivElement>(null);
  const [map, setMap] = useState<MapLibreMap | null>(null);
  // the basemap is the server's setting, the same all session: read once, it never makes the map anew
  const configured = useServerState<MapConfig>('reference', '/api/v1/map/config');
  const config = configured.data;
  const [failure, setFailure] = useState<string | null>(null);
  const error = configured.error?.message ?? failure;
  // Effect Events: the map, made once, tells of a click and of itself to the callbacks of the latest render
  const clicked = useEffectEvent((map: MapLibreMap, event: MapMouseEvent) => {
    if (onPick) {
      const [issue] = map.queryRenderedFeatures(event.point, { layers: ['overlay-points'], filter: ['==', ['get', 'kind'], 'issue'] });
      return onPick([event.lngLat.lng, event.lngLat.lat], issue ? Number(issue.id) : undefined);
    }
    const [hit] = map.queryRenderedFeatures(event.point, { layers: CLICKABLE_LAYERS });
    onSelect?.(hit ? { group: hit.source as LayerGroup, id: Number(hit.id), properties: hit.properties } : null);
  });
  const mapChanged = useEffectEvent((map: MapLibreMap | null) => onMap?.(map));

  useEffect(() => {
    if (!config) return;
    let disposed = false;
    let created: MapLibreMap | null = null;
    (async () => {
      // the city's extent from the communities' TileJSON (the whole world while there are none), as it is when
      // the map is made: it is where the map starts, not kept in view (a map made after an import starts on the new one)
      const city = await getJson<ApiAnswer<'GET /tiles/:layer.json'>>('/tiles/communities.json');
      if (disposed || !container.current) return;
      const { basemap } = config;
      if (basemap?.crs === 'gcj02') {
        const templates: Record<string, string[]> = { basemap: basemap.tiles, labels: basemap.labels ?? [] };
        addProtocol(GCJ02_PROTOCOL, async ({ url }, abort) => ({
          data: await loadShiftedTile(url, templates[url.split('/')[2]], abort.signal),
        }));
      }
      const [west, , east] = city.bounds;
      created = new MapLibreMap({
        container: container.current,
        style: buildStyle(config, window.location.origin),
        bounds: east - west < 10 ? city.bounds : undefined,
        fitBoundsOptions: { padding: 24 },
        center: [109.49, 36.59],
        zoom: 13,
        localIdeographFontFamily: LOCAL_FONT_FAMILY,
        // labels appear at once: a fade is several full redraws, each 100-300 ms on a machine without a graphics card
        fadeDuration: 0,
        attributionControl: config.basemap ? {} : false,
        transformRequest: withToken,
      });
      created.on('click', (event) => clicked(created!, event));
      for (const layer of CLICKABLE_LAYERS) {
        created.on('mouseenter', layer, () => (created!.getCanvas().style.cursor = 'pointer'));
        created.on('mouseleave', layer, () => (created!.getCanvas().style.cursor = ''));
      }
      window.gridmap = { map: created };
      // the effects below change the style (visibility, overlay, focus): MapLibre throws "Style is not done
      // loading" if they run before it is, which unmounts the whole page; so they get the map once it has loaded
      const loaded = created;
      loaded.once('load', () => {
        if (disposed) return;
        setMap(loaded);
        mapChanged(loaded);
      });
    })().catch((e: Error) => !disposed && setFailure(e.message));
    return () => {
      disposed = true;
      mapChanged(null);
      created?.remove();
    };
  }, [config]);

  useEffect(() => {
    if (!map) return;
    for (const group of LAYER_GROUPS) {
      for (const layer of GROUP_LAYERS[group]) map.setLayoutProperty(layer, 'visibility', visible[group] ? 'visible' : 'none');
    }
  }, [map, visible]);

  useEffect(() => {
    if (!map) return;
    // districts and streets are not picked on the map
    for (const group of LAYER_GROUPS.filter((g) => GROUP_LAYERS[g].includes(`${g}-selected`))) {
      map.setFilter(`${group}-selected`, selectedFilter(selected?.group === group ? selected.id : undefined));
    }
  }, [map, selected]);

  useEffect(() => {
    if (!map) return;
    (map.getSource('overlay') as GeoJSONSource).setData(overlay ?? { type: 'FeatureCollection', features: [] });
  }, [map, overlay]);

  useEffect(() => {
    if (map && focus) map.fitBounds(focus, { padding: 60, maxZoom: 15 });
  }, [map, focus]);

  // a grid took a new shape (a planner's save elsewhere, a revert, an import): its tiles, and those of its
  // community and buildings (which carry their grid), are fetched again, the old ones shown until they come
  useChanges(['grid'], () => {
    if (map) for (const group of LAYER_GROUPS) map.refreshTiles(group);
  });

  return (
    <div className={onPick ? 'map picking' : 'map'} ref={container} data-testid="map">
      {!map && !error && <div className="map-status">{t('map.loading')}</div>}
      {error && (
        <div className="map-status error" role="alert">
          {t('map.error')}: {error}
        </div>
      )}
    </div>
  );
}
