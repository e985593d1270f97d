import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './support/app.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';

describe(`health on the ${mode} database`, () => {
  let test: TestDatabase;
  beforeAll(async () => (test = await openTestDatabase()));
  afterAll(() => test?.drop());

  it('reports the database mode and the PostGIS version', async () => {
    const { body } = await request(testApp(test.database)).get('/api/v1/health').expect(200);
    expect(body).toEqual({ status: 'ok', database: mode, postgis: expect.stringMatching(/^3\.\d+\.\d+/) });
  });

  it('answers 503 with a problem when the database is unreachable', async () => {
    const app = testApp(test.database);
    await test.database.close();
    const response = await request(app).get('/api/v1/health').expect(503);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: 503, title: 'Database unavailable', database: mode });
  });
});
