import { Validator } from '@seriousme/openapi-schema-validator';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.ts';
import { apiRoutes } from '../server/http/api.ts';
import { openApiPath } from '../server/http/openapi.ts';
import { testApp } from './support/app.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

describe('the published contract', () => {
  let test: TestDatabase;
  let app: Awaited<ReturnType<typeof testApp>>;
  beforeAll(async () => {
    test = await openTestDatabase();
    app = await testApp(test.database);
  });
  afterAll(() => test?.drop());

  it('is a valid OpenAPI 3.0 document', async () => {
    const { body } = await request(app).get('/api/v1/openapi.json').expect(200);
    const result = await new Validator().validate(body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('describes every resource with its filters, and every route it lists answers', async () => {
    const { body } = await request(app).get('/api/v1/openapi.json').expect(200);
    for (const layer of ['districts', 'streets', 'communities', 'grids', 'buildings', 'members', 'units', 'issues']) {
      expect(Object.keys(body.paths[`/api/v1/${layer}`])).toEqual(['get', 'post']);
      expect(Object.keys(body.paths[`/api/v1/${layer}/{id}`])).toEqual(['get', 'patch', 'delete']);
    }
    const memberFilters = body.paths['/api/v1/members'].get.parameters.map((p: { name: string }) => p.name);
    expect(memberFilters).toEqual(expect.arrayContaining(['bbox', 'limit', 'after', 'grid', 'volunteer', 'skill']));
    expect(body.components.schemas.BuildingProperties.properties.kind.enum).toContain('residential');
    expect(body.paths['/api/v1/import/{layer}'].post.parameters.find((p: { name: string }) => p.name === 'format').schema.enum).toEqual([
      'geojson',
      'ndjson',
      'csv',
      'xlsx',
      'shapefile',
      'osm',
      'osm.pbf',
    ]);
    // every route an admin may read, with its required parameters' examples (the event stream never ends: tests/dispatch.test.ts
    // reads it; the demo has no photo to fetch: tests/problem-wall.test.ts does; nor an import: tests/import-jobs.test.ts)
    const routes = apiRoutes(test.database, loadConfig({}));
    const checked: string[] = [];
    const skipped = ['/api/v1/events', '/api/v1/volunteers/me', '/api/v1/issues/{id}/photos/{photo}', '/api/v1/imports/{id}'];
    for (const path of Object.keys(body.paths).filter((p) => body.paths[p].get && !skipped.includes(p))) {
      const parameters: { name: string; in: string; required?: boolean; example?: unknown }[] = body.paths[path].get.parameters ?? [];
      const query = parameters
        .filter((p) => p.in === 'query' && p.required)
        .map((p) => `${p.name}=${p.example}`)
        .join('&');
      const examples = parameters.filter((p) => p.in === 'path' && p.example !== undefined);
      const url =
        examples
          .reduce((u, p) => u.replace(`{${p.name}}`, String(p.example)), path)
          .replace('{id}', '1')
          .replace('{layer}', 'units') + (query ? `?${query}` : '');
      const response = await request(app).get(url);
      expect([url, response.status]).toEqual([url, 200]);
      // and answers as its declared schema says (the web client's types are these schemas')
      const declared = routes.find((r) => r.method === 'GET' && openApiPath(r.path) === path)?.answer.schema;
      if (declared) checked.push(path);
      expect([url, declared?.safeParse(response.body).error?.issues ?? []]).toEqual([url, []]);
    }
    expect(checked).toEqual(expect.arrayContaining(['/api/v1/coverage/grids', '/api/v1/coverage/gaps']));
  });

  it('says what a request may send: a property with a default may be left out, and unknown ones only where they are dropped', async () => {
    const {
      body: {
        components: { schemas },
      },
    } = await request(app).get('/api/v1/openapi.json').expect(200);
    expect(schemas.AccessKey.required).toEqual(['label']);
    expect((await request(app).post('/api/v1/auth/keys').send({ label: 'QGIS' }).expect(201)).body.expires_at).toBeDefined();
    expect(schemas.RedrawChange.required).toEqual(['geometry']);
    // a feature may carry an id or a bbox, its properties are checked strictly
    expect(schemas.BuildingFeature.additionalProperties).toBeUndefined();
    expect(schemas.BuildingFeature.properties.properties.additionalProperties).toBe(false);
    expect(schemas.BuildingPatch.additionalProperties).toBe(false);
    expect(schemas.NewUser.properties.password.format).toBe('password');
  });

  it('has a readable docs page that works without the internet', async () => {
    const page = await request(app).get('/api/v1/docs').expect(200);
    expect(page.text).toMatch(/swagger-ui-bundle\.js/);
    expect(page.text).not.toMatch(/https?:\/\//);
    await request(app)
      .get('/api/v1/docs/assets/swagger-ui-bundle.js')
      .expect(200)
      .expect('Content-Type', /javascript/);
  });
});
