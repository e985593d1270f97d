import type { Server } from 'node:http';
import express, { type Response } from 'express';
import { createApp } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import type { Database } from './db/database.ts';
import { ensureAdmin } from './features/accounts/service.ts';
import { startDispatchTimer } from './features/dispatch/service.ts';
import { pruneEvents } from './features/events/routes.ts';
import { interruptImports, markAbandonedImports } from './features/import/jobs.ts';
import { removeStaleUploads } from './features/import/uploads.ts';
import { RESOURCES } from './features/resources.ts';
import { createLogger } from './logger.ts';
import { loadDemoIfEmpty, migrateLogged, onStop, openConfiguredDatabase, type StopSignal } from './start.ts';

/**
 * How long a stop waits for the requests in flight to be answered before it closes their connections: long
 * enough for an import, bounded so that a client that never finishes its upload cannot hold the stop.
 */
const DRAIN_MS = 60_000;

let config: Config;
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
let stopping = false;
/** Responses not yet sent, with the request they answer: what a stop waits for. */
const inFlight = new Map<Response, string>();

// Installed before the database opens, so that a stop during migrations or the demo load also closes it.
onStop((signal) => void stop(signal));
void start();

async function start() {
  try {
    opening = openConfiguredDatabase(config, log);
    const database = await opening;
    await migrateLogged(database, log);
    await loadDemoIfEmpty(database, config, log);
    // what a process that died left behind: imports cut short (undone) and their uploads
    const [abandoned, uploads] = [await markAbandonedImports(database.db, RESOURCES), await removeStaleUploads()];
    if (abandoned || uploads) log.warn({ abandoned, uploads }, 'undid the imports and removed the uploads of a process that died');
    if (config.GRIDMAP_ADMIN_PASSWORD && (await ensureAdmin(database.db, config.GRIDMAP_ADMIN_PASSWORD))) {
      log.info('no admin yet: created user admin with GRIDMAP_ADMIN_PASSWORD');
    }
    if (stopping) return;
    const app = express()
      .use((req, res, next) => {
        inFlight.set(res, `${req.method} ${req.path}`);
        res.on('close', () => {
          inFlight.delete(res);
          // a connection kept alive by an answer begun before the stop is closed once idle, not at its timeout
          if (stopping) setImmediate(() => server?.closeIdleConnections());
        });
        // While stopping, answers tell keep-alive clients to reconnect elsewhere rather than reuse this socket.
        if (stopping) res.setHeader('Connection', 'close');
        next();
      })
      .use(createApp({ database, config, logger: log }));
    server = app.listen(config.PORT, config.HOST, (error?: Error) => {
      if (error) return void fail(error);
      const address = server!.address();
      const port = typeof address === 'object' && address ? address.port : config.PORT;
      log.info(`Gridmap is running at http://localhost:${port}`);
    });
    // offers that lapse pass to the next volunteer; requests nobody could take are retried
    stopDispatchTimer = startDispatchTimer(database.db, 1000, (err) => log.error({ err }, 'dispatch timer failed'));
    setInterval(() => void pruneEvents(database.db).catch((err) => log.error({ err }, 'pruning events failed')), 3_600_000).unref();
  } catch (error) {
    // a stop during the start closed the database under it: the stop ends the process
    if (!stopping) await fail(error as Error);
  }
}

/** A stop, step by step; each step waits for the one before. */
async function stop(signal: StopSignal) {
  stopping = true;
  log.info({ signal }, 'shutting down');
  stopDispatchTimer?.();
  // imports roll back at their next batch and answer 503, so their clients know to send them again
  const interrupted = interruptImports();
  if (interrupted.length) log.info({ imports: interrupted }, 'interrupting the imports in progress');
  if (server) await closeListener(server);
  // Closing waits for the statement or transaction in progress, so the embedded files are never left half
  // written; a database still opening is waited for, then closed.
  await (await opening?.catch(() => undefined))?.close();
  log.info('stopped');
  process.exit(0);
}

/** Takes no more connections and waits for the requests in flight to be answered, at most DRAIN_MS. */
function closeListener(server: Server) {
  return new Promise<void>((resolve) => {
    const cut = setTimeout(() => {
      log.warn({ requests: [...inFlight.values()] }, `requests still in flight after ${DRAIN_MS / 1000} s: their connections are closed`);
      server.closeAllConnections();
    }, DRAIN_MS);
    server.close(() => (clearTimeout(cut), resolve()));
    // An event stream never ends by itself; its client reconnects with Last-Event-ID and misses nothing.
    for (const res of inFlight.keys()) if (String(res.getHeader('Content-Type')).startsWith('text/event-stream')) res.end();
    const waiting = [...inFlight].filter(([res]) => !res.writableEnded).map(([, request]) => request);
    if (waiting.length) log.info({ requests: waiting }, 'waiting for the requests in flight');
  });
}

async function fail(error: Error) {
  log.fatal(`Gridmap could not start: ${error.message}`);
  await (await opening?.catch(() => undefined))?.close().catch(() => {});
  process.exit(1);
}
