import { createHash } from 'node:crypto';
import type { Express } from 'express';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { MAX_KEYS } from '../server/features/accounts/keys.ts';
import { sessionFor, testApp } from './support/app.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * Read-only access keys for GIS clients (sql/011_access_keys.sql), over real HTTP: a key reads as its user
 * (scope and masks), is refused every write on every route, outlives the user's sign-out, and ends when
 * revoked, expired, or the user's role changes; bad requests are named and write nothing.
 */

let test: TestDatabase;
let app: Express;
const db = () => test.database.db;
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const liveKeys = async (username: string) =>
  (
    await sql<{ n: number }>`
  select count(*)::int as n from sessions s join users u on u.id = s.user_id
  where u.username = ${username} and s.read_only and s.revoked_at is null and s.expires_at > now()`.execute(db())
  ).rows[0].n;

beforeAll(async () => {
  test = await openTestDatabase();
  app = await testApp(test.database, { as: null });
});
afterAll(async () => test?.drop());

async function makeKey(session: string, body: object = { label: 'QGIS 规划科', days: 90 }) {
  const res = await request(app).post('/api/v1/auth/keys').set(bearer(session)).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: number; label: string; token: string; header: string; expires_at: string };
}

describe(`read-only access keys (${mode} database)`, () => {
  it('reads as its user, lists without the key, stores only its hash, and outlives signing out', async () => {
    const session = await sessionFor(test.database, 'planner');
    const key = await makeKey(session);
    expect(key.header).toBe(`Authorization: Bearer ${key.token}`);
    expect(key.label).toBe('QGIS 规划科');
    const days = (Date.parse(key.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThan(90.1);

    const listed = await request(app).get('/api/v1/auth/keys').set(bearer(session)).expect(200);
    expect(listed.body.keys).toEqual([expect.objectContaining({ id: key.id, label: 'QGIS 规划科' })]);
    expect(JSON.stringify(listed.body)).not.toContain(key.token);
    const {
      rows: [stored],
    } = await sql<{ hash: Uint8Array }>`select token_hash as hash from sessions where id = ${key.id}`.execute(db());
    expect(Buffer.from(stored.hash).equals(createHash('sha256').update(key.token).digest())).toBe(true);

    // the planner's scope: its community's buildings, through the REST API and through /ogc
    const {
      rows: [scope],
    } = await sql<{ n: number }>`
      select count(*)::int as n from buildings where community_id = (select scope_community_id from users where username = 'planner')`.execute(
      db(),
    );
    const ogc = await request(app).get('/ogc/collections/buildings/items?limit=1').set(bearer(key.token)).expect(200);
    expect(JSON.parse(ogc.text).numberMatched).toBe(scope.n);
    expect((await request(app).get('/api/v1/buildings?limit=1').set(bearer(key.token)).expect(200)).body.numberMatched).toBe(scope.n);

    await request(app).post('/api/v1/auth/logout').set(bearer(session)).expect(204);
    await request(app).get('/api/v1/auth/me').set(bearer(session)).expect(401);
    await request(app).get('/ogc/collections/buildings/items?limit=1').set(bearer(key.token)).expect(200);
  });

  it('is refused every write, whatever the route, and writes nothing', async () => {
    const session = await sessionFor(test.database, 'gridworker');
    const key = await makeKey(session);
    const {
      rows: [building],
    } = await sql<{ id: number; name: string; version: number }>`
      select id, name, version from buildings where grid_id = (select scope_grid_id from users where username = 'gridworker') order by id limit 1`.execute(
      db(),
    );
    // the grid worker itself may rename the building; its key may not
    const writes = [
      request(app)
        .patch(`/api/v1/buildings/${building.id}`)
        .set(bearer(key.token))
        .send({ properties: { name: '改名' } }),
      request(app).post('/api/v1/auth/keys').set(bearer(key.token)).send({ label: 'another' }),
      request(app).delete(`/api/v1/auth/keys/${key.id}`).set(bearer(key.token)),
      request(app).post('/api/v1/auth/logout').set(bearer(key.token)),
      request(app)
        .post('/api/v1/issues')
        .set(bearer(key.token))
        .send({
          type: 'Feature',
          geometry: { type: 'Point', coordinates: [109.48, 36.59] },
          properties: { title: 't', category: 'noise' },
        }),
    ];
    for (const res of await Promise.all(writes)) {
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ title: 'Read-only key', field: 'Authorization' });
    }
    // Open311 takes its key in the body: refused there too
    const open311 = await request(app)
      .post('/open311/v2/requests.json')
      .type('form')
      .send({ api_key: key.token, service_code: 'noise', lat: '36.59', long: '109.48', description: '太吵' });
    expect(open311.status).toBe(403);
    expect(JSON.stringify(open311.body)).toContain('api_key');

    const {
      rows: [after],
    } = await sql<{ name: string; version: number }>`select name, version from buildings where id = ${building.id}`.execute(db());
    expect(after).toEqual({ name: building.name, version: building.version });
    expect(await liveKeys('gridworker')).toBe(1);
    await request(app).get('/api/v1/auth/me').set(bearer(session)).expect(200);
    await request(app)
      .patch(`/api/v1/buildings/${building.id}`)
      .set(bearer(session))
      .send({ properties: { name: '改名' } })
      .expect(200);
  });

  it("ends when revoked by its user (no one else), when it expires, and when the user's role changes", async () => {
    const session = await sessionFor(test.database, 'leader');
    const [revoked, expiring, kept] = [
      await makeKey(session, { label: 'a' }),
      await makeKey(session, { label: 'b', days: 1 }),
      await makeKey(session, { label: 'c', days: 365 }),
    ];
    // another user's revoke finds no such key of its own
    await request(app)
      .delete(`/api/v1/auth/keys/${revoked.id}`)
      .set(bearer(await sessionFor(test.database, 'dispatcher')))
      .expect(404);
    await request(app).get('/ogc/collections').set(bearer(revoked.token)).expect(200);
    await request(app).delete(`/api/v1/auth/keys/${revoked.id}`).set(bearer(session)).expect(204);
    await request(app).delete(`/api/v1/auth/keys/${revoked.id}`).set(bearer(session)).expect(404);
    const refused = await request(app).get('/ogc/collections').set(bearer(revoked.token)).expect(401);
    expect(refused.body.field).toBe('Authorization');
    await request(app).get('/api/v1/buildings').set(bearer(revoked.token)).expect(401);

    await sql`update sessions set expires_at = now() - interval '1 second' where id = ${expiring.id}`.execute(db());
    await request(app).get('/ogc/collections').set(bearer(expiring.token)).expect(401);
    expect(
      (await request(app).get('/api/v1/auth/keys').set(bearer(session)).expect(200)).body.keys.map((k: { label: string }) => k.label),
    ).toEqual(['c']);

    await request(app).get('/ogc/collections').set(bearer(kept.token)).expect(200);
    const {
      rows: [leader],
    } = await sql<{ id: number; version: number }>`select id, version from users where username = 'leader'`.execute(db());
    await request(app)
      .patch(`/api/v1/users/${leader.id}`)
      .set(bearer(await sessionFor(test.database, 'admin')))
      .set('If-Match', `"${leader.version}"`)
      .send({ role: 'dispatcher' })
      .expect(200);
    await request(app).get('/ogc/collections').set(bearer(kept.token)).expect(401);
  });

  it('refuses a bad request naming the field, and more than its number of live keys, writing nothing', async () => {
    const session = await sessionFor(test.database, 'dispatcher');
    const cases: [object | string, string][] = [
      [{ label: '', days: 30 }, 'label'],
      [{ label: '   ', days: 30 }, 'label'],
      [{ label: 'x'.repeat(101) }, 'label'],
      [{ days: 30 }, 'label'],
      [{ label: 'QGIS', days: 0 }, 'days'],
      [{ label: 'QGIS', days: 366 }, 'days'],
      [{ label: 'QGIS', days: 2.5 }, 'days'],
      [{ label: 'QGIS', role: 'admin' }, 'role'],
      ['{"label": "QGIS"', 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await request(app)
        .post('/api/v1/auth/keys')
        .set(bearer(session))
        .type('json')
        .send(typeof body === 'string' ? body : JSON.stringify(body));
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.type).toBe('application/problem+json');
      expect(res.body.field, JSON.stringify(body)).toBe(field);
    }
    expect(await liveKeys('dispatcher')).toBe(0);
    await request(app).post('/api/v1/auth/keys').send({ label: 'QGIS' }).expect(401);
    await request(app).delete('/api/v1/auth/keys/abc').set(bearer(session)).expect(400);

    await Promise.all(
      Array.from({ length: MAX_KEYS + 3 }, (_, i) =>
        request(app)
          .post('/api/v1/auth/keys')
          .set(bearer(session))
          .send({ label: `key ${i}` }),
      ),
    );
    expect(await liveKeys('dispatcher')).toBe(MAX_KEYS);
    const over = await request(app).post('/api/v1/auth/keys').set(bearer(session)).send({ label: 'one more' }).expect(409);
    expect(over.body.field).toBe('label');
  });

  it('signs a GIS client in that cannot send a bearer header: as the Basic password, or as access_key on /ogc and /tiles', async () => {
    const session = await sessionFor(test.database, 'leader');
    const key = await makeKey(session, { label: 'QGIS 3.22' });
    const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    // members are no public collection: a signed-in leader reads them (masked), an anonymous caller is asked to sign in
    await request(app).get('/ogc/collections/members/items?limit=1').expect(401);
    for (const user of ['leader', 'qgis', '']) {
      const res = await request(app).get('/ogc/collections/members/items?limit=1').set(basic(user, key.token)).expect(200);
      expect(JSON.parse(res.text).numberReturned).toBe(1);
    }
    await request(app).get('/api/v1/members?limit=1').set(basic('leader', key.token)).expect(200);
    const page = await request(app).get(`/ogc/collections/members/items?limit=1&access_key=${key.token}`).expect(200);
    // every link keeps the key: a client following next stays signed in
    const links = JSON.parse(page.text).links as { rel: string; href: string }[];
    expect(links.map((l) => l.rel)).toContain('next');
    for (const l of links) expect(new URL(l.href).searchParams.get('access_key'), l.rel).toBe(key.token);
    const next = new URL(links.find((l) => l.rel === 'next')!.href);
    expect(
      JSON.parse(
        (
          await request(app)
            .get(next.pathname + next.search)
            .expect(200)
        ).text,
      ).numberReturned,
    ).toBe(1);
    for (const l of JSON.parse((await request(app).get(`/ogc?access_key=${key.token}`).expect(200)).text).links) {
      expect(new URL(l.href).searchParams.get('access_key'), l.href).toBe(key.token);
    }
    // so do the HTML pages' links: a person browsing with the key in the URL stays signed in
    const htmlPage = (await request(app).get(`/ogc/collections/members/items?f=html&limit=2&access_key=${key.token}`).expect(200)).text;
    const hrefs = [...htmlPage.matchAll(/href="([^"]*)"/g)]
      .map((m) => m[1].replaceAll('&amp;', '&'))
      .filter((h) => /^(\/|http)/.test(h) && h.includes('/ogc'));
    expect(hrefs.length).toBeGreaterThan(5);
    for (const href of hrefs) expect(new URL(href, 'http://x').searchParams.getAll('access_key'), href).toEqual([key.token]);
    const itemLink = new URL(
      hrefs.find((h) => /\/items\/\d+/.test(h))!,
      'http://x',
    );
    expect(
      (
        await request(app)
          .get(itemLink.pathname + itemLink.search)
          .expect(200)
      ).text,
    ).toContain('data-testid="feature"');
    // TileJSON's tile URLs carry it, and the tiles open with it
    const tilejson = (await request(app).get(`/tiles/buildings.json?access_key=${key.token}`).expect(200)).body;
    const tile = new URL(tilejson.tiles[0].replace('{z}/{x}/{y}', '14/13172/6367'));
    expect(tile.searchParams.get('access_key')).toBe(key.token);
    expect([200, 204]).toContain((await request(app).get(tile.pathname + tile.search)).status);
    await request(app).get(tile.pathname).expect(401);
    await request(app).get('/tiles/buildings.json').expect(401);

    // only on /ogc and /tiles, only an access key (never a session token in a URL or as a password), only to read
    await request(app).get(`/api/v1/members?limit=1&access_key=${key.token}`).expect(401);
    const asPassword = await request(app).get('/ogc/collections/members/items').set(basic('leader', session)).expect(401);
    expect(asPassword.body.field).toBe('Authorization');
    const inUrl = await request(app).get(`/tiles/buildings.json?access_key=${session}`).expect(401);
    expect(inUrl.body).toMatchObject({ field: 'access_key', detail: expect.stringMatching(/not a live access key/) });
    const {
      rows: [before],
    } = await sql<{ n: number }>`select count(*)::int as n from issues`.execute(db());
    const write = await request(app)
      .post('/api/v1/issues')
      .set(basic('leader', key.token))
      .send({ type: 'Feature', geometry: { type: 'Point', coordinates: [109.49, 36.59] }, properties: { title: 'x', category: 'other' } });
    expect(write.status).toBe(403);
    expect((await sql<{ n: number }>`select count(*)::int as n from issues`.execute(db())).rows[0].n).toBe(before.n);

    // a revoked key opens nothing, however it is sent
    await request(app).delete(`/api/v1/auth/keys/${key.id}`).set(bearer(session)).expect(204);
    expect((await request(app).get(`/ogc/collections/grids/items?access_key=${key.token}`).expect(401)).body.field).toBe('access_key');
    expect((await request(app).get('/ogc').set(basic('leader', key.token)).expect(401)).body.field).toBe('Authorization');
    await request(app).get('/ogc/collections/grids/items').set(basic('leader', 'not-a-key')).expect(401);
  });

  it('never writes an access key to the log, in the URL or in a header', async () => {
    const lines: string[] = [];
    const logged = createApp({
      database: test.database,
      config: loadConfig({}),
      logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }),
    });
    const key = await makeKey(await sessionFor(test.database, 'planner'), { label: 'GDAL' });
    await request(logged).get(`/ogc/collections/grids/items?limit=1&access_key=${key.token}`).expect(200);
    await request(logged).get('/ogc/collections/grids/items?limit=1').auth('gdal', key.token).expect(200);
    await request(logged).get('/ogc/collections/grids/items?limit=1').set(bearer(key.token)).expect(200);
    expect(lines.join('\n')).toContain('access_key=[redacted]');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.join('\n')).not.toContain(key.token);
    expect(lines.join('\n')).not.toContain(Buffer.from(`gdal:${key.token}`).toString('base64'));
  });
});
