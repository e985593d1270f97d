import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { z } from 'zod';
import { allOf, inScope, personalShown, readable } from '../../access/policy.ts';
import { DISPATCHERS } from '../../access/rules.ts';
import type { Viewer } from '../../access/viewer.ts';
import { actAs, beginIssueWrites, type Actor } from '../../db/actor.ts';
import type { DB } from '../../db/schema.ts';
import type { Geometry } from '../../domain/geojson.ts';
import { DomainError } from '../../domain/errors.ts';
import { findUsers, viewerOf } from '../accounts/queries.ts';
import { issues, OPEN_STATUSES } from '../issues/resource.ts';
import { nearestVolunteers } from '../volunteers/nearest.ts';
import type { dispatch } from './answers.ts';

/**
 * Dispatching: a request asks the k nearest askable volunteers at an issue's point; each answers. A decline
 * or a timeout passes the offer to the next nearest not yet asked (with the same skills, within the scope of
 * the dispatcher who asked); the first to accept is assigned and the other offers are withdrawn. The
 * database keeps the rest (sql/008_dispatch.sql): one offer per volunteer at a time, one assignment per
 * issue, every step recorded, busy while assigned, events for open consoles.
 */

export const DISPATCH_ACTIONS = ['accept', 'decline', 'arrive', 'finish', 'cancel'] as const;
export type DispatchAction = (typeof DISPATCH_ACTIONS)[number];

/** What each action does to a dispatch: the states it may start from, and the one it ends in. */
const TRANSITIONS: Record<DispatchAction, { from: string[]; to: string }> = {
  accept: { from: ['offered'], to: 'accepted' },
  decline: { from: ['offered'], to: 'declined' },
  arrive: { from: ['accepted'], to: 'arrived' },
  finish: { from: ['accepted', 'arrived'], to: 'finished' },
  cancel: { from: ['accepted', 'arrived'], to: 'cancelled' },
};

interface RequestRow {
  id: number;
  issue_id: number;
  k: number;
  skills: string[];
  timeout_s: number;
  requested_by: number | null;
  state: 'open' | 'assigned' | 'done' | 'cancelled';
}

/** Every dispatch transaction starts here; the offer timer acts as 'timer'. */
const begin = (trx: Transaction<DB>, actor: Actor | null) => beginIssueWrites(trx, actor ?? { username: 'timer' });

/**
 * Where a viewer dispatches: issues in its own scope (a grid worker reads its community, and dispatches in
 * its grid only).
 */
const dispatchable = (viewer: Viewer, alias: string) => (viewer.scope ? inScope(viewer.scope, issues.place, alias) : sql`true`);

/** The issue, when the viewer may dispatch it: 404 when there is none, 403 when it lies outside. */
async function dispatchableIssue(trx: Transaction<DB>, viewer: Viewer, id: number) {
  const { rows } = await sql<{ id: number; status: string; inside: boolean }>`
    select i.id, i.status, coalesce(${dispatchable(viewer, 'i')}, false) as inside from issues i where i.id = ${id}`.execute(trx);
  if (!rows[0]) throw new DomainError('issue.not_found', `No issue ${id}`, { field: 'id' }, { id });
  if (!rows[0].inside)
    throw new DomainError('access.outside_scope', `issue ${id} lies outside the scope a ${viewer.role} dispatches in`, { field: 'id' });
  return rows[0];
}

/**
 * Offers the request's issue to as many more volunteers as it lacks (k open offers while nobody has
 * accepted), nearest first among those not yet asked, within `viewer`'s view. A volunteer another
 * transaction just asked is skipped by the unique index, and the next one taken.
 */
async function topUp(trx: Transaction<DB>, request: RequestRow, viewer: Viewer) {
  if (request.state !== 'open') return 0;
  const {
    rows: [{ open, lon, lat }],
  } = await sql<{ open: number; lon: number; lat: number }>`
    select (select count(*) from dispatches where request_id = ${request.id} and state = 'offered')::int as open,
           ST_X(geom) as lon, ST_Y(geom) as lat
    from issues where id = ${request.issue_id}`.execute(trx);
  let wanted = request.k - open;
  let offered = 0;
  for (let round = 0; wanted > 0 && round < 5; round++) {
    const { features } = await nearestVolunteers(trx, { lon, lat, k: wanted, skills: request.skills, notAskedIn: request.id }, viewer);
    if (features.length === 0) break;
    for (const volunteer of features) {
      const { rows } = await sql`
        insert into dispatches (request_id, issue_id, volunteer_id, rank, distance_m, expires_at)
        values (${request.id}, ${request.issue_id}, ${volunteer.id},
                (select coalesce(max(rank), 0) + 1 from dispatches where issue_id = ${request.issue_id}),
                ${volunteer.properties.distance_m}, now() + make_interval(secs => ${request.timeout_s}))
        on conflict do nothing returning id`.execute(trx);
      offered += rows.length;
      wanted -= rows.length;
    }
  }
  return offered;
}

const requestColumns = sql`id, issue_id, k, skills, timeout_s, requested_by, state`;

async function requestOf(db: Kysely<DB>, id: number) {
  const { rows } = await sql<RequestRow>`select ${requestColumns} from dispatch_requests where id = ${id}`.execute(db);
  return rows[0];
}

/**
 * The cascade: open requests among `ids` short of offers ask the next nearest, within the scope of the
 * dispatcher who asked (never wider: whoever's answer set it off), while that account is enabled.
 */
async function passOn(trx: Transaction<DB>, ids: number[]) {
  let offered = 0;
  for (const id of new Set(ids)) {
    const request = await requestOf(trx, id);
    if (request.state !== 'open' || request.requested_by === null) continue;
    const [user] = await findUsers(trx, { id: request.requested_by });
    if (user && !user.disabled) offered += await topUp(trx, request, viewerOf(user));
  }
  return offered;
}

export interface DispatchInput {
  k: number;
  skills: string[];
  timeoutS: number;
}

/** POST /issues/:id/dispatch: a new request for the issue and its first offers. */
export async function dispatchIssue(db: Kysely<DB>, viewer: Viewer, actor: Actor, issueId: number, input: DispatchInput) {
  const requestId = await db.transaction().execute(async (trx) => {
    await begin(trx, actor);
    const issue = await dispatchableIssue(trx, viewer, issueId);
    if (!(OPEN_STATUSES as readonly string[]).includes(issue.status))
      throw new DomainError('dispatch.issue_settled', `issue ${issueId} is ${issue.status}: there is nothing to dispatch`, { field: 'id' });
    const {
      rows: [active],
    } = await sql<{ id: number; state: string }>`
      select id, state from dispatch_requests where issue_id = ${issueId} and state in ('open', 'assigned')`.execute(trx);
    if (active) {
      throw new DomainError(
        'dispatch.already_dispatched',
        `issue ${issueId} has dispatch request ${active.id} (${active.state}); cancel it first`,
        { field: 'id', request_id: active.id },
      );
    }
    const {
      rows: [request],
    } = await sql<RequestRow>`
      insert into dispatch_requests (issue_id, k, skills, timeout_s, requested_by)
      values (${issueId}, ${input.k}, string_to_array(${input.skills.join(',')}, ','), ${input.timeoutS}, ${viewer.id})
      returning ${requestColumns}`.execute(trx);
    await topUp(trx, request, viewer);
    return request.id;
  });
  return (await issueDispatches(db, viewer, issueId)).requests.find((r) => r.id === requestId)!;
}

/** DELETE /issues/:id/dispatch: the issue's request ends; open offers are withdrawn, an assignment cancelled. */
export async function cancelRequest(db: Kysely<DB>, viewer: Viewer, actor: Actor, issueId: number) {
  await db.transaction().execute(async (trx) => {
    await begin(trx, actor);
    await dispatchableIssue(trx, viewer, issueId);
    const {
      rows: [request],
    } = await sql<{ id: number }>`
      update dispatch_requests set state = 'cancelled' where issue_id = ${issueId} and state in ('open', 'assigned') returning id`.execute(
      trx,
    );
    if (!request)
      throw new DomainError('dispatch.no_request', `issue ${issueId} has no dispatch request at work`, { field: 'id' }, { id: issueId });
    await sql`update dispatches set state = case when state = 'offered' then 'withdrawn' else 'cancelled' end
              where request_id = ${request.id} and state in ('offered', 'accepted', 'arrived')`.execute(trx);
  });
}

/** Who may act on a dispatch: the volunteer asked, or a dispatcher of the issue (recording an answer by phone). */
function mayAct(viewer: Viewer, volunteerId: number, issueInside: boolean) {
  return viewer.memberId === volunteerId || (DISPATCHERS.includes(viewer.role) && issueInside);
}

/** POST /dispatches/:id/:action. */
export async function actOnDispatch(db: Kysely<DB>, viewer: Viewer, actor: Actor, id: number, action: DispatchAction) {
  const outcome = await db.transaction().execute(async (trx) => {
    await begin(trx, actor);
    const {
      rows: [dispatch],
    } = await sql<{ state: string; volunteer_id: number; request_id: number; expired: boolean; inside: boolean }>`
      select d.state, d.volunteer_id, d.request_id, d.expires_at <= now() as expired, coalesce(${dispatchable(viewer, 'i')}, false) as inside
      from dispatches d join issues i on i.id = d.issue_id where d.id = ${id}`.execute(trx);
    if (!dispatch) throw new DomainError('dispatch.not_found', `No dispatch ${id}`, { field: 'id' }, { id });
    if (!mayAct(viewer, dispatch.volunteer_id, dispatch.inside)) {
      throw new DomainError('dispatch.forbidden', `dispatch ${id} is not yours to ${action}`, { field: 'id' });
    }
    const request = await requestOf(trx, dispatch.request_id);
    const { from, to } = TRANSITIONS[action];
    if (dispatch.state === 'offered' && dispatch.expired) {
      // the timer has not run yet: the offer lapsed all the same, and passes on
      await sql`update dispatches set state = 'timed_out' where id = ${id}`.execute(trx);
      await passOn(trx, [request.id]);
      return {
        refused: new DomainError('dispatch.offer_expired', `the offer of dispatch ${id} expired; it has passed to the next volunteer`, {
          field: 'id',
          state: 'timed_out',
        }),
      };
    }
    if (!from.includes(dispatch.state)) {
      return {
        refused: new DomainError(
          'dispatch.wrong_state',
          `dispatch ${id} is ${dispatch.state}: it cannot ${action} (only from ${from.join(' or ')})`,
          { field: 'id', state: dispatch.state },
        ),
      };
    }
    await sql`update dispatches set state = ${to} where id = ${id}`.execute(trx);
    if (action === 'accept') {
      await sql`update dispatches set state = 'withdrawn' where request_id = ${request.id} and state = 'offered'`.execute(trx);
      await sql`update dispatch_requests set state = 'assigned' where id = ${request.id}`.execute(trx);
    } else if (action === 'finish') {
      await sql`update dispatch_requests set state = 'done' where id = ${request.id}`.execute(trx);
    } else if (action === 'decline' || action === 'cancel') {
      // someone else is asked: the next nearest not yet asked
      if (action === 'cancel') await sql`update dispatch_requests set state = 'open' where id = ${request.id}`.execute(trx);
      await passOn(trx, [request.id]);
    }
    return { refused: undefined };
  });
  // a refusal still commits what it found (an expired offer passed on)
  if (outcome.refused) throw outcome.refused;
  return dispatchJson(db, viewer, id);
}

/**
 * The offer timer: lapsed offers time out and pass on at once. With `retry`, every open request short of
 * offers (nobody was free before, or someone went off duty) looks again, as volunteers become free.
 */
export async function sweepDispatches(db: Kysely<DB>, { retry = false } = {}) {
  return db.transaction().execute(async (trx) => {
    await begin(trx, null);
    const { rows: lapsed } = await sql<{ request_id: number }>`
      update dispatches set state = 'timed_out' where state = 'offered' and expires_at <= now() returning request_id`.execute(trx);
    const { rows: short } = retry
      ? await sql<{ id: number }>`
      select r.id from dispatch_requests r
      where r.state = 'open' and (select count(*) from dispatches d where d.request_id = r.id and d.state = 'offered') < r.k
      order by r.id`.execute(trx)
      : { rows: [] };
    const offered = await passOn(trx, [...lapsed.map((r) => r.request_id), ...short.map((r) => r.id)]);
    return { timedOut: lapsed.length, offered };
  });
}

/** Runs the offer timer every `ms` until stopped; a failed sweep is logged and the next one tried. */
export function startDispatchTimer(db: Kysely<DB>, ms: number, onError: (error: unknown) => void) {
  let running = false;
  let sweeps = 0;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    // requests nobody could take look again every 30 sweeps, not every time: each look is a search
    sweepDispatches(db, { retry: ++sweeps % 30 === 0 })
      .catch(onError)
      .finally(() => (running = false));
  }, ms);
  return () => clearInterval(timer);
}

/**
 * PATCH /volunteers/me: a volunteer's availability and where it is now. Going off duty hands back its open
 * offers, which pass on at once rather than at their timeout; a volunteer on a dispatch stays busy until it
 * finishes or cancels it.
 */
export async function changeOwnAvailability(
  db: Kysely<DB>,
  memberId: number,
  actor: Actor,
  change: { availability?: 'available' | 'off_duty'; current_point?: Geometry | null },
) {
  await db.transaction().execute(async (trx) => {
    // a position alone takes only the events lock (its statement's trigger) and the volunteer's row; a change
    // of duty may hand back offers
    if (change.availability) await begin(trx, actor);
    else await actAs(trx, actor);
    const {
      rows: [member],
    } = await sql<{ availability: string }>`select availability from members where id = ${memberId}`.execute(trx);
    if (!member) throw new DomainError('member.not_found', `member ${memberId} no longer exists`, { field: 'member_id' }, { id: memberId });
    if (change.availability && member.availability === 'busy') {
      throw new DomainError('dispatch.on_a_dispatch', 'you are assigned to a dispatch: finish or cancel it before changing availability', {
        field: 'availability',
      });
    }
    const { rows: handedBack } =
      change.availability === 'off_duty'
        ? await sql<{
            request_id: number;
          }>`select request_id from dispatches where volunteer_id = ${memberId} and state = 'offered'`.execute(trx)
        : { rows: [] };
    const moved = change.current_point !== undefined;
    const at = change.current_point?.coordinates as number[] | undefined;
    // going off duty declines the open offers (a trigger, sql/008_dispatch.sql); they pass on at once
    await sql`
      update members set
        availability = coalesce(${change.availability ?? null}, availability),
        current_point = ${!moved ? sql`current_point` : at ? sql`ST_SetSRID(ST_MakePoint(${at[0]}, ${at[1]}), 4326)` : sql`null`},
        current_point_at = ${!moved ? sql`current_point_at` : at ? sql`now()` : sql`null`}
      where id = ${memberId}`.execute(trx);
    await passOn(
      trx,
      handedBack.map((r) => r.request_id),
    );
  });
}

/**
 * Dispatches as a viewer may read them, each with its steps (who, when, state, distance). Who the volunteer
 * is (id, name, phone, skills, position, its steps' names) only for viewers who may see that volunteer
 * (personalShown); the others get the states and distances to the nearest 100 m: a volunteer's exact
 * distances from several known issue points would place its home.
 */
function dispatchesSql(viewer: Viewer, where: RawBuilder<unknown>, order: RawBuilder<unknown>) {
  const shown = personalShown('members', viewer, 'm');
  const distance = (column: RawBuilder<unknown>) =>
    sql`case when ${shown} then round(${column}::numeric, 2) else round(${column}::numeric, -2) end`;
  return sql<{ dispatch: DispatchJson }>`
    select json_build_object(
      'id', d.id, 'request_id', d.request_id, 'issue_id', d.issue_id, 'issue_title', i.title, 'issue_category', i.category,
      'issue_status', i.status, 'issue_point', ST_AsGeoJSON(i.geom, 7)::json,
      'volunteer_id', case when ${shown} then d.volunteer_id end, 'volunteer_name', case when ${shown} then m.name end,
      'volunteer_phone', case when ${shown} then m.phone end, 'volunteer_skills', case when ${shown} then m.skills end,
      'volunteer_point', case when ${shown} then ST_AsGeoJSON(coalesce(m.current_point, m.geom), 7)::json end,
      'state', d.state, 'rank', d.rank, 'distance_m', ${distance(sql`d.distance_m`)},
      'offered_at', d.offered_at, 'expires_at', d.expires_at, 'updated_at', d.updated_at, 'version', d.version,
      'steps', (select json_agg(json_build_object('state', s.state, 'at', s.at, 'by', case when ${shown} then s.username end,
                                                  'distance_m', ${distance(sql`s.distance_m`)}) order by s.id)
                from dispatch_steps s where s.dispatch_id = d.id)
    ) as dispatch
    from dispatches d join issues i on i.id = d.issue_id join members m on m.id = d.volunteer_id
    where ${where}
    order by ${order}`;
}

type DispatchJson = z.output<typeof dispatch>;

/** What a viewer sees of dispatches: those on issues it may read, and its own as a volunteer. */
function visibleDispatches(viewer: Viewer) {
  return sql`(${readable('issues', issues.place, viewer, 'i')} or d.volunteer_id = ${viewer.memberId ?? -1})`;
}

async function dispatchJson(db: Kysely<DB>, viewer: Viewer, id: number) {
  const { rows } = await dispatchesSql(viewer, sql`d.id = ${id} and ${visibleDispatches(viewer)}`, sql`d.id`).execute(db);
  if (!rows[0]) throw new DomainError('dispatch.not_found', `No dispatch ${id}`, { field: 'id' }, { id });
  return rows[0].dispatch;
}

/** GET /dispatches: a viewer's dispatches, the open ones (offered, accepted, arrived) unless `all`. */
export async function listDispatches(
  db: Kysely<DB>,
  viewer: Viewer,
  { all, volunteer, limit }: { all: boolean; volunteer?: number; limit: number },
) {
  const active = all ? sql`true` : sql`d.state in ('offered', 'accepted', 'arrived')`;
  // one volunteer's dispatches only for those who may see who the volunteer is: to the others a volunteer's
  // history (issue points, times, distances) would place the home its masked name hides
  const whose =
    volunteer === undefined
      ? sql`true`
      : sql`(d.volunteer_id = ${volunteer} and coalesce(${personalShown('members', viewer, 'm')}, false))`;
  const { rows } = await sql<{ dispatch: DispatchJson }>`
    select * from (${dispatchesSql(viewer, sql`${active} and ${whose} and ${visibleDispatches(viewer)}`, sql`d.id desc`)}) s
    limit ${limit}`.execute(db);
  return rows.map((r) => r.dispatch);
}

/** GET /issues/:id/dispatches: the issue's requests, each with its dispatches and their steps. */
export async function issueDispatches(db: Kysely<DB>, viewer: Viewer, issueId: number) {
  const conditions = [readable('issues', issues.place, viewer, 'i')];
  const {
    rows: [issue],
  } = await sql<{ visible: boolean }>`
    select coalesce(${allOf(conditions)}, false) as visible from issues i where i.id = ${issueId}`.execute(db);
  if (!issue) throw new DomainError('issue.not_found', `No issue ${issueId}`, { field: 'id' }, { id: issueId });
  if (!issue.visible)
    throw new DomainError('access.outside_scope', `issue ${issueId} lies outside what a ${viewer.role} in your scope may see`, {
      field: 'id',
    });
  const { rows: requests } = await sql<RequestRow & { created_at: Date; updated_at: Date; version: number }>`
    select r.id, r.issue_id, r.k, r.skills, r.timeout_s, r.requested_by, r.state, r.created_at, r.updated_at, r.version
    from dispatch_requests r where r.issue_id = ${issueId} order by r.id`.execute(db);
  const { rows } = await dispatchesSql(viewer, sql`d.issue_id = ${issueId}`, sql`d.rank`).execute(db);
  const dispatches = rows.map((r) => r.dispatch);
  return { issue_id: issueId, requests: requests.map((r) => ({ ...r, dispatches: dispatches.filter((d) => d.request_id === r.id) })) };
}
