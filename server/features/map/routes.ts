import { z } from 'zod';
import { tileUrls, type Config } from '../../config.ts';
import { MAX_FEATURES } from '../../access/resource.ts';
import { route } from '../../http/route.ts';

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

const mapConfig = z.object({
  /** tiles and labels: URL templates, one per tile server; crs: the datum the tiles are drawn in */
  basemap: z
    .object({
      tiles: z.array(z.string()),
      labels: z.array(z.string()).nullable(),
      crs: z.enum(['wgs84', 'gcj02']),
      attribution: z.string(),
    })
    .nullable(),
  maxFeatures: z.number(),
});

/** What the web client needs to draw the map: a basemap only where the deployment has one. */
export function mapRoutes(config: BasemapConfig) {
  const basemap = basemapOf(config);
  return [
    route({
      method: 'GET',
      path: '/api/v1/map/config',
      tags: ['service'],
      summary: 'What the web map needs (the configured basemap)',
      allow: { roles: 'any' },
      answer: { schema: mapConfig, description: 'map configuration' },
      handle: () => ({ basemap, maxFeatures: MAX_FEATURES }),
    }),
  ];
}
