import { sql } from 'kysely';
import { z } from 'zod';
import { defineResource, ROW_STAMPS } from '../../access/resource.ts';
import { externalId, phoneNumber, rowId } from '../../domain/fields.ts';

export const SKILLS = [
  'elder_care',
  'disability',
  'hardship',
  'employment',
  'medical',
  'education',
  'patrol',
  'legal_aid',
  'mediation',
  'repair',
] as const;
/** The skills as a volunteer roster names them (the 六助 and the rest). */
const SKILL_WORDS = {
  助老: 'elder_care',
  助残: 'disability',
  助困: 'hardship',
  助业: 'employment',
  助医: 'medical',
  助学: 'education',
  联防: 'patrol',
  巡逻: 'patrol',
  法律援助: 'legal_aid',
  调解: 'mediation',
  维修: 'repair',
};
/** The categories as a Party-member roster names them, with or without 党员. */
const CATEGORY_WORDS = {
  在职党员: 'in_service',
  在职: 'in_service',
  离退休党员: 'retired',
  离退休: 'retired',
  退休党员: 'retired',
  退休: 'retired',
  流动党员: 'floating',
  流动: 'floating',
  居民党员: 'resident',
  居民: 'resident',
};

export const members = defineResource({
  name: 'members',
  singular: 'member',
  table: 'members',
  source: sql`members`,
  geometry: ['Point'],
  geometryRules: { inServiceArea: true },
  properties: z.object({
    name: z.string().min(1).max(100),
    phone: phoneNumber.nullable().optional(),
    category: z.enum(['in_service', 'retired', 'floating', 'resident']),
    registered_community_id: rowId.nullable().optional(),
    employer_unit: z.string().max(200).nullable().optional(),
    is_central_household: z.boolean(),
    is_volunteer: z.boolean(),
    skills: z.array(z.enum(SKILLS)).max(SKILLS.length),
    availability: z.enum(['available', 'off_duty', 'busy']),
    external_id: externalId,
  }),
  defaults: { is_central_household: false, is_volunteer: false, skills: [], availability: 'available' },
  readOnly: { ...ROW_STAMPS, building_id: z.number().nullable(), grid_id: z.number().nullable(), community_id: z.number().nullable() },
  place: { community: 'community_id', grid: 'grid_id' },
  naturalKey: 'external_id',
  vocabulary: { category: CATEGORY_WORDS, skills: SKILL_WORDS },
  // a member's name, phone, employer and home (its point, its building, and its grid: a planner may draw a
  // grid round one building) are personal
  personal: { name: 'hidden', phone: 'phone', employer_unit: 'hidden', geom: 'hidden', building_id: 'hidden', grid_id: 'hidden' },
  filters: {
    community: { type: 'integer', condition: (id: number) => sql`t.community_id = ${id}` },
    grid: { type: 'integer', condition: (id: number) => sql`t.grid_id = ${id}` },
    building: { type: 'integer', condition: (id: number) => sql`t.building_id = ${id}` },
    category: { type: 'text', condition: (category: string) => sql`t.category = ${category}` },
    volunteer: { type: 'boolean', condition: (is: boolean) => sql`t.is_volunteer = ${is}` },
    central_household: { type: 'boolean', condition: (is: boolean) => sql`t.is_central_household = ${is}` },
    availability: { type: 'text', condition: (availability: string) => sql`t.availability = ${availability}` },
    // skill=medical,patrol: volunteers with every one of them
    skill: { type: 'text', condition: (skills: string) => sql`t.skills @> string_to_array(${skills}, ',')` },
  },
});
