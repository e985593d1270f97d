import { cp, mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../server/db/migrate.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

describe('migrations', () => {
  let test: TestDatabase;
  beforeAll(async () => (test = await openTestDatabase()));
  afterAll(() => test?.drop());

  it('apply again without error and without changing anything', async () => {
    const before = await sql<{ n: number }>`select count(*)::int as n from buildings`.execute(test.database.db);
    const again = await migrate(test.database.db);
    expect(again.applied).toEqual([]);
    expect(again.skipped.length).toBeGreaterThanOrEqual(3);
    const third = await migrate(test.database.db);
    expect(third.applied).toEqual([]);
    const after = await sql<{ n: number }>`select count(*)::int as n from buildings`.execute(test.database.db);
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('type geometry columns and index them', async () => {
    // The declared column types (geometry_columns guesses from CHECK constraints on some PostGIS versions).
    const { rows } = await sql<{ table: string; type: string; indexed: boolean }>`
      select c.relname as table, format_type(a.atttypid, a.atttypmod) as type,
             exists (select 1 from pg_indexes i where i.tablename = c.relname and i.indexdef ilike '%using gist (geom)%') as indexed
      from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'r' and a.attname = 'geom' order by c.relname`.execute(test.database.db);
    expect(rows).toEqual([
      { table: 'buildings', type: 'geometry(Polygon,4326)', indexed: true },
      { table: 'communities', type: 'geometry(MultiPolygon,4326)', indexed: true },
      { table: 'districts', type: 'geometry(MultiPolygon,4326)', indexed: true },
      { table: 'grids', type: 'geometry(Polygon,4326)', indexed: true },
      { table: 'issues', type: 'geometry(Point,4326)', indexed: true },
      { table: 'members', type: 'geometry(Point,4326)', indexed: true },
      { table: 'streets', type: 'geometry(MultiPolygon,4326)', indexed: true },
      { table: 'units', type: 'geometry(Geometry,4326)', indexed: true },
    ]);
  });

  describe('with a changed or new file', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gridmap-sql-'));
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('applies a new file once, then refuses an applied file that was edited', async () => {
      await writeFile(join(dir, '999_probe.sql'), 'create table migration_probe (id integer);');
      expect((await migrate(test.database.db, dir)).applied).toEqual(['999_probe.sql']);
      expect((await migrate(test.database.db, dir)).applied).toEqual([]);
      const first = join(dir, '002_map.sql');
      await writeFile(first, `${await readFile(first, 'utf8')}\n-- edited`);
      await expect(migrate(test.database.db, dir)).rejects.toThrow(/002_map\.sql was changed/);
    });
  });
});
