/**
 * What the HTTP benchmarks share: pgbench running the very statement a request runs (the floor), and a
 * load generator for the API in a worker thread (not on the server's event loop), with the table that
 * puts the two side by side.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { sql, type CompiledQuery } from 'kysely';
import pg from 'pg';
import { generateDemoCity } from '../data/demo-city.ts';
import { loadDemoCity } from '../data/load-demo.ts';
import { findWrk, WrkLoad } from './wrk.ts';
import { openDatabase, type Database } from '../server/db/database.ts';
import { migrate, MIGRATIONS_DIR } from '../server/db/migrate.ts';

export const WARMUP_S = 2;

/**
 * The options the server benchmarks share: how many rows of their own to generate (`--<rows>`), the demo
 * city's size, seconds per level, client counts, the server, and --keep.
 */
export function benchOptions(
  args: string[],
  rows: string,
  { rowsDefault, clientsDefault }: { rowsDefault: string; clientsDefault: string },
) {
  const { values } = parseArgs({
    args,
    options: {
      [rows]: { type: 'string', default: rowsDefault },
      size: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '10' },
      clients: { type: 'string', default: clientsDefault },
      server: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      keep: { type: 'boolean', default: false },
    },
  });
  const total = Number(values[rows]);
  const size = Number(values.size);
  const seconds = Number(values.seconds);
  const levels = String(values.clients).split(',').map(Number);
  if (!(total > 0) || !(size > 0) || !(seconds > 0) || levels.some((n) => !(Number.isInteger(n) && n > 0))) {
    throw new Error(`--${rows}, --size, --seconds must be positive numbers and --clients positive integers (${clientsDefault})`);
  }
  return { total, size, seconds, levels, server: String(values.server), keep: Boolean(values.keep) };
}

/** A small seeded generator (mulberry32): the same points and samples on every run. */
export function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const count = (n: number) => n.toLocaleString('en');
export const since = (start: number) => `${((performance.now() - start) / 1000).toFixed(1)} s`;

/**
 * A benchmark's own database on the PostgreSQL server, migrated, holding a demo city of `size` and what
 * `fill` adds. A finished build is labelled with `label` and the migrations' hash; with `keep`, a database
 * so labelled is reused (a changed schema or other parameters rebuild it), and it is left behind after the
 * run; without, it is built anew and dropped by `close`.
 */
export async function benchDatabase({
  server,
  name,
  label,
  keep,
  size,
  fill,
}: {
  server: string;
  name: string;
  label: string;
  keep: boolean;
  size: number;
  fill: (url: string) => Promise<void>;
}) {
  const url = Object.assign(new URL(server), { pathname: `/${name}` }).toString();
  const schema = createHash('sha256');
  for (const dir of [MIGRATIONS_DIR, join(MIGRATIONS_DIR, 'schema')]) {
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()) schema.update(await readFile(join(dir, file)));
  }
  const labelled = `gridmap bench ${label} size=${size} seed=1 schema=${schema.digest('hex').slice(0, 12)}`;
  const admin = await openDatabase({ url: server });
  const close = async (database?: Database) => {
    await database?.close();
    if (!keep) await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
    await admin.close();
  };
  try {
    const {
      rows: [existing],
    } = await sql<{ label: string | null }>`
      select shobj_description(oid, 'pg_database') as label from pg_database where datname = ${name}`.execute(admin.db);
    if (keep && existing?.label === labelled) {
      console.log(`${name}: reusing it (${labelled})`);
      const database = await openDatabase({ url });
      await migrate(database.db);
      return { database, url, filled: 0, close: () => close(database) };
    }
    await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
    await sql`create database ${sql.id(name)}`.execute(admin.db);
    const database = await openDatabase({ url });
    await migrate(database.db);
    const loadStart = performance.now();
    console.log(`${name}: loading a size ${size} demo city…`);
    await loadDemoCity(database.db, generateDemoCity({ seed: 1, size }), (step, done, total) => {
      if (done === total) console.log(`${name}: demo city ${step} ${count(total)} (${since(loadStart)})`);
    });
    const fillStart = performance.now();
    await fill(url);
    const filled = performance.now() - fillStart;
    await sql`comment on database ${sql.id(name)} is ${sql.lit(labelled)}`.execute(admin.db);
    return { database, url, filled, close: () => close(database) };
  } catch (error) {
    await close();
    throw error;
  }
}

/** VACUUM (ANALYZE) a freshly loaded benchmark database, so plans and visibility are as in a city that has run a while. */
export async function vacuumAnalyze(url: string, name: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  console.log(`${name}: vacuum analyze…`);
  await client.query('vacuum (analyze)');
  await client.end();
}

/** A pgbench random variable standing for a statement parameter: integers in [from, to], divided by `scale`. */
export interface BenchVariable {
  name: string;
  random: [number, number];
  scale?: number;
}

/**
 * A pgbench script running `compiled`: parameters written in as SQL literals, and those holding one of the
 * `variables` keys (a sentinel value) replaced, by position, with a pgbench random variable.
 */
export function pgbenchScript(compiled: CompiledQuery, variables: Map<unknown, BenchVariable>) {
  const { parameters } = compiled;
  const literal = (value: unknown) => {
    if (value === null || value === undefined) return 'null';
    if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
    if (value instanceof Date) return `'${value.toISOString()}'`;
    return `'${String(value).replaceAll("'", "''")}'`;
  };
  const used = new Set<string>();
  const replacements = parameters.map((value) => {
    const variable = variables.get(value);
    if (!variable) return literal(value);
    used.add(variable.name);
    return variable.scale ? `(:${variable.name} / ${variable.scale.toFixed(1)})` : `:${variable.name}`;
  });
  const missing = [...variables.values()].filter((v) => !used.has(v.name));
  if (missing.length) throw new Error(`no parameter holds ${missing.map((v) => v.name).join(', ')}`);
  // comments out first: the statement goes on one line
  const text = compiled.sql.replace(/--[^\n]*/g, '').replace(/\$(\d+)/g, (_, n) => replacements[Number(n) - 1]);
  const sets = [...variables.values()].map((v) => `\\set ${v.name} random(${v.random[0]}, ${v.random[1]})`);
  return `${sets.join('\n')}\n${text.replace(/\s+/g, ' ').trim()};\n`;
}

export interface PgbenchResult {
  tps: number;
  latency: number;
  /** percentiles of the transactions' latencies, ms (from pgbench's log of each), where logged */
  p50?: number;
  p99?: number;
}

/** `protocol` prepared: each client prepares the script's statements once, its variables bound (pgbench -M prepared). */
export function pgbench(
  url: string,
  script: string,
  clients: number,
  seconds: number,
  protocol: 'simple' | 'prepared' = 'simple',
): PgbenchResult {
  // each transaction logged (-l) in a folder of its own, for the percentiles of its latency
  const logs = mkdtempSync(join(tmpdir(), 'gridmap-pgbench-'));
  try {
    const output = execFileSync(
      'pgbench',
      ['-n', '-l', '-M', protocol, '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds), '-f', script, url],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: logs },
    );
    const tps = /tps = ([\d.]+)/.exec(output);
    const latency = /latency average = ([\d.]+) ms/.exec(output);
    const failed = /number of failed transactions: (\d+)/.exec(output);
    if (!tps || !latency) throw new Error(`pgbench printed no tps: ${output}`);
    if (failed && Number(failed[1]) > 0) throw new Error(`pgbench: ${failed[1]} transactions failed`);
    // a line a transaction: client, transaction, latency in µs, …
    const sorted = Float64Array.from(
      readdirSync(logs).flatMap((file) =>
        readFileSync(join(logs, file), 'utf8')
          .split('\n')
          .filter((line) => line)
          .map((line) => Number(line.split(' ')[2]) / 1000),
      ),
    ).sort();
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
    return { tps: Number(tps[1]), latency: Number(latency[1]), p50: at(0.5), p99: at(0.99) };
  } finally {
    rmSync(logs, { recursive: true, force: true });
  }
}

export interface HttpResult {
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  failures: number;
  firstFailure?: string;
  fewer: number;
}

/**
 * `get(url, headers)` for the load generators' worker threads: Node's own HTTP client on keep-alive sockets,
 * resolving to the status, the headers (`headers.get(name)`) and the whole body as a Buffer. It costs the
 * client a fraction of what `fetch` does (3.5 against 2.9 ms a nearest-volunteers request in a row, the server
 * the same): on two cores the client's time is taken from the server and the database it measures, and
 * pgbench, the floor beside it, is a C client.
 */
export const HTTP_GET_SOURCE = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true });
const get = (url, headers) =>
  new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: { get: (name) => res.headers[name] ?? null }, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    // a kept-alive socket the server closed as it was taken (idle past its keep-alive timeout): asked again
    // on a new one, as fetch does
    req.on('error', (error) => (req.reusedSocket && error.code === 'ECONNRESET' ? get(url, headers).then(resolve, reject) : reject(error)));
  });
`;

/**
 * A load generator in a worker thread: `clients` concurrent keep-alive loops, each sending its next request
 * when its answer is in, to a path drawn at random (seeded) from `paths`. Every answer must be 200; its time
 * is taken when its last byte is in, before it is read as JSON. Answers under 64 kB are all read, larger ones
 * one in 16 (parsing a 560 kB page of features costs the client about what the server spends writing it: a
 * client that parsed every one would measure itself). One whose `features` (or `areas`) hold fewer than
 * `least` items is counted in `fewer`.
 */
export class HttpLoad {
  private worker: Worker;
  /** the same paths from wrk, a client in C, where there is one */
  readonly wrk: WrkLoad | undefined;

  constructor(base: string, token: string, paths: string[], least = 0) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { base, token, paths, least } });
    const wrk = findWrk();
    if ('missing' in wrk) console.log(`no wrk beside the Node client: ${wrk.missing}`);
    else this.wrk = new WrkLoad(base, token, paths);
  }

  async run(clients: number, seconds: number, seed: number): Promise<HttpResult> {
    const answer = new Promise<{ latencies: Float64Array; failures: number; firstFailure?: string; fewer: number }>((resolve, reject) => {
      this.worker.once('message', resolve);
      this.worker.once('error', reject);
    });
    this.worker.postMessage({ clients, warmupMs: WARMUP_S * 1000, measureMs: seconds * 1000, seed });
    const { latencies, failures, firstFailure, fewer } = await answer;
    this.worker.removeAllListeners('error');
    const sorted = Float64Array.from(latencies).sort();
    // nearest rank
    const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] : NaN);
    return { perSecond: sorted.length / seconds, p50: at(0.5), p95: at(0.95), p99: at(0.99), failures, firstFailure, fewer };
  }

  terminate() {
    this.wrk?.close();
    return this.worker.terminate();
  }
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { base, token, paths, least } = workerData;
const headers = { Authorization: 'Bearer ' + token };
${mulberry32.toString()}
${HTTP_GET_SOURCE}
parentPort.on('message', async ({ clients, warmupMs, measureMs, seed }) => {
  const from = performance.now() + warmupMs;
  const until = from + measureMs;
  const latencies = [];
  let failures = 0, firstFailure, fewer = 0, answers = 0;
  async function loop(i) {
    const random = mulberry32(seed * 1000 + i);
    while (performance.now() < until && failures < 100) {
      const path = paths[Math.floor(random() * paths.length)];
      const t0 = performance.now();
      let why, t1;
      try {
        const res = await get(base + path, headers);
        const text = res.body.toString();
        t1 = performance.now();
        if (res.status !== 200) why = 'HTTP ' + res.status + ': ' + text.slice(0, 300);
        else if (text.length < 65536 || answers++ % 16 === 0) {
          const body = JSON.parse(text);
          const items = body.features ?? body.areas;
          if (!Array.isArray(items)) why = 'no features or areas: ' + text.slice(0, 300);
          else if (items.length < least) fewer++;
        }
      } catch (error) {
        why = String(error);
      }
      t1 ??= performance.now();
      if (why !== undefined) { failures++; firstFailure ??= why; }
      else if (t1 >= from && t1 < until) latencies.push(t1 - t0);
    }
  }
  await Promise.all(Array.from({ length: clients }, (_, i) => loop(i)));
  const array = Float64Array.from(latencies);
  parentPort.postMessage({ latencies: array, failures, firstFailure, fewer }, [array.buffer]);
});
`;

export interface LevelResult {
  clients: number;
  http: HttpResult;
  /** the same requests from wrk */
  wrk?: HttpResult;
  pgbench: PgbenchResult;
}

/** HTTP then pgbench at each concurrency, printed as they come. */
export async function compareLevels(
  name: string,
  load: HttpLoad,
  levels: number[],
  seconds: number,
  floor: { url: string; script: string; protocol?: 'simple' | 'prepared' },
  seedFrom = 1,
) {
  const results: LevelResult[] = [];
  for (const clients of levels) {
    const plural = clients > 1 ? 's' : '';
    console.log(`${name}: HTTP, ${clients} client${plural}: ${WARMUP_S} s warm-up, ${seconds} s…`);
    const http = await load.run(clients, seconds, seedFrom + results.length);
    if (http.failures) throw new Error(`${http.failures} requests failed at ${clients} clients; the first: ${http.firstFailure}`);
    console.log(
      `  ${http.perSecond.toFixed(1)} req/s, p50 ${http.p50.toFixed(1)} ms, p95 ${http.p95.toFixed(1)} ms, p99 ${http.p99.toFixed(1)} ms`,
    );
    let wrk: HttpResult | undefined;
    if (load.wrk) {
      console.log(`${name}: wrk, ${clients} client${plural}: ${WARMUP_S} s warm-up, ${seconds} s…`);
      wrk = await load.wrk.run(clients, seconds, seedFrom + results.length, WARMUP_S);
      if (wrk.failures) throw new Error(`wrk at ${clients} clients: ${wrk.firstFailure}`);
      console.log(
        `  ${wrk.perSecond.toFixed(1)} req/s, p50 ${wrk.p50.toFixed(1)} ms, p95 ${wrk.p95.toFixed(1)} ms, p99 ${wrk.p99.toFixed(1)} ms`,
      );
    }
    console.log(`${name}: pgbench, ${clients} client${plural}: ${WARMUP_S} s warm-up, ${seconds} s…`);
    pgbench(floor.url, floor.script, clients, WARMUP_S, floor.protocol);
    const result = pgbench(floor.url, floor.script, clients, seconds, floor.protocol);
    console.log(`  ${result.tps.toFixed(1)} tps, latency average ${result.latency.toFixed(2)} ms, p99 ${result.p99?.toFixed(1)} ms`);
    results.push({ clients, http, wrk, pgbench: result });
  }
  return results;
}

/** The results as a table, HTTP (Node's client, and wrk's where it ran) beside pgbench, with the ratios. */
export function printLevels(title: string, results: LevelResult[]) {
  const withWrk = results.some((r) => r.wrk);
  const header = [
    'clients',
    'HTTP req/s',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    ...(withWrk ? ['wrk req/s', 'p50 ms', 'p99 ms'] : []),
    'pgbench tps (avg latency)',
    'p99 ms',
    'ratio',
    ...(withWrk ? ['ratio wrk'] : []),
  ];
  const table = results.map(({ clients, http, wrk, pgbench: floor }) => [
    String(clients),
    http.perSecond.toFixed(1),
    http.p50.toFixed(1),
    http.p95.toFixed(1),
    http.p99.toFixed(1),
    ...(withWrk ? [wrk?.perSecond.toFixed(1) ?? '', wrk?.p50.toFixed(1) ?? '', wrk?.p99.toFixed(1) ?? ''] : []),
    `${floor.tps.toFixed(1)} (${floor.latency.toFixed(2)} ms)`,
    floor.p99?.toFixed(1) ?? '',
    `${(floor.tps / http.perSecond).toFixed(2)}×`,
    ...(withWrk ? [wrk ? `${(floor.tps / wrk.perSecond).toFixed(2)}×` : ''] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  console.log(`\n${title}`);
  for (const row of [header, ...table])
    console.log(row.map((cell, i) => (i ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  '));
  console.log(`ratio: pgbench tps / HTTP req/s (1.00× = the API runs at the database's ceiling); HTTP from Node's client in a`);
  console.log(`worker thread of this process, and from wrk (a client in C, as pgbench's own is) where it is installed.`);
  console.log(`The app's pool holds at most 10 connections; pgbench opens one per client (-c), -j min(clients, 2) threads.`);
}
