import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { actorOf, bearerToken } from '../../access/viewer.ts';
import type { Config } from '../../config.ts';
import type { Database } from '../../db/database.ts';
import { answerTime } from '../../domain/fields.ts';
import { idParameter, parseId } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import { toProblem, type Problem } from '../../http/problem.ts';
import { sessionViewer } from '../accounts/queries.ts';
import { categories, serviceRequests, servicesChangedAt } from './queries.ts';
import { issueKey, listedKeys, markUsed, open311App, open311KeyBody, revokedKey, revokeOpen311Key } from './keys.ts';
import {
  checkJurisdiction,
  optionalText,
  parseRequestFilter,
  reportServiceRequest,
  toService,
  toServiceRequest,
  type Reporter,
} from './service.ts';
import { origin } from '../../http/origin.ts';
import { route } from '../../http/route.ts';

/**
 * The problem wall as an Open311 GeoReport v2 endpoint at /open311/v2, for the clients cities already use:
 * services (the issue categories), service requests (the issues) to list, read and report, in JSON or XML,
 * and the discovery document at /open311/discovery.{json,xml}.
 */

/** An Open311 report is a small form; anything much larger is not one. */
const BODY_LIMIT = '64kb';

const FORMATS = ['json', 'xml'] as const;
type Format = (typeof FORMATS)[number];

function formatOf(value: string): Format {
  if (!FORMATS.includes(value as Format))
    throw new DomainError('open311.unknown_format', `format: .${value} is not served; use .json or .xml`, { field: 'format' });
  return value as Format;
}

type XmlValue = string | number | boolean | null | XmlValue[] | { [name: string]: XmlValue };

/** The element of each GeoReport list's items (the Spark convention: a plural holds its singulars). */
const ITEM: Record<string, string> = {
  services: 'service',
  service_requests: 'request',
  errors: 'error',
  endpoints: 'endpoint',
  formats: 'format',
  attributes: 'attribute',
};
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
// control characters XML 1.0 cannot carry even escaped (a description may hold one): shown as �
const escapeXml = (text: string) =>
  // eslint-disable-next-line no-control-regex -- those characters are what it finds
  text.replace(/[&<>"']/g, (c) => ESCAPES[c]).replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD');

function element(name: string, value: XmlValue): string {
  if (value === null) return `<${name}/>`;
  const content = Array.isArray(value)
    ? value.map((item) => element(ITEM[name], item)).join('')
    : typeof value === 'object'
      ? Object.entries(value)
          .map(([key, item]) => element(key, item))
          .join('')
      : escapeXml(String(value));
  return `<${name}>${content}</${name}>`;
}

/** The same body as JSON, or as XML under `root` (GeoReport's JSON is its XML without the root). */
function send(res: Response, format: Format, root: string, body: XmlValue) {
  if (format === 'json') return res.json(body);
  res.type('text/xml; charset=utf-8').send(`<?xml version="1.0" encoding="utf-8"?>\n${element(root, body)}`);
}

/**
 * Errors as GeoReport v2 has them, not as problem+json like the rest of the API: existing Open311 clients
 * parse a list of {code, description} (<errors><error>…), and each description names the parameter. The HTTP
 * statuses are GeoReport's too: 404 for what does not exist (a request, a service, the jurisdiction), 403 for
 * a missing or invalid api_key or a caller who may not, and 400 for every other refusal (a body too large too).
 */
function geoReportErrors(error: unknown, req: Request, res: Response) {
  const problem = asProblem(error);
  // a database outage stays 503 with its Retry-After: a client should come back, not give up
  const status =
    problem.status === 503 ? 503 : problem.status >= 500 ? 500 : problem.status === 403 || problem.status === 404 ? problem.status : 400;
  if (status === 500) req.log?.error({ err: error }, 'request failed');
  res.set(problem.headers);
  const listed = problem.extensions.errors as { field: string; message: string }[] | undefined;
  const errors = listed?.map((e) => ({ code: status, description: `${e.field}: ${e.message}` })) ?? [
    { code: status, description: problem.detail ?? problem.title },
  ];
  res.status(status);
  send(res, req.path.toLowerCase().endsWith('.xml') ? 'xml' : 'json', 'errors', errors);
}

/** A GeoReport route's handler, which answers itself (JSON or XML), its errors answered as GeoReport's. */
async function geoReport<C extends { req: Request; res: Response }>(context: C, handle: (context: C) => Promise<void>) {
  try {
    await handle(context);
  } catch (error) {
    geoReportErrors(error, context.req, context.res);
  }
}

function asProblem(error: unknown): Problem {
  // the body parsers': too large, too many parameters, malformed JSON, a charset other than UTF-8
  const { status, type, message } = error as { status?: number; type?: string; message?: string };
  if (type === 'entity.too.large') return toProblem(invalidParameter('body', `body: larger than ${BODY_LIMIT}`));
  if (typeof type === 'string' && typeof status === 'number' && status < 500)
    return toProblem(invalidParameter('body', `body: ${message ?? 'cannot be read'}`));
  return toProblem(error);
}

/** Runs a body parser (express middleware) in a handler, its error thrown. */
const parsed = (parser: RequestHandler, req: Request, res: Response) =>
  new Promise<void>((resolve, reject) => parser(req, res, ((error?: unknown) => (error ? reject(error) : resolve())) as NextFunction));

export function open311Routes(database: Database, config: Config) {
  const { db } = database;
  const jurisdiction = config.OPEN311_JURISDICTION;

  /**
   * Who is asking: the bearer token's user (the guard has read it), or the api_key's: an application's key an
   * admin issued (keys.ts), or a session token. A credential that is neither is refused (403), never taken as
   * anonymous; an application reads what anyone reads.
   */
  async function callerOf(req: Request, apiKey: unknown): Promise<Reporter | undefined> {
    if (req.viewer) return { viewer: req.viewer };
    const key = optionalText(apiKey, 'api_key');
    const token = key ?? bearerToken(req);
    if (token === undefined) return undefined;
    const app = key === undefined ? undefined : await open311App(db, key);
    if (app) return { app };
    const viewer = await sessionViewer(db, token);
    if (!viewer) {
      const field = key ? 'api_key' : 'Authorization';
      if (key && (await revokedKey(db, key)))
        throw new DomainError(
          'open311.forbidden',
          "api_key: this application's key was revoked; ask the city's Gridmap admin for a new one",
          { field },
        );
      throw new DomainError(
        'open311.forbidden',
        `${field}: not a valid Gridmap key or session (revoked, expired or signed out); ask the city's Gridmap admin for an application key`,
        { field },
      );
    }
    if (viewer.readOnly && req.method !== 'GET') {
      throw new DomainError('auth.read_only_key', 'api_key: this access key may only read; sign in to report', { field: 'api_key' });
    }
    // for the log and the audit log, as the guard does for a bearer token
    req.viewer = viewer;
    return { viewer };
  }
  const viewerOf = (caller: Reporter | undefined) => (caller && 'viewer' in caller ? caller.viewer : undefined);

  const form = express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 100 });
  const json = express.json({ limit: BODY_LIMIT });
  /** The body of a report: a form, or JSON; their errors (too large, malformed) are GeoReport's too. */
  const readBody = async (req: Request, res: Response) => {
    for (const parser of [form, json]) await parsed(parser, req, res);
  };

  const open311 = { tags: ['open311'], undocumented: true as const };
  const formatParams = { format: z.string() };
  const services = { public: 'the issue categories, as Open311 services' };
  const requests = { public: 'issues without personal data: no description, the point to ~100 m' };
  // reading is public, for transparency; an issue's description, media and exact point go only to a caller who may
  // read it (by bearer token or api_key), not to the others. Parameters GeoReport does not know are ignored: no query
  // is declared, each handler reads its own (service.ts)
  return [
    // the discovery document sits above the versions it lists; its changeset moves when the services change
    route({
      method: 'GET',
      path: '/open311/discovery.:format',
      ...open311,
      summary: 'The discovery document: the GeoReport v2 endpoint and its formats',
      allow: { public: 'Open311 service discovery holds no data' },
      params: formatParams,
      answer: { description: 'the discovery document, in JSON or XML' },
      handle: (context) =>
        geoReport(context, async ({ req, res, params }) => {
          const format = formatOf(params.format);
          const changeset = await servicesChangedAt(db);
          send(res, format, 'discovery', {
            changeset,
            contact: "Gridmap: the administrators of this city's Gridmap",
            key_service:
              "api_key: the key the city's Gridmap admin issues each client application (POST /api/v1/open311/keys), or a Gridmap session token (POST /api/v1/auth/login)",
            endpoints: [
              {
                specification: 'http://wiki.open311.org/GeoReport_v2',
                url: `${origin(req)}/open311/v2`,
                changeset,
                type: 'production',
                formats: ['text/xml', 'application/json'],
              },
            ],
          });
        }),
    }),
    route({
      method: 'GET',
      path: '/open311/v2/services.:format',
      ...open311,
      summary: 'The services: the issue categories',
      allow: services,
      params: formatParams,
      answer: { description: 'the services, in JSON or XML' },
      handle: (context) =>
        geoReport(context, async ({ req, res, params }) => {
          const format = formatOf(params.format);
          checkJurisdiction(req.query.jurisdiction_id, jurisdiction);
          send(res, format, 'services', (await categories(db)).map(toService));
        }),
    }),
    // no service has metadata: a definition without attributes, for clients that ask anyway
    route({
      method: 'GET',
      path: '/open311/v2/services/:code.:format',
      ...open311,
      summary: "A service's definition (no attributes)",
      allow: services,
      params: { code: z.string(), ...formatParams },
      answer: { description: 'the service definition, in JSON or XML' },
      handle: (context) =>
        geoReport(context, async ({ req, res, params }) => {
          const format = formatOf(params.format);
          checkJurisdiction(req.query.jurisdiction_id, jurisdiction);
          const [service] = await categories(db, params.code);
          if (!service)
            throw new DomainError('open311.service_not_found', `service_code ${params.code} is not a service here; see services.json`, {
              field: 'service_code',
            });
          send(res, format, 'service_definition', { service_code: service.code, attributes: [] });
        }),
    }),
    route({
      method: 'GET',
      path: '/open311/v2/requests.:format',
      ...open311,
      summary: 'Service requests (issues), filtered as GeoReport v2 lists',
      allow: requests,
      params: formatParams,
      answer: { description: 'the service requests, in JSON or XML' },
      handle: (context) =>
        geoReport(context, async ({ req, res, params }) => {
          const format = formatOf(params.format);
          checkJurisdiction(req.query.jurisdiction_id, jurisdiction);
          const filter = parseRequestFilter(req.query);
          const rows = await serviceRequests(db, viewerOf(await callerOf(req, req.query.api_key)), filter);
          send(res, format, 'service_requests', rows.map(toServiceRequest));
        }),
    }),
    route({
      method: 'GET',
      path: '/open311/v2/requests/:id.:format',
      ...open311,
      summary: 'A service request (an issue)',
      allow: requests,
      params: { id: z.string(), ...formatParams },
      answer: { description: 'the service request, in JSON or XML' },
      handle: (context) =>
        geoReport(context, async ({ req, res, params }) => {
          const format = formatOf(params.format);
          checkJurisdiction(req.query.jurisdiction_id, jurisdiction);
          const id = parseId(params.id, 'service_request_id');
          const [row] = await serviceRequests(db, viewerOf(await callerOf(req, req.query.api_key)), { ids: [id] });
          if (!row)
            throw new DomainError('open311.request_not_found', `service_request_id ${id}: no such request`, {
              field: 'service_request_id',
            });
          send(res, format, 'service_requests', [toServiceRequest(row)]);
        }),
    }),
    // 200, not 201: the GeoReport servers clients were written against answer 200, and some clients check for it
    route({
      method: 'POST',
      path: '/open311/v2/requests.:format',
      ...open311,
      summary: 'Report a service request: an issue at a point, on the wall of its grid',
      // the guard cannot read an api_key sent in the form: the route authenticates it, and allows the roles that may
      // create issues, in their scope, as POST /api/v1/issues does
      allow: { public: 'Open311 clients send their api_key in the body' },
      params: formatParams,
      body: { raw: { 'application/x-www-form-urlencoded': { type: 'object' }, 'application/json': { type: 'object' } } },
      answer: { description: 'the request reported, in JSON or XML' },
      handle: (context) =>
        geoReport(context, async ({ req, res, params }) => {
          await readBody(req, res);
          const format = formatOf(params.format);
          const body: unknown = req.body;
          // a multipart upload, or any body the parsers above do not read
          if (body === undefined && req.is('*/*')) {
            throw invalidParameter(
              'body',
              'body: send the parameters as application/x-www-form-urlencoded (or JSON), and media as a media_url',
            );
          }
          if (Array.isArray(body)) throw invalidParameter('body', 'body: JSON must be an object of parameters');
          // the spec sends every parameter in the form; some clients put api_key or jurisdiction_id in the URL
          const sent: Record<string, unknown> = { ...req.query, ...(body as object | undefined) };
          checkJurisdiction(sent.jurisdiction_id, jurisdiction);
          const reporter = await callerOf(req, sent.api_key);
          if (!reporter) {
            throw new DomainError(
              'open311.forbidden',
              "api_key: required to report; send the key the city's Gridmap admin issued your application, or a Gridmap session token",
              { field: 'api_key' },
            );
          }
          const actor =
            'app' in reporter
              ? { username: `open311 app ${reporter.app.id} (${reporter.app.name})`, request_id: String(req.id) }
              : actorOf(req);
          const reported = await reportServiceRequest(db, reporter, actor, sent);
          if ('app' in reporter) await markUsed(db, reporter.app);
          send(res, format, 'service_requests', [reported]);
        }),
    }),
  ];
}

/** An application's Open311 key as listed: never the key itself. */
const open311Key = z.object({
  id: z.number(),
  name: z.string(),
  services: z.array(z.string()),
  created_by: z.string().nullable(),
  created_at: answerTime,
  last_used_at: answerTime.nullable(),
  revoked_at: answerTime.nullable(),
});

// the client applications' Open311 keys: issued, listed and revoked by admins
export const open311KeyRoutes = ({ db }: Database) => [
  route({
    method: 'GET',
    path: '/api/v1/open311/keys',
    tags: ['accounts'],
    allow: { roles: ['admin'] },
    summary: "The client applications' Open311 keys: name, services, who issued each, when last used, whether revoked (never the keys)",
    answer: {
      schema: z.object({ keys: z.array(open311Key) }),
      description: '`{keys: [{id, name, services, created_by, created_at, last_used_at, revoked_at}]}`',
    },
    handle: async ({ res }) => {
      res.set('Cache-Control', 'no-store');
      return { keys: await listedKeys(db) };
    },
  }),
  route({
    method: 'POST',
    path: '/api/v1/open311/keys',
    tags: ['accounts'],
    allow: { roles: ['admin'] },
    summary: 'An Open311 api_key for a client application, allowed to post these services (issue categories); shown once',
    body: open311KeyBody.meta({ id: 'Open311Key' }),
    bodyLimit: '16kb',
    answer: {
      status: 201,
      schema: open311Key.extend({ api_key: z.string() }),
      description: '`{id, name, services, created_by, created_at, api_key}`',
    },
    problems: { 400: 'a wrong field, or a service that is no issue category' },
    handle: async ({ req, res, viewer, body }) => {
      const created = await issueKey(db, actorOf(req), viewer.id, body);
      res.set('Cache-Control', 'no-store');
      return created;
    },
  }),
  route({
    method: 'DELETE',
    path: '/api/v1/open311/keys/:id',
    tags: ['accounts'],
    allow: { roles: ['admin'] },
    summary: "Revoke an application's Open311 key: its posts are refused from now on",
    params: { id: idParameter() },
    answer: { status: 204, description: 'revoked' },
    problems: { 404: 'no such live key' },
    handle: async ({ req, res, params }) => {
      await revokeOpen311Key(db, actorOf(req), params.id);
      res.status(204).end();
    },
  }),
];
