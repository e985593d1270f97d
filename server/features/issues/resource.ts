import { sql, type Transaction } from 'kysely';
import { z } from 'zod';
import type { DB } from '../../db/schema.ts';
import { defineResource } from '../../access/resource.ts';
import { answerTime } from '../../domain/fields.ts';
import type { Viewer } from '../../access/viewer.ts';
import { DomainError } from '../../domain/errors.ts';
import { ISSUE_PLACE, levelOf, wallLevel, worksOn } from './levels.ts';

export const ISSUE_STATUSES = [
  'reported',
  'accepted',
  'in_progress',
  'escalated',
  'resolved',
  'answered',
  'rated',
  'closed',
  'rejected',
  'reopened',
] as const;
/** States in which an issue still waits for its wall's work (Open311's "open"). */
export const OPEN_STATUSES = ['reported', 'accepted', 'in_progress', 'escalated', 'reopened'] as const;
const OPEN = sql`(${sql.join([...OPEN_STATUSES])})`;

/** Past its due time and not yet resolved. */
export const overdue = (alias: string) => sql`(${sql.ref(`${alias}.due_at`)} < now() and ${sql.ref(`${alias}.status`)} in ${OPEN})`;

/**
 * Issues as map features. Their state, wall and answers change only through the lifecycle
 * (POST /issues/:id/transitions), never by editing the row: here a reporter's words and the point.
 */
export const issues = defineResource({
  name: 'issues',
  singular: 'issue',
  table: 'issues',
  source: sql`issues`,
  geometry: ['Point'],
  geometryRules: { inServiceArea: true },
  properties: z.object({
    title: z.string().min(1).max(200),
    description: z.string().max(5000).nullable().optional(),
    /** a code of GET /api/v1/issue-categories */
    category: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'a category code such as noise or street_light'),
  }),
  defaults: {},
  readOnly: {
    version: z.number().int(),
    status: z.enum(ISSUE_STATUSES),
    /** the wall it is on now */
    wall: z.enum(['grid', 'community', 'street']),
    street_code: z.string().nullable(),
    due_at: answerTime.nullable(),
    extended_hours: z.number(),
    answer: z.string().nullable(),
    public_title: z.string().nullable(),
    answered_at: answerTime.nullable(),
    rating: z.number().nullable(),
    rated_at: answerTime.nullable(),
    reopen_count: z.number(),
    duplicate_of: z.number().nullable(),
    reported_at: answerTime,
    updated_at: answerTime,
    resolved_at: answerTime.nullable(),
    closed_at: answerTime.nullable(),
    grid_id: z.number().nullable(),
    community_id: z.number().nullable(),
    reported_by: z.number().nullable(),
  },
  place: ISSUE_PLACE,
  createdBy: 'reported_by',
  beforeUpdate: (trx, id, { viewer }) => onItsWall(trx, id, viewer, 'update'),
  beforeDelete: (trx, id, { viewer }) => onItsWall(trx, id, viewer, 'delete'),
  filters: {
    community: { type: 'integer', condition: (id: number) => sql`t.community_id = ${id}` },
    grid: { type: 'integer', condition: (id: number) => sql`t.grid_id = ${id}` },
    category: { type: 'text', condition: (category: string) => sql`t.category = ${category}` },
    status: { type: 'text', condition: (status: string) => sql`t.status = ${status}` },
    wall: { type: 'text', condition: (wall: string) => sql`t.wall = ${wall}` },
    /** still waiting for its wall's work (reported, accepted, in progress, escalated, reopened), or not */
    open: { type: 'boolean', condition: (open: boolean) => (open ? sql`t.status in ${OPEN}` : sql`t.status not in ${OPEN}`) },
    overdue: { type: 'boolean', condition: (late: boolean) => (late ? overdue('t') : sql`not ${overdue('t')}`) },
  },
});

/**
 * An issue's words, point and category are corrected by the staff of the wall it is on, not by a grid worker
 * once it has climbed to the community's; one taken up is rejected or closed, never deleted: its record stays.
 */
async function onItsWall(trx: Transaction<DB>, id: number, viewer: Viewer, action: 'update' | 'delete') {
  if (viewer.role === 'admin') return;
  const {
    rows: [issue],
  } = await sql<{ status: string; wall: string; in_scope: boolean }>`
    select status, wall, coalesce(${worksOn(viewer, 'i')}, false) as in_scope from issues i where id = ${id}`.execute(trx);
  if (!(issue.in_scope && levelOf(viewer) >= wallLevel(issue.wall))) {
    throw new DomainError(
      'issue.not_on_your_wall',
      `issue ${id} is on the ${issue.wall} wall: its staff ${action === 'delete' ? 'delete' : 'change'} it`,
      { field: 'id' },
    );
  }
  if (action === 'delete' && issue.status !== 'reported') {
    throw new DomainError('issue.taken_up', `issue ${id} is ${issue.status}: reject or close it instead, its record stays`, {
      field: 'id',
    });
  }
}
