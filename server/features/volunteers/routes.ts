import { sql } from 'kysely';
import { z } from 'zod';
import { DISPATCHERS } from '../../access/rules.ts';
import { actorOf, type Viewer } from '../../access/viewer.ts';
import type { Database } from '../../db/database.ts';
import { geometrySchema } from '../../domain/geojson.ts';
import { parameter, parseCoordinate, parseId, parseLimit, type ParameterDoc } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import { jsonText, route } from '../../http/route.ts';
import { changeOwnAvailability, listDispatches } from '../dispatch/service.ts';
import { SKILLS } from '../members/resource.ts';
import { nearestVolunteers, volunteerMe, type volunteerRecord } from './answers.ts';
import { nearestVolunteersText } from './nearest.ts';

export const MAX_K = 100;
export const MAX_RADIUS_M = 50_000;

/** `skill` may be repeated (skill=medical&skill=patrol) or comma-separated: every one is required. */
export function parseSkills(value: unknown, field = 'skill'): string[] {
  if (value === undefined) return [];
  const given = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(',')).filter((s) => s !== '');
  const unknown = given.find((s) => !(SKILLS as readonly string[]).includes(s));
  if (unknown !== undefined) throw invalidParameter(field, `${unknown} is not a skill; use ${SKILLS.join(', ')}`);
  return [...new Set(given)];
}

/** A parameter of nearest that is given at most once (only `skill` may be repeated). */
const once = <T>(field: string, parse: (value: unknown) => T, doc: ParameterDoc) =>
  parameter((value) => {
    if (Array.isArray(value)) throw invalidParameter(field, `${field} must be given once`);
    return parse(value);
  }, doc);

const coordinate = (field: 'lon' | 'lat', bound: number, example: number) =>
  once(
    field,
    (value) => {
      if (value === undefined) throw invalidParameter(field, 'lon and lat are required');
      return parseCoordinate(value, field);
    },
    { schema: { type: 'number', minimum: -bound, maximum: bound }, required: true, example },
  );

const nearestQuery = {
  lon: coordinate('lon', 180, 108.94),
  lat: coordinate('lat', 90, 34.26),
  k: once('k', (value) => parseLimit(value, { fallback: 5, max: MAX_K }, 'k'), {
    schema: { type: 'integer', minimum: 1, maximum: MAX_K, default: 5 },
  }),
  radius_m: once(
    'radius_m',
    (value) => {
      if (value === undefined) return undefined;
      const radius = typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (!(radius > 0 && radius <= MAX_RADIUS_M))
        throw invalidParameter('radius_m', `radius_m must be a number of metres above 0 and at most ${MAX_RADIUS_M}`);
      return radius;
    },
    { schema: { type: 'number', exclusiveMinimum: true, minimum: 0, maximum: MAX_RADIUS_M } },
  ),
  skill: parameter((value) => parseSkills(value), {
    schema: { type: 'array', items: { type: 'string', enum: [...SKILLS] } },
    explode: true,
  }),
  community: once('community', (value) => (value === undefined ? undefined : parseId(value, 'community')), {
    schema: { type: 'integer', minimum: 1 },
  }),
};

/** What a volunteer changes about itself: whether it can be asked, and where it is now (null: at home). */
export const selfChange = z
  .object({
    availability: z.enum(['available', 'off_duty']).optional(),
    current_point: geometrySchema(['Point']).nullable().optional(),
  })
  .strict()
  .refine((c) => c.availability !== undefined || c.current_point !== undefined, { message: 'give availability and/or current_point' })
  .meta({ id: 'VolunteerChange' });

const tags = ['dispatch'];

/**
 * GET /volunteers/nearest for dispatchers; GET and PATCH /volunteers/me for a volunteer: its availability,
 * its position, and its open offers and assignments.
 */
export function volunteerRoutes(database: Database) {
  const { db } = database;

  /** The volunteer record of a volunteer's account: 409 when the account has none. */
  function memberOf(viewer: Viewer) {
    if (viewer.memberId === null)
      throw new DomainError('volunteer.no_member_record', 'this account is not linked to a volunteer (member_id)', { field: 'member_id' });
    return viewer.memberId;
  }

  /** The volunteer as it sees itself: availability, home, position now, and its open offers and dispatches. */
  async function me(viewer: Viewer) {
    const {
      rows: [member],
    } = await sql<z.input<typeof volunteerRecord>>`
      select id, name, phone, skills, availability, grid_id, community_id, version,
             ST_AsGeoJSON(geom, 7)::json as home, ST_AsGeoJSON(current_point, 7)::json as current_point, current_point_at
      from members where id = ${memberOf(viewer)}`.execute(db);
    if (!member)
      throw new DomainError(
        'member.not_found',
        `member ${viewer.memberId} no longer exists`,
        { field: 'member_id' },
        { id: viewer.memberId },
      );
    return { ...member, dispatches: await listDispatches(db, viewer, { all: false, limit: 100 }) };
  }

  return [
    route({
      method: 'GET',
      path: '/api/v1/volunteers/nearest',
      tags,
      summary: 'The nearest available volunteers to a point, nearest first',
      description:
        '`distance_m` is geodesic (PostGIS ST_Distance on geography). Only volunteers who are available and hold no offer or dispatch; `skill` may be repeated and every one must match. Contacts as the role allows.',
      allow: { resource: 'members', action: 'read', roles: DISPATCHERS },
      query: nearestQuery,
      answer: {
        type: 'application/geo+json',
        schema: nearestVolunteers,
        description: 'FeatureCollection of volunteers with distance_m, skills, availability, grid and community',
      },
      problems: { 400: 'a parameter out of range' },
      // PostGIS writes the answer: sent on as it is, never parsed
      handle: async ({ viewer, query: { radius_m: radiusM, skill: skills, ...point } }) =>
        jsonText(await nearestVolunteersText(db, { ...point, radiusM, skills }, viewer)),
    }),
    route({
      method: 'GET',
      path: '/api/v1/volunteers/me',
      tags,
      summary: 'The signed-in volunteer: availability, home, current position, open offers and dispatches',
      allow: { roles: ['volunteer'] },
      answer: { schema: volunteerMe, description: 'the volunteer with `dispatches`' },
      handle: ({ viewer }) => me(viewer),
    }),
    route({
      method: 'PATCH',
      path: '/api/v1/volunteers/me',
      tags,
      summary: 'Set own availability (available, off_duty) and current position (null: at home)',
      description: 'Going off duty hands back open offers; a volunteer on a dispatch is busy until it finishes or cancels it.',
      allow: { roles: ['volunteer'] },
      body: selfChange,
      answer: { schema: volunteerMe, description: 'the volunteer' },
      problems: { 400: 'a wrong field', 409: 'busy on a dispatch' },
      handle: async ({ req, viewer, body }) => {
        await changeOwnAvailability(db, memberOf(viewer), actorOf(req), body);
        return me(viewer);
      },
    }),
  ];
}
