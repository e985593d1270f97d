/**
 * Suggested grids (issue 5): a community cut into `count` contiguous, compact grids holding households as
 * evenly as the buildings allow, by recursive shortest-splitline bisection. A region that is to hold k grids
 * is cut in two by a straight line so that one side holds about ⌊k/2⌋/k of its households; of the lines tried
 * (DIRECTIONS directions, each at its best-balanced position between two buildings) the shortest that leaves
 * each side in one piece wins, among those balanced within BALANCE_SLACK of the best. Each side is cut again
 * until every region holds one grid. PostGIS does every cut (ST_Split), so neighbouring grids share the
 * cut's vertices and the grids tile the community; JavaScript only sorts buildings along each direction.
 *
 * A building's households lie where Gridmap links the building to a grid: ST_PointOnSurface of its footprint
 * (sql/003_links.sql); only buildings linked to the community count. A cut passes midway between two such
 * points, never through one, so each building falls in exactly one grid.
 */
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';

export interface SuggestedPart {
  /** GeoJSON Polygon, 15 decimals (the stored doubles), outer ring counter-clockwise */
  geometry: string;
  households: number;
  buildings: number;
}

/** Directions tried at each cut, evenly over a half turn (12 to 36 on the demo city changed little). */
const DIRECTIONS = 16;
/**
 * A cut may leave up to this share of one grid's households more off balance than the best-balanced cut, to
 * be shorter. On the demo city (counts 2–12) 3 % keeps every grid within about 5 % of the mean, where the
 * shortest cut regardless of balance strays up to 20 %, and the best balance alone draws slivers.
 */
const BALANCE_SLACK = 0.03;
/** How far a neighbour's vertex may lie from a grid's edge and still be added to it (degrees: about 0.01 mm). */
const SNAP_DEGREES = 1e-10;
/** Buildings closer than this along a direction (degrees of latitude, about a millimetre) are not cut apart. */
const MIN_GAP = 1e-8;

/** Where a building's households are: the point on its footprint Gridmap links by. */
interface Home {
  lon: number;
  lat: number;
  households: number;
}

/** Part of the community still to be cut into `grids` grids: its polygon (hex EWKB, exact) and its homes. */
interface Region {
  geometry: string;
  grids: number;
  homes: Home[];
}

/**
 * A local metric frame for the community: x = lon·cos(latitude), y = lat, in which directions and distances
 * are true to within the community's extent; `centre` and `reach` (its diagonal) place cut lines so that
 * they cross any region of it from side to side.
 */
interface Frame {
  cos: number;
  centre: [number, number];
  reach: number;
}

/**
 * A straight cut: the line (lon/lat ends) across `direction` at `at`; the region's homes in order along the
 * direction, the first `below` of them on its low side.
 */
interface Line {
  id: number;
  ends: [number, number, number, number];
  direction: [number, number];
  at: number;
  lowGrids: number;
  imbalance: number;
  order: Uint32Array;
  below: number;
}

/** A way to cut a region in two contiguous parts, scored by balance and the cut's length on the ground. */
interface Candidate {
  imbalance: number;
  lengthM: number;
}

const householdsOf = (homes: Home[]) => homes.reduce((sum, h) => sum + h.households, 0);
const inhabitedOf = (homes: Home[]) => homes.filter((h) => h.households > 0).length;
/** The grids one side of a cut may take: half, or either near-half when they do not halve. */
const sideGrids = (grids: number) => [...new Set([Math.floor(grids / 2), Math.ceil(grids / 2)])];

/**
 * `count` grids tiling community `communityId`, in the order the cuts made them (neighbours follow each other).
 * `onProgress` hears after each of the count − 1 cuts. Refused: a count that is not a whole number from 1
 * (400, field count); an unknown community (404); a community of several separate areas (422, field
 * community: each grid is one polygon); more grids than buildings with households (422, field count, with the
 * most it can make), so a community without households gets one grid, itself.
 */
export async function suggestPartition(
  db: Kysely<DB>,
  communityId: number,
  count: number,
  onProgress?: (done: number, total: number) => void,
): Promise<SuggestedPart[]> {
  if (!Number.isInteger(count) || count < 1) throw invalidParameter('count', 'count must be a whole number of grids, at least 1');
  const {
    rows: [community],
  } = await sql<{ parts: number; polygon: string; x0: number; y0: number; x1: number; y1: number }>`
    select ST_NumGeometries(geom) as parts, encode(ST_AsEWKB(ST_GeometryN(geom, 1)), 'hex') as polygon,
           ST_XMin(geom) as x0, ST_YMin(geom) as y0, ST_XMax(geom) as x1, ST_YMax(geom) as y1
    from communities where id = ${communityId}`.execute(db);
  if (!community) throw new DomainError('community.not_found', `No community ${communityId}`, { field: 'id' }, { id: communityId });
  if (community.parts !== 1) {
    throw new DomainError(
      'planning.community_in_several_parts',
      `community ${communityId} is ${community.parts} separate areas: a grid is one polygon, so draw its grids by hand`,
      { field: 'community', parts: community.parts },
    );
  }
  const { rows: homes } = await sql<Home>`
    select ST_X(p) as lon, ST_Y(p) as lat, households
    from (select id, households, ST_PointOnSurface(geom) as p from buildings where community_id = ${communityId}) b
    order by id`.execute(db);
  // Every grid needs households of its own to balance; a single grid is the community as it is.
  const inhabited = inhabitedOf(homes);
  if (count > Math.max(1, inhabited)) {
    throw new DomainError(
      'planning.too_many_grids',
      `community ${communityId} has ${inhabited} buildings with households: it cannot make ${count} grids that each hold some`,
      { field: 'count', most: Math.max(1, inhabited) },
    );
  }

  const cos = Math.cos((((community.y0 + community.y1) / 2) * Math.PI) / 180);
  const frame: Frame = {
    cos,
    centre: [((community.x0 + community.x1) / 2) * cos, (community.y0 + community.y1) / 2],
    reach: Math.hypot((community.x1 - community.x0) * cos, community.y1 - community.y0),
  };
  const grids: string[] = [];
  const regions: Region[] = [{ geometry: community.polygon, grids: count, homes }];
  let done = 0;
  while (regions.length) {
    const region = regions.pop()!;
    if (region.grids === 1) {
      grids.push(region.geometry);
      continue;
    }
    const lines = balancedLines(region, frame);
    if (!lines.length) {
      throw new DomainError(
        'planning.too_many_grids',
        `community ${communityId}: some buildings with households stand too close together to make ${count} grids`,
        { field: 'count' },
      );
    }
    const [low, high] = (await cutStraight(db, region, lines, frame)) ?? (await cutAlongChord(db, region, lines));
    regions.push(high, low);
    onProgress?.(++done, count - 1);
  }
  return tally(db, communityId, grids);
}

/**
 * For each direction (and, when the grids do not halve, each way round), the line across it between two
 * consecutive homes where the households below come closest to the low side's share, leaving each side at
 * least as many inhabited buildings as grids.
 */
function balancedLines(region: Region, frame: Frame): Line[] {
  const { homes } = region;
  const total = householdsOf(homes);
  const inhabited = inhabitedOf(homes);
  const along = new Float64Array(homes.length);
  const lines: Line[] = [];
  for (let d = 0; d < DIRECTIONS; d++) {
    const angle = (d * Math.PI) / DIRECTIONS;
    const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
    homes.forEach((home, i) => {
      along[i] = home.lon * frame.cos * dx + home.lat * dy;
    });
    const order = new Uint32Array(homes.length).map((_, i) => i).sort((a, b) => along[a] - along[b]);
    for (const lowGrids of sideGrids(region.grids)) {
      const target = (total * lowGrids) / region.grids;
      let households = 0;
      let inhabitedBelow = 0;
      let best: { below: number; imbalance: number; gap: number } | undefined;
      for (let k = 0; k < order.length - 1; k++) {
        const home = homes[order[k]];
        households += home.households;
        if (home.households > 0) inhabitedBelow++;
        const gap = along[order[k + 1]] - along[order[k]];
        if (gap < MIN_GAP || inhabitedBelow < lowGrids || inhabited - inhabitedBelow < region.grids - lowGrids) continue;
        const imbalance = Math.abs(households - target);
        // of equally balanced places (buildings without households between), the widest gap between buildings
        if (!best || imbalance < best.imbalance || (imbalance === best.imbalance && gap > best.gap))
          best = { below: k + 1, imbalance, gap };
      }
      if (!best) continue;
      const at = (along[order[best.below - 1]] + along[order[best.below]]) / 2;
      // the line's foot nearest the community's centre, then `reach` either way across the direction
      const shift = at - (frame.centre[0] * dx + frame.centre[1] * dy);
      const [fx, fy] = [frame.centre[0] + shift * dx, frame.centre[1] + shift * dy];
      lines.push({
        id: lines.length,
        ends: [(fx - frame.reach * dy) / frame.cos, fy + frame.reach * dx, (fx + frame.reach * dy) / frame.cos, fy - frame.reach * dx],
        direction: [dx, dy],
        at,
        lowGrids,
        imbalance: best.imbalance,
        order,
        below: best.below,
      });
    }
  }
  return lines;
}

/** The lines as rows PostGIS reads: `cut(id, dx, dy, at, line)` in the statements below. */
const cutRows = (lines: Line[]) => sql`(
  select c.id, c.dx, c.dy, c.at, ST_SetSRID(ST_MakeLine(ST_MakePoint(c.x1, c.y1), ST_MakePoint(c.x2, c.y2)), 4326) as line
  from json_to_recordset(${JSON.stringify(lines.map(({ id, ends: [x1, y1, x2, y2], direction: [dx, dy], at }) => ({ id, x1, y1, x2, y2, dx, dy, at })))}::json)
    as c(id int, x1 float8, y1 float8, x2 float8, y2 float8, dx float8, dy float8, at float8))`;

/** Of the candidates balanced within the slack of the best, the shortest cut. */
function choose<C extends Candidate>(candidates: C[], region: Region): C | undefined {
  const total = householdsOf(region.homes);
  const best = Math.min(...candidates.map((c) => c.imbalance));
  return candidates.filter((c) => c.imbalance <= best + (BALANCE_SLACK * total) / region.grids).sort((a, b) => a.lengthM - b.lengthM)[0];
}

/**
 * Every line in one statement: the region split by it, kept when that makes two pieces, one on each side (a
 * line crossing a concave region twice makes three or more), with the cut's length on the spheroid.
 */
async function cutStraight(db: Kysely<DB>, region: Region, lines: Line[], frame: Frame): Promise<[Region, Region] | undefined> {
  const polygon = sql`${region.geometry}::geometry`;
  const below = (piece: string) =>
    sql`ST_X(ST_PointOnSurface(${sql.ref(piece)})) * ${frame.cos} * dx + ST_Y(ST_PointOnSurface(${sql.ref(piece)})) * dy < at`;
  const { rows } = await sql<{ id: number; length_m: number; low: string; high: string }>`
    with cut as ${cutRows(lines)},
    split as materialized (select id, dx, dy, at, line, ST_Split(${polygon}, line) as pieces from cut),
    two as (select id, dx, dy, at, line, ST_GeometryN(pieces, 1) as a, ST_GeometryN(pieces, 2) as b from split where ST_NumGeometries(pieces) = 2),
    sided as (select id, line, a, b, ${below('a')} as a_low, ${below('b')} as b_low from two)
    select id, ST_Length(ST_Intersection(${polygon}, line)::geography) as length_m,
           encode(ST_AsEWKB(case when a_low then a else b end), 'hex') as low,
           encode(ST_AsEWKB(case when a_low then b else a end), 'hex') as high
    from sided where a_low <> b_low`.execute(db);
  const chosen = choose(
    rows.map((r) => ({ ...r, imbalance: lines[r.id].imbalance, lengthM: r.length_m })),
    region,
  );
  if (!chosen) return undefined;
  const line = lines[chosen.id];
  const homesOf = (order: Uint32Array) => Array.from(order, (i) => region.homes[i]);
  return [
    { geometry: chosen.low, grids: line.lowGrids, homes: homesOf(line.order.subarray(0, line.below)) },
    { geometry: chosen.high, grids: region.grids - line.lowGrids, homes: homesOf(line.order.subarray(line.below)) },
  ];
}

/**
 * When every line leaves a side in several pieces (a C-shaped region, say): the pieces of each line, joined
 * where they share an edge (a chord of the line), form a graph; a chord whose removal disconnects it cuts the
 * region in two contiguous parts, each the union of its pieces. PostGIS places the homes in the pieces; the
 * chord is chosen as lines are, its households now those of the parts it makes.
 */
async function cutAlongChord(db: Kysely<DB>, region: Region, lines: Line[]): Promise<[Region, Region]> {
  const { rows: pieces } = await sql<{
    line: number;
    piece: number;
    geometry: string;
    homes: number[];
    edges: { piece: number; length_m: number }[];
  }>`
    with cut as ${cutRows(lines)},
    piece as materialized (
      select cut.id as line, d.path[1] as piece, d.geom from cut, ST_Dump(ST_Split(${region.geometry}::geometry, cut.line)) d),
    home as materialized (
      select h.i, ST_SetSRID(ST_MakePoint(h.lon, h.lat), 4326) as p
      from json_to_recordset(${JSON.stringify(region.homes.map(({ lon, lat }, i) => ({ i, lon, lat })))}::json) as h(i int, lon float8, lat float8))
    select p.line, p.piece, encode(ST_AsEWKB(p.geom), 'hex') as geometry,
           (select coalesce(json_agg(h.i), '[]') from home h where ST_Intersects(p.geom, h.p)) as homes,
           (select coalesce(json_agg(json_build_object('piece', q.piece, 'length_m', ST_Length(ST_Intersection(p.geom, q.geom)::geography))), '[]')
            from piece q where q.line = p.line and q.piece <> p.piece and ST_Relate(p.geom, q.geom, '****1****')) as edges
    from piece p order by p.line, p.piece`.execute(db);

  const candidates: (Candidate & { side: Set<number>; line: number; grids: number })[] = [];
  for (const line of lines) {
    const ofLine = pieces.filter((p) => p.line === line.id);
    const graph = new Map(ofLine.map((p) => [p.piece, p.edges.map((e) => e.piece)]));
    for (const from of ofLine) {
      for (const edge of from.edges) {
        if (edge.piece < from.piece) continue; // each chord once
        const side = sideOf(graph, from.piece, edge.piece);
        if (!side) continue;
        const homes = ofLine.filter((p) => side.has(p.piece)).flatMap((p) => p.homes.map((i) => region.homes[i]));
        for (const { grids, imbalance } of shares(region, homes))
          candidates.push({ imbalance, lengthM: edge.length_m, side, line: line.id, grids });
      }
    }
  }
  const chosen = choose(candidates, region);
  if (!chosen) {
    throw new DomainError(
      'planning.community_cannot_be_cut',
      'no straight cut divides this community into contiguous grids: draw them by hand',
      { field: 'community' },
    );
  }
  const ofLine = pieces.filter((p) => p.line === chosen.line);
  const part = (inSide: boolean) => ofLine.filter((p) => chosen.side.has(p.piece) === inSide);
  const {
    rows: [side, rest],
  } = await sql<{ geometry: string; type: string }>`
    select encode(ST_AsEWKB(geom), 'hex') as geometry, GeometryType(geom) as type
    from (select part, ST_Union(g::geometry) as geom
          from json_to_recordset(${JSON.stringify([true, false].flatMap((inSide, k) => part(inSide).map((p) => ({ part: k, g: p.geometry }))))}::json)
            as p(part int, g text)
          group by part) u
    order by part`.execute(db);
  if (side.type !== 'POLYGON' || rest.type !== 'POLYGON') throw new Error(`a chord's parts joined into a ${side.type} and a ${rest.type}`);
  const homesOf = (inSide: boolean) => part(inSide).flatMap((p) => p.homes.map((i) => region.homes[i]));
  return [
    { geometry: side.geometry, grids: chosen.grids, homes: homesOf(true) },
    { geometry: rest.geometry, grids: region.grids - chosen.grids, homes: homesOf(false) },
  ];
}

/** The pieces reachable from `a` without crossing the chord between `a` and `b`; none when `b` is still reachable. */
function sideOf(graph: Map<number, number[]>, a: number, b: number): Set<number> | undefined {
  const side = new Set([a]);
  const queue = [a];
  while (queue.length) {
    const piece = queue.pop()!;
    for (const next of graph.get(piece)!) {
      if ((piece === a && next === b) || side.has(next)) continue;
      side.add(next);
      queue.push(next);
    }
  }
  return side.has(b) ? undefined : side;
}

/**
 * The grids a part holding `homes` of the region may take, each with how far its households stray from that
 * share; none when either part would hold fewer inhabited buildings than grids.
 */
function shares(region: Region, homes: Home[]): { grids: number; imbalance: number }[] {
  const total = householdsOf(region.homes);
  const households = householdsOf(homes);
  const inhabited = inhabitedOf(region.homes);
  const inhabitedHere = inhabitedOf(homes);
  return sideGrids(region.grids)
    .filter((grids) => inhabitedHere >= grids && inhabited - inhabitedHere >= region.grids - grids)
    .map((grids) => ({ grids, imbalance: Math.abs(households - (total * grids) / region.grids) }));
}

/**
 * Each grid as GeoJSON with the households and buildings whose point it holds, counted by PostGIS as links are.
 * A later cut adds a vertex to one side of an earlier cut's edge only; snapping each grid to its neighbours'
 * vertices (within a hundredth of a millimetre: they lie on the edge to the last bit) adds it to the other
 * side too, so neighbours share every vertex of their shared edges and their union leaves no slivers.
 */
async function tally(db: Kysely<DB>, communityId: number, grids: string[]): Promise<SuggestedPart[]> {
  const { rows } = await sql<SuggestedPart>`
    with grid as materialized (select i, g::geometry as geom from json_array_elements_text(${JSON.stringify(grids)}::json) with ordinality as p(g, i)),
    conformed as materialized (
      select grid.i, case when ST_IsValid(snapped) and GeometryType(snapped) = 'POLYGON' then snapped else grid.geom end as geom
      from grid cross join lateral (
        select coalesce(ST_Snap(grid.geom, ST_Collect(o.geom), ${SNAP_DEGREES}), grid.geom) as snapped
        from grid o where o.i <> grid.i and o.geom && ST_Expand(grid.geom, ${SNAP_DEGREES})) s),
    home as materialized (select households, ST_PointOnSurface(geom) as p from buildings where community_id = ${communityId})
    select ST_AsGeoJSON(ST_ForcePolygonCCW(g.geom), 15) as geometry, counts.households, counts.buildings
    from conformed g cross join lateral (
      select coalesce(sum(home.households), 0)::int as households, count(*)::int as buildings from home where ST_Intersects(g.geom, home.p)
    ) counts
    order by g.i`.execute(db);
  return rows;
}
