import { sql, type RawBuilder, type Transaction } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { DomainError } from '../../domain/errors.ts';
import { MIN_GRID_AREA_M2, PLANNING_GRID, refusal, type ChangePlan, type Edit, type Refusal } from './change.ts';

/**
 * The boundaries a planning change proposes, computed by PostGIS: a drawn shape snapped to its neighbours,
 * the neighbours' shared edges moved, a grid split along a line, grids merged, a new grid carved out, each
 * on the planning grid (PLANNING_GRID, sql/020). Every shape travels as hex WKB, so what is measured in a
 * dry run is byte for byte what is saved.
 */

/** Snapping reach for a drawn shape: half a metre, in degrees; hand-drawn shared edges then coincide. */
const SNAP_DEGREES = 5e-6;

const shape = (hex: string) => sql`ST_GeomFromWKB(decode(${hex}, 'hex'), 4326)`;

export interface GridRow {
  id: number;
  community_id: number;
  code: string;
  name: string;
  version: number;
}

export async function gridRow(trx: Transaction<DB>, id: number, field = 'id'): Promise<GridRow> {
  const {
    rows: [row],
  } = await sql<GridRow>`select id, community_id, code, name, version from grids where id = ${id}`.execute(trx);
  if (!row) throw new DomainError('grid.not_found', `No grid ${id}`, { field }, { id });
  return row;
}

/**
 * A drawn GeoJSON polygon as Gridmap stores it (hex WKB); 422 naming `field` when it cannot be a grid's
 * boundary (boundary_refusal: invalid, invalid to the 7 decimals it is published to, or an edge PostGIS cannot
 * measure). With `snapTo`, its vertices and edges within half a metre of the community's other grids or its
 * outline are snapped onto them, then onto the planning grid (kept unsnapped if that would make it invalid).
 */
export async function drawnShape(
  trx: Transaction<DB>,
  geometry: unknown,
  field: string,
  snapTo?: { communityId: number; except: number[] },
) {
  const reference = snapTo
    ? sql`(select ST_Collect(geom) from (select geom from grids where community_id = ${snapTo.communityId} and id <> all(${snapTo.except})
           union all select geom from communities where id = ${snapTo.communityId}) r)`
    : sql`null::geometry`;
  const {
    rows: [drawn],
  } = await sql<{ reason: string | null; hex: string }>`
    select reason, encode(ST_AsBinary(case when GeometryType(s) = 'POLYGON' and boundary_refusal(s) is null then ST_ForcePolygonCCW(s) else g end), 'hex') as hex
    from normalized_geometry(${JSON.stringify(geometry)}) as g
    cross join lateral boundary_refusal(g) as reason
    -- nothing more is computed of a shape refused
    cross join lateral (select case when reason is null then publishable_boundary(coalesce(ST_Snap(g, ${reference}, ${SNAP_DEGREES}), g)) end as s) snapped`.execute(
    trx,
  );
  if (drawn.reason) throw new DomainError('geometry.invalid', `${field}: ${drawn.reason}`, { field });
  return drawn.hex;
}

interface Parts {
  id: number | null;
  code: string | null;
  parts: { hex: string; area_m2: number }[];
}

/** Tidied parts (grid_parts, sql/012 and sql/020) of each computed shape, by grid; a grid left with no area has none. */
async function partsOf(trx: Transaction<DB>, shapes: RawBuilder<unknown>): Promise<Parts[]> {
  const { rows } = await sql<Parts>`
    select s.id, g.code, coalesce(json_agg(json_build_object('hex', encode(ST_AsBinary(p.part), 'hex'), 'area_m2', p.area_m2)
                             order by p.area_m2 desc) filter (where p.part is not null), '[]') as parts
    from (${shapes}) s left join grids g on g.id = s.id
    left join lateral grid_parts(s.geom) p on true
    group by s.id, g.code order by s.id`.execute(trx);
  return rows;
}

/** A shape that must stay one polygon: its largest part (null when nothing is left), and why the others would be refused. */
function onePart({ id, code, parts }: Parts, refusals: Refusal[]): string | null {
  const which = code ? `grid ${code}` : 'the new grid';
  if (parts.length === 0) return null;
  for (const extra of parts.slice(1)) {
    refusals.push(
      extra.area_m2 < MIN_GRID_AREA_M2
        ? refusal('planning.sliver', `${which} would keep a sliver of ${extra.area_m2.toFixed(1)} m² apart from its main part`, {
            field: 'geometry',
            grid: id,
            area_m2: extra.area_m2,
            whole: false,
          })
        : refusal('planning.grid_falls_apart', `${which} would fall into ${parts.length} separate parts`, {
            field: 'geometry',
            grid: id,
            area_m2: extra.area_m2,
            parts: parts.length,
          }),
    );
  }
  return parts[0].hex;
}

/**
 * Edits for computed neighbour shapes, each kept to one part (the rest refused); a neighbour covered
 * entirely is removed, its buildings and grid worker going to the grid that took its area (the report shows it).
 */
const neighbourEdits = (shapes: Parts[], refusals: Refusal[]): Edit[] => shapes.map((s) => ({ id: s.id!, geom: onePart(s, refusals) }));

/**
 * Grid `grid` gets `hex`. With `adjustNeighbours`, the community's other grids lose what the new shape
 * takes from them, and each part of the area it gives up goes to the neighbour sharing the longest edge with
 * it (a part touching no grid stays uncovered, and is reported).
 */
export async function redrawPlan(trx: Transaction<DB>, grid: GridRow, hex: string, adjustNeighbours: boolean): Promise<ChangePlan> {
  const edits: Edit[] = [{ id: grid.id, geom: hex }];
  const refusals: Refusal[] = [];
  if (!adjustNeighbours) return { edits, refusals };
  const shapes = await partsOf(
    trx,
    sql`
    with drawn as (select ${shape(hex)} as g),
    siblings as (select id, geom from grids where community_id = ${grid.community_id} and id <> ${grid.id}),
    given_up as (select d.k, d.geom as part from grids o, drawn,
                 ST_Dump(ST_CollectionExtract(ST_Difference(o.geom, drawn.g, ${PLANNING_GRID}), 3)) with ordinality as d(path, geom, k) where o.id = ${grid.id}),
    shared as (select p.k, s.id, ST_Length(ST_Intersection(ST_Boundary(p.part), ST_Boundary(s.geom), ${PLANNING_GRID})::geography) as metres
               from given_up p join siblings s on s.geom && ST_Expand(p.part, 1e-6)),
    taker as (select distinct on (k) k, id from shared where metres > 0.5 order by k, metres desc, id)
    select s.id, ST_UnaryUnion(ST_Collect(ST_Difference(s.geom, drawn.g, ${PLANNING_GRID}),
             coalesce((select ST_Collect(p.part) from given_up p join taker t using (k) where t.id = s.id), 'SRID=4326;GEOMETRYCOLLECTION EMPTY'::geometry)), ${PLANNING_GRID}) as geom
    from siblings s, drawn
    where ST_Relate(s.geom, drawn.g, '2********') or s.id in (select id from taker)`,
  );
  edits.push(...neighbourEdits(shapes, refusals));
  return { edits, refusals };
}

/** A new grid drawn in a community (or a removed one restored): the grids it covers lose that area. */
export async function carvePlan(trx: Transaction<DB>, communityId: number, grid: Edit & { geom: string }): Promise<ChangePlan> {
  const refusals: Refusal[] = [];
  const shapes = await partsOf(
    trx,
    sql`
    select s.id, ST_Difference(s.geom, ${shape(grid.geom)}, ${PLANNING_GRID}) as geom from grids s
    where s.community_id = ${communityId} and ST_Relate(s.geom, ${shape(grid.geom)}, '2********')`,
  );
  return { edits: [grid, ...neighbourEdits(shapes, refusals)], refusals };
}

/** A grid cut along a line: the largest piece keeps the grid, the others become new grids. */
export async function splitPlan(trx: Transaction<DB>, grid: GridRow, line: unknown, name?: string): Promise<ChangePlan> {
  const [cut] = await partsOf(
    trx,
    sql`
    select g.id, ST_Split(g.geom, ST_SetSRID(ST_GeomFromGeoJSON(${JSON.stringify(line)}), 4326)) as geom from grids g where g.id = ${grid.id}`,
  );
  if (cut.parts.length < 2) {
    throw new DomainError('planning.line_does_not_cut', `the line must cross grid ${grid.code} from one side to the other`, {
      field: 'line',
      grid: grid.id,
    });
  }
  const [kept, ...pieces] = cut.parts;
  return { edits: [{ id: grid.id, geom: kept.hex }, ...pieces.map((p, k) => ({ geom: p.hex, name: k === 0 ? name : undefined }))] };
}

/** Adjacent grids of one community made one: the first keeps its id, the others are removed. */
export async function mergePlan(trx: Transaction<DB>, ids: number[], name?: string): Promise<{ plan: ChangePlan; communityId: number }> {
  const found = await Promise.all(ids.map((id, k) => gridRow(trx, id, `grids[${k}].id`)));
  const strange = found.findIndex((g) => g.community_id !== found[0].community_id);
  if (strange >= 0) {
    throw new DomainError(
      'planning.grids_of_different_communities',
      `grid ${found[strange].code} is not in the community of grid ${found[0].code}`,
      { field: `grids[${strange}].id`, grids: [found[0].id, found[strange].id] },
    );
  }
  const [union] = await partsOf(
    trx,
    sql`select ${ids[0]}::int as id, ST_UnaryUnion(ST_Collect(geom), ${PLANNING_GRID}) as geom from grids where id = any(${ids})`,
  );
  if (union.parts.length !== 1) {
    throw new DomainError(
      'grid.not_adjacent',
      `grids ${found.map((g) => g.code).join(', ')} do not make one area: each must share a boundary with another`,
      { field: 'grids', grids: ids },
    );
  }
  const edits: Edit[] = [{ id: ids[0], geom: union.parts[0].hex, name }, ...ids.slice(1).map((id) => ({ id, geom: null }))];
  return { plan: { edits }, communityId: found[0].community_id };
}

/** The boundary grid `grid` had at `version` (hex WKB), for a revert. */
export async function versionShape(trx: Transaction<DB>, grid: { id: number; code: string }, version: number) {
  const {
    rows: [found],
  } = await sql<{ hex: string }>`
    select encode(ST_AsBinary(geom_after), 'hex') as hex from grid_versions
    where grid_id = ${grid.id} and version = ${version} and geom_after is not null order by id desc limit 1`.execute(trx);
  if (!found)
    throw new DomainError('planning.unknown_version', `grid ${grid.code} has no saved boundary at version ${version}: see its history`, {
      field: 'version',
      grid: grid.id,
      version,
    });
  return found.hex;
}
