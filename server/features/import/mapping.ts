import { z } from 'zod';
import { readOnlyNames, type ResourceDefinition } from '../../access/resource.ts';
import { DomainError } from '../../domain/errors.ts';
import { isTable, PLACE_COLUMNS, unknownColumn, type ImportFormat, type PlaceColumn, type RawRow } from './sources.ts';

/** What becomes of a file's columns that are neither mapped nor named like a property: listed and left, or each row refused. */
export const IMPORT_EXTRA = ['ignore', 'reject'] as const;
export type ImportExtra = (typeof IMPORT_EXTRA)[number];

/** Property ← column, as `fields=code:SQDM,name:SQMC` says. */
export type FieldMapping = Record<string, string>;

/** What an import did with the file's columns, for its report. */
export interface ColumnsReport {
  /** the file's columns, in the order first seen */
  columns: string[];
  mapped?: FieldMapping;
  ignored_columns: string[];
}

const badFields = (detail: string) => new DomainError('request.invalid_parameter', detail, { field: 'fields' });

/**
 * `fields=code:SQDM,name:SQMC` read against the layer: each target a property of it, each once. A table (CSV,
 * Excel) may also name the columns that place its rows: coordinates or WKT, or the building they are at
 * (`building_code:楼栋号`, `building:门牌,community:所属社区`).
 */
export function parseFields(text: string | undefined, def: ResourceDefinition, format: ImportFormat): FieldMapping | undefined {
  if (text === undefined) return undefined;
  const properties = Object.keys(def.properties.shape);
  const table = isTable(format) ? PLACE_COLUMNS.filter((c) => !properties.includes(c)) : [];
  const mapping: FieldMapping = {};
  for (const pair of text.split(',')) {
    const at = pair.indexOf(':');
    const [target, column] = at < 0 ? [pair.trim(), ''] : [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
    if (!target || !column) throw badFields(`fields: each mapping is property:column, not "${pair}"`);
    if (!properties.includes(target) && !table.includes(target as PlaceColumn)) {
      const place = (PLACE_COLUMNS as readonly string[]).includes(target) ? ` (${target} names a column of a CSV or Excel table only)` : '';
      throw badFields(`fields: ${target} is not a property of ${def.name}${place}; map to ${[...properties, ...table].join(', ')}`);
    }
    if (target in mapping) throw badFields(`fields: ${target} is mapped twice`);
    mapping[target] = column;
  }
  return mapping;
}

/**
 * The rows with their columns renamed to properties: a mapped column becomes its property, a column named like
 * a property (or like a read-only one, which the check drops) stays; the rest are listed in `report` and left
 * out, or with extra=reject kept for the check to refuse by name. A mapped column the file never has ends the
 * import (422 naming `fields`) before anything is written.
 */
export async function* mappedRows(
  rows: AsyncIterable<RawRow>,
  def: ResourceDefinition,
  mapping: FieldMapping | undefined,
  extra: ImportExtra,
  report: ColumnsReport,
): AsyncGenerator<RawRow> {
  // the columns that place a table's rows were read with the rows (placeColumns)
  const pairs = Object.entries(mapping ?? {}).filter(([target]) => target in def.properties.shape);
  const sources = new Set(pairs.map(([, column]) => column));
  const known = new Set([...Object.keys(def.properties.shape), ...readOnlyNames(def)]);
  const columns = new Set<string>();
  const ignored = new Set<string>();
  let read = 0;
  for await (const raw of rows) {
    read++;
    const properties: Record<string, unknown> = {};
    for (const [column, value] of Object.entries(raw.properties)) {
      columns.add(column);
      if (sources.has(column)) continue;
      if ((known.has(column) && !mapping?.[column]) || extra === 'reject') properties[column] = value;
      else ignored.add(column);
    }
    for (const [target, column] of pairs) if (column in raw.properties) properties[target] = raw.properties[column];
    yield { ...raw, properties };
  }
  Object.assign(report, { columns: [...columns], ...(mapping ? { mapped: mapping } : {}), ignored_columns: [...ignored] });
  const missing = [...sources].find((column) => !columns.has(column));
  if (missing && read > 0) throw unknownColumn(missing, [...columns]);
}

/** The columns `fields` names to place a table's rows, for readRows. */
export const placeColumns = (def: ResourceDefinition, mapping: FieldMapping | undefined) =>
  Object.fromEntries(Object.entries(mapping ?? {}).filter(([target]) => !(target in def.properties.shape))) as Partial<
    Record<PlaceColumn, string>
  >;

type ValueKind = 'number' | 'boolean' | 'array' | 'text';
const kinds = new WeakMap<ResourceDefinition, Record<string, ValueKind>>();

/** What each property's value must become, read off the resource's schema. */
function valueKinds(def: ResourceDefinition) {
  let found = kinds.get(def);
  if (!found) {
    found = Object.fromEntries(
      Object.entries(def.properties.shape).map(([key, type]) => {
        let inner = type as z.ZodType;
        while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable) inner = inner.unwrap() as z.ZodType;
        const kind: ValueKind =
          inner instanceof z.ZodNumber
            ? 'number'
            : inner instanceof z.ZodBoolean
              ? 'boolean'
              : inner instanceof z.ZodArray
                ? 'array'
                : 'text';
        return [key, kind];
      }),
    );
    kinds.set(def, found);
  }
  return found;
}

const TRUE = ['true', '1', 'yes', 'y', '是'];
const FALSE = ['false', '0', 'no', 'n', '否'];

/** A file's yes, whatever the format wrote it as (true, "true", "是"). */
export const saysYes = (value: unknown) => value === true || (typeof value === 'string' && TRUE.includes(value.trim().toLowerCase()));
/** How lists are written in a cell: 助老;助医, 助老、助医, 助老，助医 */
const LIST = /[;,|、，；]/;

/**
 * A file's values as the schema wants them, whatever the format: text made into numbers, booleans (是/否 too) and
 * lists, numbers into text where the schema wants text, and a property's words (在职党员, 助老) made into its codes. What cannot be read is left for the schema
 * to refuse. `trim`: CSV cells, whose spaces are the writer's, not the value's.
 */
export function fileValues(def: ResourceDefinition, properties: Record<string, unknown>, trim: boolean) {
  const types = valueKinds(def);
  return Object.fromEntries(
    Object.entries(properties).map(([key, value]) => {
      const words = def.vocabulary?.[key];
      const named = (v: unknown) => (typeof v === 'string' && words?.[v.trim()]) || v;
      if (Array.isArray(value)) return [key, value.map(named)];
      // a code kept in a numeric DBF column (N type): 610602001 is the text 610602001
      if (typeof value === 'number' && types[key] === 'text') return [key, String(value)];
      if (typeof value !== 'string') return [key, value];
      const text = value.trim();
      switch (types[key]) {
        case 'number':
          return [key, text !== '' && Number.isFinite(Number(text)) ? Number(text) : value];
        case 'boolean':
          return [key, TRUE.includes(text.toLowerCase()) ? true : FALSE.includes(text.toLowerCase()) ? false : value];
        case 'array':
          return [
            key,
            text
              .split(LIST)
              .map((s) => s.trim())
              .filter(Boolean)
              .map(named),
          ];
        default:
          return [key, words?.[text] ?? (trim ? text : value)];
      }
    }),
  );
}
