import { sql } from 'kysely';
import { z } from 'zod';
import { defineResource, ROW_STAMPS } from '../../access/resource.ts';
import { externalId, phoneNumber } from '../../domain/fields.ts';

/** The kinds as a list of resident units names them. */
const KIND_WORDS = { 企业: 'enterprise', 学校: 'school', 机关: 'agency', 医院: 'hospital', 社会组织: 'social_organization', 其他: 'other' };

export const units = defineResource({
  name: 'units',
  singular: 'resident unit',
  table: 'units',
  source: sql`units`,
  geometry: ['Point', 'Polygon'],
  geometryRules: { maxVertices: 20_000, inServiceArea: true },
  properties: z.object({
    name: z.string().min(1).max(200),
    kind: z.enum(['enterprise', 'school', 'agency', 'hospital', 'social_organization', 'other']),
    has_agreement: z.boolean(),
    agreement_signed_on: z.iso
      .date()
      .refine((d) => d >= '1949-10-01' && d <= '2999-12-31', 'a date from 1949-10-01 on')
      .nullable()
      .optional(),
    resources: z.string().max(2000).nullable().optional(),
    contact_name: z.string().max(100).nullable().optional(),
    contact_phone: phoneNumber.nullable().optional(),
    external_id: externalId,
  }),
  defaults: { has_agreement: false },
  readOnly: { ...ROW_STAMPS, community_id: z.number().nullable() },
  place: { community: 'community_id' },
  naturalKey: 'external_id',
  vocabulary: { kind: KIND_WORDS },
  personal: { contact_phone: 'phone' },
  filters: {
    community: { type: 'integer', condition: (id: number) => sql`t.community_id = ${id}` },
    kind: { type: 'text', condition: (kind: string) => sql`t.kind = ${kind}` },
    agreement: { type: 'boolean', condition: (has: boolean) => sql`t.has_agreement = ${has}` },
  },
});
