import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../server/db/database.ts';
import { testApp } from './support/app.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';

describe(`health on the ${mode} database`, () => {
  let test: TestDatabase;
  beforeAll(async () => (test = await openTestDatabase()));
  afterAll(() => test?.drop());

  it('reports the database mode and the PostGIS version', async () => {
    const { body } = await request(await testApp(test.database, { as: null }))
      .get('/api/v1/health')
      .expect(200);
    expect(body).toEqual({ status: 'ok', database: mode, postgis: expect.stringMatching(/^3\.\d+\.\d+/) });
  });

  it('answers 503 with a problem when the database is unreachable', async () => {
    // A server that does not answer (nothing listens on port 9), or an embedded database that was closed.
    const unreachable = mode === 'server' ? await openDatabase({ url: 'postgres://gridmap@127.0.0.1:9/gridmap' }) : test.database;
    if (mode === 'embedded') await test.database.close();
    const app = await testApp(unreachable, { as: null });
    const response = await request(app).get('/api/v1/health').expect(503);
    await unreachable.close();
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: 503, title: 'Database unavailable', database: mode });
  });
});
