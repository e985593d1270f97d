import type { Express } from 'express';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './support/app.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * Coverage for leaders over real HTTP on real PostGIS (both modes): every metric against SQL written
 * independently (whole-table GROUP BYs, brute-force distances without the index) on the demo city, and
 * against numbers worked out by hand on a small fixture; the staffing standard at its boundaries; the gaps.
 */

let test: TestDatabase;
const as: Record<string, Express> = {};
const db = () => test.database.db;
type Properties = Record<string, number | string | null>;
interface Collection {
  features: { id: number; properties: Properties; geometry: { type: string } | null; bbox: number[] | null }[];
  numberReturned: number;
  households?: number;
}

/** The fixture: a community far east of the demo city, two grids, four buildings, four members, four issues. */
const LON = 110.2,
  LAT = 36.6;
const square = (lon: number, lat: number, half: number) =>
  `POLYGON((${lon - half} ${lat - half}, ${lon + half} ${lat - half}, ${lon + half} ${lat + half}, ${lon - half} ${lat + half}, ${lon - half} ${lat - half}))`;
let fixture: { community: number; g1: number; g2: number; b3: number };

async function buildFixture() {
  await sql`insert into streets (code, name, district_code) values ('610602099', '测试街道', '610602')`.execute(db());
  const {
    rows: [{ id: community }],
  } = await sql<{ id: number }>`
    insert into communities (code, name, street_code, staff_count, geom)
    values ('610602099001', '测试社区', '610602099', 19, ST_Multi(ST_GeomFromText(${`POLYGON((${LON} ${LAT}, ${LON + 0.02} ${LAT}, ${LON + 0.02} ${LAT + 0.02}, ${LON} ${LAT + 0.02}, ${LON} ${LAT}))`}, 4326)))
    returning id`.execute(db());
  const grid = async (n: number, west: number) =>
    (
      await sql<{ id: number }>`
    insert into grids (community_id, code, name, geom)
    values (${community}, ${`610602099001${String(n).padStart(3, '0')}`}, ${`网格${n}`},
            ST_GeomFromText(${`POLYGON((${west} ${LAT}, ${west + 0.01} ${LAT}, ${west + 0.01} ${LAT + 0.02}, ${west} ${LAT + 0.02}, ${west} ${LAT}))`}, 4326))
    returning id`.execute(db())
    ).rows[0].id;
  const g1 = await grid(1, LON);
  const g2 = await grid(2, LON + 0.01);
  const building = async (lon: number, lat: number, kind: string, households: number, residents: number, group: boolean) =>
    (
      await sql<{ id: number }>`
    insert into buildings (name, kind, households, residents, has_party_group, geom)
    values ('楼', ${kind}, ${households}, ${residents}, ${group}, ST_GeomFromText(${square(lon, lat, 0.0001)}, 4326)) returning id`.execute(
        db(),
      )
    ).rows[0].id;
  await building(LON + 0.003, LAT + 0.005, 'residential', 100, 250, true); // B1, G1
  await building(LON + 0.007, LAT + 0.005, 'residential', 200, 500, false); // B2, G1: ~340 m east of B1
  const b3 = await building(LON + 0.015, LAT + 0.005, 'residential', 50, 120, true); // B3, G2: ~1 km east of B1
  await building(LON + 0.017, LAT + 0.012, 'shop', 0, 0, false); // B4, G2
  const member = (lon: number, lat: number, category: string, volunteer: boolean, availability: string, central: boolean) =>
    sql`
    insert into members (name, category, is_volunteer, skills, availability, is_central_household, geom)
    values ('党员', ${category}, ${volunteer}, ${volunteer ? sql`'{elder_care}'::text[]` : sql`'{}'::text[]`}, ${availability}, ${central},
            ST_SetSRID(ST_MakePoint(${lon}, ${lat}), 4326))`.execute(db());
  await member(LON + 0.003, LAT + 0.005, 'retired', true, 'available', false); // in B1: the only volunteer on duty
  await member(LON + 0.007, LAT + 0.005, 'in_service', false, 'available', true); // in B2
  await member(LON + 0.015, LAT + 0.005, 'floating', true, 'off_duty', false); // in B3, off duty
  await member(LON + 0.015, LAT + 0.005, 'resident', false, 'available', false); // in B3
  const issue = (lon: number, status: string, reportedDaysAgo: number, closedAfterDays?: number) =>
    sql`
    insert into issues (title, category, status, geom, reported_at, resolved_at, closed_at)
    values ('问题', 'other', ${status}, ST_SetSRID(ST_MakePoint(${lon}, ${LAT + 0.01}), 4326),
            now() - make_interval(days => ${reportedDaysAgo}),
            ${closedAfterDays === undefined ? null : sql`now() - make_interval(days => ${reportedDaysAgo}) + make_interval(days => ${closedAfterDays})`},
            ${closedAfterDays === undefined ? null : sql`now() - make_interval(days => ${reportedDaysAgo}) + make_interval(days => ${closedAfterDays})`})`.execute(
      db(),
    );
  await issue(LON + 0.002, 'reported', 30); // G1, open and overdue
  await issue(LON + 0.004, 'closed', 20, 2); // G1, closed in 2 days
  await issue(LON + 0.012, 'rejected', 20); // G2
  await issue(LON + 0.014, 'closed', 20, 4); // G2, closed in 4 days
  fixture = { community, g1, g2, b3 };
}

const get = async (app: Express, path: string) => {
  const res = await request(app).get(path);
  expect(res.status, res.text).toBe(200);
  return res.body as Collection;
};
const byId = (c: Collection) => new Map(c.features.map((f) => [f.id, f.properties]));

beforeAll(async () => {
  test = await openTestDatabase();
  await buildFixture();
  for (const user of ['admin', 'leader', 'planner', 'dispatcher', 'gridworker', 'volunteer', 'resident'])
    as[user] = await testApp(test.database, { as: user });
  as.anonymous = await testApp(test.database, { as: null });
}, 120_000);

afterAll(async () => {
  await test?.drop();
});

describe('the hand-built fixture', () => {
  it('counts each grid as worked out by hand', async () => {
    const grids = byId(await get(as.admin, `/api/v1/coverage/grids?community=${fixture.community}`));
    expect(grids.size).toBe(2);
    expect(grids.get(fixture.g1)).toMatchObject({
      households: 300,
      residents: 750,
      buildings: 2,
      residential_buildings: 2,
      party_group_buildings: 1,
      party_group_share: 0.5,
      members: 2,
      members_retired: 1,
      members_in_service: 1,
      members_floating: 0,
      members_resident: 0,
      volunteers: 1,
      volunteers_available: 1,
      central_households: 1,
      members_per_100_households: 0.67,
      volunteers_per_100_households: 0.33,
      // B2 lies ~340 m from the volunteer in B1: both within 500 m
      households_reached: 300,
      volunteer_reach: 1,
      open_issues: 1,
      overdue_issues: 1,
      closed_issues: 1,
      closure_rate: 0.5,
      median_days_to_close: 2,
      household_band: 'within',
      band_min: 300,
      band_max: 500,
    });
    expect(grids.get(fixture.g2)).toMatchObject({
      households: 50,
      residents: 120,
      buildings: 2,
      residential_buildings: 1,
      party_group_buildings: 1,
      party_group_share: 1,
      members: 2,
      members_floating: 1,
      members_resident: 1,
      volunteers: 1,
      volunteers_available: 0,
      members_per_100_households: 4,
      volunteers_per_100_households: 2,
      // its only volunteer is off duty and B1's is a kilometre away
      households_reached: 0,
      volunteer_reach: 0,
      open_issues: 0,
      overdue_issues: 0,
      closed_issues: 1,
      closure_rate: 1,
      median_days_to_close: 4,
      household_band: 'below',
    });
  });

  it('counts the community, with the staffing standard and the balance of its grids', async () => {
    const [community] = (await get(as.admin, `/api/v1/coverage/communities?street=610602099`)).features;
    expect(community.properties).toMatchObject({
      households: 350,
      residents: 870,
      members: 4,
      volunteers: 2,
      households_reached: 300,
      volunteer_reach: 0.8571,
      party_group_share: 0.6667,
      open_issues: 1,
      closed_issues: 2,
      closure_rate: 0.6667,
      median_days_to_close: 3,
      // 350 households stand for 1,167 people (the band's 3,000 to 10,000): the base 20–25, and 19 in post
      people_served: 1167,
      staff_required_min: 20,
      staff_required_max: 25,
      staff_count: 19,
      staffing: 'short',
      grids: 2,
      grid_households_lowest: 50,
      grid_households_highest: 300,
      grid_households_stddev: 125,
      grids_below_band: 1,
      grids_above_band: 0,
    });
  });

  it('reaches fewer households with a shorter reach', async () => {
    const grids = byId(await get(as.admin, `/api/v1/coverage/grids?community=${fixture.community}&reach_m=300`));
    expect(grids.get(fixture.g1)).toMatchObject({ households_reached: 100, volunteer_reach: 0.3333 });
  });

  it('lists the buildings no volunteer reaches, with the distance to the nearest', async () => {
    const gaps = await get(as.admin, `/api/v1/coverage/gaps?community=${fixture.community}`);
    expect(gaps.features.map((f) => f.id)).toEqual([fixture.b3]);
    expect(gaps.households).toBe(50);
    // 0.012° of longitude at 36.605° N: about a kilometre
    const {
      rows: [{ exact }],
    } = await sql<{ exact: number }>`
      select ST_Distance(ST_SetSRID(ST_MakePoint(${LON + 0.003}, ${LAT + 0.005}), 4326)::geography, ST_PointOnSurface(geom)::geography) as exact
      from buildings where id = ${fixture.b3}`.execute(db());
    expect(exact).toBeGreaterThan(1050);
    expect(exact).toBeLessThan(1080);
    expect(gaps.features[0].properties.nearest_volunteer_m).toBeCloseTo(exact, 1);
    const shorter = await get(as.admin, `/api/v1/coverage/gaps?community=${fixture.community}&reach_m=300`);
    expect(shorter.features.length).toBe(2);
    expect(shorter.households).toBe(250);
  });

  it('counts a change at once', async () => {
    await sql`update communities set staff_count = 30 where id = ${fixture.community}`.execute(db());
    await sql`update members set availability = 'available' where category = 'floating' and ST_DWithin(geom, ST_SetSRID(ST_MakePoint(${LON + 0.015}, ${LAT + 0.005}), 4326), 0.0001)`.execute(
      db(),
    );
    const [community] = (await get(as.admin, `/api/v1/coverage/communities?street=610602099`)).features;
    expect(community.properties).toMatchObject({ staffing: 'over', households_reached: 350, volunteer_reach: 1 });
    expect((await get(as.admin, `/api/v1/coverage/gaps?community=${fixture.community}`)).features).toEqual([]);
  });
});

describe("a community's band and staff", () => {
  it('are edited like any property, a band upside down refused naming its field', async () => {
    const {
      rows: [{ version }],
    } = await sql<{ version: number }>`select version from communities where id = ${fixture.community}`.execute(db());
    const wrong = await request(as.admin)
      .patch(`/api/v1/communities/${fixture.community}`)
      .set('If-Match', `"${version}"`)
      .send({ properties: { grid_households_min: 400, grid_households_max: 200 } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.field).toBe('grid_households_max');
    expect(
      (
        await request(as.admin)
          .patch(`/api/v1/communities/${fixture.community}`)
          .set('If-Match', `"${version}"`)
          .send({ properties: { staff_count: -1 } })
      ).body.field,
    ).toBe('properties.staff_count');
    const res = await request(as.admin)
      .patch(`/api/v1/communities/${fixture.community}`)
      .set('If-Match', `"${version}"`)
      .send({ properties: { grid_households_min: 40, grid_households_max: 250 } });
    expect(res.status, res.text).toBe(200);
    const grids = byId(await get(as.admin, `/api/v1/coverage/grids?community=${fixture.community}`));
    expect(grids.get(fixture.g1)).toMatchObject({ household_band: 'above', band_min: 40, band_max: 250 });
    expect(grids.get(fixture.g2)).toMatchObject({ household_band: 'within' });
  });
});

describe('the staffing standard', () => {
  const standard = async (households: number, residents: number) =>
    (
      await sql<{ people_served: number; required_min: number; required_max: number }>`
    select people_served::int, required_min, required_max from staffing_standard(${households}::bigint, ${residents}::bigint)`.execute(db())
    ).rows[0];

  it('is 20–25 up to 3,000 households or 10,000 people, and 2 more for every further 1,000–1,500 people', async () => {
    expect(await standard(2999, 9000)).toEqual({ people_served: 9997, required_min: 20, required_max: 25 });
    expect(await standard(3000, 9000)).toEqual({ people_served: 10000, required_min: 20, required_max: 25 });
    expect(await standard(0, 10000)).toEqual({ people_served: 10000, required_min: 20, required_max: 25 });
    expect(await standard(0, 10999)).toEqual({ people_served: 10999, required_min: 20, required_max: 25 });
    // a further 1,000: the most the standard allows grows first
    expect(await standard(0, 11000)).toEqual({ people_served: 11000, required_min: 20, required_max: 27 });
    expect(await standard(0, 11499)).toEqual({ people_served: 11499, required_min: 20, required_max: 27 });
    // a further 1,500: the fewest too
    expect(await standard(0, 11500)).toEqual({ people_served: 11500, required_min: 22, required_max: 27 });
    expect(await standard(0, 13000)).toEqual({ people_served: 13000, required_min: 24, required_max: 31 });
    // households past 3,000 count at the band's ratio where residents are not all recorded
    expect(await standard(3300, 5000)).toEqual({ people_served: 11000, required_min: 20, required_max: 27 });
    expect(await standard(500, 1200)).toEqual({ people_served: 1667, required_min: 20, required_max: 25 });
  });
});

describe('the demo city against independent SQL', () => {
  const REACH = 200;

  /** Every count per area from the stored rows by whole-table GROUP BYs; reach by brute force without the index. */
  async function independent(key: 'grid_id' | 'community_id') {
    const k = sql.ref(key);
    const { rows } = await sql<Properties & { area: number }>`
      with b as (
        select ${k} as area, sum(households)::int as households, sum(residents)::int as residents, count(*)::int as buildings,
               count(*) filter (where kind = 'residential')::int as residential_buildings,
               count(*) filter (where kind = 'residential' and has_party_group)::int as party_group_buildings
        from buildings group by ${k}
      ), reached as (
        select b.${k} as area, sum(b.households)::int as households_reached from buildings b
        where b.households > 0 and (select min(ST_Distance(coalesce(v.current_point, v.geom)::geography, ST_PointOnSurface(b.geom)::geography))
                                    from members v where v.is_volunteer and v.availability = 'available') <= ${REACH}
        group by b.${k}
      ), m as (
        select ${k} as area, count(*)::int as members, sum(case when category = 'retired' then 1 else 0 end)::int as members_retired,
               sum(case when category = 'in_service' then 1 else 0 end)::int as members_in_service,
               sum(case when category = 'floating' then 1 else 0 end)::int as members_floating,
               sum(case when category = 'resident' then 1 else 0 end)::int as members_resident,
               sum(case when is_volunteer then 1 else 0 end)::int as volunteers,
               sum(case when is_volunteer and availability = 'available' then 1 else 0 end)::int as volunteers_available,
               sum(case when is_central_household then 1 else 0 end)::int as central_households
        from members group by ${k}
      ), i as (
        select ${k} as area,
               sum(case when status in ('reported', 'accepted', 'in_progress', 'escalated', 'reopened') then 1 else 0 end)::int as open_issues,
               sum(case when status in ('reported', 'accepted', 'in_progress', 'escalated', 'reopened') and due_at < now() then 1 else 0 end)::int as overdue_issues,
               sum(case when status = 'closed' then 1 else 0 end)::int as closed_issues,
               sum(case when status <> 'rejected' then 1 else 0 end)::int as not_rejected
        from issues where duplicate_of is null group by ${k}
      )
      select b.area, b.households, b.residents, b.buildings, b.residential_buildings, b.party_group_buildings,
             coalesce(r.households_reached, 0) as households_reached, m.members, m.members_retired, m.members_in_service,
             m.members_floating, m.members_resident, m.volunteers,
             m.volunteers_available, m.central_households, coalesce(i.open_issues, 0) as open_issues,
             coalesce(i.overdue_issues, 0) as overdue_issues, coalesce(i.closed_issues, 0) as closed_issues, i.not_rejected
      from b left join reached r on r.area = b.area left join m on m.area = b.area left join i on i.area = b.area
      where b.area is not null`.execute(db());
    // days to close, for a median taken here
    const { rows: closed } = await sql<{ area: number; days: number }>`
      select ${k} as area, extract(epoch from closed_at - reported_at) / 86400 as days
      from issues where status = 'closed' and duplicate_of is null and ${k} is not null`.execute(db());
    const median = (days: number[]) => {
      const sorted = [...days].sort((a, b) => a - b);
      const mid = (sorted.length - 1) / 2;
      return (sorted[Math.floor(mid)] + sorted[Math.ceil(mid)]) / 2;
    };
    return new Map(
      rows.map((r) => {
        const days = closed.filter((c) => c.area === r.area).map((c) => c.days);
        return [r.area, { ...r, median_days_to_close: days.length ? median(days) : null }];
      }),
    );
  }

  function compare(api: Collection, expected: Map<number, Properties>) {
    const COUNTS = [
      'households',
      'residents',
      'buildings',
      'residential_buildings',
      'party_group_buildings',
      'households_reached',
      'members',
      'members_retired',
      'members_in_service',
      'members_floating',
      'members_resident',
      'volunteers',
      'volunteers_available',
      'central_households',
      'open_issues',
      'overdue_issues',
      'closed_issues',
    ];
    expect(api.features.length).toBeGreaterThan(0);
    for (const { id, properties: p } of api.features) {
      const e = expected.get(id)!;
      expect(e, `area ${id}`).toBeDefined();
      for (const c of COUNTS) expect(p[c], `${c} of area ${id}`).toBe(e[c] ?? 0);
      expect(p.volunteer_reach).toBeCloseTo(Number(e.households_reached) / Number(e.households), 4);
      expect(p.party_group_share).toBeCloseTo(Number(e.party_group_buildings) / Number(e.residential_buildings), 4);
      expect(p.members_per_100_households).toBeCloseTo((100 * Number(e.members)) / Number(e.households), 2);
      expect(p.volunteers_per_100_households).toBeCloseTo((100 * Number(e.volunteers)) / Number(e.households), 2);
      if (e.median_days_to_close === null) expect(p.median_days_to_close).toBeNull();
      else expect(p.median_days_to_close).toBeCloseTo(Number(e.median_days_to_close), 2);
      if (e.not_rejected) expect(p.closure_rate).toBeCloseTo(Number(e.closed_issues) / Number(e.not_rejected), 4);
    }
  }

  it('matches per grid', async () => {
    compare(await get(as.admin, `/api/v1/coverage/grids?reach_m=${REACH}`), await independent('grid_id'));
  });

  it('matches per community, with the standard computed from the same households and residents', async () => {
    const api = await get(as.admin, `/api/v1/coverage/communities?reach_m=${REACH}`);
    compare(api, await independent('community_id'));
    for (const { properties: p } of api.features) {
      const people = Math.max(Number(p.residents), Math.ceil((Number(p.households) * 10) / 3));
      expect(p.people_served).toBe(people);
      expect(p.staff_required_min).toBe(20 + 2 * Math.floor(Math.max(people - 10000, 0) / 1500));
      expect(p.staff_required_max).toBe(25 + 2 * Math.floor(Math.max(people - 10000, 0) / 1000));
    }
    // the demo's staff counts put some communities short of the standard
    expect(api.features.some((f) => f.properties.staffing === 'short')).toBe(true);
  });

  it('finds the same gaps as brute force, with the same distances', async () => {
    const { rows: communities } = await sql<{ id: number }>`select id from communities where code like '6106020%' order by id`.execute(
      db(),
    );
    let total = 0;
    for (const { id } of communities) {
      const gaps = await get(as.admin, `/api/v1/coverage/gaps?community=${id}&reach_m=${REACH}`);
      const { rows: brute } = await sql<{ id: number; nearest: number | null }>`
        select b.id, (select min(ST_Distance(coalesce(v.current_point, v.geom)::geography, ST_PointOnSurface(b.geom)::geography))
                      from members v where v.is_volunteer and v.availability = 'available') as nearest
        from buildings b where b.community_id = ${id} and b.households > 0`.execute(db());
      const expected = brute.filter((b) => b.nearest === null || b.nearest > REACH);
      expect(gaps.features.map((f) => f.id).sort((a, b) => a - b)).toEqual(expected.map((b) => b.id).sort((a, b) => a - b));
      const nearest = new Map(expected.map((b) => [b.id, b.nearest]));
      for (const f of gaps.features) {
        const metres = nearest.get(f.id);
        // none within the cap (5 km) is told as such
        if (metres === null || metres! > 5000)
          expect(f.properties).toMatchObject({ nearest_volunteer_m: null, nearest_volunteer_over_m: 5000 });
        else expect(f.properties.nearest_volunteer_m).toBeCloseTo(metres!, 1);
      }
      total += gaps.features.length;
    }
    // the demo's new estates (volunteers mostly away) leave some buildings out of reach
    expect(total).toBeGreaterThan(0);
  });
});

describe('who sees what', () => {
  it('gives a leader the areas of its street only, reach at whole bands and gap distances as the band they are beyond', async () => {
    const {
      rows: [{ street, outside }],
    } = await sql<{ street: string; outside: number }>`
      select scope_street_code as street, (select min(id) from communities where street_code <> u.scope_street_code) as outside
      from users u where username = 'leader'`.execute(db());
    const mine = await get(as.leader, '/api/v1/coverage/communities');
    expect(mine.features.length).toBeGreaterThan(0);
    expect(mine.features.every((f) => f.properties.street_code === street)).toBe(true);
    expect((await get(as.leader, `/api/v1/coverage/grids?community=${outside}`)).features).toEqual([]);
    const {
      rows: [{ id }],
    } = await sql<{ id: number }>`select min(id) as id from communities where street_code = ${street}`.execute(db());
    // asked at 150 m, answered at 100 m (and said so); the admin at 150 m
    const gaps = await get(as.leader, `/api/v1/coverage/gaps?community=${id}&reach_m=150`);
    expect(gaps).toMatchObject({ reach_m: 100 });
    expect(await get(as.admin, `/api/v1/coverage/gaps?community=${id}&reach_m=150`)).toMatchObject({ reach_m: 150 });
    expect(await get(as.leader, `/api/v1/coverage/grids?community=${id}&reach_m=450`)).toMatchObject({ reach_m: 400 });
    expect(gaps.features.length).toBeGreaterThan(0);
    const bands = [100, 200, 300, 400, 500, 1000, 2000, 5000];
    for (const f of gaps.features) {
      const {
        rows: [{ metres }],
      } = await sql<{ metres: number }>`
        select min(ST_Distance(coalesce(v.current_point, v.geom)::geography, ST_PointOnSurface(b.geom)::geography)) as metres
        from members v, buildings b where b.id = ${f.id} and v.is_volunteer and v.availability = 'available'`.execute(db());
      expect(f.properties.nearest_volunteer_m).toBeNull();
      // the largest band below the true distance
      expect(f.properties.nearest_volunteer_over_m).toBe(Math.max(...bands.filter((band) => band < metres)));
    }
  });

  it('measures reach from where volunteers are for everyone, and tells those who may not locate them bands', async () => {
    // a volunteer 250 m from a building, in an estate of its own
    const at = { lon: LON + 0.1, lat: LAT + 0.01 };
    await sql`insert into streets (code, name, district_code) values ('610602098', '隐私街道', '610602')`.execute(db());
    const {
      rows: [{ id: community }],
    } = await sql<{ id: number }>`
      insert into communities (code, name, street_code, geom)
      values ('610602098001', '隐私社区', '610602098', ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(${at.lon}, ${at.lat}), 4326), 0.01)))
      returning id`.execute(db());
    const {
      rows: [{ id: building }],
    } = await sql<{ id: number }>`
      insert into buildings (name, households, residents, geom)
      values ('探测楼', 1, 1, ST_Buffer(ST_SetSRID(ST_MakePoint(${at.lon}, ${at.lat}), 4326), 0.00001, 2)) returning id`.execute(db());
    await sql`insert into members (name, category, is_volunteer, availability, geom)
              values ('志愿者', 'resident', true, 'available',
                      ST_Project(ST_SetSRID(ST_MakePoint(${at.lon}, ${at.lat}), 4326)::geography, 250, radians(90))::geometry)`.execute(
      db(),
    );
    await sql`insert into users (username, password_hash, role, scope_street_code) values ('privacy_leader', 'x', 'leader', '610602098')`.execute(
      db(),
    );
    const leader = await testApp(test.database, { as: 'privacy_leader' });
    const reachedAs = async (app: Express, reach: number) =>
      (await get(app, `/api/v1/coverage/communities?street=610602098&reach_m=${reach}`)).features[0].properties.households_reached;
    // the same households reached for both, from where the volunteer is
    expect(await reachedAs(as.admin, 300)).toBe(1);
    expect(await reachedAs(leader, 300)).toBe(1);
    expect(await reachedAs(as.admin, 260)).toBe(1);
    // 260 m is a metre the leader may not ask at: answered at 200 m
    expect(await reachedAs(leader, 260)).toBe(0);
    expect(await reachedAs(as.admin, 240)).toBe(0);
    // the admin is told the distance, the leader the band it is beyond
    const gapAs = async (app: Express) => (await get(app, `/api/v1/coverage/gaps?community=${community}&reach_m=200`)).features;
    const [exact] = await gapAs(as.admin);
    expect(exact.id).toBe(building);
    expect(exact.properties.nearest_volunteer_m).toBeCloseTo(250, 0);
    expect(exact.properties.nearest_volunteer_over_m).toBeNull();
    expect((await gapAs(leader)).map((f) => [f.id, f.properties.nearest_volunteer_m, f.properties.nearest_volunteer_over_m])).toEqual([
      [building, null, 200],
    ]);

    // its one member lives in one home: the leader gets no member figure of the community, as of a building
    const figures = async (app: Express) => (await get(app, '/api/v1/coverage/communities?street=610602098')).features[0].properties;
    expect(await figures(as.admin)).toMatchObject({ members: 1, volunteers: 1, volunteers_available: 1, members_resident: 1 });
    expect(await figures(leader)).toMatchObject({
      members: null,
      members_resident: null,
      volunteers: null,
      volunteers_available: null,
      members_per_100_households: null,
      volunteers_per_100_households: null,
      central_households: null,
    });
    // nor does the community's tree count them for it
    const treeCounts = async (app: Express) => (await request(app).get(`/api/v1/communities/${community}/tree`).expect(200)).body.counts;
    expect(await treeCounts(as.admin)).toMatchObject({ members: 1, volunteers: 1, households: 1 });
    expect(await treeCounts(leader)).toMatchObject({ households: 1 });
    expect((await treeCounts(leader)).members).toBeUndefined();
    // two more members in two more buildings: three homes, counted
    for (const dx of [0.002, 0.004]) {
      await sql`insert into buildings (name, households, residents, geom)
                values ('楼', 10, 20, ST_Buffer(ST_SetSRID(ST_MakePoint(${at.lon + dx}, ${at.lat}), 4326), 0.0001, 2))`.execute(db());
      await sql`insert into members (name, category, geom) values ('党员', 'retired', ST_SetSRID(ST_MakePoint(${at.lon + dx}, ${at.lat}), 4326))`.execute(
        db(),
      );
    }
    expect(await figures(leader)).toMatchObject({ members: 3, members_retired: 2, volunteers: 1, volunteers_per_100_households: 4.76 });
    expect(await treeCounts(leader)).toMatchObject({ members: 3, retired: 2, volunteers: 1 });
  });

  it('gives a distance to the decimetre only where the viewer may see where the volunteer is', async () => {
    const {
      rows: [{ grid, community }],
    } = await sql<{ grid: number; community: number }>`
      select u.scope_grid_id as grid, g.community_id as community from users u join grids g on g.id = u.scope_grid_id where username = 'gridworker'`.execute(
      db(),
    );
    const gaps = await get(as.gridworker, `/api/v1/coverage/gaps?community=${community}&reach_m=100`);
    expect(gaps.features.length).toBeGreaterThan(0);
    let exact = 0;
    for (const f of gaps.features) {
      // its own grid's volunteers to the decimetre; the others as the band beyond which they are
      const {
        rows: [nearest],
      } = await sql<{ grid_id: number | null; metres: number }>`
        select v.grid_id, ST_Distance(coalesce(v.current_point, v.geom)::geography, ST_PointOnSurface(b.geom)::geography) as metres
        from members v, buildings b where b.id = ${f.id} and v.is_volunteer and v.availability = 'available'
        order by 2, v.id limit 1`.execute(db());
      if (nearest.grid_id === grid) {
        expect(f.properties.nearest_volunteer_m).toBeCloseTo(nearest.metres, 1);
        exact++;
      } else {
        expect(f.properties.nearest_volunteer_m).toBeNull();
        expect(Number(f.properties.nearest_volunteer_over_m)).toBeLessThan(nearest.metres);
      }
    }
    expect(exact).toBeLessThan(gaps.features.length);
  });

  it('counts only volunteers for a dispatcher, who reads no other member', async () => {
    const [grid] = (await get(as.dispatcher, '/api/v1/coverage/grids')).features;
    expect(grid.properties).toMatchObject({
      members: null,
      members_in_service: null,
      central_households: null,
      members_per_100_households: null,
    });
    expect(grid.properties.volunteers).toBeGreaterThan(0);
  });

  it('refuses volunteers, residents and anonymous callers', async () => {
    expect((await request(as.volunteer).get('/api/v1/coverage/grids')).status).toBe(403);
    expect((await request(as.resident).get('/api/v1/coverage/communities')).status).toBe(403);
    expect((await request(as.anonymous).get('/api/v1/coverage/gaps?community=1')).status).toBe(401);
    for (const user of ['planner', 'dispatcher', 'gridworker'])
      expect((await request(as[user]).get('/api/v1/coverage/communities')).status).toBe(200);
  });
});

describe('without geometry', () => {
  it.each(['grids', 'communities', 'streets', 'districts'])(
    'gives the %s figures and boxes alone, the same figures as with their geometry',
    async (level) => {
      const full = await get(as.admin, `/api/v1/coverage/${level}`);
      const bare = await get(as.admin, `/api/v1/coverage/${level}?geometry=none`);
      expect(bare.features.length).toBeGreaterThan(0);
      expect(bare.features.map((f) => [f.id, f.properties])).toEqual(full.features.map((f) => [f.id, f.properties]));
      expect(bare.features.every((f) => f.geometry === null)).toBe(true);
      // each box is the area's extent as PostGIS gives it, and in the answer with its geometry too
      const table = level === 'grids' ? 'grids' : level;
      const { rows } = await sql<{ id: number; bbox: number[] }>`
        select id, array[ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)] as bbox from ${sql.table(table)}
        where geom is not null`.execute(test.database.db);
      const extents = new Map(rows.map((r) => [r.id, r.bbox]));
      for (const f of [...bare.features, ...full.features]) {
        const expected = extents.get(f.id as number);
        expect(f.bbox, `${level} ${f.id}`).toEqual(expected ?? null);
      }
    },
  );
});

describe('bad requests', () => {
  it.each([
    // an unknown community or street is named, not an empty answer that reads as "none"
    ['/api/v1/coverage/grids?community=99999', 404, 'community'],
    ['/api/v1/coverage/communities?street=619999999', 404, 'street'],
    ['/api/v1/coverage/gaps?community=99999', 404, 'community'],
    ['/api/v1/coverage/grids?reach_m=0', 400, 'reach_m'],
    ['/api/v1/coverage/grids?reach_m=5001', 400, 'reach_m'],
    ['/api/v1/coverage/grids?reach_m=far', 400, 'reach_m'],
    ['/api/v1/coverage/grids?community=one', 400, 'community'],
    ['/api/v1/coverage/communities?street=61', 400, 'street'],
    ['/api/v1/coverage/communities?from=2026-02-30', 400, 'from'],
    ['/api/v1/coverage/communities?from=2026-11-02&to=2026-11-01', 400, 'from'],
    ['/api/v1/coverage/communities?colour=red', 400, 'colour'],
    ['/api/v1/coverage/gaps', 400, 'community'],
    ['/api/v1/coverage/gaps?community=1&reach_m=-5', 400, 'reach_m'],
    ['/api/v1/coverage/communities?geometry=simple', 400, 'geometry'],
    ['/api/v1/coverage/streets?geometry=', 400, 'geometry'],
  ])('%s: %i naming %s', async (path, status, field) => {
    const res = await request(as.admin).get(path);
    expect(res.status).toBe(status);
    expect(res.type).toBe('application/problem+json');
    expect(res.body.field).toBe(field);
  });
});
