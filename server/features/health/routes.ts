import { Router } from 'express';
import { postgisVersion, type Database } from '../../db/database.ts';
import { databaseUnavailable } from '../../db/errors.ts';

export function healthRoutes(database: Database) {
  return Router().get('/api/v1/health', async (req, res) => {
    let postgis: string;
    try {
      postgis = await postgisVersion(database.db);
    } catch (error) {
      req.log.warn({ err: error }, 'health check: database unreachable');
      throw databaseUnavailable({ database: database.mode });
    }
    res.json({ status: 'ok', database: database.mode, postgis });
  });
}
