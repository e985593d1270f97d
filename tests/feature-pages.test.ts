import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bboxCondition, PAGE_LINES_COPY, writeFeaturePage, type PageOptions, type PageRead } from '../server/db/feature-store.ts';
import { withLiterals } from '../server/db/database.ts';
import { findUsers, viewerOf } from '../server/features/accounts/queries.ts';
import { collectionLayer, COLLECTIONS } from '../server/features/ogc/collections.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';

/**
 * On the server a page of features is one COPY whose bytes go to the client undecoded (server/db/feature-store.ts);
 * embedded, and for HTML, it is read in batches. Both must write the same document, byte for byte, for every kind
 * of page: from the start, after and before a cursor, within a box, empty, larger than the network's chunks.
 */

let test: TestDatabase;

beforeAll(async () => {
  test = await openTestDatabase();
});
afterAll(async () => {
  await test.drop();
});

/** The collection's layer as `username` reads it. */
async function layerOf(collection: string, username: string) {
  const [user] = await findUsers(test.database.db, { username });
  return collectionLayer(
    COLLECTIONS.find((c) => c.id === collection)!,
    viewerOf(user),
  )!;
}

async function page(copy: boolean, collection: string, username: string, options: PageOptions) {
  const database = copy ? test.database : { ...test.database, copyOut: undefined };
  const layer = await layerOf(collection, username);
  const pieces: Buffer[] = [];
  let read: PageRead | undefined;
  await writeFeaturePage(database, layer, options, async (piece) => void pieces.push(Buffer.from(piece)), {
    head: '"head":1,',
    tail: (r) => ((read = r), '"tail":1'),
  });
  return { text: Buffer.concat(pieces).toString(), read: read! };
}

describe('a page of features', () => {
  it('is the same document from COPY as from batches', async (context) => {
    if (!test.database.copyOut) return context.skip('embedded: no COPY to a client');
    const {
      rows: [ids],
    } = await sql<{ low: number; mid: number; high: number }>`
      select min(id) as low, percentile_disc(0.5) within group (order by id) as mid, max(id) as high from buildings`.execute(
      test.database.db,
    );
    const box = bboxCondition([108.9, 34.2, 109.6, 36.6]);
    const cases: [string, string, PageOptions][] = [
      ['buildings', 'admin', { conditions: [], limit: 10 }],
      ['buildings', 'admin', { conditions: [], limit: 3000 }],
      ['buildings', 'admin', { conditions: [], limit: 7, after: ids.mid }],
      ['buildings', 'admin', { conditions: [], limit: 7, before: ids.mid }],
      ['buildings', 'admin', { conditions: [], limit: 500, before: ids.low + 3 }],
      ['buildings', 'admin', { conditions: [], limit: 5, after: ids.high }],
      ['buildings', 'leader', { conditions: [], limit: 1000, decimals: 15 }],
      ['buildings', 'leader', { conditions: [box], limit: 50, after: ids.low }],
      ['members', 'gridworker', { conditions: [], limit: 100 }],
      ['grids', 'admin', { conditions: [], limit: 10_000 }],
    ];
    for (const [layer, username, options] of cases) {
      const copied = await page(true, layer, username, options);
      const batched = await page(false, layer, username, options);
      const label = `${layer} as ${username}, ${JSON.stringify({ ...options, conditions: options.conditions.length })}`;
      expect(JSON.parse(copied.text), label).toEqual(JSON.parse(batched.text));
      expect(copied.read, label).toEqual(batched.read);
    }
    // one large page holds names in Chinese across the chunks COPY arrives in
    const large = await page(true, 'buildings', 'admin', { conditions: [], limit: 3000 });
    expect(large.text.length).toBeGreaterThan(200_000);
    expect(large.text).toMatch(/[\u4e00-\u9fff]/);
    expect(large.text).not.toContain('\ufffd');
  });

  it('writes parameters into a COPY as the literals the server would bind', async (context) => {
    if (!test.database.copyOut) return context.skip('embedded: no COPY to a client');
    const query = sql<{
      line: string;
    }>`select ${"it's \\ 网格"}::text || ${7}::int || coalesce(${null}::text, '-') || ${[1, 2]}::int[]::text || ${true}::bool::text as line`.compile(
      test.database.db,
    );
    expect(withLiterals(query)).not.toMatch(/\$\d/);
    const { rows } = await test.database.db.executeQuery(query);
    const chunks: Buffer[] = [];
    for await (const chunk of test.database.copyOut(query, PAGE_LINES_COPY)) chunks.push(chunk);
    expect(rows[0].line).toBe("it's \\ 网格7-{1,2}true");
    expect(Buffer.concat(chunks).toString()).toBe(`${rows[0].line}\n`);
  });

  it('gives its connection back when the client goes away in the middle, more times than the pool holds', async (context) => {
    if (!test.database.copyOut) return context.skip('embedded: no COPY to a client');
    const layer = await layerOf('buildings', 'admin');
    for (let i = 0; i < 12; i++) {
      let pieces = 0;
      const gone = writeFeaturePage(
        test.database,
        layer,
        { conditions: [], limit: 3000 },
        async () => {
          if (++pieces === 3) throw new Error('the client went away');
        },
        { tail: () => '' },
      );
      await expect(gone).rejects.toThrow(/went away/);
    }
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from buildings`.execute(test.database.db);
    expect(rows[0].n).toBeGreaterThan(1000);
  });

  it('waits for a client that takes nothing once a megabyte is handed to it, and goes on when it takes it', async (context) => {
    if (!test.database.copyOut) return context.skip('embedded: no COPY to a client');
    const layer = await layerOf('members', 'admin');
    const whole = await page(true, 'members', 'admin', { conditions: [], limit: 10_000 });
    expect(Buffer.byteLength(whole.text)).toBeGreaterThan(1.5 * 2 ** 20);
    let handed = 0; // bytes of the features
    const pieces: Buffer[] = [];
    let take = () => {};
    const taken = new Promise<void>((resolve) => (take = resolve));
    const writing = writeFeaturePage(
      test.database,
      layer,
      { conditions: [], limit: 10_000 },
      (piece) => {
        if (typeof piece !== 'string') handed += piece.length;
        pieces.push(Buffer.from(piece));
        // the document's own head and tail are taken; the features COPY sends are not, until take()
        return typeof piece === 'string' ? Promise.resolve() : taken;
      },
      { head: '"head":1,', tail: () => '"tail":1' },
    );
    // handed until the COPY waits: no more than the megabyte and the chunk that passed it
    let seen = -1;
    while (seen !== handed) {
      seen = handed;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(handed).toBeGreaterThan(2 ** 20);
    expect(handed).toBeLessThan(2 ** 20 + 256 * 2 ** 10);
    take();
    await writing;
    expect(Buffer.concat(pieces).toString()).toBe(whole.text);
  });

  it('refuses to write a value where the statement held no parameter', () => {
    const query = { sql: 'select $1 as a -- not $3', parameters: [1], query: undefined } as unknown as Parameters<typeof withLiterals>[0];
    expect(() => withLiterals(query)).toThrow(/\$3 where \$2 was due/);
    const nul = sql`select ${'a\0b'}::text as a`.compile(test.database.db);
    expect(() => withLiterals(nul)).toThrow(/NUL/);
    expect(() => withLiterals({ ...nul, parameters: [] })).toThrow(/\$1 where \$1 was due|0 parameters/);
  });
});
