import { sql } from 'kysely';
import { z } from 'zod';
import type { ResourceDefinition } from '../../http/feature-resource.ts';

export const ISSUE_CATEGORIES = ['noise', 'parking', 'property', 'street_light', 'sanitation', 'safety', 'elder_care', 'other'] as const;
export const ISSUE_STATUSES = ['reported', 'accepted', 'in_progress', 'escalated', 'resolved', 'answered', 'rated', 'closed', 'rejected'] as const;

export const issues: ResourceDefinition = {
  name: 'issues',
  singular: 'issue',
  table: 'issues',
  source: sql`issues`,
  geometry: ['Point'],
  properties: z.object({
    title: z.string().min(1).max(200),
    description: z.string().max(5000).nullable().optional(),
    category: z.enum(ISSUE_CATEGORIES),
    status: z.enum(ISSUE_STATUSES),
  }),
  defaults: { status: 'reported' },
  readOnly: ['id', 'version', 'reported_at', 'updated_at', 'resolved_at', 'closed_at', 'grid_id', 'community_id', 'reported_by'],
  place: { community: 'community_id', grid: 'grid_id' },
  createdBy: 'reported_by',
  filters: {
    community: { type: 'integer', condition: (id: number) => sql`t.community_id = ${id}` },
    grid: { type: 'integer', condition: (id: number) => sql`t.grid_id = ${id}` },
    category: { type: 'text', condition: (category: string) => sql`t.category = ${category}` },
    status: { type: 'text', condition: (status: string) => sql`t.status = ${status}` },
  },
};
