import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { DB } from './schema.ts';
import { PGliteDialect } from './pglite-dialect.ts';

export type DatabaseMode = 'embedded' | 'server';

export interface Database {
  db: Kysely<DB>;
  mode: DatabaseMode;
  /** Writes an embedded database's files as a gzipped tarball (tests restore from it). */
  dump?: () => Promise<Blob>;
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

// Both drivers must hand the rest of the code the same JavaScript types.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

/**
 * Opens the one Kysely instance the server uses, over pg (server) or PGlite (embedded).
 * Everything that differs between the two modes is decided here.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    const pool = new pg.Pool({ connectionString: options.url, max: 10, connectionTimeoutMillis: 5000 });
    pool.on('error', (error) => options.log?.error({ err: error }, 'idle database connection failed'));
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return { db, mode: 'server', close: once(() => db.destroy()) };
  }

  const [{ PGlite }, { postgis }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-postgis'),
  ]);
  const pglite = await PGlite.create({
    dataDir: options.dataDir,
    loadDataDir: options.snapshot,
    extensions: { postgis },
  });
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    mode: 'embedded',
    dump: () => pglite.dumpDataDir('gzip') as Promise<Blob>,
    close: once(async () => {
      await db.destroy();
      await pglite.close();
    }),
  };
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
