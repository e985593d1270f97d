import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { TestProject } from 'vitest/node';
import { generateDemoCity } from '../../data/demo-city.ts';
import { loadDemoCity } from '../../data/load-demo.ts';
import { openDatabase } from '../../server/db/database.ts';
import { migrate } from '../../server/db/migrate.ts';
import { TEST_CITY, adminUrl, databaseUrl, templateName } from './databases.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Embedded mode: the prepared database as a tarball that each test file restores. */
    snapshotPath: string;
  }
}

/**
 * Prepares one migrated database holding the demo city, once per run: a tarball of the embedded
 * database, or a template database on the server that each test file copies.
 */
export default async function setup(project: TestProject) {
  const started = Date.now();
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    const admin = await openDatabase({ url: adminUrl(url) });
    const template = templateName(url);
    await sql`drop database if exists ${sql.id(template)} with (force)`.execute(admin.db);
    await sql`create database ${sql.id(template)}`.execute(admin.db);
    await admin.close();
    const database = await openDatabase({ url: databaseUrl(url, template) });
    await migrate(database.db);
    await loadDemoCity(database.db, generateDemoCity(TEST_CITY));
    await database.close();
    project.provide('snapshotPath', '');
    console.log(`test database prepared (server) in ${Date.now() - started} ms`);
    return async () => {
      const admin = await openDatabase({ url: adminUrl(url) });
      await sql`drop database if exists ${sql.id(template)} with (force)`.execute(admin.db);
      await admin.close();
    };
  } else {
    const database = await openDatabase({});
    await migrate(database.db);
    await loadDemoCity(database.db, generateDemoCity(TEST_CITY));
    const dir = join(process.cwd(), '.test-data');
    await mkdir(dir, { recursive: true });
    const snapshotPath = join(dir, 'demo-city.tar.gz');
    await writeFile(snapshotPath, Buffer.from(await (await database.dump!()).arrayBuffer()));
    await database.close();
    project.provide('snapshotPath', snapshotPath);
    console.log(`test database prepared (embedded) in ${Date.now() - started} ms`);
  }
}
