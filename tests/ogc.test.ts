import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { Express } from 'express';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionFor, testApp } from './support/app.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';
import { OGC_SCHEMAS } from './ogc-schemas.ts';

/**
 * OGC API – Features at /ogc over real HTTP on real PostGIS (both modes): every response validated against
 * the standard's schemas (tests/ogc-schemas.ts), counts, extents and pages against independent SQL, scope and
 * masking per caller, and every kind of bad request answered with a problem that names the parameter.
 * GDAL reads the same server in tests/ogc-gdal.test.ts; the HTML pages are looked at in tests/e2e/ogc.test.ts.
 */

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats.default(ajv);
for (const schema of Object.values(OGC_SCHEMAS)) ajv.addSchema(schema);

function conforms(name: keyof typeof OGC_SCHEMAS, body: unknown) {
  const validate = ajv.getSchema(name)!;
  expect(validate(body), `${name}: ${ajv.errorsText(validate.errors)}`).toBe(true);
}

let test: TestDatabase;
let anonymous: Express;
const tokens: Record<string, string> = {};
const db = () => test.database.db;
const rows = async <T>(query: ReturnType<typeof sql<T>>) => (await query.execute(db())).rows;

/** GET as `who` (a demo account, or null for anonymous), asking for JSON unless headers say otherwise. */
const get = (who: string | null, path: string, headers: Record<string, string> = {}) => {
  const r = request(anonymous)
    .get(path)
    .set({ Accept: 'application/json', ...headers });
  return who ? r.set('Authorization', `Bearer ${tokens[who]}`) : r;
};
/** A link's path and query, to follow it on the test app. */
const pathOf = (href: string) => {
  const u = new URL(href);
  return u.pathname + u.search;
};
const linkOf = (body: { links: { rel: string; href: string; type?: string }[] }, rel: string, type?: string) =>
  body.links.find((l) => l.rel === rel && (type === undefined || l.type === type));

beforeAll(async () => {
  test = await openTestDatabase();
  anonymous = await testApp(test.database, { as: null });
  for (const who of ['admin', 'leader', 'resident', 'dispatcher']) tokens[who] = await sessionFor(test.database, who);
});
afterAll(async () => test?.drop());

describe(`OGC API – Features at /ogc (${mode} database)`, () => {
  it('has a landing page linking the API definition, the conformance classes and the collections, all of which answer', async () => {
    const res = await get(null, '/ogc').expect(200);
    expect(res.type).toBe('application/json');
    conforms('landingPage', res.body);
    for (const [rel, type] of [
      ['service-desc', 'application/vnd.oai.openapi+json;version=3.0'],
      ['conformance', 'application/json'],
      ['data', 'application/json'],
      ['self', 'application/json'],
    ]) {
      const link = linkOf(res.body, rel);
      expect(link, rel).toBeDefined();
      expect(link!.type).toBe(type);
      expect(link!.href).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ogc/);
      await get(null, pathOf(link!.href)).expect(200);
    }
    expect(linkOf(res.body, 'alternate', 'text/html')).toBeDefined();

    const conformance = await get(null, '/ogc/conformance').expect(200);
    conforms('confClasses', conformance.body);
    for (const part of ['core', 'geojson', 'html', 'oas30']) {
      expect(conformance.body.conformsTo).toContain(`http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/${part}`);
    }
  });

  it("publishes a valid OpenAPI 3.0 definition naming each collection's items path with its queryables", async () => {
    const res = await get(null, '/ogc/api').expect(200);
    expect(res.headers['content-type']).toContain('application/vnd.oai.openapi+json');
    const document = JSON.parse(res.text);
    const result = await new Validator().validate(document);
    expect(result.valid, JSON.stringify(result.errors)).toBe(true);
    const names = (path: string) =>
      (document.paths[path].get.parameters as { name?: string; $ref?: string }[]).map((p) => p.name ?? p.$ref!.split('/').at(-1));
    expect(names('/collections/buildings/items')).toEqual(
      expect.arrayContaining(['bbox', 'limit', 'after', 'before', 'f', 'kind', 'households', 'grid_id', 'community']),
    );
    expect(names('/collections/issues/items')).toContain('datetime');
    expect(names('/collections/grids/items')).not.toContain('datetime');
  });

  it('lists the collections a caller may read, each with its extent in CRS84 as PostGIS computes it', async () => {
    const open = await get(null, '/ogc/collections').expect(200);
    conforms('collections', open.body);
    expect(open.body.collections.map((c: { id: string }) => c.id)).toEqual(['districts', 'streets', 'communities', 'grids']);
    const admin = await get('admin', '/ogc/collections').expect(200);
    conforms('collections', admin.body);
    expect(admin.body.collections.map((c: { id: string }) => c.id)).toEqual([
      'districts',
      'streets',
      'communities',
      'grids',
      'buildings',
      'units',
      'issues',
      'members',
    ]);
    // a resident reads no members at all
    const resident = await get('resident', '/ogc/collections').expect(200);
    expect(resident.body.collections.map((c: { id: string }) => c.id)).not.toContain('members');

    for (const table of ['districts', 'streets', 'communities', 'grids', 'buildings', 'issues'] as const) {
      const collection = admin.body.collections.find((c: { id: string }) => c.id === table);
      const [box] = await rows(sql<{ xmin: number; ymin: number; xmax: number; ymax: number }>`
        select ST_XMin(e) as xmin, ST_YMin(e) as ymin, ST_XMax(e) as xmax, ST_YMax(e) as ymax from (select ST_Extent(geom) as e from ${sql.table(table)}) s`);
      expect(collection.extent.spatial.crs).toBe('http://www.opengis.net/def/crs/OGC/1.3/CRS84');
      collection.extent.spatial.bbox[0].forEach((n: number, i: number) =>
        expect(n).toBeCloseTo([box.xmin, box.ymin, box.xmax, box.ymax][i], 6),
      );
      expect(collection.crs).toEqual(['http://www.opengis.net/def/crs/OGC/1.3/CRS84']);
      const items = linkOf(collection, 'items', 'application/geo+json');
      await get('admin', pathOf(items!.href)).expect(200);
    }
    const issues = admin.body.collections.find((c: { id: string }) => c.id === 'issues');
    const [times] = await rows(sql<{ first: Date; last: Date }>`select min(reported_at) as first, max(reported_at) as last from issues`);
    expect(issues.extent.temporal.interval).toEqual([[times.first.toISOString(), times.last.toISOString()]]);

    const one = await get(null, '/ogc/collections/grids').expect(200);
    conforms('collection', one.body);
    expect(one.body.id).toBe('grids');
  });

  it('pages through every building with next links, and back with prev links, each page a valid feature collection', async () => {
    // 600 a page: embedded, read in batches of 250 (server/db/feature-store.ts), so pages and batches end at different rows
    const size = 600;
    const all = (await rows(sql<{ id: number }>`select id from buildings order by id`)).map((r) => r.id);
    const pages: number[][] = [];
    let path: string | undefined = `/ogc/collections/buildings/items?limit=${size}`;
    while (path) {
      const res = await get('admin', path).expect(200);
      expect(res.type).toBe('application/geo+json');
      expect(res.headers['content-crs']).toBe('<http://www.opengis.net/def/crs/OGC/1.3/CRS84>');
      const body = JSON.parse(res.text);
      conforms('featureCollectionGeoJSON', body);
      // the first page counts every match; the pages a client follows skip that cost
      expect(body.numberMatched).toBe(pages.length === 0 ? all.length : undefined);
      expect(body.numberReturned).toBe(body.features.length);
      pages.push(body.features.map((f: { id: number }) => f.id));
      path = linkOf(body, 'next') && pathOf(linkOf(body, 'next')!.href);
      expect(pages.length).toBeLessThanOrEqual(Math.ceil(all.length / size));
    }
    expect(pages.flat()).toEqual(all);
    expect(pages.at(-1)!.length).toBe(all.length % size || size);

    // back from the last page: the same pages, in reverse
    const last = JSON.parse((await get('admin', `/ogc/collections/buildings/items?limit=${size}&after=${pages.at(-2)!.at(-1)}`)).text);
    let prev = linkOf(last, 'prev');
    for (let i = pages.length - 2; i >= 0; i--) {
      const body = JSON.parse((await get('admin', pathOf(prev!.href)).expect(200)).text);
      expect(body.features.map((f: { id: number }) => f.id)).toEqual(pages[i]);
      prev = linkOf(body, 'prev');
    }
    expect(prev).toBeUndefined();

    // before the first id: an empty page whose next link leads back to the start
    const start = JSON.parse((await get('admin', `/ogc/collections/buildings/items?limit=5&before=${all[0]}`).expect(200)).text);
    expect(start.features).toEqual([]);
    expect(
      JSON.parse((await get('admin', pathOf(linkOf(start, 'next')!.href)).expect(200)).text).features.map((f: { id: number }) => f.id),
    ).toEqual(all.slice(0, 5));
    // more than the most is the most
    const most = JSON.parse((await get('admin', '/ogc/collections/members/items?limit=50000').expect(200)).text);
    expect(most.numberReturned).toBe(Math.min(10_000, most.numberMatched));
  });

  it('gives the first 10 by default, and a feature by id with its links and exactly its stored geometry', async () => {
    const body = JSON.parse((await get('admin', '/ogc/collections/grids/items')).text);
    expect(body.numberReturned).toBe(10);
    expect(linkOf(body, 'self')).toBeDefined();
    expect(linkOf(body, 'collection')!.href).toMatch(/\/ogc\/collections\/grids$/);

    const id = body.features[3].id;
    const res = await get('admin', `/ogc/collections/grids/items/${id}`).expect(200);
    expect(res.type).toBe('application/geo+json');
    const feature = JSON.parse(res.text);
    conforms('featureGeoJSON', feature);
    expect(res.headers.etag).toMatch(/^"\d+-json"$/);
    expect(linkOf(feature, 'self')!.href).toMatch(new RegExp(`/ogc/collections/grids/items/${id}$`));
    const [same] = await rows(sql<{ exact: boolean }>`
      select ST_AsBinary(ST_ForcePolygonCCW(geom)) = ST_AsBinary(ST_ForcePolygonCCW(ST_SetSRID(ST_GeomFromGeoJSON(${JSON.stringify(feature.geometry)}), 4326))) as exact
      from grids where id = ${id}`);
    expect(same.exact).toBe(true);
  });

  it('filters by bbox, by property and by time as PostGIS does', async () => {
    const [c] = await rows(
      sql<{ x: number; y: number }>`select ST_X(ST_Centroid(geom)) as x, ST_Y(ST_Centroid(geom)) as y from communities order by id limit 1`,
    );
    const bbox = [c.x - 0.003, c.y - 0.002, c.x + 0.003, c.y + 0.002];
    const ids = async (path: string) => JSON.parse((await get('admin', path).expect(200)).text).features.map((f: { id: number }) => f.id);
    const inBox = (
      await rows(
        sql<{
          id: number;
        }>`select id from buildings where ST_Intersects(geom, ST_MakeEnvelope(${bbox[0]}, ${bbox[1]}, ${bbox[2]}, ${bbox[3]}, 4326)) order by id`,
      )
    ).map((r) => r.id);
    expect(inBox.length).toBeGreaterThan(5);
    expect(await ids(`/ogc/collections/buildings/items?limit=10000&bbox=${bbox.join(',')}`)).toEqual(inBox);
    expect(
      await ids(
        `/ogc/collections/buildings/items?limit=10000&bbox=${bbox.join(',')}&bbox-crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84`,
      ),
    ).toEqual(inBox);
    // six numbers carry heights, which a map of the ground ignores
    expect(
      await ids(`/ogc/collections/buildings/items?limit=10000&bbox=${[bbox[0], bbox[1], -100, bbox[2], bbox[3], 500].join(',')}`),
    ).toEqual(inBox);

    const shops = (
      await rows(sql<{ id: number }>`select id from buildings where kind = 'shop' and has_party_group = false order by id`)
    ).map((r) => r.id);
    expect(await ids('/ogc/collections/buildings/items?limit=10000&kind=shop&has_party_group=false')).toEqual(shops);
    const [community] = await rows(sql<{ id: number }>`select id from communities order by id offset 1 limit 1`);
    const open = (
      await rows(
        sql<{
          id: number;
        }>`select id from issues where community_id = ${community.id} and status in ('reported', 'accepted', 'in_progress', 'escalated', 'reopened') order by id`,
      )
    ).map((r) => r.id);
    expect(await ids(`/ogc/collections/issues/items?limit=10000&community=${community.id}&open=true`)).toEqual(open);

    // an interval, open at either end, and a date alone is its whole day (+08:00 is how a city writes it)
    const [day] = await rows(
      sql<{ day: string }>`select to_char(reported_at at time zone 'UTC', 'YYYY-MM-DD') as day from issues order by id limit 1`,
    );
    const between = async (from: string, to: string) =>
      (
        await rows(sql<{ id: number }>`
      select id from issues where reported_at >= ${from}::timestamptz and reported_at < ${to}::timestamptz order by id`)
      ).map((r) => r.id);
    const next = new Date(Date.parse(`${day.day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    const ofDay = await between(`${day.day}T00:00:00Z`, `${next}T00:00:00Z`);
    expect(ofDay.length).toBeGreaterThan(0);
    expect(await ids(`/ogc/collections/issues/items?limit=10000&datetime=${day.day}`)).toEqual(ofDay);
    expect(await ids(`/ogc/collections/issues/items?limit=10000&datetime=${day.day}/${day.day}`)).toEqual(ofDay);
    expect(await ids(`/ogc/collections/issues/items?limit=10000&datetime=../${day.day}`)).toEqual(
      await between('1900-01-01T00:00:00Z', `${next}T00:00:00Z`),
    );
    expect(await ids(`/ogc/collections/issues/items?limit=10000&datetime=${encodeURIComponent(`${day.day}T08:00:00+08:00`)}/..`)).toEqual(
      await between(`${day.day}T00:00:00Z`, '2200-01-01T00:00:00Z'),
    );
    // features without a time are not filtered out by one (a GIS filtering a whole project keeps such layers)
    const grids = (await rows(sql<{ id: number }>`select id from grids order by id`)).map((r) => r.id);
    expect(await ids(`/ogc/collections/grids/items?limit=10000&datetime=${day.day}`)).toEqual(grids);

    const queryables = await get('admin', '/ogc/collections/buildings/queryables').expect(200);
    expect(queryables.headers['content-type']).toContain('application/schema+json');
    expect(JSON.parse(queryables.text).properties).toMatchObject({
      kind: { type: 'string' },
      households: { type: 'integer' },
      has_party_group: { type: 'boolean' },
    });
  });

  it('shows each caller its own scope, members masked for a leader, and the public only communities and grids', async () => {
    const [scope] = await rows(sql<{ street: string }>`select scope_street_code as street from users where username = 'leader'`);
    const matched = async (who: string | null, collection: string) =>
      JSON.parse((await get(who, `/ogc/collections/${collection}/items?limit=1`).expect(200)).text).numberMatched;
    const [counts] = await rows(sql<{ buildings: number; members: number; volunteers: number }>`
      select (select count(*)::int from buildings where community_id in (select id from communities where street_code = ${scope.street})) as buildings,
             (select count(*)::int from members where community_id in (select id from communities where street_code = ${scope.street})) as members,
             (select count(*)::int from members where is_volunteer and community_id in (select id from communities where street_code = ${scope.street})) as volunteers`);
    expect(await matched('leader', 'buildings')).toBe(counts.buildings);
    expect(await matched('leader', 'members')).toBe(counts.members);
    expect(await matched('dispatcher', 'members')).toBe(counts.volunteers);
    const members = JSON.parse((await get('leader', '/ogc/collections/members/items?limit=100')).text).features;
    expect(members.length).toBeGreaterThan(0);
    for (const m of members) {
      expect(m.geometry).toBeNull();
      expect(m.properties).toMatchObject({ name: null, phone: null, building_id: null });
    }
    // a masked property is no filter: a leader cannot look a member up by name (an admin can)
    const [someone] = await rows(
      sql<{
        name: string;
      }>`select name from members where community_id in (select id from communities where street_code = ${scope.street}) limit 1`,
    );
    expect((await get('leader', `/ogc/collections/members/items?name=${encodeURIComponent(someone.name)}`).expect(400)).body.field).toBe(
      'name',
    );
    const offered = JSON.parse((await get('leader', '/ogc/collections/members/queryables').expect(200)).text).properties;
    expect(Object.keys(offered)).toEqual(expect.arrayContaining(['category', 'is_volunteer']));
    for (const masked of ['name', 'phone', 'employer_unit', 'building_id', 'building']) expect(offered).not.toHaveProperty(masked);
    expect(
      JSON.parse((await get('admin', `/ogc/collections/members/items?name=${encodeURIComponent(someone.name)}`).expect(200)).text)
        .numberMatched,
    ).toBeGreaterThan(0);

    expect(await matched(null, 'grids')).toBe((await rows(sql<{ n: number }>`select count(*)::int as n from grids`))[0].n);
    const grids = JSON.parse((await get(null, '/ogc/collections/grids/items?limit=100')).text).features;
    const phones = grids.map((g: { properties: { grid_worker_phone: string | null } }) => g.properties.grid_worker_phone).filter(Boolean);
    expect(phones.length).toBeGreaterThan(0);
    for (const phone of phones) expect(phone).toMatch(/^\d{3}\*{4}\d{4}$/);
    for (const collection of ['buildings', 'units', 'issues', 'members']) {
      const res = await get(null, `/ogc/collections/${collection}/items`).expect(401);
      expect(res.type).toBe('application/problem+json');
    }
    const refused = await get(null, '/ogc/collections/members').expect(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="gridmap"');
    await get('resident', '/ogc/collections/members/items').expect(403);
    // a token that opens no session is refused, not read as anonymous
    const stale = await request(anonymous)
      .get('/ogc/collections')
      .set('Authorization', `Bearer ${'x'.repeat(43)}`)
      .expect(401);
    expect(stale.body.field).toBe('Authorization');
  });

  it('answers a browser with HTML: the collections, a page of features with a sketch, one feature', async () => {
    const landing = await get(null, '/ogc', { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }).expect(200);
    expect(landing.type).toBe('text/html');
    expect(landing.text).toContain('/ogc/collections');
    const list = await get('admin', '/ogc/collections?f=html').expect(200);
    expect(list.type).toBe('text/html');
    for (const id of ['communities', 'grids', 'buildings', 'issues']) expect(list.text).toContain(`data-collection="${id}"`);
    const page = await get('admin', '/ogc/collections/buildings/items?f=html&limit=7').expect(200);
    expect(page.text.match(/<tr data-id="/g)).toHaveLength(7);
    expect(page.text.match(/<path d="/g)).toHaveLength(7);
    expect(page.text).toContain('rel="next"');
    const [first] = await rows(sql<{ id: number; name: string }>`select id, name from buildings order by id limit 1`);
    const one = await get('admin', `/ogc/collections/buildings/items/${first.id}?f=html`).expect(200);
    expect(one.text).toContain(first.name);
    // one version, two representations, each its own ETag; and no cache shares one caller's answer with another
    const json = await get('admin', `/ogc/collections/buildings/items/${first.id}`).expect(200);
    expect(json.headers.etag).not.toBe(one.headers.etag);
    expect(json.headers.vary).toBe('Accept, Authorization');
    await get('admin', `/ogc/collections/buildings/items/${first.id}`, { 'If-None-Match': json.headers.etag }).expect(304);
    await get('admin', `/ogc/collections/buildings/items/${first.id}?f=html`, { 'If-None-Match': json.headers.etag }).expect(200);
    // the API definition is read in Swagger UI
    const api = await get(null, '/ogc/api', { Accept: 'text/html' }).expect(303);
    expect(api.headers.location).toBe('/api/v1/docs?spec=ogc');
    expect((await get(null, '/ogc/collections/grids/queryables?f=html').expect(200)).text).toContain('data-testid="queryables"');
    // text from the map is escaped, never markup
    await sql`update buildings set name = '<script>alert(1)</script>' where id = ${first.id}`.execute(db());
    const escaped = await get('admin', `/ogc/collections/buildings/items/${first.id}?f=html`).expect(200);
    expect(escaped.text).not.toContain('<script>alert(1)');
    expect(escaped.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('refuses bad requests with a problem naming the parameter', async () => {
    const cases: [string, string][] = [
      ['/ogc/collections/buildings/items?limit=0', 'limit'],
      ['/ogc/collections/buildings/items?limit=ten', 'limit'],
      ['/ogc/collections/buildings/items?bbox=1,2,3', 'bbox'],
      ['/ogc/collections/buildings/items?bbox=100,95,101,96', 'bbox'],
      ['/ogc/collections/buildings/items?bbox=1,2,3,4&bbox-crs=EPSG:3857', 'bbox-crs'],
      ['/ogc/collections/buildings/items?households=many', 'households'],
      ['/ogc/collections/buildings/items?has_party_group=yes', 'has_party_group'],
      ['/ogc/collections/buildings/items?color=red', 'color'],
      ['/ogc/collections/buildings/items?after=1&before=9', 'before'],
      ['/ogc/collections/buildings/items?after=-1', 'after'],
      ['/ogc/collections/buildings/items?f=xml', 'f'],
      ['/ogc/collections/grids/items?datetime=2026-11-01/2026-10-01', 'datetime'],
      ['/ogc/collections/issues/items?datetime=yesterday', 'datetime'],
      ['/ogc/collections/issues/items?datetime=2026-11-30/2026-11-01', 'datetime'],
      ['/ogc/collections/issues/items?datetime=../..', 'datetime'],
      ['/ogc/collections/issues/items?datetime=2026-02-30', 'datetime'],
      ['/ogc/api?f=yaml', 'f'],
      ['/ogc/collections?limit=5', 'limit'],
    ];
    for (const [path, field] of cases) {
      const res = await get('admin', path);
      expect(res.status, path).toBe(400);
      expect(res.type, path).toBe('application/problem+json');
      expect(res.body.field, path).toBe(field);
    }
    const missing = await get('admin', '/ogc/collections/parks/items').expect(404);
    expect(missing.body.field).toBe('collectionId');
    expect((await get('admin', '/ogc/collections/grids/items/999999').expect(404)).body.field).toBe('featureId');
    expect((await get('admin', '/ogc/collections/grids/items/abc').expect(404)).body.field).toBe('featureId');
    await get(null, '/ogc/collections/grids/tiles').expect(404);
    // a grid worker's building in another street is not found for a leader, whose scope it lies outside
    const [far] = await rows(sql<{ id: number }>`select b.id from buildings b join communities c on c.id = b.community_id
      where c.street_code <> (select scope_street_code from users where username = 'leader') order by b.id limit 1`);
    await get('leader', `/ogc/collections/buildings/items/${far.id}`).expect(404);
    await get('admin', `/ogc/collections/buildings/items/${far.id}`).expect(200);
  });
});
