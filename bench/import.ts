/**
 * import: features/s of Gridmap's import (streamed NDJSON → checks → batches through json_populate_record,
 * links derived by the triggers, one transaction) against plain COPY of the same rows into the same table
 * (same triggers), on a database that already holds the demo city, in the same run on the same engine.
 *
 *   npm run bench -- import [--count 100000] [--runs 1] [--server postgres://postgres@127.0.0.1:5432/postgres]
 *
 * With --runs N each database runs the import and its floor N times in turns, and the medians are reported
 * (the ratio is the median of the runs' own ratios): one run apart, the ratio moved by a tenth.
 */
import { createReadStream } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { generateDemoCity } from '../data/demo-city.ts';
import { loadDemoCity } from '../data/load-demo.ts';
import { openDatabase, type Database } from '../server/db/database.ts';
import { migrate } from '../server/db/migrate.ts';
import { buildings } from '../server/features/buildings/resource.ts';
import { importRows } from '../server/features/import/service.ts';
import { readRows } from '../server/features/import/sources.ts';
import { IMPORT_LIMITS } from '../server/features/import/limits.ts';

/** `count` footprints 12 × 16 m scattered over the demo district by a fixed rule (same rows every run). */
export function footprints(count: number) {
  return Array.from({ length: count }, (_, i) => {
    const lon = 109.476 + ((i * 7919) % 2800) * 0.00001;
    const lat = 36.583 + ((i * 104729) % 1400) * 0.00001;
    const ring = [
      [lon, lat],
      [lon + 0.00018, lat],
      [lon + 0.00018, lat + 0.00011],
      [lon, lat + 0.00011],
      [lon, lat],
    ];
    return { name: `基准楼${i + 1}`, floors: 6, households: 24, residents: 60, ring };
  });
}

export async function prepared(make: () => Promise<Database>) {
  const database = await make();
  await migrate(database.db);
  await loadDemoCity(database.db, generateDemoCity({ seed: 1, size: 1 }));
  return database;
}

export async function timed(work: () => Promise<unknown>) {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

export async function run(args: string[]) {
  const { values } = parseArgs({
    args,
    options: { count: { type: 'string', default: '100000' }, runs: { type: 'string', default: '1' }, server: { type: 'string' } },
  });
  const count = Number(values.count);
  const runs = Number(values.runs);
  if (!(Number.isInteger(runs) && runs > 0)) throw new Error('--runs must be a positive whole number');
  const dir = await mkdtemp(join(tmpdir(), 'gridmap-bench-'));
  await chmod(dir, 0o755);
  const rows = footprints(count);
  const ndjson = join(dir, 'buildings.ndjson');
  const csv = join(dir, 'buildings.csv');
  await writeFile(
    ndjson,
    rows
      .map((r) =>
        JSON.stringify({
          type: 'Feature',
          geometry: { type: 'Polygon', coordinates: [r.ring] },
          properties: { name: r.name, floors: r.floors, households: r.households, residents: r.residents },
        }),
      )
      .join('\n'),
  );
  await writeFile(
    csv,
    rows
      .map((r) => `${r.name},${r.floors},${r.households},${r.residents},"SRID=4326;POLYGON((${r.ring.map((p) => p.join(' ')).join(',')}))"`)
      .join('\n'),
  );
  await chmod(csv, 0o644);
  console.log(`import: ${count.toLocaleString('en')} building footprints into a database holding the demo city`);

  const gridmapImport = async (database: Database) => {
    let shown = 0;
    const limits = IMPORT_LIMITS['command line'];
    const report = await importRows(database.db, buildings, readRows(createReadStream(ndjson), 'ndjson', limits), {
      crs: 'wgs84',
      dryRun: false,
      repair: false,
      extra: 'ignore',
      mode: 'insert',
      limits,
      actor: { username: 'bench' },
      onProgress: ({ read }) => {
        if (read - shown >= 20000) {
          shown = read;
          process.stdout.write(`    ${read.toLocaleString('en')} rows\n`);
        }
      },
    });
    if (report.imported !== count)
      throw new Error(`imported ${report.imported} of ${count}: ${JSON.stringify(report.rejected.slice(0, 3))}`);
  };
  const columns = 'buildings (name, floors, households, residents, geom)';
  const results: [string, number, number][] = [];
  let unaudited: number | undefined;

  {
    console.log('  embedded: preparing…');
    const template = await prepared(() => openDatabase({}));
    const snapshot = await template.dump!();
    await template.close();
    const { PGlite } = await import('@electric-sql/pglite');
    const { postgis } = await import('@electric-sql/pglite-postgis');
    const { readFile } = await import('node:fs/promises');
    const blob = new Blob([await readFile(csv)]);
    for (let run = 1; run <= runs; run++) {
      const ours = await openDatabase({ snapshot });
      console.log(`  embedded: Gridmap import (run ${run} of ${runs})…`);
      const load = await timed(() => gridmapImport(ours));
      await ours.close();
      console.log(`  embedded: COPY floor (run ${run} of ${runs})…`);
      // PGlite reads COPY input from a blob it is handed; Kysely cannot pass one, so this goes to PGlite itself.
      const pglite = await PGlite.create({ loadDataDir: snapshot, extensions: { postgis } });
      const copy = await timed(() => pglite.query(`COPY ${columns} FROM '/dev/blob' WITH (FORMAT csv)`, [], { blob }));
      await pglite.close();
      results.push(['embedded (PGlite)', load, copy]);
    }
  }

  if (values.server) {
    const admin = await openDatabase({ url: values.server });
    const url = (name: string) => Object.assign(new URL(values.server!), { pathname: `/${name}` }).toString();
    console.log('  server: preparing…');
    for (const name of ['gridmap_bench_template', 'gridmap_bench_import', 'gridmap_bench_copy', 'gridmap_bench_bare']) {
      await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
    }
    await sql`create database gridmap_bench_template`.execute(admin.db);
    await (await prepared(() => openDatabase({ url: url('gridmap_bench_template') }))).close();
    for (let run = 1; run <= runs; run++) {
      for (const name of ['gridmap_bench_import', 'gridmap_bench_copy']) {
        await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
        await sql`create database ${sql.id(name)} template gridmap_bench_template`.execute(admin.db);
      }
      const ours = await openDatabase({ url: url('gridmap_bench_import') });
      console.log(`  server: Gridmap import (run ${run} of ${runs})…`);
      const load = await timed(() => gridmapImport(ours));
      await ours.close();
      const floor = await openDatabase({ url: url('gridmap_bench_copy') });
      console.log(`  server: COPY floor (run ${run} of ${runs})…`);
      const copy = await timed(() => sql.raw(`COPY ${columns} FROM '${csv}' WITH (FORMAT csv)`).execute(floor.db));
      await floor.close();
      results.push(['server (PostgreSQL)', load, copy]);
    }
    await sql`create database gridmap_bench_bare template gridmap_bench_template`.execute(admin.db);
    // What the audit log costs: the same COPY with its triggers off (the link triggers still run).
    const bare = await openDatabase({ url: url('gridmap_bench_bare') });
    for (const table of ['buildings', 'members']) {
      await sql.raw(`ALTER TABLE ${table} DISABLE TRIGGER audit_insert, DISABLE TRIGGER audit_update`).execute(bare.db);
    }
    console.log('  server: COPY without the audit log…');
    unaudited = await timed(() => sql.raw(`COPY ${columns} FROM '${csv}' WITH (FORMAT csv)`).execute(bare.db));
    await bare.close();
    for (const name of ['gridmap_bench_template', 'gridmap_bench_import', 'gridmap_bench_copy', 'gridmap_bench_bare']) {
      await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
    }
    await admin.close();
  }
  await rm(dir, { recursive: true, force: true });

  const perSecond = (ms: number) => `${Math.round(count / (ms / 1000)).toLocaleString('en')}/s`;
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  console.log(
    `\ndatabase              Gridmap import         COPY floor   ratio${runs > 1 ? `   (medians of ${runs} runs; the ratios of each)` : ''}`,
  );
  for (const name of [...new Set(results.map(([n]) => n))]) {
    const ofIt = results.filter(([n]) => n === name);
    const ratios = ofIt.map(([, load, copy]) => load / copy);
    console.log(
      `${name.padEnd(22)}${perSecond(median(ofIt.map(([, load]) => load))).padStart(14)}${perSecond(median(ofIt.map(([, , copy]) => copy))).padStart(19)}` +
        `${`${median(ratios).toFixed(2)}×`.padStart(8)}${runs > 1 ? `   ${ratios.map((r) => `${r.toFixed(2)}×`).join(' ')}` : ''}`,
    );
  }
  console.log('\nBoth write the same rows into the same table, with the link triggers deriving grid and community and');
  console.log('the audit triggers logging every row written.');
  if (unaudited) {
    const copy = median(results.filter(([name]) => name.startsWith('server')).map(([, , c]) => c));
    console.log(
      `Server COPY with the audit triggers off: ${perSecond(unaudited)} (the audit log costs ${(copy / unaudited).toFixed(2)}×).`,
    );
  }
}
