import type { CastReturnObject, Options as CsvOptions } from 'csv-stringify';
import { stringify } from 'csv-stringify/sync';
import type { Response } from 'express';
import gcoord from 'gcoord';
import type { Feature, Geometry } from 'geojson';
import type { Database } from '../../db/database.ts';
import { visibleLayer } from '../../access/rows.ts';
import type { Viewer } from '../../access/viewer.ts';
import type { ResourceDefinition } from '../../access/resource.ts';
import { parameter, parseQueryValue } from '../../domain/params.ts';
import { DomainError } from '../../domain/errors.ts';
import { route, writeChunk as write } from '../../http/route.ts';
import { exportBatch, wktOf } from './queries.ts';

const FORMATS = {
  geojson: { type: 'application/geo+json', extension: 'geojson' },
  ndjson: { type: 'application/x-ndjson', extension: 'ndjson' },
  csv: { type: 'text/csv; charset=utf-8', extension: 'csv' },
} as const;
type ExportFormat = keyof typeof FORMATS;
const BATCH = 2000;

/** The datums an export may be written in: WGS 84 as stored, or a Chinese web map's (AMap and Tencent: GCJ-02, Baidu: BD-09). */
const EXPORT_CRS = ['wgs84', 'gcj02', 'bd09'] as const;
type ExportCrs = (typeof EXPORT_CRS)[number];
const TO = { gcj02: gcoord.GCJ02, bd09: gcoord.BD09 } as const;

/**
 * A feature or geometry with every vertex moved into `crs` (the offsets are no projection PostGIS knows), to
 * 7 decimals as PostGIS writes the unshifted ones: about a centimetre.
 */
function shift(geometry: Geometry | null, crs: Exclude<ExportCrs, 'wgs84'>): Geometry | null {
  // a masked home has none
  if (!geometry) return null;
  const moved = gcoord.transform(geometry as Parameters<typeof gcoord.transform>[0], gcoord.WGS84, TO[crs]);
  return JSON.parse(JSON.stringify(moved, (_key, value: unknown) => (typeof value === 'number' ? Math.round(value * 1e7) / 1e7 : value)));
}

/** Text of digits (a leading + for a phone): a code, a phone number, an id that must stay as written. */
const CODE = /^\+?\d+$/;

/**
 * CSV for Excel and WPS: UTF-8 with a byte order mark (without it they read Chinese as another code page),
 * CRLF; text a spreadsheet would run as a formula (= + - @, tab, CR first) gets a leading ', and a code is
 * written as ="…", a formula whose value is the code as text: read bare, 610602001001 becomes 6.10602E+11
 * and a phone loses its leading 0. Lists are joined with ';'; booleans are true/false, as imports read them.
 */
const CSV: CsvOptions = {
  record_delimiter: 'windows',
  escape_formulas: true,
  cast: {
    // field-level options are documented; the type leaves escape_formulas out. Digits alone run nothing.
    string: (text) => (CODE.test(text) ? ({ value: `="${text}"`, escape_formulas: false } as CastReturnObject) : text),
    boolean: String,
    object: (value) => (Array.isArray(value) ? value.join(';') : JSON.stringify(value)),
  },
};

/** A text parameter that is one of `allowed`, or `fallback` when absent. */
const oneOf = <T extends string>(field: string, allowed: readonly T[], fallback: T, description?: string) =>
  parameter(
    (value) => {
      const text = (parseQueryValue(value, field, 'text') ?? fallback) as T;
      if (!allowed.includes(text))
        throw new DomainError('request.invalid_parameter', `${field} must be one of ${allowed.join(', ')}`, { field });
      return text;
    },
    { schema: { type: 'string', enum: allowed, default: fallback }, ...(description ? { description } : {}) },
  );

/**
 * GET /api/v1/export/:layer?format=geojson|ndjson|csv&crs=wgs84|gcj02|bd09: the whole layer, streamed in id order. CSV has a
 * `wkt` column for the geometry and the properties beside it (lists joined with ';'), ready to import again
 * (a cell neutralised for a spreadsheet comes back with its ' or ="…").
 */
export const exportRoutes = (database: Database, resources: ResourceDefinition[]) => [
  route({
    method: 'GET',
    path: '/api/v1/export/:layer',
    tags: ['import and export'],
    summary: 'The whole layer, streamed',
    allow: { resource: ':layer', action: 'read' },
    params: {
      layer: parameter(
        (value) => {
          const def = resources.find((r) => r.name === value);
          if (!def) throw new DomainError('layer.not_found', `No layer ${String(value)}`, { field: 'layer' });
          return def;
        },
        { schema: { type: 'string', enum: resources.map((r) => r.name) } },
      ),
    },
    query: {
      format: oneOf('format', Object.keys(FORMATS) as ExportFormat[], 'geojson'),
      crs: oneOf(
        'crs',
        EXPORT_CRS,
        'wgs84',
        'the datum of the coordinates written: WGS 84 as stored, or shifted for a Chinese web map (AMap/Tencent: gcj02, Baidu: bd09)',
      ),
    },
    answer: { description: 'GeoJSON, newline-delimited GeoJSON, or CSV with a `wkt` column' },
    problems: { 400: 'a wrong format or crs', 404: 'no such layer' },
    handle: ({ res, viewer, params: { layer: def }, query: { format, crs } }) => streamLayer(database, res, def, viewer, format, crs),
  }),
];

/** The layer as the viewer may read it, written as the client takes it. */
async function streamLayer(
  database: Database,
  res: Response,
  def: ResourceDefinition,
  viewer: Viewer,
  format: ExportFormat,
  crs: ExportCrs,
) {
  const shifted = crs !== 'wgs84';
  const tabular = format === 'csv';
  // what the caller may read, masked as in the API: an export is no way around the rules
  const layer = visibleLayer(def, viewer);
  const read = async (after: number) => {
    const rows = await exportBatch(database.db, layer, tabular, after, BATCH, shifted);
    if (!shifted) return rows;
    if (!tabular) {
      return rows.map((row) => {
        const feature = JSON.parse(row.feature!) as Feature;
        return { ...row, feature: JSON.stringify({ ...feature, geometry: shift(feature.geometry, crs) }) };
      });
    }
    const wkt = await wktOf(
      database.db,
      rows.map((row) => shift(row.geometry ?? null, crs)),
    );
    return rows.map((row, i) => ({ ...row, wkt: wkt[i] }));
  };
  let batch = await read(0);
  res.type(FORMATS[format].type).attachment(`${def.name}.${FORMATS[format].extension}`);
  const columns = tabular && batch.length ? Object.keys(batch[0].properties!) : [];
  if (format === 'geojson') await write(res, '{"type":"FeatureCollection","features":[\n');
  if (format === 'csv') await write(res, stringify([['wkt', ...columns]], { ...CSV, bom: true }));
  let first = true;
  while (batch.length) {
    const text = tabular
      ? stringify(
          batch.map((row) => [row.wkt, ...columns.map((c) => row.properties![c])]),
          CSV,
        )
      : batch
          .map((row) => {
            if (format === 'ndjson') return `${row.feature}\n`;
            const separated = first ? row.feature : `,\n${row.feature}`;
            first = false;
            return separated;
          })
          .join('');
    await write(res, text);
    if (res.destroyed) return;
    batch = batch.length < BATCH ? [] : await read(batch[batch.length - 1].id);
  }
  if (format === 'geojson') await write(res, '\n]}\n');
  res.end();
}
