import type { ResourceName, WriteAction } from './policy.ts';
import type { Role } from './viewer.ts';

/**
 * Who may call a route, as each route declares it (`allow` in server/http/route.ts); the access guard reads the
 * route table's rules, and refuses a route that has none (403, or 401 without a token) whatever its handler does.
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
