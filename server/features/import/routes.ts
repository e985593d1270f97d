import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Router } from 'express';
import type { Database } from '../../db/database.ts';
import type { ResourceDefinition } from '../../http/feature-resource.ts';
import { actorOf } from '../../access/viewer.ts';
import { parseQueryValue } from '../../http/params.ts';
import { HttpProblem } from '../../http/problem.ts';
import { IMPORT_CRS, importRows, type ImportCrs } from './service.ts';
import { IMPORT_FORMATS, readRows, type ImportFormat } from './sources.ts';

/** Streamed to disk, so this bounds the file, not memory: enough for a million footprints. */
export const MAX_IMPORT_BYTES = 2 * 1024 ** 3;

const FORMAT_OF_TYPE: Record<string, ImportFormat> = {
  'application/geo+json': 'geojson', 'application/json': 'geojson',
  'application/x-ndjson': 'ndjson', 'application/geo+json-seq': 'ndjson', 'application/x-ndjson+geo': 'ndjson',
  'text/csv': 'csv',
  'application/zip': 'shapefile', 'application/x-zip-compressed': 'shapefile',
  'application/osm+xml': 'osm', 'application/vnd.openstreetmap.data+xml': 'osm', 'application/x-protobuf': 'osm.pbf',
};

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T | undefined {
  const text = parseQueryValue(value, field, 'text') as string | undefined;
  if (text !== undefined && !allowed.includes(text as T)) {
    throw new HttpProblem(400, 'Invalid parameter', `${field} must be one of ${allowed.join(', ')}`, { field });
  }
  return text as T | undefined;
}

/** A byte counter that stops a body over the limit with 413. */
const limited = (max: number) => {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > max ? new HttpProblem(413, 'File too large', `an import takes at most ${max} bytes`, { field: 'body' }) : null, chunk);
    },
  });
};

/**
 * POST /api/v1/import/:layer: a GeoJSON FeatureCollection, newline-delimited GeoJSON or CSV in the body,
 * imported in one transaction. ?format= (else from Content-Type), ?crs=wgs84|gcj02|bd09, ?dry_run=true,
 * ?repair=true. 201 with the report when written, 200 for a clean dry run, 422 with the report otherwise.
 */
export function importRoutes(database: Database, resources: ResourceDefinition[]) {
  return Router().post('/api/v1/import/:layer', async (req, res) => {
    const def = resources.find((r) => r.name === req.params.layer);
    if (!def) throw new HttpProblem(404, 'Not Found', `No layer ${req.params.layer}; import into ${resources.map((r) => r.name).join(', ')}`, { field: 'layer' });
    const format = oneOf(req.query.format, 'format', IMPORT_FORMATS) ?? FORMAT_OF_TYPE[(req.get('Content-Type') ?? '').split(';')[0].trim()];
    if ((format === 'osm' || format === 'osm.pbf') && def.name !== 'buildings') {
      throw new HttpProblem(400, 'Invalid parameter', 'OpenStreetMap extracts give building footprints: import them into buildings', { field: 'format' });
    }
    if (!format) throw new HttpProblem(415, 'Unknown format', `say ?format=${IMPORT_FORMATS.join('|')} or send a matching Content-Type`, { field: 'format' });
    const crs: ImportCrs = oneOf(req.query.crs, 'crs', IMPORT_CRS) ?? 'wgs84';
    const dryRun = parseQueryValue(req.query.dry_run, 'dry_run', 'boolean') === true;
    const repair = parseQueryValue(req.query.repair, 'repair', 'boolean') === true;

    // The upload lands on disk first: a slow client never holds a database transaction open.
    const dir = await mkdtemp(join(tmpdir(), 'gridmap-import-'));
    let report;
    try {
      const file = join(dir, 'upload');
      await pipeline(req, limited(MAX_IMPORT_BYTES), createWriteStream(file));
      report = await importRows(database.db, def, readRows(createReadStream(file), format), { crs, dryRun, repair, viewer: req.viewer!, actor: actorOf(req) });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    req.log.info({ layer: def.name, read: report.read, imported: report.imported, rejected: report.rejected.length, written: report.written }, 'import');
    if (report.rejected.length) {
      const [first] = report.rejected;
      throw new HttpProblem(422, 'Rows rejected', `row ${first.row}: ${first.reason}; nothing was imported`, { field: first.field ?? 'body', ...report });
    }
    res.status(report.written ? 201 : 200).json(report);
  });
}
