import express from 'express';
import { pino } from 'pino';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import type { Database } from '../../server/db/database.ts';
import { findUsers, openSession } from '../../server/features/accounts/queries.ts';

/** A real session (as login opens one) for a user of the test city, skipping the password hash. */
export async function sessionFor(database: Database, username: string): Promise<string> {
  const [user] = await findUsers(database.db, { username });
  if (!user) throw new Error(`no user ${username} in the test database`);
  return (await openSession(database.db, user.id, { hours: 1 })).token;
}

/**
 * The real express app over a test database, as the server builds it, without its logs. Requests are
 * signed in as `as` (a demo account; admin unless said) when they carry no Authorization of their own;
 * `as: null` sends them anonymous. Every answer is checked against its route's declared schema.
 */
export async function testApp(database: Database, { env = {}, as = 'admin' }: { env?: NodeJS.ProcessEnv; as?: string | null } = {}) {
  const app = createApp({
    database,
    config: loadConfig({ GRIDMAP_CHECK_ANSWERS: 'on', ...env }),
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  });
  if (as === null) return app;
  const token = await sessionFor(database, as);
  return express()
    .use((req, _res, next) => {
      req.headers.authorization ??= `Bearer ${token}`;
      next();
    })
    .use(app);
}
