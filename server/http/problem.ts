import type { ErrorRequestHandler, RequestHandler } from 'express';

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
  ) {
    super(detail ?? title);
  }
}

export const invalidParameter = (field: string, detail: string) =>
  new HttpProblem(400, 'Invalid parameter', detail, { field });

export const notFound: RequestHandler = (req, _res, next) =>
  next(new HttpProblem(404, 'Not Found', `No resource at ${req.method} ${req.path}`));

interface DatabaseError { code?: string; constraint?: string; table?: string; column?: string; detail?: string; message?: string }

/** The request field a violated constraint guards: `grids_community_id_fkey` → `community_id`, geom → geometry. */
function constraintField({ constraint, table, column }: DatabaseError): string | undefined {
  const name = column ?? constraint?.replace(new RegExp(`^${table}_`), '').replace(/_(key|fkey|check|pkey)$/, '');
  return name === 'geom' ? 'geometry' : name;
}

/** Constraint violations are the client's mistake, named by field; nothing was written (the transaction rolled back). */
export function databaseProblem(error: unknown): HttpProblem | undefined {
  const e = error as DatabaseError;
  const field = constraintField(e);
  switch (e.code) {
    case '23505': return new HttpProblem(409, 'Conflict', e.detail ?? e.message, { field });
    case '23503': return new HttpProblem(422, 'Unknown reference', e.detail ?? e.message, { field });
    case '23514': return new HttpProblem(422, 'Invalid value', `${field} is not allowed here (${e.constraint})`, { field });
    case '23502': return new HttpProblem(400, 'Missing value', `${field} is required`, { field });
    // statement_timeout: work that would hold others back too long (a planning change)
    case '57014': return new HttpProblem(503, 'Took too long', 'the request took longer than the server allows: try a simpler shape or a smaller change');
    default:
      // Class 22, data exceptions: a value the column cannot hold (out of range, NUL in text, bad date).
      return e.code?.startsWith('22') ? new HttpProblem(400, 'Invalid value', e.message ?? 'a value cannot be stored', { field }) : undefined;
  }
}

/** Body-parser errors carry a `type` and a status; anything else unknown is a 500 without details. */
function toProblem(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  const fromDatabase = databaseProblem(error as DatabaseError);
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
    .type('application/problem+json')
    .json({
      type: 'about:blank',
      title: problem.title,
      status: problem.status,
      ...(problem.detail ? { detail: problem.detail } : {}),
      instance: req.originalUrl,
      ...problem.extensions,
    });
};
