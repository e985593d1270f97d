import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readable } from '../server/access/policy.ts';
import { visibleLayer } from '../server/access/rows.ts';
import type { Viewer } from '../server/access/viewer.ts';
import { members } from '../server/features/members/resource.ts';
import { units } from '../server/features/units/resource.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * Privacy through one door: a query of personal rows (members, units, issues, dispatches, users) reads them
 * scoped and masked by `readable` or `visibleLayer`/`publicLayer` (server/access/), or is listed here with why it
 * needs neither. A new file that reads them without the door fails until it uses it or says why.
 */
const ROOT = join(import.meta.dirname, '..');
// in SQL text (`from users u`) or Kysely's builder (`selectFrom('users')`, `leftJoin('users as u', …)`)
const PERSONAL =
  /\b(?:from|join)\s+(members|units|issues|dispatches|users)\b|\b(?:selectFrom|innerJoin|leftJoin|rightJoin|fullJoin)\(\s*'(members|units|issues|dispatches|users)\b/;
const DOOR = /\b(?:readable|visibleLayer|publicLayer)\(/;
const WITHOUT_THE_DOOR: Record<string, string> = {
  'server/features/planning/change.ts':
    'the impact report counts per grid, and lists moved members without ids where the planner reads counts only',
  'server/features/issues/resource.ts': "a write's own check of the issue it changes, after the guard and requireWritable",
  'server/features/communities/queries.ts':
    'the tree counts per building and grid, names of central households behind homesShown/personalShown, in a community the route reads by `readable`',
  'server/features/open311/keys.ts': "admins' Open311 keys and who issued them",
  'server/features/setup/routes.ts': "an admin's counts of the whole map",
  'server/features/accounts/service.ts': "users, for admins; a volunteer account's member checked to be a volunteer",
  'server/features/accounts/keys.ts': "the caller's own access keys",
  'server/features/accounts/queries.ts': 'sign-in and sessions',
  'server/features/volunteers/routes.ts': "the signed-in volunteer's own record",
  'server/access/policy.ts': 'the door itself (a resident follows the issues it reported)',
};

const sources = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.ts$/.test(e.name) ? [join(dir, e.name)] : [],
  );

describe('privacy through one door', () => {
  it('reads personal rows only through readable or visibleLayer, or says why not', () => {
    const files = sources('server').filter((file) => PERSONAL.test(readFileSync(join(ROOT, file), 'utf8')));
    const bypasses = files.filter((file) => !DOOR.test(readFileSync(join(ROOT, file), 'utf8')) && !(file in WITHOUT_THE_DOOR));
    expect(bypasses).toEqual([]);
    // an exception that no longer reads personal rows, or now uses the door, is struck off
    const stale = Object.keys(WITHOUT_THE_DOOR).filter(
      (file) => !files.includes(file) || DOOR.test(readFileSync(join(ROOT, file), 'utf8')),
    );
    expect(stale.filter((file) => file !== 'server/access/policy.ts')).toEqual([]);
    expect(files.length).toBeGreaterThan(10);
  });

  it('is the only place the scope is built: no feature calls readConditions', () => {
    const callers = sources('server').filter(
      (file) => !file.startsWith('server/access/') && /\breadConditions\b/.test(readFileSync(join(ROOT, file), 'utf8')),
    );
    expect(callers).toEqual([]);
  });

  describe('fails closed', () => {
    let test: TestDatabase;
    beforeAll(async () => {
      test = await openTestDatabase();
    });
    afterAll(() => test?.drop());

    const count = async (condition: ReturnType<typeof readable>, table: 'members' | 'units') =>
      Number(
        (await sql<{ n: string }>`select count(*) as n from ${sql.table(table)} r where ${condition}`.execute(test.database.db)).rows[0].n,
      );

    it('a viewer who may read none of a table reads no row, and cannot take its masked view', async () => {
      const resident: Viewer = { id: 1, username: 'r', role: 'resident', scope: { kind: 'community', id: 1 }, memberId: null };
      const admin: Viewer = { id: 1, username: 'a', role: 'admin', scope: null, memberId: null };
      expect(await count(readable('members', members.place, admin, 'r'), 'members')).toBeGreaterThan(0);
      expect(await count(readable('members', members.place, resident, 'r'), 'members')).toBe(0);
      expect(() => visibleLayer(members, resident)).toThrow(/may not read members/);
      // a scope the viewer does not have (a grid worker without its grid) reads nothing either
      const lost: Viewer = { id: 2, username: 'g', role: 'grid_worker', scope: null, memberId: null };
      expect(await count(readable('units', units.place, lost, 'r'), 'units')).toBe(0);
    });
  });
});
