import { Router, type Request } from 'express';
import { sql } from 'kysely';
import { mayRead, viewKey } from '../../access/policy.ts';
import { ACCESS_KEY_PARAMETER, type Viewer } from '../../access/viewer.ts';
import type { Database } from '../../db/database.ts';
import { onlyParameters } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import { TileCache, tileBox } from './cache.ts';
import { LABEL_FIELDS, labelLayerName, MAX_ZOOM, TILE_LAYERS, tileLayer, type TileLayer } from './layers.ts';
import { countsAllMembers } from '../coverage/queries.ts';
import { chooseEncoder, renderTile, tileMargin, type TileEncoder } from './render.ts';
import { origin } from '../../http/origin.ts';

export const MVT_TYPE = 'application/vnd.mapbox-vector-tile';

function layerFor(req: Request, viewer: Viewer): TileLayer {
  const layer = tileLayer(String(req.params.layer));
  if (!layer) throw new DomainError('tile.layer_not_found', `No tile layer ${String(req.params.layer)}; use ${TILE_LAYERS.map((l) => l.name).join(', ')}`, { field: 'layer' });
  if (!mayRead(layer.resource, viewer.role)) throw new DomainError('tile.forbidden', `a ${viewer.role} may not read ${layer.name}`, { field: 'layer' });
  if (layer.allMembers && !countsAllMembers(viewer)) {
    throw new DomainError('tile.forbidden', `a ${viewer.role} reads only volunteers: their hexagons are the volunteers layer`, { field: 'layer' });
  }
  return layer;
}

function tileIndex(value: unknown, field: 'z' | 'x' | 'y', max: number) {
  const n = typeof value === 'string' && /^\d{1,8}$/.test(value) ? Number(value) : NaN;
  if (!(n <= max)) throw invalidParameter(field, `${field} must be a whole number from 0 to ${max}`);
  return n;
}

export interface TileOptions {
  encoder?: TileEncoder;
  cacheMegabytes?: number;
  maxAgeSeconds?: number;
}

/**
 * Mapbox vector tiles of the map and its coverage, with a TileJSON 3.0 description per layer. Rows are
 * scoped to the viewer in SQL, as everywhere; members only ever as counts in hexagons.
 */
export function tileRoutes({ db }: Database, options: TileOptions = {}) {
  const cache = new TileCache(db, { maxBytes: (options.cacheMegabytes ?? 128) * 2 ** 20, maxAgeMs: (options.maxAgeSeconds ?? 60) * 1000 });
  let encoder: Promise<TileEncoder> | undefined = options.encoder && Promise.resolve(options.encoder);

  return Router()
    .get('/tiles/:layer.json', async (req, res) => {
      onlyParameters(req, [ACCESS_KEY_PARAMETER]);
      const layer = layerFor(req, req.viewer!);
      // the city's extent: where there are communities
      const { rows: [extent] } = await sql<{ bounds: number[] | null }>`
        select case when e is not null then json_build_array(ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)) end as bounds
        from (select ST_Extent(geom) as e from communities) c`.execute(db);
      const bounds = extent.bounds ?? [-180, -85.0511, 180, 85.0511];
      const key = req.query[ACCESS_KEY_PARAMETER];
            res.set('Cache-Control', 'private, no-cache').json({
        tilejson: '3.0.0',
        name: layer.name,
        description: layer.description,
        scheme: 'xyz',
        // a GIS client that signed in with access_key fetches the tiles with it too
        tiles: [`${origin(req)}/tiles/${layer.name}/{z}/{x}/{y}.mvt${typeof key === 'string' ? `?${new URLSearchParams({ [ACCESS_KEY_PARAMETER]: key })}` : ''}`],
        minzoom: layer.minzoom,
        maxzoom: layer.maxzoom,
        bounds,
        center: [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, Math.max(layer.minzoom, 13)],
        vector_layers: [
          { id: layer.name, description: layer.description, minzoom: layer.minzoom, maxzoom: layer.maxzoom, fields: layer.fieldsFor?.(req.viewer!) ?? layer.fields },
          ...(layer.labelled
            ? [{ id: labelLayerName(layer), description: 'Where each name is written: one point per area', minzoom: layer.minzoom, maxzoom: layer.maxzoom, fields: LABEL_FIELDS }]
            : []),
        ],
      });
    })
    .get('/tiles/:layer/:z/:x/:y.mvt', async (req, res) => {
      // a tile is the same for everyone in a view: no parameter changes it (the grids' reach is 500 m)
      onlyParameters(req, [ACCESS_KEY_PARAMETER]);
      const viewer = req.viewer!;
      const layer = layerFor(req, viewer);
      const z = tileIndex(req.params.z, 'z', MAX_ZOOM);
      const x = tileIndex(req.params.x, 'x', 2 ** z - 1);
      const y = tileIndex(req.params.y, 'y', 2 ** z - 1);
      res.set({ 'Content-Type': MVT_TYPE, 'Cache-Control': 'private, no-cache', Vary: 'Authorization' });
      // no tile below the layer's zoom range (TileJSON says where it starts)
      if (z < layer.minzoom) return void res.status(204).end();

      await cache.sync();
      const key = `${layer.name}/${z}/${x}/${y}/${viewKey(viewer, layer.resource)}`;
      let tile = cache.get(key);
      res.set('X-Tile-Cache', tile ? 'hit' : 'miss');
      if (!tile) {
        const ticket = cache.ticket();
        // asked once; a failed question (the database away) is asked again next time
        encoder ??= chooseEncoder(db).catch((error) => {
          encoder = undefined;
          throw error;
        });
        const bytes = await renderTile(db, await encoder, layer, z, x, y, viewer);
        tile = cache.set(key, { bytes, layer: layer.name, box: tileBox(z, x, y, tileMargin(layer, z)) }, ticket);
      }
      res.set('ETag', tile.etag);
      if (req.get('If-None-Match') === tile.etag) return void res.status(304).end();
      if (tile.bytes.length === 0) return void res.status(204).end();
      res.send(tile.bytes);
    })
    .get('/tiles/*rest', (req) => {
      throw new DomainError('tile.not_found', `No tile at ${req.path}: a tile is /tiles/<layer>/<z>/<x>/<y>.mvt, a layer's TileJSON /tiles/<layer>.json`, { field: 'path' });
    });
}
