import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './support/app.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';
import { WGS84_PRJ, pointShapefileZip } from './support/shapefile.ts';

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
const collection = (features: unknown[]) => JSON.stringify({ type: 'FeatureCollection', features });
/** A community as a civil-affairs bureau's ArcGIS export has it. */
const arcgisCommunity = (i: number, code: string, name: string) =>
  // the street code as a number, as a numeric DBF column gives it
  feature(square(100, 30 + i * 0.02, 0.01), {
    OBJECTID: i + 1,
    Shape_Leng: 0.04,
    Shape_Area: 0.0001,
    SQMC: name,
    SQDM: code,
    JDDM: 610602001,
  });
const ARCGIS_FIELDS = 'code:SQDM,name:SQMC,street_code:JDDM';

describe('imports that take the columns and keys real files have', () => {
  let test: TestDatabase;
  let app: Awaited<ReturnType<typeof testApp>>;
  const db = () => test.database.db;
  const count = async (table: string) =>
    (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(db())).rows[0].n;
  const post = (path: string, type: string, body: string | Buffer) => request(app).post(path).set('Content-Type', type).send(body);
  /** A point inside the demo city's first grid, and the community it is in. */
  let inside: { lon: number; lat: number; community_id: number };

  beforeAll(async () => {
    test = await openTestDatabase();
    app = await testApp(test.database);
    ({
      rows: [inside],
    } = await sql<typeof inside>`
      select ST_X(p) as lon, ST_Y(p) as lat, community_id from (
        select ST_PointOnSurface(geom) as p, community_id from grids order by id limit 1) g`.execute(db()));
  });
  afterAll(() => test?.drop());

  it('maps an ArcGIS export’s columns, lists those it ignores, and refuses them with extra=reject', async () => {
    const file = collection([arcgisCommunity(0, '610602001081', '映射一社区'), arcgisCommunity(1, '610602001082', '映射二社区')]);
    const before = await count('communities');
    const strict = await post(`/api/v1/import/communities?fields=${ARCGIS_FIELDS}&extra=reject`, 'application/geo+json', file).expect(422);
    expect(strict.body.rejected[0]).toMatchObject({ row: 1, reason: expect.stringMatching(/OBJECTID/) });
    expect(await count('communities')).toBe(before);

    const { body } = await post(`/api/v1/import/communities?fields=${ARCGIS_FIELDS}`, 'application/geo+json', file).expect(201);
    expect(body).toMatchObject({
      read: 2,
      imported: 2,
      inserted: 2,
      mode: 'insert',
      mapped: { code: 'SQDM', name: 'SQMC', street_code: 'JDDM' },
      ignored_columns: ['OBJECTID', 'Shape_Leng', 'Shape_Area'],
      columns: ['OBJECTID', 'Shape_Leng', 'Shape_Area', 'SQMC', 'SQDM', 'JDDM'],
    });
    const { rows } = await sql<{ code: string; name: string; street_code: string }>`
      select code, name, street_code from communities where code in ('610602001081', '610602001082') order by code`.execute(db());
    expect(rows).toEqual([
      { code: '610602001081', name: '映射一社区', street_code: '610602001' },
      { code: '610602001082', name: '映射二社区', street_code: '610602001' },
    ]);
  });

  it('maps a Shapefile’s DBF columns', async () => {
    const zip = pointShapefileZip(
      [{ lon: inside.lon, lat: inside.lat, fields: { BT: '井盖缺失', LB: 'property', OBJECTID: '7' } }],
      WGS84_PRJ,
    );
    const { body } = await post('/api/v1/import/issues?fields=title:BT,category:LB', 'application/zip', zip).expect(201);
    expect(body).toMatchObject({ imported: 1, ignored_columns: ['OBJECTID'] });
    const { rows } = await sql<{ category: string }>`select category from issues where title = '井盖缺失'`.execute(db());
    expect(rows).toEqual([{ category: 'property' }]);
  });

  it('reads a roster with Chinese headers and the roster’s words for categories, yes/no and skills', async () => {
    const csv = [
      '序号,姓名,党员类别,是否志愿者,志愿服务技能,联系电话,lon,lat',
      `1,花名册甲,在职党员,是,助老、助医,13800000001,${inside.lon},${inside.lat}`,
      `2,花名册乙,离退休,否,,13800000002,${inside.lon},${inside.lat}`,
      `3,花名册丙,流动党员,是,联防;法律援助,,${inside.lon},${inside.lat}`,
    ].join('\n');
    const fields = encodeURIComponent('name:姓名,category:党员类别,is_volunteer:是否志愿者,skills:志愿服务技能,phone:联系电话');
    const { body } = await post(`/api/v1/import/members?fields=${fields}`, 'text/csv', csv).expect(201);
    expect(body).toMatchObject({ imported: 3, ignored_columns: ['序号'] });
    const { rows } = await sql<{ name: string; category: string; is_volunteer: boolean; skills: string[]; phone: string | null }>`
      select name, category, is_volunteer, skills, phone from members where name like '花名册_' order by phone nulls last`.execute(db());
    expect(rows).toEqual([
      { name: '花名册甲', category: 'in_service', is_volunteer: true, skills: ['elder_care', 'medical'], phone: '13800000001' },
      { name: '花名册乙', category: 'retired', is_volunteer: false, skills: [], phone: '13800000002' },
      { name: '花名册丙', category: 'floating', is_volunteer: true, skills: ['patrol', 'legal_aid'], phone: null },
    ]);
    // the words hold for any format, mapped or not: a GeoJSON file's 居民党员 and 否
    const point = { type: 'Point', coordinates: [inside.lon, inside.lat] };
    await post(
      '/api/v1/import/members',
      'application/geo+json',
      collection([feature(point, { name: '花名册丁', category: '居民党员', is_volunteer: '否' })]),
    ).expect(201);
    const {
      rows: [resident],
    } = await sql<{ category: string }>`select category from members where name = '花名册丁'`.execute(db());
    expect(resident.category).toBe('resident');
    // a word it does not know is refused by the schema, naming the property
    const wrong = await post(
      `/api/v1/import/members?fields=${encodeURIComponent('name:姓名,category:党员类别')}`,
      'text/csv',
      `姓名,党员类别,lon,lat\n钱七,预备党员,${inside.lon},${inside.lat}`,
    ).expect(422);
    expect(wrong.body.rejected[0]).toMatchObject({ row: 1, field: 'properties.category' });
  });

  it('refuses a mapping to a property the layer lacks or from a column the file lacks, naming fields, and writes nothing', async () => {
    const before = await count('members');
    const csv = `姓名,lon,lat\n孙八,${inside.lon},${inside.lat}`;
    const missing = await post(
      `/api/v1/import/members?fields=${encodeURIComponent('name:姓名,category:党员类别')}`,
      'text/csv',
      csv,
    ).expect(422);
    expect(missing.body).toMatchObject({ field: 'fields', column: '党员类别', columns: ['姓名'] });
    const unknown = await post(`/api/v1/import/members?fields=${encodeURIComponent('nickname:姓名')}`, 'text/csv', csv).expect(400);
    expect(unknown.body).toMatchObject({ field: 'fields', detail: expect.stringMatching(/nickname is not a property of members/) });
    expect((await post('/api/v1/import/members?fields=name', 'text/csv', csv).expect(400)).body.field).toBe('fields');
    expect((await post('/api/v1/import/members?extra=keep', 'text/csv', csv).expect(400)).body.field).toBe('extra');
    expect(await count('members')).toBe(before);
  });

  it('upserts by the natural key: the same file twice gives the same rows, updated, versioned and audited', async () => {
    const at = (i: number) => square(inside.lon + i * 0.0003, inside.lat);
    const first = collection([0, 1, 2].map((i) => feature(at(i), { external_id: `FW-${i}`, name: `登记楼${i}`, households: 10 + i })));
    const inserted = await post('/api/v1/import/buildings?mode=upsert', 'application/geo+json', first).expect(201);
    expect(inserted.body).toMatchObject({ mode: 'upsert', imported: 3, inserted: 3, updated: 0, deleted: 0 });
    const total = await count('buildings');
    // the second file renames them and leaves households out: those stay as stored
    const second = collection([0, 1, 2].map((i) => feature(at(i), { external_id: `FW-${i}`, name: `改名楼${i}` })));
    for (const round of [2, 3]) {
      const { body } = await post('/api/v1/import/buildings?mode=upsert', 'application/geo+json', second).expect(201);
      expect(body).toMatchObject({ imported: 3, inserted: 0, updated: 3 });
      expect(await count('buildings')).toBe(total);
      const { rows } = await sql<{ name: string; households: number; version: number; grid_id: number | null; updates: number }>`
        select b.name, b.households, b.version, b.grid_id,
               (select count(*)::int from audit_log e where e.resource = 'buildings' and e.row_id = b.id and e.action = 'update') as updates
        from buildings b where external_id like 'FW-%' order by external_id`.execute(db());
      expect(rows).toEqual(
        [0, 1, 2].map((i) => ({ name: `改名楼${i}`, households: 10 + i, version: round, grid_id: expect.any(Number), updates: round - 1 })),
      );
    }
    // a row without its key cannot be matched, nor can two rows with one key
    const keyless = await post(
      '/api/v1/import/buildings?mode=upsert',
      'application/geo+json',
      collection([
        feature(at(0), { name: '无编号楼' }),
        feature(at(1), { external_id: 'FW-1', name: 'a' }),
        feature(at(2), { external_id: 'FW-1', name: 'b' }),
      ]),
    ).expect(422);
    expect(keyless.body.rejected).toEqual([
      { row: 1, field: 'properties.external_id', reason: expect.stringMatching(/matches rows by external_id/) },
      { row: 3, field: 'properties.external_id', reason: 'external_id FW-1 is also in row 2' },
    ]);
    // only layers with a key take upsert; replace needs its community, and only for a community's own rows
    expect((await post('/api/v1/import/issues?mode=upsert', 'application/geo+json', first).expect(400)).body.field).toBe('mode');
    expect((await post('/api/v1/import/buildings?mode=replace', 'application/geo+json', first).expect(400)).body.field).toBe('community');
    expect((await post('/api/v1/import/grids?mode=replace&community=1', 'application/geo+json', first).expect(400)).body.field).toBe(
      'mode',
    );
    expect(
      (await post('/api/v1/import/buildings?mode=replace&community=999999', 'application/geo+json', first).expect(422)).body.field,
    ).toBe('community');
  });

  it('updates by key only the rows the importer may change where they stand', async () => {
    const planner = await testApp(test.database, { as: 'planner' });
    const {
      rows: [scope],
    } = await sql<{ community: number; lon: number; lat: number }>`
      select u.scope_community_id as community, ST_X(p) as lon, ST_Y(p) as lat
      from users u cross join lateral (select ST_PointOnSurface(geom) as p from grids where community_id = u.scope_community_id order by id limit 1) g
      where u.username = 'planner'`.execute(db());
    const {
      rows: [elsewhere],
    } = await sql<{ id: number; name: string; version: number }>`
      update buildings set external_id = 'ELSEWHERE-1' where id = (select min(id) from buildings where community_id <> ${scope.community})
      returning id, name, version`.execute(db());
    const file = collection([feature(square(scope.lon, scope.lat), { external_id: 'ELSEWHERE-1', name: '挪来的楼' })]);
    const { body } = await request(planner)
      .post('/api/v1/import/buildings?mode=upsert')
      .set('Content-Type', 'application/geo+json')
      .send(file)
      .expect(422);
    expect(body.rejected).toEqual([{ row: 1, field: 'geometry', reason: expect.stringMatching(/^Outside your scope/) }]);
    const {
      rows: [after],
    } = await sql<{ name: string; version: number }>`select name, version from buildings where id = ${elsewhere.id}`.execute(db());
    expect(after).toEqual({ name: elsewhere.name, version: elsewhere.version });
  });

  it('replaces one community’s buildings as a whole; a dry run reports what the real run does', async () => {
    const community = inside.community_id;
    const {
      rows: [kept],
    } = await sql<{ id: number }>`
      update buildings set external_id = 'KEEP-1' where id = (select min(id) from buildings where community_id = ${community}) returning id`.execute(
      db(),
    );
    const others = (
      await sql<{ n: number }>`select count(*)::int as n from buildings where community_id <> ${community} or community_id is null`.execute(
        db(),
      )
    ).rows[0].n;
    const had = (await sql<{ n: number }>`select count(*)::int as n from buildings where community_id = ${community}`.execute(db())).rows[0]
      .n;
    expect(had).toBeGreaterThan(2);
    const file = collection([
      feature(square(inside.lon, inside.lat + 0.0003), { external_id: 'KEEP-1', name: '保留楼' }),
      feature(square(inside.lon + 0.0003, inside.lat + 0.0003), { external_id: 'NEW-1', name: '新楼' }),
    ]);
    const path = `/api/v1/import/buildings?mode=replace&community=${community}`;
    const dry = await post(`${path}&dry_run=true`, 'application/geo+json', file).expect(200);
    const real = await post(path, 'application/geo+json', file).expect(201);
    expect(real.body).toMatchObject({ mode: 'replace', inserted: 1, updated: 1, deleted: had - 1, written: true });
    expect({ ...dry.body, dry_run: false, written: true }).toEqual(real.body);
    const { rows } = await sql<{
      id: number;
      name: string;
    }>`select id, name from buildings where community_id = ${community} order by name`.execute(db());
    expect(rows.map((r) => r.name).sort()).toEqual(['保留楼', '新楼'].sort());
    expect(rows.find((r) => r.name === '保留楼')!.id).toBe(kept.id);
    expect(await count('buildings')).toBe(others + 2);
    // a row of the file that lands in another community is refused, and nothing changes
    const astray = await post(
      path,
      'application/geo+json',
      collection([feature(square(100.5, 30.5), { external_id: 'FAR-1', name: '远楼' })]),
    ).expect(422);
    expect(astray.body.rejected[0]).toMatchObject({ row: 1, field: 'geometry', reason: expect.stringMatching(/outside community/) });
    expect(await count('buildings')).toBe(others + 2);
  });

  it('an upsert that fails after updating rows leaves them as they were', async () => {
    const { rows: stored } = await sql<{ code: string; name: string; street_code: string; version: number; geometry: unknown }>`
      select code, name, street_code, version, ST_AsGeoJSON(geom, 15)::json as geometry from communities where code like '6106020010__' and code < '610602001080' order by code`.execute(
      db(),
    );
    expect(stored.length).toBeGreaterThan(0);
    const before = await count('communities');
    // the stored communities renamed first, 600 new ones after them (more than one batch), and a last row whose street does not exist
    const features = [
      ...stored.map((c) => feature(c.geometry, { code: c.code, name: `${c.name}（改）`, street_code: c.street_code })),
      ...Array.from({ length: 600 }, (_, i) =>
        feature(square(101 + (i % 30) * 0.02, 31 + Math.floor(i / 30) * 0.02, 0.01), {
          code: `610602002${String(100 + i).padStart(3, '0')}`,
          name: `批量社区${i}`,
          street_code: '610602002',
        }),
      ),
      feature(square(102, 33, 0.01), { code: '610602999001', name: '无街道社区', street_code: '610602999' }),
    ];
    const { body } = await post('/api/v1/import/communities?mode=upsert', 'application/geo+json', collection(features)).expect(422);
    expect(body.rejected).toEqual([{ row: features.length, field: 'street_code', reason: expect.stringMatching(/610602999/) }]);
    expect(body).toMatchObject({ written: false, updated: stored.length });
    expect(await count('communities')).toBe(before);
    const { rows: after } = await sql<{ code: string; name: string; version: number }>`
      select code, name, version from communities where code in (select json_array_elements_text(${JSON.stringify(stored.map((c) => c.code))}::json)) order by code`.execute(
      db(),
    );
    expect(after).toEqual(stored.map(({ code, name, version }) => ({ code, name, version })));
    // 600 communities, the failing batch then written row by row to name its culprit, each redrawing its street
  }, 120_000);

  it('streams its progress as JSON lines when asked, the report last', async () => {
    const lines = Array.from({ length: 4000 }, (_, i) =>
      JSON.stringify(
        feature({ type: 'Point', coordinates: [inside.lon, inside.lat] }, { name: `进度${i}`, category: '居民', OBJECTID: i }),
      ),
    ).join('\n');
    const streamed = await request(app)
      .post('/api/v1/import/members')
      .set('Content-Type', 'application/x-ndjson')
      .set('Accept', 'application/x-ndjson')
      .buffer(true)
      .parse((res, done) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk));
        res.on('end', () => done(null, text));
      })
      .send(lines)
      .expect(200);
    expect(streamed.type).toBe('application/x-ndjson');
    const answer = (streamed.body as string)
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const progress = answer.slice(0, -1).map((line) => line.progress);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress[0]).toEqual({ phase: 'check', read: 0, rejected: 0, imported: 0, bytes: 0, total_bytes: Buffer.byteLength(lines) });
    expect(progress.map((p) => p.phase)).toContain('write');
    const written = progress.filter((p) => p.phase === 'write');
    expect(written.at(-1)).toMatchObject({ read: 4000, to_write: 4000, bytes: Buffer.byteLength(lines) });
    expect(answer.at(-1)).toEqual({
      status: 201,
      report: expect.objectContaining({ read: 4000, imported: 4000, ignored_columns: ['OBJECTID'] }),
    });
    // a refusal is the last line too, with the problem
    const refused = await request(app)
      .post('/api/v1/import/members')
      .set('Content-Type', 'application/x-ndjson')
      .set('Accept', 'application/x-ndjson')
      .send('{"type":"Feature","geometry":null,"properties":{}}')
      .expect(200);
    const last = JSON.parse((refused.text ?? '').trim().split('\n').at(-1)!);
    expect(last).toMatchObject({ status: 422, problem: { title: 'Rows rejected', rejected: [{ row: 1 }] } });
  });

  it('maps and upserts from the command line, saying what it mapped and ignored', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gridmap-cli-'));
    try {
      // a fresh embedded database has no streets yet: a roster of members then
      const file = join(dir, 'members.csv');
      await writeFile(file, `序号,党员编号,姓名,党员类别,lon,lat\n1,DY-0001,命令行党员,在职党员,${inside.lon},${inside.lat}\n`);
      const fields = 'external_id:党员编号,name:姓名,category:党员类别';
      const env = mode === 'server' ? { DATABASE_URL: test.url! } : { DATA_DIR: join(dir, 'data') };
      const run = (...args: string[]) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, ['--import', 'tsx', 'server/import.ts', ...args], {
            env: { PATH: process.env.PATH, ...env },
          });
          let stdout = '',
            stderr = '';
          child.stdout.on('data', (c) => (stdout += c));
          child.stderr.on('data', (c) => (stderr += c));
          child.on('exit', (code) => resolve({ code, stdout, stderr }));
        });
      const refused = await run('issues', file, '--mode', 'upsert');
      expect(refused).toMatchObject({ code: 2, stderr: expect.stringMatching(/issues have no code to match rows by/) });
      for (const [inserted, updated] of [
        [1, 0],
        [0, 1],
      ]) {
        const { code, stdout, stderr } = await run('members', file, '--fields', fields, '--mode', 'upsert');
        expect(stderr).toMatch(/members: done 100%, 1 rows read, 0 rejected, 1 written/);
        expect(stderr).toMatch(/mapped: external_id ← 党员编号, name ← 姓名, category ← 党员类别/);
        expect(stderr).toMatch(/ignored columns .*: 序号/);
        expect(code).toBe(0);
        expect(JSON.parse(stdout)).toMatchObject({ layer: 'members', mode: 'upsert', inserted, updated, ignored_columns: ['序号'] });
      }

      // a street with a given boundary, a community reaching past it: warned of with --street-tolerance 0
      expect(await run('communities', file, '--street-tolerance', '2')).toMatchObject({
        code: 2,
        stderr: expect.stringMatching(/street_tolerance is a share/),
      });
      const square = (x: number, y: number, size: number) => ({
        type: 'Polygon',
        coordinates: [
          [
            [x, y],
            [x + size, y],
            [x + size, y + size],
            [x, y + size],
            [x, y],
          ],
        ],
      });
      const layers: [string, object][] = [
        ['districts', { code: '610699', name: '命令行区', geometry: square(109.0, 36.0, 0.2) }],
        ['streets', { code: '610699001', name: '命令行街道', district_code: '610699', geometry: square(109.0, 36.0, 0.1) }],
        ['communities', { code: '610699001001', name: '越界社区', street_code: '610699001', geometry: square(109.09, 36.0, 0.02) }],
      ];
      for (const [layer, { geometry, ...properties }] of layers as [string, { geometry: object }][]) {
        const path = join(dir, `${layer}.geojson`);
        await writeFile(path, JSON.stringify({ type: 'FeatureCollection', features: [{ type: 'Feature', geometry, properties }] }));
        const { code, stderr } = await run(layer, path, '--street-tolerance', '0');
        expect(code).toBe(0);
        if (layer === 'communities') expect(stderr).toMatch(/warning, row 1: .*610699001/);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000); // a fresh embedded database is created and migrated first
});
