import { sql } from 'kysely';
import { z } from 'zod';
import type { ResourceDefinition } from '../../http/feature-resource.ts';
import { phoneNumber, rowId } from '../../http/fields.ts';

export const SKILLS = ['elder_care', 'disability', 'hardship', 'employment', 'medical', 'education', 'patrol', 'legal_aid', 'mediation', 'repair'] as const;

export const members: ResourceDefinition = {
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
  }),
  defaults: { is_central_household: false, is_volunteer: false, skills: [], availability: 'available' },
  readOnly: ['id', 'version', 'created_at', 'updated_at', 'building_id', 'grid_id', 'community_id'],
  place: { community: 'community_id', grid: 'grid_id' },
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
};
