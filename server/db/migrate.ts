import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type Kysely } from 'kysely';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

const MIGRATION_LOCK = 7426001;

export interface MigrationResult {
  applied: string[];
  skipped: string[];
}

/**
 * Applies sql/NNN_name.sql files in name order, each in its own transaction with its record in
 * schema_migrations. Files are append-only: a recorded file whose text changed stops the run.
 */
export async function migrate(db: Kysely<any>, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
    await sql`create table if not exists schema_migrations (
      name text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`.execute(trx);
  });

  const result: MigrationResult = { applied: [], skipped: [] };
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
  return result;
}
