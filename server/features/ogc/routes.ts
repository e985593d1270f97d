import type { Request, Response } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import { viewKey } from '../../access/policy.ts';
import { notAKey } from '../../http/guard.ts';
import { ACCESS_KEY_PARAMETER, credentialOf, type Viewer } from '../../access/viewer.ts';
import type { Database } from '../../db/database.ts';
import {
  bboxCondition,
  countFeatures,
  readFeatures,
  streamFeaturePage,
  type Condition,
  type FeatureLayer,
  writeFeaturePage,
  type PageRead,
} from '../../db/feature-store.ts';
import { MAX_FEATURES } from '../../access/resource.ts';
import { onlyParameters, parseBbox, parseId, parseLimit, parseTime } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import { COLLECTIONS, queryables, readableCollection, readableCollections, type Collection, type Queryable } from './collections.ts';
import { ogcApiDocument } from './document.ts';
import { collectionHtml, collectionsHtml, itemHtml, itemsHtml, landingHtml, queryablesHtml, type Reader } from './html.ts';
import {
  collection as collectionAnswer,
  collections,
  conformance,
  feature,
  items,
  landing,
  queryables as queryablesAnswer,
  type Link,
} from './answers.ts';
import { EXACT, extentOf, sketchOf, type Extent } from './queries.ts';
import { origin } from '../../http/origin.ts';
import { notFound } from '../../http/problem.ts';
import { jsonStream, jsonText, route } from '../../http/route.ts';

const CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84';
const CONFORMANCE = [
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30',
  'http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables',
  'http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters',
];
const GEOJSON = 'application/geo+json';
const OPENAPI = 'application/vnd.oai.openapi+json;version=3.0';
const SCHEMA = 'application/schema+json';
const DEFAULT_LIMIT = 10;
/** How long a collection's extent is kept for one view: a GIS opening the service should not scan every table. */
const EXTENT_SECONDS = 60;

/** What the caller asked for: ?f=html or json, else its Accept header (a browser prefers HTML; GDAL, curl get JSON). */
function wantsHtml(req: Request): boolean {
  const f = req.query.f;
  if (f === undefined) return req.accepts([GEOJSON, 'application/json', 'text/html']) === 'text/html';
  if (f === 'html') return true;
  if (f === 'json') return false;
  throw invalidParameter('f', 'f must be json or html');
}

/** The parameters of every page but the items: the format, and the access key a GIS client may sign in with. */
const FORMAT_PARAMETERS = [ACCESS_KEY_PARAMETER, 'f'];
const collectionId = { collectionId: z.string() };

// the guard lets every GET through, and the routes decide what the caller reads, with the bearer token when one is
// sent (an unknown path is then a 404, not a 401). No query is declared: each handler checks its own parameters, so a
// stale token is a 401 and an unknown collection a 404 whatever the parameters (the items' are the collection's queryables).
const ogc = {
  tags: ['ogc'],
  undocumented: true as const,
  allow: { public: 'districts, streets, communities and grids are public; the other collections need a token' },
};

/**
 * Every answer of /ogc: differing by caller and by format, so no shared cache may hand one caller's to another; a
 * token that no longer opens a session refused, not taken for a wish to see the public layers only; a 401 saying
 * how to authenticate, as the access guard's does.
 */
async function answering<C extends { req: Request; res: Response }, T>(context: C, handle: (context: C) => T | Promise<T>): Promise<T> {
  const { req, res } = context;
  res.set({ Vary: 'Accept, Authorization', 'Cache-Control': 'private, no-cache' });
  try {
    const credential = credentialOf(req);
    if (credential && !req.viewer) {
      throw credential.keyOnly
        ? notAKey(credential)
        : new DomainError('auth.unauthenticated', 'the bearer token is unknown or expired: sign in again', { field: 'Authorization' });
    }
    return await handle(context);
  } catch (error) {
    if (error instanceof DomainError && error.kind === 'unauthenticated') res.set('WWW-Authenticate', 'Bearer realm="gridmap"');
    throw error;
  }
}

/** A page cursor: a feature id, or 0 (before every id). */
function parseCursor(value: unknown, field: 'after' | 'before') {
  return value === undefined ? undefined : value === '0' ? 0 : parseId(value, field);
}

/**
 * `datetime`: an instant or an interval (start/end, either open with ..); a date alone is its whole day (UTC).
 * Conditions on the collection's time column; a collection without times matches any (as Part 1 intends: a
 * client filtering a whole project by time keeps its time-less layers).
 */
function datetimeConditions(value: unknown, column: string | undefined): Condition[] {
  if (value === undefined) return [];
  if (typeof value !== 'string') throw invalidParameter('datetime', 'datetime must be given once');
  const parts = value.split('/');
  const open = (part: string) => part === '' || part === '..';
  if (parts.length > 2 || parts.every(open)) {
    throw invalidParameter(
      'datetime',
      'datetime must be an instant (2026-11-01T08:00:00Z, 2026-11-01) or an interval (2026-11-01/2026-11-30, 2026-11-01/.., ../2026-11-30)',
    );
  }
  const bound = (part: string, end: boolean) => {
    if (open(part)) return undefined;
    const time = parseTime(part, 'datetime')!;
    // an end is inclusive: the whole of its day for a date, the instant itself for a time
    return end ? new Date(time.getTime() + (part.length === 10 ? 86_400_000 : 1)) : time;
  };
  const [start, end] = [bound(parts[0], false), bound(parts.at(-1)!, true)];
  if (start && end && start >= end) throw invalidParameter('datetime', 'datetime must not end before it starts');
  if (!column) return [];
  const time = sql.ref(`t.${column}`);
  return [
    ...(start ? [sql`${time} >= ${start.toISOString()}::timestamptz`] : []),
    ...(end ? [sql`${time} < ${end.toISOString()}::timestamptz`] : []),
  ];
}

function queryableValue(queryable: Queryable, value: unknown): string | number | boolean {
  const name = queryable.name;
  if (typeof value !== 'string' || value === '') throw invalidParameter(name, `${name} must be given once, with a value`);
  switch (queryable.type) {
    case 'boolean':
      if (value !== 'true' && value !== 'false') throw invalidParameter(name, `${name} must be true or false`);
      return value === 'true';
    case 'integer':
      if (!/^-?\d{1,9}$/.test(value)) throw invalidParameter(name, `${name} must be an integer`);
      return Number(value);
    case 'number':
      if (!Number.isFinite(Number(value))) throw invalidParameter(name, `${name} must be a number`);
      return Number(value);
    default:
      if (value.length > 500 || value.includes('\u0000')) throw invalidParameter(name, `${name} must be text of up to 500 characters`);
      return value;
  }
}

/** `bbox` as 4 numbers, or 6 (with heights, which a map of the ground ignores). */
function parseItemsBbox(value: unknown) {
  const parts = typeof value === 'string' ? value.split(',') : [];
  return parseBbox(parts.length === 6 ? [parts[0], parts[1], parts[3], parts[4]].join(',') : value);
}

const extentJson = ({ bbox, interval }: Extent) => ({
  ...(bbox ? { spatial: { bbox: [bbox], crs: CRS84 } } : {}),
  ...(interval ? { temporal: { interval: [interval], trs: 'http://www.opengis.net/def/uom/ISO-8601/0/Gregorian' } } : {}),
});

/**
 * OGC API – Features (Part 1, and Part 3's queryables) at /ogc: the map's layers for QGIS, GDAL and any
 * client of the standard, scoped and masked per caller as the REST API is, and readable as HTML in a browser.
 * Not in /api/v1/openapi.json: /ogc/api is its own definition.
 */
export function ogcRoutes(database: Database) {
  const { db } = database;
  const extents = new Map<string, { until: number; extent: Promise<Extent> }>();
  /** A collection's extent as the viewer reads it, kept a minute per view. */
  function extentFor(collection: Collection, layer: FeatureLayer, viewer: Viewer | undefined) {
    const key = `${collection.id}/${viewer ? viewKey(viewer, collection.resource.name) : 'public'}`;
    const kept = extents.get(key);
    if (kept && kept.until > Date.now()) return kept.extent;
    if (extents.size > 1000) extents.clear();
    const extent = extentOf(db, layer, collection.time);
    extents.set(key, { until: Date.now() + EXTENT_SECONDS * 1000, extent });
    extent.catch(() => extents.delete(key));
    return extent;
  }

  const base = (req: Request) => `${origin(req)}/ogc`;
  /** A link; when the caller signed in with `access_key`, it carries the key, so a client following it stays signed in. */
  const link = (req: Request, href: string, rel: string, type: string, title?: string): Link => {
    const key = req.query[ACCESS_KEY_PARAMETER];
    const url = new URL(href);
    if (typeof key === 'string') url.searchParams.set(ACCESS_KEY_PARAMETER, key);
    return { href: url.href, rel, type, ...(title ? { title } : {}) };
  };
  /** self and alternate links of a path, for JSON of `type` and for HTML */
  const selfLinks = (req: Request, path: string, type = 'application/json', title = 'this document'): Link[] => [
    link(req, `${base(req)}${path}${req.query.f !== undefined ? '?f=json' : ''}`, 'self', type, title),
    link(req, `${base(req)}${path}?f=html`, 'alternate', 'text/html', `${title} as HTML`),
  ];
  /** Who reads an HTML page: signed in with `access_key`, its links to other pages carry the key, as the JSON links do. */
  const readerOf = (req: Request): Reader => {
    const key = req.query[ACCESS_KEY_PARAMETER];
    return { viewer: req.viewer, ...(typeof key === 'string' ? { accessKey: key } : {}) };
  };
  const html = (res: Response, text: string) => void res.type('text/html; charset=utf-8').send(text);

  async function collectionJson(req: Request, collection: Collection, layer: FeatureLayer) {
    const path = `/collections/${collection.id}`;
    return {
      id: collection.id,
      title: collection.title,
      description: collection.description,
      links: [
        ...selfLinks(req, path, 'application/json', 'this collection'),
        link(req, `${base(req)}${path}/items`, 'items', GEOJSON, `${collection.title} as GeoJSON`),
        link(req, `${base(req)}${path}/items?f=html`, 'items', 'text/html', `${collection.title} as HTML`),
        link(
          req,
          `${base(req)}${path}/queryables`,
          'http://www.opengis.net/def/rel/ogc/1.0/queryables',
          SCHEMA,
          'what the items can be filtered on',
        ),
      ],
      extent: extentJson(await extentFor(collection, layer, req.viewer)),
      itemType: 'feature' as const,
      crs: [CRS84],
      storageCrs: CRS84,
    };
  }

  return [
    route({
      method: 'GET',
      path: '/ogc',
      ...ogc,
      summary: 'The landing page: links to the API definition, the conformance classes and the collections',
      answer: { schema: landing, description: 'the landing page (HTML for a browser)' },
      handle: (context) =>
        answering(context, ({ req, res }) => {
          onlyParameters(req, FORMAT_PARAMETERS);
          const body = {
            title: 'Gridmap',
            description: 'Communities, grids, buildings, resident units, issues and Party members of the city, as OGC API – Features.',
            links: [
              ...selfLinks(req, ''),
              link(req, `${base(req)}/api`, 'service-desc', OPENAPI, 'the API definition (OpenAPI 3.0)'),
              link(req, `${base(req)}/api?f=html`, 'service-doc', 'text/html', 'the API definition, readable'),
              link(req, `${base(req)}/conformance`, 'conformance', 'application/json', 'the conformance classes this server implements'),
              link(req, `${base(req)}/collections`, 'data', 'application/json', 'the collections'),
            ],
          };
          if (wantsHtml(req)) return html(res, landingHtml(body, base(req), readerOf(req)));
          return body;
        }),
    }),
    route({
      method: 'GET',
      path: '/ogc/conformance',
      ...ogc,
      summary: 'The conformance classes this server implements',
      answer: { schema: conformance, description: 'the conformance classes (HTML for a browser)' },
      handle: (context) =>
        answering(context, ({ req, res }) => {
          onlyParameters(req, FORMAT_PARAMETERS);
          const body = { links: selfLinks(req, '/conformance'), conformsTo: CONFORMANCE };
          if (wantsHtml(req)) {
            return html(
              res,
              landingHtml(
                { title: 'Conformance', description: 'The conformance classes this server implements.', links: body.links },
                base(req),
                readerOf(req),
                CONFORMANCE,
              ),
            );
          }
          return body;
        }),
    }),
    route({
      method: 'GET',
      path: '/ogc/api',
      ...ogc,
      summary: "The API definition (OpenAPI 3.0), each collection's items path with its queryables",
      answer: { type: OPENAPI, description: 'the OpenAPI document (a browser is sent to Swagger UI)' },
      handle: (context) =>
        answering(context, async ({ req, res }) => {
          onlyParameters(req, FORMAT_PARAMETERS);
          // read in Swagger UI, the page the REST API's definition has
          if (wantsHtml(req)) return void res.redirect(303, '/api/v1/docs?spec=ogc');
          const filters = new Map(
            await Promise.all(COLLECTIONS.map(async (c) => [c.id, [...(await queryables(db, c, null)).values()]] as const)),
          );
          return ogcApiDocument(base(req), filters);
        }),
    }),
    route({
      method: 'GET',
      path: '/ogc/collections',
      ...ogc,
      summary: 'The collections the caller may read, each with its extent',
      answer: { schema: collections, description: 'the collections (HTML for a browser)' },
      handle: (context) =>
        answering(context, async ({ req, res }) => {
          onlyParameters(req, FORMAT_PARAMETERS);
          const readable = readableCollections(req.viewer);
          const body = {
            links: selfLinks(req, '/collections'),
            collections: await Promise.all(readable.map(({ collection, layer }) => collectionJson(req, collection, layer))),
          };
          if (wantsHtml(req)) return html(res, collectionsHtml(body, readerOf(req)));
          return body;
        }),
    }),
    route({
      method: 'GET',
      path: '/ogc/collections/:collectionId',
      ...ogc,
      summary: 'A collection, with its extent',
      params: collectionId,
      answer: { schema: collectionAnswer, description: 'the collection (HTML for a browser)' },
      problems: { 401: 'not public: sign in', 403: 'the caller may not read it', 404: 'no such collection' },
      handle: (context) =>
        answering(context, async ({ req, res, params }) => {
          onlyParameters(req, FORMAT_PARAMETERS);
          const { collection, layer } = readableCollection(params.collectionId, req.viewer);
          const body = await collectionJson(req, collection, layer);
          if (wantsHtml(req))
            return html(res, collectionHtml(body, [...(await queryables(db, collection, req.viewer)).values()], readerOf(req)));
          return body;
        }),
    }),
    route({
      method: 'GET',
      path: '/ogc/collections/:collectionId/queryables',
      ...ogc,
      summary: "What a collection's items can be filtered on (JSON Schema)",
      params: collectionId,
      answer: { type: SCHEMA, schema: queryablesAnswer, description: 'the queryables (HTML for a browser)' },
      problems: { 401: 'not public: sign in', 403: 'the caller may not read it', 404: 'no such collection' },
      handle: (context) =>
        answering(context, async ({ req, res, params }) => {
          onlyParameters(req, FORMAT_PARAMETERS);
          const { collection } = readableCollection(params.collectionId, req.viewer);
          const found = [...(await queryables(db, collection, req.viewer)).values()];
          if (wantsHtml(req)) return html(res, queryablesHtml(collection, found, readerOf(req)));
          return {
            $schema: 'https://json-schema.org/draft/2020-12/schema',
            $id: `${base(req)}/collections/${collection.id}/queryables`,
            type: 'object' as const,
            title: collection.title,
            properties: Object.fromEntries(found.map((q) => [q.name, { type: q.type }])),
            additionalProperties: false as const,
          };
        }),
    }),
    route({
      method: 'GET',
      path: '/ogc/collections/:collectionId/items',
      ...ogc,
      summary: "A page of a collection's items, filtered by bbox, datetime and the queryables, with next and prev links",
      // the queryables, each a parameter, are the collection's and the caller's: checked by the handler
      params: collectionId,
      answer: { type: GEOJSON, schema: items, description: 'a page of features (HTML for a browser)' },
      problems: { 400: 'a bad parameter', 401: 'not public: sign in', 403: 'the caller may not read it', 404: 'no such collection' },
      handle: (context) =>
        answering(context, async ({ req, res, params }) => {
          const { collection, layer } = readableCollection(params.collectionId, req.viewer);
          const filters = await queryables(db, collection, req.viewer);
          onlyParameters(req, [...FORMAT_PARAMETERS, 'bbox', 'bbox-crs', 'limit', 'after', 'before', 'datetime', ...filters.keys()]);
          const asHtml = wantsHtml(req);
          if (req.query['bbox-crs'] !== undefined && req.query['bbox-crs'] !== CRS84)
            throw invalidParameter('bbox-crs', `bbox-crs must be ${CRS84}`);
          const conditions: Condition[] = [];
          const bbox = parseItemsBbox(req.query.bbox);
          if (bbox) conditions.push(bboxCondition(bbox));
          conditions.push(...datetimeConditions(req.query.datetime, collection.time));
          for (const [name, queryable] of filters) {
            if (req.query[name] !== undefined) conditions.push(queryable.condition(queryableValue(queryable, req.query[name]) as never));
          }
          // more than the most is the most (Part 1, 1.0.1)
          const limit = Math.min(parseLimit(req.query.limit, { fallback: DEFAULT_LIMIT, max: Number.MAX_SAFE_INTEGER }), MAX_FEATURES);
          if (req.query.after !== undefined && req.query.before !== undefined)
            throw invalidParameter('before', 'give after or before, not both');
          const after = parseCursor(req.query.after, 'after');
          const before = parseCursor(req.query.before, 'before');
          // the count of every match is the costly part of a page: the first page has it, the pages a GIS follows do
          // not (a person reading HTML pages sees it on each)
          const numberMatched =
            asHtml || (after === undefined && before === undefined) ? await countFeatures(db, layer, conditions) : undefined;
          const page = { conditions, limit, after, before, decimals: EXACT };

          const path = `${base(req)}/collections/${collection.id}/items`;
          const query = (changes: Record<string, string | undefined>) => {
            const kept = new URLSearchParams(
              Object.entries(req.query).filter(([k]) => !['after', 'before', 'f'].includes(k)) as [string, string][],
            );
            for (const [k, v] of Object.entries(changes)) if (v !== undefined) kept.set(k, v);
            const text = kept.toString();
            return text ? `${path}?${text}` : path;
          };
          const cursor = after !== undefined ? { after: String(after) } : before !== undefined ? { before: String(before) } : {};
          // next follows the page's last id, prev precedes its first; on an empty page, the cursor it was asked with
          const pageLinks = (read: PageRead, f?: string) => {
            const hasNext = before !== undefined || read.more;
            const hasPrev = after !== undefined || (before !== undefined && read.more);
            const nextAfter = read.last ?? (before !== undefined ? before - 1 : after);
            const prevBefore = read.first ?? (after !== undefined ? after + 1 : before);
            return [
              ...(hasNext && nextAfter !== undefined && nextAfter >= 0
                ? [{ rel: 'next', href: query({ after: String(nextAfter), f }) }]
                : []),
              ...(hasPrev && prevBefore !== undefined ? [{ rel: 'prev', href: query({ before: String(prevBefore), f }) }] : []),
            ];
          };
          if (asHtml) {
            const features: GeoJSON.Feature[] = [];
            const read = await streamFeaturePage(db, layer, page, async (batch) => {
              features.push(...(JSON.parse(`[${batch}]`) as GeoJSON.Feature[]));
            });
            const sketch = await sketchOf(
              db,
              layer,
              features.map((f) => Number(f.id)),
            );
            const shown = { ...read, numberMatched, links: pageLinks(read, 'html'), features, sketch, limit };
            return html(res, itemsHtml(collection, shown, readerOf(req)));
          }
          res.set('Content-Crs', `<${CRS84}>`);
          // the features as PostGIS writes them, as they come; the links and counts after them
          const matched = numberMatched === undefined ? '' : `"numberMatched":${numberMatched},`;
          return jsonStream<z.output<typeof items>>((write) =>
            writeFeaturePage(database, layer, page, write, {
              head: `"timeStamp":"${new Date().toISOString()}",${matched}`,
              tail: (read) => {
                const links: Link[] = [
                  link(req, query({ ...cursor, f: req.query.f === undefined ? undefined : 'json' }), 'self', GEOJSON, 'this page'),
                  link(req, query({ ...cursor, f: 'html' }), 'alternate', 'text/html', 'this page as HTML'),
                  ...pageLinks(read).map((l) =>
                    link(req, l.href, l.rel, GEOJSON, l.rel === 'next' ? 'the next page' : 'the previous page'),
                  ),
                  link(req, `${base(req)}/collections/${collection.id}`, 'collection', 'application/json', collection.title),
                ];
                return `"numberReturned":${read.numberReturned},"links":${JSON.stringify(links)}`;
              },
            }),
          );
        }),
    }),
    route({
      method: 'GET',
      path: '/ogc/collections/:collectionId/items/:featureId',
      ...ogc,
      summary: 'A feature, with its ETag',
      params: { ...collectionId, featureId: z.string() },
      answer: { type: GEOJSON, schema: feature, description: 'the feature (HTML for a browser)' },
      problems: {
        401: 'not public: sign in',
        403: 'the caller may not read it',
        404: 'no such collection, or no such feature the caller may read',
      },
      handle: (context) =>
        answering(context, async ({ req, res, params: { featureId, ...params } }) => {
          onlyParameters(req, FORMAT_PARAMETERS);
          const { collection, layer } = readableCollection(params.collectionId, req.viewer);
          const notFoundHere = () =>
            new DomainError('ogc.feature_not_found', `No feature ${featureId} in ${collection.id} that you may read`, {
              field: 'featureId',
            });
          // ids are whole numbers: any other is no feature at all
          if (!/^[1-9]\d{0,8}$/.test(featureId)) throw notFoundHere();
          const id = Number(featureId);
          const [row] = await readFeatures(db, layer, [id], EXACT);
          if (!row) throw notFoundHere();
          const path = `${base(req)}/collections/${collection.id}`;
          const links: Link[] = [
            ...selfLinks(req, `/collections/${collection.id}/items/${id}`, GEOJSON, 'this feature'),
            link(req, path, 'collection', 'application/json', collection.title),
          ];
          const asHtml = wantsHtml(req);
          // one version, two representations (and, by Vary, one per caller)
          res.set('ETag', `"${row.version}-${asHtml ? 'html' : 'json'}"`);
          if (asHtml) return html(res, itemHtml(collection, JSON.parse(row.feature), await sketchOf(db, layer, [id]), readerOf(req)));
          res.set('Content-Crs', `<${CRS84}>`);
          // the feature text PostGIS built, with its links added before the closing brace
          return jsonText<z.output<typeof feature>>(`${row.feature.slice(0, -1)},"links":${JSON.stringify(links)}}`);
        }),
    }),
    // any other path under /ogc: no such resource (404) rather than a sign-in (401), a stale token refused as above
    route({
      method: 'GET',
      path: '/ogc/*rest',
      ...ogc,
      summary: 'No such resource',
      answer: { description: 'never: a 404 problem' },
      handle: (context) => answering(context, ({ req, res, next }) => notFound(req, res, next)),
    }),
  ];
}
