import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemoCity, type DemoCity } from '../data/demo-city.ts';
import { TEST_CITY, openTestDatabase, type TestDatabase } from './support/databases.ts';

describe('demo city generator', () => {
  it('makes the same city from the same seed and another from another seed', () => {
    expect(JSON.stringify(generateDemoCity({ seed: 7 }))).toBe(JSON.stringify(generateDemoCity({ seed: 7 })));
    expect(generateDemoCity({ seed: 8 }).buildings[0].ring).not.toEqual(generateDemoCity({ seed: 7 }).buildings[0].ring);
  });

  it('dates its issues in the months before the day it is loaded on, the same city whatever the day', () => {
    const day = Date.UTC(2027, 2, 15);
    const city = generateDemoCity({ seed: 7, datedBefore: day });
    const reported = city.issues.map((i) => Date.parse(i.reported_at));
    expect(Math.max(...reported)).toBeLessThan(day);
    expect(Math.max(...reported)).toBeGreaterThan(day - 7 * 86400_000);
    expect(Math.min(...reported)).toBeGreaterThanOrEqual(day - 120 * 86400_000);
    // the same issues a day later, a day later
    const later = generateDemoCity({ seed: 7, datedBefore: day + 86400_000 });
    expect(later.issues.map((i) => Date.parse(i.reported_at) - 86400_000)).toEqual(reported);
    expect(later.issues.map((i) => i.title)).toEqual(city.issues.map((i) => i.title));
  });

  it('has the size the issue asks for', () => {
    const city = generateDemoCity(TEST_CITY);
    expect(city.streets).toHaveLength(2);
    expect(city.communities.length).toBeGreaterThanOrEqual(6);
    expect(city.communities.length).toBeLessThanOrEqual(8);
    expect(city.grids.length).toBeGreaterThanOrEqual(30);
    expect(city.grids.length).toBeLessThanOrEqual(50);
    expect(city.buildings.length).toBeGreaterThanOrEqual(1500);
    expect(city.members.length).toBeGreaterThanOrEqual(5000);
    expect(city.units.length).toBeGreaterThanOrEqual(30);
    expect(city.issues.length).toBeGreaterThanOrEqual(300);
    const volunteers = city.members.filter((m) => m.is_volunteer).length / city.members.length;
    expect(volunteers).toBeGreaterThan(0.1);
    expect(volunteers).toBeLessThan(0.15);
    expect(new Set(city.issues.map((i) => i.category)).size).toBeGreaterThanOrEqual(6);
    expect(new Set(city.issues.map((i) => i.status)).size).toBeGreaterThanOrEqual(6);
  });

  it('puts most grids in the 300–500 household band', () => {
    const households = new Map<string, number>();
    for (const b of generateDemoCity(TEST_CITY).buildings) households.set(b.grid_code, (households.get(b.grid_code) ?? 0) + b.households);
    const inBand = [...households.values()].filter((h) => h >= 300 && h <= 500).length;
    expect(inBand / households.size).toBeGreaterThan(0.6);
  });

  it('scales with size', () => {
    const city = generateDemoCity({ seed: 1, size: 4 });
    expect(city.grids).toHaveLength(160);
    expect(city.buildings.length).toBeGreaterThan(6000);
  });
});

describe('demo city in PostGIS', () => {
  let test: TestDatabase;
  let city: DemoCity;
  const one = async <T>(query: ReturnType<typeof sql<T>>) => (await query.execute(test.database.db)).rows[0];

  beforeAll(async () => {
    test = await openTestDatabase();
    city = generateDemoCity(TEST_CITY);
  });
  afterAll(() => test?.drop());

  it('stores every row the generator made', async () => {
    const counts = await one(sql<Record<string, number>>`select
      (select count(*) from streets)::int as streets, (select count(*) from communities)::int as communities,
      (select count(*) from grids)::int as grids, (select count(*) from buildings)::int as buildings,
      (select count(*) from members)::int as members, (select count(*) from units)::int as units,
      (select count(*) from issues)::int as issues`);
    expect(counts).toEqual({
      streets: city.streets.length,
      communities: city.communities.length,
      grids: city.grids.length,
      buildings: city.buildings.length,
      members: city.members.length,
      units: city.units.length,
      issues: city.issues.length,
    });
  });

  it('refuses an invalid footprint (every stored geometry is valid)', async () => {
    const bowTie = JSON.stringify({
      type: 'Polygon',
      coordinates: [
        [
          [109.49, 36.59],
          [109.491, 36.591],
          [109.491, 36.59],
          [109.49, 36.591],
          [109.49, 36.59],
        ],
      ],
    });
    await expect(
      sql`insert into buildings (name, geom) values ('bow tie', ST_SetSRID(ST_GeomFromGeoJSON(${bowTie}), 4326))`.execute(test.database.db),
    ).rejects.toThrow(/buildings_geom_check/);
  });

  it('keeps every grid inside its community', async () => {
    const outside = await one(sql<{ worst: number }>`
      select coalesce(max(ST_Area(ST_Difference(g.geom, c.geom)::geography)), 0) as worst
      from grids g join communities c on c.id = g.community_id`);
    expect(outside.worst).toBeLessThan(0.01); // m²
  });

  it('has no overlap between sibling grids and no gap inside a community', async () => {
    const overlap = await one(sql<{ worst: number; pairs: number }>`
      select coalesce(max(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0) as worst, count(*)::int as pairs
      from grids a join grids b on a.community_id = b.community_id and a.id < b.id and a.geom && b.geom
      where ST_Intersects(a.geom, b.geom)`);
    expect(overlap.pairs).toBeGreaterThan(0); // neighbours touch...
    expect(overlap.worst).toBeLessThan(0.01); // ...but do not overlap
    // (ST_SymDifference: the embedded PostGIS silently returns no row for ST_Difference on some of these pairs.)
    const gaps = await one(sql<{ worst: number }>`
      select max(ST_Area(ST_SymDifference(c.geom, u.geom)::geography)) as worst
      from communities c cross join lateral (select ST_Union(geom) as geom from grids where community_id = c.id) u`);
    expect(gaps.worst).toBeLessThan(1);
  });

  it('tiles the district with communities that leave no gap between them', async () => {
    const district = await one(sql<{ parts: number; holes: number }>`
      select ST_NumGeometries(u) as parts, ST_NumInteriorRings(ST_GeometryN(u, 1)) as holes
      from (select ST_Union(geom) as u from communities) d`);
    expect(district).toEqual({ parts: 1, holes: 0 });
  });

  it('tiles the district with communities that do not overlap', async () => {
    const overlap = await one(sql<{ worst: number }>`
      select coalesce(max(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0) as worst
      from communities a join communities b on a.id < b.id and a.geom && b.geom`);
    expect(overlap.worst).toBeLessThan(0.01);
  });

  it('puts each building in exactly one grid, the one it was generated in', async () => {
    const { rows } = await sql<{ code: string; grids: number; grid_code: string | null }>`
      select b.id, (select count(*) from grids g where ST_Intersects(g.geom, b.geom))::int as grids, g.code as grid_code
      from buildings b left join grids g on g.id = b.grid_id order by b.id`.execute(test.database.db);
    expect(rows.filter((r) => r.grids !== 1)).toEqual([]);
    expect(rows.map((r) => r.grid_code)).toEqual(city.buildings.map((b) => b.grid_code));
  });

  it('has no two buildings overlapping', async () => {
    const overlapping = await one(sql<{ n: number }>`
      select count(*)::int as n from buildings a join buildings b on a.id < b.id and a.geom && b.geom
      where ST_Intersects(a.geom, b.geom)`);
    expect(overlapping.n).toBe(0);
  });

  it('links every member to the building around the home point, and its grid and community', async () => {
    const unlinked = await one(sql<{ no_building: number; wrong_grid: number }>`select
      (select count(*) from members where building_id is null)::int as no_building,
      (select count(*) from members m join buildings b on b.id = m.building_id
        where not ST_Intersects(b.geom, m.geom) or m.grid_id is distinct from b.grid_id
           or m.community_id is distinct from b.community_id)::int as wrong_grid`);
    expect(unlinked).toEqual({ no_building: 0, wrong_grid: 0 });
    // the load links members in its insert (bulk: the row trigger is off); relinking them the usual way changes none
    expect((await one(sql<{ n: number }>`select link_members() as n`)).n).toBe(0);
  });

  it('keeps issues outside every grid, unassigned', async () => {
    // The generator puts a few issues west of the district, beyond every grid.
    const westEdge = Math.min(...city.grids.flatMap((g) => g.ring.map(([lon]) => lon)));
    const outside = city.issues.filter((i) => i.lon < westEdge).length;
    const issues = await one(sql<{ unassigned: number; misplaced: number }>`select
      (select count(*) from issues where grid_id is null)::int as unassigned,
      (select count(*) from issues i join grids g on g.id = i.grid_id where not ST_Intersects(g.geom, i.geom))::int as misplaced`);
    expect(outside).toBeGreaterThan(0);
    expect(issues).toEqual({ unassigned: outside, misplaced: 0 });
  });
});
