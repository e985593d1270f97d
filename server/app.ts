import { existsSync } from 'node:fs';
import { join } from 'node:path';
import cors from 'cors';
import express from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { ROOT } from './paths.ts';
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from '../data/demo-accounts.ts';
import { accessGuard } from './http/guard.ts';
import { requestLog } from './http/request-log.ts';
import { apiRoutes } from './http/api.ts';
import { routerOf, rulesOf } from './http/route.ts';
import { basemapOf } from './features/map/routes.ts';
import { notFound, problemHandler } from './http/problem.ts';
import { setServiceArea } from './domain/geojson.ts';

export const WEB_DIST = join(ROOT, 'dist/web');
/** What the server answers itself: an unknown path under these is a 404 problem, never the web client's page. */
const SERVER_PATHS = ['/api', '/ogc', '/tiles', '/open311'];

export function createApp({ database, config, logger }: { database: Database; config: Config; logger: Logger }) {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (config.TRUST_PROXY) app.set('trust proxy', config.TRUST_PROXY);
  setServiceArea(config.SERVICE_AREA);
  app.locals.publicUrl = config.PUBLIC_URL;
  app.use(securityHeaders(config));
  // Browsers on other origins are refused unless CORS_ORIGINS names them.
  if (config.CORS_ORIGINS)
    app.use(cors({ origin: config.CORS_ORIGINS.split(','), maxAge: 600, exposedHeaders: ['ETag', 'Location', 'X-Request-Id'] }));
  app.use(requestLog(app, logger));

  const routes = apiRoutes(database, config, { password: DEMO_PASSWORD, accounts: DEMO_ACCOUNTS });
  // Every API request is authenticated and checked against its route's access rule before any route runs.
  app.use(accessGuard(database, rulesOf(routes)));
  app.use(routerOf(routes, { checkAnswers: config.GRIDMAP_CHECK_ANSWERS === 'on' }));

  if (existsSync(WEB_DIST)) {
    app.use(express.static(WEB_DIST, { index: 'index.html', maxAge: '1h', setHeaders: noCacheForIndex }));
    // the web client's addresses (/map/grids/12, /issues/7 …) are its page, whose router opens the view; like
    // the static files, this is no route of the API's (those are the guard's, each with its rule)
    app.use((req, res, next) => {
      if ((req.method !== 'GET' && req.method !== 'HEAD') || req.path.includes('.')) return next();
      if (SERVER_PATHS.some((prefix) => req.path === prefix || req.path.startsWith(`${prefix}/`))) return next();
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile('index.html', { root: WEB_DIST });
    });
  } else {
    logger.warn(`web client not built (${WEB_DIST} missing): run npm run build:web`);
  }

  app.use(notFound);
  app.use(problemHandler);
  return app;
}

/**
 * Helmet's headers, with a content security policy that lets the map work: its worker, tile images as
 * blobs, and the basemap's origin when one is configured.
 */
function securityHeaders(config: Config) {
  const basemap = basemapOf(config);
  // every tile server the map may fetch from: each subdomain's, the labels' too
  const servers = [
    ...new Set([...(basemap?.tiles ?? []), ...(basemap?.labels ?? [])].map((url) => new URL(url.replace(/\{[zxy]\}/g, '0')).origin)),
  ];
  return helmet({
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'img-src': ["'self'", 'data:', 'blob:', ...servers],
        'connect-src': ["'self'", ...servers],
        'worker-src': ["'self'", 'blob:'],
        'style-src': ["'self'", "'unsafe-inline'"],
        'upgrade-insecure-requests': null,
      },
    },
  });
}

// Hashed assets can be cached; the page that names them must be fetched fresh after a deploy.
function noCacheForIndex(res: express.Response, path: string) {
  if (path.endsWith('index.html')) res.setHeader('Cache-Control', 'no-cache');
}
