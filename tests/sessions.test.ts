import type { Express } from 'express';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../server/db/database.ts';
import { sessionFor, testApp } from './support/app.ts';
import { openTestDatabase, serverUrl, type TestDatabase } from './support/databases.ts';

/**
 * Sessions held in memory (server/features/accounts/sessions.ts): a sign-out answers for the caller's next
 * request at once; a session revoked, a user disabled or re-scoped by anyone else (another process, SQL)
 * takes effect within a second, told by the database (NOTIFY); on the server database, across two processes'
 * own connections.
 */

let test: TestDatabase;
let app: Express;

beforeAll(async () => {
  test = await openTestDatabase();
  app = await testApp(test.database, { as: null });
});
afterAll(async () => {
  await test.drop();
});

const me = (on: Express, token: string) => request(on).get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`);

/** Polls until `check` holds, for at most a second; how long it took. */
async function within(check: () => Promise<boolean>, ms = 1000) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

describe('a session held in memory', () => {
  it('is answered from memory: a change the database does not tell of goes unseen', async () => {
    const token = await sessionFor(test.database, 'dispatcher');
    // the first request starts listening (its own connection on the server database); once it listens, one is held
    expect((await me(app, token)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await me(app, token)).status).toBe(200);
    await sql`alter table sessions disable trigger sessions_changed`.execute(test.database.db);
    try {
      await sql`update sessions set revoked_at = now() where user_id = (select id from users where username = 'dispatcher')`.execute(
        test.database.db,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await me(app, token)).status).toBe(200);
    } finally {
      await sql`alter table sessions enable trigger sessions_changed`.execute(test.database.db);
    }
    await sql`update sessions set revoked_at = now() where revoked_at is null and user_id = (select id from users where username = 'dispatcher')`.execute(
      test.database.db,
    );
    await within(async () => (await me(app, token)).status === 401);
  });

  it('is gone for the caller’s next request once it signs out', async () => {
    const token = await sessionFor(test.database, 'leader');
    for (let i = 0; i < 3; i++) expect((await me(app, token)).status).toBe(200);
    expect((await request(app).post('/api/v1/auth/logout').set('Authorization', `Bearer ${token}`)).status).toBeLessThan(300);
    expect((await me(app, token)).status).toBe(401);
  });

  it('is forgotten within a second when revoked, disabled or re-scoped behind the process’s back', async () => {
    const token = await sessionFor(test.database, 'leader');
    expect((await me(app, token)).body).toMatchObject({ role: 'leader' });
    await sql`update sessions set revoked_at = now() where user_id = (select id from users where username = 'leader') and revoked_at is null`.execute(
      test.database.db,
    );
    await within(async () => (await me(app, token)).status === 401);

    const other = await sessionFor(test.database, 'secretary');
    expect((await me(app, other)).status).toBe(200);
    await sql`update users set role = 'planner' where username = 'secretary'`.execute(test.database.db);
    await within(async () => (await me(app, other)).body.role === 'planner');
    await sql`update users set disabled = true where username = 'secretary'`.execute(test.database.db);
    await within(async () => (await me(app, other)).status === 401);
  });
});

describe.runIf(serverUrl)('two server processes on one database', () => {
  let second: Database;
  let other: Express;
  beforeAll(async () => {
    second = await openDatabase({ url: test.url! });
    other = await testApp(second, { as: null });
  });
  afterAll(async () => {
    await second?.close();
  });

  it('forget a session the other signed out within a second', async () => {
    const token = await sessionFor(test.database, 'planner');
    for (const on of [app, other, app, other]) expect((await me(on, token)).status).toBe(200);
    expect((await request(app).post('/api/v1/auth/logout').set('Authorization', `Bearer ${token}`)).status).toBeLessThan(300);
    expect((await me(app, token)).status).toBe(401);
    await within(async () => (await me(other, token)).status === 401);
  });

  it('ask the database again while their listening connection is gone, and listen again after', async () => {
    const token = await sessionFor(test.database, 'gridworker');
    expect((await me(other, token)).status).toBe(200);
    // the listening connections of this database end (a restart, a network cut)
    await sql`select pg_terminate_backend(pid) from pg_stat_activity
              where datname = current_database() and pid <> pg_backend_pid() and query like 'listen%'`.execute(test.database.db);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // told nothing, and not listening: the revocation is seen at once
    await sql`alter table sessions disable trigger sessions_changed`.execute(test.database.db);
    try {
      await sql`update sessions set revoked_at = now() where revoked_at is null and user_id = (select id from users where username = 'gridworker')`.execute(
        test.database.db,
      );
      expect((await me(other, token)).status).toBe(401);
    } finally {
      await sql`alter table sessions enable trigger sessions_changed`.execute(test.database.db);
    }
    // and it listens again: a sign-out elsewhere is heard
    const next = await sessionFor(test.database, 'gridworker');
    expect((await me(other, next)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await me(other, next)).status).toBe(200);
    expect((await request(app).post('/api/v1/auth/logout').set('Authorization', `Bearer ${next}`)).status).toBeLessThan(300);
    await within(async () => (await me(other, next)).status === 401);
  });
});
