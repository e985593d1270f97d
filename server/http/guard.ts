import type { RequestHandler } from 'express';
import { match } from 'path-to-regexp';
import type { Database } from '../db/database.ts';
import { localWrites } from '../db/writes.ts';
import { sessionsOf } from '../features/accounts/sessions.ts';
import { DomainError } from '../domain/errors.ts';
import { mayRead, mayWrite, type ResourceName } from '../access/policy.ts';
import { GUARDED_PREFIXES, MAP_RESOURCES, type AccessRule } from '../access/rules.ts';
import { credentialOf, type Credential, type Viewer } from '../access/viewer.ts';
import { groupedBy, routeGroup } from './route.ts';

/** Whether `viewer` passes `rule` (the role part; rows are scoped in SQL by the routes). */
function permits({ allow }: AccessRule, viewer: Viewer, params: Record<string, unknown>): boolean {
  if ('public' in allow) return true;
  if (allow.roles && allow.roles !== 'any' && !allow.roles.includes(viewer.role)) return false;
  if (!('resource' in allow)) return true;
  const resource = (allow.resource === ':layer' ? params.layer : allow.resource) as ResourceName;
  if (!MAP_RESOURCES.includes(resource))
    throw new DomainError('layer.not_found', `No layer ${String(params.layer)}; use ${MAP_RESOURCES.join(', ')}`, { field: 'layer' });
  return allow.action === 'read' ? mayRead(resource, viewer.role) : mayWrite(resource, viewer.role, allow.action);
}

/** An access key sent as a password or a parameter that opens nothing: expired, revoked, or no key at all. */
export const notAKey = ({ field }: Credential) =>
  new DomainError('auth.unauthenticated', `${field}: not a live access key (make one with POST /api/v1/auth/keys)`, { field });

const unauthenticated = () =>
  new DomainError('auth.unauthenticated', 'sign in (POST /api/v1/auth/login) and send Authorization: Bearer <token>', {
    field: 'Authorization',
  });

/**
 * The one check every API request passes before any route: find the route's rule, authenticate the bearer
 * token, check the role. No rule: denied. The signed-in user is left on `req.viewer` for the routes, which
 * scope their SQL by it.
 */
export function accessGuard(database: Database, rules: AccessRule[]): RequestHandler {
  // a malformed %-escape is left as it is: the route will not match it either
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  // a request is matched against the rules of its group only (server/http/route.ts routeGroup)
  const compiled = new Map(
    [...groupedBy(rules, (rule) => rule.path)].map(([group, list]) => [
      group,
      list.map((rule) => ({ rule, match: match(rule.path, { decode }) })),
    ]),
  );
  return async (req, res, next) => {
    // express matches routes regardless of case (/API/v1/users is /api/v1/users): so does the guard
    const path = req.path.toLowerCase();
    if (!GUARDED_PREFIXES.some((prefix) => path.startsWith(prefix))) return next();
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    let params: Record<string, unknown> = {};
    const found = compiled.get(routeGroup(path))?.find((c) => {
      if (c.rule.method !== method) return false;
      const matched = c.match(req.path);
      if (matched) params = matched.params;
      return matched !== false;
    });
    const credential = credentialOf(req);
    const sessions = sessionsOf(database);
    if (method !== 'GET') {
      const answered = localWrites(database).begin();
      res.once('finish', answered).once('close', answered);
    }
    const viewer = credential ? await sessions.viewer(credential.token, credential) : undefined;
    // a read-only access key (a GIS client's) reads, and does nothing else, whatever the route
    if (viewer?.readOnly && method !== 'GET') {
      throw new DomainError('auth.read_only_key', 'this access key may only read (GET); sign in to change anything', {
        field: 'Authorization',
      });
    }
    if (found && 'public' in found.rule.allow) {
      // a public route answers everyone, and a signed-in caller as who it is (more of the echo wall, its drafts)
      req.viewer = viewer;
      return next();
    }

    if (!viewer) {
      res.set('WWW-Authenticate', 'Bearer realm="gridmap"');
      throw credential?.keyOnly ? notAKey(credential) : unauthenticated();
    }
    if (!found) {
      req.log?.warn({ method: req.method, path: req.path }, 'no access rule: denied');
      throw new DomainError('access.forbidden', `no access rule allows ${req.method} ${req.path}`);
    }
    if (!permits(found.rule, viewer, params)) {
      throw new DomainError('access.forbidden', `a ${viewer.role} may not ${req.method} ${req.path}`, { role: viewer.role });
    }
    req.viewer = viewer;
    next();
  };
}
