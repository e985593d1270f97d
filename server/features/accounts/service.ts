import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import { actAs, type Actor } from '../../db/actor.ts';
import type { DB } from '../../db/schema.ts';
import { rowId } from '../../domain/fields.ts';
import { DomainError } from '../../domain/errors.ts';
import { ROLES, type Role, type Scope } from '../../access/viewer.ts';
import { hashPassword } from './passwords.ts';
import { findUsers, revokeSessionsOf, scopeColumns, userJson } from './queries.ts';

export const usernameSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_.-]{1,31}$/,
    'a username is 2 to 32 lower-case letters, digits, "_", "." or "-", starting with a letter or digit',
  );
// marked as OpenAPI marks a password: forms hide it, and it is hashed, never kept as text
export const passwordSchema = z
  .string()
  .min(10, 'a password has at least 10 characters')
  .max(200, 'a password has at most 200 characters')
  .meta({ format: 'password' });

/** {"community": 12}, {"grid": 40}, {"street": "610602001"} or {"district": "610602"}: exactly one. */
export const scopeSchema = z
  .object({
    district: z
      .string()
      .regex(/^\d{6}$/, 'a district code is 6 digits')
      .optional(),
    street: z
      .string()
      .regex(/^\d{9}$/, 'a street code is 9 digits')
      .optional(),
    community: rowId.optional(),
    grid: rowId.optional(),
  })
  .strict()
  .refine((s) => Object.keys(s).length === 1, { message: 'a scope names exactly one of district, street, community or grid' });
export type ScopeInput = z.infer<typeof scopeSchema>;

export const newUserSchema = z
  .object({
    username: usernameSchema,
    password: passwordSchema,
    role: z.enum(ROLES),
    scope: scopeSchema.nullable().optional(),
    display_name: z.string().min(1).max(100).nullable().optional(),
    member_id: rowId.nullable().optional(),
  })
  .strict();

export const userChangeSchema = newUserSchema
  .omit({ username: true })
  .partial()
  .extend({ disabled: z.boolean().optional() })
  .strict()
  .refine((c) => Object.keys(c).length > 0, { message: 'give at least one of password, role, scope, display_name, member_id, disabled' });

/** The scope as stored, checked against the map: a scope naming nothing that exists is refused. */
async function resolveScope(db: Kysely<DB>, input: ScopeInput): Promise<Scope> {
  const unknown = (kind: string, value: unknown) =>
    new DomainError('account.unknown_scope', `there is no ${kind} ${value}`, { field: `scope.${kind}` });
  if (input.district !== undefined) {
    if (!(await db.selectFrom('districts').select('code').where('code', '=', input.district).executeTakeFirst()))
      throw unknown('district', input.district);
    return { kind: 'district', code: input.district };
  }
  if (input.street !== undefined) {
    if (!(await db.selectFrom('streets').select('code').where('code', '=', input.street).executeTakeFirst()))
      throw unknown('street', input.street);
    return { kind: 'street', code: input.street };
  }
  if (input.community !== undefined) {
    if (!(await db.selectFrom('communities').select('id').where('id', '=', input.community).executeTakeFirst()))
      throw unknown('community', input.community);
    return { kind: 'community', id: input.community };
  }
  const grid = await db.selectFrom('grids').select(['id', 'community_id']).where('id', '=', input.grid!).executeTakeFirst();
  if (!grid) throw unknown('grid', input.grid);
  return { kind: 'grid', id: grid.id, communityId: grid.community_id };
}

/**
 * What a role needs: admins have no scope, everyone else exactly one; a grid worker works in a grid; a
 * volunteer is one of the volunteers on the map.
 */
async function checkRole(db: Kysely<DB>, role: Role, scope: ScopeInput | null | undefined, memberId: number | null | undefined) {
  if (role === 'admin' && scope)
    throw new DomainError('account.scope_not_for_admin', 'an admin sees everything and has no scope', { field: 'scope' });
  if (role !== 'admin' && !scope)
    throw new DomainError('account.missing_scope', `a ${role} works in a scope: give {"district"|"street"|"community"|"grid": …}`, {
      field: 'scope',
    });
  if (role === 'grid_worker' && scope?.grid === undefined)
    throw new DomainError('account.grid_scope_required', 'a grid worker works in one grid: give {"grid": id}', { field: 'scope' });
  if (role === 'volunteer') {
    if (!memberId)
      throw new DomainError('account.missing_member', 'a volunteer account belongs to a volunteer member: give member_id', {
        field: 'member_id',
      });
    const member = await db.selectFrom('members').select('is_volunteer').where('id', '=', memberId).executeTakeFirst();
    if (!member?.is_volunteer)
      throw new DomainError('account.not_a_volunteer', `member ${memberId} is not a volunteer on the map`, { field: 'member_id' });
  }
}

export async function createUser(db: Kysely<DB>, input: z.infer<typeof newUserSchema>, actor: Actor) {
  await checkRole(db, input.role, input.scope, input.member_id);
  const scope = input.scope ? await resolveScope(db, input.scope) : null;
  const password_hash = await hashPassword(input.password);
  const id = await db.transaction().execute(async (trx) => {
    await actAs(trx, actor);
    const row = await trx
      .insertInto('users')
      .values({
        username: input.username,
        password_hash,
        role: input.role,
        display_name: input.display_name ?? null,
        member_id: input.role === 'volunteer' ? input.member_id! : null,
        ...scopeColumns(scope),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  });
  return userJson((await findUsers(db, { id }))[0]);
}

/**
 * Changes a user (with `version`, only if still at that version). A new password, a new role or scope, or
 * disabling ends the user's sessions: they sign in again under the new rules. The last active admin cannot
 * be demoted or disabled.
 */
export async function changeUser(db: Kysely<DB>, id: number, change: z.infer<typeof userChangeSchema>, actor: Actor, version?: number) {
  const [current] = await findUsers(db, { id });
  if (!current) throw new DomainError('account.not_found', `No user ${id}`, { field: 'id' }, { id });
  const role = change.role ?? current.role;
  const roleChanged = change.role !== undefined && change.role !== current.role;
  // a new role keeps the scope unless it is an admin's (none) or another is given
  const scopeInput = change.scope !== undefined ? change.scope : role === 'admin' ? null : (userJson(current).scope as ScopeInput | null);
  const memberId = change.member_id !== undefined ? change.member_id : current.member_id;
  await checkRole(db, role, scopeInput, memberId);
  const scope = scopeInput ? await resolveScope(db, scopeInput) : null;
  const password_hash = change.password ? await hashPassword(change.password) : undefined;
  await db.transaction().execute(async (trx) => {
    await actAs(trx, actor);
    const updated = await trx
      .updateTable('users')
      .set({
        role,
        ...scopeColumns(scope),
        member_id: role === 'volunteer' ? memberId : null,
        ...(change.display_name !== undefined ? { display_name: change.display_name } : {}),
        ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
        ...(password_hash ? { password_hash } : {}),
      })
      .where('id', '=', id)
      .where((eb) => (version === undefined ? eb.lit(true) : eb('version', '=', version)))
      .returning('version')
      .executeTakeFirst();
    if (!updated) {
      throw new DomainError(
        'request.stale_version',
        `user ${id} is at version ${current.version}, not ${version}: reload it and try again`,
        { field: 'If-Match', version: current.version },
      );
    }
    const { rows } = await sql<{ admins: number }>`select count(*)::int as admins from users where role = 'admin' and not disabled`.execute(
      trx,
    );
    if (rows[0].admins === 0)
      throw new DomainError('account.last_admin', 'this would leave no active admin: make another admin first', {
        field: change.disabled ? 'disabled' : 'role',
      });
    if (password_hash || roleChanged || change.scope !== undefined || change.disabled) await revokeSessionsOf(trx, id);
  });
  return userJson((await findUsers(db, { id }))[0]);
}

/** At start: with GRIDMAP_ADMIN_PASSWORD set and no admin yet, user `admin` with that password. */
export async function ensureAdmin(db: Kysely<DB>, password: string): Promise<boolean> {
  const admin = await db.selectFrom('users').select('id').where('role', '=', 'admin').executeTakeFirst();
  if (admin) return false;
  const password_hash = await hashPassword(password);
  return db.transaction().execute(async (trx) => {
    await actAs(trx, { username: 'GRIDMAP_ADMIN_PASSWORD' });
    const { numInsertedOrUpdatedRows } = await trx
      .insertInto('users')
      .values({ username: 'admin', password_hash, role: 'admin' })
      .onConflict((oc) => oc.column('username').doNothing())
      .executeTakeFirst();
    return Number(numInsertedOrUpdatedRows ?? 0) > 0;
  });
}
