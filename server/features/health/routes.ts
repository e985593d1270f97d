import { Router } from 'express';
import { postgisVersion, type Database } from '../../db/database.ts';
import { HttpProblem } from '../../http/problem.ts';

export function healthRoutes(database: Database) {
  return Router().get('/api/v1/health', async (req, res) => {
    let postgis: string;
    try {
      postgis = await postgisVersion(database.db);
    } catch (error) {
      req.log.warn({ err: error }, 'health check: database unreachable');
      throw new HttpProblem(503, 'Database unavailable', 'The database did not answer.', { database: database.mode });
    }
    res.json({ status: 'ok', database: database.mode, postgis });
  });
}
