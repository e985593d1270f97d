import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.ts';
import { generateDemoCity } from '../data/demo-city.ts';
import { loadDemoIfEmpty } from '../server/start.ts';
import { TEST_CITY, mode, openTestDatabase, type TestDatabase } from './support/databases.ts';

describe(`the ${mode} database through Kysely`, () => {
  let test: TestDatabase;
  beforeAll(async () => (test = await openTestDatabase()));
  afterAll(() => test?.drop());
  const count = async (table: 'communities' | 'buildings') =>
    (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(test.database.db)).rows[0].n;

  it('stays usable after a PostGIS error, and the failed transaction writes nothing', async () => {
    const before = await count('buildings');
    await expect(
      test.database.db.transaction().execute(async (trx) => {
        await sql`delete from buildings where id < 10`.execute(trx);
        await sql`select ST_GeomFromGeoJSON('{"type":"Polygon","coordinates":[[[0,0],[1]]]}')`.execute(trx);
      }),
    ).rejects.toThrow();
    expect(await count('buildings')).toBe(before);
    const { rows } = await sql<{ area: number }>`select ST_Area(ST_MakeEnvelope(0, 0, 2, 3)) as area`.execute(test.database.db);
    expect(rows[0].area).toBe(6);
  });

  it('never answers "no rows" when PostGIS failed inside a query', async () => {
    // The embedded build loses ST_Difference's answer for some of the demo communities (a warning, zero rows).
    // Whatever the engine, each such query must give its one row or fail loudly.
    for (let id = 1; id <= 7; id++) {
      const outcome = await sql<{ empty: boolean }>`
        select ST_IsEmpty(ST_Difference(c.geom, (select ST_Union(geom) from grids where community_id = c.id))) as empty
        from communities c where c.id = ${id}`
        .execute(test.database.db)
        .then(
          (r) => r.rows.length,
          () => 'failed',
        );
      expect([1, 'failed']).toContain(outcome);
    }
  });

  it('keeps concurrent transactions apart', async () => {
    // Each transaction reads, waits, then writes what it read plus one: interleaved, an update would be lost.
    await sql`create table counter (n integer)`.execute(test.database.db);
    await sql`insert into counter values (0)`.execute(test.database.db);
    await Promise.all(
      Array.from({ length: 5 }, () =>
        test.database.db
          .transaction()
          .setIsolationLevel('serializable')
          .execute(async (trx) => {
            await sql`lock table counter in exclusive mode`.execute(trx);
            const { rows } = await sql<{ n: number }>`select n from counter`.execute(trx);
            await new Promise((resolve) => setTimeout(resolve, 20));
            await sql`update counter set n = ${rows[0].n + 1}`.execute(trx);
          }),
      ),
    );
    expect((await sql<{ n: number }>`select n from counter`.execute(test.database.db)).rows[0].n).toBe(5);
  });

  it('loads the demo city only into an empty map, and not at all with GRIDMAP_DEMO=off', async () => {
    const log = pino({ level: 'silent' });
    await loadDemoIfEmpty(test.database, loadConfig({}), log);
    expect(await count('communities')).toBe(7); // already there: not loaded twice

    await sql`truncate districts, streets, communities, grids, buildings, members, units, issues cascade`.execute(test.database.db);
    await loadDemoIfEmpty(test.database, loadConfig({ GRIDMAP_DEMO: 'off' }), log);
    expect(await count('communities')).toBe(0);

    await loadDemoIfEmpty(test.database, loadConfig({}), log);
    expect(await count('communities')).toBe(7);
    expect(await count('buildings')).toBe(generateDemoCity(TEST_CITY).buildings.length);
  });
});
