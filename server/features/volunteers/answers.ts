import { z } from 'zod';
import { answerCollection } from '../../domain/geojson.ts';
import { answerPoint, answerTime } from '../../domain/fields.ts';
import { dispatch } from '../dispatch/answers.ts';

/** A volunteer who may be asked now, as a dispatcher finds it: where it is reached (now, or at home) and how far. */
export const nearVolunteer = z
  .object({
    /** geodesic, to the centimetre */
    distance_m: z.number(),
    name: z.string(),
    phone: z.string().nullable(),
    skills: z.array(z.string()),
    availability: z.literal('available'),
    located: z.enum(['current', 'home']),
    located_at: z.string().nullable(),
    grid_id: z.number().nullable(),
    grid_name: z.string().nullable(),
    community_id: z.number().nullable(),
    community_name: z.string().nullable(),
  })
  .meta({ id: 'NearVolunteer' });
// where it is reached: a point, always (a member's home is required)
export const nearestVolunteers = answerCollection(
  z.object({ type: z.literal('Feature'), id: z.number(), geometry: answerPoint, properties: nearVolunteer }),
  { numberReturned: z.number() },
);

/** The volunteer as it sees itself: home, where it is now (null: at home), and its open offers and dispatches. */
export const volunteerRecord = z.object({
  id: z.number(),
  name: z.string(),
  phone: z.string().nullable(),
  skills: z.array(z.string()),
  availability: z.enum(['available', 'off_duty', 'busy']),
  grid_id: z.number().nullable(),
  community_id: z.number().nullable(),
  version: z.number(),
  home: answerPoint,
  current_point: answerPoint.nullable(),
  current_point_at: answerTime.nullable(),
});
export const volunteerMe = volunteerRecord.extend({ dispatches: z.array(dispatch) }).meta({ id: 'VolunteerMe' });
