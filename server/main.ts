import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { loadDemoIfEmpty, openMigratedDatabase } from './start.ts';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
const log = createLogger(config);
const database = await openMigratedDatabase(config, log);
await loadDemoIfEmpty(database, config, log);

const server = createApp({ database, config, logger: log }).listen(config.PORT, config.HOST, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  log.info(`Gridmap is running at http://localhost:${port}`);
});

// Stop taking requests, let those in flight finish, then close the database so its files stay whole.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => server.closeAllConnections(), 5000).unref();
    server.close(async () => {
      clearTimeout(force);
      await database.close();
      log.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
  });
}
