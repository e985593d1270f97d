import type { Database } from './database.ts';

/**
 * This process's own writes to a database, as its requests answer them. What a process holds in memory and
 * forgets on the database's word (NOTIFY after commit: sessions, tiles) must not wait for that word about what
 * it wrote itself, which may come after the answer has gone: its caller's next request must see the write.
 */
export class LocalWrites {
  /** writes running now: what is read meanwhile may be overtaken, so it is not kept */
  running = 0;
  /** writes answered so far: a cache that saw fewer forgets what it holds */
  answered = 0;

  /** A write begins; the function returned says it is answered (once, however often called). */
  begin() {
    this.running++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.running--;
      this.answered++;
    };
  }
}

const writes = new WeakMap<Database, LocalWrites>();

export function localWrites(database: Database) {
  let found = writes.get(database);
  if (!found) writes.set(database, (found = new LocalWrites()));
  return found;
}
