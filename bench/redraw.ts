/**
 * redraw: the dry run of a redrawn grid over real HTTP, POST /api/v1/grids/:id/redraw {geometry, dryRun: true,
 * adjustNeighbours: true}, as the admin, in the large community of the suggest benchmark (bench/planning.ts:
 * --buildings footprints, default 5,000, in a concave community added to a size-1 demo city), which the fill
 * gives --count grids (default 12, suggestPartition's, inserted once as grids of the community), members at the
 * buildings in the demo city's proportion (a third of a member per household: about 36,000) and issues at
 * seeded random points in the demo's mix of states (0.4 a building: 2,000, half of them open).
 *
 * The redrawn shapes: on each of the three longest edges two grids share (three different grids), a vertex
 * is added at the middle and moved 40 m into the neighbour, so a triangle of the neighbour (20 m² per metre
 * of edge) and the buildings, members and issues in it change grid. The three are sent in turn, --requests
 * in all after --warmup rounds of each, and every answer is checked (200, no refusals, the same moves as the
 * floor finds).
 *
 * Floors, taken in turns with the requests so the machine's drift falls on all alike:
 * - write: what the database must do anyway to relink: BEGIN; the very UPDATE of grids the dry run makes (the
 *   redrawn grid and its adjusted neighbour, their exact shapes as redrawPlan computes them) with all its
 *   triggers (relinking buildings, members, issues; audit log; versions); ROLLBACK.
 * - read: the least a preview must read: one SELECT of the buildings whose ST_PointOnSurface changes grid
 *   under the new shapes (only those in the area that changes hands).
 * Run on the PostgreSQL server and on the embedded database (PGlite, in memory; the app over it as `npm run
 * dev` without DATABASE_URL).
 *
 *   npm run bench -- redraw [--buildings 5000] [--count 12] [--requests 30] [--warmup 1] [--modes server,embedded]
 *                           [--server postgres://postgres@127.0.0.1:5432/postgres] [--keep]
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { pino } from 'pino';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import type { Database } from '../server/db/database.ts';
import type { DB } from '../server/db/schema.ts';
import { findUsers, openSession } from '../server/features/accounts/queries.ts';
import { gridName, type ImpactReport } from '../server/features/planning/change.ts';
import { drawnShape, gridRow, redrawPlan } from '../server/features/planning/shapes.ts';
import { suggestPartition } from '../server/features/planning/suggest.ts';
import { count, since } from './load.ts';
import { CODE, median, ms, planningCity, timed, type CityMode } from './planning.ts';

const NAME = 'gridmap_bench_redraw';
/** How far the added vertex moves into the neighbour. */
const MOVE_M = 40;
/** Shared edges tried (the longest, one per redrawn grid). */
const VARIANTS = 3;
/** Members per household (the demo city's: 0.33 × 0.6–1.4 per building) and issues per building (the demo's 0.2, doubled). */
const MEMBERS_PER_HOUSEHOLD = 0.33;
const ISSUES_PER_BUILDING = 0.4;
const M_PER_DEGREE = 111_320;

interface Variant {
  grid: number;
  code: string;
  neighbour: number;
  neighbourCode: string;
  edgeM: number;
  body: string;
  edits: { id: number; geom: string }[];
}
interface Sample {
  http: number;
  write: number;
  read: number;
}
interface Moves {
  buildings: number;
  households: number;
  members: number;
  issues: number;
  grids: number;
  bytes: number;
}
interface Result {
  mode: string;
  requests: number;
  samples: Sample[];
  variants: Variant[];
  moves: Moves[];
  stats: { buildings: number; households: number; members: number; issues: number; open: number; grids: number };
}

export async function run(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      buildings: { type: 'string', default: '5000' },
      count: { type: 'string', default: '12' },
      requests: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '1' },
      modes: { type: 'string', default: 'server,embedded' },
      server: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      keep: { type: 'boolean', default: false },
    },
  });
  const buildings = Number(values.buildings);
  const grids = Number(values.count);
  const requests = Number(values.requests);
  const warmup = Number(values.warmup);
  const modes = String(values.modes).split(',');
  if (
    ![buildings, grids, requests].every((n) => Number.isInteger(n) && n > 0) ||
    !(Number.isInteger(warmup) && warmup >= 0) ||
    grids < 2 ||
    modes.some((m) => m !== 'server' && m !== 'embedded')
  ) {
    throw new Error(
      '--buildings, --requests must be positive integers, --count at least 2, --warmup 0 or more, --modes server and/or embedded',
    );
  }
  const started = performance.now();
  const results: Result[] = [];
  for (const mode of modes as CityMode[]) {
    const city = await planningCity(mode, {
      bench: 'redraw',
      buildings,
      server: String(values.server),
      keep: Boolean(values.keep),
      name: NAME,
      label: `redraw buildings=${buildings} grids=${grids} members=${MEMBERS_PER_HOUSEHOLD}/household issues=${ISSUES_PER_BUILDING}/building`,
      more: (db, communityId) => populate(db, communityId, grids, mode),
    });
    try {
      results.push(await measure(mode === 'server' ? 'server (PostgreSQL)' : 'embedded (PGlite)', city.database, requests, warmup));
    } finally {
      await city.close();
    }
  }
  print(results);
  console.log(`\nredraw: the whole run took ${since(started)}`);
}

/**
 * The community's grids (suggestPartition's, numbered after the community), members at its buildings and
 * issues in it, all in SQL with the triggers on (they link everything); what is drawn at random is a hash of the row's keys.
 */
async function populate(db: Kysely<DB>, communityId: number, grids: number, mode: CityMode) {
  let step = performance.now();
  const parts = await suggestPartition(db, communityId, grids);
  await sql`
    insert into grids (community_id, code, name, geom)
    select ${communityId}, p.code, p.name, ST_SetSRID(ST_GeomFromGeoJSON(p.geometry), 4326)
    from json_to_recordset(${JSON.stringify(
      parts.map((p, k) => {
        const code = `${CODE}${String(k + 1).padStart(3, '0')}`;
        return { code, name: gridName(code), geometry: p.geometry };
      }),
    )}::json) as p(code text, name text, geometry text)`.execute(db);
  console.log(`redraw: ${mode}: ${grids} suggested grids inserted (${since(step)})`);
  step = performance.now();
  // a third of a member per household, homes inside the footprint (as the demo city places them)
  await sql`
    insert into members (name, category, registered_community_id, geom, is_central_household, is_volunteer, skills)
    select '居民' || m.building || '-' || m.k,
           case when m.r1 < 0.35 then 'in_service' when m.r1 < 0.75 then 'retired' when m.r1 < 0.85 then 'floating' else 'resident' end,
           ${communityId}, ST_SetSRID(ST_MakePoint(m.x + (m.r2 - 0.5) * 0.7 * m.w, m.y + (m.r3 - 0.5) * 0.7 * m.h), 4326),
           m.r5 < 0.06, m.r4 < 0.125,
           case when m.r4 < 0.125 then array[(array['elder_care', 'patrol', 'repair', 'medical', 'mediation'])[1 + floor(m.r5 * 5)::int]] else '{}' end
    from (
      select b.id as building, k, ST_X(c) as x, ST_Y(c) as y, ST_XMax(b.geom) - ST_XMin(b.geom) as w, ST_YMax(b.geom) - ST_YMin(b.geom) as h,
             ${draw(sql`b.id`, sql`k`, sql`1`)} as r1, ${draw(sql`b.id`, sql`k`, sql`2`)} as r2, ${draw(sql`b.id`, sql`k`, sql`3`)} as r3,
             ${draw(sql`b.id`, sql`k`, sql`4`)} as r4, ${draw(sql`b.id`, sql`k`, sql`5`)} as r5
      from buildings b cross join lateral ST_Centroid(b.geom) c
      cross join lateral generate_series(1, round(b.households * ${MEMBERS_PER_HOUSEHOLD}::float8 * (0.6 + 0.8 * ${draw(sql`b.id`)}))::int) k
      where b.community_id = ${communityId} and b.households > 0
    ) m order by m.building, m.k`.execute(db);
  const {
    rows: [members],
  } = await sql<{ n: number }>`select count(*)::int as n from members where community_id = ${communityId}`.execute(db);
  console.log(`redraw: ${mode}: ${count(members.n)} members added (${since(step)})`);
  step = performance.now();
  const issues = Math.round(ISSUES_PER_BUILDING * (await buildingsOf(db, communityId)));
  // the demo city's states (data/demo-city.ts): reported 15, accepted 10, in progress 15, escalated 8, resolved 7,
  // answered 8, rated 7, closed 25, rejected 5, reopened 2; reported over the last 120 days
  await sql`
    insert into issues (title, category, status, geom, wall, reported_at, resolved_at, closed_at, reopen_count)
    select '问题 ' || s.n, s.category, s.status, s.geom, case when s.status = 'escalated' then 'community' else 'grid' end, s.reported,
           case when s.status in ('resolved', 'answered', 'rated', 'closed') then s.reported + interval '2 days' end,
           case when s.status in ('closed', 'rejected') then s.reported + interval '4 days' end,
           case when s.status = 'reopened' then 1 else 0 end
    from (
      select n, geom, reported, category,
             case when r < 15 then 'reported' when r < 25 then 'accepted' when r < 40 then 'in_progress' when r < 48 then 'escalated'
                  when r < 55 then 'resolved' when r < 63 then 'answered' when r < 70 then 'rated' when r < 95 then 'closed'
                  when r < 100 then 'rejected' else 'reopened' end as status
      from (
        select d.path[1] as n, d.geom, now() - ${draw(sql`'issue'`, sql`d.path[1]`, sql`1`)} * interval '120 days' as reported,
               ${draw(sql`'issue'`, sql`d.path[1]`, sql`2`)} * 102 as r,
               (array['noise', 'parking', 'property', 'street_light', 'sanitation', 'safety', 'elder_care', 'other'])[1 + floor(${draw(sql`'issue'`, sql`d.path[1]`, sql`3`)} * 8)::int] as category
        from communities c, ST_Dump(ST_GeneratePoints(c.geom, ${issues}, 20261202)) d where c.id = ${communityId}
      ) drawn
    ) s order by s.n`.execute(db);
  console.log(`redraw: ${mode}: ${count(issues)} issues added (${since(step)})`);
  if (mode === 'embedded') {
    step = performance.now();
    await sql`vacuum (analyze)`.execute(db);
    console.log(`redraw: embedded: vacuum analyze (${since(step)})`);
  }
}

/** A number in [0, 1) drawn from its keys (a hash): the same on every run and engine, whatever order rows are read in. */
const draw = (...keys: RawBuilder<unknown>[]) =>
  sql<number>`((hashtext(concat_ws(':', ${sql.join(keys)})) & 2147483647)::float8 / 2147483648)`;

async function buildingsOf(db: Kysely<DB>, communityId: number) {
  const {
    rows: [{ n }],
  } = await sql<{ n: number }>`select count(*)::int as n from buildings where community_id = ${communityId}`.execute(db);
  return n;
}

/**
 * The three redrawn shapes: on each of the longest edges one grid shares with a neighbour (one edge per
 * grid), a vertex added at the middle and moved MOVE_M metres square to the edge into the neighbour; the
 * triangle it cuts must lie in the neighbour. With each, the edits the dry run writes (redrawPlan's exact
 * shapes), computed in a transaction that is rolled back.
 */
async function variants(database: Database, communityId: number): Promise<Variant[]> {
  const db = database.db;
  const { rows: edges } = await sql<{
    grid: number;
    code: string;
    neighbour: number;
    neighbour_code: string;
    segment: number;
    metres: number;
    ring: [number, number][];
  }>`
    with g as (select id, code, geom from grids where community_id = ${communityId}),
    segment as (
      select a.id as grid, a.code, b.id as neighbour, b.code as neighbour_code, s.path[1] as segment,
             ST_Length(s.geom::geography) as metres, (ST_AsGeoJSON(a.geom, 15)::json->'coordinates'->0)::text as ring
      from g a cross join lateral ST_DumpSegments(ST_ExteriorRing(a.geom)) s
      join g b on b.id <> a.id and b.geom && a.geom and ST_DWithin(ST_LineInterpolatePoint(s.geom, 0.5), ST_Boundary(b.geom), 1e-9))
    select distinct on (grid) grid, code, neighbour, neighbour_code, segment, metres, ring::json as ring
    from segment order by grid, metres desc`.execute(db);
  const picked: Variant[] = [];
  for (const edge of edges.sort((x, y) => y.metres - x.metres)) {
    if (picked.length === VARIANTS) break;
    if (picked.some((v) => v.grid === edge.grid || v.neighbour === edge.grid)) continue;
    const ring = edge.ring;
    const [a, b] = [ring[edge.segment - 1], ring[edge.segment]];
    const cos = Math.cos((((a[1] + b[1]) / 2) * Math.PI) / 180);
    // the edge in metres, its normal, and the middle moved either way: the side inside the neighbour wins
    const [dx, dy] = [(b[0] - a[0]) * cos * M_PER_DEGREE, (b[1] - a[1]) * M_PER_DEGREE];
    const length = Math.hypot(dx, dy);
    const mid = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
    const sides = [1, -1].map((sign) => [
      mid[0] + (sign * (-dy / length) * MOVE_M) / (cos * M_PER_DEGREE),
      mid[1] + (sign * (dx / length) * MOVE_M) / M_PER_DEGREE,
    ]);
    const triangles = sides.map((p) => `POLYGON((${a[0]} ${a[1]}, ${p[0]} ${p[1]}, ${b[0]} ${b[1]}, ${a[0]} ${a[1]}))`);
    const {
      rows: [side],
    } = await sql<{ k: number; inside: number }>`
      select (s.k - 1)::int as k, ST_Area(ST_Intersection(n.geom, t)) / ST_Area(t) as inside
      from grids n, json_array_elements_text(${JSON.stringify(triangles)}::json) with ordinality as s(wkt, k)
      cross join lateral ST_GeomFromText(s.wkt, 4326) as t
      where n.id = ${edge.neighbour} order by 2 desc limit 1`.execute(db);
    // the triangle must be the neighbour's (not reach a third grid or out of the community)
    if (!side || !(side.inside > 0.999)) continue;
    const moved = sides[side.k];
    const geometry = { type: 'Polygon', coordinates: [[...ring.slice(0, edge.segment), moved, ...ring.slice(edge.segment)]] };
    const edits = await planned(database, edge.grid, geometry);
    picked.push({
      grid: edge.grid,
      code: edge.code,
      neighbour: edge.neighbour,
      neighbourCode: edge.neighbour_code,
      edgeM: edge.metres,
      body: JSON.stringify({ geometry, dryRun: true, adjustNeighbours: true }),
      edits,
    });
  }
  if (picked.length < VARIANTS)
    throw new Error(`only ${picked.length} shared edges fit a ${MOVE_M} m move; try more --buildings or fewer --count`);
  return picked;
}

class Rollback {}

/** What the redraw writes: drawnShape and redrawPlan as the route runs them, in a transaction rolled back. */
async function planned(database: Database, id: number, geometry: unknown) {
  let edits: { id: number; geom: string }[] = [];
  await database.db
    .transaction()
    .execute(async (trx) => {
      const grid = await gridRow(trx, id);
      const hex = await drawnShape(trx, geometry, 'geometry', { communityId: grid.community_id, except: [grid.id] });
      const plan = await redrawPlan(trx, grid, hex, true);
      if (plan.refusals?.length)
        throw new Error(`redrawing grid ${grid.code} is refused: ${plan.refusals.map((r) => r.detail).join('; ')}`);
      edits = plan.edits.map((e) => ({ id: e.id!, geom: e.geom! }));
      throw new Rollback();
    })
    .catch((e) => {
      if (!(e instanceof Rollback)) throw e;
    });
  return edits;
}

/** Floor 1: the very write of the dry run with its triggers, rolled back. */
async function write(db: Kysely<DB>, v: Variant) {
  await db
    .transaction()
    .execute(async (trx) => {
      await sql`update grids g set geom = ST_GeomFromWKB(decode(e.geom, 'hex'), 4326)
      from json_to_recordset(${JSON.stringify(v.edits)}::json) as e(id int, geom text) where g.id = e.id`.execute(trx);
      throw new Rollback();
    })
    .catch((e) => {
      if (!(e instanceof Rollback)) throw e;
    });
}

/** Floor 2: the buildings whose point changes grid under the new shapes (in the area that changes hands). */
function read(db: Kysely<DB>, v: Variant) {
  return sql<{ id: number; from: number | null; to: number | null }>`
    with e as materialized (select e.id, ST_GeomFromWKB(decode(e.geom, 'hex'), 4326) as geom from json_to_recordset(${JSON.stringify(v.edits)}::json) as e(id int, geom text)),
    changed as materialized (select ST_Union(ST_SymDifference(g.geom, e.geom)) as geom from grids g join e on e.id = g.id),
    placed as (select b.id, b.grid_id, (select e.id from e where ST_Intersects(e.geom, p) order by e.id limit 1) as to
               from changed, buildings b cross join lateral ST_PointOnSurface(b.geom) p
               where b.geom && changed.geom and ST_Intersects(changed.geom, p))
    select id, grid_id as from, "to" from placed where grid_id is distinct from "to" order by id`.execute(db);
}

async function measure(mode: string, database: Database, requests: number, warmup: number): Promise<Result> {
  const db = database.db;
  const {
    rows: [stats],
  } = await sql<Result['stats'] & { id: number }>`
    select c.id, (select count(*)::int from buildings where community_id = c.id) as buildings,
           (select coalesce(sum(households), 0)::int from buildings where community_id = c.id) as households,
           (select count(*)::int from members where community_id = c.id) as members,
           (select count(*)::int from issues where community_id = c.id) as issues,
           (select count(*)::int from issues where community_id = c.id and status in ('reported', 'accepted', 'in_progress', 'escalated', 'reopened')) as open,
           (select count(*)::int from grids where community_id = c.id) as grids
    from communities c where c.code = ${CODE}`.execute(db);
  console.log(
    `redraw: ${mode}: community ${CODE}: ${count(stats.buildings)} buildings, ${count(stats.households)} households, ` +
      `${count(stats.members)} members, ${count(stats.issues)} issues (${count(stats.open)} open), ${stats.grids} grids`,
  );
  const shapes = await variants(database, stats.id);
  const {
    rows: [before],
  } = await sql<{ state: string }>`
    select md5(string_agg(id || ':' || version || ':' || md5(ST_AsEWKB(geom)::text), ',' order by id)) as state from grids`.execute(db);

  const server: Server = await new Promise((resolve) => {
    const s = createApp({ database, config: loadConfig({}), logger: pino({ level: 'silent' }) }).listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const [admin] = await findUsers(db, { username: 'admin' });
    const { token } = await openSession(db, admin.id, { hours: 2 });
    const post = async (v: Variant) => {
      const t0 = performance.now();
      const res = await fetch(`${base}/api/v1/grids/${v.grid}/redraw`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: v.body,
      });
      const text = await res.text();
      const elapsed = performance.now() - t0;
      if (res.status !== 200) throw new Error(`redraw of grid ${v.code}: HTTP ${res.status}: ${text.slice(0, 300)}`);
      return { elapsed, report: JSON.parse(text) as ImpactReport, bytes: text.length };
    };

    // the answers checked once: saveable, and moving exactly the buildings the floor finds
    const moves: Moves[] = [];
    for (const v of shapes) {
      const { report, bytes } = await post(v);
      if (!report.saveable) throw new Error(`redraw of grid ${v.code} would be refused: ${JSON.stringify(report.refusals)}`);
      const { rows: found } = await read(db, v);
      const reported = report.moved.buildings.map((b) => `${b.id}:${b.from}:${b.to}`).join(',');
      if (found.map((b) => `${b.id}:${b.from}:${b.to}`).join(',') !== reported) {
        throw new Error(
          `grid ${v.code}: the floor found ${found.length} buildings changing grid, the dry run ${report.moved.buildings.length}`,
        );
      }
      const {
        rows: [moved],
      } = await sql<{ households: number }>`
        select coalesce(sum(households), 0)::int as households from buildings where id = any(${report.moved.buildings.map((b) => b.id)})`.execute(
        db,
      );
      moves.push({
        buildings: found.length,
        households: moved.households,
        members: report.moved.members.length,
        issues: report.moved.issues.length,
        grids: report.grids.length,
        bytes,
      });
      console.log(
        `redraw: ${mode}: grid ${v.code} → ${v.neighbourCode} (edge ${Math.round(v.edgeM)} m): ${found.length} buildings ` +
          `(${count(moved.households)} households), ${report.moved.members.length} members, ${report.moved.issues.length} open issues move; ${count(bytes)} bytes`,
      );
    }

    const samples: Sample[] = [];
    const total = (warmup + Math.ceil(requests / shapes.length)) * shapes.length;
    console.log(`redraw: ${mode}: ${warmup * shapes.length} warm-up + ${requests} dry runs, each followed by both floors…`);
    const timing = performance.now();
    for (let r = 0; r < total && samples.length < requests; r++) {
      const v = shapes[r % shapes.length];
      const { elapsed: http } = await post(v);
      const [w] = await timed(() => write(db, v));
      const [rd] = await timed(() => read(db, v));
      if (r >= warmup * shapes.length) samples.push({ http, write: w, read: rd });
      if ((r + 1) % 10 === 0) console.log(`  … ${r + 1}/${warmup * shapes.length + requests} (${since(timing)})`);
    }
    const {
      rows: [after],
    } = await sql<{ state: string }>`
      select md5(string_agg(id || ':' || version || ':' || md5(ST_AsEWKB(geom)::text), ',' order by id)) as state from grids`.execute(db);
    if (after.state !== before.state) throw new Error('the grids changed: a dry run or a floor was not rolled back');
    return { mode, requests, samples, variants: shapes, moves, stats };
  } finally {
    await new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    });
  }
}

/** Nearest rank. */
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
};

function print(results: Result[]) {
  const header = ['database', 'dry run p50', 'p95', 'write + relink, rolled back p50', 'ratio', 'read moved buildings p50', 'ratio'];
  const rows = results.map((r) => {
    const http = r.samples.map((s) => s.http);
    const writes = median(r.samples.map((s) => s.write));
    const reads = median(r.samples.map((s) => s.read));
    return [
      r.mode,
      ms(median(http)),
      ms(percentile(http, 0.95)),
      ms(writes),
      `${(median(http) / writes).toFixed(1)}×`,
      ms(reads),
      `${(median(http) / reads).toFixed(0)}×`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const first = results[0];
  console.log(
    `\nPOST /api/v1/grids/:id/redraw {dryRun: true, adjustNeighbours: true} as the admin, one client, ${first.requests} requests ` +
      `over ${first.variants.length} shapes in turn (after warm-up), each followed by the floors`,
  );
  for (const row of [header, ...rows])
    console.log(row.map((cell, i) => (i ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  '));
  console.log('write: BEGIN; the same UPDATE of the two grids with its triggers; ROLLBACK. read: one SELECT of the buildings whose point');
  console.log('changes grid. ratio: dry run p50 / floor p50.');
  for (const r of results) {
    console.log(
      `\n${r.mode}: ${count(r.stats.buildings)} buildings, ${count(r.stats.households)} households, ${count(r.stats.members)} members, ` +
        `${count(r.stats.issues)} issues (${count(r.stats.open)} open), ${r.stats.grids} grids`,
    );
    r.variants.forEach((v, k) => {
      const m = r.moves[k];
      const mine = r.samples.filter((_, i) => i % r.variants.length === k);
      console.log(
        `  grid ${v.code} → ${v.neighbourCode}, edge ${Math.round(v.edgeM)} m: moves ${m.buildings} buildings (${count(m.households)} households), ` +
          `${m.members} members, ${m.issues} open issues; ${m.grids} grids in the report, ${count(m.bytes)} bytes; ` +
          `dry run p50 ${ms(median(mine.map((s) => s.http)))}, write ${ms(median(mine.map((s) => s.write)))}, read ${ms(median(mine.map((s) => s.read)))}`,
      );
    });
  }
}
