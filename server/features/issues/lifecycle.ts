import { sql, type Kysely, type Transaction } from 'kysely';
import type { z } from 'zod';
import { allOf, readable } from '../../access/policy.ts';
import { WALL_STAFF } from '../../access/rules.ts';
import type { Viewer } from '../../access/viewer.ts';
import { beginIssueWrites, type Actor } from '../../db/actor.ts';
import type { DB } from '../../db/schema.ts';
import { DomainError } from '../../domain/errors.ts';
import { levelOf, wallAt, wallLevel, WALLS, worksOn, type Wall } from './levels.ts';
import type { possibleDuplicates as duplicatesAnswer, timeline } from './answers.ts';
import { issues, overdue } from './resource.ts';

/**
 * The life of an issue on the walls: taken up on the wall it landed on, solved there or escalated a wall up,
 * answered in public, rated by its reporter. Which state may follow which is the database's table
 * (issue_transitions); who may take each step is decided here: a grid worker works its grid's wall,
 * community staff the community's (and oversee its grids'), street staff the street's; the reporter rates;
 * more time is granted a level above whoever asks for it.
 */

export const ISSUE_ACTIONS = ['accept', 'start', 'resolve', 'escalate', 'reject', 'answer', 'rate', 'close'] as const;
export type IssueAction = (typeof ISSUE_ACTIONS)[number];

/** The state each action leads to (a rating of 1 or 2 reopens the issue instead). */
const TARGET: Record<IssueAction, string> = {
  accept: 'accepted',
  start: 'in_progress',
  resolve: 'resolved',
  escalate: 'escalated',
  reject: 'rejected',
  answer: 'answered',
  rate: 'rated',
  close: 'closed',
};

/** A rating at or below this is unsatisfactory: the issue is reopened and counts as rework. */
export const UNSATISFIED_RATING = 2;

export interface IssueRow {
  id: number;
  status: string;
  wall: Wall;
  version: number;
  reported_by: number | null;
  duplicate_of: number | null;
  readable: boolean;
  in_scope: boolean;
  pending_extension: number | null;
  pending_extension_wall: string | null;
  pending_extension_by: number | null;
}

/** The issue as `viewer` stands to it: 404 when there is none, 403 when it may not read it. */
export async function issueRow(db: Kysely<DB>, viewer: Viewer, id: number, lock = false) {
  const visible = [readable('issues', issues.place, viewer, 'i')];
  const {
    rows: [row],
  } = await sql<IssueRow>`
    select i.id, i.status, i.wall, i.version, i.reported_by, i.duplicate_of,
           coalesce(${allOf(visible)}, false) as readable, coalesce(${worksOn(viewer, 'i')}, false) as in_scope,
           x.id as pending_extension, x.wall as pending_extension_wall, x.requested_by as pending_extension_by
    from issues i left join issue_extensions x on x.issue_id = i.id and x.state = 'pending'
    where i.id = ${id} ${lock ? sql`for update of i` : sql``}`.execute(db);
  if (!row) throw new DomainError('issue.not_found', `No issue ${id}`, { field: 'id' }, { id });
  if (!row.readable)
    throw new DomainError('access.outside_scope', `issue ${id} lies outside what a ${viewer.role} in your scope may see`, { field: 'id' });
  return row;
}

/** The timeline as the route answers it: dates as the database gives them. */
type Timeline = z.input<typeof timeline>;

/** Whether `viewer` works the wall the issue is on: staff in scope, at its level or above. */
export const worksWall = (viewer: Viewer, issue: IssueRow) => issue.in_scope && levelOf(viewer) >= wallLevel(issue.wall);

/** Who rates an answer: its reporter; the wall's staff for an issue no user reported (a rating taken by phone). */
const rates = (viewer: Viewer, issue: IssueRow) =>
  issue.reported_by === viewer.id || (issue.reported_by === null && worksWall(viewer, issue));

/** The steps `viewer` may take on the issue now: for the web to offer, and the API to check. */
export function allowedActions(viewer: Viewer, issue: IssueRow, next: readonly string[]) {
  const staff = worksWall(viewer, issue);
  const actions: Timeline['actions'] = ISSUE_ACTIONS.filter((action) => {
    if (action === 'rate') return next.includes('rated') && rates(viewer, issue);
    if (!staff || !next.includes(TARGET[action])) return false;
    return action !== 'escalate' || issue.wall !== 'street';
  });
  const open = next.includes('resolved') || next.includes('accepted');
  if (staff && open && issue.pending_extension === null) actions.push('request_extension');
  if (issue.pending_extension !== null && decidesExtension(viewer, issue, issue.pending_extension_wall!, issue.pending_extension_by))
    actions.push('decide_extension');
  return actions;
}

/** More time is granted a level above whoever asked for it, in scope, and never by the one who asked. */
const decidesExtension = (viewer: Viewer, issue: IssueRow, askedAt: string, askedBy: number | null) =>
  issue.in_scope && levelOf(viewer) > wallLevel(askedAt) && askedBy !== viewer.id;

async function nextStatuses(db: Kysely<DB>, status: string) {
  const { rows } = await sql<{ to_status: string }>`select to_status from issue_transitions where from_status = ${status}`.execute(db);
  return rows.map((r) => r.to_status);
}

/** Names the action and note of this transaction's change, for the timeline the database writes. */
const stepSetting = (action: string, note: string | undefined) =>
  sql`select set_config('gridmap.step', ${JSON.stringify({ action, note })}, true)`;

export interface TransitionInput {
  action: IssueAction;
  note?: string;
  answer?: string;
  public_title?: string;
  rating?: number;
  comment?: string;
  duplicate_of?: number;
  /** the version the caller saw (If-Match) */
  version?: number;
}

/** POST /issues/:id/transitions: one step of the lifecycle, with its note in the timeline. */
export async function transitionIssue(db: Kysely<DB>, viewer: Viewer, actor: Actor, id: number, input: TransitionInput) {
  await db.transaction().execute(async (trx) => {
    await beginIssueWrites(trx, actor);
    const issue = await issueRow(trx, viewer, id, true);
    if (input.version !== undefined && input.version !== issue.version) {
      throw new DomainError('request.stale_version', `issue ${id} is at version ${issue.version}, not ${input.version}: reload it`, {
        field: 'If-Match',
        version: issue.version,
      });
    }
    const next = await nextStatuses(trx, issue.status);
    const allowed = allowedActions(viewer, issue, next);
    if (!allowed.includes(input.action)) {
      // not this caller's step (403), or not a step from this state (409)
      const mayAct = input.action === 'rate' ? rates(viewer, issue) : worksWall(viewer, issue);
      throw new DomainError(
        mayAct ? 'issue.step_not_allowed' : 'issue.forbidden',
        mayAct
          ? `issue ${id} is ${issue.status} on the ${issue.wall} wall: ${input.action} is not a step from there`
          : `a ${viewer.role} in your scope may not ${input.action} issue ${id} (${issue.status} on the ${issue.wall} wall)`,
        { field: 'action', issue_status: issue.status, wall: issue.wall, allowed },
      );
    }
    await stepSetting(input.action, input.note ?? input.comment).execute(trx);
    await applyStep(trx, viewer, issue, input);
  });
}

async function applyStep(trx: Transaction<DB>, viewer: Viewer, issue: IssueRow, input: TransitionInput) {
  const id = issue.id;
  switch (input.action) {
    case 'escalate': {
      const up = WALLS[wallLevel(issue.wall)];
      await sql`update issues set status = 'escalated', wall = ${up} where id = ${id}`.execute(trx);
      return;
    }
    case 'reject': {
      const original = input.duplicate_of === undefined ? null : await duplicateTarget(trx, viewer, id, input.duplicate_of);
      await sql`update issues set status = 'rejected', duplicate_of = ${original} where id = ${id}`.execute(trx);
      if (original !== null) {
        // the original's timeline says so too: both reporters follow it from now on
        await sql`insert into issue_steps (issue_id, action, note, user_id, username)
          values (${original}, 'link', ${`issue ${id} was reported again and linked here`}, ${viewer.id}, ${viewer.username})`.execute(trx);
      }
      return;
    }
    case 'answer':
      // the echo wall names the matter in the staff's words (the category's name unless they give one)
      await sql`update issues i set status = 'answered', answer = ${input.answer!},
        public_title = coalesce(${input.public_title ?? null}, (select name from issue_categories where code = i.category)) where id = ${id}`.execute(
        trx,
      );
      return;
    case 'rate': {
      const status = input.rating! <= UNSATISFIED_RATING ? 'reopened' : 'rated';
      await sql`update issues set status = ${status}, rating = ${input.rating!}, rating_comment = ${input.comment ?? null} where id = ${id}`.execute(
        trx,
      );
      return;
    }
    default:
      await sql`update issues set status = ${TARGET[input.action]} where id = ${id}`.execute(trx);
  }
}

/** The issue a duplicate is linked to: the first report of the matter, which the caller may read. */
async function duplicateTarget(trx: Transaction<DB>, viewer: Viewer, id: number, target: number) {
  const readable = (issueId: number, why: (detail?: string) => string) =>
    issueRow(trx, viewer, issueId).catch((error: unknown) => {
      if (error instanceof DomainError)
        throw new DomainError('issue.unknown_duplicate', `duplicate_of: ${why(error.detail)}`, { field: 'duplicate_of' });
      throw error;
    });
  const original = await readable(target, (detail) => detail ?? `issue ${target}`);
  const root = original.duplicate_of ?? original.id;
  // the reporter will follow the first report: the caller must be able to read it as well
  if (root !== original.id) await readable(root, () => `issue ${target} repeats issue ${root}, which you may not read`);
  if (root === id)
    throw new DomainError('issue.duplicate_of_itself', `duplicate_of: issue ${id} cannot be a duplicate of itself`, {
      field: 'duplicate_of',
    });
  return root;
}

/** POST /issues/:id/extensions: more time, asked on the issue's wall. */
export async function requestExtension(db: Kysely<DB>, viewer: Viewer, actor: Actor, id: number, input: { hours: number; reason: string }) {
  return db.transaction().execute(async (trx) => {
    await beginIssueWrites(trx, actor);
    const issue = await issueRow(trx, viewer, id, true);
    if (!allowedActions(viewer, issue, await nextStatuses(trx, issue.status)).includes('request_extension')) {
      const detail =
        issue.pending_extension !== null
          ? `issue ${id} has extension ${issue.pending_extension} waiting for a decision`
          : worksWall(viewer, issue)
            ? `issue ${id} is ${issue.status}: there is no due time left to extend`
            : `a ${viewer.role} in your scope does not work the ${issue.wall} wall issue ${id} is on`;
      throw new DomainError(worksWall(viewer, issue) ? 'issue.extension_not_allowed' : 'issue.extension_forbidden', detail, {
        field: 'id',
      });
    }
    const {
      rows: [extension],
    } = await sql<{ id: number }>`
      insert into issue_extensions (issue_id, wall, hours, reason, requested_by)
      values (${id}, ${wallAt(Math.max(wallLevel(issue.wall), levelOf(viewer)))}, ${input.hours}, ${input.reason}, ${viewer.id})
      returning id`.execute(trx);
    await timelineNote(trx, viewer, id, 'request_extension', `${input.hours} h: ${input.reason}`);
    return extension.id;
  });
}

/** PATCH /issues/:id/extensions/:extension: approved (the due time moves) or refused, one level up. */
export async function decideExtension(
  db: Kysely<DB>,
  viewer: Viewer,
  actor: Actor,
  id: number,
  extensionId: number,
  input: { state: 'approved' | 'refused'; note?: string },
) {
  await db.transaction().execute(async (trx) => {
    await beginIssueWrites(trx, actor);
    const issue = await issueRow(trx, viewer, id, true);
    const {
      rows: [extension],
    } = await sql<{ state: string; hours: number; wall: string; requested_by: number | null }>`
      select state, hours, wall, requested_by from issue_extensions where id = ${extensionId} and issue_id = ${id}`.execute(trx);
    if (!extension)
      throw new DomainError(
        'issue.extension_not_found',
        `issue ${id} has no extension ${extensionId}`,
        { field: 'extension' },
        { id: extensionId },
      );
    if (extension.state !== 'pending')
      throw new DomainError('issue.already_decided', `extension ${extensionId} was ${extension.state}`, { field: 'extension' });
    if (extension.requested_by === viewer.id)
      throw new DomainError('issue.forbidden', 'more time is granted by someone else than who asked for it', { field: 'extension' });
    if (!decidesExtension(viewer, issue, extension.wall, extension.requested_by)) {
      throw new DomainError(
        'issue.forbidden',
        `more time asked at the ${extension.wall} level is granted a level up, not by a ${viewer.role} in your scope`,
        { field: 'extension' },
      );
    }
    await sql`update issue_extensions set state = ${input.state}, decided_by = ${viewer.id}, decided_at = now(), decision = ${input.note ?? null}
      where id = ${extensionId}`.execute(trx);
    if (input.state === 'approved')
      await sql`update issues set extended_hours = extended_hours + ${extension.hours} where id = ${id}`.execute(trx);
    await timelineNote(trx, viewer, id, input.state === 'approved' ? 'approve_extension' : 'refuse_extension', input.note);
  });
}

/** A step in the timeline that changes no state (an extension asked or decided, a duplicate linked). */
const timelineNote = (trx: Transaction<DB>, viewer: Viewer, id: number, action: string, note: string | undefined) =>
  sql`insert into issue_steps (issue_id, action, note, user_id, username) values (${id}, ${action}, ${note ?? null}, ${viewer.id}, ${viewer.username})`.execute(
    trx,
  );

/**
 * GET /issues/:id/timeline: every step with who, when, from, to and the note; the extensions; and the steps
 * the caller may take now. Staff names show only to staff: a resident sees that "the grid worker" acted.
 */
export async function issueTimeline(db: Kysely<DB>, viewer: Viewer, id: number) {
  const issue = await issueRow(db, viewer, id);
  const staff = WALL_STAFF.includes(viewer.role);
  const { rows: steps } = await sql<Timeline['steps'][number]>`
    select s.id, s.at, s.action, s.from_status, s.to_status, s.from_wall, s.to_wall, s.note,
           case when ${staff} or s.user_id = ${viewer.id} then s.username end as username
    from issue_steps s where s.issue_id = ${id} order by s.id`.execute(db);
  const { rows: extensions } = await sql<Timeline['extensions'][number]>`
    select id, wall, hours, reason, state, requested_at, decided_at, decision from issue_extensions where issue_id = ${id} order by id`.execute(
    db,
  );
  const {
    rows: [due],
  } = await sql<{ due_at: Date; overdue: boolean }>`
    select due_at, ${overdue('i')} as overdue from issues i where id = ${id}`.execute(db);
  return {
    issue_id: id,
    status: issue.status,
    wall: issue.wall,
    version: issue.version,
    due_at: due.due_at,
    overdue: due.overdue,
    duplicate_of: issue.duplicate_of,
    actions: allowedActions(viewer, issue, await nextStatuses(db, issue.status)),
    steps,
    extensions,
  };
}

/** Within this distance and this many days of an open issue of the same category, a new one may be the same matter. */
export const DUPLICATE_RADIUS_M = 50;
export const DUPLICATE_DAYS = 7;

/**
 * Open issues the caller may read, of the category, within 50 m and reported within 7 days of the point
 * (before or after `at`), nearest first: offered as possibly the same matter.
 */
export async function possibleDuplicates(
  db: Kysely<DB>,
  viewer: Viewer,
  near: { lon: number; lat: number; category: string; at?: Date; except?: number },
) {
  const visible = [readable('issues', issues.place, viewer, 'i')];
  const at = near.at ?? new Date();
  const point = sql`ST_SetSRID(ST_MakePoint(${near.lon}, ${near.lat}), 4326)`;
  const { rows } = await sql<z.input<typeof duplicatesAnswer>['issues'][number]>`
    select i.id, i.title, i.category, i.status, i.wall, i.reported_at, round(ST_Distance(i.geom::geography, ${point}::geography)::numeric, 1)::float8 as distance_m
    from issues i
    where i.category = ${near.category} and i.id <> ${near.except ?? 0} and i.duplicate_of is null
      and i.status not in ('closed', 'rejected')
      -- the index first (0.01° is over 50 m up to 80° of latitude), then metres on the spheroid
      and ST_DWithin(i.geom, ${point}, 0.01) and ST_DWithin(i.geom::geography, ${point}::geography, ${DUPLICATE_RADIUS_M})
      and i.reported_at between ${at}::timestamptz - make_interval(days => ${DUPLICATE_DAYS}) and ${at}::timestamptz + make_interval(days => ${DUPLICATE_DAYS})
      and ${allOf(visible)}
    order by distance_m, i.id limit 20`.execute(db);
  return rows;
}

/** The possible duplicates of a stored issue. */
export async function duplicatesOf(db: Kysely<DB>, viewer: Viewer, id: number) {
  await issueRow(db, viewer, id);
  const {
    rows: [issue],
  } = await sql<{ lon: number; lat: number; category: string; reported_at: Date }>`
    select ST_X(geom) as lon, ST_Y(geom) as lat, category, reported_at from issues where id = ${id}`.execute(db);
  return possibleDuplicates(db, viewer, { ...issue, at: issue.reported_at, except: id });
}
