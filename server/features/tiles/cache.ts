import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/database.ts';
import type { DB } from '../../db/schema.ts';
import { localWrites } from '../../db/writes.ts';
import { DEFAULT_REACH_M } from '../coverage/queries.ts';
import { WORLD_3857 } from './layers.ts';

export interface CachedTile {
  bytes: Buffer;
  etag: string;
  layer: string;
  /** the tile's box in WGS 84, grown by how far its layer's features reach: [west, south, east, north] */
  box: [number, number, number, number];
  madeAt: number;
}

/** What the database says when a map table is written (sql/schema/10_notify.sql). */
const MAP_CHANGED = 'gridmap_map_changed';

const EVERY_LAYER = ['districts', 'streets', 'communities', 'grids', 'grid_coverage', 'buildings', 'issues', 'members', 'volunteers'];

/** Which tile layers a change to a map table touches. */
const LAYERS_OF: Record<string, string[]> = {
  // a boundary decides who sees what beneath it (a community's street, a grid's community): every layer
  districts: EVERY_LAYER,
  streets: EVERY_LAYER,
  communities: EVERY_LAYER,
  grids: EVERY_LAYER,
  buildings: ['buildings'],
  members: ['members', 'volunteers'],
  issues: ['issues'],
  // the grids around a change: their metrics count it (and reach volunteers 500 m away)
  around: ['grid_coverage'],
};

/** How far from a change the grids' metrics may count it: the grid_coverage tiles' reach. */
const AROUND_M = DEFAULT_REACH_M + 10;

/** A tile's box in WGS 84 grown by `margin` metres of Web Mercator. */
export function tileBox(z: number, x: number, y: number, margin: number): CachedTile['box'] {
  const size = WORLD_3857 / 2 ** z;
  const west = -WORLD_3857 / 2 + x * size - margin;
  const east = west + size + 2 * margin;
  const north = WORLD_3857 / 2 - y * size + margin;
  const south = north - size - 2 * margin;
  const lon = (m: number) => Math.max(-180, Math.min(180, (m / WORLD_3857) * 360));
  const lat = (m: number) => (Math.atan(Math.sinh((m / WORLD_3857) * 2 * Math.PI)) * 180) / Math.PI;
  return [lon(west), lat(south), lon(east), lat(north)];
}

/** What an entry costs beyond its bytes (key, box, etag, the map's own): counted, so empty tiles are not free. */
const ENTRY_BYTES = 1024;

/**
 * Tiles made once and served until what they show changes. The audit log (sql/007_accounts.sql) records
 * every map write with its geometry before and after (and a volunteer's position); before a tile the cache
 * reads what was logged since it last looked and drops the tiles of the layers a change touches, where it
 * touches them: when the database has said the map changed (NOTIFY) or this process wrote since, or before
 * every tile while it is not listening (one index probe when nothing was logged). Every writer of these tables takes the events lock
 * (sql/010_coverage.sql), so their log ids are in commit order and nothing committed is passed over. A tile
 * rendered while a change it missed was being dropped is not kept (`ticket`). A tile also expires after
 * `maxAgeMs`: an issue turns overdue with time, not with a write. Least recently used tiles go first past
 * `maxBytes`.
 */
export class TileCache {
  private tiles = new Map<string, CachedTile>();
  private bytes = 0;
  private seen: number | undefined;
  private looking: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  /** drops so far, and the recent ones with their layers and boxes, for `set` to check its ticket against */
  private drops = 0;
  private recentDrops: { seq: number; at: number; layers: string[]; box: CachedTile['box'] }[] = [];
  hits = 0;
  misses = 0;

  /** listening for the database's word that the map changed (sql/schema/10_notify.sql): off, starting, on */
  private listening: 'off' | 'starting' | 'on' = 'off';
  /** the word came, or this process wrote, since the last look began */
  private heard = true;
  private answered = 0;

  /** `notices`: the database to listen to; without it, every tile first asks the audit log what changed. */
  constructor(
    private db: Kysely<DB>,
    private options: { maxBytes: number; maxAgeMs: number; notices?: Database },
  ) {}

  get(key: string): CachedTile | undefined {
    const tile = this.tiles.get(key);
    if (!tile) return undefined;
    this.tiles.delete(key);
    if (Date.now() - tile.madeAt > this.options.maxAgeMs) {
      this.bytes -= cost(tile);
      return undefined;
    }
    this.tiles.set(key, tile); // most recently used last
    return tile;
  }

  /** Taken before a tile is rendered: `set` keeps the tile only if nothing it shows was dropped since. */
  ticket(): number {
    return this.drops;
  }

  set(key: string, tile: Omit<CachedTile, 'etag' | 'madeAt'>, ticket: number): CachedTile {
    const entry = { ...tile, etag: `"${createHash('sha1').update(tile.bytes).digest('base64url').slice(0, 22)}"`, madeAt: Date.now() };
    const missed = this.recentDrops.some((drop) => drop.seq > ticket && drop.layers.includes(tile.layer) && overlaps(drop.box, tile.box));
    if (missed) return entry;
    this.remove(key);
    this.tiles.set(key, entry);
    this.bytes += cost(entry);
    for (const [oldest] of this.tiles) {
      if (this.bytes <= this.options.maxBytes) break;
      this.remove(oldest);
    }
    return entry;
  }

  private remove(key: string) {
    const tile = this.tiles.get(key);
    if (!tile) return;
    this.tiles.delete(key);
    this.bytes -= cost(tile);
  }

  get size() {
    return this.tiles.size;
  }

  /**
   * Drops what changed since the last look. A caller arriving while a look runs waits for the next one,
   * which sees what the caller itself may just have written; callers arriving meanwhile share that one.
   */
  sync(): Promise<void> {
    if (this.unchanged()) return Promise.resolve();
    if (!this.looking) {
      this.looking = this.look().finally(() => (this.looking = undefined));
      return this.looking;
    }
    this.next ??= this.looking
      .catch(() => {})
      .then(() => {
        this.next = undefined;
        return this.sync();
      });
    return this.next;
  }

  /**
   * Nothing changed since the last look, as this process can tell without asking: it listens, and neither the
   * database's word nor a write of its own came since (a tile served from memory then makes no round trip).
   */
  private unchanged() {
    const database = this.options.notices;
    if (!database) return false;
    if (this.listening === 'off') {
      this.listening = 'starting';
      database
        .listen(
          MAP_CHANGED,
          () => (this.heard = true),
          () => ((this.heard = true), (this.listening = 'off')),
        )
        .then(
          () => void (this.listening === 'starting' && (this.listening = 'on')),
          () => void (this.listening = 'off'),
        );
    }
    const answered = localWrites(database).answered;
    if (answered !== this.answered) this.heard = true;
    this.answered = answered;
    return this.listening === 'on' && !this.heard && !this.looking;
  }

  private async look() {
    this.heard = this.listening !== 'on';
    if (this.seen === undefined) {
      const { rows } = await sql<{ last: number }>`select coalesce(max(id), 0) as last from audit_log`.execute(this.db);
      this.seen = rows[0].last;
      return;
    }
    // changes grouped by table and by cells of about 2 km, so edits far apart do not make one box over the city
    const { rows } = await sql<{ last: number | null; resource: string | null; box: [number, number, number, number] | null }>`
      with logged as (
        select a.id, a.resource, ST_GeomFromGeoJSON(g.j) as geom
        from audit_log a
        cross join lateral (values (a.before->>'geom'), (a.after->>'geom'), (a.before->>'current_point'), (a.after->>'current_point')) g(j)
        where a.id > ${this.seen} and g.j is not null and a.resource in ('districts', 'streets', 'communities', 'grids', 'buildings', 'members', 'issues')
      ), boxes as (
        select resource, ST_Extent(geom)::geometry as box from logged group by resource, floor(ST_X(ST_PointOnSurface(geom)) * 50), floor(ST_Y(ST_PointOnSurface(geom)) * 50)
      ), around as (
        -- the grids within reach of the change, and a little, in degrees at its latitude
        select 'around' as resource, ST_Extent(g.geom)::geometry as box
        from boxes b join grids g on g.geom && ST_Expand(b.box, ${AROUND_M}::float8 / (111320 * cos(radians(ST_Y(ST_Centroid(b.box))))), ${AROUND_M}::float8 / 110574.0)
        where b.resource in ('buildings', 'members', 'issues') group by b.box
      )
      select (select max(id) from audit_log where id > ${this.seen} and resource in ('districts', 'streets', 'communities', 'grids', 'buildings', 'members', 'issues')) as last,
             null::text as resource, null::json as box
      union all
      select null, resource, json_build_array(ST_XMin(box), ST_YMin(box), ST_XMax(box), ST_YMax(box)) from (select * from boxes union all select * from around) c`.execute(
      this.db,
    );
    const last = rows.find((r) => r.resource === null)?.last;
    if (last === null || last === undefined) return;
    this.seen = last;
    for (const { resource, box } of rows) {
      if (resource && box) this.drop(LAYERS_OF[resource] ?? [], box);
    }
  }

  private drop(layers: string[], box: CachedTile['box']) {
    const now = Date.now();
    this.drops++;
    this.recentDrops = this.recentDrops.filter((d) => now - d.at < this.options.maxAgeMs);
    this.recentDrops.push({ seq: this.drops, at: now, layers, box });
    for (const [key, tile] of this.tiles) {
      if (layers.includes(tile.layer) && overlaps(tile.box, box)) this.remove(key);
    }
  }
}

const cost = (tile: CachedTile) => tile.bytes.length + ENTRY_BYTES;
const overlaps = ([w1, s1, e1, n1]: CachedTile['box'], [w2, s2, e2, n2]: CachedTile['box']) => w1 <= e2 && e1 >= w2 && s1 <= n2 && n1 >= s2;
