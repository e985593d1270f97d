import { z } from 'zod';
import { answerTime } from '../../domain/fields.ts';

/** The walls an issue climbs (server/features/issues/levels.ts). */
export const wall = z.enum(['grid', 'community', 'street']);

export const category = z
  .object({ code: z.string(), name: z.string(), urgency: z.enum(['urgent', 'general', 'complex']), due_hours: z.number() })
  .meta({ id: 'IssueCategory' });
export const categories = z.object({ categories: z.array(category) });

const step = z.object({
  id: z.number(),
  at: answerTime,
  action: z.string(),
  from_status: z.string().nullable(),
  to_status: z.string().nullable(),
  from_wall: z.string().nullable(),
  to_wall: z.string().nullable(),
  note: z.string().nullable(),
  /** staff names show only to staff, and a caller's own */
  username: z.string().nullable(),
});
const extension = z.object({
  id: z.number(),
  wall,
  hours: z.number(),
  reason: z.string(),
  state: z.enum(['pending', 'approved', 'refused', 'withdrawn']),
  requested_at: answerTime,
  decided_at: answerTime.nullable(),
  decision: z.string().nullable(),
});
export const timeline = z
  .object({
    issue_id: z.number(),
    status: z.string(),
    wall,
    version: z.number(),
    /** set on every issue when it is reported (its category's due time) */
    due_at: answerTime,
    overdue: z.boolean(),
    duplicate_of: z.number().nullable(),
    /** the steps the caller may take now */
    actions: z.array(
      z.enum(['accept', 'start', 'resolve', 'escalate', 'reject', 'answer', 'rate', 'close', 'request_extension', 'decide_extension']),
    ),
    steps: z.array(step),
    extensions: z.array(extension),
  })
  .meta({ id: 'IssueTimeline' });

export const possibleDuplicates = z.object({
  issues: z.array(
    z.object({
      id: z.number(),
      title: z.string(),
      category: z.string(),
      status: z.string(),
      wall,
      reported_at: answerTime,
      /** from the point asked about, on the spheroid, to the decimetre */
      distance_m: z.number(),
    }),
  ),
});

export const photoKind = z.enum(['report', 'answer']);
export const photoType = z.enum(['image/jpeg', 'image/png', 'image/webp']);
export const newPhoto = z.object({ id: z.number(), kind: photoKind, content_type: photoType, byte_size: z.number(), url: z.string() });
export const photos = z.object({
  photos: z.array(
    z.object({ id: z.number(), kind: photoKind, content_type: photoType, byte_size: z.number(), created_at: answerTime, url: z.string() }),
  ),
});
