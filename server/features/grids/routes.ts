import { Router } from 'express';
import type { Database } from '../../db/database.ts';
import { mayRead } from '../../access/policy.ts';
import { visibleLayer } from '../../access/rows.ts';
import { featureResource } from '../../http/feature-resource.ts';
import { buildings } from '../buildings/resource.ts';
import { issues } from '../issues/resource.ts';
import { members } from '../members/resource.ts';
import { unassigned } from './queries.ts';
import { grids } from './resource.ts';

export function gridRoutes(database: Database) {
  return Router()
    .get('/api/v1/grids/unassigned', async (req, res) => {
      const viewer = req.viewer!;
      const layers = [buildings, members, issues].filter((def) => mayRead(def.name, viewer.role))
        .map((def) => ({ name: def.name, source: visibleLayer(def, viewer).source }));
      res.type('application/geo+json').send(await unassigned(database.db, layers));
    })
    .use(featureResource(database, grids));
}
