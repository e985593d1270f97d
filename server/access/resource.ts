import type { Transaction } from 'kysely';
import { z } from 'zod';
import type { Condition, FeatureTable } from '../db/feature-store.ts';
import type { DB } from '../db/schema.ts';
import { parseBody } from '../domain/body.ts';
import { DomainError } from '../domain/errors.ts';
import { answerFeature, answerGeometry, geometrySchema, type GeometryRules, type GeometryType } from '../domain/geojson.ts';
import type { ParameterDoc, QueryValueType } from '../domain/params.ts';
import { answerTime } from '../domain/fields.ts';
import { forbiddenProperties, PUBLIC_READ, type Mask, type Place, type ResourceName } from './policy.ts';
import type { Viewer } from './viewer.ts';

/** Who asks for a row's change or removal, and the options of the request (a grid's `merge_into`). */
export interface Asked {
  viewer: Viewer;
  query: Record<string, unknown>;
}

export interface Filter {
  type: QueryValueType;
  /** the SQL condition on row `t` for a parsed value */
  condition: (value: never) => Condition;
}

/**
 * What makes a map table an API resource: its shape, its filters and its rules. Typed by its name, its writable
 * properties, its read-only ones and its personal columns (defineResource infers them), so that each resource's
 * routes answer a typed feature the web client reads.
 */
export interface ResourceDefinition<
  N extends ResourceName = ResourceName,
  P extends z.ZodRawShape = z.ZodRawShape,
  R extends z.ZodRawShape = z.ZodRawShape,
  M extends string = string,
  G extends GeometryType = GeometryType,
  Z extends boolean = boolean,
> extends FeatureTable {
  /** URL segment under /api/v1, and the resource's name in the access policy */
  name: N;
  /** one of them, for messages */
  singular: string;
  geometry: readonly G[];
  /** what a geometry must keep to: a vertex cap, the service area */
  geometryRules: GeometryRules;
  /** a row may be written without a geometry (null: one the database derives, or none yet) */
  nullGeometry?: Z;
  /**
   * the read-only property that says a row's geometry is the database's own (a street drawn from its
   * communities): a file that says so, as an export does, gives no geometry, and the database derives it again
   */
  derivedGeometry?: string;
  /** writable properties; a POST fills the omitted ones from `defaults` */
  properties: z.ZodObject<P>;
  defaults: Record<string, unknown>;
  /** properties that are derived or kept by the database (besides the id), as answers carry them: shown, never written */
  readOnly: R;
  filters: Record<string, Filter>;
  /** where a row sits on the map, for scopes */
  place: Place;
  /** personal columns (geom for a home point) and how they are masked for those who may not see them */
  personal?: Record<M, Mask>;
  /** a column that records the user who created the row */
  createdBy?: string;
  /** the property that names a row in a city's own files (a code, a register's id): imports with mode=upsert match rows by it */
  naturalKey?: string;
  /** words a city's files use for a property's codes (在职党员 for in_service), by property: imports read them as the codes */
  vocabulary?: Record<string, Record<string, string>>;
  /** rules that need the stored rows (inside the write's transaction; throwing undoes the write) */
  check?: (trx: Transaction<DB>, ids: number[]) => Promise<void>;
  /** what an import reports of the stored rows without refusing them (a community mostly outside its street) */
  warn?: (trx: Transaction<DB>, ids: number[], options: WarnOptions) => Promise<RowWarning[]>;
  /** what must hold before a row is changed (inside the change's transaction, the row found writable) */
  beforeUpdate?: (trx: Transaction<DB>, id: number, asked: Asked) => Promise<void>;
  /** the query parameters a delete takes, for the document: `beforeDelete` reads them (a grid's merge_into) */
  deleteParameters?: Record<string, ParameterDoc>;
  /** what must hold, or happen, before a row is deleted (inside the delete's transaction) */
  beforeDelete?: (trx: Transaction<DB>, id: number, asked: Asked) => Promise<void>;
}

/** The version and times every map row keeps (its ETag, its creation and last change). */
export const ROW_STAMPS = { version: z.number().int(), created_at: answerTime, updated_at: answerTime };

/** A resource's definition with its types inferred (no annotation to keep in step with the object). */
export const defineResource = <
  N extends ResourceName,
  P extends z.ZodRawShape,
  R extends z.ZodRawShape,
  M extends string = never,
  G extends GeometryType = never,
  Z extends boolean = false,
>(
  def: ResourceDefinition<N, P, R, M, G, Z>,
) => def;

/** The properties no one writes: the id (the feature's own) and the read-only ones. */
export const readOnlyNames = (def: ResourceDefinition) => ['id', ...Object.keys(def.readOnly)];

type Unwrapped<S> = S extends z.ZodOptional<infer I> ? I : S;
/** A stored row's properties as answers type them: each writable one as stored (null where optional), a personal one null where masked. */
export type AnsweredShape<P extends z.ZodRawShape, R extends z.ZodRawShape, M extends string> = {
  [K in keyof P]: K extends M ? z.ZodNullable<Unwrapped<P[K]>> : Unwrapped<P[K]>;
} & R;
/** A stored row's geometry: of the resource's types; null where it may have none yet, or where its geometry is personal (a home). */
export type AnsweredGeometry<G extends GeometryType, Z extends boolean, M extends string> =
  Extract<import('geojson').Geometry, { type: G }> | (Z extends true ? null : 'geom' extends M ? null : never);

/**
 * A stored row as the API answers it: its properties as the table holds them (read-only ones too). A column a
 * role may see masked is nullable (hidden) or any text (a phone with its middle starred, 138****5678), whichever
 * its mask, here or on the public map.
 */
export function answeredFeature<
  N extends ResourceName,
  P extends z.ZodRawShape,
  R extends z.ZodRawShape,
  M extends string,
  G extends GeometryType,
  Z extends boolean,
>(def: ResourceDefinition<N, P, R, M, G, Z>, meta: { id: string; description: string }) {
  const masks: Record<string, Mask> = { ...PUBLIC_READ[def.name], ...def.personal };
  const shape = Object.fromEntries(
    Object.entries(def.properties.shape).map(([key, schema]) => {
      const stored = (schema instanceof z.ZodOptional ? schema.unwrap() : schema) as z.ZodType;
      return [key, masks[key] === 'phone' ? z.string().nullable() : masks[key] === 'hidden' ? stored.nullable() : stored];
    }),
  );
  const properties = z.object({ ...shape, ...def.readOnly }).meta(meta) as unknown as z.ZodObject<AnsweredShape<P, R, M>>;
  const placeless = def.nullGeometry || masks.geom !== undefined;
  return answerFeature(
    properties,
    (placeless ? answerGeometry.nullable() : answerGeometry) as unknown as z.ZodType<AnsweredGeometry<G, Z, M>>,
  );
}

export interface RowWarning {
  id: number;
  field: string;
  reason: string;
}
export interface WarnOptions {
  /** the share of a community's area that may lie outside its street's boundary */
  streetTolerance: number;
}

export const MAX_FEATURES = 10_000;

/** A property the viewer's role may not set is refused by name. */
export function refuseForbiddenProperties(def: ResourceDefinition, viewer: Viewer, properties: Record<string, unknown>, field: string) {
  const [forbidden] = forbiddenProperties(def.name, viewer, Object.keys(properties));
  if (forbidden)
    throw new DomainError(
      'access.forbidden_property',
      `a ${viewer.role} may not set ${forbidden}`,
      { field: `${field}.${forbidden}` },
      { role: viewer.role },
    );
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
      throw new DomainError('request.nul_character', `${key} contains a NUL character`, { field: `${field}.${key}` });
    }
    if (key !== 'id' && !Object.hasOwn(def.readOnly, key)) continue;
    if (readOnly === 'drop') delete given[key];
    else
      throw new DomainError('request.read_only_property', `${key} is derived or kept by Gridmap and cannot be set`, {
        field: `${field}.${key}`,
      });
  }
  return parseBody(partial ? schemas.partial : schemas.whole, partial ? given : { ...def.defaults, ...given }, field.split('.')) as Record<
    string,
    unknown
  >;
}

/** The geometry a resource takes, by its type and rules: what API writes, imports and the OpenAPI document share. */
export const resourceGeometry = (def: ResourceDefinition) => {
  const geometry = geometrySchema(def.geometry, def.geometryRules);
  return def.nullGeometry ? geometry.nullable() : geometry;
};

/**
 * A feature's properties as sent, for `validProperties` to check: a zod record would drop a "__proto__" key
 * that the strict check must see to refuse.
 */
