import { z } from 'zod';
import { answerTime } from '../../domain/fields.ts';
import { answerCollection, answerFeature } from '../../domain/geojson.ts';

const level = z.enum(['grid', 'community', 'street']);
/** A time as PostgreSQL writes it in JSON built in SQL. */
const time = z.string();

/** An issue on a wall, as the map and the list beside it show it. */
export const wallIssue = z
  .object({
    title: z.string(),
    category: z.string(),
    status: z.string(),
    wall: level,
    reported_at: time,
    due_at: time,
    overdue: z.boolean(),
    extended_hours: z.number(),
    reopen_count: z.number(),
    grid_id: z.number().nullable(),
    community_id: z.number().nullable(),
    street_code: z.string().nullable(),
    version: z.number(),
  })
  .meta({ id: 'WallIssue' });
export const wall = answerCollection(answerFeature(wallIssue), {
  /** whose wall: a grid or community by id, a street by its code (as text, both) */
  wall: z.object({ level, id: z.string(), name: z.string(), code: z.string() }),
  total: z.number(),
  overdue: z.number(),
});

/** An answered issue on the echo wall: no reporter, no description, no point. */
export const echoIssue = z
  .object({
    id: z.number(),
    title: z.string(),
    category: z.string(),
    category_name: z.string(),
    status: z.string(),
    community_id: z.number().nullable(),
    community: z.string().nullable(),
    grid: z.string().nullable(),
    street_code: z.string().nullable(),
    reported_at: time,
    resolved_at: time.nullable(),
    answered_at: time.nullable(),
    answer: z.string(),
    /** once the reporter rated the answer */
    rating: z.number().nullable(),
    answer_photos: z.number(),
  })
  .meta({ id: 'EchoIssue' });
export const echo = z.object({
  total: z.number(),
  /** the communities that have answers: the echo wall's filter */
  communities: z.array(z.object({ id: z.number(), name: z.string() })),
  issues: z.array(echoIssue),
});

/** A rate or a time with nothing to measure is null. */
const measure = z.number().nullable();
export const measures = z
  .object({
    reported: z.number(),
    closed: z.number(),
    rejected: z.number(),
    open: z.number(),
    overdue: z.number(),
    closure_rate: measure,
    on_time_rate: measure,
    rework_rate: measure,
    extension_rate: measure,
    median_hours_to_close: measure,
    p90_hours_to_close: measure,
    mean_rating: measure,
    ratings: z.number(),
  })
  .meta({ id: 'WallMeasures' });
export const metrics = z.object({
  by: z.enum(['grid', 'community']),
  from: time,
  to: time,
  /** issues with no grid (or community) are counted under a null area */
  areas: z.array(measures.extend({ area_id: z.number().nullable(), name: z.string().nullable(), code: z.string().nullable() })),
  total: measures,
});

export const monthlyMatter = z.object({
  /** YYYY-MM */
  month: z.string(),
  title: z.string(),
  discussion: z.string().nullable(),
  outcome: z.string().nullable(),
  issue_id: z.number().nullable(),
  /** null: a draft, seen by the community's staff only */
  published_at: answerTime.nullable(),
  updated_at: answerTime,
});
export const monthly = z.object({ community_id: z.number(), matters: z.array(monthlyMatter) });
