/**
 * coverage: the coverage map on a city 100× the demo city (size 100: 200 streets, 700 communities, 4,000
 * grids, ~160,000 buildings, ~530,000 members).
 * - Vector tiles (GET /tiles/:layer/:z/:x/:y.mvt) over a map session's zoom mix (z12 10 %, z13 20 %, z14 30 %,
 *   z15 25 %, z16 15 %) and layer mix (grids 25 %, buildings 25 %, communities 15 %, issues 15 %, members 10 %,
 *   volunteers 10 %), distinct tiles drawn at random (seeded) for each viewer: the demo leader (scoped to the
 *   first street) within the city's extent, the same leader within its own communities' extent (@scope), and
 *   the admin within the city's extent. At 1 and 8 keep-alive clients (a worker thread): cold, every tile of
 *   the sample once on a freshly started app (each a cache miss), then cached, the tiles of that pass again
 *   at random for --seconds (each a hit, served from memory: the session held, the audit log read only when the database says the map changed). Against
 *   it, pgbench runs the very ST_AsMVT statement of every tile of the sample once (tileSql('postgis', …) with
 *   its parameters written in, the tile looked up by number), same concurrency, same run.
 * - The coverage metrics: GET /api/v1/coverage/grids?community=<the first community> as the leader, and
 *   GET /api/v1/coverage/communities (the whole city) as the admin, a few times each over HTTP, against the
 *   statement coverageCollection sends (caught on its way to the database) timed on a pg connection, taken
 *   in turns; with EXPLAIN (ANALYZE, BUFFERS).
 * pgbench and the timed statements run with the settings of the app's pool (no JIT on the server).
 *
 *   npm run bench -- coverage [--size 100] [--viewers leader:2000,leader@scope,admin:400] [--clients 1,8]
 *                             [--seconds 10] [--reps 3] [--server postgres://postgres@127.0.0.1:5432/postgres] [--keep]
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import {
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
} from 'kysely';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import pg from 'pg';
import { pino } from 'pino';
import type { Viewer } from '../server/access/viewer.ts';
import { allOf, readConditions } from '../server/access/policy.ts';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import type { Database } from '../server/db/database.ts';
import type { DB } from '../server/db/schema.ts';
import { findUsers, openSession, viewerOf } from '../server/features/accounts/queries.ts';
import { communities } from '../server/features/communities/resource.ts';
import { countsAllMembers, coverageCollection, DEFAULT_REACH_M } from '../server/features/coverage/queries.ts';
import { TileCache } from '../server/features/tiles/cache.ts';
import { tileLayer } from '../server/features/tiles/layers.ts';
import { chooseEncoder, renderTile, tileSql } from '../server/features/tiles/render.ts';
import {
  benchDatabase,
  vacuumAnalyze,
  count,
  HTTP_GET_SOURCE,
  mulberry32,
  pgbenchScript,
  since,
  WARMUP_S,
  type PgbenchResult,
} from './load.ts';

const NAME = 'gridmap_bench_coverage';
/** A map session: how often each zoom is asked for, and each layer. */
const ZOOM_MIX: [number, number][] = [
  [12, 10],
  [13, 20],
  [14, 30],
  [15, 25],
  [16, 15],
];
const LAYER_MIX: [string, number][] = [
  ['grids', 20],
  ['grid_coverage', 10],
  ['buildings', 25],
  ['communities', 10],
  ['issues', 15],
  ['members', 10],
  ['volunteers', 10],
];
/** Stand-ins for the tile's x and y in the compiled statement: whichever parameters hold them are the tile. */
const X_SENTINEL = 987_654_321;
const Y_SENTINEL = 987_654_322;
/** The tile cache's default lifetime (server/features/tiles/routes.ts): cached runs use tiles made since. */
const CACHE_MAX_AGE_S = 60;
/** Repetitions of one community's grids (the whole city's take --reps). */
const COMMUNITY_REPS = 10;
/** A whole-city request past this is reported as slow and run once a side. */
const SLOW_S = 30;
/** Settings of the app's pool sessions (PGOPTIONS form), given to pgbench and the timed statements. */
let sessionOptions = '';

interface TileClass {
  layer: string;
  z: number;
  weight: number;
}
interface SampleTile {
  c: number;
  x: number;
  y: number;
}
interface Extent {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export async function run(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: 'string', default: '100' },
      viewers: { type: 'string', default: 'leader:2000,leader@scope,admin:400' },
      clients: { type: 'string', default: '1,8' },
      seconds: { type: 'string', default: '10' },
      reps: { type: 'string', default: '3' },
      server: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      keep: { type: 'boolean', default: false },
    },
  });
  const size = Number(values.size);
  const seconds = Number(values.seconds);
  const reps = Number(values.reps);
  const levels = String(values.clients).split(',').map(Number);
  // user[@scope][:tiles]: tiles within the city's extent, or (@scope) within the extent of the communities the
  // user may read; without a number, every tile there (at most 400 within the city)
  const viewers = String(values.viewers)
    .split(',')
    .map((v) => {
      const [, username, scoped, tiles] = /^([^@:]*)(@scope)?(?::(.*))?$/.exec(v) ?? [];
      return { username, scoped: Boolean(scoped), tiles: tiles === undefined ? undefined : Number(tiles) };
    });
  if (
    !(size > 0) ||
    !(seconds > 0) ||
    !(Number.isInteger(reps) && reps > 0) ||
    levels.some((n) => !(Number.isInteger(n) && n > 0)) ||
    viewers.some((v) => !v.username || (v.tiles !== undefined && !(Number.isInteger(v.tiles) && v.tiles > 0)))
  ) {
    throw new Error('--size, --seconds must be positive numbers, --reps and --clients positive integers, --viewers user[@scope][:tiles],…');
  }
  const keep = Boolean(values.keep);
  const started = performance.now();
  console.log(`coverage: ${new Date().toISOString()}, the code at ${codeVersion()}`);

  // Loading a size-100 city takes over a minute, most of it in one transaction: say that it is still going.
  const loading = performance.now();
  const heartbeat = setInterval(() => console.log(`coverage: still building the database (${since(loading)})…`), 15_000);
  const bench = await benchDatabase({
    server: String(values.server),
    name: NAME,
    label: 'coverage',
    keep,
    size,
    fill: (url) => vacuumAnalyze(url, NAME),
  }).finally(() => clearInterval(heartbeat));
  console.log(`coverage: database ready (${since(loading)})`);
  const { database, url } = bench;
  const dir = await mkdtemp(join(tmpdir(), 'gridmap-bench-'));
  const load = new TileLoad();
  try {
    const db = database.db;
    const {
      rows: [stats],
    } = await sql<
      {
        streets: number;
        communities: number;
        grids: number;
        buildings: number;
        members: number;
        volunteers: number;
        issues: number;
      } & Extent
    >`
      select (select count(*)::int from streets) as streets, (select count(*)::int from communities) as communities,
             (select count(*)::int from grids) as grids, (select count(*)::int from buildings) as buildings,
             (select count(*)::int from members) as members,
             (select count(*)::int from members where is_volunteer and availability = 'available') as volunteers,
             (select count(*)::int from issues) as issues,
             ST_XMin(e) as x0, ST_YMin(e) as y0, ST_XMax(e) as x1, ST_YMax(e) as y1
      from (select ST_Extent(geom)::geometry as e from communities) s`.execute(db);
    console.log(
      `coverage: size ${size}: ${count(stats.streets)} streets, ${count(stats.communities)} communities, ${count(stats.grids)} grids, ` +
        `${count(stats.buildings)} buildings, ${count(stats.members)} members (${count(stats.volunteers)} available volunteers), ${count(stats.issues)} issues; ` +
        `extent ${[stats.x0, stats.y0, stats.x1, stats.y1].map((v) => v.toFixed(4)).join(',')}`,
    );
    // the floor's sessions as the app's: the pool sets its own (no JIT on the server)
    const {
      rows: [session],
    } = await sql<{ jit: string }>`select current_setting('jit') as jit`.execute(db);
    sessionOptions = `-c jit=${session.jit}`;
    console.log(`coverage: the app's sessions run with jit=${session.jit}; pgbench and the timed statements too`);
    if ((await chooseEncoder(db)) !== 'postgis')
      throw new Error('this PostGIS has no protobuf: tiles would be encoded by vt-pbf, not ST_AsMVT');

    const classes: TileClass[] = ZOOM_MIX.flatMap(([z, zw]) => LAYER_MIX.map(([layer, lw]) => ({ layer, z, weight: zw * lw })));
    const rangesOf = (e: Extent) => new Map(ZOOM_MIX.map(([z]) => [z, tileRange(e, z)]));
    const tilesIn = (ranges: ReturnType<typeof rangesOf>) =>
      ZOOM_MIX.map(([z]) => {
        const r = ranges.get(z)!;
        return `z${z} ${count((r.x1 - r.x0 + 1) * (r.y1 - r.y0 + 1))}`;
      }).join(', ');
    console.log(`coverage: tiles within the city's extent: ${tilesIn(rangesOf(stats))} (each in ${LAYER_MIX.length} layers)`);

    const tileResults: { label: string; sample: SampleTile[]; levels: TileLevel[]; breakdown: Breakdown }[] = [];
    for (const [v, { username, scoped, tiles }] of viewers.entries()) {
      const [user] = await findUsers(db, { username });
      if (!user) throw new Error(`no user ${username}`);
      const viewer = viewerOf(user);
      const { token } = await openSession(db, user.id, { hours: 4 });
      const {
        rows: [scope],
      } = await sql<{ communities: number } & Extent>`
        select communities, ST_XMin(e) as x0, ST_YMin(e) as y0, ST_XMax(e) as x1, ST_YMax(e) as y1
        from (select count(*)::int as communities, ST_Extent(a.geom)::geometry as e from communities a
              where ${allOf(readConditions('communities', communities.place, viewer, 'a') ?? [sql`false`])}) s`.execute(db);
      const ranges = rangesOf(scoped ? scope : stats);
      const sample = drawSample(classes, ranges, tiles ?? Infinity, 400, 20261129 + v);
      const label = `${username}${scoped ? ' in its scope' : ''}`;
      console.log(
        `\ncoverage: tiles as ${label} (${viewer.role}, ${viewer.scope ? `${viewer.scope.kind} scope` : 'everything'}: ` +
          `${scope.communities} of ${count(stats.communities)} communities), within ${scoped ? `its communities' extent (${tilesIn(ranges)})` : "the city's extent"}, ` +
          `${count(sample.length)} distinct tiles: ${mixOf(sample, classes)}`,
      );

      // the sample, numbered, for pgbench to look up
      await sql`drop table if exists coverage_bench_tiles`.execute(db);
      await sql`create table coverage_bench_tiles (i int primary key, c int not null, x int not null, y int not null)`.execute(db);
      await sql`insert into coverage_bench_tiles (i, c, x, y)
                select i, c, x, y from json_to_recordset(${JSON.stringify(sample.map((t, i) => ({ ...t, i: i + 1 })))}::json)
                as r(i int, c int, x int, y int)`.execute(db);
      await sql`analyze coverage_bench_tiles`.execute(db);
      const statements = classes.map((k, c) => (sample.some((t) => t.c === c) ? tileStatement(db, k, viewer) : undefined));
      // Warm-up: tiles of the sample at random through pgbench (the database's caches, as a session's would be).
      const warm = join(dir, `warm-${v}.sql`);
      await writeFile(warm, passScript(statements, `\\set i random(1, ${sample.length})`));
      console.log(`coverage: warm-up, pgbench over random tiles of the sample, 2 clients, ${Math.max(WARMUP_S, 5)} s…`);
      pgbench(url, warm, 2, ['-T', String(Math.max(WARMUP_S, 5))]);
      await sanityCheck(database, viewer, token, sample, classes);

      const paths = sample.map((t) => `/tiles/${classes[t.c].layer}/${classes[t.c].z}/${t.x}/${t.y}.mvt`);
      const results: TileLevel[] = [];
      for (const clients of levels) {
        const plural = clients > 1 ? 's' : '';
        const { server, base } = await startApp(database);
        let cold: PassResult;
        let cached: PassResult;
        try {
          console.log(`coverage: ${label}: HTTP cold, ${clients} client${plural}: every tile of the sample once, on a fresh app…`);
          cold = await load.run({ base, token, paths, mode: 'pass', clients, seconds: 0, seed: 1 });
          report(cold);
          if (cold.hits) throw new Error(`${cold.hits} cold requests were cache hits`);
          // those made within the cache's lifetime of the cached run's end
          const recent = cold.index.filter(
            (_, k) => cold.end[k] >= cold.elapsed * 1000 - (CACHE_MAX_AGE_S - WARMUP_S - seconds - 8) * 1000,
          );
          if (!recent.length) throw new Error(`--seconds ${seconds} is too long: cached tiles expire after ${CACHE_MAX_AGE_S} s`);
          console.log(
            `coverage: ${label}: HTTP cached, ${clients} client${plural}: ${count(recent.length)} of those tiles at random, ` +
              `${WARMUP_S} s warm-up, ${seconds} s…`,
          );
          cached = await load.run({
            base,
            token,
            paths: Array.from(recent, (i) => paths[i]),
            mode: 'random',
            clients,
            seconds,
            seed: clients,
          });
          report(cached);
          if (cached.misses) console.log(`  !! ${cached.misses} of ${cached.latency.length} cached requests were misses`);
        } finally {
          await stopApp(server);
        }
        console.log(`coverage: ${label}: pgbench, ${clients} client${plural}: the same tiles' statements, every tile once…`);
        const perClient = Math.ceil(sample.length / clients);
        const script = join(dir, `pass-${v}-${clients}.sql`);
        await writeFile(script, passScript(statements, `\\set i :client_id + ${clients} * :k + 1\n\\set k :k + 1`, sample.length));
        const floor = pgbench(url, script, clients, ['-t', String(perClient), '-D', 'k=0']);
        // the clients past the sample's end ran no statement: count tiles, not transactions
        const floorTiles = { tps: (floor.tps * sample.length) / (perClient * clients), latency: floor.latency };
        console.log(`  ${floorTiles.tps.toFixed(1)} tiles/s, latency average ${floor.latency.toFixed(2)} ms`);
        results.push({ clients, cold, cached, pgbench: floorTiles });
      }
      tileResults.push({ label, sample, levels: results, breakdown: breakdownOf(results[0].cold, sample, classes) });
    }
    await sql`drop table if exists coverage_bench_tiles`.execute(db);

    // What a cached tile still costs the database: the cache's look at the audit log (nothing logged since).
    const {
      rows: [audit],
    } = await sql<{ last: number }>`select coalesce(max(id), 0)::int as last from audit_log`.execute(db);
    const probe = await captureStatement(
      async (d) => {
        const cache = new TileCache(d, { maxBytes: 1, maxAgeMs: 1 });
        await cache.sync(); // the first look only notes where the log ends
        await cache.sync();
      },
      { last: audit.last },
    );
    const probeScript = join(dir, 'audit-probe.sql');
    await writeFile(probeScript, pgbenchScript(probe, new Map()));
    console.log(
      `\ncoverage: the tile cache's audit-log probe (log at id ${count(audit.last)}, nothing new), pgbench, 1 client, ${WARMUP_S} s warm-up, 5 s…`,
    );
    pgbench(url, probeScript, 1, ['-T', String(WARMUP_S)]);
    const probed = pgbench(url, probeScript, 1, ['-T', '5']);
    console.log(`  ${probed.tps.toFixed(1)} tps, latency average ${probed.latency.toFixed(2)} ms`);

    // The coverage metrics.
    const [leaderUser] = await findUsers(db, { username: 'leader' });
    const [adminUser] = await findUsers(db, { username: 'admin' });
    const {
      rows: [first],
    } = await sql<{ id: number; name: string; grids: number; buildings: number }>`
      select c.id, c.name, (select count(*)::int from grids where community_id = c.id) as grids,
             (select count(*)::int from buildings where community_id = c.id) as buildings
      from communities c where c.id = (select community_id from grids order by id limit 1)`.execute(db);
    const options = (viewer: Viewer) => ({ reachM: DEFAULT_REACH_M, viewer, allMembers: countsAllMembers(viewer) });
    const [leader, admin] = [viewerOf(leaderUser), viewerOf(adminUser)];
    const metrics = [
      {
        title: `grids of one community (${first.name}, id ${first.id}: ${first.grids} grids, ${count(first.buildings)} buildings), as leader`,
        user: leaderUser,
        path: `/api/v1/coverage/grids?community=${first.id}`,
        reps: COMMUNITY_REPS,
        capture: (d: Kysely<DB>) => coverageCollection(d, 'grid', leader, { community: first.id }, options(leader)),
      },
      {
        title: `every community of the city (${count(stats.communities)}, ${count(stats.buildings)} buildings), as admin`,
        user: adminUser,
        path: '/api/v1/coverage/communities',
        reps,
        capture: (d: Kysely<DB>) => coverageCollection(d, 'community', admin, {}, options(admin)),
      },
      {
        title: `every community of the leader's street, as leader (reach at its band)`,
        user: leaderUser,
        path: '/api/v1/coverage/communities',
        reps,
        capture: (d: Kysely<DB>) => coverageCollection(d, 'community', leader, {}, options(leader)),
      },
    ];
    const metricResults: MetricResult[] = [];
    const plans: { title: string; lines: string[] }[] = [];
    const { server, base } = await startApp(database);
    const client = new pg.Client({ connectionString: url, options: sessionOptions });
    await client.connect();
    try {
      for (const metric of metrics) {
        const statement = await captureStatement(metric.capture);
        const { token } = await openSession(db, metric.user.id, { hours: 4 });
        console.log(`\ncoverage: ${metric.title}: GET ${metric.path} against its statement, in turns…`);
        const http: number[] = [];
        const direct: number[] = [];
        let bytes = 0;
        let areas = 0;
        let repsLeft = metric.reps;
        for (let r = 0; r < repsLeft; r++) {
          let t = performance.now();
          const res = await fetch(base + metric.path, { headers: { Authorization: `Bearer ${token}` } });
          const text = await res.text();
          http.push(performance.now() - t);
          if (res.status !== 200) throw new Error(`${metric.path} answered ${res.status}: ${text.slice(0, 300)}`);
          bytes = text.length;
          areas = JSON.parse(text).numberReturned;
          t = performance.now();
          const { rows } = await client.query<{ body: string }>(statement.sql, statement.parameters as unknown[]);
          direct.push(performance.now() - t);
          if (rows[0].body.length !== text.length)
            console.log(`  !! the statement answered ${count(rows[0].body.length)} characters, HTTP ${count(text.length)}`);
          console.log(`  HTTP ${ms(http[r])}, SQL ${ms(direct[r])} (${count(areas)} areas, ${count(bytes)} bytes)`);
          if (r === 0 && http[0] > SLOW_S * 1000 && repsLeft > 1) {
            console.log(`  over ${SLOW_S} s: once each`);
            repsLeft = 1;
          }
        }
        metricResults.push({ title: metric.title, path: metric.path, http, direct, bytes, areas });
        const { rows: plan } = await client.query<{ 'QUERY PLAN': string }>(
          `explain (analyze, buffers) ${statement.sql}`,
          statement.parameters as unknown[],
        );
        plans.push({ title: metric.title, lines: plan.map((row) => row['QUERY PLAN']) });
      }
    } finally {
      await client.end();
      await stopApp(server);
    }

    // Figures.
    for (const { label, sample, levels: results, breakdown } of tileResults) {
      printTiles(
        `tiles as ${label}, ${count(sample.length)} distinct tiles (${mixOf(sample, classes)}), cached ${seconds} s per level`,
        results,
      );
      printBreakdown(
        `where the cold tiles' time goes, as ${label} (HTTP, ${results[0].clients} client${results[0].clients > 1 ? 's' : ''}; mean ms per tile, and the layer's share of the pass)`,
        breakdown,
      );
    }
    console.log(
      `\nthe audit-log probe every tile request makes first (pgbench, 1 client): ${probed.tps.toFixed(0)} tps, ${ms(probed.latency)} average`,
    );
    printMetrics(metricResults);
    for (const { title, lines } of plans) {
      console.log(`\nEXPLAIN (ANALYZE, BUFFERS) of the statement for ${title}:`);
      for (const line of lines) console.log(`  ${line}`);
    }
    if (bench.filled) console.log(`\ncoverage: vacuum analyze took ${(bench.filled / 1000).toFixed(1)} s`);
    console.log(`coverage: the whole run took ${since(started)}`);
  } finally {
    await load.terminate();
    await rm(dir, { recursive: true, force: true });
    await bench.close();
  }
}

/** The commit, and whether server/ or sql/ differ from it: which code the figures are of. */
function codeVersion() {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const changed = git('status', '--porcelain', '--', 'server', 'sql', 'data').split('\n').filter(Boolean).length;
    return `${git('rev-parse', '--short', 'HEAD')}${changed ? ` with ${changed} files of server/, sql/, data/ changed` : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

/** The tiles x0..x1, y0..y1 at zoom z that cover the extent (XYZ, y down). */
function tileRange(e: Extent, z: number) {
  const n = 2 ** z;
  const x = (lon: number) => Math.floor(((lon + 180) / 360) * n);
  const y = (lat: number) => {
    const r = (lat * Math.PI) / 180;
    return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
  };
  return { x0: x(e.x0), x1: x(e.x1), y0: y(e.y1), y1: y(e.y0) };
}

/**
 * `n` distinct tiles: a class (layer and zoom) drawn by its weight, then a tile of it not drawn yet, at
 * random within the extent; a class out of tiles is left out of later draws. Seeded: every run the same.
 */
function drawSample(
  classes: TileClass[],
  ranges: Map<number, ReturnType<typeof tileRange>>,
  wanted: number,
  most: number,
  seed: number,
): SampleTile[] {
  const random = mulberry32(seed);
  const left = classes.map(({ z }) => {
    const r = ranges.get(z)!;
    const tiles: [number, number][] = [];
    for (let x = r.x0; x <= r.x1; x++) for (let y = r.y0; y <= r.y1; y++) tiles.push([x, y]);
    return tiles;
  });
  const total = left.reduce((s, tiles) => s + tiles.length, 0);
  if (wanted !== Infinity && wanted > total) throw new Error(`only ${count(total)} distinct tiles in the extent at these zooms`);
  const n = Math.min(wanted, total, wanted === Infinity ? most : Infinity);
  const sample: SampleTile[] = [];
  while (sample.length < n) {
    const open = classes.map((k, c) => (left[c].length ? k.weight : 0));
    let r = random() * open.reduce((s, w) => s + w, 0);
    let c = open.findIndex((w) => w > 0);
    for (let k = c; k < open.length; k++) {
      if (open[k] === 0) continue;
      c = k;
      if ((r -= open[k]) < 0) break;
    }
    const tiles = left[c];
    const k = Math.floor(random() * tiles.length);
    const [x, y] = tiles[k];
    tiles[k] = tiles[tiles.length - 1];
    tiles.pop();
    sample.push({ c, x, y });
  }
  return sample;
}

function mixOf(sample: SampleTile[], classes: TileClass[]) {
  const share = (key: (k: TileClass) => string | number, of: (string | number)[]) =>
    of.map((v) => `${v} ${Math.round((100 * sample.filter((t) => key(classes[t.c]) === v).length) / sample.length)} %`).join(', ');
  return `${share(
    (k) => k.z,
    ZOOM_MIX.map(([z]) => z),
  ).replace(/(\d+) (\d+ %)/g, 'z$1 $2')}; ${share(
    (k) => k.layer,
    LAYER_MIX.map(([l]) => l),
  )}`;
}

/** A tile class's statement for pgbench, the tile's x and y standing as :x and :y. */
function tileStatement(db: Kysely<DB>, k: TileClass, viewer: Viewer) {
  const compiled = tileSql('postgis', tileLayer(k.layer)!, k.z, X_SENTINEL, Y_SENTINEL, viewer).compile(db);
  const script = pgbenchScript(
    compiled,
    new Map([
      [X_SENTINEL, { name: 'x', random: [0, 0] }],
      [Y_SENTINEL, { name: 'y', random: [0, 0] }],
    ]),
  );
  return script
    .split('\n')
    .filter((line) => line && !line.startsWith('\\set'))
    .join('\n');
}

/**
 * A pgbench script: `pick` sets :i, the tile's number; its class and x, y are looked up in the sample's table,
 * and the class's statement runs. With `last`, numbers past it run nothing (the last clients' spare turns).
 */
function passScript(statements: (string | undefined)[], pick: string, last?: number) {
  const branches = statements.flatMap((statement, c) =>
    statement ? [`\\${c === statements.findIndex(Boolean) ? 'if' : 'elif'} :c = ${c}`, statement] : [],
  );
  const body = [`select c, x, y from coverage_bench_tiles where i = :i \\gset`, ...branches, '\\endif'];
  const lines = last ? [`\\if :i <= ${last}`, ...body, '\\endif'] : body;
  return [pick, ...lines, ''].join('\n');
}

/**
 * pgbench running `script` for `run` (-T seconds, or -t turns per client), its sessions set as the app's pool
 * sets its own (`sessionOptions`, e.g. no JIT).
 */
function pgbench(url: string, script: string, clients: number, run: string[]): PgbenchResult {
  const output = execFileSync('pgbench', ['-n', '-c', String(clients), '-j', String(Math.min(clients, 2)), ...run, '-f', script, url], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 2 ** 20,
    env: { ...process.env, PGOPTIONS: sessionOptions },
  });
  const tps = /tps = ([\d.]+)/.exec(output);
  const latency = /latency average = ([\d.]+) ms/.exec(output);
  const processed = /number of transactions actually processed: (\d+)\/(\d+)/.exec(output);
  const failed = /number of failed transactions: (\d+)/.exec(output);
  if (failed && Number(failed[1]) > 0) throw new Error(`pgbench: ${failed[1]} transactions failed`);
  if (!tps || !latency) throw new Error(`pgbench printed no tps: ${output}`);
  if (processed && processed[1] !== processed[2]) throw new Error(`pgbench: ${processed[1]} of ${processed[2]} transactions processed`);
  return { tps: Number(tps[1]), latency: Number(latency[1]) };
}

/**
 * The first tiles of the sample over HTTP must hold what renderTile makes of them: the same features, in
 * any order (a parallel plan hands ST_AsMVT the rows in a different order each time, so the bytes differ).
 */
async function sanityCheck(database: Database, viewer: Viewer, token: string, sample: SampleTile[], classes: TileClass[]) {
  const { server, base } = await startApp(database);
  const features = (bytes: Buffer, layer: string) => {
    const decoded = new VectorTile(new PbfReader(bytes)).layers[layer];
    return JSON.stringify(
      Array.from({ length: decoded?.length ?? 0 }, (_, k) => {
        const f = decoded.feature(k);
        return JSON.stringify([f.id, f.type, f.properties, f.loadGeometry()]);
      }).sort(),
    );
  };
  try {
    let empty = 0;
    const reordered: string[] = [];
    for (const t of sample.slice(0, 12)) {
      const { layer, z } = classes[t.c];
      const res = await fetch(`${base}/tiles/${layer}/${z}/${t.x}/${t.y}.mvt`, { headers: { Authorization: `Bearer ${token}` } });
      const body = Buffer.from(await res.arrayBuffer());
      const direct = await renderTile(database.db, 'postgis', tileLayer(layer)!, z, t.x, t.y, viewer);
      if (res.status !== (direct.length ? 200 : 204) || features(body, layer) !== features(direct, layer)) {
        throw new Error(
          `${layer}/${z}/${t.x}/${t.y}: HTTP ${res.status} with ${body.length} bytes, renderTile ${direct.length} bytes, not the same features`,
        );
      }
      if (!direct.length) empty++;
      if (!body.equals(direct)) reordered.push(`${layer}/${z}/${t.x}/${t.y} (${count(body.length)} and ${count(direct.length)} bytes)`);
    }
    console.log(
      `coverage: the first 12 tiles over HTTP hold renderTile's features (${empty} empty)` +
        `${reordered.length ? `; in another order, so other bytes and another ETag: ${reordered.join(', ')}` : ''}`,
    );
  } finally {
    await stopApp(server);
  }
}

async function startApp(database: Database) {
  const server = createApp({ database, config: loadConfig({}), logger: pino({ level: 'silent' }) }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function stopApp(server: Server) {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  });
}

/**
 * The (last) statement a call sends to the database, caught by a Kysely whose driver runs nothing: it answers
 * `row`, by default one with an empty body.
 */
async function captureStatement(call: (db: Kysely<DB>) => Promise<unknown>, row: object = { body: '' }): Promise<CompiledQuery> {
  let captured: CompiledQuery | undefined;
  const connection: DatabaseConnection = {
    executeQuery: async <R>(compiled: CompiledQuery) => {
      captured = compiled;
      return { rows: [row] as R[] };
    },
    // eslint-disable-next-line require-yield -- the interface asks for a generator; this one only refuses
    streamQuery: async function* () {
      throw new Error('no streaming here');
    },
  };
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: async () => {},
    commitTransaction: async () => {},
    rollbackTransaction: async () => {},
    releaseConnection: async () => {},
    destroy: async () => {},
  };
  const db = new Kysely<DB>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (d) => new PostgresIntrospector(d),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  await call(db);
  await db.destroy();
  if (!captured) throw new Error('no statement caught');
  return captured;
}

// ---- HTTP load: tiles are bytes, not JSON, and a cold pass takes each tile once: a worker of its own ----

interface PassResult {
  /** per answered request, in order of completion: the tile's index in paths, latency (ms), end (ms from start), bytes */
  index: Int32Array;
  latency: Float64Array;
  end: Float64Array;
  bytes: Int32Array;
  hits: number;
  misses: number;
  empty: number;
  /** seconds measured: the whole pass, or the measured window */
  elapsed: number;
}

class TileLoad {
  private worker = new Worker(TILE_WORKER_SOURCE, { eval: true });

  async run(job: {
    base: string;
    token: string;
    paths: string[];
    mode: 'pass' | 'random';
    clients: number;
    seconds: number;
    seed: number;
  }): Promise<PassResult> {
    const answer = new Promise<PassResult & { failures: number; firstFailure?: string }>((resolve, reject) => {
      this.worker.once('message', resolve);
      this.worker.once('error', reject);
    });
    this.worker.postMessage({ ...job, warmupMs: job.mode === 'random' ? WARMUP_S * 1000 : 0, measureMs: job.seconds * 1000 });
    const result = await answer;
    this.worker.removeAllListeners('error');
    if (result.failures) throw new Error(`${result.failures} tile requests failed; the first: ${result.firstFailure}`);
    return result;
  }

  terminate() {
    return this.worker.terminate();
  }
}

const TILE_WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
${HTTP_GET_SOURCE}
${mulberry32.toString()}
parentPort.on('message', async ({ base, token, paths, mode, clients, warmupMs, measureMs, seed }) => {
  const headers = { Authorization: 'Bearer ' + token };
  const start = performance.now();
  const from = start + warmupMs;
  const until = from + measureMs;
  const index = [], latency = [], end = [], bytes = [];
  let hits = 0, misses = 0, empty = 0, failures = 0, firstFailure, next = 0, last = start;
  async function loop(c) {
    const random = mulberry32(seed * 1000 + c);
    for (;;) {
      if (failures) break;
      let i;
      if (mode === 'pass') { if (next >= paths.length) break; i = next++; }
      else { if (performance.now() >= until) break; i = Math.floor(random() * paths.length); }
      const t0 = performance.now();
      try {
        const res = await get(base + paths[i], headers);
        const body = res.body;
        const t1 = performance.now();
        if (res.status !== 200 && res.status !== 204) throw new Error('HTTP ' + res.status + ' for ' + paths[i] + ': ' + Buffer.from(body).toString().slice(0, 300));
        if (mode === 'pass' || (t1 >= from && t1 < until)) {
          index.push(i); latency.push(t1 - t0); end.push(t1 - start); bytes.push(body.byteLength);
          if (res.headers.get('x-tile-cache') === 'hit') hits++; else misses++;
          if (res.status === 204) empty++;
          last = Math.max(last, t1);
        }
      } catch (error) {
        failures++;
        firstFailure ??= String(error);
      }
    }
  }
  await Promise.all(Array.from({ length: clients }, (_, c) => loop(c)));
  const elapsed = mode === 'pass' ? (last - start) / 1000 : measureMs / 1000;
  const result = { index: Int32Array.from(index), latency: Float64Array.from(latency), end: Float64Array.from(end), bytes: Int32Array.from(bytes),
                   hits, misses, empty, elapsed, failures, firstFailure };
  parentPort.postMessage(result, [result.index.buffer, result.latency.buffer, result.end.buffer, result.bytes.buffer]);
});
`;

// ---- figures ----

interface TileLevel {
  clients: number;
  cold: PassResult;
  cached: PassResult;
  pgbench: PgbenchResult;
}
interface MetricResult {
  title: string;
  path: string;
  http: number[];
  direct: number[];
  bytes: number;
  areas: number;
}
type Breakdown = { layer: string; byZoom: Map<number, { n: number; ms: number; bytes: number }>; ms: number }[];

const ms = (v: number) => (v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(v >= 100 ? 0 : 1)} ms`);
const perSecond = (r: PassResult) => r.latency.length / r.elapsed;

function percentile(values: ArrayLike<number>, p: number) {
  const sorted = Float64Array.from(values).sort();
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] : NaN;
}

const median = (values: number[]) => percentile(values, 0.5);

function meanKB(r: PassResult) {
  let sum = 0;
  let n = 0;
  for (const b of r.bytes)
    if (b > 0) {
      sum += b;
      n++;
    }
  return n ? sum / n / 1024 : 0;
}

function report(r: PassResult) {
  console.log(
    `  ${count(r.latency.length)} tiles in ${r.elapsed.toFixed(1)} s: ${perSecond(r).toFixed(1)} tiles/s, ` +
      `p50 ${ms(percentile(r.latency, 0.5))}, p95 ${ms(percentile(r.latency, 0.95))}, ${r.hits} hits, ${r.misses} misses, ${r.empty} empty, ` +
      `${meanKB(r).toFixed(1)} kB a non-empty tile`,
  );
}

function breakdownOf(cold: PassResult, sample: SampleTile[], classes: TileClass[]): Breakdown {
  return LAYER_MIX.map(([layer]) => {
    const byZoom = new Map(ZOOM_MIX.map(([z]) => [z, { n: 0, ms: 0, bytes: 0 }]));
    let total = 0;
    cold.index.forEach((i, k) => {
      const { layer: l, z } = classes[sample[i].c];
      if (l !== layer) return;
      const cell = byZoom.get(z)!;
      cell.n++;
      cell.ms += cold.latency[k];
      cell.bytes += cold.bytes[k];
      total += cold.latency[k];
    });
    return { layer, byZoom, ms: total };
  });
}

function table(header: string[], rows: string[][]) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows])
    console.log(row.map((cell, i) => (i ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  '));
}

function printTiles(title: string, results: TileLevel[]) {
  console.log(`\n${title}`);
  table(
    [
      'clients',
      'cold HTTP tiles/s',
      'p50',
      'p95',
      'pgbench tiles/s (avg latency)',
      'ratio',
      'cached HTTP tiles/s',
      'p50',
      'p95',
      'cached/cold',
      'kB/tile',
      'empty',
    ],
    results.map(({ clients, cold, cached, pgbench: floor }) => [
      String(clients),
      perSecond(cold).toFixed(1),
      ms(percentile(cold.latency, 0.5)),
      ms(percentile(cold.latency, 0.95)),
      `${floor.tps.toFixed(1)} (${ms(floor.latency)})`,
      `${(floor.tps / perSecond(cold)).toFixed(2)}×`,
      perSecond(cached).toFixed(1),
      ms(percentile(cached.latency, 0.5)),
      ms(percentile(cached.latency, 0.95)),
      `${(perSecond(cached) / perSecond(cold)).toFixed(1)}×`,
      meanKB(cold).toFixed(1),
      `${Math.round((100 * cold.empty) / cold.latency.length)} %`,
    ]),
  );
  console.log(
    "cold: every tile of the sample once on a fresh app (all cache misses); pgbench: the same tiles' ST_AsMVT statements once each",
  );
  console.log(
    "(a look-up of the tile by number first); ratio: pgbench tiles/s / cold HTTP tiles/s (1.00× = the API at the database's ceiling).",
  );
  console.log(
    'cached: tiles of the cold pass again at random (cache hits from memory: the session held, the audit log read only when the database says the map changed).',
  );
  console.log('kB/tile: mean size of a non-empty tile; empty: answered 204.');
}

function printBreakdown(title: string, breakdown: Breakdown) {
  const total = breakdown.reduce((s, l) => s + l.ms, 0);
  console.log(`\n${title}`);
  table(
    ['layer', ...ZOOM_MIX.map(([z]) => `z${z}`), 'share'],
    breakdown.map(({ layer, byZoom, ms: layerMs }) => [
      layer,
      ...ZOOM_MIX.map(([z]) => {
        const cell = byZoom.get(z)!;
        return cell.n ? `${ms(cell.ms / cell.n)} (${(cell.bytes / cell.n / 1024).toFixed(0)} kB)` : '–';
      }),
      `${Math.round((100 * layerMs) / total)} %`,
    ]),
  );
}

function printMetrics(results: MetricResult[]) {
  console.log('\ncoverage metrics (median of the repetitions, HTTP and the statement on a pg connection taken in turns)');
  table(
    ['request', 'reps', 'HTTP median', 'min', 'max', 'SQL median', 'min', 'max', 'ratio', 'areas', 'bytes'],
    results.map((r) => [
      `GET ${r.path}`,
      String(r.http.length),
      ms(median(r.http)),
      ms(Math.min(...r.http)),
      ms(Math.max(...r.http)),
      ms(median(r.direct)),
      ms(Math.min(...r.direct)),
      ms(Math.max(...r.direct)),
      `${(median(r.http) / median(r.direct)).toFixed(2)}×`,
      count(r.areas),
      count(r.bytes),
    ]),
  );
  for (const r of results) console.log(`  ${r.path}: ${r.title}`);
  console.log('ratio: HTTP median / SQL median (1.00× = the API adds nothing to the statement).');
}
