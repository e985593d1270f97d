import express from 'express';
import { sql } from 'kysely';
import { match } from 'path-to-regexp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessGuard } from '../server/http/guard.ts';
import { problemHandler } from '../server/http/problem.ts';
import { GUARDED_PREFIXES } from '../server/access/rules.ts';
import { loadConfig } from '../server/config.ts';
import { apiRoutes } from '../server/http/api.ts';
import { rulesOf } from '../server/http/route.ts';
import { sessionFor, testApp } from './support/app.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * Who may do what, checked through the real app over HTTP with real sessions of the demo accounts:
 * planner (first community), dispatcher and leader (first street), gridworker (first grid), volunteer (a
 * volunteer of the first grid, first community), resident (first community), and admin.
 */
describe('roles and scopes', () => {
  let test: TestDatabase;
  let app: Awaited<ReturnType<typeof testApp>>;
  const tokens: Record<string, string> = {};
  /** ids on the map: in the first grid, in a sibling grid of the same community, and in another street */
  const at = {} as Record<
    | 'c1'
    | 'cFar'
    | 'g1'
    | 'gSibling'
    | 'gFar'
    | 'bIn'
    | 'bSibling'
    | 'bFar'
    | 'mIn'
    | 'mSibling'
    | 'mFar'
    | 'volunteer'
    | 'iIn'
    | 'iFar'
    | 'residentId',
    number
  >;
  const spot = {} as Record<'inG1' | 'inFar', { type: 'Point'; coordinates: [number, number] }>;

  const one = async <T>(query: ReturnType<typeof sql<T>>) => (await query.execute(test.database.db)).rows[0];
  const call = (role: string | null, method: 'get' | 'post' | 'patch' | 'delete', path: string) => {
    const r = request(app)[method](path);
    return role ? r.set('Authorization', `Bearer ${tokens[role]}`) : r;
  };

  beforeAll(async () => {
    test = await openTestDatabase();
    app = await testApp(test.database, { as: null });
    for (const role of ['admin', 'planner', 'dispatcher', 'leader', 'gridworker', 'volunteer', 'resident']) {
      tokens[role] = await sessionFor(test.database, role);
    }
    const g1 = await one(sql<{ id: number; community_id: number }>`select id, community_id from grids order by id limit 1`);
    at.g1 = g1.id;
    at.c1 = g1.community_id;
    at.gSibling = (
      await one(sql<{ id: number }>`select id from grids where community_id = ${at.c1} and id <> ${at.g1} order by id limit 1`)
    ).id;
    const far = await one(sql<{ id: number; community_id: number }>`
      select g.id, g.community_id from grids g join communities c on c.id = g.community_id
      where c.street_code <> (select street_code from communities where id = ${at.c1}) order by g.id limit 1`);
    at.gFar = far.id;
    at.cFar = far.community_id;
    const firstIn = async (table: string, grid: number, extra = sql`true`) =>
      (await one(sql<{ id: number }>`select id from ${sql.table(table)} where grid_id = ${grid} and ${extra} order by id limit 1`)).id;
    const withPhone = sql`phone is not null and not is_volunteer`;
    Object.assign(at, {
      bIn: await firstIn('buildings', at.g1),
      bSibling: await firstIn('buildings', at.gSibling),
      bFar: await firstIn('buildings', at.gFar),
      mIn: await firstIn('members', at.g1, withPhone),
      mSibling: await firstIn('members', at.gSibling, withPhone),
      mFar: await firstIn('members', at.gFar, withPhone),
      iIn: await firstIn('issues', at.g1),
      iFar: await firstIn('issues', at.gFar),
      volunteer: (await one(sql<{ member_id: number }>`select member_id from users where username = 'volunteer'`)).member_id,
      residentId: (await one(sql<{ id: number }>`select id from users where username = 'resident'`)).id,
    });
    const pointIn = async (grid: number) => {
      const { x, y } = await one(
        sql<{
          x: number;
          y: number;
        }>`select ST_X(p) as x, ST_Y(p) as y from (select ST_PointOnSurface(geom) p from grids where id = ${grid}) s`,
      );
      return { type: 'Point' as const, coordinates: [x, y] as [number, number] };
    };
    spot.inG1 = await pointIn(at.g1);
    spot.inFar = await pointIn(at.gFar);
  });
  afterAll(() => test?.drop());

  const rename = { properties: { name: '改名测试' } };
  const issueAt =
    (where: keyof typeof spot, properties: Record<string, unknown> = {}) =>
    () => ({ type: 'Feature', geometry: spot[where], properties: { title: '楼道灯不亮', category: 'street_light', ...properties } });

  /** [who, method, path, expected status, body] */
  type Case = [string | null, 'get' | 'post' | 'patch' | 'delete', () => string, number, (() => object)?];
  const cases: Case[] = [
    // no token: only the health check, login and what is public
    [null, 'get', () => '/api/v1/health', 200],
    [null, 'get', () => '/api/v1/auth/demo-accounts', 200],
    [null, 'get', () => '/api/v1/communities', 401],
    [null, 'get', () => `/api/v1/members/${at.mIn}`, 401],
    [null, 'get', () => '/api/v1/map/config', 401],
    [null, 'post', () => '/api/v1/issues', 401, issueAt('inG1')],
    [null, 'get', () => '/api/v1/users', 401],
    [null, 'get', () => '/api/v1/audit', 401],
    [null, 'get', () => '/api/v1/export/members', 401],

    ['admin', 'get', () => '/api/v1/users', 200],
    ['admin', 'get', () => '/api/v1/audit', 200],
    ['admin', 'get', () => `/api/v1/members/${at.mFar}`, 200],
    ['admin', 'patch', () => `/api/v1/buildings/${at.bFar}`, 200, () => rename],

    ['planner', 'get', () => `/api/v1/communities/${at.c1}`, 200],
    ['planner', 'get', () => `/api/v1/communities/${at.cFar}`, 403],
    ['planner', 'get', () => `/api/v1/communities/${at.c1}/tree`, 200],
    ['planner', 'get', () => `/api/v1/communities/${at.cFar}/tree`, 403],
    ['planner', 'patch', () => `/api/v1/grids/${at.g1}`, 200, () => ({ properties: { party_branch_secretary: '王书记' } })],
    ['planner', 'patch', () => `/api/v1/grids/${at.gFar}`, 403, () => ({ properties: { party_branch_secretary: '王书记' } })],
    ['planner', 'patch', () => `/api/v1/buildings/${at.bSibling}`, 200, () => rename],
    ['planner', 'patch', () => `/api/v1/buildings/${at.bFar}`, 403, () => rename],
    ['planner', 'patch', () => `/api/v1/members/${at.mIn}`, 403, () => rename],
    ['planner', 'post', () => '/api/v1/issues', 403, issueAt('inG1')],
    ['planner', 'get', () => '/api/v1/users', 403],
    ['planner', 'get', () => '/api/v1/audit', 403],

    ['dispatcher', 'get', () => `/api/v1/members/${at.volunteer}`, 200],
    ['dispatcher', 'get', () => `/api/v1/members/${at.mIn}`, 403],
    ['dispatcher', 'get', () => `/api/v1/buildings/${at.bFar}`, 403],
    ['dispatcher', 'post', () => '/api/v1/issues', 201, issueAt('inG1')],
    ['dispatcher', 'post', () => '/api/v1/issues', 403, issueAt('inFar')],
    ['dispatcher', 'patch', () => `/api/v1/buildings/${at.bIn}`, 403, () => rename],
    ['dispatcher', 'patch', () => `/api/v1/issues/${at.iIn}`, 403, () => ({ properties: { title: '已核实' } })],

    ['leader', 'get', () => '/api/v1/members', 200],
    ['leader', 'get', () => `/api/v1/issues/${at.iIn}`, 200],
    ['leader', 'get', () => `/api/v1/issues/${at.iFar}`, 403],
    ['leader', 'get', () => '/api/v1/export/buildings?format=ndjson', 200],
    ['leader', 'patch', () => `/api/v1/buildings/${at.bIn}`, 403, () => rename],
    ['leader', 'post', () => '/api/v1/import/buildings', 403],
    ['leader', 'delete', () => `/api/v1/issues/${at.iIn}`, 403],

    ['gridworker', 'get', () => `/api/v1/buildings/${at.bSibling}`, 200],
    ['gridworker', 'get', () => `/api/v1/buildings/${at.bFar}`, 403],
    ['gridworker', 'patch', () => `/api/v1/buildings/${at.bIn}`, 200, () => rename],
    ['gridworker', 'patch', () => `/api/v1/buildings/${at.bSibling}`, 403, () => rename],
    ['gridworker', 'patch', () => `/api/v1/members/${at.mIn}`, 200, () => ({ properties: { employer_unit: '街道办' } })],
    ['gridworker', 'patch', () => `/api/v1/members/${at.mSibling}`, 403, () => ({ properties: { employer_unit: '街道办' } })],
    ['gridworker', 'patch', () => `/api/v1/issues/${at.iIn}`, 200, () => ({ properties: { title: '已核实' } })],
    ['gridworker', 'post', () => '/api/v1/issues', 201, issueAt('inG1')],
    ['gridworker', 'patch', () => `/api/v1/grids/${at.g1}`, 403, () => rename],
    ['gridworker', 'get', () => '/api/v1/users', 403],

    ['volunteer', 'get', () => `/api/v1/members/${at.volunteer}`, 200],
    ['volunteer', 'get', () => `/api/v1/members/${at.mIn}`, 403],
    ['volunteer', 'patch', () => `/api/v1/members/${at.volunteer}`, 200, () => ({ properties: { availability: 'off_duty' } })],
    ['volunteer', 'patch', () => `/api/v1/members/${at.volunteer}`, 403, () => ({ properties: { name: '别人' } })],
    ['volunteer', 'patch', () => `/api/v1/members/${at.mIn}`, 403, () => ({ properties: { availability: 'off_duty' } })],
    ['volunteer', 'get', () => '/api/v1/issues', 403],
    ['volunteer', 'get', () => `/api/v1/buildings/${at.bIn}`, 200],

    ['resident', 'post', () => '/api/v1/issues', 201, issueAt('inG1')],
    ['resident', 'post', () => '/api/v1/issues', 403, issueAt('inG1', { status: 'closed' })],
    ['resident', 'post', () => '/api/v1/issues', 403, issueAt('inFar')],
    ['resident', 'get', () => `/api/v1/issues/${at.iIn}`, 403],
    ['resident', 'patch', () => `/api/v1/issues/${at.iIn}`, 403, () => ({ properties: { title: '改了' } })],
    ['resident', 'get', () => '/api/v1/members', 403],
    ['resident', 'get', () => `/api/v1/grids/${at.g1}`, 200],
  ];

  it.each(
    cases.map(([who, method, path, status, body]) => ({
      who,
      method,
      path,
      status,
      body,
      name: `${who ?? 'anonymous'} ${method.toUpperCase()}`,
    })),
  )('$name … → $status', async ({ who, method, path, status, body }) => {
    const response = await call(who, method, path()).send(body?.() as object);
    expect({ path: path(), status: response.status, detail: response.body.detail }).toMatchObject({ status });
    if (status >= 400) expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    if (status === 401) expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it("lists only rows in scope, filtered in SQL: counts equal the database's for the scope", async () => {
    const count = async (query: ReturnType<typeof sql<{ n: number }>>) => (await one(query)).n;
    const planner = await call('planner', 'get', '/api/v1/buildings?limit=1').expect(200);
    expect(planner.body.numberMatched).toBe(await count(sql`select count(*)::int as n from buildings where community_id = ${at.c1}`));
    const leader = await call('leader', 'get', '/api/v1/members?limit=1').expect(200);
    expect(leader.body.numberMatched).toBe(
      await count(sql`
      select count(*)::int as n from members where community_id in
        (select id from communities where street_code = (select street_code from communities where id = ${at.c1}))`),
    );
    const dispatcher = await call('dispatcher', 'get', '/api/v1/members?limit=10000').expect(200);
    expect(dispatcher.body.features.length).toBeGreaterThan(0);
    expect(dispatcher.body.features.every((f: { properties: { is_volunteer: boolean } }) => f.properties.is_volunteer)).toBe(true);
    const volunteer = await call('volunteer', 'get', '/api/v1/members').expect(200);
    expect(volunteer.body.features.map((f: { id: number }) => f.id)).toEqual([at.volunteer]);
    // the gridworker reads its grid's community, not beyond
    const worker = await call('gridworker', 'get', '/api/v1/buildings?limit=10000').expect(200);
    expect(new Set(worker.body.features.map((f: { properties: { community_id: number } }) => f.properties.community_id))).toEqual(
      new Set([at.c1]),
    );
    // a filter for a place outside the scope finds nothing rather than leaking it
    const outside = await call('planner', 'get', `/api/v1/buildings?community=${at.cFar}`).expect(200);
    expect(outside.body.numberMatched).toBe(0);
  });

  it('shows a resident its own reports only, each marked with the reporter', async () => {
    const created = await call('resident', 'post', '/api/v1/issues')
      .send(issueAt('inG1', { title: '垃圾未清运' })())
      .expect(201);
    expect(created.body.properties.reported_by).toBe(at.residentId);
    const mine = await call('resident', 'get', '/api/v1/issues?limit=10000').expect(200);
    expect(mine.body.features.length).toBeGreaterThan(0);
    expect(mine.body.features.every((f: { properties: { reported_by: number } }) => f.properties.reported_by === at.residentId)).toBe(true);
    expect(mine.body.features.map((f: { id: number }) => f.id)).toContain(created.body.id);
  });

  it("refuses to move a row out of the writer's scope, and writes nothing", async () => {
    const before = await call('admin', 'get', `/api/v1/buildings/${at.bIn}`).expect(200);
    const moved = await call('gridworker', 'patch', `/api/v1/buildings/${at.bIn}`)
      .send({ geometry: (await call('admin', 'get', `/api/v1/buildings/${at.bSibling}`)).body.geometry })
      .expect(403);
    expect(moved.body).toMatchObject({ title: 'Outside your scope', field: 'geometry' });
    const after = await call('admin', 'get', `/api/v1/buildings/${at.bIn}`).expect(200);
    expect(after.body).toEqual(before.body);
  });

  it('refuses a boundary or footprint that would draw rows out of another scope, and writes nothing', async () => {
    const count = async (query: ReturnType<typeof sql<{ n: number }>>) => (await one(query)).n;
    const everything = {
      type: 'MultiPolygon',
      coordinates: [
        [
          [
            [109.3, 36.4],
            [109.7, 36.4],
            [109.7, 36.8],
            [109.3, 36.8],
            [109.3, 36.4],
          ],
        ],
      ],
    };
    const before = await count(sql`select count(*)::int as n from buildings where community_id = ${at.c1}`);
    const grab = await call('planner', 'patch', `/api/v1/communities/${at.c1}`).send({ geometry: everything }).expect(403);
    expect(grab.body).toMatchObject({
      title: 'Outside your scope',
      field: 'geometry',
      detail: expect.stringMatching(/^this change would relink \w+ \d+/),
    });
    expect(await count(sql`select count(*)::int as n from buildings where community_id = ${at.c1}`)).toBe(before);

    // a footprint stretched over the sibling grid's homes, its point on surface still in the worker's grid
    const { x, y } = spot.inG1.coordinates.reduce((p, c, i) => ({ ...p, [i ? 'y' : 'x']: c }), { x: 0, y: 0 });
    const sibling = await one(sql<{ xmin: number; ymin: number; xmax: number; ymax: number }>`
      select ST_XMin(geom) as xmin, ST_YMin(geom) as ymin, ST_XMax(geom) as xmax, ST_YMax(geom) as ymax from grids where id = ${at.gSibling}`);
    const xs = [Math.min(x, sibling.xmin), Math.max(x, sibling.xmax)];
    const ys = [Math.min(y, sibling.ymin), Math.max(y, sibling.ymax)];
    const stretched = {
      type: 'Polygon',
      coordinates: [
        [
          [xs[0], ys[0]],
          [xs[1], ys[0]],
          [xs[1], ys[1]],
          [xs[0], ys[1]],
          [xs[0], ys[0]],
        ],
      ],
    };
    const members = await count(sql`select count(*)::int as n from members where grid_id = ${at.g1}`);
    const pulled = await call('gridworker', 'post', '/api/v1/buildings').send({
      type: 'Feature',
      geometry: stretched,
      properties: { name: '大楼', kind: 'residential' },
    });
    expect(pulled.body).toMatchObject({ status: 403, title: 'Outside your scope' });
    expect(await count(sql`select count(*)::int as n from members where grid_id = ${at.g1}`)).toBe(members);
  });

  it('lets a volunteer set its availability but not move its home', async () => {
    const moved = await call('volunteer', 'patch', `/api/v1/members/${at.volunteer}`).send({ geometry: spot.inFar }).expect(403);
    expect(moved.body).toMatchObject({ title: 'Forbidden property', field: 'geometry' });
  });

  it("imports only rows in the importer's scope, naming each row outside it, and writes nothing", async () => {
    const square = ({ coordinates: [x, y] }: { coordinates: [number, number] }) => ({
      type: 'Polygon',
      coordinates: [
        [
          [x, y],
          [x + 0.0001, y],
          [x + 0.0001, y + 0.0001],
          [x, y + 0.0001],
          [x, y],
        ],
      ],
    });
    const file = JSON.stringify({
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', geometry: square(spot.inG1), properties: { name: '范围内' } },
        { type: 'Feature', geometry: square(spot.inFar), properties: { name: '范围外' } },
      ],
    });
    const before = (await one(sql<{ n: number }>`select count(*)::int as n from buildings`)).n;
    const refused = await call('planner', 'post', '/api/v1/import/buildings')
      .set('Content-Type', 'application/geo+json')
      .send(file)
      .expect(422);
    expect(refused.body.rejected).toEqual([
      {
        row: 2,
        field: 'geometry',
        reason: expect.stringMatching(/^Outside your scope: building \d+ would lie outside the scope a planner may create in$/),
      },
    ]);
    expect((await one(sql<{ n: number }>`select count(*)::int as n from buildings`)).n).toBe(before);
    await call('leader', 'post', '/api/v1/import/buildings').set('Content-Type', 'application/geo+json').send(file).expect(403);
  });

  it('sets security headers, keeps CORS off unless configured, and limits sign-in bodies', async () => {
    const response = await call(null, 'get', '/api/v1/health').set('Origin', 'https://elsewhere.example').expect(200);
    expect(response.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'SAMEORIGIN' });
    expect(response.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(response.headers).not.toHaveProperty('x-powered-by');
    expect(response.headers).not.toHaveProperty('access-control-allow-origin');
    const open = await testApp(test.database, { as: null, env: { CORS_ORIGINS: 'https://gis.example.gov.cn' } });
    const preflight = await request(open)
      .options('/api/v1/buildings')
      .set('Origin', 'https://gis.example.gov.cn')
      .set('Access-Control-Request-Method', 'GET')
      .set('Access-Control-Request-Headers', 'authorization');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://gis.example.gov.cn');
    const other = await request(open).get('/api/v1/health').set('Origin', 'https://elsewhere.example');
    expect(other.headers).not.toHaveProperty('access-control-allow-origin');
    const huge = await call(null, 'post', '/api/v1/auth/login')
      .send({ username: 'admin', password: 'x'.repeat(5000) })
      .expect(413);
    expect(huge.body).toMatchObject({ status: 413, field: 'body' });
  });

  describe('masking of personal data', () => {
    const masked = /^\d{3}\*{4}\d{4}$/;
    type Member = { id: number; geometry: unknown; properties: Record<string, unknown> };

    it('shows leaders and planners members only in aggregate: no names, phones, employers, home points, buildings or grids', async () => {
      for (const role of ['leader', 'planner']) {
        const { body } = await call(role, 'get', '/api/v1/members?limit=10000').expect(200);
        expect(body.features.length).toBeGreaterThan(100);
        for (const m of body.features as Member[]) {
          expect(m.geometry).toBeNull();
          expect(m.properties).toMatchObject({ name: null, phone: null, employer_unit: null, building_id: null, grid_id: null });
        }
        const one = await call(role, 'get', `/api/v1/members/${at.mIn}`).expect(200);
        // a member's grid is where it lives, to a grid's size, and a planner may draw a grid round one building
        expect(one.body).toMatchObject({ geometry: null, properties: { name: null, building_id: null, phone: null, grid_id: null } });
      }
    });

    it('does not let a leader find a home with a bounding box, a building filter or a grid filter', async () => {
      const home = await call('admin', 'get', `/api/v1/members/${at.mIn}`).expect(200);
      const [x, y] = home.body.geometry.coordinates;
      const bbox = await call('leader', 'get', `/api/v1/members?bbox=${x - 0.0001},${y - 0.0001},${x + 0.0001},${y + 0.0001}`).expect(200);
      expect(bbox.body.numberMatched).toBe(0);
      const byBuilding = await call('leader', 'get', `/api/v1/members?building=${home.body.properties.building_id}`).expect(200);
      expect(byBuilding.body.numberMatched).toBe(0);
      const byGrid = await call('leader', 'get', `/api/v1/members?grid=${home.body.properties.grid_id}`).expect(200);
      expect(byGrid.body.numberMatched).toBe(0);
    });

    it('shows a grid worker phones and homes in its grid, and masks them elsewhere in its community', async () => {
      const { body } = await call('gridworker', 'get', '/api/v1/members?limit=10000').expect(200);
      const inGrid = (body.features as Member[]).filter((m) => m.properties.grid_id === at.g1);
      const around = (body.features as Member[]).filter((m) => m.properties.grid_id !== at.g1);
      expect(inGrid.length).toBeGreaterThan(0);
      expect(around.length).toBeGreaterThan(0);
      for (const m of inGrid) expect(m.geometry).not.toBeNull();
      expect(inGrid.find((m) => m.id === at.mIn)!.properties.phone).toMatch(/^1\d{10}$/);
      for (const m of around) {
        expect(m.geometry).toBeNull();
        if (m.properties.phone !== null) expect(m.properties.phone).toMatch(masked);
      }
      expect(around.find((m) => m.id === at.mSibling)!.properties.phone).toMatch(masked);
    });

    it('masks the same way in exports and in the community tree', async () => {
      const csv = await call('leader', 'get', '/api/v1/export/members?format=csv').expect(200);
      const [header, ...lines] = csv.text.trim().split('\r\n');
      expect(header.split(',')).toContain('phone');
      expect(lines.length).toBeGreaterThan(100);
      expect(csv.text).not.toMatch(/POINT|1\d{2}\*{0,4}\d{4}/);
      const geojson = await call('leader', 'get', '/api/v1/export/members?format=ndjson')
        .buffer(true)
        .parse((res, done) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk));
          res.on('end', () => done(null, text));
        })
        .expect(200);
      expect(
        (geojson.body as string)
          .split('\n')
          .filter(Boolean)
          .every((line) => JSON.parse(line).geometry === null),
      ).toBe(true);

      const names = (tree: { grids: { buildings: { central_households: { name: string }[] }[] }[] }) =>
        tree.grids.flatMap((g) => g.buildings.flatMap((b) => b.central_households.map((h) => h.name)));
      const forLeader = await call('leader', 'get', `/api/v1/communities/${at.c1}/tree`).expect(200);
      const forAdmin = await call('admin', 'get', `/api/v1/communities/${at.c1}/tree`).expect(200);
      expect(names(forAdmin.body).length).toBeGreaterThan(0);
      expect(names(forLeader.body)).toEqual([]);
      expect(forLeader.body.counts.central_households).toBe(forAdmin.body.counts.central_households);
      // a building's member count is a home when it is one: leaders count per grid, not per building
      type Counted = { grids: { counts: Record<string, number>; buildings: { counts: Record<string, number> }[] }[] };
      const buildingsOf = (tree: Counted) => tree.grids.flatMap((g) => g.buildings);
      expect(buildingsOf(forLeader.body).every((b) => b.counts.members === undefined && b.counts.households !== undefined)).toBe(true);
      expect(buildingsOf(forAdmin.body).every((b) => typeof b.counts.members === 'number')).toBe(true);
      expect((forLeader.body as Counted).grids[0].counts.members).toBe((forAdmin.body as Counted).grids[0].counts.members);
      // a dispatcher sees volunteers' names only
      const forDispatcher = await call('dispatcher', 'get', `/api/v1/communities/${at.c1}/tree`).expect(200);
      const volunteers = new Set(
        (await call('admin', 'get', `/api/v1/members?community=${at.c1}&volunteer=true&limit=10000`)).body.features.map(
          (f: Member) => f.properties.name,
        ),
      );
      expect(names(forDispatcher.body).every((name) => volunteers.has(name))).toBe(true);
    });

    it("shows a dispatcher volunteers with name and phone, and residents a unit's contact masked", async () => {
      const volunteer = await call('dispatcher', 'get', `/api/v1/members/${at.volunteer}`).expect(200);
      expect(volunteer.body.geometry.type).toBe('Point');
      expect(volunteer.body.properties.name).toEqual(expect.any(String));
      const units = await call('resident', 'get', '/api/v1/units?limit=10000').expect(200);
      expect(units.body.features.length).toBeGreaterThan(0);
      expect(units.body.features.every((u: Member) => u.properties.contact_phone === null)).toBe(true);
      const forLeader = await call('leader', 'get', '/api/v1/units?limit=10000').expect(200);
      expect(forLeader.body.features.some((u: Member) => /^1\d{10}$/.test(String(u.properties.contact_phone)))).toBe(true);
    });
  });

  describe('the one guard', () => {
    // the rules the app's guard reads: the route table's
    const rules = () => rulesOf(apiRoutes(test.database, loadConfig({})));
    it('denies a route added without a rule, before its handler runs', async () => {
      let ran = false;
      const withNewRoute = express()
        .use(accessGuard(test.database, rules()))
        .get('/api/v1/new-capability', (_req, res) => {
          ran = true;
          res.json({ secret: true });
        })
        .use(problemHandler);
      await request(withNewRoute).get('/api/v1/new-capability').expect(401);
      await request(withNewRoute).get('/api/v1/new-capability').set('Authorization', `Bearer ${tokens.admin}`).expect(403);
      expect(ran).toBe(false);
    });

    it('has an explicit rule for every route the app serves', async () => {
      const routes: { method: string; path: string }[] = [];
      const walk = (stack: { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[]) => {
        for (const layer of stack) {
          if (layer.route)
            for (const method of Object.keys(layer.route.methods)) routes.push({ method: method.toUpperCase(), path: layer.route.path });
          else if (layer.handle?.stack) walk(layer.handle.stack as never);
        }
      };
      const real = await testApp(test.database, { as: null });
      walk((real as unknown as { router: { stack: never[] } }).router.stack);
      expect(routes.length).toBeGreaterThan(30);
      // the route's own pattern, read as a path, is matched by its rule as the guard matches a request
      const unruled = routes.filter((r) => !rules().some((rule) => rule.method === r.method && match(rule.path)(r.path)));
      expect(unruled).toEqual([]);
      // and every route lies where the guard looks
      expect(routes.filter((r) => !GUARDED_PREFIXES.some((prefix) => r.path.startsWith(prefix)))).toEqual([]);
    });

    it('guards a path however it is spelt: case, trailing slash, HEAD', async () => {
      for (const path of ['/API/v1/users', '/Api/V1/Members', '/api/v1/users/', '/api/v1/members/']) {
        await call(null, 'get', path).expect(401);
        const planner = await call('planner', 'get', path);
        expect([path, planner.status]).toEqual([path, path.toLowerCase().includes('users') ? 403 : 200]);
      }
      await request(app).head('/api/v1/members').expect(401);
      await request(app).head('/API/v1/members').expect(401);
    });
  });
});
