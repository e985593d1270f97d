import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Kysely, PostgresDialect, sql, type CompiledQuery, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import pgUtils from 'pg/lib/utils.js';
import type { Logger } from 'pino';
import type { DB } from './schema.ts';
import { PGliteDialect } from './pglite-dialect.ts';
import { preparedName } from './prepared.ts';

export type DatabaseMode = 'embedded' | 'server';

export interface Database {
  db: Kysely<DB>;
  mode: DatabaseMode;
  /** Writes an embedded database's files as a gzipped tarball (tests restore from it). */
  dump?: () => Promise<Blob>;
  /**
   * Calls `onNotify` on each NOTIFY on `channel` (after its transaction commits), and `onLost` once if the
   * connection listening breaks (nothing is heard after). Resolves when listening; closing the database stops it.
   */
  listen(channel: string, onNotify: () => void, onLost: () => void): Promise<void>;
  /**
   * What `COPY (query) TO STDOUT (options)` sends, as the bytes come, never decoded (the server only: PGlite
   * copies to no client). The connection is the query's alone until its end; one left before is closed.
   */
  copyOut?: (query: CompiledQuery, options: string) => AsyncIterable<Buffer>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres:// URL of a PostgreSQL + PostGIS server; without it the embedded database is used. */
  url?: string;
  /** Folder of the embedded database's files; without it (and without `snapshot`) it lives in memory. */
  dataDir?: string;
  /** A tarball from `dump()` to start the embedded database from. */
  snapshot?: Blob;
  log?: Logger;
}

/**
 * No connection could be had: the server is down, refusing, full, or closed this database to connections
 * (each says so with another code, or none). Whatever the reason, the request is not at fault.
 */
export class DatabaseUnreachable extends Error {
  constructor(cause: unknown) {
    super(`database unreachable: ${(cause as Error).message}`, { cause });
  }
}

// Both drivers must hand the rest of the code the same JavaScript types: numbers for int8 and numeric.
const toNumber = (v: string) => Number(v);
pg.types.setTypeParser(pg.types.builtins.INT8, toNumber);
pg.types.setTypeParser(pg.types.builtins.NUMERIC, toNumber);
const PGLITE_PARSERS = { [pg.types.builtins.INT8]: toNumber, [pg.types.builtins.NUMERIC]: toNumber };

/**
 * The text of `query` with its parameters written in, for COPY, which takes none: each as the text pg would bind,
 * quoted, so the server types it from where it stands as it types an untyped parameter.
 */
export function withLiterals({ sql: text, parameters }: CompiledQuery) {
  // Kysely writes $1 … $n once each, in order: anything else (a "$2" in a comment or a literal) is refused
  // rather than replaced, so no value is ever written where the text did not hold a parameter
  let next = 0;
  const written = text.replace(/\$(\d+)/g, (_, n: string) => {
    if (Number(n) !== ++next || next > parameters.length) throw new Error(`withLiterals: $${n} where $${next} was due`);
    const value = pgUtils.prepareValue(parameters[next - 1]);
    if (value === null) return 'NULL';
    const literal = Buffer.isBuffer(value) ? `\\x${value.toString('hex')}` : value;
    // the simple protocol's text ends at a NUL byte (a bound parameter would be refused as invalid text)
    if (literal.includes('\0')) throw new Error('withLiterals: a value holds a NUL byte');
    return pg.escapeLiteral(literal);
  });
  if (next !== parameters.length) throw new Error(`withLiterals: ${parameters.length} parameters, ${next} placeholders`);
  return written;
}

/** A pooled connection whose marked statements (server/db/prepared.ts) run as named, prepared statements. */
function preparing(client: pg.PoolClient): PostgresPoolClient {
  const query = (text: string, values: readonly unknown[]) => {
    const name = preparedName(text);
    return name ? client.query({ name, text, values: [...values] }) : client.query(text, [...values]);
  };
  // Kysely never streams here (no .stream()), so a cursor never comes through; a discarded connection is closed
  return {
    query: query as unknown as PostgresPoolClient['query'],
    release: ((discard?: boolean) => client.release(discard)) as () => void,
  };
}

/**
 * Opens the one Kysely instance the server uses, over pg (server) or PGlite (embedded).
 * Everything that differs between the two modes is decided here.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    // No JIT: its compile time (about a second) outweighs what it saves on the API's statements, which
    // look expensive to the planner (coverage over a city, a tile's hexagons) but run in tens of milliseconds.
    const pool = new pg.Pool({ connectionString: options.url, max: 10, connectionTimeoutMillis: 5000, options: '-c jit=off' });
    // an idle connection that breaks (the server restarted) leaves the pool, which opens new ones when asked again
    pool.on('error', (error) => options.log?.error({ err: error }, 'idle database connection failed'));
    const connect = () => pool.connect().then(preparing, (error: unknown) => Promise.reject(new DatabaseUnreachable(error)));
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: { connect, end: () => pool.end() } }) });
    // one connection of its own, out of the pool, waits for every channel's notifications
    type Listener = { onNotify: () => void; onLost: () => void };
    const channels = new Map<string, { ready: Promise<unknown>; listeners: Set<Listener> }>();
    let listening: Promise<pg.Client> | undefined;
    let current: pg.Client | undefined;
    const lost = (client: pg.Client) => {
      if (client !== current) return;
      current = undefined;
      listening = undefined;
      const listeners = [...channels.values()].flatMap((c) => [...c.listeners]);
      channels.clear();
      void client.end().catch(() => {});
      for (const listener of listeners) listener.onLost();
    };
    const connectListener = async () => {
      const client = new pg.Client({ connectionString: options.url, connectionTimeoutMillis: 5000 });
      client.on('notification', (message) => channels.get(message.channel)?.listeners.forEach((listener) => listener.onNotify()));
      client.on('error', () => lost(client));
      client.on('end', () => lost(client));
      await client.connect();
      current = client;
      return client;
    };
    const listen = async (channel: string, onNotify: () => void, onLost: () => void) => {
      try {
        listening ??= connectListener();
        const client = await listening;
        let found = channels.get(channel);
        if (!found)
          channels.set(channel, (found = { ready: client.query(`listen ${pg.escapeIdentifier(channel)}`), listeners: new Set() }));
        // heard only once the LISTEN is in: a caller told "listening" before would miss what comes meanwhile
        await found.ready;
        found.listeners.add({ onNotify, onLost });
      } catch (error) {
        listening = undefined;
        channels.delete(channel);
        throw new DatabaseUnreachable(error);
      }
    };
    const close = async () => {
      const client = listening;
      listening = undefined;
      current = undefined;
      channels.clear();
      await client?.then((c) => c.end()).catch(() => {});
      await db.destroy();
    };
    async function* copyOut(query: CompiledQuery, copyOptions: string) {
      const client = await pool.connect().catch((error: unknown) => Promise.reject(new DatabaseUnreachable(error)));
      let ended = false;
      try {
        for await (const chunk of client.query(copyTo(`copy (${withLiterals(query)}\n) to stdout (${copyOptions})`))) yield chunk as Buffer;
        ended = true;
      } finally {
        // a COPY left before its end is still being sent on that connection: no one else gets it
        client.release(!ended);
      }
    }
    return { db, mode: 'server', listen, copyOut, close: once(close) };
  }

  const [{ PGlite }, { postgis }] = await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite-postgis')]);
  const unlock = options.dataDir ? await lockDataDir(options.dataDir) : async () => {};
  try {
    const pglite = await PGlite.create({
      dataDir: options.dataDir,
      loadDataDir: options.snapshot,
      extensions: { postgis },
      parsers: PGLITE_PARSERS,
    });
    const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite, options.log) });
    return {
      db,
      mode: 'embedded',
      dump: () => pglite.dumpDataDir('gzip') as Promise<Blob>,
      listen: async (channel, onNotify) => {
        await pglite.listen(channel, onNotify);
      },
      close: once(async () => {
        await db.destroy(); // waits for the query or transaction in progress
        await pglite.close();
        await unlock();
      }),
    };
  } catch (error) {
    await unlock();
    throw error;
  }
}

/**
 * One process at a time may open an embedded database: a second one writing the same files would corrupt
 * them. A lock file names the owner; a lock left by a process that no longer runs is taken over.
 */
async function lockDataDir(dataDir: string) {
  const path = join(dataDir, 'gridmap.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(String(process.pid));
      await file.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(await readFile(path, 'utf8').catch(() => ''));
      if (owner && owner !== process.pid && isRunning(owner)) {
        throw new Error(`${dataDir} is in use by another Gridmap process (pid ${owner}); stop it or set DATA_DIR`, { cause: error });
      }
      await rm(path, { force: true });
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

function isRunning(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Closing twice (a signal during shutdown, a test after a failure) is harmless. */
function once(close: () => Promise<void>) {
  let closing: Promise<void> | undefined;
  return () => (closing ??= close());
}

export async function postgisVersion(db: Kysely<DB>): Promise<string> {
  const { rows } = await sql<{ version: string }>`select postgis_lib_version() as version`.execute(db);
  return rows[0].version;
}
