import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../../db/schema.ts';

/**
 * Buildings, members and issues that no grid covers, as one FeatureCollection; `layer` says which. Each
 * layer is read from the source the caller may see (scoped, masked); layers it may not read are left out.
 */
export async function unassigned(db: Kysely<DB>, layers: { name: string; source: RawBuilder<unknown> }[]): Promise<string> {
  const found = layers.map(
    ({ name, source }, k) => sql`
    select ${k} as k, t.id, json_build_object(
      'type', 'Feature', 'id', ${name}::text || '/' || t.id, 'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(t.geom), 7)::json,
      'properties', (to_jsonb(t) - 'geom') || jsonb_build_object('layer', ${name}::text)) as f
    from ${source} t where t.grid_id is null`,
  );
  const { rows } = await sql<{ body: string }>`
    with found as (${sql.join(found, sql` union all `)})
    select json_build_object(
      'type', 'FeatureCollection',
      'numberReturned', (select count(*) from found),
      'counts', json_build_object(${sql.join(layers.map(({ name }, k) => sql`${name}::text, count(*) filter (where k = ${k})`))}),
      'features', coalesce(json_agg(f order by k, id), '[]'))::text as body
    from found`.execute(db);
  return rows[0].body;
}
