import { sql } from 'kysely';
import type { Database } from '../../db/database.ts';
import { codeParameter, parameter, parseQueryValue, queryParameter, timeParameter } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import { COVERAGE_READERS } from '../../access/rules.ts';
import type { Viewer } from '../../access/viewer.ts';
import { jsonText, route, type Parameters as Declared } from '../../http/route.ts';
import { areaCoverage, communityCoverage, gaps, gridCoverage } from './answers.ts';
import {
  countsAllMembers,
  coverageCollection,
  coverageGaps,
  DEFAULT_REACH_M,
  REACH_BANDS_M,
  reachFor,
  type CoverageFilter,
  type CoverageLevel,
} from './queries.ts';

/** reach_cap_m() in sql/schema/09_reach.sql: building_reach keeps the nearest volunteer this close. */
export const MAX_REACH_M = 5000;

const reach_m = parameter(
  (value) => {
    const reach = (parseQueryValue(value, 'reach_m', 'integer') as number | undefined) ?? DEFAULT_REACH_M;
    if (reach < 1 || reach > MAX_REACH_M) throw invalidParameter('reach_m', `reach_m must be from 1 to ${MAX_REACH_M} metres`);
    return reach;
  },
  {
    schema: { type: 'integer', minimum: 1, maximum: MAX_REACH_M, default: DEFAULT_REACH_M },
    description: `Metres. Answered as asked for those who see every volunteer where it is (admins, unscoped dispatchers); for others at the band at or below it (${REACH_BANDS_M.join(', ')}), as the answer's reach_m says.`,
  },
);
const geometry = parameter(
  (value) => {
    const given = parseQueryValue(value, 'geometry', 'text') ?? 'full';
    if (given !== 'full' && given !== 'none') throw invalidParameter('geometry', 'geometry must be full or none');
    return given === 'full';
  },
  {
    schema: { type: 'string', enum: ['full', 'none'], default: 'full' },
    description: "none: each area's figures and box (`bbox`) without its geometry, for a map that draws the areas from their tiles",
  },
);
const community = queryParameter('community', 'integer');
const street = codeParameter('street', 9);
const district = codeParameter('district', 6);
const window = { from: timeParameter('from'), to: timeParameter('to') };

const METRICS =
  'Per area: households, residents, buildings, residential_buildings, party_group_buildings, party_group_share, members (and by category: members_in_service, members_retired, members_floating, members_resident), volunteers, volunteers_available, central_households, members_per_100_households, volunteers_per_100_households, households_reached and volunteer_reach (households within reach_m of an available volunteer / households), open_issues, overdue_issues, closed_issues, closure_rate, median_days_to_close (issues reported in [from, to) when given).';
const tags = ['coverage'];
const problems = { 400: 'a bad parameter', 404: 'no such community, street or district' };

const areaDescription = (level: 'street' | 'district') =>
  `${METRICS} Counted again over the area (counts are its communities' sums; rates and the median are the area's own, not averages); also communities${level === 'district' ? ' and streets' : ''} held. Where the caller does not read every one of its communities, figures_withheld is true and every figure null (they, less the caller's own, would be figures of communities it may not read).`;

/** The filter, its community or street known (404 naming it, not an empty answer that reads as "none"). */
async function knownFilter(db: Database['db'], filter: CoverageFilter): Promise<CoverageFilter> {
  const {
    rows: [known],
  } = await sql<{ community: boolean; street: boolean; district: boolean }>`
    select ${filter.community ?? null}::int is null or exists (select from communities where id = ${filter.community ?? null}::int) as community,
           ${filter.street ?? null}::text is null or exists (select from streets where code = ${filter.street ?? null}::text) as street,
           ${filter.district ?? null}::text is null or exists (select from districts where code = ${filter.district ?? null}::text) as district`.execute(
    db,
  );
  if (!known.community)
    throw new DomainError(
      'community.not_found',
      `No community ${filter.community}`,
      { field: 'community' },
      { id: filter.community ?? null },
    );
  if (!known.street)
    throw new DomainError('street.not_found', `No street ${filter.street}`, { field: 'street' }, { id: filter.street ?? null });
  if (!known.district)
    throw new DomainError('district.not_found', `No district ${filter.district}`, { field: 'district' }, { id: filter.district ?? null });
  return filter;
}

type CoverageQuery = CoverageFilter & { reach_m: number; geometry: boolean; from?: Date; to?: Date };

/** Coverage of one level's areas in the caller's scope, over issues reported in [from, to). */
async function coverage(db: Database['db'], level: CoverageLevel, viewer: Viewer, query: CoverageQuery) {
  const { reach_m: reachM, geometry: withGeometry, from, to, ...filter } = query;
  if (from && to && from >= to) throw invalidParameter('from', 'from must be before to');
  return coverageCollection(db, level, viewer, await knownFilter(db, filter), {
    reachM: reachFor(viewer, reachM),
    viewer,
    allMembers: countsAllMembers(viewer),
    from,
    to,
    geometry: withGeometry,
  });
}

/** Coverage per street or per district: what is linked to its communities, counted again over the area. */
const areaRoute = <const L extends 'street' | 'district', Q extends Declared & { reach_m: typeof reach_m }>(
  db: Database['db'],
  level: L,
  query: Q,
) =>
  route({
    method: 'GET',
    path: `/api/v1/coverage/${level}s` as const,
    tags,
    summary: `Coverage per ${level}: what is linked to its communities`,
    description: areaDescription(level),
    allow: { resource: `${level}s`, action: 'read', roles: COVERAGE_READERS },
    query,
    answer: { type: 'application/geo+json', schema: areaCoverage, description: `the ${level}s with their metrics` },
    problems,
    handle: async ({ viewer, query }) => jsonText(await coverage(db, level, viewer, query as CoverageQuery)),
  });

/** What leaders watch: coverage per grid, community, street and district, and the buildings no volunteer reaches. */
export const coverageRoutes = ({ db }: Database) => [
  route({
    method: 'GET',
    path: '/api/v1/coverage/grids',
    tags,
    summary: 'Coverage per grid',
    description: `${METRICS} Grids also: household_band (below, within, above the community's band_min–band_max).`,
    allow: { resource: 'grids', action: 'read', roles: COVERAGE_READERS },
    query: { community, street, reach_m, geometry, ...window },
    answer: { type: 'application/geo+json', schema: gridCoverage, description: 'the grids with their metrics' },
    problems,
    handle: async ({ viewer, query }) => jsonText(await coverage(db, 'grid', viewer, query)),
  }),
  route({
    method: 'GET',
    path: '/api/v1/coverage/communities',
    tags,
    summary: 'Coverage per community, with the staffing standard and the balance of its grids',
    description: `${METRICS} Communities also: staff_count, people_served, staff_required_min and staff_required_max (1,000–3,000 households or 3,000–10,000 people: 20–25 staff; 2 more for every further 1,000–1,500 people), staffing (short, within, over, unknown), grids, grid_households_lowest, grid_households_highest, grid_households_stddev, grids_below_band, grids_above_band.`,
    allow: { resource: 'communities', action: 'read', roles: COVERAGE_READERS },
    query: { street, community, reach_m, geometry, ...window },
    answer: { type: 'application/geo+json', schema: communityCoverage, description: 'the communities with their metrics' },
    problems,
    handle: async ({ viewer, query }) => jsonText(await coverage(db, 'community', viewer, query)),
  }),
  areaRoute(db, 'street', { district, street, reach_m, geometry, ...window }),
  areaRoute(db, 'district', { district, reach_m, geometry, ...window }),
  route({
    method: 'GET',
    path: '/api/v1/coverage/gaps',
    tags,
    summary: 'Buildings whose households have no available volunteer within reach',
    description: `Each with the distance to the nearest available volunteer: nearest_volunteer_m to the decimetre where the caller may see where that volunteer is, else nearest_volunteer_over_m, the band it is beyond (${REACH_BANDS_M.join(', ')} m; ${MAX_REACH_M} when none is nearer), furthest first. community or street is required.`,
    allow: { resource: 'buildings', action: 'read', roles: COVERAGE_READERS },
    query: { community: queryParameter('community', 'integer', { required: true, example: 1 }), street, reach_m },
    answer: { type: 'application/geo+json', schema: gaps, description: 'the buildings out of reach, with `households` in all' },
    problems,
    handle: async ({ viewer, query: { reach_m: reachM, ...filter } }) => {
      if (filter.community === undefined && filter.street === undefined) {
        throw invalidParameter('community', 'community (or street) is required: gaps are listed per community');
      }
      return jsonText(await coverageGaps(db, viewer, await knownFilter(db, filter), reachFor(viewer, reachM)));
    },
  }),
];
