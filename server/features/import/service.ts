import { once } from 'node:events';
import { setImmediate } from 'node:timers/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import gcoord from 'gcoord';
import { sql, type Kysely, type Transaction } from 'kysely';
import { z } from 'zod';
import { invalidGeometries, insertFeatures, lockMapWrites, type FeatureInput } from '../../db/feature-store.ts';
import type { DB } from '../../db/schema.ts';
import { createdBy, refuseOutsideScope, refuseRelinksOutsideScope } from '../../access/rows.ts';
import { resourceGeometry, validProperties, type ResourceDefinition } from '../../http/feature-resource.ts';
import type { Actor } from '../../db/actor.ts';
import type { Viewer } from '../../access/viewer.ts';
import { forbiddenProperties } from '../../access/policy.ts';
import type { Geometry } from '../../http/geojson.ts';
import { HttpProblem, databaseProblem } from '../../http/problem.ts';
import type { RawRow } from './sources.ts';
import { recordImportedRows, undoImport } from './jobs.ts';
import { uploadDir } from './uploads.ts';
import { tooLarge, type ImportLimits } from './limits.ts';
import { inWgs84, projectedPosition, sourceCrs, type SourceCrs } from './crs.ts';

export const IMPORT_CRS = ['wgs84', 'gcj02', 'bd09'] as const;
export type ImportCrs = (typeof IMPORT_CRS)[number];
const FROM = { gcj02: gcoord.GCJ02, bd09: gcoord.BD09 } as const;

export interface ImportOptions {
  crs: ImportCrs;
  /** the EPSG code the file's coordinates are in, from the caller: wins over the file's own .prj or crs */
  srid?: number;
  dryRun: boolean;
  /** make invalid polygons valid with ST_MakeValid where the result is still the right type */
  repair: boolean;
  /** the bounds of what this importer may send (features per file) */
  limits: ImportLimits;
  /** rows read (checked), and rows written once writing has begun */
  onProgress?: (read: number, imported: number) => void;
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
}

export interface ImportReport {
  layer: string;
  read: number;
  imported: number;
  rejected: { row: number | string; field?: string; reason: string }[];
  repaired: { row: number; reason: string }[];
  dry_run: boolean;
  written: boolean;
}

/** Rows checked at a time: one statement of PostGIS validity checks, and a bounded turn of the event loop. */
const CHECK_BATCH = 2000;
/** Rows applied in one transaction, adapted so that each holds the map's write lock a few tenths of a second. */
const APPLY_BATCH = { first: 500, least: 50, most: 5000, fastMs: 150, slowMs: 500 };

export const serverStopping = () => new HttpProblem(503, 'Server stopping', 'the server stopped during the import: nothing was written; send it again', { field: 'body' }, { 'Retry-After': '10' });
/** Rejections listed in a report; beyond this only counted, so a broken million-row file has a bounded answer. */
const MAX_LISTED = 1000;

interface Checked extends FeatureInput { row: number; geometry: Geometry; properties: Record<string, unknown> }

/**
 * Imports rows into one resource: everything or nothing. First every row is checked like an API write
 * (geometry type, range and PostGIS validity, properties, who may set them) without writing, and the rows
 * that pass wait on disk; any rejection ends the import there. Then they are written in batches, each its
 * own short transaction under the map's write lock with its links and the map rules (an unknown reference,
 * a duplicate code, overlapping grids, the importer's scope), so other writes wait for one batch, never for
 * the whole file. A batch that breaks a rule sends the rest through as checks only, and the batches already
 * written are deleted again: the report lists each rejected row with its number and reason, and the map is
 * as it was. A dry run writes each batch and rolls it back. Batches written are recorded with the job, so
 * an import a crash cut short is undone at the next start (markAbandonedImports).
 */
export async function importRows(db: Kysely<DB>, def: ResourceDefinition, rows: AsyncIterable<RawRow>, options: ImportOptions): Promise<ImportReport> {
  const report: ImportReport = { layer: def.name, read: 0, imported: 0, rejected: [], repaired: [], dry_run: options.dryRun, written: false };
  let rejections = 0;
  const reject = (row: number | string, reason: string, field?: string) => {
    rejections++;
    if (report.rejected.length < MAX_LISTED) report.rejected.push({ row, ...(field ? { field } : {}), reason });
  };
  const dir = await uploadDir();
  try {
    const checked = join(dir, 'checked.ndjson');
    const staged = await checkRows(db, def, rows, options, report, reject, checked);
    if (report.read === 0) reject('file', 'the file holds no features (a GeoJSON file must be a FeatureCollection)');
    if (rejections === 0) await applyRows(db, def, checked, staged, options, report, reject, () => rejections);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (rejections > MAX_LISTED) report.rejected.push({ row: '…', reason: `${rejections - MAX_LISTED} more rows rejected` });
  return report;
}

type Reject = (row: number | string, reason: string, field?: string) => void;

/** Checks every row without writing; those that pass are written to `file`, one JSON line each. Answers how many. */
async function checkRows(db: Kysely<DB>, def: ResourceDefinition, rows: AsyncIterable<RawRow>, options: ImportOptions, report: ImportReport, reject: Reject, file: string) {
  const geometry = resourceGeometry(def);
  const textTypes = csvTypes(def.properties);
  const out = createWriteStream(file);
  let staged = 0;

  const check = (raw: RawRow): Checked[] => {
    if (raw.error) return reject(raw.row, raw.error, raw.field), [];
    const far = projectedPosition(raw.geometry);
    if (far) {
      throw new HttpProblem(422, 'Unknown coordinate system', `row ${raw.row}: ${far.slice(0, 2).join(',')} is not a longitude and latitude: the file is projected, and names no coordinate system PostGIS could transform from; give srid= (the EPSG code, e.g. 4545 for CGCS2000 3-degree Gauss–Krüger CM 108E)`, { field: 'srid' });
    }
    // Checked before it is shifted (the shift assumes a well-formed geometry), and after.
    const given = geometry.safeParse(raw.geometry);
    const shape = options.crs === 'wgs84' || !given.success ? given
      : geometry.safeParse(gcoord.transform(given.data as Parameters<typeof gcoord.transform>[0], FROM[options.crs], gcoord.WGS84));
    if (!shape.success) {
      const [issue] = shape.error.issues;
      return reject(raw.row, issue.message, ['geometry', ...issue.path].join('.')), [];
    }
    try {
      const given = raw.text ? fromText(raw.properties, textTypes) : raw.properties;
      const properties = validProperties(def, given, 'properties', { readOnly: 'drop' });
      const { viewer } = options;
      const [forbidden] = viewer ? forbiddenProperties(def.name, viewer, Object.keys(given ?? {})) : [];
      if (forbidden) return reject(raw.row, `a ${viewer!.role} may not set ${forbidden}`, `properties.${forbidden}`), [];
      return [{ row: raw.row, geometry: shape.data, properties: { ...properties, ...(viewer && createdBy(def, viewer)) } }];
    } catch (error) {
      const problem = error as HttpProblem;
      return reject(raw.row, problem.detail ?? problem.message, problem.extensions?.field as string), [];
    }
  };

  let from: SourceCrs | undefined | null = null;
  const flush = async (batch: RawRow[]) => {
    // checking is the importer's own work: other requests get their turn between batches
    await setImmediate();
    if (from === null) from = await sourceCrs(db, options.srid, batch.find((r) => r.crs)?.crs);
    const good = (await atBuildings(db, def, await inLongitudeLatitude(db, batch, from))).flatMap(check);
    for (const { index, reason } of await invalidGeometries(db, good, def.multi)) {
      const fixed = options.repair ? await repaired(db, good[index].geometry, def) : undefined;
      if (fixed) {
        report.repaired.push({ row: good[index].row, reason });
        good[index].geometry = fixed;
      } else {
        reject(good[index].row, options.repair ? `${reason}, and ST_MakeValid cannot make it a valid ${def.geometry.join(' or ')}` : `${reason} (repair=true may fix it)`, 'geometry');
        good[index].row = -1;
      }
    }
    for (const row of good) {
      if (row.row < 0) continue;
      staged++;
      if (!out.write(`${JSON.stringify(row)}\n`)) await once(out, 'drain');
    }
  };

  try {
    let pending: RawRow[] = [];
    for await (const raw of rows) {
      if (++report.read > options.limits.features) throw tooLarge('features', `an import from this account holds at most ${options.limits.features} features`);
      pending.push(raw);
      if (pending.length === CHECK_BATCH) {
        if (options.signal?.aborted) throw serverStopping();
        await flush(pending);
        pending = [];
        options.onProgress?.(report.read, 0);
      }
    }
    await flush(pending);
    options.onProgress?.(report.read, 0);
  } finally {
    await new Promise((resolve) => out.end(resolve));
  }
  return staged;
}

/** Writes the checked rows in batches (see importRows); undoes the batches written if the import cannot finish. */
async function applyRows(
  db: Kysely<DB>, def: ResourceDefinition, file: string, staged: number, options: ImportOptions, report: ImportReport, reject: Reject, rejections: () => number,
) {
  const written: number[] = [];
  const rollback = new Error('batch rolled back');

  /**
   * Writes rows under a savepoint. A database rule broken in a batch (an unknown reference, a duplicate
   * code, overlapping grids) sends it back row by row, so each culprit is named by its row.
   */
  const insert = async (trx: Transaction<DB>, good: Checked[]): Promise<number[]> => {
    if (!good.length) return [];
    await sql`savepoint import_batch`.execute(trx);
    try {
      const columns = [...new Set(good.flatMap((f) => Object.keys(f.properties)))];
      const ids = await insertFeatures(trx, def, columns, good);
      await def.check?.(trx, ids);
      if (options.viewer) await refuseOutsideScope(trx, def, options.viewer, 'create', ids);
      await sql`release savepoint import_batch`.execute(trx);
      return ids;
    } catch (error) {
      await sql`rollback to savepoint import_batch`.execute(trx);
      if (good.length > 1) {
        const ids = [];
        for (const one of good) ids.push(...(await insert(trx, [one])));
        return ids;
      }
      const problem = error instanceof HttpProblem ? error : databaseProblem(error);
      if (!problem) throw error;
      reject(good[0].row, `${problem.title}: ${problem.detail}`, problem.extensions.field as string | undefined);
      return [];
    }
  };

  let size = APPLY_BATCH.first;
  const apply = async (batch: Checked[], last: boolean) => {
    if (options.signal?.aborted) throw serverStopping();
    const started = Date.now();
    let ids: number[] = [];
    try {
      await db.transaction().execute(async (trx) => {
        const auditFrom = await lockMapWrites(trx, options.actor);
        ids = await insert(trx, batch);
        report.imported += ids.length;
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
    options.onProgress?.(report.read, report.imported);
    const took = Date.now() - started;
    size = took < APPLY_BATCH.fastMs ? Math.min(size * 2, APPLY_BATCH.most) : took > APPLY_BATCH.slowMs ? Math.max(Math.floor(size / 2), APPLY_BATCH.least) : size;
  };

  try {
    let batch: Checked[] = [];
    let done = 0;
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      batch.push(JSON.parse(line) as Checked);
      if (batch.length >= size) {
        done += batch.length;
        await apply(batch, done === staged);
        batch = [];
      }
    }
    if (batch.length) await apply(batch, true);
    if (rejections() === 0 && !options.dryRun) report.written = true;
  } catch (error) {
    await undoImport(db, def.table, written, options.actor, options.job);
    throw error;
  }
  if (!report.written) await undoImport(db, def.table, written, options.actor, options.job);
}

/**
 * Rows with their geometry in WGS 84 longitude/latitude: a CSV's WKT read, and a projected file's geometries
 * transformed, by PostGIS, a batch in one statement. What it cannot read or transform is that row's error.
 */
async function inLongitudeLatitude(db: Kysely<DB>, batch: RawRow[], from: SourceCrs | undefined): Promise<RawRow[]> {
  const located = batch.filter((r) => !r.error && (r.wkt !== undefined || (from && r.geometry)));
  if (!located.length) return batch;
  const geometries = await inWgs84(db, located.map((r) => (r.wkt !== undefined ? { text: r.wkt, wkt: true } : { text: JSON.stringify(r.geometry), wkt: false })), from);
  located.forEach((r, i) => {
    if (geometries[i] !== null) r.geometry = geometries[i];
    else r.error = r.wkt !== undefined && !from ? 'geometry: not valid WKT' : 'geometry: PostGIS cannot read it, or transform it from the file\'s coordinate system';
  });
  return batch;
}

/**
 * Rows of a roster without coordinates (members with their building instead), placed at that building's point
 * on surface: found by its code (where buildings have one), else by its name or address within the community
 * named by code or name. A row that matches no building, or several, is that row's error: never a guess.
 */
async function atBuildings(db: Kysely<DB>, def: ResourceDefinition, batch: RawRow[]): Promise<RawRow[]> {
  const placed = batch.filter((r) => r.place && !r.error);
  if (!placed.length) return batch;
  if (!def.geometry.includes('Point')) {
    for (const r of placed) r.error = `no geometry: ${def.name} are drawn, not placed at a building`;
    return batch;
  }
  const { rows: [{ coded }] } = await sql<{ coded: boolean }>`
    select exists (select 1 from information_schema.columns where table_schema = current_schema() and table_name = 'buildings' and column_name = 'code') as coded`.execute(db);
  const byCode = coded ? sql`p.code is not null and b.code = p.code` : sql`false`;
  const { rows } = await sql<{ matches: number; geometry: unknown }>`
    select count(b.id)::int as matches, ST_AsGeoJSON(ST_PointOnSurface((array_agg(b.geom))[1]), 15)::json as geometry
    from (select e->>'code' as code, e->>'building' as building, e->>'community' as community, n
          from json_array_elements(${JSON.stringify(placed.map((r) => r.place))}::json) with ordinality as e(e, n)) p
    left join lateral (
      select b.id, b.geom from buildings b left join communities c on c.id = b.community_id
      where ${byCode} or (p.building is not null and (b.name = p.building or b.address = p.building) and (c.code = p.community or c.name = p.community))
      limit 2
    ) b on true
    group by p.n order by p.n`.execute(db);
  placed.forEach((r, i) => {
    const { code, building, community } = r.place!;
    const named = code ?? `${building} in ${community ?? '(no community given)'}`;
    if (rows[i].matches === 1) return void (r.geometry = rows[i].geometry);
    r.field = 'building';
    if (rows[i].matches > 1) r.error = `building ${named} matches several buildings: give its code`;
    else if (code && !coded && !building) r.error = `building ${code}: buildings carry no code yet; give the building's name or address and its community`;
    else r.error = `building ${named} matched no building${community || code ? '' : ': give its community (code or name)'}`;
  });
  return batch;
}

/**
 * ST_MakeValid's answer, keeping only the polygons (a spike becomes a line and is dropped), if it is still
 * a type the resource takes, else undefined.
 */
async function repaired(db: Kysely<DB>, geometry: Geometry, def: ResourceDefinition): Promise<Geometry | undefined> {
  const { rows: [fixed] } = await sql<{ type: string; geometry: Geometry }>`
    select GeometryType(g) as type, ST_AsGeoJSON(g)::json as geometry
    from ST_CollectionExtract(ST_MakeValid(normalized_geometry(${JSON.stringify(geometry)}, ${def.multi ?? false})), ${def.geometry.includes('Point') ? 1 : 3}) as c
    cross join lateral (select case when ST_NumGeometries(c) = 1 then ST_GeometryN(c, 1) else c end as g) single`.execute(db);
  return def.geometry.some((t) => t.toUpperCase() === fixed.type) ? fixed.geometry : undefined;
}

type TextType = 'number' | 'boolean' | 'array' | 'text';

/** What each property's text from a CSV cell must become, read off the resource's schema. */
function csvTypes(properties: z.ZodObject): Record<string, TextType> {
  return Object.fromEntries(Object.entries(properties.shape).map(([key, type]) => {
    let inner = type as z.ZodType;
    while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable) inner = inner.unwrap() as z.ZodType;
    const kind: TextType = inner instanceof z.ZodNumber ? 'number' : inner instanceof z.ZodBoolean ? 'boolean' : inner instanceof z.ZodArray ? 'array' : 'text';
    return [key, kind];
  }));
}

const TRUE = ['true', '1', 'yes', 'y', '是'];
const FALSE = ['false', '0', 'no', 'n', '否'];

/** CSV text made into numbers, booleans and lists where the schema wants them; anything else left for it to refuse. */
function fromText(properties: Record<string, unknown>, types: Record<string, TextType>) {
  return Object.fromEntries(Object.entries(properties).map(([key, value]) => {
    const text = String(value).trim();
    switch (types[key]) {
      case 'number': return [key, text !== '' && Number.isFinite(Number(text)) ? Number(text) : text];
      case 'boolean': return [key, TRUE.includes(text.toLowerCase()) ? true : FALSE.includes(text.toLowerCase()) ? false : text];
      case 'array': return [key, text.split(/[;,|]/).map((s) => s.trim()).filter(Boolean)];
      default: return [key, text];
    }
  }));
}
