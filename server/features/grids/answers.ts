import { z } from 'zod';
import { answerGeometry } from '../../domain/geojson.ts';

/** GET /api/v1/grids/unassigned: the buildings, members and issues no grid covers, each with its layer. */
export const unassignedRows = z.object({
  type: z.literal('FeatureCollection'),
  numberReturned: z.number(),
  /** rows found, by layer (only the layers the viewer reads) */
  counts: z.record(z.string(), z.number()),
  features: z.array(
    z.object({
      type: z.literal('Feature'),
      /** the layer and the row's id: buildings/12 */
      id: z.string(),
      // a home the viewer may not see has none
      geometry: answerGeometry.nullable(),
      properties: z.looseObject({ id: z.number(), layer: z.enum(['buildings', 'members', 'issues']) }),
    }),
  ),
});
