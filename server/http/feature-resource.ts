import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../db/database.ts';
import {
  bboxCondition,
  currentVersion,
  deleteFeature,
  insertFeatures,
  invalidGeometries,
  listFeatures,
  lockMapWrites,
  readFeatures,
  updateFeature,
  type Condition,
  type FeatureInput,
} from '../db/feature-store.ts';
import type { DB } from '../db/schema.ts';
import { forbiddenProperties, type ResourceName } from '../access/policy.ts';
import { createdBy, refuseOutsideScope, refuseRelinksOutsideScope, requireWritable, unseen, visibleLayer } from '../access/rows.ts';
import { actorOf } from '../access/viewer.ts';
import {
  answeredFeature,
  MAX_FEATURES,
  readOnlyNames,
  refuseForbiddenProperties,
  resourceGeometry,
  validProperties,
  type ResourceDefinition,
} from '../access/resource.ts';
import { answerCollection, type GeometryType } from '../domain/geojson.ts';
import { idParameter, ifMatchHeader, limitParameter, parameter, parseBbox, parseId, queryParameter } from '../domain/params.ts';
import { DomainError } from '../domain/errors.ts';
import { jsonSchema } from './openapi.ts';
import { origin } from './origin.ts';
import { jsonStream, jsonText, route, type Parameters } from './route.ts';

const sentProperties = z.custom<Record<string, unknown>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  'properties must be an object',
);

const pascal = (name: string) => name.replace(/(^|_| )(\w)/g, (_, __, c: string) => c.toUpperCase());

/** A schema as the document draws it, for a looser one to carry: the bodies take properties that validProperties checks after. */
const drawn = (type: z.ZodType, side?: 'request' | 'answer') => {
  const { $schema: _, ...doc } = jsonSchema(type, side);
  return doc;
};

const links = z.array(z.object({ rel: z.string(), type: z.string(), href: z.string() }));

const headers = { 'If-Match': ifMatchHeader() };

/**
 * The REST routes of one resource: list (filters, bbox, keyset paging), read, create (one Feature or a
 * FeatureCollection, all or nothing), patch and delete, with ETags from the row version and If-Match.
 */
export function featureResource<
  N extends ResourceName,
  P extends z.ZodRawShape,
  R extends z.ZodRawShape,
  M extends string,
  G extends GeometryType,
  Z extends boolean,
>(database: Database, def: ResourceDefinition<N, P, R, M, G, Z>) {
  const base = `/api/v1/${def.name}` as const;
  const name = pascal(def.singular);
  const geometry = resourceGeometry(def);
  // Sent properties are checked by validProperties (defaults, read-only ones named, fields prefixed); the document
  // says what it takes: the resource's properties, those with defaults left out at will.
  const posted = (def.properties as z.ZodObject)
    .partial(Object.fromEntries(Object.keys(def.defaults).map((key) => [key, true])) as Record<string, true>)
    .strict();
  const feature = z
    .object({
      type: z.literal('Feature'),
      id: z.unknown().optional(),
      geometry,
      properties: sentProperties.nullable().meta(drawn(posted)),
    })
    .meta({ id: `${name}Feature` });
  const createBody = z.discriminatedUnion('type', [
    feature,
    z.object({ type: z.literal('FeatureCollection'), features: z.array(feature).min(1).max(MAX_FEATURES) }),
  ]);
  const patchBody = z
    .object({
      type: z.literal('Feature').optional(),
      geometry: geometry.optional(),
      properties: sentProperties.optional().meta(drawn(def.properties.partial().strict())),
    })
    .strict()
    .refine((b) => b.geometry !== undefined || (b.properties && Object.keys(b.properties).length > 0), {
      message: 'give properties and/or a geometry to change',
    })
    .meta({ id: `${name}Patch` });
  async function rejectInvalidGeometry(db: Kysely<DB>, inputs: FeatureInput[], field: (i: number) => string) {
    const invalid = await invalidGeometries(db, inputs, def.multi);
    if (invalid.length === 0) return;
    const errors = invalid.map(({ index, reason }) => ({ field: field(index), message: reason }));
    throw new DomainError('geometry.invalid', `${errors[0].field}: ${errors[0].message}`, { field: errors[0].field, errors });
  }

  async function refuseStale(db: Kysely<DB>, id: number, version: number | undefined): Promise<never> {
    const current = await currentVersion(db, def.table, id);
    if (current === undefined)
      throw new DomainError('resource.not_found', `No ${def.singular} ${id}`, { field: 'id' }, { resource: def.singular, id });
    throw new DomainError(
      'request.stale_version',
      `${def.singular} ${id} is at version ${current}, not ${version}: reload it and try again`,
      { field: 'If-Match', version: current },
    );
  }

  const storedFeature = answeredFeature(def, {
    id: `${name}Properties`,
    description: `a ${def.singular}'s properties, and the read-only ${readOnlyNames(def).join(', ')}`,
  });
  const storedCollection = answerCollection(storedFeature, { numberReturned: z.number() });
  const page = answerCollection(storedFeature, { numberMatched: z.number(), numberReturned: z.number(), links });

  const tags = [def.name];
  const params = { id: idParameter() };
  const readOnly = `Read-only, derived or kept by Gridmap: ${readOnlyNames(def).join(', ')}. Omitted properties take their defaults: ${JSON.stringify(def.defaults)}.`;
  const filters: Parameters = Object.fromEntries(
    Object.entries(def.filters).map(([filter, { type }]) => [filter, queryParameter(filter, type as 'text')]),
  );
  const deleteQuery: Parameters | undefined =
    def.deleteParameters &&
    Object.fromEntries(Object.entries(def.deleteParameters).map(([option, doc]) => [option, parameter((value) => value, doc)]));

  return [
    route({
      method: 'GET',
      path: base,
      tags,
      summary: `List ${def.name}`,
      allow: { resource: def.name, action: 'read' },
      query: {
        bbox: parameter((value) => parseBbox(value), {
          schema: { type: 'string' },
          description: 'minLon,minLat,maxLon,maxLat (WGS 84): features that intersect it',
        }),
        limit: limitParameter({ fallback: 100, max: MAX_FEATURES }),
        after: parameter((value) => (value === undefined ? undefined : parseId(value, 'after')), {
          schema: { type: 'integer', minimum: 1 },
          description: 'the last id of the previous page (follow the `next` link)',
        }),
        ...filters,
      },
      unknownParameter: (unknown, known) =>
        new DomainError('request.unknown_parameter', `${unknown} is not a filter of ${def.name}; use ${known.join(', ')}`, {
          field: unknown,
        }),
      answer: { type: 'application/geo+json', schema: page, description: `a page of ${def.name}` },
      problems: { 400: 'a bad parameter, named in `field`' },
      handle: async ({ req, viewer, query }) => {
        const { bbox, limit, after } = query;
        const conditions: Condition[] = bbox ? [bboxCondition(bbox)] : [];
        for (const [filter, { condition }] of Object.entries(def.filters)) {
          const value = (query as Record<string, unknown>)[filter];
          if (value !== undefined) conditions.push(condition(value as never));
        }
        const next = new URLSearchParams(Object.entries(req.query).filter(([k]) => k !== 'after') as [string, string][]);
        next.set('after', '');
        const nextHref = `${origin(req)}${base}?${next.toString()}`;
        return jsonStream(listFeatures(database, visibleLayer(def, viewer), { conditions, limit, after, nextHref }));
      },
    }),
    route({
      method: 'GET',
      path: `${base}/:id`,
      tags,
      summary: `One ${def.singular}`,
      allow: { resource: def.name, action: 'read' },
      params,
      answer: { type: 'application/geo+json', schema: storedFeature, description: 'the feature; its version is the ETag' },
      problems: { 404: 'no such id' },
      handle: async ({ res, viewer, params: { id } }) => {
        const [row] = await readFeatures(database.db, visibleLayer(def, viewer), [id]);
        if (!row) throw await unseen(database.db, def, viewer, id);
        res.set('ETag', `"${row.version}"`);
        return jsonText(row.feature);
      },
    }),
    route({
      method: 'POST',
      path: base,
      tags,
      summary: `Create one ${def.singular}, or many at once (all or nothing)`,
      description: readOnly,
      allow: { resource: def.name, action: 'create' },
      body: createBody,
      answer: {
        status: 201,
        type: 'application/geo+json',
        schema: z.union([storedFeature, storedCollection]),
        description: 'the stored feature(s), with their ids and derived links',
      },
      problems: {
        400: 'malformed JSON or a wrong field',
        409: 'a duplicate',
        413: 'body too large',
        422: 'invalid geometry, an unknown reference or a broken map rule',
      },
      handle: async ({ req, res, viewer, body }) => {
        const bulk = body.type === 'FeatureCollection';
        const features = bulk ? body.features : [body];
        const at = (i: number) => (bulk ? `features[${i}]` : '');
        const inputs = features.map((f, i) => {
          const field = [at(i), 'properties'].filter(Boolean).join('.');
          refuseForbiddenProperties(def, viewer, f.properties ?? {}, field);
          return { geometry: f.geometry, properties: { ...validProperties(def, f.properties, field), ...createdBy(def, viewer) } };
        });
        const stored = await database.db.transaction().execute(async (trx) => {
          const auditFrom = await lockMapWrites(trx, actorOf(req));
          await rejectInvalidGeometry(trx, inputs, (i) => [at(i), 'geometry'].filter(Boolean).join('.'));
          const ids = await insertFeatures(trx, def, [...new Set(inputs.flatMap((i) => Object.keys(i.properties)))], inputs);
          // scope first: a map rule's message must not describe what lies beyond it
          await refuseOutsideScope(trx, def, viewer, 'create', ids);
          await def.check?.(trx, ids);
          await refuseRelinksOutsideScope(trx, viewer, auditFrom);
          return readFeatures(trx, visibleLayer(def, viewer), ids);
        });
        if (!bulk) {
          res.location(`${base}/${stored[0].id}`).set('ETag', `"${stored[0].version}"`);
          return jsonText(stored[0].feature);
        }
        return jsonText(
          `{"type":"FeatureCollection","numberReturned":${stored.length},"features":[${stored.map((r) => r.feature).join(',')}]}`,
        );
      },
    }),
    route({
      method: 'PATCH',
      path: `${base}/:id`,
      tags,
      summary: `Change properties and/or the geometry of a ${def.singular}`,
      description: `${readOnly} Send If-Match with the ETag to refuse overwriting someone else's change.`,
      allow: { resource: def.name, action: 'update' },
      params,
      headers,
      body: patchBody,
      answer: { type: 'application/geo+json', schema: storedFeature, description: 'the stored feature' },
      problems: {
        400: 'a wrong field',
        404: 'no such id',
        412: 'changed since the If-Match version',
        422: 'invalid geometry or a broken map rule',
      },
      handle: async ({ req, res, viewer, params: { id }, body, headers: { 'If-Match': version } }) => {
        if (body.properties) refuseForbiddenProperties(def, viewer, body.properties, 'properties');
        const [geometryForbidden] = body.geometry === undefined ? [] : forbiddenProperties(def.name, viewer, ['geometry']);
        if (geometryForbidden)
          throw new DomainError(
            'access.forbidden_property',
            `a ${viewer.role} may not move a ${def.singular}`,
            { field: 'geometry' },
            { role: viewer.role, resource: def.singular },
          );
        const input: FeatureInput = {
          geometry: body.geometry,
          properties: body.properties && validProperties(def, body.properties, 'properties', { partial: true }),
        };
        const stored = await database.db.transaction().execute(async (trx) => {
          const auditFrom = await lockMapWrites(trx, actorOf(req));
          await requireWritable(trx, def, viewer, id, 'update');
          await def.beforeUpdate?.(trx, id, { viewer, query: req.query });
          if (input.geometry !== undefined) await rejectInvalidGeometry(trx, [input], () => 'geometry');
          if (!(await updateFeature(trx, def, id, input, version))) await refuseStale(trx, id, version);
          await refuseOutsideScope(trx, def, viewer, 'update', [id]);
          await def.check?.(trx, [id]);
          await refuseRelinksOutsideScope(trx, viewer, auditFrom);
          return (await readFeatures(trx, visibleLayer(def, viewer), [id]))[0];
        });
        res.set('ETag', `"${stored.version}"`);
        return jsonText(stored.feature);
      },
    }),
    route({
      method: 'DELETE',
      path: `${base}/:id`,
      tags,
      summary: `Delete a ${def.singular}`,
      allow: { resource: def.name, action: 'delete' },
      params,
      query: deleteQuery,
      headers,
      answer: { status: 204, description: 'deleted' },
      problems: { 404: 'no such id', 409: 'still holds what must go somewhere first', 412: 'changed since the If-Match version' },
      handle: async ({ req, res, viewer, params: { id }, headers: { 'If-Match': version } }) => {
        await database.db.transaction().execute(async (trx) => {
          const auditFrom = await lockMapWrites(trx, actorOf(req));
          await requireWritable(trx, def, viewer, id, 'delete');
          await def.beforeDelete?.(trx, id, { viewer, query: req.query });
          if (!(await deleteFeature(trx, def.table, id, version))) await refuseStale(trx, id, version);
          await refuseRelinksOutsideScope(trx, viewer, auditFrom);
        });
        res.status(204).end();
      },
    }),
  ];
}
