import { createHash } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';

/** The comment that marks a statement to be prepared once per connection (server/db/database.ts). */
const PREPARED_MARK = '/* prepared */';

/**
 * `query`, prepared once per database connection under a name made from its text, and after that only bound
 * and run: a hot statement (the nearest volunteers) is not parsed and planned again on every request. Its
 * values stay parameters, so one text serves every point; a text that differs (another scope) is another
 * statement.
 */
export const prepared = <T>(query: RawBuilder<T>) => sql<T>`/* prepared */ ${query}`;

/** The name a marked statement is prepared under (the same text, the same name); none for any other. */
export const preparedName = (text: string) =>
  text.startsWith(PREPARED_MARK) ? `gm_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}` : undefined;
