import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from './schema.ts';

/** Who a write is for, as the audit log records it. */
export interface Actor {
  user_id?: number;
  username: string;
  request_id?: string;
}

/**
 * Names the actor of the current transaction for the audit triggers (sql/007_accounts.sql). Transaction
 * scoped: it ends with the transaction, so a pooled connection never carries it to the next request.
 */
export const actorSetting = (actor: Actor) => sql`set_config('gridmap.actor', ${JSON.stringify(actor)}, true)`;

export async function actAs(db: Kysely<DB>, actor: Actor) {
  await sql`select ${actorSetting(actor)}`.execute(db);
}

/**
 * The first statement of a transaction that changes issues or dispatches: the events lock (before any row
 * lock, so that it never waits on a row held by a transaction that waits for it; sql/008_dispatch.sql), and
 * the actor. Such transactions take turns: what one reads of issues and dispatches stays true until it commits.
 */
export async function beginIssueWrites(db: Kysely<DB>, actor: Actor) {
  await sql`select pg_advisory_xact_lock(7426008), ${actorSetting(actor)}`.execute(db);
}

/** `work` in a transaction written for `actor`: what the audit log says of each row it writes. */
export const writeAs = <T>(db: Kysely<DB>, actor: Actor, work: (trx: Transaction<DB>) => Promise<T>) =>
  db.transaction().execute(async (trx) => {
    await actAs(trx, actor);
    return work(trx);
  });
