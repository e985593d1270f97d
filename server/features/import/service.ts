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
import { tooLarge, type ImportLimits } from './limits.ts';

export const IMPORT_CRS = ['wgs84', 'gcj02', 'bd09'] as const;
export type ImportCrs = (typeof IMPORT_CRS)[number];
const FROM = { gcj02: gcoord.GCJ02, bd09: gcoord.BD09 } as const;

export interface ImportOptions {
  crs: ImportCrs;
  dryRun: boolean;
  /** make invalid polygons valid with ST_MakeValid where the result is still the right type */
  repair: boolean;
  /** the bounds of what this importer may send (features per file) */
  limits: ImportLimits;
  onProgress?: (read: number) => void;
  /** aborted when the server stops: the import rolls back at its next batch (503) */
  signal?: AbortSignal;
  /** runs inside the import's transaction just before it commits, with the report it will answer */
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

const BATCH = 10000;

const stopping = () => new HttpProblem(503, 'Server stopping', 'the server stopped during the import: nothing was written; send it again', { field: 'body' }, { 'Retry-After': '10' });
/** Rejections listed in a report; beyond this only counted, so a broken million-row file has a bounded answer. */
const MAX_LISTED = 1000;

interface Checked extends FeatureInput { row: number; geometry: Geometry; properties: Record<string, unknown> }

/**
 * Imports rows into one resource in a single transaction: everything or nothing. Every row is checked
 * like an API write (geometry type and range, properties, PostGIS validity, map rules); the report lists
 * each rejected row with its number and reason, and any rejection (or a dry run) leaves the database as
 * it was.
 */
export async function importRows(db: Kysely<DB>, def: ResourceDefinition, rows: AsyncIterable<RawRow>, options: ImportOptions): Promise<ImportReport> {
  const report: ImportReport = { layer: def.name, read: 0, imported: 0, rejected: [], repaired: [], dry_run: options.dryRun, written: false };
  let rejections = 0;
  const reject = (row: number | string, reason: string, field?: string) => {
    rejections++;
    if (report.rejected.length < MAX_LISTED) report.rejected.push({ row, ...(field ? { field } : {}), reason });
  };
  const geometry = resourceGeometry(def);
  const textTypes = csvTypes(def.properties);

  const rollback = new Error('import rolled back');
  try {
    await db.transaction().execute(async (trx) => {
      const auditFrom = await lockMapWrites(trx, options.actor);
      let pending: RawRow[] = [];
      const flush = async () => {
        const batch = pending;
        pending = [];
        const checked = check(await withWkt(trx, batch));
        if (checked.length) await store(checked);
      };

      const check = (batch: RawRow[]): Checked[] => batch.flatMap((raw) => {
        if (raw.error) return reject(raw.row, raw.error), [];
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
      });

      const store = async (batch: Checked[]) => {
        for (const { index, reason } of await invalidGeometries(trx, batch, def.multi)) {
          const fixed = options.repair ? await repaired(trx, batch[index].geometry, def) : undefined;
          if (fixed) {
            report.repaired.push({ row: batch[index].row, reason });
            batch[index].geometry = fixed;
          } else {
            reject(batch[index].row, options.repair ? `${reason}, and ST_MakeValid cannot make it a valid ${def.geometry.join(' or ')}` : `${reason} (repair=true may fix it)`, 'geometry');
            batch[index].row = -1;
          }
        }
        await insert(batch.filter((f) => f.row > 0));
      };

      /**
       * Writes rows under a savepoint. A database rule broken in a batch (an unknown reference, a duplicate
       * code, overlapping grids) sends it back row by row, so each culprit is named by its row.
       */
      const insert = async (good: Checked[]): Promise<void> => {
        if (!good.length) return;
        await sql`savepoint import_batch`.execute(trx);
        try {
          const columns = [...new Set(good.flatMap((f) => Object.keys(f.properties)))];
          const ids = await insertFeatures(trx, def, columns, good);
          await def.check?.(trx, ids);
          if (options.viewer) await refuseOutsideScope(trx, def, options.viewer, 'create', ids);
          report.imported += ids.length;
          await sql`release savepoint import_batch`.execute(trx);
        } catch (error) {
          await sql`rollback to savepoint import_batch`.execute(trx);
          if (good.length > 1) {
            for (const one of good) await insert([one]);
            return;
          }
          const problem = error instanceof HttpProblem ? error : databaseProblem(error);
          if (!problem) throw error;
          reject(good[0].row, `${problem.title}: ${problem.detail}`, problem.extensions.field as string | undefined);
        }
      };

      for await (const raw of rows) {
        if (++report.read > options.limits.features) throw tooLarge('features', `an import from this account holds at most ${options.limits.features} features`);
        pending.push(raw);
        if (pending.length === BATCH) {
          if (options.signal?.aborted) throw stopping();
          await flush();
          options.onProgress?.(report.read);
        }
      }
      await flush();
      options.onProgress?.(report.read);
      if (report.read === 0) reject('file', 'the file holds no features (a GeoJSON file must be a FeatureCollection)');
      if (rejections > 0 || options.dryRun) throw rollback;
      if (options.viewer) await refuseRelinksOutsideScope(trx, options.viewer, auditFrom);
      if (options.signal?.aborted) throw stopping();
      await options.onWritten?.(trx, { ...report, written: true });
    });
    report.written = true;
  } catch (error) {
    if (error !== rollback) throw error;
    if (rejections > MAX_LISTED) report.rejected.push({ row: '…', reason: `${rejections - MAX_LISTED} more rows rejected` });
  }
  return report;
}

/** CSV rows with a WKT column get their geometry as GeoJSON from PostGIS; unreadable WKT is that row's error. */
async function withWkt(trx: Transaction<DB>, batch: RawRow[]): Promise<RawRow[]> {
  const wkt = batch.filter((r) => r.wkt !== undefined && !r.error);
  if (!wkt.length) return batch;
  const { rows } = await sql<{ geometry: unknown }>`
    select geojson_from_text(w.value) as geometry
    from json_array_elements_text(${JSON.stringify(wkt.map((r) => r.wkt))}::json) with ordinality as w(value, n)
    order by w.n`.execute(trx);
  wkt.forEach((r, i) => {
    if (rows[i].geometry === null) r.error = 'geometry: not valid WKT';
    else r.geometry = rows[i].geometry;
  });
  return batch;
}

/**
 * ST_MakeValid's answer, keeping only the polygons (a spike becomes a line and is dropped), if it is still
 * a type the resource takes, else undefined.
 */
async function repaired(trx: Transaction<DB>, geometry: Geometry, def: ResourceDefinition): Promise<Geometry | undefined> {
  const { rows: [fixed] } = await sql<{ type: string; geometry: Geometry }>`
    select GeometryType(g) as type, ST_AsGeoJSON(g)::json as geometry
    from ST_CollectionExtract(ST_MakeValid(normalized_geometry(${JSON.stringify(geometry)}, ${def.multi ?? false})), ${def.geometry.includes('Point') ? 1 : 3}) as c
    cross join lateral (select case when ST_NumGeometries(c) = 1 then ST_GeometryN(c, 1) else c end as g) single`.execute(trx);
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
