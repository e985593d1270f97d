/**
 * demo-load: how long loading a city takes (JSON batches, geometry parsing, community unions, every derived
 * link computed by the link triggers), against the floor of COPYing the same rows, geometry included, into
 * the same tables (the same triggers fire), in the same run on the same database engine.
 *
 *   npm run bench -- demo-load [--size 10] [--server postgres://postgres@127.0.0.1:5432/postgres]
 */
import { writeFile, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { postgis } from '@electric-sql/pglite-postgis';
import { Kysely, sql } from 'kysely';
import { generateDemoCity, type DemoCity, type Ring } from '../data/demo-city.ts';
import { loadDemoCity } from '../data/load-demo.ts';
import { openDatabase } from '../server/db/database.ts';
import { PGliteDialect } from '../server/db/pglite-dialect.ts';
import { migrate } from '../server/db/migrate.ts';
import type { DB } from '../server/db/schema.ts';

const ewkt = (rings: Ring[]) => `SRID=4326;POLYGON(${rings.map((r) => `(${r.map((p) => p.join(' ')).join(',')})`).join(',')})`;
const csvField = (v: unknown) => (v === null || v === undefined ? '' : `"${String(v).replaceAll('"', '""')}"`);
const csv = (rows: unknown[][]) => rows.map((r) => r.map(csvField).join(',')).join('\n') + '\n';

/** The rows the floor COPYs: the same buildings, members, units and issues the loader writes. */
function copyTables(city: DemoCity) {
  return [
    [
      'buildings (name, address, kind, floors, households, residents, has_party_group, party_group_leader, geom)',
      csv(
        city.buildings.map((b) => [
          b.name,
          b.address,
          b.kind,
          b.floors,
          b.households,
          b.residents,
          b.has_party_group,
          b.party_group_leader,
          ewkt([b.ring]),
        ]),
      ),
    ],
    [
      'members (name, phone, category, employer_unit, geom, is_central_household, is_volunteer, skills, availability)',
      csv(
        city.members.map((m) => [
          m.name,
          m.phone,
          m.category,
          m.employer_unit,
          `SRID=4326;POINT(${m.lon} ${m.lat})`,
          m.is_central_household,
          m.is_volunteer,
          `{${m.skills.join(',')}}`,
          m.availability,
        ]),
      ),
    ],
    [
      'units (name, kind, geom, has_agreement, agreement_signed_on, resources, contact_name, contact_phone)',
      csv(
        city.units.map((u) => [
          u.name,
          u.kind,
          u.geometry.type === 'Point' ? `SRID=4326;POINT(${u.geometry.coordinates.join(' ')})` : ewkt(u.geometry.coordinates),
          u.has_agreement,
          u.agreement_signed_on,
          u.resources,
          u.contact_name,
          u.contact_phone,
        ]),
      ),
    ],
    [
      'issues (title, description, category, status, geom, reported_at, resolved_at, closed_at)',
      csv(
        city.issues.map((i) => [
          i.title,
          i.description,
          i.category,
          i.status,
          `SRID=4326;POINT(${i.lon} ${i.lat})`,
          i.reported_at,
          i.resolved_at,
          i.closed_at,
        ]),
      ),
    ],
  ] as const;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
async function timed(work: () => Promise<unknown>) {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

async function embedded(city: DemoCity) {
  const fresh = async () => {
    const pglite = await PGlite.create({ extensions: { postgis } });
    const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
    await migrate(db);
    return { pglite, db };
  };
  const ours = await fresh();
  console.log('  embedded: loading with Gridmap…');
  const load = await timed(() => loadDemoCity(ours.db, city, progress));
  await ours.pglite.close();

  const floor = await fresh();
  console.log('  embedded: COPY floor…');
  const copy = await timed(async () => {
    for (const [table, rows] of copyTables(city)) {
      await floor.pglite.query(`COPY ${table} FROM '/dev/blob' WITH (FORMAT csv)`, [], { blob: new Blob([rows]) });
    }
  });
  await floor.pglite.close();
  return { load, copy };
}

async function server(city: DemoCity, url: string) {
  const admin = await openDatabase({ url });
  const fresh = async (name: string) => {
    await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
    await sql`create database ${sql.id(name)}`.execute(admin.db);
    const database = await openDatabase({ url: Object.assign(new URL(url), { pathname: `/${name}` }).toString() });
    await migrate(database.db);
    return database;
  };
  const ours = await fresh('gridmap_bench_load');
  console.log('  server: loading with Gridmap…');
  const load = await timed(() => loadDemoCity(ours.db, city, progress));
  await ours.close();

  // Server-side COPY from files: the server runs on this machine and reads them itself.
  const floor = await fresh('gridmap_bench_copy');
  const files = await Promise.all(
    copyTables(city).map(async ([table, rows], i) => {
      const path = join(tmpdir(), `gridmap-bench-${i}.csv`);
      await writeFile(path, rows);
      await chmod(path, 0o644);
      return [table, path] as const;
    }),
  );
  console.log('  server: COPY floor…');
  const copy = await timed(async () => {
    for (const [table, path] of files) await sql.raw(`COPY ${table} FROM '${path}' WITH (FORMAT csv)`).execute(floor.db);
  });
  await floor.close();
  await Promise.all(files.map(([, path]) => rm(path)));
  for (const name of ['gridmap_bench_load', 'gridmap_bench_copy']) {
    await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
  }
  await admin.close();
  return { load, copy };
}

let lastStep = '';
function progress(step: string, done: number, total: number) {
  if (step !== lastStep || done === total) process.stdout.write(`    ${step} ${done}/${total}\n`);
  lastStep = step;
}

export async function run(args: string[]) {
  const { values } = parseArgs({ args, options: { size: { type: 'string', default: '10' }, server: { type: 'string' } } });
  const size = Number(values.size);
  const city = generateDemoCity({ seed: 1, size });
  console.log(
    `demo-load: size ${size}: ${city.grids.length} grids, ${city.buildings.length} buildings, ` +
      `${city.members.length} members, ${city.units.length} units, ${city.issues.length} issues`,
  );
  const results: [string, { load: number; copy: number }][] = [['embedded (PGlite)', await embedded(city)]];
  if (values.server) results.push(['server (PostgreSQL)', await server(city, values.server)]);
  console.log('\ndatabase              Gridmap load   COPY floor   ratio');
  for (const [name, { load, copy }] of results) {
    console.log(
      `${name.padEnd(22)}${seconds(load).padStart(12)}${seconds(copy).padStart(13)}${`${(load / copy).toFixed(2)}×`.padStart(8)}`,
    );
  }
  console.log('\nGridmap load: JSON batches + ST_Union of community blocks; links derived by the triggers.');
  console.log('COPY floor: the same buildings, members, units and issues as CSV with EWKT geometry, same triggers.');
}
