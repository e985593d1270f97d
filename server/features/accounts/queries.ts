import { createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { scopeJson, type Scope, type Viewer } from '../../access/viewer.ts';

/** A user row as read for a session or the admin API: the scope resolved, a grid's community beside it. */
type UserRow = Omit<Selectable<DB['users']>, 'password_hash'> & { scope_grid_community_id: number | null };

/** A user's columns (never the password hash) and its grid's community, from `users as u` left joined to `grids as g`. */
const userColumns = [
  'u.id',
  'u.username',
  'u.display_name',
  'u.role',
  'u.scope_district_code',
  'u.scope_street_code',
  'u.scope_community_id',
  'u.scope_grid_id',
  'g.community_id as scope_grid_community_id',
  'u.member_id',
  'u.disabled',
  'u.version',
  'u.created_at',
  'u.updated_at',
] as const;

function scopeOf(row: UserRow): Scope | null {
  if (row.scope_district_code) return { kind: 'district', code: row.scope_district_code };
  if (row.scope_street_code) return { kind: 'street', code: row.scope_street_code };
  if (row.scope_community_id) return { kind: 'community', id: row.scope_community_id };
  if (row.scope_grid_id) return { kind: 'grid', id: row.scope_grid_id, communityId: row.scope_grid_community_id! };
  return null;
}

export const viewerOf = (row: UserRow): Viewer => ({
  id: row.id,
  username: row.username,
  role: row.role,
  scope: scopeOf(row),
  memberId: row.member_id,
});

/** A user as the API shows it: never the password hash. */
export const userJson = (row: UserRow) => ({
  id: row.id,
  username: row.username,
  display_name: row.display_name,
  role: row.role,
  scope: scopeJson(scopeOf(row)),
  member_id: row.member_id,
  disabled: row.disabled,
  version: row.version,
  created_at: row.created_at,
  updated_at: row.updated_at,
});
export type UserJson = ReturnType<typeof userJson>;

/** Which users findUsers reads: all of them by default, a page of at most `limit` after the id `after`. */
interface UserFilter {
  id?: number;
  username?: string;
  role?: UserRow['role'];
  after?: number;
  limit?: number;
}

export async function findUsers(db: Kysely<DB>, { id, username, role, after = 0, limit = 1000 }: UserFilter = {}): Promise<UserRow[]> {
  return db
    .selectFrom('users as u')
    .leftJoin('grids as g', 'g.id', 'u.scope_grid_id')
    .select(userColumns)
    .where('u.id', '>', after)
    .$if(id !== undefined, (q) => q.where('u.id', '=', id!))
    .$if(username !== undefined, (q) => q.where('u.username', '=', username!))
    .$if(role !== undefined, (q) => q.where('u.role', '=', role!))
    .orderBy('u.id')
    .limit(limit)
    .execute();
}

export async function passwordHashOf(db: Kysely<DB>, username: string) {
  const row = await db.selectFrom('users').select(['id', 'password_hash', 'disabled']).where('username', '=', username).executeTakeFirst();
  return row;
}

/** The columns a scope is stored in; exactly one is set (none for an admin). */
export function scopeColumns(scope: Scope | null) {
  return {
    scope_district_code: scope?.kind === 'district' ? scope.code : null,
    scope_street_code: scope?.kind === 'street' ? scope.code : null,
    scope_community_id: scope?.kind === 'community' ? scope.id : null,
    scope_grid_id: scope?.kind === 'grid' ? scope.id : null,
  };
}

// Sessions: the token is handed out once; only its SHA-256 is stored.

const tokenHash = (token: string) => createHash('sha256').update(token).digest();

/** A session for `userId`; with `readOnly`, an access key for a GIS client, named by its `label`. */
export async function openSession(
  db: Kysely<DB>,
  userId: number,
  {
    hours,
    address,
    readOnly = false,
    label,
  }: {
    hours: number;
    address?: string;
    readOnly?: boolean;
    label?: string;
  },
) {
  const token = randomBytes(32).toString('base64url');
  const { id, expires_at } = await db
    .insertInto('sessions')
    .values({
      token_hash: tokenHash(token),
      user_id: userId,
      expires_at: sql<Date>`now() + make_interval(secs => ${hours * 3600})`,
      address: address ?? null,
      read_only: readOnly,
      label: label ?? null,
    })
    .returning(['id', 'expires_at'])
    .executeTakeFirstOrThrow();
  return { id: Number(id), token, expires_at };
}

/** The user a token opens a session for: undefined when unknown, expired, revoked, or the user is disabled. */
export async function sessionViewer(db: Kysely<DB>, token: string, { keyOnly = false } = {}): Promise<Viewer | undefined> {
  return (await sessionOf(db, token, { keyOnly }))?.viewer;
}

/** The session a token opens, with when it expires (server/features/accounts/sessions.ts holds it until then). */
export async function sessionOf(db: Kysely<DB>, token: string, { keyOnly = false } = {}) {
  const row = await db
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .leftJoin('grids as g', 'g.id', 'u.scope_grid_id')
    .select([...userColumns, 's.read_only', 's.expires_at'])
    .where('s.token_hash', '=', tokenHash(token))
    .where('s.revoked_at', 'is', null)
    .where('s.expires_at', '>', sql<Date>`now()`)
    .where('u.disabled', '=', false)
    .$if(keyOnly, (q) => q.where('s.read_only', '=', true))
    .executeTakeFirst();
  if (!row) return undefined;
  const viewer: Viewer = { ...viewerOf(row), ...(row.read_only ? { readOnly: true } : {}) };
  return { viewer, expiresAt: new Date(row.expires_at as unknown as string | Date).getTime() };
}

export async function revokeSession(db: Kysely<DB>, token: string) {
  await db
    .updateTable('sessions')
    .set({ revoked_at: sql`now()` })
    .where('token_hash', '=', tokenHash(token))
    .where('revoked_at', 'is', null)
    .execute();
}

export async function revokeSessionsOf(db: Kysely<DB>, userId: number) {
  await db
    .updateTable('sessions')
    .set({ revoked_at: sql`now()` })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
}

// Failed sign-ins, for the throttle (the policy: LOGIN_LIMITS in routes.ts).

export interface LoginLimits {
  pair: number;
  unknownPerAddress: number;
  minutes: number;
}

/** Why an attempt is refused before its password is checked, and in how many seconds it may be tried again. */
export interface Refusal {
  field: 'username' | 'address';
  retryAfter: number;
}

/**
 * Counts a sign-in attempt as a failure before its password is checked (a success clears it), unless it is
 * refused: this address has used its failures on this account, or on unknown accounts and this one is
 * unknown. A refused attempt is not counted, so it does not push the window on. `account` is the failures on
 * the account from every address, which may slow an attempt down but never refuse it.
 */
export async function countAttempt(
  db: Kysely<DB>,
  username: string,
  address: string,
  limits: LoginLimits,
): Promise<{ refused?: Refusal; account: number }> {
  const window = sql`make_interval(mins => ${limits.minutes})`;
  await db
    .deleteFrom('login_failures')
    .where('at', '<', sql<Date>`now() - ${window}`)
    .execute();
  // attempts from one address take turns, so parallel guesses cannot all slip in while the hashes run
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${`login:${address}`}))`.execute(trx);
    const {
      rows: [counts],
    } = await sql<{ known: boolean; pair: number; pair_free_in: number; unknown: number; unknown_free_in: number; account: number }>`
      with f as (
        select f.at, f.address = ${address} as here, f.username = ${username} as mine,
               not exists (select from users u where u.username = f.username) as unknown
        from login_failures f where f.username = ${username} or f.address = ${address})
      select exists (select from users where username = ${username}) as known,
             count(*) filter (where here and mine)::int as pair,
             ceil(extract(epoch from min(at) filter (where here and mine) + ${window} - now()))::int as pair_free_in,
             count(*) filter (where here and unknown)::int as unknown,
             ceil(extract(epoch from min(at) filter (where here and unknown) + ${window} - now()))::int as unknown_free_in,
             count(*) filter (where mine)::int as account
      from f`.execute(trx);
    const refused: Refusal | undefined =
      counts.pair >= limits.pair
        ? { field: 'username', retryAfter: counts.pair_free_in }
        : !counts.known && counts.unknown >= limits.unknownPerAddress
          ? { field: 'address', retryAfter: counts.unknown_free_in }
          : undefined;
    if (!refused) await trx.insertInto('login_failures').values({ username, address }).execute();
    return { refused, account: counts.account };
  });
}

/** A success forgives this address's failures on the account; those from elsewhere still count. */
export async function clearFailures(db: Kysely<DB>, username: string, address: string) {
  await db.deleteFrom('login_failures').where('username', '=', username).where('address', '=', address).execute();
}
