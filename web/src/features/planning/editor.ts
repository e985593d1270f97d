import type { LineString, Polygon, Position } from 'geojson';
import type { Map as MapLibreMap } from 'maplibre-gl';
import { useEffect, useEffectEvent, useRef } from 'react';
import {
  TerraDraw,
  TerraDrawLineStringMode,
  TerraDrawPolygonMode,
  TerraDrawSelectMode,
  ValidateNotSelfIntersecting,
  type GeoJSONStoreFeatures,
  type SnapToCustom,
} from 'terra-draw';
import { TerraDrawMapLibreGLAdapter } from 'terra-draw-maplibre-gl-adapter';
import { snapToRings } from './snapping.ts';

/** What the planner is drawing: a grid's boundary to reshape, a line to split a grid by, a new grid; or nothing. */
export type Sketch = { kind: 'boundary'; polygon: Polygon } | { kind: 'line' } | { kind: 'polygon' } | null;

export interface EditorEvents {
  /** the shape as it is now: as it is dragged, and when a drag, a click or a drawing ends */
  onShape: (shape: Polygon | LineString) => void;
  /** a finished shape was refused (and undone): why */
  onInvalid: (reason: string) => void;
}

const EDIT_COLOUR = '#1f3a93';

/**
 * terra-draw on the shared map for the planning view: the sketch's shape in its store (one shape at most: its
 * store takes no MultiPolygons or holes, and the other grids are the view's own layers), its vertices
 * draggable, midpoints to add one, a right click to remove one. Vertices snap to `snapRings` (the
 * neighbouring grids and the community's boundary). A shape is checked when a drag or drawing finishes, not on
 * every move: one that crosses itself is put back as it was.
 */
export function useGridEditor(map: MapLibreMap | null, sketch: Sketch, snapRings: Position[][], events: EditorEvents) {
  // terra-draw on the map, made by the first effect and used by the second (which runs after it, in the same commit)
  const drawOnMap = useRef<TerraDraw | null>(null);
  // Effect Events: a snap and terra-draw's events read the latest rings and handlers, without making terra-draw
  // (or listening to it) anew at each render
  const ringsNow = useEffectEvent(() => snapRings);
  const onShape = useEffectEvent((shape: Polygon | LineString) => events.onShape(shape));
  const onInvalid = useEffectEvent((reason: string) => events.onInvalid(reason));

  useEffect(() => {
    if (!map) return;
    const toCustom: SnapToCustom = (event, { project }) => snapToRings(ringsNow(), { x: event.containerX, y: event.containerY }, project);
    const vertices = { draggable: true, midpoints: true, deletable: true, snappable: { toCustom } };
    const created = new TerraDraw({
      // the API answers geometries to 7 decimals (about a centimetre): what is drawn is then what comes back
      adapter: new TerraDrawMapLibreGLAdapter({ map, coordinatePrecision: 7 }),
      modes: [
        new TerraDrawSelectMode({
          // what is selected is the view's choice (a click on the map picks a grid), never terra-draw's
          allowManualSelection: false,
          allowManualDeselection: false,
          keyEvents: { deselect: null, delete: null, rotate: null, scale: null },
          flags: {
            polygon: { feature: { coordinates: vertices, selfIntersectable: true } },
            linestring: { feature: { coordinates: { draggable: true, midpoints: true, deletable: true } } },
          },
          styles: {
            selectedPolygonColor: EDIT_COLOUR,
            selectedPolygonFillOpacity: 0.12,
            selectedPolygonOutlineColor: EDIT_COLOUR,
            selectedPolygonOutlineWidth: 3,
            selectedLineStringColor: EDIT_COLOUR,
            selectedLineStringWidth: 3,
            selectionPointColor: '#ffffff',
            selectionPointOutlineColor: EDIT_COLOUR,
            selectionPointWidth: 5,
            selectionPointOutlineWidth: 2,
            midPointColor: EDIT_COLOUR,
            midPointOutlineColor: '#ffffff',
            midPointWidth: 3,
            midPointOutlineWidth: 1,
          },
        }),
        new TerraDrawPolygonMode({
          snapping: { toCustom },
          styles: {
            fillColor: EDIT_COLOUR,
            fillOpacity: 0.12,
            outlineColor: EDIT_COLOUR,
            outlineWidth: 3,
            closingPointColor: '#ffffff',
            closingPointOutlineColor: EDIT_COLOUR,
          },
        }),
        new TerraDrawLineStringMode({
          styles: { lineStringColor: EDIT_COLOUR, lineStringWidth: 3, closingPointColor: '#ffffff', closingPointOutlineColor: EDIT_COLOUR },
        }),
      ],
    });
    created.start();
    drawOnMap.current = created;
    return () => {
      drawOnMap.current = null;
      // a map removed already (signed out) took terra-draw's layers with it
      if (map.getCanvasContainer().isConnected) created.stop();
    };
  }, [map]);

  // again for a new sketch, and for a new map's terra-draw
  useEffect(() => {
    const draw = drawOnMap.current;
    if (!draw) return;
    draw.clear();
    // the last shape that passed the check, to put back one that fails it
    let lastGood: Polygon | LineString | null = null;
    let editing: string | number | null = null;
    const edit = (id: string | number) => {
      editing = id;
      lastGood = draw.getSnapshotFeature(id)!.geometry as Polygon | LineString;
      draw.selectFeature(id);
    };
    if (sketch?.kind === 'boundary') {
      const id = draw.getFeatureId();
      const [added] = draw.addFeatures([{ type: 'Feature', id, geometry: sketch.polygon, properties: { mode: 'polygon' } }]);
      if (added.valid) edit(id);
      else onInvalid(added.reason ?? '');
    } else {
      draw.setMode(sketch?.kind === 'line' ? 'linestring' : sketch?.kind === 'polygon' ? 'polygon' : 'select');
    }

    const onChange = (ids: (string | number)[], type: string) => {
      if (editing === null || type !== 'update' || !ids.includes(editing)) return;
      const feature = draw.getSnapshotFeature(editing);
      if (feature) onShape(feature.geometry as Polygon | LineString);
    };
    const onFinish = (id: string | number, context: { mode: string }) => {
      const feature = draw.getSnapshotFeature(id) as GeoJSONStoreFeatures<Polygon | LineString> | undefined;
      if (!feature) return;
      const check = ValidateNotSelfIntersecting(feature);
      if (!check.valid) {
        if (lastGood && editing === id) draw.updateFeatureGeometry(id, lastGood);
        else draw.removeFeatures([id]);
        onInvalid(check.reason ?? '');
        return;
      }
      // a shape just drawn stays editable: its vertices can be dragged like a grid's
      if (context.mode !== 'select') edit(id);
      lastGood = feature.geometry;
      onShape(feature.geometry);
    };
    draw.on('change', onChange);
    draw.on('finish', onFinish);
    return () => {
      draw.off('change', onChange);
      draw.off('finish', onFinish);
    };
  }, [map, sketch]);
}
