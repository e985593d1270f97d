import { sql, type Kysely, type RawBuilder } from 'kysely';
import { accessOf, allOf, countsFewHomes, MIN_HOMES_COUNTED, personalShown, readable } from '../../access/policy.ts';
import type { Viewer } from '../../access/viewer.ts';
import type { DB } from '../../db/schema.ts';
import { districts, streets } from '../areas/resource.ts';
import { buildings } from '../buildings/resource.ts';
import { communities } from '../communities/resource.ts';
import { grids } from '../grids/resource.ts';
import { members } from '../members/resource.ts';
import { OPEN_STATUSES, overdue } from '../issues/resource.ts';

export type CoverageLevel = 'grid' | 'community' | 'street' | 'district';

export interface CoverageOptions {
  /** a household is reached when an available volunteer is this close to its building (metres) */
  reachM: number;
  /** who asks */
  viewer: Viewer;
  /** count every member (false: volunteers only, for roles that read only volunteers: member counts are null) */
  allMembers: boolean;
  /** issues reported in [from, to) only; all issues without */
  from?: Date;
  to?: Date;
  /** the areas' geometry in the answer (false: their boxes only, for a map that has them as tiles) */
  geometry?: boolean;
}

export const DEFAULT_REACH_M = 500;

/** Roles that read only the volunteers among the members count only them. */
export const countsAllMembers = (viewer: Viewer) => !accessOf('members', viewer.role).read?.volunteersOnly;

/**
 * The distances reach is asked at, and gaps told in, for those who may not locate every volunteer: reach at
 * any metre, from many buildings, would tell where a volunteer is as well as a map of it. Up to reach_cap_m()
 * (sql/schema/09_reach.sql), coverage's largest reach.
 */
export const REACH_BANDS_M = [100, 200, 300, 400, 500, 1000, 2000, 5000];

/** Who may ask reach at any metre: those who see every volunteer where it is. */
const locatesEveryVolunteer = (viewer: Viewer) => accessOf('members', viewer.role).read?.personal === 'shown' && viewer.scope === null;

/** The reach a viewer is answered at: as asked, or the band at or below it (the lowest band at least). */
export const reachFor = (viewer: Viewer, reachM: number) =>
  locatesEveryVolunteer(viewer) ? reachM : Math.max(REACH_BANDS_M[0], ...REACH_BANDS_M.filter((band) => band <= reachM));

const share = (part: RawBuilder<unknown>, whole: RawBuilder<unknown>, digits = 4) =>
  sql`round(${part}::numeric / nullif(${whole}, 0), ${sql.lit(digits)})::float8`;

/**
 * Every coverage metric of the grids or communities matching `where` (on `a`, the grids or communities
 * table), one row per area (its `id`) with flat properties, so the same rows make GeoJSON and vector tiles;
 * the caller joins the area's geometry (had the rows held it, turning a row into JSON would write every shape
 * as GeoJSON only to drop it: a third of the whole city's answer). Each area's buildings, members and issues
 * are those linked to it (the derived links), summed from what the database keeps counted
 * (sql/schema/09_reach.sql: each building's figures and nearest volunteer, members per community and grid)
 * and the area's issues, by index look-ups per area.
 *
 * - households, residents: summed over the area's buildings; party_group_share: residential buildings with a
 *   building Party group / residential buildings;
 * - members by category, volunteers, central households; members and volunteers per 100 households;
 * - volunteer_reach: households in buildings (a point on the footprint) within reachM of an available
 *   volunteer (any volunteer: the nearest may live across the boundary; where it is, for every viewer) / households;
 * - issues (duplicates counted once, as on the walls): open, overdue, closed; closure_rate closed / (reported −
 *   rejected); median days from report to close;
 * - communities also: the staffing standard (sql/010_coverage.sql) against staff_count, and grid balance:
 *   households per grid (lowest, highest, population standard deviation) against the community's band.
 * - streets and districts: what is linked to their communities, counted again from the rows (so counts are
 *   the sums of their communities', and rates and medians are the area's own, never averages), and how many
 *   communities they hold; all figures null (`figures_withheld`) where the viewer does not read every one of
 *   those communities.
 */
export function coverageRows(level: CoverageLevel, where: RawBuilder<unknown>, options: CoverageOptions) {
  // the communities of street or district `a`
  const communitiesOf = level === 'street' ? sql`street_code = a.code` : sql`left(street_code, 6) = a.code`;
  // what row `x` (a building, member, issue) must be linked to, to count in area `a`
  const linked = (x: string) =>
    level === 'grid'
      ? sql`${sql.ref(`${x}.grid_id`)} = a.id`
      : level === 'community'
        ? sql`${sql.ref(`${x}.community_id`)} = a.id`
        : sql`${sql.ref(`${x}.community_id`)} = any(array(select id from communities where ${communitiesOf}))`;
  const window = [
    ...(options.from ? [sql`i.reported_at >= ${options.from}`] : []),
    ...(options.to ? [sql`i.reported_at < ${options.to}`] : []),
  ];
  // member figures where the members counted live in enough homes (MIN_HOMES_COUNTED), for those it concerns
  const counted = (figure: RawBuilder<unknown>) =>
    countsFewHomes(options.viewer) ? figure : sql`case when m.homes >= ${MIN_HOMES_COUNTED} or m.members = 0 then ${figure} end`;
  // each figure: its name and how it is counted from the lateral rows below (b, m, i)
  const figures: [string, RawBuilder<unknown>][] = [
    ['households', sql`coalesce(b.households, 0)::int`],
    ['residents', sql`coalesce(b.residents, 0)::int`],
    ['buildings', sql`coalesce(b.buildings, 0)::int`],
    ['residential_buildings', sql`coalesce(b.residential_buildings, 0)::int`],
    ['party_group_buildings', sql`coalesce(b.party_group_buildings, 0)::int`],
    ['party_group_share', share(sql`b.party_group_buildings`, sql`b.residential_buildings`)],
    ...['members', 'members_in_service', 'members_retired', 'members_floating', 'members_resident', 'central_households'].map(
      (c): [string, RawBuilder<unknown>] => [c, options.allMembers ? counted(sql.ref(`m.${c}`)) : sql`null::int`],
    ),
    ['volunteers', counted(sql`m.volunteers`)],
    ['volunteers_available', counted(sql`m.volunteers_available`)],
    ['members_per_100_households', options.allMembers ? counted(share(sql`100 * m.members`, sql`b.households`, 2)) : sql`null::float8`],
    ['volunteers_per_100_households', counted(share(sql`100 * m.volunteers`, sql`b.households`, 2))],
    ['households_reached', sql`coalesce(b.households_reached, 0)::int`],
    ['volunteer_reach', share(sql`coalesce(b.households_reached, 0)`, sql`b.households`)],
    ...['open_issues', 'overdue_issues', 'closed_issues', 'closure_rate', 'median_days_to_close'].map(
      (c): [string, RawBuilder<unknown>] => [c, sql.ref(`i.${c}`)],
    ),
  ];
  // A street or district counts all its communities. One that reaches past the communities the viewer reads
  // (a street leader's district, a community secretary's street) would tell, less the viewer's own figures,
  // what the viewer may not read: its figures are withheld (null). Reading a community is reading its
  // buildings, members and issues (one scope for all of them), so its communities are the test.
  const overCommunities = level === 'street' || level === 'district';
  const readsAll = sql`
    cross join lateral (select not exists (
      select from communities c where ${communitiesOf} and not (${readable('communities', communities.place, options.viewer, 'c')})
    ) as shown) w`;
  const counts = sql.join(
    figures.map(([name, figure]) => sql`${overCommunities ? sql`case when w.shown then ${figure} end` : figure} as ${sql.id(name)}`),
  );
  const perArea = sql`
    left join lateral (
      select count(*) as buildings,
             count(*) filter (where b.kind = 'residential') as residential_buildings,
             count(*) filter (where b.kind = 'residential' and b.has_party_group) as party_group_buildings,
             sum(b.households) as households, sum(b.residents) as residents,
             sum(b.households) filter (where b.households > 0 and b.metres <= ${options.reachM}) as households_reached
      from building_reach b where ${linked('b')}) b on true
    cross join lateral (
      select coalesce(sum(m.members), 0)::int as members,
             coalesce(sum(m.members_in_service), 0)::int as members_in_service,
             coalesce(sum(m.members_retired), 0)::int as members_retired,
             coalesce(sum(m.members_floating), 0)::int as members_floating,
             coalesce(sum(m.members_resident), 0)::int as members_resident,
             coalesce(sum(m.volunteers), 0)::int as volunteers,
             coalesce(sum(m.volunteers_available), 0)::int as volunteers_available,
             coalesce(sum(m.central_households), 0)::int as central_households,
             coalesce(sum(m.homes), 0)::int as homes
      from member_counts m where ${linked('m')}) m
    cross join lateral (
      select count(*) filter (where i.status in (${sql.join([...OPEN_STATUSES])}))::int as open_issues,
             count(*) filter (where ${overdue('i')})::int as overdue_issues,
             count(*) filter (where i.status = 'closed')::int as closed_issues,
             ${share(sql`count(*) filter (where i.status = 'closed')`, sql`count(*) filter (where i.status <> 'rejected')`)} as closure_rate,
             round((percentile_cont(0.5) within group (order by extract(epoch from i.closed_at - i.reported_at) / 86400)
                    filter (where i.status = 'closed'))::numeric, 2)::float8 as median_days_to_close
      from issues i where ${linked('i')} and i.duplicate_of is null and ${allOf(window)}) i`;

  if (level === 'grid') {
    return sql`
      select a.id, a.code, a.name, a.community_id, c.name as community_name, ${counts},
             c.grid_households_min as band_min, c.grid_households_max as band_max,
             case when coalesce(b.households, 0) < c.grid_households_min then 'below'
                  when b.households > c.grid_households_max then 'above' else 'within' end as household_band
      from grids a join communities c on c.id = a.community_id ${perArea}
      where ${where}`;
  }
  if (level === 'street') {
    return sql`
      select a.id, a.code, a.name, a.district_code, d.name as district_name, ${counts}, not w.shown as figures_withheld,
             (select count(*)::int from communities where street_code = a.code) as communities
      from streets a join districts d on d.code = a.district_code ${perArea} ${readsAll}
      where ${where}`;
  }
  if (level === 'district') {
    return sql`
      select a.id, a.code, a.name, ${counts}, not w.shown as figures_withheld,
             (select count(*)::int from streets where district_code = a.code) as streets,
             (select count(*)::int from communities where left(street_code, 6) = a.code) as communities
      from districts a ${perArea} ${readsAll}
      where ${where}`;
  }
  return sql`
    select a.id, a.code, a.name, a.street_code, s.name as street_name, ${counts},
           a.staff_count, st.people_served::int, st.required_min as staff_required_min, st.required_max as staff_required_max,
           case when a.staff_count is null then 'unknown' when a.staff_count < st.required_min then 'short'
                when a.staff_count > st.required_max then 'over' else 'within' end as staffing,
           gb.grids, a.grid_households_min as band_min, a.grid_households_max as band_max,
           gb.lowest as grid_households_lowest, gb.highest as grid_households_highest,
           round(gb.stddev, 1)::float8 as grid_households_stddev, gb.below as grids_below_band, gb.above as grids_above_band
    from communities a join streets s on s.code = a.street_code ${perArea}
    cross join lateral staffing_standard(coalesce(b.households, 0)::bigint, coalesce(b.residents, 0)::bigint) st
    cross join lateral (
      select count(*)::int as grids, min(h)::int as lowest, max(h)::int as highest, stddev_pop(h) as stddev,
             count(*) filter (where h < a.grid_households_min)::int as below,
             count(*) filter (where h > a.grid_households_max)::int as above
      -- offset 0: each grid's households summed once, not once per aggregate that reads them
      from (select coalesce((select sum(households) from building_reach where grid_id = g.id), 0) as h
            from grids g where g.community_id = a.id offset 0) per_grid) gb
    where ${where}`;
}

export interface CoverageFilter {
  community?: number;
  street?: string;
  district?: string;
}

const AREAS = { grid: grids, community: communities, street: streets, district: districts };

/** The areas of `level` the viewer may read, within the filter, as a condition on `a`. */
function visibleAreas(level: CoverageLevel, viewer: Viewer, filter: CoverageFilter) {
  const def = AREAS[level];
  const conditions = [readable(def.name, def.place, viewer, 'a')];
  if (level === 'street' || level === 'district') {
    if (filter.street !== undefined) conditions.push(sql`a.code = ${filter.street}`);
    if (filter.district !== undefined)
      conditions.push(level === 'street' ? sql`a.district_code = ${filter.district}` : sql`a.code = ${filter.district}`);
    return allOf(conditions);
  }
  const communityColumn = level === 'grid' ? sql`a.community_id` : sql`a.id`;
  if (filter.community !== undefined) conditions.push(sql`${communityColumn} = ${filter.community}`);
  if (filter.street !== undefined) {
    conditions.push(
      level === 'grid'
        ? sql`a.community_id in (select id from communities where street_code = ${filter.street})`
        : sql`a.street_code = ${filter.street}`,
    );
  }
  return allOf(conditions);
}

/** The coverage of the visible areas of a level as a GeoJSON FeatureCollection, built by PostGIS. */
export async function coverageCollection(
  db: Kysely<DB>,
  level: CoverageLevel,
  viewer: Viewer,
  filter: CoverageFilter,
  options: CoverageOptions,
) {
  const { rows } = await sql<{ body: string }>`
    select json_build_object(
      'type', 'FeatureCollection',
      'reach_m', ${options.reachM}::int,
      'numberReturned', count(*),
      'features', coalesce(json_agg(json_build_object(
        'type', 'Feature', 'id', r.id,
        'bbox', case when a.geom is not null then json_build_array(ST_XMin(a.geom), ST_YMin(a.geom), ST_XMax(a.geom), ST_YMax(a.geom)) end,
        'geometry', ${options.geometry === false ? sql`null::json` : sql`ST_AsGeoJSON(ST_ForcePolygonCCW(a.geom), 7)::json`},
        'properties', to_jsonb(r)) order by r.code), '[]'))::text as body
    from (${coverageRows(level, visibleAreas(level, viewer, filter), options)}) r join ${sql.table(AREAS[level].table)} a on a.id = r.id`.execute(
    db,
  );
  return rows[0].body;
}

/**
 * Buildings with households and no available volunteer within reach: where a resident in need has no one
 * nearby. Each with its distance on the spheroid to the nearest available volunteer (building_reach): to the
 * decimetre (`nearest_volunteer_m`) when the viewer may see where that volunteer is, else as the band it is
 * beyond (`nearest_volunteer_over_m`, REACH_BANDS_M: "over 200 m"); over reach_cap_m() when none is nearer.
 */
export async function coverageGaps(db: Kysely<DB>, viewer: Viewer, filter: CoverageFilter, reachM: number) {
  const visible = [readable(buildings.name, buildings.place, viewer, 'b')];
  const within = [
    ...(filter.community !== undefined ? [sql`b.community_id = ${filter.community}`] : []),
    ...(filter.street !== undefined ? [sql`b.community_id in (select id from communities where street_code = ${filter.street})`] : []),
  ];
  const locatable = allOf([readable('members', members.place, viewer, 'v'), personalShown('members', viewer, 'v')]);
  const { rows } = await sql<{ body: string }>`
    with gap as (
      select b.id, b.name, b.kind, b.households, b.residents, b.grid_id, b.community_id, b.geom,
             (case when ${locatable} then round(r.metres::numeric, 1) end)::float8 as nearest_volunteer_m,
             case when r.metres is null then reach_cap_m()::int when not coalesce(${locatable}, false)
               then (select max(band) from unnest(${REACH_BANDS_M}::int[]) band where band < r.metres) end as nearest_volunteer_over_m
      from buildings b join building_reach r on r.building_id = b.id left join members v on v.id = r.volunteer_id
      where b.households > 0 and (r.metres is null or r.metres > ${reachM}) and ${allOf([...within, ...visible])}
    )
    select json_build_object(
      'type', 'FeatureCollection', 'reach_m', ${reachM}::int,
      'numberReturned', count(*), 'households', coalesce(sum(gap.households), 0),
      'features', coalesce(json_agg(json_build_object(
        'type', 'Feature', 'id', gap.id,
        'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(gap.geom), 7)::json,
        'properties', json_build_object(
          'name', gap.name, 'kind', gap.kind, 'households', gap.households, 'residents', gap.residents,
          'grid_id', gap.grid_id, 'grid_name', g.name, 'community_id', gap.community_id,
          'nearest_volunteer_m', gap.nearest_volunteer_m, 'nearest_volunteer_over_m', gap.nearest_volunteer_over_m))
        -- furthest first, as the viewer is told the distances
        order by coalesce(gap.nearest_volunteer_m, gap.nearest_volunteer_over_m) desc, gap.id), '[]'))::text as body
    from gap left join grids g on g.id = gap.grid_id`.execute(db);
  return rows[0].body;
}
