import type { Response } from 'express';
import { sql, type Kysely } from 'kysely';
import { readable, type Place } from '../../access/policy.ts';
import { bearerToken, type Viewer } from '../../access/viewer.ts';
import type { Database } from '../../db/database.ts';
import type { DB } from '../../db/schema.ts';
import { invalidParameter } from '../../domain/errors.ts';
import { headerText, parameter } from '../../domain/params.ts';
import { route } from '../../http/route.ts';
import { sessionViewer } from '../accounts/queries.ts';

/** How often the feed looks for new events, and how often an idle stream says it is alive. */
const POLL_MS = 400;
const HEARTBEAT_MS = 15_000;

/**
 * The events `viewer` may hear: those of issues it may read (by where the issue lay and who reported it,
 * as the event recorded them, so a deleted issue is heard too), and of its own dispatches as a volunteer.
 */
function visibleEvents(viewer: Viewer) {
  const own = sql`e.volunteer_id = ${viewer.memberId ?? -1}`;
  return sql`(${own} or ${readable('issues', EVENT_PLACE, viewer, 'e')})`;
}

/** Where an event's issue lay, as the event recorded it. */
const EVENT_PLACE: Place = { community: 'community_id', grid: 'grid_id', street: 'street_code', id: 'issue_id' };

interface Listener {
  wake: () => void;
}

/**
 * One poll of the events table per process, however many consoles listen: when its last id moves, every
 * open stream reads what is new for its own viewer. Polling runs only while someone listens.
 */
class EventFeed {
  private listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private last = 0;

  constructor(private db: Kysely<DB>) {}

  async latest() {
    const { rows } = await sql<{ id: number }>`select coalesce(max(id), 0) as id from events`.execute(this.db);
    return rows[0].id;
  }

  add(listener: Listener) {
    this.listeners.add(listener);
    this.timer ??= setInterval(() => void this.poll(), POLL_MS);
  }

  remove(listener: Listener) {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private polling = false;
  private async poll() {
    if (this.polling) return;
    this.polling = true;
    try {
      const latest = await this.latest();
      if (latest === this.last) return;
      this.last = latest;
      for (const listener of this.listeners) listener.wake();
    } catch {
      // the database is closing or away: the next poll tries again
    } finally {
      this.polling = false;
    }
  }
}

/** Events are kept a week: a console away longer reloads what it shows rather than replaying it. */
export async function pruneEvents(db: Kysely<DB>, days = 7) {
  const { numAffectedRows } = await sql`delete from events where at < now() - make_interval(days => ${days})`.execute(db);
  return Number(numAffectedRows ?? 0);
}

/** `Last-Event-ID` (sent by a reconnecting EventSource) or `?after=`: the id after which to go on. */
function resumeFrom(header: string | undefined, query: unknown): number | undefined {
  const given = header ?? (typeof query === 'string' ? query : undefined);
  if (given === undefined) return undefined;
  if (!/^\d{1,18}$/.test(given))
    throw invalidParameter(header === undefined ? 'after' : 'Last-Event-ID', 'must be the id of an event this stream sent');
  return Number(given);
}

/** ?after=: taken as sent, a Last-Event-ID header winning over it (resumeFrom checks the one it reads). */
const after = parameter((value) => value, { schema: { type: 'integer' } });

/**
 * GET /api/v1/events: a server-sent events stream of issue and dispatch changes in the caller's scope.
 * Each event carries its id; reconnecting with Last-Event-ID (or ?after=) replays what was missed, in
 * order (sql/008_dispatch.sql makes ids follow commit order). Events are small (ids and states):
 * a console reads the details through the API, masked as the viewer's role requires. The session is
 * checked again at every heartbeat: a stream ends when its session does.
 */
export function eventRoutes(database: Database) {
  const feed = new EventFeed(database.db);
  return [
    route({
      method: 'GET',
      path: '/api/v1/events',
      tags: ['dispatch'],
      summary: "Server-sent events: issue, dispatch and grid changes in the caller's scope",
      description:
        'Events `issue`, `dispatch` and `grid` (a grid took a new version: `{grid_id, community_id, version, change}`) with ids in commit order; reconnect with `Last-Event-ID` (or `?after=`) to receive what was missed. The first event, `ready`, gives the id the stream starts after.',
      // issue and dispatch changes in the caller's scope (filtered per viewer in SQL)
      allow: { roles: 'any' },
      query: { after },
      headers: { 'Last-Event-ID': headerText({ description: 'the id of the last event received: the stream resumes after it' }) },
      answer: { type: 'text/event-stream', description: 'an event stream' },
      handle: async ({ req, res, viewer, query, headers }) => {
        const token = bearerToken(req);
        let cursor = resumeFrom(headers['Last-Event-ID'], query.after) ?? (await feed.latest());
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' });
        // the first id tells a client where it joined, so that even a reconnect before any event loses nothing
        res.write(`retry: 2000\nid: ${cursor}\nevent: ready\ndata: {}\n\n`);

        let reading = false;
        let again = false;
        const read = async () => {
          if (reading) return void (again = true);
          reading = true;
          try {
            do {
              again = false;
              // up to the last event now, heard or not: the next read starts there, not at the last one heard
              const { rows } = await sql<{ id: number; kind: string; at: Date; data: Record<string, unknown>; upto: number }>`
              with upto as (select coalesce(max(id), 0) as id from events)
              select e.id, e.kind, e.at, e.data, upto.id as upto from events e, upto
              where e.id > ${cursor} and e.id <= upto.id and ${visibleEvents(viewer)}
              union all select null, null, null, null, id from upto
              order by 1 nulls last limit 501`.execute(database.db);
              const upto = rows[rows.length - 1].upto;
              const heard = rows.filter((row) => row.id !== null);
              if (res.writableEnded) return;
              for (const row of heard.slice(0, 500)) send(res, row);
              if (heard.length >= 500) {
                cursor = heard[499].id;
                again = true;
              } else if (upto > cursor) {
                cursor = upto;
                // an id alone moves the client's Last-Event-ID past what it did not need to hear
                if (heard.length === 0 || heard[heard.length - 1].id !== upto) res.write(`id: ${upto}\n\n`);
              }
            } while (again && !res.writableEnded);
          } catch (error) {
            req.log.warn({ err: error }, 'event stream read failed');
          } finally {
            reading = false;
          }
        };
        const listener = { wake: () => void read() };
        const heartbeat = setInterval(async () => {
          if (token && !(await sessionViewer(database.db, token).catch(() => undefined))) return res.end();
          res.write(': alive\n\n');
        }, HEARTBEAT_MS);
        const close = () => {
          clearInterval(heartbeat);
          feed.remove(listener);
        };
        req.on('close', close);
        feed.add(listener);
        void read();
      },
    }),
  ];
}

function send(res: Response, row: { id: number; kind: string; at: Date; data: Record<string, unknown> }) {
  res.write(`id: ${row.id}\nevent: ${row.kind}\ndata: ${JSON.stringify({ ...row.data, at: row.at })}\n\n`);
}
