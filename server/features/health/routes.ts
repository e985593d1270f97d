import { z } from 'zod';
import { postgisVersion, type Database } from '../../db/database.ts';
import { databaseUnavailable } from '../../db/errors.ts';
import { route } from '../../http/route.ts';

export const healthRoutes = (database: Database) => [
  route({
    method: 'GET',
    path: '/api/v1/health',
    tags: ['service'],
    summary: 'Health of the server and its database',
    allow: { public: 'load balancers and monitoring' },
    answer: {
      schema: z.object({ status: z.literal('ok'), database: z.enum(['embedded', 'server']), postgis: z.string() }),
      description: '`{"status":"ok","database":"embedded"|"server","postgis":"3.x"}`',
    },
    problems: { 503: 'the database does not answer' },
    handle: async ({ req }) => {
      let postgis: string;
      try {
        postgis = await postgisVersion(database.db);
      } catch (error) {
        req.log.warn({ err: error }, 'health check: database unreachable');
        throw databaseUnavailable({ database: database.mode });
      }
      return { status: 'ok' as const, database: database.mode, postgis };
    },
  }),
];
