import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REACH_M } from '../server/features/coverage/routes.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * Each building's nearest available volunteer (volunteer_reach, sql/schema/09_reach.sql) kept by triggers,
 * checked after every kind of write against brute force: every building against every available volunteer,
 * without an index, on the demo city (both databases).
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
    from brute b left join volunteer_reach r on r.building_id = b.id
    where r.building_id is null or r.volunteer_id is distinct from b.volunteer_id or abs(r.metres - b.metres) > 0.001`.execute(db());
  return rows;
}

/** A few available volunteers of the demo city, with the buildings they are nearest to. */
async function volunteersNearestToMost(n: number) {
  const { rows } = await sql<{ id: number }>`
    select volunteer_id as id from volunteer_reach where volunteer_id is not null
    group by volunteer_id order by count(*) desc, volunteer_id limit ${n}`.execute(db());
  return rows.map((r) => r.id);
}

describe("each building's nearest available volunteer", () => {
  it('is every building’s, as brute force finds it, in the demo city as loaded', async () => {
    const {
      rows: [{ kept }],
    } = await sql<{ kept: number }>`select count(*)::int as kept from volunteer_reach where volunteer_id is not null`.execute(db());
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
    } = await sql<{ kept: number }>`select count(*)::int as kept from volunteer_reach where volunteer_id is not null`.execute(db());
    expect(kept).toBe(0);
    await sql`update members set availability = 'available' where is_volunteer and availability = 'off_duty'`.execute(db());
    expect(await wrong()).toEqual([]);
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
    } = await sql<{ volunteer_id: number | null }>`select volunteer_id from volunteer_reach where building_id = ${id}`.execute(db());
    expect(far.volunteer_id).toBeNull();
    // a volunteer arrives 3 km from it: the building over a kilometre from its volunteer is found
    await sql`
      insert into members (name, category, is_volunteer, availability, geom)
      select '远方志愿者', 'resident', true, 'available', ST_Project(ST_PointOnSurface(geom)::geography, 3000, 0)::geometry
      from buildings where id = ${id}`.execute(db());
    expect(await wrong()).toEqual([]);
    await sql`delete from buildings where id = ${id}`.execute(db());
    expect(await wrong()).toEqual([]);
  });
});
