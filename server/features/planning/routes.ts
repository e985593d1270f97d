import { Router, type Request, type Response } from 'express';
import type { Transaction } from 'kysely';
import { z } from 'zod';
import { actorOf } from '../../access/viewer.ts';
import type { Database } from '../../db/database.ts';
import type { DB } from '../../db/schema.ts';
import { parseBody } from '../../domain/body.ts';
import { rowId } from '../../domain/fields.ts';
import { geometrySchema } from '../../domain/geojson.ts';
import { onlyParameters, parseId, parseIfMatch, parseTime } from '../../domain/params.ts';
import { DomainError } from '../../domain/errors.ts';
import { grids } from '../grids/resource.ts';
import { runChange, type ChangeKind, type ChangePlan, type ImpactReport, type Planner, type SeenVersion } from './change.ts';
import { requirePlanner, suggestDraft } from './draft.ts';
import { gridHistory, gridsAsOf, removedGrid } from './history.ts';
import { carvePlan, drawnShape, gridRow, mergePlan, redrawPlan, splitPlan, versionShape, type GridRow } from './shapes.ts';

/** Vertices a drawn grid may have (a city block's boundary needs tens), and a whole plan. */
/** The signed-in planner of a request, as the planning service takes it. */
const plannerOf = (req: Request): Planner => ({ viewer: req.viewer!, actor: actorOf(req) });

const MAX_VERTICES = 5000;
const MAX_PLAN_VERTICES = 50_000;
const vertices = (p: { coordinates: number[][][] } | null) => p?.coordinates.reduce((n, ring) => n + ring.length, 0) ?? 0;

const polygon = geometrySchema(['Polygon'])
  .refine((p) => vertices(p as { coordinates: number[][][] }) <= MAX_VERTICES, `a grid has at most ${MAX_VERTICES} vertices`);
const version = z.number().int().min(1).max(999_999_999);
const change = {
  dryRun: z.boolean().default(false),
  note: z.string().max(2000).optional(),
};
/** The other grids' versions a dry run showed (its grids[].version): a save refuses with 412 if any changed since. */
const seen = { versions: z.array(z.object({ id: rowId, version }).strict()).max(200).optional() };
const gridName = z.string().min(1).max(100);
const onceEach = (ids: number[]) => new Set(ids).size === ids.length;

const redrawBody = z.object({ geometry: polygon, adjustNeighbours: z.boolean().default(false), ...change, ...seen }).strict();
const splitBody = z.object({ line: geometrySchema(['LineString']), name: gridName.optional(), ...change }).strict();
const mergeBody = z.object({
  grids: z.array(z.object({ id: rowId, version: version.optional() }).strict()).min(2).max(20)
    .refine((g) => onceEach(g.map((x) => x.id)), 'each grid once'),
  name: gridName.optional(),
  ...change,
}).strict();
const createBody = z.object({
  geometry: polygon,
  properties: grids.properties.omit({ community_id: true, code: true }).extend({ name: gridName.optional() }).strict().default({}),
  ...change,
  ...seen,
}).strict();
const planBody = z.object({
  grids: z.array(z.object({ id: rowId.optional(), version: version.optional(), geometry: polygon.nullable(), name: gridName.optional() }).strict())
    .min(1).max(200)
    .refine((g) => onceEach(g.flatMap((x) => (x.id === undefined ? [] : [x.id]))), 'each grid once')
    .refine((g) => g.reduce((n, x) => n + vertices(x.geometry as { coordinates: number[][][] } | null), 0) <= MAX_PLAN_VERTICES,
      `a plan has at most ${MAX_PLAN_VERTICES} vertices`),
  ...change,
}).strict();
const revertBody = z.object({ version, adjustNeighbours: z.boolean().default(false), ...change, ...seen }).strict();
const suggestBody = z.object({ count: z.number().int().min(1).max(50) }).strict();

export const planningBodies = { redrawBody, splitBody, mergeBody, createBody, planBody, revertBody, suggestBody };

const seenVersions = (versions: { id: number; version: number }[] | undefined): SeenVersion[] =>
  (versions ?? []).map((v, k) => ({ ...v, field: `versions[${k}].version` }));

/** Answers a planning change: 201 with the first new grid's Location when a save created grids, the grid's ETag when one grid was edited. */
function answer(res: Response, report: ImpactReport, edited?: number) {
  const grid = report.grids.find((g) => g.id === edited);
  if (grid?.version) res.set('ETag', `"${grid.version}"`);
  const created = report.grids.find((g) => g.status === 'created');
  if (report.saved && created) res.status(201).location(`/api/v1/grids/${created.id}`);
  res.json(report);
}

/** A change of one grid (redraw, split, revert): its If-Match, its community, its row. */
async function oneGrid(database: Database, req: Request, kind: ChangeKind, body: { dryRun: boolean; note?: string; versions?: { id: number; version: number }[] },
  build: (trx: Transaction<DB>, grid: GridRow) => Promise<ChangePlan>) {
  const id = parseId(req.params.id);
  const ifMatch = parseIfMatch(req.get('If-Match'));
  const grid = await database.db.transaction().execute((trx) => gridRow(trx, id));
  return runChange(database, plannerOf(req), {
    kind, communityId: grid.community_id, dryRun: body.dryRun, note: body.note,
    versions: [...(ifMatch === undefined ? [] : [{ id, version: ifMatch, field: 'If-Match' }]), ...seenVersions(body.versions)],
    required: [{ id, field: 'If-Match', idField: 'id' }],
    build: async (trx) => build(trx, await gridRow(trx, id)),
  });
}

export function planningRoutes(database: Database) {
  return Router()
    .post('/api/v1/grids/merge', async (req, res) => {
      const body = parseBody(mergeBody, req.body);
      const ids = body.grids.map((g) => g.id);
      const { communityId } = await database.db.transaction().execute((trx) => mergePlan(trx, ids, body.name));
      const report = await runChange(database, plannerOf(req), {
        kind: 'merge', communityId, dryRun: body.dryRun, note: body.note,
        versions: body.grids.flatMap((g, k) => (g.version === undefined ? [] : [{ id: g.id, version: g.version, field: `grids[${k}].version` }])),
        required: body.grids.map((g, k) => ({ id: g.id, field: `grids[${k}].version`, idField: `grids[${k}].id` })),
        build: async (trx) => (await mergePlan(trx, ids, body.name)).plan,
      });
      answer(res, report, ids[0]);
    })
    .post('/api/v1/grids/:id/redraw', async (req, res) => {
      const body = parseBody(redrawBody, req.body);
      const report = await oneGrid(database, req, 'redraw', body, async (trx, grid) => {
        const hex = await drawnShape(trx, body.geometry, 'geometry', { communityId: grid.community_id, except: [grid.id] });
        return redrawPlan(trx, grid, hex, body.adjustNeighbours);
      });
      answer(res, report, parseId(req.params.id));
    })
    .post('/api/v1/grids/:id/split', async (req, res) => {
      const body = parseBody(splitBody, req.body);
      const report = await oneGrid(database, req, 'split', body, (trx, grid) => splitPlan(trx, grid, body.line, body.name));
      answer(res, report, parseId(req.params.id));
    })
    .post('/api/v1/grids/:id/revert', async (req, res) => {
      const body = parseBody(revertBody, req.body);
      const id = parseId(req.params.id);
      // a grid a merge or a carve removed comes back under its own id and code, carved out of the grids that took it
      const removed = await removedGrid(database.db, id);
      const report = removed
        ? await runChange(database, plannerOf(req), {
          kind: 'revert', communityId: removed.community_id, dryRun: body.dryRun, note: body.note, versions: seenVersions(body.versions), required: [],
          build: async (trx) => carvePlan(trx, removed.community_id, {
            id, restore: { code: removed.code }, name: removed.name, properties: removed.properties, geom: await versionShape(trx, removed, body.version),
          }),
        })
        : await oneGrid(database, req, 'revert', body, async (trx, grid) =>
          redrawPlan(trx, grid, await versionShape(trx, grid, body.version), body.adjustNeighbours));
      answer(res, report, id);
    })
    .get('/api/v1/grids/:id/history', async (req, res) => {
      onlyParameters(req, []);
      res.json(await gridHistory(database.db, req.viewer!, parseId(req.params.id)));
    })
    .get('/api/v1/communities/:id/grids', async (req, res) => {
      onlyParameters(req, ['at']);
      const time = parseTime(req.query.at, 'at');
      const at = time && { time, wholeDay: /^\d{4}-\d{2}-\d{2}$/.test(String(req.query.at)) };
      res.type('application/geo+json').send(await gridsAsOf(database.db, req.viewer!, parseId(req.params.id), at));
    })
    .post('/api/v1/communities/:id/grids', async (req, res) => {
      const communityId = parseId(req.params.id);
      const body = parseBody(createBody, req.body);
      await requirePlanner(database.db, req.viewer!, communityId);
      const { name, ...properties } = body.properties as { name?: string };
      const report = await runChange(database, plannerOf(req), {
        kind: 'create', communityId, dryRun: body.dryRun, note: body.note, versions: seenVersions(body.versions), required: [],
        build: async (trx) => carvePlan(trx, communityId, {
          name, properties, geom: await drawnShape(trx, body.geometry, 'geometry', { communityId, except: [] }),
        }),
      });
      answer(res, report);
    })
    .post('/api/v1/communities/:id/plan', async (req, res) => {
      const communityId = parseId(req.params.id);
      const body = parseBody(planBody, req.body);
      await requirePlanner(database.db, req.viewer!, communityId);
      const report = await runChange(database, plannerOf(req), {
        kind: 'plan', communityId, dryRun: body.dryRun, note: body.note,
        versions: body.grids.flatMap((g, k) => (g.id === undefined || g.version === undefined ? [] : [{ id: g.id, version: g.version, field: `grids[${k}].version` }])),
        required: body.grids.flatMap((g, k) => (g.id === undefined ? [] : [{ id: g.id, field: `grids[${k}].version`, idField: `grids[${k}].id` }])),
        build: async (trx) => ({
          edits: await Promise.all(body.grids.map(async (g, k) => {
            if (g.id !== undefined && (await gridRow(trx, g.id, `grids[${k}].id`)).community_id !== communityId) {
              throw new DomainError('planning.grid_of_another_community', `grid ${g.id} is not in community ${communityId}`, { field: `grids[${k}].id`, grid: g.id });
            }
            return { id: g.id, name: g.name, geom: g.geometry && await drawnShape(trx, g.geometry, `grids[${k}].geometry`) };
          })),
        }),
      });
      answer(res, report);
    })
    .post('/api/v1/communities/:id/suggest-grids', async (req, res) => {
      const communityId = parseId(req.params.id);
      const { count } = parseBody(suggestBody, req.body);
      res.json(await suggestDraft(database, plannerOf(req), communityId, count));
    });
}
