import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import { inScope } from '../../access/policy.ts';
import type { Viewer } from '../../access/viewer.ts';
import { writeAs, type Actor } from '../../db/actor.ts';
import type { DB } from '../../db/schema.ts';
import { DomainError } from '../../domain/errors.ts';
import { WALL_STAFF } from '../../access/rules.ts';

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

/** A matter as answered: its month as YYYY-MM. */
const MATTER = [
  sql<string>`to_char(month, 'YYYY-MM')`.as('month'),
  'title',
  'discussion',
  'outcome',
  'issue_id',
  'published_at',
  'updated_at',
] as const;

async function knownCommunity(db: Kysely<DB>, id: number) {
  const community = await db.selectFrom('communities').select('id').where('id', '=', id).executeTakeFirst();
  if (!community) throw new DomainError('community.not_found', `No community ${id}`, { field: 'id' }, { id });
}

/** The community's matters, newest month first: the published ones, and the drafts for its staff. */
export async function monthlyMatters(db: Kysely<DB>, viewer: Viewer | undefined, id: number) {
  await knownCommunity(db, id);
  const drafts = await runsCommunity(db, viewer, id);
  const matters = await db
    .selectFrom('monthly_matters')
    .select(MATTER)
    .where('community_id', '=', id)
    .$if(!drafts, (q) => q.where('published_at', 'is not', null))
    .orderBy('month', 'desc')
    .execute();
  return { community_id: id, matters };
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
  const first = sql<Date>`${`${month}-01`}::date`;
  const { created } = await writeAs(db, actor, (trx) =>
    trx
      .insertInto('monthly_matters')
      .values({
        community_id: id,
        month: first,
        title: body.title,
        discussion: body.discussion ?? null,
        outcome: body.outcome ?? null,
        issue_id: body.issue_id ?? null,
        published_at: sql<Date | null>`case when ${body.published} then now() end`,
        updated_by: viewer.id,
      })
      .onConflict((oc) =>
        oc.columns(['community_id', 'month']).doUpdateSet((eb) => ({
          title: eb.ref('excluded.title'),
          discussion: eb.ref('excluded.discussion'),
          outcome: eb.ref('excluded.outcome'),
          issue_id: eb.ref('excluded.issue_id'),
          updated_by: eb.ref('excluded.updated_by'),
          updated_at: sql<Date>`now()`,
          published_at: sql<Date | null>`case when ${body.published} then coalesce(monthly_matters.published_at, now()) end`,
        })),
      )
      .returning(sql<boolean>`xmax = 0`.as('created'))
      .executeTakeFirstOrThrow(),
  );
  const matter = await db
    .selectFrom('monthly_matters')
    .select(MATTER)
    .where('community_id', '=', id)
    .where('month', '=', first)
    .executeTakeFirstOrThrow();
  return { created, matter };
}
