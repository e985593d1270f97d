import { sql, type Kysely, type RawBuilder } from 'kysely';
import { homesOf, MIN_HOMES_COUNTED } from '../../access/policy.ts';
import type { DB } from '../../db/schema.ts';
import { OPEN_STATUSES } from '../issues/resource.ts';

const OPEN = sql`(${sql.join([...OPEN_STATUSES])})`;

/** Members counted by category, with volunteers and central households, for the rows `members m` in scope. */
const memberCounts = (scope: RawBuilder<unknown>) => sql`(
  select json_build_object(
    'members', count(*),
    'in_service', count(*) filter (where m.category = 'in_service'),
    'retired', count(*) filter (where m.category = 'retired'),
    'floating', count(*) filter (where m.category = 'floating'),
    'resident', count(*) filter (where m.category = 'resident'),
    'volunteers', count(*) filter (where m.is_volunteer),
    'central_households', count(*) filter (where m.is_central_household))
  from members m where ${scope})`;

/** Buildings, households and residents, and buildings with a Party group, for the rows `buildings` in scope. */
const buildingCounts = (scope: ReturnType<typeof sql>) => sql`(
  select jsonb_build_object('buildings', count(*), 'households', coalesce(sum(households), 0),
                            'residents', coalesce(sum(residents), 0),
                            'buildings_with_party_group', count(*) filter (where has_party_group))
  from buildings where ${scope})`;

/**
 * The Party organisation along the map, as a leader first opens it: the community and its Party committee,
 * each grid with its Party branch and grid worker, each building with its Party group and central
 * households, and the counts at every level.
 */
export async function communityTree(
  db: Kysely<DB>,
  id: number,
  /** visible: the community may be read (on `c`); names: a member's name may be shown (on `m`); homes: who lives
   *  in a building may be shown, its members counted (on `b`); fewHomes: a grid's members are counted however few
   *  homes they live in (else only over MIN_HOMES_COUNTED, as coverage counts them) */
  {
    visible,
    names,
    homes,
    fewHomes,
  }: { visible: RawBuilder<unknown>; names: RawBuilder<unknown>; homes: RawBuilder<unknown>; fewHomes: boolean },
): Promise<string | undefined> {
  // an area's members counted where they live in enough homes (or in none), for viewers it concerns
  const areaMembers = (scope: RawBuilder<unknown>) =>
    fewHomes
      ? memberCounts(scope)
      : sql`(case
    when (select ${homesOf('m')} from members m where ${scope}) between 1 and ${MIN_HOMES_COUNTED - 1} then '{}'::json
    else ${memberCounts(scope)} end)`;
  const { rows } = await sql<{ tree: string }>`
    with b as (
      select b.id, b.grid_id, json_build_object(
        'id', b.id, 'name', b.name, 'kind', b.kind, 'floors', b.floors,
        'party_group', json_build_object('exists', b.has_party_group, 'leader', b.party_group_leader),
        'central_households', (select coalesce(json_agg(json_build_object('member_id', m.id, 'name', m.name) order by m.id), '[]')
                               from members m where m.building_id = b.id and m.is_central_household and ${names} and ${homes}),
        'counts', ((case when ${homes} then ${memberCounts(sql`m.building_id = b.id`)}::jsonb else '{}'::jsonb end) || jsonb_build_object(
          'households', b.households, 'residents', b.residents,
          'open_issues', (select count(*) from issues i where i.status in ${OPEN} and ST_Intersects(b.geom, i.geom))))
      ) as node
      from buildings b where b.community_id = ${id}
    ), g as (
      select g.id, json_build_object(
        'id', g.id, 'code', g.code, 'name', g.name,
        'party_branch', json_build_object('name', g.party_branch_name, 'secretary', g.party_branch_secretary),
        'grid_worker', json_build_object('name', g.grid_worker_name, 'phone', g.grid_worker_phone),
        'counts', (${areaMembers(sql`m.grid_id = g.id`)}::jsonb || ${buildingCounts(sql`grid_id = g.id`)} || jsonb_build_object(
          'open_issues', (select count(*) from issues i where i.grid_id = g.id and i.status in ${OPEN}))),
        'buildings', (select coalesce(json_agg(b.node order by b.id), '[]') from b where b.grid_id = g.id)
      ) as node
      from grids g where g.community_id = ${id}
    )
    select json_build_object(
      'id', c.id, 'code', c.code, 'name', c.name,
      'street', json_build_object('id', s.id, 'code', s.code, 'name', s.name),
      'district', json_build_object('id', d.id, 'code', d.code, 'name', d.name),
      'party_committee', json_build_object('name', c.party_committee_name, 'secretary', c.party_committee_secretary),
      'counts', (${areaMembers(sql`m.community_id = c.id`)}::jsonb || ${buildingCounts(sql`community_id = c.id`)} || jsonb_build_object(
        'grids', (select count(*) from grids where community_id = c.id),
        'resident_units', (select count(*) from units where community_id = c.id),
        'open_issues', (select count(*) from issues i where i.community_id = c.id and i.status in ${OPEN}))),
      'grids', (select coalesce(json_agg(g.node order by g.id), '[]') from g),
      'unassigned_buildings', (select coalesce(json_agg(b.node order by b.id), '[]') from b where b.grid_id is null)
    )::text as tree
    from communities c join streets s on s.code = c.street_code join districts d on d.code = s.district_code where c.id = ${id} and ${visible}`.execute(
    db,
  );
  return rows[0]?.tree;
}
