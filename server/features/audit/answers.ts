import { z } from 'zod';

/** The tables whose writes are recorded (sql/schema installs the audit trigger on each). */
export const AUDITED = [
  'districts',
  'streets',
  'communities',
  'grids',
  'buildings',
  'members',
  'units',
  'issues',
  'users',
  'open311_keys',
  'issue_categories',
  'issue_extensions',
  'issue_photos',
  'monthly_matters',
] as const;

/** One recorded write: who, when, what, and the row before and after (geometry included); times as the database wrote them. */
const entry = z.object({
  id: z.number(),
  at: z.string(),
  user_id: z.number().nullable(),
  username: z.string().nullable(),
  request_id: z.string().nullable(),
  action: z.enum(['create', 'update', 'delete']),
  resource: z.enum(AUDITED),
  row_id: z.number(),
  before: z.record(z.string(), z.unknown()).nullable(),
  after: z.record(z.string(), z.unknown()).nullable(),
});

export const auditAnswer = z.object({ entries: z.array(entry), links: z.array(z.object({ rel: z.literal('next'), href: z.string() })) });
