import { Router, type Request, type Response } from 'express';
import type { Database } from '../../db/database.ts';
import { onlyParameters, parseId, parseLimit, parseOffset, parseQueryValue, parseTime } from '../../domain/params.ts';
import { invalidParameter } from '../../domain/errors.ts';
import { echoWall, issueMetrics, wallFeatures } from './queries.ts';

const DAY_MS = 86_400_000;

/** The walls (grid, community, street), the public echo wall, and the measures leaders judge the walls by. */
export function wallRoutes(database: Database) {
  const { db } = database;
  const router = Router();

  const wall = (level: 'grid' | 'community' | 'street') => async (req: Request, res: Response) => {
    onlyParameters(req, ['limit']);
    const id = level === 'street' ? String(req.params.code) : parseId(req.params.id);
    if (level === 'street' && !/^\d{9}$/.test(id as string)) throw invalidParameter('code', 'a street code is 9 digits');
    const body = await wallFeatures(db, req.viewer!, { wall: level, id }, parseLimit(req.query.limit, { fallback: 500, max: 5000 }));
    res.type('application/geo+json').send(body);
  };
  router.get('/api/v1/walls/grid/:id', wall('grid'));
  router.get('/api/v1/walls/community/:id', wall('community'));
  router.get('/api/v1/walls/street/:code', wall('street'));

  router.get('/api/v1/echo', async (req, res) => {
    onlyParameters(req, ['community', 'grid', 'street', 'category', 'limit', 'offset']);
    const street = parseQueryValue(req.query.street, 'street', 'text') as string | undefined;
    if (street !== undefined && !/^\d{9}$/.test(street)) throw invalidParameter('street', 'a street code is 9 digits');
    const body = await echoWall(db, {
      community: parseQueryValue(req.query.community, 'community', 'integer') as number | undefined,
      grid: parseQueryValue(req.query.grid, 'grid', 'integer') as number | undefined,
      street,
      category: parseQueryValue(req.query.category, 'category', 'text') as string | undefined,
      limit: parseLimit(req.query.limit, { fallback: 50, max: 500 }),
      offset: parseOffset(req.query.offset),
    });
    res.type('application/json').send(body);
  });

  router.get('/api/v1/issues/metrics', async (req, res) => {
    onlyParameters(req, ['by', 'from', 'to', 'community', 'street']);
    const by = parseQueryValue(req.query.by, 'by', 'text') ?? 'community';
    if (by !== 'grid' && by !== 'community') throw invalidParameter('by', 'by must be grid or community');
    const to = parseTime(req.query.to, 'to') ?? new Date();
    const from = parseTime(req.query.from, 'from') ?? new Date(to.getTime() - 30 * DAY_MS);
    if (from >= to) throw invalidParameter('from', 'from must be before to');
    const street = parseQueryValue(req.query.street, 'street', 'text') as string | undefined;
    if (street !== undefined && !/^\d{9}$/.test(street)) throw invalidParameter('street', 'a street code is 9 digits');
    const community = parseQueryValue(req.query.community, 'community', 'integer') as number | undefined;
    res.type('application/json').send(await issueMetrics(db, req.viewer!, { by, from, to, community, street }));
  });

  return router;
}
