import { sql, type Kysely } from 'kysely';

/** Kysely's table types, written from a migrated database by `npm run schema`; server/db/schema.ts re-exports them. */
export const SCHEMA_TYPES_PATH = new URL('./tables.generated.ts', import.meta.url);

interface ColumnRow {
  table: string;
  column: string;
  type: string;
  element: string | null;
  nullable: boolean;
  defaulted: boolean;
  always: boolean;
  values: string | null;
}

const TS_TYPES: Record<string, string> = {
  int2: 'number',
  int4: 'number',
  // server/db/database.ts parses int8 and numeric as numbers on both drivers
  int8: 'number',
  numeric: 'number',
  float4: 'number',
  float8: 'number',
  text: 'string',
  varchar: 'string',
  bool: 'boolean',
  // pg reads bytea as a Buffer, PGlite as a plain Uint8Array; a Buffer is one
  bytea: 'Uint8Array',
  json: 'unknown',
  jsonb: 'unknown',
  date: 'Timestamp',
  timestamptz: 'Timestamp',
  geometry: 'Geometry',
  geography: 'Geometry',
};

const pascal = (name: string) => name.replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase());

/** `(kind = ANY (ARRAY['a'::text, 'b'::text]))` → `'a' | 'b'`: a text column held to a list by its CHECK. */
function checkedValues(check: string | null): string | null {
  const list = check && /^CHECK \(\(?\w+ = ANY \(\(?ARRAY\[(.*)\]\)?(?:::text\[\])?\)\)?\)$/.exec(check)?.[1];
  if (!list) return null;
  const values = list.split(', ').map((v) => /^'([^']*)'::text$/.exec(v)?.[1]);
  return values.every((v) => v !== undefined) ? values.map((v) => `'${v}'`).join(' | ') : null;
}

function columnType(c: ColumnRow): string {
  const scalar = (name: string) => {
    const ts = TS_TYPES[name];
    if (!ts) throw new Error(`${c.table}.${c.column}: no TypeScript type for ${name}`);
    return ts;
  };
  let ts = c.element ? `${scalar(c.element)}[]` : (checkedValues(c.values) ?? scalar(c.type));
  if (c.nullable && ts !== 'unknown') ts += ' | null';
  if (c.always) return `GeneratedAlways<${ts}>`;
  return c.defaulted ? `Generated<${ts}>` : ts;
}

/** Every table of the public schema (an extension's own, such as spatial_ref_sys, aside). */
export async function schemaTypes<S>(db: Kysely<S>): Promise<string> {
  const { rows } = await sql<ColumnRow>`
    select c.relname as "table", a.attname as "column", t.typname as type,
           case when t.typcategory = 'A' then e.typname end as element,
           not a.attnotnull as nullable,
           a.atthasdef or a.attidentity = 'd' as defaulted,
           a.attidentity = 'a' or a.attgenerated <> '' as always,
           (select pg_get_constraintdef(k.oid) from pg_constraint k
             where k.conrelid = c.oid and k.contype = 'c' and k.conkey = array[a.attnum]
               and pg_get_constraintdef(k.oid) like '%ANY%ARRAY%' limit 1) as values
    from pg_attribute a
    join pg_class c on c.oid = a.attrelid
    join pg_namespace n on n.oid = c.relnamespace
    join pg_type t on t.oid = a.atttypid
    left join pg_type e on e.oid = t.typelem and t.typcategory = 'A'
    where n.nspname = 'public' and c.relkind in ('r', 'v') and a.attnum > 0 and not a.attisdropped
      and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')
    order by c.relname, a.attnum`.execute(db);

  const tables = [...new Set(rows.map((r) => r.table))];
  const lines = [
    '// Written by `npm run schema` from a migrated database (server/db/schema-types.ts): do not edit.',
    "import type { ColumnType, GeneratedAlways } from 'kysely';",
    '',
    "/** Kysely's Generated, but a column type's own (Timestamp's) select and update types kept: a defaulted time reads as a Date. */",
    'export type Generated<T> = [T] extends [ColumnType<infer S, infer I, infer U>] ? ColumnType<S, I | undefined, U> : ColumnType<T, T | undefined, T>;',
    '',
    '/** Geometry (and geography) columns are read through ST_AsGeoJSON and written through ST_GeomFromGeoJSON. */',
    'export type Geometry = ColumnType<unknown, string, string>;',
    'export type Timestamp = ColumnType<Date, Date | string, Date | string>;',
  ];
  for (const table of tables) {
    lines.push('', `export interface ${pascal(table)} {`);
    for (const c of rows.filter((r) => r.table === table)) lines.push(`  ${c.column}: ${columnType(c)};`);
    lines.push('}');
  }
  lines.push('', 'export interface DB {', ...tables.map((t) => `  ${t}: ${pascal(t)};`), '}');
  return `${lines.join('\n')}\n`;
}
