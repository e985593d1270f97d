import { Router, type Request } from 'express';
import { sql, type Kysely, type Transaction } from 'kysely';
import { z } from 'zod';
import type { Database } from '../db/database.ts';
import {
  bboxCondition, currentVersion, deleteFeature, insertFeatures, invalidGeometries, listFeatures, lockMapWrites, readFeatures,
  updateFeature, type Condition, type FeatureInput, type FeatureLayer, type FeatureTable,
} from '../db/feature-store.ts';
import type { DB } from '../db/schema.ts';
import {
  allOf, forbiddenProperties, inScope, seesAggregateOnly, personalShown, readConditions, writeCondition, type Mask, type Place, type ResourceName, type WriteAction,
} from '../access/policy.ts';
import type { Viewer } from '../access/viewer.ts';
import { actorOf } from '../features/accounts/routes.ts';
import { parseBody } from './body.ts';
import { geometrySchema, type GeometryType } from './geojson.ts';
import { parseBbox, parseId, parseIfMatch, parseLimit, parseQueryValue, type QueryValueType } from './params.ts';
import { HttpProblem } from './problem.ts';

export const MAX_FEATURES = 10_000;

export interface Filter {
  type: QueryValueType;
  /** the SQL condition on row `t` for a parsed value */
  condition: (value: never) => Condition;
}

/** What makes a map table an API resource: its shape, its filters and its rules. */
export interface ResourceDefinition extends FeatureTable {
  /** URL segment under /api/v1, and the resource's name in the access policy */
  name: ResourceName;
  /** one of them, for messages */
  singular: string;
  geometry: readonly GeometryType[];
  /** writable properties; a POST fills the omitted ones from `defaults` */
  properties: z.ZodObject;
  defaults: Record<string, unknown>;
  /** properties that are derived or kept by the database: shown, never written */
  readOnly: readonly string[];
  filters: Record<string, Filter>;
  /** where a row sits on the map, for scopes */
  place: Place;
  /** personal columns (geom for a home point) and how they are masked for those who may not see them */
  personal?: Record<string, Mask>;
  /** a column that records the user who created the row */
  createdBy?: string;
  /** rules that need the stored rows (inside the write's transaction; throwing undoes the write) */
  check?: (trx: Transaction<DB>, ids: number[]) => Promise<void>;
  /** what must hold, or happen, before a row is deleted (inside the delete's transaction) */
  beforeDelete?: (trx: Transaction<DB>, id: number, req: Request) => Promise<void>;
}

/** The resource as read: every writable and read-only property but the id, which is the feature's own. */
export const featureLayer = (def: ResourceDefinition): FeatureLayer => ({
  source: def.source,
  columns: [...Object.keys(def.properties.shape), ...def.readOnly.filter((c) => c !== 'id')],
});

/**
 * The resource as `viewer` may read it: only rows in scope, personal columns masked in the query, so that
 * filters, bounding boxes and counts see the masked values too (a leader cannot find a home with a bbox).
 */
export function visibleLayer(def: ResourceDefinition, viewer: Viewer): FeatureLayer {
  const layer = featureLayer(def);
  const conditions = readConditions(def.name, def.place, viewer, 'r');
  if (!conditions) throw new HttpProblem(403, 'Forbidden', `a ${viewer.role} may not read ${def.name}`);
  if (viewer.role === 'admin') return layer;
  const shown = personalShown(def.name, viewer, 'r');
  const aggregate = seesAggregateOnly(def.name, viewer);
  const column = (c: string) => {
    const mask = aggregate && def.personal?.[c] ? 'hidden' : def.personal?.[c];
    const value = sql.ref(`r.${c}`);
    if (mask === 'phone') return sql`case when ${shown} then ${value} else masked_phone(${value}) end as ${sql.id(c)}`;
    if (mask === 'hidden') return sql`case when ${shown} then ${value} end as ${sql.id(c)}`;
    return value;
  };
  const columns = [...new Set(['id', 'version', 'geom', ...layer.columns])].map(column);
  return { source: sql`(select ${sql.join(columns)} from ${def.source} r where ${allOf(conditions)})`, columns: layer.columns };
}

const outsideScope = (def: ResourceDefinition, viewer: Viewer, id: number) =>
  new HttpProblem(403, 'Outside your scope', `${def.singular} ${id} lies outside what a ${viewer.role} in your scope may see`, { field: 'id' });

/** Why a row the viewer asked for is not in its view: 404 when there is no such row, 403 when it lies outside. */
export async function unseen(db: Kysely<DB>, def: ResourceDefinition, viewer: Viewer, id: number) {
  return (await currentVersion(db, def.table, id)) === undefined
    ? new HttpProblem(404, 'Not Found', `No ${def.singular} ${id}`, { field: 'id' })
    : outsideScope(def, viewer, id);
}

/** 404 for a row that is not there, 403 for one outside the viewer's view or one it sees but may not change. */
async function requireWritable(db: Kysely<DB>, def: ResourceDefinition, viewer: Viewer, id: number, action: WriteAction) {
  const readable = readConditions(def.name, def.place, viewer, 't') ?? [sql`false`];
  const writable = writeCondition(def.name, def.place, viewer, action, 't') ?? sql`false`;
  const { rows } = await sql<{ readable: boolean; writable: boolean }>`
    select coalesce(${allOf(readable)}, false) as readable,
           coalesce(${writable}, false) as writable
    from ${sql.table(def.table)} t where t.id = ${id}`.execute(db);
  if (!rows[0]) throw new HttpProblem(404, 'Not Found', `No ${def.singular} ${id}`, { field: 'id' });
  if (!rows[0].readable) throw outsideScope(def, viewer, id);
  if (!rows[0].writable) throw new HttpProblem(403, 'Forbidden', `${def.singular} ${id} is outside what a ${viewer.role} in your scope may ${action}`, { field: 'id' });
}

/** After a write, inside its transaction: every row written must lie where the viewer may write. */
export async function refuseOutsideScope(db: Kysely<DB>, def: ResourceDefinition, viewer: Viewer, action: WriteAction, ids: number[]) {
  if (viewer.role === 'admin' || ids.length === 0) return;
  const writable = writeCondition(def.name, def.place, viewer, action, 't') ?? sql`false`;
  const { rows } = await sql<{ id: number }>`
    select t.id from ${sql.table(def.table)} t
    where t.id in (select json_array_elements_text(${JSON.stringify(ids)}::json)::int) and not coalesce(${writable}, false)
    order by t.id limit 1`.execute(db);
  if (rows.length) {
    throw new HttpProblem(403, 'Outside your scope', `${def.singular} ${rows[0].id} would lie outside the scope a ${viewer.role} may ${action} in`, { field: 'geometry' });
  }
}

/** The column that records who created a row, set to the viewer. */
export const createdBy = (def: ResourceDefinition, viewer: Viewer): Record<string, unknown> =>
  (def.createdBy ? { [def.createdBy]: viewer.id } : {});

/**
 * A write may move derived links: a footprint drawn over other homes, a boundary around other buildings.
 * Every row it relinked (from the audit log of this transaction, after `auditFrom`) must lie in the
 * writer's scope before and after, or have been unassigned: no one draws rows out of another's scope.
 */
export async function refuseRelinksOutsideScope(db: Kysely<DB>, viewer: Viewer, auditFrom: number) {
  if (viewer.role === 'admin' || !viewer.scope) return;
  const { rows } = await sql<{ resource: string; row_id: number }>`
    select e.resource, e.row_id from audit_log e
    cross join lateral (values ((e.before->>'community_id')::int, (e.before->>'grid_id')::int),
                               ((e.after->>'community_id')::int, (e.after->>'grid_id')::int)) as s(community_id, grid_id)
    where e.id > ${auditFrom} and e.txid = txid_current() and e.action = 'update'
      and e.resource in ('buildings', 'members', 'units', 'issues') and s.community_id is not null
      and not coalesce(${inScope(viewer.scope, { community: 'community_id', grid: 'grid_id' }, 's')}, false)
    order by e.id limit 1`.execute(db);
  if (rows.length) {
    const [{ resource, row_id }] = rows;
    throw new HttpProblem(403, 'Outside your scope',
      `this change would relink ${resource} ${row_id}, which lies outside the scope a ${viewer.role} may change`, { field: 'geometry', resource, id: row_id });
  }
}

/** A property the viewer's role may not set is refused by name. */
function refuseForbiddenProperties(def: ResourceDefinition, viewer: Viewer, properties: Record<string, unknown>, field: string) {
  const [forbidden] = forbiddenProperties(def.name, viewer, Object.keys(properties));
  if (forbidden) throw new HttpProblem(403, 'Forbidden property', `a ${viewer.role} may not set ${forbidden}`, { field: `${field}.${forbidden}` });
}

const strictSchemas = new WeakMap<ResourceDefinition, { whole: z.ZodType; partial: z.ZodType }>();

/**
 * A feature's properties checked against the resource's schema; a POST's omitted properties take their
 * defaults. A read-only property is refused with its own explanation, or dropped (a file Gridmap exported,
 * imported again, carries ids and derived links).
 */
export function validProperties(
  def: ResourceDefinition,
  input: Record<string, unknown> | null | undefined,
  field: string,
  { partial = false, readOnly = 'refuse' }: { partial?: boolean; readOnly?: 'refuse' | 'drop' } = {},
): Record<string, unknown> {
  let schemas = strictSchemas.get(def);
  if (!schemas) strictSchemas.set(def, (schemas = { whole: def.properties.strict(), partial: def.properties.partial().strict() }));
  const given = { ...(input ?? {}) };
  for (const key of Object.keys(given)) {
    if (typeof given[key] === 'string' && (given[key] as string).includes('\u0000')) {
      throw new HttpProblem(400, 'Invalid value', `${key} contains a NUL character`, { field: `${field}.${key}` });
    }
    if (!def.readOnly.includes(key)) continue;
    if (readOnly === 'drop') delete given[key];
    else throw new HttpProblem(400, 'Read-only property', `${key} is derived or kept by Gridmap and cannot be set`, { field: `${field}.${key}` });
  }
  return parseBody(partial ? schemas.partial : schemas.whole, partial ? given : { ...def.defaults, ...given }, field.split('.')) as Record<string, unknown>;
}

const feature = (geometry: z.ZodType) =>
  z.object({ type: z.literal('Feature'), id: z.unknown().optional(), geometry, properties: z.record(z.string(), z.unknown()).nullable() });

/**
 * The REST routes of one resource: list (filters, bbox, keyset paging), read, create (one Feature or a
 * FeatureCollection, all or nothing), patch and delete, with ETags from the row version and If-Match.
 */
export function featureResource(database: Database, def: ResourceDefinition) {
  const router = Router();
  const base = `/api/v1/${def.name}`;
  const geometry = geometrySchema(def.geometry);
  const createBody = z.discriminatedUnion('type', [
    feature(geometry),
    z.object({ type: z.literal('FeatureCollection'), features: z.array(feature(geometry)).min(1).max(MAX_FEATURES) }),
  ]);
  const patchBody = z.object({
    type: z.literal('Feature').optional(),
    geometry: geometry.optional(),
    properties: z.record(z.string(), z.unknown()).optional(),
  }).strict().refine((b) => b.geometry !== undefined || (b.properties && Object.keys(b.properties).length > 0), {
    message: 'give properties and/or a geometry to change',
  });
  async function rejectInvalidGeometry(db: Kysely<DB>, inputs: FeatureInput[], field: (i: number) => string) {
    const invalid = await invalidGeometries(db, inputs, def.multi);
    if (invalid.length === 0) return;
    const errors = invalid.map(({ index, reason }) => ({ field: field(index), message: reason }));
    throw new HttpProblem(422, 'Invalid geometry', `${errors[0].field}: ${errors[0].message}`, { field: errors[0].field, errors });
  }

  async function refuseStale(db: Kysely<DB>, id: number, version: number | undefined): Promise<never> {
    const current = await currentVersion(db, def.table, id);
    if (current === undefined) throw new HttpProblem(404, 'Not Found', `No ${def.singular} ${id}`, { field: 'id' });
    throw new HttpProblem(412, 'Precondition Failed', `${def.singular} ${id} is at version ${current}, not ${version}: reload it and try again`, { field: 'If-Match', version: current });
  }

  router.get(base, async (req, res) => {
    const known = new Set(['bbox', 'limit', 'after', ...Object.keys(def.filters)]);
    const unknown = Object.keys(req.query).find((key) => !known.has(key));
    if (unknown) throw new HttpProblem(400, 'Unknown parameter', `${unknown} is not a filter of ${def.name}; use ${[...known].join(', ')}`, { field: unknown });
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
    const nextHref = `${req.protocol}://${req.get('host')}${base}?${next.toString()}`;
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
    if (geometryForbidden) throw new HttpProblem(403, 'Forbidden property', `a ${viewer.role} may not move a ${def.singular}`, { field: 'geometry' });
    const input: FeatureInput = {
      geometry: body.geometry,
      properties: body.properties && validProperties(def, body.properties, 'properties', { partial: true }),
    };
    const stored = await database.db.transaction().execute(async (trx) => {
      const auditFrom = await lockMapWrites(trx, actorOf(req));
      await requireWritable(trx, def, viewer, id, 'update');
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
      await def.beforeDelete?.(trx, id, req);
      if (!(await deleteFeature(trx, def.table, id, version))) await refuseStale(trx, id, version);
      await refuseRelinksOutsideScope(trx, req.viewer!, auditFrom);
    });
    res.status(204).end();
  });

  return router;
}
