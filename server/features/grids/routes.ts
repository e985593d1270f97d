import type { Database } from '../../db/database.ts';
import { mayRead } from '../../access/policy.ts';
import { visibleLayer } from '../../access/rows.ts';
import { featureResource } from '../../http/feature-resource.ts';
import { jsonText, route } from '../../http/route.ts';
import { buildings } from '../buildings/resource.ts';
import { issues } from '../issues/resource.ts';
import { members } from '../members/resource.ts';
import { unassignedRows } from './answers.ts';
import { unassigned } from './queries.ts';
import { grids } from './resource.ts';

export const gridRoutes = (database: Database) => [
  // before /grids/:id, which would take "unassigned" for an id
  route({
    method: 'GET',
    path: '/api/v1/grids/unassigned',
    tags: ['grids'],
    summary: 'Buildings, members and issues that no grid covers',
    allow: { resource: 'buildings', action: 'read' },
    answer: {
      type: 'application/geo+json',
      schema: unassignedRows,
      description: 'a FeatureCollection; each feature has a `layer` property',
    },
    handle: async ({ viewer }) => {
      const layers = [buildings, members, issues]
        .filter((def) => mayRead(def.name, viewer.role))
        .map((def) => ({ name: def.name, source: visibleLayer(def, viewer).source }));
      return jsonText(await unassigned(database.db, layers));
    },
  }),
  ...featureResource(database, grids),
];
