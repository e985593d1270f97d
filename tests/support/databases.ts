import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { sql } from 'kysely';
import { inject } from 'vitest';
import { openDatabase, type Database } from '../../server/db/database.ts';

/** The city every test starts from. */
export const TEST_CITY = { seed: 1, size: 1 };

export const serverUrl = process.env.TEST_DATABASE_URL;
export const mode = serverUrl ? 'server' : 'embedded';

export const templateName = (url: string) => `${new URL(url).pathname.slice(1) || 'gridmap_test'}_template`;
/** Databases are created and dropped from the maintenance database, never from the one being copied. */
export const databaseUrl = (url: string, name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();
export const adminUrl = (url: string) => databaseUrl(url, 'postgres');

export interface TestDatabase {
  database: Database;
  /** server mode: the URL of this copy, for a server process started by the test */
  url?: string;
  drop(): Promise<void>;
}

/**
 * A fresh copy of the prepared database (migrated, demo city loaded) for one test file; with `empty`, a
 * server database with nothing in it at all (server mode only).
 */
export async function openTestDatabase({ empty = false } = {}): Promise<TestDatabase> {
  if (!serverUrl) {
    if (empty) throw new Error('an empty embedded database is a fresh DATA_DIR');
    const snapshot = new Blob([await readFile(inject('snapshotPath'))]);
    const database = await openDatabase({ snapshot });
    return { database, drop: () => database.close() };
  }
  const name = `${templateName(serverUrl).replace(/_template$/, '')}_${randomBytes(4).toString('hex')}`;
  const admin = await openDatabase({ url: adminUrl(serverUrl) });
  const template = empty ? sql`` : sql`template ${sql.id(templateName(serverUrl))}`;
  await sql`create database ${sql.id(name)} ${template}`.execute(admin.db);
  const url = databaseUrl(serverUrl, name);
  const database = await openDatabase({ url });
  return {
    database,
    url,
    async drop() {
      await database.close().catch(() => {});
      await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
      await admin.close();
    },
  };
}
