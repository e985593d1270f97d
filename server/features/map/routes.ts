import { Router } from 'express';
import { tileUrls, type Config } from '../../config.ts';
import { MAX_FEATURES } from '../../access/resource.ts';

type BasemapConfig = Pick<Config, 'BASEMAP_TILES' | 'BASEMAP_LABELS' | 'BASEMAP_SUBDOMAINS' | 'BASEMAP_CRS' | 'BASEMAP_ATTRIBUTION'>;

/** The basemap as the web draws it: each template as its list of URLs, and the datum its tiles are in. */
export function basemapOf(config: BasemapConfig) {
  if (!config.BASEMAP_TILES) return null;
  return {
    tiles: tileUrls(config.BASEMAP_TILES, config.BASEMAP_SUBDOMAINS),
    labels: config.BASEMAP_LABELS ? tileUrls(config.BASEMAP_LABELS, config.BASEMAP_SUBDOMAINS) : null,
    crs: config.BASEMAP_CRS,
    attribution: config.BASEMAP_ATTRIBUTION ?? '',
  };
}

/** What the web client needs to draw the map: a basemap only where the deployment has one. */
export function mapRoutes(config: BasemapConfig) {
  const basemap = basemapOf(config);
  return Router().get('/api/v1/map/config', (_req, res) => {
    res.json({ basemap, maxFeatures: MAX_FEATURES });
  });
}
