import type { Transaction } from 'kysely';
import type { z } from 'zod';
import type { Condition, FeatureTable } from '../db/feature-store.ts';
import type { DB } from '../db/schema.ts';
import type { GeometryRules, GeometryType } from '../domain/geojson.ts';
import type { QueryValueType } from '../domain/params.ts';
import type { Mask, Place, ResourceName } from './policy.ts';
import type { Viewer } from './viewer.ts';

/** Who asks for a row's change or removal, and the options of the request (a grid's `merge_into`). */
export interface Asked { viewer: Viewer; query: Record<string, unknown> }

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
  /** what a geometry must keep to: a vertex cap, the service area */
  geometryRules: GeometryRules;
  /** a row may be written without a geometry (null: one the database derives, or none yet) */
  nullGeometry?: boolean;
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
  /** what must hold, or happen, before a row is deleted (inside the delete's transaction) */
  beforeDelete?: (trx: Transaction<DB>, id: number, asked: Asked) => Promise<void>;
}

export interface RowWarning { id: number; field: string; reason: string }
export interface WarnOptions {
  /** the share of a community's area that may lie outside its street's boundary */
  streetTolerance: number;
}

