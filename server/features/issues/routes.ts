import express from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import { WALL_STAFF } from '../../access/rules.ts';
import { actorOf } from '../../access/viewer.ts';
import { writeAs } from '../../db/actor.ts';
import type { Database } from '../../db/database.ts';
import { idParameter, parameter, parseCoordinate, ifMatchHeader, parseQueryValue } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import { route } from '../../http/route.ts';
import { ISSUE_STATUSES } from './resource.ts';
import { categories, category, newPhoto, photos, possibleDuplicates as duplicates, timeline } from './answers.ts';
import {
  decideExtension,
  duplicatesOf,
  ISSUE_ACTIONS,
  issueTimeline,
  possibleDuplicates,
  requestExtension,
  transitionIssue,
} from './lifecycle.ts';
import {
  addPhoto,
  issuePhotos,
  MAX_PHOTO_BYTES,
  MAX_PHOTOS,
  PHOTO_KINDS,
  PHOTO_TYPES,
  photoOf,
  removePhoto,
  type PhotoKind,
} from './photos.ts';

const note = z.string().trim().min(1).max(2000);

/** What each step takes besides its action: a reason to escalate or reject, the public answer, the rating. */
export const transitionBody = z
  .discriminatedUnion(
    'action',
    [
      z.object({ action: z.enum(['accept', 'start', 'resolve', 'close']), note: note.optional() }).strict(),
      z.object({ action: z.literal('escalate'), note: note.describe('why the wall above must take it') }).strict(),
      z
        .object({
          action: z.literal('reject'),
          note: note.describe('why: not our responsibility, a duplicate …'),
          /** the issue this one repeats; its reporter follows that one from now on */
          duplicate_of: z.number().int().positive().optional(),
        })
        .strict(),
      z
        .object({
          action: z.literal('answer'),
          /** the public reply on the echo wall */
          answer: z.string().trim().min(1).max(5000),
          /** what the echo wall calls the matter (the reporter's title may name people); the category's name when omitted */
          public_title: z.string().trim().min(1).max(200).optional(),
          note: note.optional(),
        })
        .strict(),
      z
        .object({ action: z.literal('rate'), rating: z.number().int().min(1).max(5), comment: z.string().trim().max(2000).optional() })
        .strict(),
    ],
    { error: (issue) => (issue.code === 'invalid_union' ? `action must be one of ${ISSUE_ACTIONS.join(', ')}` : undefined) },
  )
  .meta({ id: 'IssueTransition' });

export const extensionBody = z
  .object({ hours: z.number().int().min(1).max(2160), reason: note })
  .strict()
  .meta({ id: 'ExtensionRequest' });
export const decisionBody = z
  .object({ state: z.enum(['approved', 'refused']), note: note.optional() })
  .strict()
  .meta({ id: 'ExtensionDecision' });

export const URGENCY_HOURS = { urgent: 2, general: 168, complex: 360 } as const;
const categoryFields = {
  name: z.string().trim().min(1).max(50),
  urgency: z.enum(['urgent', 'general', 'complex']),
  /** hours to resolve; the urgency's default (2, 168, 360) when omitted */
  due_hours: z.number().int().min(1).max(8760),
};
export const categoryBody = z
  .object({ code: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/), ...categoryFields, due_hours: categoryFields.due_hours.optional() })
  .strict()
  .meta({ id: 'NewIssueCategory' });
export const categoryPatch = z
  .object(categoryFields)
  .partial()
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'give name, urgency and/or due_hours' })
  .meta({ id: 'IssueCategoryChange' });

/** A coordinate of the point asked about: both are required. */
const coordinate = (field: 'lon' | 'lat', example: number) =>
  parameter(
    (value) => {
      if (value === undefined) throw invalidParameter(field, 'lon and lat are required');
      return parseCoordinate(value, field);
    },
    { schema: { type: 'number' }, required: true, example },
  );

const kind = parameter(
  (value) => {
    const given = parseQueryValue(value, 'kind', 'text') ?? 'report';
    if (!PHOTO_KINDS.some((k) => k === given)) throw invalidParameter('kind', 'kind must be report or answer');
    return given as PhotoKind;
  },
  { schema: { type: 'string', enum: PHOTO_KINDS, default: 'report' } },
);

const id = idParameter();
const photo = idParameter('photo');
const tags = ['problem wall'];
const onIssue = { resource: 'issues', action: 'read' } as const;
const timelineAnswer = (status?: number) => ({
  status,
  schema: timeline,
  description:
    '`{issue_id, status, wall, version, due_at, overdue, duplicate_of, actions, steps, extensions}`: `actions` are the steps the caller may take now',
});
const duplicatesAnswer = {
  schema: duplicates,
  description: '`{issues}`: open issues of the category within 50 m and 7 days, nearest first, with distance_m',
};
// the upload is read by its route, as the picture's own bytes
const pictureBody = express.raw({ type: () => true, limit: MAX_PHOTO_BYTES });

/**
 * The lifecycle of an issue (its steps, timeline, extensions, possible duplicates, photos) and the categories
 * with their due times. Who may take which step is decided against the issue itself, in SQL.
 */
export function issueRoutes(database: Database) {
  const { db } = database;
  return [
    route({
      method: 'GET',
      path: '/api/v1/issue-categories',
      tags,
      summary: 'Issue categories with their urgency and due time in hours',
      allow: { public: 'categories and due times, for report forms and Open311 clients' },
      answer: { schema: categories, description: '`{categories}`' },
      handle: async () => {
        const { rows } = await sql<
          z.input<typeof category>
        >`select code, name, urgency, due_hours from issue_categories order by code`.execute(db);
        return { categories: rows };
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/issue-categories',
      tags,
      summary: 'Add a category',
      allow: { roles: ['admin'] },
      body: categoryBody,
      answer: { status: 201, schema: category, description: 'the category' },
      problems: { 400: 'a wrong field', 409: 'the code is taken' },
      handle: async ({ req, res, body }) => {
        const {
          rows: [row],
        } = await writeAs(db, actorOf(req), (trx) =>
          sql<z.input<typeof category>>`
          insert into issue_categories (code, name, urgency, due_hours) values (${body.code}, ${body.name}, ${body.urgency}, ${body.due_hours ?? URGENCY_HOURS[body.urgency]})
          returning code, name, urgency, due_hours`.execute(trx),
        );
        res.location(`/api/v1/issue-categories/${body.code}`);
        return row;
      },
    }),
    // New issues take the new due time; those already reported keep theirs.
    route({
      method: 'PATCH',
      path: '/api/v1/issue-categories/:code',
      tags,
      summary: "Change a category's name, urgency or due time (new issues take it)",
      allow: { roles: ['admin'] },
      params: { code: z.string() },
      body: categoryPatch,
      answer: { schema: category, description: 'the category' },
      problems: { 400: 'a wrong field', 404: 'no such category' },
      handle: async ({ req, params: { code }, body }) => {
        const hours = body.due_hours ?? (body.urgency ? URGENCY_HOURS[body.urgency] : null);
        const {
          rows: [row],
        } = await writeAs(db, actorOf(req), (trx) =>
          sql<z.input<typeof category>>`
          update issue_categories set name = coalesce(${body.name ?? null}, name), urgency = coalesce(${body.urgency ?? null}, urgency),
            due_hours = coalesce(${hours}::int, due_hours), updated_at = now()
          where code = ${code} returning code, name, urgency, due_hours`.execute(trx),
        );
        if (!row) throw new DomainError('issue.category_not_found', `No issue category ${code}`, { field: 'code' }, { code });
        return row;
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/issues/possible-duplicates',
      tags,
      summary: 'Before reporting: is it one of these?',
      allow: onIssue,
      query: {
        lon: coordinate('lon', 109.49),
        lat: coordinate('lat', 36.59),
        category: parameter(
          (value) => {
            const given = parseQueryValue(value, 'category', 'text') as string | undefined;
            if (given === undefined) throw invalidParameter('category', 'category is required');
            return given;
          },
          { schema: { type: 'string' }, required: true, example: 'noise' },
        ),
      },
      answer: duplicatesAnswer,
      problems: { 400: 'a parameter out of range' },
      handle: async ({ viewer, query }) => ({ issues: await possibleDuplicates(db, viewer, query) }),
    }),
    route({
      method: 'GET',
      path: '/api/v1/issues/:id/possible-duplicates',
      tags,
      summary: 'Issues the issue may repeat',
      allow: onIssue,
      params: { id },
      answer: duplicatesAnswer,
      handle: async ({ viewer, params }) => ({ issues: await duplicatesOf(db, viewer, params.id) }),
    }),
    route({
      method: 'GET',
      path: '/api/v1/issues/:id/timeline',
      tags,
      summary: 'Every step of the issue (who, when, from, to, note), its extensions, and what the caller may do',
      allow: onIssue,
      params: { id },
      answer: timelineAnswer(),
      problems: { 404: 'no such issue' },
      handle: ({ viewer, params }) => issueTimeline(db, viewer, params.id),
    }),
    route({
      method: 'POST',
      path: '/api/v1/issues/:id/transitions',
      tags,
      summary: "One step of the issue's life: accept, start, resolve, escalate, reject, answer, rate, close",
      description: `States: ${ISSUE_STATUSES.join(', ')}. Escalating moves the issue a wall up (grid → community → street); a rating of 1 or 2 reopens it (rework). Staff act on their wall and the walls below it; the reporter rates.`,
      allow: onIssue,
      params: { id },
      headers: { 'If-Match': ifMatchHeader() },
      body: transitionBody,
      answer: timelineAnswer(),
      problems: {
        400: 'a wrong field',
        404: 'no such issue',
        409: "not a step from the issue's state",
        412: 'changed since the If-Match version',
        422: 'an unknown duplicate_of',
      },
      handle: async ({ req, res, viewer, params, body, headers }) => {
        await transitionIssue(db, viewer, actorOf(req), params.id, { ...body, version: headers['If-Match'] });
        const after = await issueTimeline(db, viewer, params.id);
        res.set('ETag', `"${after.version}"`);
        return after;
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/issues/:id/extensions',
      tags,
      summary: 'Ask for more time; the wall above decides',
      allow: { ...onIssue, roles: WALL_STAFF },
      params: { id },
      body: extensionBody,
      answer: timelineAnswer(201),
      problems: { 409: 'one is pending, or the issue is resolved' },
      handle: async ({ req, res, viewer, params, body }) => {
        const extension = await requestExtension(db, viewer, actorOf(req), params.id, body);
        res.location(`/api/v1/issues/${params.id}/extensions/${extension}`);
        return issueTimeline(db, viewer, params.id);
      },
    }),
    route({
      method: 'PATCH',
      path: '/api/v1/issues/:id/extensions/:extension',
      tags,
      summary: 'Approve (the due time moves) or refuse an extension',
      allow: { ...onIssue, roles: WALL_STAFF },
      params: { id, extension: idParameter('extension') },
      body: decisionBody,
      answer: timelineAnswer(),
      problems: { 404: 'no such extension', 409: 'already decided' },
      handle: async ({ req, viewer, params, body }) => {
        await decideExtension(db, viewer, actorOf(req), params.id, params.extension, body);
        return issueTimeline(db, viewer, params.id);
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/issues/:id/photos',
      tags,
      summary: "The issue's photos: of the problem (report) and of the work done (answer)",
      allow: onIssue,
      params: { id },
      answer: { schema: photos, description: '`{photos: [{id, kind, content_type, byte_size, url}]}`' },
      handle: async ({ viewer, params }) => ({ photos: await issuePhotos(db, viewer, params.id) }),
    }),
    route({
      method: 'POST',
      path: '/api/v1/issues/:id/photos',
      tags,
      summary: `Add a photo (JPEG, PNG or WebP, at most ${MAX_PHOTO_BYTES / 1024 / 1024} MB, ${MAX_PHOTOS} of each kind)`,
      allow: onIssue,
      params: { id },
      query: { kind },
      body: { raw: Object.fromEntries(PHOTO_TYPES.map((type) => [type, { type: 'string', format: 'binary' }])) },
      answer: { status: 201, schema: newPhoto, description: 'the photo' },
      problems: { 409: 'five of the kind already', 413: 'too large', 415: 'not a picture of the declared type' },
      handle: async ({ req, res, viewer, params, query }) => {
        await new Promise<void>((resolve, reject) => void pictureBody(req, res, (error?: unknown) => (error ? reject(error) : resolve())));
        const declared = req.get('Content-Type')?.split(';')[0].trim().toLowerCase();
        const added = await addPhoto(db, viewer, actorOf(req), params.id, query.kind, declared, req.body);
        res.location(added.url);
        return added;
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/issues/:id/photos/:photo',
      tags,
      summary: "A photo's bytes",
      allow: onIssue,
      params: { id, photo },
      answer: { description: 'the image' },
      problems: { 304: 'not modified', 404: 'no such photo' },
      handle: async ({ req, res, viewer, params }) => {
        const { content_type: type, sha256, data } = await photoOf(db, viewer, params.id, params.photo);
        const etag = `"${sha256}"`;
        res.set({ ETag: etag, 'Cache-Control': 'private, max-age=86400' });
        if (req.get('If-None-Match') === etag) return void res.status(304).end();
        res.type(type).send(Buffer.from(data));
      },
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/issues/:id/photos/:photo',
      tags,
      summary: "Remove a photo (whoever added it, or the wall's staff)",
      allow: onIssue,
      params: { id, photo },
      answer: { status: 204, description: 'removed' },
      handle: async ({ req, res, viewer, params }) => {
        await removePhoto(db, viewer, actorOf(req), params.id, params.photo);
        res.status(204).end();
      },
    }),
  ];
}
