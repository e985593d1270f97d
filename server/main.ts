import type { Server } from 'node:http';
import express from 'express';
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import type { Database } from './db/database.ts';
import { ensureAdmin } from './features/accounts/service.ts';
import { startDispatchTimer } from './features/dispatch/service.ts';
import { pruneEvents } from './features/events/routes.ts';
import { createLogger } from './logger.ts';
import { loadDemoIfEmpty, migrateLogged, openConfiguredDatabase } from './start.ts';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
const log = createLogger(config);
let opening: Promise<Database> | undefined;
let server: Server | undefined;
let stopDispatchTimer: (() => void) | undefined;

// Installed first, so that a signal during migrations or the demo load also closes the database cleanly.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Stop taking requests, let those in flight finish, then close the database so its files stay whole.
    const force = setTimeout(() => server?.closeAllConnections(), 5000).unref();
    stopDispatchTimer?.();
    const closeDatabase = async () => {
      clearTimeout(force);
      // A database still opening is waited for, then closed: the embedded files are never left half written.
      await (await opening?.catch(() => undefined))?.close();
      log.info('stopped');
      process.exit(0);
    };
    if (server?.listening) server.close(closeDatabase);
    else void closeDatabase();
  });
}

try {
  opening = openConfiguredDatabase(config, log);
  const database = await opening;
  await migrateLogged(database, log);
  await loadDemoIfEmpty(database, config, log);
  if (config.GRIDMAP_ADMIN_PASSWORD && (await ensureAdmin(database.db, config.GRIDMAP_ADMIN_PASSWORD))) {
    log.info('no admin yet: created user admin with GRIDMAP_ADMIN_PASSWORD');
  }
  const app = express()
    // While stopping, answers tell keep-alive clients to reconnect elsewhere rather than reuse this socket.
    .use((_req, res, next) => (stopping && res.setHeader('Connection', 'close'), next()))
    .use(createApp({ database, config, logger: log }));
  server = app.listen(config.PORT, config.HOST, (error?: Error) => {
    if (error) return fail(error);
    const address = server!.address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;
    log.info(`Gridmap is running at http://localhost:${port}`);
  });
  // offers that lapse pass to the next volunteer; requests nobody could take are retried
  stopDispatchTimer = startDispatchTimer(database.db, 1000, (err) => log.error({ err }, 'dispatch timer failed'));
  setInterval(() => void pruneEvents(database.db).catch((err) => log.error({ err }, 'pruning events failed')), 3_600_000).unref();
} catch (error) {
  await fail(error as Error);
}

async function fail(error: Error) {
  log.fatal(`Gridmap could not start: ${error.message}`);
  await (await opening?.catch(() => undefined))?.close().catch(() => {});
  process.exit(1);
}
