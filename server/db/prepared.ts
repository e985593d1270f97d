import { createHash } from 'node:crypto';
import { CompiledQuery, sql, type Kysely, type QueryResult, type RawBuilder } from 'kysely';

/** The comment that marks a statement to be prepared once per connection (server/db/database.ts). */
const PREPARED_MARK = '/* prepared */';

/**
 * `query`, prepared once per database connection under a name made from its text, and after that only bound
 * and run: a hot statement (the nearest volunteers) is not parsed and planned again on every request. Its
 * values stay parameters, so one text serves every point; a text that differs (another scope) is another
 * statement.
 */
export const prepared = <T>(query: RawBuilder<T>) => sql<T>`/* prepared */ ${query}`;

/** Names of the texts seen, so a hot statement's text is hashed once, not on every run. */
const names = new Map<string, string>();
const MAX_NAMES = 1_000;

/** The name a marked statement is prepared under (the same text, the same name); none for any other. */
export function preparedName(text: string) {
  if (!text.startsWith(PREPARED_MARK)) return undefined;
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= MAX_NAMES) names.clear();
    names.set(text, (name = `gm_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`));
  }
  return name;
}

/** Shapes held for one owner at most (a dispatcher trying every k would otherwise hold a hundred). */
const MAX_SHAPES = 32;

/** What stands for a value while a statement is compiled once for many (compiledOnce). */
const SLOT = Symbol('slot');
interface Compiled {
  sql: string;
  parameters: readonly unknown[];
  /** the value each parameter takes, by name; none where the parameter is part of the statement */
  slots: readonly (string | undefined)[];
}

/**
 * A prepared statement compiled once for each owner and shape, then only given its values: for a hot statement
 * building the query and writing its text (Kysely) costs more of the server's time than the rest of its answer.
 * `build` gets a stand-in for each value that is given and must only place them in the statement as parameters;
 * which values are given and `literal` make the shape. Whatever else `build` writes in comes from the owner
 * (a viewer's scope): a statement is never shared between two owners, and is dropped with its owner.
 */
export function compiledOnce<O extends object, L extends string | number, V extends object, R>(
  build: (owner: O, literal: L, values: V) => RawBuilder<R>,
) {
  const owners = new WeakMap<O, Map<string, Compiled>>();
  return async <DB>(db: Kysely<DB>, owner: O, literal: L, values: V): Promise<QueryResult<R>> => {
    const byName = values as Record<string, unknown>;
    const given = Object.keys(values).filter((name) => byName[name] !== undefined);
    const shape = `${literal} ${given.join(',')}`;
    let shapes = owners.get(owner);
    if (!shapes) owners.set(owner, (shapes = new Map()));
    let compiled = shapes.get(shape);
    if (!compiled) {
      if (shapes.size >= MAX_SHAPES) shapes.clear();
      const standIns = Object.fromEntries(given.map((name) => [name, { [SLOT]: name }])) as unknown as V;
      const query = prepared(build(owner, literal, standIns)).compile(db);
      const slots = query.parameters.map((p) => (p as { [SLOT]?: string } | null)?.[SLOT]);
      const lost = given.find((name) => !slots.includes(name));
      if (lost !== undefined) throw new Error(`compiledOnce: ${lost} is not a parameter of the statement`);
      shapes.set(shape, (compiled = { sql: query.sql, parameters: query.parameters, slots }));
    }
    const { slots } = compiled;
    const parameters = compiled.parameters.map((p, i) => (slots[i] === undefined ? p : byName[slots[i]!]));
    return db.executeQuery(CompiledQuery.raw(compiled.sql, parameters) as CompiledQuery<R>);
  };
}
