import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { allOf, readConditions } from '../../access/policy.ts';
import type { Viewer } from '../../access/viewer.ts';
import { HttpProblem } from '../../http/problem.ts';

/** Where a grid version sits, for the viewer's read scope (the grid it was, in its community). */
const versionPlace = { community: 'community_id', grid: 'grid_id' };

const readable = (viewer: Viewer) => allOf(readConditions('grids', versionPlace, viewer, 'v') ?? [sql`false`]);

/** Every version of a grid the viewer may read, newest first: who, when, why, the boundary before and after, the impact. */
export async function gridHistory(db: Kysely<DB>, viewer: Viewer, gridId: number) {
  const { rows } = await sql<{ visible: boolean; entry: unknown }>`
    select ${readable(viewer)} as visible, json_build_object(
      'version', v.version, 'at', v.at, 'kind', v.kind, 'note', c.note, 'change', v.change_id,
      'user', case when v.username is not null then json_build_object('id', v.user_id, 'username', v.username) end,
      'code', v.code, 'name', v.name,
      'geometry_before', ST_AsGeoJSON(v.geom_before, 7)::json, 'geometry_after', ST_AsGeoJSON(v.geom_after, 7)::json,
      'impact', c.impact) as entry
    from grid_versions v left join grid_changes c on c.id = v.change_id
    where v.grid_id = ${gridId} order by v.id desc`.execute(db);
  if (rows.length === 0) throw new HttpProblem(404, 'Not Found', `No grid ${gridId}`, { field: 'id' });
  if (!rows[0].visible) throw new HttpProblem(403, 'Outside your scope', `grid ${gridId} lies outside what a ${viewer.role} in your scope may see`, { field: 'id' });
  return { grid: gridId, versions: rows.map((r) => r.entry) };
}

/**
 * The community's grids as they stood at `at` (now when absent): each grid's last version up to then, unless
 * that version removed it. A date alone means the end of that day (UTC).
 */
export async function gridsAsOf(db: Kysely<DB>, viewer: Viewer, communityId: number, at: { time: Date; wholeDay: boolean } | undefined) {
  const until = !at ? sql`v.at <= now()` : at.wholeDay ? sql`v.at < ${at.time}::timestamptz + interval '1 day'` : sql`v.at <= ${at.time}`;
  const { rows: [found] } = await sql<{ known: boolean; visible: boolean; body: string }>`
    with last as (
      select distinct on (v.grid_id) v.* from grid_versions v
      where v.community_id = ${communityId} and ${until} order by v.grid_id, v.id desc)
    select exists (select from communities where id = ${communityId}) as known,
           coalesce(${allOf(readConditions('communities', { community: 'id' }, viewer, 'c') ?? [sql`false`])}, false) as visible,
           json_build_object('type', 'FeatureCollection', 'at', ${at ? at.time.toISOString() : null}::timestamptz,
             'features', coalesce((select json_agg(json_build_object(
               'type', 'Feature', 'id', v.grid_id, 'geometry', ST_AsGeoJSON(v.geom_after, 7)::json,
               'properties', json_build_object('id', v.grid_id, 'code', v.code, 'name', v.name, 'version', v.version, 'since', v.at))
               order by v.code) from last v where v.geom_after is not null and ${readable(viewer)}), '[]'))::text as body
    from (select ${communityId}::int as id) q left join communities c on c.id = q.id`.execute(db);
  if (!found.known) throw new HttpProblem(404, 'Not Found', `No community ${communityId}`, { field: 'id' });
  if (!found.visible) throw new HttpProblem(403, 'Outside your scope', `community ${communityId} lies outside what a ${viewer.role} in your scope may see`, { field: 'id' });
  return found.body;
}
