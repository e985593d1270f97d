import { Router } from 'express';
import { z } from 'zod';
import { actorOf } from '../../access/viewer.ts';
import type { Config } from '../../config.ts';
import type { Database } from '../../db/database.ts';
import { parseBody } from '../../domain/body.ts';
import { parseId, parseQueryValue, parseLimit } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import { SKILLS } from '../members/resource.ts';
import { MAX_K } from '../volunteers/routes.ts';
import { actOnDispatch, cancelRequest, DISPATCH_ACTIONS, dispatchIssue, issueDispatches, listDispatches, type DispatchAction } from './service.ts';

export const dispatchBody = z.object({
  k: z.number().int().min(1).max(MAX_K).default(3),
  /** one skill or several, every one required */
  skill: z.union([z.enum(SKILLS), z.array(z.enum(SKILLS)).max(SKILLS.length)]).optional(),
  /** seconds a volunteer has to answer, 1 s to a day; the server's DISPATCH_TIMEOUT_SECONDS when omitted */
  timeout_s: z.number().int().min(1).max(86400).optional(),
}).strict();

/**
 * Dispatching an issue to the nearest available volunteers and following it: the request, the offers, the
 * volunteers' answers (or a dispatcher recording them), and the record of every step on the issue.
 */
export function dispatchRoutes(database: Database, config: Config) {
  const { db } = database;
  const router = Router();

  router.post('/api/v1/issues/:id/dispatch', async (req, res) => {
    const id = parseId(req.params.id);
    const body = parseBody(dispatchBody, req.body ?? {});
    const skills = body.skill === undefined ? [] : [...new Set([body.skill].flat())];
    const request = await dispatchIssue(db, req.viewer!, actorOf(req), id, { k: body.k, skills, timeoutS: body.timeout_s ?? config.DISPATCH_TIMEOUT_SECONDS });
    res.status(201).location(`/api/v1/issues/${id}/dispatches`).json(request);
  });

  router.delete('/api/v1/issues/:id/dispatch', async (req, res) => {
    await cancelRequest(db, req.viewer!, actorOf(req), parseId(req.params.id));
    res.status(204).end();
  });

  router.get('/api/v1/issues/:id/dispatches', async (req, res) => {
    res.json(await issueDispatches(db, req.viewer!, parseId(req.params.id)));
  });

  router.get('/api/v1/dispatches', async (req, res) => {
    const unknown = Object.keys(req.query).find((key) => !['all', 'limit'].includes(key));
    if (unknown) throw invalidParameter(unknown, `${unknown} is not a parameter of dispatches; use all, limit`);
    const all = (parseQueryValue(req.query.all, 'all', 'boolean') as boolean | undefined) ?? false;
    const limit = parseLimit(req.query.limit, { fallback: 500, max: 5000 });
    res.json({ dispatches: await listDispatches(db, req.viewer!, { all, limit }) });
  });

  router.post('/api/v1/dispatches/:id/:action', async (req, res) => {
    const id = parseId(req.params.id);
    const action = req.params.action as DispatchAction;
    if (!DISPATCH_ACTIONS.includes(action)) {
      throw new DomainError('dispatch.unknown_action', `${req.params.action} is not an action on a dispatch; use ${DISPATCH_ACTIONS.join(', ')}`, { field: 'action' });
    }
    res.json(await actOnDispatch(db, req.viewer!, actorOf(req), id, action));
  });

  return router;
}
