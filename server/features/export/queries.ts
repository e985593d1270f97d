import type { Geometry } from 'geojson';
import { sql, type Kysely } from 'kysely';
import { propertiesOf, type FeatureLayer } from '../../db/feature-store.ts';
import type { DB } from '../../db/schema.ts';

export interface ExportRow {
  id: number;
  /** GeoJSON Feature text (geojson, ndjson) */
  feature?: string;
  /** the id and every property column (csv) */
  properties?: Record<string, unknown>;
  /** the geometry as WKT (csv) */
  wkt?: string;
  /** the geometry as GeoJSON (csv, to be shifted) */
  geometry?: Geometry | null;
}

/** GeoJSON geometries as WKT, in their order, written by PostGIS as the unshifted export's are. */
export async function wktOf(db: Kysely<DB>, geometries: (Geometry | null)[]) {
  const { rows } = await sql<{ wkt: string }>`
    select case when json_typeof(g.value) <> 'null' then ST_AsText(ST_GeomFromGeoJSON(g.value), 7) end as wkt
    from json_array_elements(${JSON.stringify(geometries)}::json) with ordinality g
    order by g.ordinality`.execute(db);
  return rows.map((r) => r.wkt);
}

/**
 * The next `limit` rows after `after`, in id order, in the shape one format needs: a layer of any size is
 * read in bounded pieces.
 */
export async function exportBatch(
  db: Kysely<DB>,
  { source, columns }: FeatureLayer,
  tabular: boolean,
  after: number,
  limit: number,
  shifted = false,
) {
  // a geometry to be shifted (routes.ts) comes as GeoJSON, and goes back to PostGIS for its WKT (wktOf)
  const geometry = shifted ? sql`ST_AsGeoJSON(s.geom, 7)::json as geometry` : sql`ST_AsText(s.geom, 7) as wkt`;
  const wanted = tabular
    ? sql`${propertiesOf('s', ['id', ...columns])} as properties, ${geometry}`
    : sql`json_build_object('type', 'Feature', 'id', s.id, 'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(s.geom), 7)::json,
                            'properties', ${propertiesOf('s', columns)})::text as feature`;
  const { rows } = await sql<ExportRow>`
    select s.id, ${wanted} from ${source} s where s.id > ${after} order by s.id limit ${limit}`.execute(db);
  return rows;
}
