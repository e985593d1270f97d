import type { Express } from 'express';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';
import { testApp } from './support/app.ts';

/**
 * The problem wall and the echo wall over real HTTP on real PostGIS (both modes): routing by place, the
 * lifecycle and every step it refuses, escalation by level, due times and extensions, duplicates, photos,
 * the walls, the public echo wall, the measures against hand-counted fixtures, one matter a month.
 */

let test: TestDatabase;
const as: Record<string, Express> = {};
/** the first grid (the grid worker's), a sibling grid in its community, the community, the street */
let g1: number, g2: number, c1: number, street: string;
/** points inside g1, one per issue a test raises */
let g1Points: [number, number][];
const nextPoint = () => g1Points.shift()!;

const db = () => test.database.db;
const one = async <T>(query: { execute: (db: never) => Promise<{ rows: unknown[] }> }) => (await query.execute(db() as never)).rows[0] as T;

async function report(app: Express, [lon, lat]: [number, number], properties: Record<string, unknown> = {}) {
  const res = await request(app)
    .post('/api/v1/issues')
    .send({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [lon, lat] },
      properties: { title: '楼道灯坏了', category: 'street_light', ...properties },
    });
  expect(res.status, res.text).toBe(201);
  return res.body as { id: number; properties: Record<string, unknown> };
}

const step = (app: Express, id: number, body: Record<string, unknown>) => request(app).post(`/api/v1/issues/${id}/transitions`).send(body);

async function stored(id: number) {
  return one<{
    status: string;
    wall: string;
    version: number;
    steps: number;
    grid_id: number | null;
    community_id: number | null;
    street_code: string | null;
  }>(sql`
    select status, wall, version, grid_id, community_id, street_code, (select count(*)::int from issue_steps where issue_id = ${id}) as steps
    from issues where id = ${id}`);
}

beforeAll(async () => {
  test = await openTestDatabase();
  ({ g1, c1, street } = await one<{ g1: number; c1: number; street: string }>(sql`
    select u.scope_grid_id as g1, g.community_id as c1, c.street_code as street
    from users u join grids g on g.id = u.scope_grid_id join communities c on c.id = g.community_id where u.username = 'gridworker'`));
  ({ g2 } = await one<{ g2: number }>(sql`select min(id) as g2 from grids where community_id = ${c1} and id <> ${g1}`));
  g1Points = (
    await sql<{ p: [number, number] }>`
    select json_build_array(ST_X(p.geom), ST_Y(p.geom)) as p
    from ST_Dump(ST_GeneratePoints((select ST_Buffer(geom, -0.0002) from grids where id = ${g1}), 60, 3)) p`.execute(db())
  ).rows.map((r) => r.p);
  for (const user of ['admin', 'gridworker', 'secretary', 'leader', 'dispatcher', 'resident', 'volunteer', 'planner']) {
    as[user] = await testApp(test.database, { as: user });
  }
  as.anonymous = await testApp(test.database, { as: null });
}, 120_000);

afterAll(async () => {
  await test?.drop();
});

describe('routing: an issue lands on the wall of the place it is at', () => {
  it('goes to the grid wall in a grid, the community wall in a community without grids, the street wall outside every community', async () => {
    // a community of the first street with no grid yet, west of the city, and a point farther west still
    const { xmin, ymid } = await one<{ xmin: number; ymid: number }>(sql`
      select ST_XMin(e) as xmin, (ST_YMin(e) + ST_YMax(e)) / 2 as ymid from (select ST_Extent(geom)::geometry as e from communities) s`);
    const square = (x: number, y: number, d: number) => `POLYGON((${x} ${y},${x + d} ${y},${x + d} ${y + d},${x} ${y + d},${x} ${y}))`;
    const { id: bare } = await one<{ id: number }>(sql`
      insert into communities (code, name, street_code, geom)
      values (${`${street}901`}, '新建社区', ${street}, ST_Multi(ST_GeomFromText(${square(xmin - 0.03, ymid, 0.01)}, 4326))) returning id`);

    const inGrid = await report(as.admin, nextPoint());
    const inBare = await report(as.admin, [xmin - 0.025, ymid + 0.005]);
    const outside = await report(as.admin, [xmin - 0.06, ymid + 0.005]);
    expect(await stored(inGrid.id)).toMatchObject({ wall: 'grid', grid_id: g1, community_id: c1, street_code: street, status: 'reported' });
    expect(await stored(inBare.id)).toMatchObject({ wall: 'community', grid_id: null, community_id: bare, street_code: street });
    expect(await stored(outside.id)).toMatchObject({ wall: 'street', grid_id: null, community_id: null, street_code: street });

    // each is on its wall, and the street's staff see the one no community holds
    const bareWall = await request(as.admin).get(`/api/v1/walls/community/${bare}`).expect(200);
    expect(bareWall.body.features.map((f: { id: number }) => f.id)).toEqual([inBare.id]);
    const streetWall = await request(as.leader).get(`/api/v1/walls/street/${street}`).expect(200);
    expect(streetWall.body.features.map((f: { id: number }) => f.id)).toContain(outside.id);
    expect((await request(as.leader).get(`/api/v1/issues/${outside.id}`)).status).toBe(200);
    // its events carry the street, so the street's consoles hear them too
    expect(await one(sql`select street_code from events where issue_id = ${outside.id} order by id desc limit 1`)).toEqual({
      street_code: street,
    });
    // a community moved to another street takes its issues' street with it
    const { other } = await one<{ other: string }>(sql`select min(code) as other from streets where code <> ${street}`);
    await sql`update communities set street_code = ${other}, code = ${`${other}901`} where id = ${bare}`.execute(db());
    expect(await stored(inBare.id)).toMatchObject({ wall: 'community', street_code: other });
    await sql`delete from issues where id in (${inBare.id}, ${outside.id})`.execute(db());
    await sql`delete from communities where id = ${bare}`.execute(db());
  });

  it('follows a redrawn boundary while nobody has taken the issue up', async () => {
    const issue = await report(as.admin, nextPoint());
    await sql`update grids set geom = ST_Translate(geom, 1, 0) where id = ${g1}`.execute(db());
    expect(await stored(issue.id)).toMatchObject({ wall: 'community', grid_id: null, community_id: c1 });
    await sql`update grids set geom = ST_Translate(geom, -1, 0) where id = ${g1}`.execute(db());
    expect(await stored(issue.id)).toMatchObject({ wall: 'grid', grid_id: g1 });
  });
});

describe('the lifecycle', () => {
  it('goes reported → accepted → in_progress → resolved → answered → rated → closed, with a timeline of who, when, from, to and why', async () => {
    const issue = await report(as.resident, nextPoint(), { title: '3号楼路灯不亮' });
    const worker = as.gridworker;
    for (const [body, status] of [
      [{ action: 'accept', note: '已受理' }, 'accepted'],
      [{ action: 'start' }, 'in_progress'],
      [{ action: 'resolve', note: '已更换灯泡' }, 'resolved'],
      [{ action: 'answer', answer: '路灯已修复，感谢反映。' }, 'answered'],
    ] as const) {
      const res = await step(worker, issue.id, body);
      expect(res.status, res.text).toBe(200);
      expect(res.body.status).toBe(status);
    }
    // the reporter rates it; the grid worker cannot rate for a reporter who can
    expect((await step(worker, issue.id, { action: 'rate', rating: 5 })).status).toBe(403);
    const rated = await step(as.resident, issue.id, { action: 'rate', rating: 5, comment: '很及时' });
    expect(rated.status, rated.text).toBe(200);
    expect(rated.body.status).toBe('rated');
    expect((await step(worker, issue.id, { action: 'close' })).body.status).toBe('closed');

    const timeline = (await request(as.gridworker).get(`/api/v1/issues/${issue.id}/timeline`).expect(200)).body;
    expect(
      timeline.steps.map((s: { action: string; from_status: string | null; to_status: string }) => [s.action, s.from_status, s.to_status]),
    ).toEqual([
      ['report', null, 'reported'],
      ['accept', 'reported', 'accepted'],
      ['start', 'accepted', 'in_progress'],
      ['resolve', 'in_progress', 'resolved'],
      ['answer', 'resolved', 'answered'],
      ['rate', 'answered', 'rated'],
      ['close', 'rated', 'closed'],
    ]);
    expect(timeline.steps[1]).toMatchObject({ username: 'gridworker', note: '已受理' });
    expect(timeline.steps[5]).toMatchObject({ username: 'resident', note: '很及时' });
    expect(timeline.actions).toEqual([]);
    const row = await one<Record<string, unknown>>(
      sql`select answer, rating, resolved_at is not null as resolved, closed_at is not null as closed from issues where id = ${issue.id}`,
    );
    expect(row).toEqual({ answer: '路灯已修复，感谢反映。', rating: 5, resolved: true, closed: true });
    // a resident reads that "someone" acted, not the staff's names
    const own = (await request(as.resident).get(`/api/v1/issues/${issue.id}/timeline`).expect(200)).body;
    expect(own.steps[1].username).toBeNull();
    expect(own.steps[5].username).toBe('resident');
  });

  it('reopens an issue rated unsatisfactory, and counts it as rework', async () => {
    const issue = await report(as.resident, nextPoint());
    for (const body of [{ action: 'accept' }, { action: 'resolve' }, { action: 'answer', answer: '已处理' }])
      await step(as.gridworker, issue.id, body).expect(200);
    const res = await step(as.resident, issue.id, { action: 'rate', rating: 2, comment: '还是不亮' });
    expect(res.body.status).toBe('reopened');
    expect((await request(as.gridworker).get(`/api/v1/issues/${issue.id}/timeline`)).body.actions).toContain('start');
    // its earlier resolution no longer counts: on time or late is judged when it is resolved again
    expect(await one(sql`select reopen_count, rating, resolved_at from issues where id = ${issue.id}`)).toEqual({
      reopen_count: 1,
      rating: 2,
      resolved_at: null,
    });
    await step(as.gridworker, issue.id, { action: 'start' }).expect(200);
  });

  // The issue's graph, written out here independently of the database's table.
  const GRAPH: Record<string, string[]> = {
    reported: ['accepted', 'escalated', 'rejected'],
    accepted: ['in_progress', 'resolved', 'escalated', 'rejected'],
    in_progress: ['resolved', 'escalated'],
    escalated: ['accepted', 'escalated', 'rejected'],
    reopened: ['accepted', 'in_progress', 'escalated'],
    resolved: ['answered'],
    answered: ['rated', 'reopened', 'closed'],
    rated: ['closed'],
    closed: [],
    rejected: [],
  };
  const ACTIONS: [Record<string, unknown>, string][] = [
    [{ action: 'accept' }, 'accepted'],
    [{ action: 'start' }, 'in_progress'],
    [{ action: 'resolve' }, 'resolved'],
    [{ action: 'escalate', note: '需要社区协调' }, 'escalated'],
    [{ action: 'reject', note: '不属于社区职责' }, 'rejected'],
    [{ action: 'answer', answer: '已答复' }, 'answered'],
    [{ action: 'rate', rating: 4 }, 'rated'],
    [{ action: 'close' }, 'closed'],
  ];

  it('refuses every step outside the graph with 409, and changes nothing', async () => {
    let refused = 0;
    for (const [from, targets] of Object.entries(GRAPH)) {
      for (const [body, to] of ACTIONS) {
        // an issue in state `from` on the community wall, reported by nobody (so that staff may record a rating)
        const [lon, lat] = nextPoint() ?? [0, 0];
        const { id } = await one<{ id: number }>(sql`
          insert into issues (title, category, status, wall, geom) values ('图', 'other', ${from}, 'community', ST_SetSRID(ST_MakePoint(${lon}, ${lat}), 4326))
          returning id`);
        g1Points.push([lon, lat]);
        const before = await stored(id);
        const res = await step(as.admin, id, body);
        if (targets.includes(to)) {
          expect(res.status, `${from} → ${to}: ${res.text}`).toBe(200);
        } else {
          expect(res.status, `${from} → ${to}: ${res.text}`).toBe(409);
          expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
          expect(res.body.field).toBe('action');
          expect(await stored(id)).toEqual(before);
          refused++;
        }
        await sql`delete from issues where id = ${id}`.execute(db());
      }
    }
    expect(refused).toBe(
      80 -
        Object.values(GRAPH)
          .flat()
          .filter((t) => t !== 'reopened').length,
    );
  });

  it('refuses a step outside the graph in the database too, whoever writes it', async () => {
    const issue = await report(as.admin, nextPoint());
    await expect(sql`update issues set status = 'closed' where id = ${issue.id}`.execute(db())).rejects.toThrow(
      /cannot go from reported to closed/,
    );
    await step(as.gridworker, issue.id, { action: 'escalate', note: '社区协调' }).expect(200);
    await expect(sql`update issues set wall = 'grid' where id = ${issue.id}`.execute(db())).rejects.toThrow(
      /but by an escalation one wall up/,
    );
    await expect(sql`update issues set wall = 'street', status = 'accepted' where id = ${issue.id}`.execute(db())).rejects.toThrow(
      /but by an escalation/,
    );
  });

  it('escalates grid → community → street, each wall acting at its level', async () => {
    const issue = await report(as.resident, nextPoint(), { category: 'property', title: '电梯长期故障' });
    expect((await step(as.gridworker, issue.id, { action: 'escalate' })).body.field).toBe('note');
    const up = await step(as.gridworker, issue.id, { action: 'escalate', note: '需要物业公司和社区协调' });
    expect(up.body).toMatchObject({ status: 'escalated', wall: 'community' });
    // off the grid worker's wall now: it reads it, and may no longer act on it
    expect(up.body.actions).toEqual([]);
    expect((await step(as.gridworker, issue.id, { action: 'accept' })).status).toBe(403);
    const wall = await request(as.secretary).get(`/api/v1/walls/community/${c1}`).expect(200);
    expect(wall.body.features.map((f: { id: number }) => f.id)).toContain(issue.id);
    const grid = await request(as.gridworker).get(`/api/v1/walls/grid/${g1}`).expect(200);
    expect(grid.body.features.map((f: { id: number }) => f.id)).not.toContain(issue.id);

    await step(as.secretary, issue.id, { action: 'accept', note: '社区受理' }).expect(200);
    const street2 = await step(as.secretary, issue.id, { action: 'escalate', note: '涉及多个社区，报街道' });
    expect(street2.body).toMatchObject({ status: 'escalated', wall: 'street' });
    expect((await step(as.secretary, issue.id, { action: 'accept' })).status).toBe(403);
    await step(as.leader, issue.id, { action: 'accept' }).expect(200);
    const top = await step(as.leader, issue.id, { action: 'escalate', note: '再上报' });
    expect(top.status).toBe(409);
    const timeline = (await request(as.leader).get(`/api/v1/issues/${issue.id}/timeline`)).body;
    expect(
      timeline.steps
        .filter((s: { action: string }) => s.action === 'escalate')
        .map((s: { from_wall: string; to_wall: string; note: string }) => [s.from_wall, s.to_wall, s.note]),
    ).toEqual([
      ['grid', 'community', '需要物业公司和社区协调'],
      ['community', 'street', '涉及多个社区，报街道'],
    ]);
  });

  it("lets no one outside the issue's scope act on it, and no volunteer or planner", async () => {
    const issue = await report(as.admin, nextPoint());
    const far = await one<{ id: number }>(sql`
      select i.id from issues i join communities c on c.id = i.community_id where c.street_code <> ${street} and i.status = 'reported' limit 1`);
    expect((await step(as.gridworker, far.id, { action: 'accept' })).status).toBe(403);
    expect((await step(as.volunteer, issue.id, { action: 'accept' })).status).toBe(403);
    expect((await step(as.planner, issue.id, { action: 'accept' })).status).toBe(403);
    expect((await step(as.resident, issue.id, { action: 'accept' })).status).toBe(403);
    expect((await stored(issue.id)).status).toBe('reported');
  });

  it("lets only the staff of an issue's wall correct it, and deletes none that was taken up", async () => {
    const issue = await report(as.resident, nextPoint(), { category: 'safety', title: '井盖松动' });
    await step(as.gridworker, issue.id, { action: 'accept' }).expect(200);
    const due = async () => (await one<{ due: Date }>(sql`select due_at as due from issues where id = ${issue.id}`)).due.getTime();
    const before = await due();
    // a corrected category does not move the due time of an issue taken up: more time is asked for
    await request(as.gridworker)
      .patch(`/api/v1/issues/${issue.id}`)
      .send({ properties: { category: 'property' } })
      .expect(200);
    expect(await due()).toBe(before);
    const deleted = await request(as.gridworker).delete(`/api/v1/issues/${issue.id}`);
    expect([deleted.status, deleted.body.field]).toEqual([409, 'id']);
    await step(as.gridworker, issue.id, { action: 'escalate', note: '需社区处理' }).expect(200);
    expect(
      (
        await request(as.gridworker)
          .patch(`/api/v1/issues/${issue.id}`)
          .send({ properties: { title: '改' } })
      ).status,
    ).toBe(403);
    expect((await request(as.gridworker).delete(`/api/v1/issues/${issue.id}`)).status).toBe(403);
    expect((await stored(issue.id)).status).toBe('escalated');
    // one nobody took up is deleted by its wall's staff
    const fresh = await report(as.admin, nextPoint());
    await request(as.gridworker).delete(`/api/v1/issues/${fresh.id}`).expect(204);
  });

  it('refuses bad input by field, and a stale version with 412, writing nothing', async () => {
    const issue = await report(as.admin, nextPoint());
    const before = await stored(issue.id);
    const bad = async (body: unknown, field: string, status = 400, headers: Record<string, string> = {}) => {
      const res = await request(as.gridworker)
        .post(`/api/v1/issues/${issue.id}/transitions`)
        .set(headers)
        .send(body as object);
      expect(res.status, res.text).toBe(status);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.field).toBe(field);
    };
    await bad({ action: 'fly' }, 'action');
    await bad({ action: 'accept', color: 'red' }, 'color');
    await bad({ action: 'answer' }, 'answer');
    await bad({ action: 'rate', rating: 6 }, 'rating');
    await bad({ action: 'reject', note: '重复', duplicate_of: 'x' }, 'duplicate_of');
    await bad({ action: 'accept' }, 'If-Match', 412, { 'If-Match': `"${before.version + 5}"` });
    await bad({ action: 'accept' }, 'If-Match', 400, { 'If-Match': 'yesterday' });
    const malformed = await request(as.gridworker)
      .post(`/api/v1/issues/${issue.id}/transitions`)
      .set('Content-Type', 'application/json')
      .send('{"action":');
    expect(malformed.status).toBe(400);
    expect(malformed.body.field).toBe('body');
    expect((await step(as.gridworker, 999999, { action: 'accept' })).status).toBe(404);
    expect(await stored(issue.id)).toEqual(before);
    await request(as.gridworker)
      .post(`/api/v1/issues/${issue.id}/transitions`)
      .set('If-Match', `"${before.version}"`)
      .send({ action: 'accept' })
      .expect(200);
  });

  it('tells open consoles of each step', async () => {
    const issue = await report(as.admin, nextPoint());
    const { last } = await one<{ last: number }>(sql`select coalesce(max(id), 0)::int as last from events`);
    await step(as.gridworker, issue.id, { action: 'accept' }).expect(200);
    const events = (
      await sql<{ data: { status: string } }>`select data from events where id > ${last} and issue_id = ${issue.id}`.execute(db())
    ).rows;
    expect(events.map((e) => e.data.status)).toEqual(['accepted']);
  });
});

describe('due times', () => {
  it('gives each category its due time, marks overdue issues, and lets an admin set the time for new issues', async () => {
    const categories = (await request(as.anonymous).get('/api/v1/issue-categories').expect(200)).body.categories;
    expect(categories.find((c: { code: string }) => c.code === 'safety')).toMatchObject({ urgency: 'urgent', due_hours: 2 });
    expect(categories.find((c: { code: string }) => c.code === 'noise')).toMatchObject({ urgency: 'general', due_hours: 168 });
    expect(categories.find((c: { code: string }) => c.code === 'property')).toMatchObject({ urgency: 'complex', due_hours: 360 });

    const urgent = await report(as.admin, nextPoint(), { category: 'safety', title: '井盖缺失' });
    expect(
      await one(sql`select extract(epoch from due_at - reported_at)::int / 3600 as hours from issues where id = ${urgent.id}`),
    ).toEqual({ hours: 2 });
    await sql`update issues set reported_at = now() - interval '3 hours' where id = ${urgent.id}`.execute(db());
    const wall = (await request(as.gridworker).get(`/api/v1/walls/grid/${g1}`).expect(200)).body;
    const shown = wall.features.find((f: { id: number }) => f.id === urgent.id);
    expect(shown.properties.overdue).toBe(true);
    const dues = wall.features.map((f: { properties: { due_at: string } }) => Date.parse(f.properties.due_at));
    expect(dues).toEqual([...dues].sort((a, b) => a - b));
    expect(wall.overdue).toBe(wall.features.filter((f: { properties: { overdue: boolean } }) => f.properties.overdue).length);
    // the issue list filters them too: overdue ones, and open ones (the dispatch console's list)
    const late = (await request(as.admin).get(`/api/v1/issues?grid=${g1}&overdue=true&limit=1000`).expect(200)).body.features;
    const expectedLate = await sql<{ id: number }>`
      select id from issues where grid_id = ${g1} and due_at < now() and status in ('reported', 'accepted', 'in_progress', 'escalated', 'reopened') order by id`.execute(
      db(),
    );
    expect(late.map((f: { id: number }) => f.id)).toEqual(expectedLate.rows.map((r) => r.id));
    expect(late.map((f: { id: number }) => f.id)).toContain(urgent.id);
    const open = (await request(as.admin).get(`/api/v1/issues?grid=${g1}&open=false&limit=1000`).expect(200)).body.features;
    expect(open.length).toBeGreaterThan(0);
    expect(
      open.every((f: { properties: { status: string } }) =>
        ['resolved', 'answered', 'rated', 'closed', 'rejected'].includes(f.properties.status),
      ),
    ).toBe(true);
    expect((await request(as.admin).get('/api/v1/issues?overdue=maybe')).body.field).toBe('overdue');

    expect((await request(as.gridworker).patch('/api/v1/issue-categories/safety').send({ due_hours: 4 })).status).toBe(403);
    expect((await request(as.admin).patch('/api/v1/issue-categories/safety').send({ due_hours: 0 })).body.field).toBe('due_hours');
    expect((await request(as.admin).patch('/api/v1/issue-categories/nothing').send({ due_hours: 4 })).status).toBe(404);
    await request(as.admin).patch('/api/v1/issue-categories/safety').send({ due_hours: 4 }).expect(200);
    const later = await report(as.admin, nextPoint(), { category: 'safety', title: '护栏松动' });
    expect(await one(sql`select extract(epoch from due_at - reported_at)::int / 3600 as hours from issues where id = ${later.id}`)).toEqual(
      { hours: 4 },
    );
    expect(
      await one(sql`select extract(epoch from due_at - reported_at)::int / 3600 as hours from issues where id = ${urgent.id}`),
    ).toEqual({ hours: 2 });
    await request(as.admin).patch('/api/v1/issue-categories/safety').send({ due_hours: 2 }).expect(200);
    const unknown = await request(as.admin)
      .post('/api/v1/issues')
      .send({ type: 'Feature', geometry: { type: 'Point', coordinates: nextPoint() }, properties: { title: '?', category: 'weather' } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.field).toBe('category');
  });

  it('extends a due time when the level above approves, not before', async () => {
    const issue = await report(as.admin, nextPoint(), { category: 'noise' });
    await step(as.gridworker, issue.id, { action: 'accept' }).expect(200);
    const due = async () => (await one<{ due: Date }>(sql`select due_at as due from issues where id = ${issue.id}`)).due.getTime();
    const first = await due();
    expect((await request(as.gridworker).post(`/api/v1/issues/${issue.id}/extensions`).send({ hours: 48 })).body.field).toBe('reason');
    const asked = await request(as.gridworker).post(`/api/v1/issues/${issue.id}/extensions`).send({ hours: 48, reason: '等待施工队排期' });
    expect(asked.status, asked.text).toBe(201);
    const extension = asked.body.extensions[0].id;
    expect((await request(as.gridworker).post(`/api/v1/issues/${issue.id}/extensions`).send({ hours: 24, reason: '再等' })).status).toBe(
      409,
    );
    // the grid worker cannot grant itself time; the community's secretary can
    expect(
      (await request(as.gridworker).patch(`/api/v1/issues/${issue.id}/extensions/${extension}`).send({ state: 'approved' })).status,
    ).toBe(403);
    expect(await due()).toBe(first);
    const approved = await request(as.secretary)
      .patch(`/api/v1/issues/${issue.id}/extensions/${extension}`)
      .send({ state: 'approved', note: '同意' });
    expect(approved.status, approved.text).toBe(200);
    expect(await due()).toBe(first + 48 * 3600_000);
    expect(
      (await request(as.secretary).patch(`/api/v1/issues/${issue.id}/extensions/${extension}`).send({ state: 'refused' })).status,
    ).toBe(409);
    expect(approved.body.steps.map((s: { action: string }) => s.action)).toEqual([
      'report',
      'accept',
      'request_extension',
      'approve_extension',
    ]);
  });

  it('grants more time a level above whoever asked, never the asker, and adds it to the due time the issue has', async () => {
    const issue = await report(as.admin, nextPoint(), { category: 'noise' });
    await step(as.secretary, issue.id, { action: 'accept' }).expect(200);
    const due = async () => (await one<{ due: Date }>(sql`select due_at as due from issues where id = ${issue.id}`)).due.getTime();
    const first = await due();
    const asked = await request(as.secretary)
      .post(`/api/v1/issues/${issue.id}/extensions`)
      .send({ hours: 24, reason: '协调施工' })
      .expect(201);
    const extension = asked.body.extensions[0];
    expect(extension.wall).toBe('community');
    expect(asked.body.actions).not.toContain('decide_extension');
    expect(
      (await request(as.secretary).patch(`/api/v1/issues/${issue.id}/extensions/${extension.id}`).send({ state: 'approved' })).status,
    ).toBe(403);
    // the category's time changes meanwhile: the issue keeps its own, plus the hours granted
    await request(as.admin).patch('/api/v1/issue-categories/noise').send({ due_hours: 24 }).expect(200);
    await request(as.leader).patch(`/api/v1/issues/${issue.id}/extensions/${extension.id}`).send({ state: 'approved' }).expect(200);
    await request(as.admin).patch('/api/v1/issue-categories/noise').send({ due_hours: 168 }).expect(200);
    expect(await due()).toBe(first + 24 * 3600_000);
  });

  it('withdraws more time asked for once the issue is resolved or has climbed a wall', async () => {
    const resolved = await report(as.admin, nextPoint());
    await step(as.gridworker, resolved.id, { action: 'accept' }).expect(200);
    const asked = await request(as.gridworker)
      .post(`/api/v1/issues/${resolved.id}/extensions`)
      .send({ hours: 24, reason: '等配件' })
      .expect(201);
    await step(as.gridworker, resolved.id, { action: 'resolve' }).expect(200);
    const late = await request(as.secretary)
      .patch(`/api/v1/issues/${resolved.id}/extensions/${asked.body.extensions[0].id}`)
      .send({ state: 'approved' });
    expect(late.status).toBe(409);
    expect(
      await one(
        sql`select state, extended_hours from issue_extensions x join issues i on i.id = x.issue_id where x.id = ${asked.body.extensions[0].id}`,
      ),
    ).toEqual({ state: 'withdrawn', extended_hours: 0 });

    const climbed = await report(as.admin, nextPoint());
    await step(as.gridworker, climbed.id, { action: 'accept' }).expect(200);
    await request(as.gridworker).post(`/api/v1/issues/${climbed.id}/extensions`).send({ hours: 24, reason: '等配件' }).expect(201);
    await step(as.gridworker, climbed.id, { action: 'escalate', note: '需社区协调' }).expect(200);
    await step(as.secretary, climbed.id, { action: 'accept' }).expect(200);
    // the community's own request is not blocked by the grid's old one
    await request(as.secretary).post(`/api/v1/issues/${climbed.id}/extensions`).send({ hours: 48, reason: '协调物业' }).expect(201);
  });
});

describe('duplicates', () => {
  it('offers an open issue of the same category within 50 m and 7 days, and links a duplicate so both reporters follow one', async () => {
    // a point 100 m or more inside the grid: every report below, up to 80 m east, is on its wall
    const { lon, lat } = await one<{ lon: number; lat: number }>(sql`
      select ST_X(p) as lon, ST_Y(p) as lat from (select ST_PointOnSurface(ST_Buffer(geom::geography, -100)::geometry) as p from grids where id = ${g1}) s`);
    const metres = (dx: number) => [lon + dx / (111_320 * Math.cos((lat * Math.PI) / 180)), lat] as [number, number];
    const first = await report(as.admin, [lon, lat], { category: 'sanitation', title: '垃圾桶满溢' });
    const again = await report(as.resident, metres(20), { category: 'sanitation', title: '垃圾没人收' });
    const farther = await report(as.admin, metres(80), { category: 'sanitation', title: '垃圾' });
    const other = await report(as.admin, metres(10), { category: 'noise', title: '噪音' });
    const older = await report(as.admin, metres(15), { category: 'sanitation', title: '旧的' });
    await sql`update issues set reported_at = now() - interval '8 days' where id = ${older.id}`.execute(db());

    const offered = (await request(as.gridworker).get(`/api/v1/issues/${again.id}/possible-duplicates`).expect(200)).body.issues;
    expect(offered.map((i: { id: number }) => i.id)).toEqual([first.id]);
    expect(offered[0].distance_m).toBeCloseTo(20, 0);
    const before = (
      await request(as.resident)
        .get(`/api/v1/issues/possible-duplicates?lon=${metres(45)[0]}&lat=${lat}&category=sanitation`)
        .expect(200)
    ).body.issues;
    // a resident is offered only what it may read: its own report
    expect(before.map((i: { id: number }) => i.id)).toEqual([again.id]);
    expect((await request(as.gridworker).get('/api/v1/issues/possible-duplicates?lon=200&lat=1&category=noise')).body.field).toBe('lon');

    expect((await request(as.resident).get(`/api/v1/issues/${first.id}`)).status).toBe(403);
    const linked = await step(as.gridworker, again.id, { action: 'reject', note: '重复反映', duplicate_of: first.id });
    expect(linked.status, linked.text).toBe(200);
    expect(linked.body).toMatchObject({ status: 'rejected', duplicate_of: first.id });
    // the second reporter now follows the first report
    expect((await request(as.resident).get(`/api/v1/issues/${first.id}`)).status).toBe(200);
    const timeline = (await request(as.admin).get(`/api/v1/issues/${first.id}/timeline`)).body;
    expect(timeline.steps.at(-1)).toMatchObject({ action: 'link' });
    expect((await step(as.gridworker, farther.id, { action: 'reject', note: '重复', duplicate_of: farther.id })).body.field).toBe(
      'duplicate_of',
    );
    expect((await step(as.gridworker, farther.id, { action: 'reject', note: '重复', duplicate_of: 999999 })).status).toBe(422);
    // nor to an issue that repeats one the caller may not read: its reporter would read it
    const elsewhere = await one<{ id: number }>(sql`
      select i.id from issues i join communities c on c.id = i.community_id where c.street_code <> ${street} and i.status = 'reported' limit 1`);
    await step(as.admin, other.id, { action: 'reject', note: '重复', duplicate_of: elsewhere.id }).expect(200);
    const hidden = await step(as.gridworker, farther.id, { action: 'reject', note: '重复', duplicate_of: other.id });
    expect([hidden.status, hidden.body.field], hidden.text).toEqual([422, 'duplicate_of']);
    expect((await stored(farther.id)).status).toBe('reported');
  });
});

describe('photos', () => {
  const jpeg = (n: number) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100, n), Buffer.from([0xff, 0xd9])]);
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

  it('keeps up to five per issue and kind, of a picture type, for those who may see the issue', async () => {
    const issue = await report(as.resident, nextPoint());
    const upload = (app: Express, body: Buffer, type: string, kind = 'report') =>
      request(app).post(`/api/v1/issues/${issue.id}/photos?kind=${kind}`).set('Content-Type', type).send(body);
    const first = await upload(as.resident, jpeg(1), 'image/jpeg');
    expect(first.status, first.text).toBe(201);
    for (let n = 2; n <= 5; n++) await upload(as.resident, jpeg(n), 'image/jpeg').expect(201);
    const sixth = await upload(as.resident, jpeg(6), 'image/jpeg');
    expect(sixth.status).toBe(409);
    expect(sixth.body.field).toBe('kind');
    expect((await upload(as.resident, Buffer.from('hello'), 'text/plain')).status).toBe(415);
    expect((await upload(as.gridworker, png, 'image/jpeg', 'answer')).status).toBe(415);
    expect((await upload(as.resident, png, 'image/png', 'answer')).status).toBe(403);
    expect((await upload(as.gridworker, Buffer.alloc(5 * 1024 * 1024 + 1, 0xff), 'image/jpeg', 'answer')).status).toBe(413);
    expect((await upload(as.resident, jpeg(1), 'image/jpeg', 'before')).body.field).toBe('kind');
    await upload(as.gridworker, png, 'image/png', 'answer').expect(201);

    const list = (await request(as.gridworker).get(`/api/v1/issues/${issue.id}/photos`).expect(200)).body.photos;
    expect(list.map((p: { kind: string }) => p.kind)).toEqual(['report', 'report', 'report', 'report', 'report', 'answer']);
    const bytes = await request(as.resident)
      .get(first.body.url)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect(bytes.headers['content-type']).toBe('image/jpeg');
    expect(Buffer.compare(bytes.body as Buffer, jpeg(1))).toBe(0);
    expect((await request(as.resident).get(first.body.url).set('If-None-Match', bytes.headers.etag)).status).toBe(304);
    // a volunteer may not read issues at all; a resident may not read another's
    expect((await request(as.volunteer).get(first.body.url)).status).toBe(403);
    const others = await report(as.admin, nextPoint());
    expect((await request(as.resident).get(`/api/v1/issues/${others.id}/photos`)).status).toBe(403);
    await request(as.resident).delete(first.body.url).expect(204);
    // the removal is in the audit log, with who and what, but not the picture's bytes
    const audit = await one<{ username: string; before: Record<string, unknown> }>(sql`
      select username, before from audit_log where resource = 'issue_photos' and action = 'delete' and row_id = ${first.body.id}`);
    expect(audit.username).toBe('resident');
    expect(audit.before).toMatchObject({ issue_id: issue.id, kind: 'report', byte_size: 106 });
    expect(audit.before).not.toHaveProperty('data');
    await upload(as.resident, jpeg(7), 'image/jpeg').expect(201);
  });
});

describe('the walls and the echo wall', () => {
  it('shows a resident only its own issues on a wall, and 404 for a wall that does not exist', async () => {
    const mine = await report(as.resident, nextPoint());
    const wall = (await request(as.resident).get(`/api/v1/walls/grid/${g1}`).expect(200)).body;
    expect(wall.features.length).toBeGreaterThan(0);
    expect(wall.features.map((f: { id: number }) => f.id)).toContain(mine.id);
    const reporters = await one<{ others: number }>(sql`
      select count(*)::int as others from issues where id in (select json_array_elements_text(${JSON.stringify(wall.features.map((f: { id: number }) => f.id))}::json)::int)
        and reported_by is distinct from (select id from users where username = 'resident')
        -- but those its reports were linked to as duplicates, which it follows
        and id not in (select duplicate_of from issues where reported_by = (select id from users where username = 'resident') and duplicate_of is not null)`);
    expect(reporters.others).toBe(0);
    expect((await request(as.admin).get('/api/v1/walls/grid/999999')).status).toBe(404);
    expect((await request(as.admin).get('/api/v1/walls/street/12')).body.field).toBe('code');
    expect((await request(as.admin).get(`/api/v1/walls/grid/${g1}?limit=0`)).body.field).toBe('limit');
  });

  it('holds on each wall exactly the open issues there, as PostGIS and the state say', async () => {
    const wall = (await request(as.admin).get(`/api/v1/walls/community/${c1}`).expect(200)).body;
    const expected = await sql<{ id: number }>`
      select i.id from issues i join communities c on ST_Intersects(c.geom, i.geom)
      where c.id = ${c1} and i.wall = 'community' and i.duplicate_of is null
        and i.status in ('reported', 'accepted', 'in_progress', 'escalated', 'reopened', 'resolved') order by i.id`.execute(db());
    expect(wall.features.map((f: { id: number }) => f.id).sort((a: number, b: number) => a - b)).toEqual(expected.rows.map((r) => r.id));
    expect(wall.total).toBe(expected.rows.length);
  });

  it("names an answered issue on the echo wall in the staff's words, never the reporter's", async () => {
    const issue = await report(as.resident, nextPoint(), { title: '302室张三家漏水，电话13800001234', category: 'property' });
    for (const body of [{ action: 'accept' }, { action: 'resolve' }, { action: 'answer', answer: '已协调物业维修。' }])
      await step(as.gridworker, issue.id, body).expect(200);
    const echo = async () =>
      (await request(as.anonymous).get(`/api/v1/echo?community=${c1}&limit=500`).expect(200)).body.issues.find(
        (i: { id: number }) => i.id === issue.id,
      );
    expect((await echo()).title).toBe('物业服务');
    const named = await report(as.resident, nextPoint(), { title: '张三家门口路灯坏' });
    for (const body of [
      { action: 'accept' },
      { action: 'resolve' },
      { action: 'answer', answer: '已修复。', public_title: '3号楼路灯维修' },
    ]) {
      await step(as.gridworker, named.id, body).expect(200);
    }
    const page = (await request(as.anonymous).get(`/api/v1/echo?community=${c1}&limit=500`).expect(200)).body;
    expect(page.issues.find((i: { id: number }) => i.id === named.id).title).toBe('3号楼路灯维修');
    expect(JSON.stringify(page)).not.toContain('张三');
  });

  it('publishes answered issues to anyone, with no personal data', async () => {
    const echo = await request(as.anonymous).get(`/api/v1/echo?community=${c1}&limit=500`).expect(200);
    const expected = await one<{ n: number }>(sql`
      select count(*)::int as n from issues where community_id = ${c1} and status in ('answered', 'rated', 'closed') and answer is not null and duplicate_of is null`);
    expect(echo.body.total).toBe(expected.n);
    // the filter's choices: the communities with answers, whichever is chosen
    const withAnswers = await sql<{ id: number }>`
      select distinct community_id as id from issues where status in ('answered', 'rated', 'closed') and answer is not null
        and duplicate_of is null and community_id is not null order by 1`.execute(db());
    expect(echo.body.communities.map((c: { id: number }) => c.id).sort((a: number, b: number) => a - b)).toEqual(
      withAnswers.rows.map((r) => r.id),
    );
    expect(echo.body.issues.every((i: { community_id: number }) => i.community_id === c1)).toBe(true);
    expect(echo.body.issues.length).toBe(Math.min(expected.n, 500));
    const keys = new Set(echo.body.issues.flatMap((i: object) => Object.keys(i)));
    for (const personal of ['description', 'reported_by', 'geometry', 'geom', 'lon', 'lat', 'rating_comment'])
      expect(keys.has(personal), personal).toBe(false);
    expect(echo.body.issues[0]).toMatchObject({ community: expect.any(String), answer: expect.any(String) });
    const times = echo.body.issues.map((i: { answered_at: string }) => Date.parse(i.answered_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect((await request(as.anonymous).get('/api/v1/echo?limit=2&offset=2')).body.issues.length).toBe(2);
    expect((await request(as.anonymous).get('/api/v1/echo?who=me')).body.field).toBe('who');
  });
});

describe('measures', () => {
  it('computes each measure per grid and community as counted by hand on a fixture', async () => {
    // January 2020 (no demo issue is that old): seven issues in g1 and g2, and a duplicate that counts for nothing
    const at = (day: number, hour = 0) => `2020-01-${String(day).padStart(2, '0')}T${String(hour).padStart(2, '0')}:00:00Z`;
    const [p1, p2] = [
      nextPoint(),
      await one<{ p: [number, number] }>(
        sql`select json_build_array(ST_X(p), ST_Y(p)) as p from (select ST_PointOnSurface(geom) as p from grids where id = ${g2}) s`,
      ),
    ];
    const fixtures = [
      { n: 1, status: 'closed', reported: at(1), resolved: at(2), closed: at(3), rating: 5, reopen: 0, ext: 0, p: p1 },
      { n: 2, status: 'closed', reported: at(2), resolved: at(12), closed: at(13), rating: 3, reopen: 1, ext: 0, p: p1 },
      { n: 3, status: 'closed', reported: at(3), resolved: at(11), closed: at(11, 12), rating: 4, reopen: 0, ext: 120, p: p1 },
      { n: 4, status: 'rejected', reported: at(4), resolved: null, closed: at(5), rating: null, reopen: 0, ext: 0, p: p1 },
      { n: 5, status: 'in_progress', reported: at(5), resolved: null, closed: null, rating: null, reopen: 0, ext: 0, p: p1 },
      { n: 6, status: 'answered', reported: at(6), resolved: at(7), closed: null, rating: null, reopen: 0, ext: 0, p: p1 },
      { n: 8, status: 'reported', reported: at(8), resolved: null, closed: null, rating: null, reopen: 0, ext: 0, p: p2.p },
    ];
    const ids: number[] = [];
    for (const f of fixtures) {
      ids.push(
        (
          await one<{ id: number }>(sql`
        insert into issues (title, category, status, geom, reported_at, resolved_at, closed_at, rating, reopen_count, extended_hours)
        values (${`fixture ${f.n}`}, 'noise', ${f.status}, ST_SetSRID(ST_MakePoint(${f.p[0]}, ${f.p[1]}), 4326), ${f.reported}, ${f.resolved}, ${f.closed},
                ${f.rating}, ${f.reopen}, ${f.ext}) returning id`)
        ).id,
      );
    }
    await sql`insert into issues (title, category, status, geom, reported_at, closed_at, duplicate_of)
              values ('fixture 7', 'noise', 'rejected', ST_SetSRID(ST_MakePoint(${p1[0]}, ${p1[1]}), 4326), ${at(7)}, ${at(7)}, ${ids[0]})`.execute(
      db(),
    );

    const community = (await request(as.leader).get('/api/v1/issues/metrics?by=community&from=2020-01-01&to=2020-02-01').expect(200)).body;
    expect(community.areas).toHaveLength(1);
    // by hand: 7 reported (the duplicate left out); closed 1, 2, 3; rejected 4; resolved on time 1, 3 (extended), 6 of
    // 1, 2, 3, 6 resolved and 5, 8 past due; rework 2; extension 3; hours to close 48, 264, 204; ratings 5, 3, 4
    expect(community.areas[0]).toMatchObject({
      area_id: c1,
      reported: 7,
      closed: 3,
      rejected: 1,
      open: 2,
      overdue: 2,
      closure_rate: 0.5,
      on_time_rate: 0.5,
      rework_rate: 0.1429,
      extension_rate: 0.1429,
      median_hours_to_close: 204,
      p90_hours_to_close: 252,
      mean_rating: 4,
      ratings: 3,
    });
    expect(community.total).toMatchObject({ reported: 7, closed: 3 });

    const grids = (await request(as.leader).get('/api/v1/issues/metrics?by=grid&from=2020-01-01&to=2020-02-01').expect(200)).body;
    const byGrid = Object.fromEntries(grids.areas.map((a: { area_id: number }) => [a.area_id, a]));
    expect(byGrid[g1]).toMatchObject({ reported: 6, closed: 3, closure_rate: 0.6, on_time_rate: 0.6, open: 1, mean_rating: 4 });
    expect(byGrid[g2]).toMatchObject({
      reported: 1,
      closed: 0,
      closure_rate: 0,
      on_time_rate: 0,
      median_hours_to_close: null,
      mean_rating: null,
    });

    // one community's grids, and one street's communities
    const oneCommunity = (
      await request(as.leader).get(`/api/v1/issues/metrics?by=grid&community=${c1}&from=2020-01-01&to=2020-02-01`).expect(200)
    ).body;
    expect(oneCommunity.areas.map((a: { area_id: number }) => a.area_id).sort()).toEqual([g1, g2].sort());
    const otherStreet = (await request(as.admin).get('/api/v1/issues/metrics?street=610602999&from=2020-01-01&to=2020-02-01').expect(200))
      .body;
    expect(otherStreet.total.reported).toBe(0);
    expect((await request(as.leader).get('/api/v1/issues/metrics?street=61')).body.field).toBe('street');
    // the window is [from, to); outside the leader's street, nothing
    expect(
      (await request(as.leader).get('/api/v1/issues/metrics?by=grid&from=2020-01-02&to=2020-01-08').expect(200)).body.total.reported,
    ).toBe(5);
    const none = (await request(as.leader).get('/api/v1/issues/metrics?from=1990-01-01&to=1990-02-01').expect(200)).body;
    expect(none.areas).toEqual([]);
    expect(none.total).toMatchObject({ reported: 0, closure_rate: null, median_hours_to_close: null });
    expect((await request(as.leader).get('/api/v1/issues/metrics?by=town')).body.field).toBe('by');
    expect((await request(as.leader).get('/api/v1/issues/metrics?from=2020-02-01&to=2020-01-01')).body.field).toBe('from');
    expect((await request(as.leader).get('/api/v1/issues/metrics?from=yesterday')).body.field).toBe('from');
    expect((await request(as.leader).get('/api/v1/issues/metrics?to=2026-02-30')).body.field).toBe('to');
    expect((await request(as.leader).get('/api/v1/issues/metrics?from=0000-01-01')).body.field).toBe('from');
    expect((await request(as.resident).get('/api/v1/issues/metrics')).status).toBe(403);
  });
});

describe('one matter a month', () => {
  it('is kept by the community staff and published to everyone', async () => {
    const put = (app: Express, month: string, body: object) => request(app).put(`/api/v1/communities/${c1}/monthly/${month}`).send(body);
    expect((await put(as.gridworker, '2026-11', { title: '加装电梯' })).status).toBe(403);
    expect((await put(as.secretary, '2026-13', { title: '加装电梯' })).body.field).toBe('month');
    expect((await put(as.secretary, '0000-01', { title: '加装电梯' })).body.field).toBe('month');
    expect((await put(as.secretary, '2026-11', { title: '' })).body.field).toBe('title');
    const draft = await put(as.secretary, '2026-11', { title: '老旧小区加装电梯', discussion: '居民议事会讨论三次' });
    expect(draft.status, draft.text).toBe(201);
    expect((await request(as.anonymous).get(`/api/v1/communities/${c1}/monthly`).expect(200)).body.matters).toEqual([]);
    expect((await request(as.secretary).get(`/api/v1/communities/${c1}/monthly`).expect(200)).body.matters).toHaveLength(1);
    const published = await put(as.secretary, '2026-11', {
      title: '老旧小区加装电梯',
      discussion: '居民议事会讨论三次',
      outcome: '3栋试点加装',
      published: true,
    });
    expect(published.status).toBe(200);
    const shown = (await request(as.anonymous).get(`/api/v1/communities/${c1}/monthly`).expect(200)).body.matters;
    expect(shown).toMatchObject([{ month: '2026-11', title: '老旧小区加装电梯', outcome: '3栋试点加装' }]);
    expect((await request(as.anonymous).get('/api/v1/communities/999999/monthly')).status).toBe(404);
  });
});
