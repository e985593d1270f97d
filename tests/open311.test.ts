import type { Express } from 'express';
import { sql } from 'kysely';
import sax from 'sax';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionFor, testApp } from './support/app.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * The problem wall as an Open311 GeoReport v2 endpoint, over real HTTP on real PostGIS (both modes): services
 * from the categories, a request reported as the demo resident and read back with every field the spec
 * lists, its status through the lifecycle, the filters against SQL counts, what anonymous callers see, XML,
 * and bad input refused in GeoReport's error format with nothing written.
 */

/** The fields of a service request, as GeoReport v2 lists them (GET Service Request(s), Response). */
const GEOREPORT_REQUEST_FIELDS = [
  'service_request_id',
  'status',
  'status_notes',
  'service_name',
  'service_code',
  'description',
  'agency_responsible',
  'service_notice',
  'requested_datetime',
  'updated_datetime',
  'expected_datetime',
  'address',
  'address_id',
  'zipcode',
  'lat',
  'long',
  'media_url',
];
/** The fields of a service (GET Service List, Response). */
const GEOREPORT_SERVICE_FIELDS = ['service_code', 'service_name', 'description', 'metadata', 'type', 'keywords', 'group'];
/** W3C datetime with its time zone, as the spec requires of every datetime. */
const W3C = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/;

let test: TestDatabase;
const as: Record<string, Express> = {};
let residentKey: string;
let residentId: number;
/** the grid worker's grid and its community, their names; a point in another street's grid */
let g1: number, c1: number, gridName: string, communityName: string;
let far: [number, number];
let g1Points: [number, number][];
const nextPoint = () => g1Points.shift()!;

const db = () => test.database.db;
const one = async <T>(query: { execute: (db: never) => Promise<{ rows: unknown[] }> }) => (await query.execute(db() as never)).rows[0] as T;

type Form = Record<string, string>;
const formPoint = ([lon, lat]: [number, number]): Form => ({ lat: String(lat), long: String(lon) });
const report = (form: Form, format = 'json') =>
  request(as.anonymous)
    .post(`/open311/v2/requests.${format}`)
    .type('form')
    .send({ api_key: residentKey, service_code: 'street_light', ...form });
const step = (id: string, body: Record<string, unknown>) =>
  request(as.gridworker).post(`/api/v1/issues/${id}/transitions`).send(body).expect(200);
const read = async (id: string, app = as.anonymous) => {
  const res = await request(app).get(`/open311/v2/requests/${id}.json`).expect(200);
  expect(res.body).toHaveLength(1);
  return res.body[0] as Record<string, unknown>;
};

/** What has been written: the issues and the audit log's last entry. */
const written = () =>
  one<{ issues: number; audit: number }>(sql`
  select (select count(*)::int from issues) as issues, (select coalesce(max(id), 0)::int from audit_log) as audit`);

/** A GeoReport error response: a list of {code, description}, each code the HTTP status, the first naming `field`. */
function expectErrors(res: request.Response, status: number, field: string) {
  expect([res.status, res.text]).toEqual([status, expect.any(String)]);
  expect(res.body).toEqual([
    { code: status, description: expect.stringContaining(field) },
    ...res.body.slice(1).map(() => ({ code: status, description: expect.any(String) })),
  ]);
}

/** XML as the Spark convention maps it to JSON: a list element holds its items; a leaf is its text. */
function parseXml(xml: string): unknown {
  const parser = sax.parser(true, {});
  const stack: { name: string; children: { name: string; value: unknown }[]; text: string }[] = [{ name: '', children: [], text: '' }];
  parser.onopentag = (tag) => stack.push({ name: tag.name, children: [], text: '' });
  parser.ontext = (text) => {
    stack[stack.length - 1].text += text;
  };
  parser.onclosetag = () => {
    const node = stack.pop()!;
    const lists = ['services', 'service_requests', 'errors'];
    const value =
      node.children.length === 0
        ? node.text
        : lists.includes(node.name)
          ? node.children.map((c) => c.value)
          : Object.fromEntries(node.children.map((c) => [c.name, c.value]));
    stack[stack.length - 1].children.push({ name: node.name, value });
  };
  parser.write(xml).close();
  return stack[0].children[0].value;
}

/** JSON values as XML carries them: text, null as empty. */
const asXmlText = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(asXmlText)
    : value !== null && typeof value === 'object'
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asXmlText(v)]))
      : value === null
        ? ''
        : String(value);

beforeAll(async () => {
  test = await openTestDatabase();
  ({ g1, c1, gridName, communityName } = await one<{ g1: number; c1: number; gridName: string; communityName: string }>(sql`
    select g.id as g1, g.community_id as c1, g.name as "gridName", c.name as "communityName"
    from users u join grids g on g.id = u.scope_grid_id join communities c on c.id = g.community_id where u.username = 'gridworker'`));
  g1Points = (
    await sql<{ p: [number, number] }>`
    select json_build_array(ST_X(p.geom), ST_Y(p.geom)) as p
    from ST_Dump(ST_GeneratePoints((select ST_Buffer(geom, -0.0002) from grids where id = ${g1}), 20, 7)) p`.execute(db())
  ).rows.map((r) => r.p);
  ({ far } = await one<{ far: [number, number] }>(sql`
    select json_build_array(ST_X(p), ST_Y(p)) as far from (select ST_PointOnSurface(g.geom) p from grids g join communities c on c.id = g.community_id
    where c.street_code <> (select street_code from communities where id = ${c1}) order by g.id limit 1) s`));
  ({ id: residentId } = await one<{ id: number }>(sql`select id from users where username = 'resident'`));
  residentKey = await sessionFor(test.database, 'resident');
  as.anonymous = await testApp(test.database, { as: null });
  for (const user of ['gridworker', 'volunteer', 'admin', 'resident']) as[user] = await testApp(test.database, { as: user });
}, 120_000);

afterAll(async () => {
  await test?.drop();
});

describe('services', () => {
  it("are the issue categories, with GeoReport's fields, in JSON and XML", async () => {
    const { rows: categories } = await sql<{ code: string; name: string; due_hours: number }>`
      select code, name, due_hours from issue_categories order by code`.execute(db());
    const res = await request(as.anonymous)
      .get('/open311/v2/services.json')
      .expect(200)
      .expect('Content-Type', /^application\/json; charset=utf-8/);
    expect(res.body.map((s: { service_code: string; service_name: string }) => [s.service_code, s.service_name])).toEqual(
      categories.map((c) => [c.code, c.name]),
    );
    for (const service of res.body) {
      expect(Object.keys(service)).toEqual(GEOREPORT_SERVICE_FIELDS);
      expect(service).toMatchObject({ metadata: false, type: 'realtime' });
    }
    expect(res.body.find((s: { service_code: string }) => s.service_code === 'safety').description).toBe('紧急事项，2 小时内办结');
    expect(res.body.find((s: { service_code: string }) => s.service_code === 'noise').description).toBe('一般事项，7 天内办结');

    const xml = await request(as.anonymous)
      .get('/open311/v2/services.xml')
      .expect(200)
      .expect('Content-Type', /^text\/xml; charset=utf-8/);
    expect(xml.text).toMatch(/^<\?xml version="1.0" encoding="utf-8"\?>\n<services><service><service_code>/);
    expect(parseXml(xml.text)).toEqual(asXmlText(res.body));
  });

  it('have definitions without attributes (no service has metadata), and an unknown one is a 404', async () => {
    const definition = await request(as.anonymous).get('/open311/v2/services/noise.json').expect(200);
    expect(definition.body).toEqual({ service_code: 'noise', attributes: [] });
    expectErrors(await request(as.anonymous).get('/open311/v2/services/potholes.json'), 404, 'service_code');
  });

  it('answer the jurisdiction Gridmap serves, given or not, and no other', async () => {
    await request(as.anonymous).get('/open311/v2/services.json?jurisdiction_id=gridmap').expect(200);
    await request(as.anonymous).get('/open311/v2/services.json?jurisdiction_id=').expect(200);
    expectErrors(await request(as.anonymous).get('/open311/v2/services.json?jurisdiction_id=sfgov.org'), 404, 'jurisdiction_id');
    const xml = await request(as.anonymous).get('/open311/v2/services.xml?jurisdiction_id=sfgov.org').expect(404);
    expect(parseXml(xml.text)).toEqual([{ code: '404', description: expect.stringContaining('jurisdiction_id') }]);
  });

  it('are listed in the discovery document, whose changeset moves when a category changes', async () => {
    const before = (await request(as.anonymous).get('/open311/discovery.json').expect(200)).body;
    expect(before).toMatchObject({
      changeset: expect.stringMatching(W3C),
      endpoints: [
        {
          specification: 'http://wiki.open311.org/GeoReport_v2',
          url: expect.stringMatching(/\/open311\/v2$/),
          type: 'production',
          formats: ['text/xml', 'application/json'],
        },
      ],
    });
    await sql`update issue_categories set due_hours = 96, updated_at = now() + interval '1 second' where code = 'other'`.execute(db());
    const after = (await request(as.anonymous).get('/open311/discovery.xml').expect(200)).text;
    expect(after).toMatch(/<discovery><changeset>[^<]+<\/changeset>/);
    expect(after.match(/<changeset>([^<]+)</)![1] > before.changeset).toBe(true);
    expect(after).toContain('<formats><format>text/xml</format><format>application/json</format></formats>');
  });
});

describe('a request reported and followed', () => {
  let id: string;
  const point = { lon: 0, lat: 0 };
  const description = '3号楼东侧路灯不亮，晚上很黑。\n请尽快修理 <灯> & "谢谢"';

  it('is reported as the resident (form-encoded, api_key a session token) and lands on the wall of its point', async () => {
    [point.lon, point.lat] = nextPoint();
    const res = await report({
      ...formPoint([point.lon, point.lat]),
      description,
      media_url: 'https://img.example.org/light.jpg',
      email: 'zhang@example.org',
      first_name: '三',
      last_name: '张',
      phone: '13800138000',
      device_id: 'dev-1',
      account_id: '42',
      address_string: '幸福路 3 号',
      'attribute[WHISPAWN]': '1',
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual([
      { service_request_id: expect.stringMatching(/^\d+$/), service_notice: '一般事项，7 天内办结', account_id: null },
    ]);
    id = res.body[0].service_request_id;

    const stored = await one<Record<string, unknown>>(sql`
      select ST_X(geom) as lon, ST_Y(geom) as lat, category, status, wall, grid_id, community_id, reported_by, title, description, media_url,
             row_to_json(i)::text as everything
      from issues i where id = ${Number(id)}`);
    expect(stored).toMatchObject({
      category: 'street_light',
      status: 'reported',
      wall: 'grid',
      grid_id: g1,
      community_id: c1,
      reported_by: residentId,
      title: '3号楼东侧路灯不亮，晚上很黑。 请尽快修理 <灯> & "谢谢"',
      description,
      media_url: 'https://img.example.org/light.jpg',
    });
    expect(stored.lon).toBeCloseTo(point.lon, 9);
    expect(stored.lat).toBeCloseTo(point.lat, 9);
    // the reporter's personal data is not kept
    for (const personal of ['zhang@example.org', '13800138000', 'dev-1', '幸福路']) expect(stored.everything).not.toContain(personal);
    // the timeline starts with the report, by the resident
    expect(await one(sql`select action, to_status, username from issue_steps where issue_id = ${Number(id)} order by id limit 1`)).toEqual({
      action: 'report',
      to_status: 'reported',
      username: 'resident',
    });
  });

  it('reads back with every field GeoReport v2 lists, exactly, to its reporter', async () => {
    const res = await request(as.anonymous).get(`/open311/v2/requests/${id}.json?api_key=${residentKey}`).expect(200);
    expect(res.body).toHaveLength(1);
    const [body] = res.body;
    expect(Object.keys(body)).toEqual(GEOREPORT_REQUEST_FIELDS);
    const times = await one<{ reported: string; updated: string; due: string }>(sql`
      select to_json(reported_at) #>> '{}' as reported, to_json(updated_at) #>> '{}' as updated, to_json(due_at) #>> '{}' as due
      from issues where id = ${Number(id)}`);
    expect(body).toEqual({
      service_request_id: id,
      status: 'open',
      status_notes: null,
      service_name: '路灯照明',
      service_code: 'street_light',
      description,
      agency_responsible: `网格 ${gridName}`,
      service_notice: '一般事项，7 天内办结',
      requested_datetime: expect.stringMatching(W3C),
      updated_datetime: expect.stringMatching(W3C),
      expected_datetime: expect.stringMatching(W3C),
      address: expect.stringContaining(`${gridName}, ${communityName}, `),
      address_id: null,
      zipcode: null,
      lat: point.lat,
      long: point.lon,
      media_url: 'https://img.example.org/light.jpg',
    });
    // the same instants as stored, to the second; due 168 hours (a general category) after the report
    const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);
    expect(seconds(body.requested_datetime)).toBe(seconds(times.reported));
    expect(seconds(body.updated_datetime)).toBe(seconds(times.updated));
    expect(seconds(body.expected_datetime)).toBe(seconds(times.due));
    expect(seconds(body.expected_datetime) - seconds(body.requested_datetime)).toBeGreaterThanOrEqual(168 * 3600 - 1);
    // a bearer token reads the same
    expect(await read(id, as.gridworker)).toEqual(body);
  });

  it('hides the description, the media and the exact point from anyone who may not read the issue', async () => {
    for (const app of [as.anonymous, as.volunteer]) {
      const body = await read(id, app);
      expect(Object.keys(body)).toEqual(GEOREPORT_REQUEST_FIELDS);
      expect(body).toMatchObject({ description: null, media_url: null, status: 'open', agency_responsible: `网格 ${gridName}` });
      expect(body.lat).toBe(Math.round(point.lat * 1000) / 1000);
      expect(body.long).toBe(Math.round(point.lon * 1000) / 1000);
    }
    // and in the list: no description at all, no point finer than 3 decimals
    const list = await request(as.anonymous).get('/open311/v2/requests.json').expect(200);
    expect(list.body.length).toBeGreaterThan(10);
    expect(list.body.filter((r: { description: unknown; media_url: unknown }) => r.description !== null || r.media_url !== null)).toEqual(
      [],
    );
    expect(
      list.body.filter(
        (r: { lat: number; long: number }) =>
          Math.abs(r.lat * 1000 - Math.round(r.lat * 1000)) > 1e-6 || Math.abs(r.long * 1000 - Math.round(r.long * 1000)) > 1e-6,
      ),
    ).toEqual([]);
    // a credential that is no session is refused, not read as anonymous
    expectErrors(await request(as.anonymous).get(`/open311/v2/requests/${id}.json?api_key=not-a-session-token`), 403, 'api_key');
    expectErrors(
      await request(as.anonymous)
        .get(`/open311/v2/requests/${id}.json`)
        .set('Authorization', `Bearer ${'x'.repeat(43)}`),
      403,
      'Authorization',
    );
  });

  it('goes from open to closed through the lifecycle, with the note of each step and then the public answer', async () => {
    const notes: [Record<string, unknown>, string, string | null][] = [
      [{ action: 'accept', note: '已受理，明天维修' }, 'open', '已受理，明天维修'],
      [{ action: 'start' }, 'open', null],
      [{ action: 'resolve', note: '已更换灯泡' }, 'closed', '已更换灯泡'],
      [{ action: 'answer', answer: '路灯已修复，感谢反映。' }, 'closed', '路灯已修复，感谢反映。'],
    ];
    let updated = (await read(id)).updated_datetime as string;
    for (const [body, status, note] of notes) {
      await step(id, body);
      // the reporter reads the staff's notes; the public, only the answer
      const now = await read(id, as.resident);
      expect([body.action, now.status, now.status_notes]).toEqual([body.action, status, note]);
      expect((await read(id)).status_notes).toBe(body.action === 'answer' ? note : null);
      expect((now.updated_datetime as string) >= updated).toBe(true);
      updated = now.updated_datetime as string;
    }
    // rated unsatisfied: taken up again, open, without the resident's comment
    await request(as.anonymous)
      .post(`/api/v1/issues/${id}/transitions`)
      .set('Authorization', `Bearer ${residentKey}`)
      .send({ action: 'rate', rating: 1, comment: '灯还是不亮，张三家门口' })
      .expect(200);
    expect(await read(id)).toMatchObject({ status: 'open', status_notes: '评价不满意，重新办理' });
  });

  it("escalated, is the community's with the reason; rejected, closed with it; a duplicate, closed naming its original", async () => {
    const escalated = (await report(formPoint(nextPoint())).expect(200)).body[0].service_request_id;
    await step(escalated, { action: 'escalate', note: '需要社区协调物业' });
    expect(await read(escalated, as.gridworker)).toMatchObject({
      status: 'open',
      status_notes: '需要社区协调物业',
      agency_responsible: `社区 ${communityName}`,
    });
    expect(await read(escalated)).toMatchObject({ status: 'open', status_notes: null });

    const at = formPoint(nextPoint());
    const rejected = (await report(at).expect(200)).body[0].service_request_id;
    await step(rejected, { action: 'reject', note: '不属于社区职责' });
    expect(await read(rejected, as.gridworker)).toMatchObject({ status: 'closed', status_notes: '不属于社区职责' });

    const again = (await report(at).expect(200)).body[0].service_request_id;
    await step(again, { action: 'reject', note: '重复反映', duplicate_of: Number(escalated) });
    const duplicate = await read(again);
    expect(duplicate.status).toBe('closed');
    expect(duplicate.status_notes).toContain(escalated);
  });

  it('is the same in XML, its text escaped, and is reported in XML too', async () => {
    const json = await request(as.anonymous)
      .get(`/open311/v2/requests/${id}.json`)
      .set('Authorization', `Bearer ${residentKey}`)
      .expect(200);
    const xml = await request(as.anonymous)
      .get(`/open311/v2/requests/${id}.xml`)
      .set('Authorization', `Bearer ${residentKey}`)
      .expect(200)
      .expect('Content-Type', /^text\/xml; charset=utf-8/);
    expect(xml.text).toContain('<service_requests><request><service_request_id>');
    expect(xml.text).toContain('&lt;灯&gt; &amp; &quot;谢谢&quot;');
    expect(parseXml(xml.text)).toEqual(asXmlText(json.body));

    const created = await report({ ...formPoint(nextPoint()), description: 'XML 客户端' }, 'xml')
      .expect(200)
      .expect('Content-Type', /^text\/xml/);
    const [answer] = parseXml(created.text) as Record<string, string>[];
    expect(answer).toEqual({ service_request_id: expect.stringMatching(/^\d+$/), service_notice: '一般事项，7 天内办结', account_id: '' });
    expect(await one(sql`select description from issues where id = ${Number(answer.service_request_id)}`)).toEqual({
      description: 'XML 客户端',
    });
  });

  it('takes JSON from clients that send it, and a bearer token instead of api_key', async () => {
    const [lon, lat] = nextPoint();
    const res = await request(as.anonymous)
      .post('/open311/v2/requests.json')
      .set('Authorization', `Bearer ${residentKey}`)
      .send({ service_code: 'noise', lat, long: lon, description: '夜间施工噪音' })
      .expect(200);
    expect(await one(sql`select category, reported_by from issues where id = ${Number(res.body[0].service_request_id)}`)).toEqual({
      category: 'noise',
      reported_by: residentId,
    });
  });
});

describe('application keys', () => {
  it('are issued by an admin, shown once, stored hashed, in the audit log, and listed with their last use', async () => {
    const before = await written();
    const made = await request(as.admin)
      .post('/api/v1/open311/keys')
      .send({ name: '12345 市民热线', services: ['street_light', 'noise'] })
      .expect(201);
    expect(made.body).toMatchObject({
      name: '12345 市民热线',
      services: ['street_light', 'noise'],
      created_by: 'admin',
      last_used_at: null,
      revoked_at: null,
    });
    expect(made.body.api_key).toMatch(/^[\w-]{43}$/);
    const { id, api_key: key } = made.body as { id: number; api_key: string };
    expect(await one(sql`select count(*)::int as n from open311_keys where token_hash = sha256(convert_to(${key}, 'utf8'))`)).toEqual({
      n: 1,
    });
    const listed = await request(as.admin).get('/api/v1/open311/keys').expect(200);
    expect(JSON.stringify(listed.body)).not.toContain(key);
    expect(
      await one(
        sql`select action, username, after->>'name' as name from audit_log where resource = 'open311_keys' and row_id = ${id} and id > ${before.audit}`,
      ),
    ).toEqual({ action: 'create', username: 'admin', name: '12345 市民热线' });

    // a post for one of its services: an issue no user reported, the application named in the audit log
    const [lon, lat] = nextPoint();
    const res = await request(as.anonymous)
      .post('/open311/v2/requests.json')
      .type('form')
      .send({ api_key: key, service_code: 'street_light', lat: String(lat), long: String(lon), description: '路灯不亮' })
      .expect(200);
    const issue = Number(res.body[0].service_request_id);
    expect(await one(sql`select category, reported_by, grid_id from issues where id = ${issue}`)).toEqual({
      category: 'street_light',
      reported_by: null,
      grid_id: g1,
    });
    expect(await one(sql`select username from audit_log where resource = 'issues' and row_id = ${issue} and action = 'create'`)).toEqual({
      username: `open311 app ${id} (12345 市民热线)`,
    });
    const [entry] = (await request(as.admin).get('/api/v1/open311/keys').expect(200)).body.keys.filter((k: { id: number }) => k.id === id);
    expect(Date.now() - Date.parse(entry.last_used_at)).toBeLessThan(60_000);
    // reading with it is reading as anyone: public fields, no description
    expect((await read(String(issue))).description).toBeNull();
    expect(
      (await request(as.anonymous).get(`/open311/v2/requests/${issue}.json?api_key=${key}`).expect(200)).body[0].description,
    ).toBeNull();
  });

  it("post only their services, and nothing once revoked (403 in GeoReport's format, nothing written); session tokens work as before", async () => {
    const {
      body: { id, api_key: key },
    } = await request(as.admin)
      .post('/api/v1/open311/keys')
      .send({ name: '街道小程序', services: ['parking'] })
      .expect(201);
    const post = (form: Form, format = 'json') =>
      request(as.anonymous)
        .post(`/open311/v2/requests.${format}`)
        .type('form')
        .send({ api_key: key, ...formPoint(nextPoint()), ...form });
    let before = await written();
    expectErrors(await post({ service_code: 'noise' }), 403, 'service_code');
    const xml = await post({ service_code: 'noise' }, 'xml');
    expect([xml.status, parseXml(xml.text)]).toEqual([403, [{ code: '403', description: expect.stringContaining('parking') }]]);
    expect(await written()).toEqual(before);
    await post({ service_code: 'parking' }).expect(200);

    const revoke = await request(as.admin).delete(`/api/v1/open311/keys/${id}`).expect(204);
    expect(revoke.body).toEqual({});
    expect(
      await one(
        sql`select action, username, after->>'revoked_at' is not null as revoked from audit_log where resource = 'open311_keys' and row_id = ${id} order by id desc limit 1`,
      ),
    ).toEqual({ action: 'update', username: 'admin', revoked: true });
    before = await written();
    const refused = await post({ service_code: 'parking' });
    expectErrors(refused, 403, 'api_key');
    expect(refused.body[0].description).toMatch(/revoked/);
    expect(await written()).toEqual(before);
    expect(
      (await request(as.admin).get('/api/v1/open311/keys').expect(200)).body.keys.find((k: { id: number }) => k.id === id).revoked_at,
    ).not.toBeNull();
    await request(as.admin).delete(`/api/v1/open311/keys/${id}`).expect(404);
    // the resident's session token still reports, as before
    await report(formPoint(nextPoint())).expect(200);
  });

  it('are for admins only, and a bad request is named and writes nothing', async () => {
    await request(as.anonymous).get('/api/v1/open311/keys').expect(401);
    await request(as.gridworker).get('/api/v1/open311/keys').expect(403);
    await request(as.gridworker)
      .post('/api/v1/open311/keys')
      .send({ name: 'x', services: ['noise'] })
      .expect(403);
    const count = () => one<{ n: number }>(sql`select count(*)::int as n from open311_keys`);
    const keys = await count();
    const cases: [unknown, string][] = [
      [{ services: ['noise'] }, 'name'],
      [{ name: '  ', services: ['noise'] }, 'name'],
      [{ name: 'app' }, 'services'],
      [{ name: 'app', services: [] }, 'services'],
      [{ name: 'app', services: ['noise', 'no_such_service'] }, 'services'],
      [{ name: 'app', services: ['noise'], role: 'admin' }, 'role'],
    ];
    for (const [body, field] of cases) {
      const res = await request(as.admin)
        .post('/api/v1/open311/keys')
        .send(body as object);
      expect([res.status, res.type, res.body.field], JSON.stringify(body)).toEqual([400, 'application/problem+json', field]);
    }
    expect((await request(as.admin).delete('/api/v1/open311/keys/abc')).body.field).toBe('id');
    expect(await count()).toEqual(keys);
  });
});

describe('filters', () => {
  const window = { start_date: '2026-08-10T00:00:00Z', end_date: '2026-11-01T00:00:00+08:00' };
  const isOpen = sql`status in ('reported', 'accepted', 'in_progress', 'escalated', 'reopened') and duplicate_of is null`;
  const count = async (condition = sql`true`, from = sql`${window.start_date}::timestamptz`, to = sql`${window.end_date}::timestamptz`) =>
    (await one<{ n: number }>(sql`select count(*)::int as n from issues where reported_at between ${from} and ${to} and ${condition}`)).n;
  const list = async (query: Record<string, string>) => {
    const res = await request(as.anonymous).get('/open311/v2/requests.json').query(query);
    expect(res.status, res.text).toBe(200);
    return res.body as { service_request_id: string; status: string; service_code: string; requested_datetime: string }[];
  };

  it('by status, service_code and report dates, as SQL counts them, newest first', async () => {
    const all = await list(window);
    expect(all.length).toBe(await count());
    expect(all.length).toBeGreaterThan(50);
    expect(all.map((r) => r.requested_datetime)).toEqual(
      all
        .map((r) => r.requested_datetime)
        .sort()
        .reverse(),
    );
    expect(all.every((r) => r.requested_datetime >= '2026-08-10T00:00:00Z' && r.requested_datetime <= '2026-10-31T16:00:00Z')).toBe(true);

    const open = await list({ ...window, status: 'open' });
    expect(open.length).toBe(await count(isOpen));
    expect(open.every((r) => r.status === 'open')).toBe(true);
    const closed = await list({ ...window, status: 'closed' });
    expect(closed.length).toBe(await count(sql`not (${isOpen})`));
    expect(open.length).toBeGreaterThan(0);
    expect(closed.length).toBeGreaterThan(0);
    expect((await list({ ...window, status: 'open,closed' })).length).toBe(all.length);
    // an empty parameter is as if not sent
    expect((await list({ ...window, status: '', service_code: '' })).length).toBe(all.length);

    const noiseOrParking = await list({ ...window, service_code: 'noise,parking' });
    expect(noiseOrParking.length).toBe(await count(sql`category in ('noise', 'parking')`));
    expect(new Set(noiseOrParking.map((r) => r.service_code))).toEqual(new Set(['noise', 'parking']));
    expect((await list({ ...window, service_code: 'noise', status: 'closed' })).length).toBe(
      await count(sql`category = 'noise' and not (${isOpen})`),
    );
    expect(await list({ ...window, service_code: 'potholes' })).toEqual([]);
    expect((await list({ ...window, jurisdiction_id: 'gridmap' })).length).toBe(all.length);
    expectErrors(
      await request(as.anonymous)
        .get('/open311/v2/requests.json')
        .query({ ...window, jurisdiction_id: 'elsewhere.gov' }),
      404,
      'jurisdiction_id',
    );

    // one bound: 90 days from it; none: the last 90 days
    const fromStart = await list({ start_date: '2026-08-01' });
    expect(fromStart.length).toBe(
      await count(sql`true`, sql`'2026-08-01T00:00:00Z'::timestamptz`, sql`'2026-08-01T00:00:00Z'::timestamptz + interval '90 days'`),
    );
    const toEnd = await list({ end_date: '2026-10-01T00:00:00Z' });
    expect(toEnd.length).toBe(
      await count(sql`true`, sql`'2026-10-01T00:00:00Z'::timestamptz - interval '90 days'`, sql`'2026-10-01T00:00:00Z'::timestamptz`),
    );
    const recent = await list({});
    expect(recent.length).toBe(await count(sql`true`, sql`now() - interval '90 days'`, sql`now()`));
  });

  it('by service_request_id, which overrides the others', async () => {
    const { rows } = await sql<{
      id: number;
      status: string;
    }>`select id, status from issues where status = 'reported' order by id limit 2`.execute(db());
    const found = await list({
      service_request_id: rows.map((r) => r.id).join(','),
      status: 'closed',
      start_date: '2000-01-01',
      end_date: '2000-01-02',
    });
    expect(found.map((r) => [r.service_request_id, r.status]).sort()).toEqual(rows.map((r) => [String(r.id), 'open']).sort());
  });

  it('returns at most 1000 requests, the newest', async () => {
    await sql`insert into issues (title, category, geom, reported_at)
      select '测试', 'other', ST_SetSRID(ST_MakePoint(${g1Points[0][0]}, ${g1Points[0][1]}), 4326), '2025-01-01T00:00:00Z'::timestamptz + make_interval(secs => n)
      from generate_series(1, 1005) n`.execute(db());
    const page = await list({ start_date: '2025-01-01T00:00:00Z', end_date: '2025-01-02T00:00:00Z' });
    expect(page).toHaveLength(1000);
    expect([page[0].requested_datetime, page[999].requested_datetime]).toEqual(['2025-01-01T00:16:45Z', '2025-01-01T00:00:06Z']);
  });
});

describe('bad input', () => {
  it('is refused with GeoReport errors naming the parameter, and writes nothing', async () => {
    const before = await written();
    const at = formPoint(nextPoint());
    const cases: [Form | (() => request.Test), number, string][] = [
      [
        () =>
          request(as.anonymous)
            .post('/open311/v2/requests.json')
            .type('form')
            .send({ service_code: 'noise', ...at }),
        403,
        'api_key',
      ],
      [
        () =>
          request(as.anonymous)
            .post('/open311/v2/requests.json')
            .type('form')
            .send({ api_key: 'expired-or-invented', service_code: 'noise', ...at }),
        403,
        'api_key',
      ],
      // a role that may not report issues
      [
        () =>
          request(as.volunteer)
            .post('/open311/v2/requests.json')
            .type('form')
            .send({ service_code: 'noise', ...at }),
        403,
        'api_key',
      ],
      [{ ...at, service_code: '' }, 400, 'service_code'],
      [{ ...at, service_code: 'potholes' }, 404, 'service_code'],
      [{ ...at, lat: '200' }, 400, 'lat'],
      [{ ...at, long: 'east' }, 400, 'long'],
      [{ address_string: '幸福路 3 号' }, 400, 'lat'],
      [{ ...at, description: '长'.repeat(5001) }, 400, 'description'],
      [{ ...at, description: 'a\u0000b' }, 400, 'description'],
      [{ ...at, media_url: 'javascript:alert(1)' }, 400, 'media_url'],
      [{ ...at, media_url: 'ftp://example.org/a.jpg' }, 400, 'media_url'],
      [{ ...at, jurisdiction_id: 'elsewhere.gov' }, 404, 'jurisdiction_id'],
      // outside the resident's community
      [formPoint(far), 403, 'lat'],
      [{ ...at, description: 'x'.repeat(70_000) }, 400, 'body'],
      [
        () =>
          request(as.anonymous).post('/open311/v2/requests.json').set('Content-Type', 'application/json').send('{"service_code": "noise",'),
        400,
        'body',
      ],
      [
        () => request(as.anonymous).post('/open311/v2/requests.json').field('api_key', residentKey).field('service_code', 'noise'),
        400,
        'body',
      ],
    ];
    for (const [input, status, field] of cases) {
      const res = await (typeof input === 'function' ? input() : report(input));
      const label = (typeof input === 'function' ? String(input) : JSON.stringify(input)).slice(0, 120);
      expect([label, res.status]).toEqual([label, status]);
      expectErrors(res, status, field);
    }
    expect(await written()).toEqual(before);
  });

  it('in a query is refused the same way', async () => {
    const cases: [string, number, string][] = [
      ['/open311/v2/requests.json?start_date=2026-02-30T00:00:00Z', 400, 'start_date'],
      ['/open311/v2/requests.json?start_date=2026-10-01T00:00:00', 400, 'start_date'],
      ['/open311/v2/requests.json?end_date=yesterday', 400, 'end_date'],
      ['/open311/v2/requests.json?start_date=2026-10-01&end_date=2026-09-01', 400, 'end_date'],
      ['/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-10-01T00:00:00Z', 400, 'end_date'],
      ['/open311/v2/requests.json?status=pending', 400, 'status'],
      ['/open311/v2/requests.json?service_request_id=1,two', 400, 'service_request_id'],
      ['/open311/v2/requests/two.json', 400, 'service_request_id'],
      ['/open311/v2/requests/99999999.json', 404, 'service_request_id'],
      ['/open311/v2/requests.csv', 404, 'format'],
    ];
    for (const [url, status, field] of cases) expectErrors(await request(as.anonymous).get(url), status, field);
    const xml = await request(as.anonymous)
      .get('/open311/v2/requests.xml?status=pending')
      .expect(400)
      .expect('Content-Type', /^text\/xml/);
    expect(xml.text).toMatch(
      /^<\?xml version="1.0" encoding="utf-8"\?>\n<errors><error><code>400<\/code><description>status must be open or closed/,
    );
  });
});
