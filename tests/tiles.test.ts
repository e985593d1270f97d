import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VectorTile } from '@mapbox/vector-tile';
import { booleanIntersects } from '@turf/boolean-intersects';
import type { Express } from 'express';
import type { Feature, Geometry, Position } from 'geojson';
import { sql } from 'kysely';
import { PbfReader } from 'pbf';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUsers, viewerOf } from '../server/features/accounts/queries.ts';
import { tileLayer, TILE_LAYERS } from '../server/features/tiles/layers.ts';
import { renderTile } from '../server/features/tiles/render.ts';
import { TileCache } from '../server/features/tiles/cache.ts';
import { testApp } from './support/app.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * Vector tiles over real HTTP on real PostGIS (both modes): decoded with Mapbox's reader and with GDAL's MVT
 * driver, their features checked against the stored rows; members only ever as hexagons; the two encoders
 * (ST_AsMVT and tile_geometry + vt-pbf) agree; the cache serves, and forgets what a write changed.
 */

let test: TestDatabase;
const as: Record<string, Express> = {};
const db = () => test.database.db;
let dir: string;

// GDAL from Debian (apt-get install gdal-bin): CI must have it, elsewhere its test is skipped without it
const OGR2OGR = '/usr/bin/ogr2ogr';
const haveGdal = existsSync(OGR2OGR);
if (!haveGdal && process.env.CI) throw new Error(`CI needs GDAL at ${OGR2OGR} (apt-get install gdal-bin)`);

type Tile = [z: number, x: number, y: number];
const tileAt = (lon: number, lat: number, z: number): Tile => {
  const rad = (lat * Math.PI) / 180;
  return [
    z,
    Math.floor(((lon + 180) / 360) * 2 ** z),
    Math.floor(((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * 2 ** z),
  ];
};

async function fetchTile(app: Express, layer: string, [z, x, y]: Tile, headers: Record<string, string> = {}) {
  const res = await request(app)
    .get(`/tiles/${layer}/${z}/${x}/${y}.mvt`)
    .set(headers)
    .buffer(true)
    .parse((stream, done) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => done(null, Buffer.concat(chunks)));
    });
  return {
    status: res.status,
    bytes: res.body as Buffer,
    etag: res.headers.etag as string,
    cache: res.headers['x-tile-cache'],
    type: res.headers['content-type'],
  };
}

/** A tile's features in WGS 84, as Mapbox's reader decodes them. */
function decode(bytes: Buffer, layer: string, [z, x, y]: Tile): Feature<Geometry, Record<string, number | string | boolean>>[] {
  const found = new VectorTile(new PbfReader(bytes)).layers[layer];
  if (!found) return [];
  expect(found.version).toBe(2);
  expect(found.extent).toBe(4096);
  return Array.from(
    { length: found.length },
    (_, i) => found.feature(i).toGeoJSON(x, y, z) as Feature<Geometry, Record<string, number | string | boolean>>,
  );
}

async function decoded(app: Express, layer: string, tile: Tile) {
  const res = await fetchTile(app, layer, tile);
  expect(res.status, `${layer} ${tile.join('/')}: ${res.bytes.toString().slice(0, 200)}`).toBe(200);
  expect(res.type).toBe('application/vnd.mapbox-vector-tile');
  return decode(res.bytes, layer, tile);
}

/** The vector layers in a tile layer's tiles: named areas also carry their label points. */
const vectorLayerNames = (layer: (typeof TILE_LAYERS)[number]) => (layer.labelled ? [layer.name, `${layer.name}_label`] : [layer.name]);

const ids = (features: { id?: number | string }[]) => features.map((f) => Number(f.id)).sort((a, b) => a - b);

/** The rows of `table` the tile shows: those within the tile grown by its 64-unit buffer. */
const inTile = (table: 'buildings' | 'issues', [z, x, y]: Tile, where = sql`true`) =>
  sql<{ id: number }>`
  select id from ${sql.table(table)} t
  where ST_Intersects(t.geom, ST_Transform(ST_Expand(ST_TileEnvelope(${z}::int, ${x}::int, ${y}::int), 64 * 40075016.685578488 / 2 ^ ${z}::int / 4096), 4326)) and ${where}
  order by id`.execute(db());

/** A tile around the first community's centre. */
let first: { lon: number; lat: number; community: number; street: string };

beforeAll(async () => {
  test = await openTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'gridmap-tiles-'));
  ({
    rows: [first],
  } = await sql<typeof first>`
    select ST_X(ST_PointOnSurface(geom)) as lon, ST_Y(ST_PointOnSurface(geom)) as lat, id as community, street_code as street
    from communities order by id limit 1`.execute(db()));
  for (const user of ['admin', 'leader', 'resident', 'volunteer', 'dispatcher']) as[user] = await testApp(test.database, { as: user });
  as.anonymous = await testApp(test.database, { as: null });
}, 120_000);

afterAll(async () => {
  await test?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('what the tiles hold', () => {
  it('draws exactly the buildings in a tile, with their properties', async () => {
    const tile = tileAt(first.lon, first.lat, 15);
    const features = await decoded(as.admin, 'buildings', tile);
    expect(ids(features)).toEqual((await inTile('buildings', tile)).rows.map((r) => r.id));
    expect(features.length).toBeGreaterThan(20);
    const { rows } = await sql<{
      id: number;
      households: number;
      has_party_group: boolean;
    }>`select id, households, has_party_group from buildings`.execute(db());
    const stored = new Map(rows.map((r) => [r.id, r]));
    for (const f of features) {
      expect(f.geometry.type).toBe('Polygon');
      expect(f.properties.households).toBe(stored.get(Number(f.id))!.households);
      expect(f.properties.has_party_group).toBe(stored.get(Number(f.id))!.has_party_group);
    }
  });

  it('draws the issues a viewer may read, overdue ones marked', async () => {
    const tile = tileAt(first.lon, first.lat, 14);
    const features = await decoded(as.admin, 'issues', tile);
    expect(ids(features)).toEqual((await inTile('issues', tile)).rows.map((r) => r.id));
    const overdue = (
      await inTile('issues', tile, sql`due_at < now() and status in ('reported', 'accepted', 'in_progress', 'escalated', 'reopened')`)
    ).rows.map((r) => r.id);
    expect(ids(features.filter((f) => f.properties.overdue))).toEqual(overdue);
    // a resident reads only its own reports: none in the demo
    expect((await fetchTile(as.resident, 'issues', tile)).status).toBe(204);
  });

  it('gives each grid of the coverage layer the coverage metrics the API computes', async () => {
    const tile = tileAt(first.lon, first.lat, 13);
    const features = await decoded(as.leader, 'grid_coverage', tile);
    const api = (await request(as.leader).get('/api/v1/coverage/grids')).body as {
      features: { id: number; properties: Record<string, unknown> }[];
    };
    const metrics = new Map(api.features.map((f) => [f.id, f.properties]));
    expect(features.length).toBeGreaterThan(3);
    for (const f of features) {
      const expected = metrics.get(Number(f.id))!;
      expect(expected, `grid ${f.id} is the leader's`).toBeDefined();
      for (const field of Object.keys(tileLayer('grid_coverage')!.fields)) {
        if (expected[field] !== null) expect(f.properties[field], field).toEqual(expected[field]);
      }
    }
  });

  it('draws members and volunteers as counts in hexagons that add up to the viewer’s members, never a point', async () => {
    // the tiles at zoom 11 over the city and a hexagon's width around; a cell over two tiles is in both, with its id
    const {
      rows: [box],
    } = await sql<{ w: number; s: number; e: number; n: number }>`
      select ST_XMin(b) - 0.03 as w, ST_YMin(b) - 0.03 as s, ST_XMax(b) + 0.03 as e, ST_YMax(b) + 0.03 as n
      from (select ST_Extent(geom) as b from communities where code like '6106020%') c`.execute(db());
    const z = 11;
    const [, x0, y0] = tileAt(box.w, box.n, z);
    const [, x1, y1] = tileAt(box.e, box.s, z);
    const city: Tile[] = [];
    for (let x = x0; x <= x1; x++) for (let y = y0; y <= y1; y++) city.push([z, x, y]);
    // every cell of the lattice over the street's members, counted where they live in 3 buildings or more (a
    // leader sees no hexagon over one or two homes; members in no building each a home of their own)
    const {
      rows: [expected],
    } = await sql<{ members: number; volunteers_among: number; volunteers: number; available: number; withheld: number }>`
      with m as (select m.*, ST_Transform(m.geom, 3857) as g from members m
                 where community_id in (select id from communities where street_code = ${first.street})),
      cell as (
        select count(*) as n, count(*) filter (where m.is_volunteer) as v,
               count(*) filter (where m.is_volunteer and m.availability = 'available') as a,
               count(distinct coalesce(m.building_id, -m.id)) as homes,
               count(distinct coalesce(m.building_id, -m.id)) filter (where m.is_volunteer) as volunteer_homes
        from ST_HexagonGrid(300, (select ST_SetSRID(ST_Extent(g)::geometry, 3857) from m)) h
        join m on ST_Intersects(m.g, h.geom) group by h.i, h.j)
      select coalesce(sum(n) filter (where homes >= 3), 0)::int as members, coalesce(sum(v) filter (where homes >= 3), 0)::int as volunteers_among,
             coalesce(sum(v) filter (where volunteer_homes >= 3), 0)::int as volunteers,
             coalesce(sum(a) filter (where volunteer_homes >= 3), 0)::int as available,
             count(*) filter (where homes < 3)::int as withheld
      from cell`.execute(db());
    expect(expected.members).toBeGreaterThan(1000);
    const cellsOf = async (layer: string) =>
      (
        await Promise.all(
          city.map(async (tile) => {
            const res = await fetchTile(as.leader, layer, tile);
            return res.status === 204 ? [] : decode(res.bytes, layer, tile);
          }),
        )
      )
        .flat()
        .filter((cell, i, all) => all.findIndex((c) => c.id === cell.id) === i);
    const members = await cellsOf('members');
    const volunteers = await cellsOf('volunteers');
    const sum = (features: typeof members, key: string) => features.reduce((total, f) => total + Number(f.properties[key]), 0);
    expect(sum(members, 'count')).toBe(expected.members);
    expect(sum(members, 'volunteers')).toBe(expected.volunteers_among);
    expect(sum(volunteers, 'count')).toBe(expected.volunteers);
    expect(sum(volunteers, 'available')).toBe(expected.available);

    // zoomed in on a volunteer's home: polygons only, and at every zoom the same cell, ~420–480 m across, with the same counts
    const {
      rows: [home],
    } = await sql<{ lon: number; lat: number }>`
      select ST_X(geom) as lon, ST_Y(geom) as lat from members where community_id = ${first.community} and is_volunteer order by id limit 1`.execute(
      db(),
    );
    const point = { type: 'Point' as const, coordinates: [home.lon, home.lat] };
    for (const layer of ['members', 'volunteers']) {
      const cellsAt = async (zoom: number) => {
        const cells = await decoded(as.leader, layer, tileAt(home.lon, home.lat, zoom));
        for (const cell of cells) expect(cell.geometry.type, `${layer} at z${zoom}`).toMatch(/Polygon$/);
        return cells;
      };
      const cells = await cellsAt(14);
      const [, x] = tileAt(home.lon, home.lat, 14);
      const degrees = 360 / 2 ** 14;
      const [west, east] = [x * degrees - 180 - (degrees * 64) / 4096, (x + 1) * degrees - 180 + (degrees * 64) / 4096];
      for (const cell of cells) {
        // a cell holds its centre row, at least 415 m wide, unless the tile's east or west edge cuts it
        const lons = (cell.geometry as { coordinates: Position[][] }).coordinates.flat().map((p) => Number(p[0]));
        if (Math.min(...lons) <= west + 1e-6 || Math.max(...lons) >= east - 1e-6) continue;
        expect((Math.max(...lons) - Math.min(...lons)) * 111_320 * Math.cos((home.lat * Math.PI) / 180), `a ${layer} cell`).toBeGreaterThan(
          400,
        );
      }
      const around = cells.find((cell) => booleanIntersects(cell, point))!;
      expect(around, `the ${layer} cell around the home`).toBeDefined();
      for (const zoom of [10, 12, 16, 18]) {
        const closer = (await cellsAt(zoom)).find((cell) => booleanIntersects(cell, point))!;
        expect([closer.id, closer.properties], `${layer} at z${zoom}`).toEqual([around.id, around.properties]);
      }
    }
  });

  it('draws the map’s grids as boundaries and names for everyone, and their metrics only for those who watch coverage', async () => {
    const tile = tileAt(first.lon, first.lat, 14);
    for (const user of ['resident', 'volunteer', 'leader', 'admin']) {
      const grids = await decoded(as[user], 'grids', tile);
      expect(grids.length).toBeGreaterThan(0);
      for (const grid of grids)
        expect(Object.keys(grid.properties).sort(), user).toEqual(['code', 'community_id', 'community_name', 'name']);
    }
    expect((await decoded(as.leader, 'grid_coverage', tile))[0].properties).toHaveProperty('members');
    for (const user of ['resident', 'volunteer']) {
      const refused = await fetchTile(as[user], 'grid_coverage', tile);
      expect(refused.status, user).toBe(403);
      expect((await request(as[user]).get('/tiles/grid_coverage.json')).status, user).toBe(403);
    }
  });

  it('writes each community’s and grid’s name once, at a point inside it, whatever tiles its outline crosses', async () => {
    // every tile over the viewer's areas at a zoom where their outlines cross many tiles
    const z = 15;
    for (const layer of ['communities', 'grids'] as const) {
      const {
        rows: [box],
      } = await sql<{ w: number; s: number; e: number; n: number }>`
        select ST_XMin(b) as w, ST_YMin(b) as s, ST_XMax(b) as e, ST_YMax(b) as n
        from (select ST_Extent(geom) as b from communities where street_code = ${first.street}) c`.execute(db());
      const [, x0, y0] = tileAt(box.w, box.n, z);
      const [, x1, y1] = tileAt(box.e, box.s, z);
      const labels: Feature<Geometry, Record<string, number | string | boolean>>[] = [];
      let pieces = 0;
      for (let x = x0; x <= x1; x++) {
        for (let y = y0; y <= y1; y++) {
          const res = await fetchTile(as.leader, layer, [z, x, y]);
          if (res.status === 204) continue;
          labels.push(...decode(res.bytes, `${layer}_label`, [z, x, y]));
          pieces += decode(res.bytes, layer, [z, x, y]).length;
        }
      }
      const { rows: areas } = await sql<{ id: number; code: string; name: string }>`
        select a.id, a.code, a.name from ${sql.table(layer)} a
        join communities c on c.id = ${sql.ref(layer === 'grids' ? 'a.community_id' : 'a.id')}
        where c.street_code = ${first.street} order by a.id`.execute(db());
      expect(pieces, `${layer}: outlines cross tiles`).toBeGreaterThan(areas.length);
      expect(ids(labels), layer).toEqual(areas.map((a) => a.id));
      for (const label of labels) {
        const area = areas.find((a) => a.id === Number(label.id))!;
        expect(label.geometry.type).toBe('Point');
        expect(label.properties).toEqual({ code: area.code, name: area.name });
        // inside, to the tile unit the point was snapped to
        const {
          rows: [inside],
        } = await sql<{ metres: number }>`
          select ST_Distance(geom::geography, ST_SetSRID(ST_GeomFromGeoJSON(${JSON.stringify(label.geometry)}), 4326)::geography) as metres
          from ${sql.table(layer)} where id = ${area.id}`.execute(db());
        expect(inside.metres, `${layer} ${area.name}`).toBeLessThan(40075016.7 / 2 ** z / 4096);
      }
    }
  });

  it('draws no hexagon over fewer than three homes for a leader: a lone farmhouse’s members are its own', async () => {
    const at = { lon: first.lon + 0.3, lat: first.lat };
    await sql`insert into communities (code, name, street_code, geom)
              values ('610602001099', '偏远社区', ${first.street}, ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(${at.lon}, ${at.lat}), 4326), 0.01)))`.execute(
      db(),
    );
    const home = async (dx: number) => {
      await sql`insert into buildings (name, households, residents, geom)
                values ('农房', 1, 3, ST_Buffer(ST_SetSRID(ST_MakePoint(${at.lon + dx}, ${at.lat}), 4326), 0.00005, 2))`.execute(db());
      await sql`insert into members (name, category, is_volunteer, availability, geom)
                values ('党员', 'resident', true, 'available', ST_SetSRID(ST_MakePoint(${at.lon + dx}, ${at.lat}), 4326))`.execute(db());
    };
    await home(0);
    const tile = tileAt(at.lon, at.lat, 14);
    const counts = async (user: string, layer: string) => {
      const res = await fetchTile(as[user], layer, tile);
      return res.status === 204 ? [] : decode(res.bytes, layer, tile).map((cell) => cell.properties.count);
    };
    expect(await counts('admin', 'members')).toEqual([1]);
    expect(await counts('leader', 'members')).toEqual([]);
    expect(await counts('leader', 'volunteers')).toEqual([]);
    // three homes in the cell (a few tens of metres apart): counted
    await home(0.0003);
    await home(0.0006);
    expect(await counts('leader', 'members')).toEqual([3]);
    expect(await counts('leader', 'volunteers')).toEqual([3]);
  });

  it('answers a tile with nothing in it, or below a layer’s zoom range, with 204', async () => {
    expect((await fetchTile(as.admin, 'buildings', tileAt(100, 10, 15))).status).toBe(204);
    expect((await fetchTile(as.admin, 'buildings', tileAt(first.lon, first.lat, 10))).status).toBe(204);
    expect((await fetchTile(as.admin, 'members', tileAt(first.lon, first.lat, 9))).status).toBe(204);
  });
});

describe('standard readers', () => {
  it.runIf(haveGdal)('opens every layer with GDAL’s MVT driver, features where the database has them', async () => {
    // each layer in the tile around the first community; a label layer in the tile of the first area's label
    const { rows: labelled } = await sql<{ layer: string; lon: number; lat: number }>`
      select 'communities' as layer, ST_X(p) as lon, ST_Y(p) as lat from (select label_point(geom) as p from communities where id = ${first.community}) c
      union all
      select 'grids', ST_X(p), ST_Y(p) from (select label_point(geom) as p from grids where community_id = ${first.community} order by id limit 1) g`.execute(
      db(),
    );
    const reads = TILE_LAYERS.flatMap((layer) => [
      { layer: layer.name, name: layer.name, tile: tileAt(first.lon, first.lat, 15) },
      ...labelled
        .filter((l) => l.layer === layer.name)
        .map((l) => ({ layer: l.layer, name: `${l.layer}_label`, tile: tileAt(l.lon, l.lat, 15) })),
    ]);
    expect(reads.map((r) => r.name)).toContain('grids_label');
    for (const { layer, name, tile } of reads) {
      const [z, x, y] = tile;
      const res = await fetchTile(as.admin, layer, tile);
      expect(res.status, name).toBe(200);
      const file = join(dir, `${name}.mvt`);
      await writeFile(file, res.bytes);
      const out = JSON.parse(
        execFileSync(
          OGR2OGR,
          [
            '-f',
            'GeoJSON',
            '/vsistdout/',
            '-t_srs',
            'EPSG:4326',
            '-oo',
            `Z=${z}`,
            '-oo',
            `X=${x}`,
            '-oo',
            `Y=${y}`,
            '-oo',
            'CLIP=NO',
            `MVT:${file}`,
            name,
          ],
          { encoding: 'utf8' },
        ),
      ) as { name: string; features: Feature<Geometry, Record<string, unknown>>[] };
      expect(out.name).toBe(name);
      const mapbox = decode(res.bytes, name, tile);
      expect(mapbox.length, name).toBeGreaterThan(0);
      expect(out.features.length, name).toBe(mapbox.length);
      if (name === 'buildings' || name === 'issues') {
        // each feature where the stored row is (clipped to the tile and its buffer as the tile clips it): centroids within a metre
        const { rows: far } = await sql<{ id: number; metres: number }>`
          select t.id, ST_Distance(ST_Centroid(ST_SetSRID(ST_GeomFromGeoJSON(f.value->>'geometry'), 4326))::geography,
                                   ST_Centroid(ST_Intersection(t.geom, ST_Transform(ST_Expand(ST_TileEnvelope(${z}::int, ${x}::int, ${y}::int),
                                     64 * 40075016.685578488 / 2 ^ ${z}::int / 4096), 4326)))::geography) as metres
          from json_array_elements(${JSON.stringify(out.features)}::json) f
          join ${sql.table(name)} t on t.id = (f.value->'properties'->>'mvt_id')::int`.execute(db());
        expect(far.length).toBe(out.features.length);
        for (const { id, metres } of far) expect(metres, `${name} ${id}`).toBeLessThan(1);
      }
    }
  });

  it.runIf(mode === 'server')('makes the same tiles with ST_AsMVT as with tile_geometry and vt-pbf', async () => {
    const [admin] = await findUsers(db(), { username: 'admin' });
    const viewer = viewerOf(admin);
    for (const layer of TILE_LAYERS) {
      for (const zoom of [13, 16]) {
        const tile = tileAt(first.lon, first.lat, zoom);
        const [postgisBytes, javascriptBytes] = await Promise.all([
          renderTile(db(), 'postgis', layer, ...tile, viewer),
          renderTile(db(), 'javascript', layer, ...tile, viewer),
        ]);
        for (const name of vectorLayerNames(layer)) {
          const postgis = decode(postgisBytes, name, tile);
          const javascript = decode(javascriptBytes, name, tile);
          expect(javascript.length, `${name} z${zoom}`).toBe(postgis.length);
          const key = (f: Feature) => JSON.stringify([f.id, f.properties]);
          expect(javascript.map(key).sort()).toEqual(postgis.map(key).sort());
          const boxes = (features: Feature[]) =>
            new Map(
              features.map((f) => {
                const points = JSON.stringify(f.geometry)
                  .match(/-?\d+\.?\d*,-?\d+\.?\d*/g)!
                  .map((p) => p.split(',').map(Number));
                return [
                  key(f),
                  [
                    Math.min(...points.map((p) => p[0])),
                    Math.min(...points.map((p) => p[1])),
                    Math.max(...points.map((p) => p[0])),
                    Math.max(...points.map((p) => p[1])),
                  ],
                ];
              }),
            );
          const expected = boxes(postgis);
          // the same shapes to a tile unit (at z13, ~5 m)
          const unit = 360 / 2 ** zoom / 4096;
          for (const [k, box] of boxes(javascript))
            box.forEach((v, i) => expect(Math.abs(v - expected.get(k)![i]), `${name} z${zoom}`).toBeLessThanOrEqual(2 * unit));
        }
      }
    }
  });
});

describe('the tile cache', () => {
  it('serves a tile again from the cache, 304 to a client that has it', async () => {
    const tile = tileAt(first.lon, first.lat, 16);
    const once = await fetchTile(as.admin, 'buildings', tile);
    const twice = await fetchTile(as.admin, 'buildings', tile);
    expect(twice.cache).toBe('hit');
    expect(twice.etag).toBe(once.etag);
    expect(Buffer.compare(twice.bytes, once.bytes)).toBe(0);
    expect((await fetchTile(as.admin, 'buildings', tile, { 'If-None-Match': once.etag })).status).toBe(304);
  });

  it('forgets the tiles a write changes, where it changes them, and keeps the others', async () => {
    const {
      rows: [building],
    } = await sql<{ id: number; lon: number; lat: number; households: number; version: number }>`
      select id, ST_X(ST_Centroid(geom)) as lon, ST_Y(ST_Centroid(geom)) as lat, households, version
      from buildings where community_id = ${first.community} and households > 0 order by id limit 1`.execute(db());
    const {
      rows: [far],
    } = await sql<{ lon: number; lat: number }>`
      select ST_X(ST_PointOnSurface(geom)) as lon, ST_Y(ST_PointOnSurface(geom)) as lat from communities where street_code <> ${first.street} order by id desc limit 1`.execute(
      db(),
    );
    const here = tileAt(building.lon, building.lat, 16);
    const there = tileAt(far.lon, far.lat, 16);
    const gridsHere = tileAt(building.lon, building.lat, 14);
    const before = await fetchTile(as.admin, 'buildings', here);
    await fetchTile(as.admin, 'buildings', there);
    const gridsBefore = decode((await fetchTile(as.admin, 'grid_coverage', gridsHere)).bytes, 'grid_coverage', gridsHere);
    await fetchTile(as.admin, 'grids', gridsHere);
    expect((await fetchTile(as.admin, 'buildings', here)).cache).toBe('hit');

    const res = await request(as.admin)
      .patch(`/api/v1/buildings/${building.id}`)
      .set('If-Match', `"${building.version}"`)
      .send({ properties: { households: building.households + 7 } });
    expect(res.status, res.text).toBe(200);

    const after = await fetchTile(as.admin, 'buildings', here);
    expect(after.cache).toBe('miss');
    expect(after.etag).not.toBe(before.etag);
    expect(decode(after.bytes, 'buildings', here).find((f) => Number(f.id) === building.id)!.properties.households).toBe(
      building.households + 7,
    );
    expect((await fetchTile(as.admin, 'buildings', there)).cache).toBe('hit');
    // the grid around it counts the new households in the coverage view's layer
    const gridsAfter = await fetchTile(as.admin, 'grid_coverage', gridsHere);
    expect(gridsAfter.cache).toBe('miss');
    const households = (features: typeof gridsBefore) => features.reduce((s, f) => s + Number(f.properties.households), 0);
    expect(households(decode(gridsAfter.bytes, 'grid_coverage', gridsHere))).toBe(households(gridsBefore) + 7);
    // the map's grids, boundaries and names, are not made again for a building's households
    expect((await fetchTile(as.admin, 'grids', gridsHere)).cache).toBe('hit');
  });
});

describe('the tile cache, when writes race it', () => {
  it('forgets the grids around a volunteer who moves: reach counts where it is now', async () => {
    const {
      rows: [far],
    } = await sql<{ lon: number; lat: number; grid: number }>`
      select ST_X(c) as lon, ST_Y(c) as lat, id as grid from (select id, ST_PointOnSurface(geom) as c from grids order by id desc limit 1) g`.execute(
      db(),
    );
    const tile = tileAt(far.lon, far.lat, 14);
    const reached = async () =>
      decode((await fetchTile(as.admin, 'grid_coverage', tile)).bytes, 'grid_coverage', tile).find((f) => Number(f.id) === far.grid)!
        .properties.households_reached;
    const before = await reached();
    expect((await fetchTile(as.admin, 'grid_coverage', tile)).cache).toBe('hit');
    // the demo volunteer walks into that grid, far from home, on duty
    const moved = await request(as.volunteer)
      .patch('/api/v1/volunteers/me')
      .send({ availability: 'available', current_point: { type: 'Point', coordinates: [far.lon, far.lat] } });
    expect(moved.status, moved.text).toBe(200);
    const api = (
      await request(as.admin).get(
        `/api/v1/coverage/grids?community=${(await sql<{ c: number }>`select community_id as c from grids where id = ${far.grid}`.execute(db())).rows[0].c}`,
      )
    ).body;
    const now = api.features.find((f: { id: number }) => f.id === far.grid).properties.households_reached;
    expect(await reached()).toBe(now);
    await request(as.volunteer).patch('/api/v1/volunteers/me').send({ current_point: null });
    expect(now).toBeGreaterThanOrEqual(Number(before));
  });

  it('forgets a leader’s grids within reach of where a moved volunteer now is', async () => {
    // B: a building alone in a small grid far out of town; P: where the volunteer goes, 480 m north of it (reach 500 m)
    const {
      rows: [p],
    } = await sql<{ plon: number; plat: number; blon: number; blat: number }>`
      select ST_X(b) as blon, ST_Y(b) as blat, ST_X(p::geometry) as plon, ST_Y(p::geometry) as plat
      from (select ST_SetSRID(ST_MakePoint(${first.lon + 0.5}, ${first.lat}), 4326) as b) q,
      lateral (select ST_Project(q.b::geography, 480, 0) as p) r`.execute(db());
    await sql`insert into streets (code, name, district_code) values ('610602097', '远郊街道', '610602')`.execute(db());
    const square = (lon: number, lat: number, half: number) =>
      sql`ST_MakeEnvelope(${lon - half}, ${lat - half}, ${lon + half}, ${lat + half}, 4326)`;
    const {
      rows: [{ id: community }],
    } = await sql<{ id: number }>`
      insert into communities (code, name, street_code, geom) values ('610602097001', '远郊社区', '610602097', ST_Multi(${square(p.blon, p.blat, 0.02)})) returning id`.execute(
      db(),
    );
    const {
      rows: [{ id: grid }],
    } = await sql<{ id: number }>`
      insert into grids (community_id, code, name, geom) values (${community}, '610602097001001', '远郊网格', ${square(p.blon, p.blat, 0.0006)}) returning id`.execute(
      db(),
    );
    await sql`insert into buildings (name, households, residents, geom) values ('远郊楼', 1, 2, ${square(p.blon, p.blat, 0.00005)})`.execute(
      db(),
    );
    await sql`insert into users (username, password_hash, role, scope_street_code) values ('far_leader', 'x', 'leader', '610602097')`.execute(
      db(),
    );
    const leader = await testApp(test.database, { as: 'far_leader' });
    const tile = tileAt(p.blon, p.blat, 15);
    const reached = async () =>
      decode((await fetchTile(leader, 'grid_coverage', tile)).bytes, 'grid_coverage', tile).find((f) => Number(f.id) === grid)!.properties
        .households_reached;
    expect(await reached()).toBe(0);
    expect((await fetchTile(leader, 'grid_coverage', tile)).cache).toBe('hit');
    const moved = await request(as.volunteer)
      .patch('/api/v1/volunteers/me')
      .send({ availability: 'available', current_point: { type: 'Point', coordinates: [p.plon, p.plat] } });
    expect(moved.status, moved.text).toBe(200);
    expect(await reached()).toBe(1);
    expect(
      (await request(leader).get(`/api/v1/coverage/grids?community=${community}`)).body.features[0].properties.households_reached,
    ).toBe(1);
    await request(as.volunteer).patch('/api/v1/volunteers/me').send({ current_point: null });
    expect(await reached()).toBe(0);
  });

  it('serves a cached tile from memory while the database says nothing changed, and forgets it within a second when it does', async () => {
    const {
      rows: [b],
    } = await sql<{ id: number; lon: number; lat: number }>`
      select id, ST_X(ST_Centroid(geom)) as lon, ST_Y(ST_Centroid(geom)) as lat from buildings where households > 0 order by id desc limit 1`.execute(
      db(),
    );
    const tile = tileAt(b.lon, b.lat, 16);
    const households = async () =>
      decode((await fetchTile(as.admin, 'buildings', tile)).bytes, 'buildings', tile).find((f) => Number(f.id) === b.id)!.properties
        .households;
    const before = await households();
    // once it listens (the first request starts it), a tile made is served from memory
    await new Promise((resolve) => setTimeout(resolve, 300));
    await households();
    expect((await fetchTile(as.admin, 'buildings', tile)).cache).toBe('hit');
    // a write the database does not tell of goes unseen: nothing asked the log
    await sql`alter table audit_log disable trigger map_changed`.execute(db());
    try {
      await sql`update buildings set households = households + 1 where id = ${b.id}`.execute(db());
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await households()).toBe(before);
    } finally {
      await sql`alter table audit_log enable trigger map_changed`.execute(db());
    }
    // told, it reads the log: both writes show
    await sql`update buildings set households = households + 1 where id = ${b.id}`.execute(db());
    const started = Date.now();
    while ((await households()) !== Number(before) + 2) {
      expect(Date.now() - started).toBeLessThan(1000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  it('keeps no tile rendered before a write that a look in between dropped', async () => {
    const [admin] = await findUsers(db(), { username: 'admin' });
    const cache = new TileCache(db(), { maxBytes: 2 ** 20, maxAgeMs: 60_000 });
    const {
      rows: [b],
    } = await sql<{ id: number; lon: number; lat: number }>`
      select id, ST_X(ST_Centroid(geom)) as lon, ST_Y(ST_Centroid(geom)) as lat from buildings where households > 0 order by id limit 1`.execute(
      db(),
    );
    const tile = tileAt(b.lon, b.lat, 16);
    const box: [number, number, number, number] = [b.lon - 0.01, b.lat - 0.01, b.lon + 0.01, b.lat + 0.01];
    await cache.sync();
    // one request renders what was (its ticket taken first) ...
    const ticket = cache.ticket();
    const stale = await renderTile(db(), 'javascript', tileLayer('buildings')!, ...tile, viewerOf(admin));
    // ... a write commits, and another request's look drops the tiles it touches (none stored yet) ...
    await sql`update buildings set households = households + 100 where id = ${b.id}`.execute(db());
    await cache.sync();
    // ... so the first request's tile is served to it but not kept
    cache.set('stale', { bytes: stale, layer: 'buildings', box }, ticket);
    expect(cache.get('stale')).toBeUndefined();
    cache.set('fresh', { bytes: stale, layer: 'buildings', box }, cache.ticket());
    expect(cache.get('fresh')).toBeDefined();
  });

  it('counts what every tile costs, empty ones too', () => {
    const cache = new TileCache(db(), { maxBytes: 64 * 1024, maxAgeMs: 60_000 });
    for (let i = 0; i < 1000; i++) cache.set(`members/22/${i}/0`, { bytes: Buffer.alloc(0), layer: 'members', box: [0, 0, 1, 1] }, 0);
    expect(cache.size).toBeLessThanOrEqual(64);
    expect(cache.get('members/22/999/0')).toBeDefined();
    expect(cache.get('members/22/0/0')).toBeUndefined();
  });

  it('forgets every layer under a boundary that moves a community to another street', async () => {
    const {
      rows: [c],
    } = await sql<{ id: number; version: number; code: string; lon: number; lat: number; building: number }>`
      select c.id, c.version, c.code, ST_X(ST_PointOnSurface(c.geom)) as lon, ST_Y(ST_PointOnSurface(c.geom)) as lat,
             (select min(id) from buildings where community_id = c.id) as building
      from communities c where street_code = ${first.street} order by id desc limit 1`.execute(db());
    const {
      rows: [other],
    } = await sql<{ code: string }>`select code from streets where code <> ${first.street} order by code limit 1`.execute(db());
    const {
      rows: [b],
    } = await sql<{
      lon: number;
      lat: number;
    }>`select ST_X(ST_Centroid(geom)) as lon, ST_Y(ST_Centroid(geom)) as lat from buildings where id = ${c.building}`.execute(db());
    const tile = tileAt(b.lon, b.lat, 16);
    expect(ids(await decoded(as.leader, 'buildings', tile))).toContain(c.building);
    const res = await request(as.admin)
      .patch(`/api/v1/communities/${c.id}`)
      .set('If-Match', `"${c.version}"`)
      .send({ properties: { street_code: other.code, code: `${other.code}099` } });
    expect(res.status, res.text).toBe(200);
    const after = await fetchTile(as.leader, 'buildings', tile);
    expect(after.cache).toBe('miss');
    expect(after.status === 204 ? [] : ids(decode(after.bytes, 'buildings', tile))).not.toContain(c.building);
  });
});

describe('TileJSON', () => {
  it('describes each layer: absolute tile URLs, zoom range, bounds and fields', async () => {
    for (const layer of TILE_LAYERS) {
      const res = await request(as.admin).get(`/tiles/${layer.name}.json`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        tilejson: '3.0.0',
        minzoom: layer.minzoom,
        maxzoom: layer.maxzoom,
        vector_layers: [
          { id: layer.name, fields: layer.fields },
          ...(layer.labelled ? [{ id: `${layer.name}_label`, fields: { code: 'String', name: 'String' } }] : []),
        ],
      });
      expect(res.body.vector_layers).toHaveLength(layer.labelled ? 2 : 1);
      expect(res.body.tiles).toEqual([
        expect.stringMatching(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/tiles/${layer.name}/\\{z\\}/\\{x\\}/\\{y\\}\\.mvt$`)),
      ]);
      const [w, s, e, n] = res.body.bounds as number[];
      expect(w).toBeLessThan(first.lon);
      expect(e).toBeGreaterThan(first.lon);
      expect(s).toBeLessThan(first.lat);
      expect(n).toBeGreaterThan(first.lat);
    }
  });

  it('lists the fields the viewer’s tiles carry: a resident’s grids have names only, a dispatcher’s coverage no count of all members', async () => {
    const tile = tileAt(first.lon, first.lat, 14);
    for (const [user, layer] of [
      ['resident', 'grids'],
      ['dispatcher', 'grid_coverage'],
      ['leader', 'grid_coverage'],
    ]) {
      const { body } = await request(as[user]).get(`/tiles/${layer}.json`);
      const fields = Object.keys(body.vector_layers[0].fields).sort();
      const carried = [...new Set((await decoded(as[user], layer, tile)).flatMap((f) => Object.keys(f.properties)))].sort();
      // every field listed is carried (a null metric, median days with none closed, may be left out of a tile)
      expect(
        carried.every((field) => fields.includes(field)),
        user,
      ).toBe(true);
      expect(
        fields.filter((field) => !carried.includes(field)).every((field) => field === 'median_days_to_close'),
        `${user}: ${fields.filter((f) => !carried.includes(f))}`,
      ).toBe(true);
    }
    expect(Object.keys((await request(as.resident).get('/tiles/grids.json')).body.vector_layers[0].fields).sort()).toEqual([
      'code',
      'community_id',
      'community_name',
      'name',
    ]);
  });
});

describe('TileJSON behind a proxy', () => {
  it('writes tile URLs where clients reach the server: a trusted proxy’s forwarded host, or PUBLIC_URL, never any Host sent', async () => {
    const tiles = async (app: Express, headers: Record<string, string>) =>
      (await request(app).get('/tiles/grids.json').set(headers)).body.tiles[0] as string;
    const forwarded = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'grid.example.gov.cn' };
    const behindProxy = await testApp(test.database, { env: { TRUST_PROXY: 'true' } });
    expect(await tiles(behindProxy, forwarded)).toBe('https://grid.example.gov.cn/tiles/grids/{z}/{x}/{y}.mvt');
    // not trusted: forwarded headers are anyone's to send
    expect(await tiles(as.admin, forwarded)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/tiles\/grids\//);
    const named = await testApp(test.database, { env: { PUBLIC_URL: 'https://grid.example.gov.cn' } });
    expect(await tiles(named, { Host: 'evil.example' })).toBe('https://grid.example.gov.cn/tiles/grids/{z}/{x}/{y}.mvt');
  });
});

describe('bad requests and access', () => {
  it.each([
    ['/tiles/buildings/23/0/0.mvt', 400, 'z'],
    ['/tiles/buildings/2/4/0.mvt', 400, 'x'],
    ['/tiles/buildings/2/0/-1.mvt', 400, 'y'],
    ['/tiles/buildings/2/0/y.mvt', 400, 'y'],
    ['/tiles/households/2/0/0.mvt', 404, 'layer'],
    ['/tiles/households.json', 404, 'layer'],
    ['/tiles/grids/13/6587/3200.mvt?reach_m=100', 400, 'reach_m'],
    ['/tiles/grids.json?foo=1', 400, 'foo'],
    ['/tiles/grids/13/6587/3200.png', 404, 'path'],
    ['/tiles/grids/13/6587.mvt', 404, 'path'],
  ])('%s: %i naming %s', async (path, status, field) => {
    const res = await request(as.admin).get(path);
    expect(res.status).toBe(status);
    expect(res.type).toBe('application/problem+json');
    expect(res.body.field).toBe(field);
  });

  it('asks who is calling, and refuses layers a role may not read', async () => {
    const tile = tileAt(first.lon, first.lat, 14);
    expect((await fetchTile(as.anonymous, 'grids', tile)).status).toBe(401);
    expect((await fetchTile(as.resident, 'members', tile)).status).toBe(403);
    expect((await request(as.resident).get('/tiles/volunteers.json')).status).toBe(403);
    // a dispatcher reads only volunteers: hexagons of "members" would be volunteers under another name
    expect((await fetchTile(as.dispatcher, 'members', tile)).status).toBe(403);
    expect((await request(as.dispatcher).get('/tiles/members.json')).status).toBe(403);
    expect((await decoded(as.dispatcher, 'volunteers', tileAt(first.lon, first.lat, 12))).length).toBeGreaterThan(0);
    // a volunteer counts only itself
    const cells = await decoded(as.volunteer, 'members', tileAt(first.lon, first.lat, 10));
    expect(cells.reduce((s, f) => s + Number(f.properties.count), 0)).toBe(1);
  });
});

describe('a grid stored invalid', () => {
  it('is drawn no larger than it is by either encoder: a bow-tie, a spike or a crossed sliver never fills a tile', async () => {
    const [admin] = await findUsers(db(), { username: 'admin' });
    const encoders = mode === 'server' ? (['postgis', 'javascript'] as const) : (['javascript'] as const);
    // far from the demo city, one shape to a place; written past the checks, as an old import or a bug would leave it
    const d = 0.01;
    const shapes = [
      // a bow-tie
      (x: number, y: number) => `POLYGON((${x} ${y},${x + d} ${y + d},${x + d} ${y},${x} ${y + d},${x} ${y}))`,
      // a square with a zero-width spike along its south edge
      (x: number, y: number) =>
        `POLYGON((${x} ${y},${x + d} ${y},${x + 2 * d} ${y},${x + d} ${y},${x + d} ${y + d},${x} ${y + d},${x} ${y}))`,
      // a sliver a metre wide that crosses itself
      (x: number, y: number) => `POLYGON((${x} ${y},${x + d} ${y + 1e-5},${x + d} ${y},${x} ${y + 1e-5},${x} ${y}))`,
    ].map((shape, k) => shape(112.5 + 0.05 * k, 37.5));
    await sql`alter table grids drop constraint grids_geom_check`.execute(db());
    await db()
      .transaction()
      .execute(async (trx) => {
        await sql`set local session_replication_role = replica`.execute(trx);
        await sql`insert into grids (community_id, code, name, geom)
        select ${first.community}, '99999999999900' || k, '无效网格', ST_GeomFromText(wkt, 4326) from unnest(${shapes}::text[]) with ordinality as s(wkt, k)`.execute(
          trx,
        );
      });
    for (const wkt of shapes) {
      const {
        rows: [box],
      } = await sql<{ west: number; south: number; east: number; north: number }>`
        select ST_XMin(g) as west, ST_YMin(g) as south, ST_XMax(g) as east, ST_YMax(g) as north from ST_GeomFromText(${wkt}) g`.execute(
        db(),
      );
      for (const z of [15, 17]) {
        const [, x0, y0] = tileAt(box.west, box.north, z);
        const [, x1, y1] = tileAt(box.east, box.south, z);
        for (let x = x0; x <= x1; x++) {
          for (let y = y0; y <= y1; y++) {
            const tile: Tile = [z, x, y];
            // the area the shape really covers in the tile and its buffer, made valid, in Web Mercator m²
            const {
              rows: [{ truth, tile_m2 }],
            } = await sql<{ truth: number; tile_m2: number }>`
              select ST_Area(ST_Intersection(ST_CollectionExtract(ST_MakeValid(ST_Transform(ST_GeomFromText(${wkt}, 4326), 3857)), 3), e)) as truth, ST_Area(e) as tile_m2
              from ST_Expand(ST_TileEnvelope(${z}::int, ${x}::int, ${y}::int), 64 * 40075016.685578488 / 2 ^ ${z}::int / 4096) e`.execute(
              db(),
            );
            for (const encoder of encoders) {
              const drawn = decode(await renderTile(db(), encoder, tileLayer('grids')!, ...tile, viewerOf(admin)), 'grids', tile).filter(
                (f) => f.properties.name === '无效网格',
              );
              const {
                rows: [{ m2 }],
              } = await sql<{ m2: number }>`
                select coalesce(sum(ST_Area(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(f->>'geometry'), 4326), 3857))), 0) as m2
                from json_array_elements(${JSON.stringify(drawn)}::json) f`.execute(db());
              expect(m2, `${encoder} ${tile.join('/')} ${wkt}`).toBeLessThan(truth + 0.01 * tile_m2);
            }
          }
        }
      }
    }
  });
});
