import { once } from 'node:events';
import { setImmediate } from 'node:timers/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import gcoord from 'gcoord';
import { sql, type Kysely, type Transaction } from 'kysely';
import { invalidGeometries, insertFeatures, lockMapWrites, upsertFeatures, type FeatureInput } from '../../db/feature-store.ts';
import type { DB } from '../../db/schema.ts';
import { createdBy, refuseOutsideScope, refuseRelinksOutsideScope } from '../../access/rows.ts';
import { resourceGeometry, validProperties } from '../../access/resource.ts';
import type { ResourceDefinition } from '../../access/resource.ts';
import type { Actor } from '../../db/actor.ts';
import type { Viewer } from '../../access/viewer.ts';
import { forbiddenProperties } from '../../access/policy.ts';
import type { Geometry } from '../../domain/geojson.ts';
import { DomainError } from '../../domain/errors.ts';
import { databaseError } from '../../db/errors.ts';
import type { RawRow } from './sources.ts';
import { recordImportedRows, undoImport } from './jobs.ts';
import { uploadDir } from './uploads.ts';
import { tooLarge, type ImportLimits } from './limits.ts';
import { APPLY_BATCH, batchSizer } from './batches.ts';
import { fileValues, mappedRows, saysYes, type ColumnsReport, type FieldMapping, type ImportExtra } from './mapping.ts';
import { inWgs84, projectedPosition, sourceCrs, type SourceCrs } from './crs.ts';

export const IMPORT_CRS = ['wgs84', 'gcj02', 'bd09'] as const;
export type ImportCrs = (typeof IMPORT_CRS)[number];
const FROM = { gcj02: gcoord.GCJ02, bd09: gcoord.BD09 } as const;

/**
 * insert: every row is new. upsert: a row whose natural key (a code) is stored updates that row, the others are
 * inserted. replace: upsert one community's rows, and delete those of its rows the file does not have.
 */
export const IMPORT_MODES = ['insert', 'upsert', 'replace'] as const;
export type ImportMode = (typeof IMPORT_MODES)[number];

/** The column naming the community a row of `def` lies in, when it has one of its own (not a community itself, nor an area above). */
const communityColumn = (def: ResourceDefinition) =>
  'community' in def.place && def.place.community !== 'id' ? def.place.community : undefined;

/** What an import writes and to what, checked against the layer: 400 naming the parameter for what it cannot do. */
/** `street_tolerance=0.01`: the share of a community's area that may lie outside its street's given boundary unwarned. */
export function parseStreetTolerance(text: string | undefined) {
  const tolerance = text === undefined ? undefined : Number(text);
  if (tolerance !== undefined && !(text!.trim() !== '' && tolerance >= 0 && tolerance <= 1)) {
    throw new DomainError('request.invalid_parameter', "street_tolerance is a share of a community's area, from 0 to 1", {
      field: 'street_tolerance',
    });
  }
  return tolerance;
}

export function importMode(def: ResourceDefinition, mode: ImportMode, community: number | undefined) {
  if (mode !== 'insert' && !def.naturalKey) {
    throw new DomainError(
      'request.invalid_parameter',
      `mode=${mode}: ${def.name} have no code to match rows by; import them with mode=insert`,
      { field: 'mode' },
    );
  }
  // a row deleted without a say (grids: where their buildings go) could not be replaced as a whole
  if (mode === 'replace' && (!communityColumn(def) || def.beforeDelete)) {
    throw new DomainError(
      'request.invalid_parameter',
      `mode=replace replaces a community's own rows as a whole: not ${def.name}; use mode=upsert`,
      { field: 'mode' },
    );
  }
  if ((mode === 'replace') !== (community !== undefined)) {
    throw new DomainError(
      'request.invalid_parameter',
      mode === 'replace'
        ? 'mode=replace needs community=<id>: the community whose rows the file replaces'
        : 'community= goes with mode=replace',
      { field: 'community' },
    );
  }
  return { mode, community };
}

/** Where an import is: rows read and refused while checking, then rows written of those to write. */
export interface ImportProgress {
  phase: 'check' | 'write';
  read: number;
  rejected: number;
  imported: number;
  to_write?: number;
}

export interface ImportOptions {
  crs: ImportCrs;
  /** the EPSG code the file's coordinates are in, from the caller: wins over the file's own .prj or crs */
  srid?: number;
  dryRun: boolean;
  /** make invalid polygons valid with ST_MakeValid where the result is still the right type */
  repair: boolean;
  /** the bounds of what this importer may send (features per file) */
  limits: ImportLimits;
  /** property ← column: a file's columns renamed (fields=code:SQDM) */
  fields?: FieldMapping;
  /** columns neither mapped nor named like a property: ignored (listed in the report) or each row refused */
  extra: ImportExtra;
  mode: ImportMode;
  /** with mode=replace: the community whose rows the file replaces */
  community?: number;
  /** after each batch checked or written */
  onProgress?: (progress: ImportProgress) => void;
  /** aborted when the server stops: the import rolls back at its next batch (503) */
  signal?: AbortSignal;
  /** the import job: batches written are recorded with it, so a crash midway is undone at the next start */
  job?: number;
  /** runs inside the last batch's transaction just before it commits, with the report it will answer */
  onWritten?: (trx: Transaction<DB>, report: ImportReport) => Promise<void>;
  /** who imports through the API: rows land only where this user may create them (the command line has none) */
  viewer?: Viewer;
  /** the name the audit log records */
  actor: Actor;
  /** the share of a community's area that may lie outside its street's boundary before the report warns (0.01) */
  streetTolerance?: number;
}

export interface ImportReport extends ColumnsReport {
  layer: string;
  mode: ImportMode;
  read: number;
  /** rows written: inserted and updated */
  imported: number;
  inserted: number;
  updated: number;
  /** with mode=replace: the community's rows the file did not have */
  deleted: number;
  rejected: { row: number | string; field?: string; reason: string }[];
  repaired: { row: number; reason: string }[];
  /** rows imported that break no rule but look wrong (ResourceDefinition.warn) */
  warnings: { row: number; field: string; reason: string }[];
  dry_run: boolean;
  written: boolean;
}

/** Rows checked at a time: one statement of PostGIS validity checks, and a bounded turn of the event loop. */
const CHECK_BATCH = 2000;

export const serverStopping = () =>
  new DomainError(
    'import.server_stopping',
    'the server stopped during the import: nothing was written; send it again',
    { field: 'body' },
    {},
    10,
  );
/** Rejections listed in a report; beyond this only counted, so a broken million-row file has a bounded answer. */
const MAX_LISTED = 1000;

interface Checked extends FeatureInput {
  row: number;
  /** null for a street posted without a boundary (its communities draw it) */
  geometry: Geometry | null;
  properties: Record<string, unknown>;
  /** upsert: the properties the file gave, all an update changes (those left to their defaults stay as stored) */
  update?: Record<string, unknown>;
}

/**
 * Imports rows into one resource: everything or nothing. First every row is checked like an API write
 * (geometry type, range and PostGIS validity, properties, who may set them) without writing, and the rows
 * that pass wait on disk; any rejection ends the import there. Then they are written in batches, each its
 * own short transaction under the map's write lock with its links and the map rules (an unknown reference,
 * a duplicate code, overlapping grids, the importer's scope), so other writes wait for one batch, never for
 * the whole file. A batch that breaks a rule sends the rest through as checks only, and the batches already
 * written are deleted again: the report lists each rejected row with its number and reason, and the map is
 * as it was. A dry run writes each batch and rolls it back. Batches written are recorded with the job, so
 * an import a crash cut short is undone at the next start (markAbandonedImports). An upsert or a replace
 * updates rows, which deleting cannot undo: it writes in one transaction (applyWhole).
 */
export async function importRows(
  db: Kysely<DB>,
  def: ResourceDefinition,
  rows: AsyncIterable<RawRow>,
  options: ImportOptions,
): Promise<ImportReport> {
  const report: ImportReport = {
    layer: def.name,
    mode: options.mode,
    read: 0,
    imported: 0,
    inserted: 0,
    updated: 0,
    deleted: 0,
    rejected: [],
    repaired: [],
    warnings: [],
    dry_run: options.dryRun,
    written: false,
    columns: [],
    ignored_columns: [],
  };
  let rejections = 0;
  const reject = (row: number | string, reason: string, field?: string) => {
    rejections++;
    if (report.rejected.length < MAX_LISTED) report.rejected.push({ row, ...(field ? { field } : {}), reason });
  };
  const dir = await uploadDir();
  try {
    const checked = join(dir, 'checked.ndjson');
    if (options.community !== undefined) await knownCommunity(db, options.community);
    const staged = await checkRows(
      db,
      def,
      mappedRows(rows, def, options.fields, options.extra, report),
      options,
      report,
      reject,
      () => rejections,
      checked,
    );
    if (report.read === 0) reject('file', 'the file holds no features (a GeoJSON file must be a FeatureCollection)');
    if (rejections === 0)
      await (options.mode === 'insert' ? applyRows : applyWhole)(db, def, checked, staged, options, report, reject, () => rejections);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // in the file's order: a batch's rows are refused by their values first, then by their geometries (PostGIS's word)
  report.rejected.sort((a, b) => (typeof a.row === 'number' ? a.row : Infinity) - (typeof b.row === 'number' ? b.row : Infinity));
  if (rejections > MAX_LISTED) report.rejected.push({ row: '…', reason: `${rejections - MAX_LISTED} more rows rejected` });
  return report;
}

type Reject = (row: number | string, reason: string, field?: string) => void;

async function knownCommunity(db: Kysely<DB>, id: number) {
  const { rows } = await sql`select 1 from communities where id = ${id}`.execute(db);
  if (!rows.length) throw new DomainError('import.unknown_community', `community: no community ${id}`, { field: 'community' }, { id });
}

/**
 * Checks every row without writing; those that pass are written to `file`, one JSON line each. Answers how many.
 * Matching by the natural key, every row must have one, and each its own (a second would update the first).
 */
async function checkRows(
  db: Kysely<DB>,
  def: ResourceDefinition,
  rows: AsyncIterable<RawRow>,
  options: ImportOptions,
  report: ImportReport,
  reject: Reject,
  rejections: () => number,
  file: string,
) {
  const geometry = resourceGeometry(def);
  const key = options.mode === 'insert' ? undefined : def.naturalKey;
  const keyRows = new Map<unknown, number>();
  const out = createWriteStream(file);
  let staged = 0;

  // what `check` refuses in a batch while the batch before is still being staged: told after that batch's, in row order
  let held: Parameters<Reject>[] = [];
  const hold: Reject = (...refusal) => void held.push(refusal);
  const check = (raw: RawRow): Checked[] => {
    if (raw.error) return (hold(raw.row, raw.error, raw.field), []);
    if (raw.noGeometry && !def.nullGeometry) return (hold(raw.row, raw.noGeometry, 'geometry'), []);
    const far = projectedPosition(raw.geometry);
    if (far) {
      throw new DomainError(
        'import.unknown_crs',
        `row ${raw.row}: ${far.slice(0, 2).join(',')} is not a longitude and latitude: the file is projected, and names no coordinate system PostGIS could transform from; give srid= (the EPSG code, e.g. 4545 for CGCS2000 3-degree Gauss–Krüger CM 108E)`,
        { field: 'srid' },
      );
    }
    // Checked before it is shifted (the shift assumes a well-formed geometry), and after.
    const derived = def.derivedGeometry !== undefined && saysYes(raw.properties[def.derivedGeometry]);
    const given = geometry.safeParse(derived ? null : raw.geometry);
    const shape =
      options.crs === 'wgs84' || !given.success || given.data === null
        ? given
        : geometry.safeParse(gcoord.transform(given.data as Parameters<typeof gcoord.transform>[0], FROM[options.crs], gcoord.WGS84));
    if (!shape.success) {
      const [issue] = shape.error.issues;
      return (hold(raw.row, issue.message, ['geometry', ...issue.path].join('.')), []);
    }
    try {
      const given = fileValues(def, raw.properties, raw.text ?? false);
      const properties = validProperties(def, given, 'properties', { readOnly: 'drop' });
      const { viewer } = options;
      const [forbidden] = viewer ? forbiddenProperties(def.name, viewer, Object.keys(given)) : [];
      if (forbidden) return (hold(raw.row, `a ${viewer!.role} may not set ${forbidden}`, `properties.${forbidden}`), []);
      if (!key) return [{ row: raw.row, geometry: shape.data, properties: { ...properties, ...(viewer && createdBy(def, viewer)) } }];
      const value = properties[key];
      if (value === undefined || value === null)
        return (hold(raw.row, `mode=${options.mode} matches rows by ${key}: give it`, `properties.${key}`), []);
      if (keyRows.has(value)) return (hold(raw.row, `${key} ${value} is also in row ${keyRows.get(value)}`, `properties.${key}`), []);
      keyRows.set(value, raw.row);
      const update = Object.fromEntries(Object.entries(properties).filter(([k]) => k in given));
      return [{ row: raw.row, geometry: shape.data, properties: { ...properties, ...(viewer && createdBy(def, viewer)) }, update }];
    } catch (error) {
      const problem = error as DomainError;
      return (hold(raw.row, problem.detail ?? problem.message, problem.extensions?.field as string), []);
    }
  };

  let from: SourceCrs | undefined | null = null;
  /** A batch checked (the database converts and places it where it must), its geometries' validity asked but not awaited. */
  const checkBatch = async (batch: RawRow[]) => {
    // checking is the importer's own work: other requests get their turn between batches
    await setImmediate();
    if (from === null) from = await sourceCrs(db, options.srid, batch.find((r) => r.crs)?.crs);
    held = [];
    const good = (await atBuildings(db, def, await inLongitudeLatitude(db, batch, from))).flatMap(check);
    const invalid = invalidGeometries(db, good, def.multi);
    invalid.catch(() => {}); // awaited in stage(), unless a batch before it failed
    return { good, refused: held, invalid };
  };
  /** A checked batch's refusals told, its invalid geometries repaired or refused, the rest written to the file. */
  const stage = async ({ good, refused, invalid }: Awaited<ReturnType<typeof checkBatch>>) => {
    for (const refusal of refused) reject(...refusal);
    for (const { index, reason } of await invalid) {
      const fixed = options.repair ? await repaired(db, good[index].geometry!, def) : undefined;
      if (fixed) {
        report.repaired.push({ row: good[index].row, reason });
        good[index].geometry = fixed;
      } else {
        reject(
          good[index].row,
          options.repair
            ? `${reason}, and ST_MakeValid cannot make it a valid ${def.geometry.join(' or ')}`
            : `${reason} (repair=true may fix it)`,
          'geometry',
        );
        good[index].row = -1;
      }
    }
    for (const row of good) {
      if (row.row < 0) continue;
      staged++;
      if (!out.write(`${JSON.stringify(row)}\n`)) await once(out, 'drain');
    }
  };
  // A batch is checked while the one before waits for the database's word on its geometries: the two cores
  // share the work. Batches are staged in turn, so the file and the refusals keep the rows' order.
  let staging: Promise<void> = Promise.resolve();
  const flush = async (batch: RawRow[]) => {
    const checked = await checkBatch(batch);
    await staging;
    staging = stage(checked);
    staging.catch(() => {}); // awaited by the next flush or at the end
  };

  try {
    let pending: RawRow[] = [];
    for await (const raw of rows) {
      if (++report.read > options.limits.features)
        throw tooLarge('features', `an import from this account holds at most ${options.limits.features} features`);
      pending.push(raw);
      if (pending.length === CHECK_BATCH) {
        if (options.signal?.aborted) throw serverStopping();
        await flush(pending);
        pending = [];
        options.onProgress?.({ phase: 'check', read: report.read, rejected: rejections(), imported: 0 });
      }
    }
    await flush(pending);
    await staging;
    options.onProgress?.({ phase: 'check', read: report.read, rejected: rejections(), imported: 0 });
  } finally {
    // a batch still being staged when reading failed writes no line after the end
    await staging.catch(() => {});
    await new Promise((resolve) => out.end(resolve));
  }
  return staged;
}

type Apply = (
  db: Kysely<DB>,
  def: ResourceDefinition,
  file: string,
  staged: number,
  options: ImportOptions,
  report: ImportReport,
  reject: Reject,
  rejections: () => number,
) => Promise<void>;

/**
 * Writes rows under a savepoint: inserts them, or with a natural key updates those whose key is stored and
 * inserts the rest. A database rule broken in a batch (an unknown reference, a duplicate code, overlapping
 * grids) sends it back row by row, so each culprit is named by its row. Answers the ids inserted and updated.
 */
/** What a batch wrote: ids inserted and updated, and the warnings of the rows written (ResourceDefinition.warn). */
interface Written {
  inserted: number[];
  updated: number[];
  warnings: ImportReport['warnings'];
}
const nothingWritten = (): Written => ({ inserted: [], updated: [], warnings: [] });
/** An insert's ids, in the order of its rows. */
const insertedOnly = (ids: number[]) => ({ inserted: ids, updated: [], byInput: ids });

async function writeRows(
  trx: Transaction<DB>,
  def: ResourceDefinition,
  good: Checked[],
  options: ImportOptions,
  reject: Reject,
): Promise<Written> {
  if (!good.length) return nothingWritten();
  await sql`savepoint import_batch`.execute(trx);
  try {
    // a row matched by its key must be the importer's to change where it stands now, as a PATCH's is
    if (options.viewer && options.mode !== 'insert')
      await refuseOutsideScope(trx, def, options.viewer, 'update', await storedByKey(trx, def, good));
    const written =
      options.mode === 'insert'
        ? insertedOnly(await insertFeatures(trx, def, [...new Set(good.flatMap((f) => Object.keys(f.properties)))], good))
        : await upsertFeatures(
            trx,
            def,
            def.naturalKey!,
            good.map((f) => ({ geometry: f.geometry, properties: f.properties, update: f.update! })),
          );
    const ids = [...written.inserted, ...written.updated];
    await def.check?.(trx, ids);
    if (options.viewer) {
      await refuseOutsideScope(trx, def, options.viewer, 'create', written.inserted);
      await refuseOutsideScope(trx, def, options.viewer, 'update', written.updated);
    }
    if (options.community !== undefined) await refuseOutsideCommunity(trx, def, options.community, ids);
    const rowOf = new Map(written.byInput.map((id, i) => [id, good[i].row]));
    const warnings = ((await def.warn?.(trx, ids, { streetTolerance: options.streetTolerance ?? 0.01 })) ?? []).map(
      ({ id, field, reason }) => ({ row: rowOf.get(id)!, field, reason }),
    );
    await sql`release savepoint import_batch`.execute(trx);
    return { ...written, warnings };
  } catch (error) {
    await sql`rollback to savepoint import_batch`.execute(trx);
    if (good.length > 1) {
      const all = nothingWritten();
      for (const one of good) {
        const { inserted, updated, warnings } = await writeRows(trx, def, [one], options, reject);
        all.inserted.push(...inserted);
        all.updated.push(...updated);
        all.warnings.push(...warnings);
      }
      return all;
    }
    const problem = error instanceof DomainError ? error : databaseError(error);
    if (!problem) throw error;
    reject(good[0].row, `${problem.title}: ${problem.detail}`, problem.extensions.field as string | undefined);
    return nothingWritten();
  }
}

/** The ids of the stored rows the rows' natural keys match. */
async function storedByKey(trx: Transaction<DB>, def: ResourceDefinition, rows: Checked[]) {
  const { rows: stored } = await sql<{ id: number }>`
    select id from ${sql.table(def.table)}
    where ${sql.ref(def.naturalKey!)} in (select json_array_elements_text(${JSON.stringify(rows.map((r) => r.properties[def.naturalKey!]))}::json))`.execute(
    trx,
  );
  return stored.map((r) => r.id);
}

/** mode=replace: the file's rows must land in the community it replaces. */
async function refuseOutsideCommunity(trx: Transaction<DB>, def: ResourceDefinition, community: number, ids: number[]) {
  const {
    rows: [outside],
  } = await sql<{ id: number }>`
    select id from ${sql.table(def.table)} where id in (select json_array_elements_text(${JSON.stringify(ids)}::json)::int)
      and ${sql.ref(communityColumn(def)!)} is distinct from ${community} limit 1`.execute(trx);
  if (outside)
    throw new DomainError('import.outside_community', `it lies outside community ${community}, whose ${def.name} the file replaces`, {
      field: 'geometry',
    });
}

/** The staged rows in batches of the size `size()` says when each begins; `last` marks the batch that ends the file. */
async function* stagedBatches(file: string, staged: number, size: () => number): AsyncGenerator<{ batch: Checked[]; last: boolean }> {
  let batch: Checked[] = [];
  let done = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    batch.push(JSON.parse(line) as Checked);
    if (batch.length >= size()) {
      done += batch.length;
      yield { batch, last: done === staged };
      batch = [];
    }
  }
  if (batch.length) yield { batch, last: true };
}

const counted = (report: ImportReport, { inserted, updated, warnings }: Written) => {
  report.warnings.push(...warnings);
  report.inserted += inserted.length;
  report.updated += updated.length;
  report.imported += inserted.length + updated.length;
  return [...inserted, ...updated];
};

/** Inserts the checked rows in batches, each its own transaction (see importRows); undoes the batches written if the import cannot finish. */
const applyRows: Apply = async (db, def, file, staged, options, report, reject, rejections) => {
  const written: number[] = [];
  const rollback = new Error('batch rolled back');
  let size = APPLY_BATCH.first;
  const nextSize = batchSizer();
  try {
    for await (const { batch, last } of stagedBatches(file, staged, () => size)) {
      if (options.signal?.aborted) throw serverStopping();
      const started = Date.now();
      let ids: number[] = [];
      try {
        await db.transaction().execute(async (trx) => {
          const auditFrom = await lockMapWrites(trx, options.actor);
          ids = counted(report, await writeRows(trx, def, batch, options, reject));
          // once a row is rejected the rest are only checked, so the report names every rejection
          if (options.dryRun || rejections() > 0) throw rollback;
          if (options.viewer) await refuseRelinksOutsideScope(trx, options.viewer, auditFrom);
          if (options.job) await recordImportedRows(trx, options.job, ids, last);
          if (last) {
            if (options.signal?.aborted) throw serverStopping();
            await options.onWritten?.(trx, { ...report, written: true });
          }
        });
        written.push(...ids);
      } catch (error) {
        if (error !== rollback) throw error;
      }
      options.onProgress?.({ phase: 'write', read: report.read, rejected: rejections(), imported: report.imported, to_write: staged });
      size = nextSize(size, Date.now() - started);
    }
    if (rejections() === 0 && !options.dryRun) report.written = true;
  } catch (error) {
    await undoImport(db, def.table, written, options.actor, options.job);
    throw error;
  }
  if (!report.written) await undoImport(db, def.table, written, options.actor, options.job);
};

/**
 * Upserts (and with mode=replace deletes) in one transaction under the map's write lock, in batches only for
 * progress and row-by-row blame. An update cannot be undone by deleting a row as an insert can, and restoring
 * each old row would bump its version again and log a second change; a rollback restores the rows exactly, a
 * crash midway too, at the price of other map writes waiting for the whole write (not the check before it).
 */
const applyWhole: Apply = async (db, def, file, staged, options, report, reject, rejections) => {
  const rollback = new Error('import rolled back');
  let size = APPLY_BATCH.first;
  const nextSize = batchSizer();
  try {
    await db.transaction().execute(async (trx) => {
      const auditFrom = await lockMapWrites(trx, options.actor);
      const written: number[] = [];
      for await (const { batch } of stagedBatches(file, staged, () => size)) {
        if (options.signal?.aborted) throw serverStopping();
        const started = Date.now();
        written.push(...counted(report, await writeRows(trx, def, batch, options, reject)));
        options.onProgress?.({ phase: 'write', read: report.read, rejected: rejections(), imported: report.imported, to_write: staged });
        size = nextSize(size, Date.now() - started);
      }
      if (options.community !== undefined && rejections() === 0) report.deleted = await deleteUnmatched(trx, def, options, written);
      if (options.dryRun || rejections() > 0) throw rollback;
      if (options.viewer) await refuseRelinksOutsideScope(trx, options.viewer, auditFrom);
      if (options.signal?.aborted) throw serverStopping();
      await options.onWritten?.(trx, { ...report, written: true });
    });
    report.written = true;
  } catch (error) {
    if (error !== rollback) throw error;
  }
};

/** mode=replace: deletes the community's rows the import did not write, where the importer may delete them. */
async function deleteUnmatched(trx: Transaction<DB>, def: ResourceDefinition, options: ImportOptions, written: number[]) {
  const { rows } = await sql<{ id: number }>`
    select id from ${sql.table(def.table)} where ${sql.ref(communityColumn(def)!)} = ${options.community!}
      and id not in (select json_array_elements_text(${JSON.stringify(written)}::json)::int)`.execute(trx);
  const ids = rows.map((r) => r.id);
  if (options.viewer) await refuseOutsideScope(trx, def, options.viewer, 'delete', ids);
  await sql`delete from ${sql.table(def.table)} where id in (select json_array_elements_text(${JSON.stringify(ids)}::json)::int)`.execute(
    trx,
  );
  return ids.length;
}

/**
 * Rows with their geometry in WGS 84 longitude/latitude: a CSV's WKT read, and a projected file's geometries
 * transformed, by PostGIS, a batch in one statement. What it cannot read or transform is that row's error.
 */
async function inLongitudeLatitude(db: Kysely<DB>, batch: RawRow[], from: SourceCrs | undefined): Promise<RawRow[]> {
  const located = batch.filter((r) => !r.error && (r.wkt !== undefined || (from && r.geometry)));
  if (!located.length) return batch;
  const geometries = await inWgs84(
    db,
    located.map((r) => (r.wkt !== undefined ? { text: r.wkt, wkt: true } : { text: JSON.stringify(r.geometry), wkt: false })),
    from,
  );
  located.forEach((r, i) => {
    if (geometries[i] !== null) r.geometry = geometries[i];
    else
      r.error =
        r.wkt !== undefined && !from
          ? 'geometry: not valid WKT'
          : "geometry: PostGIS cannot read it, or transform it from the file's coordinate system";
  });
  return batch;
}

/**
 * Rows of a roster without coordinates (members with their building instead), placed at that building's point
 * on surface: found by its code (the building's external_id), else by its name or address within the community
 * named by code or name. A row that matches no building, or several, is that row's error: never a guess.
 */
async function atBuildings(db: Kysely<DB>, def: ResourceDefinition, batch: RawRow[]): Promise<RawRow[]> {
  const placed = batch.filter((r) => r.place && !r.error);
  if (!placed.length) return batch;
  if (!def.geometry.includes('Point')) {
    for (const r of placed) r.error = `no geometry: ${def.name} are drawn, not placed at a building`;
    return batch;
  }
  const { rows } = await sql<{ matches: number; geometry: unknown }>`
    select count(b.id)::int as matches, ST_AsGeoJSON(ST_PointOnSurface((array_agg(b.geom))[1]), 15)::json as geometry
    from (select e->>'code' as code, e->>'building' as building, e->>'community' as community, n
          from json_array_elements(${JSON.stringify(placed.map((r) => r.place))}::json) with ordinality as e(e, n)) p
    left join lateral (
      select b.id, b.geom from buildings b left join communities c on c.id = b.community_id
      where (p.code is not null and b.external_id = p.code) or (p.building is not null and (b.name = p.building or b.address = p.building) and (c.code = p.community or c.name = p.community))
      limit 2
    ) b on true
    group by p.n order by p.n`.execute(db);
  placed.forEach((r, i) => {
    const { code, building, community } = r.place!;
    const named = code ?? `${building} in ${community ?? '(no community given)'}`;
    if (rows[i].matches === 1) return void (r.geometry = rows[i].geometry);
    r.field = 'building';
    if (rows[i].matches > 1) r.error = `building ${named} matches several buildings: give its code`;
    else r.error = `building ${named} matched no building${community || code ? '' : ': give its community (code or name)'}`;
  });
  return batch;
}

/**
 * ST_MakeValid's answer, keeping only the polygons (a spike becomes a line and is dropped), if it is still
 * a type the resource takes, else undefined.
 */
async function repaired(db: Kysely<DB>, geometry: Geometry, def: ResourceDefinition): Promise<Geometry | undefined> {
  const {
    rows: [fixed],
  } = await sql<{ type: string; geometry: Geometry }>`
    select GeometryType(g) as type, ST_AsGeoJSON(g)::json as geometry
    from ST_CollectionExtract(ST_MakeValid(normalized_geometry(${JSON.stringify(geometry)}, ${def.multi ?? false})), ${def.geometry.includes('Point') ? 1 : 3}) as c
    cross join lateral (select case when ST_NumGeometries(c) = 1 then ST_GeometryN(c, 1) else c end as g) single`.execute(db);
  return def.geometry.some((t) => t.toUpperCase() === fixed.type) ? fixed.geometry : undefined;
}
