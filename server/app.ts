import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { healthRoutes } from './features/health/routes.ts';
import { mapRoutes } from './features/map/routes.ts';
import { notFound, problemHandler } from './http/problem.ts';

export const WEB_DIST = fileURLToPath(new URL('../dist/web/', import.meta.url));

export function createApp({ database, config, logger }: { database: Database; config: Config; logger: Logger }) {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && /^[\w-]{1,64}$/.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
    }),
  );

  app.use(healthRoutes(database));
  app.use(mapRoutes(database, config));

  if (existsSync(WEB_DIST)) {
    app.use(express.static(WEB_DIST, { index: 'index.html', maxAge: '1h', setHeaders: noCacheForIndex }));
  } else {
    logger.warn(`web client not built (${WEB_DIST} missing): run npm run build:web`);
  }

  app.use(notFound);
  app.use(problemHandler);
  return app;
}

// Hashed assets can be cached; the page that names them must be fetched fresh after a deploy.
function noCacheForIndex(res: express.Response, path: string) {
  if (path.endsWith('index.html')) res.setHeader('Cache-Control', 'no-cache');
}
