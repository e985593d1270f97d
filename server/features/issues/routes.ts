import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import { actorOf } from '../../access/viewer.ts';
import { writeAs } from '../../db/actor.ts';
import type { Database } from '../../db/database.ts';
import { parseBody } from '../../domain/body.ts';
import { parseId, parseIfMatch, parsePoint, parseQueryValue } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import {
  decideExtension, duplicatesOf, ISSUE_ACTIONS, issueTimeline, possibleDuplicates, requestExtension, transitionIssue,
} from './lifecycle.ts';

const note = z.string().trim().min(1).max(2000);

/** What each step takes besides its action: a reason to escalate or reject, the public answer, the rating. */
export const transitionBody = z.discriminatedUnion('action', [
  z.object({ action: z.enum(['accept', 'start', 'resolve', 'close']), note: note.optional() }).strict(),
  z.object({ action: z.literal('escalate'), note: note.describe('why the wall above must take it') }).strict(),
  z.object({
    action: z.literal('reject'),
    note: note.describe('why: not our responsibility, a duplicate …'),
    /** the issue this one repeats; its reporter follows that one from now on */
    duplicate_of: z.number().int().positive().optional(),
  }).strict(),
  z.object({
    action: z.literal('answer'),
    /** the public reply on the echo wall */
    answer: z.string().trim().min(1).max(5000),
    /** what the echo wall calls the matter (the reporter's title may name people); the category's name when omitted */
    public_title: z.string().trim().min(1).max(200).optional(),
    note: note.optional(),
  }).strict(),
  z.object({ action: z.literal('rate'), rating: z.number().int().min(1).max(5), comment: z.string().trim().max(2000).optional() }).strict(),
], { error: (issue) => (issue.code === 'invalid_union' ? `action must be one of ${ISSUE_ACTIONS.join(', ')}` : undefined) });

export const extensionBody = z.object({ hours: z.number().int().min(1).max(2160), reason: note }).strict();
export const decisionBody = z.object({ state: z.enum(['approved', 'refused']), note: note.optional() }).strict();

export const URGENCY_HOURS = { urgent: 2, general: 168, complex: 360 } as const;
const categoryFields = {
  name: z.string().trim().min(1).max(50),
  urgency: z.enum(['urgent', 'general', 'complex']),
  /** hours to resolve; the urgency's default (2, 168, 360) when omitted */
  due_hours: z.number().int().min(1).max(8760),
};
export const categoryBody = z.object({ code: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/), ...categoryFields, due_hours: categoryFields.due_hours.optional() }).strict();
export const categoryPatch = z.object(categoryFields).partial().strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'give name, urgency and/or due_hours' });

/**
 * The lifecycle of an issue (its steps, timeline, extensions, possible duplicates) and the categories
 * with their due times.
 */
export function issueRoutes(database: Database) {
  const { db } = database;
  const router = Router();

  router.get('/api/v1/issue-categories', async (_req, res) => {
    const { rows } = await sql`select code, name, urgency, due_hours from issue_categories order by code`.execute(db);
    res.json({ categories: rows });
  });

  router.post('/api/v1/issue-categories', async (req, res) => {
    const body = parseBody(categoryBody, req.body);
    const { rows: [row] } = await writeAs(db, actorOf(req), (trx) => sql`
      insert into issue_categories (code, name, urgency, due_hours) values (${body.code}, ${body.name}, ${body.urgency}, ${body.due_hours ?? URGENCY_HOURS[body.urgency]})
      returning code, name, urgency, due_hours`.execute(trx));
    res.status(201).location(`/api/v1/issue-categories/${body.code}`).json(row);
  });

  // New issues take the new due time; those already reported keep theirs.
  router.patch('/api/v1/issue-categories/:code', async (req, res) => {
    const body = parseBody(categoryPatch, req.body);
    const hours = body.due_hours ?? (body.urgency ? URGENCY_HOURS[body.urgency] : null);
    const { rows: [row] } = await writeAs(db, actorOf(req), (trx) => sql`
      update issue_categories set name = coalesce(${body.name ?? null}, name), urgency = coalesce(${body.urgency ?? null}, urgency),
        due_hours = coalesce(${hours}::int, due_hours), updated_at = now()
      where code = ${req.params.code} returning code, name, urgency, due_hours`.execute(trx));
    if (!row) throw new DomainError('issue.category_not_found', `No issue category ${req.params.code}`, { field: 'code' });
    res.json(row);
  });

  router.get('/api/v1/issues/possible-duplicates', async (req, res) => {
    const unknown = Object.keys(req.query).find((key) => !['lon', 'lat', 'category'].includes(key));
    if (unknown) throw invalidParameter(unknown, `${unknown} is not a parameter here; use lon, lat, category`);
    const { lon, lat } = parsePoint(req.query);
    const category = parseQueryValue(req.query.category, 'category', 'text');
    if (category === undefined) throw invalidParameter('category', 'category is required');
    res.json({ issues: await possibleDuplicates(db, req.viewer!, { lon, lat, category: category as string }) });
  });

  router.get('/api/v1/issues/:id/possible-duplicates', async (req, res) => {
    res.json({ issues: await duplicatesOf(db, req.viewer!, parseId(req.params.id)) });
  });

  router.get('/api/v1/issues/:id/timeline', async (req, res) => {
    res.json(await issueTimeline(db, req.viewer!, parseId(req.params.id)));
  });

  router.post('/api/v1/issues/:id/transitions', async (req, res) => {
    const id = parseId(req.params.id);
    const body = parseBody(transitionBody, req.body);
    await transitionIssue(db, req.viewer!, actorOf(req), id, { ...body, version: parseIfMatch(req.get('If-Match')) });
    const timeline = await issueTimeline(db, req.viewer!, id);
    res.set('ETag', `"${timeline.version}"`).json(timeline);
  });

  router.post('/api/v1/issues/:id/extensions', async (req, res) => {
    const id = parseId(req.params.id);
    const extension = await requestExtension(db, req.viewer!, actorOf(req), id, parseBody(extensionBody, req.body));
    res.status(201).location(`/api/v1/issues/${id}/extensions/${extension}`).json(await issueTimeline(db, req.viewer!, id));
  });

  router.patch('/api/v1/issues/:id/extensions/:extension', async (req, res) => {
    const id = parseId(req.params.id);
    await decideExtension(db, req.viewer!, actorOf(req), id, parseId(req.params.extension, 'extension'), parseBody(decisionBody, req.body));
    res.json(await issueTimeline(db, req.viewer!, id));
  });

  return router;
}
