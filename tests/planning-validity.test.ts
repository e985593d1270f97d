import type { Express } from 'express';
import fc from 'fast-check';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRID_TOLERANCE_M2 } from '../server/features/grids/resource.ts';
import { testApp } from './support/app.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * No planning write leaves a boundary the planner cannot use: the demo grids' vertices dragged at random as
 * the web editor drags them (the boundaries as the API publishes them, GeoJSON to 7 decimals; a vertex on the
 * community's outline slid along it, one inside moved a few metres), neighbours adjusted, each change tried
 * and saved. After every save each grid of the community is valid as stored and as published, no two overlap
 * and together they cover what they covered, but for what the dry run reported newly uncovered. Saves that
 * change nothing, and shapes PostGIS cannot measure, are answered as such, never with a 500.
 */

let test: TestDatabase;
let admin: Express;
const db = () => test.database.db;

type Position = [number, number];
interface Polygon {
  type: 'Polygon';
  coordinates: Position[][];
}
interface PublishedGrid {
  id: number;
  geometry: Polygon;
  properties: { code: string; version: number };
}

/** The community's grids as the planner's editor receives them. */
async function publishedGrids(community: number): Promise<PublishedGrid[]> {
  const res = await request(admin).get(`/api/v1/communities/${community}/grids`);
  expect(res.status, res.text).toBe(200);
  return res.body.features;
}

const post = (path: string, body: object, version?: number) => {
  const r = request(admin).post(path).send(body);
  return version === undefined ? r : r.set('If-Match', `"${version}"`);
};

/** The editor's precision (terra-draw's coordinatePrecision). */
const round7 = (v: number) => Math.round(v * 1e7) / 1e7;
const key = ([x, y]: Position) => `${x},${y}`;
const polygon = (ring: Position[]): Polygon => ({ type: 'Polygon', coordinates: [[...ring, ring[0]]] });

/** Grids of the community not valid as stored or as published, with PostGIS's reason. */
async function invalidGrids(community: number) {
  const published = await publishedGrids(community);
  const { rows } = await sql<{ code: string; stored: string; published: string }>`
    select g.code, ST_IsValidReason(g.geom) as stored, ST_IsValidReason(p.geom) as published
    from grids g join (select (f->>'id')::int as id, ST_SetSRID(ST_GeomFromGeoJSON(f->'geometry'), 4326) as geom
                       from json_array_elements(${JSON.stringify(published)}::json) f) p on p.id = g.id
    where g.community_id = ${community} and not (ST_IsValid(g.geom) and ST_IsValid(p.geom))`.execute(db());
  return rows;
}

/**
 * Measures overlay on a fixed grid of a tenth of a millimetre: in full precision it can fail on edges that
 * nearly coincide, which the embedded database answers with no rows.
 */
const MEASURE = sql.lit(1e-9);

/** Pairs of the community's grids overlapping by more than the planning tolerance. */
async function overlaps(community: number) {
  const { rows } = await sql<{ codes: string[]; m2: number }>`
    select array[a.code, b.code] as codes, ST_Area(x::geography) as m2
    from grids a join grids b on b.community_id = a.community_id and a.id < b.id and a.geom && b.geom
    cross join lateral ST_Intersection(a.geom, b.geom, ${MEASURE}) as x
    where a.community_id = ${community} and ST_Area(x::geography) > ${GRID_TOLERANCE_M2}`.execute(db());
  return rows;
}

/** The part of the community its grids cover (hex WKB), and what of an earlier cover they no longer cover, in m². */
const covered = async (community: number) =>
  (
    await sql<{ hex: string }>`
  select encode(ST_AsBinary(ST_Intersection(c.geom, (select ST_Union(geom, ${MEASURE}) from grids where community_id = c.id), ${MEASURE})), 'hex') as hex
  from communities c where c.id = ${community}`.execute(db())
  ).rows[0].hex;
const uncoveredSince = async (community: number, before: string) =>
  (
    await sql<{ m2: number }>`
  select ST_Area(ST_Difference(ST_GeomFromWKB(decode(${before}, 'hex'), 4326), u.geom, ${MEASURE})::geography) as m2
  from (select ST_Union(geom, ${MEASURE}) as geom from grids where community_id = ${community}) u`.execute(db())
  ).rows[0].m2;

/** Each grid of the demo city back to its first boundary. */
const demoBoundaries = () =>
  sql`
  update grids g set geom = v.geom_after
  from (select distinct on (grid_id) grid_id, geom_after from grid_versions where geom_after is not null order by grid_id, id) v
  where v.grid_id = g.id and not ST_OrderingEquals(g.geom, v.geom_after)`.execute(db());

/** The demo's 第一网格 and the version it is at. */
const firstGrid = async () =>
  (
    await sql<{ id: number; version: number; community: number }>`
  select id, version, community_id as community from grids where code = '610602001001001'`.execute(db())
  ).rows[0];

beforeAll(async () => {
  test = await openTestDatabase();
  admin = await testApp(test.database);
}, 120_000);

afterAll(async () => {
  await test?.drop();
});

describe('dragging the demo grids’ vertices', () => {
  /** A drag, in numbers resolved against the grids as they are when it runs. */
  const drag = fc.record({
    community: fc.nat(),
    vertex: fc.nat(),
    grid: fc.nat(),
    along: fc.double({ min: 0.05, max: 0.9, noNaN: true }),
    bearing: fc.double({ min: 0, max: 2 * Math.PI, noNaN: true }),
    metres: fc.double({ min: 2, max: 25, noNaN: true }),
  });
  type Drag = typeof drag extends fc.Arbitrary<infer T> ? T : never;
  /** Drags that left a neighbour invalid as published before sql/020: found on the server, and on the embedded database. */
  const found: Drag[][] = [
    [
      {
        community: 204811623,
        vertex: 147152198,
        grid: 1741161772,
        along: 0.0533217230937292,
        bearing: 2.5e-323,
        metres: 24.99999999999994,
      },
      { community: 26, vertex: 23, grid: 21, along: 0.05053103876864566, bearing: 3.5267001580003837e-211, metres: 2.000000000000006 },
      {
        community: 2116331297,
        vertex: 1020359246,
        grid: 14,
        along: 0.07997040794626575,
        bearing: 2.6998092672188666e-80,
        metres: 2.0000000000000004,
      },
      { community: 66983545, vertex: 10, grid: 424341753, along: 0.9, bearing: 6.283185307179569, metres: 3.466361523208102 },
      {
        community: 2147483645,
        vertex: 636106947,
        grid: 522643764,
        along: 0.18974371739571827,
        bearing: 8e-323,
        metres: 24.999999999999982,
      },
      {
        community: 1175938429,
        vertex: 2147483632,
        grid: 136469991,
        along: 0.05000000000000002,
        bearing: 1.1679782542827157e-8,
        metres: 24.999999999999954,
      },
      { community: 2122612033, vertex: 25, grid: 13, along: 0.05000000000000003, bearing: 3e-323, metres: 2.000000000000007 },
      {
        community: 37992495,
        vertex: 484045490,
        grid: 1783758997,
        along: 0.05000000000000003,
        bearing: 4.511583863842401e-45,
        metres: 3.4439210177813115,
      },
    ],
    [
      {
        community: 743107930,
        vertex: 1440985113,
        grid: 1659219163,
        along: 0.3858843071470529,
        bearing: 4.8958222272862504e-211,
        metres: 10.07319618175994,
      },
      {
        community: 111272189,
        vertex: 1949534202,
        grid: 1991831736,
        along: 0.05426267831429466,
        bearing: 2.1792457791599042e-280,
        metres: 2.882728472503084,
      },
      {
        community: 1073244632,
        vertex: 1720582045,
        grid: 835623220,
        along: 0.4756442645648116,
        bearing: 1.1139848926773275e-109,
        metres: 2.0759616203895876,
      },
      {
        community: 751740347,
        vertex: 1934946409,
        grid: 190996968,
        along: 0.17727514631875166,
        bearing: 5.515275066550831e-9,
        metres: 2.5817751560076254,
      },
      {
        community: 34420591,
        vertex: 1785417381,
        grid: 1149158471,
        along: 0.4471522706713632,
        bearing: 8.982211639295535e-77,
        metres: 2.6339755222283694,
      },
      {
        community: 69136571,
        vertex: 834212426,
        grid: 1550027425,
        along: 0.842983703506651,
        bearing: 1.9711593313321332e-115,
        metres: 11.668716300533433,
      },
      {
        community: 544111966,
        vertex: 1455151659,
        grid: 1681459623,
        along: 0.4683360746028918,
        bearing: 7.064969887559016e-27,
        metres: 11.484339807758936,
      },
      {
        community: 1838158467,
        vertex: 1817028962,
        grid: 2008428472,
        along: 0.05900015600068679,
        bearing: 1.8854945318873295e-134,
        metres: 18.08913371567548,
      },
    ],
  ];

  /**
   * One vertex shared by two grids or more, dragged in one of them: on the community's outline, slid along
   * the outline's edge the grid lies on (the editor snaps it there), so the neighbour takes what the grid
   * gives up; inside, moved a few metres. Null when the vertex has no such edge.
   */
  async function dragged(communities: number[], d: Drag) {
    const community = communities[d.community % communities.length];
    const grids = await publishedGrids(community);
    const {
      rows: [{ outline }],
    } = await sql<{ outline: { coordinates: Position[][][] } }>`
      select ST_AsGeoJSON(geom, 7)::json as outline from communities where id = ${community}`.execute(db());
    const edges = new Set(
      outline.coordinates.flatMap(([ring]) => ring.slice(1).flatMap((p, i) => [`${key(ring[i])}|${key(p)}`, `${key(p)}|${key(ring[i])}`])),
    );
    const onOutline = new Set(outline.coordinates.flatMap(([ring]) => ring.map(key)));
    const sharing = new Map<string, { grid: PublishedGrid; k: number }[]>();
    for (const grid of grids) {
      grid.geometry.coordinates[0].slice(0, -1).forEach((p, k) => sharing.set(key(p), [...(sharing.get(key(p)) ?? []), { grid, k }]));
    }
    const shared = [...sharing.values()].filter((s) => s.length > 1);
    const picks = shared[d.vertex % shared.length];
    const { grid, k } = picks[d.grid % picks.length];
    const ring = grid.geometry.coordinates[0].slice(0, -1);
    const vertex = ring[k];
    let to: Position;
    if (onOutline.has(key(vertex))) {
      const along = [ring[(k + ring.length - 1) % ring.length], ring[(k + 1) % ring.length]].find((n) =>
        edges.has(`${key(vertex)}|${key(n)}`),
      );
      if (!along) return null;
      to = [round7(vertex[0] + d.along * (along[0] - vertex[0])), round7(vertex[1] + d.along * (along[1] - vertex[1]))];
    } else {
      const metre = 1 / 111_320;
      to = [
        round7(vertex[0] + (d.metres * Math.cos(d.bearing) * metre) / Math.cos((vertex[1] * Math.PI) / 180)),
        round7(vertex[1] + d.metres * Math.sin(d.bearing) * metre),
      ];
    }
    return { community, grid, geometry: polygon(ring.map((p, i) => (i === k ? to : p))) };
  }

  it('keeps every grid valid as stored and as published, without overlap or gap, and saves what the dry run said it could', async () => {
    const communities = (await sql<{ id: number }>`select id from communities order by id`.execute(db())).rows.map((r) => r.id);
    let saves = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(drag, { minLength: 8, maxLength: 14 }), async (drags) => {
        await demoBoundaries();
        for (const d of drags) {
          const move = await dragged(communities, d);
          if (!move) continue;
          const { community, grid, geometry } = move;
          const before = await covered(community);
          const body = { geometry, adjustNeighbours: true };
          const dry = await post(`/api/v1/grids/${grid.id}/redraw`, { ...body, dryRun: true });
          const save = await post(`/api/v1/grids/${grid.id}/redraw`, body, grid.properties.version);
          const what = `${grid.properties.code} ${JSON.stringify(geometry)}: dry run ${dry.status} ${dry.text.slice(0, 300)}, save ${save.status} ${save.text.slice(0, 300)}`;
          expect(dry.status, what).toBeLessThan(500);
          expect(save.status, what).toBeLessThan(500);
          expect(save.status < 300, what).toBe(dry.status === 200 && dry.body.saveable);
          if (save.status >= 300) continue;
          saves++;
          expect(await invalidGrids(community), what).toEqual([]);
          expect(await overlaps(community), what).toEqual([]);
          // a fold drawn across a grid's own vertices can give up a sliver no neighbour borders: the dry run tells
          // the planner of it as newly uncovered, and the save leaves uncovered no more than that
          const told = (dry.body.uncovered as { area_m2: number; new: boolean }[])
            .filter((u) => u.new)
            .reduce((m2, u) => m2 + u.area_m2, 0);
          expect(await uncoveredSince(community, before), what).toBeLessThan(told + GRID_TOLERANCE_M2);
        }
      }),
      { numRuns: 6, endOnFailure: true, examples: found.map((drags) => [drags]) },
    );
    // most drags are saved: the property is not met by refusing everything
    expect(saves).toBeGreaterThan(10);
  }, 120_000);
});

describe('saves that change nothing', () => {
  it('answers a redraw with the grid’s own boundary and a revert to its version with 200, also where a drag left it a hair off the outline', async () => {
    await demoBoundaries();
    // 第一网格 as two drags of its south-east corner along the community's outline left it: the second snapped
    // onto a vertex the first gave 第二网格, a hair off the outline's edge (full-precision overlay against
    // the outline fails there on the embedded database, whose COMMIT then warned)
    const { id, community } = await firstGrid();
    await sql`update grids set geom = ST_GeomFromText('POLYGON((109.4765753 36.5839157,109.4784092 36.5838839,109.47889722271154 36.58389772660472,109.4792634 36.5839081,109.4800371 36.585233,109.4798732 36.5864005,109.4780962 36.5863191,109.4764637 36.5863393,109.4765446 36.5851437,109.4765753 36.5839157))', 4326)
              where id = ${id}`.execute(db());
    for (const adjustNeighbours of [true, false]) {
      const grid = (await publishedGrids(community)).find((g) => g.id === id)!;
      const dry = await post(`/api/v1/grids/${id}/redraw`, { geometry: grid.geometry, adjustNeighbours, dryRun: true });
      expect(dry.status, dry.text).toBe(200);
      expect(dry.body.saveable).toBe(true);
      const redraw = await post(`/api/v1/grids/${id}/redraw`, { geometry: grid.geometry, adjustNeighbours }, grid.properties.version);
      expect(redraw.status, redraw.text).toBe(200);
      const { version } = await firstGrid();
      const revert = await post(`/api/v1/grids/${id}/revert`, { version, adjustNeighbours }, version);
      expect(revert.status, revert.text).toBe(200);
    }
    expect(await invalidGrids(community)).toEqual([]);
  });
});

describe('boundaries a grid cannot have', () => {
  it('refuses an edge between antipodes, which PostGIS cannot measure, naming the field, writing nothing', async () => {
    const { id, version, community } = await firstGrid();
    const antipodal = polygon([
      [0, 0],
      [180, 0],
      [180, 10],
      [0, 10],
    ]);
    const changes = async () => (await sql<{ n: number }>`select count(*)::int as n from grid_changes`.execute(db())).rows[0].n;
    const before = await changes();
    const cases: [string, object, string][] = [
      [`/api/v1/grids/${id}/redraw`, { geometry: antipodal, adjustNeighbours: true }, 'geometry'],
      [`/api/v1/grids/${id}/redraw`, { geometry: antipodal, dryRun: true }, 'geometry'],
      [`/api/v1/communities/${community}/grids`, { geometry: antipodal }, 'geometry'],
      [`/api/v1/communities/${community}/plan`, { grids: [{ id, version, geometry: antipodal }] }, 'grids[0].geometry'],
    ];
    for (const [path, body, field] of cases) {
      const res = await post(path, body, version);
      // refused as the request's fault (by the body's schema, else by PostGIS), naming where
      expect([400, 422], `${path}: ${res.text}`).toContain(res.status);
      expect(res.body.field.startsWith(field), res.body.field).toBe(true);
      expect(res.body.detail).toMatch(/antipodal|opposite sides/i);
    }
    expect(await changes()).toBe(before);
  });

  it('refuses, naming the grid, a revert to a boundary invalid as published; its dry run says so in its report', async () => {
    await demoBoundaries();
    const { id, community } = await firstGrid();
    // a fold along 第一网格's south edge, valid only beyond the 7th decimal (as neighbours were left before)
    await sql`update grids set geom = ST_GeomFromText('POLYGON((109.4765753 36.5839157,109.4784092 36.5838839,109.47964500377567 36.58391891265395,109.47981570829175 36.58392374903515,109.4793091 36.5839094,109.4800371 36.585233,109.4798732 36.5864005,109.4780962 36.5863191,109.4764637 36.5863393,109.4765446 36.5851437,109.4765753 36.5839157))', 4326)
              where id = ${id}`.execute(db());
    const folded = (await firstGrid()).version;
    await demoBoundaries();
    const { version } = await firstGrid();
    const dry = await post(`/api/v1/grids/${id}/revert`, { version: folded, dryRun: true });
    expect(dry.status, dry.text).toBe(200);
    expect(dry.body.saveable).toBe(false);
    expect(dry.body.refusals).toContainEqual(expect.objectContaining({ title: 'Invalid geometry', field: 'geometry', grid: id }));
    const save = await post(`/api/v1/grids/${id}/revert`, { version: folded }, version);
    expect(save.status, save.text).toBe(422);
    expect(save.body).toMatchObject({ title: 'Invalid geometry', field: 'geometry', grid: id });
    expect(save.body.detail).toMatch(/^grid 610602001001001: Self-intersection.*\(to 7 decimals\)$/);
    expect((await firstGrid()).version).toBe(version);
    expect(await invalidGrids(community)).toEqual([]);
  });
});
