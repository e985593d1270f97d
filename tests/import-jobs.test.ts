import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interruptImports, markAbandonedImports, runningImports } from '../server/features/import/jobs.ts';
import { RESOURCES } from '../server/features/resources.ts';
import { testApp } from './support/app.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

/** A point inside the first community, where the demo resident lives and may report. */
let at: [number, number];
const issues = (n: number, title: string) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: at },
      properties: { title: `${title} ${i}`, category: 'other' },
    }),
  ).join('\n');

describe('import jobs: an id that outlives the request, outcomes recorded with the rows, retries answered once', () => {
  let test: TestDatabase;
  const apps: Record<string, Awaited<ReturnType<typeof testApp>>> = {};
  const titled = async (prefix: string) =>
    (await sql<{ n: number }>`select count(*)::int as n from issues where title like ${`${prefix} %`}`.execute(test.database.db)).rows[0].n;
  const post = (as: string, body: string, key?: string, layer = 'issues') => {
    const req = request(apps[as]).post(`/api/v1/import/${layer}`).set('Content-Type', 'application/x-ndjson');
    return (key ? req.set('Idempotency-Key', key) : req).send(body);
  };

  beforeAll(async () => {
    test = await openTestDatabase();
    for (const as of ['admin', 'resident', 'planner']) apps[as] = await testApp(test.database, { as });
    const {
      rows: [point],
    } = await sql<{ lon: number; lat: number }>`
      select ST_X(p) as lon, ST_Y(p) as lat from (select ST_PointOnSurface(geom) as p from grids where community_id = (select min(id) from communities) order by id limit 1) g`.execute(
      test.database.db,
    );
    at = [point.lon, point.lat];
  });
  afterAll(() => test?.drop());

  it('answers with the job in Location; its owner (or an admin) reads what it did, no one else', async () => {
    const answer = await post('resident', issues(2, '住户导入'));
    expect(answer.status).toBe(201);
    const path = answer.headers.location as string;
    expect(path).toMatch(/^\/api\/v1\/imports\/\d+$/);
    const job = (await request(apps.resident).get(path).expect(200)).body;
    expect(job).toMatchObject({
      layer: 'issues',
      format: 'ndjson',
      username: 'resident',
      state: 'written',
      status: 201,
      answer: { imported: 2, written: true },
    });
    await request(apps.admin).get(path).expect(200);
    expect((await request(apps.planner).get(path).expect(404)).body.field).toBe('id');
    expect((await request(apps.admin).get('/api/v1/imports/0').expect(400)).body.field).toBe('id');
  });

  it('a retry with the same Idempotency-Key is answered with the first outcome, and imports nothing twice', async () => {
    const first = await post('admin', issues(3, '重试'), 'retry-1').expect(201);
    const again = await post('admin', issues(3, '重试'), 'retry-1').expect(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers.location).toBe(first.headers.location);
    expect(again.body).toEqual(first.body);
    expect(await titled('重试')).toBe(3);
    // another user's key is their own
    await post('resident', issues(1, '重试'), 'retry-1').expect(201);
    expect(await titled('重试')).toBe(4);
    // the same key for another layer is a mistake
    const other = await post('admin', issues(1, '重试'), 'retry-1', 'members').expect(422);
    expect(other.body).toMatchObject({ field: 'Idempotency-Key' });
    expect((await post('admin', issues(1, 'x'), 'k'.repeat(201)).expect(400)).body.field).toBe('Idempotency-Key');
  });

  it('a rejected import is recorded, and its retry answers the same rejection', async () => {
    const broken = `${issues(1, '坏行')}\n{"type":"Feature","geometry":null,"properties":{}}`;
    const first = await post('admin', broken, 'broken-1').expect(422);
    const job = (await request(apps.admin).get(first.headers.location).expect(200)).body;
    expect(job).toMatchObject({ state: 'rejected', status: 422, answer: { title: 'Rows rejected', read: 2 } });
    const again = await post('admin', broken, 'broken-1').expect(422);
    expect(again.type).toBe('application/problem+json');
    expect(again.body).toEqual(first.body);
    expect(await titled('坏行')).toBe(0);
  });

  it('a stopping server rolls an import back, answers 503 and records it interrupted; the retry runs it', async () => {
    const body = issues(25_000, '停机');
    const pending = post('admin', body, 'stop-1').then((r) => r);
    // wait until the import has written its first batches, then stop it as the server's shutdown does
    for (let tries = 0; tries < 1200 && !runningImports().some((job) => job.imported > 0); tries++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await titled('停机')).toBeGreaterThan(0);
    expect(interruptImports()).toHaveLength(1);
    const answer = await pending;
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBeDefined();
    expect(await titled('停机')).toBe(0);
    expect((await request(apps.admin).get(answer.headers.location).expect(200)).body).toMatchObject({ state: 'interrupted', status: 503 });
    const retried = await post('admin', body, 'stop-1').expect(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(retried.headers.location).toBe(answer.headers.location);
    expect(await titled('停机')).toBe(25_000);
  }, 180_000);

  it('a batch refused by the database after others were written undoes them: nothing imported, every rejection named', async () => {
    const member = (i: number, community: number | null) =>
      JSON.stringify({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: at },
        properties: { name: `批次党员 ${i}`, category: 'retired', registered_community_id: community },
      });
    const before = (await sql<{ n: number }>`select count(*)::int as n from members`.execute(test.database.db)).rows[0].n;
    // rows 4000 and 4001 name a community that does not exist: only the database can tell, batches after the first
    const body = [...Array.from({ length: 4000 }, (_, i) => member(i, null)), member(4000, 999_999), member(4001, 999_999)].join('\n');
    const answer = await post('admin', body, undefined, 'members').expect(422);
    expect(answer.body.rejected.map((r: { row: number }) => r.row)).toEqual([4001, 4002]);
    expect(answer.body.rejected[0].field).toBe('registered_community_id');
    expect((await sql<{ n: number }>`select count(*)::int as n from members`.execute(test.database.db)).rows[0].n).toBe(before);
    const {
      rows: [undone],
    } = await sql<{ n: number }>`
      select count(*)::int as n from audit_log where resource = 'members' and action = 'delete' and username like '%(import undone)'`.execute(
      test.database.db,
    );
    expect(undone.n).toBeGreaterThan(0);
  }, 180_000);

  it('other writes wait for a batch, not for the whole import', async () => {
    const pending = post('admin', issues(20_000, '长导入'), 'long-1').then((r) => r);
    // once the first batches are on the map, a resident reports; the report is saved while the import still runs
    for (let tries = 0; tries < 1200 && (await titled('长导入')) === 0; tries++) await new Promise((resolve) => setTimeout(resolve, 50));
    const report = await request(apps.resident)
      .post('/api/v1/issues')
      .send({ type: 'Feature', geometry: { type: 'Point', coordinates: at }, properties: { title: '导入时上报', category: 'other' } });
    expect(report.status).toBe(201);
    expect(runningImports()).toHaveLength(1);
    expect((await pending).status).toBe(201);
    expect(await titled('长导入')).toBe(20_000);
  }, 180_000);

  it('an import a dead process left running is undone at start: the batches it wrote deleted, the job interrupted', async () => {
    const {
      rows: [job],
    } = await sql<{ id: number }>`
      insert into imports (layer, format, username) values ('issues', 'ndjson', 'admin') returning id`.execute(test.database.db);
    const {
      rows: [written],
    } = await sql<{ id: number }>`
      insert into issues (title, category, geom) values ('半途 0', 'other', ST_SetSRID(ST_MakePoint(${at[0]}, ${at[1]}), 4326)) returning id`.execute(
      test.database.db,
    );
    await sql`insert into import_rows (import_id, row_id) values (${job.id}, ${written.id})`.execute(test.database.db);
    expect(await markAbandonedImports(test.database.db, RESOURCES)).toBe(1);
    expect((await request(apps.admin).get(`/api/v1/imports/${job.id}`).expect(200)).body.state).toBe('interrupted');
    expect(await titled('半途')).toBe(0);
  });
});
