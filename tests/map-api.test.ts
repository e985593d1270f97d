import { bboxPolygon } from '@turf/bbox-polygon';
import { booleanClockwise } from '@turf/boolean-clockwise';
import { booleanIntersects } from '@turf/boolean-intersects';
import type { Feature, FeatureCollection, Polygon } from 'geojson';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bbox } from '../server/domain/params.ts';
import { testApp } from './support/app.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

const LAYERS = ['communities', 'grids', 'buildings'] as const;

describe('map layers API', () => {
  let test: TestDatabase;
  let app: Awaited<ReturnType<typeof testApp>>;
  const all: Record<string, FeatureCollection> = {};

  beforeAll(async () => {
    test = await openTestDatabase();
    app = await testApp(test.database);
    for (const layer of LAYERS) all[layer] = (await request(app).get(`/api/v1/${layer}?limit=10000`).expect(200)).body;
  });
  afterAll(() => test?.drop());

  it.each(LAYERS)('serves %s as an RFC 7946 FeatureCollection', async (layer) => {
    const response = await request(app).get(`/api/v1/${layer}?limit=10000`).expect(200);
    expect(response.headers['content-type']).toMatch(/^application\/geo\+json/);
    const collection = response.body as FeatureCollection & { numberMatched: number; numberReturned: number };
    expect(collection.type).toBe('FeatureCollection');
    expect(collection.numberReturned).toBe(collection.features.length);
    expect(collection.numberMatched).toBe(collection.features.length);
    for (const feature of collection.features) {
      expect(feature.type).toBe('Feature');
      expect(typeof feature.id).toBe('number');
      expect(feature.properties).not.toHaveProperty('geom');
      const polygons =
        feature.geometry.type === 'MultiPolygon' ? feature.geometry.coordinates : [(feature.geometry as Polygon).coordinates];
      for (const [outer, ...holes] of polygons) {
        // lon/lat order around 109.49 E, 36.59 N; outer rings counter-clockwise, holes clockwise
        expect(outer[0][0]).toBeGreaterThan(109.4);
        expect(outer[0][1]).toBeGreaterThan(36.5);
        expect(booleanClockwise(outer)).toBe(false);
        for (const hole of holes) expect(booleanClockwise(hole)).toBe(true);
      }
    }
  });

  it('gives grids their community and buildings their derived grid and community', () => {
    const grid = all.grids.features[0];
    expect(grid.properties).toMatchObject({ code: expect.stringMatching(/^\d{15}$/), community_name: expect.stringMatching(/社区$/) });
    const building = all.buildings.features[0];
    expect(building.properties).toMatchObject({ grid_id: expect.any(Number), community_id: expect.any(Number), kind: expect.any(String) });
    const community = all.communities.features[0];
    expect(community.properties).toMatchObject({ street_name: expect.stringMatching(/街道$/), district_code: '610602' });
  });

  const boxes: Bbox[] = [
    [109.485, 36.585, 109.49, 36.59],
    [109.47, 36.58, 109.5, 36.6],
    [109.4951, 36.5921, 109.4952, 36.5922],
    [10, 10, 11, 11],
  ];
  it.each(LAYERS.flatMap((layer) => boxes.map((box) => [layer, box] as const)))(
    'bbox on %s returns exactly the features that intersect %j',
    async (layer, box) => {
      const response = await request(app)
        .get(`/api/v1/${layer}`)
        .query({ bbox: box.join(','), limit: 10000 })
        .expect(200);
      const expected = all[layer].features.filter((f) => booleanIntersects(f as Feature, bboxPolygon(box))).map((f) => f.id);
      expect((response.body as FeatureCollection).features.map((f) => f.id).sort()).toEqual(expected.sort());
      expect(response.body.numberMatched).toBe(expected.length);
    },
  );

  it('bounds a page by limit and says how many matched', async () => {
    const { body } = await request(app).get('/api/v1/buildings?limit=7').expect(200);
    expect(body.features).toHaveLength(7);
    expect(body.numberReturned).toBe(7);
    expect(body.numberMatched).toBe(all.buildings.features.length);
    expect((await request(app).get('/api/v1/buildings').expect(200)).body.features).toHaveLength(100);
  });

  it.each([
    ['bbox=1,2,3', 'bbox', /four numbers/],
    ['bbox=a,b,c,d', 'bbox', /four numbers/],
    ['bbox=1,2,3,4,5', 'bbox', /four numbers/],
    ['bbox=1,,3,4', 'bbox', /four numbers/],
    ['bbox=-181,0,0,1', 'bbox', /longitudes/],
    ['bbox=0,-91,1,1', 'bbox', /latitudes/],
    ['bbox=2,0,1,1', 'bbox', /minimum/],
    ['bbox=1,2,3,4&bbox=1,2,3,4', 'bbox', /once/],
    ['limit=0', 'limit', /1 to 10000/],
    ['limit=10001', 'limit', /1 to 10000/],
    ['limit=ten', 'limit', /1 to 10000/],
  ])('answers ?%s with a problem naming %s', async (query, field, detail) => {
    const response = await request(app).get(`/api/v1/grids?${query}`).expect(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: 400, title: 'Invalid parameter', field, detail: expect.stringMatching(detail) });
  });

  it('answers unknown paths with a 404 problem, and API paths no rule allows with a 403, without a stack trace', async () => {
    const outside = await request(app).get('/nothing-here.txt').expect(404);
    expect(outside.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(outside.body).toMatchObject({ status: 404, title: 'Not Found', instance: '/nothing-here.txt' });
    const api = await request(app).get('/api/v1/nothing-here').expect(403);
    expect(api.body).toMatchObject({ status: 403, title: 'Forbidden', detail: 'no access rule allows GET /api/v1/nothing-here' });
    expect(JSON.stringify([outside.body, api.body])).not.toMatch(/at .*\.ts/);
  });

  it('tags each response with a request id, keeping a caller-supplied one', async () => {
    const mine = await request(app).get('/api/v1/health').set('X-Request-Id', 'trace-123').expect(200);
    expect(mine.headers['x-request-id']).toBe('trace-123');
    const fresh = await request(app).get('/api/v1/health').expect(200);
    expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('tells the web client about a configured basemap, and of none by default', async () => {
    expect((await request(app).get('/api/v1/map/config').expect(200)).body).toEqual({ basemap: null, maxFeatures: 10000 });
    const withBasemap = await testApp(test.database, {
      env: { BASEMAP_TILES: 'https://tiles.example.org/{z}/{x}/{y}.png', BASEMAP_ATTRIBUTION: '© city' },
    });
    expect((await request(withBasemap).get('/api/v1/map/config').expect(200)).body.basemap).toEqual({
      tiles: ['https://tiles.example.org/{z}/{x}/{y}.png'],
      labels: null,
      crs: 'wgs84',
      attribution: '© city',
    });
    // Tianditu: {s} is one URL per subdomain, the labels beside the basemap, and the page may load from each server
    const tianditu = await testApp(test.database, {
      env: {
        BASEMAP_TILES: 'http://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=KEY',
        BASEMAP_LABELS: 'http://t{s}.tianditu.gov.cn/DataServer?T=cva_w&x={x}&y={y}&l={z}&tk=KEY',
        BASEMAP_SUBDOMAINS: '0,1,2',
        BASEMAP_CRS: 'gcj02',
      },
    });
    const answer = await request(tianditu).get('/api/v1/map/config').expect(200);
    expect(answer.body.basemap).toEqual({
      tiles: [0, 1, 2].map((n) => `http://t${n}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=KEY`),
      labels: [0, 1, 2].map((n) => `http://t${n}.tianditu.gov.cn/DataServer?T=cva_w&x={x}&y={y}&l={z}&tk=KEY`),
      crs: 'gcj02',
      attribution: '',
    });
    const policy = answer.headers['content-security-policy'];
    for (const n of [0, 1, 2]) expect(policy).toMatch(new RegExp(`img-src [^;]*http://t${n}\\.tianditu\\.gov\\.cn`));
  });
});
