import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VectorTile } from '@mapbox/vector-tile';
import type { Express } from 'express';
import { sql } from 'kysely';
import { PbfReader } from 'pbf';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../server/db/database.ts';
import { MIGRATIONS_DIR, migrate } from '../server/db/migrate.ts';
import { testApp } from './support/app.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * Districts and streets as map layers (issue 18): on the demo city, coverage per street and district adds up
 * to its communities'; then on an emptied map, an admin builds a city from nothing through the API and
 * the import, and everyone else reads them in their scope.
 */

const square = (lon: number, lat: number, side: number) => ({
  type: 'Polygon',
  coordinates: [
    [
      [lon, lat],
      [lon + side, lat],
      [lon + side, lat + side],
      [lon, lat + side],
      [lon, lat],
    ],
  ],
});
const feature = (geometry: unknown, properties: Record<string, unknown>) => ({ type: 'Feature', geometry, properties });
const collection = (...features: unknown[]) => JSON.stringify({ type: 'FeatureCollection', features });

type Props = Record<string, number | string | null>;
const byCode = (features: { properties: Props }[]) => Object.fromEntries(features.map((f) => [f.properties.code, f.properties]));

let test: TestDatabase;
const db = () => test.database.db;

beforeAll(async () => {
  test = await openTestDatabase();
});
afterAll(() => test?.drop());

describe('coverage per street and district (demo city)', () => {
  it('counts what its communities count: sums of counts, rates from the sums', async () => {
    const app = await testApp(test.database, { as: 'admin' });
    const communities = (await request(app).get('/api/v1/coverage/communities').expect(200)).body.features as { properties: Props }[];
    const streets = byCode((await request(app).get('/api/v1/coverage/streets').expect(200)).body.features);
    const districts = byCode((await request(app).get('/api/v1/coverage/districts').expect(200)).body.features);
    expect(Object.keys(streets)).toEqual(['610602001', '610602002']);
    expect(Object.keys(districts)).toEqual(['610602']);

    const summed = ['households', 'residents', 'buildings', 'members', 'volunteers', 'households_reached', 'open_issues', 'closed_issues'];
    const sum = (rows: Props[], key: string) => rows.reduce((total, r) => total + Number(r[key]), 0);
    for (const [code, street] of Object.entries(streets) as [string, Props][]) {
      const own = communities.map((f) => f.properties).filter((c) => c.street_code === code);
      expect(street.communities).toBe(own.length);
      for (const key of summed) expect(street[key], `${code} ${key}`).toBe(sum(own, key));
      expect(street.volunteer_reach).toBe(Math.round((Number(street.households_reached) / Number(street.households)) * 10000) / 10000);
    }
    const district = districts['610602'];
    expect(district).toMatchObject({ streets: 2, communities: communities.length });
    for (const key of summed) expect(district[key], key).toBe(sum(Object.values(streets), key));
    expect(sum(Object.values(streets), 'members')).toBeGreaterThan(0);
    // a rate of the sums, not the average of the streets' rates
    expect(district.members_per_100_households).toBe(
      Math.round(((100 * Number(district.members)) / Number(district.households)) * 100) / 100,
    );
  });

  it('shows a street-scoped leader its own street and district only; bad parameters are named', async () => {
    const leader = await testApp(test.database, { as: 'leader' });
    const streets = (await request(leader).get('/api/v1/coverage/streets').expect(200)).body.features;
    expect(streets).toHaveLength(1);
    expect((await request(leader).get('/api/v1/coverage/districts').expect(200)).body.features).toHaveLength(1);
    // their figures where the leader reads all their communities (its street); none for the district, whose
    // figures less the street's would be the other street's, which the leader does not read
    const admin = await testApp(test.database, { as: 'admin' });
    const street = byCode(streets)[streets[0].properties.code];
    const asAdmin = byCode((await request(admin).get('/api/v1/coverage/streets').expect(200)).body.features)[street.code!];
    expect(street).toMatchObject({
      figures_withheld: false,
      households: asAdmin.households,
      open_issues: asAdmin.open_issues,
      volunteer_reach: asAdmin.volunteer_reach,
    });
    expect(Number(street.households)).toBeGreaterThan(0);
    const [district] = (await request(leader).get('/api/v1/coverage/districts').expect(200)).body.features;
    // what it holds is the map's frame, public: named and counted
    expect(district.properties).toMatchObject({ code: '610602', name: '宝塔区', figures_withheld: true, streets: 2 });
    expect(district.geometry).not.toBeNull();
    const figures = [
      'households',
      'residents',
      'buildings',
      'members',
      'volunteers',
      'households_reached',
      'volunteer_reach',
      'members_per_100_households',
      'open_issues',
      'overdue_issues',
      'closed_issues',
      'closure_rate',
      'median_days_to_close',
    ];
    for (const key of figures) expect(district.properties[key], key).toBeNull();
    const [whole] = (await request(admin).get('/api/v1/coverage/districts').expect(200)).body.features;
    expect(whole.properties).toMatchObject({ figures_withheld: false, communities: district.properties.communities });
    expect(whole.properties.households).toBeGreaterThan(Number(street.households));
    // a community's secretary: its street is more than its community
    const secretary = await testApp(test.database, { as: 'secretary' });
    const [own] = (await request(secretary).get('/api/v1/coverage/streets').expect(200)).body.features;
    expect(own.properties).toMatchObject({ figures_withheld: true, households: null, volunteers: null });
    expect((await request(leader).get('/api/v1/coverage/streets?district=61060').expect(400)).body.field).toBe('district');
    expect((await request(leader).get('/api/v1/coverage/districts?district=999999').expect(404)).body.field).toBe('district');
    expect((await request(leader).get('/api/v1/coverage/districts?street=610602001').expect(400)).body.field).toBe('street');
    const resident = await testApp(test.database, { as: 'resident' });
    await request(resident).get('/api/v1/coverage/streets').expect(403);
  });

  it('draws the demo streets from their communities, and names the district once, in districts', async () => {
    const { rows } = await sql<{ code: string; same: boolean; derived: boolean }>`
      select s.code, ST_Equals(s.geom, (select ST_Union(geom) from communities where street_code = s.code)) as same,
             s.boundary_from_communities as derived
      from streets s order by s.code`.execute(db());
    expect(rows).toEqual([
      { code: '610602001', same: true, derived: true },
      { code: '610602002', same: true, derived: true },
    ]);
    const app = await testApp(test.database, { as: 'planner' });
    const community = (await request(app).get('/api/v1/communities?limit=1').expect(200)).body.features[0];
    expect(community.properties).toMatchObject({ district_code: '610602', district_name: '宝塔区' });
    const tree = (await request(app).get(`/api/v1/communities/${community.id}/tree`).expect(200)).body;
    expect(tree.district).toMatchObject({ code: '610602', name: '宝塔区' });
    expect(tree.street).toMatchObject({ code: community.properties.street_code, name: community.properties.street_name });
  });
});

describe('sql/021_areas.sql on a map made before it', () => {
  it('makes the districts from the streets, names each once, and draws boundaries from the communities', async () => {
    const before = await mkdtemp(join(tmpdir(), 'gridmap-areas-'));
    const empty = mode === 'server' ? await openTestDatabase({ empty: true }) : { database: await openDatabase({}), drop: async () => {} };
    const { db } = empty.database;
    try {
      // the map as the migrations before 021 left it, without the files of record (which read today's tables)
      await cp(MIGRATIONS_DIR, before, {
        recursive: true,
        filter: (file) => !/\/(02[1-9]|0[3-9]\d)_[^/]*$/.test(file) && !file.startsWith(join(MIGRATIONS_DIR, 'schema')),
      });
      await mkdir(join(before, 'schema'));
      await migrate(db, before);
      await sql`
        insert into streets (code, name, district_code, district_name)
        values ('610602001', '南市街道', '610602', '宝塔区'), ('610602002', '凤凰山街道', '610602', '宝塔区'), ('610621001', '七里村街道', '610621', '延长县')`.execute(
        db,
      );
      await sql`
        insert into communities (code, name, street_code, geom)
        values ('610602001001', '一', '610602001', ST_Multi(ST_MakeEnvelope(109.40, 36.50, 109.41, 36.51, 4326))),
               ('610602001002', '二', '610602001', ST_Multi(ST_MakeEnvelope(109.41, 36.50, 109.42, 36.51, 4326))),
               ('610602002001', '三', '610602002', ST_Multi(ST_MakeEnvelope(109.40, 36.51, 109.42, 36.52, 4326)))`.execute(db);
      await sql`insert into users (username, password_hash, role, scope_district_code) values ('county', '-', 'leader', '610621')`.execute(
        db,
      );
      expect((await migrate(db)).applied).toContain('021_areas.sql');

      const { rows: districts } = await sql<{ code: string; name: string; area: number | null }>`
        select code, name, round(ST_Area(geom)::numeric, 6)::float8 as area from districts order by code`.execute(db);
      expect(districts).toEqual([
        { code: '610602', name: '宝塔区', area: 0.0004 },
        { code: '610621', name: '延长县', area: null },
      ]);
      const { rows: streets } = await sql<{ code: string; area: number | null; derived: boolean; version: number }>`
        select code, round(ST_Area(geom)::numeric, 6)::float8 as area, boundary_from_communities as derived, version from streets order by code`.execute(
        db,
      );
      expect(streets).toEqual([
        { code: '610602001', area: 0.0002, derived: true, version: 1 },
        { code: '610602002', area: 0.0002, derived: true, version: 1 },
        { code: '610621001', area: null, derived: true, version: 1 },
      ]);
      const { rows: columns } = await sql<{ name: string }>`
        select column_name as name from information_schema.columns where table_name = 'streets' and column_name = 'district_name'`.execute(
        db,
      );
      expect(columns).toEqual([]);
    } finally {
      await empty.database.close();
      await empty.drop();
      await rm(before, { recursive: true, force: true });
    }
  }, 300_000); // the embedded database migrates from nothing: as long as the test run's own setup
});

describe('a city from an empty map', () => {
  let admin: Express;
  const as: Record<string, Express> = {};
  const ids: Record<string, number> = {};
  const street = (code: string, name: string, geometry: unknown = null) =>
    feature(geometry, { code, name, district_code: code.slice(0, 6) });

  beforeAll(async () => {
    // everything the demo wrote, accounts included (they name its areas); then one admin
    await sql`truncate districts, streets, communities, grids, buildings, members, units, issues, users cascade`.execute(db());
    await sql`insert into users (username, password_hash, role) values ('admin', '-', 'admin')`.execute(db());
    admin = await testApp(test.database, { as: 'admin' });
  });

  it('takes a district, then a street with no boundary, then a community that draws the street', async () => {
    const district = await request(admin)
      .post('/api/v1/districts')
      .send(feature(square(109.3, 36.5, 0.1), { code: '610603', name: '测试区' }))
      .expect(201);
    ids.district = district.body.id;
    expect(district.body.geometry.type).toBe('MultiPolygon');
    // a district has a boundary: null is refused, and names the field
    expect(
      (
        await request(admin)
          .post('/api/v1/districts')
          .send(feature(null, { code: '610604', name: '无界区' }))
          .expect(400)
      ).body.field,
    ).toBe('geometry');

    const created = await request(admin).post('/api/v1/streets').send(street('610603001', '一街道')).expect(201);
    ids.street = created.body.id;
    expect(created.body.geometry).toBeNull();
    expect(created.body.properties).toMatchObject({ district_name: '测试区', boundary_from_communities: true, version: 1 });
    // no boundary yet: listed, but in no bounding box
    expect((await request(admin).get('/api/v1/streets?district=610603').expect(200)).body.features).toHaveLength(1);
    expect((await request(admin).get('/api/v1/streets?bbox=109,36,110,37').expect(200)).body.features).toHaveLength(0);

    const c1 = await request(admin)
      .post('/api/v1/communities')
      .send(feature(square(109.31, 36.51, 0.01), { code: '610603001001', name: '一社区', street_code: '610603001' }))
      .expect(201);
    ids.community = c1.body.id;
    const drawn = (await request(admin).get(`/api/v1/streets/${ids.street}`).expect(200)).body;
    expect(drawn.geometry).toEqual(c1.body.geometry);
    expect(drawn.properties.version).toBe(2);
    await request(admin)
      .post('/api/v1/communities')
      .send(feature(square(109.32, 36.51, 0.01), { code: '610603001002', name: '二社区', street_code: '610603001' }))
      .expect(201);
    const {
      rows: [union],
    } = await sql<{ same: boolean }>`
      select ST_Equals(s.geom, (select ST_Union(geom) from communities where street_code = s.code)) as same from streets s where s.code = '610603001'`.execute(
      db(),
    );
    expect(union.same).toBe(true);
    expect((await request(admin).get('/api/v1/streets?bbox=109,36,110,37').expect(200)).body.features).toHaveLength(1);
  });

  it('places a grid in the community its code begins with when the file gives no community_id', async () => {
    const grid = await request(admin)
      .post('/api/v1/grids')
      .send(feature(square(109.311, 36.511, 0.004), { code: '610603001001001', name: '一社区第一网格' }))
      .expect(201);
    expect(grid.body.properties).toMatchObject({ community_id: ids.community, community_name: '一社区' });
    const orphan = await request(admin)
      .post('/api/v1/grids')
      .send(feature(square(109.311, 36.516, 0.002), { code: '610603001999001', name: '无社区网格' }))
      .expect(422);
    expect(orphan.body).toMatchObject({ field: 'community_id', detail: expect.stringMatching(/610603001999/) });
    await request(admin).delete(`/api/v1/grids/${grid.body.id}`).set('If-Match', grid.headers.etag).expect(204);
  });

  it('changes a street with If-Match, keeps a boundary given, and draws it again from null', async () => {
    const current = await request(admin).get(`/api/v1/streets/${ids.street}`).expect(200);
    const stale = await request(admin)
      .patch(`/api/v1/streets/${ids.street}`)
      .set('If-Match', '"1"')
      .send({ properties: { name: '改名街道' } })
      .expect(412);
    expect(stale.body).toMatchObject({ field: 'If-Match', version: current.body.properties.version });
    const renamed = await request(admin)
      .patch(`/api/v1/streets/${ids.street}`)
      .set('If-Match', current.headers.etag)
      .send({ properties: { name: '改名街道' } })
      .expect(200);
    expect(renamed.body.properties).toMatchObject({ name: '改名街道', boundary_from_communities: true });
    expect(renamed.headers.etag).toBe(`"${current.body.properties.version + 1}"`);

    const given = await request(admin)
      .patch(`/api/v1/streets/${ids.street}`)
      .send({ geometry: square(109.305, 36.505, 0.04) })
      .expect(200);
    expect(given.body.properties.boundary_from_communities).toBe(false);
    // a community moved does not move a boundary given
    await request(admin)
      .patch(`/api/v1/communities/${ids.community}`)
      .send({ geometry: square(109.311, 36.511, 0.008) })
      .expect(200);
    expect((await request(admin).get(`/api/v1/streets/${ids.street}`).expect(200)).body.geometry).toEqual(given.body.geometry);
    const derived = await request(admin).patch(`/api/v1/streets/${ids.street}`).send({ geometry: null }).expect(200);
    expect(derived.body.properties.boundary_from_communities).toBe(true);
    expect(derived.body.geometry.coordinates).toHaveLength(2); // two communities side by side, a gap between them now

    // each change in the audit log, the boundaries drawn by PostGIS too
    const audit = (await request(admin).get(`/api/v1/audit?resource=streets&row=${ids.street}`).expect(200)).body;
    expect(audit.entries.map((e: { action: string; after: { version: number } }) => [e.action, e.after.version])).toEqual(
      [6, 5, 4, 3, 2, 1].map((v) => [v === 1 ? 'create' : 'update', v]),
    );
  });

  it('refuses codes that do not nest, an unknown district, and deletes only what holds nothing', async () => {
    const notNested = await request(admin)
      .post('/api/v1/streets')
      .send(feature(null, { code: '610699001', name: '错街道', district_code: '610603' }))
      .expect(422);
    expect(notNested.body).toMatchObject({ title: 'Codes do not nest', field: 'code', detail: expect.stringContaining('district_code') });
    const community = await request(admin)
      .post('/api/v1/communities')
      .send(feature(square(109.35, 36.55, 0.01), { code: '610603002001', name: '错社区', street_code: '610603001' }))
      .expect(422);
    expect(community.body).toMatchObject({ title: 'Codes do not nest', field: 'code', detail: expect.stringContaining('street_code') });
    const unknown = await request(admin).post('/api/v1/streets').send(street('610609001', '无区街道')).expect(422);
    expect(unknown.body).toMatchObject({ field: 'district_code', detail: 'district_code 610609 does not exist' });
    expect((await request(admin).post('/api/v1/streets').send(street('6106030011', '长码')).expect(400)).body.field).toBe(
      'properties.code',
    );

    const district = await request(admin).delete(`/api/v1/districts/${ids.district}`).expect(409);
    expect(district.body).toMatchObject({ title: 'District has streets', streets: 1 });
    const held = await request(admin).delete(`/api/v1/streets/${ids.street}`).expect(409);
    expect(held.body).toMatchObject({ title: 'Street has communities', communities: 2 });
    const empty = await request(admin).post('/api/v1/streets').send(street('610603009', '空街道')).expect(201);
    await request(admin).delete(`/api/v1/streets/${empty.body.id}`).set('If-Match', '"1"').expect(204);
    expect((await sql<{ n: number }>`select count(*)::int as n from streets`.execute(db())).rows[0].n).toBe(1);
  });

  it('imports districts, then streets (a row that does not nest refused), and warns of a community outside its street', async () => {
    const post = (layer: string, body: string, query = '') =>
      request(admin).post(`/api/v1/import/${layer}${query}`).set('Content-Type', 'application/geo+json').send(body);
    const districts = await post('districts', collection(feature(square(109.5, 36.5, 0.1), { code: '610604', name: '二区' }))).expect(201);
    expect(districts.body).toMatchObject({ imported: 1, rejected: [], warnings: [] });

    const twoStreets = [
      street('610604001', '东街道', square(109.5, 36.5, 0.05)),
      street('610604002', '西街道', square(109.55, 36.5, 0.05)),
    ];
    const bad = await post(
      'streets',
      collection(twoStreets[0], { ...twoStreets[1], properties: { ...twoStreets[1].properties, code: '610603002' } }),
    ).expect(422);
    expect(bad.body.rejected).toEqual([{ row: 2, field: 'code', reason: expect.stringContaining('must start with its district_code') }]);
    expect((await sql<{ n: number }>`select count(*)::int as n from streets where district_code = '610604'`.execute(db())).rows[0].n).toBe(
      0,
    );
    // a street without a boundary imports too: drawn from its communities once it has some
    const streets = await post('streets', collection(...twoStreets, street('610604003', '北街道'))).expect(201);
    expect(streets.body).toMatchObject({ imported: 3, rejected: [] });

    const communities = collection(
      feature(square(109.51, 36.51, 0.01), { code: '610604001001', name: '里社区', street_code: '610604001' }),
      // three quarters in the western street
      feature(square(109.545, 36.51, 0.02), { code: '610604001002', name: '越界社区', street_code: '610604001' }),
    );
    const checked = await post('communities', communities, '?dry_run=true').expect(200);
    expect(checked.body.warnings).toEqual([
      {
        row: 2,
        field: 'geometry',
        reason: expect.stringMatching(/^75\.0 % of the community lies outside the boundary of street 610604001/),
      },
    ]);
    expect((await post('communities', communities, '?dry_run=true&street_tolerance=0.8').expect(200)).body.warnings).toEqual([]);
    expect((await post('communities', communities, '?street_tolerance=2').expect(400)).body.field).toBe('street_tolerance');
    const imported = await post('communities', communities).expect(201);
    expect(imported.body).toMatchObject({ imported: 2, warnings: [{ row: 2, field: 'geometry' }] });

    // a street list as a spreadsheet keeps (codes and names, no boundaries) imports as it is; a footprint cannot
    const csv = (layer: string, body: string) =>
      request(admin).post(`/api/v1/import/${layer}?format=csv`).set('Content-Type', 'text/csv').send(body);
    const list = await csv('streets', 'code,name,district_code\n610604004,南街道,610604\n610604005,中街道,610604\n').expect(201);
    expect(list.body).toMatchObject({ imported: 2, rejected: [] });
    const { rows: typed } = await sql<{ name: string; derived: boolean; geom: unknown }>`
      select name, boundary_from_communities as derived, geom from streets where code in ('610604004', '610604005') order by code`.execute(
      db(),
    );
    expect(typed).toEqual([
      { name: '南街道', derived: true, geom: null },
      { name: '中街道', derived: true, geom: null },
    ]);
    await sql`delete from streets where code in ('610604004', '610604005')`.execute(db());
    const unplaced = await csv('buildings', 'name,households\n无坐标楼,10\n').expect(422);
    expect(unplaced.body.rejected).toEqual([{ row: 1, field: 'geometry', reason: expect.stringMatching(/^no geometry/) }]);
  });

  it('lets only admins write them; every other role reads them in its scope, and anyone reads them unsigned', async () => {
    await sql`
      insert into users (username, password_hash, role, scope_district_code, scope_street_code, scope_community_id)
      values ('d-planner', '-', 'planner', '610603', null, null),
             ('s-leader', '-', 'leader', null, '610604002', null),
             ('c-resident', '-', 'resident', null, null, ${ids.community})`.execute(db());
    for (const user of ['d-planner', 's-leader', 'c-resident']) as[user] = await testApp(test.database, { as: user });

    const refused = await request(as['d-planner']).post('/api/v1/streets').send(street('610603005', '规划街道')).expect(403);
    expect(refused.body.title).toBe('Forbidden');
    await request(as['d-planner'])
      .patch(`/api/v1/streets/${ids.street}`)
      .send({ properties: { name: 'x' } })
      .expect(403);
    await request(as['d-planner']).delete(`/api/v1/districts/${ids.district}`).expect(403);
    await request(as['d-planner'])
      .post('/api/v1/import/districts')
      .set('Content-Type', 'application/geo+json')
      .send(collection())
      .expect(403);

    const codes = async (app: Express, layer: string) =>
      ((await request(app).get(`/api/v1/${layer}`).expect(200)).body.features as { properties: Props }[])
        .map((f) => f.properties.code)
        .sort();
    expect(await codes(as['d-planner'], 'districts')).toEqual(['610603']);
    expect(await codes(as['d-planner'], 'streets')).toEqual(['610603001']);
    expect(await codes(as['s-leader'], 'districts')).toEqual(['610604']);
    expect(await codes(as['s-leader'], 'streets')).toEqual(['610604002']);
    expect(await codes(as['c-resident'], 'streets')).toEqual(['610603001']);
    expect(await codes(as['c-resident'], 'districts')).toEqual(['610603']);
    const outside = await request(as['s-leader']).get(`/api/v1/streets/${ids.street}`).expect(403);
    expect(outside.body.field).toBe('id');

    const anonymous = await testApp(test.database, { as: null });
    const items = await request(anonymous).get('/ogc/collections/streets/items').expect(200);
    expect(items.body.features.map((f: { properties: Props }) => f.properties.code).sort()).toEqual([
      '610603001',
      '610604001',
      '610604002',
      '610604003',
    ]);
    const districts = await request(anonymous).get('/ogc/collections/districts/items?code=610604').expect(200);
    expect(districts.body.features.map((f: { properties: Props }) => f.properties.name)).toEqual(['二区']);
  });

  it('exports them as GeoJSON, NDJSON and CSV, a street without a boundary with a null geometry', async () => {
    const geojson = (await request(admin).get('/api/v1/export/streets?format=geojson').expect(200)).body;
    const north = geojson.features.find((f: { properties: Props }) => f.properties.code === '610604003');
    expect(north).toMatchObject({ geometry: null, properties: { name: '北街道', district_name: '二区', boundary_from_communities: true } });
    const lines = await request(admin)
      .get('/api/v1/export/districts?format=ndjson')
      .buffer(true)
      .parse((res, done) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk));
        res.on('end', () => done(null, text));
      })
      .expect(200);
    const ndjson = (lines.body as string)
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    expect(ndjson.map((f: { properties: Props }) => f.properties.code).sort()).toEqual(['610603', '610604']);
    const csv = (await request(admin).get('/api/v1/export/streets?format=csv').expect(200)).text;
    expect(csv).toContain('610604003');
    expect(csv).toContain('北街道');

    // An export imported again (upsert) leaves a boundary drawn from communities drawn from them, and a given one given.
    const derived = async () =>
      (
        await sql<{ code: string; derived: boolean; same: boolean | null }>`
      select code, boundary_from_communities as derived,
        ST_Equals(geom, (select ST_Multi(ST_Union(c.geom)) from communities c where c.street_code = s.code)) as same
      from streets s order by code`.execute(db())
      ).rows;
    const before = await derived();
    expect(before.some((s) => s.derived && s.same) && before.some((s) => !s.derived)).toBe(true);
    const reimported = await request(admin).post('/api/v1/import/streets?mode=upsert').set('Content-Type', 'text/csv').send(csv);
    expect(reimported.body).toMatchObject({ updated: before.length });
    expect(await derived()).toEqual(before);
    await request(admin).post('/api/v1/import/streets?mode=upsert').send(geojson).expect(201);
    expect(await derived()).toEqual(before);
  });

  it('draws streets and districts in vector tiles, with their labels', async () => {
    const z = 12;
    const [lon, lat] = [109.525, 36.525]; // the eastern street's middle, where its label is
    const rad = (lat * Math.PI) / 180;
    const [x, y] = [
      Math.floor(((lon + 180) / 360) * 2 ** z),
      Math.floor(((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * 2 ** z),
    ];
    const tile = async (layer: string) => {
      const res = await request(admin)
        .get(`/tiles/${layer}/${z}/${x}/${y}.mvt`)
        .buffer(true)
        .parse((stream, done) => {
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', () => done(null, Buffer.concat(chunks)));
        })
        .expect(200);
      return new VectorTile(new PbfReader(res.body as Buffer)).layers;
    };
    const streets = await tile('streets');
    const codes = Array.from({ length: streets.streets.length }, (_, i) => streets.streets.feature(i).properties.code).sort();
    expect(codes).toEqual(['610604001', '610604002']);
    const labels = Array.from({ length: streets.streets_label?.length ?? 0 }, (_, i) => streets.streets_label.feature(i).properties.name);
    expect(labels).toContain('东街道');
    const districts = await tile('districts');
    expect(districts.districts.feature(0).properties).toMatchObject({ code: '610604', name: '二区' });
  });
});
