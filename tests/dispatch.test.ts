import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Express } from 'express';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nearestVolunteersSql } from '../server/features/volunteers/nearest.ts';
import { sweepDispatches } from '../server/features/dispatch/service.ts';
import { pruneEvents } from '../server/features/events/routes.ts';
import { findUsers, viewerOf } from '../server/features/accounts/queries.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';
import { sessionFor, testApp } from './support/app.ts';

/**
 * Nearest volunteers and dispatching, over real HTTP on a real PostGIS (both modes). The demo city gets
 * 3,000 more volunteers, spread at random over its communities, so that the nearest ones are not just the
 * demo's few.
 */

let test: TestDatabase;
let admin: Express;
let dispatcher: Express;
/** the demo city's extent, where the random points fall */
let extent: { xmin: number; ymin: number; xmax: number; ymax: number };
/** points in the demo dispatcher's street, one for each issue a test raises */
let streetPoints: [number, number][];
const nextPoint = () => streetPoints.shift()!;

const SKILLS = ['elder_care', 'disability', 'hardship', 'employment', 'medical', 'education', 'patrol', 'legal_aid', 'mediation', 'repair'];

/** A small seeded generator: the same points on every run and in both modes. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

async function bruteForce(lon: number, lat: number, k: number, skills: string[] = [], radius?: number) {
  const { rows } = await sql<{ id: number; distance_m: number }>`
    select m.id, ST_Distance(coalesce(m.current_point, m.geom)::geography, ST_SetSRID(ST_MakePoint(${lon}, ${lat}), 4326)::geography) as distance_m
    from members m
    where m.is_volunteer and m.availability = 'available' and m.skills @> ${`{${skills.join(',')}}`}::text[]
      and not exists (select from dispatches d where d.volunteer_id = m.id and d.state in ('offered', 'accepted', 'arrived'))
    order by distance_m, m.id`.execute(test.database.db);
  return rows.filter((r) => radius === undefined || r.distance_m <= radius).slice(0, k);
}

/** A user for volunteer member `memberId` and its session, as the admin API would create it. */
async function volunteerAccount(memberId: number) {
  const username = `v${memberId}`;
  await sql`insert into users (username, role, member_id, scope_community_id, password_hash)
            select ${username}, 'volunteer', id, community_id, 'unused' from members where id = ${memberId}
            on conflict (username) do nothing`.execute(test.database.db);
  return sessionFor(test.database, username);
}

async function newIssue(lon: number, lat: number, title = 'An elderly resident fell') {
  const res = await request(admin)
    .post('/api/v1/issues')
    .send({ type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties: { title, category: 'elder_care' } });
  expect(res.status).toBe(201);
  return res.body.id as number;
}

beforeAll(async () => {
  test = await openTestDatabase();
  const db = test.database.db;
  ({
    rows: [extent],
  } = await sql<typeof extent>`
    select ST_XMin(e) as xmin, ST_YMin(e) as ymin, ST_XMax(e) as xmax, ST_YMax(e) as ymax
    from (select ST_Extent(geom)::geometry as e from communities) s`.execute(db));
  // 3,000 volunteers: a fifth off duty, one to four skills each, every seventh reporting where it is now
  const rnd = random(42);
  const at = () => [extent.xmin + rnd() * (extent.xmax - extent.xmin), extent.ymin + rnd() * (extent.ymax - extent.ymin)];
  const volunteers = Array.from({ length: 3000 }, (_, n) => ({
    name: `Volunteer ${n}`,
    phone: `139${String(n).padStart(8, '0')}`,
    home: at(),
    now: n % 7 === 0 ? at() : null,
    skills: SKILLS.filter((_, i) => i === n % 10 || rnd() < 0.15),
    availability: rnd() < 0.2 ? 'off_duty' : 'available',
  }));
  await sql`
    insert into members (name, phone, category, geom, is_volunteer, skills, availability, current_point, current_point_at)
    select v.name, v.phone, 'resident', ST_SetSRID(ST_MakePoint((v.home->>0)::float8, (v.home->>1)::float8), 4326), true,
           array(select json_array_elements_text(v.skills)), v.availability,
           ST_SetSRID(ST_MakePoint((v.now->>0)::float8, (v.now->>1)::float8), 4326),
           case when v.now is not null then now() end
    from json_to_recordset(${JSON.stringify(volunteers)}::json)
      as v(name text, phone text, home json, now json, skills json, availability text)`.execute(db);
  await sql`analyze members`.execute(db);
  ({ rows: streetPoints } = await sql<[number, number]>`
    select json_build_array(ST_X(p.geom), ST_Y(p.geom)) as p from ST_Dump(ST_GeneratePoints(
      (select ST_Union(geom) from communities where street_code = (select scope_street_code from users where username = 'dispatcher')),
      40, 7)) p`
    .execute(db)
    .then(({ rows }) => ({ rows: rows.map((r) => (r as unknown as { p: [number, number] }).p) })));
  admin = await testApp(test.database);
  dispatcher = await testApp(test.database, { as: 'dispatcher' });
}, 120_000);

afterAll(async () => {
  await test?.drop();
});

describe('GET /api/v1/volunteers/nearest', () => {
  it('agrees with ordering every available volunteer by ST_Distance, at 200 random points', async () => {
    const rnd = random(7);
    for (let i = 0; i < 200; i++) {
      const lon = extent.xmin + rnd() * (extent.xmax - extent.xmin);
      const lat = extent.ymin + rnd() * (extent.ymax - extent.ymin);
      const k = 1 + Math.floor(rnd() * 12);
      const skills = rnd() < 0.4 ? [SKILLS[Math.floor(rnd() * 10)]] : rnd() < 0.15 ? [SKILLS[0], SKILLS[6]] : [];
      const radius = rnd() < 0.25 ? Math.round(200 + rnd() * 1500) : undefined;
      const query = new URLSearchParams({ lon: String(lon), lat: String(lat), k: String(k) });
      for (const s of skills) query.append('skill', s);
      if (radius !== undefined) query.set('radius_m', String(radius));
      const res = await request(admin).get(`/api/v1/volunteers/nearest?${query}`);
      expect(res.status, res.text).toBe(200);
      const expected = await bruteForce(lon, lat, k, skills, radius);
      const got = res.body.features.map((f: { id: number; properties: { distance_m: number } }) => ({
        id: f.id,
        distance_m: f.properties.distance_m,
      }));
      expect(
        got.map((g: { id: number }) => g.id),
        `point ${i} (${lon}, ${lat}) k=${k} ${skills} ${radius}`,
      ).toEqual(expected.map((e) => e.id));
      got.forEach((g: { distance_m: number }, j: number) => expect(Math.abs(g.distance_m - expected[j].distance_m)).toBeLessThan(0.5));
    }
  }, 120_000);

  it('walks the partial GiST index in distance order, not the table', async () => {
    const [user] = await findUsers(test.database.db, { username: 'dispatcher' });
    const compiled = nearestVolunteersSql({ lon: extent.xmin, lat: extent.ymin, k: 5, skills: ['medical'] }, viewerOf(user)).compile(
      test.database.db,
    );
    const { rows } = await test.database.db.executeQuery<{ 'QUERY PLAN': string }>({ ...compiled, sql: `explain ${compiled.sql}` });
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    // the k seeds: a KNN scan of the partial index, in distance order
    expect(plan).toMatch(
      /Index Scan using members_available_volunteers_idx on members m\S* {2}[^\n]*\n\s*Order By: \(\(COALESCE\(current_point, geom\)\)::geography <-> /,
    );
    // the exact answer: the same index, within the seeds' farthest distance
    expect(plan).toMatch(
      /Index Scan using members_available_volunteers_idx on members m\S* {2}[^\n]*\n\s*Index Cond: \(\(COALESCE\(current_point, geom\)\)::geography && _st_expand/,
    );
    expect(plan).not.toMatch(/Seq Scan on members/);
  });

  it('answers from the first look when it can, and looks again within the bound when it cannot', async () => {
    const [user] = await findUsers(test.database.db, { username: 'admin' });
    const analyze = async (skills: string[]) => {
      const compiled = nearestVolunteersSql(
        { lon: (extent.xmin + extent.xmax) / 2, lat: (extent.ymin + extent.ymax) / 2, k: 5, skills },
        viewerOf(user),
      ).compile(test.database.db);
      const { rows } = await test.database.db.executeQuery<{ 'QUERY PLAN': string }>({
        ...compiled,
        sql: `explain (analyze, costs off) ${compiled.sql}`,
      });
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    };
    const lookAgain = /Index Scan (using|on) members_available_volunteers_idx[^\n]*\n\s*Index Cond: [^\n]*_st_expand/;
    const common = (await analyze([])).match(new RegExp(`.*${lookAgain.source}`))![0];
    expect(common).toMatch(/never executed/);
    // three skills at once: few of the 64 nearest have them all
    const rare = (await analyze(['elder_care', 'patrol', 'medical'])).match(new RegExp(`.*${lookAgain.source}`))![0];
    expect(rare).not.toMatch(/never executed/);
  });

  it('returns only available volunteers with every skill asked, within the radius and community', async () => {
    const {
      rows: [c],
    } = await sql<{ id: number; x: number; y: number }>`
      select id, ST_X(ST_PointOnSurface(geom)) as x, ST_Y(ST_PointOnSurface(geom)) as y from communities order by id limit 1`.execute(
      test.database.db,
    );
    const res = await request(admin).get(
      `/api/v1/volunteers/nearest?lon=${c.x}&lat=${c.y}&k=50&skill=medical&skill=patrol&radius_m=3000&community=${c.id}`,
    );
    expect(res.status).toBe(200);
    expect(res.body.features.length).toBeGreaterThan(0);
    const ids = res.body.features.map((f: { id: number }) => f.id);
    const { rows } = await sql<{ bad: number }>`
      select count(*)::int as bad from members where id = any(${`{${ids.join(',')}}`}::int[])
        and not (is_volunteer and availability = 'available' and skills @> '{medical,patrol}' and community_id = ${c.id})`.execute(
      test.database.db,
    );
    expect(rows[0].bad).toBe(0);
    for (const f of res.body.features) {
      expect(f.properties.distance_m).toBeLessThanOrEqual(3000);
      expect(f.properties.community_id).toBe(c.id);
      expect(f.properties.skills).toEqual(expect.arrayContaining(['medical', 'patrol']));
    }
    const distances = res.body.features.map((f: { properties: { distance_m: number } }) => f.properties.distance_m);
    expect(distances).toEqual([...distances].sort((a, b) => a - b));
  });

  it('measures from where a volunteer says it is now', async () => {
    const {
      rows: [v],
    } = await sql<{ id: number; x: number; y: number }>`
      select id, ST_X(current_point) as x, ST_Y(current_point) as y from members
      where current_point is not null and availability = 'available' order by id limit 1`.execute(test.database.db);
    const res = await request(admin).get(`/api/v1/volunteers/nearest?lon=${v.x}&lat=${v.y}&k=1`);
    expect(res.body.features[0].id).toBe(v.id);
    expect(res.body.features[0].properties.distance_m).toBe(0);
    expect(res.body.features[0].properties.located).toBe('current');
  });

  it("finds only volunteers the caller may contact: a dispatcher its street's, a grid worker its own grid's (a distance from a chosen point is a position)", async () => {
    const q = `lon=${(extent.xmin + extent.xmax) / 2}&lat=${(extent.ymin + extent.ymax) / 2}&k=20`;
    const byDispatcher = await request(dispatcher).get(`/api/v1/volunteers/nearest?${q}`);
    expect(byDispatcher.status).toBe(200);
    const {
      rows: [street],
    } = await sql<{ ids: number[] }>`
      select array_agg(c.id) as ids from communities c join users u on u.scope_street_code = c.street_code where u.username = 'dispatcher'`.execute(
      test.database.db,
    );
    expect(byDispatcher.body.features.length).toBe(20);
    for (const f of byDispatcher.body.features) {
      expect(f.properties.name).toMatch(/\S/);
      expect(f.geometry.type).toBe('Point');
      expect(street.ids).toContain(f.properties.community_id);
    }
    const gridWorker = await testApp(test.database, { as: 'gridworker' });
    const {
      rows: [g],
    } = await sql<{ id: number; community_id: number; x: number; y: number }>`
      select g.id, g.community_id, ST_X(ST_PointOnSurface(g.geom)) as x, ST_Y(ST_PointOnSurface(g.geom)) as y
      from grids g join users u on u.scope_grid_id = g.id where u.username = 'gridworker'`.execute(test.database.db);
    const byGridWorker = await request(gridWorker).get(`/api/v1/volunteers/nearest?lon=${g.x}&lat=${g.y}&k=100`);
    expect(byGridWorker.status).toBe(200);
    const features = byGridWorker.body.features as { geometry: unknown; properties: { grid_id: number; name: string | null } }[];
    const {
      rows: [own],
    } = await sql<{ n: number }>`
      select count(*)::int as n from members m where m.grid_id = ${g.id} and m.is_volunteer and m.availability = 'available'
        and not exists (select from dispatches d where d.volunteer_id = m.id and d.state in ('offered', 'accepted', 'arrived'))`.execute(
      test.database.db,
    );
    expect(features.length).toBe(Math.min(100, own.n));
    expect(features.every((f) => f.properties.grid_id === g.id && f.properties.name !== null && f.geometry !== null)).toBe(true);
    for (const as of ['leader', 'planner', 'resident', 'volunteer']) {
      expect((await request(await testApp(test.database, { as })).get(`/api/v1/volunteers/nearest?${q}`)).status, as).toBe(403);
    }
  });

  it.each([
    ['lat=34.2&k=5', 'lon'],
    ['lon=200&lat=34.2', 'lon'],
    ['lon=108.9&lat=-91', 'lat'],
    ['lon=abc&lat=34.2', 'lon'],
    ['lon=108.9&lat=34.2&k=0', 'k'],
    ['lon=108.9&lat=34.2&k=101', 'k'],
    ['lon=108.9&lat=34.2&radius_m=50001', 'radius_m'],
    ['lon=108.9&lat=34.2&radius_m=-3', 'radius_m'],
    ['lon=108.9&lat=34.2&skill=juggling', 'skill'],
    ['lon=108.9&lat=34.2&community=x', 'community'],
    ['lon=108.9&lon=109&lat=34.2', 'lon'],
    ['lon=108.9&lat=34.2&sort=name', 'sort'],
  ])('refuses %s naming %s', async (query, field) => {
    const res = await request(admin).get(`/api/v1/volunteers/nearest?${query}`);
    expect(res.status).toBe(400);
    expect(res.type).toBe('application/problem+json');
    expect(res.body.field).toBe(field);
  });
});

describe('dispatching an issue', () => {
  it('offers the nearest k, passes a decline to the next nearest, assigns the first to accept and records every step', async () => {
    const [lon, lat] = nextPoint();
    const issue = await newIssue(lon, lat);
    const before = await request(dispatcher).get(`/api/v1/volunteers/nearest?lon=${lon}&lat=${lat}&k=4`);
    const nearest = before.body.features.map((f: { id: number }) => f.id);

    const dispatched = await request(dispatcher).post(`/api/v1/issues/${issue}/dispatch`).send({ k: 2, timeout_s: 600 });
    expect(dispatched.status, dispatched.text).toBe(201);
    expect(dispatched.body.state).toBe('open');
    expect(dispatched.body.dispatches.map((d: { volunteer_id: number }) => d.volunteer_id)).toEqual(nearest.slice(0, 2));
    expect(dispatched.body.dispatches.map((d: { rank: number }) => d.rank)).toEqual([1, 2]);
    const [first, second] = dispatched.body.dispatches;

    // offered volunteers are no longer "available to ask"
    const during = await request(dispatcher).get(`/api/v1/volunteers/nearest?lon=${lon}&lat=${lat}&k=2`);
    expect(during.body.features.map((f: { id: number }) => f.id)).toEqual(nearest.slice(2, 4));

    // the nearest declines (on its own phone): the third nearest is asked
    const firstVolunteer = await volunteerAccount(first.volunteer_id);
    const declined = await request(admin).post(`/api/v1/dispatches/${first.id}/decline`).set('Authorization', `Bearer ${firstVolunteer}`);
    expect(declined.status, declined.text).toBe(200);
    expect(declined.body.state).toBe('declined');
    let state = (await request(dispatcher).get(`/api/v1/issues/${issue}/dispatches`)).body;
    const offers = state.requests[0].dispatches;
    expect(offers.map((d: { volunteer_id: number; state: string }) => [d.volunteer_id, d.state])).toEqual([
      [nearest[0], 'declined'],
      [nearest[1], 'offered'],
      [nearest[2], 'offered'],
    ]);

    // another volunteer may not answer someone else's offer
    expect(
      (await request(admin).post(`/api/v1/dispatches/${second.id}/accept`).set('Authorization', `Bearer ${firstVolunteer}`)).status,
    ).toBe(403);

    // the third accepts: assigned and busy, the second's offer withdrawn
    const third = offers[2];
    const accepted = await request(admin)
      .post(`/api/v1/dispatches/${third.id}/accept`)
      .set('Authorization', `Bearer ${await volunteerAccount(third.volunteer_id)}`);
    expect(accepted.status, accepted.text).toBe(200);
    state = (await request(dispatcher).get(`/api/v1/issues/${issue}/dispatches`)).body;
    expect(state.requests[0].state).toBe('assigned');
    expect(state.requests[0].dispatches.map((d: { state: string }) => d.state)).toEqual(['declined', 'withdrawn', 'accepted']);
    const {
      rows: [busy],
    } = await sql<{ availability: string }>`select availability from members where id = ${third.volunteer_id}`.execute(test.database.db);
    expect(busy.availability).toBe('busy');
    expect(
      (
        await request(admin)
          .post(`/api/v1/dispatches/${second.id}/accept`)
          .set('Authorization', `Bearer ${await volunteerAccount(second.volunteer_id)}`)
      ).status,
    ).toBe(409);

    // arrives and finishes: free again, every step on record with who and the distance
    expect((await request(dispatcher).post(`/api/v1/dispatches/${third.id}/arrive`)).status).toBe(200);
    const finished = await request(dispatcher).post(`/api/v1/dispatches/${third.id}/finish`);
    expect(finished.body.state).toBe('finished');
    expect(finished.body.steps.map((s: { state: string }) => s.state)).toEqual(['offered', 'accepted', 'arrived', 'finished']);
    expect(finished.body.steps.map((s: { by: string }) => s.by)).toEqual([
      'dispatcher',
      `v${third.volunteer_id}`,
      'dispatcher',
      'dispatcher',
    ]);
    expect(finished.body.steps.every((s: { distance_m: number }) => s.distance_m === third.distance_m)).toBe(true);
    const {
      rows: [free],
    } = await sql<{ availability: string }>`select availability from members where id = ${third.volunteer_id}`.execute(test.database.db);
    expect(free.availability).toBe('available');
    // one volunteer's dispatches, newest first, for their card; a volunteer that is not a number is named
    const theirs = await request(dispatcher).get(`/api/v1/dispatches?all=true&volunteer=${third.volunteer_id}`);
    expect(theirs.status).toBe(200);
    expect(theirs.body.dispatches.map((d: { id: number }) => d.id)).toContain(third.id);
    expect(theirs.body.dispatches.every((d: { volunteer_id: number }) => d.volunteer_id === third.volunteer_id)).toBe(true);
    const bad = await request(dispatcher).get('/api/v1/dispatches?volunteer=x');
    expect([bad.status, bad.body.field]).toEqual([400, 'volunteer']);
  });

  it('passes a lapsed offer to the next nearest when the timer runs', async () => {
    const [lon, lat] = nextPoint();
    const issue = await newIssue(lon, lat);
    const res = await request(dispatcher).post(`/api/v1/issues/${issue}/dispatch`).send({ k: 1, timeout_s: 1, skill: 'medical' });
    expect(res.status).toBe(201);
    const [offer] = res.body.dispatches;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const swept = await sweepDispatches(test.database.db);
    expect(swept.timedOut).toBeGreaterThanOrEqual(1);
    const state = (await request(dispatcher).get(`/api/v1/issues/${issue}/dispatches`)).body.requests[0].dispatches;
    expect(state.map((d: { state: string }) => d.state)).toEqual(['timed_out', 'offered']);
    expect(state[0].volunteer_id).toBe(offer.volunteer_id);
    expect(state[0].steps.at(-1).by).toBe('timer');
    expect(state[1].distance_m).toBeGreaterThanOrEqual(offer.distance_m);
    const {
      rows: [v],
    } = await sql<{ skills: string[] }>`select skills from members where id = ${state[1].volunteer_id}`.execute(test.database.db);
    expect(v.skills).toContain('medical');
    // answering a lapsed offer is refused and changes nothing more
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const late = await request(dispatcher).post(`/api/v1/dispatches/${state[1].id}/accept`);
    expect(late.status).toBe(409);
    expect(late.body.title).toBe('Offer expired');
  });

  it('never gives the same volunteer to two dispatchers racing for it', async () => {
    const [lon, lat] = nextPoint();
    const issues = await Promise.all([newIssue(lon, lat), newIssue(lon, lat)]);
    const second = await testApp(test.database, { as: 'admin' });
    const answers = await Promise.all([
      request(dispatcher).post(`/api/v1/issues/${issues[0]}/dispatch`).send({ k: 3 }),
      request(second).post(`/api/v1/issues/${issues[1]}/dispatch`).send({ k: 3 }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([201, 201]);
    const asked = answers.flatMap((a) => a.body.dispatches.map((d: { volunteer_id: number }) => d.volunteer_id));
    expect(asked).toHaveLength(6);
    expect(new Set(asked).size).toBe(6);
    // and the database refuses a second open offer for a volunteer whoever writes it
    const {
      rows: [r],
    } = await sql<{ id: number }>`select id from dispatch_requests where issue_id = ${issues[1]}`.execute(test.database.db);
    await expect(
      sql`insert into dispatches (request_id, issue_id, volunteer_id, rank, distance_m, expires_at)
                     values (${r.id}, ${issues[1]}, ${asked[0]}, 9, 1, now())`.execute(test.database.db),
    ).rejects.toThrow(/dispatches_volunteer_active_key/);
  });

  it('frees the volunteer and withdraws the offers when the issue is resolved', async () => {
    const [lon, lat] = nextPoint();
    const issue = await newIssue(lon, lat);
    const res = await request(dispatcher).post(`/api/v1/issues/${issue}/dispatch`).send({ k: 2 });
    const [first] = res.body.dispatches;
    expect((await request(dispatcher).post(`/api/v1/dispatches/${first.id}/accept`)).status).toBe(200);
    await request(admin).post(`/api/v1/issues/${issue}/transitions`).send({ action: 'accept' }).expect(200);
    const resolved = await request(admin).post(`/api/v1/issues/${issue}/transitions`).send({ action: 'resolve', note: '志愿者已上门' });
    expect(resolved.status, resolved.text).toBe(200);
    const state = (await request(dispatcher).get(`/api/v1/issues/${issue}/dispatches`)).body.requests[0];
    expect(state.state).toBe('done');
    expect(state.dispatches.map((d: { state: string }) => d.state)).toEqual(['finished', 'withdrawn']);
    const {
      rows: [v],
    } = await sql<{ availability: string }>`select availability from members where id = ${first.volunteer_id}`.execute(test.database.db);
    expect(v.availability).toBe('available');
    expect((await request(dispatcher).post(`/api/v1/issues/${issue}/dispatch`).send({})).status).toBe(409);
  });

  it('keeps busy for assignments: nobody sets it by hand, a busy volunteer cannot go off duty, cancelling frees it', async () => {
    const [lon, lat] = nextPoint();
    const issue = await newIssue(lon, lat);
    const { body } = await request(dispatcher).post(`/api/v1/issues/${issue}/dispatch`).send({ k: 1 });
    const [offer] = body.dispatches;
    const token = await volunteerAccount(offer.volunteer_id);
    const asVolunteer = (r: request.Test) => r.set('Authorization', `Bearer ${token}`);
    const me = await asVolunteer(request(admin).get('/api/v1/volunteers/me'));
    expect(me.status).toBe(200);
    expect(me.body.dispatches.map((d: { id: number; issue_title: string }) => [d.id, d.issue_title])).toEqual([
      [offer.id, 'An elderly resident fell'],
    ]);
    expect((await asVolunteer(request(admin).post(`/api/v1/dispatches/${offer.id}/accept`))).status).toBe(200);

    const offDuty = await asVolunteer(request(admin).patch('/api/v1/volunteers/me')).send({ availability: 'off_duty' });
    expect(offDuty.status).toBe(409);
    expect(offDuty.body.field).toBe('availability');
    const member = await request(admin).get(`/api/v1/members/${offer.volunteer_id}`);
    const byHand = await request(admin)
      .patch(`/api/v1/members/${offer.volunteer_id}`)
      .set('If-Match', member.headers.etag)
      .send({ properties: { availability: 'available' } });
    expect(byHand.status).toBe(422);
    expect(byHand.body.field).toBe('availability');
    const other = await sql<{
      id: number;
      version: number;
    }>`select id, version from members where is_volunteer and availability = 'available' order by id limit 1`.execute(test.database.db);
    const busyByHand = await request(admin)
      .patch(`/api/v1/members/${other.rows[0].id}`)
      .set('If-Match', `"${other.rows[0].version}"`)
      .send({ properties: { availability: 'busy' } });
    expect(busyByHand.status).toBe(422);

    // the volunteer cannot come after all: cancelled, free, and the next nearest asked
    const cancelled = await asVolunteer(request(admin).post(`/api/v1/dispatches/${offer.id}/cancel`));
    expect(cancelled.body.state).toBe('cancelled');
    const state = (await request(dispatcher).get(`/api/v1/issues/${issue}/dispatches`)).body.requests[0];
    expect(state.state).toBe('open');
    expect(state.dispatches.map((d: { state: string }) => d.state)).toEqual(['cancelled', 'offered']);
    const after = await asVolunteer(request(admin).patch('/api/v1/volunteers/me')).send({
      availability: 'off_duty',
      current_point: { type: 'Point', coordinates: [lon, lat] },
    });
    expect(after.status, after.text).toBe(200);
    expect(after.body.availability).toBe('off_duty');
    expect(after.body.current_point.coordinates[0]).toBeCloseTo(lon, 6);
    expect(after.body.current_point.coordinates[1]).toBeCloseTo(lat, 6);

    // the dispatcher ends the request: the open offer is withdrawn
    expect((await request(dispatcher).delete(`/api/v1/issues/${issue}/dispatch`)).status).toBe(204);
    const ended = (await request(dispatcher).get(`/api/v1/issues/${issue}/dispatches`)).body.requests[0];
    expect(ended.state).toBe('cancelled');
    expect(ended.dispatches.map((d: { state: string }) => d.state)).toEqual(['cancelled', 'withdrawn']);
  });

  it('shows leaders how dispatching went but not who went: no volunteer id, name or skills, distances to 100 m', async () => {
    const [lon, lat] = nextPoint();
    const issue = await newIssue(lon, lat);
    const { body } = await request(dispatcher).post(`/api/v1/issues/${issue}/dispatch`).send({ k: 2 });
    const leader = await testApp(test.database, { as: 'leader' });
    const seen = (await request(leader).get(`/api/v1/issues/${issue}/dispatches`)).body.requests[0].dispatches;
    expect(seen.map((d: { state: string }) => d.state)).toEqual(['offered', 'offered']);
    for (const [i, d] of seen.entries()) {
      expect([d.volunteer_id, d.volunteer_name, d.volunteer_phone, d.volunteer_skills, d.volunteer_point]).toEqual([
        null,
        null,
        null,
        null,
        null,
      ]);
      expect(d.distance_m).toBe(Math.round(body.dispatches[i].distance_m / 100) * 100);
      expect(d.steps.every((s: { by: string | null }) => s.by === null)).toBe(true);
    }
    expect((await request(leader).post(`/api/v1/issues/${issue}/dispatch`).send({})).status).toBe(403);
    expect(
      (await request(leader).get('/api/v1/dispatches')).body.dispatches.every(
        (d: { volunteer_id: number | null }) => d.volunteer_id === null,
      ),
    ).toBe(true);
    // nor a volunteer's history by its id: those dispatches the leader reads, but not whose they are
    const volunteer = body.dispatches[0].volunteer_id as number;
    expect((await request(dispatcher).get(`/api/v1/dispatches?all=true&volunteer=${volunteer}`)).body.dispatches.length).toBeGreaterThan(0);
    const asked = await request(leader).get(`/api/v1/dispatches?all=true&volunteer=${volunteer}`);
    expect([asked.status, asked.body.dispatches]).toEqual([200, []]);
  });

  it('lets a grid worker dispatch in its own grid only, though it reads its whole community', async () => {
    const gridWorker = await testApp(test.database, { as: 'gridworker' });
    const {
      rows: [own, neighbour],
    } = await sql<{ x: number; y: number }>`
      select ST_X(ST_PointOnSurface(g.geom)) as x, ST_Y(ST_PointOnSurface(g.geom)) as y
      from grids g join users u on u.username = 'gridworker' join grids mine on mine.id = u.scope_grid_id
      where g.community_id = mine.community_id order by g.id = mine.id desc, g.id limit 2`.execute(test.database.db);
    const inside = await newIssue(own.x, own.y);
    const outside = await newIssue(neighbour.x, neighbour.y);
    expect((await request(gridWorker).get(`/api/v1/issues/${outside}/dispatches`)).status).toBe(200);
    const refused = await request(gridWorker).post(`/api/v1/issues/${outside}/dispatch`).send({ k: 1 });
    expect(refused.status).toBe(403);
    expect((await request(dispatcher).get(`/api/v1/issues/${outside}/dispatches`)).body.requests).toEqual([]);
    const { body } = await request(dispatcher).post(`/api/v1/issues/${outside}/dispatch`).send({ k: 1 });
    expect((await request(gridWorker).post(`/api/v1/dispatches/${body.dispatches[0].id}/decline`)).status).toBe(403);
    expect((await request(gridWorker).post(`/api/v1/issues/${inside}/dispatch`).send({ k: 1 })).status).toBe(201);
  });

  it('hands back offers when a volunteer goes off duty by any route, and asks again after a cancelled request', async () => {
    const [lon, lat] = nextPoint();
    const issue = await newIssue(lon, lat);
    const { body } = await request(dispatcher).post(`/api/v1/issues/${issue}/dispatch`).send({ k: 1 });
    const [offer] = body.dispatches;
    const member = await request(admin).get(`/api/v1/members/${offer.volunteer_id}`);
    expect(
      (
        await request(admin)
          .patch(`/api/v1/members/${offer.volunteer_id}`)
          .set('If-Match', member.headers.etag)
          .send({ properties: { availability: 'off_duty' } })
      ).status,
    ).toBe(200);
    await sweepDispatches(test.database.db, { retry: true });
    let state = (await request(dispatcher).get(`/api/v1/issues/${issue}/dispatches`)).body.requests[0].dispatches;
    expect(state.map((d: { state: string }) => d.state)).toEqual(['declined', 'offered']);

    // a new request after a cancel may ask the same volunteers again
    expect((await request(dispatcher).delete(`/api/v1/issues/${issue}/dispatch`)).status).toBe(204);
    const again = await request(dispatcher).post(`/api/v1/issues/${issue}/dispatch`).send({ k: 1 });
    expect(again.status).toBe(201);
    expect(again.body.dispatches[0].volunteer_id).toBe(state[1].volunteer_id);
    state = (await request(dispatcher).get(`/api/v1/issues/${issue}/dispatches`)).body.requests;
    expect(state.map((r: { state: string }) => r.state)).toEqual(['cancelled', 'open']);
  });

  it('announces a deleted issue to the consoles that saw it, and frees its volunteer', async () => {
    const [lon, lat] = nextPoint();
    const issue = await newIssue(lon, lat);
    const { body } = await request(dispatcher).post(`/api/v1/issues/${issue}/dispatch`).send({ k: 1 });
    expect((await request(dispatcher).post(`/api/v1/dispatches/${body.dispatches[0].id}/accept`)).status).toBe(200);
    const current = await request(admin).get(`/api/v1/issues/${issue}`);
    expect((await request(admin).delete(`/api/v1/issues/${issue}`).set('If-Match', current.headers.etag)).status).toBe(204);
    const {
      rows: [v],
    } = await sql<{ availability: string }>`select availability from members where id = ${body.dispatches[0].volunteer_id}`.execute(
      test.database.db,
    );
    expect(v.availability).toBe('available');
    const [user] = await findUsers(test.database.db, { username: 'dispatcher' });
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from events e where e.issue_id = ${issue} and e.data->>'change' = 'deleted'
        and e.community_id = any(array(select id from communities where street_code = ${(viewerOf(user).scope as { code: string }).code}))`.execute(
      test.database.db,
    );
    expect(rows[0].n).toBe(1);
  });

  it.each([
    [{ k: 0 }, 'k'],
    [{ k: 101 }, 'k'],
    [{ skill: 'juggling' }, 'skill'],
    [{ timeout_s: 0 }, 'timeout_s'],
    [{ k: 2, colour: 'red' }, 'colour'],
  ])('refuses a dispatch body %j naming %s', async (body, field) => {
    const [lon, lat] = nextPoint();
    const issue = await newIssue(lon, lat);
    const res = await request(dispatcher).post(`/api/v1/issues/${issue}/dispatch`).send(body);
    expect(res.status).toBe(400);
    expect(res.body.field).toBe(field);
    expect((await request(dispatcher).get(`/api/v1/issues/${issue}/dispatches`)).body.requests).toEqual([]);
  });

  it('answers unknown issues, dispatches and actions with 404, and issues outside the scope with 403', async () => {
    expect((await request(dispatcher).post('/api/v1/issues/999999/dispatch').send({})).status).toBe(404);
    expect((await request(dispatcher).post('/api/v1/dispatches/999999/accept')).status).toBe(404);
    expect((await request(dispatcher).post('/api/v1/dispatches/1/teleport')).status).toBe(404);
    const {
      rows: [outside],
    } = await sql<{ id: number }>`
      select i.id from issues i join communities c on c.id = i.community_id
      where c.street_code <> (select scope_street_code from users where username = 'dispatcher') order by i.id limit 1`.execute(
      test.database.db,
    );
    if (outside) expect((await request(dispatcher).post(`/api/v1/issues/${outside.id}/dispatch`).send({})).status).toBe(403);
    const malformed = await request(dispatcher).post('/api/v1/issues/1/dispatch').set('Content-Type', 'application/json').send('{"k": ');
    expect(malformed.status).toBe(400);
    expect(malformed.body.field).toBe('body');
  });
});

describe('GET /api/v1/events', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = (await testApp(test.database, { as: null })).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  /** Reads a stream's events until `until` holds of them, or fails after 10 s. */
  async function listen(token: string, headers: Record<string, string> = {}) {
    const controller = new AbortController();
    const res = await fetch(`${base}/api/v1/events`, {
      headers: { Authorization: `Bearer ${token}`, ...headers },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events: { id: string; event: string; data: Record<string, unknown> }[] = [];
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) =>
            block
              .split('\n')
              .find((l) => l.startsWith(`${name}: `))
              ?.slice(name.length + 2);
          if (field('data') !== undefined) events.push({ id: field('id')!, event: field('event')!, data: JSON.parse(field('data')!) });
        }
      }
    })();
    const until = async (test: (e: typeof events) => boolean) => {
      for (let waited = 0; !test(events); waited += 50) {
        if (waited > 10_000) throw new Error(`events so far: ${JSON.stringify(events)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    return { events, until, close: async () => (controller.abort(), await pump) };
  }

  it('delivers a dispatch change to every console in scope, and replays what a reconnecting one missed', async () => {
    const dispatcherToken = await sessionFor(test.database, 'dispatcher');
    const one = await listen(dispatcherToken);
    const two = await listen(await sessionFor(test.database, 'admin'));
    await one.until((e) => e.some((x) => x.event === 'ready'));
    await two.until((e) => e.some((x) => x.event === 'ready'));
    const [lon, lat] = nextPoint();
    const issue = await newIssue(lon, lat);
    const { body } = await request(dispatcher).post(`/api/v1/issues/${issue}/dispatch`).send({ k: 2 });
    const offered = (e: { event: string; data: Record<string, unknown> }[]) =>
      e.filter((x) => x.event === 'dispatch' && x.data.issue_id === issue);
    await one.until((e) => offered(e).length === 2);
    await two.until((e) => offered(e).length === 2);
    expect(offered(one.events).map((x) => [x.data.dispatch_id, x.data.state])).toEqual(
      body.dispatches.map((d: { id: number }) => [d.id, 'offered']),
    );
    expect(one.events.some((x) => x.event === 'issue' && x.data.issue_id === issue && x.data.change === 'created')).toBe(true);
    const ids = one.events.map((x) => Number(x.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));

    // console one drops; meanwhile an offer is declined and another accepted
    const lastSeen = one.events.at(-1)!.id;
    await one.close();
    await request(dispatcher).post(`/api/v1/dispatches/${body.dispatches[0].id}/decline`);
    await request(dispatcher).post(`/api/v1/dispatches/${body.dispatches[1].id}/accept`);
    await two.until((e) => offered(e).some((x) => x.data.state === 'accepted'));
    const again = await listen(dispatcherToken, { 'Last-Event-ID': lastSeen });
    await again.until((e) => offered(e).some((x) => x.data.state === 'accepted'));
    expect(offered(again.events).map((x) => x.data.state)).toEqual(
      offered(two.events)
        .slice(2)
        .map((x) => x.data.state),
    );
    expect(offered(again.events).map((x) => x.data.state)).toEqual(
      expect.arrayContaining(['declined', 'offered', 'accepted', 'withdrawn']),
    );
    await again.close();
    await two.close();
  });

  it('keeps other scopes out: a resident hears only its own reports, a volunteer only its own dispatches', async () => {
    const resident = await listen(await sessionFor(test.database, 'resident'));
    await resident.until((e) => e.some((x) => x.event === 'ready'));
    const [lon, lat] = nextPoint();
    const issue = await newIssue(lon, lat);
    const { body } = await request(dispatcher).post(`/api/v1/issues/${issue}/dispatch`).send({ k: 1 });
    const volunteer = await listen(await volunteerAccount(body.dispatches[0].volunteer_id));
    await volunteer.until((e) => e.some((x) => x.event === 'ready'));
    await request(dispatcher).post(`/api/v1/dispatches/${body.dispatches[0].id}/decline`);
    await volunteer.until((e) => e.some((x) => x.event === 'dispatch' && x.data.state === 'declined'));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(volunteer.events.filter((x) => x.event !== 'ready').every((x) => x.data.dispatch_id === body.dispatches[0].id)).toBe(true);
    expect(resident.events.filter((x) => x.event !== 'ready')).toEqual([]);
    await volunteer.close();
    await resident.close();
    expect((await fetch(`${base}/api/v1/events`)).status).toBe(401);
    expect(
      (
        await fetch(`${base}/api/v1/events`, {
          headers: { Authorization: `Bearer ${await sessionFor(test.database, 'admin')}`, 'Last-Event-ID': 'x' },
        })
      ).status,
    ).toBe(400);
  });

  it('keeps a week of events', async () => {
    const db = test.database.db;
    await sql`insert into events (at, kind, issue_id, data) values (now() - interval '8 days', 'issue', 1, '{}')`.execute(db);
    const {
      rows: [before],
    } = await sql<{ old: number; recent: number }>`
      select count(*) filter (where at < now() - interval '7 days')::int as old, count(*) filter (where at >= now() - interval '7 days')::int as recent from events`.execute(
      db,
    );
    expect(before.old).toBe(1);
    expect(await pruneEvents(db)).toBe(1);
    const {
      rows: [after],
    } = await sql<{ old: number; recent: number }>`
      select count(*) filter (where at < now() - interval '7 days')::int as old, count(*) filter (where at >= now() - interval '7 days')::int as recent from events`.execute(
      db,
    );
    expect(after).toEqual({ old: 0, recent: before.recent });
  });
});
