import type { z } from 'zod';
import { DomainError } from './errors.ts';

/** `features[2].geometry.coordinates[0][3][1]`: where in the body an issue is, as a client would write it. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

/** Parses a request body or throws a 400 problem naming the first wrong field and listing all of them. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, prefix: PropertyKey[] = []): z.infer<S> {
  if (body === undefined)
    throw new DomainError('request.missing_body', 'Send a JSON body with Content-Type: application/json', { field: 'body' });
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const errors = result.error.issues.slice(0, 100).map((issue) => ({
    // a field that is not one is named itself, not the object around it
    field: fieldPath([...prefix, ...issue.path, ...(issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [])]) || 'body',
    message: issue.message,
  }));
  throw new DomainError(
    'request.invalid_body',
    `${errors[0].field}: ${errors[0].message}`,
    { field: errors[0].field, errors },
    ruleOf(result.error.issues[0]),
  );
}

/**
 * The rule a value broke, for a client to say in its own words: `rule` (too_small_string, too_big_number,
 * invalid_format, invalid_type …) and the `limit` where the rule has one. A message of the domain's own (a
 * refinement's) is `custom`: the English detail says it.
 */
function ruleOf(issue: z.core.$ZodIssue): Record<string, string | number> {
  if (issue.code === 'too_small' || issue.code === 'too_big') {
    const limit = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum);
    // positive(): more than 0, not "at least 0"
    const exclusive = issue.inclusive === false ? '_exclusive' : '';
    return { rule: `${issue.code}_${issue.origin}${exclusive}`, ...(Number.isFinite(limit) ? { limit } : {}) };
  }
  return { rule: issue.code };
}
