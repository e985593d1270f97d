import { z } from 'zod';
import { MAX_FEATURES, resourceGeometry } from '../../access/resource.ts';
import { ERROR_CODES } from '../../domain/errors.ts';
import type { ResourceDefinition } from '../../access/resource.ts';
import { mayRead, mayWrite, type ResourceName } from '../../access/policy.ts';
import { ACCESS_RULES, MAP_RESOURCES, type AccessRule } from '../../access/rules.ts';
import { ROLES } from '../../access/viewer.ts';
import { IMPORT_CRS, IMPORT_MODES } from '../import/service.ts';
import { IMPORT_EXTRA } from '../import/mapping.ts';
import { IMPORT_FORMATS } from '../import/sources.ts';

/**
 * JSON Schema for OpenAPI 3.0 of a request, from the zod schema that validates it. Output mode draws what a pipe
 * checks (a geometry's shape); made to say what a request may send: a property with a default may be left out,
 * and an object that is not strict takes other properties (and drops them).
 */
const schema = (type: z.ZodType) => z.toJSONSchema(type, {
  target: 'openapi-3.0', io: 'output', unrepresentable: 'any',
  override: ({ zodSchema, jsonSchema }) => {
    const def = zodSchema._zod.def;
    // OpenAPI 3.0 reads nullable only beside a type: a nullable union (a street's geometry) says it of each member
    if (jsonSchema.nullable && !jsonSchema.type && jsonSchema.anyOf) {
      for (const member of jsonSchema.anyOf) member.nullable = true;
      delete jsonSchema.nullable;
    }
    if (def.type !== 'object') return;
    if (!def.catchall) delete jsonSchema.additionalProperties;
    const required = jsonSchema.required?.filter((key) => def.shape[key]._zod.optin === undefined);
    if (required?.length) jsonSchema.required = required;
    else delete jsonSchema.required;
  },
});

const problem = { $ref: '#/components/schemas/Problem' };
const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: problem } } });
const geojson = (description: string, ref?: string) => ({
  description,
  content: { 'application/geo+json': { schema: ref ? { $ref: ref } : { type: 'object' } } },
});
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } };
const pascal = (name: string) => name.replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase());

/**
 * The OpenAPI 3.0 document of the API, built from the resource definitions and their zod schemas: the
 * contract the server enforces is the one it publishes.
 */
export function openApiDocument(resources: ResourceDefinition[]) {
  const schemas: Record<string, unknown> = {
    Problem: {
      type: 'object',
      description: 'RFC 9457 problem details; `field` names the part of the request that was wrong; `code` says what went wrong in a '
        + 'stable word a client translates, with `params` the values its sentence names (`detail` is English)',
      required: ['type', 'title', 'status', 'code', 'params'],
      properties: {
        type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' },
        instance: { type: 'string' }, field: { type: 'string' },
        code: { type: 'string', enum: ERROR_CODES }, params: { type: 'object', description: 'strings, numbers, booleans or null, by name' },
        errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
    FeatureCollection: {
      type: 'object',
      required: ['type', 'features'],
      properties: {
        type: { type: 'string', enum: ['FeatureCollection'] },
        numberMatched: { type: 'integer' }, numberReturned: { type: 'integer' },
        links: { type: 'array', items: { type: 'object', properties: { rel: { type: 'string' }, href: { type: 'string' }, type: { type: 'string' } } } },
        features: { type: 'array', items: { type: 'object' } },
      },
    },
  };
  const paths: Record<string, unknown> = {
    '/api/v1/grids/unassigned': {
      get: { summary: 'Buildings, members and issues that no grid covers', tags: ['grids'], responses: { 200: geojson('a FeatureCollection; each feature has a `layer` property', '#/components/schemas/FeatureCollection') } },
    },
    '/api/v1/communities/{id}/tree': {
      get: {
        summary: 'The Party organisation along the map: community → grids → buildings, with counts', tags: ['communities'],
        parameters: [idParameter],
        responses: { 200: { description: 'the tree' }, 404: problemResponse('no such community') },
      },
    },
  };

  const layer = { name: 'layer', in: 'path', required: true, schema: { type: 'string', enum: resources.map((r) => r.name) } };
  paths['/api/v1/import/{layer}'] = {
    post: {
      summary: 'Import a file into a layer, in one transaction (everything or nothing)', tags: ['import and export'],
      description: 'GeoJSON FeatureCollection, newline-delimited GeoJSON, CSV or an Excel .xlsx sheet (a `wkt` column, `lon` and `lat`, or for point layers the building: `building_code`, or `building` and `community`), a zipped Shapefile, or (buildings only) an OpenStreetMap extract as .osm XML or .osm.pbf, in any coordinate system PostGIS knows (a .prj, a GeoJSON crs, or srid). Properties are checked as in a POST; ids and derived properties in the file are ignored. Properties are checked as in a POST; ids and derived properties in the file are ignored.',
      parameters: [
        layer,
        { name: 'format', in: 'query', description: 'else taken from Content-Type', schema: { type: 'string', enum: [...IMPORT_FORMATS] } },
        { name: 'crs', in: 'query', description: 'coordinates from Chinese web maps are converted to WGS 84', schema: { type: 'string', enum: [...IMPORT_CRS], default: 'wgs84' } },
        { name: 'srid', in: 'query', description: 'the EPSG code the coordinates are in (e.g. 4545: CGCS2000 3-degree Gauss–Krüger CM 108E); wins over the file\'s .prj or crs; PostGIS transforms to WGS 84', schema: { type: 'integer', minimum: 1 } },
        { name: 'encoding', in: 'query', description: 'the text encoding of a CSV or a shapefile\'s DBF (gbk, gb18030, big5, utf-8 …); wins over the .cpg and the DBF\'s language driver byte; default UTF-8', schema: { type: 'string' } },
        { name: 'dry_run', in: 'query', description: 'check everything, write nothing', schema: { type: 'boolean', default: false } },
        { name: 'repair', in: 'query', description: 'make invalid polygons valid (ST_MakeValid) where the result is still the right type; the report lists them', schema: { type: 'boolean', default: false } },
        { name: 'fields', in: 'query', description: 'property:column pairs, comma-separated (code:SQDM,name:SQMC; CSV headers in Chinese too): each column is read as that property; in a CSV or Excel table also the columns that place a row (lon, lat, wkt, building_code, building, community). A property the layer lacks is a 400, a column the file lacks a 422, both naming `fields`', schema: { type: 'string' } },
        { name: 'extra', in: 'query', description: 'columns neither mapped nor named like a property: ignore (listed in the report as `ignored_columns`) or reject (each row that has one is refused)', schema: { type: 'string', enum: [...IMPORT_EXTRA], default: 'ignore' } },
        { name: 'mode', in: 'query', description: 'insert; upsert (layers with a natural key: code for communities and grids, external_id for buildings, members, units): rows whose key is stored update that row, the others are inserted; replace: upsert one community\'s buildings, members or units and delete its others (with `community`; one transaction under the map\'s write lock)', schema: { type: 'string', enum: [...IMPORT_MODES], default: 'insert' } },
        { name: 'community', in: 'query', description: 'with mode=replace: the community whose rows the file replaces', schema: { type: 'integer', minimum: 1 } },
        { name: 'Accept', in: 'header', description: 'application/x-ndjson: once the upload is in, 200 with a JSON line of progress ({"progress": {phase, bytes, total_bytes, read, rejected, imported, to_write}}) at each phase and at most four a second, then {"status", "report"} or {"status", "problem"}', schema: { type: 'string' } },
        { name: 'Idempotency-Key', in: 'header', description: 'a retry with the same key is answered with the first outcome (header Idempotent-Replayed) instead of importing again; after an interrupted or failed import it runs again', schema: { type: 'string', minLength: 1, maxLength: 200 } },
      ],
      requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
      responses: {
        201: { description: 'imported: the report (read, imported, inserted, updated, deleted, repaired, columns, mapped, ignored_columns); Location names the import job' }, 200: { description: 'a clean dry run: the report' },
        400: problemResponse('an unreadable file or a bad parameter'), 409: problemResponse('an import with this Idempotency-Key is still running'),
        413: problemResponse('over a limit (the problem names it: bytes, features, recordBytes, depth, unpackedBytes, osmNodes)'), 415: problemResponse('unknown format'),
        503: problemResponse('the server stopped during the import: nothing was written; send it again'),
        422: problemResponse('rows rejected: the report lists each with its row number and reason; nothing was written'),
      },
    },
  };
  paths['/api/v1/imports/{id}'] = {
    get: {
      summary: 'An import job: its state and, once done, what it answered', tags: ['import and export'],
      description: 'state is running (with `read`, the rows read so far), written, checked (a clean dry run), rejected, refused, interrupted (the server stopped; rolled back) or failed; `status` and `answer` are the HTTP status and body it answered with. Its owner reads it, or an admin.',
      parameters: [idParameter],
      responses: { 200: { description: 'the job' }, 404: problemResponse('no such import of yours') },
    },
  };
  paths['/api/v1/export/{layer}'] = {
    get: {
      summary: 'The whole layer, streamed', tags: ['import and export'],
      parameters: [
        layer, { name: 'format', in: 'query', schema: { type: 'string', enum: ['geojson', 'ndjson', 'csv'], default: 'geojson' } },
        { name: 'crs', in: 'query', description: 'the datum of the coordinates written: WGS 84 as stored, or shifted for a Chinese web map (AMap/Tencent: gcj02, Baidu: bd09)', schema: { type: 'string', enum: ['wgs84', 'gcj02', 'bd09'], default: 'wgs84' } },
      ],
      responses: { 200: { description: 'GeoJSON, newline-delimited GeoJSON, or CSV with a `wkt` column' }, 400: problemResponse('a wrong format or crs'), 404: problemResponse('no such layer') },
    },
  };

  for (const def of resources) {
    const name = pascal(def.singular.replace(/ /g, '_'));
    const geometry = resourceGeometry(def);
    // Properties with defaults may be left out of a POST.
    const posted = def.properties.partial(Object.fromEntries(Object.keys(def.defaults).map((key) => [key, true])) as Record<string, true>).strict();
    const feature = z.object({ type: z.literal('Feature'), geometry, properties: posted });
    schemas[`${name}Properties`] = schema(posted);
    schemas[`${name}Feature`] = schema(feature);
    schemas[`${name}Patch`] = schema(z.strictObject({ type: z.literal('Feature').optional(), geometry: geometry.optional(), properties: def.properties.partial().strict().optional() }));
    const featureRef = { $ref: `#/components/schemas/${name}Feature` };
    const readOnly = `Read-only, derived or kept by Gridmap: ${def.readOnly.join(', ')}. Omitted properties take their defaults: ${JSON.stringify(def.defaults)}.`;
    const tags = [def.name];
    paths[`/api/v1/${def.name}`] = {
      get: {
        summary: `List ${def.name}`, tags,
        parameters: [
          { name: 'bbox', in: 'query', description: 'minLon,minLat,maxLon,maxLat (WGS 84): features that intersect it', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_FEATURES, default: 100 } },
          { name: 'after', in: 'query', description: 'the last id of the previous page (follow the `next` link)', schema: { type: 'integer', minimum: 1 } },
          ...Object.entries(def.filters).map(([filter, { type }]) => ({ name: filter, in: 'query', schema: { type: type === 'text' ? 'string' : type } })),
        ],
        responses: { 200: geojson(`a page of ${def.name}`, '#/components/schemas/FeatureCollection'), 400: problemResponse('a bad parameter, named in `field`') },
      },
      post: {
        summary: `Create one ${def.singular}, or many at once (all or nothing)`, description: readOnly, tags,
        requestBody: {
          required: true,
          content: { 'application/geo+json': { schema: { oneOf: [featureRef, { type: 'object', required: ['type', 'features'], properties: { type: { type: 'string', enum: ['FeatureCollection'] }, features: { type: 'array', items: featureRef, maxItems: MAX_FEATURES } } }] } } },
        },
        responses: {
          201: geojson('the stored feature(s), with their ids and derived links'),
          400: problemResponse('malformed JSON or a wrong field'), 409: problemResponse('a duplicate'), 413: problemResponse('body too large'),
          422: problemResponse('invalid geometry, an unknown reference or a broken map rule'),
        },
      },
    };
    paths[`/api/v1/${def.name}/{id}`] = {
      get: { summary: `One ${def.singular}`, tags, parameters: [idParameter], responses: { 200: geojson('the feature; its version is the ETag'), 404: problemResponse('no such id') } },
      patch: {
        summary: `Change properties and/or the geometry of a ${def.singular}`, description: `${readOnly} Send If-Match with the ETag to refuse overwriting someone else's change.`, tags,
        parameters: [idParameter, { name: 'If-Match', in: 'header', schema: { type: 'string' } }],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${name}Patch` } } } },
        responses: { 200: geojson('the stored feature'), 400: problemResponse('a wrong field'), 404: problemResponse('no such id'), 412: problemResponse('changed since the If-Match version'), 422: problemResponse('invalid geometry or a broken map rule') },
      },
      delete: {
        summary: `Delete a ${def.singular}`, tags,
        parameters: [idParameter, { name: 'If-Match', in: 'header', schema: { type: 'string' } },
          ...(def.name === 'grids' ? [{ name: 'merge_into', in: 'query', description: 'an adjacent grid that takes the area and what it holds', schema: { type: 'integer' } }] : [])],
        responses: { 204: { description: 'deleted' }, 404: problemResponse('no such id'), 409: problemResponse('still holds what must go somewhere first'), 412: problemResponse('changed since the If-Match version') },
      },
    };
  }

  // Who may call each operation, from the access rules the server enforces.
  for (const [path, operations] of Object.entries(paths) as [string, Record<string, { description?: string; security?: unknown[]; responses: Record<string, unknown> }>][]) {
    for (const [method, operation] of Object.entries(operations)) {
      const rule = ruleFor(method.toUpperCase(), path.replace(/\{(\w+)\}/g, ':$1'));
      if (!rule || 'public' in rule.allow) {
        operation.security = [];
        continue;
      }
      const roles = rolesOf(rule, path);
      operation.description = [operation.description, `Roles: ${roles}.`].filter(Boolean).join(' ');
      operation.responses[401] = problemResponse('no valid bearer token');
      operation.responses[403] = problemResponse('the role may not, or the row lies outside the user\'s scope');
    }
  }

  return {
    openapi: '3.0.3',
    info: {
      title: 'Gridmap API',
      version: '1',
      description: 'Districts, streets, communities, grids, buildings, Party members, resident units and issues on the map. Geometry is RFC 7946 GeoJSON in WGS 84; errors are RFC 9457 problem details.',
    },
    paths,
    security: [{ bearer: [] }, { basic: [] }],
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'the token from POST /api/v1/auth/login, or a read-only access key' },
        basic: { type: 'http', scheme: 'basic', description: 'a read-only access key (POST /api/v1/auth/keys) as the password, any user name: for GIS clients that cannot send a bearer token' },
      },
    },
  };
}

const ruleFor = (method: string, path: string) => ACCESS_RULES.find((rule) => rule.method === method && rule.path === path);

/** The roles a rule lets through, in words: a fixed list, any user, or what the policy allows on a layer. */
function rolesOf({ allow }: AccessRule, path: string): string {
  if ('public' in allow) return 'anyone';
  if (!('resource' in allow)) return allow.roles === 'any' ? 'any signed-in user' : allow.roles.join(', ');
  const layers: ResourceName[] = allow.resource === ':layer' ? MAP_RESOURCES : [allow.resource];
  const allowed = (role: (typeof ROLES)[number], layer: ResourceName) =>
    (!allow.roles || allow.roles.includes(role)) && (allow.action === 'read' ? mayRead(layer, role) : mayWrite(layer, role, allow.action));
  const perLayer = layers.map((layer) => `${path.includes('{layer}') ? `${layer}: ` : ''}${ROLES.filter((role) => allowed(role, layer)).join(', ')}`);
  return `${perLayer.join('; ')} (rows in the user's scope; personal data masked for roles that may not see it)`;
}
