import { chineseNumeral } from '../../domain/chinese-numerals.ts';
import type { Geometry, Polygon } from 'geojson';
import { sql, type Transaction } from 'kysely';
import type { z } from 'zod';
import type { Database } from '../../db/database.ts';
import { lockMapWrites } from '../../db/feature-store.ts';
import type { DB } from '../../db/schema.ts';
import { seesAggregateOnly } from '../../access/policy.ts';
import { refuseOutsideScope, refuseRelinksOutsideScope, requireWritable } from '../../access/rows.ts';
import type { Viewer } from '../../access/viewer.ts';
import type { Actor } from '../../db/actor.ts';
import { DomainError, ERRORS, type ErrorCode } from '../../domain/errors.ts';
import { OPEN_STATUSES } from '../issues/resource.ts';
import { GRID_TOLERANCE_M2, grids } from '../grids/resource.ts';
import { CHANGE_KINDS, type impactReport } from './answers.ts';

/**
 * A planning change: new boundaries for some grids of one community (redrawn, split, merged, carved,
 * reverted, or a whole suggested plan), tried inside a transaction where the database's own triggers relink
 * every building, member and issue, measured, and then kept (a save) or rolled back (a dry run). The impact
 * a dry run reports is therefore exactly what saving would do: the same rules decide.
 */

/** A grid smaller than this (a 45 m square) is a drawing slip, not a grid: refused as a sliver. */
export const MIN_GRID_AREA_M2 = 2000;

/**
 * The grid planning computes and keeps boundaries on: the 7 decimals of a degree (about a centimetre) they are
 * published to (sql/020). Overlay on a fixed grid cannot fail, where in full precision it may along edges that
 * nearly coincide (and inside the embedded database a failure loses the statement's result without an error).
 */
export const PLANNING_GRID = sql.lit(1e-7);

/** The longest a statement of a planning change may run: the change holds every map write back meanwhile. */
const CHANGE_TIMEOUT_S = 20;

export type ChangeKind = (typeof CHANGE_KINDS)[number];

/**
 * One grid's new boundary (hex WKB, exact), or its removal (null); no id: a new grid; `restore`: a removed
 * grid put back under its own id and code.
 */
export interface Edit {
  id?: number;
  geom: string | null;
  name?: string;
  properties?: Record<string, unknown>;
  restore?: { code: string };
}

/** Who plans: the signed-in viewer, and the actor the audit log records. */
export interface Planner {
  viewer: Viewer;
  actor: Actor;
}

/** Why saving would be refused; a dry run lists them, a save answers the first as a 422. */
export interface Refusal {
  code: ErrorCode;
  title: string;
  detail: string;
  field: string;
  [more: string]: unknown;
}

/** A refusal in the words of its domain error: the code a client translates, and the title English readers had. */
export const refusal = (code: ErrorCode, detail: string, values: { field: string; [more: string]: unknown }): Refusal => ({
  code,
  title: ERRORS[code].title,
  detail,
  ...values,
});

export interface ChangePlan {
  edits: Edit[];
  refusals?: Refusal[];
}

/** A grid version the planner saw, and where in the request it was sent (If-Match, grids[2].version…). */
export interface SeenVersion {
  id: number;
  version: number;
  field: string;
}

export interface ChangeRequest {
  kind: ChangeKind;
  communityId: number;
  dryRun: boolean;
  note?: string;
  /** the versions the planner's change was made against: a newer one is a 412 */
  versions: SeenVersion[];
  /** the grids the request names (checked writable before any work, `idField` naming them), whose versions a save needs (sent in `field`) */
  required: { id: number; field: string; idField: string }[];
  build: (trx: Transaction<DB>) => Promise<ChangePlan>;
}

type Counts = NonNullable<ImpactReport['grids'][number]['before']>;

/** What a change does: the answer of every planning operation, saved or not. */
export type ImpactReport = z.output<typeof impactReport>;

interface GridState {
  id: number;
  code: string;
  name: string;
  version: number;
  area_m2: number;
  geometry: Polygon;
  households: number;
  residents: number;
  members: number;
  volunteers: number;
  open_issues: number;
}

/** Thrown inside the transaction to roll a dry run back with its report. */
class DryRun {
  constructor(readonly report: ImpactReport) {}
}

/**
 * The grids a change can move anything into or out of: those it edits, and any grid meeting their shapes
 * before or after (a row changes grid only where an edited boundary was and is not), in any community.
 */
async function nearGrids(trx: Transaction<DB>, edited: number[], shapes: string[]): Promise<number[]> {
  const { rows } = await sql<{ id: number }>`
    with near as (select ST_GeomFromWKB(decode(h, 'hex'), 4326) as s from unnest(${shapes}::text[]) h
                  union all select geom from grids where id = any(${edited}))
    select g.id from grids g where g.id = any(${edited})
       or exists (select from near where g.geom && near.s and ST_Intersects(g.geom, near.s))`.execute(trx);
  return rows.map((r) => r.id);
}

/** Grids `ids` with what they hold, as stored now. */
async function gridStates(trx: Transaction<DB>, ids: number[]): Promise<GridState[]> {
  const { rows } = await sql<GridState>`
    with g as (select * from grids where id = any(${ids})),
    b as (select grid_id, sum(households)::int as households, sum(residents)::int as residents
          from buildings where grid_id in (select id from g) group by grid_id),
    m as (select grid_id, count(*)::int as members, count(*) filter (where is_volunteer)::int as volunteers
          from members where grid_id in (select id from g) group by grid_id),
    i as (select grid_id, count(*)::int as open_issues from issues
          where grid_id in (select id from g) and status in (${sql.join([...OPEN_STATUSES])}) group by grid_id)
    select g.id, g.code, g.name, g.version, round(ST_Area(g.geom::geography)::numeric, 1)::float8 as area_m2,
           ST_AsGeoJSON(g.geom, 7)::json as geometry,
           coalesce(b.households, 0) as households, coalesce(b.residents, 0) as residents,
           coalesce(m.members, 0) as members, coalesce(m.volunteers, 0) as volunteers, coalesce(i.open_issues, 0) as open_issues
    from g left join b on b.grid_id = g.id left join m on m.grid_id = g.id left join i on i.grid_id = g.id
    order by g.code`.execute(trx);
  return rows;
}

/** 412 when a grid is no longer at the version the planner saw (404 when it is gone), naming where the version was sent. */
async function refuseStale(trx: Transaction<DB>, versions: SeenVersion[]) {
  if (versions.length === 0) return;
  const {
    rows: [stale],
  } = await sql<{ n: number; version: number | null }>`
    select w.n, g.version from json_to_recordset(${JSON.stringify(versions.map((v, n) => ({ ...v, n })))}::json) as w(id int, version int, n int)
    left join grids g on g.id = w.id
    where g.version is distinct from w.version order by w.n limit 1`.execute(trx);
  if (!stale) return;
  const { id, version, field } = versions[stale.n];
  if (stale.version === null) throw new DomainError('grid.not_found', `No grid ${id}`, { field }, { id });
  throw new DomainError(
    'request.stale_version',
    `grid ${id} is at version ${stale.version}, not ${version}: someone saved it since; reload it and try again`,
    { field, id, version: stale.version },
  );
}

/** The next free code of the community's sequence: a removed grid's code is not given again. */
async function nextCodes(trx: Transaction<DB>, communityId: number, n: number): Promise<string[]> {
  const {
    rows: [{ code, last }],
  } = await sql<{ code: string; last: number }>`
    select c.code, coalesce(greatest(
      (select max(right(code, 3)::int) from grids where left(code, 12) = c.code),
      (select max(right(code, 3)::int) from grid_versions where left(code, 12) = c.code)), 0) as last
    from communities c where c.id = ${communityId}`.execute(trx);
  if (last + n > 999)
    throw new DomainError('planning.no_grid_codes_left', `community ${code} has used all 999 grid codes`, { field: 'community_id' });
  return Array.from({ length: n }, (_, k) => `${code}${String(last + k + 1).padStart(3, '0')}`);
}

/** 第十二网格: how the demo city and most communities name their grids. */
export const gridName = (code: string) => `第${chineseNumeral(Number(code.slice(-3)))}网格`;

/**
 * The refusals the shapes themselves earn: invalid boundaries (as stored or as published, or not measurable:
 * boundary_refusal, sql/020), slivers, parts outside the community, holes (a grid wholly inside another: the
 * other would surround it, which the planner's editor, like most grid registers, cannot hold). Every shape a
 * change would keep is checked here, the neighbours it reshapes too.
 */
async function shapeRefusals(trx: Transaction<DB>, communityId: number, edits: Edit[]): Promise<Refusal[]> {
  const { rows } = await sql<{
    n: number;
    id: number | null;
    code: string | null;
    invalid: string | null;
    area_m2: number;
    outside_m2: number;
    holes: number;
  }>`
    select (e.n - 1)::int as n, (e.edit->>'id')::int as id, coalesce(e.edit->'restore'->>'code', (select code from grids where id = (e.edit->>'id')::int)) as code,
           invalid, ST_NumInteriorRings(g) as holes,
           case when invalid is null then round(ST_Area(g::geography)::numeric, 1)::float8 end as area_m2,
           case when invalid is null then round(ST_Area(ST_Difference(g, c.geom, ${PLANNING_GRID})::geography)::numeric, 1)::float8 end as outside_m2
    from json_array_elements(${JSON.stringify(edits)}::json) with ordinality as e(edit, n)
    cross join lateral ST_GeomFromWKB(decode(e.edit->>'geom', 'hex'), 4326) as g
    cross join lateral boundary_refusal(g) as invalid
    join communities c on c.id = ${communityId}
    where e.edit->>'geom' is not null order by e.n`.execute(trx);
  const refusals: Refusal[] = [];
  for (const r of rows) {
    const which = r.code ? `grid ${r.code}` : 'the new grid';
    if (r.invalid) {
      refusals.push(refusal('geometry.invalid', `${which}: ${r.invalid}`, { field: 'geometry', grid: r.id }));
      continue;
    }
    if (r.area_m2 < MIN_GRID_AREA_M2) {
      refusals.push(
        refusal('planning.sliver', `${which} would cover ${r.area_m2} m², under the ${MIN_GRID_AREA_M2} m² a grid needs`, {
          field: 'geometry',
          grid: r.id,
          area_m2: r.area_m2,
          whole: true,
        }),
      );
    }
    if (r.outside_m2 > GRID_TOLERANCE_M2) {
      refusals.push(
        refusal('grid.outside_community', `${which} would extend ${r.outside_m2} m² beyond its community`, {
          field: 'geometry',
          grid: r.id,
          area_m2: r.outside_m2,
        }),
      );
    }
    if (r.holes > 0) {
      refusals.push(
        refusal(
          'planning.grid_with_hole',
          `${which} would surround ${r.holes === 1 ? 'an area' : `${r.holes} areas`} of other grids: draw the new boundary to reach its edge`,
          { field: 'geometry', grid: r.id },
        ),
      );
    }
  }
  return refusals;
}

/** Writes the edits: new shapes first, then new grids, then removals (whose grid workers move to the grid that takes most of their area). */
async function applyEdits(trx: Transaction<DB>, communityId: number, edits: Edit[]) {
  const updates = edits.filter((e) => e.id !== undefined && e.geom !== null && !e.restore);
  const creates = edits.filter((e) => e.id === undefined || e.restore);
  const removals = edits.filter((e) => e.id !== undefined && e.geom === null).map((e) => e.id!);
  if (updates.length) {
    // a grid given the boundary and name it has is not written: it keeps its version (its ETag), which has its history
    await sql`update grids g set geom = shape, name = coalesce(e.name, g.name)
      from json_to_recordset(${JSON.stringify(updates)}::json) as e(id int, geom text, name text)
      cross join lateral ST_GeomFromWKB(decode(e.geom, 'hex'), 4326) as shape
      where g.id = e.id and (g.geom, g.name) is distinct from (shape, coalesce(e.name, g.name))`.execute(trx);
  }
  const created: number[] = [];
  if (creates.length) {
    const codes = await nextCodes(trx, communityId, creates.filter((e) => !e.restore).length);
    const rows = creates.map((e) => {
      const code = e.restore?.code ?? codes.shift()!;
      return { properties: { ...e.properties, id: e.id, community_id: communityId, code, name: e.name ?? gridName(code) }, geom: e.geom };
    });
    const { rows: ids } = await sql<{ id: number }>`
      insert into grids (id, community_id, code, name, party_branch_name, party_branch_secretary, grid_worker_name, grid_worker_phone, geom)
      select coalesce(p.id, nextval(pg_get_serial_sequence('grids', 'id'))), p.community_id, p.code, p.name,
             p.party_branch_name, p.party_branch_secretary, p.grid_worker_name, p.grid_worker_phone,
             ST_GeomFromWKB(decode(e.value->>'geom', 'hex'), 4326)
      from json_array_elements(${JSON.stringify(rows)}::json) with ordinality as e(value, n)
      cross join lateral json_populate_record(null::grids, e.value->'properties') as p
      order by e.n returning id`.execute(trx);
    created.push(...ids.map((r) => r.id));
  }
  const accounts: { id: number; username: string; from: number; to: number | null }[] = [];
  if (removals.length) {
    const { rows } = await sql<{ id: number; username: string; from: number; to: number | null }>`
      select u.id, u.username, u.scope_grid_id as from, (
        select n.id from grids n where n.community_id = r.community_id and n.id <> all(${removals})
        order by ST_Area(ST_Intersection(n.geom, r.geom, ${PLANNING_GRID})) desc, n.id limit 1) as to
      from users u join grids r on r.id = u.scope_grid_id where r.id = any(${removals}) order by u.id`.execute(trx);
    const stranded = rows.find((r) => r.to === null);
    if (stranded) {
      throw new DomainError(
        'planning.grid_has_accounts',
        `account ${stranded.username} works in grid ${stranded.from}, and no grid would be left to move it to`,
        { field: 'grids', username: stranded.username, grid: stranded.from },
      );
    }
    // a grid worker whose grid is merged away works the grid that took most of it (a larger scope: its sessions go on)
    await sql`update users u set scope_grid_id = m.to from json_to_recordset(${JSON.stringify(rows)}::json) as m(id int, "to" int) where u.id = m.id`.execute(
      trx,
    );
    accounts.push(...rows);
    await sql`delete from grids where id = any(${removals})`.execute(trx);
  }
  return { created, removed: removals, accounts };
}

/**
 * What the transaction moved (from the audit log it wrote): the first grid each row had and the last. Members
 * are named only to those who may see them one by one (a planner counts them: ids are null).
 */
async function movedRows(trx: Transaction<DB>, auditFrom: number, membersInAggregate: boolean) {
  const { rows } = await sql<{
    resource: 'buildings' | 'members' | 'issues';
    id: number;
    name: string | null;
    from: number | null;
    to: number | null;
  }>`
    with moves as (
      select resource, row_id as id,
             -- by row version, not log id: a foreign key's SET NULL is logged after the relink that follows it
             ((array_agg(before order by (before->>'version')::int))[1]->>'grid_id')::int as from,
             ((array_agg(after order by (after->>'version')::int desc))[1]->>'grid_id')::int as to
      from audit_log
      where id > ${auditFrom} and txid = txid_current() and action = 'update' and resource in ('buildings', 'members', 'issues')
      group by resource, row_id)
    select m.resource, m.id, coalesce(b.name, i.title) as name, m.from, m.to
    from moves m
    left join buildings b on m.resource = 'buildings' and b.id = m.id
    left join issues i on m.resource = 'issues' and i.id = m.id
    where m.from is distinct from m.to
      and (m.resource <> 'issues' or i.status in (${sql.join([...OPEN_STATUSES])}))
    order by m.resource, m.id`.execute(trx);
  return {
    buildings: rows.filter((r) => r.resource === 'buildings').map(({ id, name, from, to }) => ({ id, name, from, to })),
    members: rows.filter((r) => r.resource === 'members').map(({ id, from, to }) => ({ id: membersInAggregate ? null : id, from, to })),
    issues: rows.filter((r) => r.resource === 'issues').map(({ id, name, from, to }) => ({ id, title: name, from, to })),
  };
}

/** Overlaps between grids of the community that involve an edited grid, beyond the tolerance. */
async function overlapsOf(trx: Transaction<DB>, communityId: number, edited: number[]) {
  const { rows } = await sql<{ grids: number[]; codes: string[]; area_m2: number; geometry: Geometry }>`
    select array[a.id, b.id] as grids, array[a.code, b.code] as codes,
           round(ST_Area(x::geography)::numeric, 1)::float8 as area_m2, ST_AsGeoJSON(x, 7)::json as geometry
    from grids a join grids b on b.community_id = a.community_id and a.id < b.id and a.geom && b.geom
    cross join lateral ST_CollectionExtract(ST_Intersection(a.geom, b.geom, ${PLANNING_GRID}), 3) as x
    where a.community_id = ${communityId} and (a.id = any(${edited}) or b.id = any(${edited}))
      and ST_Area(x::geography) > ${GRID_TOLERANCE_M2}
    order by a.id, b.id`.execute(trx);
  return rows;
}

/** The union of the community's grids, hex WKB (to compare what was covered before). */
async function coveredArea(trx: Transaction<DB>, communityId: number) {
  const {
    rows: [{ covered }],
  } = await sql<{ covered: string | null }>`
    select encode(ST_AsBinary(ST_Union(geom, ${PLANNING_GRID})), 'hex') as covered from grids where community_id = ${communityId}`.execute(
    trx,
  );
  return covered;
}

/** Parts of the community in no grid, each with its area and whether it was covered before. */
async function uncoveredParts(trx: Transaction<DB>, communityId: number, coveredBefore: string | null) {
  const { rows } = await sql<{ area_m2: number; new: boolean; geometry: Geometry }>`
    with gap as (
      select coalesce(ST_Difference(c.geom, (select ST_Union(geom, ${PLANNING_GRID}) from grids where community_id = c.id), ${PLANNING_GRID}), c.geom) as geom
      from communities c where c.id = ${communityId}),
    parts as (select (ST_Dump(ST_CollectionExtract(geom, 3))).geom as part from gap)
    select round(ST_Area(part::geography)::numeric, 1)::float8 as area_m2,
           coalesce(ST_Area(ST_Intersection(part, ST_GeomFromWKB(decode(${coveredBefore}, 'hex'), 4326), ${PLANNING_GRID})::geography) > ${GRID_TOLERANCE_M2}, false) as new,
           ST_AsGeoJSON(part, 7)::json as geometry
    from parts where ST_Area(part::geography) > ${GRID_TOLERANCE_M2}
    order by ST_Area(part::geography) desc`.execute(trx);
  return rows;
}

const band = (households: number, min: number, max: number) => (households < min ? 'below' : households > max ? 'above' : 'within');

/**
 * Runs a planning change for a planner: checks versions and scope, builds the edits, applies them,
 * measures the impact, and commits it as a version of every grid it touched, or rolls it back (dry run).
 */
export async function runChange(database: Database, { viewer, actor }: Planner, change: ChangeRequest): Promise<ImpactReport> {
  if (!change.dryRun) {
    const missing = change.required.find(({ id }) => !change.versions.some((v) => v.id === id));
    if (missing) {
      throw new DomainError('planning.version_required', `saving needs the version of grid ${missing.id} you edited (its ETag)`, {
        field: missing.field,
      });
    }
  }
  try {
    return await database.db.transaction().execute(async (trx) => {
      const auditFrom = await lockMapWrites(trx, actor);
      // a change holds every map write in the city back: it may not take long
      await sql`select set_config('statement_timeout', ${`${CHANGE_TIMEOUT_S}s`}, true)`.execute(trx);
      const {
        rows: [community],
      } = await sql<{ id: number; code: string; name: string; min: number; max: number }>`
        select id, code, name, grid_households_min as min, grid_households_max as max from communities where id = ${change.communityId}`.execute(
        trx,
      );
      if (!community)
        throw new DomainError(
          'community.not_found',
          `No community ${change.communityId}`,
          { field: 'community_id' },
          { id: change.communityId },
        );
      for (const { id, idField } of change.required) await requireWritable(trx, grids, viewer, id, 'update').catch(naming(idField));
      await refuseStale(trx, change.versions);
      const plan = await change.build(trx);
      for (const e of plan.edits)
        if (e.id !== undefined && !e.restore) await requireWritable(trx, grids, viewer, e.id, e.geom === null ? 'delete' : 'update');
      const refusals = [...(plan.refusals ?? []), ...(await shapeRefusals(trx, community.id, plan.edits))];
      // what lies beyond the community is not the planner's to see, not even as a dry run's numbers
      const outside = refusals.find((r) => r.code === 'grid.outside_community');
      if (outside && viewer.role !== 'admin') throw new DomainError(outside.code, outside.detail, { ...outside, refusals });

      const near = await nearGrids(
        trx,
        plan.edits.flatMap((e) => (e.id !== undefined && !e.restore ? [e.id] : [])),
        plan.edits.flatMap((e) => (e.geom === null ? [] : [e.geom])),
      );
      const before = await gridStates(trx, near);
      const coveredBefore = await coveredArea(trx, community.id);
      let saved: { id: number; at: Date } | undefined;
      if (!change.dryRun) {
        ({
          rows: [saved],
        } = await sql<{ id: number; at: Date }>`
          insert into grid_changes (community_id, kind, note, user_id, username)
          values (${community.id}, ${change.kind}, ${change.note ?? null}, ${viewer.id}, ${viewer.username}) returning id, at`.execute(
          trx,
        ));
        await sql`select set_config('gridmap.grid_change', ${String(saved.id)}, true)`.execute(trx);
      }
      const applied = await applyEdits(trx, community.id, plan.edits);
      const edited = [
        ...plan.edits.flatMap((e) => (e.id !== undefined && e.geom !== null && !e.restore ? [e.id] : [])),
        ...applied.created,
      ];
      await refuseOutsideScope(
        trx,
        grids,
        viewer,
        'update',
        edited.filter((id) => !applied.created.includes(id)),
      );
      await refuseOutsideScope(trx, grids, viewer, 'create', applied.created);
      await refuseRelinksOutsideScope(trx, viewer, auditFrom);

      const after = await gridStates(trx, [...near, ...applied.created]);
      const moved = await movedRows(trx, auditFrom, seesAggregateOnly('members', viewer));
      const overlaps = await overlapsOf(trx, community.id, edited);
      const uncovered = await uncoveredParts(trx, community.id, coveredBefore);
      for (const o of overlaps) {
        refusals.push(
          refusal('grid.overlap', `grid ${o.codes[0]} and grid ${o.codes[1]} would overlap by ${o.area_m2} m²`, {
            field: 'geometry',
            grids: o.grids,
            area_m2: o.area_m2,
          }),
        );
      }

      const counts = (s: GridState | undefined): Counts | undefined =>
        s && {
          households: s.households,
          residents: s.residents,
          members: s.members,
          volunteers: s.volunteers,
          open_issues: s.open_issues,
          band: band(s.households, community.min, community.max),
        };
      const beforeById = new Map(before.map((g) => [g.id, g]));
      const afterById = new Map(after.map((g) => [g.id, g]));
      const touched = [
        ...new Set([
          ...edited,
          ...applied.removed,
          ...[...moved.buildings, ...moved.members, ...moved.issues]
            .flatMap((m) => [m.from, m.to])
            .filter((id): id is number => id !== null),
        ]),
      ]
        .flatMap((id) => {
          const a = afterById.get(id),
            b = beforeById.get(id);
          return a || b ? [{ id, a, b, code: (a ?? b)!.code, name: (a ?? b)!.name }] : [];
        })
        .sort((x, y) => x.code.localeCompare(y.code));
      const report: ImpactReport = {
        dryRun: change.dryRun,
        saved: !change.dryRun,
        change: null,
        community: { id: community.id, code: community.code, name: community.name, band: { min: community.min, max: community.max } },
        grids: touched.map(({ id, a, b, code, name }) => ({
          id,
          code,
          name,
          status: !b
            ? ('created' as const)
            : !a
              ? ('removed' as const)
              : edited.includes(id)
                ? ('changed' as const)
                : ('unchanged' as const),
          // a dry run wrote nothing: the grid is still at the version it had
          version: (change.dryRun ? b?.version : a?.version) ?? null,
          geometry: a?.geometry ?? null,
          area_m2: { before: b?.area_m2 ?? null, after: a?.area_m2 ?? null },
          before: counts(b) ?? null,
          after: counts(a) ?? null,
        })),
        moved,
        accounts: applied.accounts,
        overlaps,
        uncovered,
        refusals,
        saveable: refusals.length === 0,
      };
      if (change.dryRun) throw new DryRun(report);
      if (refusals.length) {
        const [first] = refusals;
        throw new DomainError(first.code, first.detail, { ...first, refusals });
      }
      report.change = { id: saved!.id, kind: change.kind, note: change.note ?? null, at: saved!.at.toISOString() };
      await sql`update grid_changes set impact = ${JSON.stringify(report)}::jsonb where id = ${saved!.id}`.execute(trx);
      return report;
    });
  } catch (e) {
    if (e instanceof DryRun) return e.report;
    throw e;
  }
}

/** A problem about a grid the request named, said of the field that named it. */
const naming = (field: string) => (e: unknown) => {
  if (e instanceof DomainError) e.extensions.field = field;
  throw e;
};
