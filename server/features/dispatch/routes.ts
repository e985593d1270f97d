import { z } from 'zod';
import { DISPATCHERS } from '../../access/rules.ts';
import { actorOf } from '../../access/viewer.ts';
import type { Config } from '../../config.ts';
import type { Database } from '../../db/database.ts';
import { idParameter, limitParameter, parameter, queryParameter } from '../../domain/params.ts';
import { DomainError } from '../../domain/errors.ts';
import { route } from '../../http/route.ts';
import { SKILLS } from '../members/resource.ts';
import { MAX_K } from '../volunteers/routes.ts';
import { dispatch, dispatchRequest, dispatches, issueDispatches as issueDispatchesAnswer } from './answers.ts';
import {
  actOnDispatch,
  cancelRequest,
  DISPATCH_ACTIONS,
  dispatchIssue,
  issueDispatches,
  listDispatches,
  type DispatchAction,
} from './service.ts';

export const dispatchBody = z
  .object({
    k: z.number().int().min(1).max(MAX_K).default(3),
    /** one skill or several, every one required */
    skill: z.union([z.enum(SKILLS), z.array(z.enum(SKILLS)).max(SKILLS.length)]).optional(),
    /** seconds a volunteer has to answer, 1 s to a day; the server's DISPATCH_TIMEOUT_SECONDS when omitted */
    timeout_s: z.number().int().min(1).max(86400).optional(),
  })
  .strict()
  .meta({ id: 'DispatchRequest' });

const action = parameter(
  (value) => {
    if (!(DISPATCH_ACTIONS as readonly unknown[]).includes(value)) {
      throw new DomainError(
        'dispatch.unknown_action',
        `${String(value)} is not an action on a dispatch; use ${DISPATCH_ACTIONS.join(', ')}`,
        { field: 'action' },
      );
    }
    return value as DispatchAction;
  },
  { schema: { type: 'string', enum: [...DISPATCH_ACTIONS] } },
);

const tags = ['dispatch'];

/**
 * Dispatching an issue to the nearest available volunteers and following it: the request, the offers, the
 * volunteers' answers (or a dispatcher recording them), and the record of every step on the issue.
 */
export function dispatchRoutes(database: Database, config: Config) {
  const { db } = database;
  return [
    route({
      method: 'POST',
      path: '/api/v1/issues/:id/dispatch',
      tags,
      summary: 'Offer the issue to the nearest k available volunteers (with the skills asked)',
      description:
        'A decline or a timeout passes the offer to the next nearest not yet asked; the first to accept is assigned and the other offers are withdrawn.',
      allow: { resource: 'issues', action: 'read', roles: DISPATCHERS },
      params: { id: idParameter() },
      // a request without a body takes every default
      body: dispatchBody.optional(),
      answer: { status: 201, schema: dispatchRequest, description: 'the request with its offers' },
      problems: { 400: 'a wrong field', 404: 'no such issue', 409: 'the issue is settled or already dispatched' },
      handle: async ({ req, res, viewer, params: { id }, body = dispatchBody.parse({}) }) => {
        const skills = body.skill === undefined ? [] : [...new Set([body.skill].flat())];
        const request = await dispatchIssue(db, viewer, actorOf(req), id, {
          k: body.k,
          skills,
          timeoutS: body.timeout_s ?? config.DISPATCH_TIMEOUT_SECONDS,
        });
        res.location(`/api/v1/issues/${id}/dispatches`);
        return request;
      },
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/issues/:id/dispatch',
      tags,
      summary: "End the issue's dispatch request: offers withdrawn, an assignment cancelled",
      allow: { resource: 'issues', action: 'read', roles: DISPATCHERS },
      params: { id: idParameter() },
      answer: { status: 204, description: 'ended' },
      problems: { 404: 'no request at work' },
      handle: async ({ req, res, viewer, params: { id } }) => {
        await cancelRequest(db, viewer, actorOf(req), id);
        res.end();
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/issues/:id/dispatches',
      tags,
      summary: "The issue's dispatch requests, offers and every step (who, when, distance)",
      allow: { resource: 'issues', action: 'read' },
      params: { id: idParameter() },
      answer: { schema: issueDispatchesAnswer, description: '`{issue_id, requests: [{…, dispatches: [{…, steps}]}]}`' },
      problems: { 404: 'no such issue' },
      handle: ({ viewer, params: { id } }) => issueDispatches(db, viewer, id),
    }),
    route({
      method: 'GET',
      path: '/api/v1/dispatches',
      tags,
      summary: "Dispatches in scope (a volunteer's own), open ones unless all=true; one volunteer's with volunteer=",
      allow: { roles: [...DISPATCHERS, 'leader', 'volunteer'] },
      query: {
        all: queryParameter('all', 'boolean'),
        volunteer: queryParameter('volunteer', 'integer', { description: "a volunteer's member id: their dispatches only" }),
        limit: limitParameter({ fallback: 500, max: 5000 }),
      },
      answer: { schema: dispatches, description: '`{dispatches}`, newest first' },
      handle: async ({ viewer, query: { all = false, volunteer, limit } }) => ({
        dispatches: await listDispatches(db, viewer, { all, volunteer, limit }),
      }),
    }),
    route({
      method: 'POST',
      path: '/api/v1/dispatches/:id/:action',
      tags,
      summary: 'Answer or follow a dispatch: accept, decline, arrive, finish, cancel',
      description:
        'The volunteer asked, or a dispatcher recording its answer. Cancel (after accepting) passes the issue to the next nearest.',
      // the volunteer's own answers are checked against the dispatch in SQL
      allow: { roles: [...DISPATCHERS, 'volunteer'] },
      params: { id: idParameter(), action },
      answer: { schema: dispatch, description: 'the dispatch with its steps' },
      problems: { 404: 'no such dispatch', 409: 'not possible from its state, or the offer expired' },
      handle: ({ req, viewer, params: { id, action: act } }) => actOnDispatch(db, viewer, actorOf(req), id, act),
    }),
  ];
}
