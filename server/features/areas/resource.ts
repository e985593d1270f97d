import { sql } from 'kysely';
import { z } from 'zod';
import { DomainError, type ErrorCode } from '../../domain/errors.ts';
import { defineResource, ROW_STAMPS } from '../../access/resource.ts';

/**
 * Districts (区/县) and streets (街道/乡镇): the areas above the communities, their codes GB/T 2260's (a district
 * 6 digits, its streets 3 more). Their boundaries are the civil-affairs bureau's; a street made by hand may
 * have none, and is then drawn as the union of its communities (sql/021_areas.sql).
 */

const districtCode = z.string().regex(/^\d{6}$/, 'a district code is 6 digits (GB/T 2260)');

/** A row that other rows still name is not deleted: 409 with how many, so the client knows what to move first. */
function refuseWhileHeld(count: number, code: ErrorCode, detail: string, extension: string) {
  if (count > 0) throw new DomainError(code, detail, { field: 'id', [extension]: count });
}

export const districts = defineResource({
  name: 'districts',
  singular: 'district',
  table: 'districts',
  naturalKey: 'code',
  source: sql`districts`,
  multi: true,
  geometry: ['Polygon', 'MultiPolygon'],
  geometryRules: { maxVertices: 200_000 },
  properties: z.object({ code: districtCode, name: z.string().min(1).max(100) }),
  defaults: {},
  readOnly: ROW_STAMPS,
  place: { area: 'code' },
  filters: {},
  async beforeDelete(trx, id) {
    const {
      rows: [{ n }],
    } = await sql<{ n: number }>`
      select count(*)::int as n from streets where district_code = (select code from districts where id = ${id})`.execute(trx);
    refuseWhileHeld(n, 'district.has_streets', `district ${id} still has ${n} streets: delete or move them first`, 'streets');
  },
});

export const streets = defineResource({
  name: 'streets',
  singular: 'street',
  table: 'streets',
  naturalKey: 'code',
  source: sql`(select s.*, d.name as district_name from streets s join districts d on d.code = s.district_code)`,
  multi: true,
  geometry: ['Polygon', 'MultiPolygon'],
  geometryRules: { maxVertices: 200_000 },
  nullGeometry: true,
  derivedGeometry: 'boundary_from_communities',
  properties: z.object({
    code: z.string().regex(/^\d{9}$/, 'a street code is 9 digits: its district (6) and its own (3)'),
    name: z.string().min(1).max(100),
    district_code: districtCode,
  }),
  defaults: {},
  readOnly: {
    ...ROW_STAMPS,
    district_name: z.string(),
    /** no boundary of its own: drawn as the union of its communities */
    boundary_from_communities: z.boolean(),
  },
  place: { area: 'code' },
  filters: {
    district: { type: 'text', condition: (code: string) => sql`t.district_code = ${code}` },
  },
  async beforeDelete(trx, id) {
    const {
      rows: [{ n }],
    } = await sql<{ n: number }>`
      select count(*)::int as n from communities where street_code = (select code from streets where id = ${id})`.execute(trx);
    refuseWhileHeld(n, 'street.has_communities', `street ${id} still has ${n} communities: delete or move them first`, 'communities');
  },
});
