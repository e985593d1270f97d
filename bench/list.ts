/**
 * list: requests/s of GET /api/v1/buildings?bbox=…&limit=… over real HTTP (one client, keep-alive), against
 * pgbench running the SQL of that request (its count, and its page in one statement where the API reads four batches), on the same PostgreSQL server in the same run: what
 * express, JSON handling and the network loop add on top of PostGIS building the GeoJSON.
 *
 *   npm run bench -- list [--size 10] [--requests 500] [--server postgres://postgres@127.0.0.1:5432/postgres]
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { generateDemoCity } from '../data/demo-city.ts';
import { loadDemoCity } from '../data/load-demo.ts';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { openDatabase } from '../server/db/database.ts';
import { bboxCondition, countFeatures, featureBatch, type FeatureLayer } from '../server/db/feature-store.ts';
import { migrate } from '../server/db/migrate.ts';
import type { DB } from '../server/db/schema.ts';
import { buildings } from '../server/features/buildings/resource.ts';
import { findUsers, openSession, viewerOf } from '../server/features/accounts/queries.ts';
import { visibleLayer } from '../server/access/rows.ts';

export async function run(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: 'string', default: '10' },
      requests: { type: 'string', default: '500' },
      server: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    },
  });
  const requests = Number(values.requests);
  const name = 'gridmap_bench_list';
  const url = Object.assign(new URL(values.server), { pathname: `/${name}` }).toString();
  const admin = await openDatabase({ url: values.server });
  await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
  await sql`create database ${sql.id(name)}`.execute(admin.db);
  const database = await openDatabase({ url });
  await migrate(database.db);
  console.log(`list: loading a size ${values.size} demo city…`);
  await loadDemoCity(database.db, generateDemoCity({ seed: 1, size: Number(values.size) }));
  await sql`analyze`.execute(database.db);

  // About 1 × 1 km around the first community, in the demo leader's street: a screen at street level.
  const {
    rows: [centre],
  } = await sql<{ x: number; y: number }>`
    select ST_X(c) as x, ST_Y(c) as y from (select ST_Centroid(geom) as c from communities
    where id = (select community_id from grids order by id limit 1)) s`.execute(database.db);
  const bbox: [number, number, number, number] = [centre.x - 0.0055, centre.y - 0.0045, centre.x + 0.0055, centre.y + 0.0045];
  const limit = 1000;
  const query = `bbox=${bbox.join(',')}&limit=${limit}`;
  const server = createApp({ database, config: loadConfig({}), logger: pino({ level: 'silent' }) }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const rows: string[] = [];
  // An admin reads the table itself; a leader (the first street) reads it through the scoped view.
  for (const username of ['admin', 'leader']) {
    const [user] = await findUsers(database.db, { username });
    const { token } = await openSession(database.db, user.id, { hours: 1 });
    const headers = { Authorization: `Bearer ${token}` };
    const first = await (await fetch(`${base}/api/v1/buildings?${query}`, { headers })).json();
    console.log(
      `  ${username}: one answer is ${first.numberReturned} buildings, ${JSON.stringify(first).length.toLocaleString('en')} bytes`,
    );
    console.log(`  HTTP: ${requests} requests…`);
    const started = performance.now();
    for (let i = 0; i < requests; i++) await (await fetch(`${base}/api/v1/buildings?${query}`, { headers })).text();
    const httpPerSecond = requests / ((performance.now() - started) / 1000);

    // The same statement, parameters written in, for pgbench (without the session look-up: that is the API's).
    const layer = visibleLayer(buildings, viewerOf(user));
    const statements = await capturePageSql(url, layer, bbox, limit);
    const literal = ({ sql: text, parameters }: CompiledQuery) =>
      text.replace(/\$(\d+)/g, (_, n) => {
        const value = parameters[Number(n) - 1];
        return typeof value === 'number' ? String(value) : `'${String(value).replaceAll("'", "''")}'`;
      });
    const dir = await mkdtemp(join(tmpdir(), 'gridmap-bench-'));
    await writeFile(join(dir, 'list.sql'), statements.map((q) => `${literal(q).replace(/\s+/g, ' ')};\n`).join(''));
    console.log(`  pgbench: ${requests} transactions…`);
    const output = execFileSync('pgbench', ['-n', '-c', '1', '-t', String(requests), '-f', join(dir, 'list.sql'), url], {
      encoding: 'utf8',
    });
    const pgbenchPerSecond = Number(/tps = ([\d.]+)/.exec(output)![1]);
    await rm(dir, { recursive: true, force: true });
    rows.push(
      `buildings as ${username.padEnd(8)}${`${httpPerSecond.toFixed(0)} req/s`.padStart(14)}${`${pgbenchPerSecond.toFixed(0)} tps`.padStart(21)}${`${(pgbenchPerSecond / httpPerSecond).toFixed(2)}×`.padStart(8)}`,
    );
  }
  server.close();

  await database.close();
  await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
  await admin.close();
  console.log('\n                         Gridmap HTTP     pgbench (same SQL)   ratio');
  for (const row of rows) console.log(row);
  console.log('\nOne client each, sequential; the ratio is how much slower the API (sign-in check included) is than the database alone.');
}

/**
 * The statements of the page, as Kysely hands them to pg: the count, and the page's features in one statement
 * (the database's floor: the API COPYs them and writes the bytes on as they come).
 */
async function capturePageSql(url: string, layer: FeatureLayer, bbox: [number, number, number, number], limit: number) {
  const captured: CompiledQuery[] = [];
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
    log: (event) => void captured.push(event.query),
  });
  const conditions = [bboxCondition(bbox)];
  await countFeatures(db, layer, conditions);
  captured.push(featureBatch(layer, { conditions, limit }).compile(db));
  await db.destroy();
  return captured;
}
