import type { LineString, Polygon } from 'geojson';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { apiFetch } from '../../api.ts';
import type { HouseholdBand } from '../coverage/metrics.ts';
import { problemFrom, ProblemError } from './problems.ts';

/** A GET of the planning API: a refusal is thrown as its problem, to be said in the planner's language. */
export async function getPlanJson<T>(url: string): Promise<T> {
  const response = await apiFetch(url);
  if (!response.ok) throw new ProblemError(await problemFrom(response));
  return response.json() as Promise<T>;
}

/** What a planning operation does (dry run) or did (saved): the answer of every planning call, as the server declares it. */
export type ImpactReport = ApiAnswer<'POST /api/v1/grids/:id/redraw'>;
/** in a dry run a created grid's id is provisional: it means something only inside its report */
export type ImpactGrid = ImpactReport['grids'][number];
/** A grid's people and problems, before or after a change, as the planning API counts them. */
export type GridCounts = NonNullable<ImpactGrid['before']>;

/**
 * A change the planner is weighing: the call that makes it, and the grid versions it was made against (sent as
 * If-Match where the call takes one; on a 412 the panel shows what changed since). The same call answers the
 * dry run and, with a note, saves.
 */
export interface Proposal {
  url: string;
  body: Record<string, unknown>;
  /** If-Match: the version of the one grid the call is about (redraw, split, revert) */
  ifMatch?: number;
  /** the grids it was made against, with the versions seen */
  basis: { id: number; version: number }[];
  /** the dry run, when the call that proposed it answered one already (a suggested draft) */
  known?: ImpactReport;
  /** the call takes the other grids' versions the dry run showed (`versions`): a save refuses if one changed since */
  neighbours?: boolean;
}

/** The grid moved on since it was loaded: the save was refused with 412. */
export class StaleEdit extends ProblemError {}

/** The grids a dry run showed changing, other than those the proposal names, at the versions it saw them. */
export const neighbourVersions = (proposal: Proposal, seen: ImpactReport) =>
  seen.grids
    .filter((g) => g.version !== null && !proposal.basis.some((b) => b.id === g.id))
    .map((g) => ({ id: g.id, version: g.version! }));

/** Runs a proposal: a dry run, or the save with the planner's note, of what the dry run `seen` showed. */
export async function runProposal(
  proposal: Proposal,
  save: { note: string; seen: ImpactReport } | null,
  signal?: AbortSignal,
): Promise<ImpactReport> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (save && proposal.ifMatch !== undefined) headers['If-Match'] = `"${proposal.ifMatch}"`;
  const body = save
    ? {
        ...proposal.body,
        dryRun: false,
        note: save.note,
        ...(proposal.neighbours ? { versions: neighbourVersions(proposal, save.seen) } : {}),
      }
    : { ...proposal.body, dryRun: true };
  const response = await apiFetch(proposal.url, { method: 'POST', headers, body: JSON.stringify(body), signal });
  if (response.status === 412) throw new StaleEdit(await problemFrom(response));
  if (!response.ok) throw new ProblemError(await problemFrom(response));
  return response.json() as Promise<ImpactReport>;
}

export type GridVersion = ApiAnswer<'GET /api/v1/grids/:id/history'>['versions'][number];

export const gridHistory = (id: number) => getPlanJson<ApiAnswer<'GET /api/v1/grids/:id/history'>>(`/api/v1/grids/${id}/history`);

type Grid = ApiAnswer<'GET /api/v1/grids/:id'>;
/** A grid as the planner's map holds it: its shape and version, with its households against the band. */
export type PlanGrid = Omit<Grid, 'properties'> & {
  properties: Pick<Grid['properties'], 'code' | 'name' | 'version'> & { households: number | null; band: HouseholdBand | null };
};
export type Community = ApiAnswer<'GET /api/v1/communities/:id'>;

/** The community's grids as they stood at a moment (ISO date-time with its zone; a bare YYYY-MM-DD: the end of that UTC day). */
export const gridsAt = (community: number, at: string) =>
  getPlanJson<ApiAnswer<'GET /api/v1/communities/:id/grids'>>(`/api/v1/communities/${community}/grids?at=${encodeURIComponent(at)}`);

/** A suggested division: the draft's grids (grid_id null: a new grid), its households' spread, and the impact of saving it. */
export type Suggestion = ApiAnswer<'POST /api/v1/communities/:id/suggest-grids'>;
export type DraftProperties = Suggestion['draft']['features'][number]['properties'];

export async function suggestGrids(community: number, count: number): Promise<Suggestion> {
  const response = await apiFetch(`/api/v1/communities/${community}/suggest-grids`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ count }),
  });
  if (!response.ok) throw new ProblemError(await problemFrom(response));
  return response.json() as Promise<Suggestion>;
}

/**
 * Saving a draft as the community's plan: each draft grid matched to an existing one redraws it (at the
 * version seen), the others are new, and the existing grids no draft grid matches are removed.
 */
export function draftPlan(community: number, suggestion: Suggestion, grids: PlanGrid[]): Proposal {
  const kept = new Set(suggestion.draft.features.map((f) => f.properties.grid_id).filter((id) => id !== null));
  const versionOf = new Map(grids.map((g) => [g.id, g.properties.version]));
  const planned = [
    // a new grid has no name yet (null, which the plan refuses): the server names it by its code
    ...suggestion.draft.features.map(({ geometry, properties: { grid_id, name } }) =>
      grid_id === null ? { geometry } : { id: grid_id, version: versionOf.get(grid_id), geometry, name },
    ),
    ...grids.filter((g) => !kept.has(g.id)).map((g) => ({ id: g.id, version: g.properties.version, geometry: null })),
  ];
  return {
    url: `/api/v1/communities/${community}/plan`,
    body: { grids: planned },
    basis: grids.map((g) => ({ id: g.id, version: g.properties.version })),
    known: suggestion.impact,
  };
}

export const redraw = (grid: PlanGrid, geometry: Polygon, adjustNeighbours: boolean): Proposal => ({
  url: `/api/v1/grids/${grid.id}/redraw`,
  body: { geometry, adjustNeighbours },
  ifMatch: grid.properties.version,
  basis: [{ id: grid.id, version: grid.properties.version }],
  neighbours: true,
});

export const split = (grid: PlanGrid, line: LineString): Proposal => ({
  url: `/api/v1/grids/${grid.id}/split`,
  body: { line },
  ifMatch: grid.properties.version,
  basis: [{ id: grid.id, version: grid.properties.version }],
});

export const merge = (grids: PlanGrid[]): Proposal => {
  const basis = grids.map((g) => ({ id: g.id, version: g.properties.version }));
  return { url: '/api/v1/grids/merge', body: { grids: basis }, basis };
};

export const create = (community: number, geometry: Polygon, name: string): Proposal => ({
  url: `/api/v1/communities/${community}/grids`,
  body: { geometry, properties: { name } },
  basis: [],
  neighbours: true,
});

export const revert = (grid: PlanGrid, version: number, adjustNeighbours: boolean): Proposal => ({
  url: `/api/v1/grids/${grid.id}/revert`,
  body: { version, adjustNeighbours },
  ifMatch: grid.properties.version,
  basis: [{ id: grid.id, version: grid.properties.version }],
  neighbours: true,
});

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Today in the browser's own time zone, as a date input takes it (YYYY-MM-DD). */
export function localToday(now = new Date()): string {
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/**
 * The last moment of a day (YYYY-MM-DD) in the browser's time zone, with its offset as it was that day
 * (2026-11-01T23:59:59.999+08:00): what "the grids on that date" means to the planner, wherever the server is.
 */
export function endOfLocalDay(date: string): string {
  const [year, month, day] = date.split('-').map(Number);
  const offset = -new Date(year, month - 1, day, 23, 59, 59, 999).getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  return `${date}T23:59:59.999${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
}

/** Whether two polygons are the same shape to the API's precision (7 decimals): the same vertices in the same order. */
export function sameShape(a: Polygon, b: Polygon): boolean {
  return (
    a.coordinates.length === b.coordinates.length &&
    a.coordinates.every((ring, r) => {
      const other = b.coordinates[r];
      return (
        ring.length === other.length && ring.every((p, i) => Math.abs(p[0] - other[i][0]) < 5e-8 && Math.abs(p[1] - other[i][1]) < 5e-8)
      );
    })
  );
}
