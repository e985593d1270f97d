import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Bbox } from '../domain/params.ts';
import { actorSetting, type Actor } from './actor.ts';
import type { Database } from './database.ts';
import { prepared } from './prepared.ts';
import type { DB } from './schema.ts';

/**
 * Reads and writes of a map table as GeoJSON features. PostGIS builds the GeoJSON on the way out and
 * parses, normalises and checks it on the way in; rows travel as one JSON parameter, unpacked by
 * json_populate_record against the table's own row type, so a bulk write is a single statement.
 */
export interface FeatureTable {
  /** the table written to */
  table: string;
  /** the rows as read: the table, or a query that adds joined names */
  source: RawBuilder<unknown>;
  /** stored as MultiPolygon */
  multi?: boolean;
}

export type Condition = RawBuilder<unknown>;

/**
 * Map writes take turns. A building placed while a grid is redrawn, or a member while a building moves,
 * would each miss the other's uncommitted row and keep a stale link; two overlapping grids could each pass
 * the overlap check. One transaction-scoped lock serialises writes; reads never wait for it. The same
 * statement names the actor the audit log records, and returns the log's last id: what the write logs
 * after it is what it did (refuseRelinksOutsideScope reads it).
 */
export async function lockMapWrites(db: Kysely<DB>, actor: Actor): Promise<number> {
  // then the events lock (sql/008_dispatch.sql), before any row lock: a relink can reach issues, members
  // and dispatches, which dispatch transactions lock after taking it
  const { rows } = await sql<{ audit_from: number }>`
    select pg_advisory_xact_lock(7426003), pg_advisory_xact_lock(7426008), ${actorSetting(actor)},
           (select coalesce(max(id), 0) from audit_log) as audit_from`.execute(db);
  return rows[0].audit_from;
}

export interface FeatureInput {
  geometry?: unknown;
  properties?: Record<string, unknown>;
}

/** What a layer reads: its row source and the columns that become feature properties. */
export interface FeatureLayer {
  source: RawBuilder<unknown>;
  columns: readonly string[];
}

/**
 * The properties of row `alias` as a JSON object, column by column. (to_jsonb of the whole row would also
 * turn every geometry into hex text only to drop it: three times slower on a page of footprints.)
 */
export const propertiesOf = (alias: string, columns: readonly string[]) =>
  sql`json_build_object(${sql.join(columns.map((c) => sql`${sql.lit(c)}, ${sql.ref(`${alias}.${c}`)}`))})`;

/**
 * Row `alias` as a GeoJSON Feature. Coordinates to 7 decimals (1 cm) for the API and the map; a GIS copy asks
 * for 15, which gives back each stored double exactly.
 */
const asGeoJson = (alias: string, columns: readonly string[], decimals = 7) => sql`json_build_object(
  'type', 'Feature',
  'id', ${sql.ref(`${alias}.id`)},
  'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(${sql.ref(`${alias}.geom`)}), ${sql.lit(decimals)})::json,
  'properties', ${propertiesOf(alias, columns)})`;

const where = (conditions: Condition[]) => (conditions.length ? sql`where ${sql.join(conditions, sql` and `)}` : sql``);

export const bboxCondition = (bbox: Bbox) => {
  const envelope = sql`ST_MakeEnvelope(${bbox[0]}, ${bbox[1]}, ${bbox[2]}, ${bbox[3]}, 4326)`;
  return sql`t.geom && ${envelope} and ST_Intersects(t.geom, ${envelope})`;
};

/**
 * A JSON document written piece by piece: `write` sends a piece on (text, or UTF-8 as the database sent it),
 * resolving when the client can take more.
 */
export type JsonWriter = (write: (piece: string | Buffer) => Promise<void>) => Promise<void>;

/** A page: the rows the conditions match, `limit` of them after a cursor, before one, or from the start. */
export interface PageOptions {
  conditions: Condition[];
  limit: number;
  after?: number;
  before?: number;
  /** decimals of the coordinates (7 unless said) */
  decimals?: number;
}

/** What a page read: how many features, its first and last ids (its neighbours' cursors), and whether more lie beyond. */
export interface PageRead {
  numberReturned: number;
  first: number | null;
  last: number | null;
  /** more rows lie beyond the page, in the direction it was read */
  more: boolean;
}

/** Features a batch reads: a page of a thousand goes out in four, the first on its way while PostGIS builds the next. */
const BATCH = 250;

interface FeatureBatch {
  n: number;
  first: number | null;
  last: number | null;
  more: boolean;
  features: string | null;
}

/**
 * Up to `limit` features in id order after a cursor (exclusive) and before another, as the GeoJSON text of
 * each, comma-separated, built by PostGIS: one batch of a page (one string, not a row per feature: the API
 * hands it on as it is), with its count, first and last ids, and whether more rows follow. Prepared: the text
 * is the same for every batch of a layer.
 */
export const featureBatch = ({ source, columns }: FeatureLayer, { conditions, after, before, limit, decimals }: PageOptions) => {
  const bounds = [...(before === undefined ? [] : [sql`t.id < ${before}`])];
  return prepared(sql<FeatureBatch>`
    with batch as (
      select t.id, ${asGeoJson('t', columns, decimals)}::text as feature from ${source} t
      ${where([...conditions, ...bounds, ...(after === undefined ? [] : [sql`t.id > ${after}`])])}
      order by t.id limit ${limit})
    select count(*)::int as n, min(id) as first, max(id) as last, string_agg(feature, ',' order by id) as features,
           exists (select from ${source} t ${where([...conditions, ...bounds, sql`t.id > (select max(id) from batch)`])}) as more
    from batch`);
};

/** How many rows the conditions match (numberMatched: the costly part of a first page). */
export async function countFeatures(db: Kysely<DB>, { source }: FeatureLayer, conditions: Condition[]) {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${source} t ${where(conditions)}`.execute(db);
  return rows[0].n;
}

/**
 * Where a page starts: after its cursor; for the page before a cursor, after the row `limit` rows before it,
 * found first (then it is read forwards like any other), with whether rows lie before it.
 */
async function pageStart(db: Kysely<DB>, { source }: FeatureLayer, { conditions, limit, after, before }: PageOptions) {
  if (before === undefined) return { from: after, more: false };
  const { rows } = await sql<{ id: number }>`
    select t.id from ${source} t ${where([...conditions, sql`t.id < ${before}`])}
    order by t.id desc limit ${limit + 1}`.execute(db);
  const more = rows.length > limit;
  return { from: more ? rows[limit].id : undefined, more };
}

/**
 * One page of features in id order: after a cursor (the next page), before one (the previous page), or from
 * the start, in batches (embedded, and HTML pages; writeFeaturePage COPYs a page on the server). Keyset
 * paging: a client reading a whole city holds one page at a time on the server, and page 100 costs what page
 * 1 does. The features are handed to `send` a batch at a time (comma-separated GeoJSON text) as PostGIS
 * writes them, so no page is ever held whole; no connection is held between batches (a slow client keeps
 * none), and the next batch is read while one goes out.
 */
export async function streamFeaturePage(
  db: Kysely<DB>,
  layer: FeatureLayer,
  options: PageOptions,
  send: (features: string) => Promise<void>,
): Promise<PageRead> {
  const { limit, before } = options;
  const { from, more } = await pageStart(db, layer, options);
  const read: PageRead = { numberReturned: 0, first: null, last: null, more };
  const batch = (after: number | undefined): Promise<FeatureBatch> =>
    featureBatch(layer, { ...options, after, limit: Math.min(BATCH, limit - read.numberReturned) })
      .execute(db)
      .then(({ rows }) => rows[0]);
  let next: Promise<FeatureBatch> | undefined = batch(from);
  while (next) {
    const { n, first, last, more: follow, features }: FeatureBatch = await (next as Promise<FeatureBatch>);
    read.first ??= first;
    read.last = last ?? read.last;
    read.numberReturned += n;
    if (follow && before === undefined && read.numberReturned === limit) read.more = true;
    next = follow && read.numberReturned < limit ? batch(last!) : undefined;
    if (features) {
      await send(features).catch((error: unknown) => {
        next?.catch(() => {}); // abandoned: its failure is no one's to hear
        throw error;
      });
    }
  }
  return read;
}

/**
 * A page's lines as COPY writes them: first its count, first and last ids and whether more rows follow (JSON),
 * then one line per feature in id order, each but the first led by a comma. The feature lines are the page's
 * part of the document as they are: the newline between two is JSON's white space. CSV with a quote and a
 * delimiter that JSON never holds unescaped, so nothing is quoted.
 */
const pageLines = ({ source, columns }: FeatureLayer, { conditions, after, before, limit, decimals }: PageOptions) => {
  const bounds = [...(before === undefined ? [] : [sql`t.id < ${before}`])];
  return sql<{ line: string }>`
    with page as materialized (
      select t.id, ${asGeoJson('t', columns, decimals)}::text as feature from ${source} t
      ${where([...conditions, ...bounds, ...(after === undefined ? [] : [sql`t.id > ${after}`])])}
      order by t.id limit ${limit})
    select line from (
      select 0 as part, 0 as id, json_build_object('n', count(*), 'first', min(id), 'last', max(id),
        'more', exists (select from ${source} t ${where([...conditions, ...bounds, sql`t.id > (select max(id) from page)`])}))::text as line
      from page
      union all
      select 1, id, case when id > (select min(id) from page) then ',' else '' end || feature from page) lines
    order by part, id`;
};
export const PAGE_LINES_COPY = "format csv, delimiter e'\\x02', quote e'\\x01'";
/** Bytes of a page handed to a client that has not taken them, past which the COPY waits for it. */
const UNTAKEN_MOST = 1 << 20;

/**
 * A page streamed from the server's COPY to the client as the bytes come, never decoded into a string: the
 * features of one statement (batches take a round trip each and have their text decoded and encoded again).
 * Written on without waiting for the client, so the connection is free once PostgreSQL has sent the page, up to
 * a megabyte the client has not taken (a page of 1,000 footprints is half of one): past it the COPY waits, so a
 * client that does not read holds a connection rather than a large page's bytes.
 */
async function copyFeaturePage(
  { db, copyOut }: { db: Kysely<DB>; copyOut: NonNullable<Database['copyOut']> },
  layer: FeatureLayer,
  options: PageOptions,
  write: (piece: string | Buffer) => Promise<void>,
): Promise<PageRead> {
  let read: PageRead | undefined;
  let start: Buffer = Buffer.alloc(0);
  let failed: { error: unknown } | undefined;
  let written: Promise<void>[] = [];
  let untaken = 0;
  const send = (piece: Buffer) => {
    untaken += piece.length;
    written.push(
      write(piece).then(
        () => void (untaken -= piece.length),
        (error: unknown) => void (failed ??= { error }),
      ),
    );
  };
  for await (const chunk of copyOut(pageLines(layer, options).compile(db), PAGE_LINES_COPY)) {
    // the client is gone: the rest of the COPY is not read (its connection is closed)
    if (failed) break;
    if (untaken > UNTAKEN_MOST) {
      await Promise.all(written);
      written = [];
    }
    if (read) {
      send(chunk);
      continue;
    }
    start = Buffer.concat([start, chunk]);
    const end = start.indexOf(10);
    if (end < 0) continue;
    const head = JSON.parse(start.subarray(0, end).toString()) as { n: number; first: number | null; last: number | null; more: boolean };
    read = { numberReturned: head.n, first: head.first, last: head.last, more: head.more };
    if (end + 1 < start.length) send(start.subarray(end + 1));
  }
  await Promise.all(written);
  if (failed) throw failed.error;
  return read!;
}

/**
 * A page written as a FeatureCollection as it is read: `head` (members before the features, each ending in a
 * comma), the features as they come, then the members `tail` makes of what the page read. On the server the
 * page is one COPY; embedded, batches.
 */
export async function writeFeaturePage(
  database: Database,
  layer: FeatureLayer,
  options: PageOptions,
  write: (piece: string | Buffer) => Promise<void>,
  { head = '', tail }: { head?: string; tail: (read: PageRead) => string },
) {
  const { copyOut } = database;
  await write(`{"type":"FeatureCollection",${head}"features":[`);
  let read: PageRead;
  if (copyOut) {
    const { from, more } = await pageStart(database.db, layer, options);
    read = await copyFeaturePage({ db: database.db, copyOut }, layer, { ...options, after: from }, write);
    if (options.before !== undefined) read.more = more;
  } else {
    let first = true;
    read = await streamFeaturePage(database.db, layer, options, async (features) => {
      if (!first) await write(',');
      first = false;
      await write(features);
    });
  }
  await write(`],${tail(read)}}`);
}

/**
 * The REST API's page: a FeatureCollection with numberMatched, numberReturned and a `next` link (nextHref +
 * the last id) when more follow.
 */
export function listFeatures(
  database: Database,
  layer: FeatureLayer,
  { conditions, limit, after, nextHref }: { conditions: Condition[]; limit: number; after?: number; nextHref: string },
): JsonWriter {
  return async (write) => {
    const numberMatched = await countFeatures(database.db, layer, conditions);
    await writeFeaturePage(database, layer, { conditions, limit, after }, write, {
      tail: (read) => {
        const links = read.more ? [{ rel: 'next', type: 'application/geo+json', href: `${nextHref}${read.last}` }] : [];
        return `"numberMatched":${numberMatched},"numberReturned":${read.numberReturned},"links":${JSON.stringify(links)}`;
      },
    });
  };
}

/** Features by id, in the order asked, with their versions (for ETags). */
export async function readFeatures(db: Kysely<DB>, { source, columns }: FeatureLayer, ids: number[], decimals?: number) {
  const { rows } = await sql<{ id: number; version: number; feature: string }>`
    select s.id, s.version, ${asGeoJson('s', columns, decimals)}::text as feature
    from ${source} s join json_array_elements_text(${JSON.stringify(ids)}::json) with ordinality as wanted(id, n)
      on wanted.id::int = s.id
    order by wanted.n`.execute(db);
  return rows;
}

/**
 * The geometries PostGIS finds invalid once normalised, with its reason ("Self-intersection[109.49 36.59]"),
 * by position in `inputs`.
 */
export async function invalidGeometries(db: Kysely<DB>, inputs: FeatureInput[], multi = false) {
  const { rows } = await sql<{ index: number; reason: string }>`
    select (f.n - 1)::int as index, ST_IsValidReason(g) as reason
    from json_array_elements(${JSON.stringify(inputs.map((i) => i.geometry ?? null))}::json) with ordinality as f(geometry, n)
    cross join lateral normalized_geometry(f.geometry::text, ${multi}) as g
    where f.geometry::text <> 'null' and not ST_IsValid(g)
    order by f.n`.execute(db);
  return rows;
}

/** Inserts features in one statement; returns their ids in input order. */
export async function insertFeatures(db: Kysely<DB>, target: FeatureTable, columns: string[], inputs: FeatureInput[]) {
  const { rows } = await sql<{ id: number }>`
    insert into ${sql.table(target.table)} (${sql.join([...columns, 'geom'].map((c) => sql.ref(c)))})
    select ${sql.join(columns.map((c) => sql.ref(`p.${c}`)))}${columns.length ? sql`,` : sql``}
           normalized_geometry(f.feature->>'geometry', ${target.multi ?? false})
    from json_array_elements(${JSON.stringify(inputs)}::json) with ordinality as f(feature, n)
    cross join lateral json_populate_record(null::${sql.table(target.table)}, f.feature->'properties') as p
    order by f.n
    returning id`.execute(db);
  return rows.map((r) => r.id);
}

/**
 * Writes features matched by a key column (a code): each whose key is stored updates that row, its geometry and
 * the properties in its `update` (those it does not give stay as stored); the others are inserted whole. Two
 * statements, set-based, through the same triggers as any write (version, audit, links). Keys must be distinct.
 */
export async function upsertFeatures(
  db: Kysely<DB>,
  target: FeatureTable,
  key: string,
  inputs: (FeatureInput & { update: Record<string, unknown> })[],
) {
  const columns = [...new Set(inputs.flatMap((f) => Object.keys(f.update)))];
  const given = (c: string) => sql`case when f.feature->'update'->${c} is null then ${sql.ref(`t.${c}`)} else ${sql.ref(`p.${c}`)} end`;
  const { rows: updated } = await sql<{ id: number; n: number }>`
    update ${sql.table(target.table)} t
    set ${sql.join([...columns.map((c) => sql`${sql.ref(c)} = ${given(c)}`), sql`geom = normalized_geometry(f.feature->>'geometry', ${target.multi ?? false})`])}
    from json_array_elements(${JSON.stringify(inputs)}::json) with ordinality as f(feature, n)
    cross join lateral json_populate_record(null::${sql.table(target.table)}, f.feature->'update') as p
    where ${sql.ref(`t.${key}`)} = ${sql.ref(`p.${key}`)}
    returning t.id, f.n::int as n`.execute(db);
  const matched = new Set(updated.map((r) => r.n - 1));
  const rest = inputs.filter((_, i) => !matched.has(i)).map(({ geometry, properties }) => ({ geometry, properties }));
  const inserted = rest.length
    ? await insertFeatures(db, target, [...new Set(rest.flatMap((f) => Object.keys(f.properties ?? {})))], rest)
    : [];
  // each input's id, in input order: the updated ones by their ordinality, the inserted ones in turn
  const byInput = inputs.map(() => 0);
  for (const { id, n } of updated) byInput[n - 1] = id;
  let next = 0;
  inputs.forEach((_, i) => {
    if (!matched.has(i)) byInput[i] = inserted[next++];
  });
  return { inserted, updated: updated.map((r) => r.id), byInput };
}

/**
 * Updates the given properties and/or geometry of one row; with `version`, only if it is still that
 * version. Returns false when no row was updated (unknown id, or a newer version).
 */
export async function updateFeature(db: Kysely<DB>, target: FeatureTable, id: number, input: FeatureInput, version?: number) {
  const columns = Object.keys(input.properties ?? {});
  const sets = [];
  if (columns.length) {
    sets.push(sql`(${sql.join(columns.map((c) => sql.ref(c)))}) = (select ${sql.join(columns.map((c) => sql.ref(`p.${c}`)))}
      from json_populate_record(null::${sql.table(target.table)}, ${JSON.stringify(input.properties)}::json) p)`);
  }
  if (input.geometry !== undefined) {
    // null where the resource takes none (a street then drawn from its communities)
    sets.push(
      input.geometry === null
        ? sql`geom = null`
        : sql`geom = normalized_geometry(${JSON.stringify(input.geometry)}, ${target.multi ?? false})`,
    );
  }
  const { rows } = await sql<{ id: number }>`
    update ${sql.table(target.table)} set ${sql.join(sets)}
    where id = ${id} ${version === undefined ? sql`` : sql`and version = ${version}`}
    returning id`.execute(db);
  return rows.length > 0;
}

export async function deleteFeature(db: Kysely<DB>, table: string, id: number, version?: number) {
  const { rows } = await sql<{ id: number }>`
    delete from ${sql.table(table)} where id = ${id} ${version === undefined ? sql`` : sql`and version = ${version}`}
    returning id`.execute(db);
  return rows.length > 0;
}

export async function currentVersion(db: Kysely<DB>, table: string, id: number) {
  const { rows } = await sql<{ version: number }>`select version from ${sql.table(table)} where id = ${id}`.execute(db);
  return rows[0]?.version;
}
