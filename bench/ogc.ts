/**
 * ogc: OGC API – Features items throughput on a city 100× the demo city (size 100: ~160,000 buildings), for
 * the admin (every building) and the demo leader (its street, read through the scoped view).
 * - A GIS client copying the whole buildings layer: GET /ogc/collections/buildings/items?limit=1000, then
 *   each `next` link until there is none (as GDAL and QGIS do), in a worker thread. Reported: features/s,
 *   and the server's heap and RSS growth while it runs (bounded: one page at a time).
 * - Pages at random: limit=1000 pages after random cursors (each a full page), at 1 and 4 keep-alive
 *   clients, against pgbench running the page's features in one statement (featureBatch, the statement
 *   embedded pages read a batch at a time; the server's route COPYs the page as one statement, pageLines in
 *   server/db/feature-store.ts), with the cursor as a pgbench random variable, same
 *   concurrency, same run. features/s = pages/s × 1000.
 *
 *   npm run bench -- ogc [--size 100] [--clients 1,4] [--seconds 10] [--server postgres://postgres@127.0.0.1:5432/postgres] [--keep]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { featureBatch } from '../server/db/feature-store.ts';
import type { DB } from '../server/db/schema.ts';
import { findUsers, openSession, viewerOf } from '../server/features/accounts/queries.ts';
import { collectionLayer, COLLECTIONS } from '../server/features/ogc/collections.ts';
import { EXACT } from '../server/features/ogc/queries.ts';
import {
  benchDatabase,
  vacuumAnalyze,
  compareLevels,
  count,
  HttpLoad,
  mulberry32,
  pgbenchScript,
  since,
  type LevelResult,
} from './load.ts';

const NAME = 'gridmap_bench_ogc';
const LIMIT = 1000;
/** Stand-in for the cursor in the compiled statement: the parameter that holds it becomes pgbench's :after. */
const AFTER_SENTINEL = 987_654_321;
/** Random cursors per viewer for the HTTP load. */
const PATHS = 300;

export async function run(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: 'string', default: '100' },
      clients: { type: 'string', default: '1,4' },
      seconds: { type: 'string', default: '10' },
      server: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      keep: { type: 'boolean', default: false },
    },
  });
  const size = Number(values.size);
  const seconds = Number(values.seconds);
  const levels = String(values.clients).split(',').map(Number);
  const server = String(values.server);
  const keep = Boolean(values.keep);
  if (!(size > 0) || !(seconds > 0) || levels.some((n) => !(Number.isInteger(n) && n > 0)))
    throw new Error('--size, --seconds must be positive numbers and --clients positive integers (1,4)');
  // the app's pool sessions run without JIT (server/db/database.ts); so does pgbench
  process.env.PGOPTIONS = '-c jit=off';
  const loading = performance.now();
  const bench = await benchDatabase({
    server,
    name: NAME,
    label: 'ogc',
    keep,
    size,
    fill: (url) => vacuumAnalyze(url, NAME),
  });
  console.log(`ogc: database ready (${since(loading)})`);
  const { database, url } = bench;
  const app = createApp({ database, config: loadConfig({}), logger: pino({ level: 'silent' }) });
  const httpServer = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  const dir = await mkdtemp(join(tmpdir(), 'gridmap-bench-'));
  const buildings = COLLECTIONS.find((c) => c.id === 'buildings')!;
  const walks: string[] = [];
  const opens: string[] = [];
  const tables: [string, LevelResult[]][] = [];
  try {
    for (const username of ['admin', 'leader']) {
      const [user] = await findUsers(database.db, { username });
      const { token } = await openSession(database.db, user.id, { hours: 2 });
      const layer = collectionLayer(buildings, viewerOf(user))!;
      const { rows: ids } = await sql<{ id: number }>`select t.id from ${layer.source} t order by t.id`.execute(database.db);

      // a GIS opening the service: the collections with their extents, computed, then kept for a minute
      for (const pass of ['computed', 'kept']) {
        const t0 = performance.now();
        const res = await fetch(`${base}/ogc/collections`, { headers: { Authorization: `Bearer ${token}` } });
        if (res.status !== 200) throw new Error(`GET /ogc/collections: ${res.status}`);
        await res.text();
        opens.push(`${username.padEnd(8)}${pass.padEnd(9)}${(performance.now() - t0).toFixed(0).padStart(7)} ms`);
      }
      console.log(`ogc: ${username} copies all ${count(ids.length)} buildings it may read, ${LIMIT} a page, following next links…`);
      const walk = await copyLayer(base, token, `/ogc/collections/buildings/items?limit=${LIMIT}`);
      if (walk.features !== ids.length) throw new Error(`the copy has ${walk.features} buildings, the database ${ids.length}`);
      walks.push(
        `${username.padEnd(8)}${count(walk.features).padStart(10)}${String(walk.pages).padStart(7)}${walk.seconds.toFixed(1).padStart(8)} s` +
          `${count(Math.round(walk.features / walk.seconds)).padStart(12)}/s${walk.quarters
            .map((q) => (q / 2 ** 20).toFixed(0))
            .join(' / ')
            .padStart(22)} MB${(walk.rssGrowth / 2 ** 20).toFixed(0).padStart(8)} MB` +
          `${(walk.largestPage / 2 ** 20).toFixed(2).padStart(9)} MB`,
      );
      console.log(`  ${walks.at(-1)}`);

      if (ids.length < 2 * LIMIT) {
        console.log(`ogc: ${username} reads too few buildings for pages of ${LIMIT} at random; skipped`);
        continue;
      }
      // cursors with a full page after each: any id before the 1000th from the end
      const cutoff = ids[ids.length - LIMIT - 1].id;
      const random = mulberry32(7);
      const paths = Array.from(
        { length: PATHS },
        () => `/ogc/collections/buildings/items?limit=${LIMIT}&after=${Math.floor(random() * cutoff)}`,
      );
      const script = join(dir, `${username}.sql`);
      await writeFile(
        script,
        pgbenchScript(await capturePageSql(url, layer), new Map([[AFTER_SENTINEL, { name: 'after', random: [0, cutoff - 1] }]])),
      );
      const load = new HttpLoad(base, token, paths, LIMIT);
      try {
        tables.push([username, await compareLevels(`ogc ${username}`, load, levels, seconds, { url, script })]);
      } finally {
        await load.terminate();
      }
    }
  } finally {
    await new Promise((resolve) => httpServer.close(resolve));
    await rm(dir, { recursive: true, force: true });
    await bench.close();
  }

  console.log('\nCopying the whole buildings layer (limit=1000, following next links, one client):');
  console.log('viewer    features  pages    time   features/s   heap + by quarter       RSS +  largest page');
  for (const line of walks) console.log(line);
  console.log('\nGET /ogc/collections (a GIS opening the service; extents computed, then kept a minute per view):');
  for (const line of opens) console.log(line);
  console.log('\nPages of 1,000 buildings after random cursors, HTTP against pgbench running the same statement:');
  console.log(
    'viewer    clients   HTTP features/s  p50 ms  p95 ms    wrk features/s  p50 ms   pgbench features/s (avg latency)   ratio  ratio wrk',
  );
  for (const [username, results] of tables) {
    for (const { clients, http, wrk, pgbench } of results) {
      const ratio = (r?: { perSecond: number }) => (r ? `${(pgbench.tps / r.perSecond).toFixed(2)}×` : '');
      console.log(
        `${username.padEnd(10)}${String(clients).padStart(7)}${count(Math.round(http.perSecond * LIMIT)).padStart(18)}${http.p50.toFixed(1).padStart(8)}${http.p95.toFixed(1).padStart(8)}` +
          `${(wrk ? count(Math.round(wrk.perSecond * LIMIT)) : '').padStart(18)}${(wrk?.p50.toFixed(1) ?? '').padStart(8)}` +
          `${`${count(Math.round(pgbench.tps * LIMIT))} (${pgbench.latency.toFixed(1)} ms)`.padStart(35)}${ratio(http).padStart(8)}${ratio(wrk).padStart(11)}`,
      );
    }
  }
  console.log("ratio: pgbench / HTTP (1.00× = the API at the database's ceiling), from Node's client and from wrk (in C, as pgbench's");
  console.log('own client is) where it is installed. Each HTTP request also reads the session.');
}

/**
 * A followed page (no count) as one statement, as Kysely hands it to pg: the page's features after a cursor,
 * the database's floor (the route COPYs the same rows and writes the bytes on as they come).
 */
async function capturePageSql(url: string, layer: NonNullable<ReturnType<typeof collectionLayer>>): Promise<CompiledQuery> {
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) });
  const compiled = featureBatch(layer, { conditions: [], limit: LIMIT, after: AFTER_SENTINEL, decimals: EXACT }).compile(db);
  await db.destroy();
  return compiled;
}

/**
 * A client copying a layer: the first page, then each next link, in a worker thread (not on the server's
 * event loop); meanwhile the server's heap and RSS are sampled, to show what paging holds.
 */
async function copyLayer(base: string, token: string, first: string) {
  const before = process.memoryUsage();
  const samples: { at: number; heap: number; rss: number }[] = [];
  const sampler = setInterval(() => {
    const { heapUsed, rss } = process.memoryUsage();
    samples.push({ at: performance.now(), heap: heapUsed, rss });
  }, 20);
  const worker = new Worker(COPY_SOURCE, { eval: true, workerData: { base, token, first } });
  const progress = setInterval(() => worker.postMessage('progress'), 10_000);
  try {
    const result = await new Promise<{ features: number; pages: number; ms: number; largestPage: number }>((resolve, reject) => {
      worker.on('message', (m) => (m.progress ? console.log(`  … ${count(m.progress)} features`) : resolve(m)));
      worker.once('error', reject);
    });
    // the heap's highest point in each quarter of the copy: flat if the server holds a page at a time, rising if it kept them
    const start = samples[0]?.at ?? 0;
    const span = (samples.at(-1)?.at ?? start) - start || 1;
    const quarters = [0, 1, 2, 3].map((q) =>
      Math.max(
        0,
        ...samples.filter((x) => Math.min(3, Math.floor(((x.at - start) / span) * 4)) === q).map((x) => x.heap - before.heapUsed),
      ),
    );
    return { ...result, seconds: result.ms / 1000, quarters, rssGrowth: Math.max(0, ...samples.map((x) => x.rss - before.rss)) };
  } finally {
    clearInterval(sampler);
    clearInterval(progress);
    await worker.terminate();
  }
}

const COPY_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { base, token, first } = workerData;
let features = 0;
parentPort.on('message', () => parentPort.postMessage({ progress: features }));
(async () => {
  const started = performance.now();
  let url = base + first, pages = 0, largestPage = 0;
  while (url) {
    const res = await fetch(url, { headers: { Authorization: 'Bearer ' + token, Accept: 'application/geo+json' } });
    const text = await res.text();
    if (res.status !== 200) throw new Error('HTTP ' + res.status + ': ' + text.slice(0, 300));
    const body = JSON.parse(text);
    features += body.features.length;
    pages++;
    largestPage = Math.max(largestPage, text.length);
    url = body.links.find((l) => l.rel === 'next')?.href;
    // let the progress question in between pages
    await new Promise((resolve) => setImmediate(resolve));
  }
  parentPort.postMessage({ features, pages, ms: performance.now() - started, largestPage });
})();
`;
