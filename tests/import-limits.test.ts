import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { deflateSync } from 'node:zlib';
import { unzipSync, zipSync } from 'fflate';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMPORT_LIMITS, UNPACKED } from '../server/features/import/limits.ts';
import { testApp } from './support/app.ts';
import { openTestDatabase, type TestDatabase } from './support/databases.ts';
import { WGS84_PRJ, pointShapefileZip } from './support/shapefile.ts';

const { recordBytes, depth } = IMPORT_LIMITS.admin;
const point = (lon: number, lat: number, properties: Record<string, unknown>) => ({
  type: 'Feature',
  geometry: { type: 'Point', coordinates: [lon, lat] },
  properties,
});
const issue = (title: string) => point(109.49, 36.58, { title, category: 'other' });
const collection = (features: unknown[]) => JSON.stringify({ type: 'FeatureCollection', features });

/** A shapefile zip of one issue, with some of its files replaced or removed. */
function shapefile(change: (files: Record<string, Uint8Array>) => void) {
  const files = unzipSync(pointShapefileZip([{ lon: 109.49, lat: 36.58, fields: { title: '路灯', category: 'other' } }], WGS84_PRJ));
  change(files);
  return Buffer.from(zipSync(files));
}

/** A PBF file whose first BlobHeader announces `size` bytes and carries `blob`. */
function pbfFrame(size: number, blob: Buffer) {
  const header = Buffer.concat([Buffer.from([0x0a, 7]), Buffer.from('OSMData'), Buffer.from([0x18]), varint(size)]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([length, header, blob]);
}
function varint(n: number) {
  const bytes = [];
  for (; n >= 0x80; n = Math.floor(n / 0x80)) bytes.push((n % 0x80) | 0x80);
  return Buffer.from([...bytes, n]);
}
/** A Blob message of one zlib field holding `data`. */
const zlibBlob = (data: Buffer) => {
  const packed = deflateSync(data);
  return Buffer.concat([Buffer.from([0x1a]), varint(packed.length), packed]);
};

describe('imports within limits: every malformed upload refused, nothing written, the server alive', () => {
  let test: TestDatabase;
  const apps: Record<string, Awaited<ReturnType<typeof testApp>>> = {};
  const counts = async () =>
    (
      await sql<{ n: string }>`
    select (select count(*) from buildings) || '/' || (select count(*) from issues) || '/' || (select count(*) from audit_log) as n`.execute(
        test.database.db,
      )
    ).rows[0].n;
  const uploadsLeft = async () => (await readdir(tmpdir())).filter((name) => name.startsWith(`gridmap-import-${process.pid}-`));

  beforeAll(async () => {
    test = await openTestDatabase();
    for (const as of ['admin', 'resident']) apps[as] = await testApp(test.database, { as });
  });
  afterAll(() => test?.drop());

  const huge = 'x'.repeat(recordBytes + 1);
  const cases: {
    name: string;
    as?: string;
    layer: string;
    format: string;
    body: () => Buffer | string;
    status: number;
    limit?: string;
    field?: string;
  }[] = [
    {
      name: 'a resident’s upload over their size',
      as: 'resident',
      layer: 'issues',
      format: 'ndjson',
      body: () => Array.from({ length: 20_000 }, (_, i) => JSON.stringify(issue(`问题 ${i} ${'.'.repeat(100)}`))).join('\n'),
      status: 413,
      limit: 'bytes',
    },
    {
      name: 'more features than a resident may send',
      as: 'resident',
      layer: 'issues',
      format: 'geojson',
      body: () => collection(Array.from({ length: IMPORT_LIMITS.resident.features + 1 }, (_, i) => issue(`问题 ${i}`))),
      status: 413,
      limit: 'features',
    },
    {
      name: 'an NDJSON line over the record limit',
      layer: 'issues',
      format: 'ndjson',
      body: () => `${JSON.stringify(issue('a'))}\n{"type":"Feature","properties":{"title":"${huge}"}}\n`,
      status: 413,
      limit: 'recordBytes',
    },
    { name: 'an NDJSON file of one endless line', layer: 'issues', format: 'ndjson', body: () => huge, status: 413, limit: 'recordBytes' },
    {
      name: 'a CSV field over the record limit',
      layer: 'issues',
      format: 'csv',
      body: () => `lon,lat,title,category\n109.49,36.58,"${huge}",other\n`,
      status: 413,
      limit: 'recordBytes',
    },
    {
      name: 'a GeoJSON feature over the record limit',
      layer: 'issues',
      format: 'geojson',
      body: () => collection([issue(huge)]),
      status: 413,
      limit: 'recordBytes',
    },
    {
      name: 'a GeoJSON string at the top level over the limit',
      layer: 'issues',
      format: 'geojson',
      body: () => `{"name":"${huge}","features":[]}`,
      status: 413,
      limit: 'recordBytes',
    },
    {
      name: 'JSON nested too deep',
      layer: 'issues',
      format: 'geojson',
      body: () => `{"type":"FeatureCollection","features":[${'['.repeat(depth + 5)}`,
      status: 413,
      limit: 'depth',
    },
    {
      name: 'a PBF blob header announcing a gigabyte',
      layer: 'buildings',
      format: 'osm.pbf',
      body: () => pbfFrame(1024 ** 3, Buffer.alloc(1000)),
      status: 413,
      limit: 'unpackedBytes',
    },
    {
      name: 'a PBF zlib bomb',
      layer: 'buildings',
      format: 'osm.pbf',
      body: () => {
        const blob = zlibBlob(Buffer.alloc(UNPACKED.pbfBlobBytes + 1));
        return pbfFrame(blob.length, blob);
      },
      status: 413,
      limit: 'unpackedBytes',
    },
    {
      name: 'a PBF blob header over 64 KiB',
      layer: 'buildings',
      format: 'osm.pbf',
      body: () => Buffer.from([0, 0x10, 0, 0, 1, 2, 3]),
      status: 400,
      field: 'body',
    },
    {
      name: 'a .prj bomb',
      layer: 'issues',
      format: 'shapefile',
      body: () =>
        shapefile((f) => {
          f['points.prj'] = Buffer.alloc(10 * 1024 ** 2, 0x20);
        }),
      status: 413,
      limit: 'unpackedBytes',
    },
    {
      name: 'a shapefile record announcing a gigabyte',
      layer: 'issues',
      format: 'shapefile',
      body: () =>
        shapefile((f) => {
          const shp = Buffer.from(f['points.shp']);
          shp.writeInt32BE(2 ** 29, 104);
          f['points.shp'] = shp;
        }),
      status: 413,
      limit: 'recordBytes',
    },
    {
      name: 'a shapefile of zeros after its header (a zip bomb: no record is ever too large)',
      layer: 'issues',
      format: 'shapefile',
      body: () =>
        shapefile((f) => {
          f['points.shp'] = Buffer.concat([Buffer.from(f['points.shp']).subarray(0, 100), Buffer.alloc(8 * 1024 ** 2)]);
        }),
      status: 400,
      field: 'body',
    },
    {
      name: 'a zip without its .dbf',
      layer: 'issues',
      format: 'shapefile',
      body: () =>
        shapefile((f) => {
          delete f['points.dbf'];
        }),
      status: 400,
      field: 'body',
    },
    {
      name: 'a zip that is not one',
      layer: 'issues',
      format: 'shapefile',
      body: () => 'PK\x03\x04 not really',
      status: 400,
      field: 'body',
    },
    {
      name: 'an XLSX of more files than a workbook has',
      layer: 'members',
      format: 'xlsx',
      body: () =>
        Buffer.from(zipSync(Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`xl/media/image${i}.png`, new Uint8Array(1)])))),
      status: 413,
      limit: 'entries',
    },
    { name: 'an XLSX that is not a zip', layer: 'members', format: 'xlsx', body: () => 'name,category\n', status: 400, field: 'body' },
    {
      name: 'a building of more vertices than a footprint takes',
      layer: 'buildings',
      format: 'geojson',
      status: 422,
      field: 'geometry.coordinates',
      body: () =>
        collection([
          {
            type: 'Feature',
            properties: { name: '多边形' },
            geometry: {
              type: 'Polygon',
              coordinates: [
                [
                  ...Array.from({ length: 20_001 }, (_, i) => [
                    109.49 + 0.001 * Math.cos((i / 20_001) * 2 * Math.PI),
                    36.58 + 0.001 * Math.sin((i / 20_001) * 2 * Math.PI),
                  ]),
                  [109.491, 36.58],
                ],
              ],
            },
          },
        ]),
    },
    {
      name: 'a building in New York (outside the service area)',
      layer: 'buildings',
      format: 'geojson',
      status: 422,
      field: 'geometry.coordinates',
      body: () =>
        collection([
          {
            type: 'Feature',
            properties: { name: 'NY' },
            geometry: {
              type: 'Polygon',
              coordinates: [
                [
                  [-74, 40.7],
                  [-73.999, 40.7],
                  [-73.999, 40.701],
                  [-74, 40.7],
                ],
              ],
            },
          },
        ]),
    },
    {
      name: 'an issue with longitude and latitude swapped',
      layer: 'issues',
      format: 'csv',
      body: () => 'lon,lat,title,category\n36.58,109.49,路灯,other\n',
      status: 422,
      field: 'geometry.coordinates',
    },
  ];

  it.each(cases)('$name: $status', async ({ as = 'admin', layer, format, body, status, limit, field }) => {
    const before = await counts();
    const started = Date.now();
    const answer = await request(apps[as])
      .post(`/api/v1/import/${layer}?format=${format}`)
      .set('Content-Type', 'application/octet-stream')
      .send(body());
    expect(answer.status).toBe(status);
    expect(answer.type).toBe('application/problem+json');
    if (limit) expect(answer.body).toMatchObject({ limit, field: 'body' });
    if (field) expect(answer.body.field ?? answer.body.rejected?.[0]?.field).toMatch(new RegExp(`^${field.replaceAll('.', '\\.')}`));
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(await counts()).toBe(before);
    expect(await uploadsLeft()).toEqual([]);
    expect((await request(apps.admin).get('/api/v1/health').expect(200)).body.status).toBe('ok');
  });

  it('an OSM extract over the node cap is refused, not thrown from the XML parser’s events', async () => {
    const cap = UNPACKED.osmNodes;
    UNPACKED.osmNodes = 1000; // the real cap takes hundreds of megabytes to cross
    try {
      const nodes = Array.from({ length: 1001 }, (_, i) => `<node id="${i + 1}" lon="109.49" lat="36.58"/>`).join('');
      const answer = await request(apps.admin)
        .post('/api/v1/import/buildings?format=osm')
        .set('Content-Type', 'application/osm+xml')
        .send(`<osm>${nodes}</osm>`);
      expect(answer.status).toBe(413);
      expect(answer.body).toMatchObject({ limit: 'osmNodes' });
    } finally {
      UNPACKED.osmNodes = cap;
    }
    expect((await request(apps.admin).get('/api/v1/health').expect(200)).body.status).toBe('ok');
  });

  it('an XLSX whose shared strings (held in memory) unpack past their cap is refused before they are read', async () => {
    const cap = UNPACKED.xlsxStringsBytes;
    UNPACKED.xlsxStringsBytes = 1000; // the real cap takes a quarter of a gigabyte to cross
    try {
      const book = zipSync({ 'xl/sharedStrings.xml': new Uint8Array(1001), 'xl/worksheets/sheet1.xml': new Uint8Array(10) });
      const answer = await request(apps.admin)
        .post('/api/v1/import/members?format=xlsx')
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.from(book));
      expect(answer.status).toBe(413);
      expect(answer.body).toMatchObject({ limit: 'unpackedBytes', detail: expect.stringMatching(/shared strings/) });
    } finally {
      UNPACKED.xlsxStringsBytes = cap;
    }
  });

  it('a building inside the service area and under the vertex cap is still taken', async () => {
    const body = collection([
      {
        type: 'Feature',
        properties: { name: '限内' },
        geometry: {
          type: 'Polygon',
          coordinates: [
            [
              [109.49, 36.58],
              [109.4902, 36.58],
              [109.4902, 36.5802],
              [109.49, 36.58],
            ],
          ],
        },
      },
    ]);
    await request(apps.admin).post('/api/v1/import/buildings').set('Content-Type', 'application/geo+json').send(body).expect(201);
  });
});
