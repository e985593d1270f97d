import { z } from 'zod';
import { answerCollection, answerFeatureMaybePlaced } from '../../domain/geojson.ts';

/** What /ogc answers in JSON, as OGC API – Features Part 1 has it (tests/ogc-schemas.ts checks the standard's own schemas). */

/** A link, in the JSON and on the HTML pages. */
export const link = z.object({ href: z.string(), rel: z.string(), type: z.string().optional(), title: z.string().optional() });
export type Link = z.output<typeof link>;
const links = z.array(link);

export const landing = z.object({ title: z.string(), description: z.string(), links });

export const conformance = z.object({ links, conformsTo: z.array(z.string()) });

/** A collection, its extent in CRS84: no `spatial` while it has no features, no `temporal` without times. */
export const collection = z.object({
  id: z.string(),
  title: z.string(),
  description: z.string(),
  links,
  extent: z.object({
    spatial: z.object({ bbox: z.array(z.array(z.number())), crs: z.string() }).optional(),
    temporal: z.object({ interval: z.array(z.array(z.string().nullable())), trs: z.string() }).optional(),
  }),
  itemType: z.literal('feature'),
  crs: z.array(z.string()),
  storageCrs: z.string(),
});
export type CollectionAnswer = z.output<typeof collection>;

export const collections = z.object({ links, collections: z.array(collection) });

/** A collection's queryables, as JSON Schema: each property's type. */
export const queryables = z.object({
  $schema: z.string(),
  $id: z.string(),
  type: z.literal('object'),
  title: z.string(),
  properties: z.record(z.string(), z.object({ type: z.string() })),
  additionalProperties: z.literal(false),
});

/** A feature with the collection's properties (masked ones null), without a geometry where it is masked. */
const item = answerFeatureMaybePlaced(z.record(z.string(), z.unknown()));

/** A page of items: numberMatched on the first page (and on every HTML page), not on the pages a client follows. */
export const items = answerCollection(item, {
  links,
  timeStamp: z.string(),
  numberMatched: z.number().optional(),
  numberReturned: z.number(),
});

export const feature = item.extend({ links });
