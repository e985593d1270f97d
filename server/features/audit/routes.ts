import { Router } from 'express';
import { sql, type RawBuilder } from 'kysely';
import { allOf } from '../../access/policy.ts';
import type { Database } from '../../db/database.ts';
import { invalidParameter } from '../../domain/errors.ts';
import { parseId, parseLimit, parseQueryValue } from '../../domain/params.ts';
import { origin } from '../../http/origin.ts';

const AUDITED = ['districts', 'streets', 'communities', 'grids', 'buildings', 'members', 'units', 'issues', 'users', 'open311_keys', 'issue_categories', 'issue_extensions', 'issue_photos', 'monthly_matters'];
const FILTERS = ['resource', 'row', 'user', 'from', 'to', 'limit', 'before'];

function parseTime(value: unknown, field: string): string | undefined {
  const text = parseQueryValue(value, field, 'text') as string | undefined;
  if (text !== undefined && (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) || Number.isNaN(Date.parse(text)))) {
    throw invalidParameter(field, `${field} must be an ISO 8601 date or time, such as 2026-11-27 or 2026-11-27T08:00:00Z`);
  }
  return text;
}

/**
 * GET /api/v1/audit: every recorded write, newest first, by resource (and row), user and time range;
 * `before` pages back. Each entry has who, when, what and the row before and after, geometry included.
 */
export function auditRoutes(database: Database) {
  return Router().get('/api/v1/audit', async (req, res) => {
    const unknown = Object.keys(req.query).find((key) => !FILTERS.includes(key));
    if (unknown) throw invalidParameter(unknown, `${unknown} is not a filter of the audit log; use ${FILTERS.join(', ')}`);
    const resource = parseQueryValue(req.query.resource, 'resource', 'text') as string | undefined;
    if (resource !== undefined && !AUDITED.includes(resource)) throw invalidParameter('resource', `resource must be one of ${AUDITED.join(', ')}`);
    const row = req.query.row === undefined ? undefined : parseId(req.query.row, 'row');
    if (row !== undefined && resource === undefined) throw invalidParameter('row', 'row needs resource');
    const user = parseQueryValue(req.query.user, 'user', 'text') as string | undefined;
    const from = parseTime(req.query.from, 'from');
    const to = parseTime(req.query.to, 'to');
    const limit = parseLimit(req.query.limit, { fallback: 100, max: 1000 });
    const before = req.query.before === undefined ? undefined : parseId(req.query.before, 'before');

    const conditions: RawBuilder<unknown>[] = [];
    if (resource !== undefined) conditions.push(sql`resource = ${resource}`);
    if (row !== undefined) conditions.push(sql`row_id = ${row}`);
    if (user !== undefined) conditions.push(sql`username = ${user}`);
    if (from !== undefined) conditions.push(sql`at >= ${from}::timestamptz`);
    if (to !== undefined) conditions.push(sql`at < ${to}::timestamptz`);
    if (before !== undefined) conditions.push(sql`id < ${before}`);
    const { rows } = await sql<{ id: number; entry: unknown }>`
      select id, json_build_object('id', id, 'at', at, 'user_id', user_id, 'username', username, 'request_id', request_id,
                                   'action', action, 'resource', resource, 'row_id', row_id, 'before', before, 'after', after) as entry
      from audit_log where ${allOf(conditions)}
      order by id desc limit ${limit + 1}`.execute(database.db);
    const page = rows.slice(0, limit);
    const links = [];
    if (rows.length > limit) {
      const next = new URLSearchParams(req.query as Record<string, string>);
      next.set('before', String(page[page.length - 1].id));
      links.push({ rel: 'next', href: `${origin(req)}/api/v1/audit?${next}` });
    }
    res.json({ entries: page.map((r) => r.entry), links });
  });
}
