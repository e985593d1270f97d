import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';

/** Buildings, members and issues that no grid covers, as one FeatureCollection; `layer` says which. */
export async function unassigned(db: Kysely<DB>): Promise<string> {
  const feature = (layer: string) => sql`json_build_object(
    'type', 'Feature', 'id', ${layer}::text || '/' || t.id, 'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(t.geom), 7)::json,
    'properties', (to_jsonb(t) - 'geom') || jsonb_build_object('layer', ${layer}::text))`;
  const { rows } = await sql<{ body: string }>`
    with found as (
      select 1 as k, t.id, ${feature('buildings')} as f from buildings t where t.grid_id is null
      union all select 2, t.id, ${feature('members')} from members t where t.grid_id is null
      union all select 3, t.id, ${feature('issues')} from issues t where t.grid_id is null
    )
    select json_build_object(
      'type', 'FeatureCollection',
      'numberReturned', (select count(*) from found),
      'counts', json_build_object('buildings', count(*) filter (where k = 1), 'members', count(*) filter (where k = 2),
                                  'issues', count(*) filter (where k = 3)),
      'features', coalesce(json_agg(f order by k, id), '[]'))::text as body
    from found`.execute(db);
  return rows[0].body;
}
