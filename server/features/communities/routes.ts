import { countsFewHomes, homesShown, personalShown, readable } from '../../access/policy.ts';
import type { Database } from '../../db/database.ts';
import { unseen } from '../../access/rows.ts';
import { idParameter } from '../../domain/params.ts';
import { featureResource } from '../../http/feature-resource.ts';
import { jsonText, route } from '../../http/route.ts';
import { organisationTree } from './answers.ts';
import { communityTree } from './queries.ts';
import { communities } from './resource.ts';

export const communityRoutes = (database: Database) => [
  route({
    method: 'GET',
    path: '/api/v1/communities/:id/tree',
    tags: ['communities'],
    summary: 'The Party organisation along the map: community → grids → buildings, with counts',
    allow: { resource: 'communities', action: 'read', roles: ['admin', 'planner', 'dispatcher', 'leader', 'grid_worker'] },
    params: { id: idParameter() },
    answer: { schema: organisationTree, description: 'the tree' },
    problems: { 404: 'no such community' },
    handle: async ({ viewer, params: { id } }) => {
      const tree = await communityTree(database.db, id, {
        visible: readable('communities', communities.place, viewer, 'c'),
        names: personalShown('members', viewer, 'm'),
        homes: homesShown(viewer, 'b'),
        fewHomes: countsFewHomes(viewer),
      });
      if (!tree) throw await unseen(database.db, communities, viewer, id);
      return jsonText(tree);
    },
  }),
  ...featureResource(database, communities),
];
