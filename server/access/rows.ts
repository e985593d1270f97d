import { sql, type Kysely, type RawBuilder } from 'kysely';
import { currentVersion, type FeatureLayer } from '../db/feature-store.ts';
import type { DB } from '../db/schema.ts';
import type { ResourceDefinition } from './resource.ts';
import { DomainError } from '../domain/errors.ts';
import {
  allOf,
  inScope,
  personalShown,
  PUBLIC_READ,
  readConditions,
  seesAggregateOnly,
  writeCondition,
  type Mask,
  type WriteAction,
} from './policy.ts';
import type { Viewer } from './viewer.ts';

/**
 * The access policy applied to rows, in SQL: what a viewer reads of a resource (scoped, masked), and the
 * checks a write passes inside its transaction, before and after. Every route that reads or writes map
 * rows goes through these.
 */

/** The resource as read: every writable and read-only property but the id, which is the feature's own. */
const featureLayer = (def: ResourceDefinition): FeatureLayer => ({
  source: def.source,
  columns: [...Object.keys(def.properties.shape), ...Object.keys(def.readOnly)],
});

/**
 * The resource as `viewer` may read it: only rows in scope, personal columns masked in the query, so that
 * filters, bounding boxes and counts see the masked values too (a leader cannot find a home with a bbox).
 */
export function visibleLayer(def: ResourceDefinition, viewer: Viewer): FeatureLayer {
  const conditions = readConditions(def.name, def.place, viewer, 'r');
  if (!conditions)
    throw new DomainError(
      'access.forbidden',
      `a ${viewer.role} may not read ${def.name}`,
      {},
      { role: viewer.role, resource: def.singular },
    );
  if (viewer.role === 'admin') return featureLayer(def);
  const aggregate = seesAggregateOnly(def.name, viewer);
  const masks = Object.fromEntries(Object.entries(def.personal ?? {}).map(([c, mask]) => [c, aggregate ? 'hidden' : mask]));
  return maskedLayer(def, conditions, masks, personalShown(def.name, viewer, 'r'));
}

/** The resource as anyone may read it without signing in (PUBLIC_READ), or undefined when it is not public. */
export function publicLayer(def: ResourceDefinition): FeatureLayer | undefined {
  const masks = PUBLIC_READ[def.name];
  return masks && maskedLayer(def, [], masks, sql`false`);
}

/** Rows of `def` that meet `conditions` (on `r`), the `masks`ed columns masked where `shown` is not true. */
function maskedLayer(
  def: ResourceDefinition,
  conditions: RawBuilder<unknown>[],
  masks: Record<string, Mask>,
  shown: RawBuilder<unknown>,
): FeatureLayer {
  const layer = featureLayer(def);
  const column = (c: string) => {
    const value = sql.ref(`r.${c}`);
    if (masks[c] === 'phone') return sql`case when ${shown} then ${value} else masked_phone(${value}) end as ${sql.id(c)}`;
    if (masks[c] === 'hidden') return sql`case when ${shown} then ${value} end as ${sql.id(c)}`;
    return value;
  };
  const columns = [...new Set(['id', 'version', 'geom', ...layer.columns])].map(column);
  return { source: sql`(select ${sql.join(columns)} from ${def.source} r where ${allOf(conditions)})`, columns: layer.columns };
}

const outsideScope = (def: ResourceDefinition, viewer: Viewer, id: number) =>
  new DomainError(
    'access.outside_scope',
    `${def.singular} ${id} lies outside what a ${viewer.role} in your scope may see`,
    { field: 'id' },
    { resource: def.singular, id },
  );

/** Why a row the viewer asked for is not in its view: 404 when there is no such row, 403 when it lies outside. */
export async function unseen(db: Kysely<DB>, def: ResourceDefinition, viewer: Viewer, id: number) {
  return (await currentVersion(db, def.table, id)) === undefined
    ? new DomainError('resource.not_found', `No ${def.singular} ${id}`, { field: 'id' }, { resource: def.singular, id })
    : outsideScope(def, viewer, id);
}

/** 404 for a row that is not there, 403 for one outside the viewer's view or one it sees but may not change. */
export async function requireWritable(db: Kysely<DB>, def: ResourceDefinition, viewer: Viewer, id: number, action: WriteAction) {
  const readable = readConditions(def.name, def.place, viewer, 't') ?? [sql`false`];
  const writable = writeCondition(def.name, def.place, viewer, action, 't') ?? sql`false`;
  const { rows } = await sql<{ readable: boolean; writable: boolean }>`
    select coalesce(${allOf(readable)}, false) as readable,
           coalesce(${writable}, false) as writable
    from ${sql.table(def.table)} t where t.id = ${id}`.execute(db);
  if (!rows[0]) throw new DomainError('resource.not_found', `No ${def.singular} ${id}`, { field: 'id' }, { resource: def.singular, id });
  if (!rows[0].readable) throw outsideScope(def, viewer, id);
  if (!rows[0].writable)
    throw new DomainError(
      'access.forbidden',
      `${def.singular} ${id} is outside what a ${viewer.role} in your scope may ${action}`,
      { field: 'id' },
      { role: viewer.role, resource: def.singular, id },
    );
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
    throw new DomainError(
      'access.outside_scope',
      `${def.singular} ${rows[0].id} would lie outside the scope a ${viewer.role} may ${action} in`,
      { field: 'geometry' },
      { resource: def.singular, id: rows[0].id },
    );
  }
}

/** The column that records who created a row, set to the viewer. */
export const createdBy = (def: ResourceDefinition, viewer: Viewer): Record<string, unknown> =>
  def.createdBy ? { [def.createdBy]: viewer.id } : {};

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
    throw new DomainError(
      'access.outside_scope',
      `this change would relink ${resource} ${row_id}, which lies outside the scope a ${viewer.role} may change`,
      { field: 'geometry', resource, id: row_id },
    );
  }
}
