// npm run import -- <layer> <file> [--format geojson|ndjson|csv|xlsx|…] [--crs wgs84|gcj02|bd09] [--srid 4545] [--encoding gbk] [--dry-run] [--repair]
//   [--fields property:column,…] [--extra ignore|reject] [--mode insert|upsert|replace] [--community <id>]
//   [--street-tolerance 0.01]
// Imports a file into the configured database (DATABASE_URL, or the embedded one in DATA_DIR), everything or
// nothing (checked, then written in batches), showing its progress (percent and time left), then prints the
// report. Exits 1 when a row was rejected (nothing written), 2 for a bad argument.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { userInfo } from 'node:os';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from './config.ts';
import { RESOURCES } from './features/resources.ts';
import {
  IMPORT_CRS,
  IMPORT_MODES,
  importMode,
  parseStreetTolerance,
  importRows,
  type ImportCrs,
  type ImportMode,
  type ImportProgress,
} from './features/import/service.ts';
import { IMPORT_EXTRA, parseFields, placeColumns, type ImportExtra } from './features/import/mapping.ts';
import { IMPORT_FORMATS, readRows, type ImportFormat } from './features/import/sources.ts';
import { IMPORT_LIMITS, guardUpload } from './features/import/limits.ts';
import { callerEncoding } from './features/import/encoding.ts';
import { beginImport, recordImport } from './features/import/jobs.ts';
import { createLogger } from './logger.ts';
import { openMigratedDatabase } from './start.ts';
import type { DomainError } from './domain/errors.ts';

const EXTENSIONS: Record<string, ImportFormat> = {
  '.geojson': 'geojson',
  '.json': 'geojson',
  '.ndjson': 'ndjson',
  '.geojsonl': 'ndjson',
  '.geojsons': 'ndjson',
  '.jsonl': 'ndjson',
  '.csv': 'csv',
  '.xlsx': 'xlsx',
  '.zip': 'shapefile',
  '.osm': 'osm',
  '.pbf': 'osm.pbf',
};

const usage = `usage: npm run import -- <${RESOURCES.map((r) => r.name).join('|')}> <file> [--format ${IMPORT_FORMATS.join('|')}] [--crs ${IMPORT_CRS.join('|')}] [--srid <EPSG code>] [--encoding gbk|utf-8|…] [--dry-run] [--repair]
  [--fields property:column,…] [--extra ${IMPORT_EXTRA.join('|')}] [--mode ${IMPORT_MODES.join('|')}] [--community <id>]
  [--street-tolerance <share of a community outside its street, 0 to 1; default 0.01>]`;
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    format: { type: 'string' },
    crs: { type: 'string', default: 'wgs84' },
    srid: { type: 'string' },
    encoding: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    repair: { type: 'boolean', default: false },
    fields: { type: 'string' },
    extra: { type: 'string', default: 'ignore' },
    mode: { type: 'string', default: 'insert' },
    community: { type: 'string' },
    'street-tolerance': { type: 'string' },
  },
});
const [layer, file] = positionals;
const def = RESOURCES.find((r) => r.name === layer);
const format = (values.format ?? EXTENSIONS[extname(file ?? '').toLowerCase()]) as ImportFormat | undefined;
const srid = values.srid === undefined ? undefined : Number(values.srid);
if (
  !def ||
  !file ||
  !format ||
  !IMPORT_FORMATS.includes(format) ||
  !IMPORT_CRS.includes(values.crs as ImportCrs) ||
  (srid !== undefined && !(Number.isInteger(srid) && srid > 0)) ||
  !IMPORT_EXTRA.includes(values.extra as ImportExtra) ||
  !IMPORT_MODES.includes(values.mode as ImportMode) ||
  (values.community !== undefined && !/^[1-9]\d{0,9}$/.test(values.community))
) {
  console.error(usage);
  process.exit(2);
}
let how: { fields: ReturnType<typeof parseFields>; mode: ImportMode; community?: number; streetTolerance?: number };
let encoding: string | undefined;
try {
  how = {
    fields: parseFields(values.fields, def, format),
    streetTolerance: parseStreetTolerance(values['street-tolerance']),
    ...importMode(def, values.mode as ImportMode, values.community === undefined ? undefined : Number(values.community)),
  };
  encoding = callerEncoding(values.encoding, format);
} catch (error) {
  console.error(`${(error as DomainError).detail ?? (error as Error).message}\n${usage}`);
  process.exit(2);
}

const config = loadConfig();
// Ctrl-C stops the import at its next batch; the database closes once it has undone what it wrote.
const stopped = new AbortController();
let importing: Promise<unknown> = Promise.resolve();
const database = await openMigratedDatabase(config, createLogger({ LOG_LEVEL: 'warn' }), () => (stopped.abort(), importing));
const started = Date.now();
const size = (await stat(file)).size;
const input = createReadStream(file, { signal: stopped.signal });
let [lastShown, phase, phaseStarted] = [0, '', started];
/** Progress on one line: the phase's percent (of the file's bytes checked, of the rows to write) and the time it has left. */
const show = ({ phase: now, read, rejected, imported, to_write }: ImportProgress, done = false) => {
  const at = Date.now();
  if (now !== phase) [phase, phaseStarted] = [now, at];
  if (!done && at - lastShown < 1000) return;
  lastShown = at;
  const part = done ? 1 : now === 'check' ? input.bytesRead / Math.max(size, 1) : imported / Math.max(to_write ?? 1, 1);
  const left = part > 0 && part < 1 ? (((at - phaseStarted) / 1000) * (1 - part)) / part : 0;
  const rate = Math.round(read / Math.max((at - started) / 1000, 0.001)).toLocaleString('en');
  const n = (value: number) => value.toLocaleString('en');
  const written = now === 'write' ? `, ${n(imported)} written` : '';
  process.stderr.write(
    `\r${layer}: ${done ? 'done' : now === 'check' ? 'checking' : 'writing'} ${Math.floor(part * 100)}%, ${n(read)} rows read, ${n(rejected)} rejected${written}, ` +
      `${rate} rows/s${left ? `, about ${Math.ceil(left)} s left` : ''}${process.stderr.isTTY ? '\x1b[K' : ''}${done ? '\n' : ''}`,
  );
};
const actor = { username: `command line (${userInfo().username})` };

/** The import as a job like the API's: if this process dies midway, the server's next start undoes what it wrote. */
async function run() {
  const job = await beginImport(database.db, actor, def!.name, format!, undefined);
  if ('replay' in job) throw new Error('a command-line import has no Idempotency-Key to replay');
  try {
    const limits = IMPORT_LIMITS['command line'];
    const guarded = pipeline(input, guardUpload(format!, limits), () => {});
    const report = await importRows(
      database.db,
      def!,
      readRows(guarded, format!, limits, { encoding, columns: placeColumns(def!, how.fields) }),
      {
        crs: values.crs as ImportCrs,
        srid,
        dryRun: values['dry-run'],
        repair: values.repair,
        extra: values.extra as ImportExtra,
        ...how,
        limits,
        job: job.id,
        signal: stopped.signal,
        onProgress: (progress) => show(progress),
        actor,
        onWritten: (trx, report) => recordImport(trx, job.id, 'written', null, report),
      },
    );
    show({ phase: 'write', read: report.read, rejected: report.rejected.length, imported: report.imported }, true);
    if (report.mapped)
      console.error(
        `mapped: ${Object.entries(report.mapped)
          .map(([property, column]) => `${property} ← ${column}`)
          .join(', ')}`,
      );
    for (const { row, reason } of report.warnings) console.error(`warning, row ${row}: ${reason}`);
    if (report.ignored_columns.length) console.error(`ignored columns (--extra reject refuses them): ${report.ignored_columns.join(', ')}`);
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
