import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { Bbox } from '../../http/params.ts';
import { mapLayers, type MapLayer } from './layers.ts';

/**
 * One layer as an RFC 7946 FeatureCollection, built entirely in PostGIS and passed through as text:
 * lon/lat, 7 decimals (about 1 cm), outer rings counter-clockwise. `bbox` keeps what intersects it,
 * using the GiST index (`&&`) before the exact test.
 */
export async function featureCollection(db: Kysely<DB>, layer: MapLayer, { bbox, limit }: { bbox?: Bbox; limit: number }) {
  const envelope = bbox && sql`ST_MakeEnvelope(${bbox[0]}, ${bbox[1]}, ${bbox[2]}, ${bbox[3]}, 4326)`;
  const where = envelope ? sql`where t.geom && ${envelope} and ST_Intersects(t.geom, ${envelope})` : sql``;
  const { rows } = await sql<{ body: string }>`
    with matched as (select t.* from ${mapLayers[layer]} t ${where}),
         page as (select * from matched order by id limit ${limit})
    select json_build_object(
      'type', 'FeatureCollection',
      'numberMatched', (select count(*) from matched),
      'numberReturned', (select count(*) from page),
      'features', coalesce(
        (select json_agg(json_build_object(
                  'type', 'Feature',
                  'id', p.id,
                  'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(p.geom), 7)::json,
                  'properties', to_jsonb(p) - 'geom' - 'id') order by p.id)
         from page p),
        '[]'::json)
    )::text as body`.execute(db);
  return rows[0].body;
}
