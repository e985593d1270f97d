import { sql, type Kysely } from 'kysely';
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
