import { z } from 'zod';
import { answerPoint, answerTime } from '../../domain/fields.ts';

export const dispatchState = z.enum(['offered', 'accepted', 'arrived', 'finished', 'declined', 'timed_out', 'withdrawn', 'cancelled']);

/**
 * A dispatch with its steps, as a viewer may read it: who the volunteer is (and who took each step) null where
 * the viewer may not see that volunteer, its distances then to the nearest 100 m.
 */
export const dispatch = z
  .object({
    id: z.number(),
    request_id: z.number(),
    issue_id: z.number(),
    issue_title: z.string(),
    issue_category: z.string(),
    issue_status: z.string(),
    issue_point: answerPoint,
    volunteer_id: z.number().nullable(),
    volunteer_name: z.string().nullable(),
    volunteer_phone: z.string().nullable(),
    volunteer_skills: z.array(z.string()).nullable(),
    volunteer_point: answerPoint.nullable(),
    state: dispatchState,
    rank: z.number(),
    distance_m: z.number(),
    offered_at: z.string(),
    expires_at: z.string(),
    updated_at: z.string(),
    version: z.number(),
    steps: z.array(z.object({ state: dispatchState, at: z.string(), by: z.string().nullable(), distance_m: z.number() })),
  })
  .meta({ id: 'Dispatch' });

/** A dispatch request of an issue, with its dispatches (offers and the assignment). */
export const dispatchRequest = z
  .object({
    id: z.number(),
    issue_id: z.number(),
    k: z.number(),
    skills: z.array(z.string()),
    timeout_s: z.number(),
    /** the dispatcher who asked; null once that account is gone */
    requested_by: z.number().nullable(),
    state: z.enum(['open', 'assigned', 'done', 'cancelled']),
    created_at: answerTime,
    updated_at: answerTime,
    version: z.number(),
    dispatches: z.array(dispatch),
  })
  .meta({ id: 'DispatchRequestRecord' });

export const issueDispatches = z.object({ issue_id: z.number(), requests: z.array(dispatchRequest) });
export const dispatches = z.object({ dispatches: z.array(dispatch) });
