import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { DomainError } from '../../domain/errors.ts';

/** What a file says its coordinates are in: a shapefile's .prj (WKT), or a GeoJSON file's `crs` name. */
export type FileCrs = { prj: string } | { name: string };

/** Where PostGIS transforms a file's geometries from: an SRID in spatial_ref_sys, or the file's own WKT that PROJ reads. */
export type SourceCrs = { srid: number } | { proj: string };

const unknownCrs = (detail: string) =>
  new DomainError('import.unknown_crs', `${detail}: give srid= (the EPSG code, e.g. 4545 for CGCS2000 3-degree Gauss–Krüger CM 108E)`, {
    field: 'srid',
  });

/** A name as both ESRI (.prj) and EPSG spell it: CGCS2000_3_Degree_GK_CM_108E and CGCS2000 / 3-degree Gauss-Kruger CM 108E alike. */
const nameKey = (name: RawBuilder<string> | string) =>
  sql<string>`regexp_replace(replace(replace(regexp_replace(lower(${name}), '^(gcs|d)_', ''), 'gauss-kruger', 'gk'), 'wgs_1984', 'wgs_84'), '[^a-z0-9]', '', 'g')`;

/**
 * The coordinate system to transform from, or undefined for longitude/latitude in WGS 84 (nothing to do).
 * The caller's srid wins over what the file says (as ogr2ogr's -s_srs does: a .prj is sometimes wrong);
 * then a GeoJSON `crs` name (EPSG:4545, urn:ogc:def:crs:EPSG::4490, CRS84); then a .prj matched by its
 * name to an EPSG code in spatial_ref_sys, else handed to PROJ as it is. One PostGIS cannot read is a 422.
 */
export async function sourceCrs(db: Kysely<DB>, srid: number | undefined, file: FileCrs | undefined): Promise<SourceCrs | undefined> {
  if (srid !== undefined) {
    const { rows } = await sql`select 1 from spatial_ref_sys where srid = ${srid}`.execute(db);
    if (!rows.length)
      throw new DomainError(
        'import.unknown_crs',
        `srid ${srid} is not in PostGIS's spatial_ref_sys: give an EPSG code such as 4490 or 4545`,
        { field: 'srid' },
      );
    return srid === 4326 ? undefined : { srid };
  }
  if (!file) return undefined;
  if ('name' in file) {
    if (/^(urn:ogc:def:crs:)?OGC:(1\.3:)?CRS84$/i.test(file.name)) return undefined;
    const code = /^(?:urn:ogc:def:crs:)?EPSG:(?:[\d.]*:)?(\d+)$/i.exec(file.name)?.[1];
    if (!code) throw unknownCrs(`the GeoJSON's crs ${file.name} is not an EPSG code`);
    return sourceCrs(db, Number(code), undefined);
  }
  const [, kind, name] = /^\s*(PROJCS|GEOGCS)\[\s*"([^"]*)"/i.exec(file.prj) ?? [];
  if (name) {
    const {
      rows: [match],
    } = await sql<{ srid: number }>`
      select srid from spatial_ref_sys
      where auth_name = 'EPSG' and srtext like ${`${kind.toUpperCase()}["%`}
        and ${nameKey(sql`substring(srtext from '^[A-Z]+\\["([^"]+)"')`)} = ${nameKey(name)}
      order by srid limit 1`.execute(db);
    if (match) return match.srid === 4326 ? undefined : { srid: match.srid };
  }
  // PROJ reads ESRI's WKT too: a .prj whose name is not EPSG's may still be one it can transform from. (The
  // embedded build raises PROJ's refusal past the function's handler: an error here means no as well.)
  const tried = await sql<{ ok: boolean }>`select geojson_wgs84('POINT(0 0)', true, null, ${file.prj}) is not null as ok`
    .execute(db)
    .catch(() => undefined);
  if (tried?.rows[0].ok) return { proj: file.prj };
  throw unknownCrs(`the shapefile's .prj (${name ?? file.prj.slice(0, 40)}) matches no coordinate system PostGIS knows`);
}

/**
 * Geometries as WGS 84 GeoJSON, transformed by PostGIS in one statement: each a GeoJSON geometry or WKT text
 * (CSV), in `from` (undefined: already longitude/latitude). null where PostGIS cannot read or transform one.
 */
export async function inWgs84(db: Kysely<DB>, sources: { text: string; wkt: boolean }[], from: SourceCrs | undefined): Promise<unknown[]> {
  const [srid, proj] = from === undefined ? [null, null] : 'srid' in from ? [from.srid, null] : [null, from.proj];
  const { rows } = await sql<{ geometry: unknown }>`
    select geojson_wgs84(s.value->>'text', (s.value->>'wkt')::boolean, ${srid}::integer, ${proj}::text) as geometry
    from json_array_elements(${JSON.stringify(sources)}::json) with ordinality as s(value, n)
    order by s.n`.execute(db);
  return rows.map((r) => r.geometry);
}

/** A position no longitude/latitude can be, even swapped: metres of a projected coordinate system. */
export const projectedPosition = (geometry: unknown): number[] | undefined => {
  const positions = (c: unknown): number[][] =>
    Array.isArray(c) && typeof c[0] === 'number' ? [c as number[]] : Array.isArray(c) ? c.flatMap(positions) : [];
  return positions((geometry as { coordinates?: unknown })?.coordinates).find(([x, y]) => Math.abs(x) > 360 || Math.abs(y) > 360);
};
