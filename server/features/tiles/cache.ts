import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { WORLD_3857 } from './layers.ts';

export interface CachedTile {
  bytes: Buffer;
  etag: string;
  layer: string;
  /** the tile's box in WGS 84, grown by how far its layer's features reach: [west, south, east, north] */
  box: [number, number, number, number];
  madeAt: number;
}

/** Which tile layers a change to a map table touches. */
const LAYERS_OF: Record<string, string[]> = {
  communities: ['communities', 'grids'],
  grids: ['grids', 'buildings'],
  buildings: ['buildings'],
  members: ['members', 'volunteers'],
  issues: ['issues'],
  // the grids around a change: their metrics count it (and reach volunteers 500 m away)
  around: ['grids'],
};

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

/**
 * Tiles made once and served until what they show changes. The audit log (sql/007_accounts.sql) records
 * every map write with its geometry before and after; before each tile the cache reads what was logged
 * since it last looked (one index probe when nothing was) and drops the tiles of the layers a change
 * touches, where it touches them. Map and issue writes take the same lock (sql/008_dispatch.sql), so log ids
 * are in commit order and nothing committed is skipped. A tile also expires after `maxAgeMs`: an issue turns
 * overdue with time, not with a write. Least recently used tiles go first past `maxBytes`.
 */
export class TileCache {
  private tiles = new Map<string, CachedTile>();
  private bytes = 0;
  private seen: number | undefined;
  private syncing: Promise<void> | undefined;
  hits = 0;
  misses = 0;

  constructor(private db: Kysely<DB>, private options: { maxBytes: number; maxAgeMs: number }) {}

  get(key: string): CachedTile | undefined {
    const tile = this.tiles.get(key);
    if (!tile) return undefined;
    this.tiles.delete(key);
    if (Date.now() - tile.madeAt > this.options.maxAgeMs) {
      this.bytes -= tile.bytes.length;
      return undefined;
    }
    this.tiles.set(key, tile); // most recently used last
    return tile;
  }

  set(key: string, tile: Omit<CachedTile, 'etag' | 'madeAt'>): CachedTile {
    const entry = { ...tile, etag: `"${createHash('sha1').update(tile.bytes).digest('base64url').slice(0, 22)}"`, madeAt: Date.now() };
    const old = this.tiles.get(key);
    if (old) this.bytes -= old.bytes.length;
    this.tiles.set(key, entry);
    this.bytes += entry.bytes.length;
    for (const [oldest, value] of this.tiles) {
      if (this.bytes <= this.options.maxBytes) break;
      this.tiles.delete(oldest);
      this.bytes -= value.bytes.length;
    }
    return entry;
  }

  get size() {
    return this.tiles.size;
  }

  /** Drops what changed since the last look; concurrent callers share one look. */
  sync(): Promise<void> {
    this.syncing ??= this.look().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async look() {
    if (this.seen === undefined) {
      const { rows } = await sql<{ last: number }>`select coalesce(max(id), 0) as last from audit_log`.execute(this.db);
      this.seen = rows[0].last;
      return;
    }
    // changes grouped by table and by cells of about 2 km, so edits far apart do not make one box over the city
    const { rows } = await sql<{ last: number | null; resource: string | null; box: [number, number, number, number] | null }>`
      with logged as (
        select a.id, a.resource, ST_GeomFromGeoJSON(g.j) as geom
        from audit_log a cross join lateral (values (a.before->>'geom'), (a.after->>'geom')) g(j)
        where a.id > ${this.seen} and g.j is not null and a.resource in ('communities', 'grids', 'buildings', 'members', 'issues')
      ), boxes as (
        select resource, ST_Extent(geom)::geometry as box from logged group by resource, floor(ST_X(ST_PointOnSurface(geom)) * 50), floor(ST_Y(ST_PointOnSurface(geom)) * 50)
      ), around as (
        select 'around' as resource, ST_Extent(g.geom)::geometry as box
        from boxes b join grids g on g.geom && ST_Expand(b.box, 0.006)
        where b.resource in ('buildings', 'members', 'issues') group by b.box
      )
      select (select max(id) from audit_log where id > ${this.seen}) as last, null::text as resource, null::json as box
      union all
      select null, resource, json_build_array(ST_XMin(box), ST_YMin(box), ST_XMax(box), ST_YMax(box)) from (select * from boxes union all select * from around) c`
      .execute(this.db);
    const last = rows.find((r) => r.resource === null)?.last;
    if (last === null || last === undefined) return;
    this.seen = last;
    for (const { resource, box } of rows) {
      if (resource && box) this.drop(LAYERS_OF[resource] ?? [], box);
    }
  }

  private drop(layers: string[], [west, south, east, north]: [number, number, number, number]) {
    for (const [key, tile] of this.tiles) {
      const [w, s, e, n] = tile.box;
      if (layers.includes(tile.layer) && w <= east && e >= west && s <= north && n >= south) {
        this.tiles.delete(key);
        this.bytes -= tile.bytes.length;
      }
    }
  }
}
