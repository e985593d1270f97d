import { Router } from 'express';
import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import { inScope } from '../../access/policy.ts';
import { actorOf, type Viewer } from '../../access/viewer.ts';
import { writeAs } from '../../db/actor.ts';
import type { Database } from '../../db/database.ts';
import type { DB } from '../../db/schema.ts';
import { parseBody } from '../../domain/body.ts';
import { parseId } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import { WALL_STAFF } from '../../access/rules.ts';

export const monthlyBody = z.object({
  title: z.string().trim().min(1).max(200),
  /** how the community discussed it (议) */
  discussion: z.string().trim().max(10_000).nullable().optional(),
  /** what was decided and done (公开) */
  outcome: z.string().trim().max(10_000).nullable().optional(),
  /** the issue the matter grew from, if one did */
  issue_id: z.number().int().positive().nullable().optional(),
  published: z.boolean().default(false),
}).strict();

/** Community staff (and those above): they pick, record and publish the month's matter. */
async function runsCommunity(db: Kysely<DB>, viewer: Viewer | undefined, community: number) {
  if (!viewer || !WALL_STAFF.includes(viewer.role)) return false;
  if (viewer.role === 'admin') return true;
  if (!viewer.scope || viewer.scope.kind === 'grid') return false;
  const { rows: [row] } = await sql<{ inside: boolean }>`
    select coalesce(${inScope(viewer.scope, { community: 'id' }, 'c')}, false) as inside from communities c where c.id = ${community}`.execute(db);
  return row?.inside ?? false;
}

/**
 * One matter a month (一月一事一议一公开): each month a community picks one matter, discusses it, and
 * publishes what was decided. Published months are public; drafts are seen by the community's staff.
 */
export function monthlyRoutes(database: Database) {
  const { db } = database;
  const router = Router();

  router.get('/api/v1/communities/:id/monthly', async (req, res) => {
    const id = parseId(req.params.id);
    const { rows: [community] } = await sql<{ id: number }>`select id from communities where id = ${id}`.execute(db);
    if (!community) throw new DomainError('community.not_found', `No community ${id}`, { field: 'id' });
    const drafts = await runsCommunity(db, req.viewer, id);
    const { rows } = await sql`
      select to_char(month, 'YYYY-MM') as month, title, discussion, outcome, issue_id, published_at, updated_at
      from monthly_matters where community_id = ${id} ${drafts ? sql`` : sql`and published_at is not null`}
      order by month desc`.execute(db);
    res.json({ community_id: id, matters: rows });
  });

  router.put('/api/v1/communities/:id/monthly/:month', async (req, res) => {
    const id = parseId(req.params.id);
    const month = req.params.month;
    if (!/^(19|20)\d{2}-(0[1-9]|1[0-2])$/.test(month)) throw invalidParameter('month', 'month must be YYYY-MM, such as 2026-11');
    const body = parseBody(monthlyBody, req.body);
    const { rows: [community] } = await sql<{ id: number }>`select id from communities where id = ${id}`.execute(db);
    if (!community) throw new DomainError('community.not_found', `No community ${id}`, { field: 'id' });
    if (!(await runsCommunity(db, req.viewer, id))) {
      throw new DomainError('wall.forbidden', `the month's matter of community ${id} is kept by its community staff`, { field: 'id' });
    }
    const { rows: [matter] } = await writeAs(db, actorOf(req), (trx) => sql<{ created: boolean }>`
      insert into monthly_matters (community_id, month, title, discussion, outcome, issue_id, published_at, updated_by)
      values (${id}, ${`${month}-01`}::date, ${body.title}, ${body.discussion ?? null}, ${body.outcome ?? null}, ${body.issue_id ?? null},
              case when ${body.published} then now() end, ${req.viewer!.id})
      on conflict (community_id, month) do update set title = excluded.title, discussion = excluded.discussion, outcome = excluded.outcome,
        issue_id = excluded.issue_id, updated_by = excluded.updated_by, updated_at = now(),
        published_at = case when ${body.published} then coalesce(monthly_matters.published_at, now()) end
      returning (xmax = 0) as created`.execute(trx));
    const { rows: [row] } = await sql`
      select to_char(month, 'YYYY-MM') as month, title, discussion, outcome, issue_id, published_at, updated_at
      from monthly_matters where community_id = ${id} and month = ${`${month}-01`}::date`.execute(db);
    res.status(matter.created ? 201 : 200).json(row);
  });

  return router;
}
