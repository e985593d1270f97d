import { sql, type RawBuilder, type Transaction } from 'kysely';
import { z } from 'zod';
import type { DB } from '../../db/schema.ts';
import { refuseOutsideScope } from '../../access/rows.ts';
import { defineResource, ROW_STAMPS } from '../../access/resource.ts';
import { phoneNumber, rowId } from '../../domain/fields.ts';
import { parseId } from '../../domain/params.ts';
import { DomainError } from '../../domain/errors.ts';

/** Shared edges drawn by hand never match exactly: overlaps and overhangs up to this are accepted. */
export const GRID_TOLERANCE_M2 = 1;

/** 422 when a grid matching `which` (on `grids g`) extends beyond its community by more than the tolerance. */
export async function refuseGridsOutside(trx: Transaction<DB>, which: RawBuilder<unknown>) {
  const { rows: outside } = await sql<{ id: number; code: string; area_m2: number }>`
    select g.id, g.code, round(ST_Area(ST_Difference(g.geom, c.geom)::geography)::numeric, 1) as area_m2
    from grids g join communities c on c.id = g.community_id
    where ${which} and not ST_CoveredBy(g.geom, c.geom)
      and ST_Area(ST_Difference(g.geom, c.geom)::geography) > ${GRID_TOLERANCE_M2}
    order by g.id`.execute(trx);
  if (outside.length) {
    const [first] = outside;
    throw new DomainError('grid.outside_community', `grid ${first.code} extends ${first.area_m2} m² beyond its community`, {
      field: 'geometry',
      outside,
    });
  }
}

export const grids = defineResource({
  name: 'grids',
  singular: 'grid',
  table: 'grids',
  source: sql`(select g.*, c.name as community_name from grids g join communities c on c.id = g.community_id)`,
  geometry: ['Polygon'],
  geometryRules: { maxVertices: 50_000 },
  naturalKey: 'code',
  properties: z.object({
    /** when not given, the community whose code the grid's code begins with (sql/026) */
    community_id: rowId.optional(),
    code: z.string().regex(/^\d{15}$/, 'a grid code is 15 digits: the community code and a 3-digit sequence'),
    name: z.string().min(1).max(100),
    party_branch_name: z.string().max(200).nullable().optional(),
    party_branch_secretary: z.string().max(100).nullable().optional(),
    grid_worker_name: z.string().max(100).nullable().optional(),
    grid_worker_phone: phoneNumber.nullable().optional(),
  }),
  defaults: {},
  readOnly: { ...ROW_STAMPS, community_name: z.string() },
  place: { community: 'community_id', grid: 'id' },
  filters: {
    community: { type: 'integer', condition: (id: number) => sql`t.community_id = ${id}` },
  },

  /** A grid lies inside its community and does not overlap its sibling grids (beyond the tolerance). */
  async check(trx, ids) {
    await refuseGridsOutside(trx, sql`g.id in (select value::int from json_array_elements_text(${JSON.stringify(ids)}::json))`);
    const { rows: overlaps } = await sql<{
      grid: string;
      conflicting_grid_id: number;
      conflicting_grid: string;
      conflicting_grid_name: string;
      area_m2: number;
    }>`
      select g.code as grid, o.id as conflicting_grid_id, o.code as conflicting_grid, o.name as conflicting_grid_name,
             round(ST_Area(ST_Intersection(g.geom, o.geom)::geography)::numeric, 1) as area_m2
      from grids g join grids o on o.community_id = g.community_id and o.id <> g.id and o.geom && g.geom
      where g.id in (select value::int from json_array_elements_text(${JSON.stringify(ids)}::json))
        and ST_Intersects(g.geom, o.geom)
        and ST_Area(ST_Intersection(g.geom, o.geom)::geography) > ${GRID_TOLERANCE_M2}
      order by g.id, o.id`.execute(trx);
    if (overlaps.length) {
      const [first] = overlaps;
      throw new DomainError(
        'grid.overlap',
        `grid ${first.grid} overlaps grid ${first.conflicting_grid} (${first.conflicting_grid_name}) by ${first.area_m2} m²`,
        { field: 'geometry', overlaps },
      );
    }
  },

  deleteParameters: { merge_into: { schema: { type: 'integer' }, description: 'an adjacent grid that takes the area and what it holds' } },
  /**
   * A grid that holds buildings is deleted only by saying where its area goes: ?merge_into=<neighbour id>
   * gives it to an adjacent grid of the same community, whose buildings, members and issues follow.
   */
  async beforeDelete(trx, id, { viewer, query }) {
    const {
      rows: [held],
    } = await sql<{ n: number }>`select count(*)::int as n from buildings where grid_id = ${id}`.execute(trx);
    if (query.merge_into === undefined) {
      if (held.n === 0) return;
      throw new DomainError(
        'grid.has_buildings',
        `grid ${id} holds ${held.n} buildings: say where they go with ?merge_into=<id of an adjacent grid>`,
        { field: 'merge_into', buildings: held.n },
      );
    }
    const into = parseId(query.merge_into, 'merge_into');
    const {
      rows: [merge],
    } = await sql<{ same_community: boolean; polygon: boolean } | undefined>`
      select g.community_id = n.community_id as same_community,
             GeometryType(ST_UnaryUnion(ST_Collect(g.geom, n.geom))) = 'POLYGON' as polygon
      from grids g, grids n where g.id = ${id} and n.id = ${into} and n.id <> g.id`.execute(trx);
    if (!merge)
      throw new DomainError('grid.unknown_merge_target', `merge_into: no other grid ${into}`, { field: 'merge_into' }, { id: into });
    if (!merge.same_community || !merge.polygon) {
      throw new DomainError('grid.not_adjacent', `grid ${into} must share a boundary with grid ${id} in the same community`, {
        field: 'merge_into',
      });
    }
    await refuseOutsideScope(trx, grids, viewer, 'update', [into]);
    await sql`update grids n set geom = ST_UnaryUnion(ST_Collect(n.geom, g.geom)) from grids g where g.id = ${id} and n.id = ${into}`.execute(
      trx,
    );
    // Until the grid is gone its area is covered twice; the relink after the delete settles every link.
  },
});
