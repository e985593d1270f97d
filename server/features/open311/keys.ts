import { createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import { writeAs, type Actor } from '../../db/actor.ts';
import type { DB } from '../../db/schema.ts';
import { DomainError } from '../../domain/errors.ts';

/** A client application an admin gave an Open311 api_key (sql/025_open311_keys.sql). */
export interface Open311App {
  id: number;
  name: string;
  services: string[];
}

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
  const {
    rows: [app],
  } = await sql<Open311App>`
    select id, name, services from open311_keys where token_hash = ${keyHash(key)} and revoked_at is null`.execute(db);
  return app;
}

/** Whether `key` was an application's key that an admin revoked: refused as such, not as an unknown key. */
export async function revokedKey(db: Kysely<DB>, key: string) {
  const { rows } = await sql`select 1 from open311_keys where token_hash = ${keyHash(key)} and revoked_at is not null`.execute(db);
  return rows.length > 0;
}

export async function markUsed(db: Kysely<DB>, app: Open311App) {
  await sql`insert into open311_key_uses (key_id, last_used_at) values (${app.id}, now())
            on conflict (key_id) do update set last_used_at = excluded.last_used_at`.execute(db);
}

/*
 * The admin's Open311 keys: issue one for an application (the key is shown once; only its hash is kept),
 * list them with when each was last used, revoke one. Issuing and revoking are in the audit log.
 */

/** The keys (one by its id), live ones first: name, services, who issued each, when last used, never the key. */
export async function listedKeys(db: Kysely<DB>, id?: number) {
  const { rows } = await sql<{
    id: number;
    name: string;
    services: string[];
    created_by: string | null;
    created_at: Date;
    last_used_at: Date | null;
    revoked_at: Date | null;
  }>`
    select k.id, k.name, k.services, u.username as created_by, k.created_at, s.last_used_at, k.revoked_at
    from open311_keys k left join users u on u.id = k.created_by left join open311_key_uses s on s.key_id = k.id
    where ${id === undefined ? sql`true` : sql`k.id = ${id}`}
    order by k.revoked_at is not null, k.id desc`.execute(db);
  return rows;
}

/** A new key for an application, allowed to post these services (each an issue category); its `api_key` shown once. */
export async function issueKey(db: Kysely<DB>, actor: Actor, userId: number, { name, services }: z.output<typeof open311KeyBody>) {
  const codes = [...new Set(services)];
  const given = sql`(select json_array_elements_text(${JSON.stringify(codes)}::json))`;
  const { rows: known } = await sql<{ code: string }>`select code from issue_categories where code in ${given}`.execute(db);
  const unknown = codes.filter((code) => !known.some((k) => k.code === code));
  if (unknown.length)
    throw new DomainError(
      'request.invalid_parameter',
      `services: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} no issue category; see /api/v1/issue-categories`,
      { field: 'services' },
    );
  const key = randomBytes(32).toString('base64url');
  const id = await writeAs(
    db,
    actor,
    async (trx) =>
      (
        await sql<{ id: number }>`
    insert into open311_keys (name, token_hash, services, created_by)
    values (${name}, ${keyHash(key)}, array${given}, ${userId}) returning id`.execute(trx)
      ).rows[0].id,
  );
  const [created] = await listedKeys(db, id);
  return { ...created, api_key: key };
}

export async function revokeOpen311Key(db: Kysely<DB>, actor: Actor, id: number) {
  const revoked = await writeAs(
    db,
    actor,
    async (trx) =>
      (await sql`update open311_keys set revoked_at = now() where id = ${id} and revoked_at is null returning id`.execute(trx)).rows,
  );
  if (revoked.length === 0) throw new DomainError('open311.key_not_found', `no live Open311 key ${id}`, { field: 'id' });
}
