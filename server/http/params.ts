import { invalidParameter } from './problem.ts';

/** Query parameters are parsed and clamped here, once, with an error that names the parameter. */

export type Bbox = [minLon: number, minLat: number, maxLon: number, maxLat: number];

export function parseBbox(value: unknown, field = 'bbox'): Bbox | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidParameter(field, `${field} must be given once`);
  const parts = value.split(',');
  const numbers = parts.map((p) => (p.trim() === '' ? NaN : Number(p)));
  if (parts.length !== 4 || numbers.some((n) => !Number.isFinite(n))) {
    throw invalidParameter(field, `${field} must be four numbers: minLon,minLat,maxLon,maxLat`);
  }
  const [minLon, minLat, maxLon, maxLat] = numbers;
  if ([minLon, maxLon].some((x) => x < -180 || x > 180)) throw invalidParameter(field, `${field} longitudes must be within -180..180`);
  if ([minLat, maxLat].some((y) => y < -90 || y > 90)) throw invalidParameter(field, `${field} latitudes must be within -90..90`);
  if (minLon > maxLon || minLat > maxLat) throw invalidParameter(field, `${field} minimum must not exceed maximum`);
  return [minLon, minLat, maxLon, maxLat];
}

export function parseLimit(value: unknown, { fallback, max }: { fallback: number; max: number }, field = 'limit'): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) throw invalidParameter(field, `${field} must be an integer from 1 to ${max}`);
  return n;
}
