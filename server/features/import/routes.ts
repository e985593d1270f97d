import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Router, type Response } from 'express';
import type { Database } from '../../db/database.ts';
import type { ResourceDefinition } from '../../access/resource.ts';
import { actorOf } from '../../access/viewer.ts';
import { parseId, parseQueryValue } from '../../domain/params.ts';
import { DomainError } from '../../domain/errors.ts';
import { problemBody, toProblem } from '../../http/problem.ts';
import { beginImport, importPath, readImport, recordImport } from './jobs.ts';
import { IMPORT_CRS, IMPORT_MODES, importMode, parseStreetTolerance, importRows, serverStopping, type ImportCrs, type ImportProgress } from './service.ts';
import { IMPORT_EXTRA, parseFields, placeColumns, type ImportExtra } from './mapping.ts';
import { IMPORT_FORMATS, readRows, type ImportFormat } from './sources.ts';
import { IMPORT_LIMITS, guardUpload, tooLarge } from './limits.ts';
import { callerEncoding } from './encoding.ts';
import { uploadDir } from './uploads.ts';

const FORMAT_OF_TYPE: Record<string, ImportFormat> = {
  'application/geo+json': 'geojson', 'application/json': 'geojson',
  'application/x-ndjson': 'ndjson', 'application/geo+json-seq': 'ndjson', 'application/x-ndjson+geo': 'ndjson',
  'text/csv': 'csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'application/zip': 'shapefile', 'application/x-zip-compressed': 'shapefile',
  'application/osm+xml': 'osm', 'application/vnd.openstreetmap.data+xml': 'osm', 'application/x-protobuf': 'osm.pbf',
};

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T | undefined {
  const text = parseQueryValue(value, field, 'text') as string | undefined;
  if (text !== undefined && !allowed.includes(text as T)) {
    throw new DomainError('request.invalid_parameter', `${field} must be one of ${allowed.join(', ')}`, { field });
  }
  return text as T | undefined;
}

/**
 * POST /api/v1/import/:layer: a GeoJSON FeatureCollection, newline-delimited GeoJSON or CSV in the body,
 * everything or nothing. ?format= (else from Content-Type), ?crs=wgs84|gcj02|bd09, ?dry_run=true,
 * ?repair=true, ?street_tolerance=0.01 (the share of a community that may lie outside its street before a warning),
 * ?srid= (the EPSG code the coordinates are in, over the file's .prj or crs), ?encoding= (CSV, DBF),
 * ?fields=property:column,…, ?extra=ignore|reject, ?mode=insert|upsert|replace (&community=<id>).
 * 201 with the report when written, 200 for a clean dry run, 422 with the report otherwise; streamed with
 * Accept: application/x-ndjson (progressLines).
 */
export function importRoutes(database: Database, resources: ResourceDefinition[]) {
  return Router().post('/api/v1/import/:layer', async (req, res) => {
    const def = resources.find((r) => r.name === req.params.layer);
    if (!def) throw new DomainError('layer.not_found', `No layer ${req.params.layer}; import into ${resources.map((r) => r.name).join(', ')}`, { field: 'layer' });
    const format = oneOf(req.query.format, 'format', IMPORT_FORMATS) ?? FORMAT_OF_TYPE[(req.get('Content-Type') ?? '').split(';')[0].trim()];
    if ((format === 'osm' || format === 'osm.pbf') && def.name !== 'buildings') {
      throw new DomainError('request.invalid_parameter', 'OpenStreetMap extracts give building footprints: import them into buildings', { field: 'format' });
    }
    if (!format) throw new DomainError('import.unknown_format', `say ?format=${IMPORT_FORMATS.join('|')} or send a matching Content-Type`, { field: 'format' });
    const crs: ImportCrs = oneOf(req.query.crs, 'crs', IMPORT_CRS) ?? 'wgs84';
    const dryRun = parseQueryValue(req.query.dry_run, 'dry_run', 'boolean') === true;
    const repair = parseQueryValue(req.query.repair, 'repair', 'boolean') === true;
    const streetTolerance = parseStreetTolerance(parseQueryValue(req.query.street_tolerance, 'street_tolerance', 'text') as string | undefined);
    const fields = parseFields(parseQueryValue(req.query.fields, 'fields', 'text') as string | undefined, def, format);
    const extra: ImportExtra = oneOf(req.query.extra, 'extra', IMPORT_EXTRA) ?? 'ignore';
    const { mode, community } = importMode(def, oneOf(req.query.mode, 'mode', IMPORT_MODES) ?? 'insert', parseQueryValue(req.query.community, 'community', 'integer') as number | undefined);
    const lines = req.accepts(['application/json', 'application/x-ndjson']) === 'application/x-ndjson' ? progressLines(res) : undefined;
    const srid = parseQueryValue(req.query.srid, 'srid', 'integer') as number | undefined;
    const encoding = callerEncoding(parseQueryValue(req.query.encoding, 'encoding', 'text') as string | undefined, format);

    const limits = IMPORT_LIMITS[req.viewer!.role];
    if (Number(req.get('Content-Length')) > limits.bytes) {
      res.set('Connection', 'close');
      throw tooLarge('bytes', `an import from this account takes at most ${limits.bytes} bytes`);
    }

    const job = await beginImport(database.db, req.viewer!, def.name, format, idempotencyKey(req.get('Idempotency-Key')));
    if ('replay' in job) {
      // the first request's outcome, as it was answered; the body of this one is not read
      res.set({ Location: importPath(job.replay.id), 'Idempotent-Replayed': 'true', Connection: 'close' });
      if (lines) return lines.end(job.replay.status!, job.replay.answer);
      res.status(job.replay.status!).type(job.replay.status! >= 400 ? 'application/problem+json' : 'application/json').json(job.replay.answer);
      return;
    }
    res.set('Location', importPath(job.id));
    try {
      const report = await uploadAndImport(job);
      req.log.info({ import: job.id, layer: def.name, read: report.read, imported: report.imported, rejected: report.rejected.length, written: report.written }, 'import');
      if (report.rejected.length) {
        const [first] = report.rejected;
        throw new DomainError('import.rows_rejected', `row ${first.row}: ${first.reason}; nothing was imported`, { field: first.field ?? 'body', ...report });
      }
      if (!report.written) await recordImport(database.db, job.id, 'checked', 200, report);
      if (lines) lines.end(report.written ? 201 : 200, report);
      else res.status(report.written ? 201 : 200).json(report);
    } catch (error) {
      const problem = toProblem(error);
      const state = problem.status === 503 ? 'interrupted' : problem.status >= 500 ? 'failed' : problem.status === 422 && 'rejected' in problem.extensions ? 'rejected' : 'refused';
      await recordImport(database.db, job.id, state, problem.status, problemBody(problem, req.originalUrl)).catch((err) => req.log.error({ err }, 'recording an import failed'));
      if (!lines?.started()) throw error;
      // the answer has begun: the problem is its last line
      if (problem.status >= 500) req.log.error({ err: error }, 'request failed');
      lines.end(problem.status, problemBody(problem, req.originalUrl));
    } finally {
      job.done();
    }

    async function uploadAndImport({ id, stop, progress }: Extract<typeof job, { id: number }>) {
      // The upload lands on disk first, checked as it streams: a slow client never holds a database
      // transaction open, and one over a limit is refused as it crosses it.
      const dir = await uploadDir();
      try {
        const file = join(dir, 'upload');
        try {
          await pipeline(req, guardUpload(format!, limits), createWriteStream(file), { signal: stop });
        } catch (error) {
          // the rest of the body is not read: the connection closes after the answer
          res.set('Connection', 'close');
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ABORT_ERR') throw serverStopping();
          if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET') throw new DomainError('import.upload_interrupted', 'the upload ended before its end', { field: 'body' });
          throw error;
        }
        const input = createReadStream(file);
        const { size } = await stat(file);
        lines?.progress({ phase: 'check', read: 0, rejected: 0, imported: 0, bytes: 0, total_bytes: size });
        return await importRows(database.db, def!, readRows(input, format!, limits, { encoding, columns: placeColumns(def!, fields) }), {
          crs, srid, dryRun, repair, streetTolerance, fields, extra, mode, community, limits, viewer: req.viewer!, actor: actorOf(req), job: id, signal: stop,
          onProgress: (rows) => {
            progress(rows);
            lines?.progress({ ...rows, bytes: input.bytesRead, total_bytes: size });
          },
          onWritten: (trx, report) => recordImport(trx, id, 'written', 201, report),
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });
}

/**
 * Accept: application/x-ndjson: once the upload is in, the answer is 200 with a JSON line as the import checks and
 * writes ({"progress": {phase, bytes, total_bytes, read, rejected, imported, to_write}}; one at each new phase, at
 * most four a second), and last the status and body it would otherwise have answered ({"status", "report"} or
 * {"status", "problem"}). A refusal before the upload is in is answered as without the header.
 */
function progressLines(res: Response) {
  let phase = '';
  let shown = 0;
  const start = () => {
    if (!res.headersSent) res.status(200).type('application/x-ndjson').set('Cache-Control', 'no-store');
  };
  return {
    started: () => res.headersSent,
    progress(progress: ImportProgress & { bytes: number; total_bytes: number }) {
      if (progress.phase === phase && Date.now() - shown < 250) return;
      [phase, shown] = [progress.phase, Date.now()];
      start();
      res.write(`${JSON.stringify({ progress })}\n`);
    },
    end(status: number, body: unknown) {
      start();
      res.end(`${JSON.stringify({ status, [status >= 400 ? 'problem' : 'report']: body })}\n`);
    },
  };
}

/** An Idempotency-Key header (IETF draft): any printable ASCII up to 200 characters. */
function idempotencyKey(value: string | undefined) {
  if (value === undefined) return undefined;
  if (!/^[\x20-\x7e]{1,200}$/.test(value)) throw new DomainError('request.invalid_header', 'Idempotency-Key must be 1 to 200 printable ASCII characters', { field: 'Idempotency-Key' });
  return value;
}

/** GET /api/v1/imports/:id: an import's state (rows read while it runs) and, once done, what it answered. */
export function importJobRoutes(database: Database) {
  return Router().get('/api/v1/imports/:id', async (req, res) => {
    res.json(await readImport(database.db, req.viewer!, parseId(req.params.id)));
  });
}
