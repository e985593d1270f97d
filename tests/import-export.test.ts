import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './support/app.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';
import { osmPbf } from './support/osm-pbf.ts';
import { GAUSS_KRUGER_PRJ, WGS84_PRJ, pointShapefileZip } from './support/shapefile.ts';
import { answered } from './support/problems.ts';

const square = (lon: number, lat: number, side = 0.0002) => ({
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

/**
 * GCJ-02 forward, as published (Krasovsky 1940 ellipsoid): written here independently of the library
 * Gridmap uses for the inverse, so the import is checked against the formula, not against itself.
 */
function wgs84ToGcj02([lon, lat]: [number, number]): [number, number] {
  const a = 6378245.0,
    ee = 0.006693421622965943;
  const x = lon - 105,
    y = lat - 35;
  let dLat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  dLat += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  dLat += ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3;
  dLat += ((160 * Math.sin((y / 12) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30)) * 2) / 3;
  let dLon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  dLon += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  dLon += ((20 * Math.sin(x * Math.PI) + 40 * Math.sin((x / 3) * Math.PI)) * 2) / 3;
  dLon += ((150 * Math.sin((x / 12) * Math.PI) + 300 * Math.sin((x / 30) * Math.PI)) * 2) / 3;
  const radLat = (lat / 180) * Math.PI;
  const magic = 1 - ee * Math.sin(radLat) ** 2;
  dLat = (dLat * 180) / (((a * (1 - ee)) / (magic * Math.sqrt(magic))) * Math.PI);
  dLon = (dLon * 180) / ((a / Math.sqrt(magic)) * Math.cos(radLat) * Math.PI);
  return [lon + dLon, lat + dLat];
}

describe('import and export', () => {
  let test: TestDatabase;
  let app: Awaited<ReturnType<typeof testApp>>;
  const count = async (table: string) =>
    (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(test.database.db)).rows[0].n;
  const post = (path: string, type: string, body: string) => request(app).post(path).set('Content-Type', type).send(body);

  beforeAll(async () => {
    test = await openTestDatabase();
    app = await testApp(test.database);
  });
  afterAll(() => test?.drop());

  it('imports a GeoJSON FeatureCollection, deriving each building’s grid', async () => {
    const before = await count('buildings');
    const collection = {
      type: 'FeatureCollection',
      features: [
        feature(square(109.4862, 36.5862), { name: '导入1号楼', households: 12 }),
        feature(square(109.4866, 36.5862), { name: '导入2号楼', kind: 'shop', id: 99, grid_id: 5 }), // exported extras are dropped
      ],
    };
    const { body } = await post('/api/v1/import/buildings', 'application/geo+json', JSON.stringify(collection)).expect(201);
    expect(body).toMatchObject({ layer: 'buildings', read: 2, imported: 2, rejected: [], written: true });
    expect(await count('buildings')).toBe(before + 2);
    const { rows } = await sql<{ grid_id: number; expected: number }>`
      select b.grid_id, (select g.id from grids g where ST_Contains(g.geom, ST_PointOnSurface(b.geom))) as expected
      from buildings b where b.name like '导入%'`.execute(test.database.db);
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.grid_id).toBe(row.expected);
  });

  it('rejects a whole NDJSON file with one bad row, naming the row, and writes nothing', async () => {
    const before = await count('members');
    const lines =
      [
        feature({ type: 'Point', coordinates: [109.4862, 36.5862] }, { name: '甲', category: 'retired' }),
        feature(
          {
            type: 'LineString',
            coordinates: [
              [109.4862, 36.5862],
              [109.4863, 36.5863],
            ],
          },
          { name: '乙', category: 'retired' },
        ),
        feature({ type: 'Point', coordinates: [109.4862, 36.5862] }, { name: '丙', category: 'astronaut' }),
      ]
        .map((f) => JSON.stringify(f))
        .join('\n') + '\nnot json\n';
    const { body } = await post('/api/v1/import/members', 'application/x-ndjson', lines).expect(422);
    expect(body.rejected).toEqual([
      { row: 2, field: 'geometry.type', reason: expect.stringMatching(/must be Point, not LineString/) },
      { row: 3, field: 'properties.category', reason: expect.stringMatching(/category/) },
      { row: 4, reason: 'not valid JSON' },
    ]);
    expect(body).toMatchObject({ read: 4, written: false, title: 'Rows rejected' });
    expect(await count('members')).toBe(before);
  });

  it('imports CSV with lon/lat or WKT columns, reading numbers, booleans and lists from text', async () => {
    const csv = [
      'name,kind,has_agreement,resources,lon,lat',
      '延河书店,enterprise,是,图书室,109.4862,36.5862',
      '"红色志愿者协会, 南关",social_organization,否,,109.4866,36.5866',
    ].join('\n');
    const units = await post('/api/v1/import/units', 'text/csv', csv).expect(201);
    expect(units.body).toMatchObject({ imported: 2 });
    const members = await post(
      '/api/v1/import/members?format=csv',
      'text/plain',
      ['wkt,name,category,is_volunteer,skills', 'POINT(109.4862 36.5862),王五,retired,true,medical;patrol'].join('\n'),
    ).expect(201);
    expect(members.body.imported).toBe(1);
    const {
      rows: [member],
    } = await sql<{ skills: string[]; is_volunteer: boolean; grid_id: number | null }>`
      select skills, is_volunteer, grid_id from members where name = '王五'`.execute(test.database.db);
    expect(member).toMatchObject({ skills: ['medical', 'patrol'], is_volunteer: true, grid_id: expect.any(Number) });

    const bad = await post('/api/v1/import/members', 'text/csv', 'wkt,name,category\nPOINT(east north),x,retired\n').expect(422);
    expect(bad.body.rejected).toEqual([{ row: 1, reason: 'geometry: not valid WKT' }]);
  });

  it('imports a zipped Shapefile made here, with Chinese text in its table', async () => {
    const points = [
      { lon: 109.4862, lat: 36.5862, fields: { title: '楼道堆放杂物', category: 'sanitation' } },
      { lon: 109.487, lat: 36.587, fields: { title: '路灯不亮', category: 'street_light' } },
    ];
    const zip = pointShapefileZip(points, WGS84_PRJ);
    const { body } = await request(app).post('/api/v1/import/issues').set('Content-Type', 'application/zip').send(zip).expect(201);
    expect(body).toMatchObject({ read: 2, imported: 2 });
    const { rows } = await sql<{ title: string; lon: number; grid_id: number | null }>`
      select title, ST_X(geom) as lon, grid_id from issues where title in ('楼道堆放杂物', '路灯不亮') and category in ('sanitation', 'street_light')
      order by id desc limit 2`.execute(test.database.db);
    expect(rows.map((r) => r.title).sort()).toEqual(['楼道堆放杂物', '路灯不亮'].sort());
    expect(rows.every((r) => r.grid_id !== null)).toBe(true);

    // a .prj is believed: degrees under a Gauss–Krüger .prj are metres a few hundred kilometres off the map
    const projected = await request(app)
      .post('/api/v1/import/issues?format=shapefile')
      .set('Content-Type', 'application/octet-stream')
      .send(pointShapefileZip(points, GAUSS_KRUGER_PRJ))
      .expect(422);
    expect(projected.body.rejected[0]).toMatchObject({
      row: 1,
      field: 'geometry.coordinates',
      reason: expect.stringMatching(/outside the service area/),
    });
  });

  it('imports building footprints from an OpenStreetMap extract', async () => {
    // A closed way with levels, a multipolygon with a courtyard, a way that is not a building, and an open way.
    const [x, y] = [109.4862, 36.5902];
    const node = (id: number, dx: number, dy: number) => `<node id="${id}" lon="${(x + dx).toFixed(7)}" lat="${(y + dy).toFixed(7)}"/>`;
    const osm = `<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  ${node(1, 0, 0)}${node(2, 0.0002, 0)}${node(3, 0.0002, 0.0001)}${node(4, 0, 0.0001)}
  ${node(11, 0.0005, 0)}${node(12, 0.0009, 0)}${node(13, 0.0009, 0.0004)}${node(14, 0.0005, 0.0004)}
  ${node(21, 0.0006, 0.0001)}${node(22, 0.0008, 0.0001)}${node(23, 0.0008, 0.0003)}${node(24, 0.0006, 0.0003)}
  <way id="100"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="building" v="apartments"/><tag k="building:levels" v="6"/><tag k="name" v="枣园小区3号楼"/></way>
  <way id="101"><nd ref="11"/><nd ref="12"/><nd ref="13"/><nd ref="14"/><nd ref="11"/></way>
  <way id="102"><nd ref="21"/><nd ref="22"/><nd ref="23"/><nd ref="24"/><nd ref="21"/></way>
  <way id="103"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="footway"/></way>
  <relation id="200"><member type="way" ref="101" role="outer"/><member type="way" ref="102" role="inner"/>
    <tag k="type" v="multipolygon"/><tag k="building" v="school"/><tag k="addr:street" v="枣园路"/><tag k="addr:housenumber" v="8"/></relation>
</osm>`;
    const { body } = await post('/api/v1/import/buildings', 'application/osm+xml', osm).expect(201);
    expect(body).toMatchObject({ read: 2, imported: 2 });
    const { rows } = await sql<{ name: string; kind: string; floors: number | null; holes: number; grid_id: number | null }>`
      select name, kind, floors, ST_NumInteriorRings(geom) as holes, grid_id from buildings
      where name in ('枣园小区3号楼', '枣园路8') order by name`.execute(test.database.db);
    expect(rows).toEqual([
      { name: '枣园小区3号楼', kind: 'residential', floors: 6, holes: 0, grid_id: expect.any(Number) },
      { name: '枣园路8', kind: 'school', floors: null, holes: 1, grid_id: expect.any(Number) },
    ]);
    const open = osm.replace('<nd ref="4"/><nd ref="1"/>', '<nd ref="4"/>');
    const refused = await post('/api/v1/import/buildings?format=osm', 'text/xml', open).expect(422);
    expect(refused.body.rejected[0]).toEqual({ row: 1, reason: 'way/100: way 100 is not closed' });
  });

  it('imports building footprints from an OpenStreetMap PBF extract', async () => {
    const [x, y] = [109.4872, 36.5912];
    const corners = (first: number, dx: number, dy: number, size: number) =>
      [
        [0, 0],
        [size, 0],
        [size, size],
        [0, size],
      ].map(([u, v], i) => ({ id: first + i, lon: x + dx + u, lat: y + dy + v }));
    const pbf = osmPbf({
      nodes: [...corners(1, 0, 0, 0.0002), ...corners(11, 0.0005, 0, 0.0004), ...corners(21, 0.0006, 0.0001, 0.0002)],
      ways: [
        { id: 100, refs: [1, 2, 3, 4, 1], tags: { building: 'apartments', 'building:levels': '11', name: '桥沟小区1号楼' } },
        { id: 101, refs: [11, 12, 13, 14, 11], tags: {} },
        { id: 102, refs: [21, 22, 23, 24, 21], tags: {} },
      ],
      relations: [
        {
          id: 200,
          members: [
            { type: 'way', ref: 101, role: 'outer' },
            { type: 'way', ref: 102, role: 'inner' },
          ],
          tags: { type: 'multipolygon', building: 'retail', name: '桥沟市场' },
        },
      ],
    });
    const { body } = await request(app)
      .post('/api/v1/import/buildings?format=osm.pbf')
      .set('Content-Type', 'application/octet-stream')
      .send(pbf)
      .expect(201);
    expect(body).toMatchObject({ read: 2, imported: 2 });
    const { rows } = await sql<{ name: string; kind: string; floors: number | null; holes: number; x: number; y: number }>`
      select name, kind, floors, ST_NumInteriorRings(geom) as holes, ST_XMin(geom) as x, ST_YMin(geom) as y from buildings
      where name in ('桥沟小区1号楼', '桥沟市场') order by kind`.execute(test.database.db);
    expect(rows).toEqual([
      { name: '桥沟小区1号楼', kind: 'residential', floors: 11, holes: 0, x: expect.closeTo(x, 7), y: expect.closeTo(y, 7) },
      { name: '桥沟市场', kind: 'shop', floors: null, holes: 1, x: expect.closeTo(x + 0.0005, 7), y: expect.closeTo(y, 7) },
    ]);
    const truncated = await request(app)
      .post('/api/v1/import/buildings?format=osm.pbf')
      .set('Content-Type', 'application/octet-stream')
      .send(pbf.subarray(0, pbf.length - 10))
      .expect(400);
    expect(truncated.body).toMatchObject({ title: 'Unreadable file', detail: expect.stringMatching(/ends inside a blob/) });
  });

  it('converts GCJ-02 and BD-09 coordinates to WGS 84 on the way in', async () => {
    const places: [number, number][] = [
      [109.49, 36.59],
      [116.3974, 39.9093],
      [121.4737, 31.2304],
    ];
    const features = places.map((p, i) =>
      feature({ type: 'Point', coordinates: wgs84ToGcj02(p) }, { title: `GCJ-02 ${i}`, category: 'other' }),
    );
    await post('/api/v1/import/issues?crs=gcj02', 'application/geo+json', JSON.stringify({ type: 'FeatureCollection', features })).expect(
      201,
    );
    const { rows } = await sql<{ title: string; metres: number }>`
      select title, ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(${places[0][0]}, ${places[0][1]}), 4326)::geography) as metres
      from issues where title = 'GCJ-02 0'`.execute(test.database.db);
    expect(rows[0].metres).toBeLessThan(0.5);
    const shifted = await sql<{ metres: number }>`
      select ST_Distance(ST_SetSRID(ST_MakePoint(${wgs84ToGcj02(places[0])[0]}, ${wgs84ToGcj02(places[0])[1]}), 4326)::geography,
                         ST_SetSRID(ST_MakePoint(${places[0][0]}, ${places[0][1]}), 4326)::geography) as metres`.execute(test.database.db);
    expect(shifted.rows[0].metres).toBeGreaterThan(100); // the shift is real, and undone
    for (let i = 1; i < places.length; i++) {
      const {
        rows: [p],
      } = await sql<{
        lon: number;
        lat: number;
      }>`select ST_X(geom) as lon, ST_Y(geom) as lat from issues where title = ${`GCJ-02 ${i}`}`.execute(test.database.db);
      expect(Math.abs(p.lon - places[i][0])).toBeLessThan(5e-6);
      expect(Math.abs(p.lat - places[i][1])).toBeLessThan(5e-6);
    }
    // BD-09 is GCJ-02 shifted once more (Baidu's published formula, here too written independently).
    const [gx, gy] = wgs84ToGcj02(places[0]);
    const xPi = (Math.PI * 3000) / 180;
    const z = Math.sqrt(gx * gx + gy * gy) + 0.00002 * Math.sin(gy * xPi);
    const theta = Math.atan2(gy, gx) + 0.000003 * Math.cos(gx * xPi);
    const bd09 = [z * Math.cos(theta) + 0.0065, z * Math.sin(theta) + 0.006];
    await post(
      '/api/v1/import/issues?crs=bd09',
      'application/geo+json',
      JSON.stringify({
        type: 'FeatureCollection',
        features: [feature({ type: 'Point', coordinates: bd09 }, { title: 'BD-09', category: 'other' })],
      }),
    ).expect(201);
    const {
      rows: [bd],
    } = await sql<{ metres: number }>`
      select ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(${places[0][0]}, ${places[0][1]}), 4326)::geography) as metres
      from issues where title = 'BD-09'`.execute(test.database.db);
    expect(bd.metres).toBeLessThan(0.5);
    // A malformed geometry in a shifted file is that row's error, not the server's.
    const broken = await post(
      '/api/v1/import/issues?crs=gcj02',
      'application/x-ndjson',
      JSON.stringify(feature({ type: 'Point', coordinates: ['east', 'north'] }, { title: 'x', category: 'other' })),
    ).expect(422);
    expect(broken.body.rejected[0]).toMatchObject({ row: 1, field: expect.stringMatching(/^geometry/) });
  });

  it('exports in GCJ-02 and BD-09 every vertex, and a point exported and imported back in GCJ-02 lands within 2 cm', async () => {
    const db = test.database.db;
    const exported = async (layer: string, query: string) =>
      (
        await request(app)
          .get(`/api/v1/export/${layer}?${query}`)
          .buffer(true)
          .parse((res, done) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk.toString()));
            res.on('end', () => done(null, text));
          })
          .expect(200)
      ).body as string;
    await post(
      '/api/v1/import/issues',
      'application/geo+json',
      JSON.stringify({
        type: 'FeatureCollection',
        features: [feature({ type: 'Point', coordinates: [109.4912345, 36.5912345] }, { title: '导出往返', category: 'other' })],
      }),
    ).expect(201);
    const {
      rows: [stored],
    } = await sql<{ id: number; lon: number; lat: number }>`
      select id, ST_X(geom) as lon, ST_Y(geom) as lat from issues where title = '导出往返'`.execute(db);

    const lines = (await exported('issues', 'format=ndjson&crs=gcj02'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const out = lines.find((f) => f.id === stored.id);
    const [gx, gy] = wgs84ToGcj02([stored.lon, stored.lat]);
    expect(Math.abs(out.geometry.coordinates[0] - gx)).toBeLessThan(2e-7);
    expect(Math.abs(out.geometry.coordinates[1] - gy)).toBeLessThan(2e-7);
    expect(out.properties.title).toBe('导出往返');
    // the WGS 84 export is as stored, hundreds of metres away
    const plain = JSON.parse(await exported('issues', 'format=geojson')).features.find((f: { id: number }) => f.id === stored.id);
    expect(plain.geometry.coordinates).toEqual([stored.lon, stored.lat]);

    await post(
      '/api/v1/import/issues?crs=gcj02',
      'application/geo+json',
      JSON.stringify({ type: 'FeatureCollection', features: [feature(out.geometry, { title: '导出往返 back', category: 'other' })] }),
    ).expect(201);
    const {
      rows: [back],
    } = await sql<{ metres: number }>`
      select ST_Distance(b.geom::geography, a.geom::geography) as metres
      from issues a, issues b where a.id = ${stored.id} and b.title = '导出往返 back'`.execute(db);
    expect(back.metres).toBeLessThan(0.02);

    // a footprint in CSV: every vertex of its WKT shifted, as the formula (written here) says; BD-09 moves it further
    const {
      rows: [building],
    } = await sql<{ id: number; vertices: [number, number][] }>`
      select b.id, json_agg(json_build_array(ST_X(d.geom), ST_Y(d.geom)) order by d.path) as vertices
      from (select id, geom from buildings order by id limit 1) b, ST_DumpPoints(b.geom) d group by b.id`.execute(db);
    // the wkt cell (quoted: it has commas), then the id
    const rowOf = (csv: string) => csv.split('\r\n').find((line) => line.includes(`)",${building.id},`))!;
    for (const crs of ['gcj02', 'bd09']) {
      const csv = await exported('buildings', `format=csv&crs=${crs}`);
      const [header] = csv.replace(/^\uFEFF/, '').split('\r\n');
      expect(header.split(',')[0]).toBe('wkt');
      const numbers = [...rowOf(csv).matchAll(/-?\d+\.\d+/g)].slice(0, building.vertices.length * 2).map((m) => Number(m[0]));
      const written = building.vertices.map((_, i) => [numbers[2 * i], numbers[2 * i + 1]]);
      const metres = (
        await sql<{ metres: number }>`select max(ST_Distance(ST_SetSRID(ST_MakePoint((w->>0)::float8, (w->>1)::float8), 4326)::geography,
                                                                             ST_SetSRID(ST_MakePoint((e->>0)::float8, (e->>1)::float8), 4326)::geography)) as metres
        from json_array_elements(${JSON.stringify(written)}::json) with ordinality w(w, i)
        join json_array_elements(${JSON.stringify(building.vertices.map((v) => wgs84ToGcj02(v)))}::json) with ordinality e(e, j) on i = j`.execute(
          db,
        )
      ).rows[0].metres;
      if (crs === 'gcj02') expect(metres).toBeLessThan(0.02);
      else expect(metres).toBeGreaterThan(100);
    }
    const bad = await request(app).get('/api/v1/export/buildings?crs=utm').expect(400);
    expect(bad.body.field).toBe('crs');
  });

  it('checks everything in a dry run and writes nothing', async () => {
    const before = await count('buildings');
    const { body } = await post(
      '/api/v1/import/buildings?dry_run=true',
      'application/geo+json',
      JSON.stringify({ type: 'FeatureCollection', features: [feature(square(109.4862, 36.5872), { name: '试算楼' })] }),
    ).expect(200);
    expect(body).toMatchObject({ read: 1, imported: 1, dry_run: true, written: false });
    expect(await count('buildings')).toBe(before);
  });

  it('repairs an invalid footprint only when asked, and says which', async () => {
    const spike = {
      type: 'Polygon',
      coordinates: [
        [
          [109.4862, 36.5882],
          [109.4866, 36.5882],
          [109.4866, 36.5886],
          [109.4864, 36.5886],
          [109.4864, 36.5889],
          [109.4864, 36.5886],
          [109.4862, 36.5886],
          [109.4862, 36.5882],
        ],
      ],
    };
    const file = JSON.stringify({ type: 'FeatureCollection', features: [feature(spike, { name: '尖刺楼' })] });
    const refused = await post('/api/v1/import/buildings', 'application/geo+json', file).expect(422);
    expect(refused.body.rejected[0]).toMatchObject({
      row: 1,
      field: 'geometry',
      reason: expect.stringMatching(/Self-intersection.*repair=true/),
    });
    const repaired = await post('/api/v1/import/buildings?repair=true', 'application/geo+json', file).expect(201);
    expect(repaired.body.repaired).toEqual([{ row: 1, reason: expect.stringMatching(/Self-intersection/) }]);
    const {
      rows: [stored],
    } = await sql<{
      valid: boolean;
      type: string;
    }>`select ST_IsValid(geom) as valid, GeometryType(geom) as type from buildings where name = '尖刺楼'`.execute(test.database.db);
    expect(stored).toEqual({ valid: true, type: 'POLYGON' });
  });

  it('names the row that breaks a database rule, and writes nothing', async () => {
    const before = await count('communities');
    const { body } = await post(
      '/api/v1/import/communities',
      'application/geo+json',
      JSON.stringify({
        type: 'FeatureCollection',
        features: [
          feature(square(100, 30, 0.01), { code: '610602001080', name: '新建社区', street_code: '610602001' }),
          feature(square(100, 30.1, 0.01), { code: '610602999001', name: '无街道社区', street_code: '610602999' }),
          feature(square(100, 30.2, 0.01), { code: '610602001080', name: '重复社区', street_code: '610602001' }),
        ],
      }),
    ).expect(422);
    expect(body.rejected).toEqual([
      { row: 2, field: 'street_code', reason: expect.stringMatching(/610602999/) },
      { row: 3, field: 'code', reason: expect.stringMatching(/610602001080/) },
    ]);
    expect(await count('communities')).toBe(before);
  });

  it('names the refusals of a file of several check batches in row order, geometry and properties alike, and writes nothing', async () => {
    // rows are checked 2,000 at a time, each batch while the one before waits for PostGIS's word on its geometries
    const before = await count('buildings');
    const bowtie = {
      type: 'Polygon',
      coordinates: [
        [
          [109.48, 36.58],
          [109.481, 36.581],
          [109.481, 36.58],
          [109.48, 36.581],
          [109.48, 36.58],
        ],
      ],
    };
    const lines = Array.from({ length: 4500 }, (_, i) => {
      const row = i + 1;
      const ok = feature(square(109.4862 + (i % 50) * 0.0002, 36.5862 + Math.floor(i / 50) * 0.0002), { name: `批次楼${row}` });
      if (row % 1000 === 0) return JSON.stringify({ ...ok, geometry: bowtie });
      if (row % 1000 === 500) return JSON.stringify({ ...ok, properties: { name: `批次楼${row}`, floors: 'many' } });
      return JSON.stringify(ok);
    });
    const { body } = await post('/api/v1/import/buildings', 'application/x-ndjson', lines.join('\n')).expect(422);
    expect(body.rejected.map((r: { row: number; field: string }) => [r.row, r.field])).toEqual([
      [500, 'properties.floors'],
      [1000, 'geometry'],
      [1500, 'properties.floors'],
      [2000, 'geometry'],
      [2500, 'properties.floors'],
      [3000, 'geometry'],
      [3500, 'properties.floors'],
      [4000, 'geometry'],
      [4500, 'properties.floors'],
    ]);
    expect(await count('buildings')).toBe(before);
  });

  it('refuses a file with no features, and a curve it cannot store', async () => {
    expect((await post('/api/v1/import/buildings', 'application/geo+json', '{}').expect(422)).body.rejected[0].reason).toMatch(
      /no features/,
    );
    expect((await post('/api/v1/import/buildings', 'text/csv', 'wkt,name\n').expect(422)).body.rejected[0].reason).toMatch(/no features/);
    const curve = await post('/api/v1/import/issues', 'text/csv', 'wkt,title,category\n"CIRCULARSTRING(0 0,1 1,2 0)",x,other\n').expect(
      422,
    );
    expect(curve.body.rejected[0]).toMatchObject({ row: 1, reason: 'geometry: not valid WKT' });
  });

  it('ends a read whose upload breaks with a 400, and the server lives on', async () => {
    const { Readable } = await import('node:stream');
    const { readRows } = await import('../server/features/import/sources.ts');
    const upload = new Readable({
      read() {
        this.destroy(new Error('connection reset'));
      },
    });
    const { IMPORT_LIMITS } = await import('../server/features/import/limits.ts');
    const rows = readRows(upload, 'csv', IMPORT_LIMITS.admin);
    await expect(answered(rows.next())).rejects.toMatchObject({ status: 400, title: 'Unreadable file' });
    expect((await request(app).get('/api/v1/health').expect(200)).body.status).toBe('ok');
  });

  it('refuses what it cannot read', async () => {
    expect(
      (await post('/api/v1/import/buildings', 'application/geo+json', '{"type":"FeatureCollection","features":[{"type":').expect(400)).body,
    ).toMatchObject({ title: 'Unreadable file', field: 'body' });
    expect((await post('/api/v1/import/castles', 'application/geo+json', '{}').expect(404)).body.field).toBe('layer');
    expect((await post('/api/v1/import/buildings', 'application/pdf', '%PDF').expect(415)).body.field).toBe('format');
    expect((await post('/api/v1/import/buildings?crs=utm', 'application/geo+json', '{}').expect(400)).body.field).toBe('crs');
  });

  it('streams an import of many rows in batches', async () => {
    const before = await count('members');
    const lines = Array.from({ length: 5000 }, (_, i) =>
      JSON.stringify(
        feature(
          { type: 'Point', coordinates: [109.48 + (i % 100) * 0.0002, 36.58 + Math.floor(i / 100) * 0.0002] },
          { name: `批量${i}`, category: 'resident' },
        ),
      ),
    ).join('\n');
    const { body } = await post('/api/v1/import/members', 'application/x-ndjson', lines).expect(201);
    expect(body).toMatchObject({ read: 5000, imported: 5000 });
    expect(await count('members')).toBe(before + 5000);
  });

  it.each(['geojson', 'ndjson', 'csv'])('exports a whole layer as %s, ready to import again', async (format) => {
    const total = await count('buildings');
    const exported = await request(app)
      .get(`/api/v1/export/buildings?format=${format}`)
      .buffer(true)
      .parse((res, done) => {
        // chunks joined before decoding: a character split across two is not two broken ones
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
      })
      .expect(200);
    expect(exported.headers['content-disposition']).toMatch(new RegExp(`^attachment; filename="?buildings\\.${format}"?$`));
    const text = exported.body as string;
    if (format === 'geojson') expect(JSON.parse(text).features).toHaveLength(total);
    if (format === 'ndjson') expect(text.trim().split('\n')).toHaveLength(total);
    if (format === 'csv') expect(text.trim().split('\r\n')[0]).toMatch(/^wkt,id,name,/);
    const type = { geojson: 'application/geo+json', ndjson: 'application/x-ndjson', csv: 'text/csv' }[format]!;
    const again = await post('/api/v1/import/buildings?dry_run=true', type, text).expect(200);
    expect(again.body).toMatchObject({ read: total, imported: total, rejected: [] });
  });

  it('imports from the command line with progress', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gridmap-cli-'));
    try {
      const file = join(dir, 'issues.ndjson');
      await writeFile(
        file,
        [1, 2, 3]
          .map((i) =>
            JSON.stringify(
              feature({ type: 'Point', coordinates: [109.4862, 36.5862 + i * 0.0001] }, { title: `命令行${i}`, category: 'noise' }),
            ),
          )
          .join('\n'),
      );
      const env = mode === 'server' ? { DATABASE_URL: test.url! } : { DATA_DIR: join(dir, 'data') };
      const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'server/import.ts', 'issues', file], {
          env: { PATH: process.env.PATH, ...env },
        });
        let stdout = '',
          stderr = '';
        child.stdout.on('data', (c) => (stdout += c));
        child.stderr.on('data', (c) => (stderr += c));
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
      expect(stderr).toMatch(/issues: done 100%, 3 rows read, 0 rejected, 3 written, [\d,]+ rows\/s/);
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ layer: 'issues', read: 3, imported: 3, written: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000); // a fresh embedded database is created and migrated first
});
