import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import type { AccessRule, Allow } from '../access/rules.ts';
import type { Viewer } from '../access/viewer.ts';
import { parseBody } from '../domain/body.ts';
import { invalidParameter } from '../domain/errors.ts';

/**
 * One route of the API, declared once: its method and path, the parameters and body it takes (zod), the answer it
 * gives (a zod schema where its shape is fixed), who may call it, and its handler. The express router
 * (`routerOf`), the access guard's rules (`rulesOf`), the OpenAPI document (`server/http/openapi.ts`) and the web
 * client's types (`ApiAnswer`, `server/http/api.ts`) are all read from these declarations.
 */
export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
/** Path or query parameters by name: each a zod schema that parses the string sent (or undefined when absent). */
export type Parameters = Record<string, z.ZodType>;
export type Parsed<P extends Parameters> = { [K in keyof P]: z.output<P[K]> };

/** A body the handler reads itself (uploads, forms, streams): its content types, for the document. */
export interface RawBody {
  raw: Record<string, object>;
  required?: boolean;
}

export interface Answer<S extends z.ZodType | undefined> {
  /** 200 unless said; the handler may set another with `res.status` (a dry run's 200 beside a 201) */
  status?: number;
  /** the content type: application/json unless said */
  type?: string;
  /** the answer's shape, where it has one: the document's schema and the web client's type */
  schema?: S;
  description: string;
}

/** JSON the handler built as text (PostGIS writes GeoJSON): sent as it is, declared to have the answer's shape. */
export class JsonText<T = unknown> {
  declare readonly shape?: T;
  constructor(readonly text: string) {}
}
export const jsonText = <T>(text: string) => new JsonText<T>(text);

/**
 * JSON the handler writes piece by piece as the database hands it over (a page of features), never held
 * whole; declared to have the answer's shape. A failure before the first piece is a problem answer as any.
 */
export class JsonStream<T = unknown> {
  declare readonly shape?: T;
  constructor(readonly writer: (write: (piece: string | Buffer) => Promise<void>) => Promise<void>) {}
}
export const jsonStream = <T>(writer: JsonStream['writer']) => new JsonStream<T>(writer);

/** A streamed answer's client closed the connection before the end. */
export class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
  }
}

/** Characters (or bytes) of a streamed answer gathered before they are written. */
const FLUSH_AT = 64 * 1024;

/** A response's wait for its client to take what it holds: one, however many writes wait on it. */
const draining = new WeakMap<Response, Promise<void>>();

/** Writes a chunk, resolving once the client has taken what was written before: memory stays bounded. */
export function writeChunk(res: Response, chunk: string | Buffer): Promise<void> {
  // a client gone takes nothing more (and its 'close' has passed: waiting for it would never end)
  if (res.destroyed || res.write(chunk)) return Promise.resolve();
  let drained = draining.get(res);
  if (!drained) {
    drained = new Promise<void>((resolve) => {
      const done = () => (res.off('drain', done), res.off('close', done), draining.delete(res), resolve());
      res.once('drain', done).once('close', done);
    });
    draining.set(res, drained);
  }
  return drained;
}

type BodyOf<B> = B extends z.ZodType ? z.output<B> : undefined;
type AnswerOf<S> = S extends z.ZodType ? z.input<S> | JsonText<z.output<S>> | JsonStream<z.output<S>> : unknown;

export interface Context<P extends Parameters, Q extends Parameters, B, H extends Parameters> {
  req: Request;
  res: Response;
  next: NextFunction;
  /** the signed-in caller: always there on a route that is not public */
  viewer: Viewer;
  params: Parsed<P>;
  query: Parsed<Q>;
  body: BodyOf<B>;
  headers: Parsed<H>;
}

export interface RouteSpec<
  M extends Method = Method,
  Path extends string = string,
  P extends Parameters = Parameters,
  Q extends Parameters = Parameters,
  B extends z.ZodType | RawBody | undefined = z.ZodType | RawBody | undefined,
  S extends z.ZodType | undefined = z.ZodType | undefined,
  H extends Parameters = Parameters,
> {
  method: M;
  /** an express path pattern (`/api/v1/grids/:id`) */
  path: Path;
  summary: string;
  description?: string;
  tags: string[];
  allow: Allow;
  params?: P;
  /** every query parameter the route takes: any other is a 400 naming it (a route that declares none reads none) */
  query?: Q;
  /** the problem for a query parameter not declared, where not the usual 400 (a resource's list names its filters) */
  unknownParameter?: (name: string, allowed: string[]) => Error;
  /** the request headers the route reads, by name, parsed as parameters are (If-Match, Idempotency-Key …) */
  headers?: H;
  body?: B;
  /** the largest JSON body taken (413 past it): BODY_LIMIT unless said */
  bodyLimit?: string;
  answer: Answer<S>;
  /** the problems the route answers with, by status, for the document */
  problems?: Record<number, string>;
  /** not in /api/v1/openapi.json: OGC API – Features and Open311 publish their own descriptions */
  undocumented?: true;
  /** an answer to return, a JsonText, or nothing when the handler answers itself (a stream, a file, a 204) */
  handle(context: Context<P, Q, B, H>): Promise<AnswerOf<S> | void> | AnswerOf<S> | void;
}

/** Declares a route, keeping its method, path and schemas' types for the web client. */
export function route<
  const M extends Method,
  const Path extends string,
  P extends Parameters = Record<never, never>,
  Q extends Parameters = Record<never, never>,
  B extends z.ZodType | RawBody | undefined = undefined,
  S extends z.ZodType | undefined = undefined,
  H extends Parameters = Record<never, never>,
>(spec: RouteSpec<M, Path, P, Q, B, S, H>): RouteSpec<M, Path, P, Q, B, S, H> {
  return spec;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a table holds routes of every shape
export type AnyRoute = RouteSpec<Method, string, any, any, any, any, any>;

const isZod = (body: unknown): body is z.ZodType => typeof body === 'object' && body !== null && '_zod' in body;

/** The access guard's rules, in the table's order (the first that matches a request is its rule). */
export const rulesOf = (routes: readonly AnyRoute[]): AccessRule[] => routes.map(({ method, path, allow }) => ({ method, path, allow }));

// A FeatureCollection of 10,000 footprints is a few megabytes; anything far larger is refused with 413.
const BODY_LIMIT = '16mb';
const jsonBody = (limit = BODY_LIMIT) => express.json({ limit, type: ['application/json', 'application/geo+json', 'application/*+json'] });

function parseParameters(declared: Parameters | undefined, sent: Record<string, unknown>, unknownParameter?: AnyRoute['unknownParameter']) {
  if (declared) {
    const allowed = Object.keys(declared);
    const unknown = Object.keys(sent).find((key) => !allowed.includes(key));
    if (unknown && unknownParameter) throw unknownParameter(unknown, allowed);
    if (unknown)
      throw invalidParameter(
        unknown,
        allowed.length ? `${unknown} is not a parameter here; use ${allowed.join(', ')}` : `${unknown} is not a parameter here`,
      );
  }
  const parsed: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(declared ?? {})) {
    const result = schema.safeParse(sent[name]);
    // a parser of server/domain/params.ts throws its own problem; a plain zod schema's issue is named here
    if (!result.success) throw invalidParameter(name, `${name}: ${result.error.issues[0].message}`);
    parsed[name] = result.data;
  }
  return parsed;
}

const headersOf = (req: Request, declared: Parameters) => Object.fromEntries(Object.keys(declared).map((name) => [name, req.get(name)]));

/** An answer that is not what its route declares: a defect of the server, found by the tests (GRIDMAP_CHECK_ANSWERS). */
function checkAnswer(spec: AnyRoute, answer: unknown) {
  const issues = spec.answer.schema?.safeParse(answer instanceof JsonText ? JSON.parse(answer.text) : answer).error?.issues;
  if (issues) throw new Error(`${spec.method} ${spec.path} answered other than its schema: ${JSON.stringify(issues.slice(0, 3))}`);
}

/**
 * The part of a path that picks its routes' group: `/api/v1/<resource>`, else the first segment (`/tiles`,
 * `/ogc`); lower case, as express matches paths. Every route's group is known from its path alone.
 */
export function routeGroup(path: string) {
  const segments = path.toLowerCase().split('/');
  return segments.slice(0, segments[1] === 'api' ? 4 : 2).join('/');
}

/** The routes of a table by group (the guard's rules too): a request is matched against its group's only. */
export function groupedBy<T>(items: readonly T[], pathOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = routeGroup(pathOf(item));
    if (/[:*]/.test(group)) throw new Error(`${pathOf(item)}: a parameter where the route's group is read`);
    groups.set(group, [...(groups.get(group) ?? []), item]);
  }
  return groups;
}

/**
 * The express router of a table: parameters and body parsed and checked before the handler, its answer sent
 * (and checked against its schema when `checkAnswers`). One router per group of paths, found by the request's
 * group: a tile is not matched against the hundred routes of the API before its own.
 */
export function routerOf(routes: readonly AnyRoute[], { checkAnswers = false } = {}) {
  const groups = new Map<string, Router>();
  for (const [group, specs] of groupedBy(routes, (spec) => spec.path)) {
    const router = Router();
    for (const spec of specs) {
      const handle: RequestHandler = async (req, res, next) => {
        const params = parseParameters(spec.params, req.params);
        const query = parseParameters(spec.query, req.query, spec.unknownParameter);
        const body =
          isZod(spec.body) && !(req.body === undefined && spec.body.safeParse(undefined).success)
            ? parseBody(spec.body, req.body)
            : undefined;
        // the headers declared, read by their names (case-insensitively); the others are not the route's
        const headers = spec.headers && parseParameters(spec.headers, headersOf(req, spec.headers));
        res.status(spec.answer.status ?? 200);
        const answer = await spec.handle({ req, res, next, viewer: req.viewer!, params, query, body, headers: headers ?? {} });
        // nothing returned: the handler answers itself (a stream, a file, a 204)
        if (answer === undefined) return;
        if (answer instanceof JsonStream) {
          res.type(spec.answer.type ?? 'application/json');
          // what went out, for the tests' check of the answer (bytes: a chunk may end inside a character)
          const sent: Buffer[] = [];
          // pieces are gathered up to FLUSH_AT and the last goes out with the end: each write is a system call,
          // and a page's small pieces (its head, its links) would each cost one
          let pending: (string | Buffer)[] = [];
          let size = 0;
          const gathered = () => {
            const out =
              pending.length === 1
                ? pending[0]
                : pending.every((p) => typeof p === 'string')
                  ? pending.join('')
                  : Buffer.concat(pending.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
            pending = [];
            size = 0;
            if (checkAnswers) sent.push(Buffer.from(out));
            return out;
          };
          await answer.writer((piece) => {
            // the client went away: the writer stops reading what no one will take
            if (res.destroyed) throw new ClientGone();
            pending.push(piece);
            size += piece.length;
            return size < FLUSH_AT ? Promise.resolve() : writeChunk(res, gathered());
          });
          const last = gathered();
          // held to its schema in the tests: one that is not ends the response broken, which no test passes
          if (checkAnswers && res.statusCode < 300) checkAnswer(spec, jsonText(Buffer.concat(sent).toString()));
          return void res.end(last);
        }
        if (checkAnswers && res.statusCode < 300) checkAnswer(spec, answer);
        res.type(spec.answer.type ?? 'application/json').send(answer instanceof JsonText ? answer.text : JSON.stringify(answer));
      };
      const method = spec.method.toLowerCase() as Lowercase<Method>;
      if (isZod(spec.body)) router[method](spec.path, jsonBody(spec.bodyLimit), handle);
      else router[method](spec.path, handle);
    }
    groups.set(group, router);
  }
  const dispatch: RequestHandler = (req, res, next) => {
    const router = groups.get(routeGroup(req.path));
    if (!router) return next();
    router(req, res, next);
  };
  // every route, for whoever lists what the app serves (tests/access.test.ts walks routers' stacks)
  return Object.assign(dispatch, { stack: [...groups.values()].flatMap((router) => router.stack) });
}
