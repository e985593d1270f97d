import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { ROOT } from '../paths.ts';

export const MIGRATIONS_DIR = join(ROOT, 'sql');

const MIGRATION_LOCK = 7426001;

export interface MigrationResult {
  applied: string[];
  skipped: string[];
  /** whether the files of record (sql/schema/) were applied this run */
  schema: boolean;
}

/** The row of schema_migrations that holds the checksum of the files of record last applied. */
const SCHEMA_RECORD = 'schema/';

/**
 * Applies sql/NNN_name.sql files in name order, each in its own transaction with its record in
 * schema_migrations. Files are append-only: a recorded file whose text changed stops the run.
 * Then re-applies the files of record, sql/schema/*.sql, which hold the current definition of every
 * function, trigger and view (CREATE OR REPLACE, DROP TRIGGER IF EXISTS … CREATE TRIGGER).
 */
export async function migrate<S>(db: Kysely<S>, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
    await sql`create table if not exists schema_migrations (
      name text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`.execute(trx);
  });

  const result: MigrationResult = { applied: [], skipped: [], schema: false };
  for (const name of files) {
    const text = await readFile(join(dir, name), 'utf8');
    const checksum = createHash('sha256').update(text).digest('hex');
    await db.transaction().execute(async (trx) => {
      // Two servers starting together on one database take turns.
      await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
      const { rows } = await sql<{ checksum: string }>`
        select checksum from schema_migrations where name = ${name}`.execute(trx);
      if (rows.length > 0) {
        if (rows[0].checksum !== checksum) {
          throw new Error(`Migration ${name} was changed after it was applied; add a new migration instead`);
        }
        result.skipped.push(name);
        return;
      }
      await sql.raw(text).execute(trx);
      await sql`insert into schema_migrations (name, checksum) values (${name}, ${checksum})`.execute(trx);
      result.applied.push(name);
    });
  }
  result.schema = await applySchema(db, join(dir, 'schema'), result.applied.length > 0);
  return result;
}

/**
 * The files of record in name order, in one transaction. Skipped when neither they nor the tables changed
 * since they were last applied: recreating a trigger locks its table, which a server starting beside
 * others serving requests should not do for nothing.
 */
async function applySchema<S>(db: Kysely<S>, dir: string, tablesChanged: boolean): Promise<boolean> {
  const names = (await readdir(dir)).filter((f) => /^\d{2}_[\w-]+\.sql$/.test(f)).sort();
  const texts = await Promise.all(names.map((name) => readFile(join(dir, name), 'utf8')));
  const hash = createHash('sha256');
  names.forEach((name, i) => hash.update(`${name}\n${texts[i]}\n`));
  const checksum = hash.digest('hex');
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
    const { rows } = await sql<{ checksum: string }>`
      select checksum from schema_migrations where name = ${SCHEMA_RECORD}`.execute(trx);
    if (!tablesChanged && rows[0]?.checksum === checksum) return false;
    for (const text of texts) await sql.raw(text).execute(trx);
    await sql`insert into schema_migrations (name, checksum) values (${SCHEMA_RECORD}, ${checksum})
              on conflict (name) do update set checksum = excluded.checksum, applied_at = now()`.execute(trx);
    return true;
  });
}
