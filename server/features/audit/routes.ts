import { sql } from 'kysely';
import type { z } from 'zod';
import type { Database } from '../../db/database.ts';
import { invalidParameter } from '../../domain/errors.ts';
import { limitParameter, parameter, parseId, parseQueryValue, queryParameter } from '../../domain/params.ts';
import { origin } from '../../http/origin.ts';
import { route } from '../../http/route.ts';
import { AUDITED, auditAnswer } from './answers.ts';

function parseTime(value: unknown, field: string): string | undefined {
  const text = parseQueryValue(value, field, 'text') as string | undefined;
  if (text !== undefined && (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) || Number.isNaN(Date.parse(text)))) {
    throw invalidParameter(field, `${field} must be an ISO 8601 date or time, such as 2026-11-27 or 2026-11-27T08:00:00Z`);
  }
  return text;
}

const rowFilter = (field: 'row' | 'before') =>
  parameter((value) => (value === undefined ? undefined : parseId(value, field)), { schema: { type: 'integer' } });
const timeFilter = (field: 'from' | 'to') => parameter((value) => parseTime(value, field), { schema: { type: 'string' } });
const filters = {
  resource: parameter(
    (value) => {
      const resource = parseQueryValue(value, 'resource', 'text') as string | undefined;
      if (resource !== undefined && !(AUDITED as readonly string[]).includes(resource))
        throw invalidParameter('resource', `resource must be one of ${AUDITED.join(', ')}`);
      return resource;
    },
    { schema: { type: 'string' } },
  ),
  row: rowFilter('row'),
  user: queryParameter('user', 'text'),
  from: timeFilter('from'),
  to: timeFilter('to'),
  limit: limitParameter({ fallback: 100, max: 1000 }),
  before: rowFilter('before'),
};

/** An entry as the database writes it in JSON: its time to the microsecond, its rows before and after as stored. */
const ENTRY = sql<z.input<typeof auditAnswer>['entries'][number]>`
  json_build_object('id', id, 'at', at, 'user_id', user_id, 'username', username, 'request_id', request_id,
                    'action', action, 'resource', resource, 'row_id', row_id, 'before', before, 'after', after)`;

/**
 * GET /api/v1/audit: every recorded write, newest first, by resource (and row), user and time range;
 * `before` pages back. Each entry has who, when, what and the row before and after, geometry included.
 */
export const auditRoutes = (database: Database) => [
  route({
    method: 'GET',
    path: '/api/v1/audit',
    tags: ['accounts'],
    summary: 'The audit log: every write, newest first, with the row before and after',
    allow: { roles: ['admin'] },
    query: filters,
    answer: { schema: auditAnswer, description: '`{entries, links}`; follow the `next` link for older entries' },
    handle: async ({ req, query: { resource, row, user, from, to, limit, before } }) => {
      if (row !== undefined && resource === undefined) throw invalidParameter('row', 'row needs resource');
      const rows = await database.db
        .selectFrom('audit_log')
        .select(['id', ENTRY.as('entry')])
        .$if(resource !== undefined, (q) => q.where('resource', '=', resource!))
        .$if(row !== undefined, (q) => q.where('row_id', '=', row!))
        .$if(user !== undefined, (q) => q.where('username', '=', user!))
        .$if(from !== undefined, (q) => q.where('at', '>=', sql<Date>`${from}::timestamptz`))
        .$if(to !== undefined, (q) => q.where('at', '<', sql<Date>`${to}::timestamptz`))
        .$if(before !== undefined, (q) => q.where('id', '<', before!))
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
      const page = rows.slice(0, limit);
      const links = [];
      if (rows.length > limit) {
        const next = new URLSearchParams(req.query as Record<string, string>);
        next.set('before', String(page[page.length - 1].id));
        links.push({ rel: 'next' as const, href: `${origin(req)}/api/v1/audit?${next}` });
      }
      return { entries: page.map((r) => r.entry), links };
    },
  }),
];
