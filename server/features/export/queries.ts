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
}

/**
 * The next `limit` rows after `after`, in id order, in the shape one format needs: a layer of any size is
 * read in bounded pieces.
 */
export async function exportBatch(db: Kysely<DB>, { source, columns }: FeatureLayer, tabular: boolean, after: number, limit: number) {
  const wanted = tabular
    ? sql`${propertiesOf('s', ['id', ...columns])} as properties, ST_AsText(s.geom, 7) as wkt`
    : sql`json_build_object('type', 'Feature', 'id', s.id, 'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(s.geom), 7)::json,
                            'properties', ${propertiesOf('s', columns)})::text as feature`;
  const { rows } = await sql<ExportRow>`
    select s.id, ${wanted} from ${source} s where s.id > ${after} order by s.id limit ${limit}`.execute(db);
  return rows;
}
