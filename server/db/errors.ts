import { DomainError } from '../domain/errors.ts';
import { DatabaseUnreachable } from './database.ts';

/**
 * What the database refused, as domain errors: a violated constraint names the field it guards, an outage
 * says to try again. PostgreSQL's own words (tables, constraints, SQL) never reach a client.
 */
interface DatabaseError {
  code?: string;
  constraint?: string;
  table?: string;
  column?: string;
  dataType?: string;
  detail?: string;
  message?: string;
}

/** Seconds a client should wait before asking again while the database is away. */
const RETRY_AFTER = 5;

/** The database is away (down, restarting, full, cut off): 503, and the client may try again by itself. */
export const databaseUnavailable = (extensions: Record<string, unknown> = {}) =>
  new DomainError('database.unavailable', 'The database did not answer; try again shortly.', extensions, {}, RETRY_AFTER);

/**
 * A connection that could not be had (whatever the reason: see openDatabase) or was lost under a query: class 08
 * (connection exception), 57P01–57P03 (shut down, crashed, starting), 53300 (too many connections), the socket's
 * errors, and pg's words for a socket that closed (it gives them no code).
 */
export function isOutage(error: unknown) {
  if (error instanceof DatabaseUnreachable) return true;
  const { code, message } = error as DatabaseError;
  return (
    /^(08...|57P0[123]|53300|ECONNRESET|EPIPE|ETIMEDOUT)$/.test(code ?? '') ||
    (!code && /^Connection terminated|is not queryable/.test(message ?? ''))
  );
}

/** `Key (code)=(610602001001) already exists.` → code and value; nothing for a key of several columns or an expression. */
function keyOf(detail?: string) {
  const key = /^Key \((\w+)\)=\((.*)\) (?:already exists|is not present|is still referenced)/.exec(detail ?? '');
  return key && { field: key[1] === 'geom' ? 'geometry' : key[1], value: key[2] };
}

/**
 * The request field a violated constraint guards: a column PostgreSQL names, else the constraint's name less
 * its table and kind (`grids_community_id_fkey` → `community_id`); nothing when that leaves no column name.
 */
function constraintField({ constraint, table, column }: DatabaseError): string | undefined {
  const name =
    column ??
    (table && constraint?.startsWith(`${table}_`)
      ? constraint.slice(table.length + 1).replace(/(^|_)(key|fkey|check|pkey|excl)$/, '')
      : '');
  return name === 'geom' ? 'geometry' : name || undefined;
}

/** Checks that a client is told in the field's words: codes nest (GB/T 2260 and the national grid codes). */
const NAMED_CHECKS: Record<string, { field: string; detail: string }> = {
  streets_code_nests: {
    field: 'code',
    detail: "a street code must start with its district_code (the district's 6 digits, then the street's 3)",
  },
  communities_code_nests: {
    field: 'code',
    detail: "a community code must start with its street_code (the street's 9 digits, then the community's 3)",
  },
};

/** What class 22 (a value the column cannot hold) means, in words that name no type or column of the schema. */
const DATA_EXCEPTIONS: Record<string, string> = {
  '22001': 'is too long',
  '22003': 'is out of range',
  '22007': 'is not a valid date or time',
  '22008': 'is not a valid date or time',
  '22021': 'holds a character that cannot be stored',
  '22P05': 'holds a character that cannot be stored',
};

/**
 * Constraint violations are the client's mistake, named by field; nothing was written (the transaction rolled
 * back). The detail is a sentence of fields and values: PostgreSQL's own messages name tables, constraints
 * and SQL, which are no business of a client's. A check our triggers raise (no table or type) speaks to people already.
 */
export function databaseError(error: unknown): DomainError | undefined {
  const e = error as DatabaseError;
  const key = keyOf(e.detail);
  const field = key?.field ?? constraintField(e);
  const subject = field ?? 'a value';
  switch (e.code) {
    case '23505':
      return new DomainError('database.taken', key ? `${key.field} ${key.value} is already taken` : `${subject} is already taken`, {
        field,
      });
    case '23503':
      return /is still referenced/.test(e.detail ?? '')
        ? new DomainError('database.still_referenced', 'other records still refer to this one: move or remove them first', { field })
        : new DomainError(
            'database.unknown_reference',
            key ? `${key.field} ${key.value} does not exist` : `${subject} refers to nothing that exists`,
            { field },
          );
    case '23514': {
      const named = NAMED_CHECKS[e.constraint ?? ''];
      if (named) return new DomainError('database.codes_do_not_nest', named.detail, { field: named.field });
      return new DomainError('database.not_allowed', e.table || e.dataType ? `${subject} is not allowed here` : (e.message ?? ''), {
        field,
      });
    }
    case '23502':
      return new DomainError('database.missing_value', `${subject} is required`, { field });
    // statement_timeout: work that would hold others back too long (a planning change)
    case '57014':
      return new DomainError('database.timeout', 'the request took longer than the server allows: try a simpler shape or a smaller change');
    default:
      return e.code?.startsWith('22')
        ? new DomainError('database.invalid_value', `${subject} ${DATA_EXCEPTIONS[e.code] ?? 'cannot be stored'}`, { field })
        : undefined;
  }
}
