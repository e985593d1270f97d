import { z } from 'zod';

/** A layer's TileJSON 3.0: where its tiles are, its zoom range, the city's bounds and the fields its tiles carry. */
export const tileJson = z
  .object({
    tilejson: z.literal('3.0.0'),
    name: z.string(),
    description: z.string(),
    scheme: z.literal('xyz'),
    tiles: z.array(z.string()),
    minzoom: z.number(),
    maxzoom: z.number(),
    /** west, south, east, north: where there are communities (the whole world while there are none) */
    bounds: z.tuple([z.number(), z.number(), z.number(), z.number()]),
    /** longitude, latitude, zoom */
    center: z.array(z.number()),
    vector_layers: z.array(
      z.object({
        id: z.string(),
        description: z.string(),
        minzoom: z.number(),
        maxzoom: z.number(),
        fields: z.record(z.string(), z.enum(['Number', 'String', 'Boolean'])),
      }),
    ),
  })
  .meta({ id: 'TileJSON' });
