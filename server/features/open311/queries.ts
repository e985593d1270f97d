import { sql, type Kysely, type RawBuilder } from 'kysely';
import { allOf, readable } from '../../access/policy.ts';
import type { Viewer } from '../../access/viewer.ts';
import type { DB } from '../../db/schema.ts';
import { issues, OPEN_STATUSES } from '../issues/resource.ts';

/** The problem wall as GeoReport v2 reads it: categories as services, issues as service requests. */

export type Urgency = 'urgent' | 'general' | 'complex';
export interface CategoryRow {
  code: string;
  name: string;
  urgency: Urgency;
  due_hours: number;
}

/** The categories (one, when `code` is given), by code. */
export async function categories(db: Kysely<DB>, code?: string) {
  const { rows } = await sql<CategoryRow>`
    select code, name, urgency, due_hours from issue_categories ${code === undefined ? sql`` : sql`where code = ${code}`} order by code`.execute(
    db,
  );
  return rows;
}

/** When the services last changed: the discovery document's changeset, which tells clients to refresh them. */
export async function servicesChangedAt(db: Kysely<DB>) {
  const {
    rows: [row],
  } = await sql<{ changeset: string }>`select ${w3c(sql`max(updated_at)`)} as changeset from issue_categories`.execute(db);
  return row.changeset;
}

/** GeoReport's status: open while the issue waits for its wall's work; a duplicate is closed, followed in its original. */
export const OPEN311_STATUSES = ['open', 'closed'] as const;
export type Open311Status = (typeof OPEN311_STATUSES)[number];
const isOpen = sql`(i.status in (${sql.join([...OPEN_STATUSES])}) and i.duplicate_of is null)`;

/** A W3C datetime in UTC (2010-01-01T00:00:00Z), the form GeoReport requires. */
const w3c = (value: RawBuilder<unknown>) => sql<string>`to_char(${value} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;

/** Which requests to list: by id (which overrides the rest, as the spec says), or by services, statuses and a window of report times. */
export type RequestFilter = { ids: number[] } | { serviceCodes?: string[]; statuses?: Open311Status[]; from: Date; to: Date };

/** A page holds at most this many requests, newest first (GeoReport's default volume). */
export const MAX_REQUESTS = 1000;

/** A service request row: GeoReport's fields in its order, with the category's urgency and due hours for the notice. */
export interface ServiceRequestRow {
  service_request_id: string;
  status: Open311Status;
  status_notes: string | null;
  service_name: string;
  service_code: string;
  urgency: Urgency;
  due_hours: number;
  description: string | null;
  agency_responsible: string | null;
  requested_datetime: string;
  updated_datetime: string;
  expected_datetime: string | null;
  address: string | null;
  lat: number;
  long: number;
  media_url: string | null;
}

/**
 * Service requests, newest first. Everyone sees every issue's state, service, wall, times, place names and
 * public answer; the description, the media, staff's notes and the exact point only a caller who may read the issue (per the access
 * policy: its reporter, staff in scope). Anyone else gets the point rounded to 3 decimals (about 100 m): a
 * problem at a door is a home, and a resident's words may name people.
 */
export async function serviceRequests(db: Kysely<DB>, viewer: Viewer | undefined, filter: RequestFilter) {
  const visible = viewer ? readable('issues', issues.place, viewer, 'i') : sql`false`;
  const shown = sql`coalesce(${visible}, false)`;
  const coordinate = (value: RawBuilder<unknown>) => sql`case when ${shown} then ${value} else round(${value}::numeric, 3)::float8 end`;
  const where =
    'ids' in filter
      ? [sql`i.id in (${sql.join(filter.ids)})`]
      : [
          sql`i.reported_at between ${filter.from} and ${filter.to}`,
          ...(filter.serviceCodes ? [sql`i.category in (${sql.join(filter.serviceCodes)})`] : []),
          // open and closed together are everything
          ...(filter.statuses?.length === 1 ? [filter.statuses[0] === 'open' ? isOpen : sql`not ${isOpen}`] : []),
        ];
  const { rows } = await sql<ServiceRequestRow>`
    select i.id::text as service_request_id,
      case when ${isOpen} then 'open' else 'closed' end as status,
      case
        when i.duplicate_of is not null then '与请求 ' || i.duplicate_of || ' 为同一事项，请关注该请求'
        -- the public answer of the echo wall
        when i.status in ('answered', 'rated', 'closed') and i.answer is not null then i.answer
        -- taken up again after an unsatisfied rating, whose comment is the resident's own words
        when i.status = 'reopened' then '评价不满意，重新办理'
        -- why it came to its state: the note of that step (a reason to escalate or reject, what was done), staff's
        -- working words, for those who may read the issue (the public reads the answer)
        when ${shown} then (select s.note from issue_steps s where s.issue_id = i.id and s.to_status = i.status and s.action not in ('move', 'rate')
              order by s.id desc limit 1)
      end as status_notes,
      cat.name as service_name, i.category as service_code, cat.urgency, cat.due_hours,
      case when ${shown} then coalesce(i.description, i.title) end as description,
      case i.wall when 'grid' then '网格 ' || g.name when 'community' then '社区 ' || c.name else '街道 ' || coalesce(st.name, i.street_code) end
        as agency_responsible,
      ${w3c(sql`i.reported_at`)} as requested_datetime, ${w3c(sql`i.updated_at`)} as updated_datetime,
      ${w3c(sql`i.due_at`)} as expected_datetime,
      nullif(concat_ws(', ', g.name, c.name, st.name, d.name), '') as address,
      ${coordinate(sql`ST_Y(i.geom)`)} as lat, ${coordinate(sql`ST_X(i.geom)`)} as long,
      case when ${shown} then i.media_url end as media_url
    from issues i join issue_categories cat on cat.code = i.category
      left join grids g on g.id = i.grid_id left join communities c on c.id = i.community_id left join streets st on st.code = i.street_code left join districts d on d.code = st.district_code
    where ${allOf(where)}
    order by i.reported_at desc, i.id desc limit ${MAX_REQUESTS}`.execute(db);
  return rows;
}
