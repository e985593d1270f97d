import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './support/app.ts';
import { mode, openTestDatabase, type TestDatabase } from './support/databases.ts';

/** What staff opening an export in Excel or WPS must not see run: formulas, DDE, and the leads a cell can hide behind. */
const FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", '@SUM(1)', '-2+3', '\t=1+1', '\r=1+1'];
const BOM = '\uFEFF';

const square = (lon: number, lat: number, side = 0.0002) => ({
  type: 'Polygon',
  coordinates: [
    [
      [lon, lat],
      [lon + side, lat],
      [lon + side, lat + side],
      [lon, lat + side],
      [lon, lat],
    ],
  ],
});

describe(`CSV exports on the ${mode} database`, () => {
  let test: TestDatabase;
  let app: Awaited<ReturnType<typeof testApp>>;

  /** The export's raw text and its records as csv-parse reads them, by column name. */
  async function exportCsv(layer: string) {
    const response = await request(app)
      .get(`/api/v1/export/${layer}?format=csv`)
      .buffer(true)
      .parse((res, done) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (chunk: string) => (text += chunk))
          .on('end', () => done(null, text));
      })
      .expect(200);
    const text = response.body as string;
    return { text, records: parse(text, { bom: true, columns: true }) as Record<string, string>[] };
  }

  beforeAll(async () => {
    test = await openTestDatabase();
    app = await testApp(test.database);
  });
  afterAll(() => test?.drop());

  it('neutralises cells a spreadsheet would run as a formula, keeping their text', async () => {
    for (const [i, text] of FORMULAS.entries()) {
      await request(app)
        .post('/api/v1/issues')
        .send({
          type: 'Feature',
          geometry: { type: 'Point', coordinates: [109.4862, 36.5862 + i * 0.0001] },
          properties: { title: text, description: text, category: 'noise' },
        })
        .expect(201);
      await request(app)
        .post('/api/v1/buildings')
        .send({
          type: 'Feature',
          geometry: square(109.4866 + i * 0.0003, 36.5862),
          properties: { name: text, kind: 'shop', households: 0 },
        })
        .expect(201);
    }
    const issues = (await exportCsv('issues')).records;
    const buildings = (await exportCsv('buildings')).records;
    for (const text of FORMULAS) {
      expect(issues.filter((r) => r.title === `'${text}`)).toEqual([expect.objectContaining({ description: `'${text}` })]);
      expect(buildings.filter((r) => r.name === `'${text}`)).toHaveLength(1);
    }
    // no cell of these exports is left that a spreadsheet would evaluate, but a code's ="digits"
    const runnable = (cell: string) => /^[=+\-@\t\r]/.test(cell) && !/^="\+?\d+"$/.test(cell);
    expect([...issues, ...buildings].flatMap((r) => Object.values(r)).filter(runnable)).toEqual([]);
  });

  it('starts with a UTF-8 byte order mark and keeps codes and phone numbers as text', async () => {
    const communities = await exportCsv('communities');
    expect(communities.text.startsWith(`${BOM}wkt,`)).toBe(true);
    expect(communities.text.indexOf(BOM, 1)).toBe(-1);
    const { rows: stored } = await sql<{
      code: string;
      street_code: string;
    }>`select code, street_code from communities order by id`.execute(test.database.db);
    expect(communities.records.map((r) => [r.code, r.street_code])).toEqual(stored.map((c) => [`="${c.code}"`, `="${c.street_code}"`]));
    // as written on the wire: a quoted ="…" that any CSV reader gives back whole
    expect(communities.text).toContain(`,"=""${stored[0].code}""",`);

    const grids = (await exportCsv('grids')).records;
    expect(grids.length).toBeGreaterThan(0);
    for (const grid of grids) expect(grid.code).toMatch(/^="\d{15}"$/);

    const {
      rows: [member],
    } = await sql<{ id: number }>`update members set phone = '09171234567' where id = (select min(id) from members) returning id`.execute(
      test.database.db,
    );
    const members = (await exportCsv('members')).records;
    expect(members.find((m) => Number(m.id) === member.id)?.phone).toBe('="09171234567"');
  });

  it('streams an export larger than one batch, every row once', async () => {
    await sql`insert into issues (title, description, category, geom)
              select '=批量' || i, '6106020010' || lpad(i::text, 2, '0'), 'noise', ST_SetSRID(ST_MakePoint(109.48 + (i % 100) * 0.0002, 36.58 + (i / 100) * 0.0002), 4326)
              from generate_series(1, 4500) i`.execute(test.database.db);
    const [{ n }] = (await sql<{ n: number }>`select count(*)::int as n from issues`.execute(test.database.db)).rows;
    const { text, records } = await exportCsv('issues');
    expect(records).toHaveLength(n);
    expect(new Set(records.map((r) => r.id)).size).toBe(n);
    expect(text.split(BOM)).toHaveLength(2); // one BOM, and one header (a second would be one record more)
    const bulk = records.filter((r) => r.title.startsWith("'=批量"));
    expect(bulk).toHaveLength(4500);
    expect(bulk.every((r) => /^="6106020010\d{2,}"$/.test(r.description))).toBe(true);
  });
});
