import { sql } from 'kysely';
import { z } from 'zod';
import { defineResource, ROW_STAMPS } from '../../access/resource.ts';
import { DomainError } from '../../domain/errors.ts';
import { refuseGridsOutside } from '../grids/resource.ts';

export const communities = defineResource({
  name: 'communities',
  singular: 'community',
  table: 'communities',
  source: sql`(select c.*, s.name as street_name, s.district_code, d.name as district_name
               from communities c join streets s on s.code = c.street_code join districts d on d.code = s.district_code)`,
  multi: true,
  naturalKey: 'code',
  geometry: ['Polygon', 'MultiPolygon'],
  geometryRules: { maxVertices: 200_000 },
  properties: z.object({
    code: z.string().regex(/^\d{12}$/, 'a community code is 12 digits: district (6), street (3), community (3)'),
    name: z.string().min(1).max(100),
    street_code: z.string().regex(/^\d{9}$/, 'a street code is 9 digits'),
    party_committee_name: z.string().max(200).nullable().optional(),
    party_committee_secretary: z.string().max(100).nullable().optional(),
    /** community workers in post, against the staffing standard */
    staff_count: z.number().int().min(0).max(10000).nullable().optional(),
    /** the households a grid of this community should hold (no fewer than the min, no more than the max) */
    grid_households_min: z.number().int().min(0).max(100000).optional(),
    grid_households_max: z.number().int().min(0).max(100000).optional(),
  }),
  defaults: { grid_households_min: 300, grid_households_max: 500 },
  readOnly: { ...ROW_STAMPS, street_name: z.string(), district_code: z.string(), district_name: z.string() },
  place: { community: 'id' },
  filters: {
    street: { type: 'text', condition: (code: string) => sql`t.street_code = ${code}` },
    district: { type: 'text', condition: (code: string) => sql`t.district_code = ${code}` },
  },
  /** A redrawn community still holds each of its grids. */
  async check(trx, ids) {
    await refuseGridsOutside(trx, sql`g.community_id in (select value::int from json_array_elements_text(${JSON.stringify(ids)}::json))`);
  },
  /**
   * A community mostly outside its street's boundary (a boundary given, not drawn from its communities) is
   * reported by an import, not refused: real files disagree by slivers, and the civil-affairs bureau decides.
   */
  async warn(trx, ids, { streetTolerance }) {
    const { rows } = await sql<{ id: number; street_code: string; outside: number }>`
      select c.id, c.street_code, o.outside
      from communities c join streets s on s.code = c.street_code
      cross join lateral (select 1 - ST_Area(ST_Intersection(c.geom, s.geom)) / nullif(ST_Area(c.geom), 0) as outside) o
      where c.id in (select value::int from json_array_elements_text(${JSON.stringify(ids)}::json))
        and not s.boundary_from_communities and o.outside > ${streetTolerance}::float8
      order by c.id`.execute(trx);
    return rows.map(({ id, street_code, outside }) => ({
      id,
      field: 'geometry',
      reason: `${(outside * 100).toFixed(1)} % of the community lies outside the boundary of street ${street_code} (more than ${streetTolerance * 100} %)`,
    }));
  },
  async beforeDelete(trx, id) {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from grids where community_id = ${id}`.execute(trx);
    if (rows[0].n > 0) {
      throw new DomainError('community.has_grids', `community ${id} still has ${rows[0].n} grids: delete or move them first`, {
        field: 'id',
        grids: rows[0].n,
      });
    }
  },
});
