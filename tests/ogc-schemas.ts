/**
 * The response schemas of OGC API – Features Part 1 (OGC 17-069r4, the `ogcapi-features-1.yaml` components:
 * link, landingPage, confClasses, collections, collection, extent, featureCollectionGeoJSON, featureGeoJSON,
 * geometryGeoJSON), written here as JSON Schema for Ajv from the standard, independently of the server's own
 * /ogc/api document, so a test checks the server against the standard and not against itself.
 */

const CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84';
const GREGORIAN = 'http://www.opengis.net/def/uom/ISO-8601/0/Gregorian';

const position = { type: 'array', minItems: 2, items: { type: 'number' } };
const geometry = (type: string, coordinates: object) => ({
  type: 'object',
  required: ['type', 'coordinates'],
  properties: { type: { type: 'string', enum: [type] }, coordinates },
});
const ring = { type: 'array', minItems: 4, items: position };
const polygon = { type: 'array', items: ring };
const line = { type: 'array', minItems: 2, items: position };

export const OGC_SCHEMAS = {
  link: {
    $id: 'link',
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
    $id: 'landingPage',
    type: 'object',
    required: ['links'],
    properties: { title: { type: 'string' }, description: { type: 'string' }, links: { type: 'array', items: { $ref: 'link' } } },
  },
  confClasses: {
    $id: 'confClasses',
    type: 'object',
    required: ['conformsTo'],
    properties: { conformsTo: { type: 'array', items: { type: 'string' } } },
  },
  extent: {
    $id: 'extent',
    type: 'object',
    properties: {
      spatial: {
        type: 'object',
        properties: {
          bbox: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'array',
              oneOf: [
                { minItems: 4, maxItems: 4 },
                { minItems: 6, maxItems: 6 },
              ],
              items: { type: 'number' },
            },
          },
          crs: { type: 'string', enum: [CRS84] },
        },
      },
      temporal: {
        type: 'object',
        properties: {
          interval: {
            type: 'array',
            minItems: 1,
            items: { type: 'array', minItems: 2, maxItems: 2, items: { type: ['string', 'null'], format: 'date-time' } },
          },
          trs: { type: 'string', enum: [GREGORIAN] },
        },
      },
    },
  },
  collection: {
    $id: 'collection',
    type: 'object',
    required: ['id', 'links'],
    properties: {
      id: { type: 'string' },
      title: { type: 'string' },
      description: { type: 'string' },
      links: { type: 'array', items: { $ref: 'link' } },
      extent: { $ref: 'extent' },
      itemType: { type: 'string' },
      crs: { type: 'array', items: { type: 'string' } },
    },
  },
  collections: {
    $id: 'collections',
    type: 'object',
    required: ['links', 'collections'],
    properties: { links: { type: 'array', items: { $ref: 'link' } }, collections: { type: 'array', items: { $ref: 'collection' } } },
  },
  geometryGeoJSON: {
    $id: 'geometryGeoJSON',
    oneOf: [
      geometry('Point', position),
      geometry('MultiPoint', { type: 'array', items: position }),
      geometry('LineString', line),
      geometry('MultiLineString', { type: 'array', items: line }),
      geometry('Polygon', polygon),
      geometry('MultiPolygon', { type: 'array', items: polygon }),
      {
        type: 'object',
        required: ['type', 'geometries'],
        properties: {
          type: { type: 'string', enum: ['GeometryCollection'] },
          geometries: { type: 'array', items: { $ref: 'geometryGeoJSON' } },
        },
      },
    ],
  },
  featureGeoJSON: {
    $id: 'featureGeoJSON',
    type: 'object',
    required: ['type', 'geometry', 'properties'],
    properties: {
      type: { type: 'string', enum: ['Feature'] },
      geometry: { oneOf: [{ type: 'null' }, { $ref: 'geometryGeoJSON' }] },
      properties: { type: ['object', 'null'] },
      id: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
      links: { type: 'array', items: { $ref: 'link' } },
    },
  },
  featureCollectionGeoJSON: {
    $id: 'featureCollectionGeoJSON',
    type: 'object',
    required: ['type', 'features'],
    properties: {
      type: { type: 'string', enum: ['FeatureCollection'] },
      features: { type: 'array', items: { $ref: 'featureGeoJSON' } },
      links: { type: 'array', items: { $ref: 'link' } },
      timeStamp: { type: 'string', format: 'date-time' },
      numberMatched: { type: 'integer', minimum: 0 },
      numberReturned: { type: 'integer', minimum: 0 },
    },
  },
} as const;
