import { setTimeout as delay } from 'node:timers/promises';
import express, { Router } from 'express';
import { z } from 'zod';
import type { Config } from '../../config.ts';
import type { Database } from '../../db/database.ts';
import { parseBody } from '../../domain/body.ts';
import { parseId, parseIfMatch, parseLimit, parseQueryValue } from '../../domain/params.ts';
import { DomainError } from '../../domain/errors.ts';
import { accessOf } from '../../access/policy.ts';
import { MAP_RESOURCES } from '../../access/rules.ts';
import { actorOf, bearerToken, ROLES } from '../../access/viewer.ts';
import { verifyPassword } from './passwords.ts';
import {
  clearFailures, countAttempt, findUsers, openSession, passwordHashOf, revokeSession, userJson,
} from './queries.ts';
import { changeUser, createUser, newUserSchema, userChangeSchema } from './service.ts';

/**
 * Sign-in throttling that slows guessing but lets no one lock a user out (the policy in the README, "Sign-in
 * throttling"); failures are counted over a sliding window of `minutes`.
 */
export const LOGIN_LIMITS = {
  /** failures on one account from one address before that address is refused that account */
  pair: 5,
  /** failures on unknown accounts from one address before that address is refused unknown accounts */
  unknownPerAddress: 20,
  minutes: 15,
  /** failures on one account from every address before each attempt on it waits, doubling from 100 ms up to maxDelayMs */
  accountFree: 10,
  maxDelayMs: 3000,
};

/** The wait before checking a password for an account that failed `failures` times in the window, from anywhere. */
export const accountDelayMs = (failures: number) =>
  failures <= LOGIN_LIMITS.accountFree ? 0 : Math.min(LOGIN_LIMITS.maxDelayMs, 100 * 2 ** (failures - LOGIN_LIMITS.accountFree - 1));

const loginSchema = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(200),
}).strict();

/** The signed-in user, with what its role may do to each map layer (so a client shows only what will work). */
const signedIn = (row: Parameters<typeof userJson>[0]) => ({
  ...userJson(row),
  permissions: Object.fromEntries(MAP_RESOURCES.map((resource) => {
    const { read, write } = accessOf(resource, row.role);
    return [resource, [...(read ? ['read'] : []), ...(write?.actions ?? [])]];
  })),
});

/** Sign-in, sign-out and the signed-in user; admins manage users. Login bodies are tiny: 4 kB at most. */
/** The demo city's accounts, which the login screen offers (the demo data is the program's to give, not this feature's). */
export interface DemoAccounts { password: string; accounts: readonly { username: string }[] }

export function accountRoutes(database: Database, config: Config, demo: DemoAccounts) {
  const { db } = database;
  const smallJson = express.json({ limit: '4kb', type: ['application/json', 'application/*+json'] });

  return Router()
    .post('/api/v1/auth/login', smallJson, async (req, res) => {
      const { username: given, password } = parseBody(loginSchema, req.body);
      const username = given.trim().toLowerCase();
      const address = req.ip ?? 'unknown';
      const { refused, account } = await countAttempt(db, username, address, LOGIN_LIMITS);
      if (refused) {
        res.set('Retry-After', String(Math.max(1, refused.retryAfter)));
        const which = refused.field === 'username' ? 'for this account from this address' : 'from this address';
        throw new DomainError('account.too_many_failed_logins', `too many failed logins ${which}: try again in ${Math.ceil(refused.retryAfter / 60)} minutes`, { field: refused.field }, { minutes: Math.ceil(refused.retryAfter / 60) });
      }
      await delay(accountDelayMs(account));
      const user = await passwordHashOf(db, username);
      // the hash is checked even for an unknown user, so the answer takes as long either way
      const matches = await verifyPassword(password, user?.password_hash);
      if (!user || !matches || user.disabled) {
        req.log.info({ username, address }, 'login failed');
        throw new DomainError('account.invalid_credentials', 'the username or password is wrong, or the account is disabled', { field: 'password' });
      }
      await clearFailures(db, username, address);
      const session = await openSession(db, user.id, { hours: config.SESSION_HOURS, address });
      const [row] = await findUsers(db, { id: user.id });
      req.log.info({ username }, 'login');
      res.set('Cache-Control', 'no-store').json({ token: session.token, token_type: 'Bearer', expires_at: session.expires_at, user: signedIn(row) });
    })
    .post('/api/v1/auth/logout', async (req, res) => {
      await revokeSession(db, bearerToken(req)!);
      res.status(204).end();
    })
    .get('/api/v1/auth/me', async (req, res) => {
      const [row] = await findUsers(db, { id: req.viewer!.id });
      res.set('Cache-Control', 'no-store').json(signedIn(row));
    })
    // The demo accounts, for the login screen: only while the demo city is on, and only those still there.
    .get('/api/v1/auth/demo-accounts', async (_req, res) => {
      if (config.GRIDMAP_DEMO === 'off') return res.json({ password: null, accounts: [] });
      const present = new Set((await findUsers(db)).filter((u) => !u.disabled).map((u) => u.username));
      const accounts = demo.accounts.filter((a) => present.has(a.username));
      res.json({ password: accounts.length ? demo.password : null, accounts });
    })

    .get('/api/v1/users', async (req, res) => {
      const role = parseQueryValue(req.query.role, 'role', 'text') as string | undefined;
      if (role !== undefined && !ROLES.includes(role as never)) throw new DomainError('request.invalid_parameter', `role must be one of ${ROLES.join(', ')}`, { field: 'role' });
      const limit = parseLimit(req.query.limit, { fallback: 1000, max: 1000 });
      const after = req.query.after === undefined ? 0 : parseId(req.query.after, 'after');
      res.json({ users: (await findUsers(db, { role, after, limit })).map(userJson) });
    })
    .get('/api/v1/users/:id', async (req, res) => {
      const id = parseId(req.params.id);
      const [row] = await findUsers(db, { id });
      if (!row) throw new DomainError('account.not_found', `No user ${id}`, { field: 'id' });
      res.set('ETag', `"${row.version}"`).json(userJson(row));
    })
    .post('/api/v1/users', express.json({ limit: '16kb' }), async (req, res) => {
      const user = await createUser(db, parseBody(newUserSchema, req.body), actorOf(req));
      res.status(201).location(`/api/v1/users/${user.id}`).set('ETag', `"${user.version}"`).json(user);
    })
    .patch('/api/v1/users/:id', express.json({ limit: '16kb' }), async (req, res) => {
      const id = parseId(req.params.id);
      const version = parseIfMatch(req.get('If-Match'));
      const user = await changeUser(db, id, parseBody(userChangeSchema, req.body), actorOf(req), version);
      res.set('ETag', `"${user.version}"`).json(user);
    });
}
