import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DB } from '../server/db/schema.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * Every stored link that differs from what PostGIS says when asked directly, by brute force over all rows
 * (no index, none of Gridmap's own functions): ST_Contains for grids and communities, the footprint
 * containing a home point else the nearest within 30 m on the spheroid (the lower id among several).
 */
async function wrongLinks(db: Kysely<DB>) {
  const { rows } = await sql<{ kind: string; id: number; stored: unknown; expected: unknown }>`
    with b as (
      select b.id, b.grid_id, b.community_id,
             (select g.id from grids g where ST_Contains(g.geom, ST_PointOnSurface(b.geom))) as grid_expected,
             (select c.id from communities c where ST_Contains(c.geom, ST_PointOnSurface(b.geom))) as community_expected
      from buildings b
    ), m as (
      select m.id, m.building_id, m.grid_id,
             coalesce((select b.id from buildings b where ST_Contains(b.geom, m.geom) order by b.id limit 1),
                      (select b.id from buildings b where ST_Distance(b.geom::geography, m.geom::geography) <= 30
                       order by ST_Distance(b.geom::geography, m.geom::geography), b.id limit 1)) as building_expected,
             m.geom
      from members m
    ), i as (
      select i.id, i.grid_id, (select g.id from grids g where ST_Contains(g.geom, i.geom)) as grid_expected from issues i
    )
    select 'building grid' as kind, id, grid_id as stored, grid_expected as expected from b where grid_id is distinct from grid_expected
    union all
    select 'building community', id, community_id, community_expected from b where community_id is distinct from community_expected
    union all
    select 'member building', id, building_id, building_expected from m where building_id is distinct from building_expected
    union all
    select 'member grid', m.id, m.grid_id, coalesce(b.grid_id, (select g.id from grids g where ST_Contains(g.geom, m.geom)))
    from m left join buildings b on b.id = m.building_expected
    where m.grid_id is distinct from coalesce(b.grid_id, (select g.id from grids g where ST_Contains(g.geom, m.geom)))
    union all
    select 'issue grid', id, grid_id, grid_expected from i where grid_id is distinct from grid_expected
    union all
    select 'issue community', i.id, i.community_id, (select c.id from communities c where ST_Contains(c.geom, i.geom))
    from issues i where i.community_id is distinct from (select c.id from communities c where ST_Contains(c.geom, i.geom))
    union all
    select 'member community', m.id, m.community_id,
           coalesce(b.community_id, (select c.id from communities c where ST_Contains(c.geom, m.geom)))
    from members m left join buildings b on b.id = m.building_id
    where m.community_id is distinct from coalesce(b.community_id, (select c.id from communities c where ST_Contains(c.geom, m.geom)))
    union all
    select 'unit community', u.id, u.community_id, (select c.id from communities c where ST_Contains(c.geom, ST_PointOnSurface(u.geom)))
    from units u where u.community_id is distinct from (select c.id from communities c where ST_Contains(c.geom, ST_PointOnSurface(u.geom)))`.execute(
    db,
  );
  return rows;
}

describe('derived links follow geometry in the same transaction', () => {
  let test: TestDatabase;
  let db: Kysely<DB>;
  beforeAll(async () => {
    test = await openTestDatabase();
    db = test.database.db;
  });
  afterAll(() => test?.drop());

  it('agree with PostGIS for the whole demo city', async () => {
    expect(await wrongLinks(db)).toEqual([]);
  });

  it('move a building to the grid it was moved into, and relink the home points it left', async () => {
    // The building with the most members, moved to open ground in a grid of another community.
    const {
      rows: [moved],
    } = await sql<{ id: number; target: number; residents: number; x: number; y: number }>`
      with b as (select b.id, b.community_id, (select count(*)::int from members where building_id = b.id) as residents
                 from buildings b order by residents desc, b.id limit 1),
           open_ground as (
             select g.id, ST_PointOnSurface(ST_Difference(ST_Buffer(g.geom, -0.0002),
                      (select ST_Union(ST_Buffer(o.geom, 0.00015)) from buildings o where o.geom && g.geom))) as c
             from grids g, b where g.community_id <> b.community_id)
      select b.id, b.residents, o.id as target, ST_X(o.c) as x, ST_Y(o.c) as y
      from b, open_ground o where not ST_IsEmpty(o.c) order by o.id limit 1`.execute(db);
    expect(moved.residents).toBeGreaterThan(0);
    await sql`update buildings b set geom = ST_Translate(b.geom, ${moved.x} - ST_X(ST_Centroid(b.geom)), ${moved.y} - ST_Y(ST_Centroid(b.geom)))
              where b.id = ${moved.id}`.execute(db);
    const {
      rows: [after],
    } = await sql<{ grid_id: number }>`select grid_id from buildings where id = ${moved.id}`.execute(db);
    expect(after.grid_id).toBe(moved.target);
    // Its residents' home points stayed behind: each is now in whatever footprint is there, if any.
    const {
      rows: [left],
    } = await sql<{ n: number }>`select count(*)::int as n from members where building_id = ${moved.id}`.execute(db);
    expect(left.n).toBe(0);
    expect(await wrongLinks(db)).toEqual([]);
  });

  it('relink buildings, members and issues when a grid boundary is redrawn', async () => {
    // Give half of grid A to its neighbour B in the same community (one transaction, as a planner would).
    const {
      rows: [pair],
    } = await sql<{ a: number; b: number }>`
      select a.id as a, b.id as b from grids a join grids b on a.community_id = b.community_id and a.id < b.id
      where ST_Length(ST_Intersection(a.geom, b.geom)::geography) > 100 order by a.id limit 1`.execute(db);
    const before = await sql<{ n: number }>`select count(*)::int as n from buildings where grid_id = ${pair.a}`.execute(db);
    await db.transaction().execute(async (trx) => {
      await sql`create temp table strip on commit drop as
                select ST_Intersection(a.geom, ST_Buffer(ST_Intersection(a.geom, b.geom), 0.0008)) as geom
                from grids a, grids b where a.id = ${pair.a} and b.id = ${pair.b}`.execute(trx);
      await sql`update grids set geom = (select ST_GeometryN(ST_CollectionExtract(ST_Difference(grids.geom, strip.geom), 3), 1) from strip) where id = ${pair.a}`.execute(
        trx,
      );
      await sql`update grids set geom = (select ST_GeometryN(ST_CollectionExtract(ST_Union(grids.geom, strip.geom), 3), 1) from strip) where id = ${pair.b}`.execute(
        trx,
      );
    });
    const after = await sql<{ n: number }>`select count(*)::int as n from buildings where grid_id = ${pair.a}`.execute(db);
    expect(after.rows[0].n).toBeLessThan(before.rows[0].n);
    expect(await wrongLinks(db)).toEqual([]);
  });

  it('keep what a deleted grid held, unassigned', async () => {
    const {
      rows: [grid],
    } = await sql<{ id: number; buildings: number }>`
      select g.id, count(b.id)::int as buildings from grids g join buildings b on b.grid_id = g.id group by g.id order by g.id desc limit 1`.execute(
      db,
    );
    const total = await sql<{ n: number }>`select count(*)::int as n from buildings`.execute(db);
    await sql`delete from grids where id = ${grid.id}`.execute(db);
    const {
      rows: [after],
    } = await sql<{ n: number; unassigned: number }>`
      select count(*)::int as n, count(*) filter (where grid_id is null)::int as unassigned from buildings`.execute(db);
    expect(after).toEqual({ n: total.rows[0].n, unassigned: grid.buildings });
    expect(await wrongLinks(db)).toEqual([]);
  });

  it('relink around every row when one statement moves several boundaries', async () => {
    // two grids far apart shrink by ~30 m in one statement: what the second leaves must be relinked too
    const {
      rows: [pair],
    } = await sql<{ a: number; b: number }>`
      select a.id as a, b.id as b from grids a join grids b on a.community_id = b.community_id and a.id < b.id
      where not ST_Intersects(a.geom, b.geom) order by a.id, b.id limit 1`.execute(db);
    const unassigned = async () =>
      (await sql<{ n: number }>`select count(*)::int as n from buildings where grid_id is null`.execute(db)).rows[0].n;
    const before = await unassigned();
    await sql`update grids set geom = ST_GeometryN(ST_Buffer(geom, -0.0003), 1) where id in (${pair.a}, ${pair.b})`.execute(db);
    expect(await wrongLinks(db)).toEqual([]);
    expect(await unassigned()).toBeGreaterThan(before);
  });

  it('relink the members around each of many scattered footprints one statement moves away', async () => {
    // 100 footprints spread over the whole city each moved out of it (a degree north) in one statement: one
    // relink pass finds the homes around every one (rolled back: the other tests keep the demo city as it is)
    const rollback = new Error('rolled back');
    await expect(
      db.transaction().execute(async (trx) => {
        const before = (await sql<{ id: number; building_id: number | null }>`select id, building_id from members order by id`.execute(trx))
          .rows;
        const {
          rows: [{ moved }],
        } = await sql<{ moved: number }>`
        with chosen as (select id from (select id, row_number() over (order by id) as n from buildings) b where n % 7 = 0 limit 100)
        update buildings set geom = ST_Translate(geom, 0, 1) where id in (select id from chosen)
        returning (select count(*)::int from chosen) as moved`.execute(trx);
        expect(moved).toBe(100);
        const after = new Map(
          (await sql<{ id: number; building_id: number | null }>`select id, building_id from members`.execute(trx)).rows.map((m) => [
            m.id,
            m.building_id,
          ]),
        );
        expect(before.filter((m) => after.get(m.id) !== m.building_id).length).toBeGreaterThan(50);
        expect(await wrongLinks(trx)).toEqual([]);
        throw rollback;
      }),
    ).rejects.toBe(rollback);
  });

  it('give the homes that new footprints hold or lie within 30 m of to the first of them, as relinking every home would', async () => {
    // 200 homes moved into open ground (every demo home is in a footprint), then one statement draws a
    // footprint about each: holding it, or 10, 25 or 40 m from it (the last beyond reach), near the homes
    // beside it too; a second one draws larger ones over those that hold a home, which keeps the older footprint
    const rollback = new Error('rolled back');
    await expect(
      db.transaction().execute(async (trx) => {
        await sql`update members set geom = ST_Translate(geom, 0, -0.05) where id in (select id from members order by id limit 200)`.execute(
          trx,
        );
        const draw = (name: string, size: number, where: string) => sql<{ drawn: number }>`
          with homes as (select id, geom, row_number() over (order by id) as n from members order by id limit 200),
          drawn as (
            insert into buildings (name, kind, geom)
            select ${name} || n, 'residential',
                   ST_Expand(ST_SetSRID(ST_Project(geom::geography, (array[0, 15, 30, 45])[n % 4 + 1], radians(90 * (n % 3)))::geometry, 4326), ${size})
            from homes where ${sql.raw(where)}
            returning id
          )
          select count(*)::int as drawn from drawn`;
        expect((await draw('test ', 0.00005, 'true').execute(trx)).rows[0].drawn).toBe(200);
        const {
          rows: [{ taken }],
        } = await sql<{ taken: number }>`
          select count(*)::int as taken from members m join buildings b on b.id = m.building_id where b.name like 'test %'`.execute(trx);
        expect(taken).toBeGreaterThan(100);
        // the homes the first footprints hold, each with its footprint
        const held = sql<{ id: number; building_id: number }>`
          select m.id, m.building_id from members m join buildings b on b.id = m.building_id
          where b.name like 'test %' and ST_Intersects(b.geom, m.geom) order by m.id`;
        const before = (await held.execute(trx)).rows;
        expect(before.length).toBeGreaterThan(20);
        // larger footprints over the homes drawn about (n % 4 = 0: the squares that hold them)
        expect((await draw('second ', 0.00006, 'n % 4 = 0').execute(trx)).rows[0].drawn).toBe(50);
        const after = new Map(
          (await sql<{ id: number; building_id: number }>`select id, building_id from members`.execute(trx)).rows.map((m) => [
            m.id,
            m.building_id,
          ]),
        );
        expect(before.filter((m) => after.get(m.id) !== m.building_id)).toEqual([]);
        const {
          rows: [{ left }],
        } = await sql<{ left: number }>`select link_members() as left`.execute(trx);
        expect(left).toBe(0);
        expect(await wrongLinks(trx)).toEqual([]);
        throw rollback;
      }),
    ).rejects.toBe(rollback);
  });

  it('place a new home point just outside a footprint in the nearest building within 30 m', async () => {
    const {
      rows: [placed],
    } = await sql<{ building_id: number | null; inside: boolean }>`
      with b as (select id, geom from buildings where grid_id is not null order by id limit 1),
           p as (select ST_SetSRID(ST_Project(ST_Centroid(b.geom)::geography, 20, 0)::geometry, 4326) as pt from b)
      insert into members (name, category, geom) select 'test', 'resident', pt from p
      returning building_id, exists (select 1 from buildings, p where ST_Contains(buildings.geom, p.pt)) as inside`.execute(db);
    expect(placed).toEqual({ building_id: expect.any(Number), inside: false });
    expect(await wrongLinks(db)).toEqual([]);
  });
});
