/**
 * walls: the problem walls and their measures on a city with a million issues.
 * - GET /api/v1/walls/grid/:id (a random grid's wall, as the admin) over real HTTP with 1 and 8 concurrent
 *   keep-alive clients, against pgbench running the very statement of that request (a random grid too);
 * - GET /api/v1/issues/metrics?by=community over the last year of the whole city, one client, against
 *   pgbench running its statement;
 * both on the same PostgreSQL server in the same run, with the plans printed.
 *
 *   npm run bench -- walls [--issues 1000000] [--size 10] [--seconds 10] [--clients 1,8]
 *                          [--server postgres://postgres@127.0.0.1:5432/postgres] [--keep]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type RawBuilder } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { findUsers, openSession, viewerOf } from '../server/features/accounts/queries.ts';
import { issueMetricsSql, wallSql } from '../server/features/walls/queries.ts';
import { benchDatabase, benchOptions, compareLevels, count, HttpLoad, pgbenchScript, printLevels, since } from './load.ts';

const NAME = 'gridmap_bench_walls';
const BATCH = 100_000;
const WALL_LIMIT = 500;
/** A grid id no city has: whichever parameter holds it is the grid pgbench draws. */
const GRID_SENTINEL = 987_654_321;
const DAY_MS = 86_400_000;

export async function run(args: string[]) {
  const {
    total,
    size,
    seconds,
    levels,
    server: serverUrl,
    keep,
  } = benchOptions(args, 'issues', { rowsDefault: '1000000', clientsDefault: '1,8' });
  const started = performance.now();
  const bench = await benchDatabase({
    server: serverUrl,
    name: NAME,
    label: `walls issues=${total}`,
    keep,
    size,
    fill: (url) => populate(url, total),
  });
  const { database, url } = bench;
  let load: HttpLoad | undefined;
  let server: Server | undefined;
  const dir = await mkdtemp(join(tmpdir(), 'gridmap-bench-'));
  try {
    const db = database.db;
    const {
      rows: [stats],
    } = await sql<{ issues: number; open: number; grids: number; first: number; last: number; walls: number }>`
      select (select count(*)::int from issues) as issues,
             (select count(*)::int from issues where status not in ('closed', 'rejected')) as open,
             (select count(*)::int from grids) as grids, (select min(id) from grids) as first, (select max(id) from grids) as last,
             (select round(avg(n))::int from (select count(*) as n from issues where wall = 'grid' and status not in ('closed', 'rejected') group by grid_id) s) as walls`.execute(
      db,
    );
    console.log(
      `walls: ${count(stats.issues)} issues, ${count(stats.open)} not closed, ${count(stats.grids)} grids, ` +
        `${count(stats.walls)} issues on an average grid wall`,
    );

    const [user] = await findUsers(db, { username: 'admin' });
    const viewer = viewerOf(user);
    server = createApp({ database, config: loadConfig({}), logger: pino({ level: 'silent' }) }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server!.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { token } = await openSession(db, user.id, { hours: 2 });
    const floor = async (name: string, statement: RawBuilder<unknown>, grid?: boolean) => {
      const script = pgbenchScript(
        statement.compile(db),
        new Map(grid ? [[GRID_SENTINEL, { name: 'gid', random: [stats.first, stats.last] as [number, number] }]] : []),
      );
      const file = join(dir, `${name}.sql`);
      await writeFile(file, script);
      return { url, script: file };
    };

    // A grid's wall: random grids, the API against its statement.
    const wall = wallSql(viewer, { wall: 'grid', id: GRID_SENTINEL }, WALL_LIMIT);
    const ids = Array.from({ length: stats.last - stats.first + 1 }, (_, i) => stats.first + i);
    load = new HttpLoad(
      base,
      token,
      ids.map((id) => `/api/v1/walls/grid/${id}?limit=${WALL_LIMIT}`),
    );
    const walls = await compareLevels('walls', load, levels, seconds, await floor('wall', wall, true));
    await load.terminate();

    // The measures of every community over the last year: one client.
    const to = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS);
    const from = new Date(to.getTime() - 365 * DAY_MS);
    const metrics = issueMetricsSql(viewer, { by: 'community', from, to });
    load = new HttpLoad(base, token, [`/api/v1/issues/metrics?by=community&from=${from.toISOString()}&to=${to.toISOString()}`], 1);
    const measures = await compareLevels('metrics', load, [1], seconds, await floor('metrics', metrics));

    printLevels(`GET /walls/grid/:id (limit ${WALL_LIMIT}) as the admin, ${count(stats.issues)} issues, ${seconds} s per level`, walls);
    printLevels(`GET /issues/metrics?by=community over a year of ${count(stats.issues)} issues, ${seconds} s`, measures);

    for (const [name, statement] of [
      ['a grid wall', wallSql(viewer, { wall: 'grid', id: stats.first }, WALL_LIMIT)],
      ['the measures', metrics],
    ] as const) {
      const { rows: plan } = await sql<{ 'QUERY PLAN': string }>`explain (analyze, buffers) ${statement}`.execute(db);
      console.log(`\nEXPLAIN (ANALYZE, BUFFERS) of ${name}:`);
      for (const row of plan) console.log(`  ${row['QUERY PLAN']}`);
    }
    console.log(`\nwalls: the whole run took ${since(started)}`);
  } finally {
    await load?.terminate();
    if (server)
      await new Promise((resolve) => {
        server!.closeAllConnections();
        server!.close(resolve);
      });
    await rm(dir, { recursive: true, force: true });
    await bench.close();
  }
}

/**
 * Adds issues up to `total` in SQL, on one connection with triggers off (each would write a timeline step,
 * an event and an audit row: beside the point here), placed and routed as the triggers would: points uniform
 * over the communities' extent, reported over the last two years, states in the demo's proportions, due
 * times from the categories, answers and ratings where the state has them. Seeded: every run is the same.
 */
async function populate(url: string, total: number) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`set session_replication_role = replica`);
    await client.query(`select setseed(0.20261127)`);
    const {
      rows: [base],
    } = await client.query<{ issues: number; x0: number; y0: number; x1: number; y1: number }>(`
      select (select count(*)::int from issues) as issues, ST_XMin(e) as x0, ST_YMin(e) as y0, ST_XMax(e) as x1, ST_YMax(e) as y1
      from (select ST_Extent(geom)::geometry as e from communities) s`);
    const n = total - base.issues;
    const start = performance.now();
    for (let from = 0; from < n; from += BATCH) {
      const to = Math.min(from + BATCH, n) - 1;
      await client.query(
        `
        insert into issues (title, category, status, geom, grid_id, community_id, street_code, wall, reported_at, due_at,
                            resolved_at, answered_at, answer, rating, closed_at, reopen_count, extended_hours)
        select '问题 ' || j, category, status, p, grid, community, (select street_code from communities where id = community),
               case when status = 'escalated' or grid is null then case when community is null then 'street' else 'community' end else 'grid' end,
               reported, reported + make_interval(hours => (select due_hours from issue_categories where code = category)),
               case when status in ('resolved', 'answered', 'rated', 'closed') then reported + r2 * interval '12 days' end,
               case when status in ('answered', 'rated', 'closed') then reported + r2 * interval '12 days' + interval '1 day' end,
               case when status in ('answered', 'rated', 'closed') then '已处理' end,
               case when status in ('rated', 'closed') then 3 + floor(r3 * 3)::int end,
               case when status = 'closed' then reported + r2 * interval '12 days' + interval '2 days'
                    when status = 'rejected' then reported + interval '1 day' end,
               case when r3 < 0.05 then 1 else 0 end, case when r2 > 0.9 then 72 else 0 end
        from (
          select j, p, grid_at(p) as grid, community_at(p) as community, reported, r2, r3,
                 (array['noise', 'parking', 'property', 'street_light', 'sanitation', 'safety', 'elder_care', 'other'])[1 + floor(r1 * 8)::int] as category,
                 case when r4 < 0.15 then 'reported' when r4 < 0.25 then 'accepted' when r4 < 0.40 then 'in_progress' when r4 < 0.48 then 'escalated'
                      when r4 < 0.55 then 'resolved' when r4 < 0.63 then 'answered' when r4 < 0.70 then 'rated' when r4 < 0.95 then 'closed'
                      else 'rejected' end as status
          from (
            select j, ST_SetSRID(ST_MakePoint($1::float8 + random() * ($3::float8 - $1::float8), $2::float8 + random() * ($4::float8 - $2::float8)), 4326) as p,
                   now() - random() * interval '730 days' as reported, random() as r1, random() as r2, random() as r3, random() as r4
            from generate_series($5::bigint, $6::bigint) j
          ) drawn
        ) g`,
        [base.x0, base.y0, base.x1, base.y1, from, to],
      );
      console.log(`walls: issues ${count(base.issues + to + 1)}/${count(total)} (${since(start)})`);
    }
    await client.query(`reset session_replication_role`);
    console.log('walls: vacuum analyze…');
    await client.query(`vacuum (analyze) issues`);
    console.log(`walls: issues ready (${since(start)})`);
  } finally {
    await client.end();
  }
}
