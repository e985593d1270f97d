/**
 * suggest: suggested grids (suggestPartition, behind POST /api/v1/communities/:id/suggest-grids) for one large
 * community: a concave, star-shaped boundary about 2.6 km across (48 vertices) holding --buildings footprints
 * at seeded random places, 40 % without households, the others 1–72, added to a size-1 demo city. It is cut
 * into --count grids --reps times after one warm-up; the median is reported with where the time goes (the cuts,
 * then counting each grid's households and writing GeoJSON), the grids' balance and compactness.
 *
 * The floor: one statement counting the households and buildings of the suggested grids (each footprint's
 * point placed in one of the polygons): the least any answer must do, reading and placing every building once.
 * Beside it, for reference, ST_ClusterKMeans grouping the same points into as many clusters in one statement:
 * a partition of the points as PostGIS makes it, without boundaries and without balance (its spread printed too).
 * Run on the PostgreSQL server and on the embedded database (PGlite, in memory), same city, same community.
 *
 *   npm run bench -- suggest [--buildings 5000] [--count 12] [--reps 5] [--modes server,embedded]
 *                            [--server postgres://postgres@127.0.0.1:5432/postgres] [--keep]
 */
import { parseArgs } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { generateDemoCity } from '../data/demo-city.ts';
import { loadDemoCity } from '../data/load-demo.ts';
import { openDatabase, type Database } from '../server/db/database.ts';
import { migrate } from '../server/db/migrate.ts';
import type { DB } from '../server/db/schema.ts';
import { suggestPartition, type SuggestedPart } from '../server/features/planning/suggest.ts';
import { benchDatabase, count, mulberry32, since, vacuumAnalyze } from './load.ts';

const NAME = 'gridmap_bench_planning';
/** The large community's code: its grids are numbered after it. */
export const CODE = '610602001900';
const CENTRE: [number, number] = [109.6, 36.62];

interface Run {
  total: number;
  cuts: number;
  tally: number;
  parts: SuggestedPart[];
}
interface Result {
  mode: string;
  buildings: number;
  runs: Run[];
  floor: number[];
  kmeans: number[];
  kmeansHouseholds: number[];
  polsbyPopper: number;
}

export async function run(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      buildings: { type: 'string', default: '5000' },
      count: { type: 'string', default: '12' },
      reps: { type: 'string', default: '5' },
      modes: { type: 'string', default: 'server,embedded' },
      server: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      keep: { type: 'boolean', default: false },
    },
  });
  const buildings = Number(values.buildings);
  const grids = Number(values.count);
  const reps = Number(values.reps);
  const modes = String(values.modes).split(',');
  if (![buildings, grids, reps].every((n) => Number.isInteger(n) && n > 0) || modes.some((m) => m !== 'server' && m !== 'embedded')) {
    throw new Error('--buildings, --count and --reps must be positive integers, --modes server and/or embedded');
  }
  const started = performance.now();
  const results: Result[] = [];
  for (const mode of modes) {
    const city = await planningCity(mode as CityMode, {
      bench: 'suggest',
      buildings,
      server: String(values.server),
      keep: Boolean(values.keep),
      name: NAME,
      label: `planning buildings=${buildings}`,
    });
    try {
      results.push(await measure(mode === 'server' ? 'server (PostgreSQL)' : 'embedded (PGlite)', city.database.db, grids, reps));
    } finally {
      await city.close();
    }
  }
  print(results, grids, reps);
  console.log(`\nsuggest: the whole run took ${since(started)}`);
}

export type CityMode = 'server' | 'embedded';

/**
 * The planning benchmarks' city: a size-1 demo city and the large community (addCommunity), on the
 * PostgreSQL server (its own database `name`, labelled `label`: with `keep` it is left behind and reused)
 * or embedded (PGlite, in memory, built anew). `more` adds what a benchmark needs besides, once, as part of
 * the fill (so a kept database has it too). Progress is printed as `bench: …`.
 */
export async function planningCity(
  mode: CityMode,
  {
    bench,
    buildings,
    server,
    keep,
    name,
    label,
    more,
  }: {
    bench: string;
    buildings: number;
    server: string;
    keep: boolean;
    name: string;
    label: string;
    more?: (db: Kysely<DB>, communityId: number, mode: CityMode) => Promise<void>;
  },
): Promise<{ database: Database; close: () => Promise<void> }> {
  const add = async (db: Kysely<DB>) => {
    const adding = performance.now();
    const id = await addCommunity(db, buildings);
    console.log(`${bench}: ${mode}: community of ${count(buildings)} buildings added (${since(adding)})`);
    await more?.(db, id, mode);
  };
  if (mode === 'server') {
    const city = await benchDatabase({
      server,
      name,
      label,
      keep,
      size: 1,
      fill: async (url) => {
        const filling = await openDatabase({ url });
        try {
          await add(filling.db);
        } finally {
          await filling.close();
        }
        await vacuumAnalyze(url, name);
      },
    });
    return { database: city.database, close: city.close };
  }
  const loading = performance.now();
  const database = await openDatabase({});
  try {
    await migrate(database.db);
    console.log(`${bench}: embedded: loading a size 1 demo city into PGlite…`);
    await loadDemoCity(database.db, generateDemoCity({ seed: 1, size: 1 }), (step, done, total) => {
      if (done === total) console.log(`${bench}: embedded: demo city ${step} ${count(total)} (${since(loading)})`);
    });
    await add(database.db);
    console.log(`${bench}: embedded database ready (${since(loading)})`);
    return { database, close: () => database.close() };
  } catch (error) {
    await database.close();
    throw error;
  }
}

/**
 * The large community, in SQL: the boundary from a seeded generator, footprints 18 × 13 m around points
 * PostGIS draws in it (seeded), households from the point's number. The link triggers place them. Returns its id.
 */
export async function addCommunity(db: Kysely<DB>, buildings: number): Promise<number> {
  const random = mulberry32(20261130);
  const cos = Math.cos((CENTRE[1] * Math.PI) / 180);
  const ring = Array.from({ length: 48 }, (_, k) => {
    const angle = (2 * Math.PI * k) / 48;
    const metres = 1000 + 400 * random();
    return `${CENTRE[0] + (metres * Math.cos(angle)) / (111_320 * cos)} ${CENTRE[1] + (metres * Math.sin(angle)) / 111_320}`;
  });
  const boundary = `POLYGON((${[...ring, ring[0]].join(', ')}))`;
  const {
    rows: [{ id }],
  } = await sql<{ id: number }>`
    insert into communities (code, name, street_code, geom)
    values (${CODE}, '规划测试社区', ${CODE.slice(0, 9)}, ST_Multi(ST_GeomFromText(${boundary}, 4326))) returning id`.execute(db);
  await sql`
    insert into buildings (name, households, geom)
    select '测试楼' || d.path[1], case when d.path[1] * 7919 % 10 < 4 then 0 else 1 + d.path[1] * 104729 % 72 end,
           ST_Expand(d.geom, 0.0001, 0.00006)
    from communities c, ST_Dump(ST_GeneratePoints(c.geom, ${buildings}, 20261130)) d where c.id = ${id}`.execute(db);
  return id;
}

export async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const value = await work();
  return [performance.now() - start, value];
}

async function measure(mode: string, db: Kysely<DB>, grids: number, reps: number): Promise<Result> {
  const {
    rows: [community],
  } = await sql<{ id: number; buildings: number; households: number; area_km2: number }>`
    select c.id, count(b.id)::int as buildings, coalesce(sum(b.households), 0)::int as households,
           ST_Area(c.geom::geography) / 1e6 as area_km2
    from communities c left join buildings b on b.community_id = c.id where c.code = ${CODE} group by c.id`.execute(db);
  console.log(
    `suggest: ${mode}: community ${CODE}: ${count(community.buildings)} buildings, ${count(community.households)} households, ` +
      `${community.area_km2.toFixed(2)} km²; ${grids} grids, 1 warm-up + ${reps} repetitions`,
  );

  const suggest = async (): Promise<Run> => {
    const start = performance.now();
    let lastCut = start;
    const parts = await suggestPartition(db, community.id, grids, () => {
      lastCut = performance.now();
    });
    const end = performance.now();
    return { total: end - start, cuts: lastCut - start, tally: end - lastCut, parts };
  };
  const place = (parts: SuggestedPart[]) =>
    sql<{ households: number; buildings: number }>`
    with grid as materialized (select i, ST_SetSRID(ST_GeomFromGeoJSON(g), 4326) as geom
                  from json_array_elements_text(${JSON.stringify(parts.map((p) => p.geometry))}::json) with ordinality as p(g, i)),
    home as materialized (select households, ST_PointOnSurface(geom) as p from buildings where community_id = ${community.id})
    select grid.i, counts.* from grid cross join lateral (
      select coalesce(sum(home.households), 0)::int as households, count(*)::int as buildings from home where ST_Intersects(grid.geom, home.p)) counts
    order by grid.i`.execute(db);
  const kmeans = () =>
    sql<{ households: number }>`
    select coalesce(sum(households), 0)::int as households
    from (select households, ST_ClusterKMeans(ST_PointOnSurface(geom), ${grids}) over () as cluster
          from buildings where community_id = ${community.id}) b
    group by cluster`.execute(db);

  const warm = await suggest();
  await place(warm.parts);
  await kmeans();
  const runs: Run[] = [];
  const floor: number[] = [];
  const kmeansTimes: number[] = [];
  let kmeansHouseholds: number[] = [];
  // taken in turns, so the machine's drift falls on all three alike
  for (let r = 0; r < reps; r++) {
    runs.push(await suggest());
    const [placing, { rows: placed }] = await timed(() => place(warm.parts));
    floor.push(placing);
    if (placed.some((row, i) => row.households !== warm.parts[i].households || row.buildings !== warm.parts[i].buildings)) {
      throw new Error('the floor counted other households than suggestPartition reported');
    }
    const [clustering, { rows: clusters }] = await timed(kmeans);
    kmeansTimes.push(clustering);
    kmeansHouseholds = clusters.map((c) => c.households);
  }
  if (runs.some((r) => JSON.stringify(r.parts) !== JSON.stringify(warm.parts)))
    throw new Error('the repetitions suggested different grids');
  const {
    rows: [shape],
  } = await sql<{ polsby_popper: number }>`
    select min(4 * pi() * ST_Area(g::geography) / ST_Perimeter(g::geography) ^ 2) as polsby_popper
    from (select ST_SetSRID(ST_GeomFromGeoJSON(g), 4326) as g
          from json_array_elements_text(${JSON.stringify(warm.parts.map((p) => p.geometry))}::json) as p(g)) s`.execute(db);
  return { mode, buildings: community.buildings, runs, floor, kmeans: kmeansTimes, kmeansHouseholds, polsbyPopper: shape.polsby_popper };
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
};
export const ms = (v: number) => `${v.toFixed(v >= 100 ? 0 : 1)} ms`;

/** Mean, least, most, and the largest deviation from the mean in per cent. */
function spread(households: number[]) {
  const mean = households.reduce((a, b) => a + b, 0) / households.length;
  const deviation = Math.max(...households.map((h) => Math.abs(h - mean))) / mean;
  return `mean ${Math.round(mean)}, ${Math.min(...households)}–${Math.max(...households)}, ±${(100 * deviation).toFixed(1)} %`;
}

function print(results: Result[], grids: number, reps: number) {
  const header = [
    'database',
    'buildings',
    'suggest median',
    'min–max',
    'cuts',
    'tally',
    'floor (count per grid)',
    'ratio',
    'k-means reference',
  ];
  const rows = results.map((r) => {
    const totals = r.runs.map((x) => x.total);
    const middle = r.runs.find((x) => x.total === median(totals))!;
    return [
      r.mode,
      count(r.buildings),
      ms(median(totals)),
      `${ms(Math.min(...totals))}–${ms(Math.max(...totals))}`,
      ms(middle.cuts),
      ms(middle.tally),
      ms(median(r.floor)),
      `${(median(totals) / median(r.floor)).toFixed(1)}×`,
      ms(median(r.kmeans)),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  console.log(`\nsuggested grids: ${grids} grids, median of ${reps}`);
  for (const row of [header, ...rows])
    console.log(row.map((cell, i) => (i ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  '));
  console.log('cuts: reading the buildings and every cut (the run with the median time); tally: snapping neighbours, counting each');
  console.log("grid's households, GeoJSON. floor: one statement counting the households of the suggested grids. ratio: suggest / floor.");
  for (const r of results) {
    console.log(
      `${r.mode}: households per grid ${spread(r.runs[0].parts.map((p) => p.households))}; ` +
        `least compact grid ${r.polsbyPopper.toFixed(2)} (Polsby–Popper); k-means clusters ${spread(r.kmeansHouseholds)}`,
    );
  }
}
