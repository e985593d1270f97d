import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../../db/schema.ts';

export interface ExportRow {
  id: number;
  /** GeoJSON Feature text (geojson, ndjson) */
  feature?: string;
  /** every column but the geometry, in the table's column order (csv) */
  properties?: Record<string, unknown>;
  /** the geometry as WKT (csv) */
  wkt?: string;
}

/**
 * The next `limit` rows after `after`, in id order, in the shape one format needs: a layer of any size is
 * read in bounded pieces.
 */
export async function exportBatch(db: Kysely<DB>, source: RawBuilder<unknown>, tabular: boolean, after: number, limit: number) {
  const columns = tabular
    ? sql`(select json_object_agg(key, value order by n) from json_each(to_json(s)) with ordinality as e(key, value, n)
           where key <> 'geom') as properties, ST_AsText(s.geom, 7) as wkt`
    : sql`json_build_object('type', 'Feature', 'id', s.id, 'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(s.geom), 7)::json,
                            'properties', to_jsonb(s) - 'geom' - 'id')::text as feature`;
  const { rows } = await sql<ExportRow>`
    select s.id, ${columns} from ${source} s where s.id > ${after} order by s.id limit ${limit}`.execute(db);
  return rows;
}
