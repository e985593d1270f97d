import { z } from 'zod';

const rowProblem = { row: z.number(), reason: z.string() };

/** What an import did, or would do (a dry run): POST /api/v1/import/:layer's answer, and an import job's. */
export const importReport = z
  .object({
    layer: z.string(),
    /** insert, upsert or replace */
    mode: z.string(),
    read: z.number(),
    /** rows written: inserted and updated */
    imported: z.number(),
    inserted: z.number(),
    updated: z.number(),
    /** with mode=replace: the community's rows the file did not have */
    deleted: z.number(),
    /** a row number, or `file` for the whole file and `…` for the rows beyond those listed */
    rejected: z.array(z.object({ row: z.union([z.number(), z.string()]), field: z.string().optional(), reason: z.string() })),
    repaired: z.array(z.object(rowProblem)),
    warnings: z.array(z.object({ ...rowProblem, field: z.string() })),
    dry_run: z.boolean(),
    written: z.boolean(),
    /** the file's columns, in the order first seen, and what became of them */
    columns: z.array(z.string()),
    mapped: z.record(z.string(), z.string()).optional(),
    ignored_columns: z.array(z.string()),
  })
  .meta({ id: 'ImportReport' });

/** A time as the database gives it, answered in ISO 8601. */
const time = z
  .date()
  .transform((date) => date.toISOString())
  .meta({ type: 'string', format: 'date-time' });

/** Where an import job is: running, or how it ended (interrupted: the server stopped, rolled back). */
export const importState = z.enum(['running', 'written', 'checked', 'rejected', 'refused', 'interrupted', 'failed']);

/** GET /api/v1/imports/:id: an import job, and once done the status and body it answered with. */
export const importJob = z
  .object({
    id: z.number(),
    layer: z.string(),
    format: z.string(),
    username: z.string(),
    state: importState,
    status: z.number().nullable(),
    /** the report, or the problem it answered */
    answer: z.unknown(),
    started_at: time,
    finished_at: time.nullable(),
    /** while running: rows read and written so far */
    read: z.number().nullable().optional(),
    imported: z.number().nullable().optional(),
  })
  .meta({ id: 'ImportJob' });
