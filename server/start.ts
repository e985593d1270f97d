import { mkdir } from 'node:fs/promises';
import { constants } from 'node:os';
import type { Logger } from 'pino';
import { generateDemoCity } from '../data/demo-city.ts';
import { isEmpty, loadDemoCity } from '../data/load-demo.ts';
import type { Config } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { migrate } from './db/migrate.ts';

/** How a process is told to stop: Ctrl-C, a supervisor or `kill`, its terminal closing. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/**
 * Runs `stop` on the first stop signal, instead of dying with the embedded database open. Later signals
 * are ignored: Ctrl-C under `npm run` reaches node twice (from the terminal and relayed by npm).
 */
export function onStop(stop: (signal: StopSignal) => void) {
  let stopping = false;
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      stop(signal);
    });
  }
}

/** Opens the database the configuration names: a server, or the embedded one in DATA_DIR. */
export async function openConfiguredDatabase(config: Config, log: Logger) {
  if (!config.DATABASE_URL) await mkdir(config.DATA_DIR, { recursive: true });
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATABASE_URL ? undefined : config.DATA_DIR, log });
  log.info({ database: database.mode, dataDir: database.mode === 'embedded' ? config.DATA_DIR : undefined }, 'database open');
  return database;
}

export async function migrateLogged(database: Database, log: Logger) {
  const { applied, schema } = await migrate(database.db);
  const message = applied.length ? 'migrations applied' : schema ? 'functions and triggers applied' : 'schema up to date';
  log.info({ applied, schema }, message);
}

/**
 * Opens the configured database and brings its schema up to date: what the CLIs share. From then on a stop
 * signal closes the database (which waits for the statement or transaction in progress; nothing starts
 * after it) and ends the process as the signal would. `interrupt` ends the work early where it can, and is
 * waited for: an import stops at its next batch and undoes the batches it wrote.
 */
export async function openMigratedDatabase(config: Config, log: Logger, interrupt: () => unknown = () => {}) {
  const opening = openConfiguredDatabase(config, log);
  onStop(async (signal) => {
    console.error(`\n${signal}: stopping`);
    await interrupt();
    await (await opening.catch(() => undefined))?.close();
    process.exit(128 + constants.signals[signal]);
  });
  const database = await opening;
  try {
    await migrateLogged(database, log);
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

/** Loads the demo city into an empty database (unless GRIDMAP_DEMO=off), logging progress. */
export async function loadDemoIfEmpty(database: Database, config: Config, log: Logger) {
  if (config.GRIDMAP_DEMO === 'off' || !(await isEmpty(database.db))) return;
  const started = Date.now();
  // its issues dated in the months before today, so the walls, their measures and coverage open on recent work
  const city = generateDemoCity({ seed: config.GRIDMAP_DEMO_SEED, size: config.GRIDMAP_DEMO_SIZE, datedBefore: Date.now() });
  log.info({ seed: city.seed, size: city.size }, 'empty database: loading the demo city');
  const loaded = await loadDemoCity(database.db, city, (step, done, total) => log.info(`demo city: ${step} ${done}/${total}`));
  if (!loaded) return log.info('another process loaded the map first');
  log.info(
    {
      communities: city.communities.length,
      grids: city.grids.length,
      buildings: city.buildings.length,
      members: city.members.length,
      issues: city.issues.length,
      ms: Date.now() - started,
    },
    'demo city loaded',
  );
}
