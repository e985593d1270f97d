import { z } from 'zod';

/**
 * GeoJSON (RFC 7946) input, checked before it reaches PostGIS: WGS 84 lon/lat in range, rings closed and
 * long enough, the geometry type the resource takes. PostGIS then checks validity (self-intersection …).
 */
export type GeometryType = 'Point' | 'LineString' | 'Polygon' | 'MultiPolygon';

const position = z
  .array(z.number())
  .min(2, 'a position needs a longitude and a latitude')
  .max(3, 'a position has at most longitude, latitude and altitude')
  .superRefine(([lon, lat], ctx) => {
    if (lon < -180 || lon > 180) ctx.addIssue({ code: 'custom', path: [0], message: `longitude ${lon} is outside -180..180` });
    if (lat < -90 || lat > 90) ctx.addIssue({ code: 'custom', path: [1], message: `latitude ${lat} is outside -90..90` });
  });

const ring = z
  .array(position)
  .min(4, 'a ring needs at least 4 positions')
  .refine((r) => r.length < 4 || (r[0][0] === r[r.length - 1][0] && r[0][1] === r[r.length - 1][1]), {
    message: 'a ring must be closed: its last position must equal its first',
  });

const shapes = {
  Point: z.object({ type: z.literal('Point'), coordinates: position }),
  LineString: z.object({ type: z.literal('LineString'), coordinates: z.array(position).min(2, 'a line needs at least 2 positions') }),
  Polygon: z.object({ type: z.literal('Polygon'), coordinates: z.array(ring).min(1, 'a polygon needs an outer ring') }),
  MultiPolygon: z.object({
    type: z.literal('MultiPolygon'),
    coordinates: z.array(z.array(ring).min(1, 'a polygon needs an outer ring')).min(1, 'a multipolygon needs a polygon'),
  }),
};

export type Geometry = z.infer<(typeof shapes)[GeometryType]>;

/** [west, south, east, north] in degrees */
export type Extent = [number, number, number, number];

/** China's extent, its southern islands included: the default service area. */
export const CHINA: Extent = [73.4, 3.3, 135.1, 53.6];

let serviceArea: Extent = CHINA;

/**
 * Where homes, buildings, units and issues may lie (SERVICE_AREA, set once at start): a row with longitude
 * and latitude swapped, or a test point in New York, is refused rather than stored off the city's map.
 */
export const setServiceArea = (extent: Extent) => void (serviceArea = extent);

export interface GeometryRules {
  /** positions one geometry may have (a footprint's rings together) */
  maxVertices?: number;
  /** every position within the service area */
  inServiceArea?: boolean;
}

const positionsOf = (coordinates: unknown): number[][] =>
  Array.isArray(coordinates) && typeof coordinates[0] === 'number'
    ? [coordinates as number[]]
    : (coordinates as unknown[]).flatMap(positionsOf);

/** Each line or ring of a geometry, with where it lies in `coordinates`: the positions its edges join. */
const pathsOf = (coordinates: unknown, at: number[] = []): { at: number[]; positions: number[][] }[] =>
  !Array.isArray(coordinates) || !Array.isArray(coordinates[0])
    ? []
    : typeof coordinates[0][0] === 'number'
      ? [{ at, positions: coordinates as number[][] }]
      : coordinates.flatMap((c, i) => pathsOf(c, [...at, i]));

/**
 * Points on opposite sides of the Earth: no one shortest path joins them, so PostGIS's geography (areas, lengths)
 * refuses an edge between them. Within a hair, as PostGIS compares them.
 */
const antipodal = ([lon1, lat1]: number[], [lon2, lat2]: number[]) =>
  Math.abs(lat1 + lat2) < 1e-9 && (Math.abs(lat1) > 90 - 1e-9 || Math.abs(Math.abs(lon1 - lon2) - 180) < 1e-9);

/** A geometry of one of `types`; any other type is refused with a message naming what was given. */
export function geometrySchema(types: readonly GeometryType[], { maxVertices, inServiceArea }: GeometryRules = {}) {
  const allowed = types.join(' or ');
  return z
    .looseObject({ type: z.string() })
    .superRefine((value, ctx) => {
      if (!(types as readonly string[]).includes(value.type)) {
        // not a geometry here: no later check (a schema's refinement around this one) may read it as one
        ctx.addIssue({ code: 'custom', path: ['type'], message: `must be ${allowed}, not ${value.type}`, continue: false });
      }
    })
    .pipe(
      (types.length === 1 ? shapes[types[0]] : z.union(types.map((t) => shapes[t]))) as unknown as z.ZodType<Geometry, { type: string }>,
    )
    .superRefine((geometry, ctx) => {
      const positions = positionsOf(geometry.coordinates);
      if (maxVertices !== undefined && positions.length > maxVertices) {
        ctx.addIssue({
          code: 'custom',
          path: ['coordinates'],
          message: `has ${positions.length} positions; at most ${maxVertices} are taken here`,
        });
      }
      for (const { at, positions: path } of pathsOf(geometry.coordinates)) {
        const i = path.findIndex((p, j) => j > 0 && antipodal(path[j - 1], p));
        if (i > 0)
          ctx.addIssue({
            code: 'custom',
            path: ['coordinates', ...at, i],
            message: `the edge from ${path[i - 1].join(',')} to ${path[i].join(',')} joins opposite sides of the Earth (180° apart)`,
          });
      }
      const [west, south, east, north] = serviceArea;
      const outside = inServiceArea && positions.find(([lon, lat]) => lon < west || lon > east || lat < south || lat > north);
      if (outside) {
        ctx.addIssue({
          code: 'custom',
          path: ['coordinates'],
          message: `${outside[0]},${outside[1]} lies outside the service area ${serviceArea.join(',')} (longitude first)`,
        });
      }
    })
    .meta({
      description: `GeoJSON ${allowed} in WGS 84 longitude/latitude${maxVertices ? `, at most ${maxVertices} positions` : ''}${inServiceArea ? ', within the service area' : ''}`,
    });
}

/** A geometry in an answer, as PostGIS wrote it (ST_AsGeoJSON): typed for clients, not checked again. */
export const answerGeometry = z
  .custom<import('geojson').Geometry>((value) => typeof value === 'object' && value !== null && 'type' in value)
  .meta({ type: 'object', description: 'a GeoJSON geometry (RFC 7946), WGS 84' });

/** A geometry of an answer whose type is known (a grid's Polygon): typed so for clients, not checked again. */
export const answerGeometryOf = <G extends import('geojson').Geometry>() => answerGeometry as unknown as z.ZodType<G>;

/** A Feature of an answer: its id, geometry (of a known type when given: answerGeometryOf) and properties. */
export const answerFeature = <P extends z.ZodType, G extends z.ZodType = typeof answerGeometry>(
  properties: P,
  geometry: G = answerGeometry as unknown as G,
) => z.object({ type: z.literal('Feature'), id: z.number(), geometry, properties });

/** A Feature of an answer whose row may have no geometry yet (a street drawn later). */
export const answerFeatureMaybePlaced = <P extends z.ZodType>(properties: P) =>
  z.object({ type: z.literal('Feature'), id: z.number(), geometry: answerGeometry.nullable(), properties });

/** A FeatureCollection of an answer, with the members an answer adds beside its features (counts, links …). */
export const answerCollection = <F extends z.ZodType, E extends z.ZodRawShape = Record<never, never>>(feature: F, extra?: E) =>
  z.object({ type: z.literal('FeatureCollection'), features: z.array(feature), ...((extra ?? {}) as E) });
