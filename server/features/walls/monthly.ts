import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import { inScope } from '../../access/policy.ts';
import type { Viewer } from '../../access/viewer.ts';
import { writeAs, type Actor } from '../../db/actor.ts';
import type { DB } from '../../db/schema.ts';
import { DomainError } from '../../domain/errors.ts';
import { WALL_STAFF } from '../../access/rules.ts';
import type { monthlyMatter } from './answers.ts';

/**
 * One matter a month (一月一事一议一公开): each month a community picks one matter, discusses it, and
 * publishes what was decided. Published months are public; drafts are seen by the community's staff.
 */

export const monthlyBody = z
  .object({
    title: z.string().trim().min(1).max(200),
    /** how the community discussed it (议) */
    discussion: z.string().trim().max(10_000).nullable().optional(),
    /** what was decided and done (公开) */
    outcome: z.string().trim().max(10_000).nullable().optional(),
    /** the issue the matter grew from, if one did */
    issue_id: z.number().int().positive().nullable().optional(),
    published: z.boolean().default(false),
  })
  .strict()
  .meta({ id: 'MonthlyMatter' });

/** Community staff (and those above): they pick, record and publish the month's matter. */
async function runsCommunity(db: Kysely<DB>, viewer: Viewer | undefined, community: number) {
  if (!viewer || !WALL_STAFF.includes(viewer.role)) return false;
  if (viewer.role === 'admin') return true;
  if (!viewer.scope || viewer.scope.kind === 'grid') return false;
  const {
    rows: [row],
  } = await sql<{ inside: boolean }>`
    select coalesce(${inScope(viewer.scope, { community: 'id' }, 'c')}, false) as inside from communities c where c.id = ${community}`.execute(
    db,
  );
  return row?.inside ?? false;
}

const MATTER = sql`to_char(month, 'YYYY-MM') as month, title, discussion, outcome, issue_id, published_at, updated_at`;
type Matter = z.input<typeof monthlyMatter>;

async function knownCommunity(db: Kysely<DB>, id: number) {
  const {
    rows: [community],
  } = await sql<{ id: number }>`select id from communities where id = ${id}`.execute(db);
  if (!community) throw new DomainError('community.not_found', `No community ${id}`, { field: 'id' });
}

/** The community's matters, newest month first: the published ones, and the drafts for its staff. */
export async function monthlyMatters(db: Kysely<DB>, viewer: Viewer | undefined, id: number) {
  await knownCommunity(db, id);
  const drafts = await runsCommunity(db, viewer, id);
  const { rows } = await sql<Matter>`
    select ${MATTER} from monthly_matters where community_id = ${id} ${drafts ? sql`` : sql`and published_at is not null`}
    order by month desc`.execute(db);
  return { community_id: id, matters: rows };
}

/** Records (or changes) the month's matter, by the community's staff; `created` when the month had none. */
export async function recordMonthly(
  db: Kysely<DB>,
  viewer: Viewer,
  actor: Actor,
  id: number,
  month: string,
  body: z.output<typeof monthlyBody>,
) {
  await knownCommunity(db, id);
  if (!(await runsCommunity(db, viewer, id))) {
    throw new DomainError('wall.forbidden', `the month's matter of community ${id} is kept by its community staff`, { field: 'id' });
  }
  const {
    rows: [matter],
  } = await writeAs(db, actor, (trx) =>
    sql<{ created: boolean }>`
    insert into monthly_matters (community_id, month, title, discussion, outcome, issue_id, published_at, updated_by)
    values (${id}, ${`${month}-01`}::date, ${body.title}, ${body.discussion ?? null}, ${body.outcome ?? null}, ${body.issue_id ?? null},
            case when ${body.published} then now() end, ${viewer.id})
    on conflict (community_id, month) do update set title = excluded.title, discussion = excluded.discussion, outcome = excluded.outcome,
      issue_id = excluded.issue_id, updated_by = excluded.updated_by, updated_at = now(),
      published_at = case when ${body.published} then coalesce(monthly_matters.published_at, now()) end
    returning (xmax = 0) as created`.execute(trx),
  );
  const {
    rows: [row],
  } = await sql<Matter>`
    select ${MATTER} from monthly_matters where community_id = ${id} and month = ${`${month}-01`}::date`.execute(db);
  return { created: matter.created, matter: row };
}
