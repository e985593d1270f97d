import { Router, type Request } from 'express';
import { sql } from 'kysely';
import type { Database } from '../../db/database.ts';
import { onlyParameters, parseQueryValue, parseTime } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import { countsAllMembers, coverageCollection, coverageGaps, DEFAULT_REACH_M, type CoverageFilter, type CoverageOptions } from './queries.ts';

export const MAX_REACH_M = 5000;

function parseReach(req: Request) {
  const reach = parseQueryValue(req.query.reach_m, 'reach_m', 'integer') as number | undefined ?? DEFAULT_REACH_M;
  if (reach < 1 || reach > MAX_REACH_M) throw invalidParameter('reach_m', `reach_m must be from 1 to ${MAX_REACH_M} metres`);
  return reach;
}

function parseFilter(req: Request): CoverageFilter {
  const street = parseQueryValue(req.query.street, 'street', 'text') as string | undefined;
  if (street !== undefined && !/^\d{9}$/.test(street)) throw invalidParameter('street', 'a street code is 9 digits');
  const district = parseQueryValue(req.query.district, 'district', 'text') as string | undefined;
  if (district !== undefined && !/^\d{6}$/.test(district)) throw invalidParameter('district', 'a district code is 6 digits');
  return { community: parseQueryValue(req.query.community, 'community', 'integer') as number | undefined, street, district };
}

function parseOptions(req: Request): CoverageOptions {
  const from = parseTime(req.query.from, 'from');
  const to = parseTime(req.query.to, 'to');
  if (from && to && from >= to) throw invalidParameter('from', 'from must be before to');
  return { reachM: parseReach(req), viewer: req.viewer!, allMembers: countsAllMembers(req.viewer!), from, to };
}

/** The filter, its community or street known (404 naming it, not an empty answer that reads as "none"). */
async function knownFilter(db: Database['db'], req: Request): Promise<CoverageFilter> {
  const filter = parseFilter(req);
  const { rows: [known] } = await sql<{ community: boolean; street: boolean; district: boolean }>`
    select ${filter.community ?? null}::int is null or exists (select from communities where id = ${filter.community ?? null}::int) as community,
           ${filter.street ?? null}::text is null or exists (select from streets where code = ${filter.street ?? null}::text) as street,
           ${filter.district ?? null}::text is null or exists (select from districts where code = ${filter.district ?? null}::text) as district`.execute(db);
  if (!known.community) throw new DomainError('community.not_found', `No community ${filter.community}`, { field: 'community' });
  if (!known.street) throw new DomainError('street.not_found', `No street ${filter.street}`, { field: 'street' });
  if (!known.district) throw new DomainError('district.not_found', `No district ${filter.district}`, { field: 'district' });
  return filter;
}

/** What leaders watch: coverage per grid, community, street and district, and the buildings no volunteer reaches. */
export function coverageRoutes({ db }: Database) {
  return Router()
    .get('/api/v1/coverage/grids', async (req, res) => {
      onlyParameters(req, ['community', 'street', 'reach_m', 'from', 'to']);
      res.type('application/geo+json').send(await coverageCollection(db, 'grid', req.viewer!, await knownFilter(db, req), parseOptions(req)));
    })
    .get('/api/v1/coverage/communities', async (req, res) => {
      onlyParameters(req, ['street', 'community', 'reach_m', 'from', 'to']);
      res.type('application/geo+json').send(await coverageCollection(db, 'community', req.viewer!, await knownFilter(db, req), parseOptions(req)));
    })
    .get('/api/v1/coverage/streets', async (req, res) => {
      onlyParameters(req, ['district', 'street', 'reach_m', 'from', 'to']);
      res.type('application/geo+json').send(await coverageCollection(db, 'street', req.viewer!, await knownFilter(db, req), parseOptions(req)));
    })
    .get('/api/v1/coverage/districts', async (req, res) => {
      onlyParameters(req, ['district', 'reach_m', 'from', 'to']);
      res.type('application/geo+json').send(await coverageCollection(db, 'district', req.viewer!, await knownFilter(db, req), parseOptions(req)));
    })
    .get('/api/v1/coverage/gaps', async (req, res) => {
      onlyParameters(req, ['community', 'street', 'reach_m']);
      const filter = await knownFilter(db, req);
      if (filter.community === undefined && filter.street === undefined) {
        throw invalidParameter('community', 'community (or street) is required: gaps are listed per community');
      }
      res.type('application/geo+json').send(await coverageGaps(db, req.viewer!, filter, parseReach(req)));
    });
}
