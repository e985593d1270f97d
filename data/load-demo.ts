import { sql, type Kysely, type Transaction } from 'kysely';
import { actorSetting } from '../server/db/actor.ts';
import type { DB } from '../server/db/schema.ts';
import { hashPassword } from '../server/features/accounts/passwords.ts';
import { DEMO_PASSWORD } from './demo-accounts.ts';
import type { DemoCity } from './demo-city.ts';

export type Progress = (step: string, done: number, total: number) => void;

const BATCH = 5000;

const DEMO_LOCK = 7426002;

/**
 * Loads a generated city into an empty database in one transaction (all or nothing), rows sent in
 * JSON batches that PostgreSQL unpacks itself; the link triggers derive every spatial link. Returns false,
 * writing nothing, when the map is not empty (two servers starting together load it once).
 */
export async function loadDemoCity(db: Kysely<DB>, city: DemoCity, progress: Progress = () => {}): Promise<boolean> {
  // One hash for every demo account: the password is public anyway, and each hash costs 0.4 s.
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  return db.transaction().execute(async (trx) => {
    // coverage's counts made once at the end, not again after every batch (sql/schema/09_reach.sql)
    await sql`select pg_advisory_xact_lock(${DEMO_LOCK}), ${actorSetting({ username: 'demo city' })}, set_config('gridmap.bulk_load', 'on', true)`.execute(
      trx,
    );
    if (!(await isEmpty(trx))) return false;
    /** the ids of the buildings in the generator's order, as inserted */
    const buildingIds: number[] = [];
    const steps: [string, unknown[] | (() => unknown[]), (trx: Transaction<DB>, rows: string) => Promise<unknown>][] = [
      // boundaries drawn from what lies in them: a street's from its communities (kept so), a district's from its streets, below
      [
        'districts',
        city.districts,
        (t, rows) =>
          sql`
        insert into districts (code, name) select code, name from json_to_recordset(${rows}::json) as r(code text, name text)`.execute(t),
      ],
      [
        'streets',
        city.streets,
        (t, rows) =>
          sql`
        insert into streets (code, name, district_code)
        select code, name, district_code from json_to_recordset(${rows}::json) as r(code text, name text, district_code text)`.execute(t),
      ],
      [
        'communities',
        city.communities.map((c) => ({ ...c, cells: c.cells.map((ring) => polygon(ring)) })),
        (t, rows) =>
          sql`
        insert into communities (code, name, street_code, party_committee_name, party_committee_secretary, staff_count, geom)
        select r.code, r.name, r.street_code, r.party_committee_name, r.party_committee_secretary, r.staff_count,
               (select ST_ForcePolygonCCW(ST_Multi(ST_Union(ST_SetSRID(ST_GeomFromGeoJSON(cell), 4326))))
                from json_array_elements_text(r.cells) cell)
        from json_to_recordset(${rows}::json) as r(code text, name text, street_code text, party_committee_name text,
               party_committee_secretary text, staff_count int, cells json)`.execute(t),
      ],
      [
        'grids',
        city.grids.map((g) => ({ ...g, ring: polygon(g.ring) })),
        (t, rows) =>
          sql`
        insert into grids (community_id, code, name, party_branch_name, party_branch_secretary, grid_worker_name, grid_worker_phone, geom)
        select c.id, r.code, r.name, r.party_branch_name, r.party_branch_secretary, r.grid_worker_name, r.grid_worker_phone,
               ST_SetSRID(ST_GeomFromGeoJSON(r.ring), 4326)
        from json_to_recordset(${rows}::json) as r(code text, name text, community_code text, party_branch_name text,
               party_branch_secretary text, grid_worker_name text, grid_worker_phone text, ring text, n integer)
        join communities c on c.code = r.community_code
        order by r.n`.execute(t),
      ],
      [
        'buildings',
        city.buildings.map((b) => ({ ...b, ring: polygon(b.ring) })),
        async (t, rows) => {
          const { rows: ids } = await sql<{ id: number }>`
        insert into buildings (name, address, kind, floors, households, residents, has_party_group, party_group_leader, geom)
        select name, address, kind, floors, households, residents, has_party_group, party_group_leader,
               ST_SetSRID(ST_GeomFromGeoJSON(ring), 4326)
        from json_to_recordset(${rows}::json) as r(name text, address text, kind text, floors smallint, households integer,
               residents integer, has_party_group boolean, party_group_leader text, ring text, n integer)
        order by r.n
        returning id`.execute(t);
          buildingIds.push(...ids.map((r) => r.id));
        },
      ],
      [
        'members',
        () => city.members.map(({ building, ...m }) => ({ ...m, building_id: buildingIds[building] })),
        (t, rows) =>
          sql`
        with r as materialized (
          select r.*, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326) as geom
          from json_to_recordset(${rows}::json) as r(name text, phone text, category text, registered_community_code text,
                 employer_unit text, lon float8, lat float8, building_id integer, is_central_household boolean, is_volunteer boolean,
                 skills json, availability text, n integer)
        ), held as materialized (
          select r.n, b.id, b.grid_id, b.community_id from r join buildings b on b.id = r.building_id and ST_Intersects(b.geom, r.geom)
        ), placed as (
          select n, id as building_id, grid_id, community_id from held
          union all
          select r.n, l.building_id, l.grid_id, l.community_id from r cross join lateral member_links(r.geom) l
          where r.n not in (select n from held)
        )
        -- Linked here, in one pass (bulk load: the row trigger place_member is off): to the footprint the
        -- generator put the home in, where it holds it (footprints do not overlap: the relink test of the demo
        -- city finds nothing to change), which takes no search; else as member_links places it.
        insert into members (name, phone, category, registered_community_id, employer_unit, geom,
                             is_central_household, is_volunteer, skills, availability, building_id, grid_id, community_id)
        select r.name, r.phone, r.category, c.id, r.employer_unit, r.geom,
               r.is_central_household, r.is_volunteer, array(select json_array_elements_text(r.skills)), r.availability,
               p.building_id, p.grid_id, p.community_id
        from r join placed p on p.n = r.n
        left join communities c on c.code = r.registered_community_code
        order by r.n`.execute(t),
      ],
      [
        'units',
        city.units.map((u) => ({ ...u, geometry: JSON.stringify(u.geometry) })),
        (t, rows) =>
          sql`
        insert into units (name, kind, geom, has_agreement, agreement_signed_on, resources, contact_name, contact_phone)
        select name, kind, ST_SetSRID(ST_GeomFromGeoJSON(geometry), 4326), has_agreement, agreement_signed_on, resources,
               contact_name, contact_phone
        from json_to_recordset(${rows}::json) as r(name text, kind text, geometry text, has_agreement boolean,
               agreement_signed_on date, resources text, contact_name text, contact_phone text)`.execute(t),
      ],
      [
        'issues',
        city.issues,
        (t, rows) =>
          sql`
        insert into issues (title, description, category, status, geom, reported_at, updated_at, resolved_at, closed_at,
                            wall, answer, public_title, answered_at, rating, rated_at, reopen_count)
        select title, description, category, status, ST_SetSRID(ST_MakePoint(lon, lat), 4326), reported_at,
               coalesce(closed_at, answered_at, resolved_at, reported_at), resolved_at, closed_at,
               -- the demo's titles name no one: the echo wall may show them
               wall, answer, case when answer is not null then title end, answered_at, rating, case when rating is not null then coalesce(closed_at, answered_at) end, reopen_count
        from json_to_recordset(${rows}::json) as r(title text, description text, category text, status text, lon float8,
               lat float8, reported_at timestamptz, resolved_at timestamptz, closed_at timestamptz, wall text, answer text,
               answered_at timestamptz, rating smallint, reopen_count int)`.execute(t),
      ],
    ];
    for (const [step, given, insert] of steps) {
      const rows = typeof given === 'function' ? given() : given;
      for (let i = 0; i < rows.length; i += BATCH) {
        // `n` keeps the generator's order where a join would shuffle it, so ids are the same every time.
        const batch = rows.slice(i, i + BATCH).map((row, k) => ({ ...(row as object), n: i + k }));
        await insert(trx, JSON.stringify(batch));
        progress(step, Math.min(i + BATCH, rows.length), rows.length);
      }
    }
    await sql`update districts d set geom = (select ST_Multi(ST_Union(s.geom)) from streets s where s.district_code = d.code)`.execute(trx);
    await sql`select set_config('gridmap.bulk_load', 'off', true), refresh_reach(array(select id from buildings)), recount_members()`.execute(
      trx,
    );
    progress('reach', 1, 1);
    await demoAccounts(trx, passwordHash);
    progress('accounts', 1, 1);
    return true;
  });
}

/** The accounts of data/demo-accounts.ts, scoped to the first street, community and grid of the city. */
async function demoAccounts(trx: Transaction<DB>, passwordHash: string) {
  await sql`
    with first_grid as (select id, community_id from grids order by id limit 1),
         first_street as (select street_code as code from communities where id = (select community_id from first_grid)),
         volunteer as (select id from members where is_volunteer and grid_id = (select id from first_grid) order by id limit 1)
    insert into users (username, display_name, password_hash, role, scope_street_code, scope_community_id, scope_grid_id, member_id)
    values ('admin', '演示管理员', ${passwordHash}, 'admin', null, null, null, null),
           ('planner', '演示规划员', ${passwordHash}, 'planner', null, (select community_id from first_grid), null, null),
           ('dispatcher', '演示调度员', ${passwordHash}, 'dispatcher', (select code from first_street), null, null, null),
           ('leader', '演示领导', ${passwordHash}, 'leader', (select code from first_street), null, null, null),
           ('secretary', '演示社区书记', ${passwordHash}, 'leader', null, (select community_id from first_grid), null, null),
           ('gridworker', '演示网格员', ${passwordHash}, 'grid_worker', null, null, (select id from first_grid), null),
           ('volunteer', '演示志愿者', ${passwordHash}, 'volunteer', null, (select community_id from first_grid), null, (select id from volunteer)),
           ('resident', '演示居民', ${passwordHash}, 'resident', null, (select community_id from first_grid), null, null)`.execute(trx);
}

const polygon = (ring: [number, number][]) => JSON.stringify({ type: 'Polygon', coordinates: [ring] });

/** True when the map holds no district and no community yet (a fresh database, not a city begun by hand). */
export async function isEmpty(db: Kysely<DB>): Promise<boolean> {
  const { rows } = await sql<{ empty: boolean }>`
    select not exists (select from communities) and not exists (select from districts) as empty`.execute(db);
  return rows[0].empty;
}
