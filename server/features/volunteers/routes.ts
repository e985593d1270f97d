import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import { actorOf, type Viewer } from '../../access/viewer.ts';
import type { Database } from '../../db/database.ts';
import { parseBody } from '../../domain/body.ts';
import { geometrySchema } from '../../domain/geojson.ts';
import { parseId, parseLimit, parsePoint } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import { changeOwnAvailability, listDispatches } from '../dispatch/service.ts';
import { SKILLS } from '../members/resource.ts';
import { nearestVolunteersText, type NearestQuery } from './nearest.ts';

const NEAREST_PARAMETERS = ['lon', 'lat', 'k', 'radius_m', 'skill', 'community'];
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

export function parseNearest(query: Record<string, unknown>): NearestQuery {
  const unknown = Object.keys(query).find((key) => !NEAREST_PARAMETERS.includes(key));
  if (unknown) throw invalidParameter(unknown, `${unknown} is not a parameter of nearest; use ${NEAREST_PARAMETERS.join(', ')}`);
  for (const key of ['lon', 'lat', 'k', 'radius_m', 'community']) {
    if (Array.isArray(query[key])) throw invalidParameter(key, `${key} must be given once`);
  }
  let radiusM: number | undefined;
  if (query.radius_m !== undefined) {
    radiusM = typeof query.radius_m === 'string' && query.radius_m.trim() !== '' ? Number(query.radius_m) : NaN;
    if (!(radiusM > 0 && radiusM <= MAX_RADIUS_M)) throw invalidParameter('radius_m', `radius_m must be a number of metres above 0 and at most ${MAX_RADIUS_M}`);
  }
  return {
    ...parsePoint(query),
    k: parseLimit(query.k, { fallback: 5, max: MAX_K }, 'k'),
    radiusM,
    skills: parseSkills(query.skill),
    community: query.community === undefined ? undefined : parseId(query.community, 'community'),
  };
}

/** What a volunteer changes about itself: whether it can be asked, and where it is now (null: at home). */
export const selfChange = z.object({
  availability: z.enum(['available', 'off_duty']).optional(),
  current_point: geometrySchema(['Point']).nullable().optional(),
}).strict().refine((c) => c.availability !== undefined || c.current_point !== undefined, { message: 'give availability and/or current_point' });

/**
 * GET /volunteers/nearest for dispatchers; GET and PATCH /volunteers/me for a volunteer: its availability,
 * its position, and its open offers and assignments.
 */
export function volunteerRoutes(database: Database) {
  const { db } = database;
  const router = Router();

  router.get('/api/v1/volunteers/nearest', async (req, res) => {
    const query = parseNearest(req.query as Record<string, unknown>);
    res.type('application/geo+json').send(await nearestVolunteersText(db, query, req.viewer!));
  });

  /** The volunteer record of a volunteer's account: 409 when the account has none. */
  function memberOf(viewer: Viewer) {
    if (viewer.memberId === null) throw new DomainError('volunteer.no_member_record', 'this account is not linked to a volunteer (member_id)', { field: 'member_id' });
    return viewer.memberId;
  }

  /** The volunteer as it sees itself: availability, home, position now, and its open offers and dispatches. */
  async function me(viewer: Viewer) {
    const { rows: [member] } = await sql<Record<string, unknown>>`
      select id, name, phone, skills, availability, grid_id, community_id, version,
             ST_AsGeoJSON(geom, 7)::json as home, ST_AsGeoJSON(current_point, 7)::json as current_point, current_point_at
      from members where id = ${memberOf(viewer)}`.execute(db);
    if (!member) throw new DomainError('member.not_found', `member ${viewer.memberId} no longer exists`, { field: 'member_id' });
    return { ...member, dispatches: await listDispatches(db, viewer, { all: false, limit: 100 }) };
  }

  router.get('/api/v1/volunteers/me', async (req, res) => {
    res.json(await me(req.viewer!));
  });

  router.patch('/api/v1/volunteers/me', async (req, res) => {
    const change = parseBody(selfChange, req.body);
    await changeOwnAvailability(db, memberOf(req.viewer!), actorOf(req), change);
    res.json(await me(req.viewer!));
  });

  return router;
}
