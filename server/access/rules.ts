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

export const ACCESS_RULES: AccessRule[] = [
  { method: 'GET', path: '/api/v1/health', allow: { public: 'load balancers and monitoring' } },
  { method: 'POST', path: '/api/v1/auth/login', allow: { public: 'signing in' } },
  { method: 'GET', path: '/api/v1/auth/demo-accounts', allow: { public: 'the login screen of a demo (empty unless GRIDMAP_DEMO is on)' } },

  { method: 'POST', path: '/api/v1/auth/logout', allow: { roles: 'any' } },
  { method: 'GET', path: '/api/v1/auth/me', allow: { roles: 'any' } },
  // read-only access keys for GIS clients: each user its own
  { method: 'GET', path: '/api/v1/auth/keys', allow: { roles: 'any' } },
  { method: 'POST', path: '/api/v1/auth/keys', allow: { roles: 'any' } },
  { method: 'DELETE', path: '/api/v1/auth/keys/:id', allow: { roles: 'any' } },
  { method: 'GET', path: '/api/v1/map/config', allow: { roles: 'any' } },

  { method: 'GET', path: '/api/v1/users', allow: { roles: ['admin'] } },
  { method: 'GET', path: '/api/v1/users/:id', allow: { roles: ['admin'] } },
  { method: 'POST', path: '/api/v1/users', allow: { roles: ['admin'] } },
  { method: 'PATCH', path: '/api/v1/users/:id', allow: { roles: ['admin'] } },
  { method: 'GET', path: '/api/v1/audit', allow: { roles: ['admin'] } },
  // a new city's checklist: counts over the whole map
  { method: 'GET', path: '/api/v1/setup', allow: { roles: ['admin'] } },

  // grid planning (server/features/planning): boundaries are grids' to change; history and past boundaries are read like grids
  { method: 'POST', path: '/api/v1/grids/merge', allow: { resource: 'grids', action: 'delete' } },
  { method: 'POST', path: '/api/v1/grids/:id/redraw', allow: { resource: 'grids', action: 'update' } },
  { method: 'POST', path: '/api/v1/grids/:id/split', allow: { resource: 'grids', action: 'create' } },
  { method: 'POST', path: '/api/v1/grids/:id/revert', allow: { resource: 'grids', action: 'update' } },
  { method: 'GET', path: '/api/v1/grids/:id/history', allow: { resource: 'grids', action: 'read' } },
  { method: 'GET', path: '/api/v1/communities/:id/grids', allow: { resource: 'grids', action: 'read' } },
  { method: 'POST', path: '/api/v1/communities/:id/grids', allow: { resource: 'grids', action: 'create' } },
  { method: 'POST', path: '/api/v1/communities/:id/plan', allow: { resource: 'grids', action: 'update' } },
  { method: 'POST', path: '/api/v1/communities/:id/suggest-grids', allow: { resource: 'grids', action: 'update' } },
  // dispatching (the volunteer's own answers are checked against the dispatch in SQL)
  { method: 'GET', path: '/api/v1/volunteers/nearest', allow: { resource: 'members', action: 'read', roles: DISPATCHERS } },
  { method: 'GET', path: '/api/v1/volunteers/me', allow: { roles: ['volunteer'] } },
  { method: 'PATCH', path: '/api/v1/volunteers/me', allow: { roles: ['volunteer'] } },
  { method: 'POST', path: '/api/v1/issues/:id/dispatch', allow: { resource: 'issues', action: 'read', roles: DISPATCHERS } },
  { method: 'DELETE', path: '/api/v1/issues/:id/dispatch', allow: { resource: 'issues', action: 'read', roles: DISPATCHERS } },
  { method: 'GET', path: '/api/v1/issues/:id/dispatches', allow: { resource: 'issues', action: 'read' } },
  { method: 'GET', path: '/api/v1/dispatches', allow: { roles: [...DISPATCHERS, 'leader', 'volunteer'] } },
  { method: 'POST', path: '/api/v1/dispatches/:id/:action', allow: { roles: [...DISPATCHERS, 'volunteer'] } },
  // the problem walls: who may take which step is decided against the issue itself, in SQL
  { method: 'GET', path: '/api/v1/issue-categories', allow: { public: 'categories and due times, for report forms and Open311 clients' } },
  { method: 'POST', path: '/api/v1/issue-categories', allow: { roles: ['admin'] } },
  { method: 'PATCH', path: '/api/v1/issue-categories/:code', allow: { roles: ['admin'] } },
  { method: 'GET', path: '/api/v1/issues/metrics', allow: { resource: 'issues', action: 'read', roles: ['admin', 'planner', 'dispatcher', 'leader', 'grid_worker'] } },
  { method: 'GET', path: '/api/v1/issues/possible-duplicates', allow: { resource: 'issues', action: 'read' } },
  { method: 'GET', path: '/api/v1/issues/:id/possible-duplicates', allow: { resource: 'issues', action: 'read' } },
  { method: 'GET', path: '/api/v1/issues/:id/timeline', allow: { resource: 'issues', action: 'read' } },
  { method: 'POST', path: '/api/v1/issues/:id/transitions', allow: { resource: 'issues', action: 'read' } },
  { method: 'POST', path: '/api/v1/issues/:id/extensions', allow: { resource: 'issues', action: 'read', roles: WALL_STAFF } },
  { method: 'PATCH', path: '/api/v1/issues/:id/extensions/:extension', allow: { resource: 'issues', action: 'read', roles: WALL_STAFF } },
  { method: 'GET', path: '/api/v1/issues/:id/photos', allow: { resource: 'issues', action: 'read' } },
  { method: 'POST', path: '/api/v1/issues/:id/photos', allow: { resource: 'issues', action: 'read' } },
  { method: 'GET', path: '/api/v1/issues/:id/photos/:photo', allow: { resource: 'issues', action: 'read' } },
  { method: 'DELETE', path: '/api/v1/issues/:id/photos/:photo', allow: { resource: 'issues', action: 'read' } },
  { method: 'GET', path: '/api/v1/walls/grid/:id', allow: { resource: 'issues', action: 'read' } },
  { method: 'GET', path: '/api/v1/walls/community/:id', allow: { resource: 'issues', action: 'read' } },
  { method: 'GET', path: '/api/v1/walls/street/:code', allow: { resource: 'issues', action: 'read' } },
  { method: 'GET', path: '/api/v1/echo', allow: { public: 'the echo wall is published: answers without personal data' } },
  { method: 'GET', path: '/api/v1/communities/:id/monthly', allow: { public: 'one matter a month is published (drafts only to the community staff)' } },
  { method: 'PUT', path: '/api/v1/communities/:id/monthly/:month', allow: { roles: WALL_STAFF } },
  // vector tiles: each layer as its rows' resource allows (checked by the route), scoped in SQL
  { method: 'GET', path: '/tiles/:layer.json', allow: { roles: 'any' } },
  { method: 'GET', path: '/tiles/:layer/:z/:x/:y.mvt', allow: { roles: 'any' } },
  // any other path under /tiles: the route says what a tile's address is (404)
  { method: 'GET', path: '/tiles/*rest', allow: { roles: 'any' } },
  // issue and dispatch changes in the caller's scope (filtered per viewer in SQL)
  { method: 'GET', path: '/api/v1/events', allow: { roles: 'any' } },

  // OGC API – Features (server/features/ogc): the guard lets every GET through, and the routes decide what the
  // caller reads, with the bearer token when one is sent (an unknown path is then a 404, not a 401)
  { method: 'GET', path: '/ogc', allow: { public: 'districts, streets, communities and grids are public; the other collections need a token' } },
  { method: 'GET', path: '/ogc/*rest', allow: { public: 'districts, streets, communities and grids are public; the other collections need a token' } },

  // Open311 GeoReport v2 (server/features/open311): reading is public, for transparency; an issue's description,
  // media and exact point go only to a caller who may read it (by bearer token or api_key), not to the others
  { method: 'GET', path: '/open311/discovery.:format', allow: { public: 'Open311 service discovery holds no data' } },
  { method: 'GET', path: '/open311/v2/services.:format', allow: { public: 'the issue categories, as Open311 services' } },
  { method: 'GET', path: '/open311/v2/services/:code.:format', allow: { public: 'the issue categories, as Open311 services' } },
  { method: 'GET', path: '/open311/v2/requests.:format', allow: { public: 'issues without personal data: no description, the point to ~100 m' } },
  { method: 'GET', path: '/open311/v2/requests/:id.:format', allow: { public: 'issues without personal data: no description, the point to ~100 m' } },
  // the guard cannot read an api_key sent in the form: the route authenticates it, and allows the roles that may
  // create issues, in their scope, as POST /api/v1/issues does
  { method: 'POST', path: '/open311/v2/requests.:format', allow: { public: 'Open311 clients send their api_key in the body' } },
  // the client applications' Open311 keys: issued, listed and revoked by admins
  { method: 'GET', path: '/api/v1/open311/keys', allow: { roles: ['admin'] } },
  { method: 'POST', path: '/api/v1/open311/keys', allow: { roles: ['admin'] } },
  { method: 'DELETE', path: '/api/v1/open311/keys/:id', allow: { roles: ['admin'] } },
];
