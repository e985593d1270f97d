import { sql, type Kysely, type RawBuilder } from 'kysely';
import { allOf, readable } from '../../access/policy.ts';
import type { Viewer } from '../../access/viewer.ts';
import type { DB } from '../../db/schema.ts';
import { DomainError } from '../../domain/errors.ts';
import { type Wall } from '../issues/levels.ts';
import { issues, OPEN_STATUSES, overdue } from '../issues/resource.ts';

/** Issues still on a wall: open, or resolved and waiting for their public answer. */
const ON_WALL = sql`(${sql.join([...OPEN_STATUSES, 'resolved'])})`;

export interface WallOwner {
  wall: Wall;
  id: number | string;
}

/** The grid, community or street a wall belongs to, with its name. */
const wallOwner = ({ wall, id }: WallOwner) =>
  wall === 'grid'
    ? sql`select id::text, name, code from grids where id = ${id}`
    : wall === 'community'
      ? sql`select id::text, name, code from communities where id = ${id}`
      : sql`select code as id, name, code from streets where code = ${id}`;

const onWall = ({ wall, id }: WallOwner): RawBuilder<unknown> =>
  wall === 'grid'
    ? sql`i.wall = 'grid' and i.grid_id = ${id}`
    : wall === 'community'
      ? sql`i.wall = 'community' and i.community_id = ${id}`
      : sql`i.wall = 'street' and i.street_code = ${id}`;

/**
 * A wall: the issues on it the viewer may read, as a FeatureCollection for the map and the list beside it,
 * oldest due first, overdue ones marked. Built as JSON in SQL; the server passes it through.
 */
export async function wallFeatures(db: Kysely<DB>, viewer: Viewer, owner: WallOwner, limit: number) {
  const {
    rows: [wall],
  } = await wallSql(viewer, owner, limit).execute(db);
  if (wall.body === null) throw new DomainError('wall.not_found', `No ${owner.wall} ${owner.id}`, { field: 'id' }, { id: owner.id });
  return wall.body;
}

/** The statement of a wall, null when its grid, community or street does not exist (also what the benchmark gives pgbench). */
export function wallSql(viewer: Viewer, owner: WallOwner, limit: number) {
  const visible = [readable('issues', issues.place, viewer, 'i')];
  return sql<{ body: string | null }>`
    with owner as (${wallOwner(owner)}), on_wall as (
      select i.*, ${overdue('i')} as overdue from issues i
      where ${onWall(owner)} and i.status in ${ON_WALL} and i.duplicate_of is null and ${allOf(visible)}
    ), shown as (select * from on_wall order by due_at, id limit ${limit})
    select (select json_build_object(
      'type', 'FeatureCollection',
      'wall', json_build_object('level', ${owner.wall}::text, 'id', o.id, 'name', o.name, 'code', o.code),
      'total', (select count(*) from on_wall),
      'overdue', (select count(*) from on_wall where overdue),
      'features', coalesce((select json_agg(json_build_object(
        'type', 'Feature', 'id', s.id, 'geometry', ST_AsGeoJSON(s.geom, 7)::json,
        'properties', json_build_object('title', s.title, 'category', s.category, 'status', s.status, 'wall', s.wall,
          'reported_at', s.reported_at, 'due_at', s.due_at, 'overdue', s.overdue, 'extended_hours', s.extended_hours,
          'reopen_count', s.reopen_count, 'grid_id', s.grid_id, 'community_id', s.community_id, 'street_code', s.street_code,
          'version', s.version)) order by s.due_at, s.id) from shown s), '[]'::json)
    )::text from owner o) as body`;
}

export interface EchoQuery {
  community?: number;
  grid?: number;
  street?: string;
  category?: string;
  limit: number;
  offset: number;
}

/**
 * The echo wall, public: answered issues with their answers and ratings, newest answer first. No personal
 * data: no reporter, no description nor title of the reporter's (a resident's words may name people: the
 * matter is named by the staff when they answer), no point (a problem at a door is a home); where it was is
 * said by its community and grid.
 */
export async function echoWall(db: Kysely<DB>, query: EchoQuery) {
  const answeredOnly = [sql`i.status in ('answered', 'rated', 'closed')`, sql`i.answer is not null`, sql`i.duplicate_of is null`];
  const where = [...answeredOnly];
  if (query.community !== undefined) where.push(sql`i.community_id = ${query.community}`);
  if (query.grid !== undefined) where.push(sql`i.grid_id = ${query.grid}`);
  if (query.street !== undefined) where.push(sql`i.street_code = ${query.street}`);
  if (query.category !== undefined) where.push(sql`i.category = ${query.category}`);
  const {
    rows: [echo],
  } = await sql<{ body: string }>`
    with answered as (select i.* from issues i where ${allOf(where)}),
    page as (select * from answered order by answered_at desc nulls last, id desc limit ${query.limit} offset ${query.offset})
    select json_build_object(
      'total', (select count(*) from answered),
      -- where answers are, for a filter anyone can use: community names are on every answer anyway
      'communities', coalesce((select json_agg(json_build_object('id', c.id, 'name', c.name) order by c.code) from communities c
                               where exists (select from issues i where i.community_id = c.id and ${allOf(answeredOnly)})), '[]'::json),
      'issues', coalesce((select json_agg(json_build_object(
        'id', p.id, 'title', coalesce(p.public_title, cat.name), 'category', p.category, 'category_name', cat.name, 'status', p.status,
        'community_id', p.community_id, 'community', c.name, 'grid', g.name, 'street_code', p.street_code,
        'reported_at', p.reported_at, 'resolved_at', p.resolved_at, 'answered_at', p.answered_at, 'answer', p.answer,
        'rating', case when p.status in ('rated', 'closed') then p.rating end,
        'answer_photos', (select count(*) from issue_photos ph where ph.issue_id = p.id and ph.kind = 'answer'))
        order by p.answered_at desc nulls last, p.id desc)
        from page p join issue_categories cat on cat.code = p.category
        left join communities c on c.id = p.community_id left join grids g on g.id = p.grid_id), '[]'::json)
    )::text as body`.execute(db);
  return echo.body;
}

export interface MetricsQuery {
  by: 'grid' | 'community';
  from: Date;
  to: Date;
  /** only the issues of this community (its grids, when by grid) or street */
  community?: number;
  street?: string;
}

/**
 * Measures of the walls per grid or community, over the issues reported in [from, to) that the viewer may
 * read (duplicates left out: a matter counts once):
 * - closure rate: closed / (reported − rejected);
 * - on-time rate: resolved by the due time (extensions included) / those resolved or already past due (not rejected);
 * - rework rate: reopened after an unsatisfied rating at least once / reported;
 * - extension rate: given more time at least once / reported;
 * - hours to close: from report to close, median and 90th percentile, of the closed;
 * - mean rating of those rated.
 */
export async function issueMetrics(db: Kysely<DB>, viewer: Viewer, query: MetricsQuery) {
  const {
    rows: [result],
  } = await issueMetricsSql(viewer, query).execute(db);
  return result.body;
}

/** The statement of the measures (also what the benchmark gives pgbench). */
export function issueMetricsSql(viewer: Viewer, query: MetricsQuery) {
  const visible = [readable('issues', issues.place, viewer, 'i')];
  const key = query.by === 'grid' ? sql`i.grid_id` : sql`i.community_id`;
  const within = [
    ...(query.community === undefined ? [] : [sql`i.community_id = ${query.community}`]),
    ...(query.street === undefined ? [] : [sql`i.street_code = ${query.street}`]),
  ];
  const names = query.by === 'grid' ? sql`left join grids a on a.id = m.area_id` : sql`left join communities a on a.id = m.area_id`;
  const measures = sql`
    count(*)::int as reported,
    count(*) filter (where status = 'closed')::int as closed,
    count(*) filter (where status = 'rejected')::int as rejected,
    count(*) filter (where status in (${sql.join([...OPEN_STATUSES])}))::int as open,
    count(*) filter (where ${overdue('i')})::int as overdue,
    round(count(*) filter (where status = 'closed')::numeric / nullif(count(*) filter (where status <> 'rejected'), 0), 4)::float8 as closure_rate,
    round(count(*) filter (where status <> 'rejected' and resolved_at <= due_at)::numeric / nullif(count(*) filter (where status <> 'rejected' and (resolved_at is not null or due_at < now())), 0), 4)::float8 as on_time_rate,
    round(count(*) filter (where reopen_count > 0)::numeric / nullif(count(*), 0), 4)::float8 as rework_rate,
    round(count(*) filter (where extended_hours > 0)::numeric / nullif(count(*), 0), 4)::float8 as extension_rate,
    round((percentile_cont(0.5) within group (order by extract(epoch from closed_at - reported_at) / 3600) filter (where status = 'closed'))::numeric, 2)::float8 as median_hours_to_close,
    round((percentile_cont(0.9) within group (order by extract(epoch from closed_at - reported_at) / 3600) filter (where status = 'closed'))::numeric, 2)::float8 as p90_hours_to_close,
    round(avg(rating), 2)::float8 as mean_rating,
    count(rating)::int as ratings`;
  // each area and the whole in one pass over the issues (grouping sets), the total being the empty set
  return sql<{ body: string }>`
    with m as (
      select grouping(${key}) = 1 as whole, ${key} as area_id, ${measures}
      from issues i
      where i.reported_at >= ${query.from} and i.reported_at < ${query.to} and i.duplicate_of is null and ${allOf([...within, ...visible])}
      group by grouping sets ((${key}), ())
    )
    select json_build_object(
      'by', ${query.by}::text, 'from', ${query.from}::timestamptz, 'to', ${query.to}::timestamptz,
      'areas', coalesce((select json_agg((to_jsonb(m) - 'whole') || jsonb_build_object('name', a.name, 'code', a.code) order by a.code nulls last)
                         from m ${names} where not m.whole), '[]'::json),
      -- the empty grouping set has its row even when no issue matched
      'total', (select to_jsonb(m) - 'whole' - 'area_id' from m where m.whole)
    )::text as body`;
}
