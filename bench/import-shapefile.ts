/**
 * import-shapefile: a city GIS office's footprints (a zipped Shapefile in CGCS2000 Gauss–Krüger, EPSG:4545, its
 * DBF in GBK marked only by its language driver byte, made by GDAL) imported by Gridmap (the .prj matched to an
 * EPSG code, ST_Transform in batches, every row checked, links derived, audited) against the peer such an
 * office would use: `ogr2ogr -f PostgreSQL` of the same file into the same table of a copy of the same database
 * (the same link and audit triggers fire), in the same run on the same PostgreSQL server.
 *
 *   npm run bench -- import-shapefile [--count 100000] --server postgres://postgres@127.0.0.1:5432/postgres
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { zipSync } from 'fflate';
import { sql } from 'kysely';
import { openDatabase } from '../server/db/database.ts';
import { buildings } from '../server/features/buildings/resource.ts';
import { IMPORT_LIMITS } from '../server/features/import/limits.ts';
import { importRows } from '../server/features/import/service.ts';
import { readRows } from '../server/features/import/sources.ts';
import { footprints, prepared, timed } from './import.ts';

const run$ = promisify(execFile);

export async function run(args: string[]) {
  const { values } = parseArgs({ args, options: { count: { type: 'string', default: '100000' }, server: { type: 'string' } } });
  if (!values.server) throw new Error('ogr2ogr writes to a PostgreSQL server: give --server postgres://…');
  const count = Number(values.count);
  const dir = await mkdtemp(join(tmpdir(), 'gridmap-bench-shp-'));
  console.log(`import-shapefile: ${count.toLocaleString('en')} footprints, EPSG:4545, GBK DBF without .cpg`);
  const rows = footprints(count);
  await writeFile(
    join(dir, 'in.geojson'),
    JSON.stringify({
      type: 'FeatureCollection',
      features: rows.map((r) => ({
        type: 'Feature',
        geometry: { type: 'Polygon', coordinates: [r.ring] },
        properties: { name: r.name, floors: r.floors, households: r.households, residents: r.residents },
      })),
    }),
  );
  // the file as an office's GIS makes it: projected by GDAL, its DBF in GBK marked by the language driver byte
  await run$('ogr2ogr', [
    '-f',
    'ESRI Shapefile',
    join(dir, 'buildings.shp'),
    join(dir, 'in.geojson'),
    '-t_srs',
    'EPSG:4545',
    '-lco',
    'ENCODING=LDID/77',
  ]);
  const files: Record<string, Uint8Array> = {};
  for (const name of await readdir(dir)) if (name.startsWith('buildings.')) files[name] = await readFile(join(dir, name));
  await writeFile(join(dir, 'buildings.zip'), zipSync(files));

  const admin = await openDatabase({ url: values.server });
  const url = (name: string) => Object.assign(new URL(values.server!), { pathname: `/${name}` }).toString();
  const names = ['gridmap_bench_template', 'gridmap_bench_import', 'gridmap_bench_ogr'];
  for (const name of names) await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
  try {
    console.log('  preparing (demo city in a template database)…');
    await sql`create database gridmap_bench_template`.execute(admin.db);
    await (await prepared(() => openDatabase({ url: url('gridmap_bench_template') }))).close();
    await sql`create database gridmap_bench_import template gridmap_bench_template`.execute(admin.db);
    await sql`create database gridmap_bench_ogr template gridmap_bench_template`.execute(admin.db);

    console.log('  Gridmap import…');
    const ours = await openDatabase({ url: url('gridmap_bench_import') });
    const limits = IMPORT_LIMITS['command line'];
    let report: Awaited<ReturnType<typeof importRows>> | undefined;
    const gridmap = await timed(async () => {
      report = await importRows(ours.db, buildings, readRows(createReadStream(join(dir, 'buildings.zip')), 'shapefile', limits), {
        crs: 'wgs84',
        dryRun: false,
        repair: false,
        extra: 'ignore',
        mode: 'insert',
        limits,
        actor: { username: 'bench' },
      });
    });
    if (report!.imported !== count)
      throw new Error(`imported ${report!.imported} of ${count}: ${JSON.stringify(report!.rejected.slice(0, 3))}`);
    const sample = async (db: typeof ours.db) =>
      (
        await sql<{ name: string; x: number }>`
      select name, round(ST_X(ST_PointN(ST_ExteriorRing(geom), 1))::numeric, 7)::float8 as x from buildings where name = '基准楼1'`.execute(
          db,
        )
      ).rows[0];
    const ourSample = await sample(ours.db);
    await ours.close();

    console.log('  ogr2ogr -f PostgreSQL…');
    const { hostname, port, username } = new URL(values.server);
    const ogr = await timed(() =>
      run$('ogr2ogr', [
        '-f',
        'PostgreSQL',
        `PG:host=${hostname} port=${port || 5432} user=${username || 'postgres'} dbname=gridmap_bench_ogr`,
        join(dir, 'buildings.shp'),
        '-nln',
        'buildings',
        '-append',
        '-t_srs',
        'EPSG:4326',
        '-nlt',
        'POLYGON',
        '-gt',
        'unlimited',
        '--config',
        'PG_USE_COPY',
        'YES',
      ]),
    );
    const peer = await openDatabase({ url: url('gridmap_bench_ogr') });
    const written = (await sql<{ n: number }>`select count(*)::int as n from buildings where name like '基准楼%'`.execute(peer.db)).rows[0]
      .n;
    const peerSample = await sample(peer.db);
    await peer.close();
    if (written !== count) throw new Error(`ogr2ogr wrote ${written} of ${count}`);
    if (JSON.stringify(ourSample) !== JSON.stringify(peerSample))
      throw new Error(`the two disagree: ${JSON.stringify(ourSample)} against ${JSON.stringify(peerSample)}`);

    const perSecond = (ms: number) => `${Math.round(count / (ms / 1000)).toLocaleString('en')}/s`;
    console.log('\n                      Gridmap import       ogr2ogr -f PostgreSQL   ratio');
    console.log(
      `server (PostgreSQL)   ${perSecond(gridmap).padStart(14)}${perSecond(ogr).padStart(24)}${`${(gridmap / ogr).toFixed(2)}×`.padStart(8)}`,
    );
    console.log(
      `\nBoth wrote the same ${count.toLocaleString('en')} rows (the first vertex of 基准楼1 at ${ourSample.x} in both), with the link and audit triggers.`,
    );
    console.log('Gridmap also checks every row (type, range, validity, service area) before writing, and can undo the import.');
  } finally {
    for (const name of names) await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
    await admin.close();
    await rm(dir, { recursive: true, force: true });
  }
}
