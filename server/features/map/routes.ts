import { Router } from 'express';
import type { Config } from '../../config.ts';
import { MAX_FEATURES } from '../../http/feature-resource.ts';

/** What the web client needs to draw the map: a basemap only where the deployment has one. */
export function mapRoutes(config: Pick<Config, 'BASEMAP_TILES' | 'BASEMAP_ATTRIBUTION'>) {
  return Router().get('/api/v1/map/config', (_req, res) => {
    res.json({
      basemap: config.BASEMAP_TILES ? { tiles: [config.BASEMAP_TILES], attribution: config.BASEMAP_ATTRIBUTION ?? '' } : null,
      maxFeatures: MAX_FEATURES,
    });
  });
}
