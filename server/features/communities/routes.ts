import { Router } from 'express';
import { countsFewHomes, homesShown, personalShown, readable } from '../../access/policy.ts';
import type { Database } from '../../db/database.ts';
import { unseen } from '../../access/rows.ts';
import { featureResource } from '../../http/feature-resource.ts';
import { parseId } from '../../domain/params.ts';
import { communityTree } from './queries.ts';
import { communities } from './resource.ts';

export function communityRoutes(database: Database) {
  return Router()
    .get('/api/v1/communities/:id/tree', async (req, res) => {
      const id = parseId(req.params.id);
      const viewer = req.viewer!;
      const tree = await communityTree(database.db, id, {
        visible: readable('communities', communities.place, viewer, 'c'),
        names: personalShown('members', viewer, 'm'),
        homes: homesShown(viewer, 'b'),
        fewHomes: countsFewHomes(viewer),
      });
      if (!tree) throw await unseen(database.db, communities, viewer, id);
      res.type('application/json').send(tree);
    })
    .use(featureResource(database, communities));
}
