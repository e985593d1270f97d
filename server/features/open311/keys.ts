import { createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { z } from 'zod';
import { writeAs, type Actor } from '../../db/actor.ts';
import type { DB } from '../../db/schema.ts';
import { DomainError } from '../../domain/errors.ts';

/** A client application an admin gave an Open311 api_key (sql/025_open311_keys.sql). */
export type Open311App = Pick<Selectable<DB['open311_keys']>, 'id' | 'name' | 'services'>;

const keyHash = (key: string) => createHash('sha256').update(key).digest();

export const open311KeyBody = z
  .object({
    /** the application, to tell keys apart: "12345 热线", "街道小程序" */
    name: z.string().trim().min(1).max(100),
    /** the service codes (issue categories) it may post */
    services: z.array(z.string().trim().min(1).max(40)).min(1).max(100),
  })
  .strict();

/** The live application an api_key is, or undefined when it is none (revoked keys included: see revokedKey). */
export async function open311App(db: Kysely<DB>, key: string): Promise<Open311App | undefined> {
  return db
    .selectFrom('open311_keys')
    .select(['id', 'name', 'services'])
    .where('token_hash', '=', keyHash(key))
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

/** Whether `key` was an application's key that an admin revoked: refused as such, not as an unknown key. */
export async function revokedKey(db: Kysely<DB>, key: string) {
  const revoked = await db
    .selectFrom('open311_keys')
    .select('id')
    .where('token_hash', '=', keyHash(key))
    .where('revoked_at', 'is not', null)
    .executeTakeFirst();
  return revoked !== undefined;
}

export async function markUsed(db: Kysely<DB>, app: Open311App) {
  await db
    .insertInto('open311_key_uses')
    .values({ key_id: app.id, last_used_at: sql<Date>`now()` })
    .onConflict((oc) => oc.column('key_id').doUpdateSet((eb) => ({ last_used_at: eb.ref('excluded.last_used_at') })))
    .execute();
}

/*
 * The admin's Open311 keys: issue one for an application (the key is shown once; only its hash is kept),
 * list them with when each was last used, revoke one. Issuing and revoking are in the audit log.
 */

/** The keys (one by its id), live ones first: name, services, who issued each, when last used, never the key. */
export async function listedKeys(db: Kysely<DB>, id?: number) {
  return db
    .selectFrom('open311_keys as k')
    .leftJoin('users as u', 'u.id', 'k.created_by')
    .leftJoin('open311_key_uses as s', 's.key_id', 'k.id')
    .select(['k.id', 'k.name', 'k.services', 'u.username as created_by', 'k.created_at', 's.last_used_at', 'k.revoked_at'])
    .$if(id !== undefined, (q) => q.where('k.id', '=', id!))
    .orderBy(sql`k.revoked_at is not null`)
    .orderBy('k.id', 'desc')
    .execute();
}

/** A new key for an application, allowed to post these services (each an issue category); its `api_key` shown once. */
export async function issueKey(db: Kysely<DB>, actor: Actor, userId: number, { name, services }: z.output<typeof open311KeyBody>) {
  const codes = [...new Set(services)];
  const known = await db.selectFrom('issue_categories').select('code').where('code', 'in', codes).execute();
  const unknown = codes.filter((code) => !known.some((k) => k.code === code));
  if (unknown.length)
    throw new DomainError(
      'request.invalid_parameter',
      `services: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} no issue category; see /api/v1/issue-categories`,
      { field: 'services' },
    );
  const key = randomBytes(32).toString('base64url');
  const { id } = await writeAs(db, actor, (trx) =>
    trx
      .insertInto('open311_keys')
      .values({ name, token_hash: keyHash(key), services: codes, created_by: userId })
      .returning('id')
      .executeTakeFirstOrThrow(),
  );
  const [created] = await listedKeys(db, id);
  return { ...created, api_key: key };
}

export async function revokeOpen311Key(db: Kysely<DB>, actor: Actor, id: number) {
  const revoked = await writeAs(db, actor, (trx) =>
    trx
      .updateTable('open311_keys')
      .set({ revoked_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .returning('id')
      .executeTakeFirst(),
  );
  if (!revoked) throw new DomainError('open311.key_not_found', `no live Open311 key ${id}`, { field: 'id' });
}
