import { sql, type Kysely } from 'kysely';
import { mayRead, PUBLIC_READ, seesAggregateOnly } from '../../access/policy.ts';
import { publicLayer, visibleLayer } from '../../access/rows.ts';
import type { Viewer } from '../../access/viewer.ts';
import type { Condition, FeatureLayer } from '../../db/feature-store.ts';
import type { DB } from '../../db/schema.ts';
import { readOnlyNames, type Filter, type ResourceDefinition } from '../../access/resource.ts';
import { DomainError } from '../../domain/errors.ts';
import { districts, streets } from '../areas/resource.ts';
import { buildings } from '../buildings/resource.ts';
import { communities } from '../communities/resource.ts';
import { grids } from '../grids/resource.ts';
import { issues } from '../issues/resource.ts';
import { members } from '../members/resource.ts';
import { units } from '../units/resource.ts';

/** A map resource as an OGC API – Features collection. */
export interface Collection {
  id: string;
  title: string;
  description: string;
  resource: ResourceDefinition;
  /** the column `datetime` selects on, for collections whose features have a time */
  time?: string;
}

export const COLLECTIONS: Collection[] = [
  {
    id: 'districts',
    title: '区县 Districts',
    description: 'District and county (区/县) boundaries, by GB/T 2260 code.',
    resource: districts,
  },
  {
    id: 'streets',
    title: '街道 Streets',
    description:
      'Street and township (街道/乡镇) boundaries with their district; a street without a boundary of its own is drawn as the union of its communities.',
    resource: streets,
  },
  {
    id: 'communities',
    title: '社区 Communities',
    description: 'Community (社区) boundaries with their street, Party committee, staff and grid household band.',
    resource: communities,
  },
  {
    id: 'grids',
    title: '网格 Grids',
    description: 'Grid (网格) boundaries inside each community, with the grid Party branch and grid worker.',
    resource: grids,
  },
  {
    id: 'buildings',
    title: '楼栋 Buildings',
    description: 'Building footprints with households, residents and the building Party group; each linked to its grid.',
    resource: buildings,
  },
  {
    id: 'units',
    title: '驻区单位 Resident units',
    description: 'Enterprises, schools, agencies in the communities, with co-building agreements.',
    resource: units,
  },
  {
    id: 'issues',
    title: '问题 Issues',
    description: 'Problems reported at a point, on the wall of their grid, community or street; datetime selects on the time reported.',
    resource: issues,
    time: 'reported_at',
  },
  {
    id: 'members',
    title: '党员 Party members',
    description: 'Party members at their homes, masked for roles that see members only in aggregate.',
    resource: members,
  },
];

/** The collection as `viewer` (undefined: not signed in) may read it, or undefined when it may not. */
export function collectionLayer(collection: Collection, viewer: Viewer | undefined): FeatureLayer | undefined {
  if (!viewer) return publicLayer(collection.resource);
  return mayRead(collection.resource.name, viewer.role) ? visibleLayer(collection.resource, viewer) : undefined;
}

/** The collections `viewer` may read, in order. */
export const readableCollections = (viewer: Viewer | undefined) =>
  COLLECTIONS.flatMap((collection) => {
    const layer = collectionLayer(collection, viewer);
    return layer ? [{ collection, layer }] : [];
  });

/** The collection `id` with its layer, 404 when there is none, 401/403 when the caller may not read it. */
export function readableCollection(id: string, viewer: Viewer | undefined) {
  const collection = COLLECTIONS.find((c) => c.id === id);
  if (!collection)
    throw new DomainError('ogc.collection_not_found', `No collection ${id}; use ${COLLECTIONS.map((c) => c.id).join(', ')}`, {
      field: 'collectionId',
    });
  const layer = collectionLayer(collection, viewer);
  if (layer) return { collection, layer };
  if (!viewer)
    throw new DomainError('auth.unauthenticated', `${id} is not public: send Authorization: Bearer <token> (POST /api/v1/auth/login)`, {
      field: 'Authorization',
    });
  throw new DomainError('ogc.forbidden', `a ${viewer.role} may not read ${id}`, { field: 'collectionId' });
}

/**
 * The properties a viewer reads only masked (null, or a phone's ends): not offered as filters, as they could
 * match only masked values. `null` is the definition for every caller (/ogc/api); undefined, anonymous.
 */
function maskedFor({ resource }: Collection, viewer: Viewer | null | undefined): string[] {
  if (viewer === null || viewer?.role === 'admin') return [];
  if (viewer === undefined) return Object.keys(PUBLIC_READ[resource.name] ?? {});
  if (!seesAggregateOnly(resource.name, viewer)) return [];
  // each masked column, and the REST filter named after it (building for building_id)
  return Object.keys(resource.personal ?? {})
    .filter((c) => c !== 'geom')
    .flatMap((c) => [c, c.replace(/_id$/, '')]);
}

export type QueryableType = 'string' | 'integer' | 'number' | 'boolean';

export interface Queryable {
  name: string;
  type: QueryableType;
  condition: (value: never) => Condition;
}

const COLUMN_TYPES: Record<string, QueryableType> = {
  text: 'string',
  'character varying': 'string',
  integer: 'integer',
  bigint: 'integer',
  smallint: 'integer',
  numeric: 'number',
  'double precision': 'number',
  real: 'number',
  boolean: 'boolean',
};
const FILTER_TYPES: Record<Filter['type'], QueryableType> = { integer: 'integer', text: 'string', boolean: 'boolean' };

const columnTypes = new WeakMap<Kysely<DB>, Promise<Map<string, Map<string, string>>>>();

/**
 * What a collection's items can be filtered on, by name: each scalar property stored in the table (equal to
 * the value given), and the resource's own filters of the REST API (community, open, skill …).
 */
export async function queryables(db: Kysely<DB>, collection: Collection, viewer?: Viewer | null): Promise<Map<string, Queryable>> {
  let types = columnTypes.get(db);
  if (!types) {
    columnTypes.set(
      db,
      (types = sql<{ table_name: string; column_name: string; data_type: string }>`
      select table_name, column_name, data_type from information_schema.columns
      where table_schema = current_schema()`
        .execute(db)
        .then(({ rows }) => {
          const tables = new Map<string, Map<string, string>>();
          for (const r of rows) tables.set(r.table_name, (tables.get(r.table_name) ?? new Map()).set(r.column_name, r.data_type));
          return tables;
        })),
    );
    // a failed look-up is tried again by the next request, not kept
    types.catch(() => columnTypes.delete(db));
  }
  const columns = (await types).get(collection.resource.table) ?? new Map<string, string>();
  const result = new Map<string, Queryable>();
  for (const name of [...Object.keys(collection.resource.properties.shape), ...readOnlyNames(collection.resource)]) {
    const type = COLUMN_TYPES[columns.get(name) ?? ''];
    if (type) result.set(name, { name, type, condition: (value: never) => sql`${sql.ref(`t.${name}`)} = ${value}` });
  }
  for (const [name, filter] of Object.entries(collection.resource.filters)) {
    if (!result.has(name)) result.set(name, { name, type: FILTER_TYPES[filter.type], condition: filter.condition });
  }
  for (const name of maskedFor(collection, viewer)) result.delete(name);
  return result;
}
