import type { Request, Response } from 'express';
import type { Transaction } from 'kysely';
import { z } from 'zod';
import { actorOf } from '../../access/viewer.ts';
import type { Database } from '../../db/database.ts';
import type { DB } from '../../db/schema.ts';
import { rowId } from '../../domain/fields.ts';
import { geometrySchema } from '../../domain/geojson.ts';
import { idParameter, ifMatchHeader, parameter, parseTime } from '../../domain/params.ts';
import { DomainError } from '../../domain/errors.ts';
import { jsonText, route } from '../../http/route.ts';
import { grids } from '../grids/resource.ts';
import { gridsThen, gridVersions, impactReport, suggestion } from './answers.ts';
import {
  MIN_GRID_AREA_M2,
  runChange,
  type ChangeKind,
  type ChangePlan,
  type ImpactReport,
  type Planner,
  type SeenVersion,
} from './change.ts';
import { requirePlanner, suggestDraft } from './draft.ts';
import { gridHistory, gridsAsOf, removedGrid } from './history.ts';
import { carvePlan, drawnShape, gridRow, mergePlan, redrawPlan, splitPlan, versionShape, type GridRow } from './shapes.ts';

/** The signed-in planner of a request, as the planning service takes it. */
const plannerOf = (req: Request): Planner => ({ viewer: req.viewer!, actor: actorOf(req) });

/** Vertices a drawn grid may have (a city block's boundary needs tens), and a whole plan. */
const MAX_VERTICES = 5000;
const MAX_PLAN_VERTICES = 50_000;
const vertices = (p: { coordinates: number[][][] } | null) => p?.coordinates.reduce((n, ring) => n + ring.length, 0) ?? 0;

const polygon = geometrySchema(['Polygon']).refine(
  (p) => vertices(p as { coordinates: number[][][] }) <= MAX_VERTICES,
  `a grid has at most ${MAX_VERTICES} vertices`,
);
const version = z.number().int().min(1).max(999_999_999);
const change = {
  dryRun: z.boolean().default(false),
  note: z.string().max(2000).optional(),
};
/** The other grids' versions a dry run showed (its grids[].version): a save refuses with 412 if any changed since. */
const seen = {
  versions: z
    .array(z.object({ id: rowId, version }).strict())
    .max(200)
    .optional(),
};
const gridName = z.string().min(1).max(100);
const onceEach = (ids: number[]) => new Set(ids).size === ids.length;

const redrawBody = z
  .object({ geometry: polygon, adjustNeighbours: z.boolean().default(false), ...change, ...seen })
  .strict()
  .meta({ id: 'RedrawChange' });
const splitBody = z
  .object({ line: geometrySchema(['LineString']), name: gridName.optional(), ...change })
  .strict()
  .meta({ id: 'SplitChange' });
const mergeBody = z
  .object({
    grids: z
      .array(z.object({ id: rowId, version: version.optional() }).strict())
      .min(2)
      .max(20)
      .refine((g) => onceEach(g.map((x) => x.id)), 'each grid once'),
    name: gridName.optional(),
    ...change,
  })
  .strict()
  .meta({ id: 'MergeChange' });
const createBody = z
  .object({
    geometry: polygon,
    properties: grids.properties.omit({ community_id: true, code: true }).extend({ name: gridName.optional() }).strict().default({}),
    ...change,
    ...seen,
  })
  .strict()
  .meta({ id: 'CreateChange' });
const planBody = z
  .object({
    grids: z
      .array(
        z.object({ id: rowId.optional(), version: version.optional(), geometry: polygon.nullable(), name: gridName.optional() }).strict(),
      )
      .min(1)
      .max(200)
      .refine((g) => onceEach(g.flatMap((x) => (x.id === undefined ? [] : [x.id]))), 'each grid once')
      .refine(
        (g) => g.reduce((n, x) => n + vertices(x.geometry as { coordinates: number[][][] } | null), 0) <= MAX_PLAN_VERTICES,
        `a plan has at most ${MAX_PLAN_VERTICES} vertices`,
      ),
    ...change,
  })
  .strict()
  .meta({ id: 'PlanChange' });
const revertBody = z
  .object({ version, adjustNeighbours: z.boolean().default(false), ...change, ...seen })
  .strict()
  .meta({ id: 'RevertChange' });
const suggestBody = z
  .object({ count: z.number().int().min(1).max(50) })
  .strict()
  .meta({ id: 'SuggestGrids' });

const seenVersions = (versions: { id: number; version: number }[] | undefined): SeenVersion[] =>
  (versions ?? []).map((v, k) => ({ ...v, field: `versions[${k}].version` }));

/** A planning change's answer: 201 with the first new grid's Location when a save created grids, the grid's ETag when one grid was edited. */
function answer(res: Response, report: ImpactReport, edited?: number) {
  const grid = report.grids.find((g) => g.id === edited);
  if (grid?.version) res.set('ETag', `"${grid.version}"`);
  const created = report.grids.find((g) => g.status === 'created');
  if (report.saved && created) res.status(201).location(`/api/v1/grids/${created.id}`);
  return report;
}

/** A change of one grid (redraw, split, revert): the version its If-Match names, its community, its row. */
async function oneGrid(
  database: Database,
  planner: Planner,
  grid: { id: number; ifMatch: number | undefined },
  kind: ChangeKind,
  body: { dryRun: boolean; note?: string; versions?: { id: number; version: number }[] },
  build: (trx: Transaction<DB>, grid: GridRow) => Promise<ChangePlan>,
) {
  const { id, ifMatch } = grid;
  const { community_id: communityId } = await database.db.transaction().execute((trx) => gridRow(trx, id));
  return runChange(database, planner, {
    kind,
    communityId,
    dryRun: body.dryRun,
    note: body.note,
    versions: [...(ifMatch === undefined ? [] : [{ id, version: ifMatch, field: 'If-Match' }]), ...seenVersions(body.versions)],
    required: [{ id, field: 'If-Match', idField: 'id' }],
    build: async (trx) => build(trx, await gridRow(trx, id)),
  });
}

// Grid planning: every change answers its impact, tried in a transaction and kept (a save) or rolled back (a dry run)
const tags = ['planning'];
const rules = `Refused (422, with every reason in \`refusals\`; a dry run lists them and answers 200): invalid shapes, grids outside their community, overlaps (without adjustNeighbours), grids falling into parts, grids surrounding others (holes), slivers under ${MIN_GRID_AREA_M2} m². Send \`versions\` (the other grids as a dry run showed them) to refuse a save over their changes (412).`;
const impact = { schema: impactReport, description: 'the impact report' };
const problems = {
  201: 'saved, creating grids (Location: the first)',
  400: 'a wrong field',
  403: "outside the planner's scope",
  404: 'no such grid or community',
  412: 'a grid changed since the version edited',
  422: 'a refused change',
  428: 'saving without If-Match',
};
const headers = { 'If-Match': ifMatchHeader("the grid's ETag; required to save (428 without it, 412 when stale)") };
const params = { id: idParameter() };
/** ?at=: a date-time, or a date meaning the whole of that day (UTC) */
const at = parameter(
  (value) => {
    const time = parseTime(value, 'at');
    return time && { time, wholeDay: /^\d{4}-\d{2}-\d{2}$/.test(String(value)) };
  },
  { schema: { type: 'string' }, description: 'a date-time, or a date (the end of that day, UTC)' },
);

/**
 * Grid planning (boundaries are grids' to change; history and past boundaries are read like grids): redraw, split,
 * merge, carve, revert or replan a community's grids, each weighed by a dry run first.
 */
export function planningRoutes(database: Database) {
  return [
    route({
      method: 'POST',
      path: '/api/v1/grids/merge',
      tags,
      description: rules,
      problems,
      summary: 'Merge adjacent grids into the first; grid workers of the others move to it',
      allow: { resource: 'grids', action: 'delete' },
      body: mergeBody,
      answer: impact,
      handle: async ({ req, res, body }) => {
        const ids = body.grids.map((g) => g.id);
        const { communityId } = await database.db.transaction().execute((trx) => mergePlan(trx, ids, body.name));
        const report = await runChange(database, plannerOf(req), {
          kind: 'merge',
          communityId,
          dryRun: body.dryRun,
          note: body.note,
          versions: body.grids.flatMap((g, k) =>
            g.version === undefined ? [] : [{ id: g.id, version: g.version, field: `grids[${k}].version` }],
          ),
          required: body.grids.map((g, k) => ({ id: g.id, field: `grids[${k}].version`, idField: `grids[${k}].id` })),
          build: async (trx) => (await mergePlan(trx, ids, body.name)).plan,
        });
        return answer(res, report, ids[0]);
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/grids/:id/redraw',
      tags,
      description: rules,
      problems,
      summary: 'Redraw a grid; adjustNeighbours moves the shared boundaries',
      allow: { resource: 'grids', action: 'update' },
      params,
      headers,
      body: redrawBody,
      answer: impact,
      handle: async ({ req, res, params: { id }, body, headers: { 'If-Match': ifMatch } }) => {
        const report = await oneGrid(database, plannerOf(req), { id, ifMatch }, 'redraw', body, async (trx, grid) => {
          const hex = await drawnShape(trx, body.geometry, 'geometry', { communityId: grid.community_id, except: [grid.id] });
          return redrawPlan(trx, grid, hex, body.adjustNeighbours);
        });
        return answer(res, report, id);
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/grids/:id/split',
      tags,
      description: rules,
      problems,
      summary: 'Split a grid along a line: the larger part keeps it, the others are new grids with the next codes',
      allow: { resource: 'grids', action: 'create' },
      params,
      headers,
      body: splitBody,
      answer: impact,
      handle: async ({ req, res, params: { id }, body, headers: { 'If-Match': ifMatch } }) => {
        const report = await oneGrid(database, plannerOf(req), { id, ifMatch }, 'split', body, (trx, grid) =>
          splitPlan(trx, grid, body.line, body.name),
        );
        return answer(res, report, id);
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/grids/:id/revert',
      tags,
      description: rules,
      problems,
      summary: 'Restore the boundary a grid had at an earlier version',
      allow: { resource: 'grids', action: 'update' },
      params,
      headers,
      body: revertBody,
      answer: impact,
      handle: async ({ req, res, params: { id }, body, headers: { 'If-Match': ifMatch } }) => {
        // a grid a merge or a carve removed comes back under its own id and code, carved out of the grids that took it
        const removed = await removedGrid(database.db, id);
        const report = removed
          ? await runChange(database, plannerOf(req), {
              kind: 'revert',
              communityId: removed.community_id,
              dryRun: body.dryRun,
              note: body.note,
              versions: seenVersions(body.versions),
              required: [],
              build: async (trx) =>
                carvePlan(trx, removed.community_id, {
                  id,
                  restore: { code: removed.code },
                  name: removed.name,
                  properties: removed.properties,
                  geom: await versionShape(trx, removed, body.version),
                }),
            })
          : await oneGrid(database, plannerOf(req), { id, ifMatch }, 'revert', body, async (trx, grid) =>
              redrawPlan(trx, grid, await versionShape(trx, grid, body.version), body.adjustNeighbours),
            );
        return answer(res, report, id);
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/grids/:id/history',
      tags,
      summary: 'Every saved change of the grid, newest first: version, who, when, kind, note, geometry before and after, impact',
      allow: { resource: 'grids', action: 'read' },
      params,
      query: {},
      answer: { schema: gridVersions, description: '`{grid, versions}`' },
      problems: { 404: 'no such grid' },
      handle: ({ viewer, params: { id } }) => gridHistory(database.db, viewer, id),
    }),
    route({
      method: 'GET',
      path: '/api/v1/communities/:id/grids',
      tags,
      summary: "The community's grids as they stood at a time (now without `at`)",
      allow: { resource: 'grids', action: 'read' },
      params: { id: idParameter('id', { example: 1 }) },
      query: { at },
      answer: { type: 'application/geo+json', schema: gridsThen, description: 'the grids then: id, code, name, version, since' },
      problems: { 400: 'a bad time', 404: 'no such community' },
      handle: async ({ viewer, params: { id }, query }) => jsonText(await gridsAsOf(database.db, viewer, id, query.at)),
    }),
    route({
      method: 'POST',
      path: '/api/v1/communities/:id/grids',
      tags,
      description: rules,
      problems,
      summary: 'Draw a new grid in the community, carved out of the grids it covers',
      allow: { resource: 'grids', action: 'create' },
      params,
      body: createBody,
      answer: impact,
      handle: async ({ req, res, viewer, params: { id: communityId }, body }) => {
        await requirePlanner(database.db, viewer, communityId);
        const { name, ...properties } = body.properties as { name?: string };
        const report = await runChange(database, plannerOf(req), {
          kind: 'create',
          communityId,
          dryRun: body.dryRun,
          note: body.note,
          versions: seenVersions(body.versions),
          required: [],
          build: async (trx) =>
            carvePlan(trx, communityId, {
              name,
              properties,
              geom: await drawnShape(trx, body.geometry, 'geometry', { communityId, except: [] }),
            }),
        });
        return answer(res, report);
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/communities/:id/plan',
      tags,
      description: rules,
      problems,
      summary: 'Set many boundaries at once (a suggested draft): listed grids get their geometry, null removes, no id creates',
      allow: { resource: 'grids', action: 'update' },
      params,
      body: planBody,
      answer: impact,
      handle: async ({ req, res, viewer, params: { id: communityId }, body }) => {
        await requirePlanner(database.db, viewer, communityId);
        const report = await runChange(database, plannerOf(req), {
          kind: 'plan',
          communityId,
          dryRun: body.dryRun,
          note: body.note,
          versions: body.grids.flatMap((g, k) =>
            g.id === undefined || g.version === undefined ? [] : [{ id: g.id, version: g.version, field: `grids[${k}].version` }],
          ),
          required: body.grids.flatMap((g, k) =>
            g.id === undefined ? [] : [{ id: g.id, field: `grids[${k}].version`, idField: `grids[${k}].id` }],
          ),
          build: async (trx) => ({
            edits: await Promise.all(
              body.grids.map(async (g, k) => {
                if (g.id !== undefined && (await gridRow(trx, g.id, `grids[${k}].id`)).community_id !== communityId) {
                  throw new DomainError('planning.grid_of_another_community', `grid ${g.id} is not in community ${communityId}`, {
                    field: `grids[${k}].id`,
                    grid: g.id,
                  });
                }
                return { id: g.id, name: g.name, geom: g.geometry && (await drawnShape(trx, g.geometry, `grids[${k}].geometry`)) };
              }),
            ),
          }),
        });
        return answer(res, report);
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/communities/:id/suggest-grids',
      tags,
      summary: 'Suggest `count` contiguous, compact grids with households as even as possible: a draft, never saved',
      allow: { resource: 'grids', action: 'update' },
      params,
      body: suggestBody,
      answer: {
        schema: suggestion,
        description:
          '`{draft: FeatureCollection (grid_id, version, code, name, households, buildings), households: {mean, min, max, max_deviation_pct}, elapsed_ms, impact}`',
      },
      problems: { 400: 'a wrong count', 403: "outside the planner's scope", 404: 'no such community', 422: 'a community in several parts' },
      handle: ({ req, params: { id }, body: { count } }) => suggestDraft(database, plannerOf(req), id, count),
    }),
  ];
}
