import { setTimeout as delay } from 'node:timers/promises';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { Config } from '../../config.ts';
import type { Database } from '../../db/database.ts';
import { parseBody } from '../../domain/body.ts';
import { idParameter, limitParameter, parameter, parseId, ifMatchHeader, parseQueryValue } from '../../domain/params.ts';
import { DomainError } from '../../domain/errors.ts';
import { accessOf } from '../../access/policy.ts';
import { MAP_RESOURCES } from '../../access/rules.ts';
import { actorOf, bearerToken, ROLES, type Role } from '../../access/viewer.ts';
import { route } from '../../http/route.ts';
import {
  accessKeysAnswer,
  demoAccountsAnswer,
  newAccessKeyAnswer,
  sessionAnswer,
  signedInAnswer,
  userAnswer,
  usersAnswer,
} from './answers.ts';
import { keyBody, liveKeys, MAX_KEYS, openKey, revokeKey } from './keys.ts';
import { verifyPassword } from './passwords.ts';
import { clearFailures, countAttempt, findUsers, openSession, passwordHashOf, revokeSession, userJson } from './queries.ts';
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

const loginSchema = z
  .object({
    username: z.string().min(1).max(64),
    password: z.string().min(1).max(200),
  })
  .strict();

/** The signed-in user, with what its role may do to each map layer (so a client shows only what will work). */
const signedIn = (row: Parameters<typeof userJson>[0]) => ({
  ...userJson(row),
  permissions: Object.fromEntries(
    MAP_RESOURCES.map((resource) => {
      const { read, write } = accessOf(resource, row.role);
      return [resource, [...(read ? ['read' as const] : []), ...(write?.actions ?? [])]];
    }),
  ),
});

/** The demo city's accounts, which the login screen offers (the demo data is the program's to give, not this feature's). */
export interface DemoAccounts {
  password: string;
  accounts: readonly { username: string; role: string }[];
}

const tags = ['accounts'];
const role = parameter(
  (value) => {
    const given = parseQueryValue(value, 'role', 'text') as string | undefined;
    if (given !== undefined && !ROLES.includes(given as never))
      throw new DomainError('request.invalid_parameter', `role must be one of ${ROLES.join(', ')}`, { field: 'role' });
    return given as Role | undefined;
  },
  { schema: { type: 'string', enum: [...ROLES] } },
);
const after = parameter((value) => (value === undefined ? 0 : parseId(value, 'after')), { schema: { type: 'integer' } });

/** Sign-in, sign-out and the signed-in user, access keys; admins manage users. `demo`: the demo city's accounts, when there is one. */
export function accountRoutes(database: Database, config: Config, demo?: DemoAccounts) {
  const { db } = database;
  // Login bodies are tiny: 4 kB at most, read by the route itself before the throttle
  const smallJson = express.json({ limit: '4kb', type: ['application/json', 'application/*+json'] });
  const readSmallJson = (req: Request, res: Response) =>
    new Promise<void>((resolve, reject) => smallJson(req, res, (error) => (error ? reject(error) : resolve())));

  return [
    route({
      method: 'POST',
      path: '/api/v1/auth/login',
      tags,
      summary: 'Sign in: a bearer token for the other calls',
      description: `Failed logins are limited per account and per address (429 with Retry-After).`,
      allow: { public: 'signing in' },
      body: {
        raw: {
          'application/json': {
            type: 'object',
            required: ['username', 'password'],
            properties: { username: { type: 'string' }, password: { type: 'string', format: 'password' } },
          },
        },
      },
      answer: {
        schema: sessionAnswer,
        description: '`{token, token_type: "Bearer", expires_at, user}`; user has `permissions`: what its role may do to each layer',
      },
      problems: { 400: 'a malformed body', 401: 'wrong username or password, or a disabled account', 429: 'too many failed logins' },
      handle: async ({ req, res }) => {
        await readSmallJson(req, res);
        const { username: given, password } = parseBody(loginSchema, req.body);
        const username = given.trim().toLowerCase();
        const address = req.ip ?? 'unknown';
        const { refused, account } = await countAttempt(db, username, address, LOGIN_LIMITS);
        if (refused) {
          res.set('Retry-After', String(Math.max(1, refused.retryAfter)));
          const which = refused.field === 'username' ? 'for this account from this address' : 'from this address';
          throw new DomainError(
            'account.too_many_failed_logins',
            `too many failed logins ${which}: try again in ${Math.ceil(refused.retryAfter / 60)} minutes`,
            { field: refused.field },
            { minutes: Math.ceil(refused.retryAfter / 60) },
          );
        }
        await delay(accountDelayMs(account));
        const user = await passwordHashOf(db, username);
        // the hash is checked even for an unknown user, so the answer takes as long either way
        const matches = await verifyPassword(password, user?.password_hash);
        if (!user || !matches || user.disabled) {
          req.log.info({ username, address }, 'login failed');
          throw new DomainError('account.invalid_credentials', 'the username or password is wrong, or the account is disabled', {
            field: 'password',
          });
        }
        await clearFailures(db, username, address);
        const session = await openSession(db, user.id, { hours: config.SESSION_HOURS, address });
        const [row] = await findUsers(db, { id: user.id });
        req.log.info({ username }, 'login');
        res.set('Cache-Control', 'no-store');
        return { token: session.token, token_type: 'Bearer' as const, expires_at: session.expires_at, user: signedIn(row) };
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/auth/logout',
      tags,
      summary: 'Sign out: the token stops working',
      allow: { roles: 'any' },
      answer: { status: 204, description: 'signed out' },
      handle: async ({ req, res }) => {
        await revokeSession(db, bearerToken(req)!);
        res.status(204).end();
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/auth/me',
      tags,
      summary: 'The signed-in user, with its permissions',
      allow: { roles: 'any' },
      answer: { schema: signedInAnswer, description: 'the user' },
      handle: async ({ res, viewer }) => {
        const [row] = await findUsers(db, { id: viewer.id });
        res.set('Cache-Control', 'no-store');
        return signedIn(row);
      },
    }),
    // The demo accounts, for the login screen: only while the demo city is on, and only those still there.
    route({
      method: 'GET',
      path: '/api/v1/auth/demo-accounts',
      tags,
      summary: 'The demo accounts for the login screen (none unless GRIDMAP_DEMO is on)',
      allow: { public: 'the login screen of a demo (empty unless GRIDMAP_DEMO is on)' },
      answer: { schema: demoAccountsAnswer, description: '`{password, accounts}`' },
      handle: async () => {
        if (config.GRIDMAP_DEMO === 'off' || !demo) return { password: null, accounts: [] };
        const present = new Set((await findUsers(db)).filter((u) => !u.disabled).map((u) => u.username));
        const accounts = demo.accounts.filter((a) => present.has(a.username));
        return { password: accounts.length ? demo.password : null, accounts };
      },
    }),
    // read-only access keys for GIS clients: each user its own
    route({
      method: 'GET',
      path: '/api/v1/auth/keys',
      tags,
      summary: "The caller's live read-only access keys (labels and dates, never the keys)",
      allow: { roles: 'any' },
      answer: { schema: accessKeysAnswer, description: '`{keys: [{id, label, created_at, expires_at}]}`' },
      handle: async ({ res, viewer }) => {
        res.set('Cache-Control', 'no-store');
        return { keys: await liveKeys(db, viewer.id) };
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/auth/keys',
      tags,
      summary: 'A read-only access key for a GIS client: reads as the caller, refused anything but GET; shown once',
      allow: { roles: 'any' },
      body: keyBody.meta({ id: 'AccessKey' }),
      bodyLimit: '4kb',
      answer: { status: 201, schema: newAccessKeyAnswer, description: '`{id, label, expires_at, token, header}`' },
      problems: { 400: 'a wrong field', 409: `more than ${MAX_KEYS} live keys` },
      handle: async ({ req, res, viewer, body }) => {
        const key = await openKey(db, viewer.id, body, req.ip);
        req.log.info({ key: key.id, label: body.label }, 'access key opened');
        res.set('Cache-Control', 'no-store');
        return {
          id: key.id,
          label: body.label,
          expires_at: key.expires_at,
          token: key.token,
          header: `Authorization: Bearer ${key.token}`,
        };
      },
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/auth/keys/:id',
      tags,
      summary: "Revoke one of the caller's access keys",
      allow: { roles: 'any' },
      params: { id: idParameter() },
      answer: { status: 204, description: 'revoked' },
      problems: { 404: "no such live key of the caller's" },
      handle: async ({ res, viewer, params }) => {
        await revokeKey(db, viewer.id, params.id);
        res.status(204).end();
      },
    }),

    route({
      method: 'GET',
      path: '/api/v1/users',
      tags,
      summary: 'Users, with roles and scopes',
      allow: { roles: ['admin'] },
      query: { role, limit: limitParameter({ fallback: 1000, max: 1000 }), after },
      answer: { schema: usersAnswer, description: '`{users}`' },
      handle: async ({ query }) => ({ users: (await findUsers(db, query)).map(userJson) }),
    }),
    route({
      method: 'GET',
      path: '/api/v1/users/:id',
      tags,
      summary: 'One user; its version is the ETag',
      allow: { roles: ['admin'] },
      params: { id: idParameter() },
      answer: { schema: userAnswer, description: 'the user' },
      problems: { 404: 'no such user' },
      handle: async ({ res, params: { id } }) => {
        const [row] = await findUsers(db, { id });
        if (!row) throw new DomainError('account.not_found', `No user ${id}`, { field: 'id' }, { id });
        res.set('ETag', `"${row.version}"`);
        return userJson(row);
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/users',
      tags,
      summary: 'Create a user',
      allow: { roles: ['admin'] },
      description:
        'Every role but admin has one scope: `{"district": "610602"}`, `{"street": "610602001"}`, `{"community": 12}` or `{"grid": 40}`; a grid worker a grid; a volunteer a `member_id`.',
      body: newUserSchema.meta({ id: 'NewUser' }),
      bodyLimit: '16kb',
      answer: { status: 201, schema: userAnswer, description: 'the user' },
      problems: { 400: 'a wrong field', 409: 'the username is taken', 422: 'a scope or member that does not exist' },
      handle: async ({ req, res, body }) => {
        const user = await createUser(db, body, actorOf(req));
        res.location(`/api/v1/users/${user.id}`).set('ETag', `"${user.version}"`);
        return user;
      },
    }),
    route({
      method: 'PATCH',
      path: '/api/v1/users/:id',
      tags,
      summary: 'Change a user: password, role, scope, name, member, or disable it',
      allow: { roles: ['admin'] },
      description: "A new password, role or scope, or disabling, ends the user's sessions.",
      params: { id: idParameter() },
      headers: { 'If-Match': ifMatchHeader() },
      body: userChangeSchema.meta({ id: 'UserChange' }),
      answer: { schema: userAnswer, description: 'the user' },
      problems: { 404: 'no such user', 409: 'this would leave no active admin', 412: 'changed since the If-Match version' },
      handle: async ({ req, res, params, body, headers }) => {
        const user = await changeUser(db, params.id, body, actorOf(req), headers['If-Match']);
        res.set('ETag', `"${user.version}"`);
        return user;
      },
    }),
  ];
}
