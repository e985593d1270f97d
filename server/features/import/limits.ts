import { Transform } from 'node:stream';
import type { Role } from '../../access/viewer.ts';
import { DomainError } from '../../domain/errors.ts';

/**
 * What one import may hold. Every bound is checked while the file streams, so an upload over one is refused
 * as soon as it crosses it, and no single record, string or blob is ever held whole beyond these sizes.
 */
export interface ImportLimits {
  /** the upload itself (the command line reads local files: no bound) */
  bytes: number;
  /** features (rows) in one file */
  features: number;
  /** one record: an NDJSON line, a CSV record, one GeoJSON feature, any one JSON string or number */
  recordBytes: number;
  /** nesting of JSON arrays and objects (a MultiPolygon's positions lie 7 deep in a FeatureCollection) */
  depth: number;
}

const MiB = 1024 ** 2;
const STRUCTURE = { recordBytes: 16 * MiB, depth: 20 };

/** Staff who load the city's layers may send a city; residents and volunteers send a handful of issues. */
export const IMPORT_LIMITS: Record<Role | 'command line', ImportLimits> = {
  admin: { bytes: 2 * 1024 * MiB, features: 5_000_000, ...STRUCTURE },
  planner: { bytes: 2 * 1024 * MiB, features: 5_000_000, ...STRUCTURE },
  leader: { bytes: 200 * MiB, features: 500_000, ...STRUCTURE },
  dispatcher: { bytes: 200 * MiB, features: 500_000, ...STRUCTURE },
  grid_worker: { bytes: 50 * MiB, features: 100_000, ...STRUCTURE },
  volunteer: { bytes: 2 * MiB, features: 200, ...STRUCTURE },
  resident: { bytes: 2 * MiB, features: 200, ...STRUCTURE },
  'command line': { bytes: Infinity, features: 50_000_000, ...STRUCTURE },
};

/** Inside a zip or an OSM PBF file: what its parts may unpack to. */
export const UNPACKED = {
  /** a .prj or .cpg is a line of text */
  sidecarBytes: 64 * 1024,
  /** all entries of a zip together, as their headers declare (yauzl checks the declared sizes while inflating) */
  zipBytes: 8 * 1024 * MiB,
  /** a workbook's shared strings, which the XLSX reader holds in memory (a 500,000-member roster's are about 60 MB) */
  xlsxStringsBytes: 256 * MiB,
  /** one shapefile record (a footprint of 100,000 vertices is 1.6 MB) */
  shpRecordBytes: 16 * MiB,
  /** the OSM PBF format's own bounds: a BlobHeader under 64 KiB, a blob under 32 MiB packed and unpacked */
  pbfHeaderBytes: 64 * 1024,
  pbfBlobBytes: 32 * MiB,
  /** node positions an OSM extract may hold in memory: 24 bytes each when in id order (a large city's worth) */
  osmNodes: 10_000_000,
  /** out of id order they are kept in a Map, about 100 bytes each (and V8's Map stops at 16.7 million) */
  osmUnorderedNodes: 2_000_000,
};

export const tooLarge = (limit: string, detail: string) => new DomainError('import.too_large', detail, { field: 'body', limit });

const byteLimit = (limit: ImportLimits) => {
  let seen = 0;
  return (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limit.bytes) throw tooLarge('bytes', `an import from this account takes at most ${limit.bytes} bytes`);
  };
};

/**
 * Refuses a record longer than the limit while bytes stream by: NDJSON lines; CSV records (a newline inside
 * quotes does not end one, and a doubled quote toggles twice); and in JSON, the bytes of each element two
 * levels down (one Feature of a FeatureCollection), of every string or number, and the nesting depth.
 */
function recordGuard(format: string, limit: ImportLimits): (chunk: Buffer) => void {
  let record = 0;
  if (format === 'ndjson') {
    return (chunk) => {
      let from = 0;
      for (let at = chunk.indexOf(0x0a); at >= 0; at = chunk.indexOf(0x0a, from)) {
        if (record + at - from > limit.recordBytes) break;
        record = 0;
        from = at + 1;
      }
      record += chunk.length - from;
      if (record > limit.recordBytes) throw tooLarge('recordBytes', `a line holds at most ${limit.recordBytes} bytes`);
    };
  }
  if (format === 'csv') {
    let quoted = false;
    return (chunk) => {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i];
        if (byte === 0x22) quoted = !quoted;
        else if (byte === 0x0a && !quoted) {
          record = 0;
          continue;
        }
        if (++record > limit.recordBytes) throw tooLarge('recordBytes', `a CSV record holds at most ${limit.recordBytes} bytes`);
      }
    };
  }
  if (format === 'geojson') {
    let [depth, token, inString, escaped] = [0, 0, false, false];
    return (chunk) => {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i];
        if (depth >= 2 && ++record > limit.recordBytes) throw tooLarge('recordBytes', `a feature holds at most ${limit.recordBytes} bytes`);
        if (inString) {
          if (escaped) escaped = false;
          else if (byte === 0x5c) escaped = true;
          else if (byte === 0x22) inString = false;
        } else if (byte === 0x22) inString = true;
        else if (byte === 0x7b || byte === 0x5b) {
          if (++depth > limit.depth) throw tooLarge('depth', `JSON nests at most ${limit.depth} levels deep`);
        } else if (byte === 0x7d || byte === 0x5d) {
          if (--depth <= 2) record = 0;
        }
        token = byte === 0x2c || byte === 0x3a || byte === 0x7b || byte === 0x5b || byte === 0x7d || byte === 0x5d ? 0 : token + 1;
        if (token > limit.recordBytes) throw tooLarge('recordBytes', `a JSON value holds at most ${limit.recordBytes} bytes`);
      }
    };
  }
  return () => {};
}

/** A pass-through stream that refuses the upload the moment it breaks one of `limit`'s bounds for `format`. */
export function guardUpload(format: string, limit: ImportLimits) {
  const checks = [byteLimit(limit), recordGuard(format, limit)];
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      try {
        for (const check of checks) check(chunk);
        done(null, chunk);
      } catch (error) {
        done(error as Error);
      }
    },
  });
}
