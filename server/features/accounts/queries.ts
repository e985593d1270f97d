import { createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { scopeJson, type Role, type Scope, type Viewer } from '../../access/viewer.ts';

/** A user row as read for a session or the admin API: the scope resolved, a grid's community beside it. */
interface UserRow {
  id: number;
  username: string;
  display_name: string | null;
  role: Role;
  scope_district_code: string | null;
  scope_street_code: string | null;
  scope_community_id: number | null;
  scope_grid_id: number | null;
  scope_grid_community_id: number | null;
  member_id: number | null;
  disabled: boolean;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const userColumns = sql`u.id, u.username, u.display_name, u.role, u.scope_district_code, u.scope_street_code,
  u.scope_community_id, u.scope_grid_id, g.community_id as scope_grid_community_id, u.member_id, u.disabled,
  u.version, u.created_at, u.updated_at`;

function scopeOf(row: UserRow): Scope | null {
  if (row.scope_district_code) return { kind: 'district', code: row.scope_district_code };
  if (row.scope_street_code) return { kind: 'street', code: row.scope_street_code };
  if (row.scope_community_id) return { kind: 'community', id: row.scope_community_id };
  if (row.scope_grid_id) return { kind: 'grid', id: row.scope_grid_id, communityId: row.scope_grid_community_id! };
  return null;
}

export const viewerOf = (row: UserRow): Viewer =>
  ({ id: row.id, username: row.username, role: row.role, scope: scopeOf(row), memberId: row.member_id });

/** A user as the API shows it: never the password hash. */
export const userJson = (row: UserRow) => ({
  id: row.id, username: row.username, display_name: row.display_name, role: row.role, scope: scopeJson(scopeOf(row)),
  member_id: row.member_id, disabled: row.disabled, version: row.version, created_at: row.created_at, updated_at: row.updated_at,
});
export type UserJson = ReturnType<typeof userJson>;

export async function findUsers(db: Kysely<DB>, { id, username, role, after = 0, limit = 1000 }: { id?: number; username?: string; role?: string; after?: number; limit?: number } = {}) {
  const { rows } = await sql<UserRow>`
    select ${userColumns} from users u left join grids g on g.id = u.scope_grid_id
    where u.id > ${after} ${id === undefined ? sql`` : sql`and u.id = ${id}`}
      ${username === undefined ? sql`` : sql`and u.username = ${username}`}
      ${role === undefined ? sql`` : sql`and u.role = ${role}`}
    order by u.id limit ${limit}`.execute(db);
  return rows;
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
export async function openSession(db: Kysely<DB>, userId: number, { hours, address, readOnly = false, label }: {
  hours: number; address?: string; readOnly?: boolean; label?: string;
}) {
  const token = randomBytes(32).toString('base64url');
  const { id, expires_at } = await db.insertInto('sessions')
    .values({
      token_hash: tokenHash(token), user_id: userId, expires_at: sql<Date>`now() + make_interval(hours => ${hours})`,
      address: address ?? null, read_only: readOnly, label: label ?? null,
    })
    .returning(['id', 'expires_at']).executeTakeFirstOrThrow();
  return { id: Number(id), token, expires_at };
}

/** The user a token opens a session for: undefined when unknown, expired, revoked, or the user is disabled. */
export async function sessionViewer(db: Kysely<DB>, token: string): Promise<Viewer | undefined> {
  const { rows } = await sql<UserRow & { read_only: boolean }>`
    select ${userColumns}, s.read_only
    from sessions s join users u on u.id = s.user_id left join grids g on g.id = u.scope_grid_id
    where s.token_hash = ${tokenHash(token)} and s.revoked_at is null and s.expires_at > now() and not u.disabled`.execute(db);
  return rows[0] && { ...viewerOf(rows[0]), ...(rows[0].read_only ? { readOnly: true } : {}) };
}

export async function revokeSession(db: Kysely<DB>, token: string) {
  await db.updateTable('sessions').set({ revoked_at: sql`now()` }).where('token_hash', '=', tokenHash(token)).where('revoked_at', 'is', null).execute();
}

export async function revokeSessionsOf(db: Kysely<DB>, userId: number) {
  await db.updateTable('sessions').set({ revoked_at: sql`now()` }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
}

// Failed logins, for the rate limit.

/**
 * Counts a sign-in attempt before its password is checked (it becomes a success by being cleared), and
 * answers the attempts per account and per address in the window: parallel guesses cannot all slip in
 * while the hashes run.
 */
export async function countAttempt(db: Kysely<DB>, username: string, address: string, minutes: number) {
  // attempts on one account take turns, so each counts those before it
  return db.transaction().execute(async (trx) => {
  await sql`select pg_advisory_xact_lock(hashtext(${`login:${username}`}))`.execute(trx);
  const { rows } = await sql<{ account: number; address: number; retry_after: number }>`
    with old as (delete from login_failures where at < now() - make_interval(mins => ${minutes})),
         attempt as (insert into login_failures (username, address) values (${username}, ${address}))
    select count(*) filter (where username = ${username})::int + 1 as account,
           count(*) filter (where address = ${address})::int + 1 as address,
           coalesce(ceil(extract(epoch from min(at) + make_interval(mins => ${minutes}) - now())), ${minutes * 60})::int as retry_after
    from login_failures
    where (username = ${username} or address = ${address}) and at > now() - make_interval(mins => ${minutes})`.execute(trx);
  return rows[0];
  });
}

export async function clearFailures(db: Kysely<DB>, username: string) {
  await db.deleteFrom('login_failures').where('username', '=', username).execute();
}
