import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionFor, testApp } from './support/app.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * /ogc read by GDAL's OGC API – Features driver (OAPIF), the client QGIS uses, over real HTTP: the layers
 * each caller is offered, whole layers paged through next links, bbox pushed to the server, and a
 * GeoPackage copy whose geometries equal the stored ones bit for bit. Every answer is checked against SQL
 * on the test database, never against the server alone.
 */

// GDAL from Debian (apt-get install gdal-bin): CI must have it, elsewhere this file is skipped without it
const OGRINFO = '/usr/bin/ogrinfo';
const OGR2OGR = '/usr/bin/ogr2ogr';
const haveGdal = existsSync(OGRINFO) && existsSync(OGR2OGR);
if (!haveGdal && process.env.CI) throw new Error(`CI needs GDAL at ${OGRINFO} and ${OGR2OGR} (apt-get install gdal-bin)`);

const run = promisify(execFile);
const ALL_LAYERS = ['districts', 'streets', 'communities', 'grids', 'buildings', 'units', 'issues', 'members'];

describe.skipIf(!haveGdal)(`OGC API – Features read by GDAL (${mode} database)`, () => {
  let test: TestDatabase;
  let server: Server | undefined;
  let source: string;
  let dir: string;
  const tokens: Record<string, string> = {};
  const db = () => test.database.db;

  /** A GDAL program with the caller's token (none: anonymous); stdout and stderr. */
  async function gdal(program: string, as: string | null, args: string[]) {
    const auth = as ? ['--config', 'GDAL_HTTP_HEADERS', `Authorization: Bearer ${tokens[as]}`] : [];
    // straight to the test server, never through a proxy
    const env = { ...process.env, NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1', GDAL_HTTP_TIMEOUT: '60' };
    const { stdout, stderr } = await run(program, [...auth, ...args], { env, maxBuffer: 512 * 1024 * 1024, timeout: 120_000 });
    return { stdout, stderr };
  }
  const layersOffered = async (as: string | null) =>
    [...(await gdal(OGRINFO, as, ['-ro', '-q', source])).stdout.matchAll(/^\d+: (\w+)/gm)].map((m) => m[1]);
  /** The FIDs GDAL reads of a layer: the server's ids. */
  const fidsRead = async (as: string, layer: string, extra: string[] = []) => {
    const { stdout, stderr } = await gdal(OGRINFO, as, ['-ro', '-q', '-geom=NO', '-oo', 'PAGE_SIZE=1000', ...extra, source, layer]);
    return { fids: [...stdout.matchAll(new RegExp(`^OGRFeature\\(${layer}\\):(\\d+)$`, 'gm'))].map((m) => Number(m[1])), stderr };
  };
  const count = async (query: ReturnType<typeof sql<{ n: number }>>) => (await query.execute(db())).rows[0].n;

  beforeAll(async () => {
    test = await openTestDatabase();
    const app = await testApp(test.database, { as: null });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    source = `OAPIF:http://127.0.0.1:${(server.address() as AddressInfo).port}/ogc`;
    tokens.admin = await sessionFor(test.database, 'admin');
    // the leader's GIS signs in as a GIS does: with a read-only access key the leader made
    const made = await fetch(`${source.slice('OAPIF:'.length).replace(/\/ogc$/, '')}/api/v1/auth/keys`, {
      method: 'POST',
      body: JSON.stringify({ label: 'QGIS', days: 30 }),
      headers: { Authorization: `Bearer ${await sessionFor(test.database, 'leader')}`, 'Content-Type': 'application/json' },
    });
    expect(made.status).toBe(201);
    tokens.leader = (await made.json()).token;
    dir = await mkdtemp(join(tmpdir(), 'gridmap-ogc-gdal-'));
  });
  afterAll(async () => {
    if (server) await new Promise((resolve) => server!.close(resolve));
    await test?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('offers anonymous callers the public layers only, and an admin every layer', async () => {
    expect(await layersOffered(null)).toEqual(['districts', 'streets', 'communities', 'grids']);
    expect(await layersOffered('admin')).toEqual(ALL_LAYERS);
  });

  it("signs QGIS 3.22 and GDAL in with the leader's access key as a Basic password or as access_key, through every page", async () => {
    const env = { ...process.env, NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1', GDAL_HTTP_TIMEOUT: '60' };
    const ogrinfo = async (args: string[]) =>
      (await run(OGRINFO, ['-ro', '-q', ...args], { env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 })).stdout;
    const street = sql`(select id from communities where street_code = (select scope_street_code from users where username = 'leader'))`;
    const inStreet = await count(sql<{ n: number }>`select count(*)::int as n from buildings where community_id in ${street}`);
    expect(inStreet).toBeGreaterThan(100);
    const fids = (stdout: string) => [...stdout.matchAll(/^OGRFeature\(buildings\):(\d+)$/gm)].map((m) => Number(m[1]));
    const asLeader = await layersOffered('leader');
    expect(asLeader).not.toEqual(await layersOffered(null));

    // the key in the URL: GDAL follows the next links the server wrote, 100 buildings a page
    const keyed = `${source}?access_key=${tokens.leader}`;
    expect([...(await ogrinfo([keyed])).matchAll(/^\d+: (\w+)/gm)].map((m) => m[1])).toEqual(asLeader);
    const read = fids(await ogrinfo(['-geom=NO', '-oo', 'PAGE_SIZE=100', keyed, 'buildings']));
    expect({ read: read.length, distinct: new Set(read).size }).toEqual({ read: inStreet, distinct: inStreet });

    // the key as HTTP Basic password, as QGIS's Basic authentication sends it
    const basic = ['--config', 'GDAL_HTTP_AUTH', 'BASIC', '--config', 'GDAL_HTTP_USERPWD', `leader:${tokens.leader}`];
    expect([...(await ogrinfo([...basic, source])).matchAll(/^\d+: (\w+)/gm)].map((m) => m[1])).toEqual(asLeader);
    expect(fids(await ogrinfo([...basic, '-geom=NO', '-oo', 'PAGE_SIZE=100', source, 'buildings'])).length).toBe(inStreet);
  });

  it('reads every feature of every layer as an admin, paging through next links', async () => {
    for (const layer of ALL_LAYERS) {
      const { fids } = await fidsRead('admin', layer);
      const stored = await count(sql<{ n: number }>`select count(*)::int as n from ${sql.table(layer)}`);
      expect({ layer, read: fids.length, distinct: new Set(fids).size }).toEqual({ layer, read: stored, distinct: stored });
    }
  });

  it("reads a leader its street's buildings only, and members without names or homes", async () => {
    const street = sql`(select id from communities where street_code = (select scope_street_code from users where username = 'leader'))`;
    const inStreet = await count(sql<{ n: number }>`select count(*)::int as n from buildings where community_id in ${street}`);
    const all = await count(sql<{ n: number }>`select count(*)::int as n from buildings`);
    expect(inStreet).toBeGreaterThan(0);
    expect(inStreet).toBeLessThan(all);
    expect((await fidsRead('leader', 'buildings')).fids.length).toBe(inStreet);

    const { stdout } = await gdal(OGR2OGR, 'leader', ['-f', 'GeoJSON', '/vsistdout/', '-oo', 'PAGE_SIZE=1000', source, 'members']);
    const members = (JSON.parse(stdout) as GeoJSON.FeatureCollection).features;
    expect(members.length).toBe(await count(sql<{ n: number }>`select count(*)::int as n from members where community_id in ${street}`));
    expect(members.filter((m) => m.properties?.name != null || m.geometry != null)).toEqual([]);
    // the masking is of who and where, not of everything: the category still comes through
    expect(members.every((m) => typeof m.properties?.category === 'string')).toBe(true);
  });

  it('sends a spatial filter to the server as bbox, and gets exactly the buildings that meet the box', async () => {
    // the south-west quarter of the first community's envelope
    const {
      rows: [box],
    } = await sql<{ xmin: number; ymin: number; xmax: number; ymax: number }>`
      select ST_XMin(e) as xmin, ST_YMin(e) as ymin, (ST_XMin(e) + ST_XMax(e)) / 2 as xmax, (ST_YMin(e) + ST_YMax(e)) / 2 as ymax
      from (select ST_Envelope(geom) as e from communities order by id limit 1) c`.execute(db());
    const { rows } = await sql<{ id: number }>`
      select id from buildings where ST_Intersects(geom, ST_MakeEnvelope(${box.xmin}, ${box.ymin}, ${box.xmax}, ${box.ymax}, 4326)) order by id`.execute(
      db(),
    );
    const expected = rows.map((r) => r.id);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(await count(sql<{ n: number }>`select count(*)::int as n from buildings`));

    const { fids, stderr } = await fidsRead('admin', 'buildings', [
      '--debug',
      'on',
      '-spat',
      ...[box.xmin, box.ymin, box.xmax, box.ymax].map(String),
    ]);
    expect(fids.sort((a, b) => a - b)).toEqual(expected);
    // the server filtered, not only GDAL after reading everything: its request carried the box, and the
    // server's answer to that very request holds exactly these buildings
    const sent = [...stderr.matchAll(/Fetch\((http:\/\/[^)\s]*\/collections\/buildings\/items\?[^)\s]*bbox=[^)\s]*)\)/g)].map((m) => m[1]);
    expect(sent.length).toBeGreaterThan(0);
    const answer = (await (
      await fetch(sent[0], { headers: { Authorization: `Bearer ${tokens.admin}` } })
    ).json()) as GeoJSON.FeatureCollection;
    expect(answer.features.map((f) => Number(f.id)).sort((a, b) => a - b)).toEqual(expected);
  });

  it('copies the grids into a GeoPackage whose geometries equal the stored ones exactly', async () => {
    const gpkg = join(dir, 'grids.gpkg');
    const copy = join(dir, 'grids.geojson');
    await gdal(OGR2OGR, 'admin', ['-f', 'GPKG', '-oo', 'PAGE_SIZE=1000', gpkg, source, 'grids']);
    // read back at full precision, in the stored axis order, as GeoJSON that PostGIS can parse
    await gdal(OGR2OGR, null, [
      '-f',
      'GeoJSON',
      '-lco',
      'SIGNIFICANT_FIGURES=17',
      '-lco',
      'RFC7946=NO',
      copy,
      gpkg,
      'grids',
      '-select',
      'code,name',
    ]);
    const {
      rows: [result],
    } = await sql<{ copied: number; stored: number; joined: number; exact: number; named: number }>`
      with copy as (
        select f->'properties'->>'code' as code, f->'properties'->>'name' as name,
               ST_SetSRID(ST_GeomFromGeoJSON(f->>'geometry'), 4326) as geom
        from json_array_elements(${await readFile(copy, 'utf8')}::json->'features') f)
      select (select count(*) from copy)::int as copied, (select count(*) from grids)::int as stored,
             count(*)::int as joined,
             count(*) filter (where ST_AsBinary(ST_ForcePolygonCCW(g.geom)) = ST_AsBinary(ST_ForcePolygonCCW(c.geom)))::int as exact,
             count(*) filter (where g.name = c.name)::int as named
      from copy c join grids g on g.code = c.code`.execute(db());
    expect(result.stored).toBeGreaterThan(0);
    expect(result).toEqual({
      copied: result.stored,
      stored: result.stored,
      joined: result.stored,
      exact: result.stored,
      named: result.stored,
    });
  });

  it('gives the right buildings for an attribute filter, whether GDAL sends it or applies it', async () => {
    const { fids } = await fidsRead('admin', 'buildings', ['-where', "kind = 'residential'"]);
    const residential = await count(sql<{ n: number }>`select count(*)::int as n from buildings where kind = 'residential'`);
    expect(residential).toBeGreaterThan(0);
    expect(residential).toBeLessThan(await count(sql<{ n: number }>`select count(*)::int as n from buildings`));
    expect(fids.length).toBe(residential);
  });
});
