import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledOnce, prepared, preparedName } from '../server/db/prepared.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * Statements marked prepared() (server/db/prepared.ts) run as named prepared statements on both databases:
 * the same answers as unnamed, prepared once per connection, and an error in one leaves the connection usable.
 */

let test: TestDatabase;
const db = () => test.database.db;

beforeAll(async () => {
  test = await openTestDatabase();
});
afterAll(async () => {
  await test.drop();
});

const statement = (a: number, b: string, at: Date | null) =>
  sql<{ n: number; t: string; at: Date | null; area: number }>`
    select ${a}::int + 1 as n, upper(${b}) as t, ${at}::timestamptz as at,
           ST_Area(ST_MakeEnvelope(0, 0, ${a}, 1, 4326)) as area`;

describe('a prepared statement', () => {
  it('answers as the same statement unprepared, every time, and is prepared under its name', async () => {
    for (const [a, b, at] of [
      [1, 'x', new Date('2026-12-07T10:00:00Z')],
      [5, '网格', null],
      [2, 'y', new Date('2026-01-01T00:00:00Z')],
    ] as const) {
      const expected = (await statement(a, b, at).execute(db())).rows;
      expect((await prepared(statement(a, b, at)).execute(db())).rows).toEqual(expected);
    }
    const name = preparedName(prepared(statement(1, 'x', null)).compile(db()).sql);
    expect(name).toMatch(/^gm_/);
    // on the connection that ran it (a transaction holds one of the server's pool)
    await db()
      .transaction()
      .execute(async (trx) => {
        await prepared(statement(3, 'z', null)).execute(trx);
        const { rows } = await sql<{ name: string }>`select name from pg_prepared_statements where name = ${name!}`.execute(trx);
        expect(rows).toEqual([{ name }]);
      });
  });

  it('fails as the statement fails, and the next one runs', async () => {
    const failing = (value: string) => prepared(sql<{ n: number }>`select (${value})::int as n`);
    expect((await failing('12').execute(db())).rows).toEqual([{ n: 12 }]);
    await expect(failing('twelve').execute(db())).rejects.toThrow(/invalid input syntax/);
    expect((await failing('13').execute(db())).rows).toEqual([{ n: 13 }]);
    await db()
      .transaction()
      .execute(async (trx) => {
        expect((await failing('14').execute(trx)).rows).toEqual([{ n: 14 }]);
      });
  });
});

describe('a statement compiled once', () => {
  // the owner's part is written in (as a viewer's scope is); the values come each time
  const build = (owner: { scope: number }, decimals: number, v: { a: number; b?: string }) =>
    sql<{ n: number; t: string | null; scope: number; r: number }>`
      select ${v.a}::int + ${v.a}::int as n, ${v.b === undefined ? sql`null` : sql`upper(${v.b})`} as t,
             ${owner.scope}::int as scope, round(pi()::numeric, ${sql.lit(decimals)})::float8 as r`;
  const run = compiledOnce(build);

  it('answers as the statement built for those values, for each owner, shape and literal', async () => {
    const one = { scope: 1 };
    const two = { scope: 2 };
    for (const [owner, decimals, values] of [
      [one, 2, { a: 1 }],
      [one, 2, { a: 7 }],
      [one, 2, { a: 3, b: 'x' }],
      [one, 3, { a: 3, b: '网格' }],
      [two, 2, { a: 1 }],
      [one, 2, { a: 4, b: undefined }],
    ] as const) {
      const expected = (await build(owner, decimals, values).execute(db())).rows;
      expect((await run(db(), owner, decimals, values)).rows, JSON.stringify([owner, decimals, values])).toEqual(expected);
    }
  });

  it('refuses a value the statement does not take as a parameter', async () => {
    const computing = compiledOnce((_owner: object, _literal: number, v: { a: number }) => sql`select ${sql.lit(String(v.a))} as a`);
    await expect(computing(db(), {}, 1, { a: 1 })).rejects.toThrow(/a is not a parameter/);
  });
});
