import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DEMO_PASSWORD } from '../data/demo-accounts.ts';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { ROLES } from '../server/access/viewer.ts';
import { LOGIN_LIMITS } from '../server/features/accounts/routes.ts';
import { sessionFor, testApp } from './support/app.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';

describe('accounts, sessions and the audit log', () => {
  let test: TestDatabase;
  let app: Awaited<ReturnType<typeof testApp>>;
  let admin: string;
  let community: number;
  let grid: number;
  /** each test signs in from its own address, so the per-address limit of one never blocks another */
  let address = 0;
  const from = () => `203.0.113.${++address}`;

  const one = async <T>(query: ReturnType<typeof sql<T>>) => (await query.execute(test.database.db)).rows[0];
  const count = async (table: string) => (await one(sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`)).n;
  const login = (username: string, password: string, ip = from()) =>
    request(app).post('/api/v1/auth/login').set('X-Forwarded-For', ip).send({ username, password });
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });

  beforeAll(async () => {
    test = await openTestDatabase();
    // behind a proxy on loopback, the client's address comes from X-Forwarded-For
    app = await testApp(test.database, { as: null, env: { TRUST_PROXY: 'loopback' } });
    admin = await sessionFor(test.database, 'admin');
    ({ id: grid, community_id: community } = await one(
      sql<{ id: number; community_id: number }>`select id, community_id from grids order by id limit 1`,
    ));
  });
  afterAll(() => test?.drop());

  describe('signing in and out', () => {
    it('signs in with a username and password, answers who is signed in, and signs out', async () => {
      const { body } = await login('planner', DEMO_PASSWORD).expect(200);
      expect(body).toMatchObject({ token_type: 'Bearer', user: { username: 'planner', role: 'planner', scope: { community } } });
      expect(body.user).not.toHaveProperty('password_hash');
      expect(new Date(body.expires_at).getTime() - Date.now()).toBeGreaterThan(11.9 * 3600_000);
      await request(app).get('/api/v1/auth/me').set(as(body.token)).expect(200, body.user);
      expect(body.user.permissions).toMatchObject({ grids: ['read', 'create', 'update', 'delete'], members: ['read'], issues: ['read'] });
      await request(app).post('/api/v1/auth/logout').set(as(body.token)).expect(204);
      await request(app).get('/api/v1/auth/me').set(as(body.token)).expect(401);
    });

    it('stores only a hash of each token and a scrypt hash of each password', async () => {
      const { body } = await login('leader', DEMO_PASSWORD).expect(200);
      const stored = await one(
        sql<{ hex: string }>`select encode(token_hash, 'hex') as hex from sessions order by created_at desc limit 1`,
      );
      expect(stored.hex).toHaveLength(64);
      expect(stored.hex).not.toContain(Buffer.from(body.token).toString('hex'));
      const hash = (await one(sql<{ password_hash: string }>`select password_hash from users where username = 'leader'`)).password_hash;
      expect(hash).toMatch(/^scrypt\$131072\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    });

    it('refuses a wrong password and an unknown user alike, naming no more than that', async () => {
      const wrong = await login('planner', 'not-the-password').expect(401);
      const unknown = await login('nobody-here', 'not-the-password').expect(401);
      expect(wrong.body.detail).toBe(unknown.body.detail);
      expect(wrong.headers['content-type']).toMatch(/^application\/problem\+json/);
    });

    it('keeps tokens out of the request log', async () => {
      const lines: string[] = [];
      const logged = createApp({
        database: test.database,
        config: loadConfig({}),
        logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }),
      });
      await request(logged).get('/api/v1/auth/me').set(as(admin)).expect(200);
      expect(lines.join('')).toMatch(/request completed/);
      expect(lines.join('')).not.toContain(admin);
    });

    it('refuses an expired session', async () => {
      const { body } = await login('dispatcher', DEMO_PASSWORD).expect(200);
      await sql`update sessions set expires_at = now() - interval '1 second'
                where user_id = (select id from users where username = 'dispatcher')`.execute(test.database.db);
      await request(app).get('/api/v1/auth/me').set(as(body.token)).expect(401);
    });

    it.each([
      ['2', 120],
      ['1.5', 90],
    ])('keeps sessions for SESSION_HOURS=%s: %i minutes', async (hours, minutes) => {
      const short = await testApp(test.database, { as: null, env: { SESSION_HOURS: hours } });
      const { body } = await request(short).post('/api/v1/auth/login').send({ username: 'resident', password: DEMO_PASSWORD }).expect(200);
      expect(Math.round((new Date(body.expires_at).getTime() - Date.now()) / 60_000)).toBe(minutes);
    });

    it('tells the login screen the demo accounts, and nothing with the demo off', async () => {
      const { body } = await request(app).get('/api/v1/auth/demo-accounts').expect(200);
      expect(body.password).toBe(DEMO_PASSWORD);
      // every role, and a second leader: the community secretary who works the community wall
      expect(body.accounts.map((a: { role: string }) => a.role).sort()).toEqual([...ROLES, 'leader'].sort());
      const off = await testApp(test.database, { as: null, env: { GRIDMAP_DEMO: 'off' } });
      await request(off).get('/api/v1/auth/demo-accounts').expect(200, { password: null, accounts: [] });
    });
  });

  describe('sign-in throttling', () => {
    const windowSeconds = LOGIN_LIMITS.minutes * 60;
    /** as if the window had passed for what `address` tried */
    const windowPasses = (address: string) =>
      sql`update login_failures set at = at - make_interval(mins => ${LOGIN_LIMITS.minutes + 1}) where address = ${address}`.execute(
        test.database.db,
      );

    it('refuses a brute force from one address, on that account only, until the window passes', async () => {
      const ip = from();
      for (let i = 0; i < LOGIN_LIMITS.pair; i++) await login('volunteer', `wrong-${i}`, ip).expect(401);
      const limited = await login('volunteer', DEMO_PASSWORD, ip).expect(429);
      expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(limited.body).toMatchObject({ status: 429, field: 'username' });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(windowSeconds - 30);
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(windowSeconds);
      await login('gridworker', DEMO_PASSWORD, ip).expect(200);
      await windowPasses(ip);
      await login('volunteer', DEMO_PASSWORD, ip).expect(200);
    });

    it('refuses parallel guesses from one address too: each attempt is counted before its password is hashed', async () => {
      const ip = from();
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => login('resident', `guess-${i}`, ip)));
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 401)).toHaveLength(LOGIN_LIMITS.pair);
      expect(statuses.filter((s) => s === 429)).toHaveLength(12 - LOGIN_LIMITS.pair);
    }, 30_000);

    it('lets no one lock an account out from another address', async () => {
      const attacker = from();
      for (let i = 0; i < LOGIN_LIMITS.pair; i++) await login('gridworker', `wrong-${i}`, attacker).expect(401);
      await login('gridworker', DEMO_PASSWORD, attacker).expect(429);
      await login('gridworker', DEMO_PASSWORD).expect(200);
    });

    it('lets no one keep admin out with six requests a window, the attack that worked before', async () => {
      const attacker = from();
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await login('admin', `wrong-${i}`, attacker)).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
      await login('admin', DEMO_PASSWORD).expect(200);
    });

    it('limits unknown names per address, never the accounts that exist there', async () => {
      const ip = from();
      // failures on accounts that exist, as many as the address limit: they count per account only
      await sql`insert into login_failures (username, address)
                select username, ${ip} from unnest(array['dispatcher', 'secretary', 'leader', 'resident']) username, generate_series(1, 5)`.execute(
        test.database.db,
      );
      for (let i = 0; i < LOGIN_LIMITS.unknownPerAddress; i++) await login(`guess-${i}`, 'password123', ip).expect(401);
      const limited = await login('guess-more', 'password123', ip).expect(429);
      expect(limited.body).toMatchObject({ status: 429, field: 'address' });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(windowSeconds - 90);
      await login('planner', 'not-the-password', ip).expect(401);
      await login('planner', DEMO_PASSWORD, ip).expect(200);
      // twenty scrypt hashes: 9 s alone, three times that on a machine busy with other work
    }, 90_000);

    it('slows an account tried from many addresses, by a bounded wait, and still signs it in', async () => {
      await sql`insert into login_failures (username, address)
                select 'leader', '198.51.100.' || i from generate_series(1, 1000) i`.execute(test.database.db);
      const started = Date.now();
      await login('leader', DEMO_PASSWORD).expect(200);
      // a timer may fire a millisecond early
      expect(Date.now() - started).toBeGreaterThanOrEqual(LOGIN_LIMITS.maxDelayMs - 5);
    }, 30_000);
  });

  describe('managing users', () => {
    const newUser = (username: string, extra: Record<string, unknown> = {}) => ({
      username,
      password: 'correct-horse-battery',
      role: 'planner',
      scope: { community },
      ...extra,
    });
    /** the scope, given as `{ community: 'first' }`, is the first community once the database is open */
    const later =
      (username: string, extra: Record<string, unknown> = {}) =>
      () =>
        newUser(username, extra);

    it('creates a user with a role and scope who then signs in and works in that scope only', async () => {
      const { body } = await request(app)
        .post('/api/v1/users')
        .set(as(admin))
        .send(newUser('zhang.wei', { display_name: '张伟' }))
        .expect(201);
      expect(body).toMatchObject({ username: 'zhang.wei', role: 'planner', scope: { community }, disabled: false });
      const { body: session } = await login('zhang.wei', 'correct-horse-battery').expect(200);
      const grids = await request(app).get('/api/v1/grids?limit=1000').set(as(session.token)).expect(200);
      expect(new Set(grids.body.features.map((g: { properties: { community_id: number } }) => g.properties.community_id))).toEqual(
        new Set([community]),
      );
      const listed = await request(app).get('/api/v1/users?role=planner').set(as(admin)).expect(200);
      expect(listed.body.users.map((u: { username: string }) => u.username)).toEqual(['planner', 'zhang.wei']);
    });

    it.each([
      [later('planner'), 409, 'username'],
      [later('x y'), 400, 'username'],
      [later('li.na', { password: 'short' }), 400, 'password'],
      [later('li.na', { scope: { community: 999999 } }), 422, 'scope.community'],
      [later('li.na', { scope: { street: '999999999' } }), 422, 'scope.street'],
      [later('li.na', { scope: { community: 1, grid: 1 } }), 400, 'scope'],
      [later('li.na', { scope: undefined }), 400, 'scope'],
      [later('li.na', { role: 'admin' }), 400, 'scope'],
      [later('li.na', { role: 'grid_worker' }), 422, 'scope'],
      [later('li.na', { role: 'volunteer' }), 400, 'member_id'],
      [later('li.na', { role: 'mayor' }), 400, 'role'],
      [later('li.na', { is_admin: true }), 400, 'is_admin'],
    ])('refuses a user (%#) with %i naming %s, and writes nothing', async (body, status, field) => {
      const before = await count('users');
      const response = await request(app).post('/api/v1/users').set(as(admin)).send(body()).expect(status);
      expect(response.body.field).toBe(field);
      expect(await count('users')).toBe(before);
    });

    it("changes a role with If-Match, refuses a stale version, and ends the user's sessions", async () => {
      const { body: created } = await request(app).post('/api/v1/users').set(as(admin)).send(newUser('wang.fang')).expect(201);
      const { body: session } = await login('wang.fang', 'correct-horse-battery').expect(200);
      const changed = await request(app)
        .patch(`/api/v1/users/${created.id}`)
        .set(as(admin))
        .set('If-Match', `"${created.version}"`)
        .send({ role: 'leader' })
        .expect(200);
      expect(changed.body).toMatchObject({ role: 'leader', scope: { community } });
      await request(app)
        .patch(`/api/v1/users/${created.id}`)
        .set(as(admin))
        .set('If-Match', `"${created.version}"`)
        .send({ role: 'planner' })
        .expect(412);
      await request(app).get('/api/v1/auth/me').set(as(session.token)).expect(401);
      const again = await login('wang.fang', 'correct-horse-battery').expect(200);
      expect(again.body.user.role).toBe('leader');
    });

    it('disables a user: sessions end and sign-in is refused; the last admin cannot be disabled', async () => {
      const { body: created } = await request(app).post('/api/v1/users').set(as(admin)).send(newUser('zhao.lei')).expect(201);
      const { body: session } = await login('zhao.lei', 'correct-horse-battery').expect(200);
      await request(app).patch(`/api/v1/users/${created.id}`).set(as(admin)).send({ disabled: true }).expect(200);
      await request(app).get('/api/v1/auth/me').set(as(session.token)).expect(401);
      await login('zhao.lei', 'correct-horse-battery').expect(401);
      const adminId = (await one(sql<{ id: number }>`select id from users where username = 'admin'`)).id;
      const last = await request(app).patch(`/api/v1/users/${adminId}`).set(as(admin)).send({ disabled: true }).expect(409);
      expect(last.body.field).toBe('disabled');
      await request(app).get('/api/v1/auth/me').set(as(admin)).expect(200);
    });
  });

  it('manages users from the command line: add with a password on stdin, disable, list', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gridmap-user-'));
    const env = { PATH: process.env.PATH, ...(mode === 'server' ? { DATABASE_URL: test.url! } : { DATA_DIR: join(dir, 'data') }) };
    const run = (args: string[], input = '') =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'server/user.ts', ...args], { env });
        let out = '';
        child.stdout.on('data', (c) => (out += c));
        child.stderr.on('data', (c) => (out += c));
        child.on('exit', (code) => resolve({ code, out }));
        child.stdin.end(input);
      });
    try {
      expect(await run(['add', 'ops.admin', '--role', 'admin'], 'a-long-ops-password\n')).toMatchObject({
        code: 0,
        out: expect.stringMatching(/added ops\.admin \(admin, id \d+\)\n$/),
      });
      expect(await run(['add', 'xy', '--role', 'mayor'])).toMatchObject({ code: 1, out: expect.stringMatching(/^role: /) });
      expect((await run(['add', 'ops.second', '--role', 'admin'])).out).toMatch(
        /^added ops\.second \(admin, id \d+\); password: [\w-]{16}\n$/,
      );
      expect(await run(['disable', 'ops.second'])).toMatchObject({ code: 0, out: 'ops.second: disabled, sessions ended\n' });
      const { code, out } = await run(['list']);
      expect(code).toBe(0);
      expect(out).toMatch(/^\d+\tops\.admin\tadmin\teverything\tactive$/m);
      expect(out).toMatch(/^\d+\tops\.second\tadmin\teverything\tdisabled$/m);
      expect((await run(['frobnicate'])).code).toBe(2);
      if (mode === 'server') {
        const audit = await request(app).get('/api/v1/audit?resource=users&limit=1').set(as(admin)).expect(200);
        expect(audit.body.entries[0]).toMatchObject({
          action: 'update',
          username: expect.stringMatching(/^command line \(/),
          after: { disabled: true },
        });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  describe('the audit log', () => {
    it('records a create, a geometry change and a delete: who, when, before and after', async () => {
      const worker = await sessionFor(test.database, 'gridworker');
      const { x, y } = await one(
        sql<{
          x: number;
          y: number;
        }>`select ST_X(p) as x, ST_Y(p) as y from (select ST_PointOnSurface(geom) p from grids where id = ${grid}) s`,
      );
      const square = (dx: number) => ({
        type: 'Polygon',
        coordinates: [
          [
            [x + dx, y],
            [x + dx + 0.0001, y],
            [x + dx + 0.0001, y + 0.0001],
            [x + dx, y + 0.0001],
            [x + dx, y],
          ],
        ],
      });
      const startedAt = new Date(Date.now() - 1000).toISOString();
      const created = await request(app)
        .post('/api/v1/buildings')
        .set(as(worker))
        .send({ type: 'Feature', geometry: square(0), properties: { name: '审计楼', kind: 'residential', households: 12 } })
        .expect(201);
      const id = created.body.id;
      const moved = await request(app)
        .patch(`/api/v1/buildings/${id}`)
        .set(as(worker))
        .send({ geometry: square(0.00002) })
        .expect(200);
      await request(app).delete(`/api/v1/buildings/${id}`).set(as(worker)).expect(204);

      const { body } = await request(app).get(`/api/v1/audit?resource=buildings&row=${id}`).set(as(admin)).expect(200);
      expect(body.entries.map((e: { action: string }) => e.action)).toEqual(['delete', 'update', 'create']);
      const [deleted, updated, inserted] = body.entries;
      for (const entry of body.entries) expect(entry).toMatchObject({ username: 'gridworker', resource: 'buildings', row_id: id });
      expect(inserted.request_id).toBe(created.headers['x-request-id']);
      expect(updated.request_id).toBe(moved.headers['x-request-id']);
      expect(inserted.before).toBeNull();
      expect(inserted.after).toMatchObject({ name: '审计楼', households: 12, grid_id: grid, geom: { type: 'Polygon' } });
      expect(updated.before.geom.coordinates[0][0][0]).toBeCloseTo(x, 7);
      expect(updated.after.geom.coordinates[0][0][0]).toBeCloseTo(x + 0.00002, 7);
      expect(deleted.before).toMatchObject({ name: '审计楼', version: 2 });
      expect(deleted.after).toBeNull();

      const byUser = await request(app).get(`/api/v1/audit?user=gridworker&from=${startedAt}`).set(as(admin)).expect(200);
      expect(byUser.body.entries.filter((e: { resource: string }) => e.resource === 'buildings')).toHaveLength(3);
      const before = await request(app).get(`/api/v1/audit?user=gridworker&to=${startedAt}`).set(as(admin)).expect(200);
      expect(before.body.entries).toEqual([]);
    });

    it('keeps every column of every audited table (a migration adding one must call audit_install)', async () => {
      for (const table of ['communities', 'grids', 'buildings', 'members', 'units', 'issues', 'users']) {
        const columns = (
          await sql<{ column_name: string }>`select column_name from information_schema.columns
          where table_schema = 'public' and table_name = ${table} and column_name <> 'password_hash'`.execute(test.database.db)
        ).rows.map((r) => r.column_name);
        const { keys } = await one(sql<{
          keys: string[];
        }>`select array(select jsonb_object_keys(${sql.raw(`audit_json_${table}(t)`)})) as keys
          from ${sql.table(table)} t limit 1`);
        expect(keys.sort()).toEqual(columns.sort());
      }
    });

    it('records user changes without the password hash, and pages back with before', async () => {
      await request(app)
        .post('/api/v1/users')
        .set(as(admin))
        .send({ username: 'sun.li', password: 'correct-horse-battery', role: 'resident', scope: { community } })
        .expect(201);
      const { body } = await request(app).get('/api/v1/audit?resource=users&limit=1').set(as(admin)).expect(200);
      expect(body.entries[0]).toMatchObject({ action: 'create', username: 'admin', after: { username: 'sun.li', role: 'resident' } });
      expect(body.entries[0].after).not.toHaveProperty('password_hash');
      expect(body.links[0].rel).toBe('next');
      const next = new URL(body.links[0].href);
      const older = await request(app).get(`${next.pathname}${next.search}`).set(as(admin)).expect(200);
      expect(older.body.entries[0].id).toBeLessThan(body.entries[0].id);
    });

    it.each([
      ['resource=passwords', 'resource'],
      ['from=yesterday', 'from'],
      ['row=5', 'row'],
      ['colour=red', 'colour'],
    ])('refuses ?%s naming %s', async (query, field) => {
      const { body } = await request(app).get(`/api/v1/audit?${query}`).set(as(admin)).expect(400);
      expect(body.field).toBe(field);
    });
  });

  describe('fuzzing the auth paths', () => {
    it('answers any malformed token with 401, never 500', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.string(), fc.stringMatching(/^Bearer [A-Za-z0-9_-]{0,120}$/), fc.stringMatching(/^[Bb]earer\s.{0,40}$/)),
          async (header) => {
            // what an HTTP client can send: visible ASCII, spaces and tabs
            const response = await request(app)
              .get('/api/v1/members')
              .set('Authorization', header.replace(/[^\x20-\x7e\t]/g, ''));
            expect(response.status).toBe(401);
          },
        ),
        { numRuns: 150 },
      );
    });

    it('answers any login body with a 4xx problem, never 500, and opens no session', async () => {
      const sessions = await count('sessions');
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.jsonValue(),
            fc.record(
              { username: fc.oneof(fc.string(), fc.jsonValue()), password: fc.oneof(fc.string(), fc.jsonValue()) },
              { requiredKeys: [] },
            ),
          ),
          async (body) => {
            const response = await request(app)
              .post('/api/v1/auth/login')
              .set('X-Forwarded-For', '198.51.100.7')
              .set('Content-Type', 'application/json')
              .send(JSON.stringify(body));
            expect([400, 401, 429]).toContain(response.status);
            expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
          },
        ),
        { numRuns: 120 },
      );
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 200 }), async (text) => {
          const response = await request(app).post('/api/v1/auth/login').set('Content-Type', 'application/json').send(text);
          expect(response.status).toBeGreaterThanOrEqual(400);
          expect(response.status).toBeLessThan(500);
        }),
        { numRuns: 80 },
      );
      expect(await count('sessions')).toBe(sessions);
    }, 60_000);

    it('answers any user body with a 4xx problem or a user, never 500, and writes only what it answers', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record(
            {
              username: fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{1,8}$/), fc.string()),
              password: fc.oneof(fc.string({ minLength: 10, maxLength: 20 }), fc.string()),
              role: fc.oneof(fc.constantFrom(...ROLES), fc.string()),
              scope: fc.oneof(
                fc.constant({ community }),
                fc.record({ grid: fc.integer() }),
                fc.record({ street: fc.string() }),
                fc.jsonValue(),
              ),
              member_id: fc.oneof(fc.integer(), fc.jsonValue()),
            },
            { requiredKeys: [] },
          ),
          async (body) => {
            const before = await count('users');
            const response = await request(app).post('/api/v1/users').set(as(admin)).send(body);
            expect(response.status).toBeLessThan(500);
            expect(await count('users')).toBe(before + (response.status === 201 ? 1 : 0));
          },
        ),
        { numRuns: 120 },
      );
    }, 60_000);
  });
});
