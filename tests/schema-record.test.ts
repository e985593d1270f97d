import { cp, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../server/db/database.ts';
import { MIGRATIONS_DIR, migrate } from '../server/db/migrate.ts';
import { SCHEMA_DOC_PATH, schemaDoc } from '../server/db/schema-doc.ts';
import { SCHEMA_TYPES_PATH, schemaTypes } from '../server/db/schema-types.ts';
import { AUDITED } from '../server/features/audit/answers.ts';
import { mode, openTestDatabase, serverUrl, type TestDatabase } from './support/databases.ts';

const SCHEMA_DIR = join(MIGRATIONS_DIR, 'schema');

/** The functions and triggers of the public schema, each with its definition (an extension's aside). */
async function catalogue<S>(db: Kysely<S>) {
  const { rows: functions } = await sql<{ name: string; definition: string }>`
    select p.oid::regprocedure::text as name, pg_get_functiondef(p.oid) as definition
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
    order by 1`.execute(db);
  const { rows: triggers } = await sql<{ name: string; definition: string }>`
    select c.relname || '.' || t.tgname as name, pg_get_triggerdef(t.oid) as definition
    from pg_trigger t join pg_class c on c.oid = t.tgrelid
    where not t.tgisinternal order by 1`.execute(db);
  return { functions, triggers };
}

async function filesOfRecord() {
  const names = (await readdir(SCHEMA_DIR)).filter((f) => f.endsWith('.sql')).sort();
  return (await Promise.all(names.map((f) => readFile(join(SCHEMA_DIR, f), 'utf8')))).join('\n');
}

describe(`the schema of record (${mode} database)`, () => {
  let test: TestDatabase;
  beforeAll(async () => (test = await openTestDatabase()));
  afterAll(() => test?.drop());

  it('defines every function and trigger of the database, each in one place', async () => {
    const text = await filesOfRecord();
    const functions = [...text.matchAll(/^CREATE OR REPLACE FUNCTION (\w+)\(/gm)].map((m) => m[1]);
    const triggers = [...text.matchAll(/^CREATE TRIGGER (\w+) .*? ON (\w+)/gm)].map((m) => `${m[2]}.${m[1]}`);
    const audited = [...text.matchAll(/^SELECT audit_install\('(\w+)'\);/gm)].map((m) => `audit_json_${m[1]}`);
    expect(new Set(functions).size).toBe(functions.length);
    expect(new Set(triggers).size).toBe(triggers.length);
    expect(text).not.toMatch(/EXECUTE format\('CREATE (OR REPLACE )?TRIGGER/);

    const database = await catalogue(test.database.db);
    expect(database.functions.map((f) => f.name.replace(/\(.*/, '')).sort()).toEqual([...functions, ...audited].sort());
    expect(database.triggers.map((t) => t.name).sort()).toEqual([...triggers].sort());
    // the audit log's filter (and its answer's type) names the tables the audit trigger is installed on
    expect([...AUDITED].sort()).toEqual(audited.map((f) => f.replace('audit_json_', '')).sort());
  });

  it('wins over what the migrations left, and is applied again only when something changed', async () => {
    const db = test.database.db;
    // a database as the numbered migrations alone leave it: an older function, a trigger missing
    await sql`create or replace function masked_phone(phone text) returns text language sql as $$ select phone $$`.execute(db);
    await sql`drop trigger place_issue on issues`.execute(db);
    expect((await migrate(db)).schema).toBe(false);
    await sql`delete from schema_migrations where name = 'schema/'`.execute(db);
    expect((await migrate(db)).schema).toBe(true);
    expect((await migrate(db)).schema).toBe(false);

    const { rows } = await sql<{ masked: string }>`select masked_phone('13812345678') as masked`.execute(db);
    expect(rows[0].masked).toBe('138****5678');
    const grid = await sql<{ id: number; point: string }>`
      select id, ST_AsGeoJSON(ST_PointOnSurface(geom)) as point from grids order by id limit 1`.execute(db);
    const issue = await sql<{ grid_id: number | null }>`
      insert into issues (title, category, geom) values ('路灯不亮', 'street_light', ST_GeomFromGeoJSON(${grid.rows[0].point}))
      returning grid_id`.execute(db);
    expect(issue.rows[0].grid_id).toBe(grid.rows[0].id);
  });

  it('is what sql/README.md and server/db/tables.generated.ts were written from (npm run schema)', async () => {
    expect(await schemaDoc(test.database.db)).toBe(await readFile(SCHEMA_DOC_PATH, 'utf8'));
    expect(await schemaTypes(test.database.db)).toBe(await readFile(SCHEMA_TYPES_PATH, 'utf8'));
  });

  describe('on a database migrated before the files of record', () => {
    let dir: string;
    let old: TestDatabase;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gridmap-sql-'));
      await cp(MIGRATIONS_DIR, dir, { recursive: true, filter: (from) => !from.startsWith(SCHEMA_DIR) });
      await mkdir(join(dir, 'schema'));
      old = await openEmptyDatabase();
    });
    afterAll(async () => {
      await old?.drop();
      await rm(dir, { recursive: true, force: true });
    });

    it('ends with the same functions and triggers as a database migrated now', async () => {
      await migrate(old.database.db, dir);
      await migrate(old.database.db);
      expect(await catalogue(old.database.db)).toEqual(await catalogue(test.database.db));
    });
  });
});

/** A database with nothing in it: a new server database, or an embedded one in memory. */
async function openEmptyDatabase(): Promise<TestDatabase> {
  if (serverUrl) return openTestDatabase({ empty: true });
  const database = await openDatabase({});
  return { database, drop: () => database.close() };
}
