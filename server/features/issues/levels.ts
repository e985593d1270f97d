import { sql } from 'kysely';
import { inScope, type Place } from '../../access/policy.ts';
import { WALL_STAFF } from '../../access/rules.ts';
import type { Viewer } from '../../access/viewer.ts';

/**
 * The walls, one above the other, and who works which: a grid worker its grid's, community staff the
 * community's (and the grids' below), street or district staff the street's. Shared by the lifecycle and
 * by the issue resource's own edits.
 */

export const WALLS = ['grid', 'community', 'street'] as const;
export type Wall = (typeof WALLS)[number];

/** Where an issue sits: its grid, its community, or the street whose wall it is on when outside every community. */
export const ISSUE_PLACE: Place = { community: 'community_id', grid: 'grid_id', street: 'street_code' };

/** How high on the walls a viewer works: 1 a grid's, 2 a community's, 3 a street's (district staff too), 4 all (admins), 0 none. */
export function levelOf(viewer: Viewer): number {
  if (viewer.role === 'admin') return 4;
  if (!WALL_STAFF.includes(viewer.role) || !viewer.scope) return 0;
  return { grid: 1, community: 2, street: 3, district: 3 }[viewer.scope.kind];
}

export const wallLevel = (wall: string) => WALLS.indexOf(wall as Wall) + 1;

/** The wall of a level (the street's for those above it). */
export const wallAt = (level: number) => WALLS[Math.min(Math.max(level, 1), WALLS.length) - 1];

/** Whether `viewer`'s own scope (not the wider one a grid worker reads) holds issue `alias`. */
export const worksOn = (viewer: Viewer, alias: string) => (viewer.scope ? inScope(viewer.scope, ISSUE_PLACE, alias) : sql`true`);
