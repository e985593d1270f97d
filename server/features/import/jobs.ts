import type { z } from 'zod';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { Viewer } from '../../access/viewer.ts';
import type { Actor } from '../../db/actor.ts';
import { lockMapWrites } from '../../db/feature-store.ts';
import { DomainError } from '../../domain/errors.ts';
import type { importState } from './answers.ts';

export type ImportState = z.output<typeof importState>;

/** Outcomes a retry with the same Idempotency-Key is answered with; after the others it runs again. */
const FINAL: ImportState[] = ['written', 'checked', 'rejected', 'refused'];

const JOB = ['id', 'layer', 'format', 'username', 'state', 'status', 'answer', 'started_at', 'finished_at'] as const;
export type ImportJob = Pick<Selectable<DB['imports']>, (typeof JOB)[number]>;

/** Imports running in this process: rows read and written so far (for GET /imports/:id), and how to stop them. */
const running = new Map<number, { read: number; imported: number; stop: AbortController }>();

export const importPath = (id: number) => `/api/v1/imports/${id}`;

export type Begun =
  { id: number; stop: AbortSignal; progress: (rows: { read: number; imported: number }) => void; done: () => void } | { replay: ImportJob };

/**
 * Starts an import job (for a user, or the command line), or answers with the job a retried request already made: its outcome if it has one,
 * 409 while it runs. The same key for another layer or format is the client's mistake (422).
 */
export async function beginImport(
  db: Kysely<DB>,
  who: { id?: number; username: string },
  layer: string,
  format: string,
  key: string | undefined,
): Promise<Begun> {
  const {
    rows: [job],
  } = await sql<ImportJob & { fresh: boolean }>`
    with found as (
      select * from imports where username = ${who.username} and idempotency_key = ${key ?? null}
    ), again as (
      update imports i set state = 'running', status = null, answer = null, started_at = now(), finished_at = null
      from found f where i.id = f.id and f.state in ('interrupted', 'failed') and f.layer = ${layer} and f.format = ${format}
      returning i.*
    ), made as (
      insert into imports (layer, format, user_id, username, idempotency_key)
      select ${layer}, ${format}, ${who.id ?? null}, ${who.username}, ${key ?? null}
      where not exists (select from found)
      on conflict (username, idempotency_key) do nothing
      returning *
    )
    select *, true as fresh from made
    union all select *, true from again
    union all select f.*, false from found f where not exists (select from again)`.execute(db);
  if (!job)
    throw new DomainError('import.in_progress', 'an import with this Idempotency-Key has just started: retry in a moment', {
      field: 'Idempotency-Key',
    });
  if (!job.fresh) {
    if (job.layer !== layer || job.format !== format) {
      throw new DomainError('import.idempotency_key_reused', `this key was used for a ${job.format} import into ${job.layer}`, {
        field: 'Idempotency-Key',
        import_id: job.id,
      });
    }
    if (job.state === 'running') {
      throw new DomainError(
        'import.in_progress',
        `import ${job.id} with this Idempotency-Key is still running: follow it at ${importPath(job.id)}`,
        { field: 'Idempotency-Key', import_id: job.id },
      );
    }
    if (FINAL.includes(job.state)) return { replay: job };
  }
  const id = Number(job.id);
  const stop = new AbortController();
  running.set(id, { read: 0, imported: 0, stop });
  return {
    id,
    stop: stop.signal,
    progress: ({ read, imported }) => void Object.assign(running.get(id)!, { read, imported }),
    done: () => void running.delete(id),
  };
}

/**
 * Records an import's outcome (with the HTTP status it answered; none from the command line): inside its last
 * batch's transaction when it writes, so the rows and the record commit together.
 */
export async function recordImport(
  db: Kysely<DB> | Transaction<DB>,
  id: number,
  state: ImportState,
  status: number | null,
  answer: unknown,
) {
  await db
    .updateTable('imports')
    .set({ state, status, answer: sql`${JSON.stringify(answer)}::jsonb`, finished_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}

/** An import as its owner (or an admin) sees it, with the rows read so far while it runs here. */
export async function readImport(db: Kysely<DB>, viewer: Viewer, id: number) {
  const job = await db.selectFrom('imports').select(JOB).where('id', '=', id).executeTakeFirst();
  if (!job || (viewer.role !== 'admin' && job.username !== viewer.username)) {
    throw new DomainError('import.not_found', `No import ${id} of yours`, { field: 'id' });
  }
  const progress = running.get(Number(job.id));
  return {
    ...job,
    id: Number(job.id),
    ...(job.state === 'running' ? { read: progress?.read ?? null, imported: progress?.imported ?? null } : {}),
  };
}

/**
 * Stops the imports this process runs (the server is stopping): each rolls back at its next batch, records
 * itself interrupted and answers 503, so a retry with its key runs it again.
 */
export function interruptImports() {
  for (const { stop } of running.values()) stop.abort();
  return runningImports();
}

/** The imports running in this process and the rows each has read and written. */
export const runningImports = () => [...running].map(([id, { read, imported }]) => ({ id, read, imported }));

/** Records the rows a batch wrote; the last batch forgets them all, since the import is then whole. */
export async function recordImportedRows(trx: Transaction<DB>, job: number, ids: number[], last: boolean) {
  if (last) await trx.deleteFrom('import_rows').where('import_id', '=', job).execute();
  else
    await sql`insert into import_rows (import_id, row_id) select ${job}, json_array_elements_text(${JSON.stringify(ids)}::json)::int`.execute(
      trx,
    );
}

/** Rows deleted per transaction when an import is undone: each holds the map's write lock briefly too. */
const UNDO_BATCH = 2000;

/** Deletes the rows an import wrote (in batches, each under the map's write lock) and forgets them. */
export async function undoImport(db: Kysely<DB>, table: string, ids: number[], actor: Actor, job?: number) {
  for (let from = 0; from < ids.length; from += UNDO_BATCH) {
    await db.transaction().execute(async (trx) => {
      await lockMapWrites(trx, { ...actor, username: `${actor.username} (import undone)` });
      const part = JSON.stringify(ids.slice(from, from + UNDO_BATCH));
      await sql`delete from ${sql.table(table)} where id in (select json_array_elements_text(${part}::json)::int)`.execute(trx);
      if (job)
        await sql`delete from import_rows where import_id = ${job} and row_id in (select json_array_elements_text(${part}::json)::int)`.execute(
          trx,
        );
    });
  }
}

/**
 * At start, imports left running by a process that died (kill -9, a crash): the batches they wrote are
 * deleted again and they are recorded as interrupted. (One process per database; several would each need to
 * know which jobs are their own.)
 */
export async function markAbandonedImports(db: Kysely<DB>, resources: readonly { name: string; table: string }[]) {
  const rows = await db.selectFrom('imports').select(['id', 'layer', 'username']).where('state', '=', 'running').execute();
  for (const job of rows) {
    const table = resources.find((r) => r.name === job.layer)?.table;
    const left = await db.selectFrom('import_rows').select('row_id').where('import_id', '=', job.id).execute();
    if (table)
      await undoImport(
        db,
        table,
        left.map((r) => r.row_id),
        { username: `${job.username}: import ${job.id} cut short` },
        Number(job.id),
      );
    await db
      .updateTable('imports')
      .set({ state: 'interrupted', finished_at: sql<Date>`now()` })
      .where('id', '=', job.id)
      .execute();
  }
  return rows.length;
}
