import { z } from 'zod';
import { DomainError, invalidParameter } from './errors.ts';

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

/** How many rows to skip: 0 when absent. */
export function parseOffset(value: unknown, field = 'offset', max = 1_000_000): number {
  if (value === undefined) return 0;
  const n = typeof value === 'string' && /^\d{1,7}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= max)) throw invalidParameter(field, `${field} must be an integer from 0 to ${max}`);
  return n;
}

export function parseId(value: unknown, field = 'id'): number {
  const n = typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1) throw invalidParameter(field, `${field} must be a positive integer`);
  return n;
}

export type QueryValueType = 'integer' | 'text' | 'boolean';

/** A filter's value from the query string, typed; undefined when absent. */
export function parseQueryValue(value: unknown, field: string, type: QueryValueType): number | string | boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw invalidParameter(field, `${field} must be given once, with a value`);
  if (type === 'integer') return parseId(value, field);
  if (type === 'boolean') {
    if (value !== 'true' && value !== 'false') throw invalidParameter(field, `${field} must be true or false`);
    return value === 'true';
  }
  return value;
}

/** The row version an If-Match header names ("3", or W/"3"); undefined without the header. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = header.match(/^(?:W\/)?"(\d{1,9})"$/);
  if (!match)
    throw new DomainError('request.invalid_if_match', 'If-Match must be an ETag this API gave, such as "3"', { field: 'If-Match' });
  return Number(match[1]);
}

export function parseCoordinate(value: unknown, field: 'lon' | 'lat'): number {
  const bound = field === 'lon' ? 180 : 90;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n) || Math.abs(n) > bound) throw invalidParameter(field, `${field} must be a number from -${bound} to ${bound}`);
  return n;
}

/** A point given as lon= and lat= (WGS 84 degrees), both required. */
export function parsePoint(query: Record<string, unknown>) {
  if (query.lon === undefined || query.lat === undefined)
    throw invalidParameter(query.lon === undefined ? 'lon' : 'lat', 'lon and lat are required');
  return { lon: parseCoordinate(query.lon, 'lon'), lat: parseCoordinate(query.lat, 'lat') };
}

// ISO 8601 / W3C datetimes: a date, or a date and time with its zone
const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d))?$/;

/**
 * A date (2026-11-01, midnight UTC) or a time with its zone (2026-11-01T08:00:00+08:00), between the years
 * 1900 and 2100; the day must exist (Date would roll 2026-02-30 over into March).
 */
export function parseTime(value: unknown, field: string): Date | undefined {
  const text = parseQueryValue(value, field, 'text') as string | undefined;
  if (text === undefined) return undefined;
  const [matched, year, month, day] = TIME.exec(text) ?? [];
  const date = matched ? new Date(Date.UTC(Number(year), Number(month) - 1, Number(day))) : undefined;
  if (
    !date ||
    Number(year) < 1900 ||
    Number(year) > 2100 ||
    date.getUTCMonth() !== Number(month) - 1 ||
    date.getUTCDate() !== Number(day)
  ) {
    throw invalidParameter(
      field,
      `${field} must be a date (2026-11-01) or a time with its zone (2026-11-01T08:00:00+08:00) from 1900 to 2100, not ${text}`,
    );
  }
  return new Date(text);
}

/** Only these query parameters; anything else is named as unknown. */
export function onlyParameters(req: { query: Record<string, unknown> }, allowed: string[]) {
  const unknown = Object.keys(req.query).find((key) => !allowed.includes(key));
  if (unknown) throw invalidParameter(unknown, `${unknown} is not a parameter here; use ${allowed.join(', ')}`);
}

/** How a parameter reads in the API's description: its JSON schema, and whether it must be sent. */
export interface ParameterDoc {
  schema: object;
  description?: string;
  required?: boolean;
  example?: unknown;
  /** a repeatable parameter (skill=a&skill=b) */
  explode?: boolean;
}

/**
 * A route's parameter (server/http/route.ts): a zod schema whose parsing is one of the parsers above (their problems
 * name the parameter), documented as `doc` says.
 */
export const parameter = <T>(parse: (value: unknown) => T, doc: ParameterDoc) =>
  z
    .unknown()
    .transform((value) => parse(value))
    .meta({ parameter: doc });

/** A row's id in the path (or the query when required): a positive integer. */
export const idParameter = (field = 'id', doc: Omit<ParameterDoc, 'schema'> = {}) =>
  parameter((value) => parseId(value, field), { schema: { type: 'integer', minimum: 1 }, required: true, ...doc });

/** An optional integer, text or boolean from the query string. */
export function queryParameter(field: string, type: 'integer', doc?: Partial<ParameterDoc>): z.ZodType<number | undefined, unknown>;
export function queryParameter(field: string, type: 'text', doc?: Partial<ParameterDoc>): z.ZodType<string | undefined, unknown>;
export function queryParameter(field: string, type: 'boolean', doc?: Partial<ParameterDoc>): z.ZodType<boolean | undefined, unknown>;
export function queryParameter(
  field: string,
  type: QueryValueType,
  doc: Partial<ParameterDoc> = {},
): z.ZodType<number | string | boolean | undefined, unknown> {
  const schema = type === 'integer' ? { type: 'integer', minimum: 1 } : type === 'boolean' ? { type: 'boolean' } : { type: 'string' };
  return parameter((value) => parseQueryValue(value, field, type), { schema, ...doc });
}

/** An optional code of a street (9 digits) or a district (6 digits). */
export const codeParameter = (field: string, digits: 6 | 9, doc: Partial<ParameterDoc> = {}) =>
  parameter(
    (value) => {
      const code = parseQueryValue(value, field, 'text') as string | undefined;
      if (code !== undefined && !new RegExp(`^\\d{${digits}}$`).test(code))
        throw invalidParameter(field, `a ${digits === 9 ? 'street' : 'district'} code is ${digits} digits`);
      return code;
    },
    { schema: { type: 'string', pattern: `^[0-9]{${digits}}$` }, ...doc },
  );

/** An optional time: a date or a date-time with its zone. */
export const timeParameter = (field: string, doc: Partial<ParameterDoc> = {}) =>
  parameter((value) => parseTime(value, field), { schema: { type: 'string', format: 'date-time' }, ...doc });

/** How many to answer: `fallback` when absent, at most `max`. */
export const limitParameter = (limits: { fallback: number; max: number }, field = 'limit', doc: Partial<ParameterDoc> = {}) =>
  parameter((value) => parseLimit(value, limits, field), {
    schema: { type: 'integer', minimum: 1, maximum: limits.max, default: limits.fallback },
    ...doc,
  });

/** A request header the route reads as text (documented; its meaning is the handler's: Accept, Last-Event-ID). */
export const headerText = (doc: Partial<ParameterDoc> = {}) =>
  parameter((value) => (typeof value === 'string' ? value : undefined), { schema: { type: 'string' }, ...doc });

/** If-Match: the version (ETag) of the row the client changes, refused when it is not one this API gave. */
export const ifMatchHeader = (description = 'the ETag of the version changed: a stale one is refused with 412') =>
  parameter((value) => parseIfMatch(typeof value === 'string' ? value : undefined), { schema: { type: 'string' }, description });

/** An Idempotency-Key header (IETF draft): any printable ASCII up to 200 characters. */
export const idempotencyKeyHeader = (description: string) =>
  parameter(
    (value) => {
      if (value === undefined) return undefined;
      if (typeof value !== 'string' || !/^[\x20-\x7e]{1,200}$/.test(value))
        throw new DomainError('request.invalid_header', 'Idempotency-Key must be 1 to 200 printable ASCII characters', {
          field: 'Idempotency-Key',
        });
      return value;
    },
    { schema: { type: 'string', minLength: 1, maxLength: 200 }, description },
  );
