// `npm run migrate`: apply the migrations in sql/ to the configured database and stop.
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { openMigratedDatabase } from './start.ts';

try {
  const config = loadConfig();
  const database = await openMigratedDatabase(config, createLogger(config));
  await database.close();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
