import type { ErrorRequestHandler, RequestHandler } from 'express';
import { DatabaseUnreachable } from '../db/database.ts';

/**
 * An RFC 9457 problem: every error a client sees has this shape. `field` names the request part
 * that was wrong (a query parameter, a property), so a client can point at it.
 */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
  }
}

export const invalidParameter = (field: string, detail: string) =>
  new HttpProblem(400, 'Invalid parameter', detail, { field });

export const notFound: RequestHandler = (req, _res, next) =>
  next(new HttpProblem(404, 'Not Found', `No resource at ${req.method} ${req.path}`));

interface DatabaseError { code?: string; constraint?: string; table?: string; column?: string; dataType?: string; detail?: string; message?: string }

/** Seconds a client should wait before asking again while the database is away. */
const RETRY_AFTER = 5;

/** The database is away (down, restarting, full, cut off): 503, and the client may try again by itself. */
export const databaseUnavailable = (extensions: Record<string, unknown> = {}) =>
  new HttpProblem(503, 'Database unavailable', 'The database did not answer; try again shortly.', extensions, { 'Retry-After': String(RETRY_AFTER) });

/**
 * A connection that could not be had (whatever the reason: see openDatabase) or was lost under a query: class 08
 * (connection exception), 57P01–57P03 (shut down, crashed, starting), 53300 (too many connections), the socket's
 * errors, and pg's words for a socket that closed (it gives them no code).
 */
function isOutage(error: unknown) {
  if (error instanceof DatabaseUnreachable) return true;
  const { code, message } = error as DatabaseError;
  return /^(08...|57P0[123]|53300|ECONNRESET|EPIPE|ETIMEDOUT)$/.test(code ?? '') || (!code && /^Connection terminated|is not queryable/.test(message ?? ''));
}

/** `Key (code)=(610602001001) already exists.` → code and value; nothing for a key of several columns or an expression. */
function keyOf(detail?: string) {
  const key = /^Key \((\w+)\)=\((.*)\) (?:already exists|is not present|is still referenced)/.exec(detail ?? '');
  return key && { field: key[1] === 'geom' ? 'geometry' : key[1], value: key[2] };
}

/**
 * The request field a violated constraint guards: a column PostgreSQL names, else the constraint's name less
 * its table and kind (`grids_community_id_fkey` → `community_id`); nothing when that leaves no column name.
 */
function constraintField({ constraint, table, column }: DatabaseError): string | undefined {
  const name = column ?? (table && constraint?.startsWith(`${table}_`) ? constraint.slice(table.length + 1).replace(/(^|_)(key|fkey|check|pkey|excl)$/, '') : '');
  return name === 'geom' ? 'geometry' : name || undefined;
}

/** Checks that a client is told in the field's words: codes nest (GB/T 2260 and the national grid codes). */
const NAMED_CHECKS: Record<string, { field: string; detail: string }> = {
  streets_code_nests: { field: 'code', detail: 'a street code must start with its district_code (the district\'s 6 digits, then the street\'s 3)' },
  communities_code_nests: { field: 'code', detail: 'a community code must start with its street_code (the street\'s 9 digits, then the community\'s 3)' },
};

/** What class 22 (a value the column cannot hold) means, in words that name no type or column of the schema. */
const DATA_EXCEPTIONS: Record<string, string> = {
  '22001': 'is too long',
  '22003': 'is out of range',
  '22007': 'is not a valid date or time',
  '22008': 'is not a valid date or time',
  '22021': 'holds a character that cannot be stored',
  '22P05': 'holds a character that cannot be stored',
};

/**
 * Constraint violations are the client's mistake, named by field; nothing was written (the transaction rolled
 * back). The detail is a sentence of fields and values: PostgreSQL's own messages name tables, constraints
 * and SQL, which are no business of a client's. A check our triggers raise (no table or type) speaks to people already.
 */
export function databaseProblem(error: unknown): HttpProblem | undefined {
  const e = error as DatabaseError;
  const key = keyOf(e.detail);
  const field = key?.field ?? constraintField(e);
  const subject = field ?? 'a value';
  switch (e.code) {
    case '23505': return new HttpProblem(409, 'Conflict', key ? `${key.field} ${key.value} is already taken` : `${subject} is already taken`, { field });
    case '23503':
      return /is still referenced/.test(e.detail ?? '')
        ? new HttpProblem(409, 'Still referenced', 'other records still refer to this one: move or remove them first', { field })
        : new HttpProblem(422, 'Unknown reference', key ? `${key.field} ${key.value} does not exist` : `${subject} refers to nothing that exists`, { field });
    case '23514': {
      const named = NAMED_CHECKS[e.constraint ?? ''];
      if (named) return new HttpProblem(422, 'Codes do not nest', named.detail, { field: named.field });
      return new HttpProblem(422, 'Invalid value', e.table || e.dataType ? `${subject} is not allowed here` : e.message, { field });
    }
    case '23502': return new HttpProblem(400, 'Missing value', `${subject} is required`, { field });
    // statement_timeout: work that would hold others back too long (a planning change)
    case '57014': return new HttpProblem(503, 'Took too long', 'the request took longer than the server allows: try a simpler shape or a smaller change');
    default:
      return e.code?.startsWith('22') ? new HttpProblem(400, 'Invalid value', `${subject} ${DATA_EXCEPTIONS[e.code] ?? 'cannot be stored'}`, { field }) : undefined;
  }
}

/** Body-parser errors carry a `type` and a status; anything else unknown is a 500 without details. */
export function toProblem(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  if (isOutage(error)) return databaseUnavailable();
  const fromDatabase = databaseProblem(error);
  if (fromDatabase) return fromDatabase;
  const e = error as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.parse.failed') return new HttpProblem(400, 'Malformed JSON', e.message, { field: 'body' });
  if (e.type === 'entity.too.large') return new HttpProblem(413, 'Request body too large', e.message, { field: 'body' });
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return new HttpProblem(e.status, e.message ?? 'Bad Request');
  return new HttpProblem(500, 'Internal Server Error', 'The server failed to answer; the error is in its log.');
}

export const problemHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const problem = toProblem(error);
  if (problem.status >= 500) req.log?.error({ err: error }, 'request failed');
  res
    .status(problem.status)
    .set(problem.headers)
    .type('application/problem+json')
    .json(problemBody(problem, req.originalUrl));
};

/**
 * The problem+json document of a problem (what an import job keeps to answer a retry with). Its own members
 * come first and win over an extension of the same name: `status` is the HTTP status, whatever a feature adds.
 */
export const problemBody = (problem: HttpProblem, instance: string) => {
  const members = { type: 'about:blank', title: problem.title, status: problem.status, ...(problem.detail ? { detail: problem.detail } : {}), instance };
  return { ...members, ...problem.extensions, ...members };
};
