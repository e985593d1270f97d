import { sql, type Kysely } from 'kysely';

/** sql/README.md, written from a migrated database by `npm run schema`. */
export const SCHEMA_DOC_PATH = new URL('../../sql/README.md', import.meta.url);

interface TriggerRow {
  table: string;
  name: string;
  type: number;
  columns: string[] | null;
  definition: string;
  function: string;
  why: string | null;
}

// pg_trigger.tgtype bits
const ROW = 1;
const BEFORE = 2;
const EVENTS = [
  ['insert', 4],
  ['update', 16],
  ['delete', 8],
] as const;

/**
 * The order PostgreSQL fires one event's triggers in: before the statement, before each row, after each
 * row, after the statement; within each, by name.
 */
const firingRank = (type: number) => (type & BEFORE ? (type & ROW ? 1 : 0) : type & ROW ? 2 : 3);

/** Per table, what fires on insert, update and delete, in firing order, and why (its function's comment). */
export async function schemaDoc<S>(db: Kysely<S>): Promise<string> {
  const { rows } = await sql<TriggerRow>`
    select c.relname as "table", t.tgname as name, t.tgtype::int as type,
           (select array_agg(a.attname::text order by a.attnum) from pg_attribute a
             where a.attrelid = t.tgrelid and a.attnum = any (t.tgattr)) as columns,
           pg_get_triggerdef(t.oid) as definition, p.proname as function, obj_description(p.oid, 'pg_proc') as why
    from pg_trigger t
    join pg_class c on c.oid = t.tgrelid
    join pg_namespace n on n.oid = c.relnamespace
    join pg_proc p on p.oid = t.tgfoid
    where n.nspname = 'public' and not t.tgisinternal
    order by c.relname, t.tgname`.execute(db);

  const lines = [
    '# What fires on each table',
    '',
    'Written by `npm run schema` from a migrated database: do not edit. Each trigger and its function is',
    'defined in one file of record, `sql/schema/*.sql`, re-applied after the numbered migrations',
    '(`server/db/migrate.ts`); tables, columns and indexes stay in the numbered migrations.',
    '',
    "One event's triggers fire before the statement, before each row, after each row, after the statement,",
    "and within each of these in name order (PostgreSQL's rule): the order below. Where one trigger relies on",
    'another, their names keep that order (`place_issue` sets the grid `route_issue` reads).',
  ];
  for (const table of [...new Set(rows.map((r) => r.table))]) {
    lines.push('', `## ${table}`, '', '| on | fires | trigger | why |', '|---|---|---|---|');
    for (const [event, bit] of EVENTS) {
      const firing = rows
        .filter((r) => r.table === table && r.type & bit)
        .sort((a, b) => firingRank(a.type) - firingRank(b.type) || a.name.localeCompare(b.name));
      for (const r of firing) {
        const when = /\bWHEN \((.*)\) EXECUTE FUNCTION/.exec(r.definition)?.[1];
        const fires = [
          `${r.type & BEFORE ? 'before' : 'after'} each ${r.type & ROW ? 'row' : 'statement'}`,
          event === 'update' && r.columns ? `of ${r.columns.join(', ')}` : '',
          when ? `when \`${when}\`` : '',
        ].filter(Boolean);
        const name = r.name === r.function ? `\`${r.name}\`` : `\`${r.name}\` → \`${r.function}()\``;
        lines.push(`| ${event} | ${fires.join(' ').replaceAll('|', '\\|')} | ${name} | ${r.why ?? ''} |`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
