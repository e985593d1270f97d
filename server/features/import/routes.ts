import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import type { Database } from '../../db/database.ts';
import type { ResourceDefinition } from '../../access/resource.ts';
import { actorOf } from '../../access/viewer.ts';
import { headerText, idempotencyKeyHeader, idParameter, parameter, parseQueryValue, queryParameter } from '../../domain/params.ts';
import { DomainError } from '../../domain/errors.ts';
import { problemBody, toProblem } from '../../http/problem.ts';
import { route } from '../../http/route.ts';
import { importJob, importReport } from './answers.ts';
import { beginImport, importPath, readImport, recordImport } from './jobs.ts';
import {
  IMPORT_CRS,
  IMPORT_MODES,
  importMode,
  parseStreetTolerance,
  importRows,
  serverStopping,
  type ImportCrs,
  type ImportProgress,
} from './service.ts';
import { IMPORT_EXTRA, parseFields, placeColumns, type ImportExtra } from './mapping.ts';
import { IMPORT_FORMATS, readRows, type ImportFormat } from './sources.ts';
import { IMPORT_LIMITS, guardUpload, tooLarge } from './limits.ts';
import { callerEncoding } from './encoding.ts';
import { uploadDir } from './uploads.ts';

const FORMAT_OF_TYPE: Record<string, ImportFormat> = {
  'application/geo+json': 'geojson',
  'application/json': 'geojson',
  'application/x-ndjson': 'ndjson',
  'application/geo+json-seq': 'ndjson',
  'application/x-ndjson+geo': 'ndjson',
  'text/csv': 'csv',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'application/zip': 'shapefile',
  'application/x-zip-compressed': 'shapefile',
  'application/osm+xml': 'osm',
  'application/vnd.openstreetmap.data+xml': 'osm',
  'application/x-protobuf': 'osm.pbf',
};

/** An optional text parameter that is one of `allowed`. */
const oneOf = <T extends string>(field: string, allowed: readonly T[], doc: { description: string; default?: NoInfer<T> }) =>
  parameter(
    (value) => {
      const text = parseQueryValue(value, field, 'text') as string | undefined;
      if (text !== undefined && !allowed.includes(text as T)) {
        throw new DomainError('request.invalid_parameter', `${field} must be one of ${allowed.join(', ')}`, { field });
      }
      return text as T | undefined;
    },
    { schema: { type: 'string', enum: allowed, ...(doc.default ? { default: doc.default } : {}) }, description: doc.description },
  );

const tags = ['import and export'];
const flag = (field: string, description: string) =>
  parameter((value) => parseQueryValue(value, field, 'boolean') === true, { schema: { type: 'boolean', default: false }, description });
const text = (field: string, description: string) => queryParameter(field, 'text', { description });

/**
 * POST /api/v1/import/:layer: a GeoJSON FeatureCollection, newline-delimited GeoJSON or CSV in the body,
 * everything or nothing. ?format= (else from Content-Type), ?crs=wgs84|gcj02|bd09, ?dry_run=true,
 * ?repair=true, ?street_tolerance=0.01 (the share of a community that may lie outside its street before a warning),
 * ?srid= (the EPSG code the coordinates are in, over the file's .prj or crs), ?encoding= (CSV, DBF),
 * ?fields=property:column,…, ?extra=ignore|reject, ?mode=insert|upsert|replace (&community=<id>).
 * 201 with the report when written, 200 for a clean dry run, 422 with the report otherwise; streamed with
 * Accept: application/x-ndjson (progressLines).
 */
export const importRoutes = (database: Database, resources: ResourceDefinition[]) => [
  route({
    method: 'POST',
    path: '/api/v1/import/:layer',
    tags,
    summary: 'Import a file into a layer, in one transaction (everything or nothing)',
    description:
      'GeoJSON FeatureCollection, newline-delimited GeoJSON, CSV or an Excel .xlsx sheet (a `wkt` column, `lon` and `lat`, or for point layers the building: `building_code`, or `building` and `community`), a zipped Shapefile, or (buildings only) an OpenStreetMap extract as .osm XML or .osm.pbf, in any coordinate system PostGIS knows (a .prj, a GeoJSON crs, or srid). Properties are checked as in a POST; ids and derived properties in the file are ignored.',
    allow: { resource: ':layer', action: 'create' },
    params: {
      layer: parameter(
        (value) => {
          const def = resources.find((r) => r.name === value);
          if (!def)
            throw new DomainError('layer.not_found', `No layer ${String(value)}; import into ${resources.map((r) => r.name).join(', ')}`, {
              field: 'layer',
            });
          return def;
        },
        { schema: { type: 'string', enum: resources.map((r) => r.name) } },
      ),
    },
    query: {
      format: oneOf('format', IMPORT_FORMATS, { description: 'else taken from Content-Type' }),
      crs: oneOf('crs', IMPORT_CRS, { description: 'coordinates from Chinese web maps are converted to WGS 84', default: 'wgs84' }),
      srid: queryParameter('srid', 'integer', {
        description:
          "the EPSG code the coordinates are in (e.g. 4545: CGCS2000 3-degree Gauss–Krüger CM 108E); wins over the file's .prj or crs; PostGIS transforms to WGS 84",
      }),
      encoding: text(
        'encoding',
        "the text encoding of a CSV or a shapefile's DBF (gbk, gb18030, big5, utf-8 …); wins over the .cpg and the DBF's language driver byte; default UTF-8",
      ),
      dry_run: flag('dry_run', 'check everything, write nothing'),
      repair: flag('repair', 'make invalid polygons valid (ST_MakeValid) where the result is still the right type; the report lists them'),
      street_tolerance: parameter(
        (value) => parseStreetTolerance(parseQueryValue(value, 'street_tolerance', 'text') as string | undefined),
        {
          schema: { type: 'number', minimum: 0, maximum: 1 },
          description: "the share of a community's area that may lie outside its street before the report warns",
        },
      ),
      fields: text(
        'fields',
        'property:column pairs, comma-separated (code:SQDM,name:SQMC; CSV headers in Chinese too): each column is read as that property; in a CSV or Excel table also the columns that place a row (lon, lat, wkt, building_code, building, community). A property the layer lacks is a 400, a column the file lacks a 422, both naming `fields`',
      ),
      extra: oneOf('extra', IMPORT_EXTRA, {
        description:
          'columns neither mapped nor named like a property: ignore (listed in the report as `ignored_columns`) or reject (each row that has one is refused)',
        default: 'ignore',
      }),
      mode: oneOf('mode', IMPORT_MODES, {
        description:
          "insert; upsert (layers with a natural key: code for communities and grids, external_id for buildings, members, units): rows whose key is stored update that row, the others are inserted; replace: upsert one community's buildings, members or units and delete its others (with `community`; one transaction under the map's write lock)",
        default: 'insert',
      }),
      community: queryParameter('community', 'integer', { description: 'with mode=replace: the community whose rows the file replaces' }),
    },
    headers: {
      Accept: headerText({
        description:
          'application/x-ndjson: once the upload is in, 200 with a JSON line of progress ({"progress": {phase, bytes, total_bytes, read, rejected, imported, to_write}}) at each phase and at most four a second, then {"status", "report"} or {"status", "problem"}',
      }),
      'Idempotency-Key': idempotencyKeyHeader(
        'a retry with the same key is answered with the first outcome (header Idempotent-Replayed) instead of importing again; after an interrupted or failed import it runs again',
      ),
    },
    // the upload is streamed to disk as it comes, checked against the account's limits: no body parser reads it
    body: { raw: { 'application/octet-stream': { type: 'string', format: 'binary' } } },
    answer: {
      status: 201,
      schema: importReport,
      description:
        'imported: the report (read, imported, inserted, updated, deleted, repaired, columns, mapped, ignored_columns); Location names the import job',
    },
    problems: {
      200: 'a clean dry run: the report',
      400: 'an unreadable file or a bad parameter',
      409: 'an import with this Idempotency-Key is still running',
      413: 'over a limit (the problem names it: bytes, features, recordBytes, depth, unpackedBytes, osmNodes)',
      415: 'unknown format',
      503: 'the server stopped during the import: nothing was written; send it again',
      422: 'rows rejected: the report lists each with its row number and reason; nothing was written',
    },
    handle: async ({ req, res, viewer, params: { layer: def }, query, headers }) => {
      const format = query.format ?? FORMAT_OF_TYPE[(req.get('Content-Type') ?? '').split(';')[0].trim()];
      if ((format === 'osm' || format === 'osm.pbf') && def.name !== 'buildings') {
        throw new DomainError('request.invalid_parameter', 'OpenStreetMap extracts give building footprints: import them into buildings', {
          field: 'format',
        });
      }
      if (!format)
        throw new DomainError('import.unknown_format', `say ?format=${IMPORT_FORMATS.join('|')} or send a matching Content-Type`, {
          field: 'format',
        });
      const { srid, dry_run: dryRun, repair, street_tolerance: streetTolerance } = query;
      const crs: ImportCrs = query.crs ?? 'wgs84';
      const fields = parseFields(query.fields, def, format);
      const extra: ImportExtra = query.extra ?? 'ignore';
      const { mode, community } = importMode(def, query.mode ?? 'insert', query.community);
      const lines = req.accepts(['application/json', 'application/x-ndjson']) === 'application/x-ndjson' ? progressLines(res) : undefined;
      const encoding = callerEncoding(query.encoding, format);

      const limits = IMPORT_LIMITS[viewer.role];
      if (Number(req.get('Content-Length')) > limits.bytes) {
        res.set('Connection', 'close');
        throw tooLarge('bytes', `an import from this account takes at most ${limits.bytes} bytes`);
      }

      const job = await beginImport(database.db, viewer, def.name, format, headers['Idempotency-Key']);
      if ('replay' in job) {
        // the first request's outcome, as it was answered; the body of this one is not read
        res.set({ Location: importPath(job.replay.id), 'Idempotent-Replayed': 'true', Connection: 'close' });
        if (lines) return lines.end(job.replay.status!, job.replay.answer);
        res
          .status(job.replay.status!)
          .type(job.replay.status! >= 400 ? 'application/problem+json' : 'application/json')
          .json(job.replay.answer);
        return;
      }
      res.set('Location', importPath(job.id));
      try {
        const report = await uploadAndImport(job);
        req.log.info(
          {
            import: job.id,
            layer: def.name,
            read: report.read,
            imported: report.imported,
            rejected: report.rejected.length,
            written: report.written,
          },
          'import',
        );
        if (report.rejected.length) {
          const [first] = report.rejected;
          throw new DomainError('import.rows_rejected', `row ${first.row}: ${first.reason}; nothing was imported`, {
            field: first.field ?? 'body',
            ...report,
          });
        }
        if (!report.written) await recordImport(database.db, job.id, 'checked', 200, report);
        const status = report.written ? 201 : 200;
        if (lines) return lines.end(status, report);
        res.status(status);
        return report;
      } catch (error) {
        const problem = toProblem(error);
        const state =
          problem.status === 503
            ? 'interrupted'
            : problem.status >= 500
              ? 'failed'
              : problem.status === 422 && 'rejected' in problem.extensions
                ? 'rejected'
                : 'refused';
        await recordImport(database.db, job.id, state, problem.status, problemBody(problem, req.originalUrl)).catch((err) =>
          req.log.error({ err }, 'recording an import failed'),
        );
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
            if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET')
              throw new DomainError('import.upload_interrupted', 'the upload ended before its end', { field: 'body' });
            throw error;
          }
          const input = createReadStream(file);
          const { size } = await stat(file);
          lines?.progress({ phase: 'check', read: 0, rejected: 0, imported: 0, bytes: 0, total_bytes: size });
          return await importRows(database.db, def!, readRows(input, format!, limits, { encoding, columns: placeColumns(def!, fields) }), {
            crs,
            srid,
            dryRun,
            repair,
            streetTolerance,
            fields,
            extra,
            mode,
            community,
            limits,
            viewer: viewer,
            actor: actorOf(req),
            job: id,
            signal: stop,
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
    },
  }),
];

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

/** GET /api/v1/imports/:id: an import's state (rows read while it runs) and, once done, what it answered. */
export const importJobRoutes = (database: Database) => [
  route({
    method: 'GET',
    path: '/api/v1/imports/:id',
    tags,
    summary: 'An import job: its state and, once done, what it answered',
    description:
      'state is running (with `read`, the rows read so far), written, checked (a clean dry run), rejected, refused, interrupted (the server stopped; rolled back) or failed; `status` and `answer` are the HTTP status and body it answered with. Its owner reads it, or an admin.',
    // its owner's, or any for an admin: checked where it is read
    allow: { roles: 'any' },
    params: { id: idParameter() },
    answer: { schema: importJob, description: 'the job' },
    problems: { 404: 'no such import of yours' },
    handle: ({ viewer, params: { id } }) => readImport(database.db, viewer, id),
  }),
];
