import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { sql, type Kysely } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DB } from '../server/db/schema.ts';
import type { Database } from '../server/db/database.ts';
import { loadConfig } from '../server/config.ts';
import { apiRoutes } from '../server/http/api.ts';
import { openApiDocument } from '../server/http/openapi.ts';
import { testApp } from './support/app.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * Malformed requests for every write operation of the OpenAPI document, generated from its schemas: a
 * valid-looking request with one part corrupted. Every answer must be a 4xx problem, and no table may change.
 *
 * The generator makes only requests that must be refused (each corruption breaks the published schema, which
 * Ajv confirms, or a rule of Gridmap's that no valid request breaks: text with NUL, an invalid or antipodal
 * shape, an id no row has), so the tables are compared once per operation. Letting valid requests through and
 * counting rows around each refused one instead would be slower, and what a valid one wrote (a deleted grid,
 * the admin's changed password ending the fuzz's session) would change what the later requests meet.
 *
 * A failure prints fast-check's seed and path: FUZZ_SEED=<seed> FUZZ_PATH=<path> npx vitest run tests/fuzz.test.ts -t '<operation>'
 * replays it; FUZZ_SEED and FUZZ_RUNS=<runs per operation> hunt further.
 */

type Schema = {
  type?: string;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean | number;
  nullable?: boolean;
  default?: unknown;
  description?: string;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean;
  anyOf?: Schema[];
  oneOf?: Schema[];
  $ref?: string;
};
type Parameter = { name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema: Schema; example?: unknown };
type Operation = { parameters?: Parameter[]; requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> } };

// the published document; its routes are described here, not run (they get no database)
const document = openApiDocument(apiRoutes({} as Database, loadConfig({}))) as unknown as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
};
const WRITES = ['post', 'put', 'patch', 'delete'];
const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
  Object.entries(methods)
    .filter(([method]) => WRITES.includes(method))
    .map(([method, operation]) => ({ method, path, operation })),
);

/** The schema with its references in place, as Ajv (draft 7) reads OpenAPI 3.0's boolean exclusiveMinimum. */
function resolve(schema: Schema): Schema {
  if (schema.$ref) return resolve(document.components.schemas[schema.$ref.split('/').pop()!]);
  const out: Schema = { ...schema };
  if (out.exclusiveMinimum === true) {
    out.exclusiveMinimum = out.minimum;
    delete out.minimum;
  }
  if (out.items) out.items = resolve(out.items);
  if (out.properties) out.properties = Object.fromEntries(Object.entries(out.properties).map(([k, s]) => [k, resolve(s)]));
  if (out.anyOf) out.anyOf = out.anyOf.map(resolve);
  if (out.oneOf) out.oneOf = out.oneOf.map(resolve);
  return out;
}

const ajv = new Ajv({ strict: false });
addFormats.default(ajv);
const validators = new WeakMap<Schema, ValidateFunction>();
const accepts = (schema: Schema, value: unknown) => {
  if (!validators.has(schema)) validators.set(schema, ajv.compile(schema));
  return validators.get(schema)!(value);
};

/** JSON text a JSON value cannot hold (a number beyond double range, nesting past any parser's patience), and how Ajv sees it. */
class Raw {
  constructor(
    readonly text: string,
    readonly standIn: unknown,
  ) {}
}
const deep = (depth: number) => new Raw('['.repeat(depth) + ']'.repeat(depth), [[]]);
const RAW = /"\\u0000raw(\d+)"/g;
function serialize(value: unknown): string {
  const raws: Raw[] = [];
  const text = JSON.stringify(value, (_key, v) => (v instanceof Raw ? `\u0000raw${raws.push(v) - 1}` : v));
  return text.replace(RAW, (_, i) => raws[Number(i)].text);
}
const standIn = (value: unknown): unknown =>
  value instanceof Raw
    ? value.standIn
    : Array.isArray(value)
      ? value.map(standIn)
      : value && typeof value === 'object'
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, standIn(v)]))
        : value;

// --- valid-looking values -------------------------------------------------------------------------------------------

/** Where the valid-looking shapes lie: inside the first grid of the demo city (set before the runs). */
let anchor: [number, number] = [0, 0];
const square = ([lon, lat]: [number, number], side = 0.0002) => [
  [
    [lon, lat],
    [lon + side, lat],
    [lon + side, lat + side],
    [lon, lat + side],
    [lon, lat],
  ],
];

const GEOMETRY_TYPES = ['Point', 'LineString', 'Polygon', 'MultiPolygon'];
/** The GeoJSON types a schema takes, when it is a geometry. */
const geometryTypes = (s: Schema): string[] =>
  (s.anyOf ?? s.oneOf ?? [s]).map((a) => a.properties?.type?.enum?.[0] as string).filter((t) => GEOMETRY_TYPES.includes(t));

function validGeometry(type: string) {
  const [lon, lat] = anchor;
  return {
    Point: { type, coordinates: [lon + 0.0001, lat + 0.0001] },
    LineString: {
      type,
      coordinates: [
        [lon - 0.01, lat + 0.0001],
        [lon + 0.01, lat + 0.0001],
      ],
    },
    Polygon: { type, coordinates: square(anchor) },
    MultiPolygon: { type, coordinates: [square(anchor)] },
  }[type];
}

/** A value the schema takes; the defaults where there are some (a planning change saved, not dry-run). */
function valid(s: Schema): fc.Arbitrary<unknown> {
  if (s.default !== undefined) return fc.constant(s.default);
  const geometries = geometryTypes(s);
  if (geometries.length) return fc.constantFrom(...geometries).map(validGeometry);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map(valid));
  switch (s.type) {
    case 'string':
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern));
      if (s.format === 'date')
        return fc
          .date({ min: new Date('2000-01-01'), max: new Date('2030-12-31'), noInvalidDate: true })
          .map((d) => d.toISOString().slice(0, 10));
      return fc.string({ minLength: Math.max(1, s.minLength ?? 0), maxLength: Math.min(s.maxLength ?? 20, 20) });
    case 'integer':
    case 'number': {
      const min = Math.max(s.minimum ?? 1, typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum + 1 : -Infinity);
      return fc.integer({ min, max: Math.min(s.maximum ?? min + 50, min + 50) });
    }
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(valid(s.items!), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 2, (s.minItems ?? 0) + 2) });
    case 'object': {
      // an optional property now and then: each one is another way for the base to be refused first (stale versions …)
      const properties = Object.entries(s.properties ?? {}).map(([k, p]) => [
        k,
        s.required?.includes(k) ? valid(p) : fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: valid(p) }),
      ]);
      return fc.record(Object.fromEntries(properties)).map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
    }
    default:
      return fc.constant({});
  }
}

// --- corruptions ----------------------------------------------------------------------------------------------------

/** A corrupted value, and whether it breaks a rule of Gridmap's rather than the schema (so Ajv cannot confirm it). */
type Corrupted = { value: unknown; rule?: string };
const JUNK: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  2 ** 31,
  2 ** 53 + 2,
  -1e308,
  '',
  'x',
  'NaN',
  'Infinity',
  '1e400',
  'ö网格😀',
  '\u0000',
  [],
  [null],
  {},
  { '': null },
  new Raw('1e400', Infinity),
  new Raw('-1e400', -Infinity),
  'x'.repeat(10_001),
  Array(20_000).fill(0),
];

/** Values of the wrong type or out of the schema's bounds; Ajv filters out those that happen to fit. */
function wrong(s: Schema): fc.Arbitrary<unknown> {
  const bounds: unknown[] = [];
  if (s.minimum !== undefined) bounds.push(s.minimum - 1);
  if (s.maximum !== undefined) bounds.push(s.maximum + 1);
  if (s.minLength) bounds.push('x'.repeat(s.minLength - 1));
  if (s.maxLength !== undefined) bounds.push('x'.repeat(s.maxLength + 1));
  if (s.enum) bounds.push(`${String(s.enum[0]).toUpperCase()}!`);
  if (s.maxItems !== undefined && s.items) bounds.push(Array(s.maxItems + 1).fill(null));
  const strings = s.pattern || s.enum ? [fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 })] : [];
  return fc.oneof(fc.constantFrom(...JUNK, ...bounds), fc.integer({ min: 2, max: 100_000 }).map(deep), ...strings);
}

/** Shapes that GeoJSON or PostGIS refuses, or that lie beyond the service area a schema names (with the rule they break). */
function badGeometries(s: Schema): Corrupted[] {
  const [lon, lat] = anchor;
  const nan = ['NaN', 'Infinity'];
  const infinite = new Raw('1e400', Infinity);
  const polygons: Corrupted[] = [
    {
      value: [
        [
          [lon, lat],
          [lon + 0.001, lat],
          [lon + 0.001, lat + 0.001],
          [lon, lat + 0.001],
        ],
      ],
    }, // an open ring
    { value: [[[lon, lat]]] },
    { value: [[nan, [lon, lat], [lon, lat + 0.001], nan]] },
    {
      value: [
        [
          [lon, lat],
          [lon, 91],
          [181, 91],
          [lon, lat],
        ],
      ],
    },
    {
      value: [
        [
          [lon, lat],
          [lon, lat + 1],
          [infinite, lat],
          [lon, lat],
        ],
      ],
    },
    {
      value: [
        [
          [lon, lat],
          [lon + 0.001, lat + 0.001],
          [lon + 0.001, lat],
          [lon, lat + 0.001],
          [lon, lat],
        ],
      ],
      rule: 'a bow-tie crosses itself',
    },
    {
      value: [
        [
          [-90, 0],
          [90, 0],
          [90, 1],
          [-90, 1],
          [-90, 0],
        ],
      ],
      rule: 'an edge 180° long has no one shortest path',
    },
  ];
  const points: Corrupted[] = [[200, 100], nan, [lon], [lon, lat, 0, 0], [infinite, lat]].map((value) => ({ value }));
  const inServiceArea = [s, ...(s.anyOf ?? [])].some((a) => a.description?.includes('within the service area'));
  if (inServiceArea) {
    const rule = 'outside the service area';
    polygons.push(
      {
        value: [
          [
            [-179, 0],
            [179, 0],
            [179, 1],
            [-179, 1],
            [-179, 0],
          ],
        ],
        rule,
      },
      { value: square([-74, 40.7]), rule },
    );
    points.push({ value: [-74, 40.7], rule });
  }
  return geometryTypes(s).flatMap((type): Corrupted[] => {
    const shape = (coordinates: unknown, rule?: string) => ({ value: { type, coordinates }, rule });
    switch (type) {
      case 'Point':
        return points.map(({ value, rule }) => shape(value, rule));
      case 'LineString':
        return [
          shape([[lon, lat]]),
          shape([[lon, lat], nan]),
          shape([
            [lon, lat],
            [200, 100],
          ]),
        ];
      default:
        return [
          ...polygons.map(({ value, rule }) => shape(type === 'Polygon' ? value : [value], rule)),
          { value: { type: type === 'Polygon' ? 'LineString' : 'Polygon', coordinates: square(anchor) } },
          { value: { type: 'GeometryCollection', geometries: [] } },
        ];
    }
  });
}

/** Text without a pattern, enum or format: stored as text, where PostgreSQL cannot keep a NUL (a password is hashed). */
const freeText = (s: Schema) => s.type === 'string' && !s.pattern && !s.enum && !s.format;

type Site = { schema: Schema; value: unknown; set: (v: unknown) => unknown };

/** Every place in a valid-looking value where a corruption can go, with how to put one there. */
function sites(schema: Schema, value: unknown, set: (v: unknown) => unknown = (v) => v): Site[] {
  const here: Site = { schema, value, set };
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (geometryTypes(schema).length) return [here];
  if (alternatives) {
    const taken = alternatives.find((a) => accepts(a, value));
    return taken ? sites(taken, value, set) : [here];
  }
  if (schema.type === 'object' && schema.properties && value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    return [
      here,
      ...Object.entries(object).flatMap(([key, v]) =>
        schema.properties![key] ? sites(schema.properties![key], v, (w) => set({ ...object, [key]: w })) : [],
      ),
    ];
  }
  if (schema.type === 'array' && schema.items && Array.isArray(value) && value.length) {
    return [here, ...sites(schema.items, value[0], (w) => set([w, ...value.slice(1)]))];
  }
  return [here];
}

/** The corruptions of one site, in its whole body; more often those that only the server's own rules refuse. */
function corruptionsAt({ schema, value, set }: Site): fc.Arbitrary<Corrupted> {
  const options: fc.WeightedArbitrary<Corrupted>[] = [];
  const add = (weight: number, arbitrary: fc.Arbitrary<Corrupted>) => options.push({ weight, arbitrary });
  add(
    1,
    wrong(schema).map((v) => ({ value: set(v) })),
  );
  const geometries = badGeometries(schema);
  if (geometries.length) {
    add(
      1,
      fc.constantFrom(...geometries.filter((g) => !g.rule)).map((g) => ({ value: set(g.value) })),
    );
    const byRule = geometries.filter((g) => g.rule);
    if (byRule.length)
      add(
        3,
        fc.constantFrom(...byRule).map((g) => ({ value: set(g.value), rule: g.rule })),
      );
  }
  if (freeText(schema) && typeof value === 'string') add(1, fc.constant({ value: set(`${value}\u0000`), rule: 'NUL in text' }));
  if (schema.type === 'object' && value && typeof value === 'object' && !Array.isArray(value)) {
    const object = value as Record<string, unknown>;
    for (const key of (schema.required ?? []).filter((k) => k in object)) {
      add(1, fc.constant({ value: set(Object.fromEntries(Object.entries(object).filter(([k]) => k !== key))) }));
    }
    if (schema.additionalProperties === false)
      add(
        1,
        fc.constantFrom('extra', '__proto__', 'constructor').map((k) => ({ value: set({ ...object, [k]: { polluted: true } }) })),
      );
  }
  return fc.oneof(...options);
}

/** A JSON body of the schema with one corruption (in a geometry more often): broken in Ajv's eyes, or by a rule of Gridmap's. */
const corruptBody = (schema: Schema) =>
  valid(schema)
    .chain((body) =>
      fc.oneof(
        ...sites(schema, body).map((site) => ({ arbitrary: corruptionsAt(site), weight: geometryTypes(site.schema).length ? 4 : 1 })),
      ),
    )
    .filter(({ value, rule }) => rule !== undefined || !accepts(schema, standIn(value)));

// --- requests -------------------------------------------------------------------------------------------------------

interface FuzzRequest {
  as: 'admin' | 'resident';
  method: string;
  /** the path with its parameters, escaped */
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  body?: { type: string; data: string | Uint8Array };
  /** what was corrupted */
  fault: string;
}
/** A request being made: its path parameters by name (escaped), not yet in the path. */
type Draft = Omit<FuzzRequest, 'path'> & { values: Record<string, string> };
type Fault = (draft: Draft) => Draft;

const ID_JUNK = [
  '0',
  '-1',
  '1.5',
  '1e3',
  '0x1F',
  '2147483647',
  '2147483648',
  '9'.repeat(30),
  'NaN',
  'Infinity',
  'null',
  'abc',
  '١',
  '一',
  '😀',
  'x'.repeat(5000),
  '\u0000',
  '1\u0000',
];
const TEXT_JUNK = ['', ' ', 'ö网格😀', '\u0000', 'a\u0000b', 'x'.repeat(5000), '..', '/', '%', '[object Object]'];

/** A path or query value its schema refuses (as it is sent, before escaping). */
function wrongParameter(s: Schema): fc.Arbitrary<string> {
  const junk =
    s.type === 'integer' || s.type === 'number'
      ? [...ID_JUNK, ...TEXT_JUNK]
      : s.type === 'boolean'
        ? ['1', 'yes', 'TRUE', ...TEXT_JUNK]
        : TEXT_JUNK;
  const strings = s.enum || s.pattern ? [fc.string({ maxLength: 40 })] : [];
  return fc.oneof(fc.constantFrom(...junk), ...strings).filter((v) => {
    if (s.enum) return !s.enum.includes(v);
    if (s.pattern) return !new RegExp(s.pattern).test(v);
    if (s.type === 'boolean') return v !== 'true' && v !== 'false';
    // an integer that might be a row (2147483647 none is)
    return s.type === 'integer' ? !/^0*[1-9]\d{0,8}$/.test(v) || v === '2147483647' : true;
  });
}

/** An If-Match this API never gave: not "<version>" or W/"<version>". */
const wrongEtag = fc
  .oneof(
    fc.constantFrom('garbage', '"abc"', '"-1"', '""', '"1', '1', '"1", "2"', 'W/', '"99999999999"', `"${'9'.repeat(5000)}"`),
    fc.string({ maxLength: 30 }),
  )
  .filter((v) => !/^(W\/)?"\d{1,9}"$/.test(v.trim()) && v.trim() !== '*');

const IMAGE_MAGIC: Record<string, number[]> = {
  'image/jpeg': [0xff, 0xd8, 0xff],
  'image/png': [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
  'image/webp': [...Buffer.from('RIFF\0\0\0\0WEBP')],
};
const isJson = (type: string) => /^application\/(.+\+)?json$/.test(type);
const picture = (type: string, rest: Uint8Array) => new Uint8Array([...IMAGE_MAGIC[type], ...rest]);
/** JSON text no body schema takes: cut short, not JSON at all, or arrays nested thousands deep. */
const malformedJson = (of: fc.Arbitrary<unknown>) =>
  fc.oneof(
    fc.constantFrom('{', '{"a":', '[1,]', "{'a':1}", 'undefined', 'NaN', '\u0000', '{"a":1}}', '\ufeff{}x'),
    of.chain((v) => {
      const text = serialize(v);
      return fc.integer({ min: 1, max: Math.max(1, text.length - 1) }).map((n) => text.slice(0, n));
    }),
    fc.integer({ min: 1000, max: 200_000 }).chain((n) => fc.constantFrom(deep(n).text, deep(n).text.slice(0, -1))),
  );

/** The schema of one feature a POST to the layer takes. */
const featureOf = (layer: string) =>
  resolve(Object.values(document.paths[`/api/v1/${layer}`].post.requestBody!.content)[0].schema).oneOf![0];

/**
 * An upload (the import's body is a file): always a broken one, a few kinds of small malformed GeoJSON. A
 * feature corrupted as a POST of the layer would be, in a FeatureCollection or as a line of NDJSON.
 */
function brokenUpload(feature: Schema): fc.Arbitrary<{ format: string; data: string; fault: string }> {
  return fc.oneof(
    fc.tuple(fc.constantFrom('geojson', 'ndjson'), corruptBody(feature)).map(([format, { value, rule }]) => ({
      format,
      data: format === 'geojson' ? `{"type":"FeatureCollection","features":[${serialize(value)}]}` : `${serialize(value)}\n`,
      fault: `a feature${rule ? `: ${rule}` : ''}`,
    })),
    fc
      .tuple(fc.constantFrom('geojson', 'ndjson'), malformedJson(valid(feature)))
      .map(([format, data]) => ({ format, data, fault: 'malformed JSON' })),
  );
}

/** The operation's requests: valid-looking parameters and body (see `valid`), one part of them corrupted. */
function requests(method: string, path: string, operation: Operation, etag: string | undefined): fc.Arbitrary<FuzzRequest> {
  const parameters = (operation.parameters ?? []).map((p) => ({ ...p, schema: resolve(p.schema) }));
  const inPath = parameters.filter((p) => p.in === 'path');
  const inQuery = parameters.filter((p) => p.in === 'query');
  const declares = (name: string) => parameters.some((p) => p.in === 'header' && p.name === name);
  const [type, media] = Object.entries(operation.requestBody?.content ?? {})[0] ?? [];
  const schema = type && isJson(type) ? resolve(media.schema) : undefined;
  const uploads =
    type === 'application/octet-stream'
      ? Object.fromEntries((inPath.find((p) => p.name === 'layer')?.schema.enum as string[]).map((l) => [l, brokenUpload(featureOf(l))]))
      : {};

  // the base: the first row (id 1), each other path parameter's example or a value of its enum, the row's ETag, a valid body
  const pathValue = (p: Parameter) =>
    p.schema.type === 'integer' ? fc.constant(1) : p.example !== undefined ? fc.constant(p.example) : valid(p.schema);
  const values = fc.record(Object.fromEntries(inPath.map((p) => [p.name, pathValue(p).map((v) => encodeURIComponent(String(v)))])));
  const signedIn = fc.oneof(
    { weight: 3, arbitrary: fc.constant('admin' as const) },
    { weight: 1, arbitrary: fc.constant('resident' as const) },
  );
  const base = fc.record({ as: signedIn, values }).chain(({ as, values }): fc.Arbitrary<Draft> => {
    const draft: Draft = { as, method, values, query: [], headers: etag ? { 'If-Match': etag } : {}, fault: '' };
    if (schema) return valid(schema).map((v) => ({ ...draft, body: { type, data: serialize(v) } }));
    if (type?.startsWith('image/'))
      return fc
        .uint8Array({ maxLength: 64 })
        .map((rest) => ({ ...draft, body: { type: 'image/jpeg', data: picture('image/jpeg', rest) } }));
    if (type === 'application/octet-stream') {
      return uploads[values.layer].map(({ format, data, fault }) => ({
        ...draft,
        query: [['format', format]],
        body: { type, data },
        fault: `upload: ${fault}`,
      }));
    }
    return fc.constant(draft);
  });

  // weighted towards the body, where most of a request is
  const faults: fc.WeightedArbitrary<Fault>[] = [];
  const add = (weight: number, arbitrary: fc.Arbitrary<Fault>) => faults.push({ weight, arbitrary });
  add(
    1,
    fc
      .constantFrom('Bearer garbage', 'Bearer ', 'Basic YWRtaW46Z3JpZG1hcC1kZW1v', 'Bearer x.y.z', 'bearer\tgarbage')
      .map((value): Fault => (d) => ({ ...d, headers: { ...d.headers, Authorization: value }, fault: `Authorization: ${value}` })),
  );
  for (const p of inPath) {
    add(
      2,
      fc
        .oneof(wrongParameter(p.schema).map(encodeURIComponent), fc.constantFrom('%', '%E0%A4%A', '..%2F..%2Fhealth'))
        .map((value): Fault => (d) => ({ ...d, values: { ...d.values, [p.name]: value }, fault: `path ${p.name}` })),
    );
  }
  for (const p of inQuery) {
    // a value of the wrong kind, or the parameter given twice
    const given = fc.oneof(
      wrongParameter(p.schema).map((v) => [v]),
      valid(p.schema).map((v) => [String(v), String(v)]),
    );
    add(
      2,
      given.map((vs): Fault => (d) => ({
        ...d,
        query: [...d.query.filter(([k]) => k !== p.name), ...vs.map((v): [string, string] => [p.name, v])],
        fault: `query ${p.name}`,
      })),
    );
  }
  if (declares('If-Match'))
    add(
      1,
      wrongEtag.map((value): Fault => (d) => ({ ...d, headers: { ...d.headers, 'If-Match': value }, fault: 'If-Match' })),
    );
  if (declares('Idempotency-Key'))
    add(
      1,
      fc
        .constantFrom('', 'k'.repeat(201), 'é')
        .map((value): Fault => (d) => ({ ...d, headers: { ...d.headers, 'Idempotency-Key': value }, fault: 'Idempotency-Key' })),
    );
  // an upload is broken already
  if (type === 'application/octet-stream')
    add(
      4,
      fc.constant((d: Draft) => d),
    );

  if (schema) {
    const withBody =
      (data: string, contentType: string, fault: string): Fault =>
      (d) => ({ ...d, body: { type: contentType, data }, fault });
    add(
      8,
      corruptBody(schema).map(({ value, rule }) => withBody(serialize(value), type, `body${rule ? `: ${rule}` : ''}`)),
    );
    add(
      1,
      malformedJson(valid(schema)).map((text) => withBody(text, type, 'malformed JSON')),
    );
    if (operation.requestBody?.required) {
      add(
        1,
        fc.oneof(
          fc
            .tuple(
              valid(schema),
              fc.constantFrom(
                'text/plain',
                'application/x-www-form-urlencoded',
                'multipart/form-data; boundary=x',
                'application/json; charset=utf-16',
                'application/xml',
              ),
            )
            .map(([v, contentType]) => withBody(serialize(v), contentType, `Content-Type: ${contentType}`)),
          fc.constant(withBody('', type, 'empty body')),
        ),
      );
    }
  }
  if (type?.startsWith('image/')) {
    const types = Object.keys(operation.requestBody!.content);
    add(
      2,
      fc
        .tuple(
          fc.constantFrom(...types),
          fc.uint8Array({ maxLength: 64 }),
          fc.constantFrom(...types, 'application/json', 'text/plain', 'image/gif'),
        )
        .filter(([t, , declared]) => t !== declared)
        .map(([t, rest, declared]): Fault => (d) => ({
          ...d,
          body: { type: declared, data: picture(t, rest) },
          fault: `a ${t} sent as ${declared}`,
        })),
    );
    add(
      2,
      fc
        .tuple(
          fc.constantFrom(...types),
          fc.uint8Array({ maxLength: 64 }).filter((b) => !Object.values(IMAGE_MAGIC).some((m) => m.every((x, i) => b[i] === x))),
        )
        .map(([declared, data]): Fault => (d) => ({ ...d, body: { type: declared, data }, fault: 'not a picture' })),
    );
  }

  return fc.tuple(base, fc.oneof(...faults)).map(([draft, fault]) => {
    const { values, ...rest } = fault(draft);
    const made: FuzzRequest = {
      ...rest,
      path: path.replace(/\{(\w+)\}/g, (_, name: string) => values[name]),
      fault: [...new Set([draft.fault, rest.fault])].filter(Boolean).join('; '),
    };
    return Object.assign(made, { [fc.toStringMethod]: () => describeRequest(made) });
  });
}

/** A request as fast-check reports it: long bodies cut short. */
function describeRequest({ as, method, path, query, headers, body, fault }: FuzzRequest) {
  const cut = (text: string) => (text.length > 1000 ? `${text.slice(0, 1000)}… (${text.length} characters)` : text);
  const data = body && (typeof body.data === 'string' ? cut(JSON.stringify(body.data)) : `${body.data.length} bytes`);
  return `[${fault}] as ${as}: ${method.toUpperCase()} ${cut(path)}${query.length ? `?${cut(new URLSearchParams(query).toString())}` : ''} ${JSON.stringify(headers).slice(0, 300)}${body ? ` ${body.type} ${data}` : ''}`;
}

// --- the tables -----------------------------------------------------------------------------------------------------

/**
 * Tables a refused request writes to, by design:
 * - login_failures: a refused sign-in is counted, per account and address (the throttle);
 * - imports: an import job records its refusal, to answer a retry with the same Idempotency-Key alike.
 */
const WRITTEN_BY_REFUSALS = ['login_failures', 'imports'];

/** The tables of the public schema, but those. */
async function tableNames(db: Kysely<DB>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`.execute(
    db,
  );
  return rows.map((r) => r.name).filter((name) => !WRITTEN_BY_REFUSALS.includes(name));
}

/** Each table's row count, in one query: cheap enough to take after every operation. */
async function rowCounts(db: Kysely<DB>, names: string[]): Promise<Record<string, number>> {
  const counts = names.map((name) => sql`select ${name} as name, count(*)::int as n from ${sql.table(name)}`);
  const { rows } = await sql<{ name: string; n: number }>`${sql.join(counts, sql` union all `)}`.execute(db);
  return Object.fromEntries(rows.map((r) => [r.name, r.n]));
}

/** Each table's rows as a digest: what an update would change too (a few seconds with the audit log: once per file). */
async function digests(db: Kysely<DB>, names: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const {
      rows: [{ digest }],
    } = await sql<{ digest: string }>`
      select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest from ${sql.table(name)} t`.execute(db);
    out[name] = digest;
  }
  return out;
}

// --- the runs -------------------------------------------------------------------------------------------------------

const SEED = Number(process.env.FUZZ_SEED ?? 22);
/** Runs per operation: about 45 operations in well under a minute on a busy two-core machine. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
/** Imports are fuzzed in depth by tests/import-limits.test.ts: a few small malformed uploads here. */
const IMPORT_RUNS = 10;

describe(`malformed requests to every write operation (${mode})`, () => {
  let test: TestDatabase;
  let tables: string[];
  let before: Record<string, string>;
  const apps: Record<FuzzRequest['as'], Awaited<ReturnType<typeof testApp>>> = {} as never;
  beforeAll(async () => {
    test = await openTestDatabase();
    apps.admin = await testApp(test.database, { as: 'admin' });
    apps.resident = await testApp(test.database, { as: 'resident' });
    const {
      rows: [point],
    } = await sql<{ lon: number; lat: number }>`
      select ST_X(p) as lon, ST_Y(p) as lat from (select ST_PointOnSurface(geom) as p from grids order by id limit 1) g`.execute(
      test.database.db,
    );
    anchor = [point.lon, point.lat];
    tables = await tableNames(test.database.db);
    before = await digests(test.database.db, tables);
  });
  afterAll(() => test?.drop());

  async function send(r: FuzzRequest) {
    const url =
      r.path + (r.query.length ? `?${r.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}` : '');
    let call = (request(apps[r.as]) as unknown as Record<string, (url: string) => request.Test>)[r.method](url).set(r.headers);
    if (r.body) call = call.set('Content-Type', r.body.type).send(typeof r.body.data === 'string' ? r.body.data : Buffer.from(r.body.data));
    const response = await call;
    const refused = response.status >= 400 && response.status < 500;
    const problem = /^application\/problem\+json/.test(response.headers['content-type'] ?? '') && response.body?.status === response.status;
    if (!refused || !problem)
      throw new Error(`answered ${response.status} ${response.headers['content-type']}: ${response.text?.slice(0, 500)}`);
  }

  for (const { method, path, operation } of operations) {
    it(`${method.toUpperCase()} ${path}`, async () => {
      // counted around each operation, to name the one that wrote
      const counts = await rowCounts(test.database.db, tables);
      // the ETag of the row the operation acts on (id 1), so that a corruption elsewhere is what refuses it
      const row = path.match(/^.*?\{id\}/)?.[0].replace('{id}', '1');
      const etag =
        (operation.parameters ?? []).some((p) => p.name === 'If-Match') && row
          ? (await request(apps.admin).get(row)).headers.etag
          : undefined;
      await fc.assert(fc.asyncProperty(requests(method, path, operation, etag), send), {
        seed: SEED,
        path: process.env.FUZZ_PATH,
        numRuns: path.includes('/import/') ? IMPORT_RUNS : RUNS,
      });
      expect(await rowCounts(test.database.db, tables)).toEqual(counts);
    }, 120_000);
  }

  it('leaves every row of every table as it was', async () => {
    expect(await digests(test.database.db, tables)).toEqual(before);
  });
});
