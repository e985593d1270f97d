import type { PGlite, Results } from '@electric-sql/pglite';
import {
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { preparedName } from './prepared.ts';

/** Protocol messages as one buffer, sent in one call. */
function join(...parts: Uint8Array[]) {
  const joined = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}

/** Where notices go that must not fail a statement (those of a COMMIT): the server's logger. */
export interface NoticeLog {
  warn(details: { notice?: string }, message: string): void;
}

/**
 * Kysely over an embedded PGlite. PGlite is one session, so a connection is a turn:
 * whoever holds it (a query, or a whole transaction) runs alone until it is released.
 */
export class PGliteDialect implements Dialect {
  constructor(
    private readonly pglite: PGlite,
    private readonly log?: NoticeLog,
  ) {}
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.pglite, this.log);
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's Dialect interface says so
  createIntrospector(db: Kysely<any>) {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

class PGliteDriver implements Driver {
  private turn: Promise<void> = Promise.resolve();
  private readonly connection: PGliteConnection;

  constructor(pglite: PGlite, log?: NoticeLog) {
    this.connection = new PGliteConnection(pglite, log);
  }

  async init() {}

  async acquireConnection(): Promise<DatabaseConnection> {
    let release!: () => void;
    const previous = this.turn;
    this.turn = new Promise((resolve) => (release = resolve));
    await previous;
    this.connection.release = release;
    return this.connection;
  }

  async releaseConnection(connection: DatabaseConnection) {
    (connection as PGliteConnection).release();
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    const level = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : '';
    await connection.executeQuery({ sql: `begin${level}`, parameters: [] } as unknown as CompiledQuery);
  }

  async commitTransaction(connection: DatabaseConnection) {
    await (connection as PGliteConnection).commit();
  }

  async rollbackTransaction(connection: DatabaseConnection) {
    await connection.executeQuery({ sql: 'rollback', parameters: [] } as unknown as CompiledQuery);
  }

  /** Waits for whoever holds the connection, so the database is never closed under a running query. */
  async destroy() {
    await this.acquireConnection();
  }
}

class PGliteConnection implements DatabaseConnection {
  release: () => void = () => {};
  /** the named statements prepared so far (server/db/prepared.ts), with their parameters' types */
  private readonly statements = new Map<string, number[]>();
  constructor(
    private readonly pglite: PGlite,
    private readonly log?: NoticeLog,
  ) {}

  /**
   * Once COMMIT answers, the transaction is saved: its notices (PostgreSQL warns at commit of a snapshot a
   * PostGIS call inside the transaction left active) are logged, never thrown, so a saved change is never
   * reported as failed.
   */
  async commit() {
    await this.pglite.exec('commit', { onNotice: (notice) => this.log?.warn({ notice: notice.message }, 'notice on commit') });
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // A PostGIS error inside the embedded build (GEOS failing, in PGlite 0.5.8) can lose a statement's answer
    // without an error: outside a transaction the empty result comes with this warning; inside one the warning
    // waits for COMMIT, and the result lacks even the columns the statement has. A lost answer must fail
    // loudly (the transaction then rolls back), never read as "no rows".
    let lost: string | undefined;
    const onNotice = (notice: { message?: string }) => {
      if (notice.message && /snapshot .* still active/.test(notice.message)) lost = notice.message;
    };
    let result: Results<R> | undefined;
    const name = query.parameters.length > 0 ? preparedName(query.sql) : undefined;
    if (name) {
      result = await this.runPrepared<R>(name, query, onNotice);
      if (result.fields.length === 0) lost = 'no columns';
    } else if (query.parameters.length === 0) {
      // the simple protocol, which also runs multi-statement scripts (migrations)
      result = (await this.pglite.exec(query.sql, { onNotice })).at(-1) as Results<R> | undefined;
    } else {
      result = await this.pglite.query<R>(query.sql, query.parameters as unknown[], { onNotice });
      if (!lost && result.fields.length === 0 && (await this.pglite.describeQuery(query.sql)).resultFields.length > 0) lost = 'no columns';
    }
    if (lost) throw new Error(`the embedded database lost the result of a query (${lost}); the statement failed inside PostGIS`);
    const rows = (result?.rows ?? []) as R[];
    const affected = result?.affectedRows;
    return affected === undefined ? { rows } : { rows, numAffectedRows: BigInt(affected) };
  }

  /**
   * `query` as a named statement, parsed and described once, then only bound and run: the extended protocol's
   * messages sent as PGlite's own query sends them, with a name (its query() has none).
   */
  private async runPrepared<R>(name: string, query: CompiledQuery, onNotice: (notice: { message?: string }) => void) {
    const {
      protocol: { serialize },
      parse,
    } = await import('@electric-sql/pglite');
    let types = this.statements.get(name);
    if (!types) {
      const described = await this.pglite.execProtocol(
        join(serialize.parse({ name, text: query.sql, types: [] }), serialize.describe({ type: 'S', name }), serialize.sync()),
        { onNotice },
      );
      types = parse.parseDescribeStatementResults(described.messages);
      this.statements.set(name, types);
    }
    const values = query.parameters.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serializer = this.pglite.serializers[types[i]];
      return serializer ? serializer(value) : String(value);
    });
    const ran = await this.pglite.execProtocol(
      join(serialize.bind({ statement: name, values }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()),
      { onNotice },
    );
    return parse.parseResults(ran.messages, this.pglite.parsers)[0] as Results<R>;
  }

  // eslint-disable-next-line require-yield -- the interface asks for a generator; this one only refuses
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('Streaming queries are not supported on the embedded database');
  }
}
