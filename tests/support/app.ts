import { pino } from 'pino';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import type { Database } from '../../server/db/database.ts';

/** The real express app over a test database, as the server builds it, without its logs. */
export function testApp(database: Database, env: NodeJS.ProcessEnv = {}) {
  return createApp({ database, config: loadConfig(env), logger: pino({ level: 'silent' }) });
}
