import type { Database } from '../../db/database.ts';
import { localWrites } from '../../db/writes.ts';
import type { Viewer } from '../../access/viewer.ts';
import { sessionOf } from './queries.ts';

/** What the database says on a sign-out, a revoked key, a user changed or a grid moved (sql/schema/10_sessions.sql). */
const CHANNEL = 'gridmap_sessions';
/** Sessions held at most; past it, all are forgotten (each is one look-up to find again). */
const MAX_ENTRIES = 10_000;

/**
 * Signed-in sessions held in memory, so a request (a cached tile, a nearest-volunteer look-up) makes no round
 * trip to find who asks. Held only while this process listens for the database's word that sessions changed:
 * on it, and after each write of this process's own (server/db/writes.ts), every one is forgotten; while not
 * listening (before it starts, after its connection broke), every request looks its session up as before. A
 * look-up that a change or a write may have overtaken is not kept.
 */
class SessionCache {
  private entries = new Map<string, { viewer: Viewer; until: number }>();
  private generation = 0;
  private state: 'off' | 'starting' | 'on' = 'off';
  /** this process's writes answered when last looked: more since, and everything held is forgotten */
  private answered = 0;

  constructor(private readonly database: Database) {}

  async viewer(token: string, { keyOnly = false } = {}): Promise<Viewer | undefined> {
    this.listen();
    const writes = localWrites(this.database);
    if (writes.answered !== this.answered) {
      this.answered = writes.answered;
      this.forget();
    }
    const key = `${keyOnly ? 'key' : 'any'} ${token}`;
    const held = this.state === 'on' ? this.entries.get(key) : undefined;
    if (held && held.until > Date.now()) return held.viewer;
    const generation = this.generation;
    const session = await sessionOf(this.database.db, token, { keyOnly });
    if (session && this.state === 'on' && !writes.running && generation === this.generation) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(key, { viewer: session.viewer, until: session.expiresAt });
    }
    return session?.viewer;
  }

  private forget() {
    this.entries.clear();
    this.generation++;
  }

  private listen() {
    if (this.state !== 'off') return;
    this.state = 'starting';
    this.database
      .listen(
        CHANNEL,
        () => this.forget(),
        () => {
          this.forget();
          this.state = 'off';
        },
      )
      .then(
        () => {
          if (this.state === 'starting') this.state = 'on';
        },
        () => {
          this.state = 'off';
        },
      );
  }
}

const caches = new WeakMap<Database, SessionCache>();

/** The viewer a session token opens: from memory when held, else from the database (sessionViewer). */
export function sessionsOf(database: Database) {
  let cache = caches.get(database);
  if (!cache) caches.set(database, (cache = new SessionCache(database)));
  return cache;
}
