import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REACH_M } from '../server/features/coverage/routes.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * What coverage counts, kept by triggers (sql/schema/09_reach.sql): each building's nearest available volunteer
 * and figures (building_reach), checked after every kind of write against brute force (every building against
 * every available volunteer, without an index); the members per community and grid (member_counts) against a
 * GROUP BY over members. On the demo city, both databases.
 */

let test: TestDatabase;
const db = () => test.database.db;

beforeAll(async () => {
  test = await openTestDatabase();
});
afterAll(async () => {
  await test.drop();
});

/** The buildings whose stored nearest volunteer is not the brute-force one (or whose distance differs by over a millimetre). */
async function wrong() {
  const { rows } = await sql<{
    building_id: number;
    stored: number | null;
    expected: number | null;
    metres: number | null;
    brute: number | null;
  }>`
    with brute as (
      select b.id, n.id as volunteer_id, n.metres
      from buildings b left join lateral (
        select v.id, ST_Distance(coalesce(v.current_point, v.geom)::geography, ST_PointOnSurface(b.geom)::geography) as metres
        from members v where v.is_volunteer and v.availability = 'available'
        order by 2, 1 limit 1) n on n.metres <= ${MAX_REACH_M}
    )
    select b.id as building_id, r.volunteer_id as stored, b.volunteer_id as expected, r.metres, b.metres as brute
    from brute b left join building_reach r on r.building_id = b.id
    where r.building_id is null or r.volunteer_id is distinct from b.volunteer_id or abs(r.metres - b.metres) > 0.001`.execute(db());
  return rows;
}

/** The (community, grid) pairs whose kept member counts differ from a count of members now. */
async function miscounted() {
  const { rows } = await sql<{ community_id: number | null; grid_id: number | null }>`
    with counted as (
      select community_id, grid_id, count(*)::int as members, count(*) filter (where category = 'in_service')::int as members_in_service,
             count(*) filter (where category = 'retired')::int as members_retired, count(*) filter (where category = 'floating')::int as members_floating,
             count(*) filter (where category = 'resident')::int as members_resident, count(*) filter (where is_volunteer)::int as volunteers,
             count(*) filter (where is_volunteer and availability = 'available')::int as volunteers_available,
             count(*) filter (where is_central_household)::int as central_households, count(distinct coalesce(building_id, -id))::int as homes
      from members where community_id is not null or grid_id is not null group by 1, 2)
    select coalesce(c.community_id, k.community_id) as community_id, coalesce(c.grid_id, k.grid_id) as grid_id
    from counted c full join member_counts k on coalesce(k.community_id, -1) = coalesce(c.community_id, -1) and coalesce(k.grid_id, -1) = coalesce(c.grid_id, -1)
    where (c.members, c.members_in_service, c.members_retired, c.members_floating, c.members_resident, c.volunteers, c.volunteers_available,
           c.central_households, c.homes)
          is distinct from (k.members, k.members_in_service, k.members_retired, k.members_floating, k.members_resident, k.volunteers,
           k.volunteers_available, k.central_households, k.homes)`.execute(db());
  return rows;
}

/** The buildings whose figures in building_reach are not the building's. */
async function stale() {
  const { rows } = await sql<{ id: number }>`
    select b.id from buildings b join building_reach r on r.building_id = b.id
    where (r.grid_id, r.community_id, r.kind, r.households, r.residents, r.has_party_group)
          is distinct from (b.grid_id, b.community_id, b.kind, b.households, b.residents, b.has_party_group)`.execute(db());
  return rows;
}

/** A few available volunteers of the demo city, with the buildings they are nearest to. */
async function volunteersNearestToMost(n: number) {
  const { rows } = await sql<{ id: number }>`
    select volunteer_id as id from building_reach where volunteer_id is not null
    group by volunteer_id order by count(*) desc, volunteer_id limit ${n}`.execute(db());
  return rows.map((r) => r.id);
}

describe("each building's nearest available volunteer", () => {
  it('is every building’s, as brute force finds it, in the demo city as loaded', async () => {
    const {
      rows: [{ kept }],
    } = await sql<{ kept: number }>`select count(*)::int as kept from building_reach where volunteer_id is not null`.execute(db());
    expect(kept).toBeGreaterThan(100);
    expect(await wrong()).toEqual([]);
  });

  it('follows a volunteer who moves, goes off duty, comes back and is deleted', async () => {
    const [a, b] = await volunteersNearestToMost(2);
    // moved 800 m north-east (current_point, as the volunteer's phone reports it)
    await sql`update members set current_point = ST_Project(geom::geography, 800, radians(45))::geometry where id = ${a}`.execute(db());
    expect(await wrong()).toEqual([]);
    await sql`update members set current_point = null where id = ${a}`.execute(db());
    expect(await wrong()).toEqual([]);
    await sql`update members set availability = 'off_duty' where id = ${b}`.execute(db());
    expect(await wrong()).toEqual([]);
    await sql`update members set availability = 'available' where id = ${b}`.execute(db());
    expect(await wrong()).toEqual([]);
    await sql`update members set is_volunteer = false, skills = '{}' where id = ${a}`.execute(db());
    expect(await wrong()).toEqual([]);
    await sql`delete from dispatches where volunteer_id = ${b}`.execute(db());
    await sql`delete from members where id = ${b}`.execute(db());
    expect(await wrong()).toEqual([]);
  });

  it('follows many volunteers written in one statement, as a load or an import writes them', async () => {
    // 40 new volunteers scattered over the city (over the few an arrival is measured against one by one)
    await sql`
      insert into members (name, category, is_volunteer, availability, geom)
      select '新志愿者' || i, 'resident', true, 'available', ST_PointOnSurface(b.geom)
      from (select geom, row_number() over (order by id) as i from buildings where id % 37 = 0 limit 40) b`.execute(db());
    expect(await wrong()).toEqual([]);
    // every volunteer off duty at once (no building has one), then all back: every building far from its volunteer, refreshed from the index
    await sql`update members set availability = 'off_duty' where is_volunteer and availability = 'available'`.execute(db());
    const {
      rows: [{ kept }],
    } = await sql<{ kept: number }>`select count(*)::int as kept from building_reach where volunteer_id is not null`.execute(db());
    expect(kept).toBe(0);
    await sql`update members set availability = 'available' where is_volunteer and availability = 'off_duty'`.execute(db());
    expect(await wrong()).toEqual([]);
  });

  it('keeps the building’s figures as it is edited and relinked', async () => {
    await sql`update buildings set households = households + 7, residents = residents + 11, has_party_group = not has_party_group
              where id in (select id from buildings order by id limit 3)`.execute(db());
    expect(await stale()).toEqual([]);
    // a grid redrawn: the buildings under it relinked
    await sql`update grids set geom = ST_Buffer(geom, 0.0005, 'join=mitre')
              where id = (select grid_id from buildings where grid_id is not null order by id limit 1)`.execute(db());
    expect(await stale()).toEqual([]);
  });

  it('follows footprints drawn, moved and deleted, and a city with no volunteer within the cap', async () => {
    const {
      rows: [{ id }],
    } = await sql<{ id: number }>`
      insert into buildings (name, households, residents, geom)
      select '新楼', 10, 25, ST_Translate(geom, 0.003, 0.002) from buildings order by id limit 1 returning id`.execute(db());
    expect(await wrong()).toEqual([]);
    await sql`update buildings set geom = ST_Translate(geom, 0.02, 0) where id = ${id}`.execute(db());
    expect(await wrong()).toEqual([]);
    // far out of town: no volunteer within 5 km
    await sql`update buildings set geom = ST_Translate(geom, 1, 0) where id = ${id}`.execute(db());
    expect(await wrong()).toEqual([]);
    const {
      rows: [far],
    } = await sql<{ volunteer_id: number | null }>`select volunteer_id from building_reach where building_id = ${id}`.execute(db());
    expect(far.volunteer_id).toBeNull();
    // a volunteer arrives 3 km from it: the building over a kilometre from its volunteer is found
    await sql`
      insert into members (name, category, is_volunteer, availability, geom)
      select '远方志愿者', 'resident', true, 'available', ST_Project(ST_PointOnSurface(geom)::geography, 3000, 0)::geometry
      from buildings where id = ${id}`.execute(db());
    expect(await wrong()).toEqual([]);
    await sql`delete from buildings where id = ${id}`.execute(db());
    expect(await wrong()).toEqual([]);
    expect(await stale()).toEqual([]);
  });
});

describe('the members counted per community and grid', () => {
  it('are a count of members after every kind of write', async () => {
    expect(await miscounted()).toEqual([]);
    const {
      rows: [{ count }],
    } = await sql<{ count: number }>`select count(*)::int as count from member_counts`.execute(db());
    expect(count).toBeGreaterThan(10);
    await sql`insert into members (name, category, geom)
              select '新党员' || i, 'retired', ST_PointOnSurface(geom) from (select geom, row_number() over (order by id) i from buildings limit 5) b`.execute(
      db(),
    );
    expect(await miscounted()).toEqual([]);
    await sql`update members set category = 'floating', is_central_household = true where id in (select id from members order by id limit 4)`.execute(
      db(),
    );
    expect(await miscounted()).toEqual([]);
    // moved to another home, across grids
    await sql`update members set geom = (select ST_PointOnSurface(geom) from buildings order by id desc limit 1)
              where id = (select min(id) from members)`.execute(db());
    expect(await miscounted()).toEqual([]);
    // out of every grid and community, then deleted
    await sql`update members set geom = ST_SetSRID(ST_MakePoint(100, 20), 4326) where id = (select max(id) from members)`.execute(db());
    expect(await miscounted()).toEqual([]);
    await sql`delete from members where id in (select id from members where not is_volunteer order by id desc limit 3)`.execute(db());
    expect(await miscounted()).toEqual([]);
    // a grid redrawn relinks its members; a grid deleted unlinks them
    const {
      rows: [{ grid }],
    } = await sql<{ grid: number }>`select grid_id as grid from members where grid_id is not null order by id limit 1`.execute(db());
    await sql`update grids set geom = ST_Buffer(geom, -0.0005) where id = ${grid}`.execute(db());
    expect(await miscounted()).toEqual([]);
    await sql`delete from grids where id = ${grid}`.execute(db());
    expect(await miscounted()).toEqual([]);
  });
});
