import { Router } from 'express';
import type { Config } from '../../config.ts';
import type { Database } from '../../db/database.ts';
import { parseBbox, parseLimit } from '../../http/params.ts';
import { mapLayers, type MapLayer } from './layers.ts';
import { featureCollection } from './queries.ts';

export const MAX_FEATURES = 10_000;

export function mapRoutes(database: Database, config: Pick<Config, 'BASEMAP_TILES' | 'BASEMAP_ATTRIBUTION'>) {
  const router = Router();
  for (const layer of Object.keys(mapLayers) as MapLayer[]) {
    router.get(`/api/v1/${layer}`, async (req, res) => {
      const bbox = parseBbox(req.query.bbox);
      const limit = parseLimit(req.query.limit, { fallback: 100, max: MAX_FEATURES });
      res.type('application/geo+json').send(await featureCollection(database.db, layer, { bbox, limit }));
    });
  }
  // What the web client needs to draw the map: a basemap only where the deployment has one.
  router.get('/api/v1/map/config', (_req, res) => {
    res.json({
      basemap: config.BASEMAP_TILES ? { tiles: [config.BASEMAP_TILES], attribution: config.BASEMAP_ATTRIBUTION ?? '' } : null,
      maxFeatures: MAX_FEATURES,
    });
  });
  return router;
}
