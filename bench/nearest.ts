/**
 * nearest: GET /api/v1/volunteers/nearest (k = 5, a random point in the street, as the demo dispatcher) over
 * real HTTP with 1, 8 and 32 concurrent keep-alive clients (in a worker thread, not on the server's event
 * loop), against pgbench running the very statement that request runs (random points too), at the same
 * concurrency, on the same PostgreSQL server in the same run: requests/s and p50/p95/p99 against the
 * database's own ceiling. The database holds a demo city topped up to a million members, a tenth of them
 * volunteers; the query plan is printed to show the KNN scan on the partial GiST index.
 *
 *   npm run bench -- nearest [--members 1000000] [--size 10] [--seconds 10] [--clients 1,8,32]
 *                            [--server postgres://postgres@127.0.0.1:5432/postgres] [--keep]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { findUsers, openSession, viewerOf } from '../server/features/accounts/queries.ts';
import { SKILLS } from '../server/features/members/resource.ts';
import { nearestVolunteersSql, type NearestQuery } from '../server/features/volunteers/nearest.ts';
import { benchDatabase, benchOptions, compareLevels, count, HttpLoad, mulberry32, pgbenchScript, printLevels, since } from './load.ts';

const NAME = 'gridmap_bench_nearest';
const K = 5;
/** Stand-ins for the point in the compiled statement: whichever parameters hold them are the point. */
const LON_SENTINEL = 123.456789012345;
const LAT_SENTINEL = -65.432109876543;
const BATCH = 100_000;

type Extent = [number, number, number, number];

export async function run(args: string[]) {
  const {
    total: members,
    size,
    seconds,
    levels,
    server: serverUrl,
    keep,
  } = benchOptions(args, 'members', { rowsDefault: '1000000', clientsDefault: '1,8,32' });
  const started = performance.now();
  const bench = await benchDatabase({
    server: serverUrl,
    name: NAME,
    label: `nearest members=${members}`,
    keep,
    size,
    fill: (url) => populate(url, members),
  });
  const { database, url } = bench;
  let load: HttpLoad | undefined;
  let server: Server | undefined;
  try {
    const db = database.db;

    const {
      rows: [stats],
    } = await sql<{ members: number; volunteers: number; available: number; current: number }>`
      select count(*)::int as members, count(*) filter (where is_volunteer)::int as volunteers,
             count(*) filter (where is_volunteer and availability = 'available')::int as available,
             count(*) filter (where is_volunteer and current_point is not null)::int as current
      from members`.execute(db);
    console.log(
      `nearest: ${count(stats.members)} members, ${count(stats.volunteers)} volunteers, ${count(stats.available)} available, ` +
        `${count(stats.current)} sharing where they are now`,
    );

    // The caller: the demo dispatcher, scoped to the first street; points uniform over that street's communities.
    const [user] = await findUsers(db, { username: 'dispatcher' });
    const viewer = viewerOf(user);
    if (viewer.scope?.kind !== 'street') throw new Error('the demo dispatcher should have a street scope');
    const {
      rows: [street],
    } = await sql<{ x0: number; y0: number; x1: number; y1: number; cx: number; cy: number; available: number }>`
      with e as (select ST_Extent(geom)::geometry as e, ST_PointOnSurface(ST_Union(geom)) as p from communities where street_code = ${viewer.scope.code})
      select ST_XMin(e) as x0, ST_YMin(e) as y0, ST_XMax(e) as x1, ST_YMax(e) as y1, ST_X(p) as cx, ST_Y(p) as cy,
             (select count(*)::int from members where is_volunteer and availability = 'available'
               and community_id in (select id from communities where street_code = ${viewer.scope.code})) as available
      from e`.execute(db);
    const extent: Extent = [street.x0, street.y0, street.x1, street.y1];
    console.log(
      `nearest: caller dispatcher (street ${viewer.scope.code}, ${count(street.available)} available volunteers in scope), ` +
        `points in ${extent.map((v) => v.toFixed(4)).join(',')}`,
    );

    server = createApp({ database, config: loadConfig({}), logger: pino({ level: 'silent' }) }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server!.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { token } = await openSession(db, user.id, { hours: 2 });
    const first = await fetch(`${base}/api/v1/volunteers/nearest?lon=${street.cx}&lat=${street.cy}&k=${K}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const firstText = await first.text();
    if (first.status !== 200) throw new Error(`nearest answered ${first.status}: ${firstText.slice(0, 300)}`);
    console.log(`nearest: one answer is ${JSON.parse(firstText).features.length} volunteers, ${count(firstText.length)} bytes`);

    // The same statement for pgbench (without the session look-up: that is the API's), point drawn by pgbench.
    const compiled = nearestVolunteersSql({ lon: LON_SENTINEL, lat: LAT_SENTINEL, k: K, skills: [] }, viewer).compile(db);
    const micro = (v: number) => Math.round(v * 1e6);
    const script = pgbenchScript(
      compiled,
      new Map([
        [LON_SENTINEL, { name: 'ilon', random: [micro(extent[0]), micro(extent[2])], scale: 1e6 }],
        [LAT_SENTINEL, { name: 'ilat', random: [micro(extent[1]), micro(extent[3])], scale: 1e6 }],
      ]),
    );
    const dir = await mkdtemp(join(tmpdir(), 'gridmap-bench-'));
    const scriptFile = join(dir, 'nearest.sql');
    await writeFile(scriptFile, script);

    // the API at points drawn uniformly over the street (seeded), as many as a run asks
    const rnd = mulberry32(20261127);
    const paths = Array.from(
      { length: 20_000 },
      () =>
        `/api/v1/volunteers/nearest?lon=${(extent[0] + rnd() * (extent[2] - extent[0])).toFixed(6)}&lat=${(extent[1] + rnd() * (extent[3] - extent[1])).toFixed(6)}&k=${K}`,
    );
    load = new HttpLoad(base, token, paths, K);
    let results;
    try {
      results = await compareLevels('nearest', load, levels, seconds, { url, script: scriptFile, protocol: 'prepared' });
      for (const { clients, http } of results)
        if (http.fewer) console.log(`nearest: ${http.fewer} answers with fewer than ${K} at ${clients} clients`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    printLevels(
      `nearest k=${K} as the street dispatcher, ${count(stats.members)} members (${count(stats.volunteers)} volunteers), ${seconds} s per level`,
      results,
    );

    // The plan of one request at a point in the street: the KNN scan should be on the partial GiST index.
    const query: NearestQuery = { lon: street.cx, lat: street.cy, k: K, skills: [] };
    await sql`explain (analyze, buffers) ${nearestVolunteersSql(query, viewer)}`.execute(db);
    const { rows: plan } = await sql<{ 'QUERY PLAN': string }>`explain (analyze, buffers) ${nearestVolunteersSql(query, viewer)}`.execute(
      db,
    );
    const lines = plan.map((row) => row['QUERY PLAN']);
    console.log(`\nEXPLAIN (ANALYZE, BUFFERS) at ${street.cx.toFixed(6)},${street.cy.toFixed(6)}:`);
    for (const line of lines) console.log(`  ${line}`);
    const scan = lines.findIndex((line) => line.includes('Index Scan using members_available_volunteers_idx'));
    const ordered = scan >= 0 && lines.slice(scan + 1).some((line, i) => /^\s*Order By: /.test(line) && i < 6);
    if (!ordered) {
      console.log('\n!!!!!!!! WARNING: the plan has no "Index Scan using members_available_volunteers_idx" with an "Order By:" line:');
      console.log('!!!!!!!! the nearest volunteers are NOT found by a KNN scan on the partial GiST index.');
    } else {
      console.log('\nplan: KNN scan (Order By <->) on members_available_volunteers_idx — as intended.');
    }
    if (bench.filled) console.log(`\nnearest: generation of ${count(members)} members took ${(bench.filled / 1000).toFixed(1)} s`);
    console.log(`nearest: the whole run took ${since(started)}`);
  } finally {
    await load?.terminate();
    if (server)
      await new Promise((resolve) => {
        server!.closeAllConnections();
        server!.close(resolve);
      });
    await bench.close();
  }
}

/**
 * Adds members up to `total` in SQL, on one connection with triggers off (the link triggers would place
 * every member in its building: slow and beside the point here, and the audit log with them). Homes are
 * uniform over the communities' extent; exactly a tenth of all members are volunteers (the demo's own
 * count towards it), 1–3 skills each, 80 % available, every 7th sharing a current point near home, and
 * their grid and community set as the link functions would without a building. Seeded: every run is the same.
 */
async function populate(url: string, total: number) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`set session_replication_role = replica`);
    await client.query(`select setseed(0.20261127)`);
    const {
      rows: [base],
    } = await client.query<{ members: number; volunteers: number; x0: number; y0: number; x1: number; y1: number }>(`
      select (select count(*)::int from members) as members, (select count(*) filter (where is_volunteer)::int from members) as volunteers,
             ST_XMin(e) as x0, ST_YMin(e) as y0, ST_XMax(e) as x1, ST_YMax(e) as y1
      from (select ST_Extent(geom)::geometry as e from communities) s`);
    const n = total - base.members;
    const v = Math.round(total / 10) - base.volunteers;
    if (n <= 0) {
      console.log(`nearest: the demo city already holds ${count(base.members)} members; none added`);
    } else if (v < 0 || v > n) {
      throw new Error(
        `cannot make a tenth of ${count(total)} members volunteers: the demo city has ${count(base.volunteers)} of ${count(base.members)}`,
      );
    }
    const start = performance.now();
    for (let from = 0; from < n; from += BATCH) {
      const to = Math.min(from + BATCH, n) - 1;
      // row j (0-based) is the ordinal-th volunteer when floor((j+1)·v/n) steps up: exactly v, spread evenly
      await client.query(
        `
        insert into members (name, phone, category, geom, is_volunteer, skills, availability, current_point, current_point_at,
                             grid_id, community_id)
        select 'bench member ' || j, '139' || lpad(j::text, 8, '0'), (array['in_service', 'retired', 'floating', 'resident'])[1 + floor(r1 * 4)::int],
               home, vol,
               case when vol then array(select ($7::text[])[1 + (floor(r2 * 10)::int + 3 * t) % 10] from generate_series(0, floor(r3 * 3)::int) t order by t)
                    else '{}' end,
               case when vol and r4 >= 0.8 then 'off_duty' else 'available' end,
               case when vol and ordinal % 7 = 0 then ST_SetSRID(ST_MakePoint(ST_X(home) + (r5 - 0.5) * 0.004, ST_Y(home) + (r6 - 0.5) * 0.003), 4326) end,
               case when vol and ordinal % 7 = 0 then now() - r7 * interval '3 hours' end,
               case when vol then grid_at(home) end, case when vol then community_at(home) end
        from (
          select j, (j + 1) * $2::bigint / $1::bigint > j * $2::bigint / $1::bigint as vol, (j + 1) * $2::bigint / $1::bigint as ordinal,
                 ST_SetSRID(ST_MakePoint($3::float8 + random() * ($5::float8 - $3::float8), $4::float8 + random() * ($6::float8 - $4::float8)), 4326) as home,
                 random() as r1, random() as r2, random() as r3, random() as r4, random() as r5, random() as r6, random() as r7
          from generate_series($8::bigint, $9::bigint) j
        ) g`,
        [n, v, base.x0, base.y0, base.x1, base.y1, [...SKILLS], from, to],
      );
      console.log(`nearest: members ${count(base.members + to + 1)}/${count(total)} (${since(start)})`);
    }
    await client.query(`reset session_replication_role`);
    console.log('nearest: vacuum analyze…');
    await client.query(`vacuum (analyze) members`);
    await client.query(`analyze`);
    console.log(`nearest: members ready (${since(start)})`);
  } finally {
    await client.end();
  }
}
