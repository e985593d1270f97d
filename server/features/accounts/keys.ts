import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import type { DB } from '../../db/schema.ts';
import { DomainError } from '../../domain/errors.ts';
import { openSession } from './queries.ts';

export const keyBody = z
  .object({
    /** what the key is for, to tell keys apart: "QGIS on the planning office's PC" */
    label: z.string().trim().min(1).max(100),
    /** days until it expires */
    days: z.number().int().min(1).max(365).default(90),
  })
  .strict();

/** A user's live keys are few; more than this and the oldest must be revoked first. */
export const MAX_KEYS = 20;

/*
 * Read-only access keys (sql/011_access_keys.sql): a user opens one for a GIS client, which then reads as the
 * user (its scope, its masks) and nothing more; the key is shown once, listed by label, revoked at will.
 */

/** The user's live keys: read-only sessions neither revoked nor expired. */
const liveKeysOf = (db: Kysely<DB>, userId: number) =>
  db
    .selectFrom('sessions')
    .where('user_id', '=', userId)
    .where('read_only', '=', true)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`);

/** The user's live keys, newest first: labels and dates, never the keys. */
export async function liveKeys(db: Kysely<DB>, userId: number) {
  return (
    liveKeysOf(db, userId)
      .select(['id', 'label', 'created_at', 'expires_at', 'revoked_at'])
      // a key always has its label (openKey gives it one); a session without one is never read-only
      .$narrowType<{ label: string }>()
      .orderBy('id', 'desc')
      .execute()
  );
}

/** A new key for the user, unless it has MAX_KEYS live ones already. */
export async function openKey(db: Kysely<DB>, userId: number, { label, days }: z.output<typeof keyBody>, address: string | undefined) {
  return db.transaction().execute(async (trx) => {
    // one user's keys are counted under a lock on the user, so two requests cannot both pass the count
    await trx.selectFrom('users').select('id').where('id', '=', userId).forUpdate().execute();
    const { n } = await liveKeysOf(trx, userId)
      .select(sql<number>`count(*)::int`.as('n'))
      .executeTakeFirstOrThrow();
    if (n >= MAX_KEYS) throw new DomainError('account.too_many_keys', `you have ${n} live keys; revoke one first`, { field: 'label' });
    return openSession(trx, userId, { hours: days * 24, readOnly: true, label, address });
  });
}

export async function revokeKey(db: Kysely<DB>, userId: number, id: number) {
  const revoked = await db
    .updateTable('sessions')
    .set({ revoked_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('read_only', '=', true)
    .where('revoked_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (!revoked) throw new DomainError('account.key_not_found', `you have no live key ${id}`, { field: 'id' });
}
