import type { ResourceName, WriteAction } from './policy.ts';
import type { Role } from './viewer.ts';

/**
 * Every route of the API with who may call it: the one list the access guard reads. A route that is not
 * here is refused (403, or 401 without a token) whatever its handler would do.
 */
export type Allow =
  | { public: string }
  /** any signed-in user, or these roles */
  | { roles: readonly Role[] | 'any' }
  /** as RESOURCE_ACCESS says for the resource (named, or the route's :layer), and the scope in SQL after */
  | { resource: ResourceName | ':layer'; action: 'read' | WriteAction; roles?: readonly Role[] };

export interface AccessRule {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** an express path pattern */
  path: string;
  allow: Allow;
}

/** Paths the guard watches (in any case); anything else is the web client's static files. */
export const GUARDED_PREFIXES = ['/api', '/tiles', '/ogc', '/open311'];

/** Roles that dispatch volunteers (and record a volunteer's answer given by phone). */
export const DISPATCHERS: readonly Role[] = ['admin', 'dispatcher', 'grid_worker'];

/** Roles that work the problem walls: take issues up, escalate, answer, grant more time one level up. */
export const WALL_STAFF: readonly Role[] = ['admin', 'grid_worker', 'dispatcher', 'leader'];

/** Roles that watch coverage: aggregates per grid and community, never a member's home. */
export const COVERAGE_READERS: readonly Role[] = ['admin', 'planner', 'leader', 'dispatcher', 'grid_worker'];

export const MAP_RESOURCES: ResourceName[] = ['districts', 'streets', 'communities', 'grids', 'buildings', 'members', 'units', 'issues'];

const resourceRules = (name: ResourceName): AccessRule[] => [
  { method: 'GET', path: `/api/v1/${name}`, allow: { resource: name, action: 'read' } },
  { method: 'GET', path: `/api/v1/${name}/:id`, allow: { resource: name, action: 'read' } },
  { method: 'POST', path: `/api/v1/${name}`, allow: { resource: name, action: 'create' } },
  { method: 'PATCH', path: `/api/v1/${name}/:id`, allow: { resource: name, action: 'update' } },
  { method: 'DELETE', path: `/api/v1/${name}/:id`, allow: { resource: name, action: 'delete' } },
];

export const ACCESS_RULES: AccessRule[] = [
  // before /grids/:id and /communities/:id, which would take "unassigned" and "tree" for ids
  { method: 'GET', path: '/api/v1/grids/unassigned', allow: { resource: 'buildings', action: 'read' } },
  {
    method: 'GET', path: '/api/v1/communities/:id/tree',
    allow: { resource: 'communities', action: 'read', roles: ['admin', 'planner', 'dispatcher', 'leader', 'grid_worker'] },
  },
  ...MAP_RESOURCES.flatMap(resourceRules),
  { method: 'GET', path: '/api/v1/export/:layer', allow: { resource: ':layer', action: 'read' } },
  { method: 'POST', path: '/api/v1/import/:layer', allow: { resource: ':layer', action: 'create' } },
  // its owner's, or any for an admin: checked where it is read
  { method: 'GET', path: '/api/v1/imports/:id', allow: { roles: 'any' } },

];
