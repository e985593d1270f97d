import { sql, type Kysely, type RawBuilder } from 'kysely';
import { allOf, personalShown, readable } from '../../access/policy.ts';
import type { Viewer } from '../../access/viewer.ts';
import { compiledOnce } from '../../db/prepared.ts';
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

/** What a statement is given as parameters: its shape is k and which of them are given. */
interface NearestValues {
  lon: number;
  lat: number;
  /** comma-separated */
  skills?: string;
  community?: number;
  notAskedIn?: number;
  radiusM?: number;
}

const valuesOf = ({ lon, lat, skills, community, notAskedIn, radiusM }: NearestQuery): NearestValues => ({
  lon,
  lat,
  skills: skills.length ? skills.join(',') : undefined,
  community,
  notAskedIn,
  radiusM,
});

/** Where a volunteer is reached: where it says it is now, else home. The partial GiST index is on this. */
const reach = sql`coalesce(m.current_point, m.geom)::geography`;

/**
 * Volunteers who may be asked now: on duty, holding no offer or assignment, and ones the viewer may
 * contact (whose name and phone it sees): a distance from any point one picks is a position, so a grid
 * worker finds only its own grid's volunteers, not its neighbours' masked ones.
 */
function askable(q: NearestValues, viewer: Viewer, point: RawBuilder<unknown>): RawBuilder<unknown> {
  const conditions = [
    // both terms as the partial index states them, so the planner can use it
    sql`m.is_volunteer and m.availability = 'available'`,
    sql`not exists (select from dispatches d where d.volunteer_id = m.id and d.state in ('offered', 'accepted', 'arrived'))`,
    readable('members', members.place, viewer, 'm'),
    personalShown('members', viewer, 'm'),
  ];
  if (q.skills !== undefined) conditions.push(sql`m.skills @> string_to_array(${q.skills}, ',')`);
  if (q.community !== undefined) conditions.push(sql`m.community_id = ${q.community}`);
  if (q.notAskedIn !== undefined)
    conditions.push(sql`not exists (select from dispatches d where d.request_id = ${q.notAskedIn} and d.volunteer_id = m.id)`);
  if (q.radiusM !== undefined) conditions.push(sql`ST_DWithin(${reach}, ${point}, ${q.radiusM})`);
  return allOf(conditions);
}

/** How many volunteers on duty the first look takes, nearest first, before it filters them. */
const FIRST_LOOK = (k: number) => Math.max(64, 4 * k);

/**
 * Geodesic metres on the WGS 84 spheroid against metres on PostGIS's sphere (mean radius 6,371,008.8 m,
 * what geography <-> measures): between 0.9944 and 1.0045 (the spheroid's radii of curvature run from
 * 6,335 km to 6,400 km). 0.98 leaves a wide margin.
 */
const SPHEROID_OVER_SPHERE_MIN = 0.98;

/**
 * The k nearest askable volunteers to a point, nearest first, as one GeoJSON FeatureCollection built by
 * PostGIS, exact by ST_Distance on the spheroid (ties by id).
 *
 * The first look is a KNN scan (<-> on the partial geography index) of the nearest volunteers on duty,
 * with nothing else in the scan: the viewer's scope, skills and offers are checked on those rows above the
 * scan's LIMIT, where the planner cannot push them. (Pushed into the scan, their combined selectivity, a
 * repeated is_volunteer, a scope, a skill, is underestimated and the planner sorts every volunteer in
 * scope instead: ten times slower.) The first look holds the answer when it took every volunteer on duty,
 * or when its k-th nearest askable volunteer is nearer than anyone it left out can be: those lie at least
 * its last sphere distance away, so at least 0.98 of that on the spheroid.
 *
 * Otherwise (a rare skill, a point far from the scope) any k askable volunteers bound the k-th nearest by
 * the farthest of them, and the answer is the k nearest among those within that bound: an ST_DWithin on
 * the same index. The k come from the first look if it has them, else from a KNN scan with the filters in.
 */
export const nearestVolunteersSql = (q: NearestQuery, viewer: Viewer) => nearestStatement(viewer, q.k, valuesOf(q));

function nearestStatement(viewer: Viewer, wanted: number, q: NearestValues): RawBuilder<{ collection: string }> {
  const point = sql`ST_SetSRID(ST_MakePoint(${q.lon}, ${q.lat}), 4326)::geography`;
  const where = askable(q, viewer, point);
  // limits written in, not bound: a prepared statement's generic plan must know them to scan the index nearest first
  const look = sql.lit(FIRST_LOOK(wanted));
  const k = sql.lit(wanted);
  const columns = sql`m.id, m.name, m.phone, m.skills, m.availability, m.grid_id, m.community_id,
                      m.current_point is not null as is_current, m.current_point_at, coalesce(m.current_point, m.geom) as at`;
  return sql<{ collection: string }>`
    with first_look as materialized (
      select m.id, ${reach} as reach, ${reach} <-> ${point} as sphere, coalesce(${where}, false) as askable from members m
      where m.is_volunteer and m.availability = 'available'
      order by ${reach} <-> ${point} limit ${look}
    ), found as materialized (
      -- metres on the spheroid only for those that can be among the k nearest: within 1.05 of the k-th
      -- askable one's sphere distance (the two measures differ by less than half a percent)
      select f.id, ST_Distance(f.reach, ${point}) as distance_m from first_look f
      where f.askable and f.sphere <= 1.05 * (select max(sphere) from (select sphere from first_look where askable order by sphere limit ${k}) s)
    ), kth as (
      select max(distance_m) as d from (select distance_m from found order by distance_m, id limit ${k}) s having count(*) = ${k}
    ), answered as (
      select (select count(*) from first_look) < ${look}
             or coalesce((select d from kth) < ${SPHEROID_OVER_SPHERE_MIN} * (select max(sphere) from first_look), false) as yes
    ), seed as (
      select ST_Distance(${reach}, ${point}) as d from members m where ${where}
      order by ${reach} <-> ${point} limit ${k}
    ), nearest as (
      select id, distance_m from found where (select yes from answered)
      union all
      select m.id, ST_Distance(${reach}, ${point}) as distance_m
      from members m
      -- half a metre over the bound: ST_DWithin and ST_Distance may differ in the last digits; the seed
      -- runs only when the first look found fewer than k
      where not (select yes from answered) and ${where}
        and ST_DWithin(${reach}, ${point}, coalesce((select d from kth), (select max(d) from seed)) + 0.5)
    ), ranked as (
      select ${columns}, r.distance_m from (select * from nearest order by distance_m, id limit ${k}) r join members m on m.id = r.id
    )
    select json_build_object('type', 'FeatureCollection', 'numberReturned', count(*), 'features', coalesce(json_agg(json_build_object(
      'type', 'Feature', 'id', n.id,
      'geometry', ST_AsGeoJSON(n.at, 7)::json,
      'properties', json_build_object(
        'distance_m', round(n.distance_m::numeric, 2), 'name', n.name, 'phone', n.phone,
        'skills', n.skills, 'availability', n.availability,
        'located', case when n.is_current then 'current' else 'home' end, 'located_at', n.current_point_at,
        'grid_id', n.grid_id, 'grid_name', g.name, 'community_id', n.community_id, 'community_name', c.name)
    ) order by n.distance_m, n.id), '[]'))::text as collection
    from ranked n left join grids g on g.id = n.grid_id left join communities c on c.id = n.community_id`;
}

/** Prepared, and compiled once for each viewer and shape (a dispatcher asks again and again). */
const nearestPrepared = compiledOnce(nearestStatement);

/** The answer as PostGIS wrote it: the API sends it on without parsing it. */
export async function nearestVolunteersText(db: Kysely<DB>, q: NearestQuery, viewer: Viewer) {
  const { rows } = await nearestPrepared(db, viewer, q.k, valuesOf(q));
  return rows[0].collection;
}

export async function nearestVolunteers(db: Kysely<DB>, q: NearestQuery, viewer: Viewer) {
  return JSON.parse(await nearestVolunteersText(db, q, viewer)) as {
    type: 'FeatureCollection';
    numberReturned: number;
    features: NearestFeature[];
  };
}

export interface NearestFeature {
  id: number;
  geometry: { type: 'Point'; coordinates: [number, number] };
  properties: { distance_m: number; skills: string[] };
}
