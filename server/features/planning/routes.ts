import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Database } from '../../db/database.ts';
import { parseBody } from '../../http/body.ts';
import { geometrySchema } from '../../http/geojson.ts';
import { onlyParameters, parseId, parseIfMatch, parseTime } from '../../http/params.ts';
import { HttpProblem } from '../../http/problem.ts';
import { grids } from '../grids/resource.ts';
import { runChange, type ChangeKind, type ChangePlan, type ImpactReport } from './change.ts';
import { requirePlanner, suggestDraft } from './draft.ts';
import { gridHistory, gridsAsOf } from './history.ts';
import { carvePlan, drawnShape, gridRow, mergePlan, redrawPlan, splitPlan, versionShape, type GridRow } from './shapes.ts';

const polygon = geometrySchema(['Polygon']);
const change = {
  dryRun: z.boolean().default(false),
  note: z.string().max(2000).optional(),
};
const gridName = z.string().min(1).max(100);
const version = z.number().int().min(1).max(999_999_999);

const redrawBody = z.object({ geometry: polygon, adjustNeighbours: z.boolean().default(false), ...change }).strict();
const splitBody = z.object({ line: geometrySchema(['LineString']), name: gridName.optional(), ...change }).strict();
const mergeBody = z.object({
  grids: z.array(z.object({ id: z.number().int().positive(), version: version.optional() }).strict()).min(2).max(20)
    .refine((g) => new Set(g.map((x) => x.id)).size === g.length, 'each grid once'),
  name: gridName.optional(),
  ...change,
}).strict();
const createBody = z.object({
  geometry: polygon,
  properties: grids.properties.omit({ community_id: true, code: true }).extend({ name: gridName.optional() }).strict().default({}),
  ...change,
}).strict();
const planBody = z.object({
  grids: z.array(z.object({
    id: z.number().int().positive().optional(), version: version.optional(), geometry: polygon.nullable(), name: gridName.optional(),
  }).strict()).min(1).max(200)
    .refine((g) => { const ids = g.flatMap((x) => (x.id === undefined ? [] : [x.id])); return new Set(ids).size === ids.length; }, 'each grid once'),
  ...change,
}).strict();
const revertBody = z.object({ version, adjustNeighbours: z.boolean().default(false), ...change }).strict();
const suggestBody = z.object({ count: z.number().int().min(1).max(50) }).strict();

export const planningBodies = { redrawBody, splitBody, mergeBody, createBody, planBody, revertBody, suggestBody };

/** Answers a planning change: 201 with the first new grid's Location when a save created grids, the grid's ETag when one grid was edited. */
function answer(res: Response, report: ImpactReport, edited?: number) {
  const grid = report.grids.find((g) => g.id === edited);
  if (grid?.version) res.set('ETag', `"${grid.version}"`);
  const created = report.grids.find((g) => g.status === 'created');
  if (report.saved && created) res.status(201).location(`/api/v1/grids/${created.id}`);
  res.json(report);
}

/** A change of one grid (redraw, split, revert): its If-Match, its community, its row. */
async function oneGrid(database: Database, req: Request, kind: ChangeKind, body: { dryRun: boolean; note?: string },
  build: (trx: Parameters<ChangeBuild>[0], grid: GridRow) => Promise<ChangePlan>) {
  const id = parseId(req.params.id);
  const seen = parseIfMatch(req.get('If-Match'));
  const grid = await database.db.transaction().execute((trx) => gridRow(trx, id));
  return runChange(database, req, {
    kind, communityId: grid.community_id, dryRun: body.dryRun, note: body.note,
    versions: new Map(seen === undefined ? [] : [[id, seen]]), required: [id],
    build: async (trx) => build(trx, await gridRow(trx, id)),
  });
}
type ChangeBuild = Parameters<typeof runChange>[2]['build'];

export function planningRoutes(database: Database) {
  return Router()
    .post('/api/v1/grids/merge', async (req, res) => {
      const body = parseBody(mergeBody, req.body);
      const ids = body.grids.map((g) => g.id);
      const { communityId } = await database.db.transaction().execute((trx) => mergePlan(trx, ids, body.name));
      const report = await runChange(database, req, {
        kind: 'merge', communityId, dryRun: body.dryRun, note: body.note,
        versions: new Map(body.grids.flatMap((g) => (g.version === undefined ? [] : [[g.id, g.version] as [number, number]]))), required: ids,
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
      const report = await oneGrid(database, req, 'revert', body, async (trx, grid) =>
        redrawPlan(trx, grid, await versionShape(trx, grid, body.version), body.adjustNeighbours));
      answer(res, report, parseId(req.params.id));
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
      await requirePlanner(database.db, req, communityId);
      const report = await runChange(database, req, {
        kind: 'create', communityId, dryRun: body.dryRun, note: body.note, versions: new Map(), required: [],
        build: async (trx) => carvePlan(trx, communityId, await drawnShape(trx, body.geometry, 'geometry', { communityId, except: [] }), body.properties),
      });
      answer(res, report);
    })
    .post('/api/v1/communities/:id/plan', async (req, res) => {
      const communityId = parseId(req.params.id);
      const body = parseBody(planBody, req.body);
      await requirePlanner(database.db, req, communityId);
      const existing = body.grids.flatMap((g) => (g.id === undefined ? [] : [g.id]));
      const report = await runChange(database, req, {
        kind: 'plan', communityId, dryRun: body.dryRun, note: body.note,
        versions: new Map(body.grids.flatMap((g) => (g.id === undefined || g.version === undefined ? [] : [[g.id, g.version] as [number, number]]))),
        required: existing,
        build: async (trx) => ({
          edits: await Promise.all(body.grids.map(async (g, k) => {
            if (g.id !== undefined && (await gridRow(trx, g.id, `grids[${k}].id`)).community_id !== communityId) {
              throw new HttpProblem(422, 'Grid of another community', `grid ${g.id} is not in community ${communityId}`, { field: `grids[${k}].id` });
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
      res.json(await suggestDraft(database, req, communityId, count));
    });
}
