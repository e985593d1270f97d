import { Router } from 'express';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../db/database.ts';
import {
  bboxCondition, currentVersion, deleteFeature, insertFeatures, invalidGeometries, listFeatures, lockMapWrites, readFeatures,
  updateFeature, type Condition, type FeatureInput,
} from '../db/feature-store.ts';
import type { DB } from '../db/schema.ts';
import { forbiddenProperties } from '../access/policy.ts';
import {
  createdBy, refuseOutsideScope, refuseRelinksOutsideScope, requireWritable, unseen, visibleLayer,
} from '../access/rows.ts';
import { actorOf } from '../access/viewer.ts';
import { MAX_FEATURES, refuseForbiddenProperties, resourceGeometry, validProperties, type ResourceDefinition } from '../access/resource.ts';
import { parseBody } from '../domain/body.ts';
import { parseBbox, parseId, parseIfMatch, parseLimit, parseQueryValue } from '../domain/params.ts';
import { DomainError } from '../domain/errors.ts';
import { origin } from './origin.ts';

const sentProperties = z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'properties must be an object');

const feature = (geometry: z.ZodType) =>
  z.object({ type: z.literal('Feature'), id: z.unknown().optional(), geometry, properties: sentProperties.nullable() });

/**
 * The REST routes of one resource: list (filters, bbox, keyset paging), read, create (one Feature or a
 * FeatureCollection, all or nothing), patch and delete, with ETags from the row version and If-Match.
 */
export function featureResource(database: Database, def: ResourceDefinition) {
  const router = Router();
  const base = `/api/v1/${def.name}`;
  const geometry = resourceGeometry(def);
  const createBody = z.discriminatedUnion('type', [
    feature(geometry),
    z.object({ type: z.literal('FeatureCollection'), features: z.array(feature(geometry)).min(1).max(MAX_FEATURES) }),
  ]);
  const patchBody = z.object({
    type: z.literal('Feature').optional(),
    geometry: geometry.optional(),
    properties: sentProperties.optional(),
  }).strict().refine((b) => b.geometry !== undefined || (b.properties && Object.keys(b.properties).length > 0), {
    message: 'give properties and/or a geometry to change',
  });
  async function rejectInvalidGeometry(db: Kysely<DB>, inputs: FeatureInput[], field: (i: number) => string) {
    const invalid = await invalidGeometries(db, inputs, def.multi);
    if (invalid.length === 0) return;
    const errors = invalid.map(({ index, reason }) => ({ field: field(index), message: reason }));
    throw new DomainError('geometry.invalid', `${errors[0].field}: ${errors[0].message}`, { field: errors[0].field, errors });
  }

  async function refuseStale(db: Kysely<DB>, id: number, version: number | undefined): Promise<never> {
    const current = await currentVersion(db, def.table, id);
    if (current === undefined) throw new DomainError('resource.not_found', `No ${def.singular} ${id}`, { field: 'id' }, { resource: def.singular, id });
    throw new DomainError('request.stale_version', `${def.singular} ${id} is at version ${current}, not ${version}: reload it and try again`, { field: 'If-Match', version: current });
  }

  router.get(base, async (req, res) => {
    const known = new Set(['bbox', 'limit', 'after', ...Object.keys(def.filters)]);
    const unknown = Object.keys(req.query).find((key) => !known.has(key));
    if (unknown) throw new DomainError('request.unknown_parameter', `${unknown} is not a filter of ${def.name}; use ${[...known].join(', ')}`, { field: unknown });
    const conditions: Condition[] = [];
    const bbox = parseBbox(req.query.bbox);
    if (bbox) conditions.push(bboxCondition(bbox));
    for (const [name, filter] of Object.entries(def.filters)) {
      const value = parseQueryValue(req.query[name], name, filter.type);
      if (value !== undefined) conditions.push(filter.condition(value as never));
    }
    const limit = parseLimit(req.query.limit, { fallback: 100, max: MAX_FEATURES });
    const after = req.query.after === undefined ? undefined : parseId(req.query.after, 'after');
    const next = new URLSearchParams(Object.entries(req.query).filter(([k]) => k !== 'after') as [string, string][]);
    next.set('after', '');
    const nextHref = `${origin(req)}${base}?${next.toString()}`;
    res.type('application/geo+json').send(await listFeatures(database.db, visibleLayer(def, req.viewer!), { conditions, limit, after, nextHref }));
  });

  router.get(`${base}/:id`, async (req, res) => {
    const id = parseId(req.params.id);
    const [row] = await readFeatures(database.db, visibleLayer(def, req.viewer!), [id]);
    if (!row) throw await unseen(database.db, def, req.viewer!, id);
    res.set('ETag', `"${row.version}"`).type('application/geo+json').send(row.feature);
  });

  router.post(base, async (req, res) => {
    const body = parseBody(createBody, req.body);
    const bulk = body.type === 'FeatureCollection';
    const features = bulk ? body.features : [body];
    const at = (i: number) => (bulk ? `features[${i}]` : '');
    const viewer = req.viewer!;
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
      res.status(201).location(`${base}/${stored[0].id}`).set('ETag', `"${stored[0].version}"`);
      return res.type('application/geo+json').send(stored[0].feature);
    }
    res.status(201).type('application/geo+json')
      .send(`{"type":"FeatureCollection","numberReturned":${stored.length},"features":[${stored.map((r) => r.feature).join(',')}]}`);
  });

  router.patch(`${base}/:id`, async (req, res) => {
    const id = parseId(req.params.id);
    const version = parseIfMatch(req.get('If-Match'));
    const body = parseBody(patchBody, req.body);
    const viewer = req.viewer!;
    if (body.properties) refuseForbiddenProperties(def, viewer, body.properties, 'properties');
    const [geometryForbidden] = body.geometry === undefined ? [] : forbiddenProperties(def.name, viewer, ['geometry']);
    if (geometryForbidden) throw new DomainError('access.forbidden_property', `a ${viewer.role} may not move a ${def.singular}`, { field: 'geometry' }, { role: viewer.role, resource: def.singular });
    const input: FeatureInput = {
      geometry: body.geometry,
      properties: body.properties && validProperties(def, body.properties, 'properties', { partial: true }),
    };
    const stored = await database.db.transaction().execute(async (trx) => {
      const auditFrom = await lockMapWrites(trx, actorOf(req));
      await requireWritable(trx, def, viewer, id, 'update');
      await def.beforeUpdate?.(trx, id, { viewer: req.viewer!, query: req.query });
      if (input.geometry !== undefined) await rejectInvalidGeometry(trx, [input], () => 'geometry');
      if (!(await updateFeature(trx, def, id, input, version))) await refuseStale(trx, id, version);
      await refuseOutsideScope(trx, def, viewer, 'update', [id]);
      await def.check?.(trx, [id]);
      await refuseRelinksOutsideScope(trx, viewer, auditFrom);
      return (await readFeatures(trx, visibleLayer(def, viewer), [id]))[0];
    });
    res.set('ETag', `"${stored.version}"`).type('application/geo+json').send(stored.feature);
  });

  router.delete(`${base}/:id`, async (req, res) => {
    const id = parseId(req.params.id);
    const version = parseIfMatch(req.get('If-Match'));
    await database.db.transaction().execute(async (trx) => {
      const auditFrom = await lockMapWrites(trx, actorOf(req));
      await requireWritable(trx, def, req.viewer!, id, 'delete');
      await def.beforeDelete?.(trx, id, { viewer: req.viewer!, query: req.query });
      if (!(await deleteFeature(trx, def.table, id, version))) await refuseStale(trx, id, version);
      await refuseRelinksOutsideScope(trx, req.viewer!, auditFrom);
    });
    res.status(204).end();
  });

  return router;
}
