import { sql } from 'kysely';
import { z } from 'zod';
import type { ResourceDefinition } from '../../http/feature-resource.ts';

export const ISSUE_STATUSES = ['reported', 'accepted', 'in_progress', 'escalated', 'resolved', 'answered', 'rated', 'closed', 'rejected', 'reopened'] as const;
/** States in which an issue still waits for its wall's work (Open311's "open"). */
export const OPEN_STATUSES = ['reported', 'accepted', 'in_progress', 'escalated', 'reopened'] as const;
export const WALLS = ['grid', 'community', 'street'] as const;
export type Wall = (typeof WALLS)[number];

/**
 * Issues as map features. Their state, wall and answers change only through the lifecycle
 * (POST /issues/:id/transitions), never by editing the row: here a reporter's words and the point.
 */
export const issues: ResourceDefinition = {
  name: 'issues',
  singular: 'issue',
  table: 'issues',
  source: sql`issues`,
  geometry: ['Point'],
  properties: z.object({
    title: z.string().min(1).max(200),
    description: z.string().max(5000).nullable().optional(),
    /** a code of GET /api/v1/issue-categories */
    category: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'a category code such as noise or street_light'),
  }),
  defaults: {},
  readOnly: ['id', 'version', 'status', 'wall', 'street_code', 'due_at', 'extended_hours', 'answer', 'answered_at', 'rating', 'rated_at',
    'reopen_count', 'duplicate_of', 'reported_at', 'updated_at', 'resolved_at', 'closed_at', 'grid_id', 'community_id', 'reported_by'],
  place: { community: 'community_id', grid: 'grid_id', street: 'street_code' },
  createdBy: 'reported_by',
  filters: {
    community: { type: 'integer', condition: (id: number) => sql`t.community_id = ${id}` },
    grid: { type: 'integer', condition: (id: number) => sql`t.grid_id = ${id}` },
    category: { type: 'text', condition: (category: string) => sql`t.category = ${category}` },
    status: { type: 'text', condition: (status: string) => sql`t.status = ${status}` },
    wall: { type: 'text', condition: (wall: string) => sql`t.wall = ${wall}` },
  },
};
