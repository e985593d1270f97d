import { z } from 'zod';

/** Property schemas more than one resource uses. */
export const phoneNumber = z.string().regex(/^[0-9+\- ]{3,20}$/, 'a phone number is 3–20 digits, spaces, + or -');
/** A reference to another row: a positive PostgreSQL integer. */
export const rowId = z.number().int().positive().max(2147483647);
/** The id a city's own register gives a row (a building's number in the housing register): how imports with mode=upsert find it. */
export const externalId = z.string().min(1).max(100).nullable().optional();

/** A time in an answer: a Date from the database (or its text, as a client reads it), sent and typed for clients as ISO 8601 text. */
export const answerTime = z.codec(z.union([z.date(), z.iso.datetime({ offset: true })]), z.string().meta({ format: 'date-time' }), {
  decode: (time) => (typeof time === 'string' ? time : time.toISOString()),
  encode: (text) => text,
});
