import { sql, type RawBuilder } from 'kysely';
import type { Role, Scope, Viewer } from './viewer.ts';

/**
 * Who may read and write each map resource, and how: the matrix in one table. The access guard refuses a
 * role with no entry (403) before any handler runs; the resource routes then turn the entry into SQL, so
 * rows outside the viewer's scope are never read, and personal columns are masked in the query itself.
 */

export type ResourceName = 'districts' | 'streets' | 'communities' | 'grids' | 'buildings' | 'members' | 'units' | 'issues';
export type WriteAction = 'create' | 'update' | 'delete';

export interface ReadAccess {
  /** scope: rows in the viewer's scope (a grid worker reads its grid's whole community); self: the viewer's
   *  own member record; own_reports: the issues the viewer reported */
  rows: 'scope' | 'self' | 'own_reports';
  /** only the volunteers among the members */
  volunteersOnly?: boolean;
  /** personal columns (names, phones, home points): shown, masked, or shown in the viewer's own grid only */
  personal: 'shown' | 'masked' | 'own_grid';
}

export interface WriteAccess {
  /** scope: rows in the viewer's own scope, before and after the write; self: the viewer's own member record */
  rows: 'scope' | 'self';
  actions: readonly WriteAction[];
  /** the properties this role may set, when not all of them ('geometry' for the geometry) */
  properties?: readonly string[];
}

export interface Access {
  read?: ReadAccess;
  write?: WriteAccess;
}

const ALL: WriteAction[] = ['create', 'update', 'delete'];
const READ: Access = { read: { rows: 'scope', personal: 'shown' } };
const EDIT: Access = { ...READ, write: { rows: 'scope', actions: ALL } };
const MAP: Partial<Record<Role, Access>> = {
  planner: EDIT,
  dispatcher: READ,
  leader: READ,
  grid_worker: READ,
  volunteer: READ,
  resident: READ,
};

/** District and street boundaries are the civil-affairs bureau's: admins write them, whoever reads communities reads them. */
const AREAS: Partial<Record<Role, Access>> = {
  planner: READ,
  dispatcher: READ,
  leader: READ,
  grid_worker: READ,
  volunteer: READ,
  resident: READ,
};

export const RESOURCE_ACCESS: Record<ResourceName, Partial<Record<Role, Access>>> = {
  districts: AREAS,
  streets: AREAS,
  communities: MAP,
  grids: MAP,
  buildings: { ...MAP, grid_worker: EDIT },
  units: {
    ...MAP,
    // a unit's contact is for those who organise with it
    volunteer: { read: { rows: 'scope', personal: 'masked' } },
    resident: { read: { rows: 'scope', personal: 'masked' } },
  },
  members: {
    // planners and leaders count members; they never see who or where
    planner: { read: { rows: 'scope', personal: 'masked' } },
    leader: { read: { rows: 'scope', personal: 'masked' } },
    dispatcher: { read: { rows: 'scope', volunteersOnly: true, personal: 'shown' } },
    grid_worker: { read: { rows: 'scope', personal: 'own_grid' }, write: { rows: 'scope', actions: ALL } },
    volunteer: { read: { rows: 'self', personal: 'shown' }, write: { rows: 'self', actions: ['update'], properties: ['availability'] } },
  },
  issues: {
    planner: READ,
    leader: READ,
    dispatcher: { ...READ, write: { rows: 'scope', actions: ['create'], properties: ['title', 'description', 'category', 'geometry'] } },
    grid_worker: EDIT,
    resident: {
      read: { rows: 'own_reports', personal: 'shown' },
      write: { rows: 'scope', actions: ['create'], properties: ['title', 'description', 'category', 'geometry'] },
    },
  },
};

/**
 * What anyone may read without signing in: the map's frame (districts, streets, communities and grids with their organisation),
 * as a city posts it on its notice boards; a grid worker's phone with its middle hidden, as elsewhere.
 */
export const PUBLIC_READ: Partial<Record<ResourceName, Record<string, Mask>>> = {
  districts: {},
  streets: {},
  communities: {},
  grids: { grid_worker_phone: 'phone' },
};

/** Admins read and write everything, unmasked; everyone else as the table says. */
export function accessOf(resource: ResourceName, role: Role): Access {
  return role === 'admin'
    ? { read: { rows: 'scope', personal: 'shown' }, write: { rows: 'scope', actions: ALL } }
    : (RESOURCE_ACCESS[resource][role] ?? {});
}

export const mayRead = (resource: ResourceName, role: Role) => accessOf(resource, role).read !== undefined;
export const mayWrite = (resource: ResourceName, role: Role, action: WriteAction) =>
  accessOf(resource, role).write?.actions.includes(action) ?? false;

/**
 * Where a row sits on the map: its community and grid columns (`id` for the table itself); a street column
 * for rows that reach a street without lying in any of its communities (an issue routed to the street wall);
 * the row's own id column, when not `id`.
 */
export type Place = { community: string; grid?: string; street?: string; id?: string } | AreaPlace;
/** A district or a street: `area` is its code column. It is in a scope that lies within it or that it lies within. */
export interface AreaPlace {
  area: string;
  id?: string;
}

/**
 * What a viewer reads of a resource is the same for everyone in the same view: one role in one scope, or,
 * where a role reads only its own rows (a resident's reports), one user. Caches of what was read key by it.
 */
export function viewKey(viewer: Viewer, resource: ResourceName) {
  const scope = viewer.scope ? `${viewer.scope.kind}:${'code' in viewer.scope ? viewer.scope.code : viewer.scope.id}` : '*';
  const own = accessOf(resource, viewer.role).read?.rows !== 'scope';
  return `${viewer.role}:${scope}${own ? `:${viewer.id}` : ''}`;
}

/** How a personal column is hidden: a phone number keeps its ends (138****5678), anything else is null. */
export type Mask = 'phone' | 'hidden';

/** The SQL condition that row `alias` lies in `scope`. */
export function inScope(scope: Scope, place: Place, alias: string): RawBuilder<unknown> {
  if ('area' in place) return areaInScope(scope, sql.ref(`${alias}.${place.area}`));
  const community = sql.ref(`${alias}.${place.community}`);
  // a row in no community is on a street when its street column says so
  const orOnStreet = (condition: RawBuilder<unknown>, pattern: string) =>
    place.street ? sql`(${condition} or ${community} is null and ${sql.ref(`${alias}.${place.street}`)} like ${pattern})` : condition;
  switch (scope.kind) {
    // an array computed once, not a semi-join: the planner then keeps a KNN scan in distance order
    // rather than joining first and sorting (its estimate of such a join is far too low)
    case 'district':
      return orOnStreet(
        sql`${community} = any(array(select id from communities where left(street_code, 6) = ${scope.code}))`,
        `${scope.code}%`,
      );
    case 'street':
      return orOnStreet(sql`${community} = any(array(select id from communities where street_code = ${scope.code}))`, scope.code);
    case 'community':
      return sql`${community} = ${scope.id}`;
    case 'grid':
      return place.grid
        ? sql`${sql.ref(`${alias}.${place.grid}`)} = ${scope.id}`
        : // a row without a grid column (a unit, a community) is in a grid when it lies within it
          sql`ST_Within(${sql.ref(`${alias}.geom`)}, (select geom from grids where id = ${scope.id}))`;
  }
}

/**
 * Codes nest (district 6 digits, its streets 9): a district or street is in a scope when one code starts with
 * the other; a community's or grid's scope by its street's code. (A district user's district and streets, a
 * street user's street and district, a community's street and district.)
 */
function areaInScope(scope: Scope, code: RawBuilder<unknown>) {
  const scopeCode =
    scope.kind === 'district' || scope.kind === 'street'
      ? sql`${scope.code}::text`
      : scope.kind === 'community'
        ? sql`(select street_code from communities where id = ${scope.id})`
        : sql`(select c.street_code from grids g join communities c on c.id = g.community_id where g.id = ${scope.id})`;
  return sql`(starts_with(${scopeCode}, ${code}) or starts_with(${code}, ${scopeCode}))`;
}

/** Grid workers read the community around their grid (neighbours' issues, volunteers next door); they act in their grid. */
function readScope(viewer: Viewer): Scope | null {
  return viewer.scope?.kind === 'grid' && viewer.role === 'grid_worker'
    ? { kind: 'community', id: viewer.scope.communityId }
    : viewer.scope;
}

const never = sql`false`;

/** Conditions joined with `and`; none is true. */
export const allOf = (conditions: RawBuilder<unknown>[]) => (conditions.length ? sql.join(conditions, sql` and `) : sql`true`);

/** The issues `viewer` reported, and those its reports were linked to as duplicates (it follows them). */
const ownReports = (place: Place, viewer: Viewer, alias: string) => sql`(${sql.ref(`${alias}.reported_by`)} = ${viewer.id}
  or ${sql.ref(`${alias}.${place.id ?? 'id'}`)} in (select duplicate_of from issues where reported_by = ${viewer.id} and duplicate_of is not null))`;

/** The rows of a resource `viewer` may read, as conditions on `alias`; undefined when it may read none. */
export function readConditions(resource: ResourceName, place: Place, viewer: Viewer, alias: string): RawBuilder<unknown>[] | undefined {
  const read = accessOf(resource, viewer.role).read;
  if (!read) return undefined;
  if (viewer.role === 'admin') return [];
  const scope = readScope(viewer);
  const rows =
    read.rows === 'self'
      ? sql`${sql.ref(`${alias}.id`)} = ${viewer.memberId ?? -1}`
      : read.rows === 'own_reports'
        ? ownReports(place, viewer, alias)
        : scope
          ? inScope(scope, place, alias)
          : never;
  return read.volunteersOnly ? [rows, sql`${sql.ref(`${alias}.is_volunteer`)}`] : [rows];
}

/**
 * The one door to a table's rows in SQL: the condition on `alias` that a row must meet for `viewer` to read it,
 * `false` when the viewer may read none of them (fail closed). Masks of personal columns are `visibleLayer`'s
 * (server/access/rows.ts) or `personalShown`; tests/privacy.test.ts fails on a query of personal rows that
 * passes by neither.
 */
export const readable = (resource: ResourceName, place: Place, viewer: Viewer, alias: string): RawBuilder<unknown> =>
  allOf(readConditions(resource, place, viewer, alias) ?? [sql`false`]);

/** The condition a row must meet, before and after, for `viewer` to write it; undefined when it may not write. */
export function writeCondition(resource: ResourceName, place: Place, viewer: Viewer, action: WriteAction, alias: string) {
  const write = accessOf(resource, viewer.role).write;
  if (!write?.actions.includes(action)) return undefined;
  if (viewer.role === 'admin') return sql`true`;
  if (write.rows === 'self') return sql`${sql.ref(`${alias}.id`)} = ${viewer.memberId ?? -1}`;
  return viewer.scope ? inScope(viewer.scope, place, alias) : never;
}

/** The properties `viewer` may not set among `given`, for the error that names the first. */
export function forbiddenProperties(resource: ResourceName, viewer: Viewer, given: string[]) {
  const allowed = accessOf(resource, viewer.role).write?.properties;
  return allowed ? given.filter((p) => !allowed.includes(p)) : [];
}

/**
 * The condition under which personal columns of row `alias` are shown to `viewer`: always, never, or in
 * the viewer's own grid (and, for a dispatcher, only a volunteer's).
 */
export function personalShown(resource: ResourceName, viewer: Viewer, alias: string): RawBuilder<unknown> {
  const read = accessOf(resource, viewer.role).read;
  const personal = read?.personal ?? 'masked';
  if (personal === 'shown') return read?.volunteersOnly ? sql`${sql.ref(`${alias}.is_volunteer`)}` : sql`true`;
  if (personal === 'own_grid' && viewer.scope?.kind === 'grid') return sql`${sql.ref(`${alias}.grid_id`)} = ${viewer.scope.id}`;
  return never;
}

/**
 * Counts of members over an area are a home's when the members counted live in one or two buildings (a grid
 * drawn round one building, a hexagon over one farmhouse): to those who may not see every member where it
 * lives (all but admins and dispatchers, who read only volunteers and see them), areas and hexagons show
 * member counts only where the members counted live in at least this many buildings (members in no building
 * each a home of their own), as a building's own count is hidden from them.
 */
export const MIN_HOMES_COUNTED = 3;
export const countsFewHomes = (viewer: Viewer) => accessOf('members', viewer.role).read?.personal === 'shown';
/** The members in `alias`'s homes, for MIN_HOMES_COUNTED: their buildings, and each member in none. */
export const homesOf = (alias: string) => sql`count(distinct coalesce(${sql.ref(`${alias}.building_id`)}, -${sql.ref(`${alias}.id`)}))`;

/** Roles that see members only in aggregate: their masks hide a phone entirely, not just its middle. */
export const seesAggregateOnly = (resource: ResourceName, viewer: Viewer) => accessOf(resource, viewer.role).read?.personal === 'masked';

/**
 * Where `viewer` may see who lives in building `alias` (its members counted one by one, its central
 * households named): a building's count of members is a home when it is one.
 */
export function homesShown(viewer: Viewer, alias: string): RawBuilder<unknown> {
  const read = accessOf('members', viewer.role).read;
  if (read?.personal === 'shown' && !read.volunteersOnly) return sql`true`;
  if (read?.personal === 'own_grid' && viewer.scope?.kind === 'grid') return sql`${sql.ref(`${alias}.grid_id`)} = ${viewer.scope.id}`;
  return never;
}
