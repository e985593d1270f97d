import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { databaseError, databaseUnavailable, isOutage } from '../db/errors.ts';
import { DomainError, type ErrorCode, type ErrorKind, type ErrorParams } from '../domain/errors.ts';

/** How each kind of domain error is answered. */
const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  stale: 412,
  too_large: 413,
  unsupported_media: 415,
  unprocessable: 422,
  version_required: 428,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

/**
 * An RFC 9457 problem: every error a client sees has this shape. `field` names the request part that was
 * wrong (a query parameter, a property), so a client can point at it; `code` and `params` let it say so in
 * its own language.
 */
export interface Problem {
  status: number;
  title: string;
  detail?: string;
  code: ErrorCode;
  params: ErrorParams;
  extensions: Record<string, unknown>;
  headers: Record<string, string>;
}

const fromDomain = (error: DomainError): Problem => ({
  status: STATUS[error.kind],
  title: error.title,
  detail: error.detail,
  code: error.code,
  params: error.params,
  extensions: error.extensions,
  headers: error.retryAfter === undefined ? {} : { 'Retry-After': String(error.retryAfter) },
});

export const notFound: RequestHandler = (req, _res, next) =>
  next(new DomainError('request.no_route', `No resource at ${req.method} ${req.path}`, {}, { method: req.method, path: req.path }));

/** Body-parser errors carry a `type` and a status; anything else unknown is a 500 without details. */
export function toProblem(error: unknown): Problem {
  if (error instanceof DomainError) return fromDomain(error);
  if (isOutage(error)) return fromDomain(databaseUnavailable());
  const fromDatabase = databaseError(error);
  if (fromDatabase) return fromDomain(fromDatabase);
  const e = error as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.parse.failed') return fromDomain(new DomainError('request.malformed_json', e.message ?? '', { field: 'body' }));
  if (e.type === 'entity.too.large') return fromDomain(new DomainError('request.body_too_large', e.message ?? '', { field: 'body' }));
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    // the status's own words: a middleware's message may name the server's files (a missing page's path)
    return {
      status: e.status,
      title: STATUS_CODES[e.status] ?? 'Bad Request',
      code: 'request.rejected',
      params: {},
      extensions: {},
      headers: {},
    };
  }
  return fromDomain(new DomainError('server.internal', 'The server failed to answer; the error is in its log.'));
}

export const problemHandler: ErrorRequestHandler = (error, req, res, _next) => {
  // no one to answer: the client closed the connection (a page it stopped reading)
  if (res.destroyed) return;
  if (res.headersSent) {
    // a streamed answer failed half-way: the client must see it broken, not a shorter document that parses
    req.log?.error({ err: error }, 'request failed after its answer began');
    return void res.destroy();
  }
  const problem = toProblem(error);
  if (problem.status >= 500) req.log?.error({ err: error }, 'request failed');
  res.status(problem.status).set(problem.headers).type('application/problem+json').json(problemBody(problem, req.originalUrl));
};

/**
 * The problem+json document of a problem (what an import job keeps to answer a retry with). Its own members
 * come first and win over an extension of the same name: `status` is the HTTP status, whatever a feature adds.
 */
export const problemBody = (problem: Problem, instance: string) => {
  const members = {
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    ...(problem.detail ? { detail: problem.detail } : {}),
    instance,
    code: problem.code,
    params: problem.params,
  };
  return { ...members, ...problem.extensions, ...members };
};
