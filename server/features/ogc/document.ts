import { MAX_FEATURES } from '../../access/resource.ts';
import { COLLECTIONS, type Queryable } from './collections.ts';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (description: string, schema: unknown, type = 'application/json') => ({
  description,
  content: { [type]: { schema }, 'text/html': { schema: { type: 'string' } } },
});
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('exception') } } });
const f = {
  name: 'f',
  in: 'query',
  required: false,
  description: 'json or html; without it, the Accept header decides',
  schema: { type: 'string', enum: ['json', 'html'] },
};

/**
 * The OpenAPI 3.0 definition of /ogc: each collection's items path with the parameters it takes (its
 * queryables among them), so that a client knows every parameter the server accepts; anything else is a 400.
 */
export function ogcApiDocument(base: string, queryables: ReadonlyMap<string, readonly Queryable[]>) {
  const items = Object.fromEntries(
    COLLECTIONS.map((c) => [
      `/collections/${c.id}/items`,
      {
        get: {
          summary: `${c.title}: features`,
          description: c.description,
          tags: ['Data'],
          operationId: `get${c.id}Items`,
          parameters: [
            { $ref: '#/components/parameters/bbox' },
            { $ref: '#/components/parameters/limit' },
            ...(c.time ? [{ $ref: '#/components/parameters/datetime' }] : []),
            { $ref: '#/components/parameters/after' },
            { $ref: '#/components/parameters/before' },
            f,
            ...(queryables.get(c.id) ?? []).map((q) => ({
              name: q.name,
              in: 'query',
              required: false,
              description: `${q.name} equals`,
              schema: { type: q.type },
            })),
          ],
          responses: {
            200: json('a page of features, with next and prev links', ref('featureCollectionGeoJSON'), 'application/geo+json'),
            400: problem('a parameter is wrong (named in `field`), or unknown'),
            401: problem('the collection is not public: send a bearer token'),
            403: problem("the caller's role may not read the collection"),
          },
        },
      },
    ]),
  );
  return {
    openapi: '3.0.3',
    info: {
      title: 'Gridmap OGC API – Features',
      version: '1.0.0',
      description: 'The city map as OGC API – Features Part 1, with Part 3 queryables as query parameters.',
    },
    servers: [{ url: base }],
    security: [{}, { bearer: [] }],
    tags: [{ name: 'Capabilities' }, { name: 'Data' }],
    paths: {
      '/': {
        get: {
          summary: 'Landing page',
          tags: ['Capabilities'],
          operationId: 'getLandingPage',
          parameters: [f],
          responses: { 200: json('links to the API definition, the conformance classes and the collections', ref('landingPage')) },
        },
      },
      '/conformance': {
        get: {
          summary: 'Conformance classes',
          tags: ['Capabilities'],
          operationId: 'getConformance',
          parameters: [f],
          responses: { 200: json('the conformance classes', ref('confClasses')) },
        },
      },
      '/api': {
        get: {
          summary: 'This API definition',
          tags: ['Capabilities'],
          operationId: 'getApi',
          responses: {
            200: {
              description: 'OpenAPI 3.0',
              content: { 'application/vnd.oai.openapi+json;version=3.0': { schema: { type: 'object' } } },
            },
          },
        },
      },
      '/collections': {
        get: {
          summary: 'The collections the caller may read',
          tags: ['Capabilities'],
          operationId: 'getCollections',
          parameters: [f],
          responses: { 200: json('the collections', ref('collections')) },
        },
      },
      '/collections/{collectionId}': {
        get: {
          summary: 'One collection',
          tags: ['Capabilities'],
          operationId: 'getCollection',
          parameters: [{ $ref: '#/components/parameters/collectionId' }, f],
          responses: {
            200: json('the collection', ref('collection')),
            404: problem('no such collection'),
            401: problem('not public'),
            403: problem('not for this role'),
          },
        },
      },
      '/collections/{collectionId}/queryables': {
        get: {
          summary: 'What the items can be filtered on',
          tags: ['Capabilities'],
          operationId: 'getQueryables',
          parameters: [{ $ref: '#/components/parameters/collectionId' }],
          responses: {
            200: {
              description: 'a JSON Schema of the queryable properties',
              content: { 'application/schema+json': { schema: { type: 'object' } } },
            },
            404: problem('no such collection'),
          },
        },
      },
      ...items,
      '/collections/{collectionId}/items/{featureId}': {
        get: {
          summary: 'One feature',
          tags: ['Data'],
          operationId: 'getFeature',
          parameters: [{ $ref: '#/components/parameters/collectionId' }, { $ref: '#/components/parameters/featureId' }, f],
          responses: {
            200: json('the feature', ref('featureGeoJSON'), 'application/geo+json'),
            404: problem('no such feature the caller may read'),
          },
        },
      },
    },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'the token from POST /api/v1/auth/login; without it, public collections only',
        },
      },
      parameters: {
        collectionId: { name: 'collectionId', in: 'path', required: true, schema: { type: 'string', enum: COLLECTIONS.map((c) => c.id) } },
        featureId: { name: 'featureId', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } },
        bbox: {
          name: 'bbox',
          in: 'query',
          required: false,
          style: 'form',
          explode: false,
          description: 'minLon,minLat,maxLon,maxLat in CRS84',
          schema: { type: 'array', minItems: 4, maxItems: 4, items: { type: 'number' } },
        },
        limit: {
          name: 'limit',
          in: 'query',
          required: false,
          style: 'form',
          explode: false,
          schema: { type: 'integer', minimum: 1, maximum: MAX_FEATURES, default: 10 },
        },
        datetime: {
          name: 'datetime',
          in: 'query',
          required: false,
          style: 'form',
          explode: false,
          description: 'an instant, or an interval start/end with .. for an open end',
          schema: { type: 'string' },
        },
        after: {
          name: 'after',
          in: 'query',
          required: false,
          description: 'the cursor of the next page (a feature id): follow the next link',
          schema: { type: 'integer', minimum: 1 },
        },
        before: {
          name: 'before',
          in: 'query',
          required: false,
          description: 'the cursor of the previous page (a feature id): follow the prev link',
          schema: { type: 'integer', minimum: 1 },
        },
      },
      schemas: {
        exception: {
          type: 'object',
          required: ['title', 'status'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            field: { type: 'string' },
          },
        },
        link: {
          type: 'object',
          required: ['href', 'rel'],
          properties: {
            href: { type: 'string' },
            rel: { type: 'string' },
            type: { type: 'string' },
            hreflang: { type: 'string' },
            title: { type: 'string' },
            length: { type: 'integer' },
          },
        },
        landingPage: {
          type: 'object',
          required: ['links'],
          properties: { title: { type: 'string' }, description: { type: 'string' }, links: { type: 'array', items: ref('link') } },
        },
        confClasses: { type: 'object', required: ['conformsTo'], properties: { conformsTo: { type: 'array', items: { type: 'string' } } } },
        extent: {
          type: 'object',
          properties: {
            spatial: {
              type: 'object',
              properties: {
                bbox: { type: 'array', minItems: 1, items: { type: 'array', minItems: 4, maxItems: 6, items: { type: 'number' } } },
                crs: { type: 'string' },
              },
            },
            temporal: {
              type: 'object',
              properties: {
                interval: {
                  type: 'array',
                  minItems: 1,
                  items: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'string', format: 'date-time', nullable: true } },
                },
                trs: { type: 'string' },
              },
            },
          },
        },
        collection: {
          type: 'object',
          required: ['id', 'links'],
          properties: {
            id: { type: 'string' },
            title: { type: 'string' },
            description: { type: 'string' },
            links: { type: 'array', items: ref('link') },
            extent: ref('extent'),
            itemType: { type: 'string' },
            crs: { type: 'array', items: { type: 'string' } },
            storageCrs: { type: 'string' },
          },
        },
        collections: {
          type: 'object',
          required: ['links', 'collections'],
          properties: { links: { type: 'array', items: ref('link') }, collections: { type: 'array', items: ref('collection') } },
        },
        featureGeoJSON: {
          type: 'object',
          required: ['type', 'geometry', 'properties'],
          properties: {
            type: { type: 'string', enum: ['Feature'] },
            id: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
            geometry: { type: 'object', nullable: true },
            properties: { type: 'object', nullable: true },
            links: { type: 'array', items: ref('link') },
          },
        },
        featureCollectionGeoJSON: {
          type: 'object',
          required: ['type', 'features'],
          properties: {
            type: { type: 'string', enum: ['FeatureCollection'] },
            features: { type: 'array', items: ref('featureGeoJSON') },
            links: { type: 'array', items: ref('link') },
            timeStamp: { type: 'string', format: 'date-time' },
            numberMatched: { type: 'integer', minimum: 0 },
            numberReturned: { type: 'integer', minimum: 0 },
          },
        },
      },
    },
  };
}
