import { sql } from 'kysely';
import { z } from 'zod';
import { defineResource, ROW_STAMPS } from '../../access/resource.ts';
import { externalId } from '../../domain/fields.ts';

export const BUILDING_KINDS = ['residential', 'commercial', 'shop', 'school', 'unit', 'other'] as const;
/** The kinds as a housing register names them. */
const KIND_WORDS = { 住宅: 'residential', 商业: 'commercial', 商铺: 'shop', 门面: 'shop', 学校: 'school', 单位: 'unit', 其他: 'other' };

export const buildings = defineResource({
  name: 'buildings',
  singular: 'building',
  table: 'buildings',
  source: sql`buildings`,
  geometry: ['Polygon'],
  geometryRules: { maxVertices: 20_000, inServiceArea: true },
  properties: z.object({
    name: z.string().min(1).max(200),
    address: z.string().max(300).nullable().optional(),
    kind: z.enum(BUILDING_KINDS),
    floors: z.number().int().min(1).max(200).nullable().optional(),
    households: z.number().int().min(0).max(100_000),
    residents: z.number().int().min(0).max(1_000_000),
    has_party_group: z.boolean(),
    party_group_leader: z.string().max(100).nullable().optional(),
    external_id: externalId,
  }),
  defaults: { kind: 'residential', households: 0, residents: 0, has_party_group: false },
  readOnly: { ...ROW_STAMPS, grid_id: z.number().nullable(), community_id: z.number().nullable() },
  place: { community: 'community_id', grid: 'grid_id' },
  naturalKey: 'external_id',
  vocabulary: { kind: KIND_WORDS },
  filters: {
    community: { type: 'integer', condition: (id: number) => sql`t.community_id = ${id}` },
    grid: { type: 'integer', condition: (id: number) => sql`t.grid_id = ${id}` },
    kind: { type: 'text', condition: (kind: string) => sql`t.kind = ${kind}` },
    party_group: { type: 'boolean', condition: (has: boolean) => sql`t.has_party_group = ${has}` },
  },
});
