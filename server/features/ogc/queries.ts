import { sql, type Kysely } from 'kysely';
import type { FeatureLayer } from '../../db/feature-store.ts';
import type { DB } from '../../db/schema.ts';

/** Coordinates with enough decimals to give back each stored double: a GIS copy equals the stored geometry. */
export const EXACT = 15;

export interface Extent {
  bbox: [number, number, number, number] | null;
  interval: [string, string] | null;
}

/** The bounding box of the rows a layer shows (CRS84) and, with a time column, their first and last times. */
export async function extentOf(db: Kysely<DB>, { source }: FeatureLayer, time?: string): Promise<Extent> {
  const times = time
    ? sql`min(${sql.ref(`t.${time}`)}) as first_time, max(${sql.ref(`t.${time}`)}) as last_time`
    : sql`null as first_time, null as last_time`;
  const {
    rows: [row],
  } = await sql<{
    e: string | null;
    xmin: number;
    ymin: number;
    xmax: number;
    ymax: number;
    first_time: Date | null;
    last_time: Date | null;
  }>`
    select ST_XMin(e) as xmin, ST_YMin(e) as ymin, ST_XMax(e) as xmax, ST_YMax(e) as ymax, e::text, first_time, last_time
    from (select ST_Extent(t.geom) as e, ${times} from ${source} t) s`.execute(db);
  // to 7 decimals (1 cm), rounded outwards so the box still holds every feature
  const down = (n: number) => Math.floor(n * 1e7) / 1e7;
  const up = (n: number) => Math.ceil(n * 1e7) / 1e7;
  return {
    bbox: row.e === null ? null : [down(row.xmin), down(row.ymin), up(row.xmax), up(row.ymax)],
    interval: row.first_time && row.last_time ? [row.first_time.toISOString(), row.last_time.toISOString()] : null,
  };
}

export interface Sketch {
  viewBox: string;
  shapes: { id: number; kind: 'path' | 'point'; svg: string }[];
}

/**
 * The features of an HTML page drawn as SVG by PostGIS (ST_AsSVG, in Web Mercator so shapes keep their
 * proportions), with a view box around them; null when they have no geometry.
 */
export async function sketchOf(db: Kysely<DB>, { source }: FeatureLayer, ids: number[]): Promise<Sketch | null> {
  if (ids.length === 0) return null;
  const { rows } = await sql<{ id: number; point: boolean; svg: string; xmin: number; ymin: number; xmax: number; ymax: number }>`
    with shown as (select t.id, ST_Transform(t.geom, 3857) as g from ${source} t
                   where t.id in (select value::int from json_array_elements_text(${JSON.stringify(ids)}::json)) and t.geom is not null),
         box as (select ST_Extent(g) as e from shown)
    select s.id, GeometryType(s.g) = 'POINT' as point, ST_AsSVG(s.g, 0, 1) as svg,
           ST_XMin(b.e) as xmin, ST_YMin(b.e) as ymin, ST_XMax(b.e) as xmax, ST_YMax(b.e) as ymax
    from shown s cross join box b order by s.id`.execute(db);
  if (rows.length === 0) return null;
  const { xmin, ymin, xmax, ymax } = rows[0];
  const pad = Math.max(xmax - xmin, ymax - ymin, 200) * 0.05;
  return {
    viewBox: [xmin - pad, -ymax - pad, xmax - xmin + 2 * pad, ymax - ymin + 2 * pad].map((n) => n.toFixed(1)).join(' '),
    shapes: rows.map((r) => ({ id: r.id, kind: r.point ? 'point' : 'path', svg: r.svg })),
  };
}
