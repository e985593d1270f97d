import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../server/db/database.ts';
import { sessionFor, testApp } from './support/app.ts';
import { adminUrl, mode, openTestDatabase, serverUrl, type TestDatabase } from './support/databases.ts';

// The embedded database lives inside the server's own process: it cannot go away while the server runs.
describe.skipIf(mode === 'embedded')('a database outage on the server database', () => {
  let test: TestDatabase;
  let admin: Database;
  let app: Awaited<ReturnType<typeof testApp>>;
  /** as a monitor asks /health: without signing in */
  let monitor: Awaited<ReturnType<typeof testApp>>;
  let name: string;

  /** As an operator stopping one database: its connections are cut and new ones refused. */
  async function cutOff() {
    await sql`alter database ${sql.id(name)} allow_connections false`.execute(admin.db);
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`.execute(admin.db);
    // pg_terminate_backend only signals: wait until the backends are gone
    for (let n = 1; n > 0; await new Promise((resolve) => setTimeout(resolve, 20))) {
      n = (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = ${name}`.execute(admin.db)).rows[0].n;
    }
  }

  beforeAll(async () => {
    test = await openTestDatabase();
    name = new URL(test.url!).pathname.slice(1);
    admin = await openDatabase({ url: adminUrl(serverUrl!) });
    app = await testApp(test.database);
    monitor = await testApp(test.database, { as: null });
  });
  afterAll(async () => {
    await sql`alter database ${sql.id(name)} allow_connections true`.execute(admin.db);
    await admin.close();
    await test?.drop();
  });

  const expectUnavailable = (response: request.Response) => {
    expect(response.status).toBe(503);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.headers['retry-after']).toMatch(/^\d+$/);
    expect(response.body).toMatchObject({ status: 503, title: 'Database unavailable' });
  };

  it('answers 503 with Retry-After while the database is away, and works again when it is back, without a restart', async () => {
    await request(monitor).get('/api/v1/health').expect(200);
    await request(app).get('/api/v1/buildings?limit=1').expect(200);

    await cutOff();
    const health = await request(monitor).get('/api/v1/health');
    expectUnavailable(health);
    expect(health.body.database).toBe('server');
    expectUnavailable(await request(app).get('/api/v1/buildings?limit=1'));
    expectUnavailable(
      await request(app)
        .post('/api/v1/issues')
        .send({
          type: 'Feature',
          geometry: { type: 'Point', coordinates: [109.4862, 36.5862] },
          properties: { title: '停电', category: 'noise' },
        }),
    );

    // Open311 clients get GeoReport's error list, with the same 503 and Retry-After
    const open311 = await request(monitor).get('/open311/v2/requests.json');
    expect(open311.status).toBe(503);
    expect(open311.headers['retry-after']).toMatch(/^\d+$/);
    expect(open311.body).toEqual([{ code: 503, description: expect.any(String) }]);

    await sql`alter database ${sql.id(name)} allow_connections true`.execute(admin.db);
    expect((await request(monitor).get('/api/v1/health').expect(200)).body.status).toBe('ok');
    expect((await request(app).get('/api/v1/buildings?limit=1').expect(200)).body.features).toHaveLength(1);
  });

  it('answers 503 with Retry-After when PostgreSQL does not listen at all', async () => {
    const token = await sessionFor(test.database, 'admin');
    // nothing listens on port 9: connection refused
    const refused = await openDatabase({ url: 'postgres://gridmap@127.0.0.1:9/gridmap' });
    try {
      const app = await testApp(refused, { as: null });
      expectUnavailable(await request(app).get('/api/v1/health'));
      expectUnavailable(await request(app).get('/api/v1/buildings?limit=1').set('Authorization', `Bearer ${token}`));
    } finally {
      await refused.close();
    }
  });
});
