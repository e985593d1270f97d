import express from 'express';
import { sql } from 'kysely';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemHandler, toProblem } from '../server/http/problem.ts';
import { ClientGone, jsonStream, route, routerOf } from '../server/http/route.ts';
import { sessionFor, testApp } from './support/app.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';

describe(`problems from database refusals on the ${mode} database`, () => {
  let test: TestDatabase;
  let app: Awaited<ReturnType<typeof testApp>>;
  /** Words of the schema a client has no business with: every table and constraint name, and PostgreSQL's phrasing. */
  let schemaWords: RegExp;

  beforeAll(async () => {
    test = await openTestDatabase();
    app = await testApp(test.database);
    const { rows } = await sql<{ name: string }>`
      select relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind in ('r', 'v', 'p')
      union select conname from pg_constraint c join pg_namespace n on n.oid = c.connamespace where n.nspname = 'public'`.execute(
      test.database.db,
    );
    const words = [...rows.map((r) => r.name), 'public', 'relation', 'constraint', 'violates', 'Key \\(', 'for type', 'integer', 'table'];
    schemaWords = new RegExp(`(^|\\W)(${words.join('|')})(\\W|$)`, 'i');
  });
  afterAll(() => test?.drop());

  /** The problem's words (not `instance`, the request's own URL) name fields and values only. */
  const expectPlain = (response: request.Response, status: number, field: string | undefined, detail: string) => {
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status, detail });
    expect(response.body.field).toBe(field);
    const { instance: _, ...words } = response.body;
    expect(JSON.stringify(words)).not.toMatch(schemaWords);
  };

  it("answers another middleware's refusal in the status's words, not its message (which may name the server's files)", () => {
    const missing = Object.assign(new Error("ENOENT: no such file or directory, stat '/srv/gridmap/dist/web/index.html'"), { status: 404 });
    const problem = toProblem(missing);
    expect([problem.status, problem.title, problem.code]).toEqual([404, 'Not Found', 'request.rejected']);
    expect(JSON.stringify(problem)).not.toMatch(/srv|ENOENT/);
  });

  it('answers a streamed answer that fails before its first piece with a problem, breaks one that fails half-way, and stops one whose client went away', async () => {
    const failing = (after: number) =>
      route({
        method: 'GET',
        path: `/after-${after}`,
        summary: 'a page that fails',
        tags: [],
        allow: { public: 'a test' },
        answer: { description: 'pieces' },
        handle: () =>
          jsonStream(async (write) => {
            // pieces of 100,000 characters: more than the server gathers before it writes
            for (let i = 0; i < after; i++) await write(`${i ? ',' : '['}"${'x'.repeat(100_000)}"`);
            throw new Error('the database went away');
          }),
      });
    // a page of 50 pieces, counted as they are written: a client that stops reading stops the writer
    let written = 0;
    let stopped: unknown;
    const long = route({
      method: 'GET',
      path: '/long',
      summary: 'a long page',
      tags: [],
      allow: { public: 'a test' },
      answer: { description: 'pieces' },
      handle: () =>
        jsonStream(async (write) => {
          try {
            for (; written < 50; written++) {
              await write(`${written ? ',' : '['}"${'x'.repeat(100_000)}"`);
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
            await write(']');
          } catch (error) {
            stopped = error;
            throw error;
          }
        }),
    });
    const server = express()
      .use(routerOf([failing(0), failing(2), long]))
      .use(problemHandler)
      .listen(0, '127.0.0.1');
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const before = await fetch(`${base}/after-0`);
      expect([before.status, before.headers.get('content-type')]).toEqual([500, 'application/problem+json; charset=utf-8']);
      // half-way, the status has gone: the client must not read the pieces it got as all there is
      const halfWay = await fetch(`${base}/after-2`);
      expect(halfWay.status).toBe(200);
      await expect(halfWay.text()).rejects.toThrow();

      // a client that goes away after the first piece: the writer is stopped at its next write, and the
      // server answers the next request as ever
      const reading = new AbortController();
      const gone = await fetch(`${base}/long`, { signal: reading.signal });
      await gone.body!.getReader().read();
      reading.abort();
      await expect.poll(() => stopped, { timeout: 5000 }).toBeInstanceOf(ClientGone);
      expect(written).toBeLessThan(50);
      expect((await fetch(`${base}/after-0`)).status).toBe(500);
    } finally {
      server.close();
    }
  });

  it('names a duplicate code by its field and value', async () => {
    const {
      rows: [first, second],
    } = await sql<{ id: number; code: string; version: number }>`select id, code, version from communities order by id limit 2`.execute(
      test.database.db,
    );
    expect(second).toBeDefined();
    const response = await request(app)
      .patch(`/api/v1/communities/${second.id}`)
      .set('If-Match', `"${second.version}"`)
      .send({ properties: { code: first.code } });
    expectPlain(response, 409, 'code', `code ${first.code} is already taken`);
    expect(response.body).toMatchObject({ code: 'database.taken', params: { field: 'code' } });
  });

  it('carries the stable code of a domain error and the values a translation names', async () => {
    const token = await sessionFor(test.database, 'admin');
    const response = await request(app).get('/api/v1/grids/999999').set('Authorization', `Bearer ${token}`);
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({
      title: 'Not Found',
      detail: 'No grid 999999',
      field: 'id',
      code: 'resource.not_found',
      params: { field: 'id', resource: 'grid', id: 999999 },
    });
  });

  it('names the rule a value entered broke, with its limit, for a client to say in its words', async () => {
    const token = await sessionFor(test.database, 'admin');
    const user = (body: object) => request(app).post('/api/v1/users').set('Authorization', `Bearer ${token}`).send(body);
    const short = await user({ username: 'rules1', password: 'short', role: 'planner', scope: { community: 1 } });
    expect([short.status, short.body.params]).toEqual([400, { field: 'password', rule: 'too_small_string', limit: 10 }]);
    const zero = await user({ username: 'rules2', password: 'long enough 1', role: 'planner', scope: { community: 0 } });
    expect([zero.status, zero.body.params]).toEqual([400, { field: 'scope.community', rule: 'too_small_number_exclusive', limit: 0 }]);
  });

  it('names the field of a check the database refuses, not the check', async () => {
    const {
      rows: [community],
    } = await sql<{ id: number; version: number }>`select id, version from communities order by id limit 1`.execute(test.database.db);
    const response = await request(app)
      .patch(`/api/v1/communities/${community.id}`)
      .set('If-Match', `"${community.version}"`)
      .send({ properties: { grid_households_min: 500, grid_households_max: 100 } });
    expectPlain(response, 422, 'grid_households_max', 'grid_households_max is not allowed here');
  });

  it("gives a rule of the database's own triggers in its words, with the field", async () => {
    const response = await request(app)
      .post('/api/v1/members')
      .send({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [109.4862, 36.5862] },
        properties: { name: '志愿者', category: 'resident', availability: 'busy' },
      });
    expectPlain(response, 422, 'availability', 'a volunteer is busy only while assigned to a dispatch');
  });

  it('names a reference to nothing by its field and value', async () => {
    const response = await request(app)
      .post('/api/v1/members')
      .send({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [109.4862, 36.5862] },
        properties: { name: '外来', category: 'resident', registered_community_id: 999999 },
      });
    expectPlain(response, 422, 'registered_community_id', 'registered_community_id 999999 does not exist');
  });

  it('says a value is out of range without the column type', async () => {
    const {
      rows: [community],
    } = await sql<{ id: number }>`select id from communities order by id limit 1`.execute(test.database.db);
    const response = await request(app)
      .put(`/api/v1/communities/${community.id}/monthly/2026-11`)
      .send({ title: '修路', issue_id: 3_000_000_000 });
    expectPlain(response, 400, undefined, 'a value is out of range');
  });

  it("keeps the HTTP status in `status`, and an issue's own status apart (found by tests/fuzz.test.ts)", async () => {
    const {
      rows: [issue],
    } = await sql<{ id: number }>`select id from issues where status = 'closed' order by id limit 1`.execute(test.database.db);
    const response = await request(app).post(`/api/v1/issues/${issue.id}/transitions`).send({ action: 'answer', answer: '已处理' });
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ status: 409, title: 'Step not allowed', field: 'action', issue_status: 'closed' });
  });
});
