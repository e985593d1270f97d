import { sql, type Kysely, type RawBuilder } from 'kysely';
import { allOf, personalShown, readConditions } from '../../access/policy.ts';
import type { Viewer } from '../../access/viewer.ts';
import type { DB } from '../../db/schema.ts';
import { members } from '../members/resource.ts';

export interface NearestQuery {
  lon: number;
  lat: number;
  k: number;
  radiusM?: number;
  /** every one required */
  skills: string[];
  community?: number;
  /** leave out volunteers already asked in this dispatch request (the cascade) */
  notAskedIn?: number;
}

/** Where a volunteer is reached: where it says it is now, else home. The partial GiST index is on this. */
const reach = sql`coalesce(m.current_point, m.geom)::geography`;

/**
 * Volunteers who may be asked now: on duty, holding no offer or assignment, and ones the viewer may
 * contact (whose name and phone it sees): a distance from any point one picks is a position, so a grid
 * worker finds only its own grid's volunteers, not its neighbours' masked ones.
 */
function askable(q: NearestQuery, viewer: Viewer, point: RawBuilder<unknown>): RawBuilder<unknown> {
  const conditions = [
    // both terms as the partial index states them, so the planner can use it
    sql`m.is_volunteer and m.availability = 'available'`,
    sql`not exists (select from dispatches d where d.volunteer_id = m.id and d.state in ('offered', 'accepted', 'arrived'))`,
    ...(readConditions('members', members.place, viewer, 'm') ?? [sql`false`]),
    personalShown('members', viewer, 'm'),
  ];
  if (q.skills.length) conditions.push(sql`m.skills @> string_to_array(${q.skills.join(',')}, ',')`);
  if (q.community !== undefined) conditions.push(sql`m.community_id = ${q.community}`);
  if (q.notAskedIn !== undefined) conditions.push(sql`not exists (select from dispatches d where d.request_id = ${q.notAskedIn} and d.volunteer_id = m.id)`);
  if (q.radiusM !== undefined) conditions.push(sql`ST_DWithin(${reach}, ${point}, ${q.radiusM})`);
  return allOf(conditions);
}

/**
 * The k nearest askable volunteers to a point, nearest first, as one GeoJSON FeatureCollection built by
 * PostGIS. Exact and indexed: a KNN scan (<-> on the geography index, which orders by distance on the
 * sphere) finds k volunteers near the point; the farthest of them, in metres on the spheroid, bounds the
 * true k-th nearest, so the answer is the k nearest by ST_Distance among those within that bound (an
 * ST_DWithin on the same index).
 */
export function nearestVolunteersSql(q: NearestQuery, viewer: Viewer): RawBuilder<{ collection: unknown }> {
  const point = sql`ST_SetSRID(ST_MakePoint(${q.lon}, ${q.lat}), 4326)::geography`;
  const where = askable(q, viewer, point);
  return sql<{ collection: unknown }>`
    with seed as (
      select ST_Distance(${reach}, ${point}) as d from members m where ${where}
      order by ${reach} <-> ${point} limit ${q.k}
    ), nearest as (
      select m.id, ST_Distance(${reach}, ${point}) as distance_m, m.name, m.phone, m.skills, m.availability,
             m.grid_id, m.community_id, m.current_point is not null as is_current, m.current_point_at,
             coalesce(m.current_point, m.geom) as at
      from members m
      -- half a metre over the bound: ST_DWithin and ST_Distance may differ in the last digits
      where ${where} and ST_DWithin(${reach}, ${point}, (select max(d) + 0.5 from seed))
      order by distance_m, m.id limit ${q.k}
    )
    select json_build_object('type', 'FeatureCollection', 'numberReturned', count(*), 'features', coalesce(json_agg(json_build_object(
      'type', 'Feature', 'id', n.id,
      'geometry', ST_AsGeoJSON(n.at, 7)::json,
      'properties', json_build_object(
        'distance_m', round(n.distance_m::numeric, 2), 'name', n.name, 'phone', n.phone,
        'skills', n.skills, 'availability', n.availability,
        'located', case when n.is_current then 'current' else 'home' end, 'located_at', n.current_point_at,
        'grid_id', n.grid_id, 'grid_name', g.name, 'community_id', n.community_id, 'community_name', c.name)
    ) order by n.distance_m, n.id), '[]')) as collection
    from nearest n left join grids g on g.id = n.grid_id left join communities c on c.id = n.community_id`;
}

export async function nearestVolunteers(db: Kysely<DB>, q: NearestQuery, viewer: Viewer) {
  const { rows } = await nearestVolunteersSql(q, viewer).execute(db);
  return rows[0].collection as { type: 'FeatureCollection'; numberReturned: number; features: NearestFeature[] };
}

export interface NearestFeature {
  id: number;
  geometry: { type: 'Point'; coordinates: [number, number] };
  properties: { distance_m: number; skills: string[] };
}
