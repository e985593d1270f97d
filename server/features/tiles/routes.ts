import { sql } from 'kysely';
import { mayRead, viewKey } from '../../access/policy.ts';
import { ACCESS_KEY_PARAMETER, type Viewer } from '../../access/viewer.ts';
import { COVERAGE_READERS } from '../../access/rules.ts';
import type { Database } from '../../db/database.ts';
import { parameter } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import type { Extent } from '../../domain/geojson.ts';
import { TileCache, tileBox } from './cache.ts';
import { LABEL_FIELDS, labelLayerName, MAX_ZOOM, TILE_LAYERS, tileLayer, type TileLayer } from './layers.ts';
import { countsAllMembers } from '../coverage/queries.ts';
import { chooseEncoder, renderTile, tileMargin, type TileEncoder } from './render.ts';
import { origin } from '../../http/origin.ts';
import { route } from '../../http/route.ts';
import { tileJson } from './answers.ts';

export const MVT_TYPE = 'application/vnd.mapbox-vector-tile';

const layerParameter = parameter(
  (value) => {
    const layer = tileLayer(String(value));
    if (!layer)
      throw new DomainError('tile.layer_not_found', `No tile layer ${String(value)}; use ${TILE_LAYERS.map((l) => l.name).join(', ')}`, {
        field: 'layer',
      });
    return layer;
  },
  { schema: { type: 'string', enum: TILE_LAYERS.map((l) => l.name) }, example: 'communities' },
);

/** The layer, when the viewer may read it (its rows are then scoped in SQL). */
function readable(layer: TileLayer, viewer: Viewer): TileLayer {
  if (!mayRead(layer.resource, viewer.role))
    throw new DomainError('tile.forbidden', `a ${viewer.role} may not read ${layer.name}`, { field: 'layer' });
  if (layer.coverage && !COVERAGE_READERS.includes(viewer.role))
    throw new DomainError('tile.forbidden', `a ${viewer.role} does not watch coverage: the grids layer has the boundaries`, {
      field: 'layer',
    });
  if (layer.allMembers && !countsAllMembers(viewer)) {
    throw new DomainError('tile.forbidden', `a ${viewer.role} reads only volunteers: their hexagons are the volunteers layer`, {
      field: 'layer',
    });
  }
  return layer;
}

function tileIndex(value: unknown, field: 'z' | 'x' | 'y', max: number) {
  const n = typeof value === 'string' && /^\d{1,8}$/.test(value) ? Number(value) : NaN;
  if (!(n <= max)) throw invalidParameter(field, `${field} must be a whole number from 0 to ${max}`);
  return n;
}

/** z, x or y of a tile; x and y run to 2^z - 1, so they are checked in the route, once z is known. */
const indexParameter = <T>(parse: (value: unknown) => T, example: number) =>
  parameter(parse, { schema: { type: 'integer', minimum: 0 }, example });

/** Taken here for the guard, which reads it: a GIS client that can send no Authorization header signs in with it. */
const accessKey = parameter((value) => (typeof value === 'string' ? value : undefined), {
  schema: { type: 'string' },
  description:
    "a read-only access key, for a GIS client that can send no Authorization header (TileJSON's tile URLs then carry it); never logged",
});

const tags = ['tiles'];

export interface TileOptions {
  encoder?: TileEncoder;
  cacheMegabytes?: number;
  maxAgeSeconds?: number;
}

/**
 * Mapbox vector tiles of the map and its coverage, with a TileJSON 3.0 description per layer. Rows are
 * scoped to the viewer in SQL, as everywhere; members only ever as counts in hexagons.
 */
export function tileRoutes(database: Database, options: TileOptions = {}) {
  const { db } = database;
  const cache = new TileCache(db, {
    maxBytes: (options.cacheMegabytes ?? 128) * 2 ** 20,
    maxAgeMs: (options.maxAgeSeconds ?? 60) * 1000,
    notices: database,
  });
  let encoder: Promise<TileEncoder> | undefined = options.encoder && Promise.resolve(options.encoder);

  return [
    route({
      method: 'GET',
      path: '/tiles/:layer.json',
      tags,
      summary: 'TileJSON 3.0 of a tile layer: tile URLs, zoom range, bounds, fields',
      // vector tiles: each layer as its rows' resource allows (checked by the route), scoped in SQL
      allow: { roles: 'any' },
      params: { layer: layerParameter },
      query: { [ACCESS_KEY_PARAMETER]: accessKey },
      answer: { schema: tileJson, description: 'TileJSON' },
      problems: { 404: 'no such layer' },
      handle: async ({ req, res, viewer, params, query: { [ACCESS_KEY_PARAMETER]: key } }) => {
        const layer = readable(params.layer, viewer);
        // the city's extent: where there are communities
        const {
          rows: [extent],
        } = await sql<{ bounds: Extent | null }>`
          select case when e is not null then json_build_array(ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)) end as bounds
          from (select ST_Extent(geom) as e from communities) c`.execute(db);
        const bounds: Extent = extent.bounds ?? [-180, -85.0511, 180, 85.0511];
        res.set('Cache-Control', 'private, no-cache');
        return {
          tilejson: '3.0.0' as const,
          name: layer.name,
          description: layer.description,
          scheme: 'xyz' as const,
          // a GIS client that signed in with access_key fetches the tiles with it too
          tiles: [
            `${origin(req)}/tiles/${layer.name}/{z}/{x}/{y}.mvt${key !== undefined ? `?${new URLSearchParams({ [ACCESS_KEY_PARAMETER]: key })}` : ''}`,
          ],
          minzoom: layer.minzoom,
          maxzoom: layer.maxzoom,
          bounds,
          center: [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, Math.max(layer.minzoom, 13)],
          vector_layers: [
            {
              id: layer.name,
              description: layer.description,
              minzoom: layer.minzoom,
              maxzoom: layer.maxzoom,
              fields: layer.fieldsFor?.(viewer) ?? layer.fields,
            },
            ...(layer.labelled
              ? [
                  {
                    id: labelLayerName(layer),
                    description: 'Where each name is written: one point per area',
                    minzoom: layer.minzoom,
                    maxzoom: layer.maxzoom,
                    fields: LABEL_FIELDS,
                  },
                ]
              : []),
          ],
        };
      },
    }),
    route({
      method: 'GET',
      path: '/tiles/:layer/:z/:x/:y.mvt',
      tags,
      summary: 'A Mapbox vector tile of a layer',
      description:
        "grid_coverage is the grids with their coverage metrics (for those who watch coverage); districts, streets, communities and grids also a second vector layer, `<layer>_label`, one point per area where its name is written; members and volunteers are counts in hexagons at every zoom, never a home. ETag and If-None-Match (304); 204 for an empty tile or one below the layer's minzoom.",
      allow: { roles: 'any' },
      params: {
        layer: layerParameter,
        z: indexParameter((value) => tileIndex(value, 'z', MAX_ZOOM), 8),
        x: indexParameter((value) => value, 205),
        y: indexParameter((value) => value, 99),
      },
      // a tile is the same for everyone in a view: no parameter changes it (the grids' reach is 500 m)
      query: { [ACCESS_KEY_PARAMETER]: accessKey },
      answer: { type: MVT_TYPE, description: 'the tile' },
      problems: { 204: 'nothing in the tile', 304: "the client's copy is current", 400: 'z, x or y out of range', 404: 'no such layer' },
      handle: async ({ req, res, viewer, params: { z, ...params } }) => {
        const layer = readable(params.layer, viewer);
        const x = tileIndex(params.x, 'x', 2 ** z - 1);
        const y = tileIndex(params.y, 'y', 2 ** z - 1);
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
      },
    }),
    route({
      method: 'GET',
      path: '/tiles/*rest',
      tags,
      summary: 'Any other path under /tiles: not a tile',
      undocumented: true,
      // any other path under /tiles: the route says what a tile's address is (404)
      allow: { roles: 'any' },
      answer: { description: 'never: a 404' },
      handle: ({ req }) => {
        throw new DomainError(
          'tile.not_found',
          `No tile at ${req.path}: a tile is /tiles/<layer>/<z>/<x>/<y>.mvt, a layer's TileJSON /tiles/<layer>.json`,
          { field: 'path' },
        );
      },
    }),
  ];
}
