import type { Express } from 'express';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './support/app.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * Grid planning over real HTTP on real PostGIS (both modes): a hand-built community whose answers are known
 * (which buildings, members and issues a boundary moves), checked again with PostGIS in the test (no overlap,
 * no gap, households conserved, the stored boundary byte for byte), and every refusal writing nothing.
 */

let test: TestDatabase;
const as: Record<string, Express> = {};
const db = () => test.database.db;

/**
 * The fixture, far east of the demo city: a community 0.02° × 0.01°, split at LON + 0.01 into West and East.
 * Buildings (households) at LON + 0.002 (100), 0.008 (200), 0.0095 (50) in West; 0.0105 (150), 0.015 (300) in East.
 */
const LON = 110.2,
  LAT = 36.6;
const ring = (points: [number, number][]) => [...points, points[0]];
const box = (west: number, south: number, east: number, north: number) => ({
  type: 'Polygon',
  coordinates: [
    ring([
      [west, south],
      [east, south],
      [east, north],
      [west, north],
    ]),
  ],
});
const wkt = (p: { coordinates: number[][][] }) => `POLYGON((${p.coordinates[0].map(([x, y]) => `${x} ${y}`).join(',')}))`;
const west = (east: number) => box(LON, LAT, LON + east, LAT + 0.01);
let f: {
  community: number;
  west: number;
  east: number;
  buildings: number[];
  members: number[];
  open: number;
  closed: number;
  worker: number;
};

async function buildFixture() {
  await sql`insert into streets (code, name, district_code) values ('610602099', '测试街道', '610602')`.execute(db());
  const {
    rows: [{ id: community }],
  } = await sql<{ id: number }>`
    insert into communities (code, name, street_code, geom)
    values ('610602099001', '规划社区', '610602099', ST_Multi(ST_GeomFromText(${wkt(box(LON, LAT, LON + 0.02, LAT + 0.01))}, 4326))) returning id`.execute(
    db(),
  );
  const grid = async (n: number, geometry: { coordinates: number[][][] }) =>
    (
      await sql<{ id: number }>`
    insert into grids (community_id, code, name, geom)
    values (${community}, ${`610602099001${String(n).padStart(3, '0')}`}, ${`网格${n}`}, ST_GeomFromText(${wkt(geometry)}, 4326)) returning id`.execute(
        db(),
      )
    ).rows[0].id;
  const westId = await grid(1, west(0.01));
  const eastId = await grid(2, box(LON + 0.01, LAT, LON + 0.02, LAT + 0.01));
  const buildings: number[] = [];
  const members: number[] = [];
  for (const [dx, households] of [
    [0.002, 100],
    [0.008, 200],
    [0.0095, 50],
    [0.0105, 150],
    [0.015, 300],
  ]) {
    const b = box(LON + dx - 0.0001, LAT + 0.0049, LON + dx + 0.0001, LAT + 0.0051);
    buildings.push(
      (
        await sql<{ id: number }>`
      insert into buildings (name, households, residents, geom) values (${`楼${dx}`}, ${households}, ${households * 3}, ST_GeomFromText(${wkt(b)}, 4326))
      returning id`.execute(db())
      ).rows[0].id,
    );
    members.push(
      (
        await sql<{ id: number }>`
      insert into members (name, category, is_volunteer, geom) values ('党员', 'retired', ${dx > 0.009}, ST_SetSRID(ST_MakePoint(${LON + dx}, ${LAT + 0.005}), 4326))
      returning id`.execute(db())
      ).rows[0].id,
    );
  }
  const issue = async (status: string) =>
    (
      await sql<{ id: number }>`
    insert into issues (title, category, status, geom) values (${`问题 ${status}`}, 'other', ${status}, ST_SetSRID(ST_MakePoint(${LON + 0.0095}, ${LAT + 0.002}), 4326))
    returning id`.execute(db())
    ).rows[0].id;
  const open = await issue('reported');
  const closed = await issue('closed');
  const {
    rows: [{ id: worker }],
  } = await sql<{ id: number }>`
    insert into users (username, password_hash, role, scope_grid_id) values ('east_worker', 'x', 'grid_worker', ${eastId}) returning id`.execute(
    db(),
  );
  f = { community, west: westId, east: eastId, buildings, members, open, closed, worker };
}

/** What is stored of the fixture's grids, buildings, members, issues and history: a write that is refused leaves it all. */
async function snapshot() {
  const { rows } = await sql<{ state: string }>`
    select json_build_object(
      'grids', (select json_agg(json_build_object('id', id, 'v', version, 'g', ST_AsText(geom)) order by id) from grids where community_id = ${f.community}),
      'buildings', (select json_agg(grid_id order by id) from buildings where community_id = ${f.community}),
      'members', (select json_agg(grid_id order by id) from members where community_id = ${f.community}),
      'issues', (select json_agg(grid_id order by id) from issues where community_id = ${f.community}),
      'versions', (select count(*) from grid_versions), 'changes', (select count(*) from grid_changes),
      'users', (select json_agg(scope_grid_id order by id) from users))::text as state`.execute(db());
  return rows[0].state;
}

const latestEvent = async () => (await sql<{ id: number }>`select coalesce(max(id), 0)::int as id from events`.execute(db())).rows[0].id;
const version = async (id: number) =>
  (await sql<{ version: number }>`select version from grids where id = ${id}`.execute(db())).rows[0]?.version;

/** The community covered exactly once: no gap (community minus the union) and no overlap (sum of areas minus the union's). */
async function coverage(community: number) {
  const {
    rows: [r],
  } = await sql<{ gap_m2: number; overlap_m2: number; outside_m2: number }>`
    select ST_Area(ST_Difference(c.geom, u.geom)::geography) as gap_m2,
           s.total - ST_Area(u.geom::geography) as overlap_m2,
           ST_Area(ST_Difference(u.geom, c.geom)::geography) as outside_m2
    from communities c,
         lateral (select ST_Union(geom) as geom from grids where community_id = c.id) u,
         lateral (select sum(ST_Area(geom::geography)) as total from grids where community_id = c.id) s
    where c.id = ${community}`.execute(db());
  return r;
}

const households = async (community: number) =>
  (
    await sql<{ n: number }>`
  select coalesce(sum(b.households), 0)::int as n from buildings b join grids g on g.id = b.grid_id where g.community_id = ${community}`.execute(
      db(),
    )
  ).rows[0].n;

const post = (app: Express, path: string, body: unknown, ifMatch?: number) => {
  const r = request(app)
    .post(path)
    .send(body as object);
  return ifMatch === undefined ? r : r.set('If-Match', `"${ifMatch}"`);
};

interface Report {
  dryRun: boolean;
  saved: boolean;
  saveable: boolean;
  change: { id: number; kind: string; note: string } | null;
  grids: {
    id: number;
    code: string;
    status: string;
    version: number | null;
    area_m2: { before: number | null; after: number | null };
    before: Record<string, number | string> | null;
    after: Record<string, number | string> | null;
  }[];
  moved: Record<'buildings' | 'members' | 'issues', { id: number; from: number | null; to: number | null }[]>;
  accounts: { id: number; from: number; to: number }[];
  overlaps: { grids: number[]; area_m2: number; geometry: { type: string } }[];
  uncovered: { area_m2: number; new: boolean; geometry: { type: string } }[];
  refusals: { title: string; detail: string }[];
}

beforeAll(async () => {
  test = await openTestDatabase();
  await buildFixture();
  for (const user of ['admin', 'planner', 'leader']) as[user] = await testApp(test.database, { as: user });
}, 120_000);

afterAll(async () => {
  await test?.drop();
});

describe('redrawing a grid', () => {
  it('reports in a dry run exactly the buildings, members and open issues a new boundary moves, and writes nothing', async () => {
    const before = await snapshot();
    const lastEvent = await latestEvent();
    // West's edge moves from LON + 0.01 to LON + 0.009: the building at 0.0095 (and its member and the issues beside it) go East
    const res = await post(as.admin, `/api/v1/grids/${f.west}/redraw`, { geometry: west(0.009), dryRun: true, adjustNeighbours: true });
    expect(res.status, res.text).toBe(200);
    const report = res.body as Report;
    expect(report).toMatchObject({ dryRun: true, saved: false, saveable: true, change: null, overlaps: [], uncovered: [], refusals: [] });
    expect(report.moved.buildings).toEqual([{ id: f.buildings[2], name: '楼0.0095', from: f.west, to: f.east }]);
    expect(report.moved.members).toEqual([{ id: f.members[2], from: f.west, to: f.east }]);
    // the closed issue moves too, but only open issues are the planner's concern
    expect(report.moved.issues).toEqual([{ id: f.open, title: '问题 reported', from: f.west, to: f.east }]);
    const [w, e] = [f.west, f.east].map((id) => report.grids.find((g) => g.id === id)!);
    expect(w).toMatchObject({
      status: 'changed',
      before: { households: 350, residents: 1050, members: 3, volunteers: 1, open_issues: 1, band: 'within' },
      after: { households: 300, residents: 900, members: 2, volunteers: 0, open_issues: 0, band: 'within' },
    });
    expect(e).toMatchObject({
      status: 'changed',
      before: { households: 450, members: 2, volunteers: 2, open_issues: 0, band: 'within' },
      after: { households: 500, members: 3, volunteers: 3, open_issues: 1, band: 'within' },
    });
    // 0.001° × 0.01° at 36.6°N: ~89.4 m by ~1,110 m
    expect([w.version, e.version]).toEqual([await version(f.west), await version(f.east)]);
    expect(res.headers.etag).toBe(`"${w.version}"`);
    expect(w.area_m2.before! - w.area_m2.after!).toBeCloseTo(e.area_m2.after! - e.area_m2.before!, 0);
    expect(w.area_m2.before! - w.area_m2.after!).toBeGreaterThan(99_000);
    expect(w.area_m2.before! - w.area_m2.after!).toBeLessThan(99_500);
    expect(await snapshot()).toBe(before);
    expect(await latestEvent()).toBe(lastEvent);
  });

  it('saves with If-Match: links follow in the same transaction, the neighbour is adjusted, no gap and no overlap, one version each', async () => {
    const [vw, ve] = [await version(f.west), await version(f.east)];
    const lastEvent = await latestEvent();
    const res = await post(
      as.admin,
      `/api/v1/grids/${f.west}/redraw`,
      { geometry: west(0.009), adjustNeighbours: true, note: '新楼盘划入东网格' },
      vw,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.headers.etag).toBe(`"${vw + 1}"`);
    expect(res.body).toMatchObject({ saved: true, change: { kind: 'redraw', note: '新楼盘划入东网格' } });
    const { rows } = await sql<{ kind: string; id: number; grid_id: number | null }>`
      select 'building' as kind, id, grid_id from buildings where id = ${f.buildings[2]}
      union all select 'member', id, grid_id from members where id = ${f.members[2]}
      union all select 'issue', id, grid_id from issues where id in (${f.open}, ${f.closed}) order by 1, 2`.execute(db());
    expect(rows.map((r) => r.grid_id)).toEqual([f.east, f.east, f.east, f.east]);
    expect(await version(f.east)).toBe(ve + 1);
    const cover = await coverage(f.community);
    expect(cover.gap_m2).toBeLessThan(1);
    expect(cover.overlap_m2).toBeLessThan(1);
    const {
      rows: [east],
    } = await sql<{ equal: boolean }>`
      select ST_Equals(ST_Normalize(geom), ST_Normalize(ST_GeomFromText(${wkt(box(LON + 0.009, LAT, LON + 0.02, LAT + 0.01))}, 4326))) as equal
      from grids where id = ${f.east}`.execute(db());
    expect(east.equal).toBe(true);
    // maps open elsewhere hear of it: a grid event per grid, on the community's street (a dry run announces nothing)
    const { rows: events } = await sql<{ grid_id: number; community_id: number; street_code: string; data: Record<string, unknown> }>`
      select grid_id, community_id, street_code, data from events where kind = 'grid' and id > ${lastEvent} order by grid_id`.execute(db());
    expect(events).toEqual(
      [f.west, f.east]
        .sort((a, b) => a - b)
        .map((id) => ({
          grid_id: id,
          community_id: f.community,
          street_code: '610602099',
          data: { grid_id: id, community_id: f.community, version: id === f.west ? vw + 1 : ve + 1, change: 'redraw' },
        })),
    );
  });

  it('refuses a stale If-Match with 412 and a save without one with 428, writing nothing', async () => {
    const before = await snapshot();
    const stale = await post(as.admin, `/api/v1/grids/${f.west}/redraw`, { geometry: west(0.008), adjustNeighbours: true }, 1);
    expect(stale.status, stale.text).toBe(412);
    expect(stale.body).toMatchObject({ field: 'If-Match', version: await version(f.west) });
    const missing = await post(as.admin, `/api/v1/grids/${f.west}/redraw`, { geometry: west(0.008), adjustNeighbours: true });
    expect(missing.status, missing.text).toBe(428);
    expect(await snapshot()).toBe(before);
  });

  it('without adjustNeighbours reports an overlap in a dry run, and refuses it on save naming the grids and the area', async () => {
    const before = await snapshot();
    const dry = await post(as.admin, `/api/v1/grids/${f.west}/redraw`, { geometry: west(0.0095), dryRun: true });
    expect(dry.status, dry.text).toBe(200);
    const report = dry.body as Report;
    expect(report.saveable).toBe(false);
    expect(report.overlaps).toHaveLength(1);
    expect(report.overlaps[0].grids).toEqual([f.west, f.east]);
    expect(report.overlaps[0].area_m2).toBeGreaterThan(49_500); // 0.0005° × 0.01°
    expect(report.overlaps[0].area_m2).toBeLessThan(49_750);
    expect(report.overlaps[0].geometry.type).toBe('Polygon');
    const saved = await post(as.admin, `/api/v1/grids/${f.west}/redraw`, { geometry: west(0.0095) }, await version(f.west));
    expect(saved.status, saved.text).toBe(422);
    expect(saved.body.title).toBe('Grids overlap');
    expect(saved.body.detail).toMatch(/610602099001001 and grid 610602099001002 would overlap by 49\d{3}(\.\d)? m²/);
    expect(await snapshot()).toBe(before);
  });

  it('reports the part of the community a shrunk grid leaves uncovered, with its area, as new', async () => {
    const res = await post(as.admin, `/api/v1/grids/${f.west}/redraw`, {
      geometry: box(LON + 0.003, LAT, LON + 0.009, LAT + 0.01),
      dryRun: true,
    });
    expect(res.status, res.text).toBe(200);
    const report = res.body as Report;
    expect(report.uncovered).toHaveLength(1);
    expect(report.uncovered[0]).toMatchObject({ new: true, geometry: { type: 'Polygon' } });
    expect(report.uncovered[0].area_m2).toBeGreaterThan(297_500); // 0.003° × 0.01°
    expect(report.uncovered[0].area_m2).toBeLessThan(298_000);
    expect(report.moved.buildings).toEqual([{ id: f.buildings[0], name: '楼0.002', from: f.west, to: null }]);
  });

  it('refuses bad shapes with a reason naming the field, writing nothing', async () => {
    const before = await snapshot();
    const v = await version(f.west);
    const bowtie = {
      type: 'Polygon',
      coordinates: [
        ring([
          [LON, LAT],
          [LON + 0.009, LAT + 0.01],
          [LON + 0.009, LAT],
          [LON, LAT + 0.01],
        ]),
      ],
    };
    const cases: [unknown, number, string, RegExp][] = [
      [{ geometry: bowtie }, 422, 'geometry', /Self-intersection/],
      [{ geometry: { type: 'Point', coordinates: [LON, LAT] } }, 400, 'geometry.type', /must be Polygon/],
      [{ geometry: box(LON, LAT, LON + 0.009, LAT + 95) }, 400, 'geometry.coordinates[0][2][1]', /latitude/],
      [{ geometry: box(LON - 0.001, LAT, LON + 0.009, LAT + 0.01), adjustNeighbours: true }, 422, 'geometry', /beyond its community/],
      [{ geometry: box(LON, LAT, LON + 0.0003, LAT + 0.0003) }, 422, 'geometry', /under the 2000 m² a grid needs/],
      // East would keep a strip north of the new West and a strip south of it: two parts
      [
        {
          geometry: {
            type: 'Polygon',
            coordinates: [
              ring([
                [LON, LAT],
                [LON + 0.009, LAT],
                [LON + 0.009, LAT + 0.004],
                [LON + 0.02, LAT + 0.004],
                [LON + 0.02, LAT + 0.006],
                [LON + 0.009, LAT + 0.006],
                [LON + 0.009, LAT + 0.01],
                [LON, LAT + 0.01],
              ]),
            ],
          },
          adjustNeighbours: true,
        },
        422,
        'geometry',
        /would fall into 2 separate parts/,
      ],
      [{ geometry: west(0.009), colour: 'red' }, 400, 'colour', /unrecognized/i],
      [{ geometry: west(0.009), dryRun: 'yes' }, 400, 'dryRun', /boolean/],
    ];
    for (const [body, status, field, detail] of cases) {
      const res = await post(as.admin, `/api/v1/grids/${f.west}/redraw`, body, v);
      expect(res.status, `${JSON.stringify(body).slice(0, 80)}: ${res.text}`).toBe(status);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.field).toBe(field);
      expect(res.body.detail).toMatch(detail);
    }
    const malformed = await request(as.admin)
      .post(`/api/v1/grids/${f.west}/redraw`)
      .set('Content-Type', 'application/json')
      .send('{"geometry":');
    expect(malformed.status).toBe(400);
    const unknown = await post(as.admin, '/api/v1/grids/999999/redraw', { geometry: west(0.009), dryRun: true });
    expect(unknown.status).toBe(404);
    expect(await snapshot()).toBe(before);
  });

  it('lets a planner change only the grids of its community, and no one else change grids', async () => {
    const {
      rows: [demo],
    } = await sql<{ id: number; version: number; geometry: unknown }>`
      select g.id, g.version, ST_AsGeoJSON(g.geom)::json as geometry from grids g join users u on u.scope_community_id = g.community_id
      where u.username = 'planner' order by g.id limit 1`.execute(db());
    const mine = await post(as.planner, `/api/v1/grids/${demo.id}/redraw`, { geometry: demo.geometry, dryRun: true });
    expect(mine.status, mine.text).toBe(200);
    expect((await post(as.planner, `/api/v1/grids/${f.west}/redraw`, { geometry: west(0.009), dryRun: true })).status).toBe(403);
    expect((await post(as.leader, `/api/v1/grids/${demo.id}/redraw`, { geometry: demo.geometry, dryRun: true })).status).toBe(403);
  });
});

describe('split, merge and carve', () => {
  it('splits a grid along a line: the larger part keeps it, the other takes the next code; households are conserved', async () => {
    const total = await households(f.community);
    const line = {
      type: 'LineString',
      coordinates: [
        [LON + 0.005, LAT - 0.001],
        [LON + 0.005, LAT + 0.011],
      ],
    };
    const dry = await post(as.admin, `/api/v1/grids/${f.east}/split`, { line, dryRun: true });
    expect(dry.status, dry.text).toBe(422); // the line misses East
    expect(dry.body.field).toBe('line');
    const cut = {
      type: 'LineString',
      coordinates: [
        [LON + 0.016, LAT - 0.001],
        [LON + 0.016, LAT + 0.011],
      ],
    };
    const res = await post(as.admin, `/api/v1/grids/${f.east}/split`, { line: cut, name: '东二网格', note: '拆分' }, await version(f.east));
    expect(res.status, res.text).toBe(201);
    const report = res.body as Report;
    const created = report.grids.find((g) => g.status === 'created')!;
    expect(created).toMatchObject({ code: '610602099001003', name: '东二网格', after: { households: 0 } });
    expect(res.headers.location).toBe(`/api/v1/grids/${created.id}`);
    expect(report.grids.find((g) => g.id === f.east)!.after).toMatchObject({ households: 500 });
    expect(await households(f.community)).toBe(total);
    const cover = await coverage(f.community);
    expect(cover.gap_m2).toBeLessThan(1);
    expect(cover.overlap_m2).toBeLessThan(1);
  });

  it('merges adjacent grids into the first, moving what they hold and their grid workers; households are conserved', async () => {
    const total = await households(f.community);
    const {
      rows: [third],
    } = await sql<{ id: number; version: number }>`select id, version from grids where code = '610602099001003'`.execute(db());
    const apart = await post(as.admin, '/api/v1/grids/merge', { grids: [{ id: f.west }, { id: third.id }], dryRun: true });
    expect(apart.status, apart.text).toBe(422);
    expect(apart.body.title).toBe('Grids not adjacent');
    const otherCommunity = await post(as.admin, '/api/v1/grids/merge', { grids: [{ id: f.east }, { id: 1 }], dryRun: true });
    expect(otherCommunity.status).toBe(422);
    expect(otherCommunity.body.field).toBe('grids[1].id');
    const before = await snapshot();
    const unversioned = await post(as.admin, '/api/v1/grids/merge', { grids: [{ id: third.id }, { id: f.east }] });
    expect(unversioned.status).toBe(428);
    expect(await snapshot()).toBe(before);
    const res = await post(as.admin, '/api/v1/grids/merge', {
      grids: [
        { id: third.id, version: third.version },
        { id: f.east, version: await version(f.east) },
      ],
      note: '合并',
    });
    expect(res.status, res.text).toBe(200);
    const report = res.body as Report;
    expect(report.grids.find((g) => g.id === f.east)).toMatchObject({ status: 'removed', version: null, after: null });
    expect(report.accounts).toEqual([{ id: f.worker, username: 'east_worker', from: f.east, to: third.id }]);
    expect(report.moved.buildings.map((b) => [b.id, b.from, b.to])).toEqual([2, 3, 4].map((k) => [f.buildings[k], f.east, third.id]));
    expect(await households(f.community)).toBe(total);
    const {
      rows: [{ scope }],
    } = await sql<{ scope: number }>`select scope_grid_id as scope from users where id = ${f.worker}`.execute(db());
    expect(scope).toBe(third.id);
    f.east = third.id;
  });

  it('refuses a new grid wholly inside another: the other would surround it', async () => {
    const inside = box(LON + 0.002, LAT + 0.002, LON + 0.004, LAT + 0.004);
    const dry = await post(as.admin, `/api/v1/communities/${f.community}/grids`, { geometry: inside, dryRun: true });
    expect(dry.status, dry.text).toBe(200);
    expect((dry.body as Report).refusals).toEqual([expect.objectContaining({ title: 'Grid with a hole', grid: f.west })]);
    const before = await snapshot();
    const saved = await post(as.admin, `/api/v1/communities/${f.community}/grids`, { geometry: inside });
    expect(saved.status).toBe(422);
    expect(saved.body.detail).toMatch(/grid 610602099001001 would surround an area of other grids/);
    expect(await snapshot()).toBe(before);
  });

  it('carves a new grid out of the grids it covers, with the next code; the community stays covered once', async () => {
    const total = await households(f.community);
    const res = await post(as.admin, `/api/v1/communities/${f.community}/grids`, {
      geometry: box(LON + 0.007, LAT + 0.003, LON + 0.012, LAT + 0.007),
      properties: { name: '中心网格', grid_worker_name: '王五' },
      note: '新建',
    });
    expect(res.status, res.text).toBe(201);
    const report = res.body as Report;
    const created = report.grids.find((g) => g.status === 'created')!;
    // 003 was merged away, not reused
    expect(created).toMatchObject({ code: '610602099001004', name: '中心网格' });
    expect(report.moved.buildings.map((b) => [b.id, b.to])).toEqual([
      [f.buildings[1], created.id],
      [f.buildings[2], created.id],
      [f.buildings[3], created.id],
    ]);
    expect(await households(f.community)).toBe(total);
    const cover = await coverage(f.community);
    expect(cover.gap_m2).toBeLessThan(1);
    expect(cover.overlap_m2).toBeLessThan(1);
  });
});

describe('history', () => {
  it('keeps every saved change as a version: who, when, why, the boundary before and after, the impact', async () => {
    const res = await request(as.admin).get(`/api/v1/grids/${f.west}/history`);
    expect(res.status, res.text).toBe(200);
    const kinds = res.body.versions.map((v: { kind: string }) => v.kind);
    expect(kinds).toEqual(['create', 'redraw', 'create']); // carved (newest first), redrawn, inserted by the fixture
    const redraw = res.body.versions[1];
    expect(redraw).toMatchObject({
      note: '新楼盘划入东网格',
      user: { username: 'admin' },
      geometry_before: { type: 'Polygon' },
      geometry_after: { type: 'Polygon' },
    });
    expect(redraw.impact.moved.buildings).toHaveLength(1);
    expect((await request(as.admin).get('/api/v1/grids/999999/history')).status).toBe(404);
    expect((await request(as.planner).get(`/api/v1/grids/${f.west}/history`)).status).toBe(403);
  });

  it('reverts to an earlier version through the same rules, restoring the boundary byte for byte', async () => {
    const {
      rows: [first],
    } = await sql<{ version: number }>`
      select version from grid_versions where grid_id = ${f.west} and kind = 'create' order by id limit 1`.execute(db());
    const total = await households(f.community);
    const unknown = await post(as.admin, `/api/v1/grids/${f.west}/revert`, { version: 99, dryRun: true });
    expect(unknown.status).toBe(422);
    expect(unknown.body.field).toBe('version');
    const res = await post(
      as.admin,
      `/api/v1/grids/${f.west}/revert`,
      { version: first.version, adjustNeighbours: true, note: '撤销' },
      await version(f.west),
    );
    expect(res.status, res.text).toBe(200);
    const {
      rows: [same],
    } = await sql<{ equal: boolean }>`
      select ST_AsBinary(g.geom) = ST_AsBinary(v.geom_after) as equal from grids g
      join grid_versions v on v.grid_id = g.id and v.version = ${first.version} where g.id = ${f.west}`.execute(db());
    expect(same.equal).toBe(true);
    expect(await households(f.community)).toBe(total);
    const cover = await coverage(f.community);
    expect(cover.gap_m2).toBeLessThan(1);
    expect(cover.overlap_m2).toBeLessThan(1);
  });

  it('shows the community’s grids as they stood at a time', async () => {
    const {
      rows: [{ at }],
    } = await sql<{ at: Date }>`select at from grid_changes where kind = 'split' order by id limit 1`.execute(db());
    const beforeSplit = new Date(at.getTime() - 1).toISOString();
    const res = await request(as.admin).get(`/api/v1/communities/${f.community}/grids`).query({ at: beforeSplit });
    expect(res.status, res.text).toBe(200);
    expect(res.body.features.map((g: { properties: { code: string } }) => g.properties.code)).toEqual([
      '610602099001001',
      '610602099001002',
    ]);
    const now = await request(as.admin).get(`/api/v1/communities/${f.community}/grids`);
    expect(now.body.features.map((g: { properties: { code: string } }) => g.properties.code)).toEqual([
      '610602099001001',
      '610602099001003',
      '610602099001004',
    ]);
    const { rows: stored } = await sql<{
      id: number;
      geometry: string;
    }>`select id, ST_AsText(geom) as geometry from grids where community_id = ${f.community} order by code`.execute(db());
    expect(now.body.features.map((g: { id: number }) => g.id)).toEqual(stored.map((g) => g.id));
    expect((await request(as.admin).get(`/api/v1/communities/${f.community}/grids`).query({ at: '1999-01-01' })).body.features).toEqual([]);
    const bad = await request(as.admin).get(`/api/v1/communities/${f.community}/grids`).query({ at: 'yesterday' });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('at');
  });
});

describe('suggested grids', () => {
  interface Draft {
    draft: {
      features: { geometry: { type: string }; properties: { grid_id: number | null; version: number | null; households: number } }[];
    };
    households: { mean: number; min: number; max: number; max_deviation_pct: number };
    elapsed_ms: number;
    impact: Report;
  }
  let community: number;
  beforeAll(async () => {
    ({
      rows: [{ id: community }],
    } = await sql<{ id: number }>`select scope_community_id as id from users where username = 'planner'`.execute(db()));
  });

  it('proposes a draft whose impact, tried with the link triggers, holds exactly the households each part reports', async () => {
    const before = await snapshot();
    const res = await post(as.planner, `/api/v1/communities/${community}/suggest-grids`, { count: 6 });
    expect(res.status, res.text).toBe(200);
    const { draft, households: stats, elapsed_ms, impact } = res.body as Draft;
    expect(draft.features).toHaveLength(6);
    expect(elapsed_ms).toBeGreaterThanOrEqual(0);
    const parts = draft.features.map((f) => f.properties.households);
    expect(stats).toMatchObject({ min: Math.min(...parts), max: Math.max(...parts) });
    expect(stats.max_deviation_pct).toBeLessThan(15);
    expect(impact).toMatchObject({ dryRun: true, saveable: true, overlaps: [], uncovered: [], refusals: [] });
    // a planner counts members: who moved is not named
    expect(impact.moved.members.length).toBeGreaterThan(0);
    expect(impact.moved.members.every((m) => m.id === null)).toBe(true);
    // a part matched to a grid keeps it; the others are new (provisional ids)
    const after = impact.grids
      .filter((g) => g.status !== 'removed')
      .map((g) => g.after!.households)
      .sort();
    expect(after).toEqual([...parts].sort());
    for (const f of draft.features.filter((x) => x.properties.grid_id !== null)) {
      expect(impact.grids.find((g) => g.id === f.properties.grid_id)!.after!.households).toBe(f.properties.households);
    }
    expect(await snapshot()).toBe(before);
  });

  it('saves a draft as a plan: every boundary at once, relinked, the community covered once', async () => {
    const { body } = await post(as.planner, `/api/v1/communities/${community}/suggest-grids`, { count: 4 });
    const { draft } = body as Draft;
    const { rows: existing } = await sql<{
      id: number;
      version: number;
    }>`select id, version from grids where community_id = ${community}`.execute(db());
    const kept = new Set(draft.features.map((f) => f.properties.grid_id));
    const plan = {
      note: '按户数均衡重划',
      grids: [
        ...draft.features.map((f) =>
          f.properties.grid_id === null
            ? { geometry: f.geometry }
            : { id: f.properties.grid_id, version: f.properties.version!, geometry: f.geometry },
        ),
        ...existing.filter((g) => !kept.has(g.id)).map((g) => ({ id: g.id, version: g.version, geometry: null })),
      ],
    };
    const total = await households(community);
    const stale = await post(as.planner, `/api/v1/communities/${community}/plan`, {
      ...plan,
      grids: plan.grids.map((g) => ('version' in g ? { ...g, version: 999 } : g)),
    });
    expect(stale.status).toBe(412);
    const res = await post(as.planner, `/api/v1/communities/${community}/plan`, plan);
    expect(res.status, res.text).toBeLessThan(300);
    expect(await households(community)).toBe(total);
    const { rows } = await sql<{ households: number }>`
      select coalesce(sum(b.households), 0)::int as households from grids g left join buildings b on b.grid_id = g.id
      where g.community_id = ${community} group by g.id order by 1`.execute(db());
    expect(rows.map((r) => r.households)).toEqual(draft.features.map((f) => f.properties.households).sort((a, b) => a - b));
    const cover = await coverage(community);
    expect(cover.gap_m2).toBeLessThan(1);
    expect(cover.overlap_m2).toBeLessThan(1);
  });

  it('refuses a wrong count, an unknown community, and roles that do not plan', async () => {
    expect((await post(as.planner, `/api/v1/communities/${community}/suggest-grids`, { count: 0 })).body.field).toBe('count');
    expect((await post(as.planner, `/api/v1/communities/${community}/suggest-grids`, { count: 51 })).status).toBe(400);
    expect((await post(as.admin, '/api/v1/communities/999999/suggest-grids', { count: 3 })).status).toBe(404);
    expect((await post(as.planner, `/api/v1/communities/${f.community}/suggest-grids`, { count: 3 })).status).toBe(403);
    expect((await post(as.leader, `/api/v1/communities/${community}/suggest-grids`, { count: 3 })).status).toBe(403);
  });
});

describe('what each reader sees, and changes made meanwhile', () => {
  const demoGrid = async () =>
    (
      await sql<{ id: number; version: number; geometry: { type: string; coordinates: number[][][] } }>`
    select g.id, g.version, ST_AsGeoJSON(g.geom)::json as geometry from grids g join users u on u.scope_community_id = g.community_id
    where u.username = 'planner' order by g.code limit 1`.execute(db())
    ).rows[0];

  it('shows members moved only as counts to a planner, in a dry run and in the history, and the impact only to planners', async () => {
    const grid = await demoGrid();
    const {
      rows: [first],
    } = await sql<{
      version: number;
    }>`select min(version) as version from grid_versions where grid_id = ${grid.id} and geom_after is not null`.execute(db());
    const res = await post(
      as.admin,
      `/api/v1/grids/${grid.id}/revert`,
      { version: first.version, adjustNeighbours: true, note: '恢复原界' },
      grid.version,
    );
    expect(res.status, res.text).toBeLessThan(300);
    const members = (res.body as Report).moved.members;
    expect(members.length).toBeGreaterThan(0);
    expect(members.every((m) => typeof m.id === 'number')).toBe(true);
    const mine = await request(as.planner).get(`/api/v1/grids/${grid.id}/history`);
    expect(mine.body.versions[0]).toMatchObject({ kind: 'revert', note: '恢复原界', user: { username: 'admin' } });
    expect(mine.body.versions[0].impact.moved.members.map((m: { id: unknown }) => m.id)).toEqual(members.map(() => null));
    for (const user of ['resident', 'gridworker']) {
      const other = await request(await testApp(test.database, { as: user })).get(`/api/v1/grids/${grid.id}/history`);
      expect(other.status, other.text).toBe(200);
      expect(other.body.versions[0]).toMatchObject({
        kind: 'revert',
        note: null,
        user: null,
        impact: null,
        geometry_after: { type: 'Polygon' },
      });
    }
    const dry = await post(as.planner, `/api/v1/grids/${grid.id}/redraw`, { geometry: (await demoGrid()).geometry, dryRun: true });
    expect(dry.status).toBe(200);
  });

  it('refuses a planner’s shape reaching beyond its community with the reason, not the rows beyond', async () => {
    const grid = await demoGrid();
    const [[x0, y0]] = grid.geometry.coordinates[0];
    const far = box(x0 - 0.01, y0 - 0.01, x0 + 0.001, y0 + 0.001);
    const res = await post(as.planner, `/api/v1/grids/${grid.id}/redraw`, { geometry: far, dryRun: true, adjustNeighbours: true });
    expect(res.status, res.text).toBe(422);
    expect(res.body).toMatchObject({ title: 'Grid outside its community', field: 'geometry' });
    expect(res.body.moved).toBeUndefined();
  });

  it('refuses a save when a neighbour the dry run showed was changed meanwhile', async () => {
    const shape = box(LON, LAT, LON + 0.0085, LAT + 0.01);
    const dry = (await post(as.admin, `/api/v1/grids/${f.west}/redraw`, { geometry: shape, dryRun: true, adjustNeighbours: true }))
      .body as Report;
    const versions = dry.grids.filter((g) => g.id !== f.west && g.version !== null).map((g) => ({ id: g.id, version: g.version! }));
    expect(versions.length).toBeGreaterThan(0);
    await request(as.admin)
      .patch(`/api/v1/grids/${versions[0].id}`)
      .send({ properties: { grid_worker_name: '赵六' } })
      .expect(200);
    const before = await snapshot();
    const res = await post(
      as.admin,
      `/api/v1/grids/${f.west}/redraw`,
      { geometry: shape, adjustNeighbours: true, versions },
      await version(f.west),
    );
    expect(res.status, res.text).toBe(412);
    expect(res.body.field).toBe('versions[0].version');
    expect(await snapshot()).toBe(before);
  });

  it('answers 409 for a removal that would leave a grid worker no grid, writing nothing', async () => {
    const { rows } = await sql<{ id: number; version: number }>`select id, version from grids where community_id = ${f.community}`.execute(
      db(),
    );
    const before = await snapshot();
    const res = await post(as.admin, `/api/v1/communities/${f.community}/plan`, {
      grids: rows.map((g) => ({ id: g.id, version: g.version, geometry: null })),
    });
    expect(res.status, res.text).toBe(409);
    expect(res.body).toMatchObject({ title: 'Grid has accounts', field: 'grids' });
    expect(await snapshot()).toBe(before);
  });

  it('restores a merged-away grid under its own id and code, carved out of the grids that took it', async () => {
    const total = await households(f.community);
    const {
      rows: [{ id: removed }],
    } = await sql<{ id: number }>`
      select grid_id as id from grid_versions where community_id = ${f.community} and kind = 'merge' and geom_after is null`.execute(db());
    const history = (await request(as.admin).get(`/api/v1/grids/${removed}/history`)).body;
    expect(history.versions[0]).toMatchObject({ kind: 'merge', geometry_after: null, version: null });
    // the shape it had when it was merged away (after its split)
    const last = history.versions.find((v: { geometry_after: unknown }) => v.geometry_after);
    const res = await post(as.admin, `/api/v1/grids/${removed}/revert`, { version: last.version, note: '撤销合并' });
    expect(res.status, res.text).toBe(201);
    expect((res.body as Report).grids.find((g) => g.id === removed)).toMatchObject({
      status: 'created',
      code: '610602099001002',
      name: '网格2',
    });
    expect(await households(f.community)).toBe(total);
    const cover = await coverage(f.community);
    expect(cover.gap_m2).toBeLessThan(1);
    expect(cover.overlap_m2).toBeLessThan(1);
  });

  it('gives a new grid the next code of its community’s sequence even where another community holds a code of it', async () => {
    await sql`insert into grids (community_id, code, name, geom) select id, '610602099001050', '借用编码', ST_GeomFromText(${wkt(box(LON + 1, LAT, LON + 1.001, LAT + 0.001))}, 4326)
              from communities where id <> ${f.community} order by id limit 1`.execute(db());
    const res = await post(as.admin, `/api/v1/communities/${f.community}/grids`, {
      geometry: box(LON + 0.017, LAT + 0.006, LON + 0.019, LAT + 0.009),
      dryRun: true,
    });
    expect(res.status, res.text).toBe(200);
    expect((res.body as Report).grids.find((g) => g.status === 'created')!.code).toBe('610602099001051');
  });

  it('shows a renamed grid under the name it had at the time', async () => {
    const {
      rows: [{ at }],
    } = await sql<{ at: Date }>`select clock_timestamp() as at`.execute(db());
    await request(as.admin)
      .patch(`/api/v1/grids/${f.west}`)
      .send({ properties: { name: '西区网格' } })
      .expect(200);
    const names = async (query: Record<string, string>) =>
      (await request(as.admin).get(`/api/v1/communities/${f.community}/grids`).query(query)).body.features.find(
        (g: { id: number }) => g.id === f.west,
      ).properties.name;
    expect(await names({})).toBe('西区网格');
    expect(await names({ at: new Date().toISOString() })).toBe('西区网格');
    expect(await names({ at: at.toISOString() })).toBe('网格1');
  });
});
