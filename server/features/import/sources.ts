import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import chain from 'stream-chain';
import { parser } from 'stream-json';
import { pick } from 'stream-json/filters/pick.js';
import { streamValues } from 'stream-json/streamers/stream-values.js';
import iconv from 'iconv-lite';
import { DomainError } from '../../domain/errors.ts';
import type { FileCrs } from './crs.ts';
import { undecodedColumn } from './encoding.ts';
import type { ImportLimits } from './limits.ts';
import { osmBuildings } from './osm.ts';
import { shapefileFeatures } from './shapefile.ts';
import { xlsxRecords } from './xlsx.ts';

export const IMPORT_FORMATS = ['geojson', 'ndjson', 'csv', 'xlsx', 'shapefile', 'osm', 'osm.pbf'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** One row of a file as read, before any checking; `row` counts features (CSV, XLSX: data rows) from 1. */
export interface RawRow {
  row: number;
  geometry?: unknown;
  /** CSV: a WKT geometry, read by PostGIS */
  wkt?: string;
  /** a table's row with no coordinates: the building it is at, found by PostGIS (its point on surface) */
  place?: BuildingPlace;
  properties: Record<string, unknown>;
  /** CSV: every value is text until the resource's schema says what it is */
  text?: boolean;
  /** the coordinate system the file says it is in (a .prj, a GeoJSON crs), the same for every row */
  crs?: FileCrs;
  error?: string;
  /** a table row without a geometry: the reason to give where the layer needs one */
  noGeometry?: string;
  /** what `error` is about, when it is one column */
  field?: string;
}

/** A building named by its code, or by its name or address within a community (by code or name). */
export interface BuildingPlace {
  code?: string;
  building?: string;
  community?: string;
}

export interface ReadOptions {
  /** the caller's text encoding for a CSV or a shapefile's DBF (a name encodingName knows); UTF-8 if none */
  encoding?: string;
  /** a table's columns that place its rows, as the caller named them (fields=lon:X坐标,building:门牌) */
  columns?: Partial<Record<PlaceColumn, string>>;
}

/** A column `fields` maps that the file does not have: the import ends before anything is written. */
export const unknownColumn = (column: string, columns: string[]) =>
  new DomainError('import.unknown_column', `fields: the file has no column ${column}; its columns are ${columns.join(', ') || 'none'}`, {
    field: 'fields',
    column,
    columns,
  });

/** Formats whose rows are a table's: their places come from columns (coordinates, WKT, or a building). */
export const isTable = (format: ImportFormat) => format === 'csv' || format === 'xlsx';

// the names each place column goes by when the caller does not map it; a roster's building columns place a
// row at a building instead of coordinates
const PLACE_NAMES = {
  lon: ['lon', 'lng', 'longitude', 'x'],
  lat: ['lat', 'latitude', 'y'],
  wkt: ['wkt', 'geometry', 'geom', 'the_geom'],
  building_code: ['building_code', '楼栋编码', '楼栋代码'],
  building: ['building', 'address', '楼栋', '楼栋名称', '地址'],
  community: ['community', '社区', '所属社区'],
};
export type PlaceColumn = keyof typeof PLACE_NAMES;
export const PLACE_COLUMNS = Object.keys(PLACE_NAMES) as PlaceColumn[];

/**
 * Rows of a file, streamed: a file larger than memory is read a feature at a time. `input` has been through
 * guardUpload, so no line or record is longer than the limits allow.
 */
export async function* readRows(
  input: Readable,
  format: ImportFormat,
  limits: ImportLimits,
  options: ReadOptions = {},
): AsyncGenerator<RawRow> {
  try {
    yield* rowsOf(input, format, limits, options);
  } catch (error) {
    if (error instanceof DomainError) throw error;
    throw new DomainError('import.unreadable_file', `not a ${format} file: ${(error as Error).message}`, { field: 'body' });
  }
}

async function* rowsOf(input: Readable, format: ImportFormat, limits: ImportLimits, options: ReadOptions): AsyncGenerator<RawRow> {
  if (format === 'geojson') {
    // The features of a FeatureCollection, one at a time, and its crs (GeoJSON 2008; GDAL writes it first).
    const values = chain([input, parser(), pick({ filter: /^(crs|features\.\d+)$/ }), streamValues()]);
    let [row, crs] = [0, undefined as FileCrs | undefined];
    for await (const { value } of values as AsyncIterable<{ value: unknown }>) {
      const named = value as { type?: unknown; properties?: { name?: unknown } } | null;
      if (named?.type === 'name' && typeof named.properties?.name === 'string') {
        if (row) throw new DomainError('import.unreadable_file', "the GeoJSON's crs must come before its features", { field: 'body' });
        crs = { name: named.properties.name };
        continue;
      }
      yield { ...fromFeature(++row, value), crs };
    }
  } else if (format === 'osm' || format === 'osm.pbf') {
    let row = 0;
    for await (const { id, feature, error } of osmBuildings(input, format)) {
      row++;
      yield feature ? fromFeature(row, feature) : { row, properties: {}, error: `${id}: ${error}` };
    }
  } else if (format === 'shapefile') {
    let row = 0;
    for await (const { feature, crs, encoding } of shapefileFeatures(input, options.encoding)) {
      const undecoded = undecodedColumn(feature.properties, encoding);
      yield undecoded ? { row: ++row, properties: {}, ...undecoded } : { ...fromFeature(++row, feature), crs };
    }
  } else if (format === 'xlsx') {
    let row = 0;
    for await (const { record, error, field } of xlsxRecords(input)) {
      row++;
      yield record ? fromTable(row, record, options.columns) : { row, properties: {}, error, field };
    }
  } else if (format === 'ndjson') {
    let row = 0;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      // eslint-disable-next-line no-control-regex -- the record separator of GeoJSON text sequences (RFC 8142)
      const text = line.replace(/^\x1e/, '').trim();
      if (!text) continue;
      row++;
      try {
        yield fromFeature(row, JSON.parse(text));
      } catch {
        yield { row, properties: {}, error: 'not valid JSON' };
      }
    }
  } else {
    let row = 0;
    const records = parseCsv({
      columns: (header: string[]) => header.map((h) => h.trim()),
      bom: true,
      skip_empty_lines: true,
      relax_column_count: false,
      max_record_size: limits.recordBytes,
    });
    input.on('error', (error) => records.destroy(error)); // a broken upload ends the parse, not the process
    const encoding = options.encoding ?? 'utf-8';
    const text =
      encoding === 'utf-8' ? input : input.pipe(iconv.decodeStream(encoding)).on('error', (error: Error) => records.destroy(error));
    for await (const record of text.pipe(records) as AsyncIterable<Record<string, string>>) {
      row++;
      const undecoded = undecodedColumn(record, encoding);
      yield undecoded ? { row, properties: {}, ...undecoded } : fromTable(row, record, options.columns);
    }
  }
}

function fromFeature(row: number, value: unknown): RawRow {
  const feature = value as { type?: unknown; geometry?: unknown; properties?: unknown };
  if (!feature || typeof feature !== 'object' || feature.type !== 'Feature') return { row, properties: {}, error: 'not a GeoJSON Feature' };
  const properties = feature.properties && typeof feature.properties === 'object' ? (feature.properties as Record<string, unknown>) : {};
  return { row, geometry: feature.geometry, properties };
}

/** Cells as a spreadsheet-safe export writes them (="610602001001", a ' before = + - @): the text they protect. */
const unprotected = (cell: string) => /^="(.*)"$/s.exec(cell)?.[1] ?? (/^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell);

/**
 * A CSV record or a spreadsheet row: its geometry from lon/lat or WKT columns, else the building it names; each
 * column the one the caller mapped, else the first named like it.
 */
function fromTable(row: number, cells: Record<string, string>, mapped: ReadOptions['columns'] = {}): RawRow {
  const record = Object.fromEntries(Object.entries(cells).map(([column, cell]) => [column, unprotected(cell)]));
  const columns = Object.keys(record);
  for (const column of Object.values(mapped)) if (!(column in record)) throw unknownColumn(column, columns);
  const find = (place: PlaceColumn) => mapped[place] ?? columns.find((c) => PLACE_NAMES[place].includes(c.toLowerCase()));
  const [lon, lat, wkt] = [find('lon'), find('lat'), find('wkt')];
  const [code, building, community] = (lon && lat) || wkt ? [] : [find('building_code'), find('building'), find('community')];
  const properties = Object.fromEntries(
    Object.entries(record).filter(([c, v]) => ![lon, lat, wkt, code, building, community].includes(c) && v !== ''),
  );
  // an empty cell is no geometry (a street exported without a boundary), not a shape or the point 0,0
  if (wkt && record[wkt] !== '') return { row, wkt: record[wkt], properties, text: true };
  if (lon && lat && (record[lon] !== '' || record[lat] !== '')) {
    const [x, y] = [record[lon] === '' ? NaN : Number(record[lon]), record[lat] === '' ? NaN : Number(record[lat])];
    if (!Number.isFinite(x) || !Number.isFinite(y)) return { row, properties, error: `${lon}/${lat} must be numbers` };
    return { row, geometry: { type: 'Point', coordinates: [x, y] }, properties, text: true };
  }
  const place = { code: code && record[code], building: building && record[building], community: community && record[community] };
  if (place.code || place.building) return { row, place, properties, text: true };
  // a row of names and codes only: a street typed in (its communities draw it); any other layer refuses it
  return {
    row,
    geometry: null,
    properties,
    text: true,
    noGeometry: `no geometry: give a WKT column (${PLACE_NAMES.wkt.join(', ')}), lon and lat columns, or the building (building_code, or building and community), or map yours with fields=`,
  };
}
