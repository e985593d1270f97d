// npm run import -- <layer> <file> [--format geojson|ndjson|csv|…] [--crs wgs84|gcj02|bd09] [--srid 4545] [--encoding gbk] [--dry-run] [--repair]
// Imports a file into the configured database (DATABASE_URL, or the embedded one in DATA_DIR), everything or
// nothing (checked, then written in batches), showing progress, then prints the report. Exits 1 when a row was
// rejected (nothing written).
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { userInfo } from 'node:os';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from './config.ts';
import { RESOURCES } from './features/resources.ts';
import { IMPORT_CRS, importRows, type ImportCrs } from './features/import/service.ts';
import { IMPORT_FORMATS, readRows, type ImportFormat } from './features/import/sources.ts';
import { IMPORT_LIMITS, guardUpload } from './features/import/limits.ts';
import { callerEncoding } from './features/import/encoding.ts';
import { beginImport, recordImport } from './features/import/jobs.ts';
import { createLogger } from './logger.ts';
import type { HttpProblem } from './http/problem.ts';
import { openMigratedDatabase } from './start.ts';

const EXTENSIONS: Record<string, ImportFormat> = {
  '.geojson': 'geojson', '.json': 'geojson', '.ndjson': 'ndjson', '.geojsonl': 'ndjson', '.geojsons': 'ndjson', '.jsonl': 'ndjson', '.csv': 'csv', '.xlsx': 'xlsx', '.zip': 'shapefile', '.osm': 'osm', '.pbf': 'osm.pbf',
};

const usage = `usage: npm run import -- <${RESOURCES.map((r) => r.name).join('|')}> <file> [--format ${IMPORT_FORMATS.join('|')}] [--crs ${IMPORT_CRS.join('|')}] [--srid <EPSG code>] [--encoding gbk|utf-8|…] [--dry-run] [--repair]`;
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { format: { type: 'string' }, crs: { type: 'string', default: 'wgs84' }, srid: { type: 'string' }, encoding: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, repair: { type: 'boolean', default: false } },
});
const [layer, file] = positionals;
const def = RESOURCES.find((r) => r.name === layer);
const format = (values.format ?? EXTENSIONS[extname(file ?? '').toLowerCase()]) as ImportFormat | undefined;
const srid = values.srid === undefined ? undefined : Number(values.srid);
if (!def || !file || !format || !IMPORT_FORMATS.includes(format) || !IMPORT_CRS.includes(values.crs as ImportCrs) || (srid !== undefined && !(Number.isInteger(srid) && srid > 0))) {
  console.error(usage);
  process.exit(2);
}
let encoding: string | undefined;
try {
  encoding = callerEncoding(values.encoding, format);
} catch (error) {
  console.error(`${(error as HttpProblem).detail}\n${usage}`);
  process.exit(2);
}

const config = loadConfig();
// Ctrl-C stops the import at its next batch; the database closes once it has undone what it wrote.
const stopped = new AbortController();
let importing: Promise<unknown> = Promise.resolve();
const database = await openMigratedDatabase(config, createLogger({ LOG_LEVEL: 'warn' }), () => (stopped.abort(), importing));
const started = Date.now();
let lastShown = 0;
const show = (read: number, imported: number, done = false) => {
  const now = Date.now();
  if (!done && now - lastShown < 1000) return;
  lastShown = now;
  const seconds = (now - started) / 1000;
  const writing = imported ? `, ${imported.toLocaleString('en')} written` : '';
  process.stderr.write(`\r${layer}: ${read.toLocaleString('en')} rows read${writing}, ${Math.round(read / Math.max(seconds, 0.001)).toLocaleString('en')} rows/s${done ? '\n' : ''}`);
};
const actor = { username: `command line (${userInfo().username})` };

/** The import as a job like the API's: if this process dies midway, the server's next start undoes what it wrote. */
async function run() {
  const job = await beginImport(database.db, actor, def!.name, format!, undefined);
  if ('replay' in job) throw new Error('a command-line import has no Idempotency-Key to replay');
  try {
    const limits = IMPORT_LIMITS['command line'];
    const input = pipeline(createReadStream(file, { signal: stopped.signal }), guardUpload(format!, limits), () => {});
    const report = await importRows(database.db, def!, readRows(input, format!, limits, { encoding }), {
      crs: values.crs as ImportCrs, srid, dryRun: values['dry-run'], repair: values.repair, limits, job: job.id, signal: stopped.signal,
      onProgress: (read, imported) => show(read, imported), actor,
      onWritten: (trx, report) => recordImport(trx, job.id, 'written', null, report),
    });
    show(report.read, report.imported, true);
    if (!report.written) await recordImport(database.db, job.id, report.rejected.length ? 'rejected' : 'checked', null, report);
    console.log(JSON.stringify(report, null, 2));
    process.exitCode = report.rejected.length ? 1 : 0;
  } catch (error) {
    const interrupted = stopped.signal.aborted;
    await recordImport(database.db, job.id, interrupted ? 'interrupted' : 'failed', null, { detail: (error as Error).message });
    console.error(`\nimport failed: ${interrupted ? 'stopped before its end; nothing was imported' : (error as Error).message}`);
    process.exitCode = 1;
  } finally {
    job.done();
  }
}

importing = run();
await importing;
// a stop closes the database itself and ends the process as its signal would
if (!stopped.signal.aborted) await database.close();
