import type { z } from 'zod';
import { WALL_STAFF } from '../../access/rules.ts';
import { actorOf, type Viewer } from '../../access/viewer.ts';
import type { Database } from '../../db/database.ts';
import {
  codeParameter,
  idParameter,
  limitParameter,
  parameter,
  parseOffset,
  parseQueryValue,
  queryParameter,
  timeParameter,
} from '../../domain/params.ts';
import { invalidParameter } from '../../domain/errors.ts';
import { jsonText, route } from '../../http/route.ts';
import { echo, metrics, monthly, monthlyMatter, wall } from './answers.ts';
import { monthlyBody, monthlyMatters, recordMonthly } from './monthly.ts';
import { echoWall, issueMetrics, wallFeatures, type WallOwner } from './queries.ts';

const DAY_MS = 86_400_000;
const tags = ['problem wall'];
const onIssues = { resource: 'issues', action: 'read' } as const;
const id = idParameter();
const street = codeParameter('street', 9);
const wallQuery = { limit: limitParameter({ fallback: 500, max: 5000 }) };
const wallAnswer = {
  type: 'application/geo+json',
  schema: wall,
  description: 'FeatureCollection of the issues on the wall, oldest due first, with `wall`, `total` and `overdue`',
};
const month = parameter(
  (value) => {
    if (typeof value !== 'string' || !/^(19|20)\d{2}-(0[1-9]|1[0-2])$/.test(value))
      throw invalidParameter('month', 'month must be YYYY-MM, such as 2026-11');
    return value;
  },
  { schema: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}$' }, example: '2026-11' },
);

/**
 * The walls (grid, community, street), the public echo wall, the measures leaders judge the walls by, and one
 * matter a month (server/features/walls/monthly.ts).
 */
export function wallRoutes(database: Database) {
  const { db } = database;
  const showWall = async (viewer: Viewer, owner: WallOwner, limit: number) =>
    jsonText<z.output<typeof wall>>(await wallFeatures(db, viewer, owner, limit));
  /** A wall's route: the three differ in how the path names the wall's owner (a grid or community by id, a street by code). */
  const wallRoute = <const L extends WallOwner['wall'], const K extends string>(
    level: L,
    key: K,
    owner: z.ZodType<number | string | undefined, unknown>,
    summary: string,
  ) =>
    route({
      method: 'GET',
      path: `/api/v1/walls/${level}/:${key}` as const,
      tags,
      summary,
      allow: onIssues,
      params: { [key]: owner } as Record<K, typeof owner>,
      query: wallQuery,
      answer: wallAnswer,
      problems: { 404: `no such ${level}` },
      handle: ({ viewer, params, query }) => showWall(viewer, { wall: level, id: params[key]! }, query.limit),
    });
  return [
    wallRoute('grid', 'id', id, "A grid's wall (子墙)"),
    wallRoute('community', 'id', id, "A community's wall (母墙)"),
    wallRoute(
      'street',
      'code',
      codeParameter('code', 9, { example: '610602001' }),
      "A street's wall: escalated issues and those outside every community",
    ),
    route({
      method: 'GET',
      path: '/api/v1/echo',
      tags,
      summary: 'The echo wall (回音壁): answered issues with their answers and ratings, newest first, without personal data',
      allow: { public: 'the echo wall is published: answers without personal data' },
      query: {
        community: queryParameter('community', 'integer'),
        grid: queryParameter('grid', 'integer'),
        street,
        category: queryParameter('category', 'text'),
        limit: limitParameter({ fallback: 50, max: 500 }),
        offset: parameter((value) => parseOffset(value), { schema: { type: 'integer', minimum: 0 } }),
      },
      answer: { schema: echo, description: '`{total, issues}`' },
      handle: async ({ query }) => jsonText<z.output<typeof echo>>(await echoWall(db, query)),
    }),
    route({
      method: 'GET',
      path: '/api/v1/issues/metrics',
      tags,
      summary: 'Measures of the walls per grid or community over the issues reported in [from, to)',
      description:
        'reported, closed, rejected, open, overdue, closure_rate (closed / not rejected), on_time_rate (resolved by the due time / resolved or past due), rework_rate, extension_rate, median and 90th-percentile hours to close, mean rating. Duplicates count once. The last 30 days unless said.',
      allow: { resource: 'issues', action: 'read', roles: ['admin', 'planner', 'dispatcher', 'leader', 'grid_worker'] },
      query: {
        by: parameter(
          (value) => {
            const by = parseQueryValue(value, 'by', 'text') ?? 'community';
            if (by !== 'grid' && by !== 'community') throw invalidParameter('by', 'by must be grid or community');
            return by;
          },
          { schema: { type: 'string', enum: ['grid', 'community'], default: 'community' } },
        ),
        from: timeParameter('from'),
        to: timeParameter('to'),
        community: queryParameter('community', 'integer'),
        street,
      },
      answer: { schema: metrics, description: '`{by, from, to, areas, total}`' },
      problems: { 400: 'a bad parameter' },
      handle: async ({ viewer, query: { from: since, to: until, ...filter } }) => {
        const to = until ?? new Date();
        const from = since ?? new Date(to.getTime() - 30 * DAY_MS);
        if (from >= to) throw invalidParameter('from', 'from must be before to');
        return jsonText<z.output<typeof metrics>>(await issueMetrics(db, viewer, { ...filter, from, to }));
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/communities/:id/monthly',
      tags,
      summary: "One matter a month (一月一事一议一公开): published ones, and drafts for the community's staff",
      allow: { public: 'one matter a month is published (drafts only to the community staff)' },
      params: { id },
      answer: { schema: monthly, description: '`{community_id, matters}`' },
      // public: a caller without a token reads the published months
      handle: ({ req, params }) => monthlyMatters(db, req.viewer, params.id),
    }),
    route({
      method: 'PUT',
      path: '/api/v1/communities/:id/monthly/:month',
      tags,
      summary: "Record the month's matter, its discussion and outcome; publish it",
      allow: { roles: WALL_STAFF },
      params: { id, month },
      body: monthlyBody,
      answer: { schema: monthlyMatter, description: 'changed' },
      problems: { 201: 'recorded', 400: 'a wrong field' },
      handle: async ({ req, res, viewer, params, body }) => {
        const { created, matter } = await recordMonthly(db, viewer, actorOf(req), params.id, params.month, body);
        if (created) res.status(201);
        return matter;
      },
    }),
  ];
}
