import { Router } from 'express';
import type { Database } from '../../db/database.ts';
import { featureResource } from '../../http/feature-resource.ts';
import { unassigned } from './queries.ts';
import { grids } from './resource.ts';

export function gridRoutes(database: Database) {
  return Router()
    .get('/api/v1/grids/unassigned', async (_req, res) => {
      res.type('application/geo+json').send(await unassigned(database.db));
    })
    .use(featureResource(database, grids));
}
