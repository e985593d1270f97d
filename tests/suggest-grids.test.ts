import { sql, type RawBuilder } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { suggestPartition, type SuggestedPart } from '../server/features/planning/suggest.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';
import { answered } from './support/problems.ts';

/**
 * Suggested grids (issue 5) on real PostGIS, both modes: each suggestion checked by SQL written here, not by
 * the code under test: the grids tile the community (their union is the community, no two overlap), each is
 * one valid polygon, every building of the community lies in exactly one, each grid's households and buildings
 * are what its footprint points add up to, households are even and the grids compact. On the demo city's
 * communities, on a C-shaped one that no straight line cuts in two, and the refusals.
 */

let test: TestDatabase;
const db = () => test.database.db;
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/**
 * Bounds measured on the demo city (counts 2–12 on all 7 communities, PostgreSQL 15 / PostGIS 3.3): the
 * largest household deviation from the mean was 5.1 %, the least compact grid 0.35 (Polsby–Popper, 4πA/P²;
 * a square is 0.785, a 1:4 rectangle 0.50), the symmetric difference with the community 0.21 m² on the
 * spheroid. That is not a gap: a cut adds a vertex on the community's straight edge, which the spheroid reads
 * as a geodesic bent a few millimetres off the edge; in the plane of the coordinates the difference is under
 * a millionth of a square metre.
 */
const MAX_DEVIATION = 0.08;
const MIN_POLSBY_POPPER = 0.3;
const AREA_TOLERANCE_M2 = 1;
const EXACT_M2 = 0.001;
/** The C-shaped fixture's halves are arcs of a ring: 0.34 measured for 2 grids. */
const C_MIN_POLSBY_POPPER = 0.25;

interface Measured {
  symmetric_difference_m2: number;
  /** the same in the plane of the stored coordinates, scaled to m² */
  planar_symmetric_difference_m2: number;
  largest_overlap_m2: number;
  valid_polygons: boolean;
  /** buildings of the community in no grid or in more than one */
  misplaced: number;
  buildings: number;
  parts: { households: number; buildings: number; polsby_popper: number }[];
}

async function measure(communityId: number, parts: SuggestedPart[]): Promise<Measured> {
  const {
    rows: [measured],
  } = await sql<Measured>`
    with part as (
      select i, ST_SetSRID(ST_GeomFromGeoJSON(g), 4326) as geom from json_array_elements_text(${JSON.stringify(parts.map((p) => p.geometry))}::json)
        with ordinality as p(g, i)),
    home as (select id, households, ST_PointOnSurface(geom) as p from buildings where community_id = ${communityId}),
    placed as (select h.id, count(part.i) as grids from home h left join part on ST_Intersects(part.geom, h.p) group by h.id),
    difference as (
      select ST_SymDifference(ST_Union(part.geom), c.geom) as geom, ST_Y(ST_Centroid(c.geom)) as lat
      from part, communities c where c.id = ${communityId} group by c.geom)
    select
      (select ST_Area(geom::geography) from difference) as symmetric_difference_m2,
      (select ST_Area(geom) * 111320.0 ^ 2 * cos(radians(lat)) from difference) as planar_symmetric_difference_m2,
      (select coalesce(max(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0) from part a join part b on a.i < b.i) as largest_overlap_m2,
      (select bool_and(GeometryType(geom) = 'POLYGON' and ST_IsValid(geom)) from part) as valid_polygons,
      (select count(*)::int from placed where grids <> 1) as misplaced,
      (select count(*)::int from home) as buildings,
      (select json_agg(json_build_object(
         'households', coalesce((select sum(h.households) from home h where ST_Intersects(part.geom, h.p)), 0),
         'buildings', (select count(*) from home h where ST_Intersects(part.geom, h.p)),
         'polsby_popper', 4 * pi() * ST_Area(part.geom::geography) / ST_Perimeter(part.geom::geography) ^ 2) order by part.i)
       from part) as parts`.execute(db());
  return measured;
}

/** The suggestion checked against SQL: a tiling of the community, each grid's counts right; returns its measures. */
async function suggestChecked(communityId: number, count: number) {
  const parts = await suggestPartition(db(), communityId, count);
  expect(parts).toHaveLength(count);
  for (const part of parts) expect(JSON.parse(part.geometry).type).toBe('Polygon');
  const measured = await measure(communityId, parts);
  expect(measured.valid_polygons).toBe(true);
  expect(measured.symmetric_difference_m2).toBeLessThan(AREA_TOLERANCE_M2);
  expect(measured.planar_symmetric_difference_m2).toBeLessThan(EXACT_M2);
  expect(measured.largest_overlap_m2).toBeLessThan(AREA_TOLERANCE_M2);
  expect(measured.misplaced).toBe(0);
  expect(sum(parts.map((p) => p.buildings))).toBe(measured.buildings);
  expect(parts.map(({ households, buildings }) => ({ households, buildings }))).toEqual(
    measured.parts.map(({ households, buildings }) => ({ households, buildings })),
  );
  const households = parts.map((p) => p.households);
  const mean = sum(households) / count;
  return {
    parts,
    deviation: Math.max(...households.map((h) => Math.abs(h - mean))) / mean,
    polsbyPopper: Math.min(...measured.parts.map((p) => p.polsby_popper)),
  };
}

const square = (lon: number, lat: number, half: number) =>
  `POLYGON((${lon - half} ${lat - half}, ${lon + half} ${lat - half}, ${lon + half} ${lat + half}, ${lon - half} ${lat + half}, ${lon - half} ${lat - half}))`;

async function community(code: string, geom: RawBuilder<unknown>) {
  const {
    rows: [{ id }],
  } = await sql<{ id: number }>`
    insert into communities (code, name, street_code, geom) values (${code}, ${`测试社区${code.slice(-3)}`}, '610602097', ST_Multi(${geom}))
    returning id`.execute(db());
  return id;
}

/**
 * Footprints 13 m square on a lattice 0.0003° apart around (lon, lat), those inside the community; `households`
 * may use the lattice's column i and row j.
 */
async function buildingsIn(communityId: number, lon: number, lat: number, households: RawBuilder<unknown>) {
  await sql`
    insert into buildings (name, households, geom)
    select '楼', ${households}, b from generate_series(-20, 20) i, generate_series(-20, 20) j,
      lateral (select ST_MakeEnvelope(${lon} + i * 0.0003 - 0.00006, ${lat} + j * 0.0003 - 0.00006,
                                      ${lon} + i * 0.0003 + 0.00006, ${lat} + j * 0.0003 + 0.00006, 4326) as b) s
    where ST_Within(b, (select geom from communities where id = ${communityId}))`.execute(db());
}

let fixture: { twoParts: number; empty: number; cShaped: number };

beforeAll(async () => {
  test = await openTestDatabase();
  await sql`insert into streets (code, name, district_code) values ('610602097', '测试街道', '610602')`.execute(db());
  const twoParts = await community(
    '610602097001',
    sql`ST_Collect(ST_GeomFromText(${square(110.2, 36.6, 0.002)}, 4326), ST_GeomFromText(${square(110.21, 36.6, 0.002)}, 4326))`,
  );
  await buildingsIn(twoParts, 110.2, 36.6, sql`10`);
  const empty = await community('610602097002', sql`ST_GeomFromText(${square(110.25, 36.6, 0.002)}, 4326)`);
  await buildingsIn(empty, 110.25, 36.6, sql`0`);
  // A thick ring about 440 m across, open to the east by a 22 m gap: every line that halves its households
  // crosses the ring twice, so the first cut must be one chord of a line (the fallback).
  const centre = sql`ST_SetSRID(ST_MakePoint(110.3, 36.6), 4326)`;
  const cShaped = await community(
    '610602097003',
    sql`ST_Difference(ST_Buffer(${centre}, 0.004, 'quad_segs=8'),
    ST_Union(ST_Buffer(${centre}, 0.0025, 'quad_segs=8'), ST_MakeEnvelope(110.3, 36.5999, 110.31, 36.6001, 4326)))`,
  );
  await buildingsIn(cShaped, 110.3, 36.6, sql`(i * 7 + j * 13 + 1000) % 40`);
  fixture = { twoParts, empty, cShaped };
}, 120_000);

afterAll(async () => {
  await test?.drop();
});

describe('suggested grids on the demo city', () => {
  it('tiles the first community with even, compact grids for 2 to 12 grids', async () => {
    const {
      rows: [first],
    } = await sql<{ buildings: number; households: number }>`
      select count(*)::int as buildings, sum(households)::int as households from buildings where community_id = 1`.execute(db());
    expect(first).toEqual({ buildings: 206, households: 2042 });
    for (let count = 2; count <= 12; count++) {
      const { parts, deviation, polsbyPopper } = await suggestChecked(1, count);
      expect(sum(parts.map((p) => p.households))).toBe(2042);
      expect(sum(parts.map((p) => p.buildings))).toBe(206);
      expect(deviation, `${count} grids`).toBeLessThan(MAX_DEVIATION);
      expect(polsbyPopper, `${count} grids`).toBeGreaterThan(MIN_POLSBY_POPPER);
    }
  });

  it('tiles every demo community into as many grids as it has now', async () => {
    const { rows } = await sql<{ id: number; grids: number }>`
      select c.id, count(g.id)::int as grids from communities c join grids g on g.community_id = c.id
      where c.street_code <> '610602097' group by c.id order by c.id`.execute(db());
    expect(rows).toHaveLength(7);
    for (const { id, grids } of rows) {
      const { deviation, polsbyPopper } = await suggestChecked(id, grids);
      expect(deviation, `community ${id}, ${grids} grids`).toBeLessThan(MAX_DEVIATION);
      expect(polsbyPopper, `community ${id}, ${grids} grids`).toBeGreaterThan(MIN_POLSBY_POPPER);
    }
  });

  it('makes one grid the community itself, with all its households', async () => {
    const [whole] = (await suggestChecked(1, 1)).parts;
    expect(whole).toMatchObject({ households: 2042, buildings: 206 });
    const {
      rows: [same],
    } = await sql<{ equal: boolean }>`
      select ST_Equals(ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(${whole.geometry}), 4326)), geom) as equal from communities where id = 1`.execute(
      db(),
    );
    expect(same.equal).toBe(true);
  });

  it('reports progress after each cut', async () => {
    const progress: [number, number][] = [];
    await suggestPartition(db(), 1, 6, (done, total) => progress.push([done, total]));
    expect(progress).toEqual([
      [1, 5],
      [2, 5],
      [3, 5],
      [4, 5],
      [5, 5],
    ]);
  });

  it('suggests the same grids every time', async () => {
    expect(await suggestPartition(db(), 2, 5)).toEqual(await suggestPartition(db(), 2, 5));
  });
});

describe('a C-shaped community', () => {
  it('is cut along one chord of a line where no straight line halves it, each grid still one polygon', async () => {
    const {
      rows: [c],
    } = await sql<{ buildings: number; households: number }>`
      select count(*)::int as buildings, sum(households)::int as households from buildings where community_id = ${fixture.cShaped}`.execute(
      db(),
    );
    expect(c.buildings).toBeGreaterThan(250);
    for (const count of [2, 3, 5, 8]) {
      const { parts, deviation, polsbyPopper } = await suggestChecked(fixture.cShaped, count);
      expect(sum(parts.map((p) => p.households))).toBe(c.households);
      expect(deviation, `${count} grids`).toBeLessThan(MAX_DEVIATION);
      expect(polsbyPopper, `${count} grids`).toBeGreaterThan(C_MIN_POLSBY_POPPER);
    }
  });
});

describe('refusals', () => {
  it('refuses a community of several separate areas, naming the community', async () => {
    await expect(answered(suggestPartition(db(), fixture.twoParts, 2))).rejects.toMatchObject({
      status: 422,
      extensions: { field: 'community' },
    });
    await expect(answered(suggestPartition(db(), fixture.twoParts, 1))).rejects.toMatchObject({
      status: 422,
      extensions: { field: 'community' },
    });
  });

  it('gives a community without households one grid, and refuses to balance more', async () => {
    const [whole] = (await suggestChecked(fixture.empty, 1)).parts;
    expect(whole.households).toBe(0);
    expect(whole.buildings).toBeGreaterThan(100);
    await expect(answered(suggestPartition(db(), fixture.empty, 2))).rejects.toMatchObject({
      status: 422,
      extensions: { field: 'count', most: 1 },
    });
  });

  it('refuses more grids than buildings with households, saying how many it can make', async () => {
    const {
      rows: [{ inhabited }],
    } = await sql<{ inhabited: number }>`
      select count(*)::int as inhabited from buildings where community_id = 1 and households > 0`.execute(db());
    await expect(answered(suggestPartition(db(), 1, inhabited + 1))).rejects.toMatchObject({
      status: 422,
      extensions: { field: 'count', most: inhabited },
    });
  });

  it('refuses a count that is not a whole number of grids, and an unknown community', async () => {
    for (const count of [0, -1, 2.5, Number.NaN]) {
      await expect(answered(suggestPartition(db(), 1, count))).rejects.toMatchObject({ status: 400, extensions: { field: 'count' } });
    }
    await expect(answered(suggestPartition(db(), 999_999, 2))).rejects.toMatchObject({ status: 404 });
  });
});
