import ExcelJS from 'exceljs';
import { zipSync } from 'fflate';
import iconv from 'iconv-lite';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './support/app.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';
import { ogrShapefileZip, pointShapefileZip, WGS84_PRJ } from './support/shapefile.ts';

/**
 * The files a Chinese city's GIS office hands over: shapefiles in CGCS2000 Gauss–Krüger with GBK tables,
 * GeoJSON in CGCS2000, GBK CSV. Each is made here (GDAL's ogr2ogr, or by hand), imported, and compared with
 * what PostGIS's own ST_Transform makes of the same coordinates, and its names character by character.
 */
describe('imports of the files cities have', () => {
  let test: TestDatabase;
  let app: Awaited<ReturnType<typeof testApp>>;
  const db = () => test.database.db;
  const counts = async () =>
    (
      await sql<{ n: string }>`
    select (select count(*) from buildings) || '/' || (select count(*) from members) || '/' || (select count(*) from units) as n`.execute(
        db(),
      )
    ).rows[0].n;
  const post = (path: string, type: string, body: string | Buffer) => request(app).post(path).set('Content-Type', type).send(body);
  const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
  /** A workbook as Excel writes it (exceljs), its first sheet from rows of cells; `change` edits that sheet. */
  const workbook = async (rows: ExcelJS.CellValue[][], change?: (sheet: ExcelJS.Worksheet) => void) => {
    const book = new ExcelJS.Workbook();
    const sheet = book.addWorksheet('花名册');
    rows.forEach((row) => sheet.addRow(row));
    change?.(sheet);
    book.addWorksheet('说明').addRow(['第二张表不读', 'x']);
    return Buffer.from(await book.xlsx.writeBuffer());
  };

  beforeAll(async () => {
    test = await openTestDatabase();
    app = await testApp(test.database);
  });
  afterAll(() => test?.drop());

  /** Squares near the demo city (WGS 84), as PostGIS projects them into `srid`: full-precision metres. */
  const projectedSquares = async (srid: number, names: string[], [lon, lat] = [109.4862, 36.5922]) => {
    const { rows } = await sql<{ geometry: { type: string; coordinates: number[][][] } }>`
      select ST_AsGeoJSON(ST_SetSRID(ST_Transform(ST_MakeEnvelope(${lon} + n * 0.0004, ${lat}, ${lon} + n * 0.0004 + 0.0002, ${lat} + 0.0002, 4326), ${srid}::integer), 0), 15)::json as geometry
      from generate_series(0, ${names.length - 1}) as n order by n`.execute(db());
    return names.map((name, i) => ({ type: 'Feature', properties: { name }, geometry: rows[i].geometry }));
  };
  const collection = (srid: number | string, features: unknown[]) => ({
    type: 'FeatureCollection',
    crs: { type: 'name', properties: { name: typeof srid === 'number' ? `urn:ogc:def:crs:EPSG::${srid}` : srid } },
    features,
  });

  /** Each stored building against ST_Transform of its source geometry: the farthest vertex apart, in metres (in `srid`). */
  const farthest = async (features: { properties: { name: string }; geometry: unknown }[], srid: number) => {
    const metres: number[] = [];
    for (const f of features) {
      const { rows } = await sql<{ name: string; metres: number; lon: number }>`
        select b.name, ST_X(ST_PointOnSurface(b.geom)) as lon,
          ST_HausdorffDistance(ST_Transform(b.geom, ${srid}::integer), ST_Transform(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(${JSON.stringify(f.geometry)}), ${srid}), 4326), ${srid}::integer)) as metres
        from buildings b where b.name = ${f.properties.name}`.execute(db());
      expect(rows).toHaveLength(1);
      expect([...rows[0].name]).toEqual([...f.properties.name]);
      expect(rows[0].lon).toBeCloseTo(109.49, 1); // longitude now, not an easting
      metres.push(rows[0].metres);
    }
    return Math.max(...metres);
  };

  it('imports a shapefile in EPSG:4545 whose GBK table has no .cpg, by its language driver byte', async () => {
    const features = await projectedSquares(4545, ['杨家岭社区堃园1号楼', '杨家岭社区堃园2号楼']);
    const files = await ogrShapefileZip(collection(4545, features), ['ENCODING=LDID/77']);
    expect(Object.keys(files).sort()).toEqual(['fixture.dbf', 'fixture.prj', 'fixture.shp', 'fixture.shx']);
    expect(files['fixture.dbf'][29]).toBe(0x4d);
    expect(new TextDecoder().decode(files['fixture.prj'])).toMatch(/^PROJCS\["CGCS2000_3_Degree_GK_CM_108E"/);

    const { body } = await post('/api/v1/import/buildings', 'application/zip', Buffer.from(zipSync(files))).expect(201);
    expect(body).toMatchObject({ read: 2, imported: 2, rejected: [] });
    expect(await farthest(features, 4545)).toBeLessThan(0.01);
  });

  it('reads a GBK table without any mark as UTF-8 and names the column it cannot decode; .cpg over the driver byte, encoding= over both', async () => {
    const features = await projectedSquares(4545, ['枣园社区3号楼'], [109.4862, 36.5932]);
    const files = await ogrShapefileZip(collection(4545, features), ['ENCODING=LDID/77']);
    files['fixture.dbf'][29] = 0x57; // "ANSI": says nothing
    const before = await counts();
    const refused = await post('/api/v1/import/buildings', 'application/zip', Buffer.from(zipSync(files))).expect(422);
    expect(refused.body.rejected).toEqual([
      { row: 1, field: 'properties.name', reason: expect.stringMatching(/column name: .*not valid utf-8.*encoding=gbk/) },
    ]);
    expect(await counts()).toBe(before);
    // a .cpg wins over the language driver byte (here it is wrong), and the caller's encoding over both
    files['fixture.dbf'][29] = 0x4d;
    files['fixture.cpg'] = Buffer.from('UTF-8');
    expect(
      (await post('/api/v1/import/buildings', 'application/zip', Buffer.from(zipSync(files))).expect(422)).body.rejected[0].field,
    ).toBe('properties.name');
    expect(await counts()).toBe(before);
    await post('/api/v1/import/buildings?encoding=gbk', 'application/zip', Buffer.from(zipSync(files))).expect(201);
    expect(await farthest(features, 4545)).toBeLessThan(0.01);
  });

  it('imports a shapefile in EPSG:4524, eastings carrying the zone number, with a .cpg', async () => {
    const features = await projectedSquares(4524, ['桥沟社区4号楼', '桥沟社区5号楼'], [109.4862, 36.5942]);
    expect(features[0].geometry.coordinates[0][0][0]).toBeGreaterThan(36_000_000);
    const files = await ogrShapefileZip(collection(4524, features), ['ENCODING=UTF-8']);
    expect(new TextDecoder().decode(files['fixture.cpg'])).toBe('UTF-8');
    expect(new TextDecoder().decode(files['fixture.prj'])).toMatch(/^PROJCS\["CGCS2000_3_Degree_GK_Zone_36"/);
    await post('/api/v1/import/buildings', 'application/zip', Buffer.from(zipSync(files))).expect(201);
    expect(await farthest(features, 4524)).toBeLessThan(0.01);
  });

  it('imports GeoJSON in CGCS2000 (EPSG:4490) named by its crs member, and in EPSG:4545 by srid= or crs EPSG:4545', async () => {
    const places = [
      [109.48671234567, 36.58712345678],
      [109.48771234567, 36.58812345678],
    ];
    const units = places.map(([lon, lat], i) => ({
      type: 'Feature',
      properties: { name: `宝塔区驻区单位${i}`, kind: 'enterprise' },
      geometry: { type: 'Point', coordinates: [lon, lat] },
    }));
    await post('/api/v1/import/units', 'application/geo+json', JSON.stringify(collection(4490, units))).expect(201);
    for (const [i, [lon, lat]] of places.entries()) {
      const {
        rows: [unit],
      } = await sql<{ name: string; metres: number }>`
        select name, ST_Distance(geom::geography, ST_Transform(ST_SetSRID(ST_MakePoint(${lon}, ${lat}), 4490), 4326)::geography) as metres
        from units where name = ${`宝塔区驻区单位${i}`}`.execute(db());
      expect(unit.metres).toBeLessThan(0.01);
    }
    // no crs member: the caller's srid says what the metres are
    const features = await projectedSquares(4545, ['南关社区6号楼'], [109.4862, 36.5952]);
    const { crs: _, ...plain } = collection(4545, features);
    await post('/api/v1/import/buildings?srid=4545', 'application/geo+json', JSON.stringify(plain)).expect(201);
    expect(await farthest(features, 4545)).toBeLessThan(0.01);
    // the crs as GDAL's older writers and QGIS name it
    const named = await projectedSquares(4545, ['南关社区7号楼'], [109.4862, 36.5962]);
    await post('/api/v1/import/buildings', 'application/geo+json', JSON.stringify(collection('EPSG:4545', named))).expect(201);
    expect(await farthest(named, 4545)).toBeLessThan(0.01);
  });

  it('imports a GBK CSV given encoding=gbk, with x/y in metres given srid=', async () => {
    const {
      rows: [p],
    } = await sql<{ x: number; y: number }>`
      select ST_X(g) as x, ST_Y(g) as y from ST_Transform(ST_SetSRID(ST_MakePoint(109.4863, 36.5863), 4326), 4545) as g`.execute(db());
    const names = ['张堃', '李淼', '王喆'];
    const csv = iconv.encode(['name,category,x,y', ...names.map((name, i) => `${name},retired,${p.x + i},${p.y}`)].join('\r\n'), 'gbk');
    const before = await counts();

    const garbled = await post('/api/v1/import/members?srid=4545', 'text/csv', csv).expect(422);
    expect(garbled.body.rejected[0]).toEqual({ row: 1, field: 'properties.name', reason: expect.stringMatching(/encoding=gbk/) });
    const unprojected = await post('/api/v1/import/members?encoding=gbk', 'text/csv', csv).expect(422);
    expect(unprojected.body).toMatchObject({
      title: 'Unknown coordinate system',
      field: 'srid',
      detail: expect.stringMatching(/row 1: .*srid=/),
    });
    expect(await counts()).toBe(before);

    await post('/api/v1/import/members?encoding=gbk&srid=4545', 'text/csv', csv).expect(201);
    for (const [i, name] of names.entries()) {
      const { rows } = await sql<{ name: string; metres: number }>`
        select name, ST_Distance(geom::geography, ST_Transform(ST_SetSRID(ST_MakePoint(${p.x + i}, ${p.y}), 4545), 4326)::geography) as metres
        from members where name = ${name}`.execute(db());
      expect(rows).toHaveLength(1);
      expect([...rows[0].name]).toEqual([...name]);
      expect(rows[0].metres).toBeLessThan(0.01);
    }
  });

  it('imports an Excel sheet of units with coordinates, dates as ISO dates, headers trimmed', async () => {
    const file = await workbook([
      [' name ', 'kind', 'has_agreement', 'agreement_signed_on', 'lon', 'lat'],
      ['延安红街文化公司', 'enterprise', true, new Date(Date.UTC(2023, 4, 4)), 109.4871, 36.5871],
      [],
      ['宝塔山小学', 'school', false, null, 109.4875, 36.5875],
    ]);
    const { body } = await post('/api/v1/import/units', XLSX, file).expect(201);
    expect(body).toMatchObject({ read: 2, imported: 2 });
    const { rows } = await sql<{ name: string; signed: string | null; has_agreement: boolean; lon: number }>`
      select name, agreement_signed_on::text as signed, has_agreement, ST_X(geom) as lon from units where name in ('延安红街文化公司', '宝塔山小学') order by name desc`.execute(
      db(),
    );
    expect(rows).toEqual([
      { name: '延安红街文化公司', signed: '2023-05-04', has_agreement: true, lon: 109.4871 },
      { name: '宝塔山小学', signed: null, has_agreement: false, lon: 109.4875 },
    ]);
    expect([...rows[0].name]).toEqual([...'延安红街文化公司']);
  });

  it('places an Excel roster of members without coordinates at their buildings, and reports who matched none', async () => {
    const { rows: homes } = await sql<{ id: number; name: string; address: string; code: string; community: string }>`
      select b.id, b.name, b.address, c.code, c.name as community from buildings b join communities c on c.id = b.community_id
      where b.address is not null and (select count(*) from buildings o where o.community_id = b.community_id and o.name = b.name) = 1
      order by b.id limit 2`.execute(db());
    expect(homes).toHaveLength(2);
    const roster = [
      ['name', 'category', 'phone', 'building', 'community'],
      ['刘德华', 'retired', '13800000001', homes[0].name, homes[0].code], // a building's name within its community's code
      ['赵丽颖', 'in_service', '13800000002', homes[1].address, homes[1].community], // its address within its community's name
    ];
    const before = await counts();
    const unmatched = await post(
      '/api/v1/import/members',
      XLSX,
      await workbook([...roster, ['钱七', 'retired', '13800000003', '不存在的楼', homes[0].code]]),
    ).expect(422);
    expect(unmatched.body.rejected).toEqual([
      { row: 3, field: 'building', reason: `building 不存在的楼 in ${homes[0].code} matched no building` },
    ]);
    expect(await counts()).toBe(before);

    const imported = await post('/api/v1/import/members', XLSX, await workbook(roster));
    // the problem, when there is one, says why (once seen as a 400 under a loaded CI run, not reproduced)
    expect(imported.status, imported.text).toBe(201);
    for (const [i, name] of ['刘德华', '赵丽颖'].entries()) {
      const {
        rows: [member],
      } = await sql<{ building_id: number; metres: number }>`
        select m.building_id, ST_Distance(m.geom::geography, ST_PointOnSurface(b.geom)::geography) as metres
        from members m join buildings b on b.id = ${homes[i].id} where m.name = ${name}`.execute(db());
      expect(member).toEqual({ building_id: homes[i].id, metres: expect.any(Number) });
      expect(member.metres).toBeLessThan(0.01);
    }
  });

  it("places a roster whose building and community columns have the office's own headers, mapped with fields=", async () => {
    const {
      rows: [home],
    } = await sql<{ id: number; address: string; community: string }>`
      select b.id, b.address, c.name as community from buildings b join communities c on c.id = b.community_id
      where b.address is not null and (select count(*) from buildings o where o.community_id = b.community_id and o.address = b.address) = 1
      order by b.id desc limit 1`.execute(db());
    const csv = `姓名,党员类别,门牌,所属社区名称\n孙悟空,retired,${home.address},${home.community}\n`;
    const before = await counts();
    // unmapped, the headers place nothing: the row is refused naming the geometry
    const unplaced = await post('/api/v1/import/members?fields=name:姓名,category:党员类别', 'text/csv', csv).expect(422);
    expect(unplaced.body.rejected[0]).toMatchObject({ row: 1, field: 'geometry' });
    // a place column the file does not have ends the import naming fields
    const missing = await post('/api/v1/import/members?fields=name:姓名,category:党员类别,building:楼号', 'text/csv', csv).expect(422);
    expect(missing.body).toMatchObject({ field: 'fields', column: '楼号', detail: expect.stringMatching(/no column 楼号/) });
    // place columns belong to tables: a GeoJSON's features have their geometry
    const notTable = await post(
      '/api/v1/import/members?fields=building:门牌',
      'application/geo+json',
      '{"type":"FeatureCollection","features":[]}',
    ).expect(400);
    expect(notTable.body).toMatchObject({
      field: 'fields',
      detail: expect.stringMatching(/building names a column of a CSV or Excel table only/),
    });
    expect(await counts()).toBe(before);

    const placed = await post(
      '/api/v1/import/members?fields=name:姓名,category:党员类别,building:门牌,community:所属社区名称',
      'text/csv',
      csv,
    ).expect(201);
    expect(placed.body).toMatchObject({ imported: 1, ignored_columns: [] });
    const {
      rows: [member],
    } = await sql<{ building_id: number }>`select building_id from members where name = '孙悟空'`.execute(db());
    expect(member.building_id).toBe(home.id);
  });

  it('refuses an Excel sheet with a formula or a merged header, naming the column, and writes nothing', async () => {
    const before = await counts();
    const formula = await workbook([
      ['name', 'category', 'lon', 'lat'],
      ['孙八', { formula: 'UPPER("retired")', result: 'RETIRED' }, 109.4862, 36.5862],
    ]);
    const refused = await post('/api/v1/import/members', XLSX, formula).expect(422);
    expect(refused.type).toBe('application/problem+json');
    expect(refused.body.rejected).toEqual([
      { row: 1, field: 'properties.category', reason: 'column category: a formula: we take values, not formulas; paste values' },
    ]);
    const merged = await workbook(
      [
        ['姓名', '', 'lon', 'lat'],
        ['周九', 'retired', 109.4862, 36.5862],
      ],
      (sheet) => sheet.mergeCells('A1:B1'),
    );
    const header = await post('/api/v1/import/members', XLSX, merged).expect(400);
    expect(header.body).toMatchObject({
      title: 'Merged header',
      field: 'body',
      detail: expect.stringMatching(/header 姓名 \(cell A1\) is a merged cell/),
    });
    expect(await counts()).toBe(before);
  });

  it('assembles an OSM multipolygon whose outer and inner rings are split across several ways', async () => {
    const [x, y] = [109.4882, 36.5902];
    const node = (id: number, dx: number, dy: number) => `<node id="${id}" lon="${(x + dx).toFixed(7)}" lat="${(y + dy).toFixed(7)}"/>`;
    const way = (id: number, refs: number[]) => `<way id="${id}">${refs.map((r) => `<nd ref="${r}"/>`).join('')}</way>`;
    const relation = (
      outer: number[],
      inner: number[],
    ) => `<relation id="300">${outer.map((w) => `<member type="way" ref="${w}" role="outer"/>`).join('')}
      ${inner.map((w) => `<member type="way" ref="${w}" role="inner"/>`).join('')}<tag k="type" v="multipolygon"/><tag k="building" v="school"/><tag k="name" v="延安市第五中学"/></relation>`;
    const nodes = [
      node(1, 0, 0),
      node(2, 0.0004, 0),
      node(3, 0.0004, 0.0004),
      node(4, 0, 0.0004),
      node(11, 0.0001, 0.0001),
      node(12, 0.0003, 0.0001),
      node(13, 0.0003, 0.0003),
      node(14, 0.0001, 0.0003),
    ].join('');
    // the outer ring in three ways, the middle one drawn backwards; the courtyard in two
    const ways = [way(401, [1, 2]), way(402, [4, 3, 2]), way(403, [4, 1]), way(411, [11, 12, 13]), way(412, [13, 14, 11])].join('');
    const osm = (outer: number[], inner: number[]) =>
      `<?xml version="1.0"?><osm version="0.6">${nodes}${ways}${relation(outer, inner)}</osm>`;

    await post('/api/v1/import/buildings', 'application/osm+xml', osm([401, 402, 403], [411, 412])).expect(201);
    const {
      rows: [school],
    } = await sql<{ holes: number; area: number; valid: boolean }>`
      select ST_NumInteriorRings(geom) as holes, ST_Area(geom::geography) as area, ST_IsValid(geom) as valid from buildings where name = '延安市第五中学'`.execute(
      db(),
    );
    const {
      rows: [expected],
    } = await sql<{ area: number }>`
      select ST_Area(ST_Difference(ST_MakeEnvelope(${x}, ${y}, ${x + 0.0004}, ${y + 0.0004}, 4326), ST_MakeEnvelope(${x + 0.0001}, ${y + 0.0001}, ${x + 0.0003}, ${y + 0.0003}, 4326))::geography) as area`.execute(
      db(),
    );
    expect(school).toMatchObject({ holes: 1, valid: true });
    expect(school.area).toBeCloseTo(expected.area, 1);

    const open = await post('/api/v1/import/buildings', 'application/osm+xml', osm([401, 402], [411, 412])).expect(422);
    expect(open.body.rejected[0]).toEqual({ row: 1, reason: 'relation/300: ways 401, 402 do not close a ring' });
  });

  it('refuses what it cannot place or decode with a problem naming the parameter, and writes nothing', async () => {
    const before = await counts();
    const point = [{ lon: 636000, lat: 4050000, fields: { name: '某楼', category: 'retired' } }];
    const unknownPrj =
      'PROJCS["Local_Grid_Yanan",GEOGCS["GCS_Unknown",DATUM["D_Unknown",SPHEROID["Unknown",1.0,0.0]]],PROJECTION["No_Such_Projection"],UNIT["Meter",1.0]]';
    const unmatched = await post('/api/v1/import/members', 'application/zip', pointShapefileZip(point, unknownPrj)).expect(422);
    expect(unmatched.body).toMatchObject({
      title: 'Unknown coordinate system',
      field: 'srid',
      detail: expect.stringMatching(/\.prj \(Local_Grid_Yanan\).*srid=/),
    });
    expect(unmatched.type).toBe('application/problem+json');
    // the caller's srid wins over a .prj PostGIS cannot read
    await post('/api/v1/import/members?srid=4545&dry_run=true', 'application/zip', pointShapefileZip(point, unknownPrj)).expect(200);

    const wgs84InMetres = await post('/api/v1/import/members', 'application/zip', pointShapefileZip(point, WGS84_PRJ)).expect(422);
    expect(wgs84InMetres.body).toMatchObject({
      field: 'srid',
      detail: expect.stringMatching(/636000,4050000 is not a longitude and latitude/),
    });
    expect(
      (await post('/api/v1/import/members?srid=99999', 'application/zip', pointShapefileZip(point, WGS84_PRJ)).expect(422)).body.field,
    ).toBe('srid');
    expect(
      (await post('/api/v1/import/members?srid=EPSG:4545', 'application/zip', pointShapefileZip(point, WGS84_PRJ)).expect(400)).body.field,
    ).toBe('srid');
    expect((await post('/api/v1/import/members?encoding=klingon', 'text/csv', 'name,lon,lat\n').expect(400)).body.field).toBe('encoding');
    expect((await post('/api/v1/import/members?encoding=gbk', 'application/geo+json', '{}').expect(400)).body.field).toBe('encoding');
    const badGeoJsonCrs = await post(
      '/api/v1/import/buildings',
      'application/geo+json',
      JSON.stringify(collection('urn:ogc:def:crs:OGC::Nowhere', await projectedSquares(4545, ['无处楼']))),
    ).expect(422);
    expect(badGeoJsonCrs.body).toMatchObject({ field: 'srid', detail: expect.stringMatching(/Nowhere/) });
    const noShp = await ogrShapefileZip(collection(4545, await projectedSquares(4545, ['x'])), ['ENCODING=UTF-8']);
    delete noShp['fixture.shp'];
    expect((await post('/api/v1/import/buildings', 'application/zip', Buffer.from(zipSync(noShp))).expect(400)).body.detail).toMatch(
      /\.shp and its \.dbf/,
    );
    expect(await counts()).toBe(before);
  });
});
