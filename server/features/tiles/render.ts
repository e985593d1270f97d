import { sql, type Kysely, type RawBuilder } from 'kysely';
import vtpbf from 'vt-pbf';
import type { Geometry, Position } from 'geojson';
import type { Viewer } from '../../access/viewer.ts';
import type { DB } from '../../db/schema.ts';
import { LABEL_FIELDS, labelLayerName, WORLD_3857, type Tile, type TileLayer } from './layers.ts';

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

/** A vector layer of a tile: its name, its features (id, props, geom in Web Mercator) and its buffer. */
interface VectorLayer {
  name: string;
  features: RawBuilder<unknown>;
  buffer: number;
}

/** The vector layers one tile layer writes: its features, and for named areas the points of their labels. */
function vectorLayers(layer: TileLayer): VectorLayer[] {
  const mercator = layer.srid === 3857 ? sql`r.geom` : sql`ST_Transform(r.geom, 3857)`;
  const layers = [
    { name: layer.name, features: sql`select r.id, jsonb_strip_nulls(r.props) as props, ${mercator} as geom from r`, buffer: BUFFER },
  ];
  if (layer.labelled) {
    // no buffer: a point drawn in the tile next door too would be written twice
    const props = sql.join(Object.keys(LABEL_FIELDS).map((field) => sql`${sql.lit(field)}, r.props -> ${sql.lit(field)}`));
    layers.push({
      name: labelLayerName(layer),
      features: sql`select r.id, jsonb_build_object(${props}) as props, label_point(${mercator}) as geom from r`,
      buffer: 0,
    });
  }
  return layers;
}

/**
 * The statement of one layer's tile: its rows read once (`r`), then each vector layer's features once each
 * (`offset 0` keeps the planner from pushing the outer `is not null` down and clipping every geometry twice;
 * in id order, so the same rows make the same bytes and the same ETag, whatever plan, parallel or not, read
 * them): ST_AsMVT's bytes (`mvt`, one layer after the other, as MVT allows) on PostGIS with protobuf, else
 * each layer's features in tile coordinates as JSON (`features`) for vt-pbf. (The benchmark gives pgbench the
 * very same.)
 */
export function tileSql(encoder: TileEncoder, layer: TileLayer, z: number, x: number, y: number, viewer: Viewer) {
  const tile = tileOf(layer, z, x, y);
  const clipped = (v: VectorLayer, clip: RawBuilder<unknown>) => sql`
    select f.id, f.props, ${clip} as geom from (${v.features}) f offset 0`;
  const layers = vectorLayers(layer).map((v) =>
    encoder === 'postgis'
      ? sql`coalesce((select ST_AsMVT(t, ${v.name}, ${EXTENT}, 'geom', 'id' order by t.id)
          from (${clipped(v, sql`ST_AsMVTGeom(f.geom, ${tile.bounds}::box2d, ${EXTENT}, ${v.buffer}, true)`)}) t
          where t.geom is not null), '')`
      : sql`json_build_object('name', ${v.name}::text, 'features', (
          select coalesce(json_agg(json_build_object('id', t.id, 'geometry', ST_AsGeoJSON(t.geom)::json, 'properties', t.props) order by t.id), '[]')
          from (${clipped(v, sql`tile_geometry(f.geom, ${tile.bounds}::box2d, ${EXTENT}, ${v.buffer})`)}) t
          where t.geom is not null))`,
  );
  return sql<{ mvt?: Buffer; features?: string }>`
    with r as materialized (${layer.rows(tile, viewer)})
    ${encoder === 'postgis' ? sql`select ${sql.join(layers, sql` || `)} as mvt` : sql`select json_build_array(${sql.join(layers)})::text as features`}`;
}

type TileFeature = { id: number | null; geometry: Geometry; properties: Record<string, unknown> };

/** One layer's tile as protocol-buffer bytes (empty when no feature falls in it). */
export async function renderTile(
  db: Kysely<DB>,
  encoder: TileEncoder,
  layer: TileLayer,
  z: number,
  x: number,
  y: number,
  viewer: Viewer,
): Promise<Buffer> {
  const {
    rows: [row],
  } = await tileSql(encoder, layer, z, x, y, viewer).execute(db);
  if (encoder === 'postgis') return Buffer.from(row?.mvt ?? []);
  // a layer without features is left out, as ST_AsMVT leaves it
  const layers = (JSON.parse(row.features!) as { name: string; features: TileFeature[] }[]).filter((l) => l.features.length > 0);
  if (layers.length === 0) return Buffer.alloc(0);
  const encoded = vtpbf.fromGeojsonVt(
    Object.fromEntries(
      layers.map((l) => [
        l.name,
        {
          features: l.features.map((f) => ({ id: f.id ?? undefined, ...vectorGeometry(f.geometry), tags: f.properties })),
        },
      ]),
    ),
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
    case 'Point':
      return { type: 1, geometry: [geometry.coordinates] };
    case 'MultiPoint':
      return { type: 1, geometry: geometry.coordinates };
    case 'LineString':
      return { type: 2, geometry: [geometry.coordinates] };
    case 'MultiLineString':
      return { type: 2, geometry: geometry.coordinates };
    case 'Polygon':
      return { type: 3, geometry: geometry.coordinates };
    case 'MultiPolygon':
      return { type: 3, geometry: geometry.coordinates.flat() };
    default:
      throw new Error(`no vector tile geometry for a ${geometry.type}`);
  }
}
