import { sql, type Kysely } from 'kysely';
import vtpbf from 'vt-pbf';
import type { Geometry, Position } from 'geojson';
import type { Viewer } from '../../access/viewer.ts';
import type { DB } from '../../db/schema.ts';
import { WORLD_3857, type Tile, type TileLayer } from './layers.ts';

/** Tile coordinates run 0..EXTENT; features reach BUFFER units past the edge, so lines and fills join up. */
export const EXTENT = 4096;
export const BUFFER = 64;

/**
 * How tiles are encoded: by PostGIS (ST_AsMVT, on a server built with protobuf), or, where PostGIS lacks it
 * (the embedded database), by the same query clipping and snapping in SQL (tile_geometry in
 * sql/010_coverage.sql) and vt-pbf, Mapbox's own encoder, writing the protocol buffer.
 */
export type TileEncoder = 'postgis' | 'javascript';

export async function chooseEncoder(db: Kysely<DB>): Promise<TileEncoder> {
  const { rows } = await sql<{ mvt: boolean }>`select postgis_full_version() like '%PROTOBUF%' as mvt`.execute(db);
  return rows[0].mvt ? 'postgis' : 'javascript';
}

/** How far outside a tile (metres of Web Mercator) a feature of `layer` can still show in it. */
export const tileMargin = (layer: TileLayer, z: number) => BUFFER * (WORLD_3857 / 2 ** z / EXTENT) + layer.reach(z);

export function tileOf(layer: TileLayer, z: number, x: number, y: number): Tile {
  const bounds = sql`ST_TileEnvelope(${z}::int, ${x}::int, ${y}::int)`;
  return { z, x, y, bounds, area: sql`ST_Transform(ST_Expand(${bounds}, ${tileMargin(layer, z)}::float8), 4326)` };
}

/**
 * The statement of one layer's tile (its features once each: `offset 0` keeps the planner from pushing the
 * outer `is not null` down and clipping every geometry twice; in id order, so the same rows make the same
 * bytes and the same ETag, whatever plan, parallel or not, read them): ST_AsMVT's bytes (`mvt`) on PostGIS with protobuf, else the features
 * in tile coordinates as JSON (`features`) for vt-pbf. (The benchmark gives pgbench the very same.)
 */
export function tileSql(encoder: TileEncoder, layer: TileLayer, z: number, x: number, y: number, viewer: Viewer) {
  const tile = tileOf(layer, z, x, y);
  const mercator = layer.srid === 3857 ? sql`r.geom` : sql`ST_Transform(r.geom, 3857)`;
  if (encoder === 'postgis') {
    return sql<{ mvt?: Buffer; features?: string }>`
      select ST_AsMVT(t, ${layer.name}, ${EXTENT}, 'geom', 'id' order by t.id) as mvt from (
        select r.id, jsonb_strip_nulls(r.props) as props,
               ST_AsMVTGeom(${mercator}, ${tile.bounds}::box2d, ${EXTENT}, ${BUFFER}, true) as geom
        from (${layer.rows(tile, viewer)}) r
        offset 0
      ) t where t.geom is not null`;
  }
  return sql<{ mvt?: Buffer; features?: string }>`
    select coalesce(json_agg(json_build_object('id', t.id, 'geometry', ST_AsGeoJSON(t.geom)::json, 'properties', t.props) order by t.id), '[]')::text as features
    from (
      select r.id, jsonb_strip_nulls(r.props) as props, tile_geometry(${mercator}, ${tile.bounds}::box2d, ${EXTENT}, ${BUFFER}) as geom
      from (${layer.rows(tile, viewer)}) r
      offset 0
    ) t where t.geom is not null`;
}

/** One layer's tile as protocol-buffer bytes (empty when no feature falls in it). */
export async function renderTile(db: Kysely<DB>, encoder: TileEncoder, layer: TileLayer, z: number, x: number, y: number, viewer: Viewer): Promise<Buffer> {
  const { rows: [row] } = await tileSql(encoder, layer, z, x, y, viewer).execute(db);
  if (encoder === 'postgis') return Buffer.from(row?.mvt ?? []);
  const features = JSON.parse(row.features!) as { id: number | null; geometry: Geometry; properties: Record<string, unknown> }[];
  if (features.length === 0) return Buffer.alloc(0);
  const encoded = vtpbf.fromGeojsonVt(
    { [layer.name]: { features: features.map((f) => ({ id: f.id ?? undefined, ...vectorGeometry(f.geometry), tags: f.properties })) } },
    { version: 2, extent: EXTENT },
  );
  return Buffer.from(encoded);
}

/**
 * A GeoJSON geometry in tile coordinates as vt-pbf takes it: type 1 with its points, 2 with its lines, 3 with
 * every ring (tile_geometry already gave exterior rings the positive area MVT wants, holes the negative).
 */
function vectorGeometry(geometry: Geometry): { type: 1 | 2 | 3; geometry: Position[] | Position[][] } {
  switch (geometry.type) {
    case 'Point': return { type: 1, geometry: [geometry.coordinates] };
    case 'MultiPoint': return { type: 1, geometry: geometry.coordinates };
    case 'LineString': return { type: 2, geometry: [geometry.coordinates] };
    case 'MultiLineString': return { type: 2, geometry: geometry.coordinates };
    case 'Polygon': return { type: 3, geometry: geometry.coordinates };
    case 'MultiPolygon': return { type: 3, geometry: geometry.coordinates.flat() };
    default: throw new Error(`no vector tile geometry for a ${geometry.type}`);
  }
}
